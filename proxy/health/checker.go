package health

import (
	"context"
	"sync"
	"time"

	"halo/proxy/balance"
)

// Config is one server's check configuration, ready to run.
type Config struct {
	Proxy, Server string
	Backup        bool
	Probe         Probe
	Rise, Fall    int
	Intervals     Intervals
	// ShutdownOnDown is `on-marked-down shutdown-sessions`.
	ShutdownOnDown bool
	// OnChange, when set, runs after each UP/DOWN transition was applied.
	OnChange func()
}

// Timeouts computes a probe's connect and answer timeouts. Without
// `timeout check` the whole check must finish within inter. With it, the
// connection gets min(inter, timeout connect), and the answer is waited for
// max(timeout check, min(inter, 1s)): that is what haproxy 2.6.12 measures
// (e.g. check 200ms/inter 3s times out after 1s, check 3s/inter 1s after
// 3s, check 300ms/inter 500ms after 500ms), the check task only noticing
// the shorter `timeout check` on its next wake-up.
func Timeouts(inter, connect, check time.Duration) (conn, read time.Duration) {
	if check <= 0 {
		return inter, inter
	}
	conn = inter
	if connect > 0 && connect < conn {
		conn = connect
	}
	read = min(inter, time.Second)
	if check > read {
		read = check
	}
	return conn, read
}

// Checker runs one server's checks and applies their results.
type Checker struct {
	cfg  Config
	srv  *balance.Server
	sink Sink

	mu   sync.Mutex
	fsm  FSM
	last Result
	// wake makes Run check at once (Resume: leaving maintenance).
	wake chan struct{}
}

// New prepares a checker for srv. sink receives state-change messages
// (nil: StderrSink).
func New(cfg Config, srv *balance.Server, sink Sink) *Checker {
	if sink == nil {
		sink = StderrSink
	}
	c := &Checker{cfg: cfg, srv: srv, sink: sink, fsm: NewFSM(cfg.Rise, cfg.Fall), wake: make(chan struct{}, 1)}
	srv.SetCheck(c.info(), false)
	return c
}

func (c *Checker) info() balance.CheckInfo {
	code := c.last.Status.Code()
	if c.last.Status == StatusUnknown {
		code = "INI" // no check ran yet: HAProxy's "Initializing"
	}
	return balance.CheckInfo{
		Enabled: true, Status: code, Code: c.last.Code, Desc: c.last.Info,
		Duration: c.last.Duration, Health: c.fsm.Health, Rise: c.fsm.Rise, Fall: c.fsm.Fall,
	}
}

// Apply feeds one result to the state machine and, on a transition,
// changes the server's state and reports it. It returns the transition
// direction: +1 up, -1 down, 0 none.
func (c *Checker) Apply(r Result) int {
	c.mu.Lock()
	if c.srv.Stats().Admin&balance.AdminMaint != 0 && r.Status.Passed() {
		// HAProxy does not count successes of a server in maintenance.
		c.last = r
		c.srv.SetCheck(c.info(), false)
		c.mu.Unlock()
		return 0
	}
	changed := c.fsm.Report(r.Status.Passed())
	up := c.fsm.Up()
	c.last = r
	c.srv.SetCheck(c.info(), !r.Status.Passed())
	c.mu.Unlock()
	if up && !changed {
		// disable-on-404: a conditional pass stops a running server, a
		// full pass brings a stopping one back.
		st := c.srv.Stats().State
		var next balance.State
		switch {
		case r.Status == StatusL7OKC && st != balance.StateStopping:
			next = balance.StateStopping
		case r.Status != StatusL7OKC && st == balance.StateStopping:
			next = balance.StateRunning
		default:
			return 0
		}
		t := c.srv.SetState(next)
		if c.cfg.OnChange != nil {
			c.cfg.OnChange()
		}
		if c.srv.Stats().Admin&balance.AdminMaint == 0 {
			if next == balance.StateStopping {
				c.sink(Event{Proxy: c.cfg.Proxy, Severity: SevNotice, Msg: StoppingMessage(c.cfg.Proxy, c.cfg.Server, c.cfg.Backup, r, t)})
				if t.BackendDown {
					c.sink(Event{Proxy: c.cfg.Proxy, Alert: true, Severity: SevEmerg, Msg: NoServerMessage(c.cfg.Proxy)})
				}
			} else {
				Report(c.sink, c.cfg.Proxy, c.cfg.Server, c.cfg.Backup, true, r, t)
			}
		}
		return 0
	}
	if !changed {
		return 0
	}
	st := balance.StateStopped
	if up {
		st = balance.StateRunning
		if r.Status == StatusL7OKC {
			st = balance.StateStopping
		}
	}
	t := c.srv.SetState(st)
	if c.cfg.OnChange != nil {
		c.cfg.OnChange()
	}
	if c.srv.Stats().Admin&balance.AdminMaint == 0 {
		Report(c.sink, c.cfg.Proxy, c.cfg.Server, c.cfg.Backup, up, r, t)
	}
	if !up && c.cfg.ShutdownOnDown {
		c.srv.ShutdownSessions()
	}
	if up {
		return 1
	}
	return -1
}

// Pause is called when the server enters maintenance: as HAProxy, checks
// pause and the health counter drops to 0 (show servers state shows it).
func (c *Checker) Pause() {
	c.mu.Lock()
	c.fsm.Health = 0
	c.srv.SetCheck(c.info(), false)
	c.mu.Unlock()
}

// Resume is called when the server leaves maintenance: as HAProxy, its
// health starts at rise, so the server is up, and it is checked at once;
// that check decides.
func (c *Checker) Resume() {
	c.mu.Lock()
	c.fsm.Health = c.fsm.Rise
	c.srv.SetCheck(c.info(), false)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Next is the delay before the next check.
func (c *Checker) Next() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fsm.Next(c.cfg.Intervals)
}

// Run checks until ctx ends, the first check after delay.
func (c *Checker) Run(ctx context.Context, delay time.Duration) {
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.wake:
		}
		if c.srv.Stats().Admin&balance.AdminMaint != 0 {
			// Checks pause while in maintenance, as the stats page says.
			t.Reset(c.cfg.Intervals.Inter)
			continue
		}
		r := c.cfg.Probe.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		c.Apply(r)
		t.Reset(c.Next())
	}
}

// Start runs every checker, spreading their first checks as HAProxy does,
// and returns a function that stops them and waits.
func Start(ctx context.Context, checkers []*Checker) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	inters := make([]time.Duration, len(checkers))
	for i, c := range checkers {
		inters[i] = c.Next()
	}
	delays := StartDelays(inters)
	var wg sync.WaitGroup
	for i, c := range checkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Run(ctx, delays[i])
		}()
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
