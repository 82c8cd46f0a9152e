package acl

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"halo/proxy"
)

// realHello returns the first bytes a crypto/tls client sends.
func realHello(t testing.TB, sni string, alpn []string) []byte {
	t.Helper()
	c, s := net.Pipe()
	defer s.Close()
	go func() {
		cl := tls.Client(c, &tls.Config{ServerName: sni, NextProtos: alpn, InsecureSkipVerify: true})
		cl.SetDeadline(time.Now().Add(2 * time.Second))
		cl.Handshake()
		c.Close()
	}()
	s.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1<<16)
	n, err := s.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func TestParseHello(t *testing.T) {
	withBoth := realHello(t, "a.example.com", []string{"h2", "http/1.1"})
	noSNI := realHello(t, "", nil)
	sniOnly := realHello(t, "b.example.com", nil)
	tests := []struct {
		name string
		in   []byte
		res  helloResult
		sni  string
		alpn []string
		typ  int64
		tres helloResult
	}{
		{"sni and alpn", withBoth, helloOK, "a.example.com", []string{"h2", "http/1.1"}, 1, helloOK},
		{"no sni", noSNI, helloOK, "", nil, 1, helloOK},
		{"sni only", sniOnly, helloOK, "b.example.com", nil, 1, helloOK},
		{"empty", nil, helloShort, "", nil, 0, helloShort},
		{"record header only", withBoth[:5], helloShort, "", nil, 0, helloShort},
		{"truncated hello", withBoth[:len(withBoth)/2], helloShort, "", nil, 1, helloShort},
		{"one byte short", withBoth[:len(withBoth)-1], helloShort, "", nil, 1, helloShort},
		{"http request", []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), helloNot, "", nil, 0, helloNot},
		{"server hello type", []byte{0x16, 3, 1, 0, 4, 2, 0, 0, 0}, helloNot, "", nil, 2, helloOK},
		{"record too short for a hello", []byte{0x16, 3, 1, 0, 2, 1, 0, 0, 0}, helloNot, "", nil, 0, helloNot},
		{"sslv2", []byte{0x80, 0x2e, 0x01, 0x03, 0x01}, helloNot, "", nil, 0, helloNot},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, r := parseHello(tc.in)
			if r != tc.res {
				t.Fatalf("result = %d, want %d", r, tc.res)
			}
			if string(h.sni) != tc.sni {
				t.Errorf("sni = %q, want %q", h.sni, tc.sni)
			}
			var got []string
			for pos := 0; ; {
				p, ok := nextALPN(h.alpn, &pos)
				if !ok {
					break
				}
				got = append(got, string(p))
			}
			if len(got) != len(tc.alpn) || (len(got) > 0 && got[0] != tc.alpn[0]) {
				t.Errorf("alpn = %q, want %q", got, tc.alpn)
			}
			typ, tr := helloType(tc.in)
			if tr != tc.tres || (tr == helloOK && typ != tc.typ) {
				t.Errorf("hello type = %d/%d, want %d/%d", typ, tr, tc.typ, tc.tres)
			}
		})
	}
}

// TestPayloadFetches evaluates the fetches over partial and final buffers:
// a miss is flagged only while more bytes may come.
func TestPayloadFetches(t *testing.T) {
	hello := realHello(t, "x.b.example.com", []string{"acme-tls/1"})
	tests := []struct {
		name      string
		crit      string
		buf       []byte
		final     bool
		want      bool
		mayChange bool
	}{
		{"sni end partial", "req.ssl_sni -m end .b.example.com", hello[:40], false, false, true},
		{"sni end partial final", "req.ssl_sni -m end .b.example.com", hello[:40], true, false, false},
		{"sni end full", "req.ssl_sni -m end .b.example.com", hello, false, true, false},
		{"sni -i", "req_ssl_sni -i X.B.EXAMPLE.COM", hello, false, true, false},
		{"sni other", "req.ssl_sni a.example.com", hello, false, false, false},
		{"hello type", "req_ssl_hello_type 1", hello, false, true, false},
		{"hello type empty", "req_ssl_hello_type 1", nil, false, false, true},
		{"not tls is definitive", "req.ssl_sni a", []byte("GET / HTTP/1.0\r\n"), false, false, false},
		{"alpn", "req.ssl_alpn acme-tls/1", hello, true, true, false},
		{"len partial", "req.len ge 100", hello[:10], false, false, true},
		{"len", "req_len gt 0", hello[:10], false, true, true},
		{"payload bin", "req.payload(0,1) -m bin 16", hello, false, true, false},
		{"payload short", "req.payload(0,3) -m bin 160301", hello[:2], false, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cp := NewCompiler(nil)
			cond, err := cp.Cond(condOf(t, tc.crit))
			if err != nil {
				t.Fatal(err)
			}
			var ctx Ctx
			ctx.Reset(&payloadView{b: tc.buf, final: tc.final})
			ok, miss := cond.EvalPartial(&ctx)
			if ok != tc.want || ctx.MayChange != tc.mayChange {
				t.Errorf("ok=%v mayChange=%v (miss=%v), want %v %v", ok, ctx.MayChange, miss, tc.want, tc.mayChange)
			}
		})
	}
}

// condOf builds `if { WORDS }`: fetch(args), flags, values.
func condOf(t *testing.T, words string) *proxy.Cond {
	f := strings.Fields(words)
	c := &proxy.Criterion{Fetch: f[0]}
	if i := strings.IndexByte(f[0], '('); i > 0 {
		c.Fetch = f[0][:i]
		c.FetchArgs = strings.Split(strings.TrimSuffix(f[0][i+1:], ")"), ",")
	}
	i := 1
	for i < len(f) && strings.HasPrefix(f[i], "-") {
		c.Flags = append(c.Flags, f[i])
		if f[i] == "-m" {
			c.Flags = append(c.Flags, f[i+1])
			i++
		}
		i++
	}
	c.Values = f[i:]
	return &proxy.Cond{Or: [][]proxy.CondTerm{{{ACL: &proxy.ACL{Criteria: []*proxy.Criterion{c}}}}}}
}

// payloadView is a transaction with only client bytes.
type payloadView struct {
	b     []byte
	final bool
}

func (p *payloadView) Method() []byte         { return nil }
func (p *payloadView) URI() []byte            { return nil }
func (p *payloadView) Path() []byte           { return nil }
func (p *payloadView) Query() []byte          { return nil }
func (p *payloadView) Version() []byte        { return nil }
func (p *payloadView) ReqHeaders() HeaderList { return nil }
func (p *payloadView) ResHeaders() HeaderList { return nil }
func (p *payloadView) Status() int            { return 0 }
func (p *payloadView) Src() netip.AddrPort    { return netip.AddrPort{} }
func (p *payloadView) Dst() netip.AddrPort    { return netip.AddrPort{} }
func (p *payloadView) SSL() bool              { return false }
func (p *payloadView) SNI() []byte            { return nil }

func (p *payloadView) Payload() ([]byte, bool) { return p.b, p.final }

func FuzzParseHello(f *testing.F) {
	f.Add(realHello(f, "a.example.com", []string{"h2"}))
	f.Add(realHello(f, "", nil))
	f.Add([]byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, r := parseHello(b)
		if r != helloOK && (h.sni != nil || h.alpn != nil) {
			t.Fatal("values without a complete hello")
		}
		if h.sni != nil && !bytes.Contains(b, h.sni) {
			t.Fatal("sni outside the input")
		}
		for pos := 0; ; {
			if _, ok := nextALPN(h.alpn, &pos); !ok {
				break
			}
		}
		helloType(b)
	})
}

// TestHelloVersionAndExtensions covers req.ssl_ver, req.ssl_ec_ext,
// req.ssl_st_ext and payload_lv on a real crypto/tls ClientHello (a
// TLS 1.2-compatible hello: version 3.3, supported_groups, no
// session_ticket extension without a session cache) and on an
// SSLv2-compatible hello.
func TestHelloVersionAndExtensions(t *testing.T) {
	hello := realHello(t, "a.example.com", nil)
	v, r := sslVersion(hello, 0)
	if r != helloOK || v != 0x30003 {
		t.Errorf("req.ssl_ver = %#x (%d), want 0x30003", v, r)
	}
	if _, r := sslVersion(hello[:len(hello)-1], 0); r != helloShort {
		t.Errorf("a cut hello: %d, want short", r)
	}
	h, r := parseHello(hello)
	if r != helloOK || !h.ecExt || h.ticket != 0 {
		t.Errorf("ec_ext %v ticket %d (%d)", h.ecExt, h.ticket, r)
	}
	// SSLv2-compatible client hello: 2-byte header, type 1, version 3.1,
	// 3 cipher bytes, no session id, 16 challenge bytes.
	v2 := append([]byte{0x80, 9 + 3 + 16, 0x01, 0x03, 0x01, 0, 3, 0, 0, 0, 16, 0, 0, 0x2f}, make([]byte, 16)...)
	if v, r := sslVersion(v2, 0); r != helloOK || v != 0x30001 {
		t.Errorf("SSLv2 hello: %#x (%d)", v, r)
	}
	if _, r := sslVersion([]byte("GET / HTTP/1.1\r\n"), 0); r != helloNot {
		t.Errorf("HTTP is not SSL: %d", r)
	}
	tests := []struct {
		args []string
		in   string
		want string
		ok   bool
	}{
		{[]string{"0", "1"}, "\x03abcd", "abc", true},
		{[]string{"0", "2"}, "\x00\x02xyz", "xy", true},
		{[]string{"1", "1", "+1"}, "_\x02_ab", "ab", true},
		{[]string{"1", "1", "4"}, "_\x02__cd", "cd", true},
		{[]string{"0", "1"}, "\x05ab", "", false},
		{[]string{"0", "1"}, "\x00ab", "", false},
	}
	for _, tc := range tests {
		f := &fetch{args: tc.args}
		if err := payloadLVArgs(f, nil); err != nil {
			t.Fatal(err)
		}
		c := &Ctx{T: &payloadView{b: []byte(tc.in)}}
		st := 0
		f.def = &fetchDef{}
		got, ok := payloadFetches()[findFetch(payloadFetches(), "req.payload_lv")].fn(c, f, &st)
		if ok != tc.ok || string(got.B) != tc.want {
			t.Errorf("payload_lv(%v) on %q = %q %v, want %q %v", tc.args, tc.in, got.B, ok, tc.want, tc.ok)
		}
	}
}

func findFetch(defs []*fetchDef, name string) int {
	for i, d := range defs {
		if d.name == name {
			return i
		}
	}
	return -1
}
