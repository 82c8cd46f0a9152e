package main

import (
	"io"
	"net"
	"net/http"
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

// TestRuntimeMapsAndACLs edits a map and a pattern file through the
// runtime API and checks that traffic follows at once: `add acl` denies
// the next request, `set map` changes the next answer, and `prepare map`
// + `add map @1` + `commit map @1` switch the whole map in one step.
func TestRuntimeMapsAndACLs(t *testing.T) {
	bin := haloBinary(t)
	dir := t.TempDir()
	port := wirecase.ClaimPort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	sock := filepath.Join(dir, "admin.sock")
	acls, maps := filepath.Join(dir, "agents.acl"), filepath.Join(dir, "paths.map")
	_ = os.WriteFile(acls, []byte("badbot\n"), 0o644)
	_ = os.WriteFile(maps, []byte("/a one\n/b two\n"), 0o644)
	cfg := filepath.Join(dir, "h.cfg")
	if err := os.WriteFile(cfg, []byte(`global
    stats socket `+sock+` level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind `+addr+`
    http-request deny if { req.hdr(user-agent) -i -m str -f `+acls+` }
    http-request return status 200 hdr x-m %[path,map(`+maps+`,none)]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "haproxy", "-db", "-f", cfg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out lockedLog
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
	if err := wirecase.WaitListening(port, exited); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	cli := func(in string) string {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		_, _ = io.WriteString(c, in+"\n")
		b, _ := io.ReadAll(c)
		return string(b)
	}
	get := func(path, ua string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Header.Set("User-Agent", ua)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("X-M")
	}
	if st, m := get("/a", "Mon User Agent;"); st != 200 || m != "one" {
		t.Fatalf("before: %d %q", st, m)
	}
	if got := cli(`add acl ` + acls + ` Mon\ User\ Agent\;`); got != "\n" {
		t.Errorf("add acl: %q", got)
	}
	if st, _ := get("/a", "Mon User Agent;"); st != 403 {
		t.Errorf("after add acl: %d, want 403", st)
	}
	if got := cli("del acl " + acls + ` Mon\ User\ Agent\;`); got != "\n" {
		t.Errorf("del acl: %q", got)
	}
	if st, _ := get("/a", "Mon User Agent;"); st != 200 {
		t.Errorf("after del acl: %d, want 200", st)
	}
	cli("set map " + maps + " /a uno")
	if _, m := get("/a", "x"); m != "uno" {
		t.Errorf("after set map: %q", m)
	}
	if got := cli("prepare map " + maps); got != "New version created: 1\n\n" {
		t.Errorf("prepare map: %q", got)
	}
	cli("add map @1 " + maps + " /c three")
	if _, m := get("/c", "x"); m != "none" {
		t.Errorf("a prepared version is not in force before its commit: %q", m)
	}
	cli("commit map @1 " + maps)
	if _, m := get("/c", "x"); m != "three" {
		t.Errorf("after commit: /c gives %q", m)
	}
	if _, m := get("/a", "x"); m != "none" {
		t.Errorf("after commit: /a gives %q (the old version must be gone)", m)
	}
	if got := cli("show map " + maps); !strings.HasSuffix(got, " /c three\n\n") || strings.Count(got, "\n") != 2 {
		t.Errorf("show map: %q", got)
	}
}
