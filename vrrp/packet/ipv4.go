package packet

import (
	"encoding/binary"
	"io"
	"net/netip"
)

// IPv4HeaderLen is the length of the option-less IPv4 header Keepalived sends.
const IPv4HeaderLen = 20

// IPv4Header holds the IPv4 header fields a VRRP receiver looks at.
type IPv4Header struct {
	HeaderLen int // bytes, from IHL
	TOS       uint8
	TotalLen  int
	ID        uint16
	FragOff   uint16 // flags and fragment offset as on the wire
	TTL       uint8
	Protocol  uint8
	Checksum  uint16
	Src, Dst  netip.Addr
}

// DecodeIPv4 decodes a raw IPv4 packet carrying VRRP (what an IPv4 raw socket
// returns: header included) into h and a. The TTL is returned in h, not
// judged: VRRP over unicast may legitimately arrive with a lower one, so
// Expect.Check decides. An AH packet (protocol 51) is refused with ErrAuthAH.
func DecodeIPv4(pkt []byte, h *IPv4Header, a *Advert) error {
	if len(pkt) < IPv4HeaderLen {
		return errf(io.ErrUnexpectedEOF, "IPv4 VRRP packet too short - %d bytes", len(pkt))
	}
	if pkt[0]>>4 != 4 {
		return errf(ErrIPHeader, "IP version %d in an IPv4 VRRP packet", pkt[0]>>4)
	}
	h.HeaderLen = int(pkt[0]&0x0f) * 4
	if h.HeaderLen < IPv4HeaderLen {
		return errf(ErrIPHeader, "IPv4 header length %d is less than 20", h.HeaderLen)
	}
	h.TOS = pkt[1]
	h.TotalLen = int(binary.BigEndian.Uint16(pkt[2:]))
	h.ID = binary.BigEndian.Uint16(pkt[4:])
	h.FragOff = binary.BigEndian.Uint16(pkt[6:])
	h.TTL = pkt[8]
	h.Protocol = pkt[9]
	h.Checksum = binary.BigEndian.Uint16(pkt[10:])
	h.Src = netip.AddrFrom4([4]byte(pkt[12:16]))
	h.Dst = netip.AddrFrom4([4]byte(pkt[16:20]))
	if len(pkt) < h.HeaderLen+HeaderLen {
		return errf(io.ErrUnexpectedEOF, "IPv4 VRRP packet too short - %d bytes", len(pkt))
	}
	if h.TotalLen != len(pkt) {
		return errf(ErrLength, "ip_tot_len mismatch against received length. %d and received %d", h.TotalLen, len(pkt))
	}
	switch h.Protocol {
	case Protocol:
	case ProtocolAH:
		return errf(ErrAuthAH, "received an IPsec AH advert; AH authentication is not supported, use auth_type PASS or none")
	default:
		return errf(ErrProtocol, "IP protocol %d is not VRRP (%d)", h.Protocol, Protocol)
	}
	if h.FragOff&0x3fff != 0 {
		return errf(ErrIPHeader, "fragmented VRRP packet")
	}
	a.Src, a.Dst = h.Src, h.Dst
	return a.decode(pkt[h.HeaderLen:], true)
}

// AppendIPv4 appends a whole IPv4 packet as Keepalived builds it for an
// IP_HDRINCL socket: 20-byte header, TOS 0xc0, no fragmentation flags, the
// given identification and TTL, protocol 112, header checksum filled in, then
// the advert from a.Src to a.Dst.
func (a *Advert) AppendIPv4(b []byte, id uint16, ttl uint8) ([]byte, error) {
	if !a.Src.Is4() || !a.Dst.Is4() {
		return b, errf(ErrFamily, "IPv4 packet needs IPv4 source and destination, have %s and %s", a.Src, a.Dst)
	}
	start := len(b)
	total := IPv4HeaderLen + a.Len()
	b = append(b, 0x45, TOS)
	b = binary.BigEndian.AppendUint16(b, uint16(total))
	b = binary.BigEndian.AppendUint16(b, id)
	b = append(b, 0, 0, ttl, Protocol, 0, 0)
	s, d := a.Src.As4(), a.Dst.As4()
	b = append(b, s[:]...)
	b = append(b, d[:]...)
	binary.BigEndian.PutUint16(b[start+10:], fold(sumBytes(0, b[start:start+IPv4HeaderLen])))
	out, err := a.AppendBinary(b)
	if err != nil {
		return b[:start], err
	}
	return out, nil
}
