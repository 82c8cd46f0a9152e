package fsm

import (
	"time"
)

// Script reports a vrrp_script's result after its rise/fall counting
// (ok: succeeded). Every instance and sync group tracking it is updated:
// weight 0 puts the instance in FAULT while the script fails, other weights
// move the effective priority. Calls before Start set the initial state
// without actions; an unreported tracker counts as neither up nor down.
func (e *Engine) Script(now time.Time, name string, ok bool) []Action {
	return e.track(now, TrackScript, name, boolValue(ok))
}

// Interface reports a link state (up: running). It applies to the
// instances using that interface (unless dont_track_primary) and to every
// track_interface naming it.
func (e *Engine) Interface(now time.Time, name string, up bool) []Action {
	return e.track(now, TrackInterface, name, boolValue(up))
}

// Process reports whether a vrrp_track_process has its quorum.
func (e *Engine) Process(now time.Time, name string, up bool) []Action {
	return e.track(now, TrackProcess, name, boolValue(up))
}

// File reports the number read from a track_file.
func (e *Engine) File(now time.Time, name string, value int) []Action {
	return e.track(now, TrackFile, name, value)
}

func boolValue(b bool) int {
	if b {
		return 1
	}
	return 0
}

// evaluate returns a tracker's contribution to the priority and whether it
// holds the instance in FAULT, following Keepalived's weight rules.
func evaluate(t Tracker, value int) (contrib int, fault bool) {
	if t.Kind == TrackFile {
		if t.Weight == 0 {
			return 0, value != 0
		}
		r := value * t.Weight
		if t.Reverse {
			r = -r
		}
		if r < -253 {
			return 0, true
		}
		if r > 253 {
			r = 253
		}
		return r, false
	}
	up := value != 0
	if t.Weight == 0 {
		// weight 0 reverse: down while the object is up.
		return 0, up == t.Reverse
	}
	w := t.Weight
	if t.Reverse {
		w = -w
	}
	// Positive weights count while up, negative ones while down; reverse
	// flips the sign, not the condition.
	if (t.Weight > 0) == up {
		return w, false
	}
	return 0, false
}

func (e *Engine) track(now time.Time, kind TrackKind, name string, value int) []Action {
	e.begin(now)
	if e.stopped {
		return e.done()
	}
	for _, in := range e.inst {
		for j := range in.tracks {
			t := &in.tracks[j]
			if t.Kind != kind || t.Name != name {
				continue
			}
			leftInit := false
			if t.holdsInit() {
				in.inits--
				leftInit = in.inits == 0
			}
			t.known, t.value = true, value
			contrib, fault := evaluate(t.Tracker, value)
			if contrib != t.contrib {
				in.total += contrib - t.contrib
				t.contrib = contrib
				if e.started {
					e.setEffectivePriority(in)
				} else {
					in.eff = clampPriority(in)
				}
			}
			wasFault := t.fault
			t.fault = fault
			switch {
			case fault && !wasFault:
				if e.started && t.Kind == TrackFile {
					e.log(false, "(%s): tracked file %s now FAULT state", in.cfg.Name, t.Name)
				}
				e.downInstance(in)
			case !fault && wasFault:
				if e.started && t.Kind == TrackFile {
					e.log(false, "(%s): tracked file %s leaving FAULT state", in.cfg.Name, t.Name)
				}
				e.tryUpInstance(in, false)
			case !fault && leftInit:
				e.tryUpInstance(in, true)
			}
		}
	}
	return e.done()
}

// faultReason is the line Keepalived logs at startup for a tracker that
// holds its instance in FAULT.
func (e *Engine) faultReason(in *instance, t *trackState) {
	switch t.Kind {
	case TrackScript:
		e.log(false, "(%s): entering FAULT state due to script %s", in.cfg.Name, t.Name)
	case TrackInterface:
		e.log(false, "(%s): entering FAULT state (interface %s down)", in.cfg.Name, t.Name)
	case TrackFile:
		e.log(false, "(%s): entering FAULT state (tracked file %s has status %d)", in.cfg.Name, t.Name, fileStatus(t.Tracker, t.value))
	case TrackProcess:
		e.log(false, "(%s) entering FAULT state (tracked process %s quorum not achieved)", in.cfg.Name, t.Name)
	}
}

// fileStatus is the status Keepalived prints for a track_file: the value
// times the weight, or -254 for a non-zero value with weight 0.
func fileStatus(t Tracker, value int) int {
	if t.Weight == 0 {
		if value != 0 {
			return -254
		}
		return 0
	}
	r := value * t.Weight
	if t.Reverse {
		r = -r
	}
	return r
}

// clampPriority is the effective priority for the current total: the owner
// keeps 255 whatever its trackers say, others are held in 1..254.
func clampPriority(in *instance) int {
	if in.base == prioOwner {
		return prioOwner
	}
	switch {
	case in.total < 1:
		return 1
	case in.total >= prioOwner:
		return prioOwner - 1
	}
	return in.total
}

// setEffectivePriority is vrrp_set_effective_priority: a BACKUP's master
// down deadline moves by the change of its skew.
func (e *Engine) setEffectivePriority(in *instance) {
	p := clampPriority(in)
	if p == in.eff {
		return
	}
	e.log(false, "(%s) Changing effective priority from %d to %d", in.cfg.Name, in.eff, p)
	in.eff = p
	old := in.msDownTimer
	in.msDownTimer = time.Duration(in.cfg.DownTimerAdverts)*in.masterAdverInt + in.skew()
	if in.state == Backup && in.armed[TimerMasterDown] {
		e.setTimer(in, TimerMasterDown, in.at[TimerMasterDown].Add(in.msDownTimer-old))
	}
}
