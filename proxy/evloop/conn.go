package evloop

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"halo/proxy/rawtcp"

	"golang.org/x/sys/unix"
)

// Event is what a parked connection's handler is told.
type Event uint8

const (
	// EvRead: readable, or the peer closed or reset (a read says which).
	EvRead Event = 1 << iota
	// EvWrite: writable again.
	EvWrite
	// EvTimeout: the park deadline passed.
	EvTimeout
)

// Handler receives the events of a parked connection (one no task is
// waiting on), on the loop goroutine. It must not block: to do
// blocking-style work it starts a task (Loop.Go).
type Handler interface {
	Ready(c *Conn, ev Event)
}

// ErrWouldBlock is returned by Read and Write in non-blocking mode
// (SetNonblock) instead of waiting. It is a timeout (net.Error) so that
// crypto/tls keeps the connection usable after it.
var ErrWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "evloop: operation would block" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// Conn is a non-blocking TCP socket registered with a loop. It is a
// net.Conn for code running in a task of its loop: Read and Write wait by
// yielding the task (never a goroutine parked in Go's poller), deadlines
// are timers on the loop's wheel. Readiness is tracked edge-triggered: a
// short read or write means the socket is drained or full, and the next
// attempt waits for the kernel's event instead of failing with EAGAIN.
//
// All methods run on the loop (in a task or a handler) except Post'ed
// closes (CloseAsync) and the blocking mode (SetBlocking) used while the
// owning task is offloaded.
type Conn struct {
	fd  int
	gen uint32
	l   *Loop

	rready, wready bool // the socket may have data / room
	hup            bool // peer closed or error: reads never wait again
	closed         bool
	nonblock       bool // Read/Write return ErrWouldBlock instead of waiting
	blocking       bool // off the loop: wait in poll(2)

	rtask, wtask *Task // tasks waiting for readiness
	h            Handler

	rdl, wdl int64 // deadlines (loop nanoseconds, 0: none)
	rtm, wtm Timer // rtm also times a parked connection

	laddr, raddr netip.AddrPort
}

// Register adopts a connected non-blocking socket. The Conn owns fd. Only
// on the loop.
func (l *Loop) Register(fd int, local, remote netip.AddrPort) (*Conn, error) {
	c := new(Conn)
	if err := l.Adopt(c, fd, local, remote); err != nil {
		return nil, err
	}
	return c, nil
}

// Adopt is Register into c, a Conn the caller provides: zero, or closed
// and no longer used (a Conn embedded in a pooled object is reused
// this way, without an allocation per connection). On error fd is not
// closed.
func (l *Loop) Adopt(c *Conn, fd int, local, remote netip.AddrPort) error {
	*c = Conn{fd: fd, l: l, wready: true, laddr: local, raddr: remote}
	c.rtm.h, c.wtm.h = c, c
	return l.register(c, unix.EPOLLIN|unix.EPOLLOUT|unix.EPOLLRDHUP|unix.EPOLLET)
}

// Loop is the connection's loop.
func (c *Conn) Loop() *Loop { return c.l }

// Fd is the descriptor (valid until Close).
func (c *Conn) Fd() int { return c.fd }

// Closed reports whether Close was called.
func (c *Conn) Closed() bool { return c.closed }

func (c *Conn) event(ev uint32) {
	var got Event
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.rready = true
		got |= EvRead
		if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			c.hup = true
		}
	}
	if ev&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.wready = true
		got |= EvWrite
	}
	l := c.l
	if c.rtask == nil && c.wtask == nil {
		if c.h != nil {
			c.h.Ready(c, got)
		}
		return
	}
	// A task owns the connection: wake whoever waits for what came.
	if t := c.rtask; t != nil && c.rready {
		c.rtask = nil
		l.wheel.del(&c.rtm)
		l.resume(t, wakeReady)
	}
	if t := c.wtask; t != nil && c.wready && !c.closed {
		c.wtask = nil
		l.wheel.del(&c.wtm)
		l.resume(t, wakeReady)
	}
}

// Expire implements TimerHandler: a deadline of a waiting task, or the
// park deadline.
func (c *Conn) Expire(t *Timer) {
	l := c.l
	if t == &c.wtm {
		if w := c.wtask; w != nil {
			c.wtask = nil
			l.resume(w, wakeTimeout)
		}
		return
	}
	if r := c.rtask; r != nil {
		c.rtask = nil
		l.resume(r, wakeTimeout)
		return
	}
	if c.h != nil && !c.closed {
		c.h.Ready(c, EvTimeout)
	}
}

// Park hands the connection to h until its next event, or until
// deadline (loop nanoseconds; 0: none) when h gets EvTimeout. Events
// already pending (data that arrived while a task owned the connection)
// are delivered at once, after the running task yields.
func (c *Conn) Park(h Handler, deadline int64) {
	c.h = h
	if deadline > 0 {
		c.l.wheel.add(&c.rtm, deadline)
	} else {
		c.l.wheel.del(&c.rtm)
	}
	if c.rready {
		// No new edge will come for what is already there.
		c.l.pend = append(c.l.pend, c)
	}
}

// Unpark takes the connection back from its handler (a task owns it now).
func (c *Conn) Unpark() {
	c.h = nil
	c.l.wheel.del(&c.rtm)
}

// Readable reports whether a read may find data (or the end of stream)
// without waiting.
func (c *Conn) Readable() bool { return c.rready }

// SetNonblock makes Read and Write return ErrWouldBlock instead of
// waiting (to try a read, e.g. through crypto/tls, before parking).
func (c *Conn) SetNonblock(on bool) { c.nonblock = on }

// SetBlocking switches Read and Write to waiting in poll(2) on the
// calling goroutine, for use off the loop while the owning task is
// offloaded (Loop.Offload). Switch it back before the task resumes.
func (c *Conn) SetBlocking(on bool) { c.blocking = on }

// Read reads into p; 0, io.EOF at the peer's end of stream.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.closed {
			return 0, net.ErrClosed
		}
		if c.blocking {
			return c.readBlocking(p)
		}
		if c.rready {
			n, err := rawtcp.Recv(c.fd, p)
			if err == nil {
				if n == 0 {
					return 0, io.EOF
				}
				if n < len(p) && !c.hup {
					// Edge-triggered: anything arriving after this
					// read raises a new event.
					c.rready = false
				}
				return n, nil
			}
			if err != unix.EAGAIN {
				return 0, os.NewSyscallError("read", err)
			}
			c.rready = false
		}
		if c.nonblock {
			return 0, ErrWouldBlock
		}
		if err := c.wait(&c.rtask, &c.rtm, c.rdl); err != nil {
			return 0, err
		}
	}
}

// Write writes all of p unless an error or a deadline stops it.
func (c *Conn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		if c.closed {
			return done, net.ErrClosed
		}
		if c.blocking {
			n, err := c.writeBlocking(p[done:])
			return done + n, err
		}
		if c.wready {
			n, err := rawtcp.Send(c.fd, p[done:])
			done += n
			if err == nil {
				if done < len(p) {
					c.wready = false // full: wait for room
				}
				continue
			}
			if err != unix.EAGAIN {
				return done, os.NewSyscallError("write", err)
			}
			c.wready = false
		}
		if c.nonblock {
			return done, ErrWouldBlock
		}
		if err := c.wait(&c.wtask, &c.wtm, c.wdl); err != nil {
			return done, err
		}
	}
	return done, nil
}

// wait parks the running task until the event, the deadline or a close.
func (c *Conn) wait(slot **Task, tm *Timer, dl int64) error {
	l := c.l
	t := l.cur
	if t == nil {
		// On the loop itself (a handler, a stop): never wait.
		return ErrWouldBlock
	}
	if dl != 0 && dl <= l.now {
		return os.ErrDeadlineExceeded
	}
	if *slot != nil {
		panic("evloop: two tasks wait on one direction of a connection")
	}
	*slot = t
	if dl != 0 {
		l.wheel.add(tm, dl)
	}
	why := t.park()
	switch why {
	case wakeTimeout:
		return os.ErrDeadlineExceeded
	case wakeClosed:
		return net.ErrClosed
	}
	return nil
}

// WaitRead waits (in a task) until the connection is readable, the read
// deadline passes or it is closed, without reading.
func (c *Conn) WaitRead() error {
	if c.closed {
		return net.ErrClosed
	}
	if c.rready {
		return nil
	}
	return c.wait(&c.rtask, &c.rtm, c.rdl)
}

// WaitWrite waits (in a task) until the connection is writable.
func (c *Conn) WaitWrite() error {
	if c.closed {
		return net.ErrClosed
	}
	if c.wready {
		return nil
	}
	return c.wait(&c.wtask, &c.wtm, c.wdl)
}

// NotWritable records that a write found the socket full (splice).
func (c *Conn) NotWritable() { c.wready = false }

// NotReadable records that a read found the socket empty (splice).
func (c *Conn) NotReadable() {
	if !c.hup {
		c.rready = false
	}
}

// Writable reports whether a write may make progress without waiting.
func (c *Conn) Writable() bool { return c.wready }

func (c *Conn) readBlocking(p []byte) (int, error) {
	for {
		n, err := rawtcp.Recv(c.fd, p)
		if err == nil {
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		if err != unix.EAGAIN {
			return 0, os.NewSyscallError("read", err)
		}
		if err := c.poll(unix.POLLIN, c.rdl); err != nil {
			return 0, err
		}
	}
}

func (c *Conn) writeBlocking(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := rawtcp.Send(c.fd, p[done:])
		done += n
		if err == nil {
			continue
		}
		if err != unix.EAGAIN {
			return done, os.NewSyscallError("write", err)
		}
		if err := c.poll(unix.POLLOUT, c.wdl); err != nil {
			return done, err
		}
	}
	return done, nil
}

func (c *Conn) poll(ev int16, dl int64) error {
	timeout := -1
	if dl != 0 {
		d := dl - int64(time.Since(c.l.base))
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		timeout = int((d + int64(time.Millisecond) - 1) / int64(time.Millisecond))
	}
	fds := []unix.PollFd{{Fd: int32(c.fd), Events: ev}}
	for {
		n, err := unix.Poll(fds, timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("poll", err)
		}
		if n == 0 {
			return os.ErrDeadlineExceeded
		}
		return nil
	}
}

// Close closes the socket. Tasks waiting on it resume with
// net.ErrClosed (after the running one yields). Only on the loop.
func (c *Conn) Close() error {
	if c.closed {
		return net.ErrClosed
	}
	c.closed = true
	l := c.l
	if c.fd < len(l.conns) && l.conns[c.fd] == c {
		l.conns[c.fd] = nil
		l.nconns--
		l.load.Add(-1)
	}
	l.wheel.del(&c.rtm)
	l.wheel.del(&c.wtm)
	c.h = nil
	if t := c.rtask; t != nil {
		c.rtask = nil
		l.queue(t, wakeClosed)
	}
	if t := c.wtask; t != nil {
		c.wtask = nil
		l.queue(t, wakeClosed)
	}
	// close(2) also takes the socket out of the epoll set.
	rawtcp.Close(c.fd)
	return nil
}

// CloseAsync closes the connection from any goroutine (on its loop).
func (c *Conn) CloseAsync() { c.l.Post(func() { c.Close() }) }

// CloseWrite shuts down the sending side (FIN).
func (c *Conn) CloseWrite() error {
	if c.closed {
		return net.ErrClosed
	}
	return os.NewSyscallError("shutdown", rawtcp.Shutdown(c.fd, unix.SHUT_WR))
}

// SetLinger sets SO_LINGER (0: reset on close).
func (c *Conn) SetLinger(sec int) error {
	if c.closed {
		return net.ErrClosed
	}
	return os.NewSyscallError("setsockopt", rawtcp.SetLinger(c.fd, sec))
}

// SetReadTimeout sets the read deadline to now + d (d <= 0: none): the
// engine's inactivity timeouts, with no clock read.
func (c *Conn) SetReadTimeout(d time.Duration) { c.rdl = c.l.Deadline(d) }

// SetWriteTimeout sets the write deadline to now + d (d <= 0: none).
func (c *Conn) SetWriteTimeout(d time.Duration) { c.wdl = c.l.Deadline(d) }

// SetReadDeadlineMono sets the read deadline in loop nanoseconds (0: none).
func (c *Conn) SetReadDeadlineMono(dl int64) { c.rdl = dl }

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rdl = c.l.Mono(t)
	c.wdl = c.rdl
	return nil
}

// SetReadDeadline sets the read deadline (zero: none).
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.rdl = c.l.Mono(t)
	return nil
}

// SetWriteDeadline sets the write deadline (zero: none).
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wdl = c.l.Mono(t)
	return nil
}

// Local is the local address; a dialed socket asks the kernel the first
// time.
func (c *Conn) Local() netip.AddrPort {
	if !c.laddr.IsValid() && !c.closed {
		c.laddr = rawtcp.LocalAddr(c.fd)
	}
	return c.laddr
}

// Remote is the peer's address.
func (c *Conn) Remote() netip.AddrPort { return c.raddr }

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.Local()) }

// RemoteAddr implements net.Conn.
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.raddr) }

var _ net.Conn = (*Conn)(nil)

func errClosed() error { return net.ErrClosed }

// Dial connects to dst from the running task within timeout (0: none).
// The connection is registered with the task's loop.
func (l *Loop) Dial(dst netip.AddrPort, timeout time.Duration) (*Conn, error) {
	c := new(Conn)
	if err := l.DialInto(c, dst, timeout); err != nil {
		return nil, err
	}
	return c, nil
}

// DialInto is Dial into c (see Adopt). On error c is closed.
func (l *Loop) DialInto(c *Conn, dst netip.AddrPort, timeout time.Duration) error {
	fd, err := rawtcp.Connect(dst)
	if err != nil {
		return dialErr(dst, err)
	}
	if err := l.Adopt(c, fd, netip.AddrPort{}, dst); err != nil {
		rawtcp.Close(fd)
		c.closed = true
		return dialErr(dst, err)
	}
	for {
		done, cerr := rawtcp.Connected(fd)
		if done {
			if cerr != nil {
				c.Close()
				return dialErr(dst, cerr)
			}
			c.wready = true
			return nil
		}
		c.wready = false
		old := c.wdl
		c.wdl = l.Deadline(timeout)
		werr := c.WaitWrite()
		c.wdl = old
		if werr != nil {
			c.Close()
			return dialErr(dst, werr)
		}
	}
}

// DialUnix connects to the UNIX stream socket at path ("@name":
// abstract) from the running task. A local connect completes at once or
// fails (EAGAIN: the listener's backlog is full, as Go's net says).
func (l *Loop) DialUnix(path string, timeout time.Duration) (*Conn, error) {
	c := new(Conn)
	if err := l.DialUnixInto(c, path, timeout); err != nil {
		return nil, err
	}
	return c, nil
}

// DialUnixInto is DialUnix into c (see Adopt).
func (l *Loop) DialUnixInto(c *Conn, path string, timeout time.Duration) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		c.closed = true
		return os.NewSyscallError("socket", err)
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		c.closed = true
		return &net.OpError{Op: "dial", Net: "unix", Addr: &net.UnixAddr{Name: path, Net: "unix"}, Err: os.NewSyscallError("connect", err)}
	}
	if err := l.Adopt(c, fd, netip.AddrPort{}, netip.AddrPort{}); err != nil {
		unix.Close(fd)
		c.closed = true
		return err
	}
	return nil
}

func dialErr(dst netip.AddrPort, err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		err = os.NewSyscallError("connect", errno)
	}
	return &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(dst), Err: err}
}
