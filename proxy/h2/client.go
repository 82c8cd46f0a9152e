package h2

import (
	"time"

	"golang.org/x/net/http2"
)

// The client side of a Conn: requests to a server are streams we open
// (odd ids, in increasing order, up to the server's
// SETTINGS_MAX_CONCURRENT_STREAMS); its HEADERS frames are response heads
// (1xx interim heads, then the final one) and trailers.

// CanRequest says whether a new stream may be opened now.
func (c *Conn) CanRequest() bool {
	return c.Err == nil && c.settled && !c.goawaySent && !c.peerGoaway &&
		uint32(len(c.streams)) < c.peerMaxStreams && c.nextID < 1<<31-1
}

// StartRequest opens a stream for a request: the pseudo-header fields
// now (empty ones are left out: CONNECT has no :scheme nor :path), then
// HeadField for the others and EndHead. The calling task owns the stream
// until Done. ErrRefused when the connection takes no more streams.
func (c *Conn) StartRequest(method, scheme, authority, path []byte, head bool) (*Stream, error) {
	if !c.CanRequest() {
		return nil, ErrRefused
	}
	s := c.newStream(c.nextID)
	c.lastID = s.ID
	c.nextID += 2
	c.add(s)
	s.task = true
	s.headReq = head
	c.running++
	h := appendMethod(c.hbuf[:0], method)
	if len(scheme) > 0 {
		h = appendScheme(h, scheme)
	}
	if len(authority) > 0 {
		h = appendInt(h, 0, 4, 1)
		h = appendString(h, authority)
	}
	if len(path) > 0 {
		h = appendPath(h, path)
	}
	c.hbuf = h
	return s, nil
}

// clientHeaders sets up the block of a server's HEADERS frame.
func (c *Conn) clientHeaders(id uint32) error {
	b := &c.blk
	b.kind = blockResponse
	if id%2 == 0 {
		return ConnError{http2.ErrCodeProtocol, "HEADERS on a stream the server opened"}
	}
	s := c.stream(id)
	if s == nil {
		if c.idle(id) {
			return ConnError{http2.ErrCodeProtocol, "HEADERS on an idle stream"}
		}
		b.ignore = true // a stream we reset: decoded for HPACK's state
		return nil
	}
	if s.recvEnd {
		b.refuse = http2.ErrCodeStreamClosed
		return nil
	}
	b.s = s
	if s.gotHead {
		b.kind = blockTrailers
		b.head = &s.Trailer
		if !b.end {
			b.refuse = http2.ErrCodeProtocol
		}
		return nil
	}
	b.head = &s.interim
	return nil
}

// clientBlock takes a complete response head or trailers.
func (c *Conn) clientBlock(blk block) error {
	s, h := blk.s, blk.head
	if h.err != nil || h.tooBig {
		return c.streamErr(s.ID, http2.ErrCodeProtocol)
	}
	if blk.kind == blockTrailers {
		s.hasTrailer = true
		return c.endRecv(s)
	}
	st := h.Status()
	if st < 200 {
		if blk.end || st == 101 {
			// An interim head never ends a stream; 101 has no place
			// in HTTP/2 (§8.6).
			return c.streamErr(s.ID, http2.ErrCodeProtocol)
		}
		s.hasInterim = true
		s.wake()
		return nil
	}
	s.Head, s.interim = s.interim, s.Head
	s.hasInterim = false // an interim head not taken yet is dropped
	s.gotHead = true
	s.wake()
	if blk.end {
		return c.endRecv(s)
	}
	return nil
}

// AwaitHead waits (at most timeout, 0: none) for the server's next
// response head: interim heads (final false) before the final one.
func (s *Stream) AwaitHead(timeout time.Duration) (h *Head, final bool, err error) {
	for {
		switch {
		case s.hasInterim:
			s.hasInterim = false
			return &s.interim, false, nil
		case s.gotHead && !s.headTaken:
			s.headTaken = true
			return &s.Head, true, nil
		case s.reset:
			return nil, false, s.err()
		}
		if !s.cond.WaitTimeout(s.c.loop, timeout) {
			return nil, false, ErrTimeout
		}
	}
}

// StartRequestTrailers begins trailers after a request body.
func (s *Stream) StartRequestTrailers() { s.c.hbuf = s.c.hbuf[:0] }
