package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// tlsCase is one row of the testssl-style table: a TLS configuration
// both servers run, and the probes on which halo may differ from HAProxy
// because crypto/tls lacks what OpenSSL has (each said by `halo haproxy
// -c` as partial, or documented in proxy/tlsconf for the defaults).
type tlsCase struct {
	name   string
	global string // lines of the global section
	bind   string // bind options after `ssl crt CERT`
	ecdsa  bool   // serve an ECDSA certificate instead of RSA
	// goLacks are the probes HAProxy accepts and halo refuses.
	goLacks []string
	// goExtra are the probes halo accepts and HAProxy refuses.
	goExtra []string
	full    bool // probe every TLS 1.2 cipher OpenSSL has, not shortProbes12
}

// The default cipher list (OpenSSL's DEFAULT) selects suites crypto/tls
// does not implement; X448 and the FFDHE groups (TLS 1.3) neither.
var (
	defaultRSALacks   = []string{"tls1_2:ECDHE-RSA-AES256-SHA384", "tls1_2:AES256-SHA256", "group:X448", "group:ffdhe2048"}
	defaultECDSALacks = []string{"tls1_2:ECDHE-ECDSA-AES256-SHA384", "group:X448", "group:ffdhe2048"}
	tls12RSALacks     = []string{"tls1_2:ECDHE-RSA-AES256-SHA384", "tls1_2:AES256-SHA256"}
	groupLacks        = []string{"group:X448", "group:ffdhe2048"}
)

var tlsCases = []tlsCase{
	{name: "defaults", full: true, goLacks: defaultRSALacks},
	{name: "ecdsa defaults", full: true, ecdsa: true, goLacks: defaultECDSALacks},
	{name: "ssl-min-ver TLSv1.3", bind: "ssl-min-ver TLSv1.3", goLacks: groupLacks},
	{name: "ssl-max-ver TLSv1.2", bind: "ssl-max-ver TLSv1.2", goLacks: tls12RSALacks},
	{name: "no-tlsv13", bind: "no-tlsv13", goLacks: tls12RSALacks},
	{name: "no-tlsv12", bind: "no-tlsv12", goLacks: groupLacks},
	{name: "force-tlsv12", bind: "force-tlsv12", goLacks: tls12RSALacks},
	{name: "ssl-min-ver TLSv1.0 (refused by OpenSSL 3's security level)", bind: "ssl-min-ver TLSv1.0", goLacks: defaultRSALacks},
	{name: "explicit ciphers", bind: "ciphers ECDHE-RSA-AES128-GCM-SHA256:AES256-GCM-SHA384:ECDHE-RSA-AES256-SHA384 ssl-max-ver TLSv1.2",
		goLacks: []string{"tls1_2:ECDHE-RSA-AES256-SHA384"}},
	{name: "ssl-default-bind-ciphers expression", global: "ssl-default-bind-ciphers ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES256:ECDH+AES128:!aNULL:!SHA1:!AESCCM",
		goLacks: []string{"tls1_2:ECDHE-RSA-AES256-SHA384", "group:X448", "group:ffdhe2048"}},
	{name: "ssl-default-bind-options", global: "ssl-default-bind-options no-sslv3 no-tlsv13", goLacks: tls12RSALacks},
	{name: "HIGH", full: true, bind: "ciphers HIGH:!aNULL:!MD5",
		goLacks: []string{"tls1_2:ECDHE-RSA-AES256-SHA384", "tls1_2:AES256-SHA256", "tls1_2:ECDHE-ARIA256-GCM-SHA384",
			"tls1_2:ECDHE-ARIA128-GCM-SHA256", "tls1_2:ARIA256-GCM-SHA384", "tls1_2:ARIA128-GCM-SHA256",
			"tls1_2:AES256-CCM8", "tls1_2:AES256-CCM", "tls1_2:AES128-CCM8", "tls1_2:AES128-CCM",
			"tls1_2:ECDHE-RSA-CAMELLIA256-SHA384", "tls1_2:ECDHE-RSA-CAMELLIA128-SHA256", "tls1_2:CAMELLIA256-SHA256",
			"tls1_2:CAMELLIA128-SHA256", "group:X448", "group:ffdhe2048"}},
	{name: "ciphersuites (TLS 1.3 suites cannot be restricted in Go)", bind: "ciphersuites TLS_AES_256_GCM_SHA384",
		goLacks: defaultRSALacks, goExtra: []string{"tls1_3:TLS_AES_128_GCM_SHA256", "tls1_3:TLS_CHACHA20_POLY1305_SHA256"}},
	{name: "curves", bind: "curves X25519:P-256", goLacks: tls12RSALacks},
	{name: "ecdhe", bind: "ecdhe secp384r1 ssl-max-ver TLSv1.2", goLacks: tls12RSALacks},
}

// shortProbes12 are the TLS 1.2 ciphers probed in the rows that do not
// probe every cipher: Go's and the DEFAULT ones Go lacks.
var shortProbes12 = []string{"tls1_2:ECDHE-RSA-AES128-GCM-SHA256", "tls1_2:ECDHE-RSA-AES256-GCM-SHA384",
	"tls1_2:ECDHE-RSA-CHACHA20-POLY1305", "tls1_2:ECDHE-RSA-AES128-SHA", "tls1_2:ECDHE-RSA-AES256-SHA384",
	"tls1_2:AES128-GCM-SHA256", "tls1_2:AES256-GCM-SHA384", "tls1_2:AES256-SHA256", "tls1_2:AES128-SHA"}

// TestTLSTableAgainstHAProxy runs HAProxy and halo on the same TLS
// configuration and probes both with openssl s_client, one protocol
// version, one TLS 1.2 cipher, one TLS 1.3 suite or one group at a time:
// what a client can negotiate must be the same, except for the listed
// crypto/tls gaps.
func TestTLSTableAgainstHAProxy(t *testing.T) {
	for _, bin := range []string{"haproxy", "openssl"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	dir := t.TempDir()
	rsaPEM := writeTestCert(t, dir, "rsa.pem", false)
	ecPEM := writeTestCert(t, dir, "ec.pem", true)
	probes12 := func(auth string) []string {
		out, err := exec.Command("openssl", "ciphers", "-ciphersuites", "", auth+":@SECLEVEL=0").Output()
		if err != nil {
			t.Fatal(err)
		}
		var p []string
		for _, c := range strings.Split(strings.TrimSpace(string(out)), ":") {
			if !strings.Contains(c, "PSK") && !strings.Contains(c, "SRP") {
				p = append(p, "tls1_2:"+c)
			}
		}
		return p
	}
	common := []string{"version:tls1", "version:tls1_1", "version:tls1_2", "version:tls1_3",
		"tls1_3:TLS_AES_128_GCM_SHA256", "tls1_3:TLS_AES_256_GCM_SHA384", "tls1_3:TLS_CHACHA20_POLY1305_SHA256",
		"tls1_3:TLS_AES_128_CCM_SHA256", "group:X25519", "group:P-256", "group:P-384", "group:P-521",
		"group:X448", "group:ffdhe2048"}
	rsaProbes := append(slices.Clone(common), probes12("aRSA")...)
	ecProbes := append(slices.Clone(common), probes12("aECDSA")...)
	for _, tc := range tlsCases {
		t.Run(tc.name, func(t *testing.T) {
			cert, probes := rsaPEM, append(slices.Clone(common), shortProbes12...)
			switch {
			case tc.ecdsa:
				cert, probes = ecPEM, ecProbes
			case tc.full:
				probes = rsaProbes
			}
			hapPort, haloPort := freeTCPPort(t), freeTCPPort(t)
			cfgText := func(port int) string {
				return fmt.Sprintf("global\n    %s\ndefaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 5s\n"+
					"frontend f\n    bind 127.0.0.1:%d ssl crt %s %s\n    http-request return status 200 content-type text/plain string ok\n",
					tc.global, port, cert, tc.bind)
			}
			hapCfg := filepath.Join(t.TempDir(), "haproxy.cfg")
			if err := os.WriteFile(hapCfg, []byte(cfgText(hapPort)), 0o644); err != nil {
				t.Fatal(err)
			}
			hap := exec.Command("haproxy", "-db", "-f", hapCfg)
			if err := hap.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = hap.Process.Kill(); _ = hap.Wait() })
			runEngine(t, cfgText(haloPort))
			waitPort(t, hapPort)
			hapRes := runProbes(t, hapPort, probes)
			haloRes := runProbes(t, haloPort, probes)
			var lacks, extra []string
			for i, p := range probes {
				switch {
				case hapRes[i] && !haloRes[i]:
					lacks = append(lacks, p)
				case !hapRes[i] && haloRes[i]:
					extra = append(extra, p)
				}
			}
			slices.Sort(lacks)
			slices.Sort(extra)
			want, wantExtra := slices.Sorted(slices.Values(tc.goLacks)), slices.Sorted(slices.Values(tc.goExtra))
			if !slices.Equal(lacks, want) || !slices.Equal(extra, wantExtra) {
				t.Errorf("negotiable with HAProxy only: %v (want %v)\nnegotiable with halo only: %v (want %v)", lacks, want, extra, wantExtra)
			}
			n := 0
			for _, ok := range haloRes {
				if ok {
					n++
				}
			}
			if n == 0 {
				t.Fatal("halo negotiated nothing")
			}
		})
	}
}

var negotiated = regexp.MustCompile(`(?m)^New, (TLSv[0-9.]+), Cipher is (\S+)`)

// runProbes runs openssl s_client once per probe (a few at a time) and
// says which handshakes completed.
func runProbes(t *testing.T, port int, probes []string) []bool {
	res := make([]bool, len(probes))
	sem := make(chan struct{}, 6)
	var wg sync.WaitGroup
	for i, p := range probes {
		kind, arg, _ := strings.Cut(p, ":")
		args := []string{"s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port), "-servername", "halo.test"}
		switch kind {
		case "version":
			args = append(args, "-"+arg)
			if arg != "tls1_3" {
				args = append(args, "-cipher", "ALL:@SECLEVEL=0")
			}
		case "tls1_2":
			args = append(args, "-tls1_2", "-cipher", arg+":@SECLEVEL=0")
		case "tls1_3":
			args = append(args, "-tls1_3", "-ciphersuites", arg)
		case "group":
			args = append(args, "-groups", arg)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, _ := exec.CommandContext(ctx, "openssl", args...).CombinedOutput()
			m := negotiated.FindSubmatch(out)
			res[i] = m != nil && string(m[2]) != "(NONE)"
		}()
	}
	wg.Wait()
	return res
}

func freeTCPPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitPort(t *testing.T, port int) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on port %d", port)
}

// writeTestCert writes a self-signed certificate and its key for
// halo.test in one PEM file.
func writeTestCert(t *testing.T, dir, name string, ec bool) string {
	t.Helper()
	var pub, key any
	var keyPEM *pem.Block
	if ec {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalECPrivateKey(k)
		pub, key, keyPEM = &k.PublicKey, k, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	} else {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		pub, key, keyPEM = &k.PublicKey, k, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "halo.test", Organization: []string{"halo"}},
		DNSNames: []string{"halo.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(keyPEM)...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
