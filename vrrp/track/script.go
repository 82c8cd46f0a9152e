// Package track watches what an instance's priority depends on: vrrp_script
// runs (with keepalived's rise/fall counting and messages), link states for
// track_interface, and track_file values. It reports verdicts; the weights
// are applied by the state machine (vrrp/fsm).
package track

import (
	"context"
	"fmt"
	"sync"
	"time"

	"halo/vrrp"
)

// ScriptState is a vrrp_script's verdict.
type ScriptState int

const (
	ScriptInit   ScriptState = iota // no verdict yet: counts as good
	ScriptGood                      // rise reached
	ScriptFailed                    // fall reached (or init_fail)
)

// Script runs one vrrp_script every interval and keeps keepalived's
// rise/fall counter (vrrp_track.c: result in 0..rise+fall-1, good at >= rise).
type Script struct {
	Cfg  *vrrp.Script
	Cred Cred
	// Logf gets keepalived's messages (`Script `x` now returning 1`, ...).
	Logf func(format string, args ...any)
	// OnChange is called (from the runner's goroutine) when the verdict
	// changes, the first one (out of INIT) included.
	OnChange func(s *Script, st ScriptState)
	// Exec runs one check; nil means Run (tests inject a fake).
	Exec func(ctx context.Context) Result

	mu         sync.Mutex
	state      ScriptState
	result     int
	lastStatus int
	runs, fail int
}

// NewScript prepares a runner; init_fail starts it failed.
func NewScript(cfg *vrrp.Script, cred Cred, logf func(string, ...any)) *Script {
	s := &Script{Cfg: cfg, Cred: cred, Logf: logf}
	s.Reset()
	return s
}

// Reset puts the counter where keepalived starts it.
func (s *Script) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	rise := max(s.Cfg.Rise, 1)
	if s.Cfg.InitFail {
		s.state, s.result = ScriptFailed, 0
	} else {
		s.state, s.result = ScriptInit, rise-1
	}
}

// State is the current verdict.
func (s *Script) State() ScriptState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Failed reports whether the script counts as failed for weights.
func (s *Script) Failed() bool { return s.State() == ScriptFailed }

// Counts is how often the script ran and failed.
func (s *Script) Counts() (runs, failures int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs, s.fail
}

// Run checks every interval until ctx ends. The first check runs at once.
func (s *Script) Run(ctx context.Context) {
	iv := s.Cfg.Interval
	if iv <= 0 {
		iv = time.Second
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		s.Check(ctx)
		// keepalived schedules the next run interval after the start.
		t.Reset(max(iv-time.Since(start), 0))
	}
}

// Check runs the script once and applies the result.
func (s *Script) Check(ctx context.Context) {
	var r Result
	if s.Exec != nil {
		r = s.Exec(ctx)
	} else {
		to := s.Cfg.Timeout
		if to <= 0 {
			to = s.Cfg.Interval
		}
		r = Run(ctx, SplitCommand(s.Cfg.Command), s.Cred, to)
	}
	if ctx.Err() != nil {
		return
	}
	s.Apply(r)
}

// Apply feeds one result through the rise/fall counter.
func (s *Script) Apply(r Result) {
	s.mu.Lock()
	name := s.Cfg.Name
	rise, fall := max(s.Cfg.Rise, 1), max(s.Cfg.Fall, 1)
	s.runs++
	var msgs []string
	if r.Err == nil && !r.TimedOut && !r.Signaled && r.Status != s.lastStatus {
		msgs = append(msgs, fmt.Sprintf("Script `%s` now returning %d", name, r.Status))
		s.lastStatus = r.Status
	}
	// `weight N reverse` reverses the weight's direction, not the verdict:
	// the state machine applies it (fsm.Tracker.Reverse).
	ok := r.OK()
	old := s.state
	if ok {
		if s.result < rise-1 {
			s.result++
		} else if s.result != rise+fall-1 {
			if s.result < rise || s.state != ScriptGood {
				msgs = append(msgs, fmt.Sprintf("VRRP_Script(%s) succeeded", name))
				s.state = ScriptGood
			}
			s.result = rise + fall - 1
		} else if s.state == ScriptInit {
			msgs = append(msgs, fmt.Sprintf("VRRP_Script(%s) succeeded", name))
			s.state = ScriptGood
		}
	} else {
		s.fail++
		if s.result > rise {
			s.result--
		} else {
			if s.state != ScriptFailed {
				msgs = append(msgs, fmt.Sprintf("VRRP_Script(%s) %s", name, failWhy(r)))
				s.state = ScriptFailed
			}
			s.result = 0
		}
	}
	st := s.state
	s.mu.Unlock()
	if s.Logf != nil {
		for _, m := range msgs {
			s.Logf("%s", m)
		}
	}
	if st != old && s.OnChange != nil {
		s.OnChange(s, st)
	}
}

func failWhy(r Result) string {
	switch {
	case r.TimedOut:
		return "timed_out"
	case r.Err != nil:
		return fmt.Sprintf("failed (%v)", r.Err)
	case r.Signaled:
		return fmt.Sprintf("failed (due to signal %d)", r.Signal)
	}
	return fmt.Sprintf("failed (exited with status %d)", r.Status)
}
