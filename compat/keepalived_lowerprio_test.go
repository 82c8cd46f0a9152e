package compat

import (
	"strings"
	"testing"
	"time"
)

// TestLowerPrioResolved: lower_prio_no_advert, higher_prio_send_advert,
// garp_lower_prio_* and down_timer_adverts reach the instance with
// Keepalived's precedence (instance, strict mode, global, garp_master_*)
// and strict mode's resets in Keepalived 2.2.7's words.
func TestLowerPrioResolved(t *testing.T) {
	inst := func(body string) string {
		return "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.1\n }\n" + body + "}\n"
	}
	tests := []struct {
		name                string
		conf                string
		noAdv, sendAdv      bool
		garpRep             int
		garpDelay           time.Duration
		down                int
		wantMsg, notWantMsg string
	}{
		{name: "defaults: the global garp_master values", conf: inst(""),
			garpRep: 5, garpDelay: 5 * time.Second},
		{name: "global garp_master values follow", conf: "global_defs {\n vrrp_garp_master_repeat 2\n vrrp_garp_master_delay 3\n}\n" + inst(""),
			garpRep: 2, garpDelay: 3 * time.Second},
		{name: "instance garp_master_repeat does not", conf: inst(" garp_master_repeat 9\n"),
			garpRep: 5, garpDelay: 5 * time.Second},
		{name: "global lower prio values", conf: "global_defs {\n vrrp_garp_lower_prio_repeat 1\n vrrp_garp_lower_prio_delay 0\n vrrp_lower_prio_no_advert\n vrrp_higher_prio_send_advert true\n vrrp_down_timer_adverts 4\n}\n" + inst(""),
			noAdv: true, sendAdv: true, garpRep: 1, garpDelay: -1, down: 4},
		{name: "instance beats global", conf: "global_defs {\n vrrp_lower_prio_no_advert\n vrrp_garp_lower_prio_repeat 1\n}\n" +
			inst(" lower_prio_no_advert off\n garp_lower_prio_repeat 0\n garp_lower_prio_delay 2\n higher_prio_send_advert\n down_timer_adverts 7\n"),
			sendAdv: true, garpRep: -1, garpDelay: 2 * time.Second, down: 7},
		{name: "strict defaults", conf: "global_defs {\n vrrp_strict\n}\n" + inst(""),
			noAdv: true, garpRep: -1, garpDelay: -1, notWantMsg: "Strict mode requires"},
		{name: "strict resets", conf: "global_defs {\n vrrp_strict\n}\n" + inst(" lower_prio_no_advert false\n higher_prio_send_advert\n garp_lower_prio_repeat 2\n"),
			noAdv: true, garpRep: -1, garpDelay: -1,
			wantMsg: "(VI_1) Strict mode requires no repeat garps. resetting|(VI_1) Strict mode requires no lower priority advert. resetting|(VI_1) strict mode requires higher_prio_send_advert to be clear. resetting"},
		{name: "bad values", conf: "global_defs {\n vrrp_higher_prio_send_advert maybe\n}\n" + inst(" down_timer_adverts 200\n lower_prio_no_advert perhaps\n"),
			garpRep: 5, garpDelay: 5 * time.Second,
			wantMsg: "Invalid value for vrrp_higher_prio_send_advert specified|(VI_1): Invalid down_timer_adverts [1:100] '200'|(VI_1) invalid lower_prio_no_advert perhaps specified"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, r := loadKaString(t, tc.conf, false)
			if cfg == nil || len(cfg.Instances) != 1 {
				t.Fatalf("no instance: %v", r.Diags)
			}
			in := cfg.Instances[0]
			if in.LowerPrioNoAdvert != tc.noAdv || in.HigherPrioSendAdvert != tc.sendAdv || in.GARPLowerPrioRepeat != tc.garpRep ||
				in.GARPLowerPrioDelay != tc.garpDelay || in.DownTimerAdverts != tc.down {
				t.Fatalf("no_advert %v send_advert %v garp %d/%v down %d", in.LowerPrioNoAdvert, in.HigherPrioSendAdvert,
					in.GARPLowerPrioRepeat, in.GARPLowerPrioDelay, in.DownTimerAdverts)
			}
			var msgs []string
			for _, d := range r.Diags {
				msgs = append(msgs, d.Msg)
			}
			all := strings.Join(msgs, "\n")
			if tc.wantMsg != "" {
				for _, w := range strings.Split(tc.wantMsg, "|") {
					if !strings.Contains(all, w) {
						t.Errorf("missing %q in:\n%s", w, all)
					}
				}
			}
			if tc.notWantMsg != "" && strings.Contains(all, tc.notWantMsg) {
				t.Errorf("unexpected %q in:\n%s", tc.notWantMsg, all)
			}
			for _, d := range r.Diags {
				if strings.Contains(d.Msg, "is ignored") {
					t.Errorf("still reported as not executed: %s", d.Msg)
				}
			}
		})
	}
}

// TestGARPKeywords: a written 0 delay and vrrp_min_garp reach the runtime
// as "no second burst" (-1), garp_group is read.
func TestGARPKeywords(t *testing.T) {
	inst := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.1\n }\nBODY}\n"
	for _, tc := range []struct {
		name, conf string
		delay      time.Duration
		rep        int
	}{
		{"default", strings.Replace(inst, "BODY", "", 1), 5 * time.Second, 5},
		{"instance 0", strings.Replace(inst, "BODY", " garp_master_delay 0\n", 1), -1, 5},
		{"global 0", "global_defs {\n vrrp_garp_master_delay 0\n}\n" + strings.Replace(inst, "BODY", "", 1), -1, 5},
		{"vrrp_min_garp", "global_defs {\n vrrp_min_garp\n}\n" + strings.Replace(inst, "BODY", "", 1), -1, 1},
		{"vrrp_min_garp keeps what was set", "global_defs {\n vrrp_garp_master_repeat 3\n vrrp_min_garp\n}\n" + strings.Replace(inst, "BODY", "", 1), -1, 3},
	} {
		cfg, r := loadKaString(t, tc.conf, false)
		in := cfg.Instances[0]
		if in.GARPMasterDelay != tc.delay || in.GARPMasterRepeat != tc.rep {
			t.Errorf("%s: delay %v repeat %d, want %v %d (%v)", tc.name, in.GARPMasterDelay, in.GARPMasterRepeat, tc.delay, tc.rep, r.Diags)
		}
	}
	cfg, _ := loadKaString(t, "garp_group {\n garp_interval 0.05\n interfaces {\n  eth1\n  eth2\n }\n}\n"+strings.Replace(inst, "BODY", "", 1), false)
	if g := cfg.Global.GARPGroups; len(g) != 1 || g[0].GARPInterval != 50*time.Millisecond || len(g[0].Interfaces) != 2 || g[0].GNASet {
		t.Errorf("garp_group %+v", g)
	}
}
