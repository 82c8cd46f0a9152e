package proxy

import (
	"bufio"
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
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// backend is a test origin server (net/http is fine here: it is not the
// proxy's data path). It echoes the request it saw.
type backend struct {
	ln    net.Listener
	name  string
	conns atomic.Int64
	srv   *http.Server
}

func newBackend(t *testing.T, name string, h http.HandlerFunc) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{ln: ln, name: name}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Backend", name)
			var hs []string
			for k, v := range r.Header {
				hs = append(hs, strings.ToLower(k)+"="+strings.Join(v, ","))
			}
			fmt.Fprintf(w, "%s %s %s %s body=%d\n", name, r.Method, r.RequestURI, r.Proto, len(body))
			for _, h := range hs {
				fmt.Fprintln(w, h)
			}
		}
	}
	b.srv = &http.Server{Handler: h, ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.conns.Add(1)
		}
	}}
	go b.srv.Serve(ln)
	t.Cleanup(func() { b.srv.Close() })
	return b
}

func (b *backend) addr() netip.AddrPort { return netip.MustParseAddrPort(b.ln.Addr().String()) }

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p
}

func testServer(name string, ap netip.AddrPort) *Server {
	return &Server{Name: name, Addr: ap.Addr(), Port: int(ap.Port()), Weight: 1, Resolved: true}
}

// startProxy runs cfg and returns the first frontend's address.
func startProxy(t *testing.T, cfg *Config, mods ...Module) (*Runtime, string) {
	t.Helper()
	for _, p := range cfg.Proxies {
		for i := range p.Binds {
			if p.Binds[i].Addr.Port() == 0 {
				p.Binds[i].Addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(freePort(t)))
			}
		}
	}
	rt, err := New(cfg, mods...)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.HardStop)
	return rt, cfg.Proxies[0].Binds[0].Addr.String()
}

func httpConfig(servers ...*Server) *Config {
	be := &Proxy{Name: "app", Cap: CapBE, Mode: ModeHTTP, Servers: servers, Retries: 3,
		Timeouts: Timeouts{Connect: time.Second, Server: 5 * time.Second}}
	fe := &Proxy{Name: "fe", Cap: CapFE, Mode: ModeHTTP, DefaultBackend: be,
		Binds:    []Bind{{Network: "tcp"}},
		Timeouts: Timeouts{Client: 5 * time.Second, HTTPRequest: 2 * time.Second}}
	return &Config{Proxies: []*Proxy{fe, be}}
}

func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, raw string) (*http.Response, string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestHTTPForwarding(t *testing.T) {
	b1 := newBackend(t, "b1", nil)
	b2 := newBackend(t, "b2", nil)
	cfg := httpConfig(testServer("s1", b1.addr()), testServer("s2", b2.addr()))
	cfg.Proxies[0].Forwardfor = Forwardfor{Enabled: true}
	_, addr := startProxy(t, cfg)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	tests := []struct {
		name, raw  string
		wantStatus int
		wantBody   []string
	}{
		{"simple GET", "GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"b1 GET /a?x=1 HTTP/1.1 body=0", "x-forwarded-for=127.0.0.1"}},
		{"round robin", "GET /b HTTP/1.1\r\nHost: h\r\n\r\n", 200, []string{"b2 GET /b"}},
		{"content-length body", "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", 200, []string{"b1 POST /p HTTP/1.1 body=5"}},
		{"chunked body", "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n\r\n", 200, []string{"b2 POST /c HTTP/1.1 body=8"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := roundTrip(t, c, br, tc.raw)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.wantStatus, body)
			}
			for _, w := range tc.wantBody {
				if !strings.Contains(body, w) {
					t.Errorf("body %q lacks %q", body, w)
				}
			}
		})
	}
}

func TestHTTPErrors(t *testing.T) {
	b1 := newBackend(t, "b1", nil)
	dead := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(freePort(t)))
	tests := []struct {
		name       string
		servers    []*Server
		raw        string
		wantStatus int
		wantClose  bool
		wantPage   string
	}{
		{"garbage", []*Server{testServer("s1", b1.addr())}, "GARBAGE\r\n\r\n", 400, true, string(DefaultErrorPage(400))},
		{"conflicting content-length", []*Server{testServer("s1", b1.addr())}, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, true, string(DefaultErrorPage(400))},
		{"no server", nil, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 503, false, "No server is available"},
		{"refused", []*Server{testServer("s1", dead)}, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 503, false, "No server is available"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := httpConfig(tc.servers...)
			cfg.Proxies[1].Retries = 1
			cfg.Proxies[1].Timeouts.Connect = 100 * time.Millisecond
			_, addr := startProxy(t, cfg)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, tc.raw)
			br := bufio.NewReader(c)
			if tc.wantClose {
				all, _ := io.ReadAll(br)
				if string(all) != tc.wantPage {
					t.Fatalf("got %q, want %q", all, tc.wantPage)
				}
				return
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), tc.wantPage) {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
		})
	}
}

func TestTCPMode(t *testing.T) {
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
				// Echo until the client half-closes, then answer "bye".
				io.Copy(c, c)
				io.WriteString(c, "bye")
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	be := &Proxy{Name: "bt", Cap: CapBE, Mode: ModeTCP, Retries: 3,
		Servers:  []*Server{testServer("s1", netip.MustParseAddrPort(ln.Addr().String()))},
		Timeouts: Timeouts{Connect: time.Second, Server: 5 * time.Second}}
	fe := &Proxy{Name: "ft", Cap: CapFE, Mode: ModeTCP, DefaultBackend: be, Binds: []Bind{{Network: "tcp"}},
		Timeouts: Timeouts{Client: 5 * time.Second}}
	_, addr := startProxy(t, &Config{Proxies: []*Proxy{fe, be}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	payload := strings.Repeat("x", 3<<20)
	go func() {
		io.WriteString(c, payload)
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != payload+"bye" {
		t.Fatalf("got %d bytes, want %d", len(got), len(payload)+3)
	}
}

func writeSelfSigned(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "halo.test"},
		DNSNames: []string{"halo.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})...)
	path := filepath.Join(t.TempDir(), "site.pem")
	if err := os.WriteFile(path, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTLSOffload(t *testing.T) {
	b1 := newBackend(t, "b1", nil)
	cfg := httpConfig(testServer("s1", b1.addr()))
	cfg.Proxies[0].Binds[0].SSL = true
	cfg.Proxies[0].Binds[0].Certs = []string{writeSelfSigned(t)}
	var sawSNI atomic.Value
	mod := Module{Name: "test", Request: func(tx *Txn, px *Proxy) Verdict {
		if tx.SSL && tx.TLS != nil {
			sawSNI.Store(tx.TLS.ServerName)
		}
		return Continue
	}}
	_, addr := startProxy(t, cfg, mod)
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "halo.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, body := roundTrip(t, c, bufio.NewReader(c), "GET /tls HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp.StatusCode != 200 || !strings.Contains(body, "b1 GET /tls") {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if sni, _ := sawSNI.Load().(string); sni != "halo.test" {
		t.Fatalf("hook saw SNI %q", sni)
	}
}

func TestKeepAliveReuseAndModes(t *testing.T) {
	b1 := newBackend(t, "b1", nil)
	tests := []struct {
		name      string
		mode      ConnMode
		wantConns int64 // backend connections after 3 requests on one client connection
	}{
		{"keep-alive reuses the server connection", ConnKeepAlive, 1},
		{"http-server-close opens one per request", ConnServerClose, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := b1.conns.Load()
			cfg := httpConfig(testServer("s1", b1.addr()))
			cfg.Proxies[1].ConnMode = tc.mode
			_, addr := startProxy(t, cfg)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for i := 0; i < 3; i++ {
				resp, _ := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
				if resp.StatusCode != 200 || resp.Close {
					t.Fatalf("request %d: %d close=%v", i, resp.StatusCode, resp.Close)
				}
			}
			if got := b1.conns.Load() - before; got != tc.wantConns {
				t.Fatalf("backend saw %d connections, want %d", got, tc.wantConns)
			}
		})
	}
}

func TestHTTP10AndClose(t *testing.T) {
	b1 := newBackend(t, "b1", nil)
	_, addr := startProxy(t, httpConfig(testServer("s1", b1.addr())))
	tests := []struct {
		name, raw string
		wantConn  string // Connection header of the answer
		wantEOF   bool
	}{
		{"HTTP/1.0 closes", "GET / HTTP/1.0\r\n\r\n", "close", true},
		{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "keep-alive", false},
		{"HTTP/1.1 close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "close", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			resp, _ := roundTrip(t, c, br, tc.raw)
			got := resp.Header.Get("Connection")
			if resp.Close {
				got = "close" // net/http strips "Connection: close" into Close
			}
			if got != tc.wantConn {
				t.Errorf("Connection %q, want %q", got, tc.wantConn)
			}
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			_, err = br.ReadByte()
			if gotEOF := err == io.EOF; gotEOF != tc.wantEOF {
				t.Errorf("EOF after answer: %v (err %v), want %v", gotEOF, err, tc.wantEOF)
			}
		})
	}
}

func TestExpect100Continue(t *testing.T) {
	b1 := newBackend(t, "b1", nil) // net/http answers 100 Continue when the handler reads the body
	_, addr := startProxy(t, httpConfig(testServer("s1", b1.addr())))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "PUT /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("interim answer %q %v", line, err)
	}
	if l, _ := br.ReadString('\n'); l != "\r\n" {
		t.Fatalf("interim head not empty: %q", l)
	}
	io.WriteString(c, "data")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "PUT /up HTTP/1.1 body=4") {
		t.Fatalf("body %q", body)
	}
}

func TestWebSocketUpgrade(t *testing.T) {
	// Origin: answers the upgrade with 101, then echoes upper-cased bytes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		// (HAProxy refuses a WebSocket 101 without its accept key.)
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
		buf := make([]byte, 64)
		for {
			n, err := br.Read(buf)
			if err != nil {
				return
			}
			c.Write([]byte(strings.ToUpper(string(buf[:n]))))
		}
	}()
	cfg := httpConfig(testServer("s1", netip.MustParseAddrPort(ln.Addr().String())))
	cfg.Proxies[1].Timeouts.Tunnel = 2 * time.Second
	_, addr := startProxy(t, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade answer %v %v", resp, err)
	}
	io.WriteString(c, "hello")
	buf := make([]byte, 5)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "HELLO" {
		t.Fatalf("tunnel echoed %q %v", buf, err)
	}
}

func TestSoftStopFinishesInFlight(t *testing.T) {
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "done")
	})
	rt, addr := startProxy(t, httpConfig(testServer("s1", slow.addr())))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	rt.SoftStop()
	if _, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		t.Error("still accepting after soft stop")
	}
	c.SetDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "done" {
		t.Fatalf("body %q", body)
	}
	select {
	case <-rt.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("runtime did not stop after the last connection")
	}
}

func TestProxyProtocol(t *testing.T) {
	// Origin that records the first line it gets (the PROXY header from
	// send-proxy) and answers one request.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	firstLine := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		l, _ := br.ReadString('\n')
		firstLine <- l
		var xff string
		for {
			h, err := br.ReadString('\n')
			if err != nil || h == "\r\n" {
				break
			}
			if strings.HasPrefix(h, "x-forwarded-for: ") {
				xff = strings.TrimSpace(h[len("x-forwarded-for: "):])
			}
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(xff), xff)
	}()
	srv := testServer("s1", netip.MustParseAddrPort(ln.Addr().String()))
	srv.SendProxy = true
	cfg := httpConfig(srv)
	cfg.Proxies[0].Binds[0].AcceptProxy = true
	cfg.Proxies[0].Forwardfor = Forwardfor{Enabled: true}
	_, addr := startProxy(t, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, body := roundTrip(t, c, bufio.NewReader(c), "PROXY TCP4 192.0.2.7 198.51.100.1 4242 80\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp.StatusCode != 200 || body != "192.0.2.7" {
		t.Fatalf("X-Forwarded-For from the PROXY header: %d %q", resp.StatusCode, body)
	}
	if l := <-firstLine; l != "PROXY TCP4 192.0.2.7 198.51.100.1 4242 80\r\n" {
		t.Fatalf("send-proxy wrote %q", l)
	}
}

func TestProxyHeaderV2(t *testing.T) {
	hdr := append([]byte(nil), v2sig...)
	hdr = append(hdr, 0x21, 0x11, 0, 12, 10, 0, 0, 1, 10, 0, 0, 2, 0x1f, 0x90, 0, 80)
	a, b := net.Pipe()
	defer a.Close()
	go func() { b.Write(append(hdr, "GET"...)); b.Close() }()
	src, dst, ok, err := readProxyHeader(a, time.Second)
	if err != nil || !ok || src.String() != "10.0.0.1:8080" || dst.String() != "10.0.0.2:80" {
		t.Fatalf("%v %v %v %v", src, dst, ok, err)
	}
	rest, _ := io.ReadAll(a)
	if string(rest) != "GET" {
		t.Fatalf("consumed past the header: %q", rest)
	}
}

func TestServerSSL(t *testing.T) {
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls=%v", r.TLS != nil)
	}))
	defer origin.Close()
	srv := testServer("s1", netip.MustParseAddrPort(origin.Listener.Addr().String()))
	srv.SSL, srv.Verify = true, "none"
	_, addr := startProxy(t, httpConfig(srv))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		resp, body := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp.StatusCode != 200 || body != "tls=true" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
}

func TestFrontendMaxconnQueuesInBacklog(t *testing.T) {
	b1 := newBackend(t, "b1", nil)
	cfg := httpConfig(testServer("s1", b1.addr()))
	cfg.Proxies[0].Maxconn = 1
	_, addr := startProxy(t, cfg)
	a, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	roundTrip(t, a, bufio.NewReader(a), "GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
	// The second connection completes in the kernel but is not served
	// while the first holds the only slot.
	b, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	io.WriteString(b, "GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
	b.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := b.Read(make([]byte, 1)); n != 0 || !isTimeout(err) {
		t.Fatalf("second connection served over maxconn: n=%d err=%v", n, err)
	}
	a.Close()
	b.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(b), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("queued connection not served after the slot freed: %v %v", resp, err)
	}
}

func TestListenAddresses(t *testing.T) {
	tests := []struct {
		name, bind, dial string
		v6only           bool
	}{
		{name: "ipv4", bind: "127.0.0.1", dial: "127.0.0.1"},
		{name: "all ipv4 (:port)", bind: "", dial: "127.0.0.1"},
		{name: "ipv6 loopback", bind: "::1", dial: "[::1]"},
		{name: "[::] dual stack takes ipv4", bind: "::", dial: "127.0.0.1"},
		{name: "[::] v6only takes ipv6", bind: "::", dial: "[::1]", v6only: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			port := uint16(freePort(t))
			var a netip.Addr
			if tc.bind != "" {
				a = netip.MustParseAddr(tc.bind)
			}
			b := &Bind{Network: "tcp", Addr: netip.AddrPortFrom(a, port), V6Only: tc.v6only, Backlog: 16}
			ln, err := listen(b, &Proxy{})
			if err != nil {
				if strings.Contains(err.Error(), "cannot assign") || strings.Contains(err.Error(), "not supported") {
					t.Skipf("no IPv6 here: %v", err)
				}
				t.Fatal(err)
			}
			defer ln.Close()
			c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", tc.dial, port), time.Second)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			c.Close()
		})
	}
}

// rawOrigin answers every connection with fn (after reading the request head).
func rawOrigin(t *testing.T, fn func(c net.Conn)) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					l, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if l == "\r\n" {
						break
					}
				}
				fn(c)
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

func TestServerSideErrors(t *testing.T) {
	tests := []struct {
		name       string
		origin     func(c net.Conn)
		wantStatus int
	}{
		{"server closes without answering", func(c net.Conn) {}, 502},
		{"server answers garbage", func(c net.Conn) { io.WriteString(c, "hello\r\n\r\n") }, 502},
		{"server too slow", func(c net.Conn) { time.Sleep(time.Second) }, 504},
		{"bad chunked body with the head", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
		}, 502},
		{"bad chunked body after the head", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
			time.Sleep(100 * time.Millisecond)
			io.WriteString(c, "zz\r\n")
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := httpConfig(testServer("s1", rawOrigin(t, tc.origin)))
			cfg.Proxies[1].Timeouts.Server = 300 * time.Millisecond
			_, addr := startProxy(t, cfg)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(3 * time.Second))
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, berr := io.ReadAll(resp.Body)
			if tc.wantStatus == 0 {
				// Head already forwarded: the body is cut short.
				if resp.StatusCode != 200 || berr == nil {
					t.Fatalf("got %d, body %q err %v", resp.StatusCode, body, berr)
				}
				return
			}
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("Content-Type") != "text/html" ||
				!strings.Contains(string(body), fmt.Sprintf("<h1>%d ", tc.wantStatus)) {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
		})
	}
}

func TestClientTimeout408(t *testing.T) {
	b1 := newBackend(t, "b1", nil)
	cfg := httpConfig(testServer("s1", b1.addr()))
	cfg.Proxies[0].Timeouts.HTTPRequest = 200 * time.Millisecond
	_, addr := startProxy(t, cfg)
	tests := []struct {
		name, send string
		want       string
	}{
		{"silent connection", "", string(DefaultErrorPage(408))},
		{"incomplete head", "GET / HTTP/1.1\r\nHost: a\r\n", string(DefaultErrorPage(408))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(3 * time.Second))
			io.WriteString(c, tc.send)
			start := time.Now()
			all, _ := io.ReadAll(c)
			if string(all) != tc.want {
				t.Fatalf("got %q", all)
			}
			if el := time.Since(start); el < 150*time.Millisecond || el > 2*time.Second {
				t.Fatalf("answered after %v, want about 200ms", el)
			}
		})
	}
}

func TestErrorfileReframed(t *testing.T) {
	// As HAProxy 2.6: header names lower-cased, Connection moved to the
	// end, and an errorfile saying close (or without a length) closes.
	raw := "HTTP/1.1 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\nX-Custom: Yes\r\n\r\n<h1>custom 503</h1>\n"
	cfg := httpConfig()
	cfg.Proxies[1].ErrorFiles = map[int][]byte{503: []byte(raw)}
	_, addr := startProxy(t, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	all, err := io.ReadAll(c)
	want := "HTTP/1.1 503 Service Unavailable\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nx-custom: Yes\r\nconnection: close\r\n\r\n<h1>custom 503</h1>\n"
	if err != nil || string(all) != want {
		t.Fatalf("got %q (%v), want %q", all, err, want)
	}
}

func TestChunkedResponseNormalized(t *testing.T) {
	origin := rawOrigin(t, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;foo=bar\r\nok\r\n")
		time.Sleep(50 * time.Millisecond) // the rest arrives after the head
		io.WriteString(c, "00A\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n")
	})
	_, addr := startProxy(t, httpConfig(testServer("s1", origin)))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	want := "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\na\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n"
	got := make([]byte, 0, len(want))
	buf := make([]byte, 256)
	for len(got) < len(want) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestNbthreadSetsGOMAXPROCS(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	tests := []struct {
		name     string
		nbthread int
		want     int
	}{
		{"set", 1, 1},
		{"unset keeps the default", 0, 1}, // the previous case's value stays
		{"two", 2, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := httpConfig(&Server{Name: "s", Addr: netip.MustParseAddr("127.0.0.1"), Port: 9})
			cfg.Global.Nbthread = tc.nbthread
			startProxy(t, cfg)
			if got := runtime.GOMAXPROCS(0); got != tc.want {
				t.Errorf("GOMAXPROCS = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestCPUMap: cpu-map binds each loop's thread to its CPUs (HAProxy's
// threads), and traffic still flows through both loops.
func TestCPUMap(t *testing.T) {
	var allowed unix.CPUSet
	if unix.SchedGetaffinity(0, &allowed) != nil || allowed.Count() < 2 {
		t.Skip("needs two CPUs the process may use")
	}
	var cpus []int
	for c := 0; len(cpus) < 2; c++ {
		if allowed.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	b1 := newBackend(t, "b1", nil)
	cfg := httpConfig(testServer("s1", b1.addr()))
	cfg.Global.Nbthread = 2
	cfg.Global.CPUMap = [][]int{{cpus[1]}, {cpus[0]}}
	prev := runtime.GOMAXPROCS(0)
	defer func() {
		runtime.GOMAXPROCS(prev)
		evloopBindAll(allowed)
	}()
	rt, addr := startProxy(t, cfg)
	for i, want := range []int{cpus[1], cpus[0]} {
		got := make(chan unix.CPUSet, 1)
		rt.loops[i].l.Post(func() {
			var s unix.CPUSet
			unix.SchedGetaffinity(0, &s)
			got <- s
		})
		s := <-got
		if s.Count() != 1 || !s.IsSet(want) {
			t.Errorf("loop %d runs on %d CPUs, want only CPU %d", i, s.Count(), want)
		}
	}
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := roundTrip(t, c, bufio.NewReader(c), "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		c.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// evloopBindAll gives every thread of the test process the CPUs back.
func evloopBindAll(s unix.CPUSet) {
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, e := range tasks {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			_ = unix.SchedSetaffinity(tid, &s)
		}
	}
}
