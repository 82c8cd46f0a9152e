package packet

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"hash"
	"sync"
)

// Keepalived's auth_type AH (VRRPv2 over IPv4 only) puts an IPsec
// Authentication Header (RFC 2402) between the IPv4 header and the VRRP
// message, with no Security Association behind it: Keepalived fills and
// checks every field itself.
//
//	next header 112 | payload len 4 | reserved 0 | SPI | sequence number | ICV (12 bytes)
//
// The SPI is the sender's IPv4 address; the ICV is HMAC-MD5 (RFC 2104)
// keyed with the 8-byte zero-padded auth_pass, over the whole IP packet
// with the IP header's TOS, fragment offset and checksum zeroed (and the
// TTL too when the instance is unicast), the ICV itself zeroed, truncated
// to 96 bits (RFC 2403). One sequence number per instance serves both
// directions: a sender increments it per advert, a receiver accepts only a
// number above it and keeps that number, so the instance that takes over
// continues above the last master's numbers. Verified byte for byte against
// Keepalived 2.2.7 adverts (see TestAHKeepalivedCapture).

// AHLen is the length of the AH header Keepalived sends.
const AHLen = 24

const (
	ahPayloadLen = AHLen/4 - 2 // RFC 2402 section 2.2: 32-bit words minus 2
	ahICVLen     = 12          // HMAC-MD5-96
	// ahSeqMax is where Keepalived stops counting: past it the sequence
	// number no longer moves ("cycled") until the instance becomes MASTER
	// again, which starts it over.
	ahSeqMax = 0xFFFFFFFD
)

// AHHeader is a decoded AH header.
type AHHeader struct {
	NextHeader uint8
	PayloadLen uint8
	Reserved   uint16
	SPI        [4]byte // Keepalived: the sender's IPv4 address
	Seq        uint32
	ICV        [ahICVLen]byte
}

func (h *AHHeader) decode(b []byte) {
	h.NextHeader, h.PayloadLen = b[0], b[1]
	h.Reserved = binary.BigEndian.Uint16(b[2:])
	h.SPI = [4]byte(b[4:8])
	h.Seq = binary.BigEndian.Uint32(b[8:])
	h.ICV = [ahICVLen]byte(b[12:24])
}

// AH is one instance's AH state: its key and its sequence number. It is
// safe for concurrent use (the receiver verifies while the sender signs).
type AH struct {
	mu    sync.Mutex
	mac   hash.Hash
	seq   uint32
	cycle bool
	sum   [md5.Size]byte
}

// NewAH keys an instance's AH with its auth_pass (the first 8 bytes, zero
// padded, as Keepalived keys it).
func NewAH(pass string) *AH {
	key := PassData(pass)
	return &AH{mac: hmac.New(md5.New, key[:])}
}

// Next is the sequence number of the next advert sent (Keepalived counts
// one per advert, not per unicast peer).
func (s *AH) Next() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seq > ahSeqMax {
		s.cycle = true
	} else {
		s.seq++
	}
	return s.seq
}

// Seq is the current sequence number (last sent or highest accepted).
func (s *AH) Seq() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// BecomeMaster starts the sequence over if it had stopped at its limit, as
// Keepalived does when an instance goes to MASTER (vrrp_state_goto_master).
func (s *AH) BecomeMaster() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cycle {
		s.cycle, s.seq = false, 0
	}
}

// icv computes the ICV of pkt (header included, AH right after an IPv4
// header of hdrLen bytes) into s.sum, with the mutable fields zeroed for
// the computation and restored afterwards. s.mu is held.
func (s *AH) icv(pkt []byte, hdrLen int, unicast bool) []byte {
	tos, frag0, frag1, sum0, sum1, ttl := pkt[1], pkt[6], pkt[7], pkt[10], pkt[11], pkt[8]
	var icv [ahICVLen]byte
	at := hdrLen + 12
	copy(icv[:], pkt[at:at+ahICVLen])
	pkt[1], pkt[6], pkt[7], pkt[10], pkt[11] = 0, 0, 0, 0, 0
	if unicast {
		pkt[8] = 0
	}
	clear(pkt[at : at+ahICVLen])
	s.mac.Reset()
	s.mac.Write(pkt)
	out := s.mac.Sum(s.sum[:0])
	pkt[1], pkt[6], pkt[7], pkt[10], pkt[11], pkt[8] = tos, frag0, frag1, sum0, sum1, ttl
	copy(pkt[at:], icv[:])
	return out[:ahICVLen]
}

// sign fills the ICV of an encoded AH packet (option-less IPv4 header).
func (s *AH) sign(pkt []byte, unicast bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := s.icv(pkt, IPv4HeaderLen, unicast)
	copy(pkt[IPv4HeaderLen+12:], sum)
}

// verify is Keepalived's vrrp_in_chk_ipsecah: the ICV, then the SPI, then
// the sequence number, which it keeps when the packet passes.
func (s *AH) verify(pkt []byte, h *IPv4Header, unicast bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := s.icv(pkt, h.HeaderLen, unicast)
	if subtle.ConstantTimeCompare(sum, h.AH.ICV[:]) != 1 {
		return errf(ErrAH, "IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !")
	}
	if src := h.Src.As4(); h.AH.SPI != src {
		// Keepalived prints both 32-bit fields as the host reads them
		// (little-endian here) and without the instance's name.
		e := errf(ErrAH, "IPSEC AH : invalid IPSEC SPI value. %d and expect %d",
			binary.LittleEndian.Uint32(src[:]), binary.LittleEndian.Uint32(h.AH.SPI[:])).(*Error)
		e.Bare = true
		return e
	}
	if h.AH.Seq <= s.seq {
		return errf(ErrAH, "IPSEC-AH : sequence number %d already processed. Packet dropped. Local(%d)", h.AH.Seq, s.seq)
	}
	s.seq = h.AH.Seq
	// Keepalived clears "cycled" on an accepted number while BACKUP; the
	// number only passes here when it is above ours, so it is cleared on
	// any accepted advert.
	s.cycle = false
	return nil
}
