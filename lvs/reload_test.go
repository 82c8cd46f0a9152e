package lvs

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"halo/lvs/check"
)

func vsAt(addr string, sched string, rss ...*RealServer) *VirtualServer {
	return &VirtualServer{Addr: netip.MustParseAddrPort(addr), Proto: ProtoTCP, Family: 4, Sched: sched, RealServers: rss}
}

func reloadHarness(t *testing.T, vss ...*VirtualServer) *harness {
	h := &harness{t: t, dp: &recorder{}}
	h.m = NewManager(&Config{VirtualServers: vss, Groups: map[string]*Group{}}, h.dp, Hooks{
		Logf:      func(f string, a ...any) { h.logs = append(h.logs, sprintf(f, a...)) },
		RunScript: func(s *Script) { h.scripts = append(h.scripts, s.Cmd) },
	})
	h.m.mu.Lock()
	for _, vs := range h.m.vss {
		h.m.initVS(vs)
	}
	h.m.mu.Unlock()
	return h
}

func (h *harness) reload(vss ...*VirtualServer) {
	h.logs = nil
	h.m.Reload(&Config{VirtualServers: vss, Groups: map[string]*Group{}})
}

func (h *harness) wantLogs(want ...string) {
	h.t.Helper()
	for _, w := range want {
		if !contains(h.logs, w) {
			h.t.Errorf("logs %q lack %q", h.logs, w)
		}
	}
}

// A SIGHUP changes only what changed: the kept virtual server is not
// re-created (its socket and connections stay), a real server's weight is
// edited, a new one added, a gone one removed; a removed virtual server
// goes with its servers; a changed scheduler is an edit. Checkers whose
// configuration is the same keep their state; the others start afresh.
func TestReloadDiff(t *testing.T) {
	a, b, c := rs("10.0.0.1:80", 1, false), rs("10.0.0.2:80", 1, false), rs("10.0.0.3:80", 1, false)
	h := reloadHarness(t, vsAt("192.0.2.10:80", "rr", a, b), vsAt("192.0.2.20:80", "rr", c))
	h.expect("start", "-A [192.0.2.10]:tcp:80; -a [192.0.2.10]:tcp:80 10.0.0.1:80 w1; -a [192.0.2.10]:tcp:80 10.0.0.2:80 w1; "+
		"-A [192.0.2.20]:tcp:80; -a [192.0.2.20]:tcp:80 10.0.0.3:80 w1")
	keptChecker := h.m.vss[0].rss[0].checkers[0]
	changedChecker := h.m.vss[0].rss[1].checkers[0]

	a2 := rs("10.0.0.1:80", 3, false) // weight 1 -> 3, same checker
	b2 := rs("10.0.0.2:80", 1, false)
	b2.Checkers[0].Retry = 4 // checker changed
	d := rs("10.0.0.4:80", 2, false)
	h.reload(vsAt("192.0.2.10:80", "wlc", a2, b2, d), vsAt("192.0.2.30:80", "rr", rs("10.0.0.5:80", 1, false)))
	h.expect("reload",
		"-E [192.0.2.10]:tcp:80 wlc; -e [192.0.2.10]:tcp:80 10.0.0.1:80 w3; -a [192.0.2.10]:tcp:80 10.0.0.4:80 w2; "+
			"-d [192.0.2.20]:tcp:80 10.0.0.3:80; -D [192.0.2.20]:tcp:80; "+
			"-A [192.0.2.30]:tcp:80; -a [192.0.2.30]:tcp:80 10.0.0.5:80 w1",
		"down 10.0.0.3:80")
	h.wantLogs("Changing weight from 1 to 3 for active service [10.0.0.1]:tcp:80 of VS [192.0.2.10]:tcp:80",
		"Removing Virtual Server [192.0.2.20]:tcp:80",
		"Removing service [10.0.0.3]:tcp:80 from VS [192.0.2.20]:tcp:80")
	if got := h.m.vss[0].rss[0].checkers[0]; got != keptChecker || keptChecker.stopped {
		t.Errorf("an unchanged checker was replaced or stopped")
	}
	if got := h.m.vss[0].rss[1].checkers[0]; got == changedChecker || !changedChecker.stopped {
		t.Errorf("a changed checker kept running")
	}

	// a real server that leaves
	h.reload(vsAt("192.0.2.10:80", "wlc", a2, d), vsAt("192.0.2.30:80", "rr", rs("10.0.0.5:80", 1, false)))
	h.expect("rs removed", "-d [192.0.2.10]:tcp:80 10.0.0.2:80", "down 10.0.0.2:80")
	h.wantLogs("service [10.0.0.2]:tcp:80 no longer exist", "Removing service [10.0.0.2]:tcp:80 from VS [192.0.2.10]:tcp:80")

	// the same configuration again changes nothing
	h.reload(vsAt("192.0.2.10:80", "wlc", a2, d), vsAt("192.0.2.30:80", "rr", rs("10.0.0.5:80", 1, false)))
	h.expect("same again", "")
}

// A down server stays down over a reload of an unchanged checker, and a
// changed checker on a failed server (one failure enough) does not bring
// it back until it passes; the dynamic weight of misc_dynamic survives a
// change of the configured weight.
func TestReloadKeepsState(t *testing.T) {
	a, b := rs("10.0.0.1:80", 1, false), rs("10.0.0.2:80", 5, true)
	h := reloadHarness(t, vsAt("192.0.2.10:80", "rr", a, b))
	h.dp.take()
	h.down(0)
	h.expect("down", "-d [192.0.2.10]:tcp:80 10.0.0.1:80", "down 10.0.0.1:80")
	h.rep(1, check.Report{HasWeight: true, Weight: 9})
	h.expect("dynamic weight", "-e [192.0.2.10]:tcp:80 10.0.0.2:80 w9")

	b2 := rs("10.0.0.2:80", 7, true)
	h.reload(vsAt("192.0.2.10:80", "rr", rs("10.0.0.1:80", 1, false), b2))
	h.expect("reload keeps the down server out and the dynamic weight", "")
	if snap := h.m.Snapshot(); snap[0].Alive || snap[1].Weight != 9 {
		t.Errorf("after reload: %+v", snap)
	}

	// inhibit_on_failure switched on for the failed server: it waits at 0
	a3 := rs("10.0.0.1:80", 1, true)
	h.reload(vsAt("192.0.2.10:80", "rr", a3, b2))
	h.expect("inhibit on", "-a [192.0.2.10]:tcp:80 10.0.0.1:80 w0")
	h.up(0)
	h.expect("back", "-e [192.0.2.10]:tcp:80 10.0.0.1:80 w1", "up 10.0.0.1:80")
}

// A virtual_server_group's entries are diffed: a new address is added with
// the servers in the pool, a dropped one removed.
func TestReloadGroupEntries(t *testing.T) {
	g := func(addrs ...string) map[string]*Group {
		gr := &Group{Name: "G"}
		for _, a := range addrs {
			ap := netip.MustParseAddr(a)
			gr.Entries = append(gr.Entries, GroupEntry{First: ap, Last: ap, Port: 80})
		}
		return map[string]*Group{"G": gr}
	}
	vs := func() *VirtualServer {
		v := vsAt("0.0.0.0:80", "rr", rs("10.0.0.1:80", 2, false))
		v.Group = "G"
		return v
	}
	h := &harness{t: t, dp: &recorder{}}
	h.m = NewManager(&Config{VirtualServers: []*VirtualServer{vs()}, Groups: g("192.0.2.1", "192.0.2.2")}, h.dp, Hooks{
		Logf: func(f string, a ...any) { h.logs = append(h.logs, sprintf(f, a...)) }})
	h.m.mu.Lock()
	h.m.initVS(h.m.vss[0])
	h.m.mu.Unlock()
	h.dp.take()
	h.m.Reload(&Config{VirtualServers: []*VirtualServer{vs()}, Groups: g("192.0.2.2", "192.0.2.3")})
	h.expect("group diff", "-D [192.0.2.1]:tcp:80; -A [192.0.2.3]:tcp:80; -a [192.0.2.3]:tcp:80 10.0.0.1:80 w2")
	h.wantLogs("VS [[192.0.2.1]:tcp:80] in group G no longer exists", "VS [[192.0.2.3]:tcp:80] added into group G")
}

// Checkers that a reload keeps go on running; the replaced ones stop and
// their last report counts for nothing.
func TestReloadCheckerLifecycle(t *testing.T) {
	a := rs("10.0.0.1:80", 1, false)
	a.Checkers[0].DelayLoop = time.Hour
	h := reloadHarness(t, vsAt("192.0.2.10:80", "rr", a))
	probes := &countingProber{}
	h.m.h.NewProber = func(*check.Config) (check.Prober, error) { return probes, nil }
	h.m.h.Clock = check.RealClock{}
	ctx := t.Context()
	h.m.mu.Lock()
	h.m.ctx = ctx
	h.m.mu.Unlock()
	h.m.startChecker(ctx, h.m.vss[0], h.m.vss[0].rss[0], h.m.vss[0].rss[0].checkers[0])
	old := h.m.vss[0].rss[0].checkers[0]
	a2 := rs("10.0.0.1:80", 1, false)
	a2.Checkers[0].DelayLoop = 2 * time.Hour
	h.reload(vsAt("192.0.2.10:80", "rr", a2))
	if !old.stopped || h.m.vss[0].rss[0].checkers[0] == old || h.m.vss[0].rss[0].checkers[0].stop == nil {
		t.Fatalf("the changed checker was not replaced by a running one")
	}
	// a late report of the old checker changes nothing
	h.dp.take()
	h.m.report(h.m.vss[0], h.m.vss[0].rss[0], old, check.Report{Down: true})
	h.expect("late report", "")
	h.m.closeFIFO()
}

type countingProber struct{}

func (*countingProber) Probe(context.Context, int) check.Outcome { return check.Outcome{OK: true} }

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }
