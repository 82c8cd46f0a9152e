package proxy

import (
	"bytes"
	"testing"

	"halo/proxy/http1"
)

// FuzzUnchunker: what http1.Chunked writes (the normalized form), cut
// anywhere, splits back into the body's data and its trailer block.
func FuzzUnchunker(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nx-t: 1\r\n\r\n"), 3)
	f.Add([]byte("0\r\n\r\n"), 1)
	f.Add([]byte("1\r\na\r\n0\r\n\r\n"), 7)
	f.Fuzz(func(t *testing.T, in []byte, cut int) {
		var ch http1.Chunked
		ch.Reset(0)
		norm, _, done, err := ch.Rewrite(nil, in)
		if err != nil || !done {
			return
		}
		// The body's data, as the machine counted it.
		var ref http1.Chunked
		ref.Reset(0)
		var want []byte
		{
			var u unchunker
			off := 0
			for p := u.next(norm, &off); p != nil; p = u.next(norm, &off) {
				want = append(want, p...)
			}
			if int64(len(want)) != ch.Body || u.state != ucDone {
				t.Fatalf("whole: %d bytes of data, machine says %d (state %d)", len(want), ch.Body, u.state)
			}
		}
		if cut < 0 {
			cut = -cut
		}
		cut = cut%len(norm) + 1
		var u unchunker
		var got []byte
		for s := 0; s < len(norm); s += cut {
			part := norm[s:min(s+cut, len(norm))]
			off := 0
			for p := u.next(part, &off); p != nil; p = u.next(part, &off) {
				got = append(got, p...)
			}
		}
		if !bytes.Equal(got, want) || u.state != ucDone {
			t.Fatalf("cut every %d: %q (state %d), want %q", cut, got, u.state, want)
		}
		if !bytes.HasSuffix(norm, append(append([]byte{}, u.tr...), '\r', '\n')) {
			t.Fatalf("trailers %q not at the end of %q", u.tr, norm)
		}
	})
}
