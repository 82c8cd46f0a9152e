package packet

import (
	"crypto/subtle"
	"net/netip"
)

// Expect describes what one virtual router accepts. Check applies the
// receiver's MUSTs of RFC 3768 section 7.1 and RFC 5798 section 7.1 in
// Keepalived's order and wording (vrrp_check_packet). The decoder has already
// verified length, version range, type, checksum and known auth types.
type Expect struct {
	Version  uint8 // 2 or 3
	VRID     uint8
	AuthType uint8             // VRRPv2: AuthNone or AuthPass
	AuthData [AuthDataLen]byte // the configured auth_pass, see PassData
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
// A nil error means accept; otherwise the advert MUST be
// discarded and the error's text is Keepalived's log line without the
// "(instance) " prefix.
func (e *Expect) Check(a *Advert, ttl int) error {
	if !e.Unicast && ttl >= 0 && ttl != TTL {
		return errf(ErrTTL, "invalid TTL/HL. Received %d and expect %d", ttl, TTL)
	}
	if a.Version != e.Version {
		return errf(ErrVersion, "wrong version. Received %d and expect %d", a.Version, e.Version)
	}
	if a.Version == 2 && !a.is6() {
		if a.AuthType != e.AuthType {
			return errf(ErrAuthMismatch, "received a %d auth, expecting %d!", a.AuthType, e.AuthType)
		}
		if e.AuthType == AuthPass && subtle.ConstantTimeCompare(a.AuthData[:], e.AuthData[:]) != 1 {
			return errf(ErrPassword, "received an invalid passwd!")
		}
	}
	if a.Version == 2 && a.Interval != e.Interval {
		// Keepalived drops it "to prevent concurrent VRID running => multiple
		// master in 1 VRID" (RFC 3768 section 7.1 MUST).
		return errf(ErrInterval, "advertisement interval mismatch mine=%d sec rcv'd=%d sec", e.Interval, a.Interval)
	}
	if a.VRID != e.VRID {
		return errf(ErrVRID, "received VRID %d, expect %d", a.VRID, e.VRID)
	}
	if e.CheckAddrs && len(a.Addrs) != len(e.Addrs) {
		return errf(ErrAddrCount, "received an unexpected ip number count %d, expected %d!", len(a.Addrs), len(e.Addrs))
	}
	if a.Dst.IsValid() && a.Dst.IsMulticast() == e.Unicast {
		want, got := "mult", "un"
		if e.Unicast {
			want, got = "un", "mult"
		}
		return errf(ErrCast, "Expected %sicast packet but received %sicast packet", want, got)
	}
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
