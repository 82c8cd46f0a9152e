package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"os"
	"testing"
	"time"
)

// expiredCert is a certificate whose validity ended a year ago: what
// backends behind `verify none` often present.
func expiredCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "old.test"},
		DNSNames: []string{"old.test"}, NotBefore: time.Now().Add(-2 * 365 * 24 * time.Hour), NotAfter: time.Now().Add(-365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestServerSessionReuse: connections to an `ssl` server resume the
// previous session as HAProxy's do (ssl_bc_is_resumed), also when the
// server's certificate has expired under `verify none`, and never with
// no-ssl-reuse.
func TestServerSessionReuse(t *testing.T) {
	cert := expiredCert(t)
	for _, tc := range []struct {
		name    string
		tls     ServerTLS
		resumed bool
	}{
		{"tls1.2", ServerTLS{TLSParams: TLSParams{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}}, true},
		{"tls1.3", ServerTLS{TLSParams: TLSParams{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13}}, true},
		{"sni", ServerTLS{TLSParams: TLSParams{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13}, SNI: "old.test"}, true},
		{"no-ssl-reuse", ServerTLS{TLSParams: TLSParams{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13}, NoReuse: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						c.Write([]byte("x")) // TLS 1.3 sends its ticket after the handshake
						io.Copy(io.Discard, c)
					}()
				}
			}()
			st := tc.tls
			conf, err := serverTLSConfig(&Server{Name: "s1", SSL: true, TLS: &st}, ModeHTTP, os.ReadFile)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				nc, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				c := tls.Client(nc, conf)
				nc.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
					t.Fatal(err)
				}
				got := c.ConnectionState().DidResume
				c.Close()
				if want := tc.resumed && i > 0; got != want {
					t.Fatalf("connection %d: resumed %v, want %v", i, got, want)
				}
			}
		})
	}
}

// TestBindSessionResumption: a bind resumes sessions with tickets, and
// under no-tls-tickets from its own session cache (HAProxy resumes there
// through OpenSSL's cache), in TLS 1.2 and 1.3.
func TestBindSessionResumption(t *testing.T) {
	pemPath := writeSelfSigned(t)
	for _, tc := range []struct {
		name      string
		noTickets bool
		version   uint16
	}{
		{"tickets-1.2", false, tls.VersionTLS12},
		{"tickets-1.3", false, tls.VersionTLS13},
		{"no-tls-tickets-1.2", true, tls.VersionTLS12},
		{"no-tls-tickets-1.3", true, tls.VersionTLS13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &Bind{TLS: &BindTLS{TLSParams: TLSParams{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13, NoTickets: tc.noTickets},
				Certs: []CertEntry{{Path: pemPath}}}}
			tb, err := newTLSBind(b, ModeHTTP, false, os.ReadFile)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						tc := tls.Server(c, tb.base)
						defer tc.Close()
						tc.Write([]byte("x"))
						io.Copy(io.Discard, tc)
					}()
				}
			}()
			cl := &tls.Config{InsecureSkipVerify: true, ServerName: "halo.test", MinVersion: tc.version, MaxVersion: tc.version,
				ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			for i := 0; i < 3; i++ {
				c, err := tls.Dial("tcp", ln.Addr().String(), cl)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
					t.Fatal(err)
				}
				got := c.ConnectionState().DidResume
				c.Close()
				if got != (i > 0) {
					t.Fatalf("connection %d: resumed %v", i, got)
				}
			}
		})
	}
}

func TestSessionCacheBounds(t *testing.T) {
	c := newSessionCache(2, time.Hour)
	ss := &tls.SessionState{}
	var names [][]byte
	for i := 0; i < 3; i++ {
		n, err := c.wrap(tls.ConnectionState{}, ss)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if len(c.entries) != 2 {
		t.Fatalf("%d entries kept, want 2", len(c.entries))
	}
	if got, _ := c.unwrap(names[0], tls.ConnectionState{}); got != nil {
		t.Fatal("the oldest session survived eviction")
	}
	if got, _ := c.unwrap([]byte("short"), tls.ConnectionState{}); got != nil {
		t.Fatal("a malformed name resumed")
	}
	exp := newSessionCache(2, time.Nanosecond)
	n, _ := exp.wrap(tls.ConnectionState{}, ss)
	time.Sleep(time.Millisecond)
	if got, _ := exp.unwrap(n, tls.ConnectionState{}); got != nil {
		t.Fatal("an expired session resumed")
	}
}
