package proxy

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"halo/proxy/evloop"
	"halo/proxy/h2"
	"halo/proxy/http1"

	"golang.org/x/net/http2"
	"golang.org/x/sys/unix"
)

// HTTP/2 to servers (`server … proto h2`, or `server … ssl alpn h2,…`
// when the server picks h2): a server's HTTP/2 connections are shared by
// every session (a pool per server, each connection carrying as many
// streams as the server allows), as HAProxy reuses them across streams.
// A session dialing such a server gets one end of a socket pair and
// speaks HTTP/1.1 on it as to any server; the other end turns each
// request into a stream and each response back into HTTP/1.1 (h2Relay):
// chunked bodies become DATA, trailers HEADERS, connection-specific
// fields are dropped. A TLS server that picks http/1.1 gets the session's
// bytes relayed unchanged.

// h2Pool holds a server's HTTP/2 connections.
type h2Pool struct {
	mu    sync.Mutex
	conns []*h2.ClientConn
}

// h2Mode says whether requests to s go over HTTP/2 (or try to, by ALPN).
func (s *ServerState) h2Mode() bool {
	if s.Backend.Proxy.Mode != ModeHTTP {
		return false
	}
	if s.Server.Proto == "h2" {
		return true
	}
	return s.Server.SSL && s.Server.TLS != nil && slices.Contains(s.Server.TLS.ALPN, "h2")
}

// h2Get returns a connection with room for a stream, dialing one if
// needed (off the loop). h1 is set instead when TLS negotiated HTTP/1.1.
func (rt *Runtime) h2Get(s *ServerState, src, dst netip.AddrPort, timeout time.Duration) (cc *h2.ClientConn, h1 net.Conn, err error) {
	p := s.h2pool
	p.mu.Lock()
	j := 0
	for _, c := range p.conns {
		if c.Closed() {
			continue
		}
		p.conns[j] = c
		j++
		if cc == nil && c.Usable() {
			cc = c
		}
	}
	clear(p.conns[j:])
	p.conns = p.conns[:j]
	p.mu.Unlock()
	if cc != nil {
		return cc, nil, nil
	}
	d := net.Dialer{Timeout: timeout, KeepAlive: -1}
	network, addr := "tcp", s.Addr(dst).String()
	if s.Server.Path != "" {
		network, addr = "unix", s.Server.Path
	} else if ka := &s.Backend.Proxy.SrvTCPKA; ka.On {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { ka.Apply(int(fd)) })
		}
	}
	nc, err := d.Dial(network, addr)
	if err != nil {
		return nil, nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(timeout))
	if s.Server.SendProxy || s.Server.SendProxyV2 {
		hdr := appendProxyV1(nil, src, dst)
		if s.Server.SendProxyV2 {
			hdr = appendProxyV2(nil, src, dst)
		}
		if _, err := nc.Write(hdr); err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
	if s.Server.SSL {
		conf, err := s.tlsClientConfig()
		if err != nil {
			nc.Close()
			return nil, nil, err
		}
		tc := tls.Client(nc, conf)
		if err := tc.Handshake(); err != nil {
			nc.Close()
			return nil, nil, err
		}
		nc = tc
		if tc.ConnectionState().NegotiatedProtocol != "h2" && s.Server.Proto != "h2" {
			_ = nc.SetDeadline(time.Time{})
			return nil, nc, nil
		}
	}
	_ = nc.SetDeadline(time.Time{})
	to := s.Backend.Proxy.Timeouts
	lim := h2.DefaultLimits()
	lim.ReadTimeout, lim.WriteTimeout = to.Server, to.Server
	cc, err = h2.NewClientConn(nc, rt.h2Settings(), lim)
	if err != nil {
		return nil, nil, err
	}
	p.mu.Lock()
	p.conns = append(p.conns, cc)
	p.mu.Unlock()
	return cc, nil, nil
}

// h2Purge closes the pool's connections without streams for longer than
// HAProxy's pool-purge-delay (before), all of them with a zero time.
func (s *ServerState) h2Purge(before time.Time) {
	p := s.h2pool
	if p == nil {
		return
	}
	p.mu.Lock()
	j := 0
	for _, c := range p.conns {
		idle, since := c.Idle()
		if c.Closed() || (idle && (before.IsZero() || since.Before(before))) {
			go c.Close()
			continue
		}
		p.conns[j] = c
		j++
	}
	clear(p.conns[j:])
	p.conns = p.conns[:j]
	p.mu.Unlock()
}

// dialH2 gives a session (in a task on l) its end of a socket pair whose
// other end relays to s over HTTP/2.
func (rt *Runtime) dialH2(l *evloop.Loop, s *ServerState, src, dst netip.AddrPort, timeout time.Duration) (*serverConn, error) {
	var cc *h2.ClientConn
	var h1 net.Conn
	var err error
	l.Offload(func() { cc, h1, err = rt.h2Get(s, src, dst, timeout) })
	if err != nil {
		return nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if h1 != nil {
			h1.Close()
		}
		return nil, err
	}
	f := os.NewFile(uintptr(fds[1]), "h2-server")
	uc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		unix.Close(fds[0])
		if h1 != nil {
			h1.Close()
		}
		return nil, err
	}
	ec, err := l.Register(fds[0], dst, s.Addr(dst))
	if err != nil {
		unix.Close(fds[0])
		uc.Close()
		if h1 != nil {
			h1.Close()
		}
		return nil, err
	}
	if h1 != nil {
		go relayRaw(uc, h1)
	} else {
		go h2Relay(s, cc, uc)
	}
	ls := rt.loops[l.ID()]
	sc := ls.servers.get()
	sc.c, sc.ec, sc.srv, sc.ls = ec, ec, s, ls
	sc.f.init(ec, ec)
	ls.trackServer(sc)
	sc.use()
	return sc, nil
}

// relayRaw copies both ways until either side ends.
func relayRaw(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	a.Close()
	b.Close()
	<-done
}

// h2Relay serves the HTTP/1.1 requests a session writes on uc, each as a
// stream of cc, until the session closes its end.
func h2Relay(s *ServerState, cc *h2.ClientConn, uc net.Conn) {
	defer uc.Close()
	br := bufio.NewReaderSize(uc, 16<<10)
	bw := bufio.NewWriterSize(uc, 16<<10)
	scheme := "http"
	if s.Server.SSL {
		scheme = "https"
	}
	timeout := s.Backend.Proxy.Timeouts.Server
	var req http1.Message
	for {
		head, err := readHead(br)
		if err != nil {
			return
		}
		if err := http1.ParseRequest(&req, head, len(head)+1); err != nil {
			return
		}
		if req.ConnUpgrade || req.HasUpgrade {
			return // no Upgrade over HTTP/2 (extended CONNECT is not spoken)
		}
		method := string(req.Method)
		uri := string(req.URI)
		authority, path := "", uri
		if i := strings.Index(uri, "://"); i > 0 && uri[0] != '/' {
			rest := uri[i+3:]
			j := strings.IndexAny(rest, "/?")
			if j < 0 {
				authority, path = rest, "/"
			} else {
				authority, path = rest[:j], rest[j:]
				if path[0] == '?' {
					path = "/" + path
				}
			}
		}
		var fields []h2.HeaderField
		for _, h := range req.Headers {
			name := string(h.Name)
			switch {
			case name == "host":
				// HAProxy sends Host on as a field too, beside :authority.
				if authority == "" {
					authority = string(h.Value)
				}
			case h2.IsConnectionSpecificString(name), name == "te" && !http1.EqualFold(h.Value, "trailers"):
				continue
			}
			fields = append(fields, h2.HeaderField{Name: name, Value: string(h.Value)})
		}
		hasBody := req.Chunked || req.ContentLength > 0
		cs, err := cc.Request(method, scheme, authority, path, fields, hasBody)
		if err != nil {
			return
		}
		if hasBody {
			if err := sendBody(cs, br, &req); err != nil {
				cs.Reset(http2.ErrCodeCancel)
				return
			}
		}
		if !relayResponse(cs, bw, method == "HEAD", timeout) {
			return
		}
		if req.ConnClose {
			return
		}
	}
}

// readHead reads up to the empty line that ends a head.
func readHead(br *bufio.Reader) ([]byte, error) {
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if err != nil {
			if err == bufio.ErrBufferFull && len(head) < 1<<20 {
				continue
			}
			return nil, err
		}
		if len(line) <= 2 && (len(line) == 1 || line[0] == '\r') && len(head) > len(line) {
			return head, nil
		}
		if len(head) > 1<<20 {
			return nil, errors.New("head too large")
		}
	}
}

// sendBody forwards the request body: content-length bytes as they are,
// a chunked body as its data and trailers.
func sendBody(cs *h2.ClientStream, br *bufio.Reader, req *http1.Message) error {
	buf := make([]byte, 16<<10)
	if !req.Chunked {
		left := req.ContentLength
		for left > 0 {
			n := int64(len(buf))
			if n > left {
				n = left
			}
			m, err := io.ReadFull(br, buf[:n])
			if m > 0 {
				if _, werr := cs.Write(buf[:m]); werr != nil {
					return werr
				}
			}
			if err != nil {
				return err
			}
			left -= int64(m)
		}
		return cs.CloseBody(nil)
	}
	var d chunkDecoder
	for {
		n, err := br.Read(buf)
		if n > 0 {
			data, used, done, derr := d.feed(buf[:n])
			if derr != nil {
				return derr
			}
			if len(data) > 0 {
				if _, werr := cs.Write(data); werr != nil {
					return werr
				}
			}
			if done {
				if used < n {
					// The session sends the next request only after
					// this one's response.
					return errors.New("bytes after the chunked body")
				}
				return cs.CloseBody(d.trailers)
			}
		}
		if err != nil {
			return err
		}
	}
}

// relayResponse writes the stream's response as HTTP/1.1; false when
// the exchange broke (the session sees its server close).
func relayResponse(cs *h2.ClientStream, bw *bufio.Writer, head bool, timeout time.Duration) bool {
	for {
		h, err := cs.Response(timeout)
		if err != nil {
			return false
		}
		bw.WriteString("HTTP/1.1 ")
		bw.WriteString(strconv.Itoa(h.Status))
		bw.WriteByte(' ')
		bw.WriteString(reasonPhrase(h.Status))
		bw.WriteString("\r\n")
		for _, f := range h.Header {
			bw.WriteString(f.Name)
			bw.WriteString(": ")
			bw.WriteString(f.Value)
			bw.WriteString("\r\n")
		}
		if h.Status < 200 {
			bw.WriteString("\r\n")
			if bw.Flush() != nil {
				return false
			}
			continue
		}
		noBody := head || h.Status == 204 || h.Status == 304
		chunked := !noBody && h.ContentLength < 0
		if chunked {
			bw.WriteString("transfer-encoding: chunked\r\n")
		}
		bw.WriteString("\r\n")
		buf := make([]byte, 16<<10)
		for {
			n, err := cs.Read(buf, timeout)
			if n > 0 && !noBody {
				if chunked {
					bw.WriteString(strconv.FormatInt(int64(n), 16))
					bw.WriteString("\r\n")
					bw.Write(buf[:n])
					bw.WriteString("\r\n")
				} else {
					bw.Write(buf[:n])
				}
				if bw.Buffered() > 8<<10 && bw.Flush() != nil {
					cs.Reset(http2.ErrCodeCancel)
					return false
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return false
			}
		}
		if chunked {
			bw.WriteString("0\r\n")
			for _, f := range cs.Trailer() {
				bw.WriteString(f.Name)
				bw.WriteString(": ")
				bw.WriteString(f.Value)
				bw.WriteString("\r\n")
			}
			bw.WriteString("\r\n")
		}
		return bw.Flush() == nil
	}
}

// reasonPhrase is the reason HAProxy writes for a status it got over
// HTTP/2 (which has none).
func reasonPhrase(st int) string {
	switch st {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 103:
		return "Early Hints"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 206:
		return "Partial Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 413:
		return "Payload Too Large"
	case 414:
		return "URI Too Long"
	case 425:
		return "Too Early"
	case 429:
		return "Too Many Requests"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	}
	return "Other"
}
