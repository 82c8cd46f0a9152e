package check

import (
	"strings"
	"testing"
)

// FuzzParseHexPayload feeds UDP_CHECK's payload/require_reply decoder and
// the reply matcher: no panic, nibbles and mask agree, X only as a
// pattern.
func FuzzParseHexPayload(f *testing.F) {
	f.Add("Ab12f 3 456 546443123", true, []byte{0xab, 0x12})
	f.Add("xX 0", true, []byte{})
	f.Add("zz", false, []byte{1})
	f.Fuzz(func(t *testing.T, s string, allowX bool, reply []byte) {
		n, m, err := ParseHexPayload(strings.Fields(s), allowX)
		if err != nil {
			return
		}
		if len(n) != len(m) || len(n)%2 != 0 {
			t.Fatalf("nibbles %d mask %d", len(n), len(m))
		}
		cfg := &Config{ReplyPattern: n, ReplyMask: m, MaxReplyLength: 1 << 16}
		UDPReplyMatches(cfg, reply)
		_ = NibblesToBytes(n)
	})
}

// FuzzHTTPHead feeds the response head parsers HTTP_GET and genhash use.
func FuzzHTTPHead(f *testing.F) {
	f.Add([]byte("HTTP/1.0 200 OK\r\nContent-Length: 12"))
	f.Add([]byte("HTTP/1.1 9"))
	f.Fuzz(func(t *testing.T, h []byte) {
		if c := statusCode(h); c < 0 || c > 999 {
			t.Fatalf("status %d", c)
		}
		if n := contentLength(h); n < -1 {
			t.Fatalf("content-length %d", n)
		}
	})
}
