package l4

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"halo/lvs"
)

// backend answers each TCP connection with its name and echoes a line.
func backend(t *testing.T, name string) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, name+"\n")
				line, _ := bufio.NewReader(c).ReadString('\n')
				io.WriteString(c, "echo "+line)
			}()
		}
	}()
	return netip.MustParseAddrPort(l.Addr().String())
}

func freePort(t *testing.T, network string) netip.AddrPort {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return netip.MustParseAddrPort(c.LocalAddr().String())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return netip.MustParseAddrPort(l.Addr().String())
}

func ask(t *testing.T, vip netip.AddrPort) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", vip.String(), 2*time.Second)
	if errors.Is(err, syscall.ECONNRESET) {
		// the forwarder resets a connection it has no server for; on
		// loopback the reset can beat connect(2)'s return
		return "none"
	}
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	r := bufio.NewReader(c)
	name, err := r.ReadString('\n')
	if err != nil {
		return "none"
	}
	io.WriteString(c, "hi\n")
	echo, _ := r.ReadString('\n')
	if echo != "echo hi\n" {
		t.Errorf("echo %q", echo)
	}
	return strings.TrimSpace(name)
}

func TestTCPForwarding(t *testing.T) {
	a, b := backend(t, "a"), backend(t, "b")
	p := New(t.Logf)
	defer p.Close()
	s := &lvs.Service{Addr: freePort(t, "tcp"), Proto: lvs.ProtoTCP, Sched: "rr"}
	if err := p.AddService(s); err != nil {
		t.Fatal(err)
	}
	p.AddDest(s, lvs.Dest{Addr: a, Weight: 1})
	p.AddDest(s, lvs.Dest{Addr: b, Weight: 1})
	got := map[string]int{}
	for i := 0; i < 6; i++ {
		got[ask(t, s.Addr)]++
	}
	if got["a"] != 3 || got["b"] != 3 {
		t.Errorf("rr over a, b: %v", got)
	}
	// weight 0 (inhibit_on_failure) takes no new connection
	p.EditDest(s, lvs.Dest{Addr: a, Weight: 0})
	for i := 0; i < 4; i++ {
		if n := ask(t, s.Addr); n != "b" {
			t.Errorf("a at weight 0, got %q", n)
		}
	}
	p.DelDest(s, lvs.Dest{Addr: b})
	if n := ask(t, s.Addr); n != "none" {
		t.Errorf("no available server: got %q, want the connection closed", n)
	}
	if err := p.DelService(s); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", s.Addr.String(), time.Second); err == nil {
		t.Error("service deleted, still accepting")
	}
}

// Persistence keeps a client on its server across connections.
func TestPersistence(t *testing.T) {
	a, b := backend(t, "a"), backend(t, "b")
	p := New(t.Logf)
	defer p.Close()
	s := &lvs.Service{Addr: freePort(t, "tcp"), Proto: lvs.ProtoTCP, Sched: "rr", Timeout: 60}
	p.AddService(s)
	p.AddDest(s, lvs.Dest{Addr: a, Weight: 1})
	p.AddDest(s, lvs.Dest{Addr: b, Weight: 1})
	first := ask(t, s.Addr)
	for i := 0; i < 4; i++ {
		if n := ask(t, s.Addr); n != first {
			t.Fatalf("persistent service moved the client from %s to %s", first, n)
		}
	}
}

func TestUDPForwarding(t *testing.T) {
	echo := func(name string) netip.AddrPort {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		go func() {
			buf := make([]byte, 1500)
			for {
				n, from, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				c.WriteTo(append([]byte(name+":"), buf[:n]...), from)
			}
		}()
		return netip.MustParseAddrPort(c.LocalAddr().String())
	}
	a, b := echo("a"), echo("b")
	p := New(t.Logf)
	defer p.Close()
	s := &lvs.Service{Addr: freePort(t, "udp"), Proto: lvs.ProtoUDP, Sched: "rr"}
	if err := p.AddService(s); err != nil {
		t.Fatal(err)
	}
	p.AddDest(s, lvs.Dest{Addr: a, Weight: 1})
	p.AddDest(s, lvs.Dest{Addr: b, Weight: 1})
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		c, err := net.Dial("udp", s.Addr.String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write([]byte("q"))
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no reply: %v", err)
		}
		// the reply comes from the virtual address
		if c.RemoteAddr().String() != s.Addr.String() {
			t.Errorf("reply from %s", c.RemoteAddr())
		}
		seen[string(buf[:n])] = true
		c.Close()
	}
	if !seen["a:q"] || !seen["b:q"] {
		t.Errorf("replies %v, want both servers", seen)
	}
}

func TestRefusesWhatNeedsTheKernel(t *testing.T) {
	p := New(t.Logf)
	for _, s := range []*lvs.Service{{FWMark: 1, Sched: "rr"}, {Addr: freePort(t, "tcp"), Proto: lvs.ProtoSCTP, Sched: "rr"}} {
		if err := p.AddService(s); err == nil {
			t.Errorf("%s: served, want an error", s)
		}
	}
}
