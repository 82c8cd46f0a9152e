package fsm

import (
	"slices"
	"testing"
	"time"
)

// These tests replay the netlab scenarios (../shared/netlab/README.md) on
// the fake clock and compare with Keepalived 2.2.7's measured figures; the
// lab's figures add ~0.05-0.2 s of process start and polling on top of the
// protocol times asserted here.

func twoNodes(t *testing.T, mod func(node int, c *Config)) (*lan, *router, *router) {
	l := newLAN(t)
	var rs []*router
	for n := 1; n <= 2; n++ {
		c := labConfig(n)
		if mod != nil {
			mod(n, &c)
		}
		rs = append(rs, l.add("n"+string(rune('0'+n)), "10.77.0."+string(rune('0'+n)), []Config{c}, nil))
	}
	return l, rs[0], rs[1]
}

func exactlyOne(l *lan, name string) func() bool {
	return func() bool { return len(l.holders(name)) == 1 }
}

// TestLabElection: node 1 (`state MASTER`, priority 150) still starts in
// BACKUP and wins after 3 x 1 s + (256-150)/256 s = 3.4140625 s (lab:
// 3.46-3.62 s).
func TestLabElection(t *testing.T) {
	l, n1, n2 := twoNodes(t, nil)
	l.start(n1)
	l.start(n2)
	at, ok := l.runUntil(10*time.Second, exactlyOne(l, "VI_1"))
	if !ok {
		t.Fatal("no single master within 10 s")
	}
	if h := l.holders("VI_1"); !slices.Equal(h, []string{"n1"}) {
		t.Fatalf("holders %v", h)
	}
	want := 3*time.Second + 414062*time.Microsecond
	if at < want || at > want+2*time.Millisecond {
		t.Fatalf("election at %v, want %v", at, want)
	}
	if logs := n1.logs(0); !slices.Contains(logs, "(VI_1) Entering BACKUP STATE (init)") ||
		!slices.Contains(logs, "(VI_1) Entering MASTER STATE") {
		t.Fatalf("n1 logs %q", logs)
	}
}

// TestLabFailoverSigterm: the master's priority-0 advert lets node 2 take
// over after its skew, (256-100)/256 = 0.609375 s (lab: 1.07 s with the
// shutdown).
func TestLabFailoverSigterm(t *testing.T) {
	l, n1, n2 := twoNodes(t, nil)
	l.start(n1)
	l.start(n2)
	l.run(10 * time.Second)
	stopAt := l.elapsed()
	l.stop(n1)
	at, ok := l.runUntil(20*time.Second, func() bool { return slices.Equal(l.holders("VI_1"), []string{"n2"}) })
	if !ok {
		t.Fatal("node 2 never took over")
	}
	if d := at - stopAt; d < 609*time.Millisecond || d > 612*time.Millisecond {
		t.Fatalf("failover took %v, want 0.609375 s", d)
	}
	if n1.count(stopAt, isAdvert(0)) != 1 {
		t.Fatal("no single priority-0 advert at stop")
	}
	if !slices.Contains(n2.logs(stopAt), "(VI_1) Backup received priority 0 advertisement") {
		t.Fatalf("n2 logs %q", n2.logs(stopAt))
	}
}

// TestLabFailoverSigkill: a crashed master is replaced 3 x 1 + 0.609375 s
// after its last advert (lab: 3.57-3.63 s).
func TestLabFailoverSigkill(t *testing.T) {
	l, n1, n2 := twoNodes(t, nil)
	l.start(n1)
	l.start(n2)
	l.run(10*time.Second + 500*time.Millisecond)
	last, _ := n1.firstTime(10*time.Second, isAdvert(150)) // the advert at ~10.41 s
	l.kill(n1)
	at, ok := l.runUntil(20*time.Second, exactlyOne(l, "VI_1"))
	if !ok {
		t.Fatal("node 2 never took over")
	}
	want := 3*time.Second + 609375*time.Microsecond
	if d := at - last; d < want || d > want+2*time.Millisecond {
		t.Fatalf("takeover %v after the last advert, want %v", d, want)
	}
}

// TestLabTrackWeight: the master's script (weight -60) fails: 150-60 = 90 <
// 100, node 2 discards the lower adverts and takes over when its down timer
// runs out; node 1 then yields (lab: 4.6 s including fall 2 x 1 s).
func TestLabTrackWeight(t *testing.T) {
	l, n1, n2 := twoNodes(t, func(n int, c *Config) {
		c.Trackers = []Tracker{{Kind: TrackScript, Name: "chk", Weight: -60}}
	})
	l.apply(n1, n1.e.Script(l.now, "chk", true))
	l.apply(n2, n2.e.Script(l.now, "chk", true))
	l.start(n1)
	l.start(n2)
	l.run(10*time.Second + 500*time.Millisecond)
	failAt := l.elapsed()
	l.apply(n1, n1.e.Script(l.now, "chk", false))
	if !slices.Contains(n1.logs(failAt), "(VI_1) Changing effective priority from 150 to 90") {
		t.Fatalf("n1 logs %q", n1.logs(failAt))
	}
	at, ok := l.runUntil(20*time.Second, func() bool { return slices.Equal(l.holders("VI_1"), []string{"n2"}) })
	if !ok {
		t.Fatal("node 2 never took over")
	}
	// Last accepted advert: n1's at ~10.414 s; the next (90) is discarded.
	if d := at - failAt; d < 2500*time.Millisecond || d > 3700*time.Millisecond {
		t.Fatalf("takeover %v after the priority drop", d)
	}
	if !slices.Contains(n2.logs(failAt), "(VI_1) received lower priority (90) advert from 10.77.0.1 - discarding") {
		t.Fatalf("n2 logs %q", n2.logs(failAt))
	}
	if !slices.Contains(n1.logs(failAt), "(VI_1) Master received advert from 10.77.0.2 with higher priority 100, ours 90") {
		t.Fatalf("n1 logs %q", n1.logs(failAt))
	}
	if n1.e.State(0) != Backup || n2.e.State(0) != Master {
		t.Fatalf("states %s %s", n1.e.State(0), n2.e.State(0))
	}
}

// TestLabPreempt: the stopped master restarts, rejoins as BACKUP and
// preempts the lower-priority master after its down interval (lab: 3.56 s).
func TestLabPreempt(t *testing.T) {
	l, n1, n2 := twoNodes(t, nil)
	l.start(n1)
	l.start(n2)
	l.run(10 * time.Second)
	l.stop(n1)
	l.run(15 * time.Second)
	back := l.elapsed()
	l.restart(n1, []Config{labConfig(1)}, nil)
	at, ok := l.runUntil(30*time.Second, func() bool { return slices.Equal(l.holders("VI_1"), []string{"n1"}) })
	if !ok {
		t.Fatal("node 1 never preempted")
	}
	want := 3*time.Second + 414062*time.Microsecond
	if d := at - back; d < want || d > want+2*time.Millisecond {
		t.Fatalf("preempt after %v, want %v", d, want)
	}
}

// TestLabNoPreempt: with every node BACKUP and nopreempt on node 1, the
// restarted higher-priority node never takes the VIP back (lab: preempted 0).
func TestLabNoPreempt(t *testing.T) {
	mod := func(n int, c *Config) {
		c.InitialState = Backup
		c.NoPreempt = n == 1
	}
	l, n1, n2 := twoNodes(t, mod)
	l.start(n1)
	l.start(n2)
	l.run(10 * time.Second)
	if !slices.Equal(l.holders("VI_1"), []string{"n1"}) {
		t.Fatalf("holders %v", l.holders("VI_1"))
	}
	l.stop(n1)
	l.run(15 * time.Second)
	c := labConfig(1)
	mod(1, &c)
	l.restart(n1, []Config{c}, nil)
	l.run(40 * time.Second)
	if !slices.Equal(l.holders("VI_1"), []string{"n2"}) {
		t.Fatalf("holders %v: node 1 preempted despite nopreempt", l.holders("VI_1"))
	}
}

// TestLabPreemptDelay: preempt_delay 2 holds the returning node back for
// the delay, then it preempts (down interval counted from the first
// discarded advert after the delay).
func TestLabPreemptDelay(t *testing.T) {
	mod := func(n int, c *Config) {
		c.InitialState = Backup
		if n == 1 {
			c.PreemptDelay = 2 * time.Second
		}
	}
	l, n1, n2 := twoNodes(t, mod)
	l.start(n1)
	l.start(n2)
	l.run(10 * time.Second)
	l.stop(n1)
	l.run(15 * time.Second)
	back := l.elapsed()
	c := labConfig(1)
	mod(1, &c)
	l.restart(n1, []Config{c}, nil)
	at, ok := l.runUntil(40*time.Second, func() bool { return slices.Equal(l.holders("VI_1"), []string{"n1"}) })
	if !ok {
		t.Fatal("node 1 never preempted after the delay")
	}
	// Accepts adverts for 2 s (each restarting the down timer), then
	// discards; takeover 3.414 s after the last accepted one.
	if d := at - back; d < 5*time.Second || d > 7*time.Second {
		t.Fatalf("preempted after %v, want ~2 s + 3.4 s", d)
	}
}

// TestLabV3HalfSecond: VRRPv3 with advert_int 0.5: election after
// 3 x 0.5 + ((256-150) x 50 / 256) cs = 1.707031 s (lab: 1.80-1.83 s);
// SIGTERM failover after the v3 skew of priority 100 = 0.304687 s.
func TestLabV3HalfSecond(t *testing.T) {
	l, n1, n2 := twoNodes(t, func(n int, c *Config) {
		c.Version = 3
		c.AdvertInt = 500 * time.Millisecond
	})
	l.start(n1)
	l.start(n2)
	at, ok := l.runUntil(10*time.Second, exactlyOne(l, "VI_1"))
	if !ok {
		t.Fatal("no master")
	}
	want := 1500*time.Millisecond + 207031*time.Microsecond
	if at < want || at > want+2*time.Millisecond {
		t.Fatalf("election at %v, want %v", at, want)
	}
	l.run(5 * time.Second)
	stop := l.elapsed()
	l.stop(n1)
	at, ok = l.runUntil(10*time.Second, func() bool { return slices.Equal(l.holders("VI_1"), []string{"n2"}) })
	if !ok {
		t.Fatal("no failover")
	}
	if d := at - stop; d < 304*time.Millisecond || d > 307*time.Millisecond {
		t.Fatalf("failover %v, want 0.304687 s", d)
	}
}

// TestLabGARP: the new master sends garp_master_repeat (5) gratuitous ARPs
// at takeover and again garp_master_delay (5 s) later: 10 in 8 s (lab: 10).
func TestLabGARP(t *testing.T) {
	l, n1, n2 := twoNodes(t, nil)
	l.start(n1)
	l.start(n2)
	l.run(10 * time.Second)
	stop := l.elapsed()
	l.stop(n1)
	l.run(stop + 8*time.Second)
	total := 0
	for _, s := range n2.acts {
		if s.at >= stop && s.a.Kind == ActSendGARP {
			total += s.a.Repeat
		}
	}
	if total != 10 {
		t.Fatalf("%d gratuitous ARPs in 8 s, want 10", total)
	}
	// The advert goes out before the ARPs (the old master must drop the VIP first).
	adv, _ := n2.firstTime(stop, isAdvert(100))
	garp, _ := n2.firstTime(stop, func(a Action) bool { return a.Kind == ActSendGARP })
	if garp < adv {
		t.Fatal("GARP before the first advert")
	}
}

// TestLabSteady: 60 s of steady state, no transitions, one holder; and a
// stop/restart cycle never shows two holders (lab: 0 dual-master samples).
func TestLabSteady(t *testing.T) {
	l, n1, n2 := twoNodes(t, nil)
	l.start(n1)
	l.start(n2)
	l.run(5 * time.Second)
	before := len(l.changes)
	l.run(65 * time.Second)
	if len(l.changes) != before {
		t.Fatalf("transitions in steady state: %v", l.changes[before:])
	}
	for cycle := 0; cycle < 3; cycle++ {
		l.stop(n1)
		for i := 0; i < 100; i++ {
			l.run(l.elapsed() + 50*time.Millisecond)
			if len(l.holders("VI_1")) > 1 {
				t.Fatalf("two masters at %v", l.elapsed())
			}
		}
		l.restart(n1, []Config{labConfig(1)}, nil)
		for i := 0; i < 200; i++ {
			l.run(l.elapsed() + 50*time.Millisecond)
			if len(l.holders("VI_1")) > 1 {
				t.Fatalf("two masters at %v", l.elapsed())
			}
		}
	}
	_ = n2
}
