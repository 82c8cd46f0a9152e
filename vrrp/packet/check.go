package packet

import (
	"crypto/subtle"
	"net/netip"
)

// Expect describes what one virtual router accepts. Check applies the
// receiver's MUSTs of RFC 3768 section 7.1 and RFC 5798 section 7.1 in
// Keepalived 2.2's order and wording (vrrp_check_packet). The decoder has
// already checked that the length is the one the header announces.
type Expect struct {
	Version  uint8 // 2 or 3
	VRID     uint8
	AuthType uint8             // VRRPv2: AuthNone, AuthPass or AuthAH
	AuthData [AuthDataLen]byte // the configured auth_pass, see PassData
	// AH verifies auth_type AH adverts (AuthType AuthAH) and keeps the
	// instance's sequence number; only CheckIPv4 can use it.
	AH *AH
	// Interval is the configured advert_int in the version's unit. VRRPv2
	// drops adverts with another interval; VRRPv3 ignores it (the backup
	// adopts the master's interval).
	Interval uint16
	// Addrs are the virtual addresses; with CheckAddrs the advert must list
	// each of them and no other count (the RFCs' "MAY verify"; Keepalived
	// does unless skip_check_adv_addr and the master did not change).
	Addrs      []netip.Addr
	CheckAddrs bool
	// Unicast is true when unicast peers are configured: the TTL is then not
	// checked and the destination must be unicast; otherwise it must be
	// multicast (Keepalived's "Expected multicast packet" check).
	Unicast bool
}

// PassData is Keepalived's auth_pass as sent on the wire: the first 8 bytes,
// zero padded.
func PassData(pass string) [AuthDataLen]byte {
	var d [AuthDataLen]byte
	copy(d[:], pass)
	return d
}

// Check tells whether a decoded advert is acceptable. ttl is the IPv4 TTL or
// IPv6 hop limit the packet arrived with (from the IP header or the
// IPV6_HOPLIMIT control message), or -1 when unknown. a.Dst (for IPv6 from
// IPV6_PKTINFO) tells multicast from unicast; it is not checked when unset.
// A nil error means accept; otherwise the advert MUST be discarded and the
// error (an *Error) carries Keepalived's log line without the
// "(instance) " prefix. An ErrAddrList advert is one Keepalived still
// counts as received.
func (e *Expect) Check(a *Advert, ttl int) error {
	return e.check(a, ttl, nil, nil)
}

// CheckIPv4 is Check for a whole IPv4 packet as DecodeIPv4 decoded it into
// h and a: the TTL comes from h, and auth_type AH is verified on pkt (the
// sequence number of e.AH moves when the packet authenticates).
func (e *Expect) CheckIPv4(pkt []byte, h *IPv4Header, a *Advert) error {
	return e.check(a, int(h.TTL), pkt, h)
}

func (e *Expect) check(a *Advert, ttl int, pkt []byte, h *IPv4Header) error {
	if a.VRID != e.VRID {
		// Keepalived finds the instance by VRID first; another VRID is
		// another virtual router's business.
		return errf(ErrVRID, "received VRID %d, expect %d", a.VRID, e.VRID)
	}
	if h != nil && (h.Protocol == ProtocolAH) != (e.AuthType == AuthAH) {
		if h.Protocol == ProtocolAH {
			return errf(ErrAuthMismatch, "Received AH header but auth type not AH")
		}
		return errf(ErrAuthMismatch, "No AH header but auth type is AH")
	}
	if !e.Unicast && ttl >= 0 && ttl != TTL {
		return errf(ErrTTL, "invalid TTL/HL. Received %d and expect %d", ttl, TTL)
	}
	if a.Version != e.Version {
		return errf(ErrVersion, "wrong version. Received %d and expect %d", a.Version, e.Version)
	}
	if a.Version == 2 && !a.is6() {
		switch a.AuthType {
		case AuthNone, AuthPass, AuthAH:
		default:
			return errf(ErrAuthType, "Invalid auth type: %d", a.AuthType)
		}
		if a.AuthType != e.AuthType {
			return errf(ErrAuthMismatch, "received a %d auth, expecting %d!", a.AuthType, e.AuthType)
		}
		switch e.AuthType {
		case AuthPass:
			if subtle.ConstantTimeCompare(a.AuthData[:], e.AuthData[:]) != 1 {
				return errf(ErrPassword, "received an invalid passwd!")
			}
		case AuthAH:
			if h == nil || e.AH == nil {
				return errf(ErrAH, "IPSEC-AH : no AH header to verify")
			}
			if h.AH.NextHeader != Protocol {
				// an AH header for another protocol: not ours, no word
				return &Error{Kind: ErrProtocol, Msg: "AH header for another protocol", Quiet: true}
			}
			if err := e.AH.verify(pkt, h, e.Unicast); err != nil {
				return err
			}
		}
	}
	if a.Version == 2 && a.Interval != e.Interval {
		// Keepalived drops it "to prevent concurrent VRID running => multiple
		// master in 1 VRID" (RFC 3768 section 7.1 MUST); it counts nothing.
		return errf(ErrInterval, "advertisement interval mismatch mine=%d sec rcv'd=%d sec", e.Interval, a.Interval)
	}
	if a.Type != TypeAdvert {
		return errf(ErrType, "Invalid packet type. %d and expect %d", a.Type, TypeAdvert)
	}
	if e.CheckAddrs && len(a.Addrs) != len(e.Addrs) {
		return errf(ErrAddrCount, "received an unexpected ip number count %d, expected %d!", len(a.Addrs), len(e.Addrs))
	}
	if a.badSum {
		return errf(ErrChecksum, "Invalid VRRPv%d checksum", a.Version)
	}
	if a.Dst.IsValid() && a.Dst.IsMulticast() == e.Unicast {
		want, got := "mult", "un"
		if e.Unicast {
			want, got = "un", "mult"
		}
		return errf(ErrCast, "Expected %sicast packet but received %sicast packet", want, got)
	}
	// Keepalived counts the advert as received from here on.
	if e.CheckAddrs {
		for _, want := range e.Addrs {
			found := false
			for _, got := range a.Addrs {
				if got == want {
					found = true
					break
				}
			}
			if !found {
				return errf(ErrAddrList, "ip address associated with VRID %d not present in MASTER advert: %s", e.VRID, want)
			}
		}
	}
	return nil
}
