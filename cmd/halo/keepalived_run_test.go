package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const envKeepalivedHelper = "HALO_TEST_KEEPALIVED_ARGS"

// TestHelperKeepalived is the daemon process of TestKeepalivedDaemon: with
// the environment variable set it runs `halo keepalived ARGS…` and exits.
func TestHelperKeepalived(t *testing.T) {
	args := os.Getenv(envKeepalivedHelper)
	if args == "" {
		t.Skip("helper process only")
	}
	os.Exit(run(append([]string{"halo", "keepalived"}, strings.Split(args, "\x1f")...)))
}

func TestKeepalivedDaemon(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace")
	}
	ns := fmt.Sprintf("%scmd%d", netnsPrefix(), os.Getpid()%10000)
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	sh("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	sh("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	sh("-n", ns, "addr", "add", "10.78.230.1/24", "dev", "eth0")
	sh("-n", ns, "link", "set", "eth1", "up")
	sh("-n", ns, "link", "set", "eth0", "up")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "keepalived.conf")
	conf := `global_defs {
  router_id cmdtest
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 61
  priority 255
  advert_int 1
  virtual_ipaddress {
    10.78.230.100/24
  }
}
`
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	pid, vpid := filepath.Join(dir, "ka.pid"), filepath.Join(dir, "vrrp.pid")
	start := func(flags ...string) (*exec.Cmd, *bytes.Buffer) {
		var out bytes.Buffer
		c := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperKeepalived$")
		c.Env = append(os.Environ(), envKeepalivedHelper+"="+strings.Join(append(flags, "-l", "-D", "-f", cfg, "-p", pid, "-r", vpid), "\x1f"))
		c.Stdout, c.Stderr = &out, &out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return c, &out
	}
	hasVIP := func() bool {
		out, _ := exec.Command("ip", "-n", ns, "-4", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
		return strings.Contains(string(out), "10.78.230.100/24")
	}
	d, out := start("-n")
	defer func() { _ = d.Process.Kill(); _ = d.Wait() }()
	// priority 255 with state MASTER: the address owner takes over at once.
	for t0 := time.Now(); !hasVIP(); time.Sleep(50 * time.Millisecond) {
		if time.Since(t0) > 3*time.Second {
			t.Fatalf("VIP not set:\n%s", out)
		}
	}
	for _, p := range []string{pid, vpid} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("pid file: %v", err)
		}
		if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n <= 0 {
			t.Fatalf("pid file %s holds %q", p, b)
		}
	}
	// A second daemon on the same pid files refuses to start.
	d2, out2 := start("-n")
	err := d2.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(out2.String(), "daemon is already running") {
		t.Fatalf("second daemon: %v\n%s", err, out2)
	}
	if err := d.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, out)
	}
	if hasVIP() {
		t.Error("VIP left behind after SIGTERM")
	}
	for _, p := range []string{pid, vpid} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("pid file %s left behind", p)
		}
	}
	for _, want := range []string{"(VI_1) Entering MASTER STATE", "(VI_1) sent 0 priority", "(VI_1) removing VIPs.", "Stopping"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// Without -n the daemon detaches: the command returns 0 at once and the
// background process writes the pid file, holds the VIP and stops on SIGTERM.
func TestKeepalivedDaemonizes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace")
	}
	ns := fmt.Sprintf("%scmf%d", netnsPrefix(), os.Getpid()%10000)
	for _, args := range [][]string{{"netns", "add", ns}, {"-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"},
		{"-n", ns, "addr", "add", "10.78.231.1/24", "dev", "eth0"}, {"-n", ns, "link", "set", "eth1", "up"}, {"-n", ns, "link", "set", "eth0", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	dir := t.TempDir()
	cfg := filepath.Join(dir, "keepalived.conf")
	conf := "vrrp_instance VI_1 {\n state MASTER\n interface eth0\n virtual_router_id 62\n priority 255\n virtual_ipaddress {\n  10.78.231.100/24\n }\n}\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	pid := filepath.Join(dir, "ka.pid")
	c := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperKeepalived$")
	c.Env = append(os.Environ(), envKeepalivedHelper+"="+strings.Join([]string{"-l", "-f", cfg, "-p", pid, "-r", filepath.Join(dir, "vrrp.pid")}, "\x1f"))
	t0 := time.Now()
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("keepalived without -n: %v: %s", err, out)
	}
	if time.Since(t0) > 2*time.Second {
		t.Errorf("the foreground command took %v", time.Since(t0))
	}
	var n int
	for t0 := time.Now(); n == 0; time.Sleep(50 * time.Millisecond) {
		if time.Since(t0) > 3*time.Second {
			t.Fatal("no pid file from the background daemon")
		}
		b, _ := os.ReadFile(pid)
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	defer syscall.Kill(n, syscall.SIGKILL)
	for t0 := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		out, _ := exec.Command("ip", "-n", ns, "-4", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
		if strings.Contains(string(out), "10.78.231.100/24") {
			break
		}
		if time.Since(t0) > 3*time.Second {
			t.Fatal("the background daemon does not hold the VIP")
		}
	}
	if err := syscall.Kill(n, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for t0 := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(pid); err != nil {
			break
		}
		if time.Since(t0) > 3*time.Second {
			t.Fatal("pid file still there after SIGTERM")
		}
	}
}

// netnsPrefix is the namespace prefix of these tests: "hr", or
// $HALO_NETNS_PREFIX (as vrrp/internal/nstest).
func netnsPrefix() string {
	if p := os.Getenv("HALO_NETNS_PREFIX"); p != "" {
		return p
	}
	return "hr"
}
