package rules

import (
	"net"
	"testing"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/http1"
)

// TestRunDoesNotAllocate runs a typical rule list over the engine's
// message type: header rewrites with log-format values, a non-matching
// deny and redirect. After warm-up the per-request path must not allocate.
func TestRunDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	o := &acl.Options{}
	env := &Env{ACL: acl.NewCompiler(o), Opts: o, Proxy: &proxy.Proxy{Name: "fe"}}
	isAdmin := &proxy.Cond{Or: [][]proxy.CondTerm{{{ACL: &proxy.ACL{Criteria: []*proxy.Criterion{{Fetch: "path", Match: "beg", Values: []string{"/admin"}}}}}}}}
	list, err := CompileHTTP([]*proxy.HTTPRule{
		{Action: "set-header", Args: []string{"X-Path", "%[path]"}},
		{Action: "set-header", Args: []string{"X-Client", "%[src]"}},
		{Action: "add-header", Args: []string{"X-Combined", "%[method] %[req.hdr(host),lower]"}},
		{Action: "del-header", Args: []string{"X-Secret"}},
		{Action: "deny", Cond: isAdmin},
		{Action: "redirect", Args: []string{"location", "/x"}, Cond: isAdmin},
	}, false, env)
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte("GET /a/b?q=1 HTTP/1.1\r\nHost: Example.COM\r\nX-Secret: s\r\nAccept: */*\r\n\r\n")
	var msg http1.Message
	tx := &proxy.Txn{Req: &msg}
	st := &txnState{}
	run := func() {
		msg.Reset()
		if err := http1.ParseRequest(&msg, raw, len(raw)); err != nil {
			t.Fatal(err)
		}
		st.v.bind(tx)
		st.Reset(&st.v)
		if r := Run(list, &st.State, false, proxy.DefaultErrorPage); r.Outcome != Next {
			t.Fatalf("outcome %v", r.Outcome)
		}
	}
	run()
	if v, _ := msg.Get("x-combined"); string(v) != "GET example.com" {
		t.Fatalf("x-combined = %q", v)
	}
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("rules allocate %v times per request", n)
	}
}

// TestRequestHookDoesNotAllocate drives the module's Request and Log hooks
// the way the engine does for a keep-alive request: frontend rules,
// use_backend, then the backend stage with cookie persistence.
func TestRequestHookDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	be := &proxy.Proxy{Name: "app", ID: 2, Cap: proxy.CapBE, Mode: proxy.ModeHTTP,
		Cookie:  &proxy.CookieConfig{Name: "SRV", Mode: "insert", Indirect: true},
		Servers: []*proxy.Server{{Name: "s1", ID: 1, Cookie: "s1", Weight: 1, Resolved: true}}}
	isAPI := &proxy.Cond{Or: [][]proxy.CondTerm{{{ACL: &proxy.ACL{Criteria: []*proxy.Criterion{{Fetch: "path", Match: "beg", Values: []string{"/api"}}}}}}}}
	fe := &proxy.Proxy{Name: "fe", ID: 1, Cap: proxy.CapFE, Mode: proxy.ModeHTTP,
		UseBackends: []proxy.UseBackend{{Backend: be, Cond: isAPI}},
		HTTPRequest: []*proxy.HTTPRule{{Action: "set-header", Args: []string{"X-Fwd-Path", "%[path]"}}},
		// a log line per request, sent over UDP
		LogFormat: "httplog"}
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	fe.Logs = []proxy.LogTarget{{Address: sink.LocalAddr().String(), Facility: "local0"}}
	rt, err := proxy.New(&proxy.Config{Proxies: []*proxy.Proxy{fe, be}})
	if err != nil {
		t.Fatal(err)
	}
	l := New()
	if err := l.Init(rt); err != nil {
		t.Fatal(err)
	}
	raw := []byte("GET /api/x HTTP/1.1\r\nHost: h\r\nCookie: a=1; SRV=s1\r\n\r\n")
	var msg http1.Message
	tx := &proxy.Txn{Frontend: rt.Frontends[0], Req: &msg, ReqLine: []byte("GET /api/x HTTP/1.1")}
	run := func() {
		msg.Reset()
		if err := http1.ParseRequest(&msg, raw, len(raw)); err != nil {
			t.Fatal(err)
		}
		tx.Backend, tx.Server = nil, nil
		if v := l.Request(tx, fe); v != proxy.Continue {
			t.Fatalf("frontend verdict %v", v)
		}
		if tx.Backend == nil || tx.Backend.Proxy != be {
			t.Fatal("use_backend not applied")
		}
		if v := l.Request(tx, be); v != proxy.Continue || tx.Server == nil {
			t.Fatalf("backend verdict %v, server %v", v, tx.Server)
		}
		tx.Server.Counters.CurConns.Add(-1)
		l.Log(tx)
	}
	run()
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("request hooks allocate %v times per request", n)
	}
}
