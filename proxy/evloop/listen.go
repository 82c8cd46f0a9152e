package evloop

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"halo/proxy/rawtcp"

	"golang.org/x/sys/unix"
)

// Acceptor is told about each accepted connection, on the loop that
// accepted it.
type Acceptor interface {
	// Admit takes a connection slot (maxconn) if one is free; false
	// pauses the listener: connections wait in the kernel's backlog
	// until the engine calls Resume.
	Admit() bool
	// Unadmit gives back a slot Admit took when no connection came.
	Unadmit()
	// Accepted gets the new socket (non-blocking, TCP_NODELAY), the
	// bound address (invalid for a wildcard bind: the Conn asks the
	// kernel when needed) and the peer's address, with the slot Admit
	// took; it owns fd and registers it with l (Loop.Register) or closes
	// it.
	Accepted(l *Loop, fd int, local, remote netip.AddrPort)
}

// Listener is a listening socket served by every loop of a group: each
// loop has it in its epoll set with EPOLLEXCLUSIVE, so a new connection
// wakes a loop, which accepts it. The connection is then served by the
// loop with the fewest connections: the accepting one, or another one it
// hands the socket to (as HAProxy's listeners dispatch accepted
// connections to the least loaded thread). The kernel alone spreads them
// badly: the loops wait in Go's poller, on their epoll descriptors, so
// EPOLLEXCLUSIVE wakes them all and the one that is already running takes
// the whole burst (62 of 64 connections of a wrk start-up on one loop of
// two, which then saturates while the other idles).
type Listener struct {
	fd    int
	g     *Group
	a     Acceptor
	local netip.AddrPort // bound address, or invalid for a wildcard

	mu      sync.Mutex
	per     []*listenLoop
	closed  bool
	paused  atomic.Bool
	pending atomic.Int32 // loops yet to drop the socket before it is closed
	gone    chan struct{}
}

// listenLoop is the listener's registration on one loop.
type listenLoop struct {
	ln    *Listener
	l     *Loop
	c     *Conn // nil while detached
	retry Timer // re-attach after EMFILE
}

// maxAcceptBatch bounds accepts per event, so one loop does not take a
// whole burst while the others idle.
const maxAcceptBatch = 16

// Listen serves the listening socket fd on every loop of g; the Listener
// owns fd. Not on a loop (it waits for them).
func (g *Group) Listen(fd int, a Acceptor) (*Listener, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	ln := &Listener{fd: fd, g: g, a: a, gone: make(chan struct{})}
	if la := rawtcp.LocalAddr(fd); la.IsValid() && !la.Addr().IsUnspecified() {
		ln.local = la
	}
	for _, l := range g.loops {
		p := &listenLoop{ln: ln, l: l}
		p.retry.h = p
		ln.per = append(ln.per, p)
	}
	done := make(chan error, len(g.loops))
	for _, p := range ln.per {
		p.l.Post(func() { done <- p.attach() })
	}
	var first error
	for range g.loops {
		if err := <-done; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		ln.Close()
		return nil, first
	}
	return ln, nil
}

// attach registers the socket with the loop (on it).
func (p *listenLoop) attach() error {
	ln := p.ln
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if ln.closed || p.c != nil {
		return nil
	}
	c := &Conn{fd: ln.fd, l: p.l}
	c.rtm.h, c.wtm.h = c, c
	// Level-triggered: a loop that takes only part of a burst is told
	// again.
	if err := p.l.register(c, unix.EPOLLIN|unix.EPOLLEXCLUSIVE); err != nil {
		return err
	}
	c.h = p
	p.c = c
	return nil
}

// detach takes the socket out of the loop's epoll set (on it).
func (p *listenLoop) detach() {
	ln, l := p.ln, p.l
	ln.mu.Lock()
	c := p.c
	p.c = nil
	ln.mu.Unlock()
	l.wheel.del(&p.retry)
	if c == nil {
		return
	}
	epollCtl(l.epfd, unix.EPOLL_CTL_DEL, ln.fd, &unix.EpollEvent{})
	if l.conns[ln.fd] == c {
		l.conns[ln.fd] = nil
		l.nconns--
		l.load.Add(-1)
	}
	c.closed = true
}

// Ready accepts a batch of connections.
func (p *listenLoop) Ready(c *Conn, ev Event) {
	ln, l := p.ln, p.l
	var rsa unix.RawSockaddrAny
	for i := 0; i < maxAcceptBatch; i++ {
		if !ln.a.Admit() {
			ln.Pause()
			// A slot freed between the check and the pause would
			// find nothing to resume: check again.
			if ln.a.Admit() {
				ln.a.Unadmit()
				ln.Resume()
			}
			return
		}
		fd, err := rawtcp.Accept(ln.fd, &rsa)
		if err != nil {
			ln.a.Unadmit()
			if err == unix.EAGAIN {
				return
			}
			// EMFILE and friends: stop accepting on this loop for a
			// while (level-triggered, it would spin), as HAProxy
			// pauses a listener that hit a limit.
			p.detach()
			l.wheel.add(&p.retry, l.now+int64(100*time.Millisecond))
			return
		}
		remote := rawtcp.AddrOf(&rsa)
		if t := ln.g.lightest(l); t != l && t.handoff(ln, fd, remote) {
			continue
		}
		ln.a.Accepted(l, fd, ln.local, remote)
	}
}

// Expire re-attaches after a pause on EMFILE.
func (p *listenLoop) Expire(*Timer) {
	if !p.ln.paused.Load() {
		p.attach()
	}
}

// Local is the bound address (invalid for a wildcard bind: ask the
// accepted socket).
func (ln *Listener) Local() netip.AddrPort { return ln.local }

// Pause stops accepting on every loop (maxconn reached): connections wait
// in the kernel's backlog. Safe from any goroutine.
func (ln *Listener) Pause() {
	if !ln.paused.CompareAndSwap(false, true) {
		return
	}
	for _, p := range ln.per {
		p.l.Post(p.detach)
	}
}

// Resume starts accepting again after Pause. Safe from any goroutine.
func (ln *Listener) Resume() {
	if !ln.paused.CompareAndSwap(true, false) {
		return
	}
	for _, p := range ln.per {
		p.l.Post(func() {
			if !ln.paused.Load() {
				p.attach()
			}
		})
	}
}

// Paused reports whether the listener is paused.
func (ln *Listener) Paused() bool { return ln.paused.Load() }

// Close stops listening: every loop drops the socket, the last one
// closes it. Safe from any goroutine; Gone is closed once the socket is.
func (ln *Listener) Close() error {
	ln.mu.Lock()
	if ln.closed {
		ln.mu.Unlock()
		return nil
	}
	ln.closed = true
	ln.mu.Unlock()
	ln.pending.Store(int32(len(ln.per)))
	for _, p := range ln.per {
		p.l.Post(func() {
			p.detach()
			if ln.pending.Add(-1) == 0 {
				unix.Close(ln.fd)
				close(ln.gone)
			}
		})
	}
	return nil
}

// Dup returns a duplicate of the listening socket (close-on-exec), to
// hand it to another process on a reload; an error once it is closed.
func (ln *Listener) Dup() (int, error) {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if ln.closed {
		return -1, net.ErrClosed
	}
	return unix.FcntlInt(uintptr(ln.fd), unix.F_DUPFD_CLOEXEC, 0)
}

// Gone is closed when the socket is closed (after Close).
func (ln *Listener) Gone() <-chan struct{} { return ln.gone }
