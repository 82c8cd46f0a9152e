package stick

import (
	"sync/atomic"
	"time"
)

// Clock is HAProxy's now_ms: milliseconds on a monotonic clock as a
// wrapping 32-bit tick. A tick of 0 means "never" (TICK_ETERNITY), so the
// clock skips it. Tests drive a manual clock.
type Clock struct {
	base   time.Time
	manual bool
	tick   atomic.Uint32
}

// NewClock returns the real clock. Its ticks start 20 s before they wrap
// so that wrapping is exercised within a minute of every start rather
// than after 49 days.
func NewClock() *Clock { return &Clock{base: time.Now().Add(-(1<<32 - 20000) * time.Millisecond)} }

// NewManualClock returns a clock that only moves with Set and Advance.
func NewManualClock(start uint32) *Clock {
	c := &Clock{manual: true}
	c.tick.Store(start)
	return c
}

// Now returns the current tick.
func (c *Clock) Now() uint32 {
	if c.manual {
		return nonZero(c.tick.Load())
	}
	return nonZero(uint32(time.Since(c.base).Milliseconds()))
}

// Advance moves a manual clock forward.
func (c *Clock) Advance(d time.Duration) { c.tick.Add(uint32(d.Milliseconds())) }

// Set sets a manual clock.
func (c *Clock) Set(t uint32) { c.tick.Store(t) }

func nonZero(t uint32) uint32 {
	if t == 0 {
		return 1
	}
	return t
}

// tickAdd is HAProxy's tick_add: never TICK_ETERNITY.
func tickAdd(now, ms uint32) uint32 { return nonZero(now + ms) }

// tickExpired is tick_is_expired for a set tick.
func tickExpired(t, now uint32) bool { return int32(now-t) >= 0 }

// tickRemain is tick_remain: the milliseconds left before t, 0 when gone.
func tickRemain(now, t uint32) uint32 {
	if int32(t-now) < 0 {
		return 0
	}
	return t - now
}
