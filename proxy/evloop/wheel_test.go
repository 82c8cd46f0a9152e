package evloop

import (
	"math/rand"
	"testing"
)

type recTimer struct {
	Timer
	fired *[]*recTimer
}

func (r *recTimer) Expire(*Timer) { *r.fired = append(*r.fired, r) }

// TestWheelMatchesModel arms, moves and stops timers at random and checks
// that each fires exactly when a plain model says: not before its time,
// and at the first advance at or after it.
func TestWheelMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var w wheel
	now := int64(1_000_000_000)
	w.init(now)
	var fired []*recTimer
	timers := make([]*recTimer, 200)
	for i := range timers {
		timers[i] = &recTimer{fired: &fired}
		timers[i].h = timers[i]
	}
	want := map[*recTimer]int64{} // armed timer -> expiry
	// A timer armed for a tick already processed goes to the next one.
	slotTick := map[*recTimer]int64{}
	for step := 0; step < 20000; step++ {
		r := timers[rng.Intn(len(timers))]
		switch rng.Intn(4) {
		case 0, 1:
			// Short, long (several turns) and past expiries.
			var d int64
			switch rng.Intn(3) {
			case 0:
				d = rng.Int63n(20e6)
			case 1:
				d = rng.Int63n(20e9)
			default:
				d = -rng.Int63n(5e6)
			}
			if !(r.Armed() && want[r] == now+d) {
				slotTick[r] = max((now+d)>>tickShift, w.cur)
			}
			w.add(&r.Timer, now+d)
			want[r] = now + d
		case 2:
			w.del(&r.Timer)
			delete(want, r)
		case 3:
			dt := rng.Int63n(3e6)
			if rng.Intn(50) == 0 {
				dt = rng.Int63n(10e9) // a long sleep
			}
			now += dt
			fired = fired[:0]
			w.advance(now, func(t *Timer) { t.h.Expire(t) })
			seen := map[*recTimer]bool{}
			for _, f := range fired {
				exp, ok := want[f]
				if !ok {
					t.Fatalf("step %d: a stopped timer fired", step)
				}
				if exp > now {
					t.Fatalf("step %d: fired %d ns early", step, exp-now)
				}
				delete(want, f)
				seen[f] = true
			}
			for r, exp := range want {
				if exp <= now && slotTick[r] <= now>>tickShift && !seen[r] {
					t.Fatalf("step %d: timer due at %d not fired at %d", step, exp, now)
				}
				if !r.Armed() {
					t.Fatalf("step %d: pending timer not armed", step)
				}
			}
			if len(want) != w.n {
				t.Fatalf("step %d: wheel counts %d timers, model %d", step, w.n, len(want))
			}
			// The loop sleeps until next: never past the earliest expiry
			// (or the next tick, for one already due).
			when, ok := w.next()
			if ok != (len(want) > 0) {
				t.Fatalf("step %d: next ok %v with %d timers", step, ok, len(want))
			}
			if ok {
				var earliest int64 = -1
				for r := range want {
					if earliest < 0 || slotTick[r] < earliest {
						earliest = slotTick[r]
					}
				}
				limit := max(earliest<<tickShift, minExp(want))
				if earliest < w.cur {
					limit = max(w.cur<<tickShift, minExp(want))
				}
				if when > limit {
					t.Fatalf("step %d: next %d, earliest expiry %d (limit %d)", step, when, minExp(want), limit)
				}
			}
		}
	}
}

func minExp(m map[*recTimer]int64) int64 {
	first := true
	var min int64
	for _, v := range m {
		if first || v < min {
			min, first = v, false
		}
	}
	return min
}
