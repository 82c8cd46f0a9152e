package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"halo/compat"
	"halo/lvs"
	"halo/lvs/l4"
)

const envLVSCorpusHelper = "HALO_TEST_LVS_CORPUS_FILE"

// TestLVSCorpusUserspace runs every corpus and upstream keepalived file
// that defines a virtual_server on the userspace path, each in its own
// network namespace: the virtual and real addresses are put on lo (the
// addresses adapted), every real server (and sorry server) is a small
// backend answering with its own address, and a client must reach a real
// server through each TCP/UDP virtual service once the checkers ran.
// Adaptations, said here once: checker timings are shortened
// (delay_loop 1s, no warmup), HTTP digests are dropped (a backend cannot
// produce a given MD5), MISC_CHECK scripts become /bin/true.
func TestLVSCorpusUserspace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	dir := kaCorpusDir(t)
	var files []string
	for _, sub := range []string{"keepalived", "upstream-samples/keepalived"} {
		m, _ := filepath.Glob(filepath.Join(dir, sub, "*"))
		for _, f := range m {
			if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), "virtual_server") {
				files = append(files, f)
			}
		}
	}
	var mu sync.Mutex
	ran, total := 0, len(files)
	t.Cleanup(func() {
		t.Logf("LVS corpus on the userspace path: %d of %d virtual_server files served clients through every TCP/UDP virtual service", ran, total)
	})
	for i, f := range files {
		name := strings.TrimPrefix(f, dir+"/")
		t.Run(name, func(t *testing.T) {
			// $HALO_NETNS_PREFIX keeps concurrent runs (other worktrees)
			// apart, as vrrp/internal/nstest.
			prefix := "h"
			if p := os.Getenv("HALO_NETNS_PREFIX"); p != "" {
				prefix = p
			}
			ns := fmt.Sprintf("%slvs%d", prefix, i)
			t.Parallel()
			if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
				t.Fatalf("ip netns add: %v %s", err, out)
			}
			defer exec.Command("ip", "netns", "del", ns).Run()
			exec.Command("ip", "-n", ns, "link", "set", "lo", "up").Run()
			cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperLVSCorpus$")
			cmd.Env = append(os.Environ(), envLVSCorpusHelper+"="+f)
			out, _ := cmd.CombinedOutput()
			res := string(out)
			switch {
			case strings.Contains(res, "RESULT ok"):
				mu.Lock()
				ran++
				mu.Unlock()
				t.Logf("%s", lines(res, "VS "))
			case strings.Contains(res, "RESULT none"):
				t.Logf("no runnable virtual server (keepalived ignores them too): %s", lines(res, "NOTE"))
			default:
				t.Errorf("%s", res)
			}
		})
	}
}

func lines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, "; ")
}

// TestHelperLVSCorpus is the process run inside one namespace.
func TestHelperLVSCorpus(t *testing.T) {
	file := os.Getenv(envLVSCorpusHelper)
	if file == "" {
		t.Skip("helper process only")
	}
	_, cfg, r := compat.LoadKeepalivedLVS(file, compat.KeepalivedOptions{ConfigID: "none"})
	if cfg == nil {
		fmt.Printf("NOTE %d diagnostics\nRESULT none\n", len(r.Diags))
		return
	}
	addrs := map[netip.Addr]bool{}
	backends := map[netip.AddrPort]lvs.Proto{}
	kinds := map[netip.AddrPort]string{} // http, tls, smtp
	for _, vs := range cfg.VirtualServers {
		if vs.Addr.IsValid() {
			addrs[vs.Addr.Addr()] = true
		}
		for _, rs := range append(append([]*lvs.RealServer(nil), vs.RealServers...), vs.Sorry) {
			if rs == nil {
				continue
			}
			addrs[rs.Addr.Addr()] = true
			backends[rs.Addr] = vs.Proto
			kinds[rs.Addr] = "http"
			if rs.Addr.Port() == 25 {
				kinds[rs.Addr] = "smtp"
			}
			for _, c := range rs.Checkers {
				if c.Kind == "SSL_GET" {
					kinds[c.Dst] = "tls"
				}
				c.DelayLoop, c.Warmup, c.DelayBeforeRetry = time.Second, 0, 500*time.Millisecond
				c.ConnectTimeout = time.Second
				for i := range c.URLs {
					c.URLs[i].Digest = nil
				}
				if c.Kind == "MISC_CHECK" {
					c.MiscPath = []string{"/bin/true"}
				}
				addrs[c.Dst.Addr()] = true
				backends[c.Dst] = vs.Proto
			}
		}
	}
	for _, g := range cfg.Groups {
		for _, e := range g.Entries {
			for a := e.First; a.IsValid(); a = a.Next() {
				addrs[a] = true
				if a == e.Last {
					break
				}
			}
		}
	}
	for a := range addrs {
		bits := "/32"
		if a.Is6() {
			bits = "/128"
		}
		if out, err := exec.Command("ip", "addr", "add", a.String()+bits, "dev", "lo", "nodad").CombinedOutput(); err != nil && !strings.Contains(string(out), "exists") {
			fmt.Printf("NOTE addr %s: %s\n", a, out)
		}
	}
	time.Sleep(200 * time.Millisecond) // IPv6 addresses settle
	for ap, proto := range backends {
		startBackend(ap, proto, kinds[ap])
	}
	dp := l4.New(func(f string, a ...any) { fmt.Printf("LOG "+f+"\n", a...) })
	m := lvs.NewManager(cfg, dp, lvs.Hooks{Logf: func(f string, a ...any) { fmt.Printf("LOG "+f+"\n", a...) }})
	ctx, cancel := context.WithCancel(context.Background())
	m.Start(ctx)
	time.Sleep(2500 * time.Millisecond)
	ok := true
	served := 0
	for _, vs := range cfg.VirtualServers {
		if vs.FWMark != 0 || vs.Proto == lvs.ProtoSCTP {
			fmt.Printf("VS %s skipped (needs the kernel)\n", vs.Name())
			continue
		}
		vip := vs.Addr
		if g := cfg.Groups[vs.Group]; g != nil {
			for _, e := range g.Entries {
				if e.FWMark == 0 {
					vip = netip.AddrPortFrom(e.Last, e.Port)
				}
			}
		}
		got := reach(vip, vs.Proto, kinds[vs.RealServers[0].Addr])
		fmt.Printf("VS %s -> %s\n", vs.Name(), got)
		if _, err := netip.ParseAddrPort(got); err != nil {
			ok = false
		} else {
			served++
		}
	}
	cancel()
	m.Stop()
	switch {
	case ok && served > 0:
		fmt.Println("RESULT ok")
	case ok:
		fmt.Println("NOTE only kernel-only services\nRESULT none")
	default:
		fmt.Println("RESULT fail")
	}
}

// startBackend answers TCP with an HTTP response (or an SMTP dialogue on
// port 25) naming itself, and UDP with its address.
func startBackend(ap netip.AddrPort, proto lvs.Proto, kind string) {
	if proto == lvs.ProtoUDP {
		c, err := net.ListenPacket("udp", ap.String())
		if err != nil {
			return
		}
		go func() {
			buf := make([]byte, 2048)
			for {
				_, from, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				c.WriteTo([]byte(ap.String()), from)
			}
		}()
		return
	}
	l, err := net.Listen("tcp", ap.String())
	if err != nil {
		return
	}
	if kind == "tls" {
		l = tls.NewListener(l, testTLS())
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(3 * time.Second))
				r := bufio.NewReader(c)
				if kind == "smtp" {
					io.WriteString(c, "220 "+ap.String()+"\r\n")
					for {
						line, err := r.ReadString('\n')
						if err != nil {
							return
						}
						if strings.HasPrefix(line, "QUIT") {
							io.WriteString(c, "221 bye\r\n")
							return
						}
						io.WriteString(c, "250 ok\r\n")
					}
				}
				r.ReadString('\n')
				io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\n"+ap.String())
			}()
		}
	}()
}

// reach asks the virtual service once and returns who answered.
func reach(vip netip.AddrPort, proto lvs.Proto, kind string) string {
	if proto == lvs.ProtoUDP {
		c, err := net.Dial("udp", vip.String())
		if err != nil {
			return err.Error()
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write([]byte("hello"))
		buf := make([]byte, 200)
		n, err := c.Read(buf)
		if err != nil {
			return err.Error()
		}
		return string(buf[:n])
	}
	c, err := net.DialTimeout("tcp", vip.String(), 2*time.Second)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if kind == "tls" {
		c = tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	}
	if kind == "smtp" {
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(strings.TrimPrefix(line, "220 "))
	}
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	b, _ := io.ReadAll(c)
	_, body, _ := strings.Cut(string(b), "\r\n\r\n")
	if body == "" {
		return "no answer"
	}
	return body
}

// testTLS is a self-signed server configuration for SSL_GET backends.
func testTLS() *tls.Config {
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	cfg := srv.TLS.Clone()
	srv.Close()
	cfg.NextProtos = nil
	return cfg
}
