package check

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// fakeClock advances only when the checker sleeps or a fake probe takes
// time, so a schedule is computed exactly and instantly.
type fakeClock struct {
	now     time.Duration
	horizon time.Duration
}

func (f *fakeClock) Now() time.Time { return time.Unix(0, 0).Add(f.now) }
func (f *fakeClock) Sleep(_ context.Context, d time.Duration) bool {
	f.now += d
	return f.now <= f.horizon
}

// fakeServer is down during [downAt, upAt). A failed attempt takes took
// (0: connection refused at once; connect_timeout: a black hole).
type fakeServer struct {
	clk          *fakeClock
	downAt, upAt time.Duration
	took         time.Duration
	attempts     []time.Duration
}

func (s *fakeServer) Probe(context.Context, int) Outcome {
	s.attempts = append(s.attempts, s.clk.now)
	if s.clk.now >= s.downAt && s.clk.now < s.upAt {
		s.clk.now += s.took
		return Outcome{Reason: "TCP connection to %s failed.", Exit: 1}
	}
	return Outcome{OK: true, Success: "HTTP status code"}
}

// simulate runs one checker on the fake clock and returns when it
// reported down and up again (-1 when it did not).
func simulate(cfg Config, srv *fakeServer, rnd float64) (down, up time.Duration, logs []string) {
	clk := &fakeClock{horizon: 200 * time.Second}
	srv.clk = clk
	down, up = -1, -1
	c := &Checker{
		Cfg: &cfg, State: NewState(&cfg, "[10.0.0.1]:tcp:80", "10.0.0.1"), Probe: srv, Clock: clk,
		Rand: func() float64 { return rnd },
		OnReport: func(r Report) {
			switch {
			case r.Down && down < 0:
				down = clk.now
			case r.Up && down >= 0 && up < 0:
				up = clk.now
			}
		},
		Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) },
	}
	c.Run(context.Background())
	return down, up, logs
}

func sec(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// TestDetectionTimes is the table of up/down detection times as
// keepalived 2.2 computes them. The server fails at downAt and comes back
// at upAt; times are seconds from start. The first check runs at
// BOOTSTRAP_DELAY (1s) + rand×warmup.
//
// Down: the first check at or after downAt fails; retry more attempts
// follow, delay_before_retry apart; the last one (each attempt lasting 0
// for a refused connection, connect_timeout for a black hole) reports
// down. So the worst case after the previous success is
// delay_loop + retry×delay_before_retry + (retry+1)×attempt.
// Up: the first passing check (checks keep their schedule while down).
// HTTP_GET re-checks a failed URL every max(delay_loop,
// delay_before_retry) and needs a clean pass after it (one more
// delay_loop). MISC_CHECK counts delays from each run's start and retries
// 0 times by default.
func TestDetectionTimes(t *testing.T) {
	for _, tc := range []struct {
		name         string
		cfg          Config
		downAt, upAt float64
		took         float64
		rnd          float64
		wantDown     float64
		wantUp       float64
	}{
		{"tcp refused", Config{Kind: "TCP_CHECK", DelayLoop: sec(6), Retry: 3, DelayBeforeRetry: sec(2), ConnectTimeout: sec(5)},
			10, 40, 0, 0, 19, 41},
		{"tcp black hole", Config{Kind: "TCP_CHECK", DelayLoop: sec(6), Retry: 3, DelayBeforeRetry: sec(2), ConnectTimeout: sec(5)},
			10, 80, 5, 0, 39, 84},
		{"tcp retry 0", Config{Kind: "TCP_CHECK", DelayLoop: sec(3), Retry: 0, DelayBeforeRetry: sec(1), ConnectTimeout: sec(5)},
			5, 20, 0, 0, 7, 22},
		{"tcp defaults retry 1", Config{Kind: "TCP_CHECK", DelayLoop: sec(60), Retry: 1, DelayBeforeRetry: sec(1), ConnectTimeout: sec(5)},
			30, 150, 0, 0, 62, 183},
		{"warmup half of 4s", Config{Kind: "TCP_CHECK", DelayLoop: sec(6), Retry: 1, DelayBeforeRetry: sec(1), Warmup: sec(4)},
			0.5, 20, 0, 0.5, 3, 23},
		{"failing from start", Config{Kind: "TCP_CHECK", DelayLoop: sec(6), Retry: 3, DelayBeforeRetry: sec(2)},
			0, 10, 0, 0, 1, 11},
		{"http one url", Config{Kind: "HTTP_GET", DelayLoop: sec(6), Retry: 3, DelayBeforeRetry: sec(2), URLs: []URL{{Path: "/"}}},
			10, 40, 0, 0, 19, 49},
		{"http two urls", Config{Kind: "HTTP_GET", DelayLoop: sec(6), Retry: 1, DelayBeforeRetry: sec(3), URLs: []URL{{Path: "/a"}, {Path: "/b"}}},
			10, 40, 0, 0, 16, 52},
		{"http fast recovery", Config{Kind: "HTTP_GET", DelayLoop: sec(6), Retry: 1, DelayBeforeRetry: sec(3), FastRecovery: true, URLs: []URL{{Path: "/"}}},
			10, 40, 0, 0, 16, 40},
		{"misc from start", Config{Kind: "MISC_CHECK", DelayLoop: sec(6), Retry: 0, DelayBeforeRetry: sec(1), MiscPath: []string{"/bin/false"}},
			10, 40, 0.5, 0, 13.5, 43},
		{"misc retry 2", Config{Kind: "MISC_CHECK", DelayLoop: sec(6), Retry: 2, DelayBeforeRetry: sec(1), MiscPath: []string{"/bin/false"}},
			10, 40, 0.5, 0, 15.5, 45},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &fakeServer{downAt: sec(tc.downAt), upAt: sec(tc.upAt), took: sec(tc.took)}
			down, up, _ := simulate(tc.cfg, srv, tc.rnd)
			if down != sec(tc.wantDown) || up != sec(tc.wantUp) {
				t.Errorf("down at %v, up at %v; want %vs, %vs (attempts %v)", down, up, tc.wantDown, tc.wantUp, srv.attempts)
			}
		})
	}
}

// WorstCaseDown is the formula of TestDetectionTimes' comment, checked
// against the simulation for a failure just after a passing check.
func TestWorstCaseDown(t *testing.T) {
	for _, retry := range []int{0, 1, 3} {
		for _, took := range []float64{0, 2} {
			cfg := Config{Kind: "TCP_CHECK", DelayLoop: sec(5), Retry: retry, DelayBeforeRetry: sec(1.5), ConnectTimeout: sec(2)}
			srv := &fakeServer{downAt: sec(11.001), upAt: sec(1000), took: sec(took)}
			down, _, _ := simulate(cfg, srv, 0)
			want := sec(11) + WorstCaseDown(&cfg, sec(took))
			if down != want {
				t.Errorf("retry %d took %v: down at %v, want %v", retry, took, down, want)
			}
		}
	}
}

func TestFirstCheckLogs(t *testing.T) {
	cfg := Config{Kind: "TCP_CHECK", DelayLoop: sec(6), Retry: 1, DelayBeforeRetry: sec(1)}
	_, _, logs := simulate(cfg, &fakeServer{downAt: sec(1000), upAt: sec(1001)}, 0)
	if len(logs) != 1 || logs[0] != "TCP connection to [10.0.0.1]:tcp:80 success." {
		t.Errorf("logs %q, want one success line", logs)
	}
}
