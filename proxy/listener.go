package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"halo/proxy/evloop"
	"halo/proxy/h2"
	"halo/proxy/rawtcp"

	"golang.org/x/sys/unix"
)

// listener is one bind: its socket is served by the event loops (el),
// which call Admit and Accepted for each connection.
type listener struct {
	rt    *Runtime
	fe    *Frontend
	bind  *Bind
	slots *slots   // bind maxconn
	tls   *tlsBind // bind … ssl
	el    *evloop.Listener
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

// slots is a connection budget (maxconn): bind, frontend or global.
type slots struct {
	n   atomic.Int64
	max int64 // 0: unlimited
}

func (s *slots) take() bool {
	if s == nil || s.max <= 0 {
		return true
	}
	for {
		n := s.n.Load()
		if n >= s.max {
			return false
		}
		if s.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (s *slots) put() {
	if s != nil && s.max > 0 {
		s.n.Add(-1)
	}
}

func newSlots(max int) *slots {
	if max <= 0 {
		return nil
	}
	return &slots{max: int64(max)}
}

// Admit takes a slot of the bind, the frontend and the process (global
// maxconn) before each accept, so connections over a limit wait in the
// kernel's backlog as they do with HAProxy (the loops pause the listener).
func (l *listener) Admit() bool {
	if !l.slots.take() {
		l.rt.pauseHint.Store(true)
		return false
	}
	if !l.fe.slots.take() {
		l.slots.put()
		l.rt.pauseHint.Store(true)
		return false
	}
	if !l.rt.global.take() {
		l.fe.slots.put()
		l.slots.put()
		l.rt.pauseHint.Store(true)
		return false
	}
	return true
}

// Unadmit gives back the slots Admit took.
func (l *listener) Unadmit() {
	l.rt.global.put()
	l.fe.slots.put()
	l.slots.put()
	l.rt.resumeListeners()
}

// Accepted starts serving a new client connection on the loop that
// accepted it. A plain HTTP connection is parked until its request comes
// (no task, no buffer); the others need a task at once: the PROXY header,
// the TLS handshake, or mode tcp's connect to a server.
func (l *listener) Accepted(lp *evloop.Loop, fd int, local, remote netip.AddrPort) {
	rt := l.rt
	ls := rt.loops[lp.ID()]
	if rt.hardStopped.Load() {
		rawtcp.Close(fd)
		l.Unadmit()
		return
	}
	if ka := &l.fe.Proxy.CliTCPKA; ka.On {
		ka.Apply(fd)
	}
	if l.bind.AcceptProxy || l.tls != nil || l.fe.Proxy.Mode != ModeHTTP || l.bind.Proto == "h2" {
		ec, err := lp.Register(fd, local, remote)
		if err != nil {
			rawtcp.Close(fd)
			l.Unadmit()
			return
		}
		rt.nconns.Add(1)
		cs := &clientSetup{l: l, ec: ec, ls: ls}
		ls.track(cs)
		lp.Go(cs.run)
		return
	}
	// Plain HTTP: the session (pooled) holds the connection.
	s := ls.sessions.get()
	if err := lp.Adopt(&s.conn, fd, local, remote); err != nil {
		rawtcp.Close(fd)
		ls.sessions.put(s)
		l.Unadmit()
		return
	}
	rt.nconns.Add(1)
	ec := &s.conn
	src, dst := remote, ec.Local()
	// The modules see the connection as s.cc for its whole life (no copy:
	// they may keep it).
	s.cc = ClientConn{Frontend: l.fe, Src: src, Dst: dst, FD: fd}
	if !rt.admitConn(&s.cc) {
		ec.Close()
		s.cc = ClientConn{}
		ls.sessions.put(s)
		rt.endClient(l)
		return
	}
	s.init(rt, l, ls, ec, src, dst, nil)
	s.waitFirst()
}

// admitConn runs the Connection hooks (tcp-request connection rules) and
// counts the connection; false: refused (closed by the caller).
func (rt *Runtime) admitConn(cc *ClientConn) bool {
	fe := cc.Frontend
	for _, m := range rt.modules {
		if m.Connection != nil && !m.Connection(cc) {
			fe.Counters.DeniedReq.Add(1)
			rt.disconnect(cc)
			return false
		}
	}
	rt.ActConn.Add(1)
	fe.Counters.connOpen()
	fe.Counters.LastSess.Store(time.Now().Unix())
	return true
}

// endClient is the end of an accepted connection: its slots go back (and
// paused listeners resume), and a soft stop learns when the last one is
// gone.
func (rt *Runtime) endClient(l *listener) {
	rt.global.put()
	l.fe.slots.put()
	l.slots.put()
	rt.resumeListeners()
	if rt.nconns.Add(-1) == 0 && rt.stopping.Load() {
		rt.drained()
	}
}

// leaveConn undoes admitConn's counting and runs the Disconnect hooks.
func (rt *Runtime) leaveConn(cc *ClientConn) {
	cc.Frontend.Counters.CurConns.Add(-1)
	rt.ActConn.Add(-1)
	rt.disconnect(cc)
}

// disconnect runs the Disconnect hooks for a connection the Connection
// hooks saw.
func (rt *Runtime) disconnect(cc *ClientConn) {
	for _, m := range rt.modules {
		if m.Disconnect != nil {
			m.Disconnect(cc)
		}
	}
	cc.State = nil
}

// clientSetup runs what a connection needs before its mode takes over, in
// a task: the PROXY header (accept-proxy), the Connection hooks and the
// TLS handshake.
type clientSetup struct {
	l    *listener
	ec   *evloop.Conn
	ls   *loopState
	live int
	cc   ClientConn
}

func (cs *clientSetup) liveIndex() *int { return &cs.live }

// stop closes the connection (a soft stop leaves it to finish).
func (cs *clientSetup) stop(hard bool) {
	if hard {
		cs.ec.Close()
	}
}

func (cs *clientSetup) run() {
	l, ec, rt := cs.l, cs.ec, cs.l.rt
	fe := l.fe
	done := false
	defer func() {
		if !done {
			cs.ls.untrack(cs)
			ec.Close()
			rt.endClient(l)
		}
	}()
	src, dst := ec.Remote(), ec.Local()
	if l.bind.AcceptProxy {
		s, d, ok, err := readProxyHeader(ec, pick(fe.Proxy.Timeouts.HTTPRequest, fe.Proxy.Timeouts.Client))
		if err != nil {
			fe.Counters.ErrReq.Add(1)
			return
		}
		if ok {
			src, dst = s, d
		}
	}
	cs.cc = ClientConn{Frontend: fe, Src: src, Dst: dst, FD: cs.ec.Fd()}
	if !rt.admitConn(&cs.cc) {
		return
	}
	var tlsState *TLSConn
	var c net.Conn = ec
	var tt *h2.Transport
	if l.tls != nil {
		// TLS offload: the handshake must finish within the time allowed
		// for a request (timeout http-request, else client). Under it, a
		// Transport: HTTP/2 (ALPN h2) has crypto/tls write into a buffer.
		tt = h2.NewTransport(ec)
		tc := tls.Server(tt, l.tls.base)
		to := pick(fe.Proxy.Timeouts.HTTPRequest, fe.Proxy.Timeouts.Client)
		ec.SetReadTimeout(pick(to, 10*time.Second))
		ec.SetWriteTimeout(pick(to, 10*time.Second))
		start := time.Now()
		if err := tc.Handshake(); err != nil {
			fe.Counters.ErrReq.Add(1)
			rt.logHandshakeError(l, &cs.cc, start, err)
			rt.leaveConn(&cs.cc)
			return
		}
		ec.SetReadTimeout(0)
		ec.SetWriteTimeout(0)
		tlsState = &TLSConn{State: tc.ConnectionState()}
		tlsState.Client = l.tls.clientCheck(&tlsState.State)
		rt.handshaked(true, &tlsState.State)
		c = tc
	}
	done = true
	cs.ls.untrack(cs)
	if fe.Proxy.Mode == ModeHTTP && (l.bind.Proto == "h2" || (tlsState != nil && tlsState.State.NegotiatedProtocol == "h2")) {
		rt.serveH2(l, cs.ls, ec, c, tt, &cs.cc, tlsState, nil)
	} else if fe.Proxy.Mode == ModeHTTP {
		s := cs.ls.sessions.get()
		s.init(rt, l, cs.ls, ec, src, dst, tlsState)
		s.cc = cs.cc
		s.c = c
		s.cf.c = c
		s.serve()
	} else {
		rt.serveTCP(l, cs.ls, ec, c, &cs.cc, tlsState)
	}
}

// loopState is the engine's state on one event loop, touched only there.
type loopState struct {
	l     *evloop.Loop
	live  []liveConn // client connections, for soft and hard stops
	purge purgeTimer

	// Free lists (pools.go).
	bufs     *bufList // tune.bufsize: server connections' read buffers
	bigs     *bufList // bodyBufSize: large bodies
	parts    [partClasses]*bufList
	works    freeList[*work]
	sessions freeList[*session]
	servers  freeList[*serverConn]
	srv      []*serverConn // server connections of the loop (shutdown.go)
	scratch  [64]byte      // a peek at an idle server connection
}

// liveConn is a client connection a stop must reach.
type liveConn interface {
	// stop ends the connection (hard) or, on a soft stop, only if it is
	// idle between requests.
	stop(hard bool)
	liveIndex() *int
}

func (ls *loopState) track(c liveConn) {
	*c.liveIndex() = len(ls.live)
	ls.live = append(ls.live, c)
}

func (ls *loopState) untrack(c liveConn) {
	i := c.liveIndex()
	if *i < 0 || *i >= len(ls.live) || ls.live[*i] != c {
		return
	}
	last := len(ls.live) - 1
	ls.live[*i] = ls.live[last]
	*ls.live[*i].liveIndex() = *i
	ls.live[last] = nil
	ls.live = ls.live[:last]
	*i = -1
}

// stopAll stops every connection of the loop (on it).
func (ls *loopState) stopAll(hard bool) {
	// stop may untrack (shrinking the list): walk a copy.
	conns := append([]liveConn(nil), ls.live...)
	for _, c := range conns {
		c.stop(hard)
	}
}

// logHandshakeError logs a client connection whose TLS handshake failed,
// with HAProxy's connection error code (fc_err) and OpenSSL's reason
// (ssl_fc_err): the frontend's error-log-format, else its short line.
func (rt *Runtime) logHandshakeError(l *listener, cc *ClientConn, start time.Time, err error) {
	tx := &Txn{}
	tx.reset()
	tx.Frontend, tx.Bind, tx.Conn = l.fe, l.bind, cc
	tx.Src, tx.Dst, tx.SSL = cc.Src, cc.Dst, true
	tx.AcceptAt, tx.Th = start, time.Since(start)
	tx.Status = 0
	tx.ConnErr, tx.SSLErr = handshakeError(err)
	if l.fe.Proxy.Cap&CapBE != 0 {
		tx.Backend = rt.backends[l.fe.Proxy] // no stream: a listen section is its own backend
	}
	rt.logTxn(tx)
}
