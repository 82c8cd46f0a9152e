package packet

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"testing"
)

// TestGoldenMixedCapture decodes and re-encodes, byte for byte, real
// Keepalived 2.2.7 VRRPv3 over IPv6 (checksum computed by the kernel over
// the IPv6 pseudo-header), VRRPv2 without authentication (8 zero auth
// bytes, two addresses, 2 s) and VRRPv3 unicast (pseudo-header with the
// unicast destination), and checks each against its instance's Expect.
func TestGoldenMixedCapture(t *testing.T) {
	frames, err := readPcap(filepath.Join(vectors, "mixed-v6-noauth-unicast.pcap"))
	if err != nil {
		t.Skipf("capture not available: %v", err)
	}
	v4 := ipv4VRRP(frames)
	v6 := ipv6VRRP(frames)
	if len(v4) != 22 || len(v6) != 8 {
		t.Fatalf("%d IPv4 and %d IPv6 VRRP packets, want 22 and 8", len(v4), len(v6))
	}
	addrs := map[uint8][]netip.Addr{
		60: {netip.MustParseAddr("fe80::100"), netip.MustParseAddr("fd00::100")},
		61: {netip.MustParseAddr("10.77.0.101"), netip.MustParseAddr("10.77.0.102")},
		62: {netip.MustParseAddr("10.77.0.103")},
	}
	expect := map[uint8]*Expect{
		60: {Version: 3, VRID: 60, Interval: 100, Addrs: addrs[60], CheckAddrs: true},
		61: {Version: 2, VRID: 61, AuthType: AuthNone, Interval: 2, Addrs: addrs[61], CheckAddrs: true},
		62: {Version: 3, VRID: 62, Interval: 50, Addrs: addrs[62], CheckAddrs: true, Unicast: true},
	}
	seen := map[uint8]int{}
	check := func(i int, a *Advert, ttl int) {
		t.Helper()
		seen[a.VRID]++
		e, ok := expect[a.VRID]
		if !ok {
			t.Fatalf("packet %d: VRID %d", i, a.VRID)
		}
		if err := e.Check(a, ttl); err != nil {
			t.Errorf("packet %d (VRID %d): %v", i, a.VRID, err)
		}
		if a.Priority != 150 && a.Priority != 100 && a.Priority != 0 {
			t.Errorf("packet %d: priority %d", i, a.Priority)
		}
	}
	for i, pkt := range v4 {
		var h IPv4Header
		var a Advert
		if err := DecodeIPv4(pkt, &h, &a); err != nil {
			t.Fatalf("IPv4 packet %d: %v", i, err)
		}
		check(i, &a, int(h.TTL))
		if a.VRID == 61 && a.AuthData != [8]byte{} {
			t.Errorf("packet %d: auth data %x without auth", i, a.AuthData)
		}
		got, err := a.AppendIPv4(nil, h.ID, h.TTL)
		if err != nil || !bytes.Equal(got, pkt) {
			t.Errorf("IPv4 packet %d: re-encoded\n%x\nwant\n%x (%v)", i, got, pkt, err)
		}
	}
	for i, p := range v6 {
		var a Advert
		if err := DecodePayload(p.payload, netip.AddrFrom16(p.src), netip.AddrFrom16(p.dst), &a); err != nil {
			t.Fatalf("IPv6 packet %d: %v", i, err)
		}
		check(i, &a, p.hopLimit)
		got, err := a.MarshalBinary()
		if err != nil || !bytes.Equal(got, p.payload) {
			t.Errorf("IPv6 packet %d: re-encoded\n%x\nwant\n%x (%v)", i, got, p.payload, err)
		}
	}
	if seen[60] != 8 || seen[61] != 4 || seen[62] != 18 {
		t.Fatalf("per VRID %v", seen)
	}
}
