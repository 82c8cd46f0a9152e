package compress

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"testing"
)

func TestQValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"1", 1000}, {"1.0", 1000}, {"0", 0}, {"0.5", 500}, {"0.125", 125}, {"0.1234", 123},
		{"2", 1000}, {"abc", 1000}, {"", 1000}, {"0.", 0}, {".5", 1000}, {"0.05", 50},
	} {
		if got := QValue([]byte(tc.in)); got != tc.want {
			t.Errorf("QValue(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestParseCoding(t *testing.T) {
	for _, tc := range []struct {
		in  string
		tok string
		q   int
	}{
		{"gzip", "gzip", 1000},
		{"gzip;q=0", "gzip", 0},
		{"gzip ; q=0.3", "gzip", 300},
		{"gzip;level=1;q=0.4", "gzip", 400},
		{"gzip;Q=0.4", "gzip", 1000},
		{"*;q=0.1", "*", 100},
		{"br", "br", 1000},
		{"x-gzip;q", "x-gzip", 1000},
	} {
		tok, q := parseCoding([]byte(tc.in))
		if string(tok) != tc.tok || q != tc.q {
			t.Errorf("parseCoding(%q) = %q %d, want %q %d", tc.in, tok, q, tc.tok, tc.q)
		}
	}
}

func TestOldMozilla(t *testing.T) {
	for _, tc := range []struct {
		ua   string
		want bool
	}{
		{"Mozilla/4.0 (compatible; MSIE 5.0; Windows 98)", true},
		{"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)", false},
		{"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)", true},
		{"Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)", false},
		{"Mozilla/4.0", true},
		{"Mozilla/5.0 (X11)", false},
		{"curl/8", false},
	} {
		if got := oldMozilla([]byte(tc.ua)); got != tc.want {
			t.Errorf("oldMozilla(%q) = %v", tc.ua, got)
		}
	}
}

// TestCoderRoundTrip compresses pieces as the engine hands them over and
// checks each format decodes to the input.
func TestCoderRoundTrip(t *testing.T) {
	m := New()
	var in []byte
	for i := 0; i < 5000; i++ {
		in = append(in, "some text that repeats, with a number "...)
		in = append(in, byte('0'+i%10))
	}
	for _, name := range []string{"gzip", "deflate", "raw-deflate", "identity"} {
		t.Run(name, func(t *testing.T) {
			c := m.get(Lookup(name))
			var out []byte
			for off := 0; off < len(in); off += 7000 {
				out = append(out, c.write(in[off:min(off+7000, len(in))])...)
			}
			out = append(out, c.close()...)
			m.put(c)
			var r io.Reader
			var err error
			switch name {
			case "gzip":
				r, err = gzip.NewReader(bytes.NewReader(out))
			case "deflate":
				r, err = zlib.NewReader(bytes.NewReader(out))
			case "raw-deflate":
				r = flate.NewReader(bytes.NewReader(out))
			default:
				r = bytes.NewReader(out)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("decoded %d bytes (%v), want %d", len(got), err, len(in))
			}
			if name != "identity" && len(out) > len(in)/4 {
				t.Errorf("%d bytes compressed to %d", len(in), len(out))
			}
		})
	}
}

// FuzzAcceptEncoding: any Accept-Encoding item parses without panicking
// into a token that prefixes it and a q-value in 0..1000.
func FuzzAcceptEncoding(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0.5", "*;q=0", "br ; q=1.0", "x;q", ";;;", "gzip;q=0.9999"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for v := b; len(v) > 0; {
			var item []byte
			item, v = nextItem(v)
			tok, q := parseCoding(item)
			if !bytes.HasPrefix(item, tok) || q < 0 || q > 1000 {
				t.Fatalf("%q: token %q q %d", item, tok, q)
			}
		}
	})
}
