// Package packet encodes and decodes VRRP advertisements: version 2 (RFC 3768,
// IPv4, with Keepalived's simple-text "PASS" authentication or its IPsec AH
// authentication, see ah.go) and version 3 (RFC 5798, IPv4 and IPv6), byte
// for byte as Keepalived 2.2 puts them on the wire.
//
// The codec knows the wire format only. Whether an advertisement is acceptable
// to a given virtual router (VRID, authentication, interval, address list,
// TTL) is decided by Expect.Check, which returns Keepalived's own reasons so
// the caller can log them in Keepalived's words.
//
// Use:
//
//	// IPv4 raw socket (header included; AH too):
//	err := packet.DecodeIPv4(buf[:n], &hdr, &adv)
//	err = expect.CheckIPv4(buf[:n], &hdr, &adv)
//	// IPv6 raw socket (payload only; source from recvmsg, destination from
//	// IPV6_PKTINFO, hop limit from IPV6_HOPLIMIT):
//	err := packet.DecodePayload(buf[:n], src, dst, &adv)
//	err = expect.Check(&adv, hopLimit)
//	// Sending: a whole IPv4 packet for an IP_HDRINCL socket, or the payload.
//	out, err := adv.AppendIPv4(out[:0], ipID, packet.TTL)
//	out, err := adv.AppendBinary(out[:0])
//	out, err := adv.AppendIPv4AH(out[:0], ipID, packet.TTL, ah.Next(), ah, unicast)
//
// Decoding into a reused Advert and appending into a reused buffer do not
// allocate.
//
// Error contract: decoding fails only on what Keepalived cannot read: a
// buffer too short for the headers (io.ErrUnexpectedEOF, logged bare), a
// length other than the one the header announces (ErrLength; a too short
// one also matches io.ErrUnexpectedEOF), an IPv4 header that is not one.
// Everything else about an advert (version, type, auth, checksum, interval,
// addresses, TTL) is judged by Expect.Check in Keepalived's order. Every
// error is an *Error wrapping one of the Err* sentinels: errors.Is tells
// them apart, Error() gives Keepalived's log text without the
// "(instance) " prefix, Bare and Quiet say how Keepalived logs it.
package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Wire constants (RFC 3768 section 5, RFC 5798 section 5).
const (
	Protocol      = 112 // IP protocol number of VRRP
	ProtocolAH    = 51  // IPsec AH, Keepalived's auth_type AH
	TTL           = 255 // IPv4 TTL / IPv6 hop limit every VRRP packet MUST carry
	TOS           = 0xc0
	HeaderLen     = 8 // fixed part: version/type .. checksum
	AuthDataLen   = 8 // VRRPv2 authentication data, always present for IPv4
	TypeAdvert    = 1 // the only VRRP message type
	MaxV3Interval = 0x0fff
)

// Authentication types (VRRPv2 only; RFC 3768 section 5.3.6 and Keepalived).
const (
	AuthNone = 0
	AuthPass = 1 // simple text password, 8 bytes after the addresses
	AuthAH   = 2 // IPsec AH (RFC 2338): the advert follows an AH header, see AH
)

// Multicast groups of RFC 3768/5798.
var (
	Group4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	Group6 = netip.MustParseAddr("ff02::12")
)

// Sentinel errors. Each decode/check failure wraps exactly one of them
// (a too-short packet also matches io.ErrUnexpectedEOF).
var (
	ErrVersion      = errors.New("wrong version")
	ErrType         = errors.New("invalid packet type")
	ErrLength       = errors.New("vrrp packet length mismatch")
	ErrChecksum     = errors.New("invalid checksum")
	ErrAuthType     = errors.New("invalid auth type")
	ErrAuthMismatch = errors.New("authentication type mismatch")
	ErrPassword     = errors.New("invalid password")
	ErrAH           = errors.New("IPsec AH authentication failure")
	ErrInterval     = errors.New("advertisement interval mismatch")
	ErrAddrCount    = errors.New("unexpected address count")
	ErrAddrList     = errors.New("virtual address missing from advert")
	ErrVRID         = errors.New("wrong VRID")
	ErrTTL          = errors.New("invalid TTL/hop limit")
	ErrIPHeader     = errors.New("invalid IPv4 header")
	ErrProtocol     = errors.New("not a VRRP packet")
	ErrFamily       = errors.New("address family mismatch")
	ErrCast         = errors.New("multicast/unicast mismatch")
)

// Error is a decode or check failure: Kind is the sentinel (errors.Is works
// through Unwrap), Msg is Keepalived's log text for it.
type Error struct {
	Kind error
	Msg  string
	// Bare: Keepalived logs Msg without the "(instance) " prefix (it has
	// not matched the packet to an instance yet, or just does not say).
	Bare bool
	// Quiet: Keepalived drops the packet without logging anything.
	Quiet bool
	short bool // too short for what its header announces
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

// Is makes a too-short packet match io.ErrUnexpectedEOF whatever its Kind.
func (e *Error) Is(target error) bool { return e.short && target == io.ErrUnexpectedEOF }

func errf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// bareShort is a packet too short to be matched to an instance: Keepalived
// logs it without an instance name and counts it nowhere.
func bareShort(format string, args ...any) error {
	return &Error{Kind: io.ErrUnexpectedEOF, Msg: fmt.Sprintf(format, args...), Bare: true, short: true}
}

// lengthError is Keepalived's per-instance length check (counted in the
// "Length" packet errors). got and want include the IPv4 header (and the
// AH header) when the packet came with one, as Keepalived's numbers do.
func lengthError(got, want int) error {
	if got < want {
		return &Error{Kind: ErrLength, short: true,
			Msg: fmt.Sprintf("vrrp packet too short, length %d and expect %d", got, want)}
	}
	return errf(ErrLength, "vrrp packet too long, length %d and expect %d", got, want)
}

// Advert is one VRRP advertisement.
//
// Src and Dst are the IP source and destination. They are not part of the
// VRRP message but its checksum covers them (VRRPv3 and any IPv6 packet use
// the pseudo-header of RFC 5798 section 5.2.8), and their family decides the
// size of the address fields. Set them before UnmarshalBinary/MarshalBinary.
type Advert struct {
	Version uint8 // 2 or 3 (a decoded advert may carry any value; Check refuses it)
	// Type is the message type; zero encodes as TypeAdvert, the only one.
	Type     uint8
	VRID     uint8
	Priority uint8
	// AuthType is the VRRPv2 auth type (AuthNone, AuthPass); in VRRPv3 the
	// byte holds the 4 reserved bits and the interval's top nibble, see Reserved.
	AuthType uint8
	// Interval is the advertisement interval in the unit of the version:
	// whole seconds (VRRPv2, 8 bits), centiseconds (VRRPv3, 12 bits).
	Interval uint16
	// Reserved is VRRPv3's 4-bit reserved field, kept for exact round trips
	// (senders MUST set it to zero, receivers ignore it).
	Reserved uint8
	// Checksum is the checksum read by UnmarshalBinary; MarshalBinary
	// computes and fills it.
	Checksum uint16
	Addrs    []netip.Addr
	// AuthData is VRRPv2-over-IPv4's 8 bytes after the addresses: the
	// password for AuthPass, zeros otherwise (Keepalived sends zeros).
	AuthData [AuthDataLen]byte
	Src, Dst netip.Addr
	// badSum records that the decoded checksum did not verify; Check
	// reports it where Keepalived does (after the type and count checks).
	badSum bool
}

// IntervalDuration is the advertised interval as a duration.
func (a *Advert) IntervalDuration() time.Duration {
	if a.Version == 3 {
		return time.Duration(a.Interval) * 10 * time.Millisecond
	}
	return time.Duration(a.Interval) * time.Second
}

// is6 tells whether the packet travels over IPv6, from Src (or the first
// address when Src is unset, for encoding without an IP layer).
func (a *Advert) is6() bool {
	if a.Src.IsValid() {
		return a.Src.Is6()
	}
	if len(a.Addrs) > 0 {
		return a.Addrs[0].Is6()
	}
	return false
}

// Len is the encoded length of the VRRP message (without IP header).
func (a *Advert) Len() int {
	return msgLen(a.Version, a.is6(), len(a.Addrs))
}

func msgLen(version uint8, v6 bool, n int) int {
	alen := 4
	if v6 {
		alen = 16
	}
	l := HeaderLen + n*alen
	// Keepalived appends the 8 auth bytes to every VRRPv2 IPv4 packet,
	// whatever the auth type (RFC 3768 section 5.1).
	if version == 2 && !v6 {
		l += AuthDataLen
	}
	return l
}

// MarshalBinary encodes the VRRP message, computing the checksum.
func (a *Advert) MarshalBinary() ([]byte, error) {
	return a.AppendBinary(make([]byte, 0, a.Len()))
}

// AppendBinary appends the encoded VRRP message to b (no allocation when b
// has room), computing the checksum.
func (a *Advert) AppendBinary(b []byte) ([]byte, error) {
	if a.Version != 2 && a.Version != 3 {
		return b, errf(ErrVersion, "cannot encode VRRP version %d", a.Version)
	}
	if len(a.Addrs) > 255 {
		return b, errf(ErrAddrCount, "%d addresses do not fit in a VRRP packet", len(a.Addrs))
	}
	v6 := a.is6()
	if a.Version == 3 || v6 {
		if !a.Src.IsValid() || !a.Dst.IsValid() {
			return b, errf(ErrFamily, "VRRPv%d checksum needs the IP source and destination", a.Version)
		}
		if a.Src.Is4() != a.Dst.Is4() {
			return b, errf(ErrFamily, "source %s and destination %s differ in family", a.Src, a.Dst)
		}
	}
	if a.Version == 3 && a.Interval > MaxV3Interval {
		return b, errf(ErrInterval, "VRRPv3 interval %d centiseconds exceeds %d", a.Interval, MaxV3Interval)
	}
	if a.Version == 2 && a.Interval > 255 {
		return b, errf(ErrInterval, "VRRPv2 interval %d seconds exceeds 255", a.Interval)
	}
	start := len(b)
	typ := a.Type
	if typ == 0 {
		typ = TypeAdvert
	}
	b = append(b, a.Version<<4|typ&0x0f, a.VRID, a.Priority, uint8(len(a.Addrs)))
	if a.Version == 2 {
		b = append(b, a.AuthType, uint8(a.Interval))
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(a.Reserved&0x0f)<<12|a.Interval)
	}
	b = append(b, 0, 0) // checksum
	for _, ip := range a.Addrs {
		if v6 {
			if !ip.Is6() {
				return b[:start], errf(ErrFamily, "address %s in an IPv6 advert", ip)
			}
			s := ip.As16()
			b = append(b, s[:]...)
		} else {
			if !ip.Is4() {
				return b[:start], errf(ErrFamily, "address %s in an IPv4 advert", ip)
			}
			s := ip.As4()
			b = append(b, s[:]...)
		}
	}
	if a.Version == 2 && !v6 {
		b = append(b, a.AuthData[:]...)
	}
	msg := b[start:]
	var sum uint32
	if a.Version == 3 || v6 {
		sum = pseudoSum(a.Src, a.Dst, len(msg))
	}
	cs := fold(sumBytes(sum, msg))
	binary.BigEndian.PutUint16(msg[6:], cs)
	a.Checksum = cs
	return b, nil
}

// UnmarshalBinary decodes a VRRP message (the IP payload) whose IP source and
// destination are a.Src and a.Dst, checking that its length is the one its
// header announces. It does not judge the fields (version, type, auth
// type, checksum): Expect.Check does, in Keepalived's order. On error a is
// left partly filled; its VRID is set whenever the 8-byte header was there.
func (a *Advert) UnmarshalBinary(b []byte) error {
	return a.decode(b, 0)
}

// DecodePayload decodes the VRRP message b carried from src to dst into a,
// reusing a.Addrs' storage. It is what a raw socket that strips the IP
// header (IPv6 always) and tests use; for IPv6 the kernel has usually
// verified the checksum already (IPV6_CHECKSUM), verifying it again is cheap
// and catches a misconfigured socket. Over IPv4 the lengths in its errors
// count a 20-byte IP header, as Keepalived's (which reads the header) do.
func DecodePayload(b []byte, src, dst netip.Addr, a *Advert) error {
	a.Src, a.Dst = src, dst
	hdr := 0
	if src.Is4() {
		hdr = IPv4HeaderLen
	}
	return a.decode(b, hdr)
}

// decode reads the message b; hdr is the number of bytes that preceded it
// on the wire (IPv4 header, AH header), which Keepalived counts in the
// lengths it logs.
func (a *Advert) decode(b []byte, hdr int) error {
	if len(b) < HeaderLen {
		family := "IPv6"
		if a.Src.Is4() || hdr > 0 {
			family = "IPv4"
		}
		return bareShort("%s VRRP packet too short - %d bytes", family, hdr+len(b))
	}
	if a.Src.IsValid() && a.Dst.IsValid() && a.Src.Is4() != a.Dst.Is4() {
		return errf(ErrFamily, "source %s and destination %s differ in family", a.Src, a.Dst)
	}
	a.Version = b[0] >> 4
	a.Type = b[0] & 0x0f
	a.VRID, a.Priority = b[1], b[2]
	n := int(b[3])
	if a.Version == 2 {
		a.AuthType = b[4]
		a.Interval = uint16(b[5])
		a.Reserved = 0
	} else {
		w := binary.BigEndian.Uint16(b[4:])
		a.AuthType = 0
		a.Reserved = uint8(w >> 12)
		a.Interval = w & MaxV3Interval
	}
	a.Checksum = binary.BigEndian.Uint16(b[6:])
	v6 := a.Src.Is6()
	// Keepalived expects the 8 auth bytes after a VRRPv2 message over IPv4
	// and none otherwise, whatever the version field says.
	want := msgLen(a.Version, v6, n)
	if len(b) != want {
		return lengthError(hdr+len(b), hdr+want)
	}
	a.badSum = false
	if a.Version == 2 || a.Version == 3 {
		var sum uint32
		if a.Version == 3 || v6 {
			if !a.Src.IsValid() || !a.Dst.IsValid() {
				return errf(ErrFamily, "VRRPv%d checksum needs the IP source and destination", a.Version)
			}
			sum = pseudoSum(a.Src, a.Dst, len(b))
		}
		a.badSum = fold(sumBytes(sum, b)) != 0
	}
	a.Addrs = a.Addrs[:0]
	p := b[HeaderLen:]
	for i := 0; i < n; i++ {
		if v6 {
			a.Addrs = append(a.Addrs, netip.AddrFrom16([16]byte(p[:16])))
			p = p[16:]
		} else {
			a.Addrs = append(a.Addrs, netip.AddrFrom4([4]byte(p[:4])))
			p = p[4:]
		}
	}
	if a.Version == 2 && !v6 {
		copy(a.AuthData[:], p)
	} else {
		a.AuthData = [AuthDataLen]byte{}
	}
	return nil
}

// pseudoSum is the unfolded one's complement sum of the IPv4 (RFC 768 style)
// or IPv6 (RFC 8200 section 8.1) pseudo-header for protocol 112.
func pseudoSum(src, dst netip.Addr, length int) uint32 {
	var sum uint32
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		sum = sumBytes(sum, s[:])
		sum = sumBytes(sum, d[:])
	} else {
		s, d := src.As16(), dst.As16()
		sum = sumBytes(sum, s[:])
		sum = sumBytes(sum, d[:])
	}
	sum += uint32(length) >> 16
	sum += uint32(length) & 0xffff
	sum += Protocol
	return sum
}

func sumBytes(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// fold returns the one's complement of the folded sum: the value to put in
// a checksum field, or 0 when verifying a correct message.
func fold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
