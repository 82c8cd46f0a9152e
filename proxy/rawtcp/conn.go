// Package rawtcp is a net.Conn over a raw non-blocking TCP socket that
// joins Go's network poller only when it has to wait.
//
// Why: a short HTTP connection (one request, then close) through net.Conn
// pays, per socket, an epoll_ctl add and delete, a finalizer, a poller
// descriptor, getsockname/getpeername, a timer per deadline change and,
// for dials, a context, a timer and an address resolution. Measured with
// lbbench http-close that was a quarter of the proxy's CPU per connection.
// Here a socket is read and written with plain syscalls; only when one
// returns EAGAIN is the descriptor handed to the poller (os.NewFile), and
// deadlines are armed on it then. Most client sockets of short connections
// never wait: their request is already there when they are accepted.
package rawtcp

import (
	"errors"
	"io"
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

// closedBit marks a closed Conn in state; the rest counts operations in
// flight (each holds the descriptor open).
const closedBit = 1

// Conn is a TCP connection on a raw descriptor. Its methods are safe for
// concurrent use as net.Conn's are: one reader and one writer at a time,
// Close and deadline changes from anywhere.
type Conn struct {
	fd        int
	state     atomic.Int64 // refs<<1 | closedBit
	destroyed atomic.Bool

	// rdl and wdl are the deadlines in Unix nanoseconds (0: none;
	// negated: already past when set), read without the lock by the
	// syscall fast path.
	rdl, wdl atomic.Int64

	mu sync.Mutex // guards f and rc (set once, on the first wait)
	f  *os.File
	rc syscall.RawConn

	// The poller's callbacks, bound once at registration, and their
	// arguments and results: one Read and one Write at a time, as the
	// engine uses a connection, so waiting allocates nothing.
	readFn, writeFn func(uintptr) bool
	rp, wp          []byte
	rn, wdone       int
	rerr, werr      error

	laddr, raddr netip.AddrPort
}

// New wraps a connected non-blocking socket; the Conn owns fd.
func New(fd int, local, remote netip.AddrPort) *Conn {
	return &Conn{fd: fd, laddr: local, raddr: remote}
}

func (c *Conn) incref() bool {
	if c.state.Add(2)&closedBit != 0 {
		c.decref()
		return false
	}
	return true
}

func (c *Conn) decref() {
	if c.state.Add(-2) == closedBit {
		c.destroy()
	}
}

// destroy releases the descriptor exactly once.
func (c *Conn) destroy() {
	if !c.destroyed.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	f := c.f
	c.mu.Unlock()
	if f != nil {
		f.Close()
		return
	}
	unix.Close(c.fd)
}

// poller returns the poller registration, creating it on first use.
func (c *Conn) poller() (syscall.RawConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load()&closedBit != 0 {
		return nil, net.ErrClosed
	}
	if c.rc != nil {
		return c.rc, nil
	}
	// os.NewFile sees a non-blocking descriptor and registers it with
	// the poller; epoll reports readiness that predates the
	// registration, so nothing that arrived meanwhile is missed.
	f := os.NewFile(uintptr(c.fd), "tcp")
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	if d := c.rdl.Load(); d != 0 {
		_ = f.SetReadDeadline(deadlineTime(d))
	}
	if d := c.wdl.Load(); d != 0 {
		_ = f.SetWriteDeadline(deadlineTime(d))
	}
	c.readFn, c.writeFn = c.tryRead, c.tryWrite
	c.f, c.rc = f, rc
	return rc, nil
}

func (c *Conn) registered() syscall.RawConn {
	c.mu.Lock()
	rc := c.rc
	c.mu.Unlock()
	return rc
}

// expired reports a deadline that had already passed when it was set
// (stored negated). One that passes later counts only when the operation
// has to wait, in the poller: a timeout is inactivity, and data already
// there is not inactivity. This spares a clock read per syscall.
func expired(d int64) bool { return d < 0 }

// deadlineTime is the time of a stored deadline (0: none).
func deadlineTime(d int64) time.Time {
	if d < 0 {
		d = -d
	}
	return time.Unix(0, d)
}

// mapErr turns the poller's errors into net.Conn's.
func (c *Conn) mapErr(err error) error {
	if c.state.Load()&closedBit != 0 || errors.Is(err, os.ErrClosed) {
		return net.ErrClosed
	}
	return err
}

// Read reads into p; 0, io.EOF at the peer's end of stream.
func (c *Conn) Read(p []byte) (int, error) {
	if !c.incref() {
		return 0, net.ErrClosed
	}
	defer c.decref()
	if len(p) == 0 {
		return 0, nil
	}
	rc := c.registered()
	if rc == nil {
		if expired(c.rdl.Load()) {
			return 0, os.ErrDeadlineExceeded
		}
		n, err := readFd(c.fd, p)
		if err != unix.EAGAIN {
			return result(n, err)
		}
		var perr error
		if rc, perr = c.poller(); perr != nil {
			return 0, perr
		}
	}
	c.rp = p
	err := rc.Read(c.readFn)
	c.rp = nil
	if err != nil {
		return 0, c.mapErr(err)
	}
	return result(c.rn, c.rerr)
}

func (c *Conn) tryRead(fd uintptr) bool {
	c.rn, c.rerr = readFd(int(fd), c.rp)
	return c.rerr != unix.EAGAIN
}

func (c *Conn) tryWrite(fd uintptr) bool {
	c.werr = nil
	for c.wdone < len(c.wp) {
		n, err := writeFd(int(fd), c.wp[c.wdone:])
		if n > 0 {
			c.wdone += n
		}
		if err != nil {
			c.werr = err
			return err != unix.EAGAIN
		}
	}
	return true
}

func readFd(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		if err != unix.EINTR {
			return n, err
		}
	}
}

func result(n int, err error) (int, error) {
	if err != nil {
		return 0, os.NewSyscallError("read", err)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p unless an error or the deadline stops it.
func (c *Conn) Write(p []byte) (int, error) {
	if !c.incref() {
		return 0, net.ErrClosed
	}
	defer c.decref()
	done := 0
	for done < len(p) {
		rc := c.registered()
		if rc == nil {
			if expired(c.wdl.Load()) {
				return done, os.ErrDeadlineExceeded
			}
			n, err := writeFd(c.fd, p[done:])
			if n > 0 {
				done += n
			}
			if err == nil {
				continue
			}
			if err != unix.EAGAIN {
				return done, os.NewSyscallError("write", err)
			}
			var perr error
			if rc, perr = c.poller(); perr != nil {
				return done, perr
			}
		}
		c.wp, c.wdone = p, done
		err := rc.Write(c.writeFn)
		serr := c.werr
		done = c.wdone
		c.wp = nil
		if err != nil {
			return done, c.mapErr(err)
		}
		if serr != nil && serr != unix.EAGAIN {
			return done, os.NewSyscallError("write", serr)
		}
	}
	return done, nil
}

// writeFd sends with MSG_NOSIGNAL, as HAProxy does: a peer that reset
// the connection gives EPIPE without a SIGPIPE to field.
func writeFd(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), nil
	}
}

// Close closes the connection; operations in flight end with
// net.ErrClosed (a waiting one is woken by the poller).
func (c *Conn) Close() error {
	c.mu.Lock()
	old := c.state.Or(closedBit)
	f := c.f
	c.mu.Unlock()
	if old&closedBit != 0 {
		return net.ErrClosed
	}
	if old == 0 {
		c.destroy()
		return nil
	}
	// Operations in flight keep the descriptor (the last one releases
	// it, so its number cannot be reused under a raw syscall); one
	// waiting in the poller is woken by a deadline in the past.
	if f != nil {
		_ = f.SetDeadline(aLongTimeAgo)
	}
	return nil
}

var aLongTimeAgo = time.Unix(1, 0)

// CloseWrite shuts down the sending side (FIN).
func (c *Conn) CloseWrite() error {
	if !c.incref() {
		return net.ErrClosed
	}
	defer c.decref()
	return os.NewSyscallError("shutdown", unix.Shutdown(c.fd, unix.SHUT_WR))
}

// SetLinger sets SO_LINGER as net.TCPConn.SetLinger does (0: reset on
// close).
func (c *Conn) SetLinger(sec int) error {
	if !c.incref() {
		return net.ErrClosed
	}
	defer c.decref()
	l := unix.Linger{Onoff: 1, Linger: int32(sec)}
	if sec < 0 {
		l = unix.Linger{}
	}
	return os.NewSyscallError("setsockopt", unix.SetsockoptLinger(c.fd, unix.SOL_SOCKET, unix.SO_LINGER, &l))
}

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline (zero: none).
func (c *Conn) SetReadDeadline(t time.Time) error {
	return c.setDeadline(&c.rdl, t, (*os.File).SetReadDeadline)
}

// SetWriteDeadline sets the write deadline (zero: none).
func (c *Conn) SetWriteDeadline(t time.Time) error {
	return c.setDeadline(&c.wdl, t, (*os.File).SetWriteDeadline)
}

func (c *Conn) setDeadline(dst *atomic.Int64, t time.Time, apply func(*os.File, time.Time) error) error {
	var d int64
	if !t.IsZero() {
		d = t.UnixNano()
		if d <= 0 {
			d = 1
		}
		if !t.After(time.Now()) {
			d = -d
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load()&closedBit != 0 {
		return net.ErrClosed
	}
	dst.Store(d)
	if c.f != nil {
		return apply(c.f, t)
	}
	return nil
}

// LocalAddr is the local address.
func (c *Conn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.Local()) }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.raddr) }

// Local is the local address; a dialed socket asks the kernel the first
// time (most connections never need it).
func (c *Conn) Local() netip.AddrPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.laddr.IsValid() && c.state.Load()&closedBit == 0 {
		if sa, err := unix.Getsockname(c.fd); err == nil {
			c.laddr = fromSockaddr(sa)
		}
	}
	return c.laddr
}

// Remote is the peer's address.
func (c *Conn) Remote() netip.AddrPort { return c.raddr }
