package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// checkedOrigin is an HTTP server that counts the health checks it gets
// (requests on /chk) and answers everything else with its name.
type checkedOrigin struct {
	name   string
	ln     net.Listener
	checks atomic.Int64
	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

func newCheckedOrigin(t *testing.T, name string) *checkedOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &checkedOrigin{name: name, ln: ln, conns: map[net.Conn]bool{}}
	t.Cleanup(o.kill)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			o.mu.Lock()
			if o.closed {
				o.mu.Unlock()
				c.Close()
				return
			}
			o.conns[c] = true
			o.mu.Unlock()
			go o.serve(c)
		}
	}()
	return o
}

func (o *checkedOrigin) serve(c net.Conn) {
	defer func() {
		o.mu.Lock()
		delete(o.conns, c)
		o.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		if req.URL.Path == "/chk" {
			o.checks.Add(1)
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(o.name), o.name)
		if req.Close || req.ProtoMinor == 0 {
			return
		}
	}
}

// kill closes the listener and every connection: the server is gone.
func (o *checkedOrigin) kill() {
	o.mu.Lock()
	o.closed = true
	for c := range o.conns {
		c.Close()
	}
	o.mu.Unlock()
	o.ln.Close()
}

func cli(t *testing.T, sock, cmd string) string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "%s\n", cmd)
	b, _ := io.ReadAll(c)
	return string(b)
}

func statusOf(t *testing.T, sock, srv string) string {
	for _, line := range strings.Split(cli(t, sock, "show stat"), "\n") {
		f := strings.Split(line, ",")
		if len(f) > 36 && f[1] == srv {
			return f[17] + " " + f[36]
		}
	}
	return ""
}

// TestChecksGoOnAfterMaintenance is the defect of issue 8 §4: after
// `disable server`, one request and `enable server`, checks must resume
// (on their schedule, as HAProxy), so that a server that then dies is
// marked DOWN within its fall checks and clients are not sent to it.
func TestChecksGoOnAfterMaintenance(t *testing.T) {
	s1, s2 := newCheckedOrigin(t, "s1"), newCheckedOrigin(t, "s2")
	sock := filepath.Join(t.TempDir(), "admin.sock")
	fe := freeAddr(t)
	runEngine(t, fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode http
    timeout connect 1s
    timeout client 2s
    timeout server 2s
frontend fe
    bind %s
    default_backend be
backend be
    option httpchk GET /chk
    server s1 %s check inter 100ms fall 2
    server s2 %s check inter 100ms fall 2
`, sock, fe, s1.ln.Addr(), s2.ln.Addr()))
	get := func() string {
		c := http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + fe + "/")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	time.Sleep(300 * time.Millisecond)
	cli(t, sock, "disable server be/s2")
	if got := get(); got != "200 s1" {
		t.Fatalf("request while s2 is in maintenance: %s", got)
	}
	cli(t, sock, "enable server be/s2")
	before := s2.checks.Load()
	time.Sleep(500 * time.Millisecond)
	if n := s2.checks.Load() - before; n < 2 {
		t.Fatalf("%d checks reached s2 in the 500ms after enable server (inter 100ms)", n)
	}
	s2.kill()
	deadline := time.Now().Add(2 * time.Second)
	for statusOf(t, sock, "s2") != "DOWN L4CON" {
		if time.Now().After(deadline) {
			t.Fatalf("s2 not DOWN 2s after it died: %q", statusOf(t, sock, "s2"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; i < 6; i++ {
		if got := get(); got != "200 s1" {
			t.Fatalf("request %d after s2 was marked down: %s", i, got)
		}
	}
}
