// Package rawtcp holds the socket system calls of halo's event loops
// (proxy/evloop): accept, connect, read, write, shutdown, close on raw
// non-blocking descriptors, without allocation and without Go's network
// poller.
//
// They are raw system calls (syscall.RawSyscall): the goroutine keeps its
// scheduler processor through them. On a non-blocking socket none of them
// waits, and a hand-off around each (what syscall.Syscall does) costs more
// than the call: worse, the scheduler's monitor takes the processor of a
// call that lasts over 20 µs (a close, a loopback send that runs the
// receiver's TCP stack) and then polls every 20 µs instead of sleeping.
package rawtcp

import (
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func raw3(trap, a1, a2, a3 uintptr) (uintptr, unix.Errno) {
	for {
		r, _, e := unix.RawSyscall(trap, a1, a2, a3)
		if e != unix.EINTR {
			return r, e
		}
	}
}

func raw6(trap, a1, a2, a3, a4, a5, a6 uintptr) (uintptr, unix.Errno) {
	for {
		r, _, e := unix.RawSyscall6(trap, a1, a2, a3, a4, a5, a6)
		if e != unix.EINTR {
			return r, e
		}
	}
}

func errOf(e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

// Recv reads into p (read(2)); 0, nil means end of stream.
func Recv(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, e := raw3(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Send writes p with MSG_NOSIGNAL (a reset peer gives EPIPE, no SIGPIPE),
// as HAProxy does.
func Send(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, e := raw6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Close closes fd.
func Close(fd int) error { _, e := raw3(unix.SYS_CLOSE, uintptr(fd), 0, 0); return errOf(e) }

// Shutdown shuts down a direction of the connection (unix.SHUT_WR: FIN).
func Shutdown(fd, how int) error {
	_, e := raw3(unix.SYS_SHUTDOWN, uintptr(fd), uintptr(how), 0)
	return errOf(e)
}

// SetLinger sets SO_LINGER (sec 0: close resets the connection; sec < 0:
// off).
func SetLinger(fd, sec int) error {
	l := unix.Linger{Onoff: 1, Linger: int32(sec)}
	if sec < 0 {
		l = unix.Linger{}
	}
	_, e := raw6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_LINGER, uintptr(unsafe.Pointer(&l)), unsafe.Sizeof(l), 0)
	return errOf(e)
}

// SetKeepAlive turns SO_KEEPALIVE on with the probes' timers (TCP_KEEPIDLE
// and TCP_KEEPINTVL in whole seconds, TCP_KEEPCNT); a zero leaves the
// system's value (net.ipv4.tcp_keepalive_*), as HAProxy does.
func SetKeepAlive(fd int, idle, intvl time.Duration, cnt int) error {
	set := func(level, opt, v int) error {
		x := int32(v)
		_, e := raw6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(unsafe.Pointer(&x)), 4, 0)
		return errOf(e)
	}
	if err := set(unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return err
	}
	if cnt > 0 {
		if err := set(unix.IPPROTO_TCP, unix.TCP_KEEPCNT, cnt); err != nil {
			return err
		}
	}
	if idle > 0 {
		if err := set(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, int(idle/time.Second)); err != nil {
			return err
		}
	}
	if intvl > 0 {
		if err := set(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, int(intvl/time.Second)); err != nil {
			return err
		}
	}
	return nil
}

// Accept takes one connection from the listening socket fd (non-blocking,
// close-on-exec, TCP_NODELAY set), its peer address in rsa. EAGAIN: none
// waiting; ECONNABORTED is skipped.
func Accept(fd int, rsa *unix.RawSockaddrAny) (int, error) {
	for {
		l := uint32(unix.SizeofSockaddrAny)
		nfd, e := raw6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(&l)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		if e == unix.ECONNABORTED {
			continue
		}
		if e != 0 {
			return -1, e
		}
		setNoDelay(int(nfd))
		return int(nfd), nil
	}
}

// Small responses go out in one or two writes; without TCP_NODELAY the
// second waits for the peer's delayed ACK.
func setNoDelay(fd int) {
	one := int32(1)
	raw6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, uintptr(unsafe.Pointer(&one)), 4, 0)
}

// AddrOf converts an accepted peer address.
func AddrOf(rsa *unix.RawSockaddrAny) netip.AddrPort {
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

// LocalAddr asks the kernel for fd's local address (invalid for a
// non-IP socket).
func LocalAddr(fd int) netip.AddrPort {
	var rsa unix.RawSockaddrAny
	l := uint32(unix.SizeofSockaddrAny)
	if _, e := raw3(unix.SYS_GETSOCKNAME, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&l))); e != 0 {
		return netip.AddrPort{}
	}
	return AddrOf(&rsa)
}

// Connect starts a non-blocking connect to dst and returns the socket
// (TCP_NODELAY set). Loopback and LAN connects usually complete during
// connect(2); Connected tells.
func Connect(dst netip.AddrPort) (int, error) {
	var rsa unix.RawSockaddrAny
	var size uintptr
	family := unix.AF_INET
	a := dst.Addr().Unmap()
	port := dst.Port()
	if a.Is4() {
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		p.Family = unix.AF_INET
		p.Port = port<<8 | port>>8
		p.Addr = a.As4()
		size = unix.SizeofSockaddrInet4
	} else {
		family = unix.AF_INET6
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		p.Family = unix.AF_INET6
		p.Port = port<<8 | port>>8
		p.Addr = a.As16()
		p.Scope_id = zoneID(a.Zone())
		size = unix.SizeofSockaddrInet6
	}
	fd, e := raw3(unix.SYS_SOCKET, uintptr(family), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if e != 0 {
		return -1, e
	}
	setNoDelay(int(fd))
	_, e = raw3(unix.SYS_CONNECT, fd, uintptr(unsafe.Pointer(&rsa)), size)
	if e != 0 && e != unix.EINPROGRESS && e != unix.EALREADY {
		Close(int(fd))
		return -1, e
	}
	return int(fd), nil
}

// TCP states of tcp_info.tcpi_state (include/net/tcp_states.h).
const (
	established = 1
	synSent     = 2
	closeWait   = 8
)

// Connected reports a connect's outcome: done false while the handshake
// is in progress; err the failure (ECONNREFUSED…) once done.
func Connected(fd int) (done bool, err error) {
	// tcpi_state is the first byte of struct tcp_info (the kernel copies
	// no more than asked).
	var info [8]byte
	l := uint32(len(info))
	if _, e := raw6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_INFO, uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&l)), 0); e != 0 {
		return true, e
	}
	switch info[0] {
	case synSent:
		return false, nil
	case established, closeWait:
		return true, nil
	}
	var soerr int32
	l = 4
	if _, e := raw6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_ERROR, uintptr(unsafe.Pointer(&soerr)), uintptr(unsafe.Pointer(&l)), 0); e == 0 && soerr != 0 {
		return true, syscall.Errno(soerr)
	}
	return true, unix.ECONNREFUSED
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
