package lvs

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"halo/lvs/check"
)

// blockClock never lets a checker reach its first probe: the test sees
// only the ha_suspend bookkeeping.
type blockClock struct{}

func (blockClock) Now() time.Time { return time.Time{} }
func (blockClock) Sleep(ctx context.Context, _ time.Duration) bool {
	<-ctx.Done()
	return false
}

// ha_suspend follows address events as update_checker_activity does: the
// checkers of a virtual server start deactivated when its address is
// absent, are activated when one appears and suspended when the last one
// goes (an address on two interfaces counts twice); a group matches its
// address entries and ranges; a virtual server without ha_suspend is
// never suspended; a reload that drops ha_suspend activates.
func TestHASuspendFollowsAddresses(t *testing.T) {
	mk := func(addr, group string, ha bool) *VirtualServer {
		vs := &VirtualServer{Proto: ProtoTCP, Sched: "rr", Group: group, HASuspend: ha,
			RealServers: []*RealServer{rs("10.9.0.1:80", 1, false)}}
		if addr != "" {
			vs.Addr = netip.MustParseAddrPort(addr)
		} else {
			vs.Addr = netip.AddrPortFrom(netip.Addr{}, 80)
		}
		return vs
	}
	single, grouped, plain := mk("192.0.2.1:80", "", true), mk("", "G", true), mk("192.0.2.2:80", "", false)
	groups := map[string]*Group{"G": {Name: "G", Entries: []GroupEntry{
		{First: netip.MustParseAddr("198.51.100.10"), Last: netip.MustParseAddr("198.51.100.20"), Port: 80},
		{FWMark: 7},
	}}}
	var (
		mu   sync.Mutex
		logs []string
		ev   func(netip.Addr, bool)
	)
	take := func() string {
		mu.Lock()
		defer mu.Unlock()
		s := strings.Join(logs, "\n")
		logs = nil
		return s
	}
	m := NewManager(&Config{VirtualServers: []*VirtualServer{single, grouped, plain}, Groups: groups}, &recorder{}, Hooks{
		Logf: func(f string, a ...any) {
			mu.Lock()
			logs = append(logs, sprintf(f, a...))
			mu.Unlock()
		},
		Clock:     blockClock{},
		NewProber: func(*check.Config) (check.Prober, error) { return &countingProber{}, nil },
		WatchAddrs: func(_ context.Context, f func(netip.Addr, bool)) error {
			ev = f
			f(netip.MustParseAddr("192.0.2.1"), true)
			f(netip.MustParseAddr("127.0.0.1"), true)
			return nil
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); m.wg.Wait() }()
	m.Start(ctx)
	take() // the pool's own lines
	enabled := func() string {
		var b []string
		for _, vs := range m.vss {
			if vs.rss[0].checkers[0].enabled.Load() {
				b = append(b, "on")
			} else {
				b = append(b, "off")
			}
		}
		return strings.Join(b, " ")
	}
	if got := enabled(); got != "on off on" {
		t.Errorf("at start: %s", got)
	}
	steps := []struct {
		addr    string
		added   bool
		want    string
		enabled string
	}{
		{"198.51.100.9", true, "", "on off on"},
		{"198.51.100.15", true, "Activating healthchecker for service [10.9.0.1]:tcp:80 for VS [G]:80", "on on on"},
		{"192.0.2.1", true, "", "on on on"}, // a second interface
		{"192.0.2.1", false, "", "on on on"},
		{"192.0.2.1", false, "Suspending healthchecker for service [10.9.0.1]:tcp:80 for VS [192.0.2.1]:tcp:80", "off on on"},
		{"192.0.2.2", false, "", "off on on"},
		{"198.51.100.15", false, "Suspending healthchecker for service [10.9.0.1]:tcp:80 for VS [G]:80", "off off on"},
		{"::ffff:192.0.2.1", true, "Activating healthchecker for service [10.9.0.1]:tcp:80 for VS [192.0.2.1]:tcp:80", "on off on"},
	}
	for _, s := range steps {
		ev(netip.MustParseAddr(s.addr), s.added)
		if got := take(); got != s.want {
			t.Errorf("%s added=%v: logged %q, want %q", s.addr, s.added, got, s.want)
		}
		if got := enabled(); got != s.enabled {
			t.Errorf("%s added=%v: checkers %s, want %s", s.addr, s.added, got, s.enabled)
		}
	}
	// -D: the event that concerns an ha_suspend server is logged once
	m.h.LogDetail = true
	ev(netip.MustParseAddr("198.51.100.12"), true)
	if got := take(); got != "Netlink reflector reports IP 198.51.100.12 added\nActivating healthchecker for service [10.9.0.1]:tcp:80 for VS [G]:80" {
		t.Errorf("-D: logged %q", got)
	}
	ev(netip.MustParseAddr("203.0.113.1"), true) // no ha_suspend server's
	if got := take(); got != "" {
		t.Errorf("-D, another address: logged %q", got)
	}
	ev(netip.MustParseAddr("198.51.100.12"), false)
	take()
	m.h.LogDetail = false
	// a reload that drops ha_suspend from the group activates its checker
	m.Reload(&Config{VirtualServers: []*VirtualServer{mk("192.0.2.1:80", "", true), mk("", "G", false), mk("192.0.2.2:80", "", false)}, Groups: groups})
	if got := take(); !strings.Contains(got, "Activating healthchecker for service [10.9.0.1]:tcp:80 for VS [G]:80") {
		t.Errorf("reload logged %q", got)
	}
	if got := enabled(); got != "on on on" {
		t.Errorf("after the reload: %s", got)
	}
}

// The start-up line says Deactivating for a checker whose ha_suspend
// address is absent, as register_checkers_thread does.
func TestHASuspendStartLine(t *testing.T) {
	vs := &VirtualServer{Addr: netip.MustParseAddrPort("192.0.2.1:80"), Proto: ProtoTCP, Sched: "rr", HASuspend: true,
		RealServers: []*RealServer{rs("10.9.0.1:80", 1, false)}}
	var logs []string
	var mu sync.Mutex
	m := NewManager(&Config{VirtualServers: []*VirtualServer{vs}}, &recorder{}, Hooks{
		Logf:       func(f string, a ...any) { mu.Lock(); logs = append(logs, sprintf(f, a...)); mu.Unlock() },
		Clock:      blockClock{},
		NewProber:  func(*check.Config) (check.Prober, error) { return &countingProber{}, nil },
		WatchAddrs: func(context.Context, func(netip.Addr, bool)) error { return nil },
	})
	ctx, cancel := context.WithCancel(context.Background())
	m.Start(ctx)
	cancel()
	m.wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if !contains(logs, "Deactivating healthchecker for service [10.9.0.1]:tcp:80 for VS [192.0.2.1]:tcp:80") {
		t.Errorf("logs %q", logs)
	}
}

// WatchAddrs reports the kernel's addresses: the present ones before it
// returns, then additions and removals as they happen (in a network
// namespace of this test's own).
func TestWatchAddrsNetlink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace")
	}
	ns := sprintf("hk2addr%d", os.Getpid()%10000)
	if p := os.Getenv("HALO_NETNS_PREFIX"); p != "" {
		ns = sprintf("%saddr%d", p, os.Getpid()%10000)
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	ip("netns", "add", ns)
	defer exec.Command("ip", "netns", "del", ns).Run()
	ip("-n", ns, "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	ip("-n", ns, "link", "set", "d0", "up")
	ip("-n", ns, "addr", "add", "192.0.2.7/24", "dev", "d0")

	// the netlink sockets are opened in the namespace of the calling thread
	type event struct {
		a     netip.Addr
		added bool
	}
	evs := make(chan event, 64)
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		runtime.LockOSThread() // the thread stays in the namespace: it dies with the goroutine
		h, err := netns.GetFromName(ns)
		if err == nil {
			err = netns.Set(h)
			h.Close()
		}
		if err == nil {
			err = WatchAddrs(ctx, func(a netip.Addr, added bool) { evs <- event{a, added} })
			evs <- event{} // the present addresses were reported before this
		}
		errc <- err
		<-ctx.Done()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	var initial []event
	for e := <-evs; e.a.IsValid(); e = <-evs {
		if !e.a.IsLinkLocalUnicast() {
			initial = append(initial, e)
		}
	}
	if len(initial) != 1 || initial[0] != (event{netip.MustParseAddr("192.0.2.7"), true}) {
		t.Errorf("present addresses reported %v, want 192.0.2.7 (lo is down: no 127.0.0.1)", initial)
	}
	want := func(addr string, added bool) {
		t.Helper()
		w := event{netip.MustParseAddr(addr), added}
		for {
			select {
			case e := <-evs:
				if e == w {
					return
				}
				if !e.a.IsLinkLocalUnicast() { // the veth's own fe80:: comes and goes
					t.Fatalf("event %v, want %v", e, w)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no event %v", w)
			}
		}
	}
	ip("-n", ns, "addr", "add", "192.0.2.8/32", "dev", "d0")
	want("192.0.2.8", true)
	ip("-n", ns, "addr", "del", "192.0.2.8/32", "dev", "d0")
	want("192.0.2.8", false)
	ip("-n", ns, "addr", "add", "2001:db8::8/128", "dev", "d0", "nodad")
	want("2001:db8::8", true)
}
