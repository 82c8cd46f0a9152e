package proxy

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"

	"halo/proxy/evloop"
	"halo/proxy/h2"
	"halo/proxy/http1"

	"golang.org/x/net/http2"
)

// HTTP/2 clients (bind … alpn h2 over TLS, bind … proto h2 in clear):
// package h2 runs the connection on the event loop that accepted it (an
// h2.Server parked on the socket: no goroutine, no blocking mode) and
// starts a task of that loop per stream. The task runs one transaction of
// an ordinary session whose client side is the stream (h2StreamConn):
// the request head, rebuilt as HTTP/1.1 (request line "… HTTP/2.0", as
// HAProxy logs it), is parsed from the session's buffer, the body is read
// from the stream's DATA (re-framed as chunked when no length is
// announced), and the HTTP/1.1 response the engine writes is turned into
// HEADERS and DATA frames. So every rule, ACL, log line, counter and
// error page is the one HTTP/1.1 gets, with the client's addresses and
// TLS state, and a stream costs no socket and no goroutine.

// h2Settings are the tune.h2.* values.
func (rt *Runtime) h2Settings() h2.Settings {
	g := &rt.Cfg.Global
	s := h2.Settings{HeaderTableSize: g.H2HeaderTableSize, InitialWindowSize: g.H2InitialWindowSize,
		MaxConcurrentStreams: g.H2MaxConcurrentStreams, MaxFrameSize: g.H2MaxFrameSize}
	if g.TuneBufsize > 0 {
		s.MaxHeaderListSize = uint32(g.TuneBufsize)
	}
	return s
}

// h2Limits map the frontend's timeouts as HAProxy does for H2: idle
// connections live `timeout http-keep-alive` (else client), active ones
// `timeout client`; the preface and first SETTINGS arrive within
// `timeout http-request` (else client).
func h2Limits(p *Proxy) h2.Limits {
	l := h2.DefaultLimits()
	to := &p.Timeouts
	l.ReadTimeout = pick(to.Client, 0)
	l.WriteTimeout = pick(to.Client, 0)
	l.IdleTimeout = pick(to.HTTPKeepAlive, to.Client)
	l.PrefaceTimeout = pick(to.HTTPRequest, to.Client)
	return l
}

// h2Front is a client's HTTP/2 connection: the h2.Server on its socket
// and what its streams' sessions need.
type h2Front struct {
	sv   h2.Server
	rt   *Runtime
	l    *listener
	ls   *loopState
	cc   ClientConn
	tls  *TLSConn
	live int
	pool h2BufPool
}

func (h *h2Front) liveIndex() *int { return &h.live }

// stop: a soft stop sends GOAWAY (streams in flight finish, then the
// connection closes), a hard one closes it (its streams unwind). On the
// loop.
func (h *h2Front) stop(hard bool) {
	if hard {
		h.sv.Kill()
		return
	}
	h.sv.Shutdown()
}

// h2BufPool lends the connection the loop's large buffers when a whole
// frame fits in one (the default max frame size).
type h2BufPool struct {
	ls   *loopState
	size int
}

func (p *h2BufPool) Get() []byte {
	if p.size <= bodyBufSize {
		return p.ls.bigs.get()
	}
	return make([]byte, p.size)
}

func (p *h2BufPool) Put(b []byte) {
	if cap(b) == bodyBufSize {
		p.ls.bigs.put(b)
	}
}

// serveH2 starts serving an HTTP/2 connection on the loop of ec (in clear
// when tt is nil, else c is the *tls.Conn over tt); pre holds bytes
// already read from the client (a preface detected on an HTTP/1 bind).
// It returns at once: the connection lives on the loop.
func (rt *Runtime) serveH2(l *listener, ls *loopState, ec *evloop.Conn, c net.Conn, tt *h2.Transport, cc *ClientConn, tlsState *TLSConn, pre []byte) {
	h := &h2Front{rt: rt, l: l, ls: ls, cc: *cc, tls: tlsState}
	set := rt.h2Settings()
	h.pool = h2BufPool{ls: ls, size: h2.ReadBufSize(max(set.MaxFrameSize, 16384))}
	ls.track(h)
	tc, _ := c.(*tls.Conn)
	if tc == nil {
		tt = nil
	}
	h.sv.Start(ec, tc, tt, &h2.ServerConfig{Settings: set, Limits: h2Limits(l.fe.Proxy), Pool: &h.pool,
		Handler: h.serveStream, OnEnd: h.end}, pre)
	if rt.stopping.Load() {
		h.sv.Shutdown()
	}
}

// end runs once the socket is closed and every stream's task is over.
func (h *h2Front) end() {
	h.ls.untrack(h)
	h.rt.leaveConn(&h.cc)
	h.rt.endClient(h.l)
}

// serveStream runs one stream as a transaction of a session (in the
// stream's task).
func (h *h2Front) serveStream(st *h2.Stream) {
	if h.rt.hardStopped.Load() {
		return
	}
	s := h.ls.sessions.get()
	s.initStream(h, st)
	s.serveStream()
}

// initStream starts a session serving stream st of h: it counts neither
// as a connection nor against maxconn, and a stop reaches it through h.
func (s *session) initStream(h *h2Front, st *h2.Stream) {
	s.rt, s.fe, s.l, s.ls, s.lp = h.rt, h.l.fe, h.l, h.ls, h.ls.l
	if s.h2c == nil {
		s.h2c = &h2StreamConn{}
	}
	sc := s.h2c
	sc.reset(st, h.cc.Src, h.cc.Dst)
	s.ec, s.c, s.src, s.dst, s.tls = nil, sc, h.cc.Src, h.cc.Dst, h.tls
	s.cf.init(sc, nil)
	s.cf.h2 = sc
	s.stream = true
	s.live = -1
	s.acceptAt = time.Now()
	s.idleAt = s.acceptAt
}

// serveStream runs the stream's transaction: the request head, rebuilt
// as HTTP/1.1 in the session's buffer, is parsed as any other.
func (s *session) serveStream() {
	s.acquireWork()
	tx := &s.tx
	tx.reset()
	tx.Frontend, tx.Src, tx.Dst = s.fe, s.src, s.dst
	tx.Bind = s.l.bind
	tx.TLS, tx.SSL, tx.ClientCert = s.tls.state(), s.tls != nil, s.tls.client()
	tx.AcceptAt = s.acceptAt
	tx.firstReq = true
	tx.loop = s.lp
	sc := s.h2c
	n, ok := sc.buildHead(s.buf)
	s.first = time.Now()
	if !ok {
		// The head does not fit in tune.bufsize.
		s.reqError(400, s.first)
		s.end()
		return
	}
	s.w = n
	tx.BytesIn = int64(n)
	if err := http1.ParseRequest(&s.req, s.buf[:n], s.rt.headLimit); err != nil {
		status := 400
		if err == http1.ErrUnprocessable {
			status = 422
		}
		s.reqError(status, s.first)
		s.end()
		return
	}
	s.req.FromH2 = true
	tx.ReqAt = s.first
	tx.Ti, tx.Th, tx.TR = 0, 0, 0
	s.transaction()
	s.nreq++
	if s.tun != nil {
		// No tunnel over a stream: a server's 101 was not forwarded
		// (HTTP/2 has no Upgrade); the stream is reset.
		sc.st.Fail(http2.ErrCodeInternal)
		s.dropConn(s.tunSC)
		s.tun, s.tunSC, s.tunBE = nil, nil, nil
	}
	s.rt.logTxn(tx)
	s.end()
}

// h2StreamConn is a stream as a session's client connection (net.Conn):
// Read gives the request body (chunked when its length is unknown),
// Write takes the engine's HTTP/1.1 response and sends it as frames.
type h2StreamConn struct {
	st       *h2.Stream
	src, dst netip.AddrPort
	rto, wto time.Duration
	body     bool // a request body follows the head
	chunk    bool // the request body is re-framed as chunked
	bodyEOF  bool
	rbuf     []byte // a chunk being handed out: rbuf[roff:]
	roff     int

	respParsed bool
	resp       http1.Message
	hbuf       []byte // response head bytes until parsed
	noBody     bool   // HEAD request, 204/304 response
	headReq    bool
	remain     int64 // content-length body bytes left; -1 chunked; -2 until close
	dec        chunkDecoder
	ended      bool // END_STREAM sent, or the stream reset
}

func (c *h2StreamConn) reset(st *h2.Stream, src, dst netip.AddrPort) {
	hb, rb := c.hbuf[:0], c.rbuf[:0]
	if cap(hb) > 64<<10 {
		hb = nil
	}
	if cap(rb) > 64<<10 {
		rb = nil
	}
	resp := c.resp
	resp.Reset()
	*c = h2StreamConn{st: st, src: src, dst: dst, hbuf: hb, rbuf: rb, resp: resp}
	c.dec.trailers = c.dec.trailers[:0]
}

// buildHead writes the request head as HTTP/1.1 into buf; false if it
// does not fit.
func (c *h2StreamConn) buildHead(buf []byte) (int, bool) {
	r := &c.st.Head
	method, scheme, auth, path := r.Method(), r.Scheme(), r.Authority(), r.Path()
	c.headReq = string(method) == "HEAD"
	connect := string(method) == "CONNECT"
	h := buf[:0]
	if !validScheme(scheme) && !connect {
		// HAProxy answers 400 to a :scheme that is no URI scheme; an
		// unparsable request line makes the engine do so (and log it).
		h = append(h, "\x01 / HTTP/2.0\r\n\r\n"...)
		return len(h), len(h) <= len(buf)
	}
	// As HAProxy: the URI is rebuilt in absolute form from :scheme and
	// :authority, whose default port the scheme-based normalization
	// (RFC 3986 §6.2.3) drops; Host carries the same authority.
	if (string(scheme) == "http" && hasSuffix(auth, ":80")) || (string(scheme) == "https" && hasSuffix(auth, ":443")) {
		for len(auth) > 0 && auth[len(auth)-1] != ':' {
			auth = auth[:len(auth)-1]
		}
		auth = auth[:len(auth)-1]
	}
	h = append(h, method...)
	h = append(h, ' ')
	switch {
	case connect:
		h = append(h, auth...)
	case len(auth) > 0 && string(path) != "*":
		h = append(h, scheme...)
		h = append(h, "://"...)
		h = append(h, auth...)
		h = append(h, path...)
	default:
		h = append(h, path...)
	}
	h = append(h, " HTTP/2.0\r\n"...)
	if len(auth) > 0 {
		h = append(h, "host: "...)
		h = append(h, auth...)
		h = append(h, "\r\n"...)
	}
	for i := 0; i < r.Len(); i++ {
		name, value := r.Field(i)
		h = append(h, name...)
		h = append(h, ": "...)
		h = append(h, value...)
		h = append(h, "\r\n"...)
	}
	c.body = !c.st.NoBody
	if c.body && r.ContentLength < 0 {
		// No length announced: the body goes chunked, as HAProxy sends
		// it to HTTP/1.1 servers.
		c.chunk = true
		h = append(h, "transfer-encoding: chunked\r\n"...)
	}
	h = append(h, "\r\n"...)
	c.remain = -3
	// append grew a new array when the head did not fit.
	return len(h), len(h) <= len(buf) && &h[0] == &buf[0]
}

func hasSuffix(b []byte, suf string) bool {
	return len(b) >= len(suf) && string(b[len(b)-len(suf):]) == suf
}

// validScheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1).
func validScheme(s []byte) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (s[i] >= '0' && s[i] <= '9' || s[i] == '+' || s[i] == '-' || s[i] == '.'):
		default:
			return false
		}
	}
	return len(s) > 0
}

// Read reads the request body: the stream's DATA, re-framed as chunked
// (with the client's trailers) when no length was announced; io.EOF at
// its end.
func (c *h2StreamConn) Read(p []byte) (int, error) {
	if c.roff < len(c.rbuf) {
		n := copy(p, c.rbuf[c.roff:])
		c.roff += n
		return n, nil
	}
	if !c.body || c.bodyEOF {
		return 0, io.EOF
	}
	if !c.chunk {
		n, err := c.st.Read(p, c.rto)
		if err == io.EOF {
			c.bodyEOF = true
		}
		return n, err
	}
	if len(p) < 32 {
		// No room for a chunk's framing around its data: through rbuf.
		var tmp [64]byte
		n, err := c.readChunk(tmp[:])
		if c.roff < len(c.rbuf) {
			return c.Read(p)
		}
		c.rbuf, c.roff = append(c.rbuf[:0], tmp[:n]...), 0
		if n > 0 {
			return c.Read(p)
		}
		return 0, err
	}
	n, err := c.readChunk(p)
	if n == 0 && err == nil {
		return c.Read(p) // the last chunk and the trailers, in rbuf
	}
	return n, err
}

// readChunk reads body data as one chunk into p (32 bytes at least);
// at the body's end it puts the last chunk and the trailers in rbuf.
func (c *h2StreamConn) readChunk(p []byte) (int, error) {
	// Data goes in the middle of p, the size line before, CRLF after.
	const pre = 10
	n, err := c.st.Read(p[pre:len(p)-2], c.rto)
	if n > 0 {
		var sz [pre]byte
		line := strconv.AppendInt(sz[:0], int64(n), 16)
		line = append(line, '\r', '\n')
		off := pre - len(line)
		copy(p[off:], line)
		p[pre+n], p[pre+n+1] = '\r', '\n'
		copy(p, p[off:pre+n+2])
		return len(line) + n + 2, nil
	}
	if err != io.EOF {
		return 0, err
	}
	c.bodyEOF = true
	end := append(c.rbuf[:0], "0\r\n"...)
	if c.st.HasTrailer() {
		t := &c.st.Trailer
		for i := 0; i < t.Len(); i++ {
			name, value := t.Field(i)
			end = append(end, name...)
			end = append(end, ": "...)
			end = append(end, value...)
			end = append(end, "\r\n"...)
		}
	}
	c.rbuf, c.roff = append(end, "\r\n"...), 0
	return 0, nil
}

// Write takes the engine's HTTP/1.1 response and sends it as frames.
func (c *h2StreamConn) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if c.ended {
			return n, nil // bytes after the end (e.g. a close-delimited tail)
		}
		if !c.respParsed {
			c.hbuf = append(c.hbuf, p...)
			p = nil
			if err := c.parseHead(); err != nil {
				return n, err
			}
			continue
		}
		var err error
		p, err = c.writeBody(p)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// parseHead parses response heads out of hbuf: 1xx heads go out as
// informational HEADERS; the final head starts the body.
func (c *h2StreamConn) parseHead() error {
	for !c.respParsed && len(c.hbuf) > 0 {
		err := http1.ParseResponse(&c.resp, c.hbuf, 1<<20)
		if err == http1.ErrIncomplete {
			return nil
		}
		if err != nil {
			c.fail()
			return err
		}
		m := &c.resp
		rest := c.hbuf[m.HeadLen:]
		if m.Status < 200 {
			if m.Status != 101 {
				if err := c.sendHead(m, false); err != nil {
					return err
				}
			}
			c.hbuf = append(c.hbuf[:0], rest...)
			continue
		}
		c.respParsed = true
		c.noBody = c.headReq || m.Status == 204 || m.Status == 304
		switch {
		case c.noBody:
			c.remain = 0
		case m.Chunked:
			c.remain = -1
		case m.ContentLength >= 0:
			c.remain = m.ContentLength
		default:
			c.remain = -2
		}
		end := c.remain == 0
		if err := c.sendHead(m, end); err != nil {
			return err
		}
		c.ended = end
		if len(rest) > 0 {
			// rest lies in hbuf, which no one appends to any more.
			if _, err := c.writeBody(rest); err != nil {
				return err
			}
		}
	}
	return nil
}

// sendHead sends a response head: names in lower case, connection-specific
// fields (and TE) left out (RFC 9113 §8.2.2).
func (c *h2StreamConn) sendHead(m *http1.Message, end bool) error {
	st := c.st
	st.StartHead(m.Status)
	for _, f := range m.Headers {
		name := f.Name
		for i, b := range name {
			if b >= 'A' && b <= 'Z' {
				name[i] = b + 32 // in hbuf: ours
			}
		}
		if h2.IsConnectionSpecific(name) || string(name) == "te" {
			continue
		}
		st.HeadField(name, f.Value)
	}
	return st.EndHead(end)
}

// writeBody sends body bytes; it returns what follows the body.
func (c *h2StreamConn) writeBody(p []byte) ([]byte, error) {
	switch {
	case c.ended:
		return nil, nil
	case c.remain == -2:
		_, err := c.st.Write(p, c.wto)
		return nil, err
	case c.remain >= 0:
		n := int64(len(p))
		if n > c.remain {
			n = c.remain
		}
		c.remain -= n
		var err error
		if c.remain == 0 {
			_, err = c.st.WriteEnd(p[:n], c.wto)
			c.ended = true
		} else {
			_, err = c.st.Write(p[:n], c.wto)
		}
		return p[n:], err
	}
	// chunked
	data, used, done, err := c.dec.feed(p)
	if err != nil {
		c.fail()
		return nil, err
	}
	if len(data) > 0 {
		if _, err := c.st.Write(data, c.wto); err != nil {
			return nil, err
		}
	}
	if done {
		c.ended = true
		if len(c.dec.trailers) > 0 {
			c.st.StartTrailers()
			for _, f := range c.dec.trailers {
				c.st.HeadFieldString(f.Name, f.Value)
			}
			err = c.st.EndHead(true)
		} else {
			_, err = c.st.WriteEnd(nil, c.wto)
		}
		return p[used:], err
	}
	return p[used:], nil
}

func (c *h2StreamConn) fail() {
	c.ended = true
	c.st.Fail(http2.ErrCodeInternal)
}

// Close ends the stream when the engine is done with it: a
// close-delimited body ends here; an unanswered stream is reset (by the
// stream's Done, once the task returns).
func (c *h2StreamConn) Close() error {
	if c.ended {
		return nil
	}
	if c.respParsed && c.remain == -2 {
		_, _ = c.st.WriteEnd(nil, c.wto)
		c.ended = true
		return nil
	}
	c.fail()
	return nil
}

func (c *h2StreamConn) LocalAddr() net.Addr              { return net.TCPAddrFromAddrPort(c.dst) }
func (c *h2StreamConn) RemoteAddr() net.Addr             { return net.TCPAddrFromAddrPort(c.src) }
func (c *h2StreamConn) SetDeadline(time.Time) error      { return nil }
func (c *h2StreamConn) SetReadDeadline(time.Time) error  { return nil }
func (c *h2StreamConn) SetWriteDeadline(time.Time) error { return nil }

var errChunk = errors.New("invalid chunked body")

// chunkDecoder extracts data and trailers from an HTTP/1.1 chunked body
// (the engine's output, re-framed but coming from a server).
type chunkDecoder struct {
	state    int
	size     int64
	line     []byte
	out      []byte
	trailers []h2.HeaderField
}

// feed consumes p; data holds the body bytes found (valid until the next
// call), used how much of p the body took, done its end.
func (d *chunkDecoder) feed(p []byte) (data []byte, used int, done bool, err error) {
	d.out = d.out[:0]
	i := 0
	for i < len(p) {
		switch d.state {
		case 0, 2: // size line, trailer lines: up to LF
			j := i
			for j < len(p) && p[j] != '\n' {
				j++
			}
			d.line = append(d.line, p[i:j]...)
			if len(d.line) > 8192 {
				return nil, i, false, errChunk
			}
			if j == len(p) {
				return d.out, len(p), false, nil
			}
			i = j + 1
			line := d.line
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			d.line = d.line[:0]
			if d.state == 2 {
				if len(line) == 0 {
					d.state = 4
					return d.out, i, true, nil
				}
				name, value, ok := cutColon(line)
				if !ok {
					return nil, i, false, errChunk
				}
				if !h2.IsConnectionSpecificString(name) {
					d.trailers = append(d.trailers, h2.HeaderField{Name: name, Value: value})
				}
				continue
			}
			sz := line
			for k, b := range sz {
				if b == ';' || b == ' ' || b == '\t' {
					sz = sz[:k]
					break
				}
			}
			n, perr := strconv.ParseInt(string(sz), 16, 64)
			if perr != nil || n < 0 {
				return nil, i, false, errChunk
			}
			d.size = n
			if n == 0 {
				d.state = 2
			} else {
				d.state = 1
			}
		case 1: // data
			n := int64(len(p) - i)
			if n > d.size {
				n = d.size
			}
			d.out = append(d.out, p[i:i+int(n)]...)
			i += int(n)
			d.size -= n
			if d.size == 0 {
				d.state = 3
			}
		case 3: // CRLF after data
			if p[i] == '\r' {
				i++
				continue
			}
			if p[i] != '\n' {
				return nil, i, false, errChunk
			}
			i++
			d.state = 0
		case 4:
			return d.out, i, true, nil
		}
	}
	return d.out, i, d.state == 4, nil
}

func cutColon(line []byte) (name, value string, ok bool) {
	for k, b := range line {
		if b == ':' {
			v := line[k+1:]
			for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
				v = v[1:]
			}
			for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
				v = v[:len(v)-1]
			}
			return lower(string(line[:k])), string(v), k > 0
		}
	}
	return "", "", false
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}
