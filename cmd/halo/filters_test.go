package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Filter conformance (compression and cache): each testdata/filters/*.case
// is a configuration, the answers of a scripted origin and a sequence of
// requests and runtime API commands; NAME.golden is the transcript HAProxy
// 2.6.12 produced on this machine: every response head as the client got
// it, its body decoded (a compressed body is decompressed: its bytes
// differ between libslz and halo's coder, its content must not), what
// the origin received for each request ("origin: -" when a cache
// answered), and `show cache` with addresses and sizes normalized.
//
// Record (only when adding or changing a case; -record is the flag of
// TestRecorded too, so -run selects what is re-recorded):
//
//	go test ./cmd/halo -run TestFilterConformance -record
//
// HALO_FILTERS_GOT=DIR keeps halo's transcripts there (NAME.got).
//
// Case format: "config:" then the configuration with ${FE} (the
// frontend's port), ${FE2} (a second port, for an HTTP/2 bind), ${BE1}
// (the origin) and ${SOCK} (a stats socket);
// "origin:" then one answer per line:
//
//	PATH STATUS [hdr="Name: value"]... [body=N] [chunks=N,N,…] [proto=HTTP/1.0] [close]
//
// (the body is N bytes of text, or chunked in pieces of those sizes;
// close: no length, the connection ends the body); then "steps:", one a
// line:
//
//	req [METHOD] PATH [hdr="Name: value"]... [proto=HTTP/1.0] [conn=LABEL]
//	req [METHOD] PATH [hdr="Name: value"]... h2
//	cli COMMAND
//
// (h2: HTTP/2 with prior knowledge to ${FE2}, one connection per case;
// its headers are listed sorted, HTTP/2 keeps no order a client sees)
//
//	sleep MS
type filterCase struct {
	name   string
	config string
	origin map[string]originAnswer
	steps  []string
}

type originAnswer struct {
	status  string
	proto   string
	headers []string
	body    int
	chunks  []int
	close   bool
}

// splitQuoted splits a line on blanks, keeping "quoted words" whole (the
// quotes are removed; \" is a quote inside them).
func splitQuoted(s string) []string {
	var out []string
	var cur strings.Builder
	in, has := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && in && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			in, has = !in, true
		case (c == ' ' || c == '\t') && !in:
			if has {
				out = append(out, cur.String())
				cur.Reset()
				has = false
			}
		default:
			cur.WriteByte(c)
			has = true
		}
	}
	if has {
		out = append(out, cur.String())
	}
	return out
}

func loadFilterCases(t *testing.T) []filterCase {
	t.Helper()
	files, err := filepath.Glob("testdata/filters/*.case")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	var out []filterCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		ci := strings.Index(s, "config:\n")
		oi := strings.Index(s, "\norigin:\n")
		si := strings.Index(s, "\nsteps:\n")
		if ci < 0 || oi < 0 || si < 0 || !(ci < oi && oi < si) {
			t.Fatalf("%s: needs config:, origin: and steps:", f)
		}
		c := filterCase{name: strings.TrimSuffix(filepath.Base(f), ".case"), config: s[ci+8 : oi+1], origin: map[string]originAnswer{}}
		for _, l := range strings.Split(s[oi+9:si], "\n") {
			w := splitQuoted(strings.TrimSpace(l))
			if len(w) < 2 || strings.HasPrefix(w[0], "#") {
				continue
			}
			a := originAnswer{status: w[1], proto: "HTTP/1.1", body: -1}
			for _, x := range w[2:] {
				switch {
				case strings.HasPrefix(x, "hdr="):
					a.headers = append(a.headers, x[4:])
				case strings.HasPrefix(x, "body="):
					a.body, _ = strconv.Atoi(x[5:])
				case strings.HasPrefix(x, "chunks="):
					for _, n := range strings.Split(x[7:], ",") {
						v, _ := strconv.Atoi(n)
						a.chunks = append(a.chunks, v)
					}
				case strings.HasPrefix(x, "proto="):
					a.proto = x[6:]
				case x == "close":
					a.close = true
				default:
					t.Fatalf("%s: origin line %q: unknown %q", f, l, x)
				}
			}
			c.origin[w[0]] = a
		}
		for _, l := range strings.Split(s[si+8:], "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				c.steps = append(c.steps, l)
			}
		}
		out = append(out, c)
	}
	return out
}

// filterText is the origin's body text: numbered lines, so compression
// has something to find and a shift shows.
func filterText(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %05d: the quick brown fox jumps over the lazy dog\n", i)
	}
	return b.Bytes()[:n]
}

// filterOrigin serves the case's answers and records each request head it
// receives, in order.
type filterOrigin struct {
	ln      net.Listener
	answers map[string]originAnswer
	mu      sync.Mutex
	got     []string
}

func startFilterOrigin(t *testing.T, answers map[string]originAnswer) *filterOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &filterOrigin{ln: ln, answers: answers}
	t.Cleanup(func() { ln.Close() })
	go o.serve()
	return o
}

func (o *filterOrigin) port() string { return strconv.Itoa(o.ln.Addr().(*net.TCPAddr).Port) }

func (o *filterOrigin) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	g := o.got
	o.got = nil
	return g
}

func (o *filterOrigin) serve() {
	for {
		c, err := o.ln.Accept()
		if err != nil {
			return
		}
		go o.conn(c)
	}
}

func (o *filterOrigin) conn(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		head := strings.TrimRight(line, "\r\n")
		cl := 0
		for {
			h, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if h == "\r\n" {
				break
			}
			h = strings.TrimRight(h, "\r\n")
			head += " | " + h
			if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, "content-length") {
				cl, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		if cl > 0 {
			_, _ = io.CopyN(io.Discard, br, int64(cl))
		}
		o.mu.Lock()
		o.got = append(o.got, head)
		o.mu.Unlock()
		f := strings.Fields(line)
		path := ""
		if len(f) > 1 {
			path, _, _ = strings.Cut(f[1], "?")
		}
		a, ok := o.answers[path]
		if !ok {
			a = originAnswer{status: "404", proto: "HTTP/1.1", body: 0}
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s %s X\r\n", a.proto, a.status)
		for _, h := range a.headers {
			fmt.Fprintf(&b, "%s\r\n", h)
		}
		switch {
		case len(a.chunks) > 0:
			b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
			for _, n := range a.chunks {
				fmt.Fprintf(&b, "%x\r\n%s\r\n", n, filterText(n))
			}
			b.WriteString("0\r\n\r\n")
		case a.close:
			b.WriteString("\r\n")
			b.Write(filterText(max(a.body, 0)))
		case strings.HasPrefix(f[0], "HEAD"):
			fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", max(a.body, 0))
		case a.body >= 0:
			fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", a.body)
			b.Write(filterText(a.body))
		default:
			b.WriteString("\r\n")
		}
		if _, err := c.Write(b.Bytes()); err != nil || a.close {
			return
		}
	}
}

var (
	reCacheAddr = regexp.MustCompile(`(?m)(^|shctx:)0x[0-9a-f]+`)
	reCacheSize = regexp.MustCompile(`size:\d+ \(\d+ blocks\)`)
	reCacheExp  = regexp.MustCompile(`expire:-?\d+`)
	reAgeSmall  = regexp.MustCompile(`(?m)^age: [01]$`)
)

// normCache hides what differs between runs and implementations: the
// addresses, the entries' accounting and the seconds left.
func normCache(s string) string {
	s = reCacheAddr.ReplaceAllString(s, "${1}0x?")
	s = reCacheSize.ReplaceAllString(s, "size:? (? blocks)")
	return reCacheExp.ReplaceAllString(s, "expire:N")
}

func runFilterCase(t *testing.T, c filterCase, fe, fe2, sock string, o *filterOrigin) string {
	var out strings.Builder
	conns := map[string]*bufio.ReadWriter{}
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true) // prior knowledge, as `bind … proto h2` wants
	h2c := &http.Client{Transport: &http.Transport{
		Protocols:          &protos,
		DisableCompression: true, // the response as the proxy sent it
	}, Timeout: 5 * time.Second}
	defer h2c.CloseIdleConnections()
	for _, step := range c.steps {
		w := splitQuoted(step)
		switch w[0] {
		case "sleep":
			ms, _ := strconv.Atoi(w[1])
			time.Sleep(time.Duration(ms) * time.Millisecond)
		case "cli":
			cmd := strings.TrimSpace(strings.TrimPrefix(step, "cli"))
			fmt.Fprintf(&out, "> %s\n%s", cmd, normCache(cliCommand(t, sock, cmd)))
		case "req":
			method, path, proto, label, h2 := "GET", "", "HTTP/1.1", "", false
			var hdrs []string
			for _, a := range w[1:] {
				switch {
				case a == "h2":
					h2 = true
				case strings.HasPrefix(a, "hdr="):
					hdrs = append(hdrs, a[4:])
				case strings.HasPrefix(a, "proto="):
					proto = a[6:]
				case strings.HasPrefix(a, "conn="):
					label = a[5:]
				case strings.HasPrefix(a, "/"):
					path = a
				default:
					method = a
				}
			}
			if h2 {
				res := filterH2Request(t, h2c, method, "http://127.0.0.1:"+fe2+path, hdrs)
				seen := o.take()
				if len(seen) == 0 {
					seen = []string{"-"}
				}
				fmt.Fprintf(&out, "> %s\norigin: %s\n%s", step, strings.Join(seen, "\norigin: "), res)
				continue
			}
			rw := conns[label]
			if rw == nil {
				nc, err := net.DialTimeout("tcp", "127.0.0.1:"+fe, 2*time.Second)
				if err != nil {
					t.Fatalf("%s: %v", step, err)
				}
				_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
				defer nc.Close()
				rw = bufio.NewReadWriter(bufio.NewReader(nc), bufio.NewWriter(nc))
				if label != "" {
					conns[label] = rw
				}
			}
			connHdr := "close"
			if label != "" {
				connHdr = "keep-alive"
			}
			fmt.Fprintf(rw, "%s %s %s\r\nHost: test\r\nConnection: %s\r\n", method, path, proto, connHdr)
			for _, h := range hdrs {
				fmt.Fprintf(rw, "%s\r\n", h)
			}
			if method == "POST" {
				fmt.Fprintf(rw, "Content-Length: 4\r\n\r\ndata")
			} else {
				fmt.Fprintf(rw, "\r\n")
			}
			rw.Flush()
			res := readFilterResponse(rw, method == "HEAD")
			time.Sleep(30 * time.Millisecond) // the origin's record of it
			seen := o.take()
			if len(seen) == 0 {
				seen = []string{"-"}
			}
			fmt.Fprintf(&out, "> %s\norigin: %s\n%s", step, strings.Join(seen, "\norigin: "), res)
		default:
			t.Fatalf("unknown step %q", step)
		}
	}
	return out.String()
}

// filterH2Request makes one HTTP/2 request and describes its response as
// readFilterResponse does, the headers sorted by name.
func filterH2Request(t *testing.T, c *http.Client, method, url string, hdrs []string) string {
	var body io.Reader
	if method == "POST" {
		body = strings.NewReader("data")
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "test" // as the HTTP/1 steps say it, whatever the port
	for _, h := range hdrs {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(k, strings.TrimSpace(v))
	}
	res, err := c.Do(req)
	if err != nil {
		return fmt.Sprintf("h2 error: %v\n", err)
	}
	defer res.Body.Close()
	noBody := method == "HEAD" || res.StatusCode == 304 || res.StatusCode == 204
	var b []byte
	if !noBody {
		// (a 304's Content-Length describes the entry, not this answer)
		if b, err = io.ReadAll(res.Body); err != nil {
			return fmt.Sprintf("h2 body error: %v\n", err)
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "HTTP/2 %d\n", res.StatusCode)
	var lines []string
	for k, vs := range res.Header {
		for _, v := range vs {
			lines = append(lines, reAgeSmall.ReplaceAllString(strings.ToLower(k)+": "+v, "age: <=1"))
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		out.WriteString(l + "\n")
	}
	if noBody {
		out.WriteString("body: none\n")
		return out.String()
	}
	out.WriteString("body: h2")
	out.WriteString(describeBody(b, strings.ToLower(res.Header.Get("Content-Encoding"))))
	return out.String()
}

// readFilterResponse reads one response: its head as received, then a
// line describing its body (length, framing, and once decompressed).
func readFilterResponse(rw *bufio.ReadWriter, head bool) string {
	var out strings.Builder
	line, err := rw.ReadString('\n')
	if err != nil {
		return "closed\n"
	}
	out.WriteString(strings.TrimRight(line, "\r\n") + "\n")
	status := 0
	if f := strings.Fields(line); len(f) > 1 {
		status, _ = strconv.Atoi(f[1])
	}
	cl, chunked, enc := -1, false, ""
	for {
		h, err := rw.ReadString('\n')
		if err != nil || h == "\r\n" {
			break
		}
		h = strings.TrimRight(h, "\r\n")
		out.WriteString(reAgeSmall.ReplaceAllString(h, "age: <=1") + "\n")
		k, v, _ := strings.Cut(h, ":")
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "content-length":
			cl, _ = strconv.Atoi(v)
		case "transfer-encoding":
			chunked = strings.EqualFold(v, "chunked")
		case "content-encoding":
			enc = strings.ToLower(v)
		}
	}
	if head || status == 304 || status == 204 || status < 200 {
		out.WriteString("body: none\n")
		return out.String()
	}
	var body []byte
	framing := ""
	switch {
	case chunked:
		framing = "chunked"
		tp := rw.Reader
		for {
			sz, err := tp.ReadString('\n')
			if err != nil {
				framing += " (cut)"
				break
			}
			n, _ := strconv.ParseInt(strings.TrimSpace(sz), 16, 64)
			if n == 0 {
				for {
					l, err := tp.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
					framing += " trailer " + strings.TrimSpace(l)
				}
				break
			}
			b := make([]byte, n+2)
			if _, err := io.ReadFull(tp, b); err != nil {
				framing += " (cut)"
				break
			}
			body = append(body, b[:n]...)
		}
	case cl >= 0:
		framing = "length"
		body = make([]byte, cl)
		n, _ := io.ReadFull(rw, body)
		body = body[:n]
	default:
		framing = "close"
		body, _ = io.ReadAll(rw)
	}
	fmt.Fprintf(&out, "body: %s", framing)
	out.WriteString(describeBody(body, enc))
	return out.String()
}

// describeBody says how a body decodes (enc is its Content-Encoding) and
// what it holds: its decoded length and a hash.
func describeBody(body []byte, enc string) string {
	var out strings.Builder
	if enc != "" && enc != "identity" {
		var r io.Reader
		var err error
		switch enc {
		case "gzip":
			r, err = gzip.NewReader(bytes.NewReader(body))
		case "deflate":
			// deflate (zlib) or raw-deflate: both say "deflate"
			if r, err = zlib.NewReader(bytes.NewReader(body)); err != nil {
				r, err = flate.NewReader(bytes.NewReader(body)), nil
				enc = "raw-deflate"
			}
		}
		if r == nil || err != nil {
			fmt.Fprintf(&out, " %s: not decoded (%v), %d bytes\n", enc, err, len(body))
			return out.String()
		}
		dec, err := io.ReadAll(r)
		if err != nil {
			fmt.Fprintf(&out, " %s: %v after %d bytes\n", enc, err, len(dec))
			return out.String()
		}
		fmt.Fprintf(&out, " %s", enc)
		body = dec
	}
	sum := sha256.Sum256(body)
	fmt.Fprintf(&out, " %d bytes sha256:%x\n", len(body), sum[:6])
	return out.String()
}

func TestFilterConformance(t *testing.T) {
	for _, c := range loadFilterCases(t) {
		t.Run(c.name, func(t *testing.T) {
			o := startFilterOrigin(t, c.origin)
			dir := t.TempDir()
			sock := filepath.Join(dir, "stats.sock")
			fe, fe2 := stickPort(t), stickPort(t)
			cfg := strings.NewReplacer("${FE}", fe, "${FE2}", fe2, "${SOCK}", sock, "${BE1}", o.port()).Replace(c.config)
			golden := filepath.Join("testdata/filters", c.name+".golden")
			if *record {
				path := filepath.Join(dir, "haproxy.cfg")
				if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command("/usr/sbin/haproxy", "-db", "-f", path)
				cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
				waitListen(t, fe)
				got := runFilterCase(t, c, fe, fe2, sock, o)
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			runEngine(t, cfg)
			waitListen(t, fe)
			got := runFilterCase(t, c, fe, fe2, sock, o)
			if d := os.Getenv("HALO_FILTERS_GOT"); d != "" {
				_ = os.WriteFile(filepath.Join(d, c.name+".got"), []byte(got), 0o644)
			}
			if got != string(want) {
				t.Errorf("transcript differs from HAProxy 2.6.12's (%s)\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}
