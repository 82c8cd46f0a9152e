package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"halo/internal/wirecase"
)

// reloadLoad is a client load for reload tests: keep-alive clients (as
// wrk) and clients opening a connection per request. Every request that
// does not get its 200 answer counts as a failure, whatever the cause
// (refused, reset, closed before the answer, bad status).
type reloadLoad struct {
	addr     string
	ok       atomic.Int64
	mu       sync.Mutex
	failures map[string]int
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startReloadLoad(addr string, keepAlive, perRequest int) *reloadLoad {
	l := &reloadLoad{addr: addr, failures: map[string]int{}, stop: make(chan struct{})}
	for i := 0; i < keepAlive; i++ {
		l.wg.Add(1)
		go l.client(true)
	}
	for i := 0; i < perRequest; i++ {
		l.wg.Add(1)
		go l.client(false)
	}
	return l
}

func (l *reloadLoad) fail(kind string) {
	l.mu.Lock()
	l.failures[kind]++
	l.mu.Unlock()
}

func (l *reloadLoad) client(keepAlive bool) {
	defer l.wg.Done()
	var c net.Conn
	var br *bufio.Reader
	req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	if !keepAlive {
		req = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	}
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		if c == nil {
			var err error
			c, err = net.DialTimeout("tcp", l.addr, 2*time.Second)
			if err != nil {
				l.fail("connect: " + errKind(err))
				c = nil
				time.Sleep(10 * time.Millisecond)
				continue
			}
			br = bufio.NewReader(c)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			l.fail("write: " + errKind(err))
			c.Close()
			c = nil
			continue
		}
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		switch {
		case err != nil:
			l.fail("read: " + errKind(err))
		case resp.StatusCode != 200:
			l.fail("status " + strconv.Itoa(resp.StatusCode))
		default:
			l.ok.Add(1)
		}
		if err != nil || resp.Close || !keepAlive {
			c.Close()
			c = nil
		}
	}
}

func errKind(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

func (l *reloadLoad) finish() (ok int64, failures []string) {
	close(l.stop)
	l.wg.Wait()
	for k, n := range l.failures {
		failures = append(failures, fmt.Sprintf("%d× %s", n, k))
	}
	sort.Strings(failures)
	return l.ok.Load(), failures
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, cut after ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			f := strings.Fields(s[i+1:])
			if len(f) > 1 && f[1] == strconv.Itoa(pid) {
				out = append(out, n)
			}
		}
	}
	return out
}

func reloadOrigin(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestReloadLosesNothing reloads a -W master several times under load
// (keep-alive clients as wrk's, and a connection per request): no request
// may fail. The new worker takes the current one's listening sockets, so
// no connection is refused or left in a closed accept queue; the old
// worker answers its keep-alive clients' next request with "Connection:
// close" instead of closing under them.
func TestReloadLosesNothing(t *testing.T) {
	bin := haloBinary(t)
	port := wirecase.ClaimPort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(`global
    hard-stop-after 10s
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    timeout http-keep-alive 2s
frontend fe
    bind `+addr+`
    default_backend be
backend be
    server s1 `+reloadOrigin(t)+`
`), 0o644); err != nil {
		t.Fatal(err)
	}
	master := exec.Command(bin, "haproxy", "-W", "-db", "-f", cfg)
	master.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	master.Stdout, master.Stderr = &out, &out
	if err := master.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = master.Wait(); close(exited) }()
	defer func() {
		_ = master.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-master.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()
	if err := wirecase.WaitListening(port, exited); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	load := startReloadLoad(addr, 10, 4)
	seen := map[int]bool{}
	for _, p := range childrenOf(master.Process.Pid) {
		seen[p] = true
	}
	const reloads = 6
	for i := 0; i < reloads; i++ {
		time.Sleep(400 * time.Millisecond)
		if err := master.Process.Signal(syscall.SIGUSR2); err != nil {
			t.Fatal(err)
		}
		// Wait for the new worker to appear.
		deadline := time.Now().Add(10 * time.Second)
		for {
			fresh := false
			for _, p := range childrenOf(master.Process.Pid) {
				if !seen[p] {
					seen[p], fresh = true, true
				}
			}
			if fresh {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("reload %d: no new worker\n%s", i+1, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(500 * time.Millisecond)
	ok, failures := load.finish()
	t.Logf("%d reloads (%d workers), %d requests answered, failures: %v", reloads, len(seen), ok, failures)
	if len(failures) > 0 {
		t.Errorf("requests failed across reloads: %v\n%s", failures, out.String())
	}
	if ok < 100 {
		t.Errorf("only %d requests answered", ok)
	}
}

// listenInode returns the inode of the socket listening on 127.0.0.1:port
// (from /proc/net/tcp), or "".
func listenInode(port int) string {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return ""
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 9 && f[1] == want && f[3] == "0A" { // 0A: LISTEN
			return f[9]
		}
	}
	return ""
}

// holdsSocket reports whether process pid has the socket inode open.
func holdsSocket(pid int, inode string) bool {
	ents, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	for _, e := range ents {
		if l, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + e.Name()); err == nil && l == "socket:["+inode+"]" {
			return true
		}
	}
	return false
}

func startProcess(t *testing.T, port int, argv ...string) (*exec.Cmd, chan struct{}, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	return cmd, exited, &out
}

func xferConfig(t *testing.T, addr, sock string) string {
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(`global
    stats socket `+sock+` mode 600 level admin expose-fd listeners
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    timeout http-keep-alive 2s
frontend fe
    bind `+addr+`
    default_backend be
backend be
    server s1 `+reloadOrigin(t)+`
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Without a master, `-x <stats socket> -sf <old pid>` (HAProxy's reload
// by hand, and what scripts and older units do): the new process takes
// the old one's listening sockets through its stats socket (expose-fd
// listeners); under load, no request fails across several such reloads.
func TestReloadWithXferSocket(t *testing.T) {
	bin := haloBinary(t)
	port := wirecase.ClaimPort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	sock := filepath.Join(t.TempDir(), "admin.sock")
	cfg := xferConfig(t, addr, sock)
	cur, exited, out := startProcess(t, port, bin, "haproxy", "-db", "-f", cfg)
	if err := wirecase.WaitListening(port, exited); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	inode := listenInode(port)
	load := startReloadLoad(addr, 10, 4)
	for i := 0; i < 4; i++ {
		time.Sleep(400 * time.Millisecond)
		next, nexited, nout := startProcess(t, port, bin, "haproxy", "-db", "-f", cfg, "-x", sock, "-sf", strconv.Itoa(cur.Process.Pid))
		select {
		case <-exited:
		case <-nexited:
			t.Fatalf("new process exited\n%s", nout)
		case <-time.After(10 * time.Second):
			t.Fatalf("old process still running 10 s after the new one started\n%s\n%s", out, nout)
		}
		if !holdsSocket(next.Process.Pid, inode) {
			t.Errorf("reload %d: the new process did not take the listening socket (inode %s)", i+1, inode)
		}
		cur, exited, out = next, nexited, nout
	}
	time.Sleep(300 * time.Millisecond)
	ok, failures := load.finish()
	t.Logf("4 reloads with -x, %d requests answered, failures: %v", ok, failures)
	if len(failures) > 0 {
		t.Errorf("requests failed across reloads: %v", failures)
	}
}

// The handover speaks HAProxy's _getsocks: halo started with -x takes a
// running HAProxy's listening socket (a migration without a refused
// connection), and HAProxy started with -x takes halo's.
func TestXferSocketWithHAProxy(t *testing.T) {
	hp, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy not installed: no interoperability check")
	}
	bin := haloBinary(t)
	port := wirecase.ClaimPort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	sock := filepath.Join(t.TempDir(), "admin.sock")
	cfg := xferConfig(t, addr, sock)
	steps := [][]string{
		{hp, "-db", "-f", cfg},
		{bin, "haproxy", "-db", "-f", cfg, "-x", sock, "-sf"},
		{hp, "-db", "-f", cfg, "-x", sock, "-sf"},
	}
	var cur *exec.Cmd
	var exited chan struct{}
	var inode string
	for i, argv := range steps {
		if cur != nil {
			argv = append(argv, strconv.Itoa(cur.Process.Pid))
		}
		next, nexited, nout := startProcess(t, port, argv...)
		if cur == nil {
			if err := wirecase.WaitListening(port, nexited); err != nil {
				t.Fatalf("%v\n%s", err, nout)
			}
			inode = listenInode(port)
		} else {
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				t.Fatalf("step %d: old process still running", i)
			}
			if !holdsSocket(next.Process.Pid, inode) {
				t.Fatalf("step %d (%s): the listening socket (inode %s) was not handed over\n%s", i, filepath.Base(argv[0]), inode, nout)
			}
		}
		resp, err := http.Get("http://" + addr + "/")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("step %d: %v %v\n%s", i, resp, err, nout)
		}
		resp.Body.Close()
		cur, exited = next, nexited
	}
}

// An idle keep-alive connection keeps a soft-stopping process (its next
// request would be answered with connection: close) until its keep-alive
// timeout; hard-stop-after bounds that wait, as in HAProxy.
func TestHardStopAfterBoundsSoftStop(t *testing.T) {
	bin := haloBinary(t)
	port := wirecase.ClaimPort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(`global
    hard-stop-after 1s
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
frontend fe
    bind `+addr+`
    default_backend be
backend be
    server s1 `+reloadOrigin(t)+`
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, exited, out := startProcess(t, port, bin, "haproxy", "-db", "-f", cfg)
	if err := wirecase.WaitListening(port, exited); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.Close {
		t.Fatalf("%v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGUSR1)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5 s after a soft stop with hard-stop-after 1s\n%s", out)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("stopped after %v: the idle connection was not left to its client until hard-stop-after", d)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Error("the idle connection is still open after the hard stop")
	}
}
