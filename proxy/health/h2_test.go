package health

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/evloop"
	"halo/proxy/h2"

	"golang.org/x/sys/unix"
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
	g, err := evloop.NewGroup(1)
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	t.Cleanup(g.Stop)
	l := g.Loop(0)
	handler := func(s *h2.Stream) {
		var body []byte
		buf := make([]byte, 4096)
		for {
			n, err := s.Read(buf, 5*time.Second)
			body = append(body, buf[:n]...)
			if err != nil {
				break
			}
		}
		h := &s.Head
		o.mu.Lock()
		o.got = append(o.got, string(h.Method())+" "+string(h.Authority())+" "+string(h.Path())+" "+string(body))
		code := o.code
		o.mu.Unlock()
		s.StartHead(code)
		s.HeadFieldString("x-state", "fine")
		if s.EndHead(false) == nil {
			_, _ = s.WriteEnd([]byte("all good"), 5*time.Second)
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rc, err := c.(*net.TCPConn).SyscallConn()
			if err != nil {
				return
			}
			var fd int
			_ = rc.Control(func(f uintptr) { fd, err = unix.Dup(int(f)) })
			c.Close()
			if err != nil {
				return
			}
			_ = unix.SetNonblock(fd, true)
			l.Post(func() {
				ec, err := l.Register(fd, netip.AddrPort{}, netip.AddrPort{})
				if err != nil {
					unix.Close(fd)
					return
				}
				sv := &h2.Server{}
				sv.Start(ec, nil, nil, &h2.ServerConfig{Settings: h2.DefaultSettings(), Limits: h2.DefaultLimits(), Handler: handler}, nil)
			})
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
