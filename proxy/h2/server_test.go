package h2

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// client is a raw HTTP/2 client over loopback for driving a Conn.
type client struct {
	t    *testing.T
	nc   net.Conn
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer
	done chan error
}

// echo answers every stream with 200 and the request body.
func echo(s *Stream) {
	body, err := io.ReadAll(s)
	if err != nil {
		return
	}
	_ = s.WriteHeader(200, []HeaderField{{"x-path", s.Path}}, false)
	_, _ = s.WriteEnd(append([]byte("body:"), body...))
}

func newClient(t *testing.T, set Settings, lim Limits, h Handler) *client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			done <- err
			return
		}
		done <- NewConn(c, set, lim, h).Serve()
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{t: t, nc: nc, done: done}
	cl.fr = http2.NewFramer(nc, nc)
	cl.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	cl.enc = hpack.NewEncoder(&cl.hbuf)
	t.Cleanup(func() { nc.Close() })
	if _, err := io.WriteString(nc, Preface); err != nil {
		t.Fatal(err)
	}
	return cl
}

func (c *client) settings(s ...http2.Setting) {
	if err := c.fr.WriteSettings(s...); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) headers(id uint32, end bool, fields ...string) {
	if err := c.tryHeaders(id, end, fields...); err != nil {
		c.t.Fatal(err)
	}
}

// tryHeaders is headers for goroutines other than the test's.
func (c *client) tryHeaders(id uint32, end bool, fields ...string) error {
	c.hbuf.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		_ = c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndStream: end, EndHeaders: true})
}

func (c *client) get(id uint32, path string) {
	c.headers(id, true, ":method", "GET", ":scheme", "http", ":path", path, ":authority", "h2.test")
}

// next reads frames until one matches want (GOAWAY, RST_STREAM, …) or
// the deadline; it acknowledges nothing.
func (c *client) next(d time.Duration, match func(http2.Frame) bool) http2.Frame {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			return nil
		}
		if match(f) {
			return f
		}
	}
}

func isGoAway(code http2.ErrCode) func(http2.Frame) bool {
	return func(f http2.Frame) bool {
		g, ok := f.(*http2.GoAwayFrame)
		return ok && g.ErrCode == code
	}
}

func isRST(id uint32, code http2.ErrCode) func(http2.Frame) bool {
	return func(f http2.Frame) bool {
		r, ok := f.(*http2.RSTStreamFrame)
		return ok && r.StreamID == id && r.ErrCode == code
	}
}

func testLimits() Limits {
	l := DefaultLimits()
	l.IdleTimeout, l.ReadTimeout, l.WriteTimeout, l.PrefaceTimeout = 5*time.Second, 5*time.Second, 5*time.Second, 5*time.Second
	return l
}

func TestRequestResponse(t *testing.T) {
	c := newClient(t, Settings{}, testLimits(), echo)
	c.settings()
	c.headers(1, false, ":method", "POST", ":scheme", "https", ":path", "/p", ":authority", "h2.test", "content-length", "5")
	_ = c.fr.WriteData(1, false, []byte("he"))
	_ = c.fr.WriteData(1, true, []byte("llo"))
	var status, path string
	var body []byte
	c.next(5*time.Second, func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			status, path = f.PseudoValue("status"), ""
			for _, hf := range f.RegularFields() {
				if hf.Name == "x-path" {
					path = hf.Value
				}
			}
		case *http2.DataFrame:
			body = append(body, f.Data()...)
			return f.StreamEnded()
		}
		return false
	})
	if status != "200" || path != "/p" || string(body) != "body:hello" {
		t.Fatalf("got %q %q %q", status, path, body)
	}
}

// TestFlowControlLargeBody sends a body four times the stream window: the
// server must give the window back as its handler reads.
func TestFlowControlLargeBody(t *testing.T) {
	c := newClient(t, Settings{InitialWindowSize: 16384}, testLimits(), echo)
	c.settings()
	c.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "x")
	payload := bytes.Repeat([]byte("a"), 65536)
	win := int64(16384)
	sent := 0
	var got int
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for got < 65536+5 {
		for win > 0 && sent < len(payload) {
			n := int64(len(payload) - sent)
			if n > win {
				n = win
			}
			if n > 16384 {
				n = 16384
			}
			if err := c.fr.WriteData(1, sent+int(n) == len(payload), payload[sent:sent+int(n)]); err != nil {
				t.Fatal(err)
			}
			sent += int(n)
			win -= n
		}
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d bytes sent: %v", sent, err)
		}
		switch f := f.(type) {
		case *http2.WindowUpdateFrame:
			if f.StreamID == 1 {
				win += int64(f.Increment)
			}
		case *http2.DataFrame:
			got += len(f.Data())
			_ = c.fr.WriteWindowUpdate(0, uint32(len(f.Data())))
			_ = c.fr.WriteWindowUpdate(1, uint32(len(f.Data())))
		case *http2.RSTStreamFrame, *http2.GoAwayFrame:
			t.Fatalf("unexpected %v", f)
		}
	}
}

// TestHeaderValidation: RFC 9113 §8.2 makes each of these a malformed
// request, answered with RST_STREAM PROTOCOL_ERROR.
func TestHeaderValidation(t *testing.T) {
	base := []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x"}
	for _, tc := range []struct {
		name   string
		fields []string
	}{
		{"connection header", append(base[:8:8], "connection", "keep-alive")},
		{"transfer-encoding", append(base[:8:8], "transfer-encoding", "chunked")},
		{"upgrade", append(base[:8:8], "upgrade", "websocket")},
		{"te other than trailers", append(base[:8:8], "te", "gzip")},
		{"upper-case name", append(base[:8:8], "X-Up", "1")},
		{"pseudo after regular", []string{":method", "GET", "x-a", "1", ":scheme", "http", ":path", "/"}},
		{"unknown pseudo", append(base[:8:8], ":foo", "1")},
		{"response pseudo", append(base[:8:8], ":status", "200")},
		{"missing :path", []string{":method", "GET", ":scheme", "http"}},
		{"empty :path", []string{":method", "GET", ":scheme", "http", ":path", ""}},
		{"duplicate :method", append(base[:8:8], ":method", "GET")},
		{"bad content-length", append(base[:8:8], "content-length", "1x")},
		{"value with trailing space", append(base[:8:8], "x-a", "v ")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ran atomic.Bool
			c := newClient(t, Settings{}, testLimits(), func(s *Stream) { ran.Store(true); echo(s) })
			c.settings()
			c.headers(1, true, tc.fields...)
			if c.next(3*time.Second, isRST(1, http2.ErrCodeProtocol)) == nil {
				t.Fatal("no RST_STREAM PROTOCOL_ERROR")
			}
			if ran.Load() {
				t.Fatal("the handler saw a malformed request")
			}
		})
	}
}

func TestAuthorityAndHost(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields []string
		want   string
	}{
		{":authority only", []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a.test"}, "a.test"},
		{"host only", []string{":method", "GET", ":scheme", "http", ":path", "/", "host", "h.test"}, "h.test"},
		{"both: :authority wins", []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a.test", "host", "h.test"}, "a.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 1)
			c := newClient(t, Settings{}, testLimits(), func(s *Stream) {
				hosts := 0
				for _, f := range s.Header {
					if f.Name == "host" {
						hosts++
					}
				}
				got <- s.Authority + strings.Repeat("+host", hosts)
				_ = s.WriteHeader(204, nil, true)
			})
			c.settings()
			c.headers(1, true, tc.fields...)
			select {
			case g := <-got:
				if g != tc.want {
					t.Fatalf("authority %q, want %q", g, tc.want)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("no request")
			}
		})
	}
}

// TestRapidReset opens and resets streams in a loop (CVE-2023-44487):
// the connection ends with ENHANCE_YOUR_CALM and never runs more handlers
// at once than the concurrent stream limit.
func TestRapidReset(t *testing.T) {
	var running, peak atomic.Int32
	block := make(chan struct{})
	defer close(block)
	lim := testLimits()
	lim.ResetsPerSecond, lim.ResetBurst = 50, 100
	c := newClient(t, Settings{MaxConcurrentStreams: 10}, lim, func(s *Stream) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case <-block:
		case <-time.After(2 * time.Second):
		}
		running.Add(-1)
	})
	c.settings()
	go func() {
		for id := uint32(1); id < 2000; id += 2 {
			if c.tryHeaders(id, true, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x") != nil {
				return
			}
			if c.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				return
			}
		}
	}()
	if c.next(10*time.Second, isGoAway(http2.ErrCodeEnhanceYourCalm)) == nil {
		t.Fatal("no GOAWAY ENHANCE_YOUR_CALM")
	}
	if p := peak.Load(); p > 10 {
		t.Fatalf("%d handlers ran at once, limit 10", p)
	}
}

// TestContinuationFlood sends one header block as endless CONTINUATION
// frames (CVE-2024-27316 class): the connection is closed once the header
// list limit is passed, not after reading everything.
func TestContinuationFlood(t *testing.T) {
	c := newClient(t, Settings{MaxHeaderListSize: 8192}, testLimits(), echo)
	c.settings()
	c.hbuf.Reset()
	_ = c.enc.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"})
	_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.hbuf.Bytes()})
	frag := bytes.Repeat([]byte{0x40, 0x01, 'x', 0x7f, 0x00}, 3000) // literal x: <127+ bytes>… a large fragment
	var sent int
	var werr error
	go func() {
		for i := 0; i < 10000; i++ {
			if werr = c.fr.WriteContinuation(1, false, frag); werr != nil {
				return
			}
			sent += len(frag)
		}
	}()
	f := c.next(10*time.Second, func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok })
	if f == nil {
		t.Fatal("no GOAWAY")
	}
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		t.Fatal("connection still served")
	}
}

// TestHPACKBombs: a literal larger than the header list limit and a
// dynamic table size update above our SETTINGS_HEADER_TABLE_SIZE.
func TestHPACKBombs(t *testing.T) {
	t.Run("huge literal", func(t *testing.T) {
		c := newClient(t, Settings{MaxHeaderListSize: 4096}, testLimits(), echo)
		c.settings()
		c.headers(1, true, ":method", "GET", ":scheme", "http", ":path", "/", "x-big", strings.Repeat("a", 15000))
		f := c.next(3*time.Second, func(f http2.Frame) bool {
			switch f.(type) {
			case *http2.GoAwayFrame, *http2.RSTStreamFrame:
				return true
			}
			return false
		})
		if f == nil {
			t.Fatal("the oversized header block was accepted")
		}
	})
	t.Run("table size update above the setting", func(t *testing.T) {
		c := newClient(t, Settings{HeaderTableSize: 4096}, testLimits(), echo)
		c.settings()
		c.enc.SetMaxDynamicTableSizeLimit(1 << 20)
		c.enc.SetMaxDynamicTableSize(1 << 20)
		c.get(1, "/")
		if c.next(3*time.Second, isGoAway(http2.ErrCodeCompression)) == nil {
			t.Fatal("no GOAWAY COMPRESSION_ERROR")
		}
	})
}

func TestControlFloods(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(c *client) error
	}{
		{"PING", func(c *client) error { return c.fr.WritePing(false, [8]byte{1}) }},
		{"SETTINGS", func(c *client) error { return c.fr.WriteSettings() }},
		{"empty DATA", func(c *client) error { return c.fr.WriteData(1, false, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			block := make(chan struct{})
			defer close(block)
			lim := testLimits()
			lim.ControlPerSecond, lim.ControlBurst = 100, 200
			c := newClient(t, Settings{}, lim, func(s *Stream) { <-block })
			c.settings()
			c.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "x")
			go func() {
				for i := 0; i < 100000; i++ {
					if tc.send(c) != nil {
						return
					}
				}
			}()
			if c.next(10*time.Second, isGoAway(http2.ErrCodeEnhanceYourCalm)) == nil {
				t.Fatal("no GOAWAY ENHANCE_YOUR_CALM")
			}
		})
	}
}

// TestZeroWindowStall: a client that never opens its window cannot hold
// a handler past the write timeout.
func TestZeroWindowStall(t *testing.T) {
	lim := testLimits()
	lim.WriteTimeout = 300 * time.Millisecond
	res := make(chan error, 1)
	c := newClient(t, Settings{}, lim, func(s *Stream) {
		_ = s.WriteHeader(200, nil, false)
		_, err := s.WriteEnd(bytes.Repeat([]byte("z"), 1000))
		res <- err
	})
	c.settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	c.get(1, "/")
	select {
	case err := <-res:
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("write ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler is still stalled")
	}
	if c.next(3*time.Second, isRST(1, http2.ErrCodeFlowControl)) == nil {
		t.Fatal("the stalled stream was not reset")
	}
}

// TestTooManyStreams: streams past SETTINGS_MAX_CONCURRENT_STREAMS are
// refused.
func TestTooManyStreams(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	c := newClient(t, Settings{MaxConcurrentStreams: 2}, testLimits(), func(s *Stream) { <-block })
	c.settings()
	c.get(1, "/")
	c.get(3, "/")
	c.get(5, "/")
	if c.next(3*time.Second, isRST(5, http2.ErrCodeRefusedStream)) == nil {
		t.Fatal("stream 5 not refused")
	}
}

// TestShutdown: GOAWAY NO_ERROR, the open stream still completes, then the
// connection ends.
func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	var conn atomic.Pointer[Conn]
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() {
		nc, _ := ln.Accept()
		ln.Close()
		hc := NewConn(nc, Settings{}, testLimits(), func(s *Stream) {
			<-release
			_ = s.WriteHeader(200, nil, true)
		})
		conn.Store(hc)
		done <- hc.Serve()
	}()
	nc, _ := net.Dial("tcp", ln.Addr().String())
	defer nc.Close()
	c := &client{t: t, nc: nc, fr: http2.NewFramer(nc, nc)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.hbuf)
	_, _ = io.WriteString(nc, Preface)
	c.settings()
	c.get(1, "/")
	for conn.Load() == nil {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	conn.Load().Shutdown()
	g := c.next(3*time.Second, isGoAway(http2.ErrCodeNo))
	if g == nil || g.(*http2.GoAwayFrame).LastStreamID != 1 {
		t.Fatalf("GOAWAY %v", g)
	}
	close(release)
	if c.next(3*time.Second, func(f http2.Frame) bool {
		h, ok := f.(*http2.MetaHeadersFrame)
		return ok && h.StreamID == 1 && h.StreamEnded()
	}) == nil {
		t.Fatal("stream 1 was not completed")
	}
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("the connection did not end")
	}
}
