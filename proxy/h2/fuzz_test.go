package h2

import (
	"bytes"
	"io"
	"net"
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

func seedFrames() [][]byte {
	hdr := func(enc *hpack.Encoder, hb *bytes.Buffer, kv ...string) []byte {
		hb.Reset()
		for i := 0; i+1 < len(kv); i += 2 {
			_ = enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
		}
		return append([]byte(nil), hb.Bytes()...)
	}
	return [][]byte{
		frameBytes(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
			_ = fr.WriteSettings()
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
				BlockFragment: hdr(enc, hb, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a")})
		}),
		frameBytes(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
			_ = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hdr(enc, hb, ":method", "POST", ":scheme", "http")})
			_ = fr.WriteContinuation(1, true, hdr(enc, hb, ":path", "/x", "content-length", "3"))
			_ = fr.WriteData(1, false, []byte("ab"))
			_ = fr.WriteWindowUpdate(1, 10)
			_ = fr.WriteRSTStream(1, http2.ErrCodeCancel)
			_ = fr.WritePing(false, [8]byte{})
			_ = fr.WritePriority(3, http2.PriorityParam{StreamDep: 3})
			_ = fr.WriteGoAway(0, http2.ErrCodeNo, nil)
		}),
	}
}

// FuzzServerFrames feeds arbitrary bytes after the preface to a server
// connection: it must neither panic nor hang.
func FuzzServerFrames(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		srv, cli := net.Pipe()
		lim := DefaultLimits()
		lim.IdleTimeout, lim.ReadTimeout, lim.WriteTimeout, lim.PrefaceTimeout = time.Second, time.Second, time.Second, time.Second
		done := make(chan struct{})
		go func() {
			_ = NewConn(srv, Settings{}, lim, echo).Serve()
			close(done)
		}()
		go func() { _, _ = io.Copy(io.Discard, cli) }()
		_ = cli.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = cli.Write([]byte(Preface))
		_, _ = cli.Write(data)
		cli.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("connection did not end")
		}
	})
}

// FuzzHeaderBlock decodes arbitrary HPACK blocks as a request head.
func FuzzHeaderBlock(f *testing.F) {
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, kv := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":path", "/a?b"}, {":authority", "x"}, {"cookie", "a=1"}, {"cookie", "b=2"}, {"content-length", "0"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	f.Add(hb.Bytes())
	f.Add([]byte{0x3f, 0xe1, 0x1f}) // dynamic table size update
	f.Fuzz(func(t *testing.T, block []byte) {
		var out bytes.Buffer
		w := http2.NewFramer(&out, nil)
		_ = w.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndStream: true, EndHeaders: true})
		r := http2.NewFramer(nil, &out)
		r.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		r.MaxHeaderListSize = 16384
		fr, err := r.ReadFrame()
		if err != nil {
			return
		}
		mh, ok := fr.(*http2.MetaHeadersFrame)
		if !ok {
			return
		}
		if req, err := parseRequest(mh); err == nil {
			if req.Method == "" || (req.Method != "CONNECT" && req.Path == "") {
				t.Fatalf("accepted an incomplete request: %+v", req)
			}
		}
		_, _ = parseResponse(mh)
		_, _ = parseTrailers(mh)
	})
}
