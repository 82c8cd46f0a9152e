package tlsconf

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// Protocol versions as HAProxy numbers them in ssl-min-ver/ssl-max-ver
// and the no-*/force-* options (SSLv3 .. TLSv1.3).
const (
	SSLv3 = iota + 1
	TLSv10
	TLSv11
	TLSv12
	TLSv13
)

var versionNames = [...]string{SSLv3: "SSLv3", TLSv10: "TLSv1.0", TLSv11: "TLSv1.1", TLSv12: "TLSv1.2", TLSv13: "TLSv1.3"}

// ParseVersion maps an ssl-min-ver/ssl-max-ver value to its number.
func ParseVersion(s string) (int, bool) {
	for i, n := range versionNames {
		if i > 0 && n == s {
			return i, true
		}
	}
	return 0, false
}

// VersionName is the configuration name of version v.
func VersionName(v int) string {
	if v <= 0 || v >= len(versionNames) {
		return ""
	}
	return versionNames[v]
}

// goVersion maps a HAProxy version number to crypto/tls's.
var goVersion = [...]uint16{TLSv10: tls.VersionTLS10, TLSv11: tls.VersionTLS11, TLSv12: tls.VersionTLS12, TLSv13: tls.VersionTLS13}

// Methods is a bind's or server's protocol version configuration: the
// disabled set (no-sslv3, no-tlsv1x) and the explicit min/max (ssl-min-ver,
// ssl-max-ver, force-*), as HAProxy keeps them.
type Methods struct {
	Disabled uint8 // bit v set: version v disabled
	Min, Max int   // 0: unset
}

// Range resolves m as HAProxy 2.6 does: explicit bounds (ssl-min-ver,
// ssl-max-ver, force-*) win and the no-* flags are then ignored
// (flagsIgnored: HAProxy warns); without them the range is HAProxy's
// default minimum TLSv1.2 up to TLSv1.3, minus the disabled versions.
// SSLv3 is never available (OpenSSL 3 as HAProxy is built here lacks it,
// and so does Go). ok is false when no version is left.
func (m Methods) Range() (lo, hi int, flagsIgnored, ok bool) {
	dis := m.Disabled
	if m.Min > 0 || m.Max > 0 {
		flagsIgnored = dis != 0
		dis = 0
		for v := SSLv3; v < m.Min; v++ {
			dis |= 1 << v
		}
		if m.Max > 0 {
			for v := m.Max + 1; v <= TLSv13; v++ {
				dis |= 1 << v
			}
		}
	} else {
		dis |= 1<<SSLv3 | 1<<TLSv10 | 1<<TLSv11
	}
	dis |= 1 << SSLv3
	for v := SSLv3; v <= TLSv13; v++ {
		if dis&(1<<v) != 0 {
			continue
		}
		if lo == 0 {
			lo = v
		}
		hi = v
	}
	return lo, hi, flagsIgnored, lo != 0
}

// GoRange is Range in crypto/tls's numbers.
func (m Methods) GoRange() (min, max uint16, ok bool) {
	lo, hi, _, ok := m.Range()
	if !ok {
		return 0, 0, false
	}
	return goVersion[lo], goVersion[hi], true
}

// Curve names OpenSSL 3.0 accepts in a curves list (SSL_CTX_set1_curves_list)
// or `ecdhe`, with the crypto/tls id of those Go implements (0: none).
var curveNames = map[string]tls.CurveID{
	"P-256": tls.CurveP256, "prime256v1": tls.CurveP256, "secp256r1": tls.CurveP256,
	"P-384": tls.CurveP384, "secp384r1": tls.CurveP384,
	"P-521": tls.CurveP521, "secp521r1": tls.CurveP521,
	"X25519": tls.X25519, "x25519": tls.X25519,
	"X448": 0, "x448": 0, "secp256k1": 0, "secp224r1": 0, "P-224": 0, "secp192r1": 0, "P-192": 0, "prime192v1": 0,
	"brainpoolP256r1": 0, "brainpoolP384r1": 0, "brainpoolP512r1": 0,
	"ffdhe2048": 0, "ffdhe3072": 0, "ffdhe4096": 0, "ffdhe6144": 0, "ffdhe8192": 0,
}

// CurveSelection is a curves list resolved for crypto/tls.
type CurveSelection struct {
	Go      []tls.CurveID
	Lacking []string // curves OpenSSL would use that Go does not implement
}

// Curves resolves a `curves` list (names separated by ':') or an `ecdhe`
// curve name. An unknown name is an error, as in OpenSSL; so is a list
// of which Go implements no curve.
func Curves(spec string) (CurveSelection, error) {
	var sel CurveSelection
	for _, n := range strings.Split(spec, ":") {
		id, ok := curveNames[n]
		if !ok {
			return sel, fmt.Errorf("unknown curve '%s'", n)
		}
		if id == 0 {
			sel.Lacking = append(sel.Lacking, n)
			continue
		}
		dup := false
		for _, g := range sel.Go {
			dup = dup || g == id
		}
		if !dup {
			sel.Go = append(sel.Go, id)
		}
	}
	if len(sel.Go) == 0 {
		return sel, fmt.Errorf("none of the curves '%s' is implemented by Go's crypto/tls", spec)
	}
	return sel, nil
}
