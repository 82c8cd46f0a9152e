package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"halo/internal/wirecase"
)

// debianUnit is what Debian 12's /lib/systemd/system/haproxy.service runs
// (Type=notify, KillMode=mixed, SuccessExitStatus=143). When the file is
// on the machine its lines are checked against these.
var debianUnit = struct {
	env                    map[string]string
	start, check, reloadKL string
}{
	env: map[string]string{"CONFIG": "/etc/haproxy/haproxy.cfg", "PIDFILE": "/run/haproxy.pid",
		"EXTRAOPTS": "-S /run/haproxy-master.sock"},
	start:    "/usr/sbin/haproxy -Ws -f $CONFIG -p $PIDFILE $EXTRAOPTS",
	check:    "/usr/sbin/haproxy -Ws -f $CONFIG -c -q $EXTRAOPTS",
	reloadKL: "/bin/kill -USR2 $MAINPID",
}

// unitArgs expands a unit command line as systemd does ($VAR split on
// blanks) and runs it with bin in place of /usr/sbin/haproxy.
func unitArgs(line string, env map[string]string, bin string) []string {
	var out []string
	for _, w := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(w, "$"); ok {
			out = append(out, strings.Fields(env[v])...)
			continue
		}
		if w == "/usr/sbin/haproxy" {
			out = append(out, bin, "haproxy")
			continue
		}
		out = append(out, w)
	}
	return out
}

func mcli(t *testing.T, path, in string) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("master CLI: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, in)
	_ = c.(*net.UnixConn).CloseWrite()
	out, _ := io.ReadAll(c)
	return string(out)
}

var procLine = regexp.MustCompile(`(?m)^(\d+)\s+(master|worker)\s+(\d+)(?: \[failed: (\d+)\])?\s+\d+d\d\dh\d\dm\d\ds\s+\S+\s*$`)

// showProc returns the master's reload count and the current workers'
// PIDs from `show proc`.
func showProc(t *testing.T, out string) (reloads int, workers []int) {
	t.Helper()
	cur := strings.Split(out, "# old workers")[0]
	for _, m := range procLine.FindAllStringSubmatch(cur, -1) {
		n, _ := strconv.Atoi(m[3])
		pid, _ := strconv.Atoi(m[1])
		if m[2] == "master" {
			reloads = n
		} else {
			workers = append(workers, pid)
		}
	}
	return
}

// TestDebianUnitCommandLines runs halo through the Debian unit's command
// lines, as systemd would: the check, ExecStart (-Ws … -S master socket,
// READY=1 on NOTIFY_SOCKET), ten ExecReloads (check, then kill -USR2
// $MAINPID) with `show proc` on the master socket after each, traffic
// answered throughout, and the stop (SIGTERM to the main process): the
// master exits with a success status and removes its pidfile.
func TestDebianUnitCommandLines(t *testing.T) {
	if b, err := os.ReadFile("/lib/systemd/system/haproxy.service"); err == nil {
		for _, l := range []string{"ExecStart=" + debianUnit.start, "ExecReload=" + debianUnit.check, "ExecReload=" + debianUnit.reloadKL} {
			if !strings.Contains(string(b), l+"\n") {
				t.Errorf("Debian's unit no longer says %q: update debianUnit", l)
			}
		}
		for k, v := range debianUnit.env {
			if !strings.Contains(string(b), `"`+k+"="+v+`"`) {
				t.Errorf("Debian's unit no longer sets %s=%s", k, v)
			}
		}
	}
	bin := haloBinary(t)
	dir := t.TempDir()
	port := wirecase.ClaimPort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	env := map[string]string{"CONFIG": filepath.Join(dir, "haproxy.cfg"), "PIDFILE": filepath.Join(dir, "haproxy.pid"),
		"EXTRAOPTS": "-S " + filepath.Join(dir, "haproxy-master.sock")}
	msock := filepath.Join(dir, "haproxy-master.sock")
	if err := os.WriteFile(env["CONFIG"], []byte(`global
    stats socket `+filepath.Join(dir, "admin.sock")+` mode 660 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind `+addr+`
    default_backend be
backend be
    server s1 `+reloadOrigin(t)+`
`), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func() {
		argv := unitArgs(debianUnit.check, env, bin)
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil || len(out) > 0 {
			t.Fatalf("%v: %v %q", argv, err, out)
		}
	}
	check()

	// systemd's notify socket
	nsock := filepath.Join(dir, "notify")
	nl, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: nsock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	notes := make(chan string, 64)
	go func() {
		b := make([]byte, 512)
		for {
			n, err := nl.Read(b)
			if err != nil {
				close(notes)
				return
			}
			notes <- string(b[:n])
		}
	}()
	waitNote := func(prefix string) string {
		t.Helper()
		for {
			select {
			case n, ok := <-notes:
				if !ok {
					t.Fatalf("notify socket closed waiting for %s", prefix)
				}
				if strings.HasPrefix(n, prefix) {
					return n
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no %s notification", prefix)
			}
		}
	}

	argv := unitArgs(debianUnit.start, env, bin)
	master := exec.Command(argv[0], argv[1:]...)
	master.Env = append(os.Environ(), "NOTIFY_SOCKET="+nsock)
	master.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out lockedLog
	master.Stdout, master.Stderr = &out, &out
	if err := master.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = master.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			_ = syscall.Kill(-master.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()
	ready := waitNote("READY=1")
	mainpid := master.Process.Pid
	if !strings.Contains(ready, "MAINPID="+strconv.Itoa(mainpid)) {
		t.Errorf("READY notification %q does not name the master %d", ready, mainpid)
	}
	if b, _ := os.ReadFile(env["PIDFILE"]); strings.TrimSpace(string(b)) != strconv.Itoa(mainpid) {
		t.Errorf("pidfile holds %q, want the master's PID %d", b, mainpid)
	}
	get := func() {
		t.Helper()
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("request: %v\n%s", err, out.String())
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	get()
	reloads, workers := showProc(t, mcli(t, msock, "show proc\n"))
	if reloads != 0 || len(workers) != 1 {
		t.Fatalf("show proc: %d reloads, workers %v\n%s", reloads, workers, mcli(t, msock, "show proc\n"))
	}
	seen := map[int]bool{workers[0]: true}
	for i := 1; i <= 10; i++ {
		check()
		kill := unitArgs(debianUnit.reloadKL, map[string]string{"MAINPID": strconv.Itoa(mainpid)}, bin)
		if out, err := exec.Command(kill[0], kill[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", kill, err, out)
		}
		waitNote("RELOADING=1")
		waitNote("READY=1")
		var sp string
		deadline := time.Now().Add(10 * time.Second)
		for {
			sp = mcli(t, msock, "show proc\n")
			reloads, workers = showProc(t, sp)
			if reloads == i && len(workers) == 1 && !seen[workers[0]] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("reload %d: show proc says\n%s\nlog:\n%s", i, sp, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		seen[workers[0]] = true
		if !strings.Contains(sp, "master          "+strconv.Itoa(i)+" [failed: 0]") {
			t.Errorf("reload %d: %s", i, sp)
		}
		// The current worker answers through the master.
		if info := mcli(t, msock, "@1 show info\n"); !strings.Contains(info, "\nPid: "+strconv.Itoa(workers[0])+"\n") {
			t.Errorf("reload %d: @1 show info:\n%s", i, info)
		}
		get()
	}
	if n := strings.Count(out.String(), "Loading success."); n != 11 {
		t.Errorf("%d 'Loading success.' notices, want 11:\n%s", n, out.String())
	}
	// systemd stops a KillMode=mixed service with SIGTERM to the main
	// process.
	_ = master.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("the master did not stop\n%s", out.String())
	}
	if code := master.ProcessState.ExitCode(); code != 0 && code != 143 {
		t.Errorf("exit status %d, the unit's success statuses are 0 and 143", code)
	}
	for _, f := range []string{env["PIDFILE"], msock} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s left behind", f)
		}
	}
	for _, want := range []string{"Reloading HAProxy", "Exiting Master process...", "All workers exited. Exiting... (0)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, out.String())
		}
	}
}

// lockedLog collects a process's output.
type lockedLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// masterCLICases are master CLI inputs whose answers halo gives as
// HAProxy 2.6.12 does (testdata/mcli.golden, recorded from HAProxy with
// HALO_MCLI_RECORD=/usr/sbin/haproxy).
var masterCLICases = []string{
	"show proc",
	"help",
	"help show",
	"help show p",
	"foo;show cli level",
	"@0 show info",
	"@5 show info; show proc",
	"show cli level;@5;show cli level",
	"@!0 show info",
	"@-1 help",
	"user;help",
	"user;operator;show cli level",
	"user;reload",
	"user;show cli level",
	"operator;expert-mode on",
	"operator;show cli level;@1 show cli level",
	"expert-mode foo",
	"prompt;expert-mode on;experimental-mode on;mcli-debug-mode on;@1;@",
	"prompt;show cli level;@1;show cli level;@",
	"@master show version",
	"@1;@master;show version",
	"@1;show cli level;@;show cli level",
	"@1 show cli level",
	"@1 get weight be/s1",
	"@1 set weight be/s1 300",
	"show cli sockets",
}

var (
	uptimeRe  = regexp.MustCompile(`\d+d\d\dh\d\dm\d\ds`)
	versionRe = regexp.MustCompile(`2\.6\.12-(halo|1\+deb12u\d+) *`)
	blanksRe  = regexp.MustCompile(` {2,}`)
)

// TestMasterCLIGolden replays masterCLICases on `halo haproxy -W -S` and
// compares the answers with HAProxy's (PIDs, uptimes, versions and
// column padding normalized).
func TestMasterCLIGolden(t *testing.T) {
	bin, record := haloBinary(t), os.Getenv("HALO_MCLI_RECORD")
	argv := []string{bin, "haproxy"}
	if record != "" {
		argv = []string{record}
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "h.cfg")
	msock := filepath.Join(dir, "m.sock")
	if err := os.WriteFile(cfg, []byte(`defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:`+strconv.Itoa(wirecase.ClaimPort(t))+`
    default_backend be
backend be
    server s1 127.0.0.1:9
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], append(argv[1:], "-W", "-S", msock, "-f", cfg)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out lockedLog
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
	var workers []int
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", msock); err == nil {
			c.Close()
			if _, workers = showProc(t, mcli(t, msock, "show proc\n")); len(workers) == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no master CLI\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var got strings.Builder
	for _, in := range masterCLICases {
		ans := mcli(t, msock, in+"\n")
		ans = strings.ReplaceAll(ans, strconv.Itoa(cmd.Process.Pid), "MPID")
		ans = strings.ReplaceAll(ans, strconv.Itoa(workers[0]), "WPID")
		ans = uptimeRe.ReplaceAllString(ans, "UPTIME")
		ans = versionRe.ReplaceAllString(ans, "VERSION")
		if strings.HasPrefix(in, "show proc") {
			ans = blanksRe.ReplaceAllString(ans, " ")
		}
		got.WriteString("=== " + in + "\n" + ans)
	}
	golden := filepath.Join("testdata", "mcli.golden")
	if record != "" {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("master CLI answers differ from HAProxy 2.6.12's (%s):\n%s", golden, mcliLineDiff(string(want), got.String()))
	}
}

// mcliLineDiff lists the lines that differ.
func mcliLineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("- " + strconv.Quote(a) + "\n+ " + strconv.Quote(c) + "\n")
		}
	}
	return b.String()
}

// workerCLICases are runtime API inputs whose answers halo gives as
// HAProxy 2.6.12 does (testdata/cli.golden, recorded from HAProxy with
// HALO_CLI_RECORD=/usr/sbin/haproxy on the same configuration).
var workerCLICases = []string{
	"set timeout cli 5s", "set timeout cli", "set timeout foo 5", "set timeout cli abc", "set timeout cli 0",
	"set timeout", "user;set timeout cli 5", "set timeout cli 1;show cli level",
	"show startup-logs", "show cli level", "operator;show cli level", "user;show cli level", "user;operator;show cli level",
	"show acl ACL", "show acl #0", "show map MAP", "show acl nofile", "show map nofile",
	"add acl ACL bar", "add acl ACL", "add acl nofile x", "show acl ACL",
	"del acl ACL foo", "del acl ACL nothere", "del acl", "show acl ACL",
	"set map MAP k1 newv", "set map MAP kx newv", "add map MAP k3 v3", "add map MAP k3", "add map", "show map MAP",
	"prepare map MAP", "add map @1 MAP z1 zz", "show map @1 MAP", "show map MAP", "commit map @1 MAP",
	"show map MAP", "commit map @5 MAP", "clear map MAP", "show map MAP",
	"get weight be/s1", "set weight be/s1 300", "get weight be/nope", "get weight nope/s1",
	// dynamic servers
	"add server be/d1 127.0.0.1:8080 weight 5 maxconn 10", "add server be/d1 127.0.0.1:8080", "add server nope/x 1.2.3.4:80",
	"add server be/d2", "add server be", "add server", "add server be/d2 1.2.3.4:80 cookie c", "add server be/d2 1.2.3.4:80 weight 300",
	"add server st/d2 1.2.3.4:80", "add server tcp/d2 1.2.3.4:80 proto h2", "add server be/d3 1.2.3.4", "add server be/d4 [::1]:81 id 40",
	"add server be/d5 1.2.3.4:80 id 40", "user;add server be/d6 1.2.3.4:80", "operator;add server be/d6 1.2.3.4:80",
	"get weight be/d1", "show servers state be", "enable server be/d1", "get weight be/d1",
	"del server be/d1", "disable server be/d1", "del server be/d1", "del server be/d1", "del server be/s1",
	"del server nope/x", "del server be", "del server", "show servers state be",
	"show env HOME", "show env HALO_NOT_SET", "user;show env HOME",
	"shutdown sessions server be/s1", "shutdown sessions server be/nope", "shutdown sessions server", "operator;shutdown sessions server be/s1",
	"set server be/s1 addr 1.2.3.4", "set server be/s1 addr 1.2.3.4 port 81", "set server be/s1 addr 1.2.3.4 port 81",
	"set server be/s1 addr", "set server be/s1 addr foo", "set server be/s1 addr 1.2.3.5 port", "set server be/s1 addr 1.2.3.5 port x",
	"set server be/s1 addr ::1 port 82", "show servers state be",
}

var (
	addrRe         = regexp.MustCompile(`0x[0-9a-f]{6,}`)
	cliStateTimeRe = regexp.MustCompile(`(?m)^((?:\S+ ){8}\S+) \d+`)
)

// TestWorkerCLIGolden replays workerCLICases on halo's stats socket and
// compares with HAProxy's answers (entry addresses normalized).
func TestWorkerCLIGolden(t *testing.T) {
	bin, record := haloBinary(t), os.Getenv("HALO_CLI_RECORD")
	argv := []string{bin, "haproxy"}
	if record != "" {
		argv = []string{record}
	}
	dir := t.TempDir()
	acls, maps := filepath.Join(dir, "agents.acl"), filepath.Join(dir, "m.map")
	_ = os.WriteFile(acls, []byte("Mon User Agent\nfoo\n"), 0o644)
	_ = os.WriteFile(maps, []byte("k1 v1\nk2 v2\n"), 0o644)
	sock := filepath.Join(dir, "s.sock")
	cfg := filepath.Join(dir, "h.cfg")
	if err := os.WriteFile(cfg, []byte(`global
    stats socket `+sock+` level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:`+strconv.Itoa(wirecase.ClaimPort(t))+`
    acl ua req.hdr(user-agent) -i -m str -f `+acls+`
    http-request deny if ua
    http-request set-header X-M %[path,map(`+maps+`,none)]
    default_backend be
backend be
    server s1 127.0.0.1:9
backend st
    balance static-rr
backend tcp
    mode tcp
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], append(argv[1:], "-db", "-f", cfg)...)
	// `show env HOME` is in the golden: the process gets the HOME it was
	// recorded with, whatever the runner's (CI runs with an empty one).
	cmd.Env = append(os.Environ(), "HOME=/root")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out lockedLog
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stats socket\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var got strings.Builder
	for _, in := range workerCLICases {
		line := strings.ReplaceAll(strings.ReplaceAll(in, "ACL", acls), "MAP", maps)
		ans := mcli(t, sock, line+"\n")
		ans = addrRe.ReplaceAllString(ans, "ADDR")
		if strings.HasPrefix(in, "show servers state") {
			// srv_time_since_last_change follows the clock
			ans = cliStateTimeRe.ReplaceAllString(ans, "$1 T")
		}
		got.WriteString("=== " + in + "\n" + ans)
	}
	golden := filepath.Join("testdata", "cli.golden")
	if record != "" {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("runtime API answers differ from HAProxy 2.6.12's (%s):\n%s", golden, mcliLineDiff(string(want), got.String()))
	}
}
