package compat

import (
	"halo/parser"
	"halo/vrrp"
)

// vrrp_track_process blocks and the instances' track_process lists, read
// as keepalived 2.2.7 reads them (vrrp_parser.c vrrp_tprocess_*), in its
// words.

func decTrackProcessBlock(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
	name, ok := c.arg(d, 0)
	if !ok {
		return nil
	}
	tp := &vrrp.TrackProcess{Name: name, Quorum: 1, QuorumMax: -1}
	c.tp = tp
	c.walk(kaTrackProcess, d)
	c.tp = nil
	if tp.Process == "" {
		end := d.End
		if end.Line == 0 {
			end = d.Pos
		}
		c.errf(end, parser.KaGeneralError, "track process '%s' process name not specified", name)
		return nil
	}
	if c.cfg.TrackProcesses == nil {
		c.cfg.TrackProcesses = map[string]*vrrp.TrackProcess{}
	}
	c.cfg.TrackProcesses[name] = tp
	return nil
}

func trackProcessRows() []kaRow {
	p := func(f func(c *kaCtx, tp *vrrp.TrackProcess, d *parser.Directive)) kaDec {
		return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if c.tp != nil {
				f(c, c.tp, d)
			}
			return nil
		}
	}
	delay := func(prefix string, fork, term bool) kaDec {
		return p(func(c *kaCtx, tp *vrrp.TrackProcess, d *parser.Directive) {
			v, ok := c.arg(d, 0)
			if !ok {
				return
			}
			t, ok := c.timer(d.Pos, v, 0.000001, 3600)
			if !ok {
				c.errf(d.Pos, parser.KaGeneralError, "%sdelay (%s) for vrrp_track_process %s must be between [0.000001..3600] inclusive. Ignoring...", prefix, v, tp.Name)
				return
			}
			if fork {
				tp.ForkDelay = t
			}
			if term {
				tp.TerminateDelay = t
			}
		})
	}
	return []kaRow{
		{"process", kaNoBlock, p(func(c *kaCtx, tp *vrrp.TrackProcess, d *parser.Directive) {
			v, ok := c.arg(d, 0)
			if !ok {
				return
			}
			if tp.Process != "" {
				c.errf(d.Pos, parser.KaGeneralError, "Process already set for track process %s - ignoring %s", tp.Name, v)
				return
			}
			tp.Process = v
			for _, a := range d.Args[1:] {
				tp.Params = append(tp.Params, a.Value)
			}
			if len(tp.Params) > 0 {
				if tp.ParamMatch == "" {
					tp.ParamMatch = "exact"
				}
				tp.FullCommand = true
			}
		})},
		{"param_match", kaNoBlock, p(func(c *kaCtx, tp *vrrp.TrackProcess, d *parser.Directive) {
			switch {
			case len(d.Args) == 0:
				tp.ParamMatch = "exact"
			case d.Args[0].Value == "initial", d.Args[0].Value == "partial":
				tp.ParamMatch = d.Args[0].Value
			default:
				c.errf(d.Pos, parser.KaGeneralError, "Invalid param_match type %s - ignoring", d.Args[0].Value)
				return
			}
			tp.FullCommand = true
		})},
		{"weight", kaNoBlock, p(func(c *kaCtx, tp *vrrp.TrackProcess, d *parser.Directive) {
			if len(d.Args) == 0 {
				c.errf(d.Pos, parser.KaGeneralError, "No weight specified for track process %s - ignoring", tp.Name)
				return
			}
			v := d.Args[0].Value
			if tp.Weight != 0 {
				c.errf(d.Pos, parser.KaGeneralError, "Weight already set for track process %s - ignoring %s", tp.Name, v)
				return
			}
			n, ok := c.integer(d.Pos, v, -254, 254)
			if !ok {
				c.errf(d.Pos, parser.KaGeneralError, "Weight (%s) for vrrp_track_process %s must be between [-254..254] inclusive. Ignoring...", v, tp.Name)
				return
			}
			if len(d.Args) > 1 {
				if d.Args[1].Value == "reverse" {
					tp.Reverse = true
				} else {
					c.errf(d.Pos, parser.KaGeneralError, "vrrp_track_process %s unknown weight option %s", tp.Name, d.Args[1].Value)
				}
			}
			tp.Weight = int(n)
		})},
		{"quorum", kaNoBlock, p(func(c *kaCtx, tp *vrrp.TrackProcess, d *parser.Directive) {
			v, ok := c.arg(d, 0)
			if !ok {
				return
			}
			n, ok := c.unsigned(d.Pos, v, 1, 65535)
			if !ok {
				c.errf(d.Pos, parser.KaGeneralError, "Quorum (%s) for vrrp_track_process %s must be between [1..65535] inclusive. Ignoring...", v, tp.Name)
				return
			}
			if tp.QuorumMax >= 0 && int(n) > tp.QuorumMax {
				c.errf(d.Pos, parser.KaGeneralError, "Quorum is greater than quorum_max - ignoring")
				return
			}
			tp.Quorum = int(n)
		})},
		{"quorum_max", kaNoBlock, p(func(c *kaCtx, tp *vrrp.TrackProcess, d *parser.Directive) {
			v, ok := c.arg(d, 0)
			if !ok {
				return
			}
			n, ok := c.unsigned(d.Pos, v, 0, 65535)
			if !ok {
				c.errf(d.Pos, parser.KaGeneralError, "quorum_max (%s) for vrrp_track_process %s must be between [0..65535] inclusive. Ignoring...", v, tp.Name)
				return
			}
			// quorum_max 0 (no such process may run) is allowed while the
			// quorum is the default
			if (n != 0 || tp.Quorum > 1) && int(n) < tp.Quorum {
				c.errf(d.Pos, parser.KaGeneralError, "quorum_max is less than quorum - ignoring")
				return
			}
			tp.QuorumMax = int(n)
			if n == 0 {
				tp.Quorum = 0
			} else if tp.Quorum == 0 {
				tp.Quorum = 1
			}
		})},
		{"fork_delay", kaNoBlock, delay("fork_", true, false)},
		{"terminate_delay", kaNoBlock, delay("terminate_", false, true)},
		{"delay", kaNoBlock, delay("", true, true)},
		{"full_command", kaNoBlock, p(func(c *kaCtx, tp *vrrp.TrackProcess, d *parser.Directive) { tp.FullCommand = true })},
	}
}

// decInstanceTrackProcess reads an instance's track_process list.
func decInstanceTrackProcess(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
	in := c.inst
	if in == nil {
		return nil
	}
	for _, l := range d.Body {
		t, ok := c.trackRef(l, func(w string) string {
			return "(" + in.Name + ") weight for track process " + l.Name + " must be in [-254..254] inclusive. Ignoring..."
		})
		if ok {
			c.im.trackProcessPos = append(c.im.trackProcessPos, l.Pos)
			in.TrackProcesses = append(in.TrackProcesses, t)
		}
	}
	return nil
}

// resolveTrackProcesses drops an instance's references to processes that
// were not declared (keepalived resolves them while reading).
func (c *kaCtx) resolveTrackProcesses(in *vrrp.Instance, m *kaInstMeta) {
	kept := in.TrackProcesses[:0]
	for i, t := range in.TrackProcesses {
		if c.cfg.TrackProcesses[t.Name] == nil {
			c.errf(m.trackProcessPos[i], parser.KaGeneralError, "(%s) track process %s not found, ignoring...", in.Name, t.Name)
			continue
		}
		kept = append(kept, t)
	}
	in.TrackProcesses = kept
}
