package proxy

import (
	"net"
	"net/netip"
	"os"
	"strconv"

	"halo/proxy/sockxfer"

	"golang.org/x/sys/unix"
)

// Reloads hand the listening sockets over instead of opening new ones:
// the new process accepts on the very sockets of the old one, so the
// connections waiting in their accept queues are served (closing a socket
// of its own, as a second SO_REUSEPORT socket would be closed, resets
// them). The old process stops accepting and closes its copies; the
// sockets live on in the new one. This is HAProxy's `-x` / `expose-fd
// listeners` model; halo's master passes the sockets the same way.

// ExportSockets returns duplicates of the frontends' listening sockets,
// for a process that takes over (the caller sends and closes them).
func (rt *Runtime) ExportSockets() []sockxfer.Socket {
	rt.mu.Lock()
	ls := append([]*listener(nil), rt.listeners...)
	rt.mu.Unlock()
	var out []sockxfer.Socket
	for _, l := range ls {
		if l.el == nil {
			continue
		}
		fd, err := l.el.Dup()
		if err != nil {
			continue
		}
		out = append(out, sockxfer.Socket{FD: fd})
	}
	return out
}

// InheritSockets gives the runtime the listening sockets of a previous
// process (before Start): each bind takes a compatible one instead of
// opening a socket; Start closes those no bind wanted.
func (rt *Runtime) InheritSockets(socks []sockxfer.Socket) {
	rt.mu.Lock()
	rt.inherited = append(rt.inherited, socks...)
	rt.mu.Unlock()
}

// takeInherited returns an inherited socket compatible with b (same
// family, address, port or path, v6only setting, a listening stream
// socket), removed from the pool.
func (rt *Runtime) takeInherited(b *Bind) (net.Listener, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for i, s := range rt.inherited {
		if s.Interface != "" || s.Namespace != "" || !compatibleSocket(s.FD, b) {
			continue
		}
		rt.inherited = append(rt.inherited[:i], rt.inherited[i+1:]...)
		f := os.NewFile(uintptr(s.FD), "inherited@"+strconv.Itoa(s.FD))
		ln, err := net.FileListener(f) // a duplicate: f is closed below
		f.Close()
		if err != nil {
			return nil, false
		}
		if ul, ok := ln.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false) // the path belongs to the socket, not to us
		}
		return ln, true
	}
	return nil, false
}

// closeInherited closes the inherited sockets no bind took (binds the new
// configuration no longer has).
func (rt *Runtime) closeInherited() {
	rt.mu.Lock()
	socks := rt.inherited
	rt.inherited = nil
	rt.mu.Unlock()
	for _, s := range socks {
		unix.Close(s.FD)
	}
}

// compatibleSocket reports whether fd is a listening stream socket bound
// where b binds.
func compatibleSocket(fd int, b *Bind) bool {
	if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_STREAM {
		return false
	}
	if acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || acc == 0 {
		return false
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return false
	}
	switch a := sa.(type) {
	case *unix.SockaddrUnix:
		return b.Network == "unix" && a.Name == b.Path
	case *unix.SockaddrInet4:
		if b.Network == "unix" || b.Network == "fd" {
			return false
		}
		want := b.Addr.Addr()
		if !want.IsValid() {
			want = netip.IPv4Unspecified()
		}
		return want.Unmap() == netip.AddrFrom4(a.Addr) && !(want.Is6() && !want.Is4In6()) && int(b.Addr.Port()) == a.Port
	case *unix.SockaddrInet6:
		if b.Network == "unix" || b.Network == "fd" {
			return false
		}
		want := b.Addr.Addr()
		if !want.Is6() || want.Is4In6() || want != netip.AddrFrom16(a.Addr) || int(b.Addr.Port()) != a.Port {
			return false
		}
		v6only, err := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
		if err != nil {
			return false
		}
		return (v6only != 0) == b.V6Only
	}
	return false
}
