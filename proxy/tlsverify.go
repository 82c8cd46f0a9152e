package proxy

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
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
	pool *x509.CertPool
	crls []*x509.RevocationList
}

func newClientVerifier(o *BindTLS) (*clientVerifier, error) {
	v := &clientVerifier{conf: o}
	if o.CAFile != "" {
		data, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("unable to load CA file '%s': %v", o.CAFile, err)
		}
		v.pool = x509.NewCertPool()
		if !v.pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("unable to load CA file '%s': no certificate found", o.CAFile)
		}
	}
	if o.CRLFile != "" {
		data, err := os.ReadFile(o.CRLFile)
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
func parseCRLs(data []byte) ([]*x509.RevocationList, error) {
	var out []*x509.RevocationList
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		l, err := x509.ParseRevocationList(data)
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
		l, err := x509.ParseRevocationList(b.Bytes)
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
	// Validity periods first, each at its depth; the chain is then built
	// at a moment every certificate was valid, so a tolerated expiry does
	// not hide a trust error.
	at := now
	for d, c := range chain {
		switch {
		case now.Before(c.NotBefore):
			report(x509ErrCertNotYetValid, d)
			at = c.NotBefore.Add(time.Second)
		case now.After(c.NotAfter):
			report(x509ErrCertHasExpired, d)
			at = c.NotAfter.Add(-time.Second)
		}
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	roots := v.pool
	if roots == nil {
		roots = x509.NewCertPool() // no ca-file: nothing is trusted
	}
	chains, err := chain[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	var verified []*x509.Certificate
	switch e := err.(type) {
	case nil:
		verified = chains[0]
	case x509.UnknownAuthorityError:
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
			for _, rc := range crl.RevokedCertificateEntries {
				if rc.SerialNumber.Cmp(c.SerialNumber) == 0 {
					report(x509ErrCertRevoked, d)
					break
				}
			}
		}
	}
	return r, fatal
}

func (v *clientVerifier) crlFor(issuer *x509.Certificate) *x509.RevocationList {
	for _, l := range v.crls {
		if bytes.Equal(l.RawIssuer, issuer.RawSubject) && l.CheckSignatureFrom(issuer) == nil {
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
