package proxy

import (
	"bytes"
	"net/netip"
	"regexp"
	"strconv"
	"testing"
	"time"

	"halo/internal/wirecase"
)

// TestRecorded replays the recorded wire cases (testdata/recorded: request
// smuggling shapes, framing and error answers recorded from haproxy 2.6)
// against the engine, built here as wirecase.DefaultConfig describes it.
// cmd/halo replays the same cases end to end against the binary.
func TestRecorded(t *testing.T) {
	names, cases := wirecase.Load(t, "../testdata/recorded")
	for _, name := range names {
		c := cases[name]
		if c.Config != "" {
			continue // a configuration of its own: replayed by cmd/halo only
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := c.Want(t)
			wirecase.Compare(t, c, want, wirecase.Run(t, c, startDefaultConfig))
		})
	}
}

// startDefaultConfig runs wirecase.DefaultConfig: one frontend denying
// /admin (as `http-request deny if { path_beg /admin }`), one server (the
// port the case substituted), the frontend on a port the kernel picks.
func startDefaultConfig(t testing.TB, cfg string) (string, func()) {
	m := regexp.MustCompile(`server s1 127\.0\.0\.1:(\d+)`).FindStringSubmatch(cfg)
	if m == nil {
		t.Fatalf("not the default configuration:\n%s", cfg)
	}
	bePort, _ := strconv.Atoi(m[1])
	lo := netip.MustParseAddr("127.0.0.1")
	be := &Proxy{Name: "be", Cap: CapBE, Mode: ModeHTTP, Retries: 3,
		Servers:  []*Server{{Name: "s1", Addr: lo, Port: bePort, Weight: 1, Resolved: true}},
		Timeouts: Timeouts{Connect: time.Second, Client: 2 * time.Second, Server: 2 * time.Second, HTTPRequest: time.Second, HTTPKeepAlive: 200 * time.Millisecond}}
	fe := &Proxy{Name: "fe", Cap: CapFE, Mode: ModeHTTP, DefaultBackend: be,
		Binds:    []Bind{{Network: "tcp", Addr: netip.AddrPortFrom(lo, 0)}},
		Timeouts: be.Timeouts}
	deny := Module{Name: "deny /admin", Request: func(tx *Txn, px *Proxy) Verdict {
		if px == fe && bytes.HasPrefix(tx.Req.Path(), []byte("/admin")) {
			tx.SetReply(tx.ErrorPage(403), false)
			return Replied
		}
		return Continue
	}}
	rt, err := New(&Config{Global: Global{TuneBufsize: 16384}, Proxies: []*Proxy{fe, be}}, deny)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	return rt.listeners[0].el.Local().String(), rt.HardStop
}
