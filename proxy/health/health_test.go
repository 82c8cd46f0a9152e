package health

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"halo/proxy/balance"
)

func TestFSM(t *testing.T) {
	// Each step: result, want health after, want up after, want changed.
	type step struct {
		pass    bool
		health  int
		up      bool
		changed bool
	}
	tests := []struct {
		name       string
		rise, fall int
		steps      []step
	}{
		{"dead at start goes down on first failure", 2, 3, []step{{false, 0, false, true}, {false, 0, false, false}}},
		{"rise 2 needs two successes", 2, 3, []step{{false, 0, false, true}, {true, 1, false, false}, {true, 4, true, true}}},
		{"fully up needs fall failures", 2, 3, []step{{true, 4, true, false}, {false, 3, true, false}, {false, 2, true, false}, {false, 0, false, true}}},
		{"a success in between resets", 2, 3, []step{{true, 4, true, false}, {false, 3, true, false}, {true, 4, true, false}, {false, 3, true, false}}},
		{"rise 1 fall 2 (conformance 046/047)", 1, 2, []step{{false, 0, false, true}, {true, 2, true, true}, {false, 1, true, false}, {false, 0, false, true}}},
		{"rise 1 fall 1", 1, 1, []step{{true, 1, true, false}, {false, 0, false, true}, {true, 1, true, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFSM(tc.rise, tc.fall)
			for i, s := range tc.steps {
				ch := f.Report(s.pass)
				if f.Health != s.health || f.Up() != s.up || ch != s.changed {
					t.Fatalf("step %d: health %d up %v changed %v, want %d %v %v", i, f.Health, f.Up(), ch, s.health, s.up, s.changed)
				}
			}
		})
	}
}

func TestIntervals(t *testing.T) {
	iv := Intervals{Inter: 2 * time.Second, FastInter: 500 * time.Millisecond, DownInter: 5 * time.Second}
	tests := []struct {
		name   string
		health int
		want   time.Duration
	}{
		{"fully up", 4, 2 * time.Second},
		{"start (health=rise)", 2, 500 * time.Millisecond},
		{"going down", 3, 500 * time.Millisecond},
		{"going up", 1, 500 * time.Millisecond},
		{"down", 0, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := FSM{Rise: 2, Fall: 3, Health: tc.health}
			if g := f.Next(iv); g != tc.want {
				t.Fatalf("got %v want %v", g, tc.want)
			}
		})
	}
	f := FSM{Rise: 2, Fall: 3, Health: 0}
	if g := f.Next(Intervals{Inter: time.Second}); g != time.Second {
		t.Fatalf("fallback to inter: %v", g)
	}
}

func TestStartDelays(t *testing.T) {
	got := StartDelays([]time.Duration{time.Second, 2 * time.Second})
	if got[0] != 0 || got[1] != 500*time.Millisecond {
		t.Fatalf("got %v", got)
	}
	got = StartDelays([]time.Duration{200 * time.Millisecond, 200 * time.Millisecond})
	if got[0] != 0 || got[1] != 0 {
		t.Fatalf("sub-second: %v", got)
	}
}

// The messages below are copied from haproxy 2.6.12 run in the foreground.
func TestMessages(t *testing.T) {
	refused := Result{Status: StatusL4Con, Info: "Connection refused"}
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"down", DownMessage("nginx", "web1", false, refused, balance.Transition{Active: 1}),
			`Server nginx/web1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"down to backup", DownMessage("nginx", "web1", false, refused, balance.Transition{Backup: 1}),
			`Server nginx/web1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 1 backup servers left. Running on backup. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"backup down", DownMessage("nginx", "web2", true, refused, balance.Transition{}),
			`Backup Server nginx/web2 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"up", UpMessage("nginx", "web1", false, Result{Status: StatusL4OK}, balance.Transition{Active: 2}),
			`Server nginx/web1 is UP, reason: Layer4 check passed, check duration: 0ms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.`},
		{"L7 wrong status", DownMessage("nginx", "web1", false, Result{Status: StatusL7Sts, Code: 404, Info: "File not found", Duration: 3 * time.Millisecond}, balance.Transition{Active: 1}),
			`Server nginx/web1 is DOWN, reason: Layer7 wrong status, code: 404, info: "File not found", check duration: 3ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"L7 content", DownMessage("b2", "web1", false, Result{Status: StatusL7Rsp, Code: 200, Info: "HTTP content check did not match", Duration: time.Millisecond}, balance.Transition{}),
			`Server b2/web1 is DOWN, reason: Layer7 invalid response, info: "HTTP content check did not match", check duration: 1ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"L7 up", UpMessage("c", "w", false, Result{Status: StatusL7OK, Code: 200, Duration: 3 * time.Millisecond}, balance.Transition{Active: 1}),
			`Server c/w is UP, reason: Layer7 check passed, code: 200, check duration: 3ms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.`},
		{"L4 timeout", DownMessage("a", "l4", false, Result{Status: StatusL4Tout, Duration: 505 * time.Millisecond}, balance.Transition{}),
			`Server a/l4 is DOWN, reason: Layer4 timeout, check duration: 505ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"L7 timeout", DownMessage("b", "l7", false, Result{Status: StatusL7Tout, Duration: 513 * time.Millisecond}, balance.Transition{}),
			`Server b/l7 is DOWN, reason: Layer7 timeout, check duration: 513ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"no server", NoServerMessage("nginx"), `backend 'nginx' has no server available!`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", tc.got, tc.want)
			}
		})
	}
	if s := SyslogText(Event{Proxy: "nginx", Alert: true, Severity: SevEmerg, Msg: NoServerMessage("nginx")}); s != "backend nginx has no server available!" {
		t.Fatal(s)
	}
}

// Requests as haproxy 2.6.12 sent them (captured on a raw listener).
func TestHTTPRequest(t *testing.T) {
	tests := []struct {
		name           string
		meth, uri, ver string
		hdrs           [][2]string
		want           string
	}{
		{"option httpchk GET /health", "GET", "/health", "", nil, "GET /health HTTP/1.0\r\n\r\n"},
		{"option httpchk", "", "", "", nil, "OPTIONS / HTTP/1.0\r\n\r\n"},
		{"legacy 1.1 with header", "HEAD", "/x", "HTTP/1.1", [][2]string{{"Host", "foo"}}, "HEAD /x HTTP/1.1\r\nhost: foo\r\nconnection: close\r\n\r\n"},
		{"http-check send", "GET", "/s", "HTTP/1.1", [][2]string{{"Host", "example.com"}, {"X-A", "b"}}, "GET /s HTTP/1.1\r\nhost: example.com\r\nx-a: b\r\nconnection: close\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if g := string(HTTPRequest(tc.meth, tc.uri, tc.ver, tc.hdrs, "")); g != tc.want {
				t.Fatalf("got %q want %q", g, tc.want)
			}
		})
	}
	if g := string(HTTPRequest("POST", "/x", "HTTP/1.1", [][2]string{{"Host", "a"}}, "hello")); g != "POST /x HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello" {
		t.Fatalf("1.1 body: %q", g)
	}
	if g := string(HTTPRequest("POST", "/y", "", nil, "hi")); g != "POST /y HTTP/1.0\r\ncontent-length: 2\r\n\r\nhi" {
		t.Fatalf("1.0 body: %q", g)
	}
	if g := string(HTTPRequest("GET", "/z", "HTTP/1.1", nil, "")); g != "GET /z HTTP/1.1\r\nconnection: close\r\n\r\n" {
		t.Fatalf("1.1 no host: %q", g)
	}
	v, h := SplitLegacyVersion("HTTP/1.1\r\nHost: foo")
	if v != "HTTP/1.1" || len(h) != 1 || h[0] != [2]string{"Host", "foo"} {
		t.Fatalf("%q %v", v, h)
	}
}

// serve answers every connection on a loopback port with resp (or holds it
// open when resp is empty) until the test ends.
func serve(t *testing.T, resp string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				c.Read(buf)
				if resp == "" {
					time.Sleep(time.Second)
					return
				}
				c.Write([]byte(resp))
			}()
		}
	}()
	return ln.Addr().String()
}

func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func TestProbe(t *testing.T) {
	ok := "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	e500 := "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
	req := HTTPRequest("GET", "/health", "", nil, "")
	exp := func(kind, pat string, neg bool) []Expect {
		e, err := CompileExpect(kind, neg, pat)
		if err != nil {
			t.Fatal(err)
		}
		return []Expect{e}
	}
	tests := []struct {
		name   string
		addr   string
		req    []byte
		expect []Expect
		status Status
		code   int
		info   string
	}{
		{"tcp ok", serve(t, ok), nil, nil, StatusL4OK, 0, ""},
		{"tcp refused", deadAddr(t), nil, nil, StatusL4Con, 0, "Connection refused"},
		{"http ok", serve(t, ok), req, nil, StatusL7OK, 200, ""},
		{"http 500 default", serve(t, e500), req, nil, StatusL7Sts, 500, "Internal Server Error"},
		{"expect status 200 vs 500", serve(t, e500), req, exp("status", "200", false), StatusL7Sts, 500, "Internal Server Error"},
		{"expect status range", serve(t, e500), req, exp("status", "200-599", false), StatusL7OK, 500, ""},
		{"expect ! status", serve(t, e500), req, exp("status", "500", true), StatusL7Sts, 500, "Internal Server Error"},
		{"expect rstatus", serve(t, ok), req, exp("rstatus", "^2", false), StatusL7OK, 200, ""},
		{"expect string", serve(t, ok), req, exp("string", "ell", false), StatusL7OK, 200, ""},
		{"expect string miss", serve(t, ok), req, exp("string", "nomatch", false), StatusL7Rsp, 200, "HTTP content check did not match"},
		{"expect rstring", serve(t, ok), req, exp("rstring", "h.l+o", false), StatusL7OK, 200, ""},
		{"not http", serve(t, "SSH-2.0-x\r\n"), req, nil, StatusL7Rsp, 0, "Invalid HTTP response"},
		{"http timeout", serve(t, ""), req, nil, StatusL7Tout, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Probe{Addr: tc.addr, Request: tc.req, Expect: tc.expect, ConnectTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond}
			r := p.Run(context.Background())
			if r.Status != tc.status || r.Code != tc.code || r.Info != tc.info {
				t.Fatalf("got %v/%d/%q want %v/%d/%q", r.Status.Code(), r.Code, r.Info, tc.status.Code(), tc.code, tc.info)
			}
		})
	}
}

// TestCheckerDrivesServer: a checker against a dead port takes the server
// out after its first check, logs HAProxy's words, and brings it back.
func TestCheckerDrivesServer(t *testing.T) {
	be, err := balance.New(balance.Config{Name: "app"}, []balance.ServerConfig{{Name: "s1", Weight: 1}, {Name: "s2", Weight: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var events []Event
	sink := func(e Event) { events = append(events, e) }
	cfg := Config{Proxy: "app", Server: "s2", Rise: 1, Fall: 2, Intervals: Intervals{Inter: 50 * time.Millisecond},
		Probe: Probe{Addr: deadAddr(t), ConnectTimeout: 100 * time.Millisecond}}
	c := New(cfg, be.Server("s2"), sink)
	c.Apply(cfg.Probe.Run(context.Background()))
	if be.Server("s2").Usable() {
		t.Fatal("s2 still usable")
	}
	if len(events) != 1 || !strings.HasPrefix(events[0].Msg, "Server app/s2 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\"") || events[0].Severity != SevAlert {
		t.Fatalf("events %+v", events)
	}
	if st := be.Server("s2").Stats(); st.Status != "DOWN" || st.Check.Status != "L4CON" || st.DownTrans != 1 {
		t.Fatalf("stats %+v", st)
	}
	c.Apply(Result{Status: StatusL4OK})
	if !be.Server("s2").Usable() || len(events) != 2 || !strings.Contains(events[1].Msg, "is UP") {
		t.Fatalf("not back up: %+v", events)
	}
	// The last server going down raises the backend alert.
	be.Server("s1").SetState(balance.StateStopped)
	c.Apply(Result{Status: StatusL4Con, Info: "Connection refused"})
	c.Apply(Result{Status: StatusL4Con, Info: "Connection refused"})
	last := events[len(events)-1]
	if last.Msg != "backend 'app' has no server available!" || !last.Alert || last.Severity != SevEmerg {
		t.Fatalf("last event %+v", last)
	}
}

func TestRunLoop(t *testing.T) {
	be, _ := balance.New(balance.Config{Name: "app"}, []balance.ServerConfig{{Name: "s1", Weight: 1}})
	addr := deadAddr(t)
	ch := make(chan Event, 4)
	cfg := Config{Proxy: "app", Server: "s1", Rise: 1, Fall: 2, Intervals: Intervals{Inter: 20 * time.Millisecond},
		Probe: Probe{Addr: addr, ConnectTimeout: 100 * time.Millisecond}}
	c := New(cfg, be.Server("s1"), func(e Event) { ch <- e })
	stop := Start(context.Background(), []*Checker{c})
	defer stop()
	select {
	case e := <-ch:
		if !strings.Contains(e.Msg, "is DOWN") {
			t.Fatal(e.Msg)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no down event")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skip("port reused:", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for {
		select {
		case e := <-ch:
			if strings.Contains(e.Msg, "is UP") {
				return
			}
		case <-time.After(2 * time.Second):
			t.Fatal("no up event")
		}
	}
}

// FuzzJudge feeds arbitrary server answers to the response parser and the
// expect rules: it must classify every input without panicking.
func FuzzJudge(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\nbody"), "200-299", "b.dy")
	f.Add([]byte("HTTP/1.0 99"), "x", "(")
	f.Add([]byte(""), "", "")
	f.Fuzz(func(t *testing.T, resp []byte, status, re string) {
		p := Probe{}
		if e, err := CompileExpect("status", false, status); err == nil {
			p.Expect = append(p.Expect, e)
		}
		if e, err := CompileExpect("rstring", true, re); err == nil {
			p.Expect = append(p.Expect, e)
		}
		r := p.judge(resp)
		if r.Status != StatusL7OK && r.Status != StatusL7Sts && r.Status != StatusL7Rsp {
			t.Fatalf("status %v", r.Status)
		}
		complete(resp, true)
		complete(resp, false)
	})
}

// Check timeouts as measured on haproxy 2.6.12 against a server that
// accepts and never answers (connect, check, inter → check duration).
func TestTimeouts(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name                  string
		connect, check, inter time.Duration
		want                  time.Duration
	}{
		{"no timeout check: inter", time.Second, 0, 3 * time.Second, 3 * time.Second},
		{"no timeout check, short inter", time.Second, 0, 500 * ms, 500 * ms},
		{"check 200ms inter 500ms", time.Second, 200 * ms, 500 * ms, 500 * ms},
		{"check 200ms inter 3s", time.Second, 200 * ms, 3 * time.Second, time.Second},
		{"check 300ms inter 3s connect 5s", 5 * time.Second, 300 * ms, 3 * time.Second, time.Second},
		{"check 3s inter 1s", 2 * time.Second, 3 * time.Second, time.Second, 3 * time.Second},
		{"check 2s inter 1s connect 300ms", 300 * ms, 2 * time.Second, time.Second, 2 * time.Second},
		{"check 300ms no connect inter 500ms", 0, 300 * ms, 500 * ms, 500 * ms},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, r := Timeouts(tc.inter, tc.connect, tc.check); r != tc.want {
				t.Fatalf("got %v want %v", r, tc.want)
			}
		})
	}
}

// http-check disable-on-404, as haproxy 2.6.12 logs it: a 404 stops the
// server at once ("is stopping"), a 200 brings it back ("is UP"), and the
// last server stopping raises the backend alert.
func TestDisableOn404(t *testing.T) {
	be, _ := balance.New(balance.Config{Name: "a"}, []balance.ServerConfig{{Name: "r", Weight: 1}})
	var events []Event
	c := New(Config{Proxy: "a", Server: "r", Rise: 2, Fall: 2, Intervals: Intervals{Inter: time.Second}}, be.Server("r"), func(e Event) { events = append(events, e) })
	p := Probe{DisableOn404: true}
	r := p.judge([]byte("HTTP/1.0 404 Not Found\r\n\r\n"))
	if r.Status != StatusL7OKC || r.Code != 404 || r.Info != "" {
		t.Fatalf("judge %+v", r)
	}
	c.Apply(r)
	if st := be.Server("r").Stats(); st.State != balance.StateStopping || st.Status != "NOLB" {
		t.Fatalf("state %+v", st)
	}
	want := "Server a/r is stopping, reason: Layer7 check conditionally passed, code: 404, check duration: 0ms. 0 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
	if len(events) != 2 || events[0].Msg != want || events[1].Msg != "backend 'a' has no server available!" {
		t.Fatalf("events %+v", events)
	}
	c.Apply(Result{Status: StatusL7OK, Code: 200})
	if !be.Server("r").Usable() || events[2].Msg != "Server a/r is UP, reason: Layer7 check passed, code: 200, check duration: 0ms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue." {
		t.Fatalf("back up: %+v", events)
	}
}

// Checks of `ssl` servers run over TLS: a connect check passes at layer 6,
// an HTTP check inside TLS at layer 7; TLS towards a plain server fails as
// haproxy 2.6.12 reports it ("Layer6 invalid response", "SSL handshake
// failure").
func TestTLSProbe(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer ts.Close()
	tlsAddr := strings.TrimPrefix(ts.URL, "https://")
	plain := serve(t, "HTTP/1.0 200 OK\r\n\r\n")
	cfg := &tls.Config{InsecureSkipVerify: true}
	tests := []struct {
		name   string
		addr   string
		req    []byte
		status Status
		info   string
	}{
		{"connect check over TLS", tlsAddr, nil, StatusL6OK, ""},
		{"httpchk over TLS", tlsAddr, HTTPRequest("GET", "/", "", nil, ""), StatusL7OK, ""},
		{"TLS to a plain server", plain, HTTPRequest("GET", "/", "", nil, ""), StatusL6Rsp, "SSL handshake failure"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Probe{Addr: tc.addr, Request: tc.req, TLS: cfg, ConnectTimeout: time.Second, ReadTimeout: time.Second}
			r := p.Run(context.Background())
			if r.Status != tc.status || r.Info != tc.info {
				t.Fatalf("got %s %q want %s %q", r.Status.Code(), r.Info, tc.status.Code(), tc.info)
			}
		})
	}
	if m := UpMessage("a", "t", false, Result{Status: StatusL6OK}, balance.Transition{Active: 1}); !strings.Contains(m, "reason: Layer6 check passed, check duration: 0ms.") {
		t.Fatal(m)
	}
}
