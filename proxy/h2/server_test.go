package h2

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"halo/proxy/evloop"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"golang.org/x/sys/unix"
)

// client is a raw HTTP/2 client over loopback (x/net's Framer) driving a
// Server on an event loop.
type client struct {
	t    *testing.T
	nc   net.Conn
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer
	loop *evloop.Loop
	srv  atomic.Pointer[Server]
	done chan struct{} // closed when the server connection has ended
}

func testLoop(t *testing.T) *evloop.Loop {
	t.Helper()
	g, err := evloop.NewGroup(1)
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	t.Cleanup(g.Stop)
	return g.Loop(0)
}

// onLoop runs fn on l and waits for it.
func onLoop(l *evloop.Loop, fn func()) {
	done := make(chan struct{})
	l.Post(func() { fn(); close(done) })
	<-done
}

// adopt registers the server end of a loopback connection with l.
func adopt(t *testing.T, l *evloop.Loop, c net.Conn) *evloop.Conn {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	_ = rc.Control(func(f uintptr) { fd, err = unix.Dup(int(f)) })
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	_ = unix.SetNonblock(fd, true)
	var ec *evloop.Conn
	onLoop(l, func() { ec, err = l.Register(fd, netip.AddrPort{}, netip.AddrPort{}) })
	if err != nil {
		t.Fatal(err)
	}
	return ec
}

func newClient(t *testing.T, set Settings, lim Limits, h Handler) *client {
	t.Helper()
	l := testLoop(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{t: t, nc: nc, loop: l, done: make(chan struct{})}
	ec := adopt(t, l, sc)
	onLoop(l, func() {
		sv := &Server{}
		cl.srv.Store(sv)
		sv.Start(ec, nil, nil, &ServerConfig{Settings: set, Limits: lim, Handler: h, OnEnd: func() { close(cl.done) }}, nil)
	})
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

// next reads frames until one matches or the deadline passes.
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

// echo answers every stream with 200, an x-path field and the body.
func echo(s *Stream) {
	var body []byte
	buf := make([]byte, 4096)
	for {
		n, err := s.Read(buf, 5*time.Second)
		body = append(body, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return
		}
	}
	s.StartHead(200)
	s.HeadField([]byte("x-path"), s.Head.Path())
	if s.EndHead(false) != nil {
		return
	}
	_, _ = s.WriteEnd(append([]byte("body:"), body...), 5*time.Second)
}

// gate holds handlers until the test opens it (on the loop: a handler
// must never block the loop's goroutine).
type gate struct {
	l    *evloop.Loop
	cond evloop.Cond
	open bool
}

func (g *gate) wait(d time.Duration) {
	for !g.open {
		if !g.cond.WaitTimeout(g.l, d) {
			return
		}
	}
}

func (g *gate) release() {
	g.l.Post(func() { g.open = true; g.cond.Broadcast(g.l) })
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
			status = f.PseudoValue("status")
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
// server gives the window back as its handler reads, and its answer
// waits for the client's windows.
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
			n := min(int64(len(payload)-sent), win, 16384)
			if err := c.fr.WriteData(1, sent+int(n) == len(payload), payload[sent:sent+int(n)]); err != nil {
				t.Fatal(err)
			}
			sent += int(n)
			win -= n
		}
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d bytes sent, %d received: %v", sent, got, err)
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
		{"value with LF", append(base[:8:8], "x-a", "a\nb")},
		{"value with NUL", append(base[:8:8], "x-a", "a\x00b")},
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

func TestAuthorityHostCookies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields []string
		want   string
	}{
		{":authority only", []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a.test"}, "a.test"},
		{"host only", []string{":method", "GET", ":scheme", "http", ":path", "/", "host", "h.test"}, "h.test"},
		{"both: :authority wins", []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a.test", "host", "h.test"}, "a.test"},
		{"cookie crumbs joined", []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", "cookie", "a=1", "x-b", "2", "cookie", "c=3"}, "a cookie=a=1; c=3 x-b=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 1)
			c := newClient(t, Settings{}, testLimits(), func(s *Stream) {
				out := string(s.Head.Authority())
				for i := 0; i < s.Head.Len(); i++ {
					n, v := s.Head.Field(i)
					out += " " + string(n) + "=" + string(v)
				}
				got <- out
				s.StartHead(204)
				_ = s.EndHead(true)
			})
			c.settings()
			c.headers(1, true, tc.fields...)
			select {
			case g := <-got:
				if g != tc.want {
					t.Fatalf("got %q, want %q", g, tc.want)
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
	var g *gate
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
		g.wait(2 * time.Second)
		running.Add(-1)
	})
	g = &gate{l: c.loop}
	defer g.release()
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
// frames (CVE-2024-27316 class): the connection ends once the block is
// far past the header list limit, not after reading everything.
func TestContinuationFlood(t *testing.T) {
	c := newClient(t, Settings{MaxHeaderListSize: 8192}, testLimits(), echo)
	c.settings()
	c.hbuf.Reset()
	_ = c.enc.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"})
	_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.hbuf.Bytes()})
	frag := bytes.Repeat([]byte{0x40, 0x01, 'x', 0x01, 'y'}, 3000)
	go func() {
		for i := 0; i < 10000; i++ {
			if c.fr.WriteContinuation(1, false, frag) != nil {
				return
			}
		}
	}()
	if c.next(10*time.Second, func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }) == nil {
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
		{"PRIORITY", func(c *client) error {
			return c.fr.WritePriority(3, http2.PriorityParam{StreamDep: 1, Weight: 1})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g *gate
			lim := testLimits()
			lim.ControlPerSecond, lim.ControlBurst = 100, 200
			c := newClient(t, Settings{}, lim, func(s *Stream) { g.wait(5 * time.Second) })
			g = &gate{l: c.loop}
			defer g.release()
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
	res := make(chan error, 1)
	c := newClient(t, Settings{}, testLimits(), func(s *Stream) {
		s.StartHead(200)
		_ = s.EndHead(false)
		_, err := s.WriteEnd(bytes.Repeat([]byte("z"), 1000), 300*time.Millisecond)
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
	var g *gate
	c := newClient(t, Settings{MaxConcurrentStreams: 2}, testLimits(), func(s *Stream) { g.wait(5 * time.Second) })
	g = &gate{l: c.loop}
	defer g.release()
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
	var g *gate
	c := newClient(t, Settings{}, testLimits(), func(s *Stream) {
		g.wait(5 * time.Second)
		s.StartHead(200)
		_ = s.EndHead(true)
	})
	g = &gate{l: c.loop}
	c.settings()
	c.get(1, "/")
	time.Sleep(50 * time.Millisecond)
	c.loop.Post(func() { c.srv.Load().Shutdown() })
	f := c.next(3*time.Second, isGoAway(http2.ErrCodeNo))
	if f == nil || f.(*http2.GoAwayFrame).LastStreamID != 1 {
		t.Fatalf("GOAWAY %v", f)
	}
	g.release()
	if c.next(3*time.Second, func(f http2.Frame) bool {
		h, ok := f.(*http2.MetaHeadersFrame)
		return ok && h.StreamID == 1 && h.StreamEnded()
	}) == nil {
		t.Fatal("stream 1 was not completed")
	}
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
		t.Fatal("the connection did not end")
	}
}

// TestIdleTimeout: a connection without streams gets GOAWAY and is closed
// once the idle timeout passes.
func TestIdleTimeout(t *testing.T) {
	lim := testLimits()
	lim.IdleTimeout = 200 * time.Millisecond
	c := newClient(t, Settings{}, lim, echo)
	c.settings()
	if c.next(3*time.Second, isGoAway(http2.ErrCodeNo)) == nil {
		t.Fatal("no GOAWAY")
	}
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
		t.Fatal("the connection did not end")
	}
}

// TestManyStreamsBigBodies runs streams concurrently, each answered with
// a body larger than the output room, the client's windows opened as it
// reads: every byte arrives, in order per stream.
func TestManyStreamsBigBodies(t *testing.T) {
	const size = 200 << 10
	c := newClient(t, Settings{}, testLimits(), func(s *Stream) {
		s.StartHead(200)
		_ = s.EndHead(false)
		body := bytes.Repeat([]byte{byte(s.ID)}, size)
		_, _ = s.WriteEnd(body, 5*time.Second)
	})
	c.settings()
	const n = 20
	for i := 0; i < n; i++ {
		c.get(uint32(2*i+1), "/")
	}
	got := map[uint32]int{}
	ended := 0
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for ended < n {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("%d streams ended: %v (%v)", ended, err, got)
		}
		if d, ok := f.(*http2.DataFrame); ok {
			for _, b := range d.Data() {
				if b != byte(d.StreamID) {
					t.Fatalf("stream %d got byte %d", d.StreamID, b)
				}
			}
			got[d.StreamID] += len(d.Data())
			if len(d.Data()) > 0 {
				_ = c.fr.WriteWindowUpdate(0, uint32(len(d.Data())))
				_ = c.fr.WriteWindowUpdate(d.StreamID, uint32(len(d.Data())))
			}
			if d.StreamEnded() {
				ended++
				if got[d.StreamID] != size {
					t.Fatalf("stream %d: %d bytes", d.StreamID, got[d.StreamID])
				}
			}
		}
	}
}
