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

// namedOrigin answers every request with its name; requests for /slow
// wait until gate is closed.
type namedOrigin struct {
	ln   net.Listener
	gate chan struct{}
	hits atomic.Int64
}

func newNamedOrigin(t *testing.T, name string) *namedOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &namedOrigin{ln: ln, gate: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					o.hits.Add(1)
					if req.URL.Path == "/slow" {
						<-o.gate
					}
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(name), name)
				}
			}()
		}
	}()
	return o
}

// get sends one request on a new connection and returns the answering
// server's name ("" and the error on failure).
func get(addr, path string) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), nil
}

// TestDynamicServerUnderLoad: a server added and enabled on the runtime
// API while clients keep sending takes traffic at once (round robin over
// two servers: one of the next two requests), no request fails meanwhile;
// once in maintenance it is deleted and gets nothing more.
func TestDynamicServerUnderLoad(t *testing.T) {
	s1, d1 := newNamedOrigin(t, "s1"), newNamedOrigin(t, "d1")
	sock := filepath.Join(t.TempDir(), "s.sock")
	addr := freeAddr(t)
	runEngine(t, `
global
    stats socket `+sock+` level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind `+addr+`
    default_backend be
backend be
    balance roundrobin
    server s1 `+s1.ln.Addr().String()+`
`)
	cli := func(cmd string) string { return mcli(t, sock, cmd+"\n") }

	// background load: 4 clients in a loop until stop
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, failed atomic.Int64
	var firstErr atomic.Value
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				if _, err := get(addr, "/"); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (d1 took %d requests)", what, d1.hits.Load())
			}
		}
	}
	waitFor("load", func() bool { return s1.hits.Load() > 20 })

	if got := cli("add server be/d1 " + d1.ln.Addr().String()); got != "New server registered.\n\n" {
		t.Fatalf("add server: %q", got)
	}
	// in maintenance until enabled, as in HAProxy
	time.Sleep(20 * time.Millisecond)
	if n := d1.hits.Load(); n != 0 {
		t.Fatalf("a server added in maintenance took %d requests", n)
	}
	if got := cli("enable server be/d1"); got != "\n" {
		t.Fatalf("enable server: %q", got)
	}
	// within one request: of the next two (round robin, equal weights),
	// one goes to d1 — whatever the load did in between, d1 is in the tree.
	seen := map[string]bool{}
	for i := 0; i < 2; i++ {
		name, err := get(addr, "/")
		if err != nil {
			t.Fatal(err)
		}
		seen[name] = true
	}
	if !seen["d1"] && d1.hits.Load() == 0 {
		t.Fatalf("the added server took no request (saw %v)", seen)
	}
	waitFor("d1 traffic under load", func() bool { return d1.hits.Load() > 20 })
	close(stop)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed under load, first: %v", n, sent.Load(), firstErr.Load())
	}
	t.Logf("%d requests under load, none failed", sent.Load())

	if got := cli("disable server be/d1"); got != "\n" {
		t.Fatalf("disable server: %q", got)
	}
	// the last sessions of the load may still be closing: del server
	// refuses until they are gone, as HAProxy's
	waitFor("d1 drained", func() bool { return strings.Contains(cli("show stat"), "be,d1,0,0,0,") })
	if got := cli("del server be/d1"); got != "Server deleted.\n" {
		t.Fatalf("del server: %q", got)
	}
	before := d1.hits.Load()
	for i := 0; i < 10; i++ {
		if name, err := get(addr, "/"); err != nil || name != "s1" {
			t.Fatalf("after del server: %q %v", name, err)
		}
	}
	if d1.hits.Load() != before {
		t.Errorf("the deleted server took %d more requests", d1.hits.Load()-before)
	}
	if strings.Contains(cli("show servers state be"), " d1 ") {
		t.Error("show servers state still lists the deleted server")
	}
}

// TestDelServerDrains: `del server` refuses while a request is in flight
// on the server (in maintenance already), the request completes, then the
// deletion succeeds.
func TestDelServerDrains(t *testing.T) {
	s1, d1 := newNamedOrigin(t, "s1"), newNamedOrigin(t, "d1")
	sock := filepath.Join(t.TempDir(), "s.sock")
	addr := freeAddr(t)
	runEngine(t, `
global
    stats socket `+sock+` level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind `+addr+`
    default_backend be
backend be
    balance roundrobin
    server s1 `+s1.ln.Addr().String()+`
`)
	cli := func(cmd string) string { return mcli(t, sock, cmd+"\n") }
	if got := cli("add server be/d1 " + d1.ln.Addr().String() + ";enable server be/d1"); got != "New server registered.\n\n\n" {
		t.Fatalf("add and enable server: %q", got)
	}
	close(s1.gate) // only d1 holds /slow
	slow := make(chan error, 1)
	go func() {
		// /slow requests go to either server; only d1 holds them
		for {
			name, err := get(addr, "/slow")
			if err != nil || name == "d1" {
				slow <- err
				return
			}
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		st := cli("show stat")
		if strings.Contains(st, "be,d1,0,0,1,") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no request held on d1:\n%q %q", st, cli("show servers state"))
		}
	}
	if got := cli("disable server be/d1"); got != "\n" {
		t.Fatalf("disable server: %q", got)
	}
	if got := cli("del server be/d1"); got != "Server still has connections attached to it, cannot remove it.\n" {
		t.Fatalf("del server with a request in flight: %q", got)
	}
	close(d1.gate)
	if err := <-slow; err != nil {
		t.Fatalf("the request in flight on the drained server failed: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(cli("show stat"), "be,d1,0,0,0,"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("d1 keeps its session after the answer")
		}
	}
	if got := cli("del server be/d1"); got != "Server deleted.\n" {
		t.Fatalf("del server: %q", got)
	}
	if name, err := get(addr, "/"); err != nil || name != "s1" {
		t.Fatalf("after del server: %q %v", name, err)
	}
}
