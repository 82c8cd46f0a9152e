package compat

import (
	"strings"
	"testing"

	"halo/proxy"
)

// TestSocketAddresses: the address families VTest and systemd use (fd@N
// listeners and CLI sockets) and servers on UNIX sockets decode into the
// typed config instead of being refused or read as paths.
func TestSocketAddresses(t *testing.T) {
	cfg, rep := load(t, `global
    stats socket fd@4 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind fd@3
    bind abns@halo-fe
    bind unix@/tmp/halo-fe.sock
    default_backend be
backend be
    server s1 unix@/tmp/s1.sock
    server s2 /tmp/s2.sock
    server s3 abns@s3
`)
	if rep.Fatal() {
		t.Fatalf("fatal: %+v", rep.Diags)
	}
	for _, d := range rep.Diags {
		if strings.Contains(d.Msg, "unix") || strings.Contains(d.Msg, "fd@") {
			t.Errorf("unexpected diagnostic: %s", d.Msg)
		}
	}
	fe := cfg.Proxies[0]
	want := []proxy.Bind{{Network: "fd", FD: 3}, {Network: "unix", Path: "@halo-fe"}, {Network: "unix", Path: "/tmp/halo-fe.sock"}}
	if len(fe.Binds) != len(want) {
		t.Fatalf("binds: %+v", fe.Binds)
	}
	for i, w := range want {
		b := fe.Binds[i]
		if b.Network != w.Network || b.FD != w.FD || b.Path != w.Path {
			t.Errorf("bind %d: got %s fd=%d path=%q, want %s fd=%d path=%q", i, b.Network, b.FD, b.Path, w.Network, w.FD, w.Path)
		}
	}
	paths := []string{"/tmp/s1.sock", "/tmp/s2.sock", "@s3"}
	for i, s := range cfg.Proxies[1].Servers {
		if s.Path != paths[i] {
			t.Errorf("server %s: path %q, want %q", s.Name, s.Path, paths[i])
		}
	}
	if got := cfg.Global.StatsSockets[0].Path; got != "fd@4" {
		t.Errorf("stats socket %q", got)
	}
}

func TestSocketAddressErrors(t *testing.T) {
	_, rep := load(t, "frontend fe\n    mode http\n    bind fd@x\n")
	if !rep.Fatal() || !strings.Contains(rep.Diags[0].Msg, "invalid file descriptor 'x'") {
		t.Fatalf("fd@x: %+v", rep.Diags)
	}
}
