package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"halo/proxy/rawtcp"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

type listener struct {
	ln    net.Listener
	fe    *Frontend
	bind  *Bind
	slots chan struct{} // bind maxconn
	tls   *tlsBind      // bind … ssl
	raw   *rawtcp.Listener
}

func bindString(b *Bind) string {
	switch b.Network {
	case "unix":
		return b.Path
	case "fd":
		return "fd@" + strconv.Itoa(b.FD)
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
	switch b.Network {
	case "unix":
		if !strings.HasPrefix(b.Path, "@") {
			_ = os.Remove(b.Path)
		}
		return net.Listen("unix", b.Path)
	case "fd":
		return inheritedListener(b.FD)
	}
	addr := b.Addr.Addr()
	network := "tcp4"
	if addr.Is6() && !addr.Is4In6() || b.Network == "tcp6" {
		// "tcp6" makes Go set IPV6_V6ONLY; "tcp" on [::] is dual-stack.
		network = "tcp"
		if b.V6Only {
			network = "tcp6"
		}
	}
	if !addr.IsValid() {
		// ":port" binds every IPv4 address, as HAProxy does.
		addr = netip.IPv4Unspecified()
	}
	lc := net.ListenConfig{
		// No TCP keep-alive probes on client connections (HAProxy sets
		// SO_KEEPALIVE only with option clitcpka): this also saves three
		// setsockopt calls per accepted connection.
		KeepAlive: -1,
		Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
	ln, err := lc.Listen(context.Background(), network, netip.AddrPortFrom(addr, b.Addr.Port()).String())
	if err != nil {
		return nil, err
	}
	// Go listens with the system's somaxconn; listen(2) again sets the
	// configured backlog.
	if sc, ok := ln.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { _ = unix.Listen(int(fd), backlog) })
		}
	}
	return ln, nil
}

// inheritedListener takes over a listening socket the process inherited
// (bind "fd@N": systemd socket activation, VTest, a parent process), as
// HAProxy's fd@ address family does. The descriptor must be a listening
// stream socket.
func inheritedListener(fd int) (net.Listener, error) {
	acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		return nil, fmt.Errorf("fd@%d: %w", fd, err)
	}
	if acc == 0 {
		return nil, fmt.Errorf("fd@%d: not a listening socket", fd)
	}
	f := os.NewFile(uintptr(fd), "fd@"+strconv.Itoa(fd))
	// FileListener works on a duplicate; the inherited number is closed
	// so it cannot leak into children.
	ln, err := net.FileListener(f)
	f.Close()
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
		c, err := l.accept()
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
		// Hand the connection to a parked worker when one is waiting,
		// else start one.
		job := connJob{l: l, c: c, st: st}
		select {
		case rt.jobs <- job:
		default:
			go rt.worker(job)
		}
	}
}

func (l *listener) accept() (net.Conn, error) {
	if l.raw != nil {
		c, err := l.raw.AcceptRaw()
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return l.ln.Accept()
}

// connJob is an accepted connection for a worker goroutine.
type connJob struct {
	l  *listener
	c  net.Conn
	st *connState
}

// maxIdleWorkers bounds the goroutines parked for the next connection.
const maxIdleWorkers = 64

// worker serves connections until none comes while it is parked. Reusing
// goroutines saves, per connection, starting one and growing its stack
// (about 5 % of the CPU with one request per connection).
func (rt *Runtime) worker(job connJob) {
	for {
		rt.serveJob(job)
		if rt.idleWorkers.Add(1) > maxIdleWorkers {
			rt.idleWorkers.Add(-1)
			return
		}
		select {
		case job = <-rt.jobs:
			rt.idleWorkers.Add(-1)
		case <-rt.done:
			rt.idleWorkers.Add(-1)
			return
		}
	}
}

func (rt *Runtime) serveJob(j connJob) {
	defer func() {
		rt.untrack(j.c)
		release(rt.global)
		release(j.l.fe.slots)
		release(j.l.slots)
	}()
	rt.serveConn(j.l, j.c, j.st)
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

// connAddrs returns c's remote and local addresses.
func connAddrs(c net.Conn) (src, dst netip.AddrPort) {
	if rc, ok := c.(*rawtcp.Conn); ok {
		return rc.Remote(), rc.Local()
	}
	return addrPortOf(c.RemoteAddr()), addrPortOf(c.LocalAddr())
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
	src, dst := connAddrs(c)
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
	var tlsState *TLSConn
	if l.tls != nil {
		// TLS offload: the handshake must finish within the time allowed
		// for a request (timeout http-request, else client).
		tc := tls.Server(c, l.tls.base)
		to := pick(fe.Proxy.Timeouts.HTTPRequest, fe.Proxy.Timeouts.Client)
		_ = c.SetDeadline(deadline(pick(to, 10*time.Second)))
		if err := tc.Handshake(); err != nil {
			fe.Counters.ErrReq.Add(1)
			c.Close()
			return
		}
		_ = c.SetDeadline(time.Time{})
		tlsState = &TLSConn{State: tc.ConnectionState()}
		tlsState.Client = l.tls.clientCheck(&tlsState.State)
		c = tc
	}
	if fe.Proxy.Mode == ModeHTTP {
		rt.serveHTTP(fe, c, src, dst, st, tlsState)
	} else {
		rt.serveTCP(fe, c, src, dst, tlsState)
	}
}
