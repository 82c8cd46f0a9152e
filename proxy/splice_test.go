package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestLargeBodySplice: large response bodies between plain sockets move
// with splice(2) (proxy/evloop Splice): a content-length body is
// delivered exactly and the client and server connections stay usable
// for the next request; a body delimited by the server's close ends with
// the connection; a server that closes before the announced length cuts
// the client connection, as HAProxy does.
func TestLargeBodySplice(t *testing.T) {
	const size = 1 << 20
	payload := bytes.Repeat([]byte("abcdefghijklmnop"), size/16)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					switch req.URL.Path {
					case "/cl":
						fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
						c.Write(payload)
					case "/close":
						io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
						c.Write(payload)
						return
					case "/short":
						fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
						c.Write(payload[:size/2])
						return
					}
				}
			}()
		}
	}()
	cfg := httpConfig(testServer("s1", netip.MustParseAddrPort(ln.Addr().String())))
	_, addr := startProxy(t, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i := 0; i < 3; i++ {
		io.WriteString(c, "GET /cl HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || !bytes.Equal(body, payload) {
			t.Fatalf("request %d: %d bytes, %v", i, len(body), err)
		}
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d server connections for 3 keep-alive requests, want 1", n)
	}
	io.WriteString(c, "GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(body, payload) {
		t.Fatalf("until close: %d bytes, %v", len(body), err)
	}

	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c2, "GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
	raw, err := io.ReadAll(c2)
	if err != nil {
		t.Fatal(err)
	}
	head, rest, _ := strings.Cut(string(raw), "\r\n\r\n")
	if !strings.Contains(strings.ToLower(head), "content-length: "+strconv.Itoa(size)) || len(rest) != size/2 {
		t.Fatalf("short body: head %q, %d body bytes, want %d then the close", head, len(rest), size/2)
	}
}
