package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"halo/compat"
	"halo/proxy"
)

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runEngine loads cfg (a haproxy.cfg text) as `halo haproxy` does and
// runs it with the engine haproxyEngine assembles, until the test ends.
func runEngine(t *testing.T, cfg string) *proxy.Runtime {
	t.Helper()
	c, rep := compat.LoadHAProxyBytes("test.cfg", []byte(cfg), compat.HAProxyOptions{})
	if rep.Fatal() {
		t.Fatalf("configuration refused: %+v", rep.Diags)
	}
	rt, err := proxy.New(c, haproxyEngine()...)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.HardStop)
	return rt
}

// gatedOrigin is an HTTP origin that names itself in each answer and holds
// every request until release is closed; it records the highest number of
// requests it held at once.
type gatedOrigin struct {
	ln      net.Listener
	release chan struct{}
	cur     atomic.Int32
	max     atomic.Int32
}

func newGatedOrigin(t *testing.T, name string) *gatedOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &gatedOrigin{ln: ln, release: make(chan struct{})}
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
				n := o.cur.Add(1)
				for {
					m := o.max.Load()
					if n <= m || o.max.CompareAndSwap(m, n) {
						break
					}
				}
				<-o.release
				o.cur.Add(-1)
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(name), name)
			}()
		}
	}()
	return o
}

// get sends one request with a Cookie header and returns the body.
func getWithCookie(addr, cookie string) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nConnection: close\r\n\r\n", cookie)
	b, err := io.ReadAll(c)
	if err != nil {
		return "", err
	}
	_, body, _ := strings.Cut(string(b), "\r\n\r\n")
	return body, nil
}

// TestPersistentRequestQueuesAtMaxconn: requests sent to a server by its
// persistence cookie respect its maxconn and wait in its queue, as
// HAProxy 2.6 does (checked on this box: two concurrent `SRV=s1` requests
// to `server s1 … maxconn 1 cookie s1` are served one after the other,
// the second one counted in s1's qcur meanwhile).
func TestPersistentRequestQueuesAtMaxconn(t *testing.T) {
	s1, s2 := newGatedOrigin(t, "s1"), newGatedOrigin(t, "s2")
	fe := freeAddr(t)
	rt := runEngine(t, fmt.Sprintf(`
defaults
  mode http
  timeout client 10s
  timeout server 10s
  timeout connect 1s
  timeout queue 10s
frontend fe
  bind %s
  default_backend be
backend be
  cookie SRV insert
  server s1 %s maxconn 1 cookie s1
  server s2 %s cookie s2
`, fe, s1.ln.Addr(), s2.ln.Addr()))
	srv := rt.BackendByName("be").Servers()[0]
	var wg sync.WaitGroup
	got := make(chan string, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := getWithCookie(fe, "SRV=s1")
			if err != nil {
				t.Error(err)
			}
			got <- b
		}()
	}
	// One request at s1, the other in s1's queue.
	deadline := time.Now().Add(5 * time.Second)
	for s1.cur.Load()+s1.max.Load() < 2 || srv.Counters.CurQueue.Load() != 1 {
		if s1.max.Load() > 1 {
			t.Fatal("s1 got two requests at once despite maxconn 1")
		}
		if time.Now().After(deadline) {
			t.Fatalf("no request queued on s1 (at s1 %d, queue %d)", s1.cur.Load(), srv.Counters.CurQueue.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(s1.release)
	close(s2.release)
	wg.Wait()
	close(got)
	for b := range got {
		if b != "s1" {
			t.Errorf("persistent request answered by %q", b)
		}
	}
	if m := s1.max.Load(); m != 1 {
		t.Errorf("s1 served %d requests at once, maxconn is 1", m)
	}
}

// tcpNamer is a mode-tcp origin that answers each connection with its
// name once it has read the client's first bytes.
func tcpNamer(t *testing.T, name string) string {
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
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.Read(make([]byte, 4096))
				io.WriteString(c, name)
			}()
		}
	}()
	return ln.Addr().String()
}

// rdpPacket frames a cookie line as an RDP client's first packet (TPKT,
// X.224 connection request, cookie).
func rdpPacket(cookie string) []byte {
	x := append([]byte{byte(6 + len(cookie)), 0xe0, 0, 0, 0, 0, 0}, cookie...)
	n := 4 + len(x)
	return append([]byte{3, 0, byte(n >> 8), byte(n)}, x...)
}

// TestBalanceRDPCookie: `balance rdp-cookie` hashes the mstshash cookie of
// the RDP connection request that tcp-request content rules waited for.
// The servers chosen are those HAProxy 2.6.12 chose for the same cookies
// and servers on this box; without a cookie it is round robin.
func TestBalanceRDPCookie(t *testing.T) {
	fe := freeAddr(t)
	runEngine(t, fmt.Sprintf(`
defaults
  mode tcp
  timeout client 5s
  timeout server 5s
  timeout connect 1s
frontend fe
  bind %s
  tcp-request inspect-delay 2s
  tcp-request content accept if RDP_COOKIE
  default_backend be
backend be
  balance rdp-cookie
  server s1 %s
  server s2 %s
  server s3 %s
`, fe, tcpNamer(t, "s1"), tcpNamer(t, "s2"), tcpNamer(t, "s3")))
	send := func(cookie string) string {
		c, err := net.Dial("tcp", fe)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		// In two writes: the rules wait for the rest of the cookie.
		p := rdpPacket(cookie)
		c.Write(p[:14])
		time.Sleep(20 * time.Millisecond)
		c.Write(p[14:])
		b, _ := io.ReadAll(c)
		return string(b)
	}
	for _, tc := range []struct{ cookie, want string }{
		{"Cookie: mstshash=alice\r\n", "s3 s3"},
		{"Cookie: mstshash=bob\r\n", "s3 s3"},
		{"Cookie: mstshash=carol\r\n", "s2 s2"},
		{"Cookie: mstshash=dave\r\n", "s1 s1"},
		{"Cookie: mstshash=eve\r\n", "s1 s1"},
		{"Cookie: MSTSHASH=alice\r\n", "s3 s3"},
		{"Cookie:   mstshash=bob\r\n", "s3 s3"},
		{"Cookie: mstshash=a\x00b\r\n", "s3 s3"},
	} {
		if got := send(tc.cookie) + " " + send(tc.cookie); got != tc.want {
			t.Errorf("%q went to %s, HAProxy sends it to %s", tc.cookie, got, tc.want)
		}
	}
	// Another cookie name passes RDP_COOKIE but is not hashed: round robin.
	seen := map[string]bool{}
	for range 3 {
		seen[send("Cookie: msts=123\r\n")] = true
	}
	if len(seen) != 3 {
		t.Errorf("without an mstshash cookie: %v, want round robin over s1..s3", seen)
	}
}

// cannedOrigin answers each request with the response registered for its
// path, then closes.
func cannedOrigin(t *testing.T, resp map[string]string) string {
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
				c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				line, _ := br.ReadString('\n')
				for {
					l, err := br.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
				}
				f := strings.Fields(line)
				if len(f) > 1 {
					io.WriteString(c, resp[f[1]])
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// logSink receives raw log lines over UDP.
func logSink(t *testing.T) (addr string, lines <-chan string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	ch := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			ch <- strings.TrimRight(string(buf[:n]), "\n")
		}
	}()
	return pc.LocalAddr().String(), ch
}

// rawRequest sends req and reads until the proxy closes or goes quiet.
func rawRequest(t *testing.T, addr, req string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, req)
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	io.Copy(io.Discard, c)
}

// TestLogLinesAsHAProxy: the log line fields HAProxy 2.6.12 wrote on this
// box for the same requests (httplog): the server a failed request was
// sent to (be/s2, not <NOSRV>), '+' on redispatched retries, byte counts
// as HAProxy's counters make them (the head as its HTX holds it: 49 for
// a 57-byte head, 217 for the built-in 503 page, nothing for a request
// its H1 layer refuses), and beconn/srv_conn without the logged session.
func TestLogLinesAsHAProxy(t *testing.T) {
	dead := freeAddr(t)
	origin := cannedOrigin(t, map[string]string{
		"/a": "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"/b": "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-A: b\r\n\r\n",
		"/c": "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
		"/d": "HTTP/1.1 200 Okay\r\nContent-Length: 0\r\n\r\n",
		"/f": "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
	})
	logAddr, lines := logSink(t)
	fe, fe2 := freeAddr(t), freeAddr(t)
	rt := runEngine(t, fmt.Sprintf(`
defaults
  mode http
  log %s format raw local0
  option httplog
  timeout client 5s
  timeout server 2s
  timeout connect 200ms
frontend fe
  bind %s
  http-request deny if { path /deny }
  http-request return status 200 content-type text/plain string hi if { path /ret }
  use_backend dead if { path /dead }
  default_backend be
frontend fe2
  bind %s
  default_backend be2
backend be
  server s1 %s
backend dead
  retries 1
  server s2 %s
backend be2
  option redispatch
  server s1 %s
  server s3 %s
`, logAddr, fe, fe2, origin, dead, dead, freeAddr(t)))
	for _, tc := range []struct {
		addr, req string
		want      string // frontend, backend/server, status, bytes, state, connections
	}{
		{fe, "GET /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "fe be/s1 200 49 ---- 1/1/0/0/0"},
		{fe, "GET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "fe be/s1 200 53 ---- 1/1/0/0/0"},
		{fe, "GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "fe be/s1 200 60 ---- 1/1/0/0/0"},
		{fe, "GET /d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "fe be/s1 200 51 ---- 1/1/0/0/0"},
		{fe, "GET /f HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "fe be/s1 404 59 ---- 1/1/0/0/0"},
		{fe, "HEAD /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "fe be/s1 200 50 ---- 1/1/0/0/0"},
		{fe, "GET /deny HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "fe fe/<NOSRV> 403 192 PR-- 1/1/0/0/0"},
		{fe, "GET /ret HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "fe fe/<NOSRV> 200 73 LR-- 1/1/0/0/0"},
		{fe, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "fe fe/<NOSRV> 400 0 PR-- 1/1/0/0/0"},
		{fe, "GET /dead HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "fe dead/s2 503 217 SC-- 1/1/0/0/1"},
		{fe2, "GET /y HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "fe2 be2/s3 503 217 SC-- 1/1/0/0/+3"},
	} {
		// One connection at a time: the previous one is gone.
		for deadline := time.Now().Add(2 * time.Second); rt.ActConn.Load() != 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		rawRequest(t, tc.addr, tc.req)
		var l string
		select {
		case l = <-lines:
		case <-time.After(5 * time.Second):
			t.Fatalf("%q: no log line", tc.req)
		}
		f := strings.Fields(l)
		if len(f) < 11 {
			t.Fatalf("short log line %q", l)
		}
		if got := strings.Join([]string{f[2], f[3], f[5], f[6], f[9], f[10]}, " "); got != tc.want {
			t.Errorf("%q:\n got  %s\n want %s (haproxy)\n%s", strings.SplitN(tc.req, "\r", 2)[0], got, tc.want, l)
		}
	}
}

// SIGHUP makes halo dump the server states as HAProxy does: a warning
// announcing it, then each proxy's lines, also sent to its log targets.
func TestSIGHUPDumpsServerStates(t *testing.T) {
	logAddr, lines := logSink(t)
	rt := runEngine(t, fmt.Sprintf(`
defaults
  mode http
  log %s format raw local0
  timeout client 1s
  timeout server 1s
  timeout connect 1s
backend be
  server s1 %s
`, logAddr, freeAddr(t)))
	var out strings.Builder
	dumpServerStates(&out, rt)
	if !strings.Contains(out.String(), ") : SIGHUP received, dumping servers states.\n") ||
		!strings.Contains(out.String(), ") : SIGHUP: Server be/s1 is UP. Conn: 0 act, 0 pend, 0 tot.\n") {
		t.Errorf("stderr:\n%s", out.String())
	}
	for _, want := range []string{"SIGHUP received, dumping servers states for proxy be.", "SIGHUP: Server be/s1 is UP. Conn: 0 act, 0 pend, 0 tot."} {
		select {
		case l := <-lines:
			if !strings.HasSuffix(l, want) {
				t.Errorf("log %q, want %q", l, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("no log line %q", want)
		}
	}
}

// TestMasterNotifiesSystemd: under systemd (-Ws, NOTIFY_SOCKET) the master
// reports READY=1 once its worker listens and STOPPING=1 when told to stop,
// as HAProxy's master does.
func TestMasterNotifiesSystemd(t *testing.T) {
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "notify")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cfg := filepath.Join(dir, "h.cfg")
	conf := fmt.Sprintf("defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 2s\n  timeout server 2s\nlisten fe\n  bind %s\n  server s1 %s\n", freeAddr(t), freeAddr(t))
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	c := exec.Command(os.Args[0], "-test.run=^TestHelperHAProxy$")
	c.Env = append(os.Environ(), envHAProxyHelper+"="+strings.Join([]string{"-Ws", "-f", cfg}, "\x1f"), "NOTIFY_SOCKET="+sockPath)
	// A file, not a pipe: a worker outliving its master must not block Wait.
	logf, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	c.Stdout, c.Stderr = logf, logf
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // master and worker, killed together at the end
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	defer func() {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		<-exited
	}()
	out := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }
	next := func() string {
		t.Helper()
		buf := make([]byte, 256)
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v\n%s", err, out())
		}
		return string(buf[:n])
	}
	if got := next(); !strings.HasPrefix(got, "READY=1\nMAINPID=") {
		t.Fatalf("first notification %q", got)
	}
	_ = c.Process.Signal(syscall.SIGTERM)
	if got := next(); got != "STOPPING=1" {
		t.Fatalf("on SIGTERM: %q, want STOPPING=1", got)
	}
	select {
	case <-exited:
		exited <- nil // for the deferred cleanup
	case <-time.After(10 * time.Second):
		t.Fatalf("the master did not stop:\n%s", out())
	}
}
