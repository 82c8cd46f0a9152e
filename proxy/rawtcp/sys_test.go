package rawtcp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listenFd is a listening socket on 127.0.0.1:0 as a raw non-blocking
// descriptor.
func listenFd(t *testing.T) (int, netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	unix.SetNonblock(fd, true)
	t.Cleanup(func() { Close(fd) })
	return fd, LocalAddr(fd)
}

// wait polls fd for ev (the tests have no event loop).
func wait(t *testing.T, fd int, ev int16) {
	t.Helper()
	if n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: ev}}, 2000); n != 1 || err != nil {
		t.Fatalf("poll: %d %v", n, err)
	}
}

// TestConnectAcceptSendRecv: a connect completes (Connected), the accept
// sees the dialer's address, bytes go both ways, a shutdown is the
// peer's end of stream, and a linger-0 close resets.
func TestConnectAcceptSendRecv(t *testing.T) {
	lfd, addr := listenFd(t)
	cfd, err := Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(cfd)
	for {
		done, err := Connected(cfd)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
		wait(t, cfd, unix.POLLOUT)
	}
	wait(t, lfd, unix.POLLIN)
	var rsa unix.RawSockaddrAny
	afd, err := Accept(lfd, &rsa)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(afd)
	if got, want := AddrOf(&rsa), LocalAddr(cfd); got != want {
		t.Fatalf("accepted peer %v, dialer is %v", got, want)
	}
	if _, err := Accept(lfd, &rsa); err != unix.EAGAIN {
		t.Fatalf("second accept: %v, want EAGAIN", err)
	}
	if n, err := Send(cfd, []byte("ping")); n != 4 || err != nil {
		t.Fatalf("send %d %v", n, err)
	}
	wait(t, afd, unix.POLLIN)
	buf := make([]byte, 16)
	if n, err := Recv(afd, buf); err != nil || !bytes.Equal(buf[:n], []byte("ping")) {
		t.Fatalf("recv %q %v", buf[:n], err)
	}
	if _, err := Recv(afd, buf); err != unix.EAGAIN {
		t.Fatalf("recv on an empty socket: %v, want EAGAIN", err)
	}
	if err := Shutdown(cfd, unix.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	wait(t, afd, unix.POLLIN)
	if n, err := Recv(afd, buf); n != 0 || err != nil {
		t.Fatalf("after shutdown: %d %v, want end of stream", n, err)
	}
	if err := SetLinger(afd, 0); err != nil {
		t.Fatal(err)
	}
	Close(afd)
	wait(t, cfd, unix.POLLIN)
	if _, err := Recv(cfd, buf); err != unix.ECONNRESET {
		t.Fatalf("after a linger-0 close: %v, want ECONNRESET", err)
	}
	// A send to a reset connection fails without SIGPIPE.
	if _, err := Send(cfd, []byte("x")); err == nil {
		t.Fatal("send to a reset peer succeeded")
	}
}

// TestConnectRefused: a port nobody listens on gives ECONNREFUSED, at
// connect or from Connected.
func TestConnectRefused(t *testing.T) {
	lfd, addr := listenFd(t)
	Close(lfd)
	time.Sleep(10 * time.Millisecond)
	fd, err := Connect(addr)
	if err != nil {
		if err != unix.ECONNREFUSED {
			t.Fatalf("connect: %v", err)
		}
		return
	}
	defer Close(fd)
	for {
		done, err := Connected(fd)
		if done {
			if err != unix.ECONNREFUSED {
				t.Fatalf("connected: %v, want ECONNREFUSED", err)
			}
			return
		}
		wait(t, fd, unix.POLLOUT)
	}
}
