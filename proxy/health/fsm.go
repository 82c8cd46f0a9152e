package health

import "time"

// FSM is a server's check health counter, HAProxy's check->health: it moves
// between 0 and rise+fall-1; the server is UP while it is at least rise.
// A server starts UP at health rise, so the first failed check takes it
// DOWN (checked against HAProxy 2.6: a dead server is DOWN after its first
// check, whatever `fall` says), while a server that has been fully up needs
// `fall` consecutive failures.
type FSM struct {
	Rise, Fall int
	Health     int
}

// NewFSM returns the state at start-up: UP, at health rise.
func NewFSM(rise, fall int) FSM {
	if rise < 1 {
		rise = 1
	}
	if fall < 1 {
		fall = 1
	}
	return FSM{Rise: rise, Fall: fall, Health: rise}
}

// Up reports whether the checks consider the server up.
func (f *FSM) Up() bool { return f.Health >= f.Rise }

// Full reports whether the server is fully up (no failure pending).
func (f *FSM) Full() bool { return f.Health == f.Rise+f.Fall-1 }

// Report applies one check result and returns whether the server crossed
// between UP and DOWN (set_server_check_status).
func (f *FSM) Report(passed bool) (changed bool) {
	was := f.Up()
	if passed {
		if f.Health < f.Rise+f.Fall-1 {
			f.Health++
			if f.Health >= f.Rise {
				f.Health = f.Rise + f.Fall - 1
			}
		}
	} else if f.Health > 0 {
		f.Health--
		if f.Health < f.Rise {
			f.Health = 0
		}
	}
	return was != f.Up()
}

// Intervals are a server's check timings.
type Intervals struct {
	Inter, FastInter, DownInter time.Duration
}

// Next is srv_getinter: inter while fully up, downinter while fully down,
// fastinter while in transition (each falls back to inter).
func (f *FSM) Next(iv Intervals) time.Duration {
	if f.Full() {
		return iv.Inter
	}
	if f.Health == 0 {
		if iv.DownInter > 0 {
			return iv.DownInter
		}
		return iv.Inter
	}
	if iv.FastInter > 0 {
		return iv.FastInter
	}
	return iv.Inter
}

// StartDelays spreads the first checks as HAProxy's start_checks does: the
// smallest interval of at least one second, divided by the number of
// checks, times each check's position. With only sub-second intervals every
// check starts at once.
func StartDelays(inters []time.Duration) []time.Duration {
	var min time.Duration
	for _, iv := range inters {
		if iv >= time.Second && (min == 0 || iv < min) {
			min = iv
		}
	}
	out := make([]time.Duration, len(inters))
	if len(inters) == 0 {
		return out
	}
	for i := range inters {
		out[i] = min * time.Duration(i) / time.Duration(len(inters))
	}
	return out
}
