package packet

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

// vectors holds copies of ../shared/netlab/vectors/*.pcap (see testdata/README.md).
var vectors = "testdata"

var (
	vip   = netip.MustParseAddr("10.77.0.100")
	node1 = netip.MustParseAddr("10.77.0.1")
	node2 = netip.MustParseAddr("10.77.0.2")
)

func loadVRRP(t testing.TB, name string) [][]byte {
	t.Helper()
	frames, err := readPcap(filepath.Join(vectors, name))
	if err != nil {
		t.Skipf("capture not available: %v", err)
	}
	pkts := ipv4VRRP(frames)
	if len(pkts) == 0 {
		t.Fatalf("%s: no VRRP packets", name)
	}
	return pkts
}

// TestGoldenCaptures decodes every VRRP packet Keepalived 2.2.7 sent in the
// lab captures to the fields the vectors README lists, and re-encodes the
// fields to the same bytes, IP header included.
func TestGoldenCaptures(t *testing.T) {
	secret := PassData("secret12")
	tests := []struct {
		name      string
		file      string
		version   uint8
		count     int
		dst       netip.Addr
		authType  uint8
		authData  [8]byte
		interval  uint16
		wantPrios []uint8 // per packet, in capture order; nil: all 150 from node 1
	}{
		{name: "v2 PASS multicast", file: "v2-pass.pcap", version: 2, count: 3, dst: Group4,
			authType: AuthPass, authData: secret, interval: 1},
		{name: "v3 multicast centiseconds", file: "v3.pcap", version: 3, count: 3, dst: Group4,
			authType: 0, interval: 100},
		{name: "v2 unicast", file: "v2-unicast.pcap", version: 2, count: 3, dst: node2,
			authType: AuthPass, authData: secret, interval: 1},
		{name: "priority 0 then new master", file: "priority0-and-garp.pcap", version: 2, dst: Group4,
			authType: AuthPass, authData: secret, interval: 1,
			wantPrios: []uint8{0, 100, 100, 100, 100, 100, 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pkts := loadVRRP(t, tc.file)
			if tc.count > 0 && len(pkts) != tc.count {
				t.Fatalf("%d VRRP packets, want %d", len(pkts), tc.count)
			}
			if tc.wantPrios != nil && len(pkts) != len(tc.wantPrios) {
				t.Fatalf("%d VRRP packets, want %d", len(pkts), len(tc.wantPrios))
			}
			for i, pkt := range pkts {
				var h IPv4Header
				var a Advert
				if err := DecodeIPv4(pkt, &h, &a); err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				prio, src := uint8(150), node1
				if tc.wantPrios != nil {
					prio = tc.wantPrios[i]
					if prio != 0 {
						src = node2
					}
				}
				if h.TTL != TTL || h.TOS != TOS || h.Protocol != Protocol {
					t.Errorf("packet %d: ttl %d tos %#x proto %d", i, h.TTL, h.TOS, h.Protocol)
				}
				if h.Src != src || h.Dst != tc.dst {
					t.Errorf("packet %d: %s > %s, want %s > %s", i, h.Src, h.Dst, src, tc.dst)
				}
				if a.Version != tc.version || a.VRID != 51 || a.Priority != prio ||
					a.AuthType != tc.authType || a.Interval != tc.interval || a.Reserved != 0 ||
					len(a.Addrs) != 1 || a.Addrs[0] != vip || a.AuthData != tc.authData {
					t.Errorf("packet %d: decoded %+v", i, a)
				}
				wantIv := time.Second
				if got := a.IntervalDuration(); got != wantIv {
					t.Errorf("packet %d: interval %v, want %v", i, got, wantIv)
				}
				// Re-encode from the fields alone.
				fresh := Advert{Version: a.Version, VRID: a.VRID, Priority: a.Priority,
					AuthType: a.AuthType, Interval: a.Interval, Addrs: []netip.Addr{vip},
					AuthData: a.AuthData, Src: h.Src, Dst: h.Dst}
				got, err := fresh.AppendIPv4(nil, h.ID, h.TTL)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, pkt) {
					t.Errorf("packet %d: re-encoded\n%x\nwant\n%x", i, got, pkt)
				}
				msg, err := fresh.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(msg, pkt[h.HeaderLen:]) || fresh.Checksum != a.Checksum {
					t.Errorf("packet %d: payload %x, want %x", i, msg, pkt[h.HeaderLen:])
				}
			}
		})
	}
}

// TestGoldenREADMEBytes pins the exact VRRP bytes the vectors README prints
// (first packet of each capture), so the codec is checked even where the
// capture files are absent.
func TestGoldenREADMEBytes(t *testing.T) {
	tests := []struct {
		name string
		a    Advert
		want []byte
	}{
		{name: "v2 pass", a: Advert{Version: 2, VRID: 51, Priority: 150, AuthType: AuthPass, Interval: 1,
			Addrs: []netip.Addr{vip}, AuthData: PassData("secret12"), Src: node1, Dst: Group4},
			want: []byte{0x21, 0x33, 0x96, 0x01, 0x01, 0x01, 0xcf, 0x9a, 0x0a, 0x4d, 0x00, 0x64, 's', 'e', 'c', 'r', 'e', 't', '1', '2'}},
		{name: "v2 priority 0", a: Advert{Version: 2, VRID: 51, Priority: 0, AuthType: AuthPass, Interval: 1,
			Addrs: []netip.Addr{vip}, AuthData: PassData("secret12"), Src: node1, Dst: Group4},
			want: []byte{0x21, 0x33, 0x00, 0x01, 0x01, 0x01, 0x65, 0x9b, 0x0a, 0x4d, 0x00, 0x64, 's', 'e', 'c', 'r', 'e', 't', '1', '2'}},
		{name: "v3", a: Advert{Version: 3, VRID: 51, Priority: 150, Interval: 100,
			Addrs: []netip.Addr{vip}, Src: node1, Dst: Group4},
			want: []byte{0x31, 0x33, 0x96, 0x01, 0x00, 0x64, 0x42, 0xd9, 0x0a, 0x4d, 0x00, 0x64}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.a.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got %x want %x", got, tc.want)
			}
			var back Advert
			if err := DecodePayload(tc.want, tc.a.Src, tc.a.Dst, &back); err != nil {
				t.Fatal(err)
			}
			if back.Priority != tc.a.Priority || back.Interval != tc.a.Interval || back.Addrs[0] != vip {
				t.Fatalf("decoded %+v", back)
			}
		})
	}
}

// TestV3IPv6 covers RFC 5798's IPv6 form: 16-byte addresses, no auth data,
// checksum over the IPv6 pseudo-header (section 5.2.8).
func TestV3IPv6(t *testing.T) {
	src := netip.MustParseAddr("fe80::1")
	a := Advert{Version: 3, VRID: 7, Priority: 200, Interval: 50,
		Addrs: []netip.Addr{netip.MustParseAddr("fe80::100"), netip.MustParseAddr("2001:db8::100")},
		Src:   src, Dst: Group6}
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 8+2*16 {
		t.Fatalf("length %d", len(b))
	}
	// Independent check of the checksum: RFC 8200 section 8.1 pseudo-header.
	ph := append(append(append([]byte{}, src.AsSlice()...), Group6.AsSlice()...),
		0, 0, 0, byte(len(b)), 0, 0, 0, Protocol)
	if s := naiveChecksum(append(ph, b...)); s != 0 {
		t.Fatalf("checksum does not verify: %#x", s)
	}
	var back Advert
	if err := DecodePayload(b, src, Group6, &back); err != nil {
		t.Fatal(err)
	}
	if back.IntervalDuration() != 500*time.Millisecond || len(back.Addrs) != 2 || back.Addrs[1] != a.Addrs[1] {
		t.Fatalf("decoded %+v", back)
	}
	// The same bytes seen from another source fail: the pseudo-header counts.
	if err := DecodePayload(b, netip.MustParseAddr("fe80::2"), Group6, &back); err != nil {
		t.Fatal(err)
	}
	e := Expect{Version: 3, VRID: 7, Interval: 50}
	if err := e.Check(&back, TTL); !errors.Is(err, ErrChecksum) {
		t.Fatalf("other source: %v, want ErrChecksum", err)
	}
	if err := DecodePayload(b, netip.MustParseAddr("10.0.0.1"), Group6, &back); !errors.Is(err, ErrFamily) {
		t.Fatalf("mixed family: %v, want ErrFamily", err)
	}
}

// naiveChecksum is RFC 1071 written out independently of the codec.
func naiveChecksum(b []byte) uint16 {
	var s uint64
	for i := 0; i+1 < len(b); i += 2 {
		s += uint64(b[i])<<8 + uint64(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint64(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

func firstPacket(t *testing.T, file string) []byte {
	pkts := loadVRRP(t, file)
	return append([]byte(nil), pkts[0]...)
}

// fixIP recomputes tot_len and the header checksum after an edit.
func fixIP(p []byte) []byte {
	p[2], p[3] = byte(len(p)>>8), byte(len(p))
	p[10], p[11] = 0, 0
	c := naiveChecksum(p[:20])
	p[10], p[11] = byte(c>>8), byte(c)
	return p
}

// fixVRRP recomputes a v2 checksum after an edit of the VRRP part.
func fixV2(p []byte) []byte {
	v := p[20:]
	v[6], v[7] = 0, 0
	c := naiveChecksum(v)
	v[6], v[7] = byte(c>>8), byte(c)
	return p
}

// TestDecodeErrors covers what the codec itself refuses: packets too short
// for their headers (logged bare, counted nowhere), lengths other than the
// header announces (Keepalived's "Length" packet errors, with its numbers:
// IP and AH headers included), IPv4 headers that are not.
func TestDecodeErrors(t *testing.T) {
	v2 := firstPacket(t, "v2-pass.pcap")
	mod := func(p []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), p...)) }
	tests := []struct {
		name     string
		pkt      []byte
		want     error
		wantMsg  string
		wantBare bool
	}{
		{name: "empty", pkt: nil, want: io.ErrUnexpectedEOF, wantMsg: "IPv4 VRRP packet too short - 0 bytes", wantBare: true},
		{name: "ip header only", pkt: v2[:20], want: io.ErrUnexpectedEOF, wantMsg: "IPv4 VRRP packet too short - 20 bytes", wantBare: true},
		{name: "vrrp header cut", pkt: mod(v2[:24], fixIP), want: io.ErrUnexpectedEOF, wantMsg: "IPv4 VRRP packet too short - 24 bytes", wantBare: true},
		{name: "truncated addresses", pkt: mod(v2[:30], fixIP), want: ErrLength,
			wantMsg: "vrrp packet too short, length 30 and expect 40"},
		{name: "truncated auth data", pkt: mod(v2[:36], fixIP), want: io.ErrUnexpectedEOF,
			wantMsg: "vrrp packet too short, length 36 and expect 40"},
		{name: "trailing bytes", pkt: mod(append(append([]byte(nil), v2...), 0, 0, 0, 0), fixIP), want: ErrLength,
			wantMsg: "vrrp packet too long, length 44 and expect 40"},
		{name: "ip total length mismatch", pkt: mod(v2, func(p []byte) []byte { p[3]++; return p }), want: ErrLength,
			wantMsg: "ip_tot_len mismatch against received length. 41 and received 40"},
		{name: "count larger than packet", pkt: mod(v2, func(p []byte) []byte { p[23] = 2; return fixV2(p) }),
			want: io.ErrUnexpectedEOF, wantMsg: "vrrp packet too short, length 40 and expect 44"},
		// Keepalived sizes a version other than 2 without the auth bytes.
		{name: "version 5 sized as without auth data", pkt: mod(v2, func(p []byte) []byte { p[20] = 0x51; return fixV2(p) }), want: ErrLength,
			wantMsg: "vrrp packet too long, length 40 and expect 32"},
		{name: "IP protocol AH without room for AH", pkt: mod(v2, func(p []byte) []byte { p[9] = ProtocolAH; return fixIP(p) }),
			want: io.ErrUnexpectedEOF, wantMsg: "IPv4 VRRP packet with AH too short - 40 bytes", wantBare: true},
		{name: "IP protocol TCP", pkt: mod(v2, func(p []byte) []byte { p[9] = 6; return fixIP(p) }), want: ErrProtocol},
		{name: "IP version 6 in IPv4 socket", pkt: mod(v2, func(p []byte) []byte { p[0] = 0x65; return p }), want: ErrIPHeader},
		{name: "IHL below 5", pkt: mod(v2, func(p []byte) []byte { p[0] = 0x44; return p }), want: ErrIPHeader},
		{name: "fragment", pkt: mod(v2, func(p []byte) []byte { p[6] = 0x20; return fixIP(p) }), want: ErrIPHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h IPv4Header
			var a Advert
			err := DecodeIPv4(tc.pkt, &h, &a)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if tc.wantMsg != "" && err.Error() != tc.wantMsg {
				t.Fatalf("message %q, want %q", err.Error(), tc.wantMsg)
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Bare != tc.wantBare {
				t.Fatalf("bare %v, want %v", pe != nil && pe.Bare, tc.wantBare)
			}
		})
	}
}

// TestShortCountsAsLength: a too-short advert is a Length error (what
// Keepalived counts) and still an io.ErrUnexpectedEOF for the codec's
// contract; a packet too short for its headers is only the latter.
func TestShortCountsAsLength(t *testing.T) {
	v2 := firstPacket(t, "v2-pass.pcap")
	short := fixIP(append([]byte(nil), v2[:36]...))
	var h IPv4Header
	var a Advert
	err := DecodeIPv4(short, &h, &a)
	if !errors.Is(err, ErrLength) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("too short advert: %v is not both ErrLength and io.ErrUnexpectedEOF", err)
	}
	if a.VRID != 51 {
		t.Fatalf("VRID %d not read from the header of a too short advert", a.VRID)
	}
	if err := DecodeIPv4(v2[:24], &h, &a); errors.Is(err, ErrLength) {
		t.Fatalf("header-short packet counted as a Length error: %v", err)
	}
}

// TestCheckDecoded decodes real adverts edited as in Keepalived's own
// bad-packet cases and checks them in Keepalived's order and words
// (vrrp_check_packet): what the decoder let through is judged here.
func TestCheckDecoded(t *testing.T) {
	v2 := firstPacket(t, "v2-pass.pcap")
	v3 := firstPacket(t, "v3.pcap")
	mod := func(p []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), p...)) }
	pass := Expect{Version: 2, VRID: 51, AuthType: AuthPass, AuthData: PassData("secret12"), Interval: 1,
		Addrs: []netip.Addr{vip}, CheckAddrs: true}
	three := Expect{Version: 3, VRID: 51, Interval: 100, Addrs: []netip.Addr{vip}, CheckAddrs: true}
	tests := []struct {
		name    string
		pkt     []byte
		e       Expect
		want    error
		wantMsg string
	}{
		{name: "v2 accepted", pkt: v2, e: pass},
		{name: "v3 accepted", pkt: v3, e: three},
		{name: "type 2", pkt: mod(v2, func(p []byte) []byte { p[20] = 0x22; return fixV2(p) }), e: pass, want: ErrType,
			wantMsg: "Invalid packet type. 2 and expect 1"},
		{name: "v2 bad checksum", pkt: mod(v2, func(p []byte) []byte { p[27] ^= 1; return p }), e: pass, want: ErrChecksum,
			wantMsg: "Invalid VRRPv2 checksum"},
		{name: "changed password is a password error first", pkt: mod(v2, func(p []byte) []byte { p[39] = 'X'; return p }), e: pass,
			want: ErrPassword, wantMsg: "received an invalid passwd!"},
		{name: "v3 bad checksum", pkt: mod(v3, func(p []byte) []byte { p[22] = 100; return p }), e: three, want: ErrChecksum,
			wantMsg: "Invalid VRRPv3 checksum"},
		{name: "v3 pseudo-header destination counts", pkt: mod(v3, func(p []byte) []byte { p[19] = 19; return fixIP(p) }), e: three, want: ErrChecksum},
		{name: "count before checksum", pkt: mod(v2, func(p []byte) []byte {
			p = append(p[:28], p[32:]...) // the address goes, the count says 0, the checksum is wrong
			p[23], p[27] = 0, p[27]^1
			return fixIP(p)
		}), e: pass,
			want: ErrAddrCount, wantMsg: "received an unexpected ip number count 0, expected 1!"},
		{name: "auth type AH in a plain advert", pkt: mod(v2, func(p []byte) []byte { p[24] = AuthAH; return fixV2(p) }), e: pass,
			want: ErrAuthMismatch, wantMsg: "received a 2 auth, expecting 1!"},
		{name: "auth type 3", pkt: mod(v2, func(p []byte) []byte { p[24] = 3; return fixV2(p) }), e: pass, want: ErrAuthType,
			wantMsg: "Invalid auth type: 3"},
		// A VRRPv3 instance names its own version, not "2 or 3".
		{name: "version 5 on a v3 instance", pkt: mod(v3, func(p []byte) []byte { p[20] = 0x51; return p }), e: three, want: ErrVersion,
			wantMsg: "wrong version. Received 5 and expect 3"},
		{name: "version 1 on a v3 instance", pkt: mod(v3, func(p []byte) []byte { p[20] = 0x11; return p }), e: three, want: ErrVersion,
			wantMsg: "wrong version. Received 1 and expect 3"},
		{name: "ttl before version", pkt: mod(v3, func(p []byte) []byte { p[20] = 0x51; p[8] = 64; return fixIP(p) }), e: three, want: ErrTTL,
			wantMsg: "invalid TTL/HL. Received 64 and expect 255"},
		{name: "plain advert to an AH instance", pkt: v2, e: Expect{Version: 2, VRID: 51, AuthType: AuthAH, AH: NewAH("secret12"), Interval: 1},
			want: ErrAuthMismatch, wantMsg: "No AH header but auth type is AH"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h IPv4Header
			var a Advert
			if err := DecodeIPv4(tc.pkt, &h, &a); err != nil {
				t.Fatalf("decode: %v", err)
			}
			err := tc.e.CheckIPv4(tc.pkt, &h, &a)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if tc.wantMsg != "" && err.Error() != tc.wantMsg {
				t.Fatalf("message %q, want %q", err.Error(), tc.wantMsg)
			}
		})
	}
}

// TestIPv4Options: a header with options still finds the VRRP message.
func TestIPv4Options(t *testing.T) {
	v2 := firstPacket(t, "v2-pass.pcap")
	p := append(append(append([]byte(nil), v2[:20]...), 1, 1, 1, 0), v2[20:]...) // NOP NOP NOP EOL
	p[0] = 0x46
	fixIP(p)
	var h IPv4Header
	var a Advert
	if err := DecodeIPv4(p, &h, &a); err != nil {
		t.Fatal(err)
	}
	if h.HeaderLen != 24 || a.Priority != 150 {
		t.Fatalf("header %d, prio %d", h.HeaderLen, a.Priority)
	}
}

func TestEncodeErrors(t *testing.T) {
	six := netip.MustParseAddr("2001:db8::1")
	tests := []struct {
		name string
		a    Advert
		want error
	}{
		{name: "version 1", a: Advert{Version: 1}, want: ErrVersion},
		{name: "v3 without addresses for pseudo-header", a: Advert{Version: 3, Addrs: []netip.Addr{vip}}, want: ErrFamily},
		{name: "v3 interval over 12 bits", a: Advert{Version: 3, Interval: 4096, Src: node1, Dst: Group4}, want: ErrInterval},
		{name: "v2 interval over 8 bits", a: Advert{Version: 2, Interval: 256}, want: ErrInterval},
		{name: "IPv6 VIP in IPv4 advert", a: Advert{Version: 3, Addrs: []netip.Addr{six}, Src: node1, Dst: Group4}, want: ErrFamily},
		{name: "IPv4 VIP in IPv6 advert", a: Advert{Version: 3, Addrs: []netip.Addr{vip}, Src: six, Dst: Group6}, want: ErrFamily},
		{name: "mixed pseudo-header", a: Advert{Version: 3, Src: node1, Dst: Group6}, want: ErrFamily},
		{name: "256 addresses", a: Advert{Version: 2, Addrs: make([]netip.Addr, 256)}, want: ErrAddrCount},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.a.MarshalBinary(); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

// TestV2NoAuth: Keepalived sends the 8 auth bytes as zeros without auth.
func TestV2NoAuth(t *testing.T) {
	a := Advert{Version: 2, VRID: 1, Priority: 100, Interval: 1, Addrs: []netip.Addr{vip}}
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 20 || !bytes.Equal(b[12:], make([]byte, 8)) {
		t.Fatalf("got %x", b)
	}
	if naiveChecksum(b) != 0 {
		t.Fatal("checksum does not verify")
	}
}

// TestAppendNoAlloc: encoding into a buffer with room does not allocate
// (adverts are sent every second per instance).
func TestAppendNoAlloc(t *testing.T) {
	a := Advert{Version: 3, VRID: 51, Priority: 150, Interval: 100, Addrs: []netip.Addr{vip}, Src: node1, Dst: Group4}
	buf := make([]byte, 0, 64)
	n := testing.AllocsPerRun(100, func() {
		_, _ = a.AppendIPv4(buf[:0], 1, TTL)
	})
	if n != 0 {
		t.Fatalf("%v allocations per encode", n)
	}
	pkt, _ := a.AppendIPv4(nil, 1, TTL)
	var h IPv4Header
	var back Advert
	back.Addrs = make([]netip.Addr, 0, 4)
	n = testing.AllocsPerRun(100, func() {
		_ = DecodeIPv4(pkt, &h, &back)
	})
	if n != 0 {
		t.Fatalf("%v allocations per decode", n)
	}
}
