package rawtcp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func listen(t *testing.T) (*Listener, netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewListener(ln.(*net.TCPListener))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, l.Addr().(*net.TCPAddr).AddrPort()
}

// pair returns a dialed and an accepted end of one connection.
func pair(t *testing.T) (dialed, accepted *Conn) {
	t.Helper()
	l, ap := listen(t)
	d, err := Dial(ap, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.AcceptRaw()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(); a.Close() })
	return d, a
}

func TestEchoAddressesAndEOF(t *testing.T) {
	d, a := pair(t)
	if d.Remote() != a.Local() || d.Local() != a.Remote() {
		t.Fatalf("addresses: dialed %v->%v, accepted %v<-%v", d.Local(), d.Remote(), a.Local(), a.Remote())
	}
	if _, err := d.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := a.Read(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	if err := d.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("after CloseWrite: %d %v, want EOF", n, err)
	}
}

func TestReadWaitsThenDeadline(t *testing.T) {
	d, a := pair(t)
	go func() {
		time.Sleep(50 * time.Millisecond)
		d.Write([]byte("late"))
	}()
	buf := make([]byte, 16)
	n, err := a.Read(buf) // EAGAIN first: goes through the poller
	if err != nil || string(buf[:n]) != "late" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	if _, err := a.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err %v, want deadline exceeded", err)
	}
	if el := time.Since(start); el < 40*time.Millisecond || el > 2*time.Second {
		t.Fatalf("deadline fired after %v", el)
	}
	// A deadline in the past fails at once, registered or not.
	_, a2 := pair(t)
	a2.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := a2.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past deadline: %v", err)
	}
}

func TestCloseWakesWaitingReader(t *testing.T) {
	_, a := pair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := a.Read(make([]byte, 8))
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	a.Close()
	wantClosed(t, errc, "the reader")
	if _, err := a.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if err := a.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
}

func TestLargeWriteWaitsForReader(t *testing.T) {
	d, a := pair(t)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	done := make(chan error, 1)
	go func() {
		_, err := d.Write(payload)
		d.CloseWrite()
		done <- err
	}()
	got, err := io.ReadAll(a)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("got %d bytes (%v), want %d", len(got), err, len(payload))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestDialErrors(t *testing.T) {
	// A port nothing listens on: refused.
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	if _, err := Dial(ap, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("closed port: %v, want ECONNREFUSED", err)
	}

	// A listener whose accept queue is full drops SYNs: the connect
	// stays in SYN_SENT until the timeout.
	full, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	rc, _ := full.(*net.TCPListener).SyscallConn()
	rc.Control(func(fd uintptr) { unix.Listen(int(fd), 0) })
	fap := full.Addr().(*net.TCPAddr).AddrPort()
	var timedOut bool
	for i := 0; i < 8 && !timedOut; i++ {
		c, err := Dial(fap, 200*time.Millisecond)
		switch {
		case err == nil:
			defer c.Close()
		case errors.Is(err, os.ErrDeadlineExceeded):
			timedOut = true
		default:
			t.Fatalf("dial %d: %v", i, err)
		}
	}
	if !timedOut {
		t.Fatal("no dial timed out against a full accept queue")
	}
}

func TestListenerClose(t *testing.T) {
	l, _ := listen(t)
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	l.Close()
	wantClosed(t, errc, "Accept")
}

// wantClosed waits for a blocked call's error after a Close.
func wantClosed(t *testing.T, errc <-chan error, who string) {
	t.Helper()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("err %v, want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("Close did not wake %s", who)
	}
}

func TestWriteToResetPeer(t *testing.T) {
	d, a := pair(t)
	a.SetLinger(0)
	a.Close() // RST
	time.Sleep(20 * time.Millisecond)
	var err error
	for i := 0; i < 3 && err == nil; i++ {
		_, err = d.Write([]byte("after reset"))
	}
	if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("write to a reset peer: %v, want EPIPE or ECONNRESET", err)
	}
}
