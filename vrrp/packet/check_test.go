package packet

import (
	"errors"
	"net/netip"
	"testing"
)

// TestExpectCheck covers the per-instance receiver MUSTs of RFC 3768 and
// RFC 5798 section 7.1 with Keepalived's log wording.
func TestExpectCheck(t *testing.T) {
	base := func() Advert {
		return Advert{Version: 2, Type: TypeAdvert, VRID: 51, Priority: 150, AuthType: AuthPass, Interval: 1,
			Addrs: []netip.Addr{vip}, AuthData: PassData("secret12"), Src: node1, Dst: Group4}
	}
	exp := Expect{Version: 2, VRID: 51, AuthType: AuthPass, AuthData: PassData("secret12"), Interval: 1,
		Addrs: []netip.Addr{vip}, CheckAddrs: true}
	v3 := Expect{Version: 3, VRID: 51, Interval: 100, Addrs: []netip.Addr{vip}, CheckAddrs: true}
	uni := exp
	uni.Unicast = true
	other := netip.MustParseAddr("10.77.0.200")
	tests := []struct {
		name    string
		e       Expect
		ttl     int
		edit    func(*Advert)
		want    error
		wantMsg string
	}{
		{name: "accepted", e: exp, ttl: 255},
		{name: "ttl unknown is not checked", e: exp, ttl: -1},
		{name: "ttl 254 multicast MUST be discarded", e: exp, ttl: 254, want: ErrTTL,
			wantMsg: "invalid TTL/HL. Received 254 and expect 255"},
		{name: "ttl 64 accepted over unicast", e: uni, ttl: 64, edit: func(a *Advert) { a.Dst = node2 }},
		{name: "version mismatch", e: v3, ttl: 255, want: ErrVersion, wantMsg: "wrong version. Received 2 and expect 3"},
		{name: "auth type mismatch", e: exp, ttl: 255, edit: func(a *Advert) { a.AuthType = AuthNone }, want: ErrAuthMismatch,
			wantMsg: "received a 0 auth, expecting 1!"},
		{name: "wrong password", e: exp, ttl: 255, edit: func(a *Advert) { a.AuthData = PassData("secret13") }, want: ErrPassword,
			wantMsg: "received an invalid passwd!"},
		{name: "password longer than 8 bytes is truncated", e: Expect{Version: 2, VRID: 51, AuthType: AuthPass,
			AuthData: PassData("secret12-and-more"), Interval: 1}, ttl: 255},
		{name: "v2 interval mismatch", e: exp, ttl: 255, edit: func(a *Advert) { a.Interval = 2 }, want: ErrInterval,
			wantMsg: "advertisement interval mismatch mine=1 sec rcv'd=2 sec"},
		{name: "v3 interval difference accepted", e: v3, ttl: 255, edit: func(a *Advert) {
			a.Version, a.AuthType, a.AuthData, a.Interval = 3, 0, [8]byte{}, 50
		}},
		{name: "other VRID", e: exp, ttl: 255, edit: func(a *Advert) { a.VRID = 52 }, want: ErrVRID},
		{name: "address count", e: exp, ttl: 255, edit: func(a *Advert) { a.Addrs = append(a.Addrs, other) }, want: ErrAddrCount,
			wantMsg: "received an unexpected ip number count 2, expected 1!"},
		{name: "address count not checked when skipping", e: Expect{Version: 2, VRID: 51, AuthType: AuthPass,
			AuthData: PassData("secret12"), Interval: 1, Addrs: []netip.Addr{vip}},
			ttl: 255, edit: func(a *Advert) { a.Addrs = []netip.Addr{other, other} }},
		{name: "address list", e: exp, ttl: 255, edit: func(a *Advert) { a.Addrs = []netip.Addr{other} }, want: ErrAddrList,
			wantMsg: "ip address associated with VRID 51 not present in MASTER advert: 10.77.0.100"},
		{name: "unicast packet on multicast instance", e: exp, ttl: 255, edit: func(a *Advert) { a.Dst = node2 }, want: ErrCast,
			wantMsg: "Expected multicast packet but received unicast packet"},
		{name: "multicast packet on unicast instance", e: uni, ttl: 255, want: ErrCast,
			wantMsg: "Expected unicast packet but received multicast packet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := base()
			if tc.edit != nil {
				tc.edit(&a)
			}
			err := tc.e.Check(&a, tc.ttl)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if tc.wantMsg != "" && err.Error() != tc.wantMsg {
				t.Fatalf("message %q, want %q", err.Error(), tc.wantMsg)
			}
		})
	}
}
