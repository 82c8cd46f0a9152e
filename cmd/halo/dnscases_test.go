package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The DNS cases (testdata/haproxy/dns/*.case) are recordings of HAProxy
// 2.6.12 on this box following a name whose records change while
// traffic flows: one configuration with a resolvers section pointing at
// an in-test DNS server, HTTP backends on loopback addresses that name
// themselves, a timeline of DNS answers, requests and runtime API
// commands, and what HAProxy did: its syslog lines (address changes,
// maintenance), which backend answered each request, and `show servers
// state`. TestDNSCases replays each against halo's engine. Record again
// with
//
//	go test ./cmd/halo -run TestDNSCases -args -record-dns [-dns-case NAME]
//
// which runs /usr/sbin/haproxy twice and keeps a case only when both
// runs agree.
//
// A case file holds these sections:
//
//	-- config --    {{dns}} the DNS server, {{log}} syslog, {{fe}} a free
//	                frontend address, {{sock}} the stats socket, {{port}}
//	                the backends' common port
//	-- backends --  lines "NAME IP": an HTTP server on IP:{{port}}
//	                answering its NAME
//	-- script --    "AT dns NAME TYPE VALUE… [TYPE VALUE…]" sets the
//	                answers for NAME (TYPE A, AAAA, SRV "PRIO WEIGHT PORT
//	                TARGET", or NX, REFUSED, DROP for no answer);
//	                "AT get "/path"",
//	                "AT cli "command"", "AT end"
//	-- log --       the recorded lines: syslog lines, "get: NAME",
//	                "cli: …" (show servers state's columns with the time
//	                since the last change as T)
var (
	recordDNS  = flag.Bool("record-dns", false, "record testdata/haproxy/dns/*.case with the real haproxy")
	dnsCaseOne = flag.String("dns-case", "", "only this DNS case")
)

const dnsCaseDir = "../../testdata/haproxy/dns"

type dnsCase struct {
	path, head, config string
	backends           [][2]string
	script             []scriptLine
	log                []string
	end                time.Duration
}

func readDNSCase(path string) (*dnsCase, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dc := &dnsCase{path: path}
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
	dc.head = head.String()
	for _, s := range []string{"config", "backends", "script"} {
		if sec[s] == nil {
			return nil, fmt.Errorf("%s: no %q section", path, s)
		}
	}
	dc.config = sec["config"].String()
	for _, l := range strings.Split(sec["backends"].String(), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			dc.backends = append(dc.backends, [2]string{f[0], f[1]})
		}
	}
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
			dc.end = at
			continue
		}
		dc.script = append(dc.script, scriptLine{at, toks[1], toks[2:]})
	}
	if dc.end == 0 {
		return nil, fmt.Errorf("%s: the script has no end", path)
	}
	if sec["log"] != nil {
		for _, l := range strings.Split(sec["log"].String(), "\n") {
			if l != "" {
				dc.log = append(dc.log, l)
			}
		}
	}
	return dc, nil
}

// testDNS is the in-test DNS server: answers set by the script.
type testDNS struct {
	mu      sync.Mutex
	answers map[string][]string // "NAME": ["A 1.2.3.4", …] or ["NX"]
	srv     *dns.Server
	addr    string
}

func startTestDNS(t *testing.T) *testDNS {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &testDNS{answers: map[string][]string{}, addr: pc.LocalAddr().String()}
	d.srv = &dns.Server{PacketConn: pc, Handler: d}
	go d.srv.ActivateAndServe()
	t.Cleanup(func() { d.srv.Shutdown() })
	return d
}

func (d *testDNS) set(name string, vals []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.answers[strings.ToLower(name)] = vals
}

// ServeDNS answers from the script's records: the records of the type
// asked (none: NOERROR without answers), SRV answers with the targets'
// A/AAAA records as additional records.
func (d *testDNS) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	if len(q.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	qq := q.Question[0]
	if os.Getenv("HALO_DNS_STDERR") != "" {
		fmt.Fprintf(os.Stderr, "dns query %s %s\n", qq.Name, dns.TypeToString[qq.Qtype])
	}
	name := strings.TrimSuffix(strings.ToLower(qq.Name), ".")
	vals, ok := d.answers[name]
	switch {
	case !ok || (len(vals) == 1 && vals[0] == "NX"):
		m.Rcode = dns.RcodeNameError
	case len(vals) == 1 && vals[0] == "REFUSED":
		m.Rcode = dns.RcodeRefused
	case len(vals) == 1 && vals[0] == "DROP":
		return
	default:
		for _, v := range vals {
			typ, val, _ := strings.Cut(v, " ")
			if dns.StringToType[typ] != qq.Qtype {
				continue
			}
			rr, err := dns.NewRR(fmt.Sprintf("%s 1 IN %s %s", qq.Name, typ, val))
			if err != nil {
				continue
			}
			m.Answer = append(m.Answer, rr)
			if s, ok := rr.(*dns.SRV); ok {
				for _, tv := range d.answers[strings.TrimSuffix(strings.ToLower(s.Target), ".")] {
					ttyp, tval, _ := strings.Cut(tv, " ")
					if ttyp == "A" || ttyp == "AAAA" {
						if x, err := dns.NewRR(fmt.Sprintf("%s 1 IN %s %s", s.Target, ttyp, tval)); err == nil {
							m.Extra = append(m.Extra, x)
						}
					}
				}
			}
		}
	}
	w.WriteMsg(m)
}

// namedBackend answers every request with its name.
func namedBackend(t *testing.T, name, addr string) {
	ln, err := net.Listen("tcp", addr)
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
				r := bufio.NewReader(c)
				for {
					l, err := r.ReadString('\n')
					if err != nil || strings.TrimSpace(l) == "" {
						break
					}
				}
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(name), name)
			}()
		}
	}()
}

// commonPort finds a port free on every backend address.
func commonPort(t *testing.T, ips []string) string {
	for try := 0; try < 20; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		ln.Close()
		ok := true
		for _, ip := range ips {
			l, err := net.Listen("tcp", net.JoinHostPort(ip, port))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no common free port")
	return ""
}

var stateTimeRe = regexp.MustCompile(`^((?:\S+ ){9})\d+ `)

// runDNSCase plays a case against the real haproxy (record) or halo's
// engine and returns the normalized lines.
func runDNSCase(t *testing.T, dc *dnsCase, record bool) []string {
	t.Helper()
	d := startTestDNS(t)
	var ips []string
	for _, b := range dc.backends {
		ips = append(ips, b[1])
	}
	port := commonPort(t, ips)
	for _, b := range dc.backends {
		namedBackend(t, b[0], net.JoinHostPort(b[1], port))
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	sock := filepath.Join(t.TempDir(), "admin.sock")
	fe := freeAddr(t)
	vars := map[string]string{"{{dns}}": d.addr, "{{log}}": pc.LocalAddr().String(), "{{fe}}": fe, "{{sock}}": sock, "{{port}}": port}
	cfg := dc.config
	for k, v := range vars {
		cfg = strings.ReplaceAll(cfg, k, v)
	}
	var mu sync.Mutex
	var lines []string
	add := func(l string) {
		mu.Lock()
		lines = append(lines, l)
		mu.Unlock()
	}
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
				lines = append(lines, strings.TrimRight(string(buf[:n]), "\n"))
			}
			mu.Unlock()
		}
	}()
	setDNS := func(ops []string) {
		vals := dnsValues(ops[1:])
		for j := range vals {
			vals[j] = strings.ReplaceAll(vals[j], "{{port}}", port)
		}
		d.set(ops[0], vals)
	}
	i := 0
	for ; i < len(dc.script) && dc.script[i].at == 0 && dc.script[i].name == "dns"; i++ {
		setDNS(dc.script[i].ops)
	}
	var stop func()
	if record {
		f := filepath.Join(t.TempDir(), "haproxy.cfg")
		if err := os.WriteFile(f, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/usr/sbin/haproxy", "-db", "-f", f)
		cmd.Stderr = io.Discard
		if os.Getenv("HALO_DNS_STDERR") != "" {
			cmd.Stderr = os.Stderr
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stop = func() { cmd.Process.Kill(); cmd.Wait() }
	} else {
		rt := runEngine(t, cfg)
		stop = rt.HardStop
	}
	t0 := time.Now()
	for ; i < len(dc.script); i++ {
		sl := dc.script[i]
		time.Sleep(time.Until(t0.Add(sl.at)))
		switch sl.name {
		case "dns":
			setDNS(sl.ops)
		case "cli":
			c, _ := strconv.Unquote(sl.ops[0])
			for _, l := range strings.Split(strings.TrimRight(cli(t, sock, c), "\n"), "\n") {
				add("cli: " + stateTimeRe.ReplaceAllString(l, "${1}T "))
			}
		case "get":
			p, _ := strconv.Unquote(sl.ops[0])
			add("get: " + httpGetBody(fe, p))
		}
	}
	time.Sleep(time.Until(t0.Add(dc.end)))
	mu.Lock()
	stopped = true
	got := lines
	mu.Unlock()
	stop()
	ports := map[string]string{port: "{{port}}"}
	var out []string
	for _, l := range got {
		if strings.Contains(l, ": Connect from ") {
			continue // a client's ephemeral port; traffic is in the get lines
		}
		out = append(out, normalizeHealthLog(l, ports))
	}
	return out
}

// dnsValues turns a script's "TYPE VALUE… [TYPE VALUE…]" into the
// server's records ("NX", "REFUSED", "DROP" stand alone).
func dnsValues(ops []string) []string {
	if len(ops) == 1 {
		return ops
	}
	var out []string
	typ := ops[0]
	for _, o := range ops[1:] {
		if o == "A" || o == "AAAA" || o == "SRV" {
			typ = o
			continue
		}
		if u, err := strconv.Unquote(o); err == nil {
			o = u
		}
		out = append(out, typ+" "+o)
	}
	return out
}

// httpGetBody sends an HTTP/1.0 GET and returns the body, or the status
// line when the answer is not a 200.
func httpGetBody(addr, path string) string {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "error " + err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\n\r\n", path)
	b, _ := io.ReadAll(c)
	s := string(b)
	head, body, _ := strings.Cut(s, "\r\n\r\n")
	status, _, _ := strings.Cut(head, "\r\n")
	if !strings.Contains(status, " 200 ") {
		return status
	}
	return body
}

// splitDNSLines separates the ordered traffic and CLI lines from the
// syslog lines (grouped by server: their interleaving is scheduling).
func splitDNSLines(lines []string) (ordered, logs []string) {
	for _, l := range lines {
		if strings.HasPrefix(l, "get: ") || strings.HasPrefix(l, "cli: ") {
			ordered = append(ordered, l)
		} else {
			logs = append(logs, l)
		}
	}
	return ordered, logs
}

// dnsChangeRe finds the server of HAProxy's "be/srv changed its IP|FQDN"
// lines, which do not start with "Server".
var dnsChangeRe = regexp.MustCompile(`: ([^/ ]+/[^ ,.:]+) changed its `)

// dnsLogKeys prefixes each syslog line with the server it is about, so
// that diffHealthLogs groups the address changes with the server's other
// lines (their interleaving across servers is the order of the answers).
func dnsLogKeys(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if m := dnsChangeRe.FindStringSubmatch(l); m != nil {
			l = "server " + m[1] + " " + l
		}
		out[i] = l
	}
	return out
}

func diffDNS(want, got []string) string {
	wo, wl := splitDNSLines(want)
	gO, gl := splitDNSLines(got)
	d := diffHealthLogs(dnsLogKeys(wl), dnsLogKeys(gl))
	if strings.Join(wo, "\n") != strings.Join(gO, "\n") {
		d += "traffic and CLI:\n  haproxy:\n    " + strings.Join(wo, "\n    ") + "\n  halo:\n    " + strings.Join(gO, "\n    ") + "\n"
	}
	return d
}

// TestDNSCases replays the recorded DNS cases against halo.
func TestDNSCases(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(dnsCaseDir, "*.case"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no DNS cases in %s", dnsCaseDir)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".case")
		if *dnsCaseOne != "" && name != *dnsCaseOne {
			continue
		}
		t.Run(name, func(t *testing.T) {
			dc, err := readDNSCase(f)
			if err != nil {
				t.Fatal(err)
			}
			if *recordDNS {
				recordDNSCase(t, dc)
				return
			}
			if len(dc.log) == 0 {
				t.Fatalf("%s has no recorded log (run with -record-dns)", f)
			}
			got := runDNSCase(t, dc, false)
			if d := diffDNS(dc.log, got); d != "" {
				t.Logf("first run differs, trying again:\n%s", d)
				got = runDNSCase(t, dc, false)
				if d2 := diffDNS(dc.log, got); d2 != "" {
					t.Errorf("%s differs from HAProxy 2.6.12:\n%s", filepath.Base(f), d2)
				}
			}
		})
	}
}

func recordDNSCase(t *testing.T, dc *dnsCase) {
	if _, err := os.Stat("/usr/sbin/haproxy"); err != nil {
		t.Skip("no /usr/sbin/haproxy to record with")
	}
	a := runDNSCase(t, dc, true)
	b := runDNSCase(t, dc, true)
	if d := diffDNS(a, b); d != "" {
		t.Fatalf("two haproxy runs disagree, the case is timing-dependent:\n%s", d)
	}
	var out strings.Builder
	out.WriteString(dc.head)
	out.WriteString("-- config --\n" + dc.config)
	out.WriteString("-- backends --\n")
	for _, b := range dc.backends {
		fmt.Fprintf(&out, "%s %s\n", b[0], b[1])
	}
	out.WriteString("-- script --\n")
	for _, sl := range dc.script {
		fmt.Fprintf(&out, "%s %s %s\n", sl.at, sl.name, strings.Join(sl.ops, " "))
	}
	fmt.Fprintf(&out, "%s end\n", dc.end)
	out.WriteString("-- log --\n")
	for _, l := range a {
		out.WriteString(l + "\n")
	}
	if err := os.WriteFile(dc.path, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s: %d lines", dc.path, len(a))
}
