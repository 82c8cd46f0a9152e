package compat

import (
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"halo/parser"
	"halo/vrrp"
)

func loadKaString(t *testing.T, conf string, host bool) (*vrrp.Config, *Report) {
	t.Helper()
	fsys := fstest.MapFS{"k.conf": {Data: []byte(conf), Mode: 0o644}}
	opt := KeepalivedOptions{Parse: parser.KeepalivedOptions{FS: fsys}, HostChecks: host,
		Interfaces: func() map[string]bool { return map[string]bool{"lo": true, "eth0": true} },
		LookupUser: func(name string) (int, int, bool) {
			if name == "nobody" {
				return 65534, 65534, true
			}
			if name == "root" {
				return 0, 0, true
			}
			return 0, 0, false
		},
	}
	return LoadKeepalived("/k.conf", opt)
}

const seedConf = `global_defs {
   notification_email {
     a@example.com
   }
   notification_email_from b@example.com
   smtp_server 127.0.0.1
   smtp_connect_timeout 60
   vrrp_mcast_group4 224.0.0.18
}
vrrp_script chk_haproxy {
   script "/bin/true haproxy"
   interval 2
   weight -2
   fall 3
   rise 1
}
vrrp_instance R1 {
   state BACKUP
   interface eth0
   virtual_router_id 50
   priority 100
   advert_int 1
   authentication {
      auth_type PASS
      auth_pass passwd
   }
   virtual_ipaddress {
      10.230.137.100
      192.168.1.1/24 dev eth0 label eth0:1
   }
   unicast_src_ip 10.0.0.1
   unicast_peer {
      10.0.0.2
   }
   track_script {
      chk_haproxy weight 10
   }
   notify_master "/bin/echo master"
   nopreempt
   preempt_delay 2
}
vrrp_sync_group G {
   group {
      R1
   }
}
`

func TestLoadKeepalivedDecodes(t *testing.T) {
	cfg, r := loadKaString(t, seedConf, false)
	if cfg == nil {
		t.Fatalf("config rejected: %+v", r.Diags)
	}
	g := cfg.Global
	if g.SMTPServer != "127.0.0.1:25" || g.SMTPConnectTimeout != 60*time.Second || len(g.NotificationEmail) != 1 {
		t.Errorf("global = %+v", g)
	}
	sc := cfg.Scripts["chk_haproxy"]
	if sc == nil || sc.Command != "/bin/true haproxy" || sc.Interval != 2*time.Second || sc.Weight != -2 || sc.Fall != 3 || sc.Timeout != 2*time.Second {
		t.Fatalf("script = %+v", sc)
	}
	if len(cfg.Instances) != 1 {
		t.Fatalf("instances = %d", len(cfg.Instances))
	}
	in := cfg.Instances[0]
	want := vrrp.Instance{Name: "R1", InitialState: vrrp.StateBackup, Interface: "eth0", VRID: 50, Priority: 100,
		// preempt_delay 2 beside nopreempt: keepalived resets it ("preempt_delay
		// is incompatible with nopreempt mode - resetting")
		AdvertInt: time.Second, AuthType: "PASS", AuthPass: "passwd", NoPreempt: true, PreemptDelay: 0}
	if in.Name != want.Name || in.InitialState != want.InitialState || in.Interface != want.Interface || in.VRID != want.VRID ||
		in.Priority != want.Priority || in.AdvertInt != want.AdvertInt || in.AuthType != want.AuthType ||
		in.AuthPass != want.AuthPass || in.NoPreempt != want.NoPreempt || in.PreemptDelay != want.PreemptDelay {
		t.Errorf("instance = %+v", in)
	}
	if len(in.VIPs) != 2 || in.VIPs[0].Prefix != netip.MustParsePrefix("10.230.137.100/32") ||
		in.VIPs[1].Dev != "eth0" || in.VIPs[1].Label != "eth0:1" || in.VIPs[1].Prefix.Bits() != 24 {
		t.Errorf("VIPs = %+v", in.VIPs)
	}
	if len(in.UnicastPeers) != 1 || in.UnicastSrcIP != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("unicast = %v from %v", in.UnicastPeers, in.UnicastSrcIP)
	}
	// R1 is in sync group G: keepalived ignores its weighted script
	// ("ignoring tracked script chk_haproxy with weights due to SYNC group")
	if len(in.TrackScripts) != 0 {
		t.Errorf("track scripts = %+v", in.TrackScripts)
	}
	if in.NotifyMaster != "/bin/echo master" || in.Version != 2 || in.GARPMasterDelay != 5*time.Second {
		t.Errorf("notify/version/garp = %q %d %v", in.NotifyMaster, in.Version, in.GARPMasterDelay)
	}
	if len(cfg.SyncGroups) != 1 || len(cfg.SyncGroups[0].Instances) != 1 {
		t.Errorf("sync groups = %+v", cfg.SyncGroups)
	}
	if got := KeepalivedTestExit(r); got != 5 {
		// the lone sync group member is a warning in keepalived too
		t.Errorf("exit = %d, want 5; diags %+v", got, r.Diags)
	}
}

func TestKeepalivedDiagnostics(t *testing.T) {
	inst := func(body string) string {
		return "vrrp_instance V {\n interface eth0\n virtual_router_id 5\n" + body + " virtual_ipaddress {\n  10.0.0.1/24\n }\n}\n"
	}
	for _, tc := range []struct {
		name string
		conf string
		host bool
		exit int
		msgs []string
	}{
		{"clean", inst(""), true, 0, nil},
		{"vrid range", strings.Replace(inst(""), "virtual_router_id 5", "virtual_router_id 300", 1), false, 5,
			[]string{"number '300' outside range [1, 255]", "(V): VRID '300' not valid - must be between 1 & 255", "(V) the virtual router id must be set"}},
		{"priority range", inst(" priority 0\n"), false, 5, []string{"number '0' outside range [1, 255]", "(V) Priority not valid! must be between 1 & 255"}},
		{"unknown keyword with suggestion", inst(" priorty 100\n"), false, 5, []string{"Unknown keyword 'priorty'"}},
		{"keyword in wrong block", "global_defs {\n garp_master_delay 5\n}\n" + inst(""), false, 5, []string{"Unknown keyword 'garp_master_delay'"}},
		{"auth_pass truncated", inst(" authentication {\n  auth_type PASS\n  auth_pass 123456789\n }\n"), false, 5, []string{"Truncating auth_pass to 8 characters"}},
		{"bad auth type", inst(" authentication {\n  auth_type no_auth\n }\n"), false, 5, []string{"(V) unknown authentication type 'no_auth'"}},
		{"missing parameter exits 2", inst(" priority\n"), false, 2, []string{"*** Configuration line starting `priority` is missing a parameter after keyword `priority` at word position 2"}},
		{"missing interface", strings.Replace(inst(""), "eth0", "eth9", 1), true, 5,
			[]string{"WARNING - interface eth9 for vrrp_instance V doesn't exist", "Non-existent interface specified in configuration"}},
		{"root script without security", "vrrp_script s {\n script \"/bin/true\"\n}\n" + inst(" track_script {\n  s\n }\n"), true, 6,
			[]string{"SECURITY VIOLATION - scripts are being executed but script_security not enabled."}},
		{"script with security", "global_defs {\n enable_script_security\n script_user nobody\n}\nvrrp_script s {\n script \"/bin/true\"\n}\n" + inst(" track_script {\n  s\n }\n"), true, 0, nil},
		{"missing script disabled", "global_defs {\n enable_script_security\n script_user nobody\n}\nvrrp_script s {\n script \"/nonexistent/x.sh\"\n}\n" + inst(" track_script {\n  s\n }\n"), true, 5,
			[]string{"Disabling track script s since not found/accessible"}},
		{"unknown track script", inst(" track_script {\n  nope\n }\n"), false, 5, []string{"(V) track script nope not found, ignoring..."}},
		{"bad script user", "global_defs {\n script_user ghost\n}\nvrrp_script s {\n script \"/bin/true\"\n}\n" + inst(" track_script {\n  s\n }\n"), true, 5,
			[]string{"Error setting global script uid/gid", "Unable to set default user for vrrp script s - removing", "(V) track script s not found, ignoring..."}},
		{"nopreempt cleared under MASTER", inst(" state MASTER\n nopreempt\n"), false, 5, []string{"(V) Warning - nopreempt will not work with initial state MASTER - clearing"}},
		{"LVS decoded and run", inst("") + "virtual_server 10.0.0.1 80 {\n lb_algo rr\n protocol TCP\n lb_kind NAT\n real_server 10.0.0.2 80 {\n  weight 1\n  TCP_CHECK {\n   connect_timeout 3\n  }\n }\n}\n", false, 0, nil},
		{"LVS DR is partial", inst("") + "virtual_server 10.0.0.1 80 {\n lb_algo rr\n protocol TCP\n lb_kind DR\n real_server 10.0.0.2 80 {\n  weight 1\n  TCP_CHECK {\n   connect_timeout 3\n  }\n }\n}\n", false, 0,
			[]string{"'lb_kind DR' is partial: DR forwarding needs the kernel's IPVS"}},
		// keepalived ignores the '{', so the '}' closes the instance and
		// the rest is read at the top level (checked against keepalived -t)
		{"block given to plain keyword", inst(" priority 100 {\n }\n"), false, 5, []string{"Unexpected '{' - ignoring",
			"Unknown keyword 'virtual_ipaddress'", "Unexpected '{' - ignoring", "Unknown keyword '10.0.0.1/24'",
			"Unknown keyword '}'", "Unknown keyword '}'", "(V) No VIP specified; at least one is sensible"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r := loadKaString(t, tc.conf, tc.host)
			var msgs []string
			for _, d := range r.Diags {
				if d.Class == "log" {
					continue
				}
				msgs = append(msgs, d.Msg)
			}
			if got := KeepalivedTestExit(r); got != tc.exit {
				t.Errorf("exit %d, want %d; diags %q", got, tc.exit, msgs)
			}
			if len(msgs) != len(tc.msgs) {
				t.Fatalf("diags %q\nwant %q", msgs, tc.msgs)
			}
			for i := range msgs {
				if !strings.HasPrefix(msgs[i], tc.msgs[i]) {
					t.Errorf("diag %d = %q, want %q", i, msgs[i], tc.msgs[i])
				}
			}
		})
	}
}

// The include variants and -e decide whether a missing include is an
// error; the statuses are keepalived 2.2.7's, measured with keepalived -t.
func TestKeepalivedIncludeChecks(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		all        bool
		exit       int
	}{
		{"include missing is logged", "include nope.conf\n", false, 0},
		{"includem missing", "includem nope.conf\n", false, 6},
		{"includer missing", "includer nope.conf\n", false, 0},
		{"includew wildcard matches nothing", "includew no*.conf\n", false, 6},
		{"includem wildcard matches nothing", "includem no*.conf\n", false, 0},
		{"includea missing", "includea nope.conf\n", false, 6},
		{"include directory is logged", "include sub\n", false, 0},
		{"includeb directory", "includeb sub\n", false, 6},
		{"-e makes include missing an error", "include nope.conf\n", true, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{"k.conf": {Data: []byte(tc.conf), Mode: 0o644}, "sub/x": {Data: []byte("a 1\n"), Mode: 0o644}}
			_, r := LoadKeepalived("/k.conf", KeepalivedOptions{Parse: parser.KeepalivedOptions{FS: fsys, AllConfig: tc.all}})
			if got := KeepalivedTestExit(r); got != tc.exit {
				t.Errorf("exit %d, want %d (%+v)", got, tc.exit, r.Diags)
			}
		})
	}
}

func TestKeepalivedSuggestion(t *testing.T) {
	_, r := loadKaString(t, "vrrp_instance V {\n priorty 100\n}\n", false)
	for _, d := range r.Diags {
		if d.Msg == "Unknown keyword 'priorty'" {
			if d.Hint != "did you mean 'priority'?" || d.Pos.Line != 2 || d.Pos.Col != 2 {
				t.Errorf("diag %+v", d)
			}
			if got := KeepalivedDiagText(d); got != "(/k.conf: Line 2, col 2) Unknown keyword 'priorty' (did you mean 'priority'?)" {
				t.Errorf("text %q", got)
			}
			return
		}
	}
	t.Fatal("no unknown keyword diagnostic")
}

// Every table row has a status in keepalived_status.go and every status
// there names a row, so the report cannot silently drift from the tables.
func TestKeepalivedStatusComplete(t *testing.T) {
	if len(kaMissingStatus) > 0 {
		t.Errorf("rows without a status: %q", kaMissingStatus)
	}
	rows := map[string]bool{}
	for _, s := range kaSections {
		for _, k := range s.tab.Rows() {
			rows[s.name+" "+k.Name] = true
			if k.Status != Supported && k.Note == "" {
				t.Errorf("%s %s is %s without a note", s.name, k.Name, k.Status)
			}
		}
	}
	for k := range keepalivedStatus {
		if !rows[k] {
			t.Errorf("status for %q, which no table has", k)
		}
	}
}

func FuzzLoadKeepalived(f *testing.F) {
	f.Add(seedConf)
	f.Add("vrrp_instance V {\n priority x\n virtual_router_id 0\n advert_int -1\n unicast_peer {\n  nope\n }\n virtual_routes {\n  default via 1.2.3.4 dev eth0 table main\n }\n}\n")
	f.Fuzz(func(t *testing.T, conf string) {
		fsys := fstest.MapFS{"k.conf": {Data: []byte(conf), Mode: 0o644}}
		cfg, r := LoadKeepalived("/k.conf", KeepalivedOptions{Parse: parser.KeepalivedOptions{FS: fsys, MaxLines: 2000}})
		if cfg == nil && !r.Fatal() {
			t.Fatal("nil config without a fatal diagnostic")
		}
		if e := KeepalivedTestExit(r); e != 0 && e != 2 && e != 4 && e != 5 && e != 6 {
			t.Fatalf("exit %d", e)
		}
	})
}
