package h2

import (
	"errors"
	"time"

	"halo/proxy/evloop"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Conn is the state of one HTTP/2 connection, either side: it never does
// I/O itself. The bytes read are given to Feed, which parses whole frames,
// updates streams and flow control and queues the answers the protocol
// calls for (SETTINGS and PING acknowledgements, WINDOW_UPDATE,
// RST_STREAM, GOAWAY) in the output buffer; streams append their HEADERS
// and DATA there too. The driver (Server, Client) reads and writes the
// socket and runs each stream's work as a task of the connection's event
// loop: everything happens on that loop, so nothing here needs a lock.
type Conn struct {
	client bool
	set    Settings
	lim    Limits
	loop   *evloop.Loop // nil in tests that only feed bytes

	// onOpen is told of each new stream whose request head is complete
	// (server side); onOutput that output is waiting (the driver flushes
	// once per loop iteration).
	onOpen   func(s *Stream)
	onOutput func()
	onDone   func()          // a task handed its stream back
	handler  func(s *Stream) // a server stream's work (its task)
	ready    evloop.Cond     // tasks waiting for the peer's first SETTINGS

	// Input.
	preface int  // bytes of the client preface still to check (server)
	settled bool // the peer's first SETTINGS arrived
	hdec    *hpack.Decoder
	blk     block
	scratch Head // decode target of a block no stream will take

	// Output: frames from out[outOff:] are not written yet; backlog is
	// what the driver still holds below (TLS records not sent).
	out     []byte
	outOff  int
	backlog int
	drain   evloop.Cond // tasks waiting for output room
	hbuf    []byte      // a header block being encoded

	streams []*Stream // open streams (not closed both ways nor reset)
	free    []*Stream
	lastID  uint32 // highest stream id the peer opened (server) or we opened (client)
	nextID  uint32 // client: the next stream id
	running int    // streams a task still holds (not Done)
	zombies int    // of those, streams the peer reset

	peerMaxFrame   uint32
	peerInitWin    int64
	peerMaxStreams uint32
	sendWin        int64 // connection send window
	recvWin        int64 // what the peer may still send on the connection
	recvUnacked    int64 // received bytes not given back yet

	goawaySent bool
	goawayID   uint32 // streams above it are ignored once GOAWAY went out
	peerGoaway bool
	peerLast   uint32 // the peer's GOAWAY last stream id
	// Err is set when the connection is over (a connection error we
	// detected, the peer's GOAWAY with no stream left, the socket's end).
	Err error

	resets, control bucket
	now             time.Time // the loop's clock, for the buckets
}

// block is the header block being decoded (HEADERS then CONTINUATION).
type block struct {
	id     uint32
	s      *Stream // nil: decoded only to keep HPACK's state
	head   *Head
	kind   blockKind
	end    bool          // END_STREAM on the HEADERS frame
	raw    int           // fragment bytes so far
	refuse http2.ErrCode // nonzero: reset the stream with this once decoded
	ignore bool          // decoded for HPACK's state only (after GOAWAY)
	open   bool          // a new stream (server)
}

// ConnError ends a connection with GOAWAY and Code.
type ConnError struct {
	Code http2.ErrCode
	Msg  string
}

func (e ConnError) Error() string { return "h2: connection error " + e.Code.String() + ": " + e.Msg }

// Errors a stream's operations return.
var (
	ErrStreamReset       = errors.New("h2: stream reset")
	ErrConnClosed        = errors.New("h2: connection closed")
	ErrRefused           = errors.New("h2: request refused by the server")
	ErrTimeout     error = timeoutError{}
	errPeerClosed        = errors.New("h2: peer closed the connection")
)

// StreamError is the peer's or our reset of one stream.
type StreamError struct{ Code http2.ErrCode }

func (e StreamError) Error() string { return "h2: stream error " + e.Code.String() }

// timeoutError is a net.Error whose Timeout() is true, as a deadline's.
type timeoutError struct{}

func (timeoutError) Error() string   { return "h2: timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// Preface is the client connection preface (RFC 9113 §3.4).
const Preface = http2.ClientPreface

// outRoom is how much output may wait before a stream's writes wait for
// the socket: HAProxy's mux has one buffer; two frames keep TLS records
// full.
const outRoom = 64 << 10

func (c *Conn) init(client bool, set Settings, lim Limits, l *evloop.Loop) {
	set.fill()
	c.client, c.set, c.lim, c.loop = client, set, lim, l
	c.peerMaxFrame, c.peerInitWin, c.peerMaxStreams = 16384, 65535, 100
	c.sendWin, c.recvWin = 65535, 65535
	c.resets = newBucket(lim.ResetsPerSecond, lim.ResetBurst)
	c.control = newBucket(lim.ControlPerSecond, lim.ControlBurst)
	if !client {
		c.preface = len(Preface)
	} else {
		c.nextID = 1
	}
	c.hdec = hpack.NewDecoder(set.HeaderTableSize, c.emit)
	c.hdec.SetMaxStringLength(int(set.MaxHeaderListSize))
	c.scratch.ContentLength = -1
}

func (c *Conn) emit(f hpack.HeaderField) {
	c.blk.head.add(f.Name, f.Value, c.blk.kind, c.set.MaxHeaderListSize)
}

// writeSettings queues our SETTINGS (the server's first frame; the
// client's, after the preface).
func (c *Conn) writeSettings() {
	o := c.out
	start := len(o)
	o = appendFrameHeader(o, 0, frameSettings, 0, 0)
	// As HAProxy 2.6 (h2_send_settings): the values that differ from the
	// protocol's defaults, and the stream limit (a server's).
	if c.set.HeaderTableSize != 4096 {
		o = appendSetting(o, settingHeaderTableSize, c.set.HeaderTableSize)
	}
	if c.client {
		o = appendSetting(o, settingEnablePush, 0)
	}
	if c.set.InitialWindowSize != 65535 {
		o = appendSetting(o, settingInitialWindowSize, c.set.InitialWindowSize)
	}
	if !c.client {
		o = appendSetting(o, settingMaxConcurrentStreams, c.set.MaxConcurrentStreams)
	}
	if c.set.MaxFrameSize != 16384 {
		o = appendSetting(o, settingMaxFrameSize, c.set.MaxFrameSize)
	}
	n := len(o) - start - frameHeaderLen
	o[start], o[start+1], o[start+2] = byte(n>>16), byte(n>>8), byte(n)
	c.out = o
	c.output()
}

func (c *Conn) output() {
	if c.onOutput != nil {
		c.onOutput()
	}
}

// Unsent is the output not handed to the socket yet.
func (c *Conn) Unsent() int { return len(c.out) - c.outOff + c.backlog }

// Feed parses the complete frames at the start of p and returns how many
// bytes it used (the rest is an incomplete frame: call again with more).
// It stops at the end of the connection (c.Err set, a GOAWAY queued when
// we end it).
func (c *Conn) Feed(p []byte, now time.Time) int {
	c.now = now
	used := 0
	if c.preface > 0 {
		n := min(c.preface, len(p))
		off := len(Preface) - c.preface
		if string(p[:n]) != Preface[off:off+n] {
			c.fail(ConnError{http2.ErrCodeProtocol, "invalid connection preface"})
			return len(p)
		}
		c.preface -= n
		used = n
		if c.preface > 0 {
			return used
		}
	}
	for c.Err == nil {
		rest := p[used:]
		if len(rest) < frameHeaderLen {
			break
		}
		fh := parseFrameHeader(rest)
		if fh.length > c.set.MaxFrameSize {
			// §4.2: a frame above our SETTINGS_MAX_FRAME_SIZE.
			c.fail(ConnError{http2.ErrCodeFrameSize, "frame too large"})
			break
		}
		if len(rest) < frameHeaderLen+int(fh.length) {
			break
		}
		used += frameHeaderLen + int(fh.length)
		if err := c.frame(fh, rest[frameHeaderLen:frameHeaderLen+int(fh.length)]); err != nil {
			c.fail(err)
		}
	}
	return used
}

// fail ends the connection: a connection error goes out as GOAWAY.
func (c *Conn) fail(err error) {
	if c.Err != nil {
		return
	}
	var ce ConnError
	if errors.As(err, &ce) {
		c.goaway(ce.Code)
	}
	c.Err = err
	c.abortStreams(ErrConnClosed)
	c.ready.Broadcast(c.loop)
}

// Close ends the connection for a reason outside the protocol (the
// socket's end, a hard stop): every stream is reset.
func (c *Conn) Close(err error) {
	if c.Err == nil {
		c.Err = err
	}
	c.abortStreams(ErrConnClosed)
	c.drain.Broadcast(c.loop)
	c.ready.Broadcast(c.loop)
}

func (c *Conn) abortStreams(err error) {
	for len(c.streams) > 0 {
		s := c.streams[len(c.streams)-1]
		s.resetErr = err
		s.reset = true
		c.remove(s)
		s.wake()
	}
	if c.blk.s != nil && c.blk.open {
		// A stream whose head was being decoded: nobody took it.
		c.recycle(c.blk.s)
	}
	c.blk = block{}
}

// goaway queues GOAWAY with the last stream id processed.
func (c *Conn) goaway(code http2.ErrCode) {
	last := c.lastID
	if c.client {
		last = 0 // we accept no stream from a server
	}
	if !c.goawaySent {
		c.goawaySent, c.goawayID = true, last
	}
	c.out = appendGoAway(c.out, last, code)
	c.output()
}

// Shutdown announces the end (GOAWAY NO_ERROR: a soft stop, a reload):
// streams already opened finish, new ones are refused. Idle reports
// when the connection may close.
func (c *Conn) Shutdown() {
	if c.goawaySent || c.Err != nil {
		return
	}
	c.goaway(http2.ErrCodeNo)
}

// GoingAway says whether GOAWAY was sent or received.
func (c *Conn) GoingAway() bool { return c.goawaySent || c.peerGoaway }

// Idle says whether no stream is open and no task holds one.
func (c *Conn) Idle() bool { return len(c.streams) == 0 && c.running == 0 }

// Open is the number of open streams.
func (c *Conn) Open() int { return len(c.streams) }

// Settled says whether the peer's preface and first SETTINGS arrived.
func (c *Conn) Settled() bool { return c.settled }

func (c *Conn) frame(fh frameHeader, p []byte) error {
	if c.blk.id != 0 && fh.typ != frameContinuation {
		return ConnError{http2.ErrCodeProtocol, "frame inside a header block"}
	}
	if !c.settled {
		if fh.typ != frameSettings || fh.flags&flagAck != 0 {
			return ConnError{http2.ErrCodeProtocol, "first frame is not SETTINGS"}
		}
	}
	switch fh.typ {
	case frameData:
		return c.onData(fh, p)
	case frameHeaders:
		return c.onHeaders(fh, p)
	case framePriority:
		if fh.id == 0 {
			return ConnError{http2.ErrCodeProtocol, "PRIORITY on stream 0"}
		}
		if len(p) != 5 {
			return c.streamErr(fh.id, http2.ErrCodeFrameSize)
		}
		if be32(p)&(1<<31-1) == fh.id {
			return c.streamErr(fh.id, http2.ErrCodeProtocol)
		}
		if !c.control.take(c.now) {
			return ConnError{http2.ErrCodeEnhanceYourCalm, "PRIORITY flood"}
		}
		return nil
	case frameRSTStream:
		return c.onReset(fh, p)
	case frameSettings:
		return c.onSettings(fh, p)
	case framePushPromise:
		// Servers never get one; clients announce SETTINGS_ENABLE_PUSH 0.
		return ConnError{http2.ErrCodeProtocol, "PUSH_PROMISE"}
	case framePing:
		if fh.id != 0 {
			return ConnError{http2.ErrCodeProtocol, "PING on a stream"}
		}
		if len(p) != 8 {
			return ConnError{http2.ErrCodeFrameSize, "PING length"}
		}
		if fh.flags&flagAck != 0 {
			return nil
		}
		if !c.control.take(c.now) {
			return ConnError{http2.ErrCodeEnhanceYourCalm, "PING flood"}
		}
		c.out = appendPing(c.out, true, p)
		c.output()
		return nil
	case frameGoAway:
		if fh.id != 0 {
			return ConnError{http2.ErrCodeProtocol, "GOAWAY on a stream"}
		}
		if len(p) < 8 {
			return ConnError{http2.ErrCodeFrameSize, "GOAWAY length"}
		}
		c.peerGoaway = true
		c.peerLast = be32(p) & (1<<31 - 1)
		if c.client {
			// Streams above the server's last id were not processed:
			// they may be retried elsewhere.
			for i := len(c.streams) - 1; i >= 0; i-- {
				if s := c.streams[i]; s.ID > c.peerLast {
					s.resetErr, s.reset = ErrRefused, true
					c.remove(s)
					s.wake()
				}
			}
		}
		return nil
	case frameWindowUpdate:
		return c.onWindowUpdate(fh, p)
	case frameContinuation:
		return c.onContinuation(fh, p)
	}
	return nil // unknown frame types are ignored (§5.5)
}

// stream returns the open stream id, or nil.
func (c *Conn) stream(id uint32) *Stream {
	for _, s := range c.streams {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// idle says whether id names a stream never opened (§5.1).
func (c *Conn) idle(id uint32) bool {
	if c.client {
		return id%2 == 0 || id >= c.nextID
	}
	return id > c.lastID
}

// rst queues RST_STREAM for id (a stream not open), counting it against
// the reset budget: a peer making us reset streams in a loop is the
// rapid reset attack's other face.
func (c *Conn) rst(id uint32, code http2.ErrCode) error {
	c.out = appendRST(c.out, id, code)
	c.output()
	if !c.resets.take(c.now) {
		return ConnError{http2.ErrCodeEnhanceYourCalm, "too many stream errors"}
	}
	return nil
}

// streamErr resets stream id with code, whatever state it is in.
func (c *Conn) streamErr(id uint32, code http2.ErrCode) error {
	if s := c.stream(id); s != nil {
		s.fail(code)
	} else {
		c.out = appendRST(c.out, id, code)
		c.output()
	}
	if !c.resets.take(c.now) {
		return ConnError{http2.ErrCodeEnhanceYourCalm, "too many stream errors"}
	}
	return nil
}

func (c *Conn) onSettings(fh frameHeader, p []byte) error {
	if fh.id != 0 {
		return ConnError{http2.ErrCodeProtocol, "SETTINGS on a stream"}
	}
	if fh.flags&flagAck != 0 {
		if len(p) != 0 {
			return ConnError{http2.ErrCodeFrameSize, "SETTINGS ack with a payload"}
		}
		return nil
	}
	if len(p)%6 != 0 {
		return ConnError{http2.ErrCodeFrameSize, "SETTINGS length"}
	}
	if c.settled && !c.control.take(c.now) {
		return ConnError{http2.ErrCodeEnhanceYourCalm, "SETTINGS flood"}
	}
	if !c.settled {
		c.settled = true
		c.ready.Broadcast(c.loop)
	}
	for ; len(p) > 0; p = p[6:] {
		id := uint16(p[0])<<8 | uint16(p[1])
		v := be32(p[2:])
		switch id {
		case settingEnablePush:
			if v > 1 || (c.client && v != 0) {
				return ConnError{http2.ErrCodeProtocol, "invalid SETTINGS_ENABLE_PUSH"}
			}
		case settingInitialWindowSize:
			if v > 1<<31-1 {
				return ConnError{http2.ErrCodeFlowControl, "invalid SETTINGS_INITIAL_WINDOW_SIZE"}
			}
			delta := int64(v) - c.peerInitWin
			c.peerInitWin = int64(v)
			for _, s := range c.streams {
				s.sendWin += delta
				if s.sendWin > 1<<31-1 {
					return ConnError{http2.ErrCodeFlowControl, "window overflow"}
				}
				if delta > 0 {
					s.wake()
				}
			}
		case settingMaxFrameSize:
			if v < 16384 || v > 1<<24-1 {
				return ConnError{http2.ErrCodeProtocol, "invalid SETTINGS_MAX_FRAME_SIZE"}
			}
			c.peerMaxFrame = v
		case settingMaxConcurrentStreams:
			c.peerMaxStreams = v
		}
		// SETTINGS_HEADER_TABLE_SIZE bounds the peer's decoder table; our
		// encoder uses none.
	}
	c.out = appendFrameHeader(c.out, 0, frameSettings, flagAck, 0)
	c.output()
	return nil
}

func (c *Conn) onWindowUpdate(fh frameHeader, p []byte) error {
	if len(p) != 4 {
		return ConnError{http2.ErrCodeFrameSize, "WINDOW_UPDATE length"}
	}
	inc := int64(be32(p) & (1<<31 - 1))
	if fh.id == 0 {
		if inc == 0 {
			return ConnError{http2.ErrCodeProtocol, "WINDOW_UPDATE of 0"}
		}
		c.sendWin += inc
		if c.sendWin > 1<<31-1 {
			return ConnError{http2.ErrCodeFlowControl, "connection window overflow"}
		}
		for _, s := range c.streams {
			if s.blocked {
				s.wake()
			}
		}
		return nil
	}
	if c.idle(fh.id) {
		return ConnError{http2.ErrCodeProtocol, "WINDOW_UPDATE on an idle stream"}
	}
	s := c.stream(fh.id)
	if inc == 0 {
		return c.streamErr(fh.id, http2.ErrCodeProtocol)
	}
	if s == nil {
		return nil // closed: allowed for a while (§6.9)
	}
	s.sendWin += inc
	if s.sendWin > 1<<31-1 {
		return c.streamErr(fh.id, http2.ErrCodeFlowControl)
	}
	if s.blocked {
		s.wake()
	}
	return nil
}

func (c *Conn) onReset(fh frameHeader, p []byte) error {
	if fh.id == 0 {
		return ConnError{http2.ErrCodeProtocol, "RST_STREAM on stream 0"}
	}
	if len(p) != 4 {
		return ConnError{http2.ErrCodeFrameSize, "RST_STREAM length"}
	}
	if c.idle(fh.id) {
		return ConnError{http2.ErrCodeProtocol, "RST_STREAM on an idle stream"}
	}
	s := c.stream(fh.id)
	if s == nil {
		return nil
	}
	code := http2.ErrCode(be32(p))
	s.reset, s.resetErr, s.peerReset = true, StreamError{Code: code}, true
	if s.task {
		c.zombies++
	}
	if c.client && code == http2.ErrCodeRefusedStream {
		s.resetErr = ErrRefused
	}
	c.remove(s)
	s.wake()
	if !c.client && !c.resets.take(c.now) {
		// Streams opened then reset at once, in a loop (CVE-2023-44487).
		return ConnError{http2.ErrCodeEnhanceYourCalm, "too many resets"}
	}
	return nil
}

func (c *Conn) onHeaders(fh frameHeader, p []byte) error {
	id := fh.id
	if id == 0 {
		return ConnError{http2.ErrCodeProtocol, "HEADERS on stream 0"}
	}
	pad := 0
	if fh.flags&flagPadded != 0 {
		if len(p) < 1 {
			return ConnError{http2.ErrCodeFrameSize, "HEADERS too short"}
		}
		pad, p = int(p[0]), p[1:]
	}
	prioSelf := false
	if fh.flags&flagPriority != 0 {
		if len(p) < 5 {
			return ConnError{http2.ErrCodeFrameSize, "HEADERS too short"}
		}
		prioSelf = be32(p)&(1<<31-1) == id
		p = p[5:]
	}
	if pad > len(p) {
		return ConnError{http2.ErrCodeProtocol, "padding longer than the payload"}
	}
	frag := p[:len(p)-pad]
	c.blk = block{id: id, end: fh.flags&flagEndStream != 0, head: &c.scratch}
	if c.client {
		if err := c.clientHeaders(id); err != nil {
			return err
		}
	} else if err := c.serverHeaders(id, prioSelf); err != nil {
		return err
	}
	c.blk.head.reset()
	return c.fragment(frag, fh.flags&flagEndHeaders != 0)
}

// serverHeaders sets up the block of a client's HEADERS frame.
func (c *Conn) serverHeaders(id uint32, prioSelf bool) error {
	b := &c.blk
	if id%2 == 0 {
		return ConnError{http2.ErrCodeProtocol, "even stream id from a client"}
	}
	if s := c.stream(id); s != nil {
		// A second header block: trailers, which end the stream.
		b.kind = blockTrailers
		if s.recvEnd {
			b.refuse = http2.ErrCodeStreamClosed
			return nil
		}
		b.s, b.head = s, &s.Trailer
		if !b.end {
			b.refuse = http2.ErrCodeProtocol
		}
		return nil
	}
	if id <= c.lastID {
		return ConnError{http2.ErrCodeStreamClosed, "HEADERS on a closed stream"}
	}
	c.lastID = id
	b.kind = blockRequest
	switch {
	case c.goawaySent && id > c.goawayID:
		// After our GOAWAY: ignored (§6.8), decoded for HPACK's state.
		b.ignore = true
	case prioSelf:
		b.refuse = http2.ErrCodeProtocol
	case uint32(len(c.streams)) >= c.set.MaxConcurrentStreams:
		b.refuse = http2.ErrCodeRefusedStream
	case c.running >= int(c.set.MaxConcurrentStreams):
		// Every task slot is held, some by streams the client already
		// reset: when half of them are, it opens and cancels streams
		// faster than they are served (rapid reset).
		if 2*c.zombies >= int(c.set.MaxConcurrentStreams) {
			return ConnError{http2.ErrCodeEnhanceYourCalm, "streams reset while their work runs"}
		}
		b.refuse = http2.ErrCodeRefusedStream
	default:
		s := c.newStream(id)
		b.s, b.head, b.open = s, &s.Head, true
	}
	return nil
}

func (c *Conn) onContinuation(fh frameHeader, p []byte) error {
	if c.blk.id == 0 || fh.id != c.blk.id {
		return ConnError{http2.ErrCodeProtocol, "unexpected CONTINUATION"}
	}
	return c.fragment(p, fh.flags&flagEndHeaders != 0)
}

// fragment decodes a piece of the header block; a whole block is then
// handed on. Every block is decoded, refused ones too: HPACK's dynamic
// table must follow the peer's.
func (c *Conn) fragment(frag []byte, last bool) error {
	b := &c.blk
	b.raw += len(frag)
	// A header block bigger than twice the list limit is a flood, not a
	// request (CVE-2024-27316: endless CONTINUATION frames).
	if b.raw > 2*int(c.set.MaxHeaderListSize)+16384 {
		return ConnError{http2.ErrCodeEnhanceYourCalm, "header block too large"}
	}
	if _, err := c.hdec.Write(frag); err != nil {
		return ConnError{http2.ErrCodeCompression, err.Error()}
	}
	if !last {
		return nil
	}
	if err := c.hdec.Close(); err != nil {
		return ConnError{http2.ErrCodeCompression, err.Error()}
	}
	blk := *b
	c.blk = block{}
	h := blk.head
	h.finish(blk.kind)
	if blk.ignore {
		return nil
	}
	if blk.refuse != 0 {
		if blk.open {
			c.recycle(blk.s)
		}
		if blk.kind == blockTrailers {
			return c.streamErr(blk.id, blk.refuse)
		}
		return c.rst(blk.id, blk.refuse)
	}
	if c.client {
		return c.clientBlock(blk)
	}
	s := blk.s
	if blk.kind == blockTrailers {
		if h.err != nil || h.tooBig {
			return c.streamErr(blk.id, http2.ErrCodeProtocol)
		}
		s.hasTrailer = true
		return c.endRecv(s)
	}
	if h.err != nil || h.tooBig {
		c.recycle(s)
		return c.rst(blk.id, http2.ErrCodeProtocol)
	}
	s.NoBody = blk.end
	c.add(s)
	if blk.end {
		s.recvEnd = true
		if h.ContentLength > 0 {
			return c.streamErr(s.ID, http2.ErrCodeProtocol)
		}
	}
	s.task = true
	c.running++
	if c.onOpen != nil {
		c.onOpen(s)
	}
	return nil
}

// endRecv ends the peer's side of s (END_STREAM); a content-length the
// data did not match makes it malformed.
func (c *Conn) endRecv(s *Stream) error {
	s.recvEnd = true
	s.wake()
	if s.Head.ContentLength >= 0 && s.received != s.Head.ContentLength && !s.bodyless() {
		return c.streamErr(s.ID, http2.ErrCodeProtocol)
	}
	if s.sentEnd {
		c.remove(s)
	}
	return nil
}

func (c *Conn) onData(fh frameHeader, p []byte) error {
	id := fh.id
	if id == 0 {
		return ConnError{http2.ErrCodeProtocol, "DATA on stream 0"}
	}
	n := int64(len(p))
	if fh.flags&flagPadded != 0 {
		if len(p) < 1 {
			return ConnError{http2.ErrCodeFrameSize, "DATA too short"}
		}
		pad := int(p[0])
		if pad >= len(p) {
			return ConnError{http2.ErrCodeProtocol, "padding longer than the payload"}
		}
		p = p[1 : len(p)-pad]
	}
	if n > c.recvWin {
		return ConnError{http2.ErrCodeFlowControl, "connection window exceeded"}
	}
	c.recvWin -= n
	if c.idle(id) {
		return ConnError{http2.ErrCodeProtocol, "DATA on an idle stream"}
	}
	// The connection's window is given back at once: each stream's own
	// window bounds what it buffers.
	c.giveBackConn(n)
	s := c.stream(id)
	if s == nil && c.client {
		return nil // a stream we reset: its data may still be in flight
	}
	if s == nil {
		// Closed (maybe by our answer while the body was coming): no
		// reset budget is spent on it, the peer did nothing wrong.
		c.out = appendRST(c.out, id, http2.ErrCodeStreamClosed)
		c.output()
		return nil
	}
	if s.recvEnd {
		return c.streamErr(id, http2.ErrCodeStreamClosed)
	}
	if n > s.recvWin {
		return c.streamErr(id, http2.ErrCodeFlowControl)
	}
	s.recvWin -= n
	if pad := n - int64(len(p)); pad > 0 {
		s.giveBack(pad) // padding is never read
	}
	s.received += int64(len(p))
	if len(p) > 0 {
		if s.roff == len(s.rbuf) {
			s.rbuf, s.roff = s.rbuf[:0], 0
		}
		s.rbuf = append(s.rbuf, p...)
		s.wake()
	}
	if s.Head.ContentLength >= 0 && s.received > s.Head.ContentLength {
		return c.streamErr(id, http2.ErrCodeProtocol)
	}
	if fh.flags&flagEndStream != 0 {
		return c.endRecv(s)
	}
	if len(p) == 0 && !c.control.take(c.now) {
		return ConnError{http2.ErrCodeEnhanceYourCalm, "empty DATA flood"}
	}
	return nil
}

// giveBackConn returns n received bytes to the connection window, with a
// WINDOW_UPDATE once half the window is owed.
func (c *Conn) giveBackConn(n int64) {
	c.recvUnacked += n
	if c.recvUnacked >= int64(c.set.InitialWindowSize)/2 || c.recvUnacked >= 32768 {
		c.out = appendWindowUpdate(c.out, 0, uint32(c.recvUnacked))
		c.recvWin += c.recvUnacked
		c.recvUnacked = 0
		c.output()
	}
}

// bodyless says whether a response has no body whatever its
// content-length says (HEAD, 204, 304).
func (s *Stream) bodyless() bool {
	if !s.c.client {
		return false
	}
	st := s.Head.Status()
	return s.headReq || st == 204 || st == 304
}

// newStream takes a stream from the pool.
func (c *Conn) newStream(id uint32) *Stream {
	var s *Stream
	if n := len(c.free); n > 0 {
		s = c.free[n-1]
		c.free[n-1] = nil
		c.free = c.free[:n-1]
	} else {
		s = &Stream{c: c}
		s.runFn = s.run
		s.Head.ContentLength = -1
		s.Trailer.ContentLength = -1
	}
	s.ID = id
	s.sendWin = c.peerInitWin
	s.recvWin = int64(c.set.InitialWindowSize)
	s.idx = -1
	return s
}

// add makes s an open stream.
func (c *Conn) add(s *Stream) {
	s.idx = len(c.streams)
	c.streams = append(c.streams, s)
}

// remove forgets a stream closed both ways or reset.
func (c *Conn) remove(s *Stream) {
	i := s.idx
	if i < 0 || i >= len(c.streams) || c.streams[i] != s {
		return
	}
	last := len(c.streams) - 1
	c.streams[i] = c.streams[last]
	c.streams[i].idx = i
	c.streams[last] = nil
	c.streams = c.streams[:last]
	s.idx = -1
	if !s.task {
		c.recycle(s)
	}
}

// recycle puts a stream no one uses back in the pool.
func (c *Conn) recycle(s *Stream) {
	s.clear()
	if len(c.free) < 16 {
		c.free = append(c.free, s)
	}
}
