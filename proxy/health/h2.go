package health

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"halo/proxy/h2"
)

// h2Conn carries an HTTP check over HTTP/2 (check-proto h2, a server's
// proto h2, or h2 chosen by ALPN): the engine writes the HTTP/1 request
// it built and reads an HTTP/1 rendering of the answer, so the expect
// rules see what HAProxy's HTX shows them (the version of an HTTP/2
// answer is HTTP/2.0 and it has no reason). One request per connection.
type h2Conn struct {
	net.Conn // the transport, for addresses and deadlines
	tls      bool

	mu       sync.Mutex
	cc       *h2.ClientConn
	req      bytes.Buffer
	sent     bool
	out      []byte // the rendered answer not yet read
	rendered bool
	stream   *h2.ClientStream
	deadline time.Time
}

func newH2Conn(c net.Conn, isTLS bool) (*h2Conn, error) {
	cc, err := h2.NewClientConn(c, h2.DefaultSettings(), h2.DefaultLimits())
	if err != nil {
		return nil, err
	}
	return &h2Conn{Conn: c, tls: isTLS, cc: cc}, nil
}

func (c *h2Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *h2Conn) Close() error {
	c.cc.Close()
	return c.Conn.Close()
}

// Write takes request bytes; the request leaves once its head and body
// are complete.
func (c *h2Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sent {
		return 0, errors.New("h2 check: one request per connection")
	}
	c.req.Write(p)
	raw := c.req.Bytes()
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return len(p), nil
	}
	head, body := string(raw[:end]), raw[end+4:]
	lines := strings.Split(head, "\r\n")
	sl := strings.SplitN(lines[0], " ", 3)
	if len(sl) < 2 {
		return 0, errors.New("h2 check: bad request line")
	}
	meth, uri := sl[0], sl[1]
	var fields []h2.HeaderField
	authority, clen := "", 0
	for _, l := range lines[1:] {
		n, v, _ := strings.Cut(l, ":")
		n, v = strings.ToLower(strings.TrimSpace(n)), strings.TrimSpace(v)
		switch n {
		case "host":
			authority = v
			continue
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			continue
		case "content-length":
			clen, _ = strconv.Atoi(v)
		}
		fields = append(fields, h2.HeaderField{Name: n, Value: v})
	}
	if len(body) < clen {
		return len(p), nil
	}
	scheme := "http"
	if c.tls {
		scheme = "https"
	}
	path := uri
	if i := strings.Index(uri, "://"); i > 0 && !strings.Contains(uri[:i], "/") {
		scheme = uri[:i]
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
	s, err := c.cc.Request(meth, scheme, authority, path, fields, clen > 0)
	if err != nil {
		return 0, err
	}
	if clen > 0 {
		if _, err := s.Write(body[:clen]); err != nil {
			return 0, err
		}
		if err := s.CloseBody(nil); err != nil {
			return 0, err
		}
	}
	c.stream, c.sent = s, true
	return len(p), nil
}

// Read returns the answer rendered as HTTP/1 once it is complete, then
// io.EOF.
func (c *h2Conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.rendered {
		if c.stream == nil {
			return 0, io.EOF
		}
		if err := c.render(); err != nil {
			return 0, err
		}
		c.rendered = true
	}
	if len(c.out) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

type h2Timeout struct{}

func (h2Timeout) Error() string   { return "h2 check: timeout" }
func (h2Timeout) Timeout() bool   { return true }
func (h2Timeout) Temporary() bool { return true }

func (c *h2Conn) wait() time.Duration {
	if c.deadline.IsZero() {
		return 0
	}
	if d := time.Until(c.deadline); d > 0 {
		return d
	}
	return time.Nanosecond
}

func (c *h2Conn) render() error {
	var head *h2.ResponseHead
	for {
		h, err := c.stream.Response(c.wait())
		if errors.Is(err, h2.ErrTimeout) {
			return h2Timeout{}
		}
		if err != nil {
			return io.EOF // reset or closed before an answer: an empty one
		}
		if h.Status >= 200 {
			head = h
			break
		}
	}
	var body []byte
	buf := make([]byte, 16384)
	for {
		n, err := c.stream.Read(buf, c.wait())
		body = append(body, buf[:n]...)
		if errors.Is(err, h2.ErrTimeout) {
			return h2Timeout{}
		}
		if err != nil {
			break
		}
	}
	var b bytes.Buffer
	b.WriteString("HTTP/2.0 " + strconv.Itoa(head.Status) + " \r\n")
	for _, f := range head.Header {
		if f.Name == "content-length" {
			continue
		}
		b.WriteString(f.Name + ": " + f.Value + "\r\n")
	}
	b.WriteString("content-length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	b.Write(body)
	c.out = b.Bytes()
	return nil
}
