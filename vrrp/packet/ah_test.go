package packet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"path/filepath"
	"testing"
)

// ahPackets returns the IPv4 AH packets of a capture.
func ahPackets(t *testing.T, name string) [][]byte {
	t.Helper()
	frames, err := readPcap(filepath.Join(vectors, name))
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	var out [][]byte
	for _, f := range frames {
		if len(f) < 14+20 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || f[14+9] != ProtocolAH {
			continue
		}
		ip := f[14:]
		out = append(out, ip[:binary.BigEndian.Uint16(ip[2:])])
	}
	return out
}

// TestAHKeepalivedCapture: every auth_type AH advert Keepalived 2.2.7 sent
// (multicast and unicast, a password longer than 8 bytes, priority 0 at
// stop) decodes, authenticates with the instance's password, and is
// rebuilt byte for byte from its fields by AppendIPv4AH: the same AH
// header, the same ICV, the same IP header.
func TestAHKeepalivedCapture(t *testing.T) {
	pkts := ahPackets(t, "v2-ah.pcap")
	if len(pkts) != 10 {
		t.Fatalf("%d AH packets, want 10", len(pkts))
	}
	src := netip.MustParseAddr("10.79.0.1")
	inst := map[uint8]struct {
		pass    string
		unicast bool
		dst     netip.Addr
		vip     netip.Addr
	}{
		51: {"secret12", false, Group4, netip.MustParseAddr("10.79.0.100")},
		52: {"longer-than-eight", true, netip.MustParseAddr("10.79.0.2"), netip.MustParseAddr("10.79.0.101")},
	}
	expects := map[uint8]*Expect{}
	seen := map[uint8]uint32{}
	for i, pkt := range pkts {
		var h IPv4Header
		var a Advert
		if err := DecodeIPv4(pkt, &h, &a); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		in, ok := inst[a.VRID]
		if !ok {
			t.Fatalf("packet %d: VRID %d", i, a.VRID)
		}
		e := expects[a.VRID]
		if e == nil {
			e = &Expect{Version: 2, VRID: a.VRID, AuthType: AuthAH, AH: NewAH(in.pass), Interval: 1,
				Addrs: []netip.Addr{in.vip}, CheckAddrs: true, Unicast: in.unicast}
			expects[a.VRID] = e
		}
		if err := e.CheckIPv4(pkt, &h, &a); err != nil {
			t.Fatalf("packet %d (VRID %d seq %d): %v", i, a.VRID, h.AH.Seq, err)
		}
		seen[a.VRID]++
		if h.AH.Seq != seen[a.VRID] || h.AH.NextHeader != Protocol || h.AH.PayloadLen != 4 || h.AH.SPI != src.As4() ||
			h.Src != src || h.Dst != in.dst || a.AuthType != AuthAH || a.AuthData != [8]byte{} {
			t.Errorf("packet %d: header %+v advert %+v", i, h, a)
		}
		fresh := Advert{Version: 2, VRID: a.VRID, Priority: a.Priority, AuthType: AuthAH, Interval: 1,
			Addrs: []netip.Addr{in.vip}, Src: src, Dst: in.dst}
		got, err := fresh.AppendIPv4AH(nil, h.ID, h.TTL, h.AH.Seq, NewAH(in.pass), in.unicast)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pkt) {
			t.Errorf("packet %d: rebuilt\n%x\nwant\n%x", i, got, pkt)
		}
	}
	if seen[51] != 5 || seen[52] != 5 {
		t.Fatalf("adverts per VRID %v", seen)
	}
}

// TestAHChecks covers Keepalived's AH receiver checks in its order and
// words (vrrp_in_chk_ipsecah): the ICV first, then the SPI, then the
// sequence number, which moves only for a packet that passes all three.
func TestAHChecks(t *testing.T) {
	a := Advert{Version: 2, VRID: 51, Priority: 200, AuthType: AuthAH, Interval: 1,
		Addrs: []netip.Addr{vip}, Src: node2, Dst: Group4}
	sender := NewAH("secret12")
	mk := func(seq uint32, edit func(p []byte)) []byte {
		p, err := a.AppendIPv4AH(nil, 7, TTL, seq, sender, false)
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(p)
		}
		return p
	}
	recv := NewAH("secret12")
	e := Expect{Version: 2, VRID: 51, AuthType: AuthAH, AH: recv, Interval: 1, Addrs: []netip.Addr{vip}, CheckAddrs: true}
	tests := []struct {
		name     string
		pkt      []byte
		want     error
		wantMsg  string
		wantBare bool
		wantSeq  uint32
	}{
		{name: "seq 5 accepted", pkt: mk(5, nil), wantSeq: 5},
		{name: "mutable fields may change", pkt: mk(6, func(p []byte) { p[1] = 0; p[10] ^= 0xff }), wantSeq: 6},
		{name: "replay", pkt: mk(6, nil), want: ErrAH, wantSeq: 6,
			wantMsg: "IPSEC-AH : sequence number 6 already processed. Packet dropped. Local(6)"},
		{name: "older", pkt: mk(2, nil), want: ErrAH, wantSeq: 6},
		{name: "bad ICV", pkt: mk(9, func(p []byte) { p[40] ^= 1 }), want: ErrAH, wantSeq: 6,
			wantMsg: "IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !"},
		{name: "IP ID is covered", pkt: mk(9, func(p []byte) { p[5]++ }), want: ErrAH, wantSeq: 6},
		{name: "SPI not the source", pkt: mk(9, func(p []byte) {
			copy(p[24:28], []byte{1, 2, 3, 4})
			sender.sign(p, false) // a sender that signs its odd SPI
		}), want: ErrAH, wantSeq: 6, wantBare: true,
			// Keepalived prints the fields as a little-endian host reads them
			// (10.77.0.2 and 1.2.3.4; 33574666 for 10.79.0.2 in its own log).
			wantMsg: "IPSEC AH : invalid IPSEC SPI value. 33574154 and expect 67305985"},
		{name: "next header not VRRP is dropped quietly", pkt: mk(9, func(p []byte) { p[20] = 6 }), want: ErrProtocol, wantSeq: 6},
		{name: "seq 7 after all that", pkt: mk(7, nil), wantSeq: 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h IPv4Header
			var got Advert
			if err := DecodeIPv4(tc.pkt, &h, &got); err != nil {
				t.Fatal(err)
			}
			err := e.CheckIPv4(tc.pkt, &h, &got)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if tc.wantMsg != "" && err.Error() != tc.wantMsg {
				t.Fatalf("message %q, want %q", err, tc.wantMsg)
			}
			var pe *Error
			if err != nil && errors.As(err, &pe) && pe.Bare != tc.wantBare {
				t.Fatalf("bare %v", pe.Bare)
			}
			if s := recv.Seq(); s != tc.wantSeq {
				t.Fatalf("sequence %d, want %d", s, tc.wantSeq)
			}
		})
	}
}

// TestAHSequence: one number per instance serves sending and receiving,
// as in Keepalived: a backup that accepted 41 sends 42 when it takes over;
// past 0xFFFFFFFD the number stops until the instance becomes MASTER again.
func TestAHSequence(t *testing.T) {
	s := NewAH("x")
	if n := s.Next(); n != 1 {
		t.Fatalf("first %d", n)
	}
	a := Advert{Version: 2, VRID: 1, Priority: 100, AuthType: AuthAH, Interval: 1, Src: node2, Dst: Group4}
	pkt, _ := a.AppendIPv4AH(nil, 1, TTL, 41, NewAH("x"), false)
	var h IPv4Header
	var back Advert
	if err := DecodeIPv4(pkt, &h, &back); err != nil {
		t.Fatal(err)
	}
	e := Expect{Version: 2, VRID: 1, AuthType: AuthAH, AH: s, Interval: 1}
	if err := e.CheckIPv4(pkt, &h, &back); err != nil {
		t.Fatal(err)
	}
	if n := s.Next(); n != 42 {
		t.Fatalf("after accepting 41, next %d", n)
	}
	s.seq = 0xFFFFFFFD
	if n := s.Next(); n != 0xFFFFFFFE {
		t.Fatalf("next %x", n)
	}
	if n := s.Next(); n != 0xFFFFFFFE || !s.cycle {
		t.Fatalf("past the limit: %x cycle %v", n, s.cycle)
	}
	s.BecomeMaster()
	if n := s.Next(); n != 1 {
		t.Fatalf("after becoming master again: %d", n)
	}
}

// TestAHAppendNoAlloc: signing into a buffer with room does not allocate.
func TestAHAppendNoAlloc(t *testing.T) {
	a := Advert{Version: 2, VRID: 51, Priority: 150, AuthType: AuthAH, Interval: 1, Addrs: []netip.Addr{vip}, Src: node1, Dst: Group4}
	ah := NewAH("secret12")
	buf := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() { _, _ = a.AppendIPv4AH(buf[:0], 1, TTL, 1, ah, false) }); n != 0 {
		t.Fatalf("%v allocations per AH encode", n)
	}
}
