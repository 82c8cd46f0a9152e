package check

import (
	"context"
	"time"
)

// Clock is the time source of a checker: the real one in the daemon, a
// fake one in tests, which then compute detection times without waiting.
type Clock interface {
	Now() time.Time
	// Sleep waits d (or until ctx is done, then it returns false).
	Sleep(ctx context.Context, d time.Duration) bool
}

// RealClock is the wall clock.
type RealClock struct{}

// Now is time.Now.
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx is done.
func (RealClock) Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Prober runs one attempt of a checker. step is the URL index for
// HTTP_GET/SSL_GET and 0 otherwise. A Prober bounds its own attempt
// (connect_timeout, misc_timeout).
type Prober interface {
	Probe(ctx context.Context, step int) Outcome
}

// BootstrapDelay is keepalived's BOOTSTRAP_DELAY: checkers start one
// second after the daemon, plus their random warmup.
const BootstrapDelay = time.Second

// Checker runs one checker: it waits BootstrapDelay + rand×warmup, then
// probes on the schedule State computes, and hands every report to
// OnReport and every log line to Logf.
type Checker struct {
	Cfg   *Config
	State *State
	Probe Prober
	Clock Clock
	// Rand returns a number in [0, 1) for the warmup (math/rand/v2's
	// Float64 in the daemon; fixed in tests).
	Rand func() float64
	// Enabled is false while ha_suspend holds the checker (its virtual
	// address is absent): it then only waits delay_loop.
	Enabled  func() bool
	OnReport func(Report)
	Logf     func(format string, args ...any)
}

// FirstDelay is when the first check runs after start.
func (c *Checker) FirstDelay() time.Duration {
	d := BootstrapDelay
	if c.Cfg.Warmup > 0 && c.Rand != nil {
		d += time.Duration(float64(c.Cfg.Warmup) * c.Rand())
	}
	return d
}

// Run checks until ctx is done.
func (c *Checker) Run(ctx context.Context) {
	if !c.Clock.Sleep(ctx, c.FirstDelay()) {
		return
	}
	for {
		if c.Enabled != nil && !c.Enabled() {
			if !c.Clock.Sleep(ctx, c.Cfg.DelayLoop) {
				return
			}
			continue
		}
		start := c.Clock.Now()
		o := c.Probe.Probe(ctx, c.State.URLIndex())
		if ctx.Err() != nil {
			return
		}
		st := c.State.Apply(o)
		for _, l := range st.Logs {
			if c.Logf != nil {
				c.Logf("%s", l)
			}
		}
		if c.OnReport != nil && (st.Report != Report{}) {
			c.OnReport(st.Report)
		}
		wait := st.Delay
		if st.FromStart {
			wait = st.Delay - c.Clock.Now().Sub(start)
			if wait <= 0 {
				wait = time.Microsecond
			}
		}
		if !c.Clock.Sleep(ctx, wait) {
			return
		}
	}
}

// WorstCaseDown is how long after its last passing check a connection
// checker reports a server down that failed just after it: delay_loop,
// then retry+1 failing attempts (each lasting attempt: 0 when refused,
// connect_timeout for a black hole) delay_before_retry apart.
func WorstCaseDown(cfg *Config, attempt time.Duration) time.Duration {
	return cfg.DelayLoop + time.Duration(cfg.Retry)*cfg.DelayBeforeRetry + time.Duration(cfg.Retry+1)*attempt
}
