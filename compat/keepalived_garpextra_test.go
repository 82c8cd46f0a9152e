package compat

import (
	"strings"
	"testing"
	"time"
)

// vrrp_garp_extra_if / garp_extra_if reach the instance as keepalived
// 2.2.7 resolves them (the instance's value, else the global one; 0 turns
// it off; "all" adds every interface), with its messages for bad values
// (checked against keepalived -t on the same lines).
func TestGARPExtraIfResolved(t *testing.T) {
	inst := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.1\n }\nBODY}\n"
	for _, tc := range []struct {
		name, global, body string
		every              time.Duration
		all                bool
		msgs               string
	}{
		{name: "none"},
		{name: "global", global: "vrrp_garp_extra_if 100", every: 100 * time.Second},
		{name: "global all", global: "vrrp_garp_extra_if all 60", every: time.Minute, all: true},
		{name: "instance beats global", global: "vrrp_garp_extra_if 100", body: "garp_extra_if 30", every: 30 * time.Second},
		{name: "instance 0 turns it off", global: "vrrp_garp_extra_if all 100", body: "garp_extra_if 0", all: true},
		{name: "deprecated names", global: "vrrp_vmac_garp_intvl 50", body: "vmac_garp_intvl all 20", every: 20 * time.Second, all: true,
			msgs: `Keyword "vrrp_vmac_garp_intvl" is deprecated - please use "vrrp_garp_extra_if"|Keyword "vmac_garp_intvl" is deprecated - please use "garp_extra_if"`},
		{name: "global without time", global: "vrrp_garp_extra_if all", msgs: "vrrp_garp_extra_if specified without time - ignoring", all: true},
		{name: "global 0", global: "vrrp_garp_extra_if 0", msgs: "number '0' outside range [1, 86400]|vrrp_garp_extra_if '0' invalid - ignoring"},
		{name: "instance bad", body: "garp_extra_if 90000", msgs: "number '90000' outside range [0, 86400]|(VI_1): garp_extra_if '90000' invalid - ignoring"},
		{name: "instance without time", body: "garp_extra_if all", msgs: "(VI_1): garp_extra_if specified without time - ignoring", all: true},
	} {
		conf := strings.Replace(inst, "BODY", " "+tc.body+"\n", 1)
		if tc.global != "" {
			conf = "global_defs {\n " + tc.global + "\n}\n" + conf
		}
		cfg, r := loadKaString(t, conf, false)
		if cfg == nil || len(cfg.Instances) != 1 {
			t.Fatalf("%s: no instance: %v", tc.name, r.Diags)
		}
		in := cfg.Instances[0]
		if in.GARPExtraIf != tc.every || in.GARPExtraIfAll != tc.all {
			t.Errorf("%s: every %v all %v, want %v %v", tc.name, in.GARPExtraIf, in.GARPExtraIfAll, tc.every, tc.all)
		}
		var msgs []string
		for _, d := range r.Diags {
			msgs = append(msgs, d.Msg)
		}
		if got := strings.Join(msgs, "|"); got != tc.msgs {
			t.Errorf("%s: messages %q, want %q", tc.name, got, tc.msgs)
		}
	}
}
