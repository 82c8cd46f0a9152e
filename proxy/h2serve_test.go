package proxy

import (
	"testing"
)

func TestChunkDecoder(t *testing.T) {
	for _, tc := range []struct {
		name, in, data string
		trailers       int
		done, bad      bool
	}{
		{"two chunks", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "abcde", 0, true, false},
		{"trailers", "1\r\nx\r\n0\r\nX-T: v\r\nConnection: close\r\n\r\n", "x", 1, true, false},
		{"extension", "2;e=1\r\nab\r\n0\r\n\r\n", "ab", 0, true, false},
		{"incomplete", "5\r\nab", "ab", 0, false, false},
		{"bad size", "zz\r\n", "", 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d chunkDecoder
			var got []byte
			// one byte at a time: every state boundary is crossed
			var done bool
			var err error
			for i := 0; i < len(tc.in) && !done && err == nil; i++ {
				var data []byte
				data, _, done, err = d.feed([]byte{tc.in[i]})
				got = append(got, data...)
			}
			if (err != nil) != tc.bad || done != tc.done || string(got) != tc.data || len(d.trailers) != tc.trailers {
				t.Fatalf("data %q done %v err %v trailers %v", got, done, err, d.trailers)
			}
		})
	}
}

func FuzzChunkDecoder(f *testing.F) {
	f.Add([]byte("3\r\nabc\r\n0\r\nX: y\r\n\r\n"), 2)
	f.Fuzz(func(t *testing.T, in []byte, split int) {
		var d chunkDecoder
		if split < 0 || split > len(in) {
			split = len(in) / 2
		}
		var total []byte
		for _, part := range [][]byte{in[:split], in[split:]} {
			data, used, done, err := d.feed(part)
			if err != nil {
				return
			}
			if used > len(part) {
				t.Fatalf("used %d of %d", used, len(part))
			}
			total = append(total, data...)
			if done {
				break
			}
		}
		if len(total) > len(in) {
			t.Fatal("more data than input")
		}
	})
}
