package proxy

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"halo/proxy/evloop"
	"halo/proxy/h2"
	"halo/proxy/http1"

	"golang.org/x/net/http2"
	"golang.org/x/sys/unix"
)

// HTTP/2 clients (bind … alpn h2 over TLS, bind … proto h2 in clear):
// package h2 runs the connection and hands each stream here. A stream
// becomes one HTTP/1.1 transaction of the engine: the stream's request is
// written, as an HTTP/1.1 message (request line "… HTTP/2.0", as HAProxy
// logs it), into one end of a socket pair whose other end is served by an
// ordinary session on the connection's event loop; the response that
// session writes back is turned into HEADERS and DATA frames
// (streamConn). So every rule, ACL, log line, counter and error page is
// the one HTTP/1.1 gets, with the client's addresses and TLS state. The
// seam is this file: an engine that takes messages instead of bytes
// replaces the socket pair without touching package h2.
//
// The HTTP/2 connection itself runs off the loop (Loop.Offload, its
// socket in blocking mode) on a goroutine of its own, with one per
// running stream: package h2 is written for goroutines.

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

// h2Live is an HTTP/2 connection as a stop sees it.
type h2Live struct {
	hc   atomic.Pointer[h2.Conn]
	fd   int
	live int
}

func (h *h2Live) liveIndex() *int { return &h.live }

// stop: a soft stop sends GOAWAY (streams in flight finish), a hard one
// shuts the socket down. Off the loop: the connection is in blocking mode.
func (h *h2Live) stop(hard bool) {
	if hard {
		_ = unix.Shutdown(h.fd, unix.SHUT_RDWR)
		return
	}
	if hc := h.hc.Load(); hc != nil {
		go hc.Shutdown()
	}
}

// serveH2 runs an HTTP/2 connection (in a task of the loop that accepted
// it, which it leaves for the connection's life).
func (rt *Runtime) serveH2(l *listener, ls *loopState, ec *evloop.Conn, c net.Conn, cc *ClientConn, tlsState *TLSConn) {
	fe := l.fe
	src, dst := cc.Src, cc.Dst
	lp := ec.Loop()
	live := &h2Live{fd: ec.Fd()}
	ls.track(live)
	var nc net.Conn = offConn{ec}
	if tc, ok := c.(*tls.Conn); ok {
		nc = offTLS{tc, ec.Fd()}
	}
	ec.SetBlocking(true)
	lp.Offload(func() {
		hc := h2.NewConn(nc, rt.h2Settings(), h2Limits(fe.Proxy), func(s *h2.Stream) {
			rt.serveH2Stream(l, lp, s, src, dst, tlsState)
		})
		live.hc.Store(hc)
		if rt.stopping.Load() {
			hc.Shutdown()
		}
		_ = hc.Serve()
	})
	ec.SetBlocking(false)
	ls.untrack(live)
	if !ec.Closed() {
		ec.Close()
	}
	rt.leaveConn(cc)
	rt.endClient(l)
}

// offConn is the client socket while its task is offloaded: Close may
// only shut it down (the loop closes it once the task is back).
type offConn struct{ *evloop.Conn }

func (o offConn) Close() error      { return unix.Shutdown(o.Fd(), unix.SHUT_RDWR) }
func (o offConn) CloseWrite() error { return unix.Shutdown(o.Fd(), unix.SHUT_WR) }

// offTLS is offConn under TLS: CloseWrite sends close_notify.
type offTLS struct {
	*tls.Conn
	fd int
}

func (o offTLS) Close() error { return unix.Shutdown(o.fd, unix.SHUT_RDWR) }

// serveH2Stream runs one stream as a transaction of a session on lp.
func (rt *Runtime) serveH2Stream(l *listener, lp *evloop.Loop, s *h2.Stream, src, dst netip.AddrPort, tlsState *TLSConn) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		s.Reset(http2.ErrCodeRefusedStream)
		return
	}
	f := os.NewFile(uintptr(fds[1]), "h2-stream")
	uc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		unix.Close(fds[0])
		s.Reset(http2.ErrCodeRefusedStream)
		return
	}
	defer uc.Close()
	lp.Post(func() { rt.streamSession(l, lp, fds[0], src, dst, tlsState) })
	sc := newStreamConn(s)
	// The request: head, then the body as it comes. The socket stays open
	// until the response is over, as a keep-alive client's.
	// A write error (the session answered and closed before the body
	// was all sent) leaves the socket to the response reader below.
	go func() { _ = sc.copyRequest(uc) }()
	buf := make([]byte, 32<<10)
	for !sc.ended {
		n, err := uc.Read(buf)
		if n > 0 {
			if _, werr := sc.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	sc.finish()
}

// streamSession starts the session serving a stream's socket (on lp).
func (rt *Runtime) streamSession(l *listener, lp *evloop.Loop, fd int, src, dst netip.AddrPort, tlsState *TLSConn) {
	ec, err := lp.Register(fd, dst, src)
	if err != nil {
		unix.Close(fd)
		return
	}
	ls := rt.loops[lp.ID()]
	if rt.hardStopped.Load() {
		ec.Close()
		return
	}
	sess := ls.sessions.get()
	sess.init(rt, l, ls, ec, src, dst, tlsState)
	sess.stream = true
	sess.waitFirst()
}

// streamConn turns a stream's request into HTTP/1.1 bytes and the
// engine's HTTP/1.1 response back into frames.
type streamConn struct {
	s     *h2.Stream
	head  []byte // the request head as HTTP/1.1
	body  bool   // a body follows the head
	chunk bool   // the body is re-framed as chunked

	respParsed bool
	resp       http1.Message
	hbuf       []byte // response head bytes until parsed
	noBody     bool   // HEAD request, 204/304 response
	remain     int64  // content-length body bytes left; -1 chunked; -2 until close
	dec        chunkDecoder
	ended      bool // END_STREAM sent
}

func newStreamConn(s *h2.Stream) *streamConn {
	c := &streamConn{s: s}
	r := &s.Request
	h := make([]byte, 0, 256)
	if !validScheme(r.Scheme) && r.Method != "CONNECT" {
		// HAProxy answers 400 to a :scheme that is no URI scheme; an
		// unparsable request line makes the engine do so (and log it).
		c.head = []byte("\x01 / HTTP/2.0\r\n\r\n")
		return c
	}
	// As HAProxy: the URI is rebuilt in absolute form from :scheme and
	// :authority, whose default port the scheme-based normalization
	// (RFC 3986 §6.2.3) drops; Host carries the same authority.
	auth := r.Authority
	if (r.Scheme == "http" && strings.HasSuffix(auth, ":80")) || (r.Scheme == "https" && strings.HasSuffix(auth, ":443")) {
		auth = auth[:strings.LastIndexByte(auth, ':')]
	}
	h = append(h, r.Method...)
	h = append(h, ' ')
	switch {
	case r.Method == "CONNECT":
		h = append(h, auth...)
	case auth != "" && r.Path != "*":
		h = append(h, r.Scheme...)
		h = append(h, "://"...)
		h = append(h, auth...)
		h = append(h, r.Path...)
	default:
		h = append(h, r.Path...)
	}
	h = append(h, " HTTP/2.0\r\n"...)
	if auth != "" {
		h = append(h, "host: "...)
		h = append(h, auth...)
		h = append(h, "\r\n"...)
	}
	for _, f := range r.Header {
		h = append(h, f.Name...)
		h = append(h, ": "...)
		h = append(h, f.Value...)
		h = append(h, "\r\n"...)
	}
	c.body = !s.NoBody
	if c.body && r.ContentLength < 0 {
		// No length announced: the body goes chunked, as HAProxy sends
		// it to HTTP/1.1 servers.
		c.chunk = true
		h = append(h, "transfer-encoding: chunked\r\n"...)
	}
	c.head = append(h, "\r\n"...)
	c.remain = -3
	return c
}

// validScheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1).
func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (s[i] >= '0' && s[i] <= '9' || s[i] == '+' || s[i] == '-' || s[i] == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// copyRequest writes the request head and body to w.
func (c *streamConn) copyRequest(w io.Writer) error {
	if _, err := w.Write(c.head); err != nil {
		return err
	}
	if !c.body {
		return nil
	}
	buf := make([]byte, 16<<10)
	for {
		n, err := c.s.Read(buf[20 : len(buf)-2])
		if n > 0 {
			out := buf[20 : 20+n]
			if c.chunk {
				sz := strconv.AppendInt(make([]byte, 0, 18), int64(n), 16)
				sz = append(sz, '\r', '\n')
				off := 20 - len(sz)
				copy(buf[off:], sz)
				buf[20+n], buf[21+n] = '\r', '\n'
				out = buf[off : 22+n]
			}
			if _, werr := w.Write(out); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			if !c.chunk {
				return nil
			}
			end := []byte("0\r\n")
			for _, f := range c.s.Trailer() {
				end = append(end, f.Name...)
				end = append(end, ": "...)
				end = append(end, f.Value...)
				end = append(end, "\r\n"...)
			}
			_, err = w.Write(append(end, "\r\n"...))
			return err
		}
		if err != nil {
			return err
		}
	}
}

// Write takes the engine's HTTP/1.1 response and sends it as frames.
func (c *streamConn) Write(p []byte) (int, error) {
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
func (c *streamConn) parseHead() error {
	for !c.respParsed && len(c.hbuf) > 0 {
		err := http1.ParseResponse(&c.resp, c.hbuf, 1<<20)
		if err == http1.ErrIncomplete {
			return nil
		}
		if err != nil {
			c.s.Reset(http2.ErrCodeInternal)
			return err
		}
		m := &c.resp
		fields := make([]h2.HeaderField, 0, len(m.Headers))
		for _, h := range m.Headers {
			if h2.IsConnectionSpecific(string(h.Name)) || string(h.Name) == "te" {
				continue
			}
			fields = append(fields, h2.HeaderField{Name: string(h.Name), Value: string(h.Value)})
		}
		rest := c.hbuf[m.HeadLen:]
		if m.Status < 200 {
			if m.Status != 101 {
				if err := c.s.WriteHeader(m.Status, fields, false); err != nil {
					return err
				}
			}
			c.hbuf = append(c.hbuf[:0], rest...)
			continue
		}
		c.respParsed = true
		c.noBody = c.s.Method == "HEAD" || m.Status == 204 || m.Status == 304
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
		if err := c.s.WriteHeader(m.Status, fields, end); err != nil {
			return err
		}
		c.ended = end
		rest = append([]byte(nil), rest...)
		c.hbuf = nil
		if len(rest) > 0 {
			if _, err := c.writeBody(rest); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeBody sends body bytes; it returns what follows the body.
func (c *streamConn) writeBody(p []byte) ([]byte, error) {
	switch {
	case c.ended:
		return nil, nil
	case c.remain == -2:
		_, err := c.s.Write(p)
		return nil, err
	case c.remain >= 0:
		n := int64(len(p))
		if n > c.remain {
			n = c.remain
		}
		c.remain -= n
		var err error
		if c.remain == 0 {
			_, err = c.s.WriteEnd(p[:n])
			c.ended = true
		} else {
			_, err = c.s.Write(p[:n])
		}
		return p[n:], err
	}
	// chunked
	data, used, done, err := c.dec.feed(p)
	if err != nil {
		c.s.Reset(http2.ErrCodeInternal)
		return nil, err
	}
	if len(data) > 0 {
		if _, err := c.s.Write(data); err != nil {
			return nil, err
		}
	}
	if done {
		c.ended = true
		if len(c.dec.trailers) > 0 {
			err = c.s.WriteTrailers(c.dec.trailers)
		} else {
			err = c.s.End()
		}
		return p[used:], err
	}
	return p[used:], nil
}

// finish ends the stream when the engine is done with it: a
// close-delimited body ends here; an unanswered stream is reset.
func (c *streamConn) finish() {
	if c.ended {
		return
	}
	if c.respParsed && c.remain == -2 {
		_ = c.s.End()
		c.ended = true
		return
	}
	c.s.Reset(http2.ErrCodeInternal)
}

// chunkDecoder extracts data and trailers from an HTTP/1.1 chunked body
// (the engine's output, re-framed but coming from a server).
type chunkDecoder struct {
	state    int
	size     int64
	line     []byte
	out      []byte
	trailers []h2.HeaderField
}

var errChunk = errors.New("invalid chunked body")

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
				if !h2.IsConnectionSpecific(name) {
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
