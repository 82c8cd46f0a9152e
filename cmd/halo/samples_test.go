package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"halo/compat"
	"halo/proxy"
)

var recordSamples = flag.Bool("record-samples", false, "record testdata/haproxy/samples/*.golden with /usr/sbin/haproxy")

// The sample vocabulary against HAProxy 2.6.12: every fetch and converter
// expression of testdata/haproxy/samples/MODE.txt is evaluated by one
// configuration (a lf-string body in mode req, a response header in mode
// res) over the same requests, and halo's answers must equal what real
// haproxy answered (MODE.golden, written by -record-samples). An
// expression haproxy refuses must be refused by halo's check too.

// samplesConfig is the configuration both haproxy and halo run; rule n
// answers the request for /n with expression n.
func samplesConfig(mode string, exprs []string, port, sport int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
  setenv ORACLE_ENV hello
defaults
  mode http
  timeout client 5s
  timeout server 5s
  timeout connect 5s
listen f
  bind 127.0.0.1:%d name mybind id 7
  unique-id-format abc-%%[str(x)]
  declare capture request len 32
  http-request capture req.hdr(host) len 20
  http-request set-var(txn.foo) str(foovalue)
  http-request set-var(req.num) int(42)
  http-request set-var(txn.p) path
  server srv1 127.0.0.1:%d id 5
`, port, sport)
	for i, e := range exprs {
		b.WriteString(sampleRule(mode, i+1, e))
	}
	fmt.Fprintf(&b, `frontend srv
  bind 127.0.0.1:%d
  http-request return status 200 content-type text/plain hdr X-S "a, b" hdr Set-Cookie "c=3; path=/" string "resbody"
`, sport)
	return b.String()
}

func sampleRule(mode string, n int, e string) string {
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`).Replace(e)
	if mode == "res" {
		return fmt.Sprintf("  http-response set-header X-R \"[%%[%s]]\" if { var(txn.p) -m str /%d }\n", esc, n)
	}
	return fmt.Sprintf("  http-request return status 200 content-type text/plain lf-string \"[%%[%s]]\" if { path /%d }\n", esc, n)
}

// sampleRequest is the request for /n, as curl 7.88.1 sends it.
func sampleRequest(mode string, n int) string {
	if mode == "res" {
		return fmt.Sprintf("GET /%d?x=1&y=2 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nX-Test: a, b\r\nCookie: a=1; b=2; a=3\r\nCookie: c=4\r\n\r\n", n)
	}
	return fmt.Sprintf("POST /%d?x=1&y=2 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nX-Test: a, b\r\nX-Num: 12\r\nCookie: a=1; b=2; a=3\r\nCookie: c=4\r\nX-IP: 192.168.1.7\r\nContent-Length: 9\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\np=1&q=two", n)
}

// askSample sends request n and returns the sample's text.
func askSample(addr, mode string, n int) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, sampleRequest(mode, n)); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(resp.Body)
	if mode == "res" {
		return resp.Header.Get("X-R"), nil
	}
	return string(body), nil
}

func freePort(t *testing.T) int {
	_, p, _ := net.SplitHostPort(freeAddr(t))
	n, _ := strconv.Atoi(p)
	return n
}

func readLines(t *testing.T, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func TestSamplesAgainstHAProxy(t *testing.T) {
	for _, mode := range []string{"req", "res"} {
		t.Run(mode, func(t *testing.T) {
			dir := "../../testdata/haproxy/samples"
			exprs := readLines(t, filepath.Join(dir, mode+".txt"))
			golden := filepath.Join(dir, mode+".golden")
			if *recordSamples {
				recordHAProxySamples(t, mode, exprs, golden)
			}
			want := map[string]string{}
			for _, l := range readLines(t, golden) {
				e, v, _ := strings.Cut(l, "\t")
				want[e] = v
			}
			// Expressions haproxy refuses: halo's check refuses them too.
			var ok []string
			for _, e := range exprs {
				w, found := want[e]
				if !found {
					t.Fatalf("%s: no recorded answer (run with -record-samples)", e)
				}
				if w != "!refused" {
					ok = append(ok, e)
					continue
				}
				cfg, rep := compat.LoadHAProxyBytes("t.cfg", []byte(samplesConfig(mode, []string{e}, 1, 2)), compat.HAProxyOptions{})
				if !rep.Fatal() && proxy.Check(cfg, haproxyEngine()...) == nil {
					t.Errorf("%s: haproxy refuses it, halo accepts it", e)
				}
			}
			port, sport := freePort(t), freePort(t)
			runEngine(t, samplesConfig(mode, ok, port, sport))
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			for i, e := range ok {
				got, err := askSample(addr, mode, i+1)
				if err != nil {
					t.Errorf("%s: %v", e, err)
					continue
				}
				if q := strconv.Quote(got); q != want[e] {
					t.Errorf("%s: halo %s, haproxy 2.6.12 %s", e, q, want[e])
				}
			}
		})
	}
}

// recordHAProxySamples runs /usr/sbin/haproxy on the same configuration
// and requests and writes its answers.
func recordHAProxySamples(t *testing.T, mode string, exprs []string, golden string) {
	var out strings.Builder
	fmt.Fprintf(&out, "# answers of haproxy 2.6.12 (go test -run TestSamplesAgainstHAProxy -record-samples ./cmd/halo/)\n")
	dir := t.TempDir()
	var ok []string
	refused := map[string]bool{}
	for _, e := range exprs {
		cfg := filepath.Join(dir, "one.cfg")
		os.WriteFile(cfg, []byte(samplesConfig(mode, []string{e}, freePort(t), freePort(t))), 0o644)
		if exec.Command("/usr/sbin/haproxy", "-c", "-q", "-f", cfg).Run() != nil {
			refused[e] = true
			continue
		}
		ok = append(ok, e)
	}
	port, sport := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "all.cfg")
	os.WriteFile(cfg, []byte(samplesConfig(mode, ok, port, sport)), 0o644)
	cmd := exec.Command("/usr/sbin/haproxy", "-db", "-f", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for range 50 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	n := 0
	for _, e := range exprs {
		if refused[e] {
			fmt.Fprintf(&out, "%s\t!refused\n", e)
			continue
		}
		n++
		got, err := askSample(addr, mode, n)
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		fmt.Fprintf(&out, "%s\t%s\n", e, strconv.Quote(got))
	}
	if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSessionVariables: sess.* variables live as long as the client
// connection (set by tcp-request session rules, kept across keep-alive
// requests), txn.* ones as long as a request.
func TestSessionVariables(t *testing.T) {
	port := freePort(t)
	runEngine(t, fmt.Sprintf(`
defaults
  mode http
  timeout client 5s
  timeout server 5s
  timeout connect 5s
frontend f
  bind 127.0.0.1:%d
  tcp-request session set-var(sess.s) str(fromsession)
  http-request set-var(sess.n) int(0) unless { var(sess.n) -m found }
  http-request set-var(sess.n) var(sess.n),add(1)
  http-request set-var(txn.seen) var(txn.t)
  http-request set-var(txn.t) int(7)
  http-request return status 200 content-type text/plain lf-string "n=%%[var(sess.n)] s=%%[var(sess.s)] seen=%%[var(txn.seen)]"
`, port))
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i, want := range []string{"n=1 s=fromsession seen=", "n=2 s=fromsession seen="} {
		c.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != want {
			t.Errorf("request %d: %q, want %q", i+1, body, want)
		}
	}
}

func f7(f []string) string {
	if len(f) < 8 {
		return ""
	}
	return f[7]
}

// TestTCPInfoFetches: fc_rtt and the other TCP_INFO fetches read the
// kernel's counters of the client socket (values vary, so no golden:
// numbers, an unacked count of 0 once the request is read, and the
// system's reordering default).
func TestTCPInfoFetches(t *testing.T) {
	port := freePort(t)
	runEngine(t, fmt.Sprintf(`
defaults
  mode http
  timeout client 5s
  timeout server 5s
  timeout connect 5s
frontend f
  bind 127.0.0.1:%d
  http-request return status 200 content-type text/plain lf-string "%%[fc_rtt] %%[fc_rtt(us)] %%[fc_rttvar] %%[fc_unacked] %%[fc_sacked] %%[fc_retrans] %%[fc_lost] %%[fc_reordering]"
`, port))
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	f := strings.Fields(string(body))
	// the kernel starts a socket's reordering at the sysctl and may raise
	// it when it sees reordering, never lower it
	reord, _ := os.ReadFile("/proc/sys/net/ipv4/tcp_reordering")
	base, _ := strconv.Atoi(strings.TrimSpace(string(reord)))
	got, err := strconv.Atoi(f7(f))
	if len(f) != 8 || f[3] != "0" || f[4] != "0" || err != nil || got < base {
		t.Fatalf("TCP_INFO fetches: %q (tcp_reordering %d)", body, base)
	}
	ms, _ := strconv.Atoi(f[0])
	us, _ := strconv.Atoi(f[1])
	if us/1000 != ms {
		t.Errorf("fc_rtt %d ms but %d us", ms, us)
	}
}
