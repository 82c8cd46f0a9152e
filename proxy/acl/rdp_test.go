package acl

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// rdpRequest frames cookie as an RDP client's first packet: TPKT header,
// X.224 connection request, then the cookie line.
func rdpRequest(cookie string) []byte {
	x224 := append([]byte{byte(6 + len(cookie)), 0xe0, 0, 0, 0, 0, 0}, cookie...)
	b := []byte{3, 0, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(4+len(x224)))
	return append(b, x224...)
}

func TestRDPCookie(t *testing.T) {
	full := rdpRequest("Cookie: mstshash=alice\r\n")
	for _, tc := range []struct {
		name   string
		buf    []byte
		cookie string
		want   string
		ok     bool
		short  bool
	}{
		{"named", full, "mstshash", "alice", true, false},
		{"name without case", rdpRequest("Cookie: MSTSHASH=alice\r\n"), "mstshash", "alice", true, false},
		{"word without case", rdpRequest("COOKIE: mstshash=alice\r\n"), "mstshash", "alice", true, false},
		{"spaces after the colon", rdpRequest("Cookie:   mstshash=bob\r\n"), "mstshash", "bob", true, false},
		{"any cookie", rdpRequest("Cookie: msts=123\r\n"), "", "123", true, false},
		{"other cookie", rdpRequest("Cookie: msts=123\r\n"), "mstshash", "", false, false},
		{"longer name", rdpRequest("Cookie: mstshashx=1\r\n"), "mstshash", "", false, false},
		{"value with NUL", rdpRequest("Cookie: mstshash=a\x00b\r\n"), "mstshash", "a\x00b", true, false},
		{"bytes after the line", rdpRequest("Cookie: mstshash=zed\r\nmore"), "mstshash", "zed", true, false},
		{"empty value", rdpRequest("Cookie: mstshash=\r\n"), "mstshash", "", true, false},
		{"headers only", full[:11], "mstshash", "", false, true},
		{"word cut", full[:15], "mstshash", "", false, true},
		{"value cut", full[:len(full)-2], "mstshash", "", false, true},
		{"CR without LF yet", full[:len(full)-1], "mstshash", "", false, true},
		{"CR then other byte", rdpRequest("Cookie: mstshash=a\rb\n"), "mstshash", "", false, false},
		{"not a cookie", rdpRequest("Hello: mstshash=alice\r\n"), "mstshash", "", false, false},
		{"any: line ends before =", rdpRequest("Cookie: msts\r\n"), "", "", false, false},
		{"any: = not yet seen", rdpRequest("Cookie: msts"), "", "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, ok, short := RDPCookie(tc.buf, tc.cookie)
			if string(v) != tc.want || ok != tc.ok || short != tc.short {
				t.Errorf("got %q ok=%v short=%v, want %q %v %v", v, ok, short, tc.want, tc.ok, tc.short)
			}
		})
	}
}

// RDP_COOKIE (req.rdp_cookie_cnt gt 0) waits while the cookie may still
// arrive, and req.rdp_cookie matches its value.
func TestRDPCookieFetches(t *testing.T) {
	full := rdpRequest("Cookie: mstshash=alice\r\n")
	for _, tc := range []struct {
		name      string
		crit      string
		buf       []byte
		final     bool
		want      bool
		mayChange bool
	}{
		{"cnt", "req.rdp_cookie_cnt gt 0", full, false, true, false},
		{"cnt waits", "req.rdp_cookie_cnt gt 0", full[:14], false, false, true},
		{"cnt final without cookie", "req.rdp_cookie_cnt gt 0", full[:14], true, false, false},
		{"cnt of another name", "req.rdp_cookie_cnt(other) gt 0", full, false, false, false},
		{"value", "req.rdp_cookie(mstshash) alice", full, false, true, false},
		{"value of any cookie", "rdp_cookie alice", full, false, true, false},
		{"value differs", "req_rdp_cookie bob", full, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cond, err := NewCompiler(nil).Cond(condOf(t, tc.crit))
			if err != nil {
				t.Fatal(err)
			}
			var ctx Ctx
			ctx.Reset(&payloadView{b: tc.buf, final: tc.final})
			ok, _ := cond.EvalPartial(&ctx)
			if ok != tc.want || ctx.MayChange != tc.mayChange {
				t.Errorf("ok=%v mayChange=%v, want %v %v", ok, ctx.MayChange, tc.want, tc.mayChange)
			}
		})
	}
}

func FuzzRDPCookie(f *testing.F) {
	f.Add(rdpRequest("Cookie: mstshash=alice\r\n"), "mstshash")
	f.Add(rdpRequest("Cookie: msts=1\r\n"), "")
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		v, ok, short := RDPCookie(b, name)
		if ok && short {
			t.Fatal("a value and more bytes wanted")
		}
		if !ok && v != nil {
			t.Fatal("a value without a cookie")
		}
		if ok && !bytes.Contains(b, v) {
			t.Fatal("value outside the input")
		}
	})
}
