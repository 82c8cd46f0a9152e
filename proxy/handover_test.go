package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// A reload hands the listening socket over: a connection that arrives
// while no process accepts (the old one stopped, the new one not yet
// serving) waits in the socket's accept queue and is served by the new
// process, instead of being refused.
func TestHandoverKeepsQueuedConnections(t *testing.T) {
	b := newBackend(t, "b", nil)
	old, addr := startProxy(t, httpConfig(testServer("s1", b.addr())))
	socks := old.ExportSockets()
	if len(socks) != 1 {
		t.Fatalf("exported %d sockets, want 1", len(socks))
	}
	old.SoftStop()
	select {
	case <-old.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("old runtime did not stop")
	}

	// Nobody accepts now; the socket lives on in socks.
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("connection refused between the two processes: %v", err)
	}
	defer c.Close()
	io.WriteString(c, "GET /queued HTTP/1.1\r\nHost: a\r\n\r\n")

	cfg := httpConfig(testServer("s1", b.addr()))
	cfg.Proxies[0].Binds[0].Addr = netip.MustParseAddrPort(addr)
	nw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nw.InheritSockets(socks)
	if err := nw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nw.HardStop)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("queued connection lost: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "GET /queued") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

// On a soft stop an idle keep-alive connection is not closed under its
// client (which may be sending a request right then): its next request
// is answered, with "connection: close", and then the connection ends.
func TestSoftStopIdleKeepAliveGetsClose(t *testing.T) {
	b := newBackend(t, "b", nil)
	rt, addr := startProxy(t, httpConfig(testServer("s1", b.addr())))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	resp, _ := roundTrip(t, c, br, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp.Close {
		t.Fatal("first answer closes the connection")
	}
	rt.SoftStop() // the connection is idle between two requests
	time.Sleep(100 * time.Millisecond)
	resp, body := roundTrip(t, c, br, "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp.StatusCode != 200 || !strings.Contains(body, "GET /2") {
		t.Fatalf("second request: %d %q", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Error("the answer after a soft stop does not say connection: close")
	}
	if n, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the close answer: %v %v", n, err)
	}
	select {
	case <-rt.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("runtime did not stop after its last connection")
	}
}
