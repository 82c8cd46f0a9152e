package rules_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/rules"
	"halo/proxy/stats"
)

// freeAddr returns a loopback address nothing listens on right now, for a
// bind the engine opens itself.
func freeAddr(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// echo starts an HTTP server on an ephemeral port that answers
// "name cookie=<Cookie>".
func echo(t *testing.T, name string) *proxy.Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s cookie=%s", name, r.Header.Get("Cookie"))
		if uid := r.Header.Get("X-Unique-ID"); uid != "" {
			fmt.Fprintf(w, " uid=%s", uid)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &proxy.Server{Name: name, ID: 1, Addr: netip.MustParseAddr("127.0.0.1"), Port: port, Weight: 1,
		Cookie: name, Resolved: true, Rise: 2, Fall: 3}
}

func get(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, raw)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func crit(fetch string, args []string, vals ...string) *proxy.Cond {
	return &proxy.Cond{Or: [][]proxy.CondTerm{{{ACL: &proxy.ACL{Criteria: []*proxy.Criterion{
		{Fetch: fetch, FetchArgs: args, Values: vals, Match: "str"}}}}}}}
}

// TestModuleEndToEnd runs the module inside the real engine: dynamic
// use_backend, cookie persistence, deny, monitor-uri, stats page and the
// log line.
func TestModuleEndToEnd(t *testing.T) {
	logs, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	bind := freeAddr(t)
	to := proxy.Timeouts{Connect: time.Second, Server: 5 * time.Second, Client: 5 * time.Second}
	ba := &proxy.Proxy{Name: "b_a", ID: 2, Cap: proxy.CapBE, Mode: proxy.ModeHTTP, Timeouts: to,
		Servers: []*proxy.Server{echo(t, "sa")},
		Cookie:  &proxy.CookieConfig{Name: "SRV", Mode: "insert", Indirect: true}}
	bb := &proxy.Proxy{Name: "b_b", ID: 3, Cap: proxy.CapBE, Mode: proxy.ModeHTTP, Timeouts: to,
		Servers: []*proxy.Server{echo(t, "sb")}}
	fe := &proxy.Proxy{Name: "fe", ID: 1, Cap: proxy.CapFE, Mode: proxy.ModeHTTP, Timeouts: to,
		Binds:          []proxy.Bind{{Network: "tcp", Addr: bind}},
		DefaultBackend: bb,
		UseBackends:    []proxy.UseBackend{{Dynamic: "b_%[req.hdr(host),lower,word(1,.)]"}},
		HTTPRequest:    []*proxy.HTTPRule{{Action: "deny", Cond: crit("path", nil, "/admin")}},
		Redirects:      []*proxy.HTTPRule{{Action: "redirect", Args: []string{"location", "/x"}, Cond: crit("path", nil, "/r")}},
		MonitorURI:     "/health",
		Stats:          &proxy.StatsPage{URI: "/st", Admin: &proxy.Cond{Or: [][]proxy.CondTerm{{{ACL: &proxy.ACL{Name: "TRUE"}}}}}},
		Logs:           []proxy.LogTarget{{Address: logs.LocalAddr().String(), Facility: "local0"}},
		LogFormat:      "httplog",
		UniqueIDFormat: "%[req.hdr(host)]_%rt",
		UniqueIDHeader: "X-Unique-ID",
	}
	cfg := &proxy.Config{Global: proxy.Global{Maxconn: 100}, Proxies: []*proxy.Proxy{fe, ba, bb}}
	hub := stats.NewHub(nil)
	l7 := rules.New()
	l7.StatsPage = func(rt *proxy.Runtime, px *proxy.Proxy, cp *acl.Compiler) (rules.StatsPage, error) {
		return hub.Page(rt, px, cp)
	}
	rt, err := proxy.New(cfg, l7.Module())
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	defer rt.HardStop()
	addr := bind.String()

	resp, body := get(t, addr, "GET / HTTP/1.1\r\nHost: A.example.com\r\n\r\n")
	if !strings.HasPrefix(body, "sa ") || resp.Header.Get("Set-Cookie") != "SRV=sa; path=/" {
		t.Errorf("dynamic use_backend + insert: %q %v", body, resp.Header)
	}
	_, body = get(t, addr, "GET / HTTP/1.1\r\nHost: a.example.com\r\nCookie: x=1; SRV=sa\r\n\r\n")
	if body != "sa cookie=x=1 uid=a.example.com_1" {
		t.Errorf("indirect cookie not stripped: %q", body)
	}
	_, body = get(t, addr, "GET / HTTP/1.1\r\nHost: nosuch.example.com\r\n\r\n")
	if !strings.HasPrefix(body, "sb ") {
		t.Errorf("unknown dynamic backend must fall back to default: %q", body)
	}
	resp, _ = get(t, addr, "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp.StatusCode != 403 {
		t.Errorf("deny: %d", resp.StatusCode)
	}
	// HAProxy closes after a redirect when the request has a body, but
	// not after a deny whose request body was fully received.
	resp, _ = get(t, addr, "POST /r HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
	if resp.StatusCode != 302 || !resp.Close {
		t.Errorf("redirect with a body: %d close=%v", resp.StatusCode, resp.Close)
	}
	resp, _ = get(t, addr, "POST /admin HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
	if resp.StatusCode != 403 || resp.Close {
		t.Errorf("deny with a received body: %d close=%v", resp.StatusCode, resp.Close)
	}
	resp, body = get(t, addr, "GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp.StatusCode != 200 || !strings.Contains(body, "Service ready.") {
		t.Errorf("monitor-uri: %d %q", resp.StatusCode, body)
	}
	resp, body = get(t, addr, "GET /st;csv HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "# pxname,svname,") || !strings.Contains(body, "\nb_a,sa,") {
		t.Errorf("stats csv: %d %q", resp.StatusCode, body)
	}
	// stats admin: a form POST puts a server in maintenance and redirects.
	resp, _ = get(t, addr, "POST /st HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 26\r\n\r\ns=sa&action=maint&b=%23202")
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/st;st=ERRP" {
		t.Errorf("admin POST with an unknown backend id: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = get(t, addr, "POST /st HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 24\r\n\r\ns=sa&action=maint&b=%232")
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/st;st=DONE" {
		t.Errorf("admin POST: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if st := rt.BackendByName("b_a").Servers()[0].Status(); st != proxy.SrvMaint {
		t.Errorf("server status after maint: %v", st)
	}
	_, body = get(t, addr, "GET /st;st=DONE HTTP/1.1\r\nHost: a\r\n\r\n")
	if !strings.Contains(body, "Action processed successfully.") || !strings.Contains(body, `<input class='b_a-checkbox' type="checkbox" name="s" value="sa">`) {
		t.Errorf("stats page after the action lacks the message or the admin form")
	}
	// One of the log lines is the first request's (lines of concurrent
	// connections may arrive in any order).
	var lines []string
	buf := make([]byte, 2048)
	for len(lines) < 8 {
		logs.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := logs.ReadFrom(buf)
		if err != nil {
			break
		}
		lines = append(lines, string(buf[:n]))
	}
	found := false
	for _, line := range lines {
		ok := true
		for _, want := range []string{"<134>", " fe b_a/sa ", " 200 ", " - - --NI ", `"GET / HTTP/1.1"`} {
			ok = ok && strings.Contains(line, want)
		}
		found = found || ok
	}
	if !found {
		t.Errorf("no log line for the first request among:\n%s", strings.Join(lines, "\n"))
	}
}

// TestTCPRequestRules: tcp-request connection rules close connections
// from a source before any byte is read; content rules (HTTP mode) close
// the connection without an answer.
func TestTCPRequestRules(t *testing.T) {
	bind := freeAddr(t)
	to := proxy.Timeouts{Connect: time.Second, Server: 5 * time.Second, Client: 5 * time.Second}
	be := &proxy.Proxy{Name: "be", ID: 2, Cap: proxy.CapBE, Mode: proxy.ModeHTTP, Timeouts: to,
		Servers: []*proxy.Server{echo(t, "s")}}
	srcIs := func(ip string) *proxy.Cond {
		return &proxy.Cond{Or: [][]proxy.CondTerm{{{ACL: &proxy.ACL{Criteria: []*proxy.Criterion{
			{Fetch: "src", Match: "ip", Values: []string{ip}}}}}}}}
	}
	fe := &proxy.Proxy{Name: "fe", ID: 1, Cap: proxy.CapFE, Mode: proxy.ModeHTTP, Timeouts: to,
		Binds:          []proxy.Bind{{Network: "tcp", Addr: bind}},
		DefaultBackend: be,
		TCPRequest: []*proxy.TCPRule{
			{Stage: "connection", Action: "reject", Cond: srcIs("127.0.0.2")},
			{Stage: "content", Action: "accept", Cond: crit("path", nil, "/vip")},
			{Stage: "content", Action: "reject", Cond: crit("req.hdr", []string{"x-block"}, "1")},
		},
	}
	rt, err := proxy.New(&proxy.Config{Proxies: []*proxy.Proxy{fe, be}}, rules.New().Module())
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	defer rt.HardStop()
	closed := func(src, raw string) bool {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", bind.String())
		if err != nil {
			return true
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(c, raw)
		b, _ := io.ReadAll(c)
		return len(b) == 0
	}
	if !closed("127.0.0.2", "GET / HTTP/1.0\r\n\r\n") {
		t.Error("connection from 127.0.0.2 must be rejected")
	}
	if closed("127.0.0.1", "GET / HTTP/1.0\r\n\r\n") {
		t.Error("connection from 127.0.0.1 must be served")
	}
	if !closed("127.0.0.1", "GET / HTTP/1.0\r\nX-Block: 1\r\n\r\n") {
		t.Error("content reject must close without an answer")
	}
	if closed("127.0.0.1", "GET /vip HTTP/1.0\r\nX-Block: 1\r\n\r\n") {
		t.Error("content accept must stop the rules before the reject")
	}
}
