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
