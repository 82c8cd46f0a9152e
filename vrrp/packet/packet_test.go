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
	if err := DecodePayload(b, netip.MustParseAddr("fe80::2"), Group6, &back); !errors.Is(err, ErrChecksum) {
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

// TestDecodeErrors covers the receiver MUSTs the codec owns (RFC 3768/5798
// section 7.1: complete packet, version, checksum, auth type) with
// Keepalived's wording.
func TestDecodeErrors(t *testing.T) {
	v2 := firstPacket(t, "v2-pass.pcap")
	v3 := firstPacket(t, "v3.pcap")
	mod := func(p []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), p...)) }
	tests := []struct {
		name    string
		pkt     []byte
		want    error
		wantMsg string
	}{
		{name: "empty", pkt: nil, want: io.ErrUnexpectedEOF},
		{name: "ip header only", pkt: v2[:20], want: io.ErrUnexpectedEOF},
		{name: "truncated addresses", pkt: mod(v2[:30], fixIP), want: io.ErrUnexpectedEOF,
			wantMsg: "vrrp packet too short, length 10 and expect 20"},
		{name: "truncated auth data", pkt: mod(v2[:36], fixIP), want: io.ErrUnexpectedEOF},
		{name: "trailing bytes", pkt: mod(append(append([]byte(nil), v2...), 0, 0, 0, 0), fixIP), want: ErrLength,
			wantMsg: "vrrp packet too long, length 24 and expect 20"},
		{name: "ip total length mismatch", pkt: append(append([]byte(nil), v2...), 0), want: ErrLength,
			wantMsg: "ip_tot_len mismatch against received length. 40 and received 41"},
		{name: "count larger than packet", pkt: mod(v2, func(p []byte) []byte { p[23] = 2; return fixV2(p) }),
			want: io.ErrUnexpectedEOF},
		{name: "version 1", pkt: mod(v2, func(p []byte) []byte { p[20] = 0x11; return fixV2(p) }), want: ErrVersion},
		{name: "version 4", pkt: mod(v2, func(p []byte) []byte { p[20] = 0x41; return fixV2(p) }), want: ErrVersion},
		{name: "type 2", pkt: mod(v2, func(p []byte) []byte { p[20] = 0x22; return fixV2(p) }), want: ErrType,
			wantMsg: "Invalid packet type. 2 and expect 1"},
		{name: "v2 bad checksum", pkt: mod(v2, func(p []byte) []byte { p[27] ^= 1; return p }), want: ErrChecksum,
			wantMsg: "Invalid VRRPv2 checksum"},
		{name: "v2 changed password breaks checksum", pkt: mod(v2, func(p []byte) []byte { p[39] = 'X'; return p }), want: ErrChecksum},
		{name: "v3 bad checksum", pkt: mod(v3, func(p []byte) []byte { p[22] = 100; return p }), want: ErrChecksum,
			wantMsg: "Invalid VRRPv3 checksum"},
		{name: "v3 pseudo-header destination counts", pkt: mod(v3, func(p []byte) []byte { p[19] = 19; return fixIP(p) }), want: ErrChecksum},
		{name: "auth type AH in VRRP header", pkt: mod(v2, func(p []byte) []byte { p[24] = AuthAH; return fixV2(p) }), want: ErrAuthAH},
		{name: "auth type 3", pkt: mod(v2, func(p []byte) []byte { p[24] = 3; return fixV2(p) }), want: ErrAuthType,
			wantMsg: "Invalid auth type: 3"},
		{name: "IP protocol AH", pkt: mod(v2, func(p []byte) []byte { p[9] = ProtocolAH; return fixIP(p) }), want: ErrAuthAH},
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
