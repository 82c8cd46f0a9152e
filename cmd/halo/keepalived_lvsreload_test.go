package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// inNetns runs fn on a thread inside the named namespace (sockets made
// there stay there).
func inNetns(t *testing.T, ns string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(err)
		}
	}()
	fn()
}

// echoBackend answers each line with "NAME line".
func echoBackend(t *testing.T, ns, addr, name string) net.Listener {
	var l net.Listener
	inNetns(t, ns, func() {
		var err error
		if l, err = net.Listen("tcp", addr); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					fmt.Fprintf(c, "%s %s", name, line)
				}
			}()
		}
	}()
	return l
}

func dialIn(t *testing.T, ns, addr string) (net.Conn, error) {
	var c net.Conn
	var err error
	inNetns(t, ns, func() { c, err = net.DialTimeout("tcp", addr, 2*time.Second) })
	return c, err
}

func ask(c net.Conn, q string) string {
	c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "%s\n", q)
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// TestKeepalivedLVSReload runs `halo keepalived -C` (checkers only) on the
// userspace path: no VRRP instance runs and only the checkers' pid file is
// written; lvs_notify_fifo_script reads the FIFO; a SIGHUP that changes
// the scheduler, a weight and adds a real server keeps the connection in
// flight and brings the new server in. Then `-P` (VRRP only) serves no
// virtual server and writes no checkers' pid file.
func TestKeepalivedLVSReload(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace")
	}
	ns := fmt.Sprintf("%slvr%d", netnsPrefix(), os.Getpid()%10000)
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	sh("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	sh("-n", ns, "link", "set", "lo", "up")
	sh("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	sh("-n", ns, "addr", "add", "10.79.0.1/24", "dev", "eth0")
	sh("-n", ns, "link", "set", "eth1", "up")
	sh("-n", ns, "link", "set", "eth0", "up")
	echoBackend(t, ns, "127.0.0.1:8081", "rs1")
	echoBackend(t, ns, "127.0.0.1:8082", "rs2")

	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "keepalived.conf")
	fifo, seen := filepath.Join(dir, "lvs.fifo"), filepath.Join(dir, "seen")
	script := filepath.Join(dir, "fifo.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nhead -n 1 \"$1\" > "+seen+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := func(sched string, w1 int, rs2 bool) string {
		s := `global_defs {
  router_id lvsreload
  lvs_notify_fifo ` + fifo + `
  lvs_notify_fifo_script ` + script + `
  rs_init_notifies
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 62
  priority 150
  virtual_ipaddress {
    10.79.0.100/24
  }
}
virtual_server 127.0.0.10 80 {
  delay_loop 1
  lb_algo ` + sched + `
  lb_kind NAT
  protocol TCP
  real_server 127.0.0.1 8081 {
    weight ` + fmt.Sprint(w1) + `
    TCP_CHECK {
      connect_timeout 1
    }
  }
`
		if rs2 {
			s += `  real_server 127.0.0.1 8082 {
    weight 1
    TCP_CHECK {
      connect_timeout 1
    }
  }
`
		}
		return s + "}\n"
	}
	if err := os.WriteFile(cfgFile, []byte(conf("rr", 1, false)), 0o644); err != nil {
		t.Fatal(err)
	}
	pid, vpid, cpid := filepath.Join(dir, "ka.pid"), filepath.Join(dir, "vrrp.pid"), filepath.Join(dir, "chk.pid")
	start := func(flags ...string) (*exec.Cmd, *syncBuffer) {
		out := &syncBuffer{}
		c := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperKeepalived$")
		c.Env = append(os.Environ(), envKeepalivedHelper+"="+strings.Join(append(flags, "-n", "-l", "-D", "-f", cfgFile, "-p", pid, "-r", vpid, "-c", cpid), "\x1f"),
			envLVSDataPath+"=userspace")
		c.Stdout, c.Stderr = out, out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
		return c, out
	}
	waitFor := func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		for t0 := time.Now(); time.Since(t0) < limit; time.Sleep(50 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("%s: not within %v", what, limit)
	}

	d, out := start("-C")
	var conn net.Conn
	waitFor("the virtual server serves rs1", 10*time.Second, func() bool {
		c, err := dialIn(t, ns, "127.0.0.10:80")
		if err != nil {
			return false
		}
		if ask(c, "hello") == "rs1 hello" {
			conn = c
			return true
		}
		c.Close()
		return false
	})
	defer conn.Close()
	if _, err := os.Stat(cpid); err != nil {
		t.Errorf("-C: the checkers' pid file is missing: %v", err)
	}
	if _, err := os.Stat(vpid); err == nil {
		t.Errorf("-C wrote the VRRP pid file")
	}
	time.Sleep(4 * time.Second) // an instance would be MASTER by now
	if a, _ := exec.Command("ip", "-n", ns, "-o", "addr", "show", "dev", "eth0").CombinedOutput(); strings.Contains(string(a), "10.79.0.100") {
		t.Errorf("-C ran the VRRP instance: %s", a)
	}
	waitFor("lvs_notify_fifo_script read the FIFO", 5*time.Second, func() bool {
		b, _ := os.ReadFile(seen)
		return string(b) == "RS [127.0.0.1]:tcp:8081 [127.0.0.10]:tcp:80 UP\n"
	})

	// SIGHUP: another scheduler, another weight, a new real server
	if err := os.WriteFile(cfgFile, []byte(conf("wrr", 2, true)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("reload", 5*time.Second, func() bool { return strings.Contains(out.String(), "Reload finished") })
	if got := ask(conn, "again"); got != "rs1 again" {
		t.Errorf("the connection in flight across the reload answered %q", got)
	}
	waitFor("rs2 takes connections", 10*time.Second, func() bool {
		c, err := dialIn(t, ns, "127.0.0.10:80")
		if err != nil {
			return false
		}
		defer c.Close()
		return ask(c, "x") == "rs2 x"
	})
	for _, want := range []string{
		"Changing weight from 1 to 2 for active service [127.0.0.1]:tcp:8081 of VS [127.0.0.10]:tcp:80",
		"Activating healthchecker for service [127.0.0.1]:tcp:8082 for VS [127.0.0.10]:tcp:80",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if n := strings.Count(out.String(), "Activating healthchecker for service [127.0.0.1]:tcp:8081"); n != 1 {
		t.Errorf("the unchanged checker of rs1 was started %d times", n)
	}
	_ = d.Process.Signal(syscall.SIGTERM)
	_ = d.Wait()
	if t.Failed() {
		t.Logf("-C output:\n%s", out.String())
	}

	// -P: VRRP only
	_ = os.Remove(cpid)
	d, out = start("-P")
	waitFor("-P: the instance runs", 10*time.Second, func() bool {
		a, _ := exec.Command("ip", "-n", ns, "-o", "addr", "show", "dev", "eth0").CombinedOutput()
		return strings.Contains(string(a), "10.79.0.100")
	})
	if c, err := dialIn(t, ns, "127.0.0.10:80"); err == nil {
		c.Close()
		t.Errorf("-P served the virtual server")
	}
	if _, err := os.Stat(cpid); err == nil {
		t.Errorf("-P wrote the checkers' pid file")
	}
	_ = d.Process.Signal(syscall.SIGTERM)
	_ = d.Wait()
	if t.Failed() {
		t.Logf("-P output:\n%s", out.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
