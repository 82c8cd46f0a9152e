package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"halo/compat"
	"halo/internal/wirecase"
	"halo/parser"
	"halo/proxy"
)

// Peers interoperability: a real HAProxy 2.6.12 (peer A) and halo (peer
// B) share a stick table over the peers protocol on loopback. Entries
// tracked on either side must appear on the other within a second; a
// killed and restarted HAProxy, a restarted halo and a reloaded halo
// (its old process teaching the new one) get the whole table back.
//
// The peers need fixed addresses in their configurations: the ports come
// from this helper's range (29100-29199). TestPeersInteropHAProxyTLS does
// the same over TLS.
const peersInteropCfg = `global
    stats socket ${SOCK} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
peers p
    peer A 127.0.0.1:29101
    peer B 127.0.0.1:29102
backend stkt
    stick-table type string len 32 size 1k expire 5m store gpc0,gpc1,gpc1_rate(1m),http_req_cnt,http_req_rate(10s),conn_cur,server_id,gpt(2),bytes_in_cnt peers p
frontend fe
    bind 127.0.0.1:${FE}
    http-request track-sc0 path table stkt
    http-request sc-inc-gpc0(0)
    http-request sc-inc-gpc1(0)
    http-request sc-set-gpt(1,0) 7
    http-request return status 200
`

func peersConfig(fe, sock string) string {
	return strings.NewReplacer("${FE}", fe, "${SOCK}", sock).Replace(peersInteropCfg)
}

// startHaloPeer runs halo as peer B in this process.
func startHaloPeer(t *testing.T, cfg string, replaces bool) *proxy.Runtime {
	t.Helper()
	c, rep := compat.LoadHAProxyBytes("b.cfg", []byte(cfg), compat.HAProxyOptions{Env: parser.MapEnv{"HAPROXY_LOCALPEER": "B"}})
	if rep.Fatal() {
		t.Fatalf("configuration refused: %+v", rep.Diags)
	}
	c.Replaces = replaces
	rt, err := proxy.New(c, haproxyEngine()...)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	return rt
}

// startHAProxyPeer runs the real haproxy as peer A.
func startHAProxyPeer(t *testing.T, dir, cfg string) *exec.Cmd {
	return startHAProxyPeerOn(t, dir, cfg, "29111")
}

// startHAProxyPeerOn runs the real haproxy as peer A, its frontend on fe.
func startHAProxyPeerOn(t *testing.T, dir, cfg, fe string) *exec.Cmd {
	t.Helper()
	path := filepath.Join(dir, "a.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/sbin/haproxy", "-db", "-L", "A", "-f", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitListen(t, fe)
	return cmd
}

func stopCmd(cmd *exec.Cmd, sig syscall.Signal) {
	_ = cmd.Process.Signal(sig)
	_ = cmd.Wait()
}

func hit(t *testing.T, port, path string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
	b := make([]byte, 512)
	n, _ := c.Read(b)
	if !strings.HasPrefix(string(b[:n]), "HTTP/1.1 200") {
		t.Fatalf("GET %s on %s: %q", path, port, b[:n])
	}
}

// waitKeys polls a table until it holds every key, and returns how long
// that took; it fails after limit.
func waitKeys(t *testing.T, sock string, limit time.Duration, keys ...string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		out := ""
		if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			fmt.Fprintf(c, "show table stkt\n")
			b := make([]byte, 64<<10)
			n := 0
			for {
				m, err := c.Read(b[n:])
				n += m
				if err != nil || n == len(b) {
					break
				}
			}
			c.Close()
			out = string(b[:n])
		}
		all := true
		for _, k := range keys {
			if !strings.Contains(out, "key="+k+" ") {
				all = false
			}
		}
		if all {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: keys %v not all there after %v:\n%s", sock, keys, limit, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPeersInteropHAProxy(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/haproxy"); err != nil {
		t.Skip("/usr/sbin/haproxy is not installed: no peer to interoperate with")
	}
	dir := t.TempDir()
	sockA, sockB := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	cfgA := strings.Replace(peersConfig("29111", sockA), "peer A 127.0.0.1:29101", "peer A 127.0.0.1:29101", 1)
	a := startHAProxyPeer(t, dir, cfgA)
	defer func() { stopCmd(a, syscall.SIGKILL) }()
	b := startHaloPeer(t, peersConfig("29112", sockB), false)
	defer func() { b.HardStop() }()

	// HAProxy → halo
	hit(t, "29111", "/from-haproxy")
	d := waitKeys(t, sockB, time.Second, "/from-haproxy")
	t.Logf("an entry tracked on HAProxy reached halo in %v", d)
	// halo → HAProxy
	hit(t, "29112", "/from-halo")
	d = waitKeys(t, sockA, time.Second, "/from-halo")
	t.Logf("an entry tracked on halo reached HAProxy in %v", d)

	// HAProxy killed and restarted: it learns the table back from halo
	stopCmd(a, syscall.SIGKILL)
	a = startHAProxyPeer(t, dir, cfgA)
	d = waitKeys(t, sockA, 6*time.Second, "/from-haproxy", "/from-halo")
	t.Logf("a restarted HAProxy had the whole table back in %v", d)

	// halo stopped and started: it learns the table back from HAProxy
	b.HardStop()
	b = startHaloPeer(t, peersConfig("29112", sockB), false)
	d = waitKeys(t, sockB, 6*time.Second, "/from-haproxy", "/from-halo")
	t.Logf("a restarted halo had the whole table back in %v", d)
	hit(t, "29112", "/after-restart")
	waitKeys(t, sockA, time.Second, "/after-restart")

	// halo reloaded with HAProxy gone: the new process learns from the
	// old one (the local peer), which teaches it while stopping.
	stopCmd(a, syscall.SIGKILL)
	hit(t, "29112", "/before-reload")
	sockB2 := filepath.Join(dir, "b2.sock")
	b2 := startHaloPeer(t, peersConfig("29112", sockB2), true)
	defer func() { b2.HardStop() }()
	start := time.Now()
	b.SoftStop()
	select {
	case <-b.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the old process did not stop")
	}
	d = waitKeys(t, sockB2, 6*time.Second, "/from-haproxy", "/from-halo", "/after-restart", "/before-reload")
	t.Logf("the reloaded halo had the whole table from its old process in %v (%v after the stop began)", d, time.Since(start))
}

// peersTLSCfg: the same table shared over TLS, peers declared with bind
// and server lines (each side binds its own address).
const peersTLSCfg = `global
    stats socket ${SOCK} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
peers p
    bind 127.0.0.1:${BIND} ssl crt ${CRT}
    default-server ssl verify none
    server ${LOCAL}
    server ${REMOTE} 127.0.0.1:${RPORT}
backend stkt
    stick-table type string len 32 size 1k expire 5m store gpc0,http_req_cnt peers p
frontend fe
    bind 127.0.0.1:${FE}
    http-request track-sc0 path table stkt
    http-request sc-inc-gpc0(0)
    http-request return status 200
`

func TestPeersInteropHAProxyTLS(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/haproxy"); err != nil {
		t.Skip("/usr/sbin/haproxy is not installed: no peer to interoperate with")
	}
	dir := t.TempDir()
	crt := writeTestCert(t, dir, "peer.pem", true)
	sockA, sockB := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	cfg := func(local, remote, bind, rport, fe, sock string) string {
		return strings.NewReplacer("${SOCK}", sock, "${BIND}", bind, "${CRT}", crt, "${LOCAL}", local,
			"${REMOTE}", remote, "${RPORT}", rport, "${FE}", fe).Replace(peersTLSCfg)
	}
	cfgA := cfg("A", "B", "29121", "29122", "29131", sockA)
	cfgB := cfg("B", "A", "29122", "29121", "29132", sockB)
	a := startHAProxyPeerOn(t, dir, cfgA, "29131")
	defer func() { stopCmd(a, syscall.SIGKILL) }()
	b := startHaloPeer(t, cfgB, false)
	defer func() { b.HardStop() }()

	hit(t, "29131", "/tls-from-haproxy")
	d := waitKeys(t, sockB, time.Second, "/tls-from-haproxy")
	t.Logf("over TLS, an entry tracked on HAProxy reached halo in %v", d)
	hit(t, "29132", "/tls-from-halo")
	d = waitKeys(t, sockA, time.Second, "/tls-from-halo")
	t.Logf("over TLS, an entry tracked on halo reached HAProxy in %v", d)

	stopCmd(a, syscall.SIGKILL)
	a = startHAProxyPeerOn(t, dir, cfgA, "29131")
	d = waitKeys(t, sockA, 6*time.Second, "/tls-from-haproxy", "/tls-from-halo")
	t.Logf("over TLS, a restarted HAProxy had the whole table back in %v", d)
}

// TestPeersTableSurvivesMasterWorkerReload: `halo haproxy -W` reloaded
// twice (SIGUSR2); each new worker learns the table from the old one
// through the local peer, so no entry is lost.
func TestPeersTableSurvivesMasterWorkerReload(t *testing.T) {
	bin := haloBinary(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	fe := strconv.Itoa(wirecase.ClaimPort(t))
	peer := strconv.Itoa(wirecase.ClaimPort(t))
	cfg := filepath.Join(dir, "h.cfg")
	if err := os.WriteFile(cfg, []byte(`global
    stats socket `+sock+` level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
peers p
    peer A 127.0.0.1:`+peer+`
backend stkt
    stick-table type string len 32 size 1k expire 5m store gpc0,http_req_cnt peers p
frontend fe
    bind 127.0.0.1:`+fe+`
    http-request track-sc0 path table stkt
    http-request sc-inc-gpc0(0)
    http-request return status 200
`), 0o644); err != nil {
		t.Fatal(err)
	}
	master := exec.Command(bin, "haproxy", "-W", "-db", "-L", "A", "-f", cfg)
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
	p, _ := strconv.Atoi(fe)
	if err := wirecase.WaitListening(p, exited); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	keys := []string{}
	for i := range 2 {
		k := fmt.Sprintf("/before-reload-%d", i)
		hit(t, fe, k)
		keys = append(keys, k)
		waitKeys(t, sock, time.Second, keys...)
		old := childrenOf(master.Process.Pid)
		if err := master.Process.Signal(syscall.SIGUSR2); err != nil {
			t.Fatal(err)
		}
		// the old worker leaves once it has taught the new one
		deadline := time.Now().Add(10 * time.Second)
		for {
			gone := true
			for _, pid := range old {
				if syscall.Kill(pid, 0) == nil {
					gone = false
				}
			}
			if gone {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the old worker did not leave\n%s", out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		d := waitKeys(t, sock, 2*time.Second, keys...)
		t.Logf("reload %d: the new worker had the table (%d keys) %v after the old one left", i+1, len(keys), d)
	}
}
