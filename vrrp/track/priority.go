// Package track watches what an instance's priority depends on: vrrp_script
// results, tracked interfaces and tracked files. It applies Keepalived's
// weight rules and clamping; the runtime turns the result into FSM events.
package track

// Term is one tracked object's contribution to an instance's priority.
type Term struct {
	Weight int  // the effective weight (per-instance override applied)
	Failed bool // script failed / interface down (after `reverse`)
	Value  int  // track_file only: the number read from the file
	File   bool // the term is a track_file (Value*Weight is added)
}

// Priority computes Keepalived's effective priority (vrrp_track.c
// update_priority): a weight 0 object that failed puts the instance in FAULT;
// a positive weight is added while the object is good, a negative one while it
// has failed; a track_file adds value×weight, or FAULTs on a non-zero value
// with weight 0. The result is clamped to 1..254 unless base is 255 (the
// address owner), which tracking never changes.
func Priority(base int, terms []Term) (prio int, fault bool) {
	total := 0
	for _, t := range terms {
		if t.File {
			if t.Weight == 0 {
				if t.Value != 0 {
					fault = true
				}
				continue
			}
			v := t.Value * t.Weight
			total += clamp(v, -254, 254)
			continue
		}
		switch {
		case t.Weight == 0:
			if t.Failed {
				fault = true
			}
		case t.Weight > 0 && !t.Failed:
			total += t.Weight
		case t.Weight < 0 && t.Failed:
			total += t.Weight
		}
	}
	if base == 255 {
		return 255, fault
	}
	return clamp(base+total, 1, 254), fault
}

func clamp(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
