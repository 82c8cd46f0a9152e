package h2

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"time"

	"halo/proxy/evloop"
)

// The driver runs a Conn over its socket on the socket's event loop. The
// socket stays parked with the driver as its handler for the
// connection's whole life: readiness makes the handler read what is
// there (never waiting) and feed it to the Conn; output produced by
// anyone (the Conn's answers, streams' tasks) is written once per loop
// iteration by a timer due at once, in non-blocking writes, the rest
// waiting for the socket's write readiness. Under TLS, crypto/tls writes
// into a Transport's buffer (never into the socket, so it never waits)
// and reads from the socket without waiting (a timeout error, which
// crypto/tls survives).

// Pool lends the driver its read buffers (ReadBufSize bytes at least)
// and takes them back; nil: the driver allocates them.
type Pool interface {
	Get() []byte
	Put([]byte)
}

// ReadBufSize is the read buffer a connection with SETTINGS_MAX_FRAME_SIZE
// maxFrame needs: a whole frame always fits.
func ReadBufSize(maxFrame uint32) int {
	n := 32 << 10
	for n < int(maxFrame)+frameHeaderLen {
		n <<= 1
	}
	return n
}

// Transport is the socket under crypto/tls for a connection that may
// turn out to speak HTTP/2: until Buffer it passes reads and writes to
// the socket (the handshake, an HTTP/1.1 session), after it keeps what
// crypto/tls writes for the driver to send.
type Transport struct {
	*evloop.Conn
	buffered bool
	out      []byte
	off      int
}

// NewTransport wraps ec.
func NewTransport(ec *evloop.Conn) *Transport { return &Transport{Conn: ec} }

// Write implements net.Conn.
func (t *Transport) Write(p []byte) (int, error) {
	if !t.buffered {
		return t.Conn.Write(p)
	}
	t.out = append(t.out, p...)
	return len(p), nil
}

var _ net.Conn = (*Transport)(nil)

type driverState uint8

const (
	stateLive    driverState = iota
	stateClosing             // output drains, input is dropped, then FIN
	stateLinger              // FIN sent: reading until the peer's, briefly
	stateDead                // socket closed; waiting for the tasks
)

// driver is what Server and Client share.
type driver struct {
	Conn
	ec   *evloop.Conn
	tc   *tls.Conn  // nil in clear
	tt   *Transport // under tc
	pool Pool
	rbuf []byte
	rr   int
	rw   int

	state        driverState
	writeBlocked bool
	flushTm      drvTimer
	resumeTm     drvTimer  // go on reading after the read budget
	pend         []*Stream // opened during a Feed, started after it
	lastRead     time.Time
	deadlineAt   time.Time // linger's end

	// onEnd runs once the socket is closed and no task holds a stream.
	onEnd func()
	ended bool
}

// readBudget bounds the bytes read in one go, so one busy connection does
// not starve the loop's others.
const readBudget = 256 << 10

func (d *driver) setup(ec *evloop.Conn, tc *tls.Conn, tt *Transport, pool Pool) {
	d.ec, d.tc, d.tt, d.pool = ec, tc, tt, pool
	d.flushTm.d, d.resumeTm.d, d.resumeTm.read = d, d, true
	d.Conn.onOutput = d.wantFlush
	d.Conn.onDone = d.taskDone
	ec.SetNonblock(true)
	if tt != nil {
		tt.buffered = true
	}
}

// wantFlush arms the flush for the end of the loop's iteration.
func (d *driver) wantFlush() {
	if !d.flushTm.Armed() && d.state < stateLinger {
		d.ec.Loop().AddTimer(&d.flushTm.Timer, &d.flushTm, 0)
	}
}

// drvTimer is one of the driver's timers (due at once: the end of the
// loop's iteration).
type drvTimer struct {
	evloop.Timer
	d    *driver
	read bool
}

func (t *drvTimer) Expire(*evloop.Timer) {
	if t.read {
		t.d.read()
	} else {
		t.d.flush()
	}
}

// Ready implements evloop.Handler.
func (d *driver) Ready(_ *evloop.Conn, ev evloop.Event) {
	if ev&evloop.EvTimeout != 0 {
		d.timeout()
		return
	}
	if ev&evloop.EvWrite != 0 && d.writeBlocked {
		d.flush()
	}
	if ev&evloop.EvRead != 0 {
		d.read()
	}
}

func (d *driver) readWire(p []byte) (int, error) {
	if d.tc != nil {
		return d.tc.Read(p)
	}
	return d.ec.Read(p)
}

// read reads and processes what the socket holds. Once the connection
// is closing, what the peer still sends is read and dropped: a peer
// blocked writing into a full socket might never read our GOAWAY.
func (d *driver) read() {
	budget := readBudget
	for d.state <= stateLinger {
		if d.rbuf == nil {
			d.rbuf = d.getBuf()
		}
		n, err := d.readWire(d.rbuf[d.rw:])
		if n > 0 {
			d.lastRead = d.ec.Loop().Now()
			if budget -= n; budget <= 0 {
				if d.state == stateLive {
					d.rw += n
					d.process()
				}
				// More may be there (in the socket or in crypto/tls's
				// buffers): go on after the others had their turn. The
				// socket stays parked as it is: parking it again while
				// it is readable would run us again at once.
				d.ec.Loop().AddTimer(&d.resumeTm.Timer, &d.resumeTm, 0)
				return
			}
			if d.state != stateLive {
				continue // dropped: the connection is over
			}
			d.rw += n
			d.process()
			continue
		}
		if err == nil {
			continue
		}
		if errors.Is(err, evloop.ErrWouldBlock) {
			break
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			break
		}
		// The peer closed or reset the connection.
		d.peerGone()
		return
	}
	d.releaseRead()
	d.arm()
}

// process feeds the buffered bytes to the Conn and starts the streams
// they opened.
func (d *driver) process() {
	c := &d.Conn
	k := c.Feed(d.rbuf[d.rr:d.rw], d.ec.Loop().Now())
	d.rr += k
	if d.rr == d.rw {
		d.rr, d.rw = 0, 0
	} else if d.rr > 0 {
		d.rw = copy(d.rbuf, d.rbuf[d.rr:d.rw])
		d.rr = 0
	}
	d.startPending()
	if c.Err != nil && d.state == stateLive {
		d.state = stateClosing
		d.rr, d.rw = 0, 0
		d.wantFlush()
	}
}

// startPending starts a task for each stream the last Feed opened.
func (d *driver) startPending() {
	l := d.ec.Loop()
	for i := 0; i < len(d.pend); i++ {
		s := d.pend[i]
		d.pend[i] = nil
		l.Go(s.runFn)
	}
	d.pend = d.pend[:0]
}

func (d *driver) getBuf() []byte {
	if d.pool != nil {
		return d.pool.Get()
	}
	return make([]byte, ReadBufSize(d.set.MaxFrameSize))
}

// releaseRead gives the read buffer back while nothing is pending in it.
func (d *driver) releaseRead() {
	if d.rbuf != nil && d.rw == 0 {
		if d.pool != nil {
			d.pool.Put(d.rbuf)
		}
		d.rbuf = nil
	}
}

// flush writes the pending output without waiting; the rest waits for
// the socket's write readiness.
func (d *driver) flush() {
	if d.state >= stateLinger {
		return
	}
	c := &d.Conn
	for {
		var p []byte
		if d.tt != nil {
			if c.outOff < len(c.out) {
				// Never waits: the records go into the Transport.
				_, _ = d.tc.Write(c.out[c.outOff:])
				c.out, c.outOff = c.out[:0], 0
			}
			p = d.tt.out[d.tt.off:]
		} else {
			p = c.out[c.outOff:]
		}
		if len(p) == 0 {
			break
		}
		n, err := d.ec.Write(p)
		if d.tt != nil {
			d.tt.off += n
			if d.tt.off == len(d.tt.out) {
				d.tt.out, d.tt.off = d.tt.out[:0], 0
			}
		} else {
			c.outOff += n
		}
		if err != nil {
			if errors.Is(err, evloop.ErrWouldBlock) {
				d.blocked()
				return
			}
			d.kill(err)
			return
		}
	}
	if d.tt == nil {
		c.out, c.outOff = c.out[:0], 0
	}
	c.backlog = 0
	d.writeBlocked = false
	d.shrink()
	c.drain.Broadcast(d.ec.Loop())
	if d.state == stateClosing {
		d.shutdown()
		return
	}
	d.arm()
}

// blocked notes a socket that takes no more for now.
func (d *driver) blocked() {
	c := &d.Conn
	if d.tt != nil {
		c.backlog = len(d.tt.out) - d.tt.off
	} else if c.outOff > len(c.out)/2 {
		n := copy(c.out, c.out[c.outOff:])
		c.out, c.outOff = c.out[:n], 0
	}
	if !d.writeBlocked {
		d.writeBlocked = true
		d.arm()
	}
	if c.Unsent() < outRoom {
		c.drain.Broadcast(d.ec.Loop())
	}
}

// shrink lets big output buffers go once they are drained.
func (d *driver) shrink() {
	if cap(d.Conn.out) > 256<<10 {
		d.Conn.out = nil
	}
	if d.tt != nil && cap(d.tt.out) > 256<<10 {
		d.tt.out = nil
	}
}

// arm sets the connection's deadline for its state: a write that does
// not progress (the write timeout), the preface, an idle connection
// (no stream: the idle timeout), none while streams run (their tasks
// have their own).
func (d *driver) arm() {
	if d.state == stateDead {
		return
	}
	l := d.ec.Loop()
	var dl int64
	switch {
	case d.state == stateLinger:
		dl = l.Mono(d.deadlineAt)
	case d.writeBlocked:
		dl = l.Deadline(d.lim.WriteTimeout)
	case !d.settled:
		dl = l.Deadline(d.lim.PrefaceTimeout)
	case d.Idle():
		if d.GoingAway() {
			d.close()
			return
		}
		dl = l.Deadline(d.lim.IdleTimeout)
	}
	d.ec.Park(d, dl)
}

func (d *driver) timeout() {
	switch {
	case d.state == stateLinger:
		d.closeSocket()
	case d.writeBlocked:
		d.kill(os.ErrDeadlineExceeded)
	case !d.settled && (d.client || d.preface > 0):
		// No preface in time: closed without a word.
		d.kill(os.ErrDeadlineExceeded)
	case !d.settled:
		// The preface but no SETTINGS in time: GOAWAY (NO_ERROR), then
		// close, as HAProxy ends a connection that timed out.
		d.Conn.Shutdown()
		d.close()
	case d.Idle():
		// timeout http-keep-alive (else client): GOAWAY, then close.
		d.Conn.Shutdown()
		d.close()
	}
}

// close ends the connection once its output is out.
func (d *driver) close() {
	if d.state != stateLive {
		return
	}
	if d.Conn.Err == nil {
		d.Conn.Close(ErrConnClosed)
	}
	d.state = stateClosing
	d.wantFlush()
}

// shutdown sends FIN once the output is out, then reads what the peer
// still sends for a moment: closing a socket with unread input resets it,
// which can destroy the GOAWAY before the peer reads it.
func (d *driver) shutdown() {
	d.state = stateLinger
	if d.tc != nil {
		_ = d.tc.CloseWrite()
		if len(d.tt.out) > d.tt.off {
			_, _ = d.ec.Write(d.tt.out[d.tt.off:])
		}
	}
	_ = d.ec.CloseWrite()
	d.deadlineAt = d.ec.Loop().Now().Add(500 * time.Millisecond)
	d.ec.Park(d, d.ec.Loop().Mono(d.deadlineAt))
	d.read()
}

// peerGone: the peer closed or reset the socket.
func (d *driver) peerGone() {
	if d.state == stateLinger {
		d.closeSocket()
		return
	}
	d.kill(errPeerClosed)
}

// kill closes the socket now; streams see the connection's end.
func (d *driver) kill(err error) {
	if d.state == stateDead {
		return
	}
	d.Conn.Close(err)
	d.closeSocket()
}

func (d *driver) closeSocket() {
	if d.state == stateDead {
		return
	}
	if d.Conn.Err == nil {
		d.Conn.Close(ErrConnClosed)
	}
	d.state = stateDead
	l := d.ec.Loop()
	l.StopTimer(&d.flushTm.Timer)
	l.StopTimer(&d.resumeTm.Timer)
	d.ec.Close()
	d.rr, d.rw = 0, 0
	d.releaseRead()
	d.Conn.drain.Broadcast(l)
	d.maybeEnd()
}

// Kill ends the connection at once (a hard stop).
func (d *driver) Kill() { d.kill(ErrConnClosed) }

// Dead says whether the socket is closed.
func (d *driver) Dead() bool { return d.state == stateDead }

func (d *driver) taskDone() {
	if d.state == stateDead {
		d.maybeEnd()
		return
	}
	if d.state == stateLive {
		d.arm()
	}
}

func (d *driver) maybeEnd() {
	if d.ended || d.running > 0 || d.state != stateDead {
		return
	}
	d.ended = true
	if d.onEnd != nil {
		d.onEnd()
	}
}
