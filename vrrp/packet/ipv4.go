package packet

import (
	"encoding/binary"
	"net/netip"
)

// IPv4HeaderLen is the length of the option-less IPv4 header Keepalived sends.
const IPv4HeaderLen = 20

// IPv4Header holds the IPv4 header fields a VRRP receiver looks at, and
// the AH header that follows it in an auth_type AH advert.
type IPv4Header struct {
	HeaderLen int // bytes, from IHL
	TOS       uint8
	TotalLen  int
	ID        uint16
	FragOff   uint16 // flags and fragment offset as on the wire
	TTL       uint8
	Protocol  uint8 // Protocol, or ProtocolAH with AH filled in
	Checksum  uint16
	Src, Dst  netip.Addr
	AH        AHHeader
}

// DecodeIPv4 decodes a raw IPv4 packet carrying VRRP (what an IPv4 raw socket
// returns: header included), directly or after an IPsec AH header, into h
// and a. The TTL is returned in h, not judged: VRRP over unicast may
// legitimately arrive with a lower one, so Expect.CheckIPv4 decides, as it
// decides whether the AH header authenticates the packet.
func DecodeIPv4(pkt []byte, h *IPv4Header, a *Advert) error {
	if len(pkt) < IPv4HeaderLen {
		return bareShort("IPv4 VRRP packet too short - %d bytes", len(pkt))
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
	h.AH = AHHeader{}
	hdr := h.HeaderLen
	switch h.Protocol {
	case Protocol:
		if len(pkt) < hdr+HeaderLen {
			return bareShort("IPv4 VRRP packet too short - %d bytes", len(pkt))
		}
	case ProtocolAH:
		if len(pkt) < hdr+AHLen+HeaderLen {
			return bareShort("IPv4 VRRP packet with AH too short - %d bytes", len(pkt))
		}
		h.AH.decode(pkt[hdr:])
		hdr += AHLen
	default:
		return errf(ErrProtocol, "IP protocol %d is not VRRP (%d)", h.Protocol, Protocol)
	}
	a.Src, a.Dst = h.Src, h.Dst
	if err := a.decode(pkt[hdr:], hdr); err != nil {
		return err
	}
	if h.TotalLen != len(pkt) {
		return errf(ErrLength, "ip_tot_len mismatch against received length. %d and received %d", h.TotalLen, len(pkt))
	}
	if h.FragOff&0x3fff != 0 {
		return errf(ErrIPHeader, "fragmented VRRP packet")
	}
	return nil
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

// AppendIPv4AH appends a whole IPv4 packet as Keepalived 2.2 builds an
// auth_type AH advert for an IP_HDRINCL socket: the IPv4 header (protocol
// 51, TOS 0xc0, the given identification and TTL), the AH header (next
// header 112, SPI = the source address, sequence number seq, ICV), then the
// VRRPv2 advert from a.Src to a.Dst (auth type AH, zero auth data). The
// ICV is ah's HMAC-MD5-96 over the whole packet with the IP header's
// mutable fields (TOS, fragment offset, checksum, and the TTL when
// unicast) and the ICV itself zeroed (RFC 2402 section 3.3.3.1 as
// Keepalived applies it).
func (a *Advert) AppendIPv4AH(b []byte, id uint16, ttl uint8, seq uint32, ah *AH, unicast bool) ([]byte, error) {
	if !a.Src.Is4() || !a.Dst.Is4() {
		return b, errf(ErrFamily, "IPv4 packet needs IPv4 source and destination, have %s and %s", a.Src, a.Dst)
	}
	if a.Version != 2 {
		return b, errf(ErrVersion, "IPsec AH authenticates VRRPv2 only, not version %d", a.Version)
	}
	start := len(b)
	total := IPv4HeaderLen + AHLen + a.Len()
	b = append(b, 0x45, TOS)
	b = binary.BigEndian.AppendUint16(b, uint16(total))
	b = binary.BigEndian.AppendUint16(b, id)
	b = append(b, 0, 0, ttl, ProtocolAH, 0, 0)
	s, d := a.Src.As4(), a.Dst.As4()
	b = append(b, s[:]...)
	b = append(b, d[:]...)
	b = append(b, Protocol, ahPayloadLen, 0, 0)
	b = append(b, s[:]...) // SPI: the sender's address, as Keepalived chooses it
	b = binary.BigEndian.AppendUint32(b, seq)
	b = append(b, make([]byte, ahICVLen)...)
	out, err := a.AppendBinary(b)
	if err != nil {
		return b[:start], err
	}
	pkt := out[start:]
	ah.sign(pkt, unicast)
	binary.BigEndian.PutUint16(pkt[10:], fold(sumBytes(0, pkt[:IPv4HeaderLen])))
	return out, nil
}
