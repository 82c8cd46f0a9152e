package http1

import (
	"bytes"
	"strings"
	"testing"
)

const limit = 16384 - 1024

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantErr error
		check   func(t *testing.T, m *Message)
	}{
		{name: "simple", raw: "GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n", check: func(t *testing.T, m *Message) {
			if string(m.Method) != "GET" || string(m.URI) != "/a?b=c" || !m.Is11() {
				t.Errorf("got %q %q %d.%d", m.Method, m.URI, m.Major, m.Minor)
			}
			if string(m.Path()) != "/a" || string(m.Query()) != "b=c" {
				t.Errorf("path %q query %q", m.Path(), m.Query())
			}
			if v, ok := m.Get("HOST"); !ok || string(v) != "x" {
				t.Errorf("host %q", v)
			}
		}},
		{name: "header names lower-cased, order kept", raw: "GET / HTTP/1.1\r\nX-B: 1\r\nX-A: 2\r\n\r\n", check: func(t *testing.T, m *Message) {
			if string(m.Headers[0].Name) != "x-b" || string(m.Headers[1].Name) != "x-a" {
				t.Errorf("headers %q", m.Headers)
			}
		}},
		{name: "incomplete", raw: "GET / HTTP/1.1\r\nHost: x\r\n", wantErr: ErrIncomplete},
		{name: "leading empty lines", raw: "\r\n\r\nGET / HTTP/1.1\r\n\r\n"},
		{name: "bare LF", raw: "GET / HTTP/1.1\nHost: a\n\n"},
		{name: "several spaces", raw: "GET  /  HTTP/1.1\r\n\r\n"},
		{name: "HTTP/9.9 accepted", raw: "GET / HTTP/9.9\r\n\r\n"},
		{name: "http/0.9", raw: "GET /\r\n\r\n", wantErr: ErrBadRequest},
		{name: "method only", raw: "GET\r\n\r\n", wantErr: ErrBadRequest},
		{name: "extra token", raw: "GET / HTTP/1.1 x\r\n\r\n", wantErr: ErrBadRequest},
		{name: "lower-case version", raw: "GET / http/1.1\r\n\r\n", wantErr: ErrBadRequest},
		{name: "bad method char", raw: "G@T / HTTP/1.1\r\n\r\n", wantErr: ErrBadRequest},
		{name: "control char in URI", raw: "GET /\x01 HTTP/1.1\r\n\r\n", wantErr: ErrBadRequest},
		{name: "space before colon", raw: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", wantErr: ErrBadRequest},
		{name: "no colon", raw: "GET / HTTP/1.1\r\nHost\r\n\r\n", wantErr: ErrBadRequest},
		{name: "two different content-lengths", raw: "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", wantErr: ErrBadRequest},
		{name: "same content-length twice", raw: "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", check: func(t *testing.T, m *Message) {
			if m.ContentLength != 3 || m.Count("content-length") != 1 {
				t.Errorf("cl %d count %d", m.ContentLength, m.Count("content-length"))
			}
		}},
		{name: "content-length list differing", raw: "POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n", wantErr: ErrBadRequest},
		{name: "bad content-length", raw: "POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\n", wantErr: ErrBadRequest},
		{name: "chunked", raw: "POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", check: func(t *testing.T, m *Message) {
			if !m.Chunked {
				t.Error("not chunked")
			}
		}},
		{name: "codings before chunked: 422", raw: "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", wantErr: ErrUnprocessable},
		{name: "TE not ending in chunked", raw: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", wantErr: ErrBadRequest},
		{name: "TE in HTTP/1.0 accepted, then close", raw: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", check: func(t *testing.T, m *Message) {
			if !m.MustClose || !m.Chunked {
				t.Errorf("%+v", m)
			}
		}},
		{name: "two Host headers", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", wantErr: ErrBadRequest},
		{name: "absolute URI matching Host", raw: "GET http://Example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{name: "absolute URI not matching Host", raw: "GET http://b/x HTTP/1.1\r\nHost: a\r\n\r\n", wantErr: ErrBadRequest},
		{name: "fragment in URI", raw: "GET /a#b HTTP/1.1\r\n\r\n", wantErr: ErrBadRequest},
		{name: "obs-fold joined", raw: "GET / HTTP/1.1\r\nX-F: a\r\n b\r\nY: c\r\n\r\n", check: func(t *testing.T, m *Message) {
			if v, _ := m.Get("x-f"); string(v) != "a   b" {
				t.Errorf("x-f %q", v)
			}
		}},
		{name: "NUL in value passes", raw: "GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n"},
		{name: "lone CR", raw: "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", wantErr: ErrBadRequest},
		{name: "websocket without key", raw: "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", wantErr: ErrBadRequest},
		{name: "websocket with key", raw: "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n"},
		{name: "content-length list normalized", raw: "POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n", check: func(t *testing.T, m *Message) {
			if v, _ := m.Get("content-length"); string(v) != "3" {
				t.Errorf("cl %q", v)
			}
		}},
		{name: "TE and CL: CL dropped", raw: "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", check: func(t *testing.T, m *Message) {
			if m.ContentLength != -1 || m.Count("content-length") != 0 || !m.Chunked {
				t.Errorf("cl %d chunked %v", m.ContentLength, m.Chunked)
			}
		}},
		{name: "too many headers", raw: "GET / HTTP/1.1\r\n" + strings.Repeat("X: y\r\n", 101) + "\r\n", wantErr: ErrTooMany},
		{name: "100 headers ok", raw: "GET / HTTP/1.1\r\n" + strings.Repeat("X: y\r\n", 100) + "\r\n"},
		{name: "too large", raw: "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", limit) + "\r\n\r\n", wantErr: ErrTooLarge},
		{name: "connection tokens", raw: "GET / HTTP/1.0\r\nConnection: Keep-Alive, Upgrade\r\n\r\n", check: func(t *testing.T, m *Message) {
			if !m.ConnKeepAlive || !m.ConnUpgrade || m.Is11() {
				t.Errorf("%+v", m)
			}
			if got := string(m.AppendRequestHead(nil)); got != "GET / HTTP/1.0\r\nconnection: Upgrade\r\n" {
				t.Errorf("head %q", got)
			}
		}},
		{name: "expect", raw: "PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n", check: func(t *testing.T, m *Message) {
			if !m.Expect100 {
				t.Error("no expect")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			err := ParseRequest(&m, []byte(tc.raw), limit)
			if err != tc.wantErr {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err == nil && m.HeadLen != len(tc.raw) {
				t.Errorf("HeadLen %d, want %d", m.HeadLen, len(tc.raw))
			}
			if tc.check != nil && err == nil {
				tc.check(t, &m)
			}
		})
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantErr error
		status  int
	}{
		{"ok", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", nil, 200},
		{"no reason", "HTTP/1.1 204\r\n\r\n", nil, 204},
		{"empty reason", "HTTP/1.1 404 \r\n\r\n", nil, 404},
		{"bad status", "HTTP/1.1 2x0 OK\r\n\r\n", ErrBadResponse, 0},
		{"not http", "RAW be1 hello\n\n", ErrBadResponse, 0},
		{"bad header", "HTTP/1.1 200 OK\r\nA B: c\r\n\r\n", ErrBadResponse, 0},
		{"incomplete", "HTTP/1.1 200 OK\r\n", ErrIncomplete, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			err := ParseResponse(&m, []byte(tc.raw), limit)
			if err != tc.wantErr {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err == nil && m.Status != tc.status {
				t.Errorf("status %d", m.Status)
			}
		})
	}
}

func TestHeaderEdits(t *testing.T) {
	var m Message
	raw := []byte("GET /x HTTP/1.1\r\nHost: a\r\nX-Del: 1\r\nX-Keep: 2\r\nx-del: 3\r\n\r\n")
	if err := ParseRequest(&m, raw, limit); err != nil {
		t.Fatal(err)
	}
	m.DelHeader("X-DEL")
	m.AddHeader("X-New", "v")
	m.SetHeader("host", "b")
	m.SetURI([]byte("/y"))
	got := string(m.AppendRequestHead(nil))
	want := "GET /y HTTP/1.1\r\nx-keep: 2\r\nx-new: v\r\nhost: b\r\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestChunked(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantN    int
		wantDone bool
		wantErr  error
		wantBody int64
	}{
		{"simple", "5\r\nhello\r\n0\r\n\r\n", 15, true, nil, 5},
		{"with extension and trailer", "3;a=b\r\nabc\r\n0\r\nX-T: 1\r\n\r\nNEXT", 25, true, nil, 3},
		{"bare LF", "3\nabc\n0\n\n", 9, true, nil, 3},
		{"partial", "5\r\nhel", 6, false, nil, 3},
		{"bad size", "zz\r\n", 0, false, ErrBadChunk, 0},
		{"missing CRLF after data", "3\r\nabcX", 6, false, ErrBadChunk, 3},
		{"overflow", "ffffffffffffffffff\r\n", 15, false, ErrBadChunk, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Chunked
			n, done, err := c.Feed([]byte(tc.in))
			if err != tc.wantErr || done != tc.wantDone || (err == nil && n != tc.wantN) || c.Body != tc.wantBody {
				t.Fatalf("n=%d done=%v err=%v body=%d; want n=%d done=%v err=%v body=%d",
					n, done, err, c.Body, tc.wantN, tc.wantDone, tc.wantErr, tc.wantBody)
			}
		})
	}
	// Byte by byte gives the same result as all at once.
	in := []byte("a\r\n0123456789\r\n1;x\r\nZ\r\n0\r\nT: v\r\n\r\n")
	var c Chunked
	for i := range in {
		n, done, err := c.Feed(in[i : i+1])
		if err != nil || n != 1 || done != (i == len(in)-1) {
			t.Fatalf("byte %d: n=%d done=%v err=%v", i, n, done, err)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("POST /x?y HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc"))
	f.Add([]byte("\r\nPUT * HTTP/1.1\nTransfer-Encoding: chunked\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Message
		buf := append([]byte(nil), data...)
		err := ParseRequest(&m, buf, limit)
		if err != nil {
			return
		}
		if m.HeadLen > len(buf) || !IsToken(m.Method) || len(m.URI) == 0 {
			t.Fatalf("accepted bad head: %+v", m)
		}
		if m.Chunked && m.ContentLength >= 0 {
			t.Fatal("both chunked and content-length")
		}
		// Re-serialized heads must parse again to the same request line.
		out := m.AppendRequestHead(nil)
		out = append(out, '\r', '\n')
		var m2 Message
		if err := ParseRequest(&m2, out, len(out)+1); err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if !bytes.Equal(m2.Method, m.Method) || !bytes.Equal(m2.URI, m.URI) {
			t.Fatalf("round trip changed the request line")
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("HTTP/1.0 304 Not Modified\r\nConnection: close\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Message
		buf := append([]byte(nil), data...)
		if err := ParseResponse(&m, buf, limit); err != nil {
			return
		}
		if m.Status < 100 || m.HeadLen > len(buf) {
			t.Fatalf("accepted bad response: %+v", m)
		}
		out := append(m.AppendResponseHead(nil), '\r', '\n')
		var m2 Message
		if err := ParseResponse(&m2, out, len(out)+1); err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
	})
}

func FuzzChunked(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), uint8(3))
	f.Add([]byte("3;x=y\nabc\n0\nT: 1\n\n"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		// Feeding in two pieces must agree with feeding at once.
		var a, b Chunked
		n1, d1, e1 := a.Feed(data)
		k := int(split)
		if k > len(data) {
			k = len(data)
		}
		n2, d2, e2 := b.Feed(data[:k])
		if e2 == nil && !d2 {
			m, d, e := b.Feed(data[k:])
			n2, d2, e2 = n2+m, d, e
		}
		if (e1 == nil) != (e2 == nil) || d1 != d2 || (e1 == nil && n1 != n2) {
			t.Fatalf("split %d: (%d %v %v) vs (%d %v %v)", k, n1, d1, e1, n2, d2, e2)
		}
		if n1 > len(data) || a.Body > int64(len(data)) {
			t.Fatal("consumed more than given")
		}
	})
}

func TestChunkedRewrite(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"canonical unchanged", "5\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n"},
		{"extensions and spaces dropped", "3 ;x=y\r\nabc\r\n0;z\r\n\r\n", "3\r\nabc\r\n0\r\n\r\n"},
		{"upper-case hex and leading zeros", "00A\r\n0123456789\r\n0\r\n\r\n", "a\r\n0123456789\r\n0\r\n\r\n"},
		{"bare LF", "3\nabc\n0\n\n", "3\r\nabc\r\n0\r\n\r\n"},
		{"trailers lower-cased", "2\r\nok\r\n0\r\nX-Trailer: A\r\n\r\n", "2\r\nok\r\n0\r\nx-trailer: A\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Chunked
			out, n, done, err := c.Rewrite(nil, []byte(tc.in+"NEXT"))
			if err != nil || !done || n != len(tc.in) || string(out) != tc.want {
				t.Fatalf("got %q n=%d done=%v err=%v, want %q", out, n, done, err, tc.want)
			}
		})
	}
}

func FuzzChunkedRewrite(f *testing.F) {
	f.Add([]byte("3;x\nabc\r\n0\r\nT: v\n\n"), uint8(2))
	f.Add([]byte("A\r\n0123456789\r\n0\r\n\r\n"), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		// Rewrite accepts exactly what Feed accepts, in any split, and
		// its output is canonical: Feed takes all of it, same body size,
		// and rewriting it again changes nothing.
		var a, b Chunked
		n1, d1, e1 := a.Feed(data)
		k := min(int(split), len(data))
		out, n2, d2, e2 := b.Rewrite(nil, data[:k])
		if e2 == nil && !d2 {
			var m int
			out, m, d2, e2 = b.Rewrite(out, data[k:])
			n2 += m
		}
		if (e1 == nil) != (e2 == nil) || d1 != d2 || (e1 == nil && n1 != n2) || a.Body != b.Body {
			t.Fatalf("Feed (%d %v %v %d) vs Rewrite (%d %v %v %d)", n1, d1, e1, a.Body, n2, d2, e2, b.Body)
		}
		if e2 != nil || !d2 {
			return
		}
		var c Chunked
		n3, d3, e3 := c.Feed(out)
		if e3 != nil || !d3 || n3 != len(out) || c.Body != b.Body {
			t.Fatalf("output %q not canonical: %d %v %v", out, n3, d3, e3)
		}
		var d Chunked
		again, _, _, _ := d.Rewrite(nil, out)
		if !bytes.Equal(again, out) {
			t.Fatalf("rewrite not idempotent: %q -> %q", out, again)
		}
	})
}
