package acl

import (
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strconv"
	"strings"

	"halo/proxy"
	"halo/proxy/tlsconf"
)

// TLSTxn is implemented by transaction views that can show the client
// connection's TLS handshake (ssl_fc_*) and client certificate check
// (ssl_c_*). A view without it, or returning nil, has no TLS.
type TLSTxn interface {
	TLSState() *tls.ConnectionState
	ClientCert() *proxy.ClientCertCheck
}

// ServerTLSTxn is implemented by views that can show the server
// connection's TLS handshake (ssl_bc_*, ssl_s_*).
type ServerTLSTxn interface {
	ServerTLSState() *tls.ConnectionState
}

func serverTLSState(c *Ctx) *tls.ConnectionState {
	if t, ok := c.T.(ServerTLSTxn); ok {
		return t.ServerTLSState()
	}
	return nil
}

func tlsState(c *Ctx) *tls.ConnectionState {
	if t, ok := c.T.(TLSTxn); ok {
		return t.TLSState()
	}
	return nil
}

// clientCert is the certificate the client presented (also on resumed
// sessions, whose tickets carry it), nil without one.
func clientCert(c *Ctx) *x509.Certificate {
	if cs := tlsState(c); cs != nil && len(cs.PeerCertificates) > 0 {
		return cs.PeerCertificates[0]
	}
	return nil
}

func certCheck(c *Ctx) *proxy.ClientCertCheck {
	if t, ok := c.T.(TLSTxn); ok {
		return t.ClientCert()
	}
	return nil
}

func sslStr(c *Ctx, s string, st *int) (Value, bool) {
	if !once(st) || s == "" {
		return Value{}, false
	}
	b := append(c.scratchBuf(), s...)
	c.keepScratch(b)
	return Value{Kind: KStr, B: b}, true
}

func sslBin(b []byte, st *int) (Value, bool) {
	if !once(st) || b == nil {
		return Value{}, false
	}
	return Value{Kind: KStr, B: b}, true
}

func sslInt(n int, ok bool, st *int) (Value, bool) {
	if !once(st) || !ok {
		return Value{}, false
	}
	return Value{Kind: KInt, I: int64(n)}, true
}

// sslCertFetches are the ssl_fc_* and ssl_c_* fetches (configuration.txt
// §7.3.4): the client connection's TLS state and client certificate.
func sslCertFetches() []*fetchDef {
	var out []*fetchDef
	def := func(d *fetchDef) { out = append(out, d) }
	fc := func(name string, out Kind, m matchKind, fn func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool)) {
		def(&fetchDef{name: name, out: out, match: m, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			cs := tlsState(c)
			if cs == nil {
				*st = -1
				return Value{}, false
			}
			return fn(c, cs, st)
		}})
	}
	fc("ssl_fc_protocol", KStr, mStr, func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool) {
		return sslStr(c, tlsconf.VersionString(cs.Version), st)
	})
	fc("ssl_fc_cipher", KStr, mStr, func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool) {
		return sslStr(c, tlsconf.CipherName(cs.CipherSuite), st)
	})
	fc("ssl_fc_alpn", KStr, mStr, func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool) {
		return sslStr(c, cs.NegotiatedProtocol, st)
	})
	fc("ssl_fc_is_resumed", KBool, mBool, func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		return boolVal(cs.DidResume), true
	})
	fc("ssl_fc_use_keysize", KInt, mInt, func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool) {
		u, _ := tlsconf.KeyBits(cs.CipherSuite)
		return sslInt(u, true, st)
	})
	fc("ssl_fc_alg_keysize", KInt, mInt, func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool) {
		_, a := tlsconf.KeyBits(cs.CipherSuite)
		return sslInt(a, true, st)
	})
	fc("ssl_fc_has_crt", KBool, mBool, func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool) {
		// A certificate sent in this very handshake, not a resumed one.
		if !once(st) {
			return Value{}, false
		}
		return boolVal(len(cs.PeerCertificates) > 0 && !cs.DidResume), true
	})
	fc("ssl_c_used", KBool, mBool, func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		return boolVal(len(cs.PeerCertificates) > 0), true
	})
	check := func(name string, get func(r *proxy.ClientCertCheck) int) {
		fc(name, KInt, mInt, func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool) {
			n := 0
			if r := certCheck(c); r != nil {
				n = get(r)
			}
			return sslInt(n, true, st)
		})
	}
	check("ssl_c_verify", func(r *proxy.ClientCertCheck) int { return r.Verify })
	check("ssl_c_err", func(r *proxy.ClientCertCheck) int { return r.CrtErr })
	check("ssl_c_ca_err", func(r *proxy.ClientCertCheck) int { return r.CAErr })
	check("ssl_c_ca_err_depth", func(r *proxy.ClientCertCheck) int { return r.CAErrDepth })
	crt := func(name string, out Kind, m matchKind, maxArgs int, fn func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool)) {
		def(&fetchDef{name: name, out: out, match: m, maxArgs: maxArgs, compile: dnArgs, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			x := clientCert(c)
			if x == nil {
				*st = -1
				return Value{}, false
			}
			return fn(c, f, x, st)
		}})
	}
	crt("ssl_c_s_dn", KStr, mStr, 3, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return dnValue(c, f, x.RawSubject, st)
	})
	crt("ssl_c_i_dn", KStr, mStr, 3, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return dnValue(c, f, x.RawIssuer, st)
	})
	crt("ssl_c_serial", KStr, mBin, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return sslBin(x.SerialNumber.Bytes(), st)
	})
	crt("ssl_c_sha1", KStr, mBin, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		sum := sha1.Sum(x.Raw)
		return sslBin(append(c.scratchBuf(), sum[:]...), st)
	})
	crt("ssl_c_der", KStr, mBin, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return sslBin(x.Raw, st)
	})
	crt("ssl_c_notafter", KStr, mStr, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return sslStr(c, certTime(x, 1), st)
	})
	crt("ssl_c_notbefore", KStr, mStr, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return sslStr(c, certTime(x, 0), st)
	})
	crt("ssl_c_version", KInt, mInt, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return sslInt(x.Version, true, st)
	})
	crt("ssl_c_sig_alg", KStr, mStr, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return sslStr(c, sigAlgName(x.SignatureAlgorithm), st)
	})
	crt("ssl_c_key_alg", KStr, mStr, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return sslStr(c, keyAlgName(x.PublicKeyAlgorithm), st)
	})
	def(&fetchDef{name: "ssl_c_chain_der", out: KStr, match: mBin, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		// The chain the client sent after its own certificate, as
		// OpenSSL's server-side peer chain.
		cs := tlsState(c)
		if cs == nil || len(cs.PeerCertificates) < 2 || !once(st) {
			*st = -1
			return Value{}, false
		}
		b := c.scratchBuf()
		for _, x := range cs.PeerCertificates[1:] {
			b = append(b, x.Raw...)
		}
		c.keepScratch(b)
		return Value{Kind: KStr, B: b}, true
	}})
	out = append(out, serverSSLFetches()...)
	return out
}

// serverSSLFetches are ssl_bc_* (the server connection's TLS session) and
// ssl_s_* (the server's certificate).
func serverSSLFetches() []*fetchDef {
	var out []*fetchDef
	bc := func(name string, k Kind, m matchKind, fn func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool)) {
		out = append(out, &fetchDef{name: name, out: k, match: m, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			cs := serverTLSState(c)
			if cs == nil {
				*st = -1
				return Value{}, false
			}
			return fn(c, cs, st)
		}})
	}
	out = append(out, &fetchDef{name: "ssl_bc", out: KBool, match: mBool, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		return boolVal(serverTLSState(c) != nil), true
	}})
	bc("ssl_bc_protocol", KStr, mStr, func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool) {
		return sslStr(c, tlsconf.VersionString(cs.Version), st)
	})
	bc("ssl_bc_cipher", KStr, mStr, func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool) {
		return sslStr(c, tlsconf.CipherName(cs.CipherSuite), st)
	})
	bc("ssl_bc_alpn", KStr, mStr, func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool) {
		return sslStr(c, cs.NegotiatedProtocol, st)
	})
	bc("ssl_bc_is_resumed", KBool, mBool, func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		return boolVal(cs.DidResume), true
	})
	bc("ssl_bc_use_keysize", KInt, mInt, func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool) {
		u, _ := tlsconf.KeyBits(cs.CipherSuite)
		return sslInt(u, true, st)
	})
	bc("ssl_bc_alg_keysize", KInt, mInt, func(c *Ctx, cs *tls.ConnectionState, st *int) (Value, bool) {
		_, a := tlsconf.KeyBits(cs.CipherSuite)
		return sslInt(a, true, st)
	})
	srv := func(name string, k Kind, m matchKind, maxArgs int, fn func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool)) {
		out = append(out, &fetchDef{name: name, out: k, match: m, maxArgs: maxArgs, compile: dnArgs, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			cs := serverTLSState(c)
			if cs == nil || len(cs.PeerCertificates) == 0 {
				*st = -1
				return Value{}, false
			}
			return fn(c, f, cs.PeerCertificates[0], st)
		}})
	}
	srv("ssl_s_s_dn", KStr, mStr, 3, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return dnValue(c, f, x.RawSubject, st)
	})
	srv("ssl_s_i_dn", KStr, mStr, 3, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return dnValue(c, f, x.RawIssuer, st)
	})
	srv("ssl_s_serial", KStr, mBin, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return sslBin(x.SerialNumber.Bytes(), st)
	})
	srv("ssl_s_sha1", KStr, mBin, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		sum := sha1.Sum(x.Raw)
		return sslBin(append(c.scratchBuf(), sum[:]...), st)
	})
	srv("ssl_s_der", KStr, mBin, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return sslBin(x.Raw, st)
	})
	srv("ssl_s_notafter", KStr, mStr, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return sslStr(c, certTime(x, 1), st)
	})
	srv("ssl_s_notbefore", KStr, mStr, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return sslStr(c, certTime(x, 0), st)
	})
	srv("ssl_s_version", KInt, mInt, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return sslInt(x.Version, true, st)
	})
	srv("ssl_s_sig_alg", KStr, mStr, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return sslStr(c, sigAlgName(x.SignatureAlgorithm), st)
	})
	srv("ssl_s_key_alg", KStr, mStr, 0, func(c *Ctx, f *fetch, x *x509.Certificate, st *int) (Value, bool) {
		return sslStr(c, keyAlgName(x.PublicKeyAlgorithm), st)
	})
	out = append(out, &fetchDef{name: "ssl_s_chain_der", out: KStr, match: mBin, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		// Client side, OpenSSL's peer chain holds the leaf too.
		cs := serverTLSState(c)
		if cs == nil || len(cs.PeerCertificates) == 0 || !once(st) {
			*st = -1
			return Value{}, false
		}
		b := c.scratchBuf()
		for _, x := range cs.PeerCertificates {
			b = append(b, x.Raw...)
		}
		c.keepScratch(b)
		return Value{Kind: KStr, B: b}, true
	}})
	return out
}

// dnArgs compiles ([entry[,occurrence[,format]]]) of the DN fetches.
func dnArgs(f *fetch, o *Options) error {
	if len(f.args) > 1 && f.args[1] != "" {
		n, err := strconv.Atoi(f.args[1])
		if err != nil {
			return fmt.Errorf("invalid occurrence '%s'", f.args[1])
		}
		f.occ = n
	}
	return nil
}

// certTime is a certificate's notBefore (which 0) or notAfter (1) as
// HAProxy prints it, YYMMDDhhmmssZ whatever the ASN.1 Time type (a
// GeneralizedTime loses its century, as in ssl_sock_get_time).
func certTime(x *x509.Certificate, which int) string {
	tm := x.NotBefore
	if which == 1 {
		tm = x.NotAfter
	}
	return tm.UTC().Format("060102150405") + "Z"
}

// OpenSSL's short names of signature and key algorithms (OBJ_nid2sn).
func sigAlgName(a x509.SignatureAlgorithm) string {
	switch a {
	case x509.SHA1WithRSA:
		return "RSA-SHA1"
	case x509.SHA256WithRSA:
		return "RSA-SHA256"
	case x509.SHA384WithRSA:
		return "RSA-SHA384"
	case x509.SHA512WithRSA:
		return "RSA-SHA512"
	case x509.MD5WithRSA:
		return "RSA-MD5"
	case x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
		return "RSASSA-PSS"
	case x509.ECDSAWithSHA1:
		return "ecdsa-with-SHA1"
	case x509.ECDSAWithSHA256:
		return "ecdsa-with-SHA256"
	case x509.ECDSAWithSHA384:
		return "ecdsa-with-SHA384"
	case x509.ECDSAWithSHA512:
		return "ecdsa-with-SHA512"
	case x509.PureEd25519:
		return "ED25519"
	case x509.DSAWithSHA1:
		return "DSA-SHA1"
	case x509.DSAWithSHA256:
		return "dsa_with_SHA256"
	}
	return "UNDEF"
}

func keyAlgName(a x509.PublicKeyAlgorithm) string {
	switch a {
	case x509.RSA:
		return "rsaEncryption"
	case x509.ECDSA:
		return "id-ecPublicKey"
	case x509.Ed25519:
		return "ED25519"
	case x509.DSA:
		return "dsaEncryption"
	}
	return "UNDEF"
}

// dnShort are OpenSSL's short names of distinguished name attributes.
var dnShort = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
	"2.5.4.5": "serialNumber", "2.5.4.9": "street", "2.5.4.17": "postalCode", "2.5.4.4": "SN",
	"2.5.4.42": "GN", "2.5.4.12": "title", "2.5.4.43": "initials", "2.5.4.46": "dnQualifier",
	"1.2.840.113549.1.9.1": "emailAddress", "0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1": "UID", "2.5.4.97": "organizationIdentifier",
}

// dnValue is ssl_c_s_dn/ssl_c_i_dn: with no entry, the whole DN in
// OpenSSL's one-line form ("/C=FR/O=Org/CN=name") or, with format
// rfc2253, "CN=name,O=Org,C=FR"; with an entry, its value at occurrence
// occ (1: first from the start, -1: first from the end; 0: first).
func dnValue(c *Ctx, f *fetch, raw []byte, st *int) (Value, bool) {
	if !once(st) {
		return Value{}, false
	}
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) > 0 {
		return Value{}, false
	}
	var atvs []pkix.AttributeTypeAndValue
	var set []int // RDN index of each attribute (multi-valued RDNs share one)
	for i, rdn := range seq {
		atvs = append(atvs, rdn...)
		for range rdn {
			set = append(set, i)
		}
	}
	name := func(t asn1.ObjectIdentifier) string {
		s := t.String()
		if n, ok := dnShort[s]; ok {
			return n
		}
		return s
	}
	val := func(v any) string {
		switch x := v.(type) {
		case string:
			return x
		case []byte:
			return string(x)
		}
		return ""
	}
	entry := ""
	if len(f.args) > 0 {
		entry = f.args[0]
	}
	if entry != "" {
		occ := f.occ
		if occ == 0 {
			occ = 1
		}
		n := 0
		for i := range atvs {
			j := i
			if occ < 0 {
				j = len(atvs) - 1 - i
			}
			if name(atvs[j].Type) != entry {
				continue
			}
			n++
			if n == occ || -n == occ {
				return Value{Kind: KStr, B: append(c.scratchBuf(), val(atvs[j].Value)...)}, true
			}
		}
		return Value{}, false
	}
	b := c.scratchBuf()
	if len(f.args) > 2 && f.args[2] == "rfc2253" {
		// OpenSSL's XN_FLAG_RFC2253: every attribute in reverse order,
		// '+' between those of one multi-valued RDN, ',' between RDNs.
		for i := len(atvs) - 1; i >= 0; i-- {
			if i < len(atvs)-1 {
				if set[i] == set[i+1] {
					b = append(b, '+')
				} else {
					b = append(b, ',')
				}
			}
			b = append(b, name(atvs[i].Type)...)
			b = append(b, '=')
			b = appendRFC2253(b, val(atvs[i].Value))
		}
	} else {
		for _, a := range atvs {
			b = append(b, '/')
			b = append(b, name(a.Type)...)
			b = append(b, '=')
			b = append(b, val(a.Value)...)
		}
	}
	c.keepScratch(b)
	return Value{Kind: KStr, B: b}, true
}

// appendRFC2253 escapes an attribute value as RFC 2253 §2.4 says.
func appendRFC2253(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		ch := v[i]
		switch {
		case strings.IndexByte(",+\"\\<>;", ch) >= 0,
			i == 0 && (ch == '#' || ch == ' '),
			i == len(v)-1 && ch == ' ':
			b = append(b, '\\', ch)
		case ch < 0x20 || ch == 0x7f:
			b = append(b, '\\')
			b = strconv.AppendUint(b, uint64(ch)>>4, 16)
			b = strconv.AppendUint(b, uint64(ch)&15, 16)
		default:
			b = append(b, ch)
		}
	}
	return b
}
