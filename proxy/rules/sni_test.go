package rules_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"testing"
	"time"

	"halo/proxy"
	"halo/proxy/rules"
)

// selfSigned makes a certificate for the given names.
func selfSigned(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsEcho starts a TLS server on an ephemeral port answering
// "name sni=<SNI>" after the handshake.
func tlsEcho(t *testing.T, name string, cert tls.Certificate) *proxy.Server {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				tc.SetDeadline(time.Now().Add(5 * time.Second))
				if tc.Handshake() != nil {
					return
				}
				fmt.Fprintf(tc, "%s sni=%s", name, tc.ConnectionState().ServerName)
			}()
		}
	}()
	return &proxy.Server{Name: name, ID: 1, Addr: netip.MustParseAddr("127.0.0.1"), Port: port, Weight: 1,
		Resolved: true, Rise: 2, Fall: 3}
}

// slowConn splits its first write so the ClientHello reaches the proxy in
// two segments 100 ms apart.
type slowConn struct {
	net.Conn
	done bool
}

func (s *slowConn) Write(b []byte) (int, error) {
	if s.done || len(b) < 20 {
		return s.Conn.Write(b)
	}
	s.done = true
	n, err := s.Conn.Write(b[:10])
	if err != nil {
		return n, err
	}
	time.Sleep(100 * time.Millisecond)
	m, err := s.Conn.Write(b[10:])
	return n + m, err
}

func sniCrit(fetch string, flags []string, vals ...string) *proxy.Cond {
	return &proxy.Cond{Or: [][]proxy.CondTerm{{{ACL: &proxy.ACL{Criteria: []*proxy.Criterion{
		{Fetch: fetch, Flags: flags, Values: vals}}}}}}}
}

// TestSNIRouting routes TLS clients by the SNI of their ClientHello in
// mode tcp (TLS passthrough): the handshake completes with the chosen
// backend, which sees the client's SNI (the bytes went through unchanged).
func TestSNIRouting(t *testing.T) {
	bind := freeAddr(t)
	cert := selfSigned(t, "a.example.com", "x.b.example.com", "c.example.com")
	to := proxy.Timeouts{Connect: time.Second, Server: 5 * time.Second, Client: 5 * time.Second}
	be := func(name string, id int) *proxy.Proxy {
		return &proxy.Proxy{Name: name, ID: id, Cap: proxy.CapBE, Mode: proxy.ModeTCP, Timeouts: to,
			Servers: []*proxy.Server{tlsEcho(t, name, cert)}}
	}
	ba, bb, bc := be("be_a", 2), be("be_b", 3), be("be_c", 4)
	fe := &proxy.Proxy{Name: "fe", ID: 1, Cap: proxy.CapFE, Mode: proxy.ModeTCP, Timeouts: to,
		Binds:          []proxy.Bind{{Network: "tcp", Addr: bind}},
		DefaultBackend: bc,
		TCPRequest: []*proxy.TCPRule{
			{Stage: "inspect-delay", Args: []string{"5s"}},
			{Stage: "content", Action: "accept", Cond: sniCrit("req_ssl_hello_type", nil, "1")},
		},
		UseBackends: []proxy.UseBackend{
			{Backend: ba, Cond: sniCrit("req.ssl_sni", []string{"-i"}, "a.example.com")},
			{Backend: bb, Cond: sniCrit("req_ssl_sni", []string{"-m", "end"}, ".b.example.com")},
		},
	}
	cfg := &proxy.Config{Global: proxy.Global{Maxconn: 100}, Proxies: []*proxy.Proxy{fe, ba, bb, bc}}
	rt, err := proxy.New(cfg, rules.New().Module())
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	defer rt.HardStop()

	tests := []struct {
		name string
		sni  string
		slow bool
		want string
	}{
		{"exact, case-insensitive", "A.example.com", false, "be_a sni=A.example.com"},
		{"suffix", "x.b.example.com", false, "be_b sni=x.b.example.com"},
		{"hello in two segments", "x.b.example.com", true, "be_b sni=x.b.example.com"},
		{"other name goes to default", "c.example.com", false, "be_c sni=c.example.com"},
	}
	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	pool.AddCert(leaf)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := net.Dial("tcp", bind.String())
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(5 * time.Second))
			var c net.Conn = raw
			if tc.slow {
				c = &slowConn{Conn: raw}
			}
			tc2 := tls.Client(c, &tls.Config{ServerName: tc.sni, RootCAs: pool})
			if err := tc2.Handshake(); err != nil {
				t.Fatalf("handshake through the proxy: %v", err)
			}
			b, err := io.ReadAll(tc2)
			if err != nil && len(b) == 0 {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got %q, want %q", b, tc.want)
			}
		})
	}
}
