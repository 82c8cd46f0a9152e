package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// h1Origin is an HTTP/1.1 server (net/http: a test origin, not the data
// path) that shows what it received.
func h1Origin(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var hs []string
		for k, v := range r.Header {
			hs = append(hs, strings.ToLower(k)+"="+strings.Join(v, ","))
		}
		sort.Strings(hs)
		w.Header().Set("Content-Type", "text/plain")
		if r.URL.Path == "/chunked" {
			w.Header().Set("Trailer", "X-Trailer")
			w.WriteHeader(200)
			fmt.Fprintf(w, "part1-")
			w.(http.Flusher).Flush()
			fmt.Fprintf(w, "part2")
			w.Header().Set("X-Trailer", "done")
			return
		}
		fmt.Fprintf(w, "%s %s %s host=%s body=%q\n%s\n", r.Method, r.RequestURI, r.Proto, r.Host, body, strings.Join(hs, "\n"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// h2Client speaks HTTP/2 with prior knowledge (h2c) or over TLS with ALPN.
func h2Client(tlsOn bool) *http.Client {
	var p http.Protocols
	if tlsOn {
		p.SetHTTP2(true)
	} else {
		p.SetUnencryptedHTTP2(true)
	}
	tr := &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func h1Client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: false,
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}, Timeout: 5 * time.Second}
}

// summary is what a client sees of a response: status, the headers the
// rules touch, body, trailers.
func summary(resp *http.Response, err error) string {
	if err != nil {
		return "ERROR " + err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var hs []string
	for _, k := range []string{"X-Resp", "Content-Type", "Location", "Cache-Control"} {
		if v := resp.Header.Get(k); v != "" {
			hs = append(hs, k+"="+v)
		}
	}
	tr := resp.Trailer.Get("X-Trailer")
	// Go's client names the protocol it spoke; the rest must not differ.
	b := strings.ReplaceAll(string(body), "HTTP/1.1 host", "PROTO host")
	return fmt.Sprintf("%d %s trailer=%q\n%s", resp.StatusCode, strings.Join(hs, " "), tr, b)
}

// TestH2ClientThroughHalo: an HTTP/2 client (h2c and TLS+ALPN) and an
// HTTP/1.1 client get the same answers from halo, with ACLs, header rules,
// redirects and error pages applied alike; HAProxy on the same
// configuration answers the HTTP/2 client the same way.
func TestH2ClientThroughHalo(t *testing.T) {
	origin := h1Origin(t)
	cert := writeTestCert(t, t.TempDir(), "site.pem", true)
	cfg := fmt.Sprintf(`defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:PORT proto h2
    bind 127.0.0.1:PORT2 ssl crt %s alpn h2,http/1.1
    bind 127.0.0.1:PORT3
    acl blocked path_beg /blocked
    acl admin hdr(x-role) -m str admin
    http-request deny if blocked
    http-request redirect location /new code 302 if { path /old }
    http-request return status 418 content-type text/plain string teapot if { path /tea }
    http-request set-header X-Added yes
    http-request set-header X-Admin %%[req.hdr(x-role)] if admin
    http-response set-header X-Resp from-halo
    use_backend nosrv if { path_beg /down }
    default_backend be
backend be
    server s1 %s
backend nosrv
`, cert, origin)
	// Three ports per server: h2c, TLS, clear HTTP/1.1.
	hap, halo := startBothPorts(t, cfg, 3)
	reqs := []struct {
		method, path, body string
		hdr                map[string]string
	}{
		{"GET", "/", "", nil},
		{"GET", "/q?a=1&b=2", "", map[string]string{"X-Role": "admin", "Cookie": "a=1"}},
		{"POST", "/post", "hello body", map[string]string{"Content-Type": "text/plain"}},
		{"GET", "/blocked/x", "", nil},
		{"GET", "/old", "", nil},
		{"GET", "/tea", "", nil},
		{"GET", "/down", "", nil},
		{"GET", "/chunked", "", nil},
	}
	do := func(c *http.Client, base string, r struct {
		method, path, body string
		hdr                map[string]string
	}) string {
		var body io.Reader
		if r.body != "" {
			body = strings.NewReader(r.body)
		}
		req, _ := http.NewRequest(r.method, base+r.path, body)
		req.Host = "h2.test"
		req.Header.Set("User-Agent", "halo-test")
		for k, v := range r.hdr {
			req.Header.Set(k, v)
		}
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return summary(c.Do(req))
	}
	for _, r := range reqs {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			h1 := do(h1Client(), "http://"+halo[2], r)
			h2c := do(h2Client(false), "http://"+halo[0], r)
			h2tls := do(h2Client(true), "https://"+halo[1], r)
			hapH2 := do(h2Client(false), "http://"+hap[0], r)
			if h2c != h2tls {
				t.Errorf("h2c and h2 over TLS differ:\n h2c: %s\n tls: %s", h2c, h2tls)
			}
			if h2c != hapH2 {
				t.Errorf("halo and HAProxy differ for an HTTP/2 client:\n halo:    %s\n haproxy: %s", h2c, hapH2)
			}
			// HTTP/1.1 and HTTP/2 clients: same status, rules, body; the
			// origin sees HTTP/1.1 either way.
			if r.path != "/chunked" && h1 != h2c {
				t.Errorf("HTTP/1.1 and HTTP/2 clients differ:\n h1: %s\n h2: %s", h1, h2c)
			}
		})
	}
}

// h2Origin is an HTTP/2 server (h2c with prior knowledge, or TLS with
// ALPN h2) that shows what it received.
func h2Origin(t *testing.T, tlsOn bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(!tlsOn)
	p.SetHTTP2(tlsOn)
	srv := &http.Server{Protocols: &p, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var hs []string
		for k, v := range r.Header {
			hs = append(hs, strings.ToLower(k)+"="+strings.Join(v, ","))
		}
		sort.Strings(hs)
		w.Header().Set("Content-Type", "text/plain")
		if r.URL.Path == "/chunked" {
			w.Header().Set("Trailer", "X-Trailer")
			w.WriteHeader(200)
			fmt.Fprintf(w, "part1-")
			w.(http.Flusher).Flush()
			fmt.Fprintf(w, "part2")
			w.Header().Set("X-Trailer", "done")
			return
		}
		fmt.Fprintf(w, "%s %s %s host=%s body=%q trailer=%q\n%s\n", r.Method, r.RequestURI, r.Proto, r.Host, body, r.Trailer.Get("X-T"), strings.Join(hs, "\n"))
	})}
	if tlsOn {
		cert := writeTestCert(t, t.TempDir(), "origin.pem", true)
		c, err := tls.LoadX509KeyPair(cert, cert)
		if err != nil {
			t.Fatal(err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{c}, NextProtos: []string{"h2"}}
		go srv.ServeTLS(ln, "", "")
	} else {
		go srv.Serve(ln)
	}
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestH1ClientToH2Server: an HTTP/1.1 client through halo to HTTP/2
// servers (proto h2, and ssl alpn h2): the same rules and answers as
// HAProxy on the same configuration; chunked request bodies become DATA
// and trailers, the server's trailers come back chunked.
func TestH1ClientToH2Server(t *testing.T) {
	h2c, h2tls := h2Origin(t, false), h2Origin(t, true)
	cfg := fmt.Sprintf(`defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:PORT
    http-request deny if { path_beg /blocked }
    http-request set-header X-Added yes
    http-response set-header X-Resp from-proxy
    use_backend tls if { path_beg /tls }
    default_backend clear
backend clear
    server s1 %s proto h2
backend tls
    server s1 %s ssl verify none alpn h2,http/1.1
`, h2c, h2tls)
	hap, halo := startBoth(t, cfg)
	for _, r := range []struct {
		method, path, body string
		chunked            bool
	}{
		{"GET", "/", "", false},
		{"GET", "/q?x=1", "", false},
		{"POST", "/post", "hello", false},
		{"POST", "/chunked-up", "in chunks", true},
		{"GET", "/chunked", "", false},
		{"GET", "/blocked", "", false},
		{"GET", "/tls/a", "", false},
		{"HEAD", "/", "", false},
	} {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			do := func(addr string) string {
				c := h1Client()
				var body io.Reader
				if r.body != "" {
					body = strings.NewReader(r.body)
					if r.chunked {
						body = io.MultiReader(strings.NewReader(r.body)) // unknown length: chunked
					}
				}
				req, _ := http.NewRequest(r.method, "http://"+addr+r.path, body)
				req.Host = "h2.test"
				req.Header.Set("User-Agent", "halo-test")
				if r.chunked {
					req.Trailer = http.Header{"X-T": {"tv"}}
				}
				return summary(c.Do(req))
			}
			if h, l := do(hap), do(halo); h != l {
				t.Errorf("HAProxy and halo differ:\n haproxy: %s\n halo:    %s", h, l)
			}
		})
	}
}
