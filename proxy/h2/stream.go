package h2

import (
	"io"
	"time"
	"unsafe"

	"halo/proxy/evloop"

	"golang.org/x/net/http2"
)

// Stream is one request/response exchange of a Conn. A task of the
// connection's loop owns it from its start (Server: the handler's task;
// Client: the task that sent the request) until Done; its blocking
// methods wait by yielding that task (the loop serves the others
// meanwhile), woken by the connection when data, a window or a reset
// arrives.
type Stream struct {
	c  *Conn
	ID uint32
	// Head is the request head (server side) or the final response head
	// (client side); Trailer the peer's trailers (HasTrailer).
	Head    Head
	Trailer Head
	// NoBody says the request ended with its head (server side).
	NoBody bool

	hasTrailer bool
	recvEnd    bool // the peer ended its side
	sentEnd    bool // we ended ours
	sentHead   bool // our final head went out
	reset      bool // reset by either side, or the connection ended
	peerReset  bool
	resetErr   error
	blocked    bool // waiting for a send window
	task       bool // a task owns it (until Done)
	idx        int  // in c.streams, -1 when not open

	rbuf     []byte // DATA received, not read yet: rbuf[roff:]
	roff     int
	recvWin  int64
	unacked  int64 // read, not given back to the peer yet
	received int64
	sendWin  int64

	// Client side: an interim (1xx) head not taken yet, and whether the
	// final head came.
	interim    Head
	hasInterim bool
	gotHead    bool
	headTaken  bool
	headReq    bool // the request is HEAD: the response has no body

	cond  evloop.Cond
	runFn func() // run, bound once for Loop.Go
}

func (s *Stream) run() {
	if h := s.c.handler; h != nil {
		h(s)
	}
	s.Done()
}

func (s *Stream) wake() {
	if s.c.loop != nil {
		s.cond.Broadcast(s.c.loop)
	}
}

func (s *Stream) clear() {
	s.ID = 0
	s.Head.reset()
	s.Trailer.reset()
	s.interim.reset()
	s.NoBody, s.hasTrailer, s.hasInterim, s.gotHead, s.headTaken, s.headReq = false, false, false, false, false, false
	s.recvEnd, s.sentEnd, s.sentHead, s.reset, s.peerReset, s.blocked, s.task = false, false, false, false, false, false, false
	s.resetErr = nil
	s.idx = -1
	if cap(s.rbuf) > 64<<10 {
		s.rbuf = nil
	}
	s.rbuf, s.roff = s.rbuf[:0], 0
	s.recvWin, s.unacked, s.received, s.sendWin = 0, 0, 0, 0
}

// Conn returns the stream's connection.
func (s *Stream) Conn() *Conn { return s.c }

// Reset reports whether the stream was reset (or its connection ended).
func (s *Stream) Reset() bool { return s.reset }

// HeadSent says whether the final head went out.
func (s *Stream) HeadSent() bool { return s.sentHead }

// Ended says whether our side is over (END_STREAM sent, or reset).
func (s *Stream) Ended() bool { return s.sentEnd || s.reset }

// HasTrailer says whether the peer sent trailers (after Read's io.EOF).
func (s *Stream) HasTrailer() bool { return s.hasTrailer }

// Buffered is the body data received and not read yet.
func (s *Stream) Buffered() int { return len(s.rbuf) - s.roff }

// BodyDone says whether the peer's body is all received (Read then
// ends with what is buffered).
func (s *Stream) BodyDone() bool { return s.recvEnd }

func (s *Stream) err() error {
	if s.resetErr != nil {
		return s.resetErr
	}
	return ErrStreamReset
}

// Read reads the peer's body; io.EOF at its end. It waits at most
// timeout (0: none) for data.
func (s *Stream) Read(p []byte, timeout time.Duration) (int, error) {
	for s.roff == len(s.rbuf) {
		switch {
		case s.reset:
			return 0, s.err()
		case s.recvEnd:
			return 0, io.EOF
		}
		if !s.cond.WaitTimeout(s.c.loop, timeout) {
			return 0, ErrTimeout
		}
	}
	if s.reset {
		return 0, s.err()
	}
	n := copy(p, s.rbuf[s.roff:])
	s.roff += n
	if s.roff == len(s.rbuf) {
		s.rbuf, s.roff = s.rbuf[:0], 0
	}
	s.giveBack(int64(n))
	return n, nil
}

// giveBack returns n consumed bytes to the stream's window, with a
// WINDOW_UPDATE once half the window is owed.
func (s *Stream) giveBack(n int64) {
	if s.recvEnd || s.reset {
		return
	}
	c := s.c
	s.unacked += n
	if s.unacked >= int64(c.set.InitialWindowSize)/2 {
		c.out = appendWindowUpdate(c.out, s.ID, uint32(s.unacked))
		s.recvWin += s.unacked
		s.unacked = 0
		c.output()
	}
}

// StartHead begins our response head (server side) with its status;
// HeadField adds fields and EndHead sends it. Nothing may wait in
// between (the encoder's buffer is the connection's).
func (s *Stream) StartHead(status int) {
	s.c.hbuf = appendStatus(s.c.hbuf[:0], status)
	if status >= 200 {
		s.sentHead = true
	}
}

// StartTrailers begins our trailers (HeadField, then EndHead(true)).
func (s *Stream) StartTrailers() { s.c.hbuf = s.c.hbuf[:0] }

// HeadField adds a field (lower-case name, no connection-specific field)
// to the head being built.
func (s *Stream) HeadField(name, value []byte) {
	s.c.hbuf = appendField(s.c.hbuf, name, value)
}

// HeadFieldString is HeadField for strings.
func (s *Stream) HeadFieldString(name, value string) {
	s.c.hbuf = appendField(s.c.hbuf, unsafe.Slice(unsafe.StringData(name), len(name)), unsafe.Slice(unsafe.StringData(value), len(value)))
}

// EndHead sends the head built since StartHead (or StartTrailers,
// StartRequest); end closes our side with it.
func (s *Stream) EndHead(end bool) error {
	c := s.c
	if s.reset || s.sentEnd || c.Err != nil {
		return s.err()
	}
	c.out = appendHeaderBlock(c.out, s.ID, c.hbuf, end, int(c.peerMaxFrame))
	c.output()
	if end {
		s.endSend()
	}
	return nil
}

// Write sends body bytes as DATA within the flow-control windows,
// waiting (at most timeout, 0: none, for each wait) for window and for
// room in the output. A peer that keeps its window closed past the
// timeout gets the stream reset (zero-window stall).
func (s *Stream) Write(p []byte, timeout time.Duration) (int, error) {
	return s.write(p, false, timeout)
}

// WriteEnd sends the last body bytes and closes our side.
func (s *Stream) WriteEnd(p []byte, timeout time.Duration) (int, error) {
	return s.write(p, true, timeout)
}

func (s *Stream) write(p []byte, end bool, timeout time.Duration) (int, error) {
	c := s.c
	done := 0
	for {
		if s.reset || s.sentEnd {
			return done, s.err()
		}
		if c.Err != nil {
			return done, ErrConnClosed
		}
		if c.Unsent() >= outRoom {
			if !c.drain.WaitTimeout(c.loop, timeout) {
				s.fail(http2.ErrCodeInternal)
				return done, ErrTimeout
			}
			continue
		}
		if len(p) == 0 {
			if end {
				c.out = appendData(c.out, s.ID, nil, true, int(c.peerMaxFrame))
				c.output()
				s.endSend()
			}
			return done, nil
		}
		room := min(s.sendWin, c.sendWin)
		if room <= 0 {
			s.blocked = true
			ok := s.cond.WaitTimeout(c.loop, timeout)
			s.blocked = false
			if !ok {
				s.fail(http2.ErrCodeFlowControl) // zero-window stall
				return done, ErrTimeout
			}
			continue
		}
		n := len(p)
		if int64(n) > room {
			n = int(room)
		}
		if n > outRoom {
			n = outRoom
		}
		last := end && n == len(p)
		c.out = appendData(c.out, s.ID, p[:n], last, int(c.peerMaxFrame))
		s.sendWin -= int64(n)
		c.sendWin -= int64(n)
		done += n
		p = p[n:]
		c.output()
		if last {
			s.endSend()
			return done, nil
		}
	}
}

// endSend closes our side: the stream closes if the peer's is closed
// too. A server whose response ended before the request tells the client
// to stop sending (RFC 9113 §8.1).
func (s *Stream) endSend() {
	s.sentEnd = true
	c := s.c
	if s.recvEnd {
		c.remove(s)
		return
	}
	if !c.client {
		s.fail(http2.ErrCodeNo)
	}
}

// Fail resets the stream with code.
func (s *Stream) Fail(code http2.ErrCode) { s.fail(code) }

func (s *Stream) fail(code http2.ErrCode) {
	if s.reset {
		return
	}
	c := s.c
	s.reset, s.resetErr = true, StreamError{Code: code}
	s.wake()
	if c.Err == nil {
		c.out = appendRST(c.out, s.ID, code)
		c.output()
	}
	c.remove(s)
}

// Done hands the stream back when its task is over: an unfinished stream
// is reset (INTERNAL_ERROR from a server that did not answer, CANCEL from
// a client that stopped reading).
func (s *Stream) Done() {
	c := s.c
	if s.idx >= 0 {
		code := http2.ErrCodeInternal
		if c.client {
			code = http2.ErrCodeCancel
		}
		s.fail(code)
	}
	s.task = false
	c.running--
	if s.peerReset {
		c.zombies--
	}
	if s.idx < 0 {
		c.recycle(s)
	}
	if c.onDone != nil {
		c.onDone()
	}
}
