package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

type listener struct {
	ln    net.Listener
	fe    *Frontend
	bind  *Bind
	slots chan struct{} // bind maxconn
	tls   *tls.Config   // bind … ssl
}

func bindString(b *Bind) string {
	if b.Network == "unix" {
		return b.Path
	}
	return b.Addr.String()
}

// listen opens one bind: SO_REUSEADDR and SO_REUSEPORT (so a new process
// started with -sf can listen beside the old one), the bind's or proxy's
// backlog (HAProxy's default is maxconn), IPV6_V6ONLY per v4v6/v6only.
func listen(b *Bind, p *Proxy) (net.Listener, error) {
	backlog := b.Backlog
	if backlog <= 0 {
		backlog = p.Backlog
	}
	if backlog <= 0 {
		backlog = b.Maxconn
	}
	if backlog <= 0 {
		backlog = p.Maxconn
	}
	if backlog <= 0 {
		backlog = 1024
	}
	if b.Network == "unix" {
		_ = os.Remove(b.Path)
		return net.Listen("unix", b.Path)
	}
	addr := b.Addr.Addr()
	family := unix.AF_INET
	is6 := addr.Is6() && !addr.Is4In6()
	if is6 || b.Network == "tcp6" {
		family = unix.AF_INET6
	}
	if !addr.IsValid() {
		// ":port" binds every IPv4 address, as HAProxy does.
		addr = netip.IPv4Unspecified()
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	var sa unix.Sockaddr
	if family == unix.AF_INET6 {
		v6only := 0
		if b.V6Only {
			v6only = 1
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only)
		sa = &unix.SockaddrInet6{Port: int(b.Addr.Port()), Addr: addr.As16()}
	} else {
		sa = &unix.SockaddrInet4{Port: int(b.Addr.Port()), Addr: addr.Unmap().As4()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, err
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("bind:%s", b.Addr))
	ok = true
	ln, err := net.FileListener(f)
	f.Close() // FileListener dup()s the descriptor
	return ln, err
}

// acceptLoop takes a connection slot (bind, frontend, global maxconn)
// before each accept, so connections over the limit wait in the kernel's
// backlog as they do with HAProxy.
func (rt *Runtime) acceptLoop(l *listener) {
	var delay time.Duration
	for {
		if !acquire(l.slots, rt.done) || !acquire(l.fe.slots, rt.done) || !acquire(rt.global, rt.done) {
			return
		}
		c, err := l.ln.Accept()
		if err != nil {
			release(rt.global)
			release(l.fe.slots)
			release(l.slots)
			if errors.Is(err, net.ErrClosed) || rt.stopping.Load() {
				return
			}
			// EMFILE and friends: back off as net/http does.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			time.Sleep(delay)
			continue
		}
		delay = 0
		st := &connState{}
		if !rt.track(c, st) {
			c.Close()
			release(rt.global)
			release(l.fe.slots)
			release(l.slots)
			continue
		}
		go func() {
			defer func() {
				rt.untrack(c)
				release(rt.global)
				release(l.fe.slots)
				release(l.slots)
			}()
			rt.serveConn(l, c, st)
		}()
	}
}

func acquire(ch chan struct{}, done <-chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case ch <- struct{}{}:
		return true
	case <-done:
		return false
	}
}

func release(ch chan struct{}) {
	if ch != nil {
		<-ch
	}
}

func addrPortOf(a net.Addr) netip.AddrPort {
	switch v := a.(type) {
	case *net.TCPAddr:
		ap := v.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// serveConn runs one client connection in the frontend's mode.
func (rt *Runtime) serveConn(l *listener, c net.Conn, st *connState) {
	fe := l.fe
	src, dst := addrPortOf(c.RemoteAddr()), addrPortOf(c.LocalAddr())
	if l.bind.AcceptProxy {
		s, d, ok, err := readProxyHeader(c, pick(fe.Proxy.Timeouts.HTTPRequest, fe.Proxy.Timeouts.Client))
		if err != nil {
			fe.Counters.ErrReq.Add(1)
			c.Close()
			return
		}
		if ok {
			src, dst = s, d
		}
	}
	for _, m := range rt.modules {
		if m.Connection != nil && !m.Connection(fe, src, dst) {
			fe.Counters.DeniedReq.Add(1)
			c.Close()
			return
		}
	}
	rt.ActConn.Add(1)
	fe.Counters.connOpen()
	fe.Counters.LastSess.Store(time.Now().Unix())
	defer func() {
		fe.Counters.CurConns.Add(-1)
		rt.ActConn.Add(-1)
	}()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	var tlsState *tls.ConnectionState
	if l.tls != nil {
		// TLS offload: the handshake must finish within the time allowed
		// for a request (timeout http-request, else client).
		tc := tls.Server(c, l.tls)
		to := pick(fe.Proxy.Timeouts.HTTPRequest, fe.Proxy.Timeouts.Client)
		_ = c.SetDeadline(deadline(pick(to, 10*time.Second)))
		if err := tc.Handshake(); err != nil {
			fe.Counters.ErrReq.Add(1)
			c.Close()
			return
		}
		_ = c.SetDeadline(time.Time{})
		cs := tc.ConnectionState()
		tlsState = &cs
		c = tc
	}
	if fe.Proxy.Mode == ModeHTTP {
		rt.serveHTTP(fe, c, src, dst, st, tlsState)
	} else {
		rt.serveTCP(fe, c, src, dst, tlsState)
	}
}
