package proxy

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"halo/proxy/h2"
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

// TestH2PriorKnowledgeUpgrade: the HTTP/2 preface as the first request on
// a clear HTTP/1 bind makes the connection HTTP/2 (SETTINGS first), unless
// option disable-h2-upgrade or proto h1 keep it HTTP/1 (400), as HAProxy.
func TestH2PriorKnowledgeUpgrade(t *testing.T) {
	for _, tc := range []struct {
		name    string
		disable bool
		proto   string
		want    string
	}{
		{"upgrade", false, "", "\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64"},
		{"option disable-h2-upgrade", true, "", "HTTP/1.1 400 Bad request\r\n"},
		{"proto h1", false, "h1", "HTTP/1.1 400 Bad request\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lo := netip.MustParseAddr("127.0.0.1")
			to := Timeouts{Connect: time.Second, Client: 2 * time.Second, Server: 2 * time.Second, HTTPRequest: time.Second}
			fe := &Proxy{Name: "fe", Cap: CapFE | CapBE, Mode: ModeHTTP, DisableH2Upgrade: tc.disable,
				Binds: []Bind{{Network: "tcp", Addr: netip.AddrPortFrom(lo, 0), Proto: tc.proto}}, Timeouts: to}
			rt, err := New(&Config{Global: Global{TuneBufsize: 16384}, Proxies: []*Proxy{fe}})
			if err != nil {
				t.Fatal(err)
			}
			if err := rt.Start(); err != nil {
				t.Fatal(err)
			}
			defer rt.HardStop()
			c, err := net.Dial("tcp", rt.listeners[0].el.Local().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, h2.Preface); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got := make([]byte, len(tc.want))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != tc.want {
				t.Fatalf("got %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}
