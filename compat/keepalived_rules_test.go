package compat

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"halo/vrrp"
)

// TestStaticAndVirtualDecoded: static_* blocks and virtual_rules reach the
// runtime's configuration (they used to be read for messages only).
func TestStaticAndVirtualDecoded(t *testing.T) {
	conf := `static_ipaddress {
 10.5.5.5/24 dev eth0
}
static_routes {
 10.7.0.0/16 dev eth0 metric 5
}
static_rules {
 from 10.1.0.0/16 table 100 priority 10
 to fd00::/64 prohibit priority 11
}
vrrp_instance VI_1 {
 interface eth0
 virtual_router_id 51
 virtual_ipaddress {
  10.9.9.9/32
 }
 virtual_rules {
  from 10.9.9.9 table 200 priority 300 no_track
  fwmark 7/0xff goto 400 priority 301
 }
}
`
	cfg, r := loadKaString(t, conf, false)
	if len(r.Diags) != 0 {
		t.Fatalf("diags %v", r.Diags)
	}
	if len(cfg.StaticIPs) != 1 || cfg.StaticIPs[0].Prefix != netip.MustParsePrefix("10.5.5.5/24") ||
		len(cfg.StaticRoutes) != 1 || cfg.StaticRoutes[0].Metric != 5 {
		t.Fatalf("static %+v %+v", cfg.StaticIPs, cfg.StaticRoutes)
	}
	want := []vrrp.Rule{
		{Family: 4, From: netip.MustParsePrefix("10.1.0.0/16"), Priority: 10, Action: "table", Table: 100, SuppressPrefixLen: -1, IPProto: -1, Protocol: vrrp.ProtoKeepalived, HasProtocol: true},
		{Family: 6, To: netip.MustParsePrefix("fd00::/64"), Priority: 11, Action: "prohibit", SuppressPrefixLen: -1, IPProto: -1, Protocol: vrrp.ProtoKeepalived, HasProtocol: true},
	}
	if len(cfg.StaticRules) != 2 || cfg.StaticRules[0] != want[0] || cfg.StaticRules[1] != want[1] {
		t.Fatalf("static rules %+v", cfg.StaticRules)
	}
	vr := cfg.Instances[0].Rules
	if len(vr) != 2 || vr[0].Table != 200 || !vr[0].NoTrack || vr[0].HasProtocol || vr[1].Action != "goto" || vr[1].Goto != 400 ||
		vr[1].FwMark != 7 || vr[1].FwMask != 0xff || !vr[1].HasFwMask {
		t.Fatalf("virtual rules %+v", vr)
	}
}

// TestTrackProcessDecoded: vrrp_track_process blocks and the instances'
// track_process lists reach the runtime (testdata/keepalived/... words
// were compared with keepalived -t on this box).
func TestTrackProcessDecoded(t *testing.T) {
	conf := `vrrp_track_process TP {
 process haproxy
 weight -10 reverse
 quorum 2
 quorum_max 4
 delay 0.5
}
vrrp_track_process TF {
 process /usr/sbin/haproxy -f
 param_match partial
 terminate_delay 2
}
vrrp_track_process TNONE {
 weight 5
}
vrrp_instance VI_1 {
 interface eth0
 virtual_router_id 51
 virtual_ipaddress {
  10.9.9.9/32
 }
 track_process {
  TP
  TF weight 20
  TNONE
 }
}
`
	cfg, r := loadKaString(t, conf, false)
	tp, tf := cfg.TrackProcesses["TP"], cfg.TrackProcesses["TF"]
	if tp == nil || tp.Process != "haproxy" || tp.Weight != -10 || !tp.Reverse || tp.Quorum != 2 || tp.QuorumMax != 4 ||
		tp.ForkDelay != 500*time.Millisecond || tp.TerminateDelay != 500*time.Millisecond || tp.FullCommand {
		t.Fatalf("TP %+v", tp)
	}
	if tf == nil || !tf.FullCommand || tf.ParamMatch != "partial" || len(tf.Params) != 1 || tf.TerminateDelay != 2*time.Second || tf.ForkDelay != 0 {
		t.Fatalf("TF %+v", tf)
	}
	refs := cfg.Instances[0].TrackProcesses
	if len(refs) != 2 || refs[1].Weight != 20 || !refs[1].HasWeight {
		t.Fatalf("refs %+v", refs)
	}
	var msgs []string
	for _, d := range r.Diags {
		msgs = append(msgs, d.Msg)
	}
	want := "track process 'TNONE' process name not specified\n(VI_1) track process TNONE not found, ignoring..."
	if got := strings.Join(msgs, "\n"); !strings.Contains(got, want) {
		t.Fatalf("diags:\n%s", got)
	}
}
