package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"
)

// sessionEpoch and sessionStart shift the clock crypto/tls reads for
// client sessions. Go drops a cached session whose server certificate
// has expired, even under `verify none`; OpenSSL, hence HAProxy, resumes
// it, and backends with expired or self-signed certificates behind
// `verify none` are common. Only differences of this clock matter (ticket
// age, session lifetime), which stay real. Certificate checks do not read
// it: `verify required` runs x509 verification at the real time
// (VerifyConnection).
var (
	sessionEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	sessionStart = time.Now()
)

func sessionClock() time.Time { return sessionEpoch.Add(time.Since(sessionStart)) }

// serverTLSConfig builds the client-side TLS configuration of a
// `server … ssl` line: protocol range and ciphers, ALPN, the client
// certificate (crt), and the server certificate check of `verify
// required`: against ca-file (the system roots without one), crl-file,
// and the name of verifyhost, else of sni, else none (HAProxy checks a
// name only when one of them gives it).
func serverTLSConfig(s *Server, mode Mode, read fileReader) (*tls.Config, error) {
	t := s.TLS
	if t == nil {
		t = &ServerTLS{Verify: s.Verify, TLSParams: TLSParams{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13}}
	}
	c := &tls.Config{
		MinVersion:             t.MinVersion,
		MaxVersion:             t.MaxVersion,
		CipherSuites:           t.CipherSuites,
		SessionTicketsDisabled: t.NoTickets,
		ServerName:             t.SNI,
		// The check is ours (VerifyConnection), as OpenSSL's: name only
		// when configured.
		InsecureSkipVerify: true,
	}
	if !t.NoReuse {
		c.ClientSessionCache = tls.NewLRUClientSessionCache(64)
		c.Time = sessionClock
	}
	switch {
	case len(t.ALPN) > 0:
		for _, p := range t.ALPN {
			// mode http speaks h2 (h2client.go) and http/1.x to
			// servers; another protocol is not offered.
			if mode == ModeHTTP && p != "h2" && p != "http/1.1" && p != "http/1.0" {
				continue
			}
			c.NextProtos = append(c.NextProtos, p)
		}
	case mode == ModeHTTP && s.TLS == nil:
		c.NextProtos = []string{"http/1.1"}
	}
	if t.Crt != "" {
		cert, err := loadCertFile(t.Crt, false)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	// OpenSSL presents the configured certificate whatever CAs the
	// server names; crypto/tls would send none when they do not match.
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if len(c.Certificates) == 0 {
			return &tls.Certificate{}, nil
		}
		return &c.Certificates[0], nil
	}
	if t.Verify != "required" {
		return c, nil
	}
	var roots *x509.CertPool
	if t.CAFile != "" {
		data, err := read(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("unable to load CA file '%s': %v", t.CAFile, err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("unable to load CA file '%s': no certificate found", t.CAFile)
		}
	}
	var crls *clientVerifier
	if t.CRLFile != "" {
		v, err := newClientVerifier(&BindTLS{CRLFile: t.CRLFile}, read)
		if err != nil {
			return nil, err
		}
		crls = v
	}
	name := t.VerifyHost
	if name == "" {
		name = t.SNI
	}
	if name != "" {
		if h, _, err := net.SplitHostPort(name); err == nil {
			name = h
		}
	}
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("server sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, ic := range cs.PeerCertificates[1:] {
			inter.AddCert(ic)
		}
		chains, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: name})
		if err != nil {
			return err
		}
		if crls != nil {
			ch := chains[0]
			for d, cert := range ch[:len(ch)-1] {
				l := crls.crlFor(ch[d+1])
				if l == nil {
					return fmt.Errorf("no CRL for the issuer of '%s'", cert.Subject)
				}
				if l.isRevoked(cert.SerialNumber) {
					return fmt.Errorf("certificate '%s' is revoked", cert.Subject)
				}
			}
		}
		return nil
	}
	return c, nil
}
