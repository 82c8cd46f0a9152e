package proxy

import (
	"bytes"
	"net/netip"
	"testing"
)

func TestParseProxyHeader(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantOK   bool
		wantErr  bool
		src, dst string
	}{
		{name: "v1 tcp4", in: "PROXY TCP4 1.2.3.4 5.6.7.8 10 20\r\n", wantOK: true, src: "1.2.3.4:10", dst: "5.6.7.8:20"},
		{name: "v1 tcp6", in: "PROXY TCP6 ::1 ::2 10 20\r\n", wantOK: true, src: "[::1]:10", dst: "[::2]:20"},
		{name: "v1 unknown", in: "PROXY UNKNOWN\r\n"},
		{name: "v1 bad port", in: "PROXY TCP4 1.2.3.4 5.6.7.8 99999 20\r\n", wantErr: true},
		{name: "v1 no CRLF", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", wantErr: true},
		{name: "not a header", in: "GET / HTTP/1.1\r\n", wantErr: true},
		{name: "v2 local", in: string(v2sig) + "\x20\x00\x00\x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, dst, ok, err := parseProxyHeader(bytes.NewReader([]byte(tc.in)))
			if (err != nil) != tc.wantErr || ok != tc.wantOK {
				t.Fatalf("ok=%v err=%v", ok, err)
			}
			if ok && (src.String() != tc.src || dst.String() != tc.dst) {
				t.Fatalf("got %v %v", src, dst)
			}
		})
	}
}

func FuzzParseProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 10 20\r\nGET"))
	f.Add(append(append([]byte(nil), v2sig...), 0x21, 0x11, 0, 12, 10, 0, 0, 1, 10, 0, 0, 2, 0x1f, 0x90, 0, 80))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		src, dst, ok, err := parseProxyHeader(r)
		if err == nil && ok && (!src.IsValid() || !dst.IsValid()) {
			t.Fatalf("ok with invalid addresses %v %v", src, dst)
		}
		// A v1 header re-encodes to something that parses the same.
		if ok && src.Addr().Is4() == dst.Addr().Is4() && src.Addr().Is4() {
			out := appendProxyV1(nil, src, dst)
			s2, d2, ok2, err2 := parseProxyHeader(bytes.NewReader(out))
			if err2 != nil || !ok2 || s2 != src || d2 != dst {
				t.Fatalf("round trip %q: %v %v %v %v", out, s2, d2, ok2, err2)
			}
		}
	})
}

func TestProxyV2RoundTrip(t *testing.T) {
	for _, tc := range []struct{ src, dst string }{
		{"192.0.2.1:1234", "198.51.100.2:80"},
		{"[2001:db8::1]:1234", "[2001:db8::2]:443"},
	} {
		src, dst := netip.MustParseAddrPort(tc.src), netip.MustParseAddrPort(tc.dst)
		s, d, ok, err := parseProxyHeader(bytes.NewReader(appendProxyV2(nil, src, dst)))
		if err != nil || !ok || s != src || d != dst {
			t.Fatalf("%s -> %s: got %v %v %v %v", tc.src, tc.dst, s, d, ok, err)
		}
	}
}
