package h2

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// frameBytes builds seed inputs: frames as a client would send them.
func frameBytes(build func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer)) []byte {
	var out, hb bytes.Buffer
	fr := http2.NewFramer(&out, nil)
	fr.AllowIllegalWrites = true
	build(fr, hpack.NewEncoder(&hb), &hb)
	return out.Bytes()
}

func hpackBlock(enc *hpack.Encoder, hb *bytes.Buffer, kv ...string) []byte {
	hb.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		_ = enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), hb.Bytes()...)
}

func seedFrames() [][]byte {
	return [][]byte{
		frameBytes(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
			_ = fr.WriteSettings()
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
				BlockFragment: hpackBlock(enc, hb, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a")})
		}),
		frameBytes(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
			_ = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hpackBlock(enc, hb, ":method", "POST", ":scheme", "http")})
			_ = fr.WriteContinuation(1, true, hpackBlock(enc, hb, ":path", "/x", "content-length", "3", "cookie", "a=1", "cookie", "b=2"))
			_ = fr.WriteData(1, false, []byte("ab"))
			_ = fr.WriteWindowUpdate(1, 10)
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
				BlockFragment: hpackBlock(enc, hb, "x-trailer", "t")})
			_ = fr.WriteRSTStream(1, http2.ErrCodeCancel)
			_ = fr.WritePing(false, [8]byte{})
			_ = fr.WritePriority(3, http2.PriorityParam{StreamDep: 3})
			_ = fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 20})
			_ = fr.WriteGoAway(0, http2.ErrCodeNo, nil)
		}),
		frameBytes(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
			_ = fr.WriteSettings()
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndHeaders: true, PadLength: 4,
				BlockFragment: hpackBlock(enc, hb, ":method", "CONNECT", ":authority", "h:443")})
			_ = fr.WriteDataPadded(3, true, []byte("xyz"), []byte{0, 0})
		}),
	}
}

// checkRequest fails on a request head the server should have refused.
func checkRequest(t *testing.T, h *Head) {
	t.Helper()
	m := string(h.Method())
	if m == "" {
		t.Fatal("accepted a request without :method")
	}
	if m != "CONNECT" {
		p := h.Path()
		if len(h.Scheme()) == 0 || len(p) == 0 || (p[0] != '/' && string(p) != "*") {
			t.Fatalf("accepted %q %q %q", m, h.Scheme(), p)
		}
	}
	for i := 0; i < h.Len(); i++ {
		name, value := h.Field(i)
		if !validName(string(name)) || !validValue(string(value)) || IsConnectionSpecific(name) || string(name) == "host" {
			t.Fatalf("accepted field %q: %q", name, value)
		}
	}
}

// feedServer runs data (after the preface) through a server Conn the way
// the driver does, in pieces of step bytes (0: at once); each stream
// opened is checked and answered at once.
func feedServer(t *testing.T, data []byte, step int) *Conn {
	c := &Conn{}
	c.init(false, Settings{MaxConcurrentStreams: 8, MaxHeaderListSize: 4096}, DefaultLimits(), nil)
	var opened []*Stream
	c.onOpen = func(s *Stream) { opened = append(opened, s) }
	if step <= 0 {
		step = len(data) + 1
	}
	in := []byte(Preface)
	now := time.Unix(0, 0)
	buf := make([]byte, 0, 1<<16)
	for off := 0; ; {
		end := min(off+step, len(data))
		buf = append(buf, in...)
		buf = append(buf, data[off:end]...)
		in = nil
		off = end
		n := c.Feed(buf, now)
		if n > len(buf) {
			t.Fatalf("Feed used %d of %d bytes", n, len(buf))
		}
		buf = append(buf[:0], buf[n:]...)
		for _, s := range opened {
			checkRequest(t, &s.Head)
			if !s.Reset() {
				s.StartHead(200)
				s.HeadFieldString("x", "y")
				_ = s.EndHead(true)
			}
			s.Done()
		}
		opened = opened[:0]
		if c.Err != nil || off == len(data) {
			break
		}
		now = now.Add(time.Millisecond)
	}
	if c.running != 0 {
		t.Fatalf("%d streams still held", c.running)
	}
	return c
}

// FuzzServerFrames feeds arbitrary frames to a server connection: no
// panic, no request head that breaks RFC 9113 §8 reaches a handler, and
// every stream is accounted for.
func FuzzServerFrames(f *testing.F) {
	for i, s := range seedFrames() {
		f.Add(s, uint8(i*7))
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		c := feedServer(t, data, int(step))
		// The output must be frames x/net's reader accepts.
		r := http2.NewFramer(nil, bytes.NewReader(c.out[c.outOff:]))
		r.SetMaxReadFrameSize(1 << 24)
		for {
			if _, err := r.ReadFrame(); err != nil {
				break
			}
		}
	})
}

// FuzzHeaderBlock decodes arbitrary HPACK blocks as a request head (in
// HEADERS with END_STREAM, then CONTINUATION halves).
func FuzzHeaderBlock(f *testing.F) {
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	f.Add(hpackBlock(enc, &hb, ":method", "GET", ":scheme", "https", ":path", "/a?b", ":authority", "x", "cookie", "a=1", "cookie", "b=2", "content-length", "0"))
	f.Add(hpackBlock(enc, &hb, ":method", "OPTIONS", ":scheme", "http", ":path", "*", "host", "h", "te", "trailers"))
	f.Add([]byte{0x3f, 0xe1, 0x1f}) // dynamic table size update
	f.Fuzz(func(t *testing.T, block []byte) {
		half := len(block) / 2
		data := frameBytes(func(fr *http2.Framer, _ *hpack.Encoder, _ *bytes.Buffer) {
			_ = fr.WriteSettings()
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndStream: true, EndHeaders: true})
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block[:half], EndStream: true})
			_ = fr.WriteContinuation(3, true, block[half:])
		})
		feedServer(t, data, 0)
	})
}

// FuzzHPACKEncode: what the encoder writes, x/net's decoder reads back
// unchanged.
func FuzzHPACKEncode(f *testing.F) {
	f.Add([]byte("content-type"), []byte("text/html"), 200, []byte("GET"), []byte("/"))
	f.Add([]byte("x-long"), bytes.Repeat([]byte("v"), 300), 799, []byte("PURGE"), []byte("/a"))
	f.Fuzz(func(t *testing.T, name, value []byte, status int, method, path []byte) {
		status = 100 + (status%900+900)%900
		b := appendStatus(nil, status)
		b = appendMethod(b, method)
		b = appendPath(b, path)
		b = appendField(b, name, value)
		var got []hpack.HeaderField
		d := hpack.NewDecoder(4096, func(f hpack.HeaderField) { got = append(got, f) })
		if _, err := d.Write(b); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if err := d.Close(); err != nil {
			t.Fatalf("decode: %v", err)
		}
		want := []string{":status", string([]byte{byte('0' + status/100), byte('0' + status/10%10), byte('0' + status%10)}),
			":method", string(method), ":path", string(path), string(name), string(value)}
		if len(got) != 4 {
			t.Fatalf("got %d fields", len(got))
		}
		for i, f := range got {
			if f.Name != want[2*i] || f.Value != want[2*i+1] {
				t.Fatalf("field %d: got %q: %q, want %q: %q", i, f.Name, f.Value, want[2*i], want[2*i+1])
			}
		}
	})
}
