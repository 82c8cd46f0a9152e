package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA makes a CA and a client certificate it signed.
func testCA(t *testing.T, name string) (caPEM []byte, client tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "client of " + name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestCAVerifyFile: ca-verify-file's CAs verify client certificates
// without being named in the CertificateRequest; ca-file's are both.
func TestCAVerifyFile(t *testing.T) {
	dir := t.TempDir()
	rootPEM, rootClient := testCA(t, "root")
	namedPEM, namedClient := testCA(t, "named")
	_, strangerClient := testCA(t, "stranger")
	root, named := filepath.Join(dir, "root.crt"), filepath.Join(dir, "named.crt")
	os.WriteFile(root, rootPEM, 0o600)
	os.WriteFile(named, namedPEM, 0o600)
	b := &Bind{TLS: &BindTLS{TLSParams: TLSParams{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13},
		Certs: []CertEntry{{Path: writeSelfSigned(t)}}, Verify: "required", CAFile: named, CAVerifyFile: root}}
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
				sc := tls.Server(c, tb.base)
				defer sc.Close()
				if sc.Handshake() == nil {
					sc.Write([]byte("x"))
				}
			}()
		}
	}()
	for _, tc := range []struct {
		name string
		cert tls.Certificate
		ok   bool
	}{
		{"ca-verify-file", rootClient, true},
		{"ca-file", namedClient, true},
		{"unknown CA", strangerClient, false},
	} {
		var names [][]byte
		conf := &tls.Config{InsecureSkipVerify: true, ServerName: "halo.test", MaxVersion: tls.VersionTLS12,
			GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
				names = cri.AcceptableCAs
				return &tc.cert, nil
			}}
		c, err := tls.Dial("tcp", ln.Addr().String(), conf)
		ok := err == nil
		if ok {
			c.SetDeadline(time.Now().Add(3 * time.Second))
			_, err = io.ReadFull(c, make([]byte, 1))
			ok = err == nil
			c.Close()
		}
		if ok != tc.ok {
			t.Errorf("%s: handshake ok=%v, want %v (%v)", tc.name, ok, tc.ok, err)
		}
		if len(names) != 1 {
			t.Errorf("%s: the CertificateRequest names %d CAs, want ca-file's only", tc.name, len(names))
		}
	}
}
