package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUlimitN: `ulimit-n N` makes N the process's descriptor limit, as
// HAProxy 2.6.12 sets it (show info's Ulimit-n), while maxconn and
// maxsock still come from the hard limit: with ulimit-n 5000 under a
// 20000 limit haproxy shows Ulimit-n 5000, Maxsock 20000, Maxconn 9986.
// Without it the soft limit becomes maxsock.
func TestUlimitN(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Max < 6000 {
		t.Skipf("the hard descriptor limit (%d) is below what the test sets", rl.Max)
	}
	for _, tc := range []struct {
		name, global, want string
	}{
		{"ulimit-n", "    ulimit-n 5000\n", "Ulimit-n: 5000"},
		{"default", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sock := filepath.Join(dir, "s.sock")
			cfg := filepath.Join(dir, "h.cfg")
			conf := fmt.Sprintf("global\n%s    stats socket %s level admin\ndefaults\n  mode tcp\n  timeout connect 1s\n  timeout client 2s\n  timeout server 2s\nlisten fe\n  bind %s\n  server s1 %s\n", tc.global, sock, freeAddr(t), freeAddr(t))
			if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			c := exec.Command(os.Args[0], "-test.run=^TestHelperHAProxy$")
			c.Env = append(os.Environ(), envHAProxyHelper+"="+strings.Join([]string{"-db", "-f", cfg}, "\x1f"))
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { c.Process.Kill(); c.Wait() }()
			var info string
			for i := 0; i < 100; i++ {
				if _, err := os.Stat(sock); err == nil {
					info = cli(t, sock, "show info")
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			field := func(name string) string {
				for _, l := range strings.Split(info, "\n") {
					if strings.HasPrefix(l, name+": ") {
						return l
					}
				}
				return ""
			}
			want := tc.want
			if want == "" {
				want = "Ulimit-n: " + strings.TrimPrefix(field("Maxsock"), "Maxsock: ")
			}
			if got := field("Ulimit-n"); got != want {
				t.Errorf("%s, want %s\n%s", got, want, info)
			}
		})
	}
}

// TestStrictLimits: strict-limits is on by default in HAProxy 2.6: a
// ulimit-n the kernel refuses (above fs.nr_open) stops the start with an
// alert and exit status 1; `no strict-limits` only warns and runs on.
// HAProxy 2.6.12 here: "[ALERT] … : [haproxy.main()] Cannot raise FD limit
// to 2000000, limit is 20000." (exit 1), the same as a [WARNING] with
// `no strict-limits`.
func TestStrictLimits(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		t.Skipf("no fs.nr_open: %v", err)
	}
	var nrOpen int
	fmt.Sscan(string(b), &nrOpen)
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	n := nrOpen + 1
	msg := fmt.Sprintf("[haproxy.main()] Cannot raise FD limit to %d, limit is %d.", n, rl.Cur)
	for _, tc := range []struct {
		name, global, line string
		exit               int // -1: still running
	}{
		{"default", "", "[ALERT]", 1},
		{"strict-limits", "    strict-limits\n", "[ALERT]", 1},
		{"no strict-limits", "    no strict-limits\n", "[WARNING]", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "h.cfg")
			conf := fmt.Sprintf("global\n    ulimit-n %d\n%sdefaults\n  mode tcp\n  timeout connect 1s\n  timeout client 2s\n  timeout server 2s\nlisten fe\n  bind %s\n  server s1 %s\n", n, tc.global, freeAddr(t), freeAddr(t))
			if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			c := exec.Command(os.Args[0], "-test.run=^TestHelperHAProxy$")
			c.Env = append(os.Environ(), envHAProxyHelper+"="+strings.Join([]string{"-db", "-f", cfg}, "\x1f"))
			var stderr strings.Builder
			c.Stderr = &stderr
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- c.Wait() }()
			exit := -1
			select {
			case <-done:
				exit = c.ProcessState.ExitCode()
			case <-time.After(2 * time.Second):
				c.Process.Kill()
				<-done
			}
			if exit != tc.exit {
				t.Errorf("exit %d, want %d", exit, tc.exit)
			}
			if !strings.Contains(stderr.String(), tc.line) || !strings.Contains(stderr.String(), msg) {
				t.Errorf("stderr lacks %s %q:\n%s", tc.line, msg, stderr.String())
			}
		})
	}
}
