package compat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeepalivedScriptChecksAsKeepalived: the script checks of
// `keepalived -t`, with Keepalived 2.2.7's exit status (run on this box):
// no vrrp_instance means no VRRP process and no script is checked (halo
// used to exit 6); a world-writable track script under
// enable_script_security is disabled (halo used to say nothing).
func TestKeepalivedScriptChecksAsKeepalived(t *testing.T) {
	dir := t.TempDir()
	insecure := filepath.Join(dir, "chk.sh")
	if err := os.WriteFile(insecure, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(insecure, 0o777); err != nil {
		t.Fatal(err)
	}
	inst := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n virtual_ipaddress {\n  10.9.9.9/32\n }\n}\n"
	tests := []struct {
		name     string
		conf     string
		wantExit int
		wantMsg  string
	}{
		{name: "stray vrrp_script, no instance", conf: "vrrp_script chk {\n script \"/bin/true\"\n}\n", wantExit: 0},
		{name: "stray vrrp_script not found, no instance", conf: "vrrp_script chk {\n script \"/nonexistent/x\"\n}\n", wantExit: 0},
		{name: "unused vrrp_script beside an instance", conf: "vrrp_script chk {\n script \"/bin/true\"\n}\n" + inst, wantExit: 6,
			wantMsg: "SECURITY VIOLATION - scripts are being executed but script_security not enabled."},
		{name: "insecure track script", conf: "global_defs {\n enable_script_security\n}\nvrrp_script chk {\n script \"" + insecure + "\"\n user root\n}\n" + inst,
			wantExit: 5, wantMsg: "Disabling track script chk due to insecure"},
		{name: "secure track script", conf: "global_defs {\n enable_script_security\n}\nvrrp_script chk {\n script \"/bin/true\"\n user root\n}\n" + inst,
			wantExit: 0},
		{name: "sync group with no member", conf: "vrrp_sync_group G {\n group {\n  X\n }\n}\n" + inst, wantExit: 5,
			wantMsg: "Sync group G, no matching virtual router found in group declaration - removing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, r := loadKaString(t, tc.conf, true)
			var msgs []string
			for _, d := range r.Diags {
				msgs = append(msgs, d.Msg)
			}
			if got := KeepalivedTestExit(r); got != tc.wantExit {
				t.Fatalf("exit %d, want %d:\n%s", got, tc.wantExit, strings.Join(msgs, "\n"))
			}
			if tc.wantMsg != "" && !strings.Contains(strings.Join(msgs, "\n"), tc.wantMsg) {
				t.Fatalf("missing %q:\n%s", tc.wantMsg, strings.Join(msgs, "\n"))
			}
		})
	}
}

// TestWeightsIgnoredAsKeepalived: sync group members (without
// sync_group_tracking_weight) and address owners take no weighted
// tracking, as keepalived 2.2.7 -t says on this box (halo applied them).
func TestWeightsIgnoredAsKeepalived(t *testing.T) {
	conf := `vrrp_script chk {
 script "/bin/true"
 weight -20
}
vrrp_script chk0 {
 script "/bin/true"
}
vrrp_instance VI_1 {
 interface eth0
 virtual_router_id 51
 priority 100
 virtual_ipaddress {
  10.9.9.9/32
 }
 track_script {
  chk
  chk0
 }
 track_interface {
  lo weight -10
 }
}
vrrp_instance VI_2 {
 interface eth0
 virtual_router_id 52
 priority 255
 virtual_ipaddress {
  10.9.9.8/32
 }
 track_script {
  chk weight 5
 }
}
vrrp_instance VI_3 {
 interface eth0
 virtual_router_id 53
 priority 100
 virtual_ipaddress {
  10.9.9.7/32
 }
 track_script {
  chk
 }
}
vrrp_sync_group G {
 group {
  VI_1
  VI_3
 }
 GROUP_OPT
}
`
	for _, tc := range []struct {
		name   string
		opt    string
		want   []string
		v1, v3 int // track scripts kept
	}{
		{name: "weights ignored", want: []string{
			"(VI_1) ignoring lo tracked interface weight due to SYNC group",
			"(VI_1) ignoring tracked script chk with weights due to SYNC group",
			"(VI_2) ignoring tracked script chk with weights due to address_owner",
			"(VI_3) ignoring tracked script chk with weights due to SYNC group"}, v1: 1, v3: 0},
		{name: "sync_group_tracking_weight keeps them", opt: "sync_group_tracking_weight", want: []string{
			"(VI_2) ignoring tracked script chk with weights due to address_owner"}, v1: 2, v3: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, r := loadKaString(t, strings.Replace(conf, "GROUP_OPT", tc.opt, 1), false)
			var got []string
			for _, d := range r.Diags {
				if strings.Contains(d.Msg, "ignoring") {
					got = append(got, d.Msg)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if n := len(cfg.Instances[0].TrackScripts); n != tc.v1 {
				t.Errorf("VI_1 keeps %d scripts, want %d", n, tc.v1)
			}
			if n := len(cfg.Instances[2].TrackScripts); n != tc.v3 {
				t.Errorf("VI_3 keeps %d scripts, want %d", n, tc.v3)
			}
			if w := cfg.Instances[0].TrackInterfaces[0].Weight; tc.opt == "" && w != 0 {
				t.Errorf("VI_1 lo weight %d, want 0 (down means FAULT)", w)
			}
			if len(cfg.Instances[1].TrackScripts) != 0 {
				t.Errorf("the owner keeps a weighted script")
			}
		})
	}
}
