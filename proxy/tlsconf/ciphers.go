// Package tlsconf translates HAProxy's OpenSSL-flavoured TLS settings
// (cipher strings, TLS 1.3 cipher suites, curve lists, protocol version
// names) into what crypto/tls can execute, and says exactly what it
// cannot: the ciphers, suites and curves OpenSSL would negotiate that Go
// does not implement.
package tlsconf

import (
	"crypto/tls"
	"errors"
	"strings"
)

// opensslCipher is one OpenSSL TLS <= 1.2 cipher: its IANA id, its
// OpenSSL name and the cipher-string aliases it belongs to (bits index
// aliasNames).
type opensslCipher struct {
	id      uint16
	name    string
	aliases [2]uint64
}

func (c *opensslCipher) in(alias int) bool { return c.aliases[alias/64]&(1<<(alias%64)) != 0 }

// ErrNoCipherMatch is SSL_CTX_set_cipher_list's failure: the string
// selects no cipher at all (HAProxy: "unable to set SSL cipher list").
var ErrNoCipherMatch = errors.New("no cipher match")

// CipherSelection is the result of a `ciphers` string.
type CipherSelection struct {
	// Names are the OpenSSL ciphers the string selects, in table order.
	Names []string
	// Go are the selected ciphers crypto/tls implements (IANA ids), for
	// tls.Config.CipherSuites.
	Go []uint16
	// Lacking are the selected ciphers crypto/tls does not implement
	// that a client may negotiate with HAProxy (certificate-authenticated
	// RSA, ECDHE or DHE key exchange) but not with halo.
	Lacking []string
	// Unusable are selected ciphers neither negotiates: PSK and SRP
	// (HAProxy configures neither) and anonymous ones (refused by
	// OpenSSL 3 at its default security level).
	Unusable []string
	// LackingDH are the Lacking ciphers with an ephemeral DH key exchange:
	// HAProxy negotiates them only with DH parameters (ssl-dh-param-file
	// or a DH block in the certificate file).
	LackingDH []string
	// SecLevel is the string's @SECLEVEL=n, -1 when absent (OpenSSL 3's
	// default level 1 or more refuses TLS 1.0 and 1.1 handshakes).
	SecLevel int
}

// goSuites are the TLS <= 1.2 suites crypto/tls implements, secure or not
// (a configuration that names an insecure one gets it, as with OpenSSL).
func goSuites() map[uint16]bool {
	m := map[uint16]bool{}
	for _, l := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, s := range l {
			for _, v := range s.SupportedVersions {
				if v <= tls.VersionTLS12 {
					m[s.ID] = true
				}
			}
		}
	}
	return m
}

// Ciphers evaluates an OpenSSL cipher string (ciphers(1): items separated
// by ':', ',', ';' or spaces; an item is a cipher name or aliases joined
// by '+' (their intersection); a leading '!' removes for good, '-'
// removes, '+' only reorders; "@STRENGTH" and "@SECLEVEL=n" sort or
// filter) the way SSL_CTX_set_cipher_list selects ciphers. Only the set
// matters to halo, because crypto/tls applies its own preference order.
// It returns ErrNoCipherMatch when nothing is selected.
func Ciphers(spec string) (CipherSelection, error) {
	secLevel := -1
	active := make([]bool, len(opensslCiphers))
	killed := make([]bool, len(opensslCiphers))
	for _, item := range strings.FieldsFunc(spec, func(r rune) bool {
		return r == ':' || r == ',' || r == ';' || r == ' ' || r == '\t'
	}) {
		op := byte(0)
		switch item[0] {
		case '!', '-', '+':
			op, item = item[0], item[1:]
		}
		if lv, ok := strings.CutPrefix(item, "@SECLEVEL="); ok && len(lv) == 1 && lv[0] >= '0' && lv[0] <= '5' {
			secLevel = int(lv[0] - '0')
			continue
		}
		if item == "" || item[0] == '@' {
			continue // @STRENGTH: order only
		}
		match := matcher(item)
		for i := range opensslCiphers {
			if killed[i] || !match(&opensslCiphers[i]) {
				continue
			}
			switch op {
			case 0:
				active[i] = true
			case '-':
				active[i] = false
			case '!':
				active[i], killed[i] = false, true
			}
		}
	}
	sel := CipherSelection{SecLevel: secLevel}
	gs := goSuites()
	kDHE := aliasIndex("kDHE")
	psk, srp, anon := aliasIndex("PSK"), aliasIndex("SRP"), aliasIndex("aNULL")
	for i, c := range opensslCiphers {
		if !active[i] {
			continue
		}
		sel.Names = append(sel.Names, c.name)
		switch {
		case gs[c.id]:
			sel.Go = append(sel.Go, c.id)
		case c.in(psk) || c.in(srp) || c.in(anon):
			sel.Unusable = append(sel.Unusable, c.name)
		default:
			sel.Lacking = append(sel.Lacking, c.name)
			if c.in(kDHE) {
				sel.LackingDH = append(sel.LackingDH, c.name)
			}
		}
	}
	if len(sel.Names) == 0 {
		return sel, ErrNoCipherMatch
	}
	return sel, nil
}

func aliasIndex(name string) int {
	for i, a := range aliasNames {
		if a == name {
			return i
		}
	}
	panic("tlsconf: unknown alias " + name)
}

// matcher returns the predicate of one cipher-string item without its
// operator: a cipher name, or aliases joined by '+'. An unknown word
// matches nothing, as in OpenSSL.
func matcher(item string) func(*opensslCipher) bool {
	var idx []int
	for _, w := range strings.Split(item, "+") {
		found := -1
		for i, a := range aliasNames {
			if a == w {
				found = i
				break
			}
		}
		if found < 0 {
			if !strings.Contains(item, "+") {
				return func(c *opensslCipher) bool { return c.name == w }
			}
			return func(*opensslCipher) bool { return false }
		}
		idx = append(idx, found)
	}
	return func(c *opensslCipher) bool {
		for _, i := range idx {
			if !c.in(i) {
				return false
			}
		}
		return true
	}
}

// TLS13Suites are the TLS 1.3 cipher suites OpenSSL 3.0 knows, by name.
var tls13Suites = map[string]uint16{
	"TLS_AES_128_GCM_SHA256":       tls.TLS_AES_128_GCM_SHA256,
	"TLS_AES_256_GCM_SHA384":       tls.TLS_AES_256_GCM_SHA384,
	"TLS_CHACHA20_POLY1305_SHA256": tls.TLS_CHACHA20_POLY1305_SHA256,
	"TLS_AES_128_CCM_SHA256":       0x1304,
	"TLS_AES_128_CCM_8_SHA256":     0x1305,
}

// SuiteSelection is the result of a `ciphersuites` (TLS 1.3) string.
type SuiteSelection struct {
	Names []string // the suites selected, as written
	// GoExtra are suites crypto/tls still offers though the string does
	// not select them (Go's TLS 1.3 suites cannot be chosen).
	GoExtra []string
	// Lacking are selected suites crypto/tls does not implement (CCM).
	Lacking []string
}

// Ciphersuites evaluates a TLS 1.3 `ciphersuites` string as
// SSL_CTX_set_ciphersuites does: names separated by ':', unknown names
// skipped, ErrNoCipherMatch when a non-empty string selects nothing; an
// empty string disables TLS 1.3.
func Ciphersuites(spec string) (SuiteSelection, error) {
	var sel SuiteSelection
	chosen := map[string]bool{}
	for _, n := range strings.Split(spec, ":") {
		if n == "" {
			continue
		}
		if _, ok := tls13Suites[n]; ok && !chosen[n] {
			chosen[n] = true
			sel.Names = append(sel.Names, n)
		}
	}
	if spec != "" && len(sel.Names) == 0 {
		return sel, ErrNoCipherMatch
	}
	for _, n := range sel.Names {
		if !goTLS13(n) {
			sel.Lacking = append(sel.Lacking, n)
		}
	}
	if len(sel.Names) > 0 {
		for _, n := range []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"} {
			if !chosen[n] {
				sel.GoExtra = append(sel.GoExtra, n)
			}
		}
	}
	return sel, nil
}

func goTLS13(name string) bool {
	id := tls13Suites[name]
	for _, s := range tls.CipherSuites() {
		if s.ID == id {
			return true
		}
	}
	return false
}

// Usable says whether any selected suite can be negotiated by Go; when
// false, TLS 1.3 is off (OpenSSL with an empty or CCM-only list; halo
// cannot offer CCM).
func (s SuiteSelection) Usable() bool { return len(s.Names) > len(s.Lacking) }

// CipherName is OpenSSL's name of a negotiated suite (what HAProxy logs
// in %sslc and ssl_fc_cipher returns).
func CipherName(id uint16) string {
	for n, s := range tls13Suites {
		if s == id {
			return n
		}
	}
	for i := range opensslCiphers {
		if opensslCiphers[i].id == id {
			return opensslCiphers[i].name
		}
	}
	return tls.CipherSuiteName(id) // a suite this OpenSSL lacks (3DES, RC4)
}

// VersionString is OpenSSL's name of a negotiated protocol version
// (%sslv, ssl_fc_protocol): "TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1".
func VersionString(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS10:
		return "TLSv1"
	}
	return ""
}

// KeyBits are the symmetric key sizes of a suite: the bits used and the
// bits the algorithm supports (ssl_fc_use_keysize, ssl_fc_alg_keysize).
func KeyBits(id uint16) (use, alg int) {
	n := CipherName(id)
	switch {
	case strings.Contains(n, "AES128") || strings.Contains(n, "AES_128"):
		return 128, 128
	case strings.Contains(n, "AES256") || strings.Contains(n, "AES_256") || strings.Contains(n, "CHACHA20"):
		return 256, 256
	case strings.Contains(n, "DES-CBC3") || strings.Contains(n, "3DES"):
		return 112, 168
	case strings.Contains(n, "RC4"):
		return 128, 128
	}
	return 0, 0
}
