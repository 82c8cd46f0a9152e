package evloop

import (
	"math/bits"
	"time"
)

// The timer wheel: one per loop, no runtime timer per connection. A timer
// is an intrusive list node embedded in what it times (a Conn's read and
// write deadlines, a Task's sleep), so arming and stopping one allocates
// nothing and costs a few pointer writes. Slots are 1<<tickShift
// nanoseconds wide (about a millisecond, HAProxy's timer precision) and the
// wheel turns once every wheelSlots ticks (about 4.3 s); a timer further
// away stays in its slot and is looked at again on each turn, which for
// the long timeouts of idle connections (seconds to minutes) costs one
// comparison every few seconds.

const (
	tickShift  = 20 // 1<<20 ns ≈ 1.05 ms
	wheelSlots = 4096
	wheelMask  = wheelSlots - 1
	// dueSlot is the extra list holding timers taken off the wheel
	// because they are due, until their handler runs.
	dueSlot = wheelSlots
)

// Timer is a one-shot timer on a loop's wheel. The zero value is stopped.
// Its handler runs on the loop goroutine when it expires.
type Timer struct {
	when       int64 // loop-monotonic nanoseconds
	prev, next *Timer
	slot       int32 // list holding it, valid while armed
	armed      bool
	h          TimerHandler
}

// TimerHandler is told when one of its timers expires, on the loop.
type TimerHandler interface {
	Expire(t *Timer)
}

// Armed reports whether the timer is waiting to fire.
func (t *Timer) Armed() bool { return t.armed }

type wheel struct {
	slots [wheelSlots + 1]*Timer
	used  [wheelSlots / 64]uint64 // bit set: slot holds at least one timer
	cur   int64                   // last tick processed
	n     int                     // timers on the wheel (not counting due ones)
}

func (w *wheel) init(now int64) { w.cur = now >> tickShift }

// add arms t to fire at when (moving it if armed). A time already reached
// fires on the next advance.
func (w *wheel) add(t *Timer, when int64) {
	if t.armed {
		if t.when == when && t.slot != dueSlot {
			return
		}
		w.del(t)
	}
	tick := when >> tickShift
	if tick < w.cur {
		tick = w.cur
	}
	t.when = when
	w.push(t, int(tick&wheelMask))
	w.n++
}

func (w *wheel) push(t *Timer, i int) {
	t.armed = true
	t.slot = int32(i)
	t.prev = nil
	t.next = w.slots[i]
	if t.next != nil {
		t.next.prev = t
	}
	w.slots[i] = t
	if i < wheelSlots {
		w.used[i>>6] |= 1 << (i & 63)
	}
}

// del stops t (no-op if not armed).
func (w *wheel) del(t *Timer) {
	if !t.armed {
		return
	}
	i := int(t.slot)
	w.unlink(t)
	if i != dueSlot {
		w.n--
	}
}

func (w *wheel) unlink(t *Timer) {
	i := int(t.slot)
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		w.slots[i] = t.next
		if t.next == nil && i < wheelSlots {
			w.used[i>>6] &^= 1 << (i & 63)
		}
	}
	if t.next != nil {
		t.next.prev = t.prev
	}
	t.prev, t.next = nil, nil
	t.armed = false
}

// advance fires every timer due at now (through fire, on the caller's
// goroutine). Handlers may arm and stop any timer.
func (w *wheel) advance(now int64, fire func(*Timer)) {
	end := now >> tickShift
	if w.n > 0 {
		// The current tick's slot again: the last advance may have
		// run early in it.
		start := w.cur
		if end-start >= wheelSlots {
			start = end - wheelSlots + 1 // one turn visits every slot
		}
		for tick := start; tick <= end; tick++ {
			i := int(tick & wheelMask)
			if w.used[i>>6]&(1<<(i&63)) == 0 {
				continue
			}
			for t := w.slots[i]; t != nil; {
				nx := t.next
				if t.when <= now {
					w.unlink(t)
					w.n--
					w.push(t, dueSlot)
				}
				t = nx
			}
		}
	}
	w.cur = end
	// Handlers run after the wheel is consistent: one that arms a timer
	// for now gets it on the next advance, never in this one.
	for w.slots[dueSlot] != nil {
		t := w.slots[dueSlot]
		w.unlink(t)
		fire(t)
	}
}

// next returns when the loop must wake for the earliest timer (ok false
// when none is armed): the start of the earliest non-empty slot, or in the
// current tick's slot the earliest expiry. A slot may hold only timers of
// later turns: the caller then wakes early once, which is harmless.
func (w *wheel) next() (int64, bool) {
	if w.n == 0 {
		return 0, false
	}
	cur := int(w.cur & wheelMask)
	if w.slots[cur] != nil {
		min := int64(-1)
		for t := w.slots[cur]; t != nil; t = t.next {
			if t.when>>tickShift <= w.cur && (min < 0 || t.when < min) {
				min = t.when
			}
		}
		if min >= 0 {
			return min, true
		}
	}
	start := (cur + 1) & wheelMask
	const words = wheelSlots / 64
	for k := 0; k <= words; k++ {
		wi := (start>>6 + k) % words
		word := w.used[wi]
		if k == 0 {
			word &= ^uint64(0) << (start & 63)
		} else if k == words {
			word &= (uint64(1) << (start & 63)) - 1
		}
		if word == 0 {
			continue
		}
		i := wi<<6 + bits.TrailingZeros64(word)
		d := (i - start) & wheelMask
		return (w.cur + 1 + int64(d)) << tickShift, true
	}
	// Only the current slot holds timers, all of later turns.
	return (w.cur + wheelSlots) << tickShift, true
}

// AddTimer arms t to call h.Expire after d, on the loop (re-arming it if
// armed). Only on the loop.
func (l *Loop) AddTimer(t *Timer, h TimerHandler, d time.Duration) {
	t.h = h
	l.wheel.add(t, l.now+int64(d))
}

// AddTimerAt arms t for the loop time when (see Loop.Mono). Only on the
// loop.
func (l *Loop) AddTimerAt(t *Timer, h TimerHandler, when int64) {
	t.h = h
	l.wheel.add(t, when)
}

// StopTimer stops t. Only on the loop.
func (l *Loop) StopTimer(t *Timer) { l.wheel.del(t) }
