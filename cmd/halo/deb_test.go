package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"halo/internal/wirecase"
)

// unitService returns a unit file's [Service] lines, comments and blank
// lines left out.
func unitService(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || l[0] == '#':
		case l[0] == '[':
			in = l == "[Service]"
		case in:
			out = append(out, l)
		}
	}
	return out
}

// TestDebianPackage builds the .deb with packaging/deb/build (dpkg-deb),
// installs it with dpkg into a throwaway root (maintainer scripts run
// against $DPKG_ROOT) where an operator's /etc/default/haproxy already
// exists, and checks what an `apt install ./halo.deb` would leave: the
// control fields that replace Debian's haproxy and keepalived packages,
// halo behind /usr/sbin/haproxy, /usr/sbin/keepalived and
// /usr/bin/genhash, units whose [Service] lines are Debian's (the ones
// on this machine when installed, else debianUnit), the default files
// created where missing and the operator's left as they were. The
// installed haproxy then runs through the unit's command lines: the
// check, ExecStart with the master socket, one reload, the stop. Removing
// the package keeps /etc.
func TestDebianPackage(t *testing.T) {
	for _, tool := range []string{"dpkg-deb", "dpkg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: the package is not built", tool)
		}
	}
	bin := haloBinary(t)
	dir := t.TempDir()
	build := exec.Command("../../packaging/deb/build", filepath.Join(dir, "out"))
	build.Env = append(os.Environ(), "HALO_BIN="+bin)
	o, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("packaging/deb/build: %v\n%s", err, o)
	}
	deb := strings.TrimSpace(string(o))

	fields, err := exec.Command("dpkg-deb", "-f", deb, "Package", "Provides", "Conflicts", "Replaces").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Package: halo\n", "Provides: haproxy (= 2.6.12), keepalived (= 1:2.2.7)\n",
		"Conflicts: haproxy, keepalived\n", "Replaces: haproxy, keepalived\n"} {
		if !strings.Contains(string(fields), want) {
			t.Errorf("control lacks %q:\n%s", want, fields)
		}
	}

	root := filepath.Join(dir, "root")
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc/default"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mine := "EXTRAOPTS=\"-S /run/haproxy-master.sock -de\"\n"
	for f, s := range map[string]string{"var/lib/dpkg/status": "", "etc/default/haproxy": mine} {
		if err := os.WriteFile(filepath.Join(root, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dpkg := func(args ...string) {
		t.Helper()
		c := exec.Command("dpkg", append([]string{"--root=" + root, "--force-script-chrootless", "--force-not-root",
			"--log=/dev/null"}, args...)...)
		if o, err := c.CombinedOutput(); err != nil {
			t.Fatalf("dpkg %v: %v\n%s", args, err, o)
		}
	}
	dpkg("-i", deb)

	for _, l := range []string{"usr/sbin/haproxy", "usr/sbin/keepalived", "usr/bin/genhash"} {
		p, err := filepath.EvalSymlinks(filepath.Join(root, l))
		if err != nil || p != filepath.Join(root, "usr/sbin/halo") {
			t.Errorf("/%s leads to %q (%v), want /usr/sbin/halo", l, p, err)
		}
	}
	haproxy := filepath.Join(root, "usr/sbin/haproxy")
	for tool, want := range map[string]string{haproxy: "HAProxy version 2.6.12", filepath.Join(root, "usr/sbin/keepalived"): "Keepalived v2.2.7"} {
		if o, _ := exec.Command(tool, "-v").CombinedOutput(); !strings.HasPrefix(string(o), want) {
			t.Errorf("%s -v: %q, want %q…", tool, o, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/default/haproxy")); string(b) != mine {
		t.Errorf("the operator's /etc/default/haproxy was changed: %q", b)
	}
	for _, f := range []string{"etc/default/keepalived", "etc/logrotate.d/haproxy", "etc/rsyslog.d/49-haproxy.conf",
		"usr/lib/tmpfiles.d/haproxy.conf", "var/lib/haproxy/dev"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("/%s: %v", f, err)
		}
	}

	// The units: Debian's [Service] lines, those of the installed units
	// when the real packages are on this machine.
	for _, u := range []string{"haproxy.service", "keepalived.service"} {
		got := unitService(t, filepath.Join(root, "lib/systemd/system", u))
		var want []string
		if _, err := os.Stat("/lib/systemd/system/" + u); err == nil {
			want = unitService(t, "/lib/systemd/system/"+u)
		} else if u == "haproxy.service" {
			want = []string{"ExecStart=" + debianUnit.start, "ExecReload=" + debianUnit.check, "ExecReload=" + debianUnit.reloadKL}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") && want != nil {
			t.Errorf("%s [Service]:\n%s\nDebian's:\n%s", u, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	var start, check string
	for _, l := range unitService(t, filepath.Join(root, "lib/systemd/system/haproxy.service")) {
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			start = v
		}
		if v, ok := strings.CutPrefix(l, "ExecReload="); ok && check == "" {
			check = v
		}
	}

	// The installed /usr/sbin/haproxy through the unit's lines.
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	msock := filepath.Join(run, "haproxy-master.sock")
	env := map[string]string{"CONFIG": filepath.Join(run, "haproxy.cfg"), "PIDFILE": filepath.Join(run, "haproxy.pid"),
		"EXTRAOPTS": "-S " + msock}
	addr := "127.0.0.1:" + strconv.Itoa(wirecase.ClaimPort(t))
	if err := os.WriteFile(env["CONFIG"], []byte("defaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n"+
		"frontend fe\n  bind "+addr+"\n  http-request return status 200\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expand := func(line string) []string {
		argv := unitArgs(line, env, bin)
		if argv[0] == bin { // unitArgs runs `halo haproxy`: run the installed link instead
			argv = append([]string{haproxy}, argv[2:]...)
		}
		return argv
	}
	argv := expand(check)
	if o, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil || len(o) > 0 {
		t.Fatalf("%v: %v %q", argv, err, o)
	}
	argv = expand(start)
	master := exec.Command(argv[0], argv[1:]...)
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
	waitProc := func(reloads int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			if _, err := os.Stat(msock); err == nil {
				sp := mcli(t, msock, "show proc\n")
				if r, w := showProc(t, sp); r == reloads && len(w) == 1 {
					if c, err := net.Dial("tcp", addr); err == nil {
						c.Close()
						return
					}
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no worker after %d reloads:\n%s", reloads, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitProc(0)
	if err := master.Process.Signal(syscall.SIGUSR2); err != nil { // ExecReload=/bin/kill -USR2 $MAINPID
		t.Fatal(err)
	}
	waitProc(1)
	_ = master.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("the master did not stop\n%s", out.String())
	}
	if code := master.ProcessState.ExitCode(); code != 0 && code != 143 {
		t.Errorf("exit status %d, the unit's success statuses are 0 and 143", code)
	}

	dpkg("-r", "halo")
	if _, err := os.Lstat(haproxy); !os.IsNotExist(err) {
		t.Errorf("/usr/sbin/haproxy after removal: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/default/haproxy")); string(b) != mine {
		t.Errorf("removal changed /etc/default/haproxy: %q", b)
	}
}
