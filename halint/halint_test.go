package halint_test

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"halo/compat"
	"halo/halint"
	"halo/parser"
)

// node loads a keepalived.conf text the way `halo compat --pair` does.
func node(t *testing.T, name, conf string, haproxy bool) *halint.Node {
	t.Helper()
	fsys := fstest.MapFS{name: {Data: []byte(conf), Mode: 0o644}}
	cfg, r := compat.LoadKeepalived(name, compat.KeepalivedOptions{Parse: parser.KeepalivedOptions{FS: fsys}})
	if cfg == nil {
		t.Fatalf("%s does not load: %v", name, r.Diags)
	}
	ast, _ := parser.ParseKeepalived(name, parser.KeepalivedOptions{FS: fsys})
	return &halint.Node{Path: name, Cfg: cfg, AST: ast, HAProxy: haproxy}
}

// seed is the seed guide's file (../shared/seed/keepalived.conf, lab
// addresses), with the per-node changes as placeholders.
func seed(state string, prio int, extra, script string) string {
	return fmt.Sprintf(`global_defs {
   router_id lb
}

vrrp_script chk_haproxy {
   script "%s"
   interval 2
   weight -2
   fall 3
   rise 1
}

vrrp_instance R1 {
   state %s
   interface eth0
   virtual_router_id 50
   priority %d
   advert_int 1
   authentication {
      auth_type PASS
      auth_pass passwd
   }
   virtual_ipaddress {
      10.77.0.100/24
   }
   track_script {
      chk_haproxy
   }
%s
}
`, script, state, prio, extra)
}

const killall = "/usr/bin/killall -0 haproxy"

func TestPair(t *testing.T) {
	tests := []struct {
		name    string
		a, b    string
		haproxy bool
		want    []string // "file:line check" in order
	}{
		{name: "seed guide as run by netlab seed: clean",
			a: seed("MASTER", 100, "", killall), b: seed("BACKUP", 99, "", killall), haproxy: true},
		{name: "seed guide, master's file as printed",
			a: seed("MASTER", 100, "   nopreempt\n   preempt_delay 2", killall), b: seed("BACKUP", 99, "", killall),
			want: []string{"a.conf:29 nopreempt-master"}},
		{name: "seed --backup-nopreempt",
			a: seed("MASTER", 100, "   nopreempt\n   preempt_delay 2", killall), b: seed("BACKUP", 99, "   nopreempt\n   preempt_delay 2", killall),
			want: []string{"a.conf:29 nopreempt-master", "b.conf:29 nopreempt-weight"}},
		{name: "weight cannot cross the gap",
			a: seed("MASTER", 100, "", killall), b: seed("BACKUP", 95, "", killall),
			want: []string{"a.conf:8 weight-gap"}},
		{name: "weight only ties",
			a: seed("MASTER", 101, "", killall), b: seed("BACKUP", 99, "", killall),
			want: []string{"a.conf:8 weight-gap"}},
		{name: "track_script weight override crosses",
			a: strings.Replace(seed("MASTER", 100, "", killall), "      chk_haproxy\n", "      chk_haproxy weight -20\n", 1),
			b: seed("BACKUP", 95, "", killall)},
		{name: "VRID differs",
			a: seed("MASTER", 100, "", killall), b: strings.Replace(seed("BACKUP", 99, "", killall), "virtual_router_id 50", "virtual_router_id 51", 1),
			want: []string{"a.conf:16 mismatch"}},
		{name: "password differs",
			a: seed("MASTER", 100, "", killall), b: strings.Replace(seed("BACKUP", 99, "", killall), "auth_pass passwd", "auth_pass passwd2", 1),
			want: []string{"a.conf:19 mismatch"}},
		{name: "password differs only past 8 bytes",
			a: strings.Replace(seed("MASTER", 100, "", killall), "auth_pass passwd", "auth_pass 12345678a", 1),
			b: strings.Replace(seed("BACKUP", 99, "", killall), "auth_pass passwd", "auth_pass 12345678b", 1)},
		{name: "advert_int differs",
			a: seed("MASTER", 100, "", killall), b: strings.Replace(seed("BACKUP", 99, "", killall), "advert_int 1", "advert_int 2", 1),
			want: []string{"a.conf:18 mismatch"}},
		{name: "version differs",
			a: seed("MASTER", 100, "   version 3", killall), b: seed("BACKUP", 99, "", killall),
			want: []string{"a.conf:29 mismatch"}},
		{name: "VIP list differs",
			a: seed("MASTER", 100, "", killall), b: strings.Replace(seed("BACKUP", 99, "", killall), "10.77.0.100/24", "10.77.0.101/24", 1),
			want: []string{"a.conf:23 mismatch"}},
		{name: "unicast peers do not name each other",
			a:    seed("MASTER", 100, "   unicast_src_ip 10.77.0.1\n   unicast_peer {\n      10.77.0.2\n   }", killall),
			b:    seed("BACKUP", 99, "   unicast_src_ip 10.77.0.2\n   unicast_peer {\n      10.77.0.3\n   }", killall),
			want: []string{"b.conf:30 unicast-peers"}},
		{name: "unicast on one side only",
			a:    seed("MASTER", 100, "   unicast_src_ip 10.77.0.1\n   unicast_peer {\n      10.77.0.2\n   }", killall),
			b:    seed("BACKUP", 99, "", killall),
			want: []string{"a.conf:30 unicast-peers"}},
		{name: "check looks for another process", haproxy: true,
			a: seed("MASTER", 100, "", "killall -0 nginx"), b: seed("BACKUP", 99, "", "pidof halo"),
			want: []string{"a.conf:6 process-name", "b.conf:6 process-name"}},
		{name: "process name not checked without haproxy.cfg",
			a: seed("MASTER", 100, "", "killall -0 nginx"), b: seed("BACKUP", 99, "", "killall -0 nginx")},
		{name: "pgrep -f is a pattern, not a name", haproxy: true,
			a: seed("MASTER", 100, "", "pgrep -f 'haproxy -f'"), b: seed("BACKUP", 99, "", "pgrep -x haproxy")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := halint.Pair(node(t, "a.conf", tc.a, tc.haproxy), node(t, "b.conf", tc.b, tc.haproxy))
			var got []string
			for _, f := range fs {
				got = append(got, fmt.Sprintf("%s:%d %s", f.Pos.File, f.Pos.Line, f.Check))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				var full []string
				for _, f := range fs {
					full = append(full, f.String())
				}
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(full, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestSingle: what one node's file shows alone (halo keepalived -t).
func TestSingle(t *testing.T) {
	fs := halint.Single(node(t, "b.conf", seed("BACKUP", 99, "   nopreempt\n   preempt_delay 2", killall), false))
	if len(fs) != 1 || fs[0].Check != halint.NopreemptWeight || fs[0].Pos.Line != 29 ||
		!strings.Contains(fs[0].Msg, "the VIP stays on the node whose check failed") {
		t.Fatalf("%v", fs)
	}
	// weight 0: a failed check means FAULT, which a nopreempt backup does take over from
	zero := strings.Replace(seed("BACKUP", 99, "   nopreempt", killall), "weight -2", "weight 0", 1)
	if fs := halint.Single(node(t, "b.conf", zero, false)); len(fs) != 0 {
		t.Fatalf("weight 0 flagged: %v", fs)
	}
}
