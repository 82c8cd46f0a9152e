package rawtcp

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Listener is a net.Listener whose Accept returns *Conn. It takes over
// a *net.TCPListener's socket: net's own listener cannot be polled from
// outside (its SyscallConn refuses Read), so the socket is held through a
// duplicate descriptor registered with the poller as an *os.File.
type Listener struct {
	f      *os.File
	rc     syscall.RawConn
	addr   net.Addr
	closed atomic.Bool

	// One accept at a time (mu): the callback handed to the poller is
	// bound once and leaves its results here, so an accept allocates
	// nothing but the Conn.
	mu    sync.Mutex
	try   func(uintptr) bool
	nfd   int
	aerr  error
	rsa   unix.RawSockaddrAny
	local netip.AddrPort // the bound address; invalid: ask each socket
}

// NewListener takes over ln (closed here; the socket stays open and
// listening through the duplicate).
func NewListener(ln *net.TCPListener) (*Listener, error) {
	f, err := ln.File()
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	l := &Listener{f: f, rc: rc, addr: ln.Addr()}
	l.try = l.tryAccept
	if ap := ln.Addr().(*net.TCPAddr).AddrPort(); !ap.Addr().Unmap().IsUnspecified() {
		l.local = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ln.Close()
	return l, nil
}

// Addr is the listening address.
func (l *Listener) Addr() net.Addr { return l.addr }

// Close stops listening; a waiting Accept returns net.ErrClosed.
func (l *Listener) Close() error {
	l.closed.Store(true)
	return l.f.Close()
}

// Accept is AcceptRaw for net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptRaw()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptRaw waits for and returns the next connection. Errors are
// net.ErrClosed once the listener is closed, else the accept(2) error
// (EMFILE…), for the caller to back off.
func (l *Listener) AcceptRaw() (*Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		err := l.rc.Read(l.try)
		nfd, aerr := l.nfd, l.aerr
		if err != nil {
			// The poller's "use of closed file" is not os.ErrClosed.
			if l.closed.Load() || errors.Is(err, os.ErrClosed) {
				return nil, net.ErrClosed
			}
			return nil, err
		}
		if aerr == unix.ECONNABORTED {
			continue // gone before we took it, as Go's Accept skips it
		}
		if aerr != nil {
			return nil, os.NewSyscallError("accept4", aerr)
		}
		// Small responses go out in one or two writes; without
		// TCP_NODELAY the second waits for the peer's delayed ACK.
		_ = unix.SetsockoptInt(nfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		local := l.local
		if !local.IsValid() {
			if sa, err := unix.Getsockname(nfd); err == nil {
				local = fromSockaddr(sa)
			}
		}
		return New(nfd, local, fromRaw(&l.rsa)), nil
	}
}

func (l *Listener) tryAccept(fd uintptr) bool {
	for {
		l.nfd, l.aerr = accept4(int(fd), &l.rsa)
		if l.aerr == unix.EINTR {
			continue
		}
		return l.aerr != unix.EAGAIN
	}
}

// accept4 without x/sys's allocation of the peer's Sockaddr.
func accept4(fd int, rsa *unix.RawSockaddrAny) (int, error) {
	l := uint32(unix.SizeofSockaddrAny)
	nfd, _, e := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(&l)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(nfd), nil
}

func fromRaw(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		port := uint16(p.Port>>8 | p.Port<<8)
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), port)
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		port := uint16(p.Port>>8 | p.Port<<8)
		return netip.AddrPortFrom(netip.AddrFrom16(p.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}

func fromSockaddr(sa unix.Sockaddr) netip.AddrPort {
	switch v := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(v.Addr), uint16(v.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(v.Addr).Unmap(), uint16(v.Port))
	}
	return netip.AddrPort{}
}

// Dial connects to dst within timeout (0: no limit). Loopback and LAN
// connects usually complete during connect(2) itself; then one
// getsockopt(TCP_INFO) confirms it and the socket never meets the poller.
func Dial(dst netip.AddrPort, timeout time.Duration) (*Conn, error) {
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	var sa unix.Sockaddr
	family := unix.AF_INET
	if dst.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(dst.Port()), Addr: dst.Addr().As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(dst.Port()), Addr: dst.Addr().As16(), ZoneId: zoneID(dst.Addr().Zone())}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	c := New(fd, netip.AddrPort{}, dst)
	for {
		err = unix.Connect(fd, sa)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil && err != unix.EINPROGRESS && err != unix.EALREADY {
		c.Close()
		return nil, dialErr(dst, err)
	}
	state, err := connectState(fd)
	if err == nil && state == synSent {
		// Still in progress: wait in the poller for writability.
		if timeout > 0 {
			_ = c.SetWriteDeadline(time.Now().Add(timeout))
		}
		rc, perr := c.poller()
		if perr != nil {
			c.Close()
			return nil, perr
		}
		werr := rc.Write(func(fd uintptr) bool {
			state, err = connectState(int(fd))
			return err != nil || state != synSent
		})
		if werr != nil {
			c.Close()
			return nil, dialErr(dst, werr)
		}
		if timeout > 0 {
			_ = c.SetWriteDeadline(time.Time{})
		}
	}
	if err == nil && state != established && state != closeWait {
		err = unix.ECONNREFUSED
		if soerr, gerr := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); gerr == nil && soerr != 0 {
			err = syscall.Errno(soerr)
		}
	}
	if err != nil {
		c.Close()
		return nil, dialErr(dst, err)
	}
	return c, nil
}

// TCP states of tcp_info.tcpi_state (include/net/tcp_states.h).
const (
	established = 1
	synSent     = 2
	closeWait   = 8
)

// connectState reads tcpi_state, the first byte of struct tcp_info (the
// kernel copies no more than asked), without x/sys's allocation.
func connectState(fd int) (uint8, error) {
	var info [8]byte
	l := uint32(len(info))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_INFO, uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0, e
	}
	return info[0], nil
}

func dialErr(dst netip.AddrPort, err error) error {
	if err == os.ErrDeadlineExceeded {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(dst), Err: err}
	}
	if errno, ok := err.(syscall.Errno); ok {
		err = os.NewSyscallError("connect", errno)
	}
	return &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(dst), Err: err}
}

func zoneID(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}
