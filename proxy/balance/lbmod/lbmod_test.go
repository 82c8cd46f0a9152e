package lbmod

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"halo/proxy"
	"halo/proxy/balance"
	"halo/proxy/health"
)

// origin is a test backend (net/http is fine here: it is not the proxy's
// data path) that names itself in every answer.
type origin struct {
	name string
	ln   net.Listener
	srv  *http.Server
}

func newOrigin(t *testing.T, name string, delay time.Duration) *origin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &origin{name: name, ln: ln}
	o.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if delay > 0 {
			time.Sleep(delay)
		}
		w.Header().Set("X-Backend", name)
		io.WriteString(w, name)
	})}
	go o.srv.Serve(ln)
	t.Cleanup(func() { o.srv.Close() })
	return o
}

func (o *origin) addr() netip.AddrPort { return netip.MustParseAddrPort(o.ln.Addr().String()) }

// kill closes the listener and every connection: a crash.
func (o *origin) kill() { o.srv.Close() }

func freePort(t *testing.T) uint16 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

func server(name string, ap netip.AddrPort) *proxy.Server {
	return &proxy.Server{Name: name, Addr: ap.Addr(), Port: int(ap.Port()), Weight: 1, Resolved: true,
		Inter: 2 * time.Second, Rise: 2, Fall: 3}
}

func start(t *testing.T, be *proxy.Proxy) (*proxy.Runtime, string) {
	t.Helper()
	fe := &proxy.Proxy{Name: "fe", Cap: proxy.CapFE, Mode: be.Mode, DefaultBackend: be,
		Binds:    []proxy.Bind{{Network: "tcp", Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freePort(t))}},
		Timeouts: proxy.Timeouts{Client: 5 * time.Second, HTTPRequest: 2 * time.Second}}
	for i, s := range be.Servers {
		s.ID = i + 1
	}
	rt, err := proxy.New(&proxy.Config{Proxies: []*proxy.Proxy{fe, be}}, New().Module())
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.HardStop)
	return rt, fe.Binds[0].Addr.String()
}

// get sends one request on a fresh connection; it returns the backend
// name, or "503"-like status text, or "err:…".
func get(addr, path string) string {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "err:dial"
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "err:" + err.Error()
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Sprint(resp.StatusCode)
	}
	return resp.Header.Get("X-Backend")
}

type outcome struct {
	at  time.Duration
	got string
}

// TestKillBackendUnderLoad: with checks (inter 100ms, fall 2), retries and
// redispatch, killing a backend under steady load moves all traffic to the
// other one within inter×fall, and no request fails: those that hit the
// dead server are retried and redispatched.
func TestKillBackendUnderLoad(t *testing.T) {
	s1, s2 := newOrigin(t, "s1", 0), newOrigin(t, "s2", 0)
	const inter, fall = 100 * time.Millisecond, 2
	srvs := []*proxy.Server{server("s1", s1.addr()), server("s2", s2.addr())}
	for _, s := range srvs {
		s.Check, s.Inter, s.Fall, s.Rise = true, inter, fall, 1
	}
	be := &proxy.Proxy{Name: "app", Cap: proxy.CapBE, Mode: proxy.ModeHTTP, Servers: srvs, Retries: 3, Redispatch: true,
		Timeouts: proxy.Timeouts{Connect: 100 * time.Millisecond, Server: 5 * time.Second}}
	rt, addr := start(t, be)
	pk := rt.Backends[0].Picker.(*Picker)

	var mu sync.Mutex
	var res []outcome
	t0 := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const clients = 4
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				g := get(addr, "/")
				mu.Lock()
				res = append(res, outcome{time.Since(t0), g})
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(400 * time.Millisecond)
	killAt := time.Since(t0)
	s2.kill()
	// Observe when the checks take s2 out.
	var downAt time.Duration
	var failedAtDown uint64
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if !pk.Balance().Server("s2").Usable() {
			downAt = time.Since(t0)
			failedAtDown = pk.Balance().Server("s2").Stats().FailedChecks
			break
		}
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	if downAt == 0 {
		t.Fatal("s2 never marked down")
	}
	// A fully-up server goes down at its fall-th failed check, the checks
	// one inter apart, the first within one inter of the kill: within
	// inter×fall (measured ~105-190 ms). The wall-clock bound is loose
	// because a loaded machine delays goroutines.
	if failedAtDown < fall { // (FSM tests pin "exactly at the fall-th")
		t.Fatalf("s2 marked down after %d failed checks, want fall = %d", failedAtDown, fall)
	}
	if d := downAt - killAt; d > inter*fall+time.Second {
		t.Fatalf("s2 marked down %v after the kill, want within inter×fall = %v", d, inter*fall)
	}
	var before, after, failed, lateS2 int
	for _, o := range res {
		switch {
		case !strings.HasPrefix(o.got, "s"):
			failed++
			t.Logf("failed at %v: %s", o.at, o.got)
		case o.at < killAt:
			before++
		case o.at > downAt+50*time.Millisecond && o.got == "s2":
			lateS2++
		default:
			after++
		}
	}
	t.Logf("kill at %v, down after %v; %d answers before, %d after, %d failed", killAt, downAt-killAt, before, after, failed)
	if before < 10 || after < 10 {
		t.Fatalf("too little traffic: %d before, %d after", before, after)
	}
	if lateS2 > 0 {
		t.Fatalf("%d answers from s2 after it was marked down", lateS2)
	}
	// Only requests in flight on s2 at the kill may be lost (at most one
	// per client); everything else is retried and redispatched.
	if failed > clients {
		t.Fatalf("%d requests failed, at most %d were in flight", failed, clients)
	}
	if st := pk.Balance().Server("s2").Stats(); st.Status != "DOWN" || st.Check.Status != "L4CON" {
		t.Fatalf("s2 stats %+v", st)
	}
	if rt.Backends[0].Servers()[1].Status() != proxy.SrvDown {
		t.Fatal("engine view of s2 not DOWN")
	}
}

// TestQueueTimeout503: maxconn 1 with a slow server queues the second
// request; `timeout queue` expiring answers 503, as HAProxy does.
func TestQueueTimeout503(t *testing.T) {
	slow := newOrigin(t, "s1", 600*time.Millisecond)
	srv := server("s1", slow.addr())
	srv.Maxconn = 1
	be := &proxy.Proxy{Name: "app", Cap: proxy.CapBE, Mode: proxy.ModeHTTP, Servers: []*proxy.Server{srv}, Retries: 3,
		Timeouts: proxy.Timeouts{Connect: time.Second, Queue: 200 * time.Millisecond, Server: 5 * time.Second}}
	rt, addr := start(t, be)
	first := make(chan string)
	go func() { first <- get(addr, "/") }()
	// Wait until the first request holds the only slot.
	bal := rt.Backends[0].Picker.(*Picker).Balance()
	for deadline := time.Now().Add(2 * time.Second); bal.Stats().Cur != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("first request never reached the server")
		}
	}
	t0 := time.Now()
	if g := get(addr, "/"); g != "503" {
		t.Fatalf("queued request got %s", g)
	}
	if el := time.Since(t0); el < 180*time.Millisecond || el > time.Second {
		t.Fatalf("503 after %v, want ~200ms", el)
	}
	if g := <-first; g != "s1" {
		t.Fatalf("first request got %s", g)
	}

}

// TestRuntimeAPIState: a status set on the engine's ServerState (as the
// runtime API does) is the balance state at once, before any pick: the
// state has one owner.
func TestRuntimeAPIState(t *testing.T) {
	s1, s2 := newOrigin(t, "s1", 0), newOrigin(t, "s2", 0)
	be := &proxy.Proxy{Name: "app", Cap: proxy.CapBE, Mode: proxy.ModeHTTP,
		Servers: []*proxy.Server{server("s1", s1.addr()), server("s2", s2.addr())}, Retries: 3,
		Timeouts: proxy.Timeouts{Connect: time.Second, Server: 5 * time.Second}}
	rt, addr := start(t, be)
	var mu sync.Mutex
	var events []health.Event
	pk := rt.Backends[0].Picker.(*Picker)
	pk.mu.Lock()
	pk.sink = func(e health.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
	pk.mu.Unlock()
	ss2 := rt.Backends[0].Servers()[1]
	ss2.SetAdmin(proxy.AdminMaint)
	if bs := pk.Balance().Server("s2"); bs.Usable() || ss2.Status() != proxy.SrvMaint {
		t.Fatalf("after disable, before any pick: balance usable %v, engine status %v", bs.Usable(), ss2.Status())
	}
	for i := range 4 {
		if g := get(addr, "/"); g != "s1" {
			t.Fatalf("request %d went to %s with s2 in maintenance", i, g)
		}
	}
	mu.Lock()
	if len(events) != 1 || !strings.HasPrefix(events[0].Msg, "Server app/s2 is going DOWN for maintenance.") {
		t.Fatalf("events %+v", events)
	}
	mu.Unlock()
	ss2.SetAdmin(proxy.AdminReady)
	if bs := pk.Balance().Server("s2"); !bs.Usable() || ss2.Status() != proxy.SrvUp {
		t.Fatalf("after ready, before any pick: balance usable %v, engine status %v", bs.Usable(), ss2.Status())
	}
	seen := map[string]bool{}
	for range 4 {
		seen[get(addr, "/")] = true
	}
	if !seen["s1"] || !seen["s2"] {
		t.Fatalf("after ready: %v", seen)
	}
	if err := ss2.SetWeight(0); err != nil || ss2.Weight() != 0 {
		t.Fatalf("set weight 0: %v, weight %d", err, ss2.Weight())
	}
	for range 4 {
		if g := get(addr, "/"); g != "s1" {
			t.Fatalf("weight 0 server picked: %s", g)
		}
	}
}

func TestConfigConversion(t *testing.T) {
	tests := []struct {
		name      string
		bal       proxy.Balance
		avalanche bool
		fn        string
	}{
		{"consistent alone means sdbm+avalanche", proxy.Balance{Algo: proxy.BalanceURI, HashType: proxy.HashConsistent}, true, ""},
		{"consistent with a function", proxy.Balance{Algo: proxy.BalanceURI, HashType: proxy.HashConsistent, HashFunction: "sdbm"}, false, "sdbm"},
		{"consistent djb2 avalanche", proxy.Balance{Algo: proxy.BalanceURI, HashType: proxy.HashConsistent, HashFunction: "djb2", Avalanche: true}, true, "djb2"},
		{"map-based stays raw", proxy.Balance{Algo: proxy.BalanceSource}, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := Config(&proxy.Proxy{Name: "b", Balance: tc.bal})
			if c.Avalanche != tc.avalanche {
				t.Fatalf("avalanche %v", c.Avalanche)
			}
			if tc.fn == "djb2" && c.Func != balance.HashDJB2 {
				t.Fatalf("func %v", c.Func)
			}
		})
	}
}

// TestShutdownSessionsOnMarkedDown: in TCP mode, a server whose listener
// dies (established connections stay open) is marked down by its checks;
// with `on-marked-down shutdown-sessions` its sessions are killed, without
// it they survive.
func TestShutdownSessionsOnMarkedDown(t *testing.T) {
	for _, kill := range []bool{true, false} {
		t.Run(fmt.Sprint("shutdown-sessions=", kill), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var held sync.WaitGroup
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					held.Add(1)
					go func() { // echo
						defer held.Done()
						io.Copy(c, c)
						c.Close()
					}()
				}
			}()
			srv := server("s1", netip.MustParseAddrPort(ln.Addr().String()))
			srv.Check, srv.Inter, srv.Rise, srv.Fall = true, 50*time.Millisecond, 1, 1
			if kill {
				srv.OnMarkedDown = "shutdown-sessions"
			}
			be := &proxy.Proxy{Name: "app", Cap: proxy.CapBE, Mode: proxy.ModeTCP, Servers: []*proxy.Server{srv}, Retries: 1,
				Timeouts: proxy.Timeouts{Connect: time.Second, Server: 10 * time.Second}}
			_, addr := start(t, be)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			io.WriteString(c, "ping\n")
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if l, err := br.ReadString('\n'); err != nil || l != "ping\n" {
				t.Fatalf("echo: %q %v", l, err)
			}
			ln.Close() // checks now fail; the session's connection stays
			time.Sleep(400 * time.Millisecond)
			io.WriteString(c, "again\n")
			c.SetReadDeadline(time.Now().Add(time.Second))
			l, err := br.ReadString('\n')
			if kill && err == nil {
				t.Fatalf("session survived: %q", l)
			}
			if !kill && (err != nil || l != "again\n") {
				t.Fatalf("session killed without shutdown-sessions: %q %v", l, err)
			}
		})
	}
}

// The engine-facing Pick/Release allocates nothing either.
func TestPickNoAlloc(t *testing.T) {
	a := netip.MustParseAddrPort("127.0.0.1:1")
	be := &proxy.Proxy{Name: "app", Cap: proxy.CapBE, Mode: proxy.ModeHTTP,
		Servers: []*proxy.Server{server("s1", a), server("s2", a)}, Balance: proxy.Balance{Algo: proxy.BalanceSource}}
	// A runtime that is built but not started: no other goroutine
	// allocates while AllocsPerRun counts.
	fe := &proxy.Proxy{Name: "fe", Cap: proxy.CapFE, Mode: proxy.ModeHTTP, DefaultBackend: be}
	rt, err := proxy.New(&proxy.Config{Proxies: []*proxy.Proxy{fe, be}}, New().Module())
	if err != nil {
		t.Fatal(err)
	}
	pk := rt.Backends[0].Picker
	k := &proxy.PickKey{Src: netip.MustParseAddrPort("10.0.0.1:5000")}
	n := testing.AllocsPerRun(200, func() {
		ss, err := pk.Pick(k)
		if err != nil {
			t.Fatal(err)
		}
		pk.Release(ss)
	})
	if n != 0 {
		t.Fatalf("%v allocations per pick/release", n)
	}
}

// url_param finds the parameter in a urlencoded POST body too, as haproxy
// 2.6.12 does (same server as the query-string form of the same value).
func TestURLParamPostBody(t *testing.T) {
	o1, o2, o3 := newOrigin(t, "s1", 0), newOrigin(t, "s2", 0), newOrigin(t, "s3", 0)
	be := &proxy.Proxy{Name: "app", Cap: proxy.CapBE, Mode: proxy.ModeHTTP, Retries: 3,
		Servers:  []*proxy.Server{server("s1", o1.addr()), server("s2", o2.addr()), server("s3", o3.addr())},
		Balance:  proxy.Balance{Algo: proxy.BalanceURLParam, Param: "id"},
		Timeouts: proxy.Timeouts{Connect: time.Second, Server: 5 * time.Second}}
	_, addr := start(t, be)
	post := func(body string) string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Backend")
	}
	// Recorded from haproxy (conformance case 008): alice→s3, carol→s2, dave→s1.
	for name, want := range map[string]string{"alice": "s3", "carol": "s2", "dave": "s1"} {
		if g := post("id=" + name); g != want {
			t.Fatalf("POST id=%s went to %s, want %s", name, g, want)
		}
		if g := get(addr, "/x?id="+name); g != want {
			t.Fatalf("GET id=%s went to %s, want %s", name, g, want)
		}
	}
}

// option redispatch in a round-robin farm: a refused connection goes to
// another server at once, without the turn-around delay (HAProxy's
// stream_choose_redispatch); with a hash algorithm the retries stay on the
// same server, each after min(1s, timeout connect), and the last one is
// redispatched — to the same server again, since map-based hashing does
// not avoid it: haproxy 2.6.12 answers 503 there too.
func TestRedispatchTiming(t *testing.T) {
	o1, o3 := newOrigin(t, "s1", 0), newOrigin(t, "s3", 0)
	dead := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freePort(t))
	for _, tc := range []struct {
		name    string
		algo    proxy.BalanceAlgo
		maxWait time.Duration
		minWait time.Duration
	}{
		// timeout connect 500ms: three waiting retries take 1.5s, far from
		// "at once" even on a loaded machine.
		{"roundrobin redispatches at once", proxy.BalanceRoundRobin, time.Second, 0},
		{"uri retries the same server, waiting", proxy.BalanceURI, 4 * time.Second, 1200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := &proxy.Proxy{Name: "app", Cap: proxy.CapBE, Mode: proxy.ModeHTTP, Retries: 3, Redispatch: true,
				Servers:  []*proxy.Server{server("s1", o1.addr()), server("s2", dead), server("s3", o3.addr())},
				Balance:  proxy.Balance{Algo: tc.algo},
				Timeouts: proxy.Timeouts{Connect: 500 * time.Millisecond, Server: 5 * time.Second}}
			_, addr := start(t, be)
			slowest := time.Duration(0)
			for i := range 6 {
				t0 := time.Now()
				g := get(addr, fmt.Sprintf("/k%d", i))
				if g != "s1" && g != "s3" && !(g == "503" && tc.algo == proxy.BalanceURI) {
					t.Fatalf("request %d: %s", i, g)
				}
				slowest = max(slowest, time.Since(t0))
			}
			if slowest > tc.maxWait || slowest < tc.minWait {
				t.Fatalf("slowest answer %v, want within [%v, %v]", slowest, tc.minWait, tc.maxWait)
			}
		})
	}
}

// Take applies maxconn to a server chosen by persistence: the second
// stream waits for the slot, and Release hands it over.
func TestTakePersistentServer(t *testing.T) {
	a := netip.MustParseAddrPort("127.0.0.1:1")
	s1 := server("s1", a)
	s1.Maxconn = 1
	be := &proxy.Proxy{Name: "app", Cap: proxy.CapBE, Mode: proxy.ModeHTTP, Servers: []*proxy.Server{s1, server("s2", a)},
		Timeouts: proxy.Timeouts{Queue: time.Second}}
	fe := &proxy.Proxy{Name: "fe", Cap: proxy.CapFE, Mode: proxy.ModeHTTP, DefaultBackend: be}
	rt, err := proxy.New(&proxy.Config{Proxies: []*proxy.Proxy{fe, be}}, New().Module())
	if err != nil {
		t.Fatal(err)
	}
	pk := rt.Backends[0].Picker
	ss1 := rt.Backends[0].Servers()[0]
	first, err := pk.Take(ss1, &proxy.PickKey{})
	if err != nil || first != ss1 {
		t.Fatalf("reserve: %v %v", first, err)
	}
	got := make(chan *proxy.ServerState)
	go func() {
		s, err := pk.Take(ss1, &proxy.PickKey{Deadline: time.Now().Add(time.Second)})
		if err != nil {
			t.Error(err)
		}
		got <- s
	}()
	bal := pk.(*Picker).Balance()
	for deadline := time.Now().Add(2 * time.Second); bal.Server("s1").Stats().Queue != 1; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("second stream not queued")
		}
	}
	pk.Release(first)
	if s := <-got; s != ss1 {
		t.Fatalf("queued stream got %v", s)
	}
	if n := ss1.Counters.CurConns.Load(); n != 1 {
		t.Fatalf("curconns %d", n)
	}
	if _, err := pk.Take(ss1, &proxy.PickKey{Deadline: time.Now().Add(50 * time.Millisecond)}); err != proxy.ErrQueueTimeout {
		t.Fatalf("full server: %v", err)
	}
}

// TestRuntimeAPIMessages: the state changes of `set server … health|state`,
// `disable|enable server` print and log what HAProxy 2.6.12 did for the
// same commands on the same two unchecked servers (stderr level, syslog
// priority with facility local0, syslog text), recorded in
// testdata/runtime_api_messages.golden.
func TestRuntimeAPIMessages(t *testing.T) {
	a := netip.MustParseAddrPort("127.0.0.1:1")
	be := &proxy.Proxy{Name: "be", Cap: proxy.CapBE, Mode: proxy.ModeHTTP, Servers: []*proxy.Server{server("s1", a), server("s2", a)}}
	rt, err := proxy.New(&proxy.Config{Proxies: []*proxy.Proxy{be}}, New().Module())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	rt.Backends[0].Picker.(*Picker).sink = func(e health.Event) {
		tag := "[WARNING]"
		if e.Alert {
			tag = "[ALERT]"
		}
		got = append(got, fmt.Sprintf("%s %d %s", tag, 128+int(e.Severity), health.SyslogText(e)))
	}
	s1, s2 := rt.Backends[0].Servers()[0], rt.Backends[0].Servers()[1]
	s2.SetHealth(proxy.SrvDown)
	s2.SetHealth(proxy.SrvUp)
	s2.SetHealth(proxy.SrvNoLB)
	s2.SetHealth(proxy.SrvUp)
	s2.SetAdmin(proxy.AdminDrain)
	s2.SetAdmin(proxy.AdminReady)
	s2.SetAdmin(proxy.AdminMaint)
	s2.SetAdmin(proxy.AdminDrain)
	s2.SetAdmin(proxy.AdminReady)
	s2.SetHealth(proxy.SrvDown)
	s2.SetAdmin(proxy.AdminMaint)
	s2.SetAdmin(proxy.AdminReady)
	s1.SetAdmin(proxy.AdminMaint)
	s2.SetAdmin(proxy.AdminMaint)
	s1.SetAdmin(proxy.AdminReady)
	want, err := os.ReadFile("testdata/runtime_api_messages.golden")
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(got, "\n") + "\n"; g != string(want) {
		t.Errorf("messages differ from HAProxy's:\n--- got\n%s--- want\n%s", g, want)
	}
}

// Leaving maintenance, a checked server is up (health at rise) and is
// checked at once, as HAProxy ("UP/READY (leaving forced maintenance)",
// then the check's verdict): a dead server is DOWN again long before its
// 10 s down interval.
func TestLeavingMaintenanceChecksAtOnce(t *testing.T) {
	dead := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freePort(t))
	s := server("s1", dead)
	s.Check, s.Inter, s.DownInter = true, 100*time.Millisecond, 10*time.Second
	be := &proxy.Proxy{Name: "app", Cap: proxy.CapBE, Mode: proxy.ModeHTTP, Servers: []*proxy.Server{s},
		Timeouts: proxy.Timeouts{Connect: time.Second}}
	rt, _ := start(t, be)
	ss := rt.Backends[0].Servers()[0]
	waitStatus := func(want proxy.ServerStatus, within time.Duration) {
		t.Helper()
		for deadline := time.Now().Add(within); ss.Status() != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("status %v, want %v within %v", ss.Status(), want, within)
			}
		}
	}
	waitStatus(proxy.SrvDown, 3*time.Second)
	ss.SetAdmin(proxy.AdminMaint)
	ss.SetAdmin(proxy.AdminReady)
	if ss.Status() != proxy.SrvUp {
		t.Fatalf("after enable: %v, haproxy: UP/READY", ss.Status())
	}
	waitStatus(proxy.SrvDown, 2*time.Second)
}
