package packet

import (
	"bytes"
	"errors"
	"net/netip"
	"path/filepath"
	"testing"
)

func seedCaptures(f *testing.F) [][]byte {
	var out [][]byte
	for _, name := range []string{"v2-pass.pcap", "v3.pcap", "v2-unicast.pcap", "priority0-and-garp.pcap"} {
		frames, err := readPcap(filepath.Join(vectors, name))
		if err != nil {
			continue
		}
		out = append(out, ipv4VRRP(frames)...)
	}
	return out
}

// FuzzDecodeIPv4: any input either fails cleanly or decodes to fields that
// re-encode to the very same bytes.
func FuzzDecodeIPv4(f *testing.F) {
	for _, p := range seedCaptures(f) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var h IPv4Header
		var a Advert
		if err := DecodeIPv4(pkt, &h, &a); err != nil {
			return
		}
		if h.HeaderLen != IPv4HeaderLen || h.TOS != TOS || h.FragOff != 0 || h.Protocol != Protocol ||
			(a.Version != 2 && a.Version != 3) || a.Type == 0 {
			return // fields the encoder does not reproduce (AH: see FuzzAH)
		}
		if a.badSum {
			// Decoded so that Expect.Check can count it as keepalived
			// does (ErrChecksum); the encoder writes a correct checksum.
			return
		}
		got, err := a.AppendIPv4(nil, h.ID, h.TTL)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", a, err)
		}
		// The IP header checksum is the kernel's business (it drops bad
		// ones before a raw socket sees them); compare the rest.
		want := append([]byte(nil), pkt...)
		want[10], want[11], got[10], got[11] = 0, 0, 0, 0
		if !bytes.Equal(got, want) {
			t.Fatalf("round trip\n%x\n%x", got, want)
		}
	})
}

// FuzzDecodePayload: the payload decoder (IPv6 raw sockets) round-trips too,
// over IPv4 and IPv6 pseudo-headers.
func FuzzDecodePayload(f *testing.F) {
	for _, p := range seedCaptures(f) {
		f.Add(p[20:], false)
	}
	six := Advert{Version: 3, VRID: 1, Priority: 100, Interval: 100,
		Addrs: []netip.Addr{netip.MustParseAddr("fe80::1")}, Src: netip.MustParseAddr("fe80::2"), Dst: Group6}
	if b, err := six.MarshalBinary(); err == nil {
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, msg []byte, v6 bool) {
		src, dst := node1, Group4
		if v6 {
			src, dst = netip.MustParseAddr("fe80::2"), Group6
		}
		var a Advert
		if err := DecodePayload(msg, src, dst, &a); err != nil || (a.Version != 2 && a.Version != 3) || a.Type == 0 || a.badSum {
			return // a bad checksum is decoded for Expect.Check to count; the encoder writes a good one
		}
		got, err := a.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", a, err)
		}
		// 0x0000 and 0xffff are the same one's complement checksum; the
		// encoder always writes the former's complement form.
		if got[6] == 0 && got[7] == 0 && msg[6] == 0xff && msg[7] == 0xff {
			got[6], got[7] = 0xff, 0xff
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("round trip\n%x\n%x", got, msg)
		}
	})
}

// FuzzEncode: whatever fields encode, decode back to the same fields.
func FuzzEncode(f *testing.F) {
	f.Add(uint8(2), uint8(51), uint8(150), uint8(1), uint16(1), uint8(0), uint8(1), false, []byte("secret12"))
	f.Add(uint8(3), uint8(51), uint8(150), uint8(0), uint16(100), uint8(0), uint8(2), true, []byte{})
	f.Fuzz(func(t *testing.T, ver, vrid, prio, auth uint8, iv uint16, rsv, naddr uint8, v6 bool, pass []byte) {
		a := Advert{Version: ver, VRID: vrid, Priority: prio, AuthType: auth, Interval: iv, Src: node1, Dst: Group4}
		if ver == 3 {
			a.AuthType = 0
			a.Reserved = rsv & 0x0f
		}
		if ver == 2 {
			copy(a.AuthData[:], pass)
		}
		for i := 0; i < int(naddr%8); i++ {
			if v6 {
				a.Addrs = append(a.Addrs, netip.AddrFrom16([16]byte{0xfe, 0x80, 15: byte(i)}))
			} else {
				a.Addrs = append(a.Addrs, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}))
			}
		}
		if v6 {
			a.Src, a.Dst = netip.MustParseAddr("fe80::9"), Group6
			a.AuthData = [8]byte{}
		}
		b, err := a.MarshalBinary()
		if err != nil {
			return
		}
		var back Advert
		err = DecodePayload(b, a.Src, a.Dst, &back)
		if err != nil {
			t.Fatalf("encoded %+v does not decode: %v", a, err)
		}
		if back.badSum {
			t.Fatalf("encoded %+v does not verify its own checksum", a)
		}
		if back.Version != a.Version || back.VRID != a.VRID || back.Priority != a.Priority ||
			back.AuthType != a.AuthType || back.Interval != a.Interval || back.Reserved != a.Reserved ||
			back.AuthData != a.AuthData || len(back.Addrs) != len(a.Addrs) || back.Checksum != a.Checksum {
			t.Fatalf("got %+v want %+v", back, a)
		}
		for i := range a.Addrs {
			if back.Addrs[i] != a.Addrs[i] {
				t.Fatalf("address %d: %s want %s", i, back.Addrs[i], a.Addrs[i])
			}
		}
	})
}

// FuzzAH: an auth_type AH advert signed with one key decodes to the same
// fields and verifies with that key once, and never with another key or
// with any byte of the packet changed (other than the IP checksum, which
// the kernel owns and AH zeroes).
func FuzzAH(f *testing.F) {
	f.Add(uint8(150), uint8(1), uint32(1), uint16(1), "secret12", "secret13", false, 30)
	f.Add(uint8(0), uint8(3), uint32(0xfffffffe), uint16(65535), "", "x", true, 0)
	f.Fuzz(func(t *testing.T, prio, naddr uint8, seq uint32, id uint16, pass, other string, unicast bool, flip int) {
		a := Advert{Version: 2, VRID: 51, Priority: prio, AuthType: AuthAH, Interval: 1, Src: node1, Dst: Group4}
		if unicast {
			a.Dst = node2
		}
		for i := 0; i < int(naddr%8); i++ {
			a.Addrs = append(a.Addrs, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}))
		}
		pkt, err := a.AppendIPv4AH(nil, id, TTL, seq, NewAH(pass), unicast)
		if err != nil {
			t.Fatal(err)
		}
		var h IPv4Header
		var back Advert
		if err := DecodeIPv4(pkt, &h, &back); err != nil {
			t.Fatalf("does not decode: %v", err)
		}
		if h.Protocol != ProtocolAH || h.AH.Seq != seq || h.AH.SPI != node1.As4() || back.Priority != prio || len(back.Addrs) != len(a.Addrs) {
			t.Fatalf("decoded %+v %+v", h, back)
		}
		e := Expect{Version: 2, VRID: 51, AuthType: AuthAH, AH: NewAH(pass), Interval: 1, Unicast: unicast}
		err = e.CheckIPv4(pkt, &h, &back)
		if seq == 0 {
			if !errors.Is(err, ErrAH) {
				t.Fatalf("sequence 0 accepted: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("own packet refused: %v", err)
		}
		if err := e.CheckIPv4(pkt, &h, &back); !errors.Is(err, ErrAH) {
			t.Fatalf("replay accepted: %v", err)
		}
		if PassData(other) != PassData(pass) {
			e2 := Expect{Version: 2, VRID: 51, AuthType: AuthAH, AH: NewAH(other), Interval: 1, Unicast: unicast}
			if err := e2.CheckIPv4(pkt, &h, &back); !errors.Is(err, ErrAH) {
				t.Fatalf("another key accepted: %v", err)
			}
		}
		i := flip % len(pkt)
		if i < 0 {
			i = -i
		}
		mutable := i == 1 || i == 6 || i == 7 || i == 10 || i == 11 || (unicast && i == 8)
		bad := append([]byte(nil), pkt...)
		bad[i] ^= 0x40
		if DecodeIPv4(bad, &h, &back) != nil {
			return
		}
		e3 := Expect{Version: 2, VRID: 51, AuthType: AuthAH, AH: NewAH(pass), Interval: 1, Unicast: unicast}
		err = e3.CheckIPv4(bad, &h, &back)
		if !mutable && err == nil {
			t.Fatalf("byte %d changed and still accepted", i)
		}
	})
}
