// Package wirecase runs recorded wire cases (testdata/recorded/*.json): raw
// client bytes sent through a proxy to a scripted origin, with what the
// client and the origin received, recorded from the real HAProxy 2.6 on
// this machine. The engine's tests (package proxy) and the binary's tests
// (cmd/halo) replay the same cases; cmd/halo's test also re-records them
// (go test ./cmd/halo -run TestRecorded/HAProxy -record).
package wirecase

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type Case struct {
	Description string `json:"description"`
	// Config replaces DefaultConfig; ${FE_PORT} and ${BE_PORT} are
	// substituted.
	Config string `json:"config,omitempty"`
	// Client is sent in order, with a pause between the parts (so an
	// answer to the previous part can arrive first).
	Client []string `json:"client"`
	// Server answers the n-th request the origin parses (the last one
	// repeats); "" means the default 200 answer, "<close>" closes the
	// connection instead of answering.
	Server  []string `json:"server,omitempty"`
	HAProxy *Result  `json:"haproxy,omitempty"`
	// Halo is set only where halo deliberately differs from HAProxy.
	Halo *Result `json:"halo,omitempty"`
}

type Result struct {
	// Client is every byte the client received, then how the connection
	// ended: "EOF", "RST" or "open" (nothing for 3 s).
	Client string `json:"client"`
	End    string `json:"end"`
	// Server is what each origin connection received, in accept order
	// (connections that received nothing are left out).
	Server []string `json:"server"`
	Why    string   `json:"why,omitempty"`
}

const DefaultConfig = `global
    tune.bufsize 16384
defaults
    mode http
    timeout connect 1s
    timeout client 2s
    timeout server 2s
    timeout http-request 1s
    timeout http-keep-alive 200ms
frontend fe
    bind 127.0.0.1:${FE_PORT}
    http-request deny if { path_beg /admin }
    default_backend be
backend be
    server s1 127.0.0.1:${BE_PORT}
`

const DefaultAnswer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"

// Load reads every case of dir, in name order.
func Load(t testing.TB, dir string) (names []string, cases map[string]*Case) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded cases in %s (%v)", dir, err)
	}
	cases = map[string]*Case{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c Case
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		names = append(names, name)
		cases[name] = &c
	}
	return names, cases
}

// Want is what a proxy must answer: halo's own answer where the case says
// halo deliberately differs, else HAProxy's.
func (c *Case) Want(t testing.TB) *Result {
	t.Helper()
	if c.Halo != nil {
		return c.Halo
	}
	if c.HAProxy == nil {
		t.Fatal("case not recorded yet (go test ./cmd/halo -run TestRecorded/HAProxy -record)")
	}
	return c.HAProxy
}

func Compare(t testing.TB, c *Case, want, got *Result) {
	t.Helper()
	why := ""
	if want.Why != "" {
		why = "\n(halo differs from haproxy on purpose: " + want.Why + ")"
	}
	if got.Client != want.Client || got.End != want.End {
		t.Errorf("%s: client received\n%s%s", c.Description, diff(got.Client+" "+got.End, want.Client+" "+want.End), why)
	}
	if g, w := strings.Join(got.Server, "\n--next connection--\n"), strings.Join(want.Server, "\n--next connection--\n"); g != w {
		t.Errorf("%s: server received\n%s%s", c.Description, diff(g, w), why)
	}
}

// diff shows where got and want part, with some context, quoted.
func diff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-80)
	clip := func(s string) string {
		e := min(len(s), i+160)
		if from > len(s) {
			return strconv.Quote("")
		}
		q := strconv.Quote(s[from:e])
		if from > 0 {
			q = "…" + q
		}
		if e < len(s) {
			q += fmt.Sprintf("… (%d bytes)", len(s))
		}
		return q
	}
	return fmt.Sprintf("  got  %s\n  want %s\n  (first difference at byte %d)", clip(got), clip(want), i)
}

// Write stores c as dir/name.json.
func Write(t testing.TB, dir, name string, c *Case) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Starter starts a proxy for a case: cfg is the case's configuration with
// ${BE_PORT} substituted and ${FE_PORT} still to choose. It returns the
// address the proxy accepts on and a function that stops it.
type Starter func(t testing.TB, cfg string) (addr string, stop func())

// Exec runs `argv… -db -f haproxy.cfg` as a child process, its frontend on
// a port claimed with ClaimPort.
func Exec(argv ...string) Starter {
	return func(t testing.TB, cfg string) (string, func()) {
		t.Helper()
		port := ClaimPort(t)
		cfg = strings.ReplaceAll(cfg, "${FE_PORT}", strconv.Itoa(port))
		path := filepath.Join(t.TempDir(), "haproxy.cfg")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		args := append(append([]string{}, argv[1:]...), "-db", "-f", path)
		cmd := exec.Command(argv[0], args...)
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(3 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
			if t.Failed() {
				t.Logf("%s output:\n%s", argv[0], out.String())
			}
		}
		if err := WaitListening(port, exited); err != nil {
			stop()
			t.Fatalf("%s: %v\n%s", argv[0], err, out.String())
		}
		return "127.0.0.1:" + strconv.Itoa(port), stop
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ClaimPort returns a loopback port for a proxy that must be told its
// port in its configuration. Ports come from a fixed range (21000-21999,
// or HALO_TEST_PORT_BASE and the 999 after it) outside the kernel's
// ephemeral range, so no bind(":0") or outgoing connection takes them,
// and each is claimed with a lock file under the system's temporary
// directory, so concurrent test processes (other packages, other
// checkouts on this machine) never share one: SO_REUSEPORT would let two
// proxies bind the same port silently and split the connections. The
// claim lasts until the test ends.
func ClaimPort(t testing.TB) int {
	t.Helper()
	base := 21000
	if v, err := strconv.Atoi(os.Getenv("HALO_TEST_PORT_BASE")); err == nil && v > 0 {
		base = v
	}
	dir := filepath.Join(os.TempDir(), "halo-test-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	start := int(time.Now().UnixNano()/1000) % 1000
	for i := 0; i < 1000; i++ {
		port := base + (start+i)%1000
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			t.Fatal(err)
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close()
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			f.Close() // in use by something else
			continue
		}
		ln.Close()
		t.Cleanup(func() { f.Close() }) // closing releases the lock
		return port
	}
	t.Fatalf("no free port in %d-%d", base, base+999)
	return 0
}

// WaitListening waits until something accepts on 127.0.0.1:port. The
// probe connection is closed without a byte (a proxy logs nothing for it
// unless told to).
func WaitListening(port int, exited <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("exited before listening")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return errors.New("not listening after 10 s")
}

// Run starts the origin and the proxy, plays the client side and
// returns what both ends saw.
func Run(t testing.TB, c *Case, start Starter) *Result {
	t.Helper()
	o := startOrigin(t, c.Server)
	cfg := c.Config
	if cfg == "" {
		cfg = DefaultConfig
	}
	cfg = strings.ReplaceAll(cfg, "${BE_PORT}", strconv.Itoa(o.port()))
	addr, stop := start(t, cfg)
	defer stop()
	o.reset() // forget the readiness probe, if it reached the origin

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var got bytes.Buffer
	var mu sync.Mutex
	end := make(chan string, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			mu.Lock()
			got.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				switch {
				case err == io.EOF:
					end <- "EOF"
				case errors.Is(err, syscall.ECONNRESET):
					end <- "RST"
				case errors.Is(err, os.ErrDeadlineExceeded):
					end <- "open"
				default:
					end <- "error: " + err.Error()
				}
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(3*time.Second + time.Duration(len(c.Client))*150*time.Millisecond))
	for i, part := range c.Client {
		if i > 0 {
			time.Sleep(150 * time.Millisecond)
		}
		if _, err := conn.Write([]byte(part)); err != nil {
			break // the proxy may close early (an error answer)
		}
	}
	how := <-end
	time.Sleep(100 * time.Millisecond) // let the origin read what was forwarded
	mu.Lock()
	defer mu.Unlock()
	return &Result{Client: got.String(), End: how, Server: o.received()}
}

// origin is a scripted HTTP/1.1 server that records the raw bytes of each
// connection and answers each request its own parser (OriginRequest)
// finds.
type origin struct {
	ln     net.Listener
	script []string
	mu     sync.Mutex
	conns  []*bytes.Buffer
	nreq   int
}

func startOrigin(t testing.TB, script []string) *origin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &origin{ln: ln, script: script}
	go o.serve()
	t.Cleanup(func() { ln.Close() })
	return o
}

func (o *origin) port() int { return o.ln.Addr().(*net.TCPAddr).Port }

func (o *origin) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, b := range o.conns {
		b.Reset()
	}
}

func (o *origin) received() []string {
	var out []string
	for _, b := range o.conns {
		if b.Len() > 0 {
			out = append(out, b.String())
		}
	}
	return out
}

func (o *origin) serve() {
	for {
		c, err := o.ln.Accept()
		if err != nil {
			return
		}
		rec := &bytes.Buffer{}
		o.mu.Lock()
		o.conns = append(o.conns, rec)
		o.mu.Unlock()
		go o.serveConn(c, rec)
	}
}

func (o *origin) serveConn(c net.Conn, rec *bytes.Buffer) {
	defer c.Close()
	var pending []byte
	buf := make([]byte, 64<<10)
	for {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(buf)
		if n > 0 {
			o.mu.Lock()
			rec.Write(buf[:n])
			o.mu.Unlock()
			pending = append(pending, buf[:n]...)
			for {
				used, ok := OriginRequest(pending)
				if !ok {
					break
				}
				pending = pending[used:]
				o.mu.Lock()
				ans := ""
				if len(o.script) > 0 {
					ans = o.script[min(o.nreq, len(o.script)-1)]
				}
				o.nreq++
				o.mu.Unlock()
				if ans == "<close>" {
					return
				}
				if ans == "" {
					ans = DefaultAnswer
				}
				if _, err := c.Write([]byte(ans)); err != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// OriginRequest finds one complete request at the start of b, framed as a
// plain RFC 9112 server would: the head up to an empty line, then a
// chunked body when the last transfer coding is chunked, else
// Content-Length bytes. It reports how many bytes the request used.
func OriginRequest(b []byte) (int, bool) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return 0, false
	}
	head := string(b[:end])
	off := end + 4
	chunked, cl := false, 0
	for _, l := range strings.Split(head, "\r\n")[1:] {
		name, val, _ := strings.Cut(l, ":")
		val = strings.TrimSpace(val)
		switch strings.ToLower(name) {
		case "transfer-encoding":
			toks := strings.Split(val, ",")
			chunked = strings.EqualFold(strings.TrimSpace(toks[len(toks)-1]), "chunked")
		case "content-length":
			cl, _ = strconv.Atoi(val)
		}
	}
	if !chunked {
		if cl < 0 || len(b)-off < cl {
			return 0, false
		}
		return off + cl, true
	}
	for {
		le := bytes.Index(b[off:], []byte("\r\n"))
		if le < 0 {
			return 0, false
		}
		line := string(b[off : off+le])
		if i := strings.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
		if err != nil || size < 0 || size > 1<<30 {
			return 0, false
		}
		off += le + 2
		if size == 0 {
			// Trailers up to an empty line.
			for {
				le := bytes.Index(b[off:], []byte("\r\n"))
				if le < 0 {
					return 0, false
				}
				off += le + 2
				if le == 0 {
					return off, true
				}
			}
		}
		if int64(len(b)-off) < size+2 {
			return 0, false
		}
		off += int(size) + 2
	}
}
