package main

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPKI is a CA with server and client certificates for TLS tests.
type testPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  crypto.Signer
	serial int64
}

func newTestPKI(t *testing.T) *testPKI {
	p := &testPKI{dir: t.TempDir(), serial: 100}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "halo test CA", Organization: []string{"halo"}},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.caKey = k
	p.write(t, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return p
}

func (p *testPKI) write(t *testing.T, name string, data []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue writes NAME.pem (certificate and key) signed by the CA and
// returns its path and the tls.Certificate.
func (p *testPKI) issue(t *testing.T, name string, subj pkix.Name, dns []string, client bool, notAfter time.Time) (string, tls.Certificate) {
	p.serial++
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	eku := x509.ExtKeyUsageServerAuth
	if client {
		eku = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial), Subject: subj, DNSNames: dns,
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{eku}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &k.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})...)
	c, err := tls.X509KeyPair(data, data)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, name+".pem", data), c
}

func (p *testPKI) crl(t *testing.T, revoked ...*big.Int) string {
	var entries []x509.RevocationListEntry
	for _, s := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Hour)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour),
		NextUpdate: time.Now().Add(24 * time.Hour), RevokedCertificateEntries: entries}, p.ca, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, "crl.pem", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
}

// startBoth runs HAProxy and halo on the same configuration (PORT
// replaced by each one's port) and returns their addresses.
func startBoth(t *testing.T, cfgText string) (hap, halo string) {
	h, l := startBothPorts(t, cfgText, 1)
	return h[0], l[0]
}

// startBothPorts is startBoth with n ports: PORT, PORT2, … PORTn.
func startBothPorts(t *testing.T, cfgText string, n int) (hap, halo []string) {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("haproxy not installed")
	}
	subst := func(ports []int) string {
		s := cfgText
		for i := n; i >= 1; i-- {
			name := "PORT"
			if i > 1 {
				name = fmt.Sprintf("PORT%d", i)
			}
			s = strings.ReplaceAll(s, name, fmt.Sprint(ports[i-1]))
		}
		return s
	}
	var hp, lp []int
	for i := 0; i < n; i++ {
		hp, lp = append(hp, freeTCPPort(t)), append(lp, freeTCPPort(t))
		hap = append(hap, fmt.Sprintf("127.0.0.1:%d", hp[i]))
		halo = append(halo, fmt.Sprintf("127.0.0.1:%d", lp[i]))
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(subst(hp)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("haproxy", "-db", "-f", path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	runEngine(t, subst(lp))
	for _, p := range hp {
		waitPort(t, p)
	}
	return hap, halo
}

// tlsGet sends GET / over TLS and returns "HANDSHAKE-FAILED", or the
// negotiated version, ALPN, certificate CN and the response body.
func tlsGet(addr string, conf *tls.Config) string {
	c, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		return "HANDSHAKE-FAILED"
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return "WRITE-FAILED"
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		// TLS 1.3 reports a refused client certificate after the
		// handshake, on the first read.
		return "HANDSHAKE-FAILED"
	}
	body, _ := io.ReadAll(resp.Body)
	cs := c.ConnectionState()
	return fmt.Sprintf("%s alpn=%q cn=%s | %s", tls.VersionName(cs.Version), cs.NegotiatedProtocol,
		cs.PeerCertificates[0].Subject.CommonName, strings.TrimSpace(string(body)))
}

// TestTLSFeaturesAgainstHAProxy compares what clients get from HAProxy
// and halo on crt-list SNI filters and options, strict-sni, client
// certificates (verify, ca-file, crl-file, crt-ignore-err) and the ssl_c_*
// and ssl_fc_* fetches: the same answers, byte for byte.
func TestTLSFeaturesAgainstHAProxy(t *testing.T) {
	pki := newTestPKI(t)
	aPath, _ := pki.issue(t, "a", pkix.Name{CommonName: "a.test"}, []string{"a.test"}, false, time.Now().Add(24*time.Hour))
	bPath, _ := pki.issue(t, "b", pkix.Name{CommonName: "b.test"}, []string{"*.b.test"}, false, time.Now().Add(24*time.Hour))
	dPath, _ := pki.issue(t, "d", pkix.Name{CommonName: "default.test"}, []string{"default.test"}, false, time.Now().Add(24*time.Hour))
	_, good := pki.issue(t, "client", pkix.Name{CommonName: "alice", Organization: []string{"Example, Inc."}, OrganizationalUnit: []string{"dev", "ops"}, Country: []string{"FR"}}, nil, true, time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC))
	_, expired := pki.issue(t, "expired", pkix.Name{CommonName: "bob"}, nil, true, time.Now().Add(-time.Hour))
	_, revoked := pki.issue(t, "revoked", pkix.Name{CommonName: "eve"}, nil, true, time.Now().Add(24*time.Hour))
	crl := pki.crl(t, revoked.Leaf.SerialNumber)
	list := pki.write(t, "list.txt", []byte(fmt.Sprintf("%s\n%s [alpn http/1.1 ssl-max-ver TLSv1.2] a.test\n# comment\n%s *.b.test !bad.b.test\n", dPath, aPath, bPath)))
	caFile := filepath.Join(pki.dir, "ca.pem")
	body := `%[ssl_fc_protocol]|%[ssl_fc_sni]|%[ssl_c_used]|%[ssl_c_verify]|%[ssl_c_err]|%[ssl_c_ca_err]|%[ssl_c_s_dn]|%[ssl_c_s_dn(OU,2)]|%[ssl_c_s_dn(OU,-1)]|%[ssl_c_s_dn(,0,rfc2253)]|%[ssl_c_i_dn(CN)]|%[ssl_c_serial,hex]|%[ssl_c_notafter]|%[ssl_c_version]|%[ssl_c_sig_alg]|%[ssl_c_key_alg]|%[ssl_c_sha1,hex]`
	cfg := fmt.Sprintf(`global
    ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend sni
    bind 127.0.0.1:PORT ssl crt-list %s strict-sni alpn h2,http/1.1
    http-request return status 200 content-type text/plain lf-string "%%[ssl_fc_sni]|%%[ssl_fc_alpn]"
`, list)
	t.Run("crt-list and strict-sni", func(t *testing.T) {
		hap, halo := startBoth(t, cfg)
		for _, sni := range []string{"a.test", "x.b.test", "bad.b.test", "default.test", "nope.test", ""} {
			conf := &tls.Config{InsecureSkipVerify: true, ServerName: sni, NextProtos: []string{"http/1.1"}}
			h, l := tlsGet(hap, conf), tlsGet(halo, conf)
			if h != l {
				t.Errorf("sni %q:\n haproxy: %s\n halo:    %s", sni, h, l)
			}
		}
	})
	mtls := func(verify, extra string) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend mtls
    bind 127.0.0.1:PORT ssl crt %s verify %s ca-file %s %s
    http-request return status 200 content-type text/plain lf-string "%s"
`, dPath, verify, caFile, extra, body)
	}
	for _, tc := range []struct {
		name, verify, extra string
	}{
		{"verify required", "required", ""},
		{"verify optional", "optional", ""},
		{"crl-file", "required", "crl-file " + crl},
		{"crt-ignore-err", "optional", "crt-ignore-err 10"},
		{"crt-ignore-err all", "required", "crt-ignore-err all ca-ignore-err all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hap, halo := startBoth(t, mtls(tc.verify, tc.extra))
			for _, cl := range []struct {
				name string
				cert []tls.Certificate
				max  uint16
			}{{"none", nil, 0}, {"good", []tls.Certificate{good}, 0}, {"good tls1.2", []tls.Certificate{good}, tls.VersionTLS12},
				{"expired", []tls.Certificate{expired}, tls.VersionTLS12}, {"revoked", []tls.Certificate{revoked}, tls.VersionTLS12}} {
				conf := &tls.Config{InsecureSkipVerify: true, ServerName: "default.test", Certificates: cl.cert, MaxVersion: cl.max}
				h, l := tlsGet(hap, conf), tlsGet(halo, conf)
				if h != l {
					t.Errorf("client %s:\n haproxy: %s\n halo:    %s", cl.name, h, l)
				}
			}
		})
	}
}
