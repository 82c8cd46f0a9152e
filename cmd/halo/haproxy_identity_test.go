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
	"syscall"
	"testing"
	"time"
)

const envHAProxyHelper = "HALO_TEST_HAPROXY_ARGS"

// TestHelperHAProxy is the load balancer process of TestHAProxyIdentity:
// with the environment variable set it runs `halo haproxy ARGS…` and exits.
func TestHelperHAProxy(t *testing.T) {
	args := os.Getenv(envHAProxyHelper)
	if args == "" {
		t.Skip("helper process only")
	}
	os.Exit(run(append([]string{"haproxy"}, strings.Split(args, "\x1f")...)))
}

// TestHAProxyIdentity starts halo as root with user/group (and chroot) and
// checks that, once listening, it runs with the configured ids and still
// forwards a connection to a backend.
func TestHAProxyIdentity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change user, group and root directory")
	}
	tests := []struct {
		name     string
		global   string
		chroot   bool
		uid, gid string
		sockOpts string // stats socket ownership options
		sockUID  uint32
	}{
		{name: "user and group names", global: "user nobody\n  group nogroup", uid: "65534", gid: "65534",
			sockOpts: "user nobody group nogroup mode 600", sockUID: 65534},
		{name: "numeric uid and gid", global: "uid 65534\n  gid 65534", uid: "65534", gid: "65534"},
		{name: "group only", global: "group nogroup", uid: "0", gid: "65534", sockOpts: "uid 65534 mode 600", sockUID: 65534},
		{name: "chroot to an empty directory", global: "user nobody\n  group nogroup", chroot: true, uid: "65534", gid: "65534"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			bePort := be.Addr().(*net.TCPAddr).Port
			fe := freeAddr(t)
			defer be.Close()
			go func() {
				for {
					c, err := be.Accept()
					if err != nil {
						return
					}
					_, _ = io.WriteString(c, "hello from backend\n")
					c.Close()
				}
			}()
			dir := t.TempDir()
			global := tc.global
			if tc.chroot {
				empty := filepath.Join(dir, "jail")
				if err := os.Mkdir(empty, 0o755); err != nil {
					t.Fatal(err)
				}
				global += "\n  chroot " + empty
			}
			sock := filepath.Join(dir, "admin.sock")
			global += "\n  stats socket " + sock + " level admin " + tc.sockOpts
			cfg := filepath.Join(dir, "h.cfg")
			conf := fmt.Sprintf("global\n  %s\ndefaults\n  mode tcp\n  timeout connect 1s\n  timeout client 2s\n  timeout server 2s\nlisten fe\n  bind %s\n  server s1 127.0.0.1:%d\n", global, fe, bePort)
			if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			c := exec.Command(os.Args[0], "-test.run=^TestHelperHAProxy$")
			c.Env = append(os.Environ(), envHAProxyHelper+"="+strings.Join([]string{"-db", "-f", cfg}, "\x1f"))
			var out strings.Builder
			c.Stdout, c.Stderr = &out, &out
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				_ = c.Process.Signal(syscall.SIGTERM)
				_ = c.Wait()
			}()
			var conn net.Conn
			for deadline := time.Now().Add(5 * time.Second); ; {
				if conn, err = net.DialTimeout("tcp", fe, time.Second); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("halo does not listen: %v\n%s", err, out.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil || line != "hello from backend\n" {
				t.Fatalf("through halo: got %q, %v\n%s", line, err, out.String())
			}
			// Listening comes before the drop; the connection above proves
			// the drop is over only if the ids already show, so poll.
			var status string
			for deadline := time.Now().Add(3 * time.Second); ; {
				b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Process.Pid))
				if err != nil {
					t.Fatal(err)
				}
				status = string(b)
				if strings.Contains(status, "\nUid:\t"+tc.uid+"\t"+tc.uid+"\t"+tc.uid+"\t"+tc.uid+"\n") &&
					strings.Contains(status, "\nGid:\t"+tc.gid+"\t"+tc.gid+"\t"+tc.gid+"\t"+tc.gid+"\n") &&
					groupsLine(status) == "" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("ids not dropped to uid %s gid %s:\n%s\n%s", tc.uid, tc.gid, status, out.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if tc.chroot {
				root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", c.Process.Pid))
				if err != nil || !strings.HasSuffix(root, "/jail") {
					t.Fatalf("root directory %q (%v), want the jail", root, err)
				}
			}
			// The stats socket was made (and owned) before the drop and
			// still answers.
			fi, err := os.Stat(sock)
			if err != nil {
				t.Fatal(err)
			}
			if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != tc.sockUID {
				t.Errorf("stats socket owned by uid %d, want %d", uid, tc.sockUID)
			}
			sc, err := net.DialTimeout("unix", sock, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_ = sc.SetDeadline(time.Now().Add(3 * time.Second))
			_, _ = io.WriteString(sc, "show info\n")
			info, _ := io.ReadAll(sc)
			sc.Close()
			if !strings.Contains(string(info), "Pid: ") {
				t.Errorf("stats socket after the drop answers %q", info)
			}
			// A second connection after the drop still goes through.
			conn2, err := net.DialTimeout("tcp", fe, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn2.Close()
			_ = conn2.SetDeadline(time.Now().Add(3 * time.Second))
			if line, err := bufio.NewReader(conn2).ReadString('\n'); err != nil || line != "hello from backend\n" {
				t.Fatalf("after the drop: got %q, %v\n%s", line, err, out.String())
			}
		})
	}
}

// groupsLine is the supplementary group list of a /proc/PID/status text.
func groupsLine(status string) string {
	_, rest, _ := strings.Cut(status, "\nGroups:")
	line, _, _ := strings.Cut(rest, "\n")
	return strings.TrimSpace(line)
}
