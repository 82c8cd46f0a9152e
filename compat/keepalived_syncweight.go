package compat

import (
	"halo/parser"
	"halo/vrrp"
)

// ignoreWeights applies keepalived's rule (vrrp_complete_instance) that a
// member of a sync group (unless the group says sync_group_tracking_weight)
// and an address owner (priority 255) take no weighted tracking: weighted
// scripts are dropped, weighted interfaces count as unweighted (a down
// interface means FAULT) in a group and are dropped from an owner, a track
// file's default weight becomes 0 and any other weight drops the file.
func (c *kaCtx) ignoreWeights(in *vrrp.Instance, group *vrrp.SyncGroup, say func(pos parser.Pos, class, format string, a ...any)) {
	sync := group != nil && !c.sgTrackWeight[group]
	if !sync && in.Priority != 255 {
		return
	}
	pos := c.instMeta[in].pos
	why, whyIf := "SYNC group", "SYNC group"
	if !sync {
		why, whyIf = "address_owner", "address owner"
	}
	keptIf := in.TrackInterfaces[:0]
	for _, t := range in.TrackInterfaces {
		if t.Weight != 0 {
			if sync {
				say(pos, parser.KaGeneralError, "(%s) ignoring %s tracked interface weight due to %s", in.Name, t.Name, whyIf)
				t.Weight, t.HasWeight, t.Reverse = 0, false, false
			} else {
				say(pos, parser.KaGeneralError, "(%s) ignoring %s tracked interface due to %s", in.Name, t.Name, whyIf)
				continue
			}
		}
		keptIf = append(keptIf, t)
	}
	in.TrackInterfaces = keptIf
	keptS := in.TrackScripts[:0]
	for _, t := range in.TrackScripts {
		w := 0
		if sc := c.cfg.Scripts[t.Name]; sc != nil {
			w = sc.Weight
		}
		if t.HasWeight {
			w = t.Weight
		}
		if w != 0 {
			say(pos, parser.KaGeneralError, "(%s) ignoring tracked script %s with weights due to %s", in.Name, t.Name, why)
			continue
		}
		keptS = append(keptS, t)
	}
	in.TrackScripts = keptS
	keptF := in.TrackFiles[:0]
	for _, t := range in.TrackFiles {
		w := 1
		path := t.Name
		if tf := c.cfg.TrackFiles[t.Name]; tf != nil {
			w, path = tf.Weight, tf.Path
		}
		if t.HasWeight {
			w = t.Weight
		}
		switch {
		case w == 1 && !t.HasWeight:
			say(pos, parser.KaGeneralError, "(%s) ignoring weight from tracked file %s due to %s - specify weight 0", in.Name, path, why)
			t.Weight, t.HasWeight = 0, true
		case w != 0:
			say(pos, parser.KaGeneralError, "(%s) ignoring tracked file %s with weight %d due to %s", in.Name, path, w, why)
			continue
		}
		keptF = append(keptF, t)
	}
	in.TrackFiles = keptF
}
