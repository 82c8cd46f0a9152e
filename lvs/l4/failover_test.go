package l4_test

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"halo/lvs"
	"halo/lvs/check"
	"halo/lvs/l4"
	"halo/vrrp/track"
)

type server struct {
	name string
	addr netip.AddrPort
	l    net.Listener
}

func (s *server) start(t *testing.T) {
	t.Helper()
	addr := "127.0.0.1:0"
	if s.addr.IsValid() {
		addr = s.addr.String()
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s.l, s.addr = l, netip.MustParseAddrPort(l.Addr().String())
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(s.name + "\n"))
			c.Close()
		}
	}()
}

func ask(vip netip.AddrPort) string {
	c, err := net.DialTimeout("tcp", vip.String(), time.Second)
	if err != nil {
		return "refused"
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	l, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "none"
	}
	return strings.TrimSpace(l)
}

// TestFailover runs the Manager with real TCP_CHECKs on the userspace
// path: clients reach both real servers through the virtual address; one
// that stops leaves the rotation within delay_loop×(retry+1) and the lost
// quorum brings in the sorry server (quorum_down runs); when it comes
// back it returns within one delay_loop and takes the pool back
// (quorum_up runs).
func TestFailover(t *testing.T) {
	a, b, sorry := &server{name: "a"}, &server{name: "b"}, &server{name: "sorry"}
	for _, s := range []*server{a, b, sorry} {
		s.start(t)
		defer s.l.Close()
	}
	vl, _ := net.Listen("tcp", "127.0.0.1:0")
	vip := netip.MustParseAddrPort(vl.Addr().String())
	vl.Close()
	dir := t.TempDir()
	marks := filepath.Join(dir, "quorum")
	script := func(word string) *lvs.Script {
		return &lvs.Script{Cmd: word, Argv: []string{"/bin/sh", "-c", "echo " + word + " >> " + marks}}
	}
	const loop, dbr, retry = 600 * time.Millisecond, 300 * time.Millisecond, 1
	rs := func(s *server) *lvs.RealServer {
		return &lvs.RealServer{Addr: s.addr, Weight: 1, Checkers: []*check.Config{{Kind: "TCP_CHECK", Dst: s.addr,
			DelayLoop: loop, DelayBeforeRetry: dbr, Retry: retry, ConnectTimeout: time.Second}}}
	}
	cfg := &lvs.Config{VirtualServers: []*lvs.VirtualServer{{Addr: vip, Proto: lvs.ProtoTCP, Sched: "rr", Quorum: 2,
		QuorumUp: script("up"), QuorumDown: script("down"),
		Sorry:       &lvs.RealServer{Addr: sorry.addr, Weight: 1},
		RealServers: []*lvs.RealServer{rs(a), rs(b)}}}}
	dp := l4.New(t.Logf)
	m := lvs.NewManager(cfg, dp, lvs.Hooks{Logf: t.Logf, Rand: func() float64 { return 0 },
		RunScript: func(s *lvs.Script) { track.Run(context.Background(), s.Argv, track.Cred{}, 5*time.Second) }})
	ctx, cancel := context.WithCancel(context.Background())
	m.Start(ctx)
	defer func() { cancel(); m.Stop() }()

	seen := map[string]int{}
	for i := 0; i < 6; i++ {
		seen[ask(vip)]++
	}
	if seen["a"] != 3 || seen["b"] != 3 {
		t.Fatalf("both real servers in rotation: %v", seen)
	}
	alive := func(addr netip.AddrPort) bool {
		for _, s := range m.Snapshot() {
			if s.RS == lvs.Trio(addr, lvs.ProtoTCP) {
				return s.Alive
			}
		}
		return false
	}
	waitFor := func(what string, cond func() bool, limit time.Duration) time.Duration {
		start := time.Now()
		for !cond() {
			if time.Since(start) > 2*limit {
				t.Fatalf("%s: not after %v", what, time.Since(start))
			}
			time.Sleep(5 * time.Millisecond)
		}
		d := time.Since(start)
		t.Logf("%s after %v (bound %v)", what, d.Round(time.Millisecond), limit)
		if d > limit+limit/10 {
			t.Errorf("%s took %v, more than %v", what, d, limit)
		}
		return d
	}
	// stop a just after one of its checks passed (the worst case)
	a.l.Close()
	waitFor("a leaves the rotation", func() bool { return !alive(a.addr) }, time.Duration(retry+1)*loop)
	for i := 0; i < 3; i++ {
		if got := ask(vip); got != "sorry" {
			t.Errorf("quorum lost: got %q, want the sorry server", got)
		}
	}
	a.start(t)
	defer a.l.Close()
	waitFor("a returns", func() bool { return alive(a.addr) }, loop)
	seen = map[string]int{}
	for i := 0; i < 4; i++ {
		seen[ask(vip)]++
	}
	if seen["a"] != 2 || seen["b"] != 2 {
		t.Errorf("after recovery: %v", seen)
	}
	time.Sleep(200 * time.Millisecond)
	got, _ := os.ReadFile(marks)
	if string(got) != "down\nup\n" {
		t.Errorf("quorum scripts ran %q, want down then up", got)
	}
}
