package rawtcp

import (
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system calls below are the raw socket operations the event loop
// (proxy/evloop) builds on: no allocation, no poller, non-blocking
// descriptors. Read, Send and Accept are raw system calls (no scheduler
// hand-off): on a non-blocking socket they never wait.

// Recv reads into p (read(2)); 0, nil means end of stream.
func Recv(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), nil
	}
}

// Send writes p with MSG_NOSIGNAL (a reset peer gives EPIPE, no SIGPIPE).
func Send(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), nil
	}
}

// Accept takes one connection from the listening socket fd (non-blocking,
// close-on-exec, TCP_NODELAY set), its peer address in rsa. EAGAIN: none
// waiting; ECONNABORTED is skipped.
func Accept(fd int, rsa *unix.RawSockaddrAny) (int, error) {
	for {
		l := uint32(unix.SizeofSockaddrAny)
		nfd, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(&l)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		if e == unix.EINTR || e == unix.ECONNABORTED {
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
	unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, uintptr(unsafe.Pointer(&one)), 4, 0)
}

// AddrOf converts an accepted peer address.
func AddrOf(rsa *unix.RawSockaddrAny) netip.AddrPort { return fromRaw(rsa) }

// LocalAddr asks the kernel for fd's local address.
func LocalAddr(fd int) netip.AddrPort {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}
	}
	return fromSockaddr(sa)
}

// Connect starts a non-blocking connect to dst and returns the socket.
// Loopback and LAN connects usually complete during connect(2); call
// Connected to know.
func Connect(dst netip.AddrPort) (int, error) {
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
		return -1, err
	}
	setNoDelay(fd)
	for {
		err = unix.Connect(fd, sa)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil && err != unix.EINPROGRESS && err != unix.EALREADY {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Connected reports a connect's outcome: done false while the handshake
// is in progress; err the failure (ECONNREFUSED…) once done.
func Connected(fd int) (done bool, err error) {
	state, err := connectState(fd)
	if err != nil {
		return true, err
	}
	switch state {
	case synSent:
		return false, nil
	case established, closeWait:
		return true, nil
	}
	err = unix.ECONNREFUSED
	if soerr, gerr := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); gerr == nil && soerr != 0 {
		err = syscall.Errno(soerr)
	}
	return true, err
}
