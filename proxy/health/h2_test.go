package health

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/h2"
)

// h2Origin answers each HTTP/2 request with status and records what it
// got ("METHOD authority path body").
type h2Origin struct {
	mu   sync.Mutex
	got  []string
	code int
}

func (o *h2Origin) serve(t *testing.T) netip.AddrPort {
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
			go h2.NewConn(c, h2.DefaultSettings(), h2.DefaultLimits(), func(s *h2.Stream) {
				body, _ := io.ReadAll(s)
				o.mu.Lock()
				o.got = append(o.got, s.Method+" "+s.Authority+" "+s.Path+" "+string(body))
				code := o.code
				o.mu.Unlock()
				_ = s.WriteHeader(code, []h2.HeaderField{{Name: "x-state", Value: "fine"}}, false)
				_, _ = s.WriteEnd([]byte("all good"))
			}).Serve()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// TestHTTPCheckOverH2: check-proto h2 (or a server's proto h2) carries
// the HTTP check over HTTP/2, as the regtest checks/http-check.vtc does
// against an h2 listener; the expect rules see status, headers and body.
func TestHTTPCheckOverH2(t *testing.T) {
	o := &h2Origin{code: 200}
	addr := o.serve(t)
	run := func(hc *proxy.HealthCheck) Result {
		rs, err := Compile(hc, &acl.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return rs.Run(context.Background(), &Target{Addr: addr, H2: true}, &Env{Proxy: "be", Server: "srv"},
			Timing{Connect: time.Second, Read: time.Second})
	}
	res := run(httpCheck(optionHTTPChk("", "", "")))
	if res.Status != StatusL7OK || res.Code != 200 {
		t.Fatalf("option httpchk over h2: %+v", res)
	}
	res = run(httpCheck(
		proxy.CheckRule{Action: proxy.CheckSendHTTP, Method: "POST", URI: "/health", Version: "HTTP/1.1",
			Headers: [][2]string{{"Host", "www"}}, Body: "ping", HasBody: true},
		proxy.CheckRule{Action: proxy.CheckExpect, Expect: proxy.CheckMatch{Type: "hdr", Name: "x-state", NameMatch: "str",
			HasValue: true, Value: "fine", ValueMatch: "str"}},
		proxy.CheckRule{Action: proxy.CheckExpect, Expect: proxy.CheckMatch{Type: "string", Pattern: "good"}}))
	if res.Status != StatusL7OK {
		t.Fatalf("http-check send/expect over h2: %+v", res)
	}
	o.mu.Lock()
	got := append([]string(nil), o.got...)
	o.code = 503
	o.mu.Unlock()
	want := []string{"OPTIONS  / ", "POST www /health ping"}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("requests seen by the h2 server: %q, want %q", got, want)
	}
	if res = run(httpCheck(optionHTTPChk("GET", "/", "HTTP/1.1"))); res.Status != StatusL7Sts || res.Code != 503 {
		t.Fatalf("a 503 over h2: %+v", res)
	}
}
