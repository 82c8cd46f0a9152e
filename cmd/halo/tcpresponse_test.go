package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// tcpOrigin answers each connection, once it has read the client's first
// bytes, with the next of msgs, then closes after a while.
func tcpOrigin(t *testing.T, msgs []string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for _, m := range msgs {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn, m string) {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 100)
				if _, err := c.Read(buf); err != nil {
					return
				}
				io.WriteString(c, m)
				time.Sleep(300 * time.Millisecond)
			}(c, m)
		}
	}()
	return ln.Addr().String()
}

// TestTCPResponseRulesAsHAProxy replays what HAProxy 2.6.12 did on this
// box with the same configurations: in mode tcp, tcp-response content
// rules wait for the server's first bytes (the client's bytes reaching
// the server meanwhile, or it would never answer), see them through
// res.len and res.payload, and a reject closes the client's connection
// without forwarding them (logged PD, the bytes read counted); in mode
// http a reject closes without an answer (-1 PD--) and close answers 502
// (SH--), the rules' variables set before the HTTP analysers.
func TestTCPResponseRulesAsHAProxy(t *testing.T) {
	msgs := []string{"OK hello", "NO hello", "O"}
	origin := tcpOrigin(t, msgs)
	logAddr, lines := logSink(t)
	fe, fe2 := freeAddr(t), freeAddr(t)
	httpOrigin := cannedOrigin(t, map[string]string{
		"/": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "/rej": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"/close": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	})
	rt := runEngine(t, fmt.Sprintf(`
defaults
  timeout connect 1s
  timeout client 5s
  timeout server 5s
  log %s format raw local0
frontend fe
  mode tcp
  bind %s
  log-format "%%b/%%s %%ts %%[var(txn.l)] %%B %%U"
  default_backend be
backend be
  mode tcp
  tcp-response inspect-delay 2s
  tcp-response content set-var(txn.l) res.len
  tcp-response content accept if { res.payload(0,2) -m bin 4f4b }
  tcp-response content reject if { res.len gt 0 }
  server s1 %s
frontend fe2
  mode http
  bind %s
  log-format "%%b/%%s %%ST %%tsc %%[var(txn.x)] %%B"
  default_backend be2
backend be2
  mode http
  http-request set-var(txn.r) path
  tcp-response content set-var(txn.x) res.len
  tcp-response content reject if { var(txn.r) -m str /rej }
  tcp-response content close if { var(txn.r) -m str /close }
  server s1 %s
`, logAddr, fe, origin, fe2, httpOrigin))
	wait := func() {
		for deadline := time.Now().Add(2 * time.Second); rt.ActConn.Load() != 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	logLine := func(what string) string {
		select {
		case l := <-lines:
			return l
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no log line", what)
		}
		return ""
	}
	for i, tc := range []struct{ got, log string }{
		{"OK hello", "be/s1 -- 8 8 5"},
		{"", "be/s1 PD 8 8 5"},
		{"", "be/s1 PD 1 1 5"},
	} {
		wait()
		c, err := net.Dial("tcp", fe)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "ping\n")
		b, _ := io.ReadAll(c)
		c.Close()
		if l := logLine(msgs[i]); string(b) != tc.got || l != tc.log {
			t.Errorf("server says %q: client got %q, log %q; haproxy: %q, %q", msgs[i], b, l, tc.got, tc.log)
		}
	}
	for _, tc := range []struct{ path, status, log string }{
		{"/", "HTTP/1.1 200 OK", "be2/s1 200 ---- 0 54"}, // 54: the head as HAProxy counts it (TestLogLinesAsHAProxy) and the body
		{"/rej", "", "be2/s1 -1 PD-- 0 0"},
		{"/close", "HTTP/1.1 502 Bad Gateway", "be2/s1 502 SH-- 0 209"},
	} {
		wait()
		c, err := net.Dial("tcp", fe2)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", tc.path)
		b, _ := io.ReadAll(c)
		c.Close()
		status, _, _ := strings.Cut(string(b), "\r\n")
		if l := logLine(tc.path); status != tc.status || l != tc.log {
			t.Errorf("%s: got %q, log %q; haproxy: %q, %q", tc.path, status, l, tc.status, tc.log)
		}
	}
}
