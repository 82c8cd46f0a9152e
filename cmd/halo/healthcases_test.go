package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The health cases (testdata/haproxy/health/*.case) are recordings of
// HAProxy 2.6.12 on this box: one configuration, scripted backends that
// change behaviour on a timeline, and the syslog lines HAProxy wrote
// (state changes, log-health-checks lines). TestHealthCases replays each
// against halo's engine and compares the lines server by server (the
// interleaving of servers is HAProxy's scheduling, their order within a
// server is the behaviour). Record again with
//
//	go test ./cmd/halo -run TestHealthCases -args -record-health [-case NAME]
//
// which runs /usr/sbin/haproxy twice per case and keeps a case only when
// both runs agree.
//
// A case file holds three sections:
//
//	-- config --   HAProxy configuration; {{log}} is the syslog address,
//	               {{fe}} a free address for a frontend, {{NAME}},
//	               {{NAME.ip}}, {{NAME.port}} a scripted backend's
//	-- script --   lines "AT NAME OP…" (AT a duration from start): from AT
//	               on, each connection NAME accepts runs the OPs: recv
//	               (read once), send "go-quoted", wait DURATION, hold (read
//	               until the peer closes), close, rst; "refuse" closes the
//	               listener. "AT cli "command"" sends a command to the
//	               stats socket {{sock}}, "AT get "/path"" an HTTP/1.0
//	               request to {{fe}}. "AT end" stops the run.
//	-- log --      the normalized lines (recorded)
var (
	recordHealth   = flag.Bool("record-health", false, "record testdata/haproxy/health/*.case with the real haproxy")
	healthCaseOnly = flag.String("case", "", "only this health case (with -record-health)")
)

const healthCaseDir = "../../testdata/haproxy/health"

type healthCase struct {
	path, head, config string
	script             []scriptLine
	log                []string
	end                time.Duration
}

type scriptLine struct {
	at   time.Duration
	name string
	ops  []string
}

func readHealthCase(path string) (*healthCase, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	hc := &healthCase{path: path}
	sec := map[string]*strings.Builder{}
	cur := ""
	var head strings.Builder
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "-- ") && strings.HasSuffix(t, " --") && len(t) > 6 {
			cur = strings.TrimSpace(t[3 : len(t)-3])
			sec[cur] = &strings.Builder{}
			continue
		}
		if cur == "" {
			head.WriteString(line)
		} else {
			sec[cur].WriteString(line)
		}
	}
	hc.head = head.String()
	for _, s := range []string{"config", "script"} {
		if sec[s] == nil {
			return nil, fmt.Errorf("%s: no %q section", path, s)
		}
	}
	hc.config = sec["config"].String()
	for i, line := range strings.Split(sec["script"].String(), "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		toks, err := scriptTokens(line)
		if err != nil || len(toks) < 2 {
			return nil, fmt.Errorf("%s: script line %d: %q: %v", path, i+1, line, err)
		}
		at, err := time.ParseDuration(toks[0])
		if err != nil {
			return nil, fmt.Errorf("%s: script line %d: %v", path, i+1, err)
		}
		if toks[1] == "end" {
			hc.end = at
			continue
		}
		if len(toks) < 3 {
			return nil, fmt.Errorf("%s: script line %d: no operation", path, i+1)
		}
		hc.script = append(hc.script, scriptLine{at, toks[1], toks[2:]})
	}
	if hc.end == 0 {
		return nil, fmt.Errorf("%s: the script has no end", path)
	}
	if sec["log"] != nil {
		for _, l := range strings.Split(sec["log"].String(), "\n") {
			if l != "" {
				hc.log = append(hc.log, l)
			}
		}
	}
	return hc, nil
}

// scriptTokens splits on blanks, a token starting with '"' being a Go
// string literal (kept quoted).
func scriptTokens(s string) ([]string, error) {
	var out []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, nil
		}
		if s[0] == '"' {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, err
			}
			out = append(out, q)
			s = s[len(q):]
			continue
		}
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			i = len(s)
		}
		out = append(out, s[:i])
		s = s[i:]
	}
}

// scriptedServer is one backend of a case: a fixed port, a listener that
// comes and goes, and the operations every accepted connection runs.
type scriptedServer struct {
	name, addr string
	mu         sync.Mutex
	ln         net.Listener
	ops        []string
	conns      map[net.Conn]bool
}

func (s *scriptedServer) set(ops []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ops[0] == "refuse" {
		if s.ln != nil {
			s.ln.Close()
			s.ln = nil
		}
		return nil
	}
	s.ops = ops
	if s.ln != nil {
		return nil
	}
	var err error
	for i := 0; i < 50; i++ {
		if s.ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	go s.accept(s.ln)
	return nil
}

func (s *scriptedServer) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		ops := s.ops
		s.conns[c] = true
		s.mu.Unlock()
		go func() {
			runOps(c, ops)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *scriptedServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		c.Close()
	}
}

func runOps(c net.Conn, ops []string) {
	defer c.Close()
	buf := make([]byte, 16384)
	for i := 0; i < len(ops); i++ {
		switch op := ops[i]; op {
		case "recv":
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, err := c.Read(buf); err != nil {
				return
			}
		case "send":
			i++
			v, _ := strconv.Unquote(ops[i])
			if _, err := io.WriteString(c, v); err != nil {
				return
			}
		case "wait":
			i++
			d, _ := time.ParseDuration(ops[i])
			time.Sleep(d)
		case "hold":
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			io.Copy(io.Discard, c)
		case "close":
			return
		case "rst":
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			return
		}
	}
}

// runHealthCase plays a case's script against either the real haproxy
// (record) or halo's engine and returns the normalized log lines.
func runHealthCase(t *testing.T, hc *healthCase, record bool) []string {
	t.Helper()
	servers := map[string]*scriptedServer{}
	vars := map[string]string{}
	var names []string
	for _, sl := range hc.script {
		if servers[sl.name] == nil && sl.name != "cli" && sl.name != "get" {
			a := freeAddr(t)
			servers[sl.name] = &scriptedServer{name: sl.name, addr: a, conns: map[net.Conn]bool{}}
			names = append(names, sl.name)
			ip, port, _ := net.SplitHostPort(a)
			vars["{{"+sl.name+"}}"], vars["{{"+sl.name+".ip}}"], vars["{{"+sl.name+".port}}"] = a, ip, port
		}
	}
	for _, s := range servers {
		t.Cleanup(s.stop)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	sock := filepath.Join(t.TempDir(), "admin.sock")
	vars["{{log}}"], vars["{{fe}}"], vars["{{sock}}"] = pc.LocalAddr().String(), freeAddr(t), sock
	cfg := hc.config
	for k, v := range vars {
		cfg = strings.ReplaceAll(cfg, k, v)
	}
	var mu sync.Mutex
	var raw []string
	stopped := false
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			mu.Lock()
			if !stopped {
				raw = append(raw, strings.TrimRight(string(buf[:n]), "\n"))
			}
			mu.Unlock()
		}
	}()
	i := 0
	for ; i < len(hc.script) && hc.script[i].at == 0; i++ {
		if err := servers[hc.script[i].name].set(hc.script[i].ops); err != nil {
			t.Fatal(err)
		}
	}
	var stop func()
	if record {
		f := filepath.Join(t.TempDir(), "haproxy.cfg")
		if err := os.WriteFile(f, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/usr/sbin/haproxy", "-db", "-f", f)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop = func() {
			select {
			case err := <-exited:
				t.Fatalf("haproxy exited before the end (%v):\n%s", err, stderr.String())
			default:
			}
			cmd.Process.Kill()
			<-exited
		}
	} else {
		rt := runEngine(t, cfg)
		stop = rt.HardStop
	}
	t0 := time.Now()
	for ; i < len(hc.script); i++ {
		sl := hc.script[i]
		time.Sleep(time.Until(t0.Add(sl.at)))
		if sl.name == "cli" {
			c, _ := strconv.Unquote(sl.ops[0])
			cli(t, sock, c)
			continue
		}
		if sl.name == "get" {
			path, _ := strconv.Unquote(sl.ops[0])
			rawRequest(t, vars["{{fe}}"], "GET "+path+" HTTP/1.0\r\n\r\n")
			continue
		}
		if err := servers[sl.name].set(sl.ops); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Until(t0.Add(hc.end)))
	mu.Lock()
	stopped = true
	lines := raw
	mu.Unlock()
	stop()
	ports := map[string]string{}
	for _, n := range names {
		_, p, _ := net.SplitHostPort(servers[n].addr)
		ports[p] = "{{" + n + ".port}}"
	}
	var out []string
	for _, l := range lines {
		out = append(out, normalizeHealthLog(l, ports))
	}
	return out
}

var (
	syslogHead   = regexp.MustCompile(`^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ([^\[ ]+)\[\d+\]: `)
	durationRe   = regexp.MustCompile(`check duration: \d+ms`)
	portRe       = regexp.MustCompile(`\b\d{4,5}\b`)
	logServerRe  = regexp.MustCompile(`[Ss]erver ([^/ ]+/[^ ,.:]+)`)
	logBackendRe = regexp.MustCompile(`(?:backend|proxy) '?([^' ]+)'?`)
)

// normalizeHealthLog keeps a syslog line's priority, tag and message,
// with durations and the scripted servers' ports made constant.
func normalizeHealthLog(l string, ports map[string]string) string {
	if m := syslogHead.FindStringSubmatch(l); m != nil {
		l = "<" + m[1] + ">" + m[2] + ": " + l[len(m[0]):]
	}
	l = durationRe.ReplaceAllString(l, "check duration: Nms")
	return portRe.ReplaceAllStringFunc(l, func(p string) string {
		if n, ok := ports[p]; ok {
			return n
		}
		return p
	})
}

// healthLogGroups splits lines by the server (be/srv) or else the proxy
// they are about, keeping their order.
func healthLogGroups(lines []string) map[string][]string {
	g := map[string][]string{}
	for _, l := range lines {
		k := "-"
		if m := logServerRe.FindStringSubmatch(l); m != nil {
			k = m[1]
		} else if m := logBackendRe.FindStringSubmatch(l); m != nil {
			k = m[1]
		}
		g[k] = append(g[k], l)
	}
	return g
}

func diffHealthLogs(want, got []string) string {
	wg, gg := healthLogGroups(want), healthLogGroups(got)
	var keys []string
	for k := range wg {
		keys = append(keys, k)
	}
	for k := range gg {
		if _, ok := wg[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		w, g := wg[k], gg[k]
		if strings.Join(w, "\n") == strings.Join(g, "\n") {
			continue
		}
		fmt.Fprintf(&b, "%s:\n  haproxy:\n", k)
		for _, l := range w {
			fmt.Fprintf(&b, "    %s\n", l)
		}
		fmt.Fprintf(&b, "  halo:\n")
		for _, l := range g {
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	return b.String()
}

func healthCaseFiles(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join(healthCaseDir, "*.case"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no health cases in %s: %v", healthCaseDir, err)
	}
	return files
}

// TestHealthCases replays the recorded health cases against halo.
func TestHealthCases(t *testing.T) {
	for _, f := range healthCaseFiles(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".case")
		if *healthCaseOnly != "" && name != *healthCaseOnly {
			continue
		}
		t.Run(name, func(t *testing.T) {
			hc, err := readHealthCase(f)
			if err != nil {
				t.Fatal(err)
			}
			if *recordHealth {
				recordHealthCase(t, hc)
				return
			}
			t.Parallel()
			if len(hc.log) == 0 {
				t.Fatalf("%s has no recorded log (run with -record-health)", f)
			}
			got := runHealthCase(t, hc, false)
			if d := diffHealthLogs(hc.log, got); d != "" {
				// timing: one more try before calling it a difference
				t.Logf("first run differs, trying again:\n%s", d)
				got = runHealthCase(t, hc, false)
				if d2 := diffHealthLogs(hc.log, got); d2 != "" {
					t.Errorf("%s: log lines differ from HAProxy 2.6.12's:\n%s", filepath.Base(f), d2)
				}
			}
		})
	}
}

func recordHealthCase(t *testing.T, hc *healthCase) {
	if _, err := os.Stat("/usr/sbin/haproxy"); err != nil {
		t.Skip("no /usr/sbin/haproxy to record with")
	}
	a := runHealthCase(t, hc, true)
	b := runHealthCase(t, hc, true)
	if d := diffHealthLogs(a, b); d != "" {
		t.Fatalf("two haproxy runs disagree, the case is timing-dependent:\n%s", d)
	}
	var out strings.Builder
	out.WriteString(hc.head)
	out.WriteString("-- config --\n" + hc.config)
	if !strings.HasSuffix(hc.config, "\n") {
		out.WriteString("\n")
	}
	out.WriteString("-- script --\n")
	for _, sl := range hc.script {
		fmt.Fprintf(&out, "%s %s %s\n", sl.at, sl.name, strings.Join(sl.ops, " "))
	}
	fmt.Fprintf(&out, "%s end\n", hc.end)
	out.WriteString("-- log --\n")
	for _, l := range a {
		out.WriteString(l + "\n")
	}
	if err := os.WriteFile(hc.path, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s: %d lines", hc.path, len(a))
}
