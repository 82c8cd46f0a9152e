package http1

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// The request-smuggling and framing shapes of issue 9 at the parser level.
// The same byte sequences run end to end (engine and binary) as recorded
// cases in testdata/recorded, with HAProxy 2.6.12's recorded answers.

// forwardRequest is what the engine sends to a server for buf: the head
// as AppendRequestHead serializes it and the body as the chunk machine
// re-frames it (or the Content-Length bytes). ok is false when halo
// refuses the request or it is incomplete.
func forwardRequest(buf []byte) (out []byte, m *Message, ok bool) {
	m = &Message{}
	if err := ParseRequest(m, buf, 16384-1024); err != nil {
		return nil, m, false
	}
	out = m.AppendRequestHead(nil)
	out = append(out, '\r', '\n')
	rest := buf[m.HeadLen:]
	switch {
	case m.Chunked:
		var c Chunked
		c.Reset(ChunkLimit(16384))
		var done bool
		var err error
		out, _, done, err = c.Rewrite(out, rest)
		if err != nil || !done {
			return nil, m, false
		}
	case m.ContentLength > 0:
		if int64(len(rest)) < m.ContentLength {
			return nil, m, false
		}
		out = append(out, rest[:m.ContentLength]...)
	}
	return out, m, true
}

func TestRequestShapes(t *testing.T) {
	const chunkedBody = "\r\n\r\n20\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\n\r\n"
	tests := []struct {
		name, raw string
		wantErr   error
		want      string // forwarded bytes, when accepted
	}{
		// Transfer-Encoding that is not exactly chunked as the final,
		// only coding (HAProxy 2.6.12: 422, or 400).
		{"TE identity, chunked", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 46\r\nTransfer-Encoding: identity, chunked" + chunkedBody, ErrUnprocessable, ""},
		{"TE gzip, chunked", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked" + chunkedBody, ErrUnprocessable, ""},
		{"TE ,chunked", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,chunked" + chunkedBody, ErrUnprocessable, ""},
		{"TE on two lines", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked" + chunkedBody, ErrUnprocessable, ""},
		{"TE chunked, identity", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity" + chunkedBody, ErrBadRequest, ""},
		{"TE chunked twice", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked" + chunkedBody, ErrBadRequest, ""},
		{"TE xchunked", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked" + chunkedBody, ErrBadRequest, ""},
		{"TE identity", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity" + chunkedBody, ErrBadRequest, ""},
		{"TE empty", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + chunkedBody, ErrBadRequest, ""},
		{"TE chunked;a=b", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;a=b" + chunkedBody, ErrBadRequest, ""},
		{"TE chunked with CL: CL dropped", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 46\r\nTransfer-Encoding: chunked" + chunkedBody, nil,
			"POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n20\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\n\r\n"},
		{"TE chunked, (trailing comma): named plainly", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked," + chunkedBody, nil,
			"POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n20\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\n\r\n"},
		// Content-Length.
		{"CL 5,", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5,\r\n\r\nhello", ErrBadRequest, ""},
		{"CL ,5", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: ,5\r\n\r\nhello", ErrBadRequest, ""},
		{"CL 5 5", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5 5\r\n\r\nhello", ErrBadRequest, ""},
		{"CL +5", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", ErrBadRequest, ""},
		{"CL 5, 5", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello", nil, "POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello"},
		// halo is stricter than HAProxy 2.6.12, which forwards 2^64.
		{"CL 2^64 (halo stricter)", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n", ErrBadRequest, ""},
		// halo is stricter than HAProxy 2.6, which takes a tab as a space.
		{"tab in request line (halo stricter)", "GET\t/a HTTP/1.1\r\nHost: x\r\n\r\n", ErrBadRequest, ""},
		// Absolute-form targets: the authority ends at the first '/'.
		{"absolute h?/admin", "GET http://h?/admin HTTP/1.1\r\nHost: h\r\n\r\n", ErrBadRequest, ""},
		{"absolute host mismatch", "GET http://h/p HTTP/1.1\r\nHost: other\r\n\r\n", ErrBadRequest, ""},
		{"absolute userinfo@other host", "GET http://h@evil/p HTTP/1.1\r\nHost: h\r\n\r\n", ErrBadRequest, ""},
		{"absolute port differs", "GET http://h/p HTTP/1.1\r\nHost: h:8080\r\n\r\n", ErrBadRequest, ""},
		{"absolute default port removed", "GET http://h:80/p HTTP/1.1\r\nHost: h\r\n\r\n", nil, "GET http://h/p HTTP/1.1\r\nhost: h\r\n\r\n"},
		{"absolute https default port", "GET https://h:443/p HTTP/1.1\r\nHost: h\r\n\r\n", nil, "GET https://h/p HTTP/1.1\r\nhost: h\r\n\r\n"},
		{"absolute userinfo", "GET http://u@h/p HTTP/1.1\r\nHost: h\r\n\r\n", nil, "GET http://u@h/p HTTP/1.1\r\nhost: h\r\n\r\n"},
		{"scheme without //", "GET http:/admin HTTP/1.1\r\nHost: h\r\n\r\n", ErrBadRequest, ""},
		{"neither origin nor absolute", "GET foo HTTP/1.1\r\nHost: h\r\n\r\n", ErrBadRequest, ""},
		{"CONNECT host mismatch", "CONNECT h:443 HTTP/1.1\r\nHost: other\r\n\r\n", ErrBadRequest, ""},
		{"CONNECT default port off Host", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", nil, "CONNECT h:443 HTTP/1.1\r\nhost: h\r\n\r\n"},
		// The TE request header keeps only "trailers".
		{"TE: trailers, gzip", "GET /a HTTP/1.1\r\nHost: x\r\nTE: trailers, gzip\r\n\r\n", nil, "GET /a HTTP/1.1\r\nhost: x\r\nte: trailers\r\n\r\n"},
		{"TE: gzip removed", "GET /a HTTP/1.1\r\nHost: x\r\nTE: gzip\r\nX: 1\r\n\r\n", nil, "GET /a HTTP/1.1\r\nhost: x\r\nx: 1\r\n\r\n"},
		{"TE: Trailers removed (exact spelling)", "GET /a HTTP/1.1\r\nHost: x\r\nTE: Trailers\r\n\r\n", nil, "GET /a HTTP/1.1\r\nhost: x\r\n\r\n"},
		{"TE: trailers;q=1 removed", "GET /a HTTP/1.1\r\nHost: x\r\nTE: trailers;q=1\r\n\r\n", nil, "GET /a HTTP/1.1\r\nhost: x\r\n\r\n"},
		{"TE on two lines: one kept", "GET /a HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nTE: gzip, trailers\r\n\r\n", nil, "GET /a HTTP/1.1\r\nhost: x\r\nte: trailers\r\n\r\n"},
		// Connection headers keep their place, minus close/keep-alive.
		{"connection tokens in place", "GET /a HTTP/1.1\r\nConnection: close, x-foo\r\nHost: x\r\n\r\n", nil, "GET /a HTTP/1.1\r\nconnection: x-foo\r\nhost: x\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			err := ParseRequest(&m, []byte(tc.raw), 16384-1024)
			if err != tc.wantErr {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			out, _, ok := forwardRequest([]byte(tc.raw))
			if !ok || string(out) != tc.want {
				t.Fatalf("forwarded %q (ok %v), want %q", out, ok, tc.want)
			}
		})
	}
}

func TestResponseShapes(t *testing.T) {
	tests := []struct {
		name, raw string
		wantErr   error
		wantHead  string
	}{
		{"status 2000 passed", "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n", nil, "HTTP/1.1 2000 OK\r\ncontent-length: 2\r\n"},
		{"status 600 passed", "HTTP/1.1 600 X\r\n\r\n", nil, "HTTP/1.1 600 X\r\n"},
		{"no reason", "HTTP/1.1 200\r\n\r\n", nil, "HTTP/1.1 200 \r\n"},
		{"two spaces before the code", "HTTP/1.1  204 No Content\r\n\r\n", nil, "HTTP/1.1 204 No Content\r\n"},
		{"letters in the code", "HTTP/1.1 2x0 OK\r\n\r\n", ErrBadResponse, ""},
		// halo is stricter: HAProxy forwards a code below 100.
		{"code below 100 (halo stricter)", "HTTP/1.1 099 X\r\n\r\n", ErrBadResponse, ""},
		{"TE gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", ErrBadResponse, ""},
		{"TE xchunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n", ErrBadResponse, ""},
		{"TE gzip alone", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", ErrBadResponse, ""},
		{"TE chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", ErrBadResponse, ""},
		{"WebSocket 101 without accept", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", ErrBadResponse, ""},
		{"WebSocket 101 with accept", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: k\r\n\r\n", nil,
			"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: k\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			err := ParseResponse(&m, []byte(tc.raw), 16384)
			if err != tc.wantErr {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err == nil {
				if got := string(m.AppendResponseHead(nil)); got != tc.wantHead {
					t.Fatalf("head %q, want %q", got, tc.wantHead)
				}
			}
		})
	}
}

func TestChunkedTrailers(t *testing.T) {
	tests := []struct {
		name, trailers string
		wantErr        error
		want           string // forwarded last chunk and trailers
	}{
		{"none", "\r\n", nil, "0\r\n\r\n"},
		{"names lower-cased, values trimmed", "X-Sum: 12\r\nX-B:\r\nX-C:  v w \t\r\n\r\n", nil, "0\r\nx-sum: 12\r\nx-b: \r\nx-c: v w\r\n\r\n"},
		{"folded trailer unfolded", "X-A: 1\r\n  2\r\nX-B: 3\r\n\r\n", nil, "0\r\nx-a: 1    2\r\nx-b: 3\r\n\r\n"},
		{"bare LF", "X-A: 1\n\n", nil, "0\r\nx-a: 1\r\n\r\n"},
		{"Content-Length dropped", "Content-Length: 5\r\nHost: y\r\n\r\n", nil, "0\r\nhost: y\r\n\r\n"},
		{"request line", "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n", ErrBadChunk, ""},
		{"no colon", "FOO\r\n\r\n", ErrBadChunk, ""},
		{"empty name", ": 1\r\n\r\n", ErrBadChunk, ""},
		{"space before colon", "X-A : 1\r\n\r\n", ErrBadChunk, ""},
		{"lone CR", "X-A: a\rb\r\n\r\n", ErrBadChunk, ""},
		{"invalid Content-Length", "Content-Length: abc\r\n\r\n", ErrBadChunk, ""},
		{"101 fields", strings.Repeat("x: a\r\n", 101) + "\r\n", ErrBadChunk, ""},
		{"100 fields", strings.Repeat("x: a\r\n", 100) + "\r\n", nil, "0\r\n" + strings.Repeat("x: a\r\n", 100) + "\r\n"},
		// halo is stricter than HAProxy 2.6 on these two.
		{"NUL in a value (halo stricter)", "X-A: a\x00b\r\n\r\n", ErrBadChunk, ""},
		{"leading whitespace (halo stricter)", " X-A: 1\r\n\r\n", ErrBadChunk, ""},
		{"16320 bytes: within the limit", "x: " + strings.Repeat("a", 16320-7) + "\r\n\r\n", nil, "0\r\nx: " + strings.Repeat("a", 16320-7) + "\r\n\r\n"},
		{"16321 bytes: over the limit", "x: " + strings.Repeat("a", 16320-6) + "\r\n\r\n", ErrChunkTooLarge, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte("3\r\nabc\r\n0\r\n" + tc.trailers + "NEXT")
			for _, split := range []int{len(in), 1, 9, 14} {
				var c Chunked
				c.Reset(ChunkLimit(16384))
				out, n, done, err := c.Rewrite(nil, in[:split])
				if err == nil && !done {
					var m int
					out, m, done, err = c.Rewrite(out, in[split:])
					n += m
				}
				if err != tc.wantErr {
					t.Fatalf("split %d: err %v, want %v", split, err, tc.wantErr)
				}
				if err != nil {
					continue
				}
				if want := "3\r\nabc\r\n" + tc.want; !done || string(out) != want || n != len(in)-4 {
					t.Fatalf("split %d: got %q n=%d done=%v, want %q", split, out, n, done, want)
				}
				// Feed (validation only) agrees.
				var v Chunked
				v.Reset(ChunkLimit(16384))
				if vn, vd, ve := v.Feed(in); vn != n || !vd || ve != nil {
					t.Fatalf("Feed: %d %v %v", vn, vd, ve)
				}
			}
		})
	}
}

func TestChunkSizeLineLimit(t *testing.T) {
	for _, tc := range []struct {
		ext     int
		wantErr error
	}{{16314, nil}, {16315, ErrChunkTooLarge}} {
		// "3;e=" + ext + CRLF: 16320 bytes is the longest HAProxy takes
		// at tune.bufsize 16384.
		in := "3;e=" + strings.Repeat("a", tc.ext) + "\r\nabc\r\n0\r\n\r\n"
		var c Chunked
		c.Reset(ChunkLimit(16384))
		_, _, err := c.Feed([]byte(in))
		if err != tc.wantErr {
			t.Errorf("extension of %d bytes: %v, want %v", tc.ext, err, tc.wantErr)
		}
	}
}

// refRequest frames one request the way a strict server does (RFC 9112):
// head up to the empty line, CRLF line ends, Content-Length digits or
// Transfer-Encoding exactly chunked (never both), a chunked body with bare
// hex sizes. It returns the bytes the request used and its decoded body.
func refRequest(b []byte) (n int, body []byte, ok bool) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return 0, nil, false
	}
	lines := strings.Split(string(b[:end]), "\r\n")
	if f := strings.Split(lines[0], " "); len(f) != 3 || !strings.HasPrefix(f[2], "HTTP/1.") {
		return 0, nil, false
	}
	cl, chunked, haveCL := 0, false, false
	for _, l := range lines[1:] {
		name, val, found := strings.Cut(l, ":")
		if !found || !IsToken([]byte(name)) || strings.ContainsAny(l, "\r\n") {
			return 0, nil, false
		}
		val = strings.Trim(val, " \t")
		switch strings.ToLower(name) {
		case "content-length":
			v, err := strconv.Atoi(val)
			if err != nil || v < 0 || haveCL || !isDigits([]byte(val)) {
				return 0, nil, false
			}
			cl, haveCL = v, true
		case "transfer-encoding":
			if !strings.EqualFold(val, "chunked") || chunked {
				return 0, nil, false
			}
			chunked = true
		}
	}
	if chunked && haveCL {
		return 0, nil, false
	}
	off := end + 4
	if !chunked {
		if len(b)-off < cl {
			return 0, nil, false
		}
		return off + cl, b[off : off+cl], true
	}
	for {
		le := bytes.Index(b[off:], []byte("\r\n"))
		if le < 0 {
			return 0, nil, false
		}
		size, err := strconv.ParseUint(string(b[off:off+le]), 16, 31)
		if err != nil {
			return 0, nil, false
		}
		off += le + 2
		if size == 0 {
			for {
				le := bytes.Index(b[off:], []byte("\r\n"))
				if le < 0 {
					return 0, nil, false
				}
				if line := b[off : off+le]; le > 0 && (bytes.IndexByte(line, ':') <= 0 || line[0] == ' ' || line[0] == '\t') {
					return 0, nil, false
				}
				off += le + 2
				if le == 0 {
					return off, body, true
				}
			}
		}
		if uint64(len(b)-off) < size+2 || string(b[off+int(size):off+int(size)+2]) != "\r\n" {
			return 0, nil, false
		}
		body = append(body, b[off:off+int(size)]...)
		off += int(size) + 2
	}
}

// smuggleGen turns fuzz bytes into a request built from the grammars of
// request smuggling: Content-Length and Transfer-Encoding variants, folded
// and duplicated headers, absolute targets, chunk extensions, bare LFs,
// upper-case or zero-padded sizes, trailers (valid, folded, malformed),
// and a request pipelined after the body.
type smuggleGen struct{ d []byte }

func (g *smuggleGen) pick(n int) int {
	if len(g.d) == 0 {
		return 0
	}
	v := int(g.d[0]) % n
	g.d = g.d[1:]
	return v
}

func (g *smuggleGen) oneOf(s ...string) string { return s[g.pick(len(s))] }

func (g *smuggleGen) request() []byte {
	var b strings.Builder
	eol := func() string { return g.oneOf("\r\n", "\r\n", "\r\n", "\n") }
	b.WriteString(g.oneOf("GET", "POST", "PUT", "HEAD", "PRI", "CONNECT", "OPTIONS"))
	b.WriteString(g.oneOf(" ", " ", "  ", "\t"))
	b.WriteString(g.oneOf("/a", "/admin", "*", "http://h/p", "http://h?/admin", "http://h:80/p", "HTTP://H/p", "h:443", "//h/p", "http://u@h/", "/a?b=c"))
	b.WriteString(" " + g.oneOf("HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 ") + eol())
	body := []byte(g.oneOf("", "hello", "0\r\n\r\n", "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n", strings.Repeat("z", 300)))
	chunked := false
	for n := g.pick(7); n > 0; n-- {
		switch g.pick(9) {
		case 0:
			b.WriteString(g.oneOf("Host: h", "Host: x", "Host: h:80", "host:h") + eol())
		case 1:
			v := strconv.Itoa(len(body))
			b.WriteString("Content-Length: " + g.oneOf(v, v, v+", "+v, v+",", ","+v, "+"+v, "0", "-1", " "+v+" ", "18446744073709551616", "1"+v) + eol())
		case 2:
			b.WriteString("Transfer-Encoding: " + g.oneOf("chunked", "chunked", "Chunked", " chunked ", "chunked,", "gzip, chunked", "identity", ",chunked", "chunked, identity", "xchunked", "chunked;q=1", "chunked\r\n x") + eol())
			chunked = true
		case 3:
			b.WriteString(g.oneOf("Connection: close", "Connection: keep-alive", "Connection: upgrade", "Connection: x, close") + eol())
		case 4:
			b.WriteString(g.oneOf("Upgrade: websocket", "Expect: 100-continue", "Sec-WebSocket-Key: k") + eol())
		case 5:
			b.WriteString(g.oneOf("TE: trailers, gzip", "TE: gzip", "TE: Trailers") + eol())
		case 6:
			b.WriteString("X-F: a" + eol() + g.oneOf(" b", "\tc") + eol())
		case 7:
			b.WriteString(g.oneOf("Transfer-Encoding : chunked", " Transfer-Encoding: chunked", "X: a\rb", "X:") + eol())
		default:
			b.WriteString("X-A: 1" + eol())
		}
	}
	b.WriteString(eol())
	if chunked {
		if len(body) > 0 {
			size := strconv.FormatInt(int64(len(body)), 16)
			size = g.oneOf(size, strings.ToUpper(size), "0"+size, size+" ", size+";ext=1", size+";e=\"q\"", "0x"+size, size+"\x01")
			b.WriteString(size + eol())
			b.Write(body)
			b.WriteString(g.oneOf("\r\n", "\r\n", "\n", "", "X\r\n"))
		}
		b.WriteString(g.oneOf("0", "0", "00", "0;e") + eol())
		for n := g.pick(4); n > 0; n-- {
			b.WriteString(g.oneOf("X-T: 1", "x-t:2", "FOO", ": 1", " X-C: 1", "X-D: 1"+eol()+" 2", "Content-Length: 5", "GET /admin HTTP/1.1", "X-N: \x00") + eol())
		}
		b.WriteString(eol())
	} else {
		b.Write(body)
	}
	if g.pick(2) == 1 {
		b.WriteString("GET /admin HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	b.Write(g.d) // the rest of the input, as the fuzzer mutates it
	return []byte(b.String())
}

// FuzzForwardedIsOneRequest drives the request parser and the chunked body
// machine with request-smuggling grammars and asserts that whatever halo
// forwards parses, at a strict server, as exactly one request: all the
// forwarded bytes, the same request line, the same decoded body.
func FuzzForwardedIsOneRequest(f *testing.F) {
	f.Add([]byte{1, 1, 1, 1, 2, 2, 0, 1, 3, 1})
	f.Add([]byte{1, 2, 3, 0, 3, 2, 5, 1, 0, 2, 0, 6})
	f.Add([]byte("POST /a HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := (&smuggleGen{d: data}).request()
		out, m, ok := forwardRequest(in)
		if !ok {
			return
		}
		n, body, ok := refRequest(out)
		if !ok || n != len(out) {
			t.Fatalf("forwarded bytes are not exactly one request (used %d of %d, ok %v)\nin:  %q\nout: %q", n, len(out), ok, in, out)
		}
		var m2 Message
		if err := ParseRequest(&m2, out, len(out)+1); err != nil || !bytes.Equal(m2.Method, m.Method) || !bytes.Equal(m2.URI, m.URI) {
			t.Fatalf("forwarded head re-parses differently (%v)\nout: %q", err, out)
		}
		// The decoded body is what the client framed, nothing more.
		var want []byte
		rest := in[m.HeadLen:]
		if m.Chunked {
			var c Chunked
			c.Reset(0)
			dec, _, _, _ := c.Rewrite(nil, rest)
			_, want, _ = refRequest(append([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), dec...))
		} else if m.ContentLength > 0 {
			want = rest[:m.ContentLength]
		}
		if !bytes.Equal(body, want) {
			t.Fatalf("body %q, want %q\nout: %q", body, want, out)
		}
	})
}
