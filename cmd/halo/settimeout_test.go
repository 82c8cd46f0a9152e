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

// TestSetTimeoutServerApplies: `http-request set-timeout server` replaces
// the backend's server timeout for the stream, as HAProxy 2.6 does: an
// origin that never answers gets the 504 after the rule's 300ms, not the
// backend's 30s (the regtest http-set-timeout/set_timeout checks the
// cur_server_timeout values), and a header-given value is read in
// milliseconds.
func TestSetTimeoutServerApplies(t *testing.T) {
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
			go func() { // reads, never answers
				defer c.Close()
				io.Copy(io.Discard, c)
			}()
		}
	}()
	fe := freeAddr(t)
	runEngine(t, fmt.Sprintf(`
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
frontend fe
  bind %s
  default_backend be
backend be
  http-request set-timeout server 300ms if { path /fixed }
  http-request set-timeout server req.hdr(x-to) if { req.hdr(x-to) -m found }
  server s1 %s
`, fe, ln.Addr()))
	for _, hdr := range []string{"GET /fixed HTTP/1.1\r\nHost: x\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\nx-to: 300\r\n\r\n"} {
		c, err := net.Dial("tcp", fe)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		start := time.Now()
		io.WriteString(c, hdr)
		status, _ := bufio.NewReader(c).ReadString('\n')
		status = strings.TrimRight(status, "\r\n")
		c.Close()
		if status != "HTTP/1.1 504 Gateway Time-out" || time.Since(start) > 15*time.Second {
			t.Errorf("%q: %q after %v, want the 504 after about 300ms", strings.SplitN(hdr, "\r", 2)[0], status, time.Since(start))
		}
	}
}
