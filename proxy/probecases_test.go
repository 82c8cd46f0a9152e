package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawEcho is an origin that answers each request with "seen:<request
// line> body=<body>" (content-length framed bodies only), so a test sees
// exactly what the proxy forwarded.
func rawEcho(t *testing.T) netip.AddrPort {
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
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					cl := 0
					for {
						h, err := br.ReadString('\n')
						if err != nil {
							return
						}
						if h == "\r\n" {
							break
						}
						if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, "content-length") {
							cl, _ = strconv.Atoi(strings.TrimSpace(v))
						}
					}
					body := make([]byte, cl)
					if _, err := io.ReadFull(br, body); err != nil {
						return
					}
					r := "seen:" + strings.TrimRight(line, "\r\n") + " body=" + string(body)
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(r), r)
				}
			}(c)
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// TestRequestEdgeCasesAsHAProxy sends requests whose handling differs
// between proxies and compares the bytes the client gets with what
// HAProxy 2.6.12 answered on the same origin (recorded on this box).
func TestRequestEdgeCasesAsHAProxy(t *testing.T) {
	const bad400 = "HTTP/1.1 400 Bad request\r\nContent-length: 90\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"
	ok := func(seen string) string {
		return fmt.Sprintf("HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s", len(seen), seen)
	}
	cases := []struct {
		name, req, want string
		closed          bool // the proxy closes after answering
	}{
		{"HTTP/1.1 without Host is forwarded", "GET / HTTP/1.1\r\n\r\n", ok("seen:GET / HTTP/1.1 body="), false},
		{"two different Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", bad400, true},
		{"content-length with transfer-encoding identity", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nTransfer-Encoding: identity\r\n\r\n", bad400, true},
		{"pipelined requests answered in order", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
			ok("seen:GET / HTTP/1.1 body=") + ok("seen:GET /2 HTTP/1.1 body="), false},
		{"absolute URI naming another host", "GET http://b/x HTTP/1.1\r\nHost: a\r\n\r\n", bad400, true},
		{"CONNECT is forwarded", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", ok("seen:CONNECT a:443 HTTP/1.1 body="), false},
		{"content-length with leading zeros", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 00003\r\n\r\nabc", ok("seen:GET / HTTP/1.1 body=abc"), false},
	}
	_, addr := startProxy(t, httpConfig(testServer("s1", rawEcho(t))))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, tc.req); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(tc.want))
			n, err := io.ReadFull(c, got)
			if err != nil || !bytes.Equal(got, []byte(tc.want)) {
				t.Fatalf("got %q (%v), want %q", got[:n], err, tc.want)
			}
			if tc.closed {
				if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
					t.Errorf("connection still open after the error (%d, %v)", n, err)
				}
			}
		})
	}
}
