package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// namingOrigin answers every request with its name and the Cookie header
// it received ("s1 c=…"), so a test sees both the server chosen and what
// persistence left of the cookie.
func namingOrigin(t *testing.T, name string) string {
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
				c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				cookie := ""
				for {
					l, err := br.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
					if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "cookie") {
						cookie = strings.TrimSpace(v)
					}
				}
				body := name + " c=" + cookie
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestUseServerAndPersistRulesAsHAProxy replays what HAProxy 2.6.12 did on
// this box with the same configuration and requests: use-server before
// cookie persistence (the cookie then logged 'U' and still stripped in
// indirect mode), a stopped server skipped for the next rule unless
// force-persist matched, a log-format name naming no server ending the
// rules, ignore-persist leaving the cookie unused and inserting none, the
// first matching persist rule winning, and no Set-Cookie inserted when
// persistence chose the server (SF_DIRECT).
func TestUseServerAndPersistRulesAsHAProxy(t *testing.T) {
	s1, s2, s3 := namingOrigin(t, "s1"), namingOrigin(t, "s2"), namingOrigin(t, "s3")
	logAddr, lines := logSink(t)
	fe := freeAddr(t)
	rt := runEngine(t, fmt.Sprintf(`
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
  log %s format raw local0
frontend fe
  bind %s
  log-format "%%b/%%s %%tsc %%ST"
  default_backend be
backend be
  cookie SRV insert indirect nocache
  use-server s2 if { req.hdr(x-srv) s2 }
  use-server s3 if { req.hdr(x-srv) s3 }
  use-server s2 if { req.hdr(x-srv) s3 }
  use-server %%[req.hdr(x-dyn)] if { req.hdr(x-dyn) -m found }
  force-persist if { req.hdr(x-force) 1 }
  ignore-persist if { req.hdr(x-ign) 1 }
  server s1 %s cookie c1
  server s2 %s cookie c2
  server s3 %s cookie c3 disabled
`, logAddr, fe, s1, s2, s3))
	for _, tc := range []struct {
		hdrs      string
		body, set string // the origin's answer; the Set-Cookie inserted
		log       string
	}{
		{"Cookie: SRV=c1\r\nx-srv: s2\r\n", "s2 c=", "", "be/s2 --UN 200"},
		{"Cookie: SRV=c3\r\n", "s1 c=", "SRV=c1; path=/", "be/s1 --DI 200"},
		{"Cookie: SRV=c3\r\nx-force: 1\r\n", "s3 c=", "", "be/s3 --DN 200"},
		{"x-srv: s3\r\n", "s2 c=", "", "be/s2 --NN 200"},
		{"x-srv: s3\r\nx-force: 1\r\n", "s3 c=", "", "be/s3 --NN 200"},
		{"Cookie: SRV=c1; a=b\r\nx-ign: 1\r\n", "s2 c=a=b", "", "be/s2 --UN 200"},
		{"x-ign: 1\r\n", "s1 c=", "", "be/s1 --NN 200"},
		{"x-srv: s2\r\n", "s2 c=", "", "be/s2 --NN 200"},
		{"x-dyn: s1\r\n", "s1 c=", "", "be/s1 --NN 200"},
		{"x-dyn: nope\r\n", "s2 c=", "SRV=c2; path=/", "be/s2 --NI 200"},
		{"x-dyn: s3\r\nx-force: 1\r\n", "s3 c=", "", "be/s3 --NN 200"},
		{"Cookie: SRV=zz\r\nx-ign: 1\r\n", "s1 c=", "", "be/s1 --UN 200"},
		{"Cookie: SRV=c2\r\nx-ign: 1\r\nx-force: 1\r\n", "s2 c=", "", "be/s2 --VN 200"},
	} {
		for deadline := time.Now().Add(2 * time.Second); rt.ActConn.Load() != 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		c, err := net.Dial("tcp", fe)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", tc.hdrs)
		b, _ := io.ReadAll(c)
		c.Close()
		head, body, _ := strings.Cut(string(b), "\r\n\r\n")
		set := ""
		for _, l := range strings.Split(head, "\r\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "set-cookie") {
				set = strings.TrimSpace(v)
			}
		}
		var l string
		select {
		case l = <-lines:
		case <-time.After(5 * time.Second):
			t.Fatalf("%q: no log line", tc.hdrs)
		}
		if body != tc.body || set != tc.set || l != tc.log {
			t.Errorf("%q:\n got  %q set-cookie %q log %q\n want %q set-cookie %q log %q (haproxy)", tc.hdrs, body, set, l, tc.body, tc.set, tc.log)
		}
	}
}
