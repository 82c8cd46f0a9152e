package h2

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// ClientConn is the client side of an HTTP/2 connection to a server:
// requests are multiplexed as streams (up to the server's
// SETTINGS_MAX_CONCURRENT_STREAMS); a reader goroutine dispatches the
// server's frames.
type ClientConn struct {
	nc  net.Conn
	set Settings
	lim Limits

	wmu  sync.Mutex
	bw   *bufio.Writer
	wfr  *http2.Framer
	henc *hpack.Encoder
	hbuf bytes.Buffer

	mu           sync.Mutex
	cond         *sync.Cond
	streams      map[uint32]*ClientStream
	nextID       uint32
	maxStreams   uint32
	peerMaxFrame uint32
	peerInitWin  int64
	connSendWin  int64
	connConsumed int64
	goaway       bool
	closed       bool
	err          error
	lastUse      time.Time
	control      bucket
	gotSettings  bool

	fr *http2.Framer
}

// ClientStream is one request sent on a ClientConn.
type ClientStream struct {
	cc *ClientConn
	ID uint32

	// response, guarded by cc.mu
	head     *ResponseHead
	heads    []*ResponseHead // 1xx heads not yet taken
	buf      []byte
	recvEnd  bool
	trailer  []HeaderField
	consumed int64
	received int64

	sendWin int64
	sentEnd bool
	reset   bool
	err     error
	done    bool
}

// NewClientConn sends the preface and SETTINGS on nc and starts reading.
func NewClientConn(nc net.Conn, set Settings, lim Limits) (*ClientConn, error) {
	set.fill()
	cc := &ClientConn{nc: nc, set: set, lim: lim, streams: map[uint32]*ClientStream{}, nextID: 1,
		maxStreams: 100, peerMaxFrame: 16384, peerInitWin: 65535, connSendWin: 65535, lastUse: time.Now(),
		control: newBucket(lim.ControlPerSecond, lim.ControlBurst)}
	cc.cond = sync.NewCond(&cc.mu)
	cc.bw = bufio.NewWriterSize(nc, 16<<10)
	cc.wfr = http2.NewFramer(cc.bw, nil)
	cc.henc = hpack.NewEncoder(&cc.hbuf)
	cc.fr = http2.NewFramer(nil, nc)
	cc.fr.SetMaxReadFrameSize(set.MaxFrameSize)
	cc.fr.ReadMetaHeaders = hpack.NewDecoder(set.HeaderTableSize, nil)
	cc.fr.MaxHeaderListSize = set.MaxHeaderListSize
	cc.wmu.Lock()
	_, err := cc.bw.WriteString(Preface)
	if err == nil {
		err = cc.wfr.WriteSettings(
			http2.Setting{ID: http2.SettingEnablePush, Val: 0},
			http2.Setting{ID: http2.SettingInitialWindowSize, Val: set.InitialWindowSize},
			http2.Setting{ID: http2.SettingMaxFrameSize, Val: set.MaxFrameSize},
			http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: set.MaxHeaderListSize})
	}
	if err == nil {
		err = cc.flushLocked()
	}
	cc.wmu.Unlock()
	if err != nil {
		nc.Close()
		return nil, err
	}
	go cc.readLoop()
	// The server's SETTINGS come first: wait for them (its stream limit
	// above all) so that no request is refused for going past it.
	cc.mu.Lock()
	deadline := time.Now().Add(5 * time.Second)
	for !cc.gotSettings && !cc.closed {
		if !cc.waitUntil(deadline) {
			break
		}
	}
	err = cc.err
	ok := cc.gotSettings
	cc.mu.Unlock()
	if !ok {
		cc.fail(ErrTimeout)
		if err == nil {
			err = ErrTimeout
		}
		return nil, err
	}
	return cc, nil
}

func (cc *ClientConn) flushLocked() error {
	if cc.lim.WriteTimeout > 0 {
		_ = cc.nc.SetWriteDeadline(time.Now().Add(cc.lim.WriteTimeout))
	}
	return cc.bw.Flush()
}

// Usable says whether a new request may go on this connection now.
func (cc *ClientConn) Usable() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return !cc.closed && !cc.goaway && uint32(len(cc.streams)) < cc.maxStreams && cc.nextID < 1<<31-1
}

// Closed says whether the connection is over (no request may use it).
func (cc *ClientConn) Closed() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.closed || (cc.goaway && len(cc.streams) == 0)
}

// Idle reports whether no stream is open and since when.
func (cc *ClientConn) Idle() (bool, time.Time) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return len(cc.streams) == 0, cc.lastUse
}

// Close ends the connection (GOAWAY NO_ERROR).
func (cc *ClientConn) Close() {
	cc.wmu.Lock()
	_ = cc.wfr.WriteGoAway(0, http2.ErrCodeNo, nil)
	_ = cc.flushLocked()
	cc.wmu.Unlock()
	cc.fail(ErrConnClosed)
}

func (cc *ClientConn) fail(err error) {
	cc.mu.Lock()
	if !cc.closed {
		cc.closed, cc.err = true, err
		for _, s := range cc.streams {
			if !s.reset {
				s.reset, s.err = true, err
			}
		}
		cc.cond.Broadcast()
	}
	cc.mu.Unlock()
	cc.nc.Close()
}

// Request opens a stream: the request head, and END_STREAM when body is
// false. The head's fields must be lower-case and free of
// connection-specific fields.
func (cc *ClientConn) Request(method, scheme, authority, path string, fields []HeaderField, body bool) (*ClientStream, error) {
	// Stream ids must reach the server in increasing order: the id is
	// taken under the write lock that sends its HEADERS.
	cc.wmu.Lock()
	cc.mu.Lock()
	if cc.closed || cc.goaway || uint32(len(cc.streams)) >= cc.maxStreams {
		cc.mu.Unlock()
		cc.wmu.Unlock()
		return nil, ErrRefused
	}
	s := &ClientStream{cc: cc, ID: cc.nextID, sendWin: cc.peerInitWin, sentEnd: !body}
	cc.nextID += 2
	cc.streams[s.ID] = s
	maxFrame := int(cc.peerMaxFrame)
	cc.lastUse = time.Now()
	cc.mu.Unlock()
	cc.hbuf.Reset()
	_ = cc.henc.WriteField(hpack.HeaderField{Name: ":method", Value: method})
	if method != "CONNECT" {
		_ = cc.henc.WriteField(hpack.HeaderField{Name: ":scheme", Value: scheme})
	}
	if authority != "" {
		_ = cc.henc.WriteField(hpack.HeaderField{Name: ":authority", Value: authority})
	}
	if method != "CONNECT" {
		_ = cc.henc.WriteField(hpack.HeaderField{Name: ":path", Value: path})
	}
	for _, f := range fields {
		_ = cc.henc.WriteField(hpack.HeaderField{Name: f.Name, Value: f.Value})
	}
	err := writeHeaderBlock(cc.wfr, s.ID, cc.hbuf.Bytes(), !body, maxFrame)
	if err == nil {
		err = cc.flushLocked()
	}
	cc.wmu.Unlock()
	if err != nil {
		cc.fail(err)
		return nil, err
	}
	return s, nil
}

// Write sends request body bytes within the flow-control windows.
func (s *ClientStream) Write(p []byte) (int, error) { return s.writeData(p, false) }

// CloseBody ends the request body, with trailers when given.
func (s *ClientStream) CloseBody(trailers []HeaderField) error {
	if len(trailers) == 0 {
		_, err := s.writeData(nil, true)
		return err
	}
	cc := s.cc
	cc.mu.Lock()
	if s.reset {
		err := s.err
		cc.mu.Unlock()
		return err
	}
	s.sentEnd = true
	maxFrame := int(cc.peerMaxFrame)
	cc.mu.Unlock()
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	cc.hbuf.Reset()
	for _, f := range trailers {
		_ = cc.henc.WriteField(hpack.HeaderField{Name: f.Name, Value: f.Value})
	}
	if err := writeHeaderBlock(cc.wfr, s.ID, cc.hbuf.Bytes(), true, maxFrame); err != nil {
		return err
	}
	return cc.flushLocked()
}

func (s *ClientStream) writeData(p []byte, end bool) (int, error) {
	cc := s.cc
	written := 0
	for {
		cc.mu.Lock()
		deadline := time.Now().Add(cc.lim.WriteTimeout)
		for !s.reset && len(p) > 0 && (s.sendWin <= 0 || cc.connSendWin <= 0) {
			if cc.lim.WriteTimeout > 0 && !cc.waitUntil(deadline) {
				cc.mu.Unlock()
				s.Reset(http2.ErrCodeCancel)
				return written, ErrTimeout
			}
			if cc.lim.WriteTimeout <= 0 {
				cc.cond.Wait()
			}
		}
		if s.reset {
			err := s.err
			cc.mu.Unlock()
			return written, err
		}
		n := len(p)
		if int64(n) > s.sendWin {
			n = int(s.sendWin)
		}
		if int64(n) > cc.connSendWin {
			n = int(cc.connSendWin)
		}
		if n > int(cc.peerMaxFrame) {
			n = int(cc.peerMaxFrame)
		}
		s.sendWin -= int64(n)
		cc.connSendWin -= int64(n)
		last := end && n == len(p)
		if last {
			s.sentEnd = true
		}
		cc.mu.Unlock()
		cc.wmu.Lock()
		err := cc.wfr.WriteData(s.ID, last, p[:n])
		if err == nil {
			err = cc.flushLocked()
		}
		cc.wmu.Unlock()
		written += n
		p = p[n:]
		if err != nil || len(p) == 0 {
			if err == nil && last {
				s.maybeDone()
			}
			return written, err
		}
	}
}

// waitUntil waits for a change until deadline; false once it passed.
func (cc *ClientConn) waitUntil(deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return false
	}
	fired := false
	tm := time.AfterFunc(d, func() {
		cc.mu.Lock()
		fired = true
		cc.cond.Broadcast()
		cc.mu.Unlock()
	})
	cc.cond.Wait()
	tm.Stop()
	return !fired
}

// Response waits for the next response head: 1xx heads come first, one
// per call, then the final one. The wait is bounded by timeout (0: none).
func (s *ClientStream) Response(timeout time.Duration) (*ResponseHead, error) {
	cc := s.cc
	cc.mu.Lock()
	defer cc.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for len(s.heads) == 0 && s.head == nil && !s.reset {
		if timeout > 0 {
			if !cc.waitUntil(deadline) {
				return nil, ErrTimeout
			}
		} else {
			cc.cond.Wait()
		}
	}
	if s.reset && s.head == nil {
		return nil, s.err
	}
	if len(s.heads) > 0 {
		h := s.heads[0]
		s.heads = s.heads[1:]
		return h, nil
	}
	if s.head != nil {
		h := s.head
		s.head = &ResponseHead{Status: -1} // taken
		if h.Status == -1 {
			return nil, errors.New("h2: response already taken")
		}
		return h, nil
	}
	return nil, s.err
}

// Read reads the response body; io.EOF at its end.
func (s *ClientStream) Read(p []byte, timeout time.Duration) (int, error) {
	cc := s.cc
	cc.mu.Lock()
	deadline := time.Now().Add(timeout)
	for len(s.buf) == 0 && !s.recvEnd && !s.reset {
		if timeout > 0 {
			if !cc.waitUntil(deadline) {
				cc.mu.Unlock()
				return 0, ErrTimeout
			}
		} else {
			cc.cond.Wait()
		}
	}
	if len(s.buf) == 0 {
		err := io.EOF
		if s.reset && !s.recvEnd {
			err = s.err
		}
		cc.mu.Unlock()
		return 0, err
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	if len(s.buf) == 0 {
		s.buf = nil
	}
	s.consumed += int64(n)
	cc.connConsumed += int64(n)
	var strInc, connInc int64
	if s.consumed >= int64(cc.set.InitialWindowSize)/2 && !s.recvEnd {
		strInc, s.consumed = s.consumed, 0
	}
	if cc.connConsumed >= 65535/2 {
		connInc, cc.connConsumed = cc.connConsumed, 0
	}
	cc.mu.Unlock()
	if strInc > 0 || connInc > 0 {
		cc.wmu.Lock()
		if connInc > 0 {
			_ = cc.wfr.WriteWindowUpdate(0, uint32(connInc))
		}
		if strInc > 0 {
			_ = cc.wfr.WriteWindowUpdate(s.ID, uint32(strInc))
		}
		_ = cc.flushLocked()
		cc.wmu.Unlock()
	}
	return n, nil
}

// Trailer returns the response trailers once Read returned io.EOF.
func (s *ClientStream) Trailer() []HeaderField {
	s.cc.mu.Lock()
	defer s.cc.mu.Unlock()
	return s.trailer
}

// Reset abandons the stream.
func (s *ClientStream) Reset(code http2.ErrCode) {
	cc := s.cc
	cc.mu.Lock()
	if s.reset || s.done {
		cc.mu.Unlock()
		return
	}
	s.reset, s.err = true, StreamError{Code: code}
	cc.removeLocked(s)
	cc.cond.Broadcast()
	cc.mu.Unlock()
	cc.wmu.Lock()
	_ = cc.wfr.WriteRSTStream(s.ID, code)
	_ = cc.flushLocked()
	cc.wmu.Unlock()
}

func (s *ClientStream) maybeDone() {
	cc := s.cc
	cc.mu.Lock()
	if s.sentEnd && s.recvEnd {
		cc.removeLocked(s)
	}
	cc.mu.Unlock()
}

func (cc *ClientConn) removeLocked(s *ClientStream) {
	if !s.done {
		s.done = true
		delete(cc.streams, s.ID)
		cc.lastUse = time.Now()
		cc.cond.Broadcast()
	}
}

func (cc *ClientConn) readLoop() {
	err := cc.read()
	cc.fail(err)
}

func (cc *ClientConn) read() error {
	for {
		cc.mu.Lock()
		n := len(cc.streams)
		cc.mu.Unlock()
		if n > 0 && cc.lim.ReadTimeout > 0 {
			_ = cc.nc.SetReadDeadline(time.Now().Add(cc.lim.ReadTimeout))
		} else {
			_ = cc.nc.SetReadDeadline(time.Time{})
		}
		f, err := cc.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				cc.mu.Lock()
				s := cc.streams[se.StreamID]
				cc.mu.Unlock()
				if s != nil {
					s.Reset(se.Code)
				}
				continue
			}
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				cc.wmu.Lock()
				_ = cc.wfr.WriteGoAway(0, http2.ErrCode(ce), nil)
				_ = cc.flushLocked()
				cc.wmu.Unlock()
			}
			return err
		}
		if err := cc.process(f); err != nil {
			return err
		}
	}
}

func (cc *ClientConn) process(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		if !cc.control.take(time.Now()) {
			return ConnError{http2.ErrCodeEnhanceYourCalm, "SETTINGS flood"}
		}
		var err error
		var tableSize uint32
		hasTable := false
		cc.mu.Lock()
		cc.gotSettings = true
		_ = f.ForeachSetting(func(s http2.Setting) error {
			if e := s.Valid(); e != nil {
				err = e
				return e
			}
			switch s.ID {
			case http2.SettingMaxConcurrentStreams:
				cc.maxStreams = s.Val
			case http2.SettingInitialWindowSize:
				delta := int64(s.Val) - cc.peerInitWin
				cc.peerInitWin = int64(s.Val)
				for _, st := range cc.streams {
					st.sendWin += delta
				}
			case http2.SettingMaxFrameSize:
				cc.peerMaxFrame = s.Val
			case http2.SettingHeaderTableSize:
				tableSize, hasTable = s.Val, true
			}
			return nil
		})
		cc.cond.Broadcast()
		cc.mu.Unlock()
		if hasTable {
			// The write lock is never taken under cc.mu (Request takes
			// them the other way round).
			cc.wmu.Lock()
			cc.henc.SetMaxDynamicTableSizeLimit(tableSize)
			cc.wmu.Unlock()
		}
		if err != nil {
			return err
		}
		cc.wmu.Lock()
		defer cc.wmu.Unlock()
		if err := cc.wfr.WriteSettingsAck(); err != nil {
			return err
		}
		return cc.flushLocked()
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		if !cc.control.take(time.Now()) {
			return ConnError{http2.ErrCodeEnhanceYourCalm, "PING flood"}
		}
		cc.wmu.Lock()
		defer cc.wmu.Unlock()
		if err := cc.wfr.WritePing(true, f.Data); err != nil {
			return err
		}
		return cc.flushLocked()
	case *http2.GoAwayFrame:
		cc.mu.Lock()
		cc.goaway = true
		for id, s := range cc.streams {
			if id > f.LastStreamID && !s.reset {
				s.reset, s.err = true, ErrRefused
				cc.removeLocked(s)
			}
		}
		cc.cond.Broadcast()
		cc.mu.Unlock()
		return nil
	case *http2.WindowUpdateFrame:
		cc.mu.Lock()
		defer cc.mu.Unlock()
		if f.StreamID == 0 {
			cc.connSendWin += int64(f.Increment)
			if cc.connSendWin > 1<<31-1 {
				return ConnError{http2.ErrCodeFlowControl, "window overflow"}
			}
		} else if s := cc.streams[f.StreamID]; s != nil {
			s.sendWin += int64(f.Increment)
		}
		cc.cond.Broadcast()
		return nil
	case *http2.RSTStreamFrame:
		cc.mu.Lock()
		if s := cc.streams[f.StreamID]; s != nil && !s.reset {
			s.reset, s.err = true, StreamError{Code: f.ErrCode}
			if f.ErrCode == http2.ErrCodeRefusedStream {
				s.err = ErrRefused
			}
			if f.ErrCode == http2.ErrCodeNo && s.recvEnd {
				s.reset = false // the server has answered in full
			}
			cc.removeLocked(s)
		}
		cc.mu.Unlock()
		return nil
	case *http2.PushPromiseFrame:
		return ConnError{http2.ErrCodeProtocol, "PUSH_PROMISE though disabled"}
	case *http2.MetaHeadersFrame:
		cc.mu.Lock()
		s := cc.streams[f.StreamID]
		cc.mu.Unlock()
		if s == nil {
			return nil
		}
		if s.head != nil {
			tr, err := parseTrailers(f)
			if err != nil || !f.StreamEnded() {
				s.Reset(http2.ErrCodeProtocol)
				return nil
			}
			cc.mu.Lock()
			s.trailer, s.recvEnd = tr, true
			cc.cond.Broadcast()
			cc.mu.Unlock()
			s.maybeDone()
			return nil
		}
		h, err := parseResponse(f)
		if err != nil {
			s.Reset(http2.ErrCodeProtocol)
			return nil
		}
		cc.mu.Lock()
		if h.Status < 200 {
			s.heads = append(s.heads, h)
		} else {
			s.head = h
			if f.StreamEnded() {
				s.recvEnd = true
			}
		}
		cc.cond.Broadcast()
		cc.mu.Unlock()
		if f.StreamEnded() {
			s.maybeDone()
		}
		return nil
	case *http2.DataFrame:
		n := int64(f.Length)
		cc.mu.Lock()
		s := cc.streams[f.StreamID]
		if s == nil || s.head == nil || s.recvEnd {
			cc.connConsumed += n
			cc.mu.Unlock()
			if s != nil {
				s.Reset(http2.ErrCodeStreamClosed)
			}
			return nil
		}
		data := f.Data()
		s.buf = append(s.buf, data...)
		s.received += int64(len(data))
		cc.connConsumed += n - int64(len(data))
		if f.StreamEnded() {
			s.recvEnd = true
		}
		cc.cond.Broadcast()
		cc.mu.Unlock()
		if f.StreamEnded() {
			s.maybeDone()
		}
		return nil
	}
	return nil
}
