package h2

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Handler serves one stream; it runs in its own goroutine and must
// finish the stream (a response with end of stream, or Reset).
type Handler func(s *Stream)

// Conn is the server side of one HTTP/2 connection.
type Conn struct {
	nc      net.Conn
	set     Settings
	lim     Limits
	handler Handler

	fr *http2.Framer // reader goroutine only

	wmu  sync.Mutex // one frame sequence at a time
	bw   *bufio.Writer
	wfr  *http2.Framer
	henc *hpack.Encoder
	hbuf bytes.Buffer

	mu           sync.Mutex
	cond         *sync.Cond
	streams      map[uint32]*Stream
	lastID       uint32 // highest client stream id opened
	goawayID     uint32 // streams above it are refused once we sent GOAWAY
	sentGoaway   bool
	peerGoaway   bool
	closed       bool
	peerMaxFrame uint32
	peerInitWin  int64
	connSendWin  int64
	connRecvWin  int64 // what the peer may still send on the connection
	connConsumed int64 // received bytes not yet given back

	resets, control bucket
	slots           chan struct{} // running handlers (rapid reset backpressure)
	zombies         int           // handlers still running for streams the peer reset
	wg              sync.WaitGroup
}

// Stream is one request/response exchange.
type Stream struct {
	c  *Conn
	ID uint32
	Request
	// NoBody says the request ended with its head (END_STREAM).
	NoBody bool

	// receive side, guarded by c.mu
	buf      []byte
	recvEnd  bool
	trailer  []HeaderField
	recvWin  int64
	consumed int64
	received int64

	// send side, guarded by c.mu
	sendWin    int64
	sentHeader bool
	sentEnd    bool
	reset      bool
	resetErr   error
	done       bool // removed from the connection

	readDeadline time.Time // zero: the connection's read timeout
	peerReset    bool      // the client reset it (RST_STREAM)
}

// SetReadDeadline bounds the next Reads (zero: the read timeout).
func (s *Stream) SetReadDeadline(t time.Time) {
	s.c.mu.Lock()
	s.readDeadline = t
	s.c.cond.Broadcast()
	s.c.mu.Unlock()
}

// NewConn prepares a server connection; Serve runs it.
func NewConn(nc net.Conn, set Settings, lim Limits, h Handler) *Conn {
	set.fill()
	c := &Conn{nc: nc, set: set, lim: lim, handler: h, streams: map[uint32]*Stream{},
		peerMaxFrame: 16384, peerInitWin: 65535, connSendWin: 65535, connRecvWin: 65535,
		resets: newBucket(lim.ResetsPerSecond, lim.ResetBurst), control: newBucket(lim.ControlPerSecond, lim.ControlBurst),
		slots: make(chan struct{}, set.MaxConcurrentStreams)}
	c.cond = sync.NewCond(&c.mu)
	c.bw = bufio.NewWriterSize(nc, 16<<10)
	c.wfr = http2.NewFramer(c.bw, nil)
	c.henc = hpack.NewEncoder(&c.hbuf)
	c.fr = http2.NewFramer(nil, nc)
	c.fr.SetMaxReadFrameSize(set.MaxFrameSize)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(set.HeaderTableSize, nil)
	c.fr.MaxHeaderListSize = set.MaxHeaderListSize
	return c
}

// Serve reads the client's preface and frames until the connection ends;
// it returns once every handler has returned.
func (c *Conn) Serve() error {
	err := c.serve()
	c.mu.Lock()
	c.closed = true
	for _, s := range c.streams {
		if !s.reset {
			s.reset, s.resetErr = true, ErrConnClosed
		}
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) {
		c.lingerClose()
	}
	c.nc.Close()
	c.wg.Wait()
	return err
}

// lingerClose closes our side and reads what the peer still sends for a
// moment, so that the GOAWAY we sent is not destroyed by a reset (a close
// with unread data sends RST).
func (c *Conn) lingerClose() {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok {
		return
	}
	_ = cw.CloseWrite()
	_ = c.nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	var buf [4096]byte
	for i := 0; i < 64; i++ {
		if _, err := c.nc.Read(buf[:]); err != nil {
			return
		}
	}
}

func (c *Conn) serve() error {
	if c.lim.PrefaceTimeout > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.lim.PrefaceTimeout))
	}
	var pre [len(Preface)]byte
	if _, err := io.ReadFull(c.nc, pre[:]); err != nil {
		return err
	}
	if string(pre[:]) != Preface {
		c.goaway(http2.ErrCodeProtocol)
		return errors.New("h2: invalid connection preface")
	}
	if err := c.writeSettings(); err != nil {
		return err
	}
	first := true
	for {
		c.armRead(first)
		f, err := c.fr.ReadFrame()
		if err != nil {
			if err := c.readError(err); err != nil {
				return err
			}
			continue
		}
		if first {
			if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
				c.goaway(http2.ErrCodeProtocol)
				return errors.New("h2: first frame is not SETTINGS")
			}
			first = false
		}
		if err := c.process(f); err != nil {
			var ce connError
			if errors.As(err, &ce) {
				c.goaway(ce.code)
			}
			return err
		}
		c.mu.Lock()
		over := c.sentGoaway && len(c.streams) == 0
		c.mu.Unlock()
		if over {
			return nil
		}
	}
}

// armRead sets the read deadline: the preface timeout until the first
// SETTINGS, then the idle timeout without streams, the read timeout with.
func (c *Conn) armRead(first bool) {
	if first {
		return
	}
	c.mu.Lock()
	n := len(c.streams)
	c.mu.Unlock()
	t := c.lim.ReadTimeout
	if n == 0 {
		t = c.lim.IdleTimeout
	}
	if t > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(t))
	} else {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
}

// readError turns a framer error into a stream reset (nil: go on) or the
// connection's end.
func (c *Conn) readError(err error) error {
	var se http2.StreamError
	if errors.As(err, &se) {
		c.mu.Lock()
		if se.StreamID > c.lastID && se.StreamID%2 == 1 {
			// A HEADERS frame refused before its stream opened still
			// uses its id (RFC 9113 §5.1.1).
			c.lastID = se.StreamID
		}
		s := c.streams[se.StreamID]
		c.mu.Unlock()
		if s != nil {
			s.fail(se.Code)
			return nil
		}
		return c.rst(se.StreamID, se.Code)
	}
	var ce http2.ConnectionError
	if errors.As(err, &ce) {
		c.goaway(http2.ErrCode(ce))
		return err
	}
	if errors.Is(err, http2.ErrFrameTooLarge) {
		c.goaway(http2.ErrCodeFrameSize)
		return err
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.mu.Lock()
		idle := len(c.streams) == 0
		c.mu.Unlock()
		if idle {
			c.goaway(http2.ErrCodeNo)
		}
	}
	return err
}

func (c *Conn) writeSettings() error {
	s := []http2.Setting{
		{ID: http2.SettingMaxConcurrentStreams, Val: c.set.MaxConcurrentStreams},
		{ID: http2.SettingInitialWindowSize, Val: c.set.InitialWindowSize},
		{ID: http2.SettingMaxFrameSize, Val: c.set.MaxFrameSize},
		{ID: http2.SettingMaxHeaderListSize, Val: c.set.MaxHeaderListSize},
	}
	if c.set.HeaderTableSize != 4096 {
		s = append(s, http2.Setting{ID: http2.SettingHeaderTableSize, Val: c.set.HeaderTableSize})
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.wfr.WriteSettings(s...); err != nil {
		return err
	}
	// The connection window starts at the protocol's 65535, as
	// HAProxy's: WINDOW_UPDATEs follow the data consumed (giveBack).
	return c.flushLocked()
}

func (c *Conn) flushLocked() error {
	if c.lim.WriteTimeout > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.lim.WriteTimeout))
	}
	return c.bw.Flush()
}

// goaway sends GOAWAY with code and the last stream id processed.
func (c *Conn) goaway(code http2.ErrCode) {
	c.mu.Lock()
	id := c.lastID
	c.sentGoaway = true
	c.goawayID = id
	c.mu.Unlock()
	c.wmu.Lock()
	_ = c.wfr.WriteGoAway(id, code, nil)
	_ = c.flushLocked()
	c.wmu.Unlock()
}

// Shutdown announces the end (GOAWAY NO_ERROR, soft stop or reload):
// streams already opened finish, new ones are refused, and Serve
// returns once none is left.
func (c *Conn) Shutdown() {
	c.mu.Lock()
	already := c.sentGoaway
	n := len(c.streams)
	c.mu.Unlock()
	if already {
		return
	}
	c.goaway(http2.ErrCodeNo)
	if n == 0 {
		// Wake the reader blocked on an idle connection.
		_ = c.nc.SetReadDeadline(time.Now())
	}
}

func (c *Conn) rst(id uint32, code http2.ErrCode) error {
	if !c.resets.take(time.Now()) {
		return connError{http2.ErrCodeEnhanceYourCalm, "too many stream errors"}
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.wfr.WriteRSTStream(id, code); err != nil {
		return err
	}
	return c.flushLocked()
}

func (c *Conn) process(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		if !c.control.take(time.Now()) {
			return connError{http2.ErrCodeEnhanceYourCalm, "PING flood"}
		}
		c.wmu.Lock()
		defer c.wmu.Unlock()
		if err := c.wfr.WritePing(true, f.Data); err != nil {
			return err
		}
		return c.flushLocked()
	case *http2.GoAwayFrame:
		c.mu.Lock()
		c.peerGoaway = true
		c.mu.Unlock()
		return nil
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.RSTStreamFrame:
		return c.onReset(f)
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			return c.streamErr(f.StreamID, http2.ErrCodeProtocol)
		}
		if !c.control.take(time.Now()) {
			return connError{http2.ErrCodeEnhanceYourCalm, "PRIORITY flood"}
		}
		return nil
	case *http2.PushPromiseFrame:
		return connError{http2.ErrCodeProtocol, "PUSH_PROMISE from a client"}
	case *http2.MetaHeadersFrame:
		return c.onHeaders(f)
	case *http2.DataFrame:
		return c.onData(f)
	}
	return nil // unknown frame types are ignored (§5.5)
}

// streamErr resets stream id with code, whatever state it is in.
func (c *Conn) streamErr(id uint32, code http2.ErrCode) error {
	c.mu.Lock()
	s := c.streams[id]
	c.mu.Unlock()
	if s != nil {
		s.fail(code)
		if !c.resets.take(time.Now()) {
			return connError{http2.ErrCodeEnhanceYourCalm, "too many stream errors"}
		}
		return nil
	}
	return c.rst(id, code)
}

func (c *Conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	if !c.control.take(time.Now()) {
		return connError{http2.ErrCodeEnhanceYourCalm, "SETTINGS flood"}
	}
	var err error
	_ = f.ForeachSetting(func(s http2.Setting) error {
		if e := s.Valid(); e != nil {
			var ce http2.ConnectionError
			if errors.As(e, &ce) {
				err = connError{http2.ErrCode(ce), "invalid setting"}
			} else {
				err = connError{http2.ErrCodeProtocol, "invalid setting"}
			}
			return err
		}
		switch s.ID {
		case http2.SettingInitialWindowSize:
			c.mu.Lock()
			delta := int64(s.Val) - c.peerInitWin
			c.peerInitWin = int64(s.Val)
			for _, st := range c.streams {
				st.sendWin += delta
				if st.sendWin > 1<<31-1 {
					err = connError{http2.ErrCodeFlowControl, "window overflow"}
				}
			}
			c.cond.Broadcast()
			c.mu.Unlock()
		case http2.SettingMaxFrameSize:
			c.mu.Lock()
			c.peerMaxFrame = s.Val
			c.mu.Unlock()
		case http2.SettingHeaderTableSize:
			c.wmu.Lock()
			c.henc.SetMaxDynamicTableSizeLimit(s.Val)
			c.wmu.Unlock()
		}
		return err
	})
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.wfr.WriteSettingsAck(); err != nil {
		return err
	}
	return c.flushLocked()
}

func (c *Conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.StreamID == 0 {
		c.connSendWin += int64(f.Increment)
		if c.connSendWin > 1<<31-1 {
			return connError{http2.ErrCodeFlowControl, "connection window overflow"}
		}
		c.cond.Broadcast()
		return nil
	}
	if f.StreamID > c.lastID {
		return connError{http2.ErrCodeProtocol, "WINDOW_UPDATE on an idle stream"}
	}
	s := c.streams[f.StreamID]
	if s == nil || s.reset {
		return nil // closed: allowed for a while (§6.9)
	}
	s.sendWin += int64(f.Increment)
	if s.sendWin > 1<<31-1 {
		c.mu.Unlock()
		s.fail(http2.ErrCodeFlowControl)
		c.mu.Lock()
		return nil
	}
	c.cond.Broadcast()
	return nil
}

func (c *Conn) onReset(f *http2.RSTStreamFrame) error {
	c.mu.Lock()
	if f.StreamID > c.lastID {
		c.mu.Unlock()
		return connError{http2.ErrCodeProtocol, "RST_STREAM on an idle stream"}
	}
	s := c.streams[f.StreamID]
	if s != nil && !s.reset {
		s.reset, s.resetErr = true, StreamError{Code: f.ErrCode}
		s.peerReset = true
		c.zombies++
		c.removeLocked(s)
		c.cond.Broadcast()
	}
	c.mu.Unlock()
	if s != nil && !c.resets.take(time.Now()) {
		// Streams opened then reset at once, in a loop (CVE-2023-44487).
		return connError{http2.ErrCodeEnhanceYourCalm, "too many resets"}
	}
	return nil
}

func (c *Conn) onHeaders(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return connError{http2.ErrCodeProtocol, "even stream id from a client"}
	}
	c.mu.Lock()
	s := c.streams[id]
	last := c.lastID
	c.mu.Unlock()
	if s != nil {
		// A second header block: trailers, which end the stream.
		c.mu.Lock()
		ended := s.recvEnd
		c.mu.Unlock()
		if ended {
			return c.streamErr(id, http2.ErrCodeStreamClosed)
		}
		if !f.StreamEnded() {
			return c.streamErr(id, http2.ErrCodeProtocol)
		}
		tr, err := parseTrailers(f)
		if err != nil {
			return c.streamErr(id, http2.ErrCodeProtocol)
		}
		c.mu.Lock()
		s.trailer, s.recvEnd = tr, true
		bad := s.ContentLength >= 0 && s.received != s.ContentLength
		c.cond.Broadcast()
		c.mu.Unlock()
		if bad {
			return c.streamErr(id, http2.ErrCodeProtocol)
		}
		return nil
	}
	if id <= last {
		return connError{http2.ErrCodeStreamClosed, "HEADERS on a closed stream"}
	}
	c.mu.Lock()
	c.lastID = id
	refused := c.sentGoaway && id > c.goawayID
	full := uint32(len(c.streams)) >= c.set.MaxConcurrentStreams
	c.mu.Unlock()
	if refused {
		return nil // after our GOAWAY: ignored (§6.8)
	}
	if f.HasPriority() && f.Priority.StreamDep == id {
		return c.rst(id, http2.ErrCodeProtocol)
	}
	if full {
		return c.rst(id, http2.ErrCodeRefusedStream)
	}
	req, err := parseRequest(f)
	if err != nil {
		return c.rst(id, http2.ErrCodeProtocol)
	}
	s = &Stream{c: c, ID: id, Request: *req, NoBody: f.StreamEnded(), recvEnd: f.StreamEnded()}
	c.mu.Lock()
	s.sendWin = c.peerInitWin
	s.recvWin = int64(c.set.InitialWindowSize)
	c.streams[id] = s
	c.mu.Unlock()
	if s.NoBody && s.ContentLength > 0 {
		return c.streamErr(id, http2.ErrCodeProtocol)
	}
	// A handler slot per running handler: handlers of streams the client
	// reset still count until they return, so a reset loop cannot pile
	// up goroutines; the reader waits for a slot (backpressure).
	select {
	case c.slots <- struct{}{}:
	default:
		// Every slot is taken. When half of them run for streams the
		// client already reset, it is opening and cancelling streams
		// faster than they can be served: the rapid reset attack.
		c.mu.Lock()
		z := c.zombies
		c.mu.Unlock()
		if 2*z >= cap(c.slots) {
			return connError{http2.ErrCodeEnhanceYourCalm, "streams reset while their handlers run"}
		}
		c.armRead(false)
		c.slots <- struct{}{}
	}
	c.wg.Add(1)
	go func() {
		defer func() {
			c.mu.Lock()
			if s.peerReset {
				c.zombies--
			}
			c.mu.Unlock()
			<-c.slots
			c.wg.Done()
		}()
		c.handler(s)
		s.finish()
	}()
	return nil
}

func (c *Conn) onData(f *http2.DataFrame) error {
	id := f.StreamID
	n := int64(f.Length)
	c.mu.Lock()
	if n > c.connRecvWin {
		c.mu.Unlock()
		return connError{http2.ErrCodeFlowControl, "connection window exceeded"}
	}
	c.connRecvWin -= n
	s := c.streams[id]
	idle := id > c.lastID
	c.mu.Unlock()
	if idle {
		return connError{http2.ErrCodeProtocol, "DATA on an idle stream"}
	}
	if s == nil {
		// Closed: the bytes still count on the connection (§6.9).
		c.giveBack(nil, n)
		return c.rst(id, http2.ErrCodeStreamClosed)
	}
	c.mu.Lock()
	if s.recvEnd || s.reset {
		c.mu.Unlock()
		c.giveBack(nil, n)
		return c.streamErr(id, http2.ErrCodeStreamClosed)
	}
	if n > s.recvWin {
		c.mu.Unlock()
		c.giveBack(nil, n)
		return c.streamErr(id, http2.ErrCodeFlowControl)
	}
	s.recvWin -= n
	data := f.Data()
	s.received += int64(len(data))
	s.buf = append(s.buf, data...)
	pad := n - int64(len(data))
	if f.StreamEnded() {
		s.recvEnd = true
	}
	bad := s.ContentLength >= 0 && (s.received > s.ContentLength || (s.recvEnd && s.received != s.ContentLength))
	c.cond.Broadcast()
	c.mu.Unlock()
	if pad > 0 {
		c.giveBack(s, pad)
	}
	if bad {
		return c.streamErr(id, http2.ErrCodeProtocol)
	}
	if len(data) == 0 && !f.StreamEnded() && !c.control.take(time.Now()) {
		return connError{http2.ErrCodeEnhanceYourCalm, "empty DATA flood"}
	}
	return nil
}

// giveBack returns consumed bytes to the peer's windows: the connection's
// at once, the stream's (s, when still open) too, with WINDOW_UPDATEs
// once half a window is owed.
func (c *Conn) giveBack(s *Stream, n int64) {
	c.mu.Lock()
	c.connConsumed += n
	var connInc, strInc int64
	if c.connConsumed >= int64(c.set.InitialWindowSize)/2 {
		connInc, c.connConsumed = c.connConsumed, 0
		c.connRecvWin += connInc
	}
	if s != nil && !s.recvEnd && !s.reset {
		s.consumed += n
		if s.consumed >= int64(c.set.InitialWindowSize)/2 {
			strInc, s.consumed = s.consumed, 0
			s.recvWin += strInc
		}
	}
	c.mu.Unlock()
	if connInc == 0 && strInc == 0 {
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if connInc > 0 {
		_ = c.wfr.WriteWindowUpdate(0, uint32(connInc))
	}
	if strInc > 0 {
		_ = c.wfr.WriteWindowUpdate(s.ID, uint32(strInc))
	}
	_ = c.flushLocked()
}

// removeLocked forgets a stream that is closed both ways or reset.
func (c *Conn) removeLocked(s *Stream) {
	if s.done {
		return
	}
	s.done = true
	delete(c.streams, s.ID)
	if (c.sentGoaway || c.peerGoaway) && len(c.streams) == 0 {
		// Wake the reader so that it notices the drained connection.
		_ = c.nc.SetReadDeadline(time.Now())
	}
}

// Read reads the request body; io.EOF at its end (Trailer is then set).
func (s *Stream) Read(p []byte) (int, error) {
	c := s.c
	c.mu.Lock()
	for len(s.buf) == 0 && !s.recvEnd && !s.reset {
		if !c.waitLocked(s.readDeadline) {
			c.mu.Unlock()
			return 0, ErrTimeout
		}
	}
	if s.reset && len(s.buf) == 0 {
		err := s.resetErr
		c.mu.Unlock()
		return 0, err
	}
	if len(s.buf) == 0 {
		c.mu.Unlock()
		return 0, io.EOF
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	if len(s.buf) == 0 {
		s.buf = nil
	}
	c.mu.Unlock()
	c.giveBack(s, int64(n))
	return n, nil
}

// Trailer returns the request trailers once Read returned io.EOF.
func (s *Stream) Trailer() []HeaderField {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.trailer
}

// WaitDone blocks until the stream is over both ways (or reset), or
// until deadline (zero: none); false on the deadline.
func (s *Stream) WaitDone(deadline time.Time) bool {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for !s.done && !c.closed {
		if !c.waitLocked(deadline) {
			return false
		}
	}
	return true
}

// waitLocked waits for a change, until deadline or, without one, at most
// the read timeout; false once the time is over.
func (c *Conn) waitLocked(deadline time.Time) bool {
	t := c.lim.ReadTimeout
	if !deadline.IsZero() {
		t = time.Until(deadline)
		if t <= 0 {
			return false
		}
	}
	if t <= 0 {
		c.cond.Wait()
		return true
	}
	fired := false
	tm := time.AfterFunc(t, func() {
		c.mu.Lock()
		fired = true
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	c.cond.Wait()
	tm.Stop()
	return !fired
}

// WriteHeader sends the response head (1xx heads may precede the final
// one); end closes the stream with it.
func (s *Stream) WriteHeader(status int, fields []HeaderField, end bool) error {
	return s.writeHeaders(status, fields, end)
}

// WriteTrailers sends trailers, which end the stream.
func (s *Stream) WriteTrailers(fields []HeaderField) error {
	return s.writeHeaders(0, fields, true)
}

func (s *Stream) writeHeaders(status int, fields []HeaderField, end bool) error {
	c := s.c
	c.mu.Lock()
	if s.reset || s.sentEnd {
		err := s.resetErr
		c.mu.Unlock()
		if err == nil {
			err = ErrStreamReset
		}
		return err
	}
	maxFrame := int(c.peerMaxFrame)
	if status >= 200 || status == 0 {
		s.sentHeader = true
	}
	if end {
		s.sentEnd = true
		if s.recvEnd {
			c.removeLocked(s)
		}
	}
	c.mu.Unlock()
	c.wmu.Lock()
	c.hbuf.Reset()
	if status != 0 {
		_ = c.henc.WriteField(hpack.HeaderField{Name: ":status", Value: statusString(status)})
	}
	for _, f := range fields {
		_ = c.henc.WriteField(hpack.HeaderField{Name: f.Name, Value: f.Value})
	}
	err := writeHeaderBlock(c.wfr, s.ID, c.hbuf.Bytes(), end, maxFrame)
	if err == nil {
		err = c.flushLocked()
	}
	c.wmu.Unlock()
	if end {
		s.ended()
	}
	return err
}

// writeHeaderBlock writes a header block as HEADERS and CONTINUATION
// frames of at most maxFrame bytes.
func writeHeaderBlock(fr *http2.Framer, id uint32, block []byte, end bool, maxFrame int) error {
	first := true
	for {
		frag := block
		if len(frag) > maxFrame {
			frag = frag[:maxFrame]
		}
		block = block[len(frag):]
		var err error
		if first {
			err = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: frag, EndStream: end, EndHeaders: len(block) == 0})
			first = false
		} else {
			err = fr.WriteContinuation(id, len(block) == 0, frag)
		}
		if err != nil || len(block) == 0 {
			return err
		}
	}
}

func statusString(n int) string {
	if n >= 100 && n <= 999 {
		return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
	}
	return "500"
}

// Write sends body bytes as DATA frames within the flow-control windows;
// a peer that keeps them closed past the write timeout gets the stream
// reset.
func (s *Stream) Write(p []byte) (int, error) {
	return s.writeData(p, false)
}

// End closes the response without more data.
func (s *Stream) End() error {
	_, err := s.writeData(nil, true)
	return err
}

// WriteEnd sends the last body bytes and closes the stream.
func (s *Stream) WriteEnd(p []byte) (int, error) {
	return s.writeData(p, true)
}

func (s *Stream) writeData(p []byte, end bool) (int, error) {
	c := s.c
	written := 0
	for {
		c.mu.Lock()
		var deadline *time.Timer
		expired := false
		for !s.reset && !s.sentEnd && len(p) > 0 && (s.sendWin <= 0 || c.connSendWin <= 0) {
			if deadline == nil && c.lim.WriteTimeout > 0 {
				deadline = time.AfterFunc(c.lim.WriteTimeout, func() {
					c.mu.Lock()
					expired = true
					c.cond.Broadcast()
					c.mu.Unlock()
				})
			}
			if expired {
				break
			}
			c.cond.Wait()
		}
		if deadline != nil {
			deadline.Stop()
		}
		if s.reset || s.sentEnd {
			err := s.resetErr
			c.mu.Unlock()
			if err == nil {
				err = ErrStreamReset
			}
			return written, err
		}
		if expired {
			c.mu.Unlock()
			s.fail(http2.ErrCodeFlowControl) // zero-window stall
			return written, ErrTimeout
		}
		n := len(p)
		if int64(n) > s.sendWin {
			n = int(s.sendWin)
		}
		if int64(n) > c.connSendWin {
			n = int(c.connSendWin)
		}
		if n > int(c.peerMaxFrame) {
			n = int(c.peerMaxFrame)
		}
		s.sendWin -= int64(n)
		c.connSendWin -= int64(n)
		last := end && n == len(p)
		if last {
			s.sentEnd = true
			if s.recvEnd {
				// Closed both ways once this frame leaves: forget it
				// first, so the client's next stream finds room.
				c.removeLocked(s)
			}
		}
		c.mu.Unlock()
		c.wmu.Lock()
		err := c.wfr.WriteData(s.ID, last, p[:n])
		if err == nil {
			err = c.flushLocked()
		}
		c.wmu.Unlock()
		written += n
		p = p[n:]
		if err != nil {
			return written, err
		}
		if last {
			s.ended()
			return written, nil
		}
		if len(p) == 0 {
			return written, nil
		}
	}
}

// ended runs once the response ended: the stream closes when the
// request has too; else the client is told to stop sending (§8.1).
func (s *Stream) ended() {
	c := s.c
	c.mu.Lock()
	if s.recvEnd {
		c.removeLocked(s)
		c.mu.Unlock()
		return
	}
	s.reset = true
	c.removeLocked(s)
	c.mu.Unlock()
	c.wmu.Lock()
	_ = c.wfr.WriteRSTStream(s.ID, http2.ErrCodeNo)
	_ = c.flushLocked()
	c.wmu.Unlock()
}

// Reset ends the stream with an error code.
func (s *Stream) Reset(code http2.ErrCode) { s.fail(code) }

func (s *Stream) fail(code http2.ErrCode) {
	c := s.c
	c.mu.Lock()
	if s.reset {
		c.mu.Unlock()
		return
	}
	s.reset, s.resetErr = true, StreamError{Code: code}
	c.removeLocked(s)
	c.cond.Broadcast()
	c.mu.Unlock()
	c.wmu.Lock()
	_ = c.wfr.WriteRSTStream(s.ID, code)
	_ = c.flushLocked()
	c.wmu.Unlock()
}

// finish runs when the handler returned: an unfinished stream is reset.
func (s *Stream) finish() {
	c := s.c
	c.mu.Lock()
	open := !s.reset && !s.sentEnd
	c.mu.Unlock()
	if open {
		s.fail(http2.ErrCodeInternal)
	}
}

// HeadersSent says whether a final response head went out.
func (s *Stream) HeadersSent() bool {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.sentHeader
}
