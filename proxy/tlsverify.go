package proxy

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// OpenSSL's X509_V_ERR codes that client certificate checks report
// (ssl_c_verify, ssl_c_err, ssl_c_ca_err; ca-ignore-err/crt-ignore-err).
const (
	x509ErrUnableToGetIssuerCert   = 2
	x509ErrUnableToGetCRL          = 3
	x509ErrCertNotYetValid         = 9
	x509ErrCertHasExpired          = 10
	x509ErrDepthZeroSelfSigned     = 18
	x509ErrSelfSignedCertInChain   = 19
	x509ErrUnableToGetIssuerLocaly = 20
	x509ErrUnableToVerifyLeaf      = 21
	x509ErrCertRevoked             = 23
	x509ErrInvalidPurpose          = 26
)

// clientVerifier checks client certificates against a bind's ca-file and
// crl-file the way OpenSSL's verification reports to HAProxy's callback:
// each error carries a depth (0: the client's certificate); an error
// listed in crt-ignore-err (depth 0) or ca-ignore-err (depth > 0) is
// tolerated, any other fails the handshake.
type clientVerifier struct {
	conf *BindTLS
	// pool verifies client certificates: ca-file and ca-verify-file;
	// names are the CAs the CertificateRequest names: ca-file only.
	pool, names *x509.CertPool
	crls        []*crl
}

// crl is a certificate revocation list: v2 as x509.RevocationList parses
// it, or v1 (no version field, still issued by OpenSSL's `ca`).
type crl struct {
	rawIssuer []byte
	revoked   []*big.Int
	tbs, sig  []byte
	algo      x509.SignatureAlgorithm
	v2        *x509.RevocationList
}

// isRevoked says whether serial is listed.
func (l *crl) isRevoked(serial *big.Int) bool {
	for _, s := range l.revoked {
		if s.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}

// signedBy checks the CRL's signature with issuer's key. SHA-1
// signatures, which crypto/x509 refuses, are checked by hand: OpenSSL
// accepts them on CRLs.
func (l *crl) signedBy(issuer *x509.Certificate) bool {
	if l.v2 != nil && l.v2.CheckSignatureFrom(issuer) == nil {
		return true
	}
	if issuer.CheckSignature(l.algo, l.tbs, l.sig) == nil {
		return true
	}
	h := sha1.Sum(l.tbs)
	switch pub := issuer.PublicKey.(type) {
	case *rsa.PublicKey:
		return l.algo == x509.SHA1WithRSA && rsa.VerifyPKCS1v15(pub, crypto.SHA1, h[:], l.sig) == nil
	case *ecdsa.PublicKey:
		return l.algo == x509.ECDSAWithSHA1 && ecdsa.VerifyASN1(pub, h[:], l.sig)
	}
	return false
}

func newCRL(der []byte) (*crl, error) {
	if rl, err := x509.ParseRevocationList(der); err == nil {
		l := &crl{rawIssuer: rl.RawIssuer, tbs: rl.RawTBSRevocationList, sig: rl.Signature, algo: rl.SignatureAlgorithm, v2: rl}
		for _, e := range rl.RevokedCertificateEntries {
			l.revoked = append(l.revoked, e.SerialNumber)
		}
		return l, nil
	}
	//lint:ignore SA1019 x509.ParseCRL is the standard library's only parser of v1 CRLs, which OpenSSL still issues
	cl, err := x509.ParseCRL(der)
	if err != nil {
		return nil, err
	}
	var tbs asn1.RawValue
	var outer struct {
		TBS  asn1.RawValue
		Algo asn1.RawValue
		Sig  asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &outer); err != nil {
		return nil, err
	}
	tbs = outer.TBS
	// The issuer's bytes as signed (re-encoding could change string
	// types): TBSCertList is [version] signature issuer …
	var els []asn1.RawValue
	for rest := tbs.Bytes; len(rest) > 0 && len(els) < 4; {
		var el asn1.RawValue
		r, err := asn1.Unmarshal(rest, &el)
		if err != nil {
			return nil, err
		}
		els, rest = append(els, el), r
	}
	if len(els) > 0 && els[0].Tag == asn1.TagInteger {
		els = els[1:] // version
	}
	if len(els) < 2 {
		return nil, errors.New("truncated CRL")
	}
	issuer := els[1].FullBytes
	l := &crl{rawIssuer: issuer, tbs: tbs.FullBytes, sig: outer.Sig.RightAlign(),
		algo: sigAlgoOf(cl.SignatureAlgorithm.Algorithm)}
	for _, rc := range cl.TBSCertList.RevokedCertificates {
		l.revoked = append(l.revoked, rc.SerialNumber)
	}
	return l, nil
}

// sigAlgoOf maps the signature algorithm OIDs a v1 CRL may carry.
func sigAlgoOf(oid asn1.ObjectIdentifier) x509.SignatureAlgorithm {
	switch oid.String() {
	case "1.2.840.113549.1.1.5":
		return x509.SHA1WithRSA
	case "1.2.840.113549.1.1.11":
		return x509.SHA256WithRSA
	case "1.2.840.113549.1.1.12":
		return x509.SHA384WithRSA
	case "1.2.840.113549.1.1.13":
		return x509.SHA512WithRSA
	case "1.2.840.10045.4.1":
		return x509.ECDSAWithSHA1
	case "1.2.840.10045.4.3.2":
		return x509.ECDSAWithSHA256
	case "1.2.840.10045.4.3.3":
		return x509.ECDSAWithSHA384
	}
	return x509.UnknownSignatureAlgorithm
}

// fileReader reads a CA or CRL file: from disk, or the runtime API's
// version of it (tlscafile.go).
type fileReader func(path string) ([]byte, error)

func newClientVerifier(o *BindTLS, read fileReader) (*clientVerifier, error) {
	v := &clientVerifier{conf: o}
	for _, f := range []string{o.CAFile, o.CAVerifyFile} {
		if f == "" {
			continue
		}
		data, err := read(f)
		if err != nil {
			return nil, fmt.Errorf("unable to load CA file '%s': %v", f, err)
		}
		if v.pool == nil {
			v.pool = x509.NewCertPool()
		}
		if !v.pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("unable to load CA file '%s': no certificate found", f)
		}
		if f == o.CAFile {
			v.names = x509.NewCertPool()
			v.names.AppendCertsFromPEM(data)
		}
	}
	if o.CRLFile != "" {
		data, err := read(o.CRLFile)
		if err != nil {
			return nil, fmt.Errorf("unable to load CRL file '%s': %v", o.CRLFile, err)
		}
		if v.crls, err = parseCRLs(data); err != nil {
			return nil, fmt.Errorf("unable to load CRL file '%s': %v", o.CRLFile, err)
		}
	}
	return v, nil
}

// parseCRLs reads every CRL of a PEM file, or one DER CRL.
func parseCRLs(data []byte) ([]*crl, error) {
	var out []*crl
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		l, err := newCRL(data)
		if err != nil {
			return nil, err
		}
		return append(out, l), nil
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "X509 CRL" {
			continue
		}
		l, err := newCRL(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, errors.New("no CRL found")
	}
	return out, nil
}

// errClientCert fails a handshake; the code is the X509_V_ERR that was
// not ignored.
type errClientCert struct{ code, depth int }

func (e *errClientCert) Error() string {
	return fmt.Sprintf("client certificate verification failed: X509 error %d at depth %d", e.code, e.depth)
}

// check verifies a presented chain (leaf first). The returned check is
// what the fetches see; fatal is non-nil when the handshake must fail.
func (v *clientVerifier) check(chain []*x509.Certificate) (ClientCertCheck, error) {
	var r ClientCertCheck
	if len(chain) == 0 {
		return r, nil
	}
	r.Used = true
	var fatal error
	report := func(code, depth int) {
		if r.Verify == 0 {
			r.Verify = code
		}
		ignored := false
		if depth == 0 {
			if r.CrtErr == 0 {
				r.CrtErr = code
			}
			ignored = v.conf.CrtIgnoreAll || slices.Contains(v.conf.CrtIgnoreErr, code)
		} else {
			if r.CAErr == 0 {
				r.CAErr, r.CAErrDepth = code, depth
			}
			ignored = v.conf.CAIgnoreAll || slices.Contains(v.conf.CAIgnoreErr, code)
		}
		if !ignored && fatal == nil {
			fatal = &errClientCert{code: code, depth: depth}
		}
	}
	now := time.Now()
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	roots := v.pool
	if roots == nil {
		roots = x509.NewCertPool() // no ca-file: nothing is trusted
	}
	// OpenSSL builds the chain from the trusted certificates first (a
	// valid CA of ca-file wins over an expired copy the client sends),
	// then checks each certificate's dates at its depth. Here: build at
	// now, else at a moment the client's certificate was valid, and
	// report the dates of the chain built.
	verify := func(at time.Time) ([][]*x509.Certificate, error) {
		return chain[0].Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, CurrentTime: at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
	}
	chains, err := verify(now)
	if err != nil {
		leaf := chain[0]
		if c2, err2 := verify(leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)); err2 == nil {
			chains, err = c2, nil
		}
	}
	var verified []*x509.Certificate
	switch e := err.(type) {
	case nil:
		verified = chains[0]
		for d, c := range verified {
			switch {
			case now.Before(c.NotBefore):
				report(x509ErrCertNotYetValid, d)
			case now.After(c.NotAfter):
				report(x509ErrCertHasExpired, d)
			}
		}
	case x509.UnknownAuthorityError:
		for d, c := range chain {
			switch {
			case now.Before(c.NotBefore):
				report(x509ErrCertNotYetValid, d)
			case now.After(c.NotAfter):
				report(x509ErrCertHasExpired, d)
			}
		}
		last := chain[len(chain)-1]
		d := len(chain) - 1
		switch {
		case len(chain) == 1 && selfSigned(last):
			report(x509ErrDepthZeroSelfSigned, 0)
		case selfSigned(last):
			report(x509ErrSelfSignedCertInChain, d)
		default:
			report(x509ErrUnableToGetIssuerLocaly, d)
		}
	case x509.CertificateInvalidError:
		switch e.Reason {
		case x509.IncompatibleUsage:
			report(x509ErrInvalidPurpose, 0)
		case x509.Expired:
			report(x509ErrCertHasExpired, 0)
		default:
			report(x509ErrUnableToVerifyLeaf, 0)
		}
	default:
		report(x509ErrUnableToVerifyLeaf, 0)
	}
	if len(v.crls) > 0 && verified != nil {
		// OpenSSL with a crl-file checks every certificate of the chain
		// but the root (X509_V_FLAG_CRL_CHECK_ALL, as HAProxy sets).
		for d, c := range verified[:len(verified)-1] {
			issuer := verified[d+1]
			crl := v.crlFor(issuer)
			if crl == nil {
				report(x509ErrUnableToGetCRL, d)
				continue
			}
			if crl.isRevoked(c.SerialNumber) {
				report(x509ErrCertRevoked, d)
			}
		}
	}
	return r, fatal
}

func (v *clientVerifier) crlFor(issuer *x509.Certificate) *crl {
	for _, l := range v.crls {
		if bytes.Equal(l.rawIssuer, issuer.RawSubject) && l.signedBy(issuer) {
			return l
		}
	}
	return nil
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

// firstCertDER returns the DER of the first certificate in a PEM file.
func firstCertDER(data []byte) []byte {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil
		}
		if b.Type == "CERTIFICATE" {
			return b.Bytes
		}
	}
}
