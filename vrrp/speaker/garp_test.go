package speaker

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"halo/vrrp"
)

// TestGARPSpacingStops: with vrrp_garp_interval the burst is spaced out in
// the background; leaving MASTER (stopGARP) or the speaker's shutdown ends
// it at once, where it used to keep sending its whole count.
func TestGARPSpacingStops(t *testing.T) {
	for _, how := range []string{"state change", "shutdown"} {
		t.Run(how, func(t *testing.T) {
			var sent atomic.Int32
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			rec := func(string, netip.Addr, int) error { sent.Add(1); return nil }
			p := &port{cfg: &vrrp.Instance{Name: "VI_1", Interface: "eth0",
				VIPs: []vrrp.VIP{{Prefix: netip.MustParsePrefix("10.0.0.1/24")}, {Prefix: netip.MustParsePrefix("fd00::1/64")}}},
				logf: t.Logf, garpInterval: 40 * time.Millisecond, gnaInterval: 40 * time.Millisecond,
				sendGARP: rec, sendNA: rec, ctx: ctx, wg: &wg}
			p.garp(5)
			for sent.Load() < 2 { // the first of each, at once
				time.Sleep(time.Millisecond)
			}
			if how == "state change" {
				p.stopGARP()
			} else {
				cancel()
			}
			wg.Wait()
			n := sent.Load()
			time.Sleep(150 * time.Millisecond)
			// 10 when the burst runs its course; the next round may race the stop
			if after := sent.Load(); after != n || n > 4 {
				t.Fatalf("%d sent when stopped, %d after; want 2-4 and no more", n, after)
			}
			// A new burst (becoming MASTER again) runs in full.
			if how == "state change" {
				p.garp(2)
				wg.Wait()
				if got := sent.Load() - n; got != 4 {
					t.Fatalf("new burst sent %d, want 4", got)
				}
			}
		})
	}
}

// TestFSMConfigLowerPrio: the instance's lower-priority behaviour reaches
// the state machine (it had the features, nothing configured them).
func TestFSMConfigLowerPrio(t *testing.T) {
	ic := &vrrp.Instance{Name: "VI_1", VRID: 1, Priority: 100, LowerPrioNoAdvert: true, HigherPrioSendAdvert: true,
		GARPLowerPrioRepeat: -1, GARPLowerPrioDelay: 3 * time.Second, DownTimerAdverts: 4}
	s := &Speaker{cfg: &vrrp.Config{Instances: []*vrrp.Instance{ic}}}
	p := &port{cfg: ic}
	p.adv.Version = 2
	c := s.fsmConfig(ic, p)
	if !c.LowerPrioNoAdvert || !c.HigherPrioSendAdvert || c.GARPLowerPrioRepeat != -1 || c.GARPLowerPrioDelay != 3*time.Second || c.DownTimerAdverts != 4 {
		t.Fatalf("fsm config %+v", c)
	}
}

// TestGARPTimers: garp_master_delay 0 (or vrrp_min_garp) means no second
// burst, where it used to mean the 5 s default; garp_group sets the
// spacing of its interfaces.
func TestGARPTimers(t *testing.T) {
	for _, tc := range []struct {
		inst, global, want time.Duration
	}{
		{0, 0, 5 * time.Second}, {0, 3 * time.Second, 3 * time.Second}, {-1, 3 * time.Second, 0},
		{0, -1, 0}, {2 * time.Second, -1, 2 * time.Second},
	} {
		if got := garpDelay(tc.inst, tc.global); got != tc.want {
			t.Errorf("garpDelay(%v, %v) = %v, want %v", tc.inst, tc.global, got, tc.want)
		}
	}
	p := &port{garpInterval: time.Millisecond, gnaInterval: 2 * time.Millisecond,
		garpGroups: []*vrrp.GARPGroup{{Interfaces: []string{"eth1", "eth2"}, GARPInterval: 50 * time.Millisecond, GARPSet: true}}}
	if g, n := p.spacing("eth2"); g != 50*time.Millisecond || n != 2*time.Millisecond {
		t.Errorf("eth2 spacing %v %v", g, n)
	}
	if g, n := p.spacing("eth0"); g != time.Millisecond || n != 2*time.Millisecond {
		t.Errorf("eth0 spacing %v %v", g, n)
	}
}

// garp_extra_if sends one GARP/NA per interface that is a VMAC (or any,
// with "all"), never on the interface adverts leave from unless
// vmac_xmit_base moved them to the base interface.
func TestExtraGARPInterfaces(t *testing.T) {
	vips := []vrrp.VIP{
		{Prefix: netip.MustParsePrefix("10.0.0.1/24")},                // the instance's interface
		{Prefix: netip.MustParsePrefix("10.0.1.1/24"), Dev: "eth1"},   // another plain interface
		{Prefix: netip.MustParsePrefix("10.0.1.2/24"), Dev: "eth1"},   // the same one again
		{Prefix: netip.MustParsePrefix("fd00::1/64"), Dev: "vrrp.9"},  // another instance's VMAC
		{Prefix: netip.MustParsePrefix("10.0.2.1/24"), Dev: "vrrp.9"}, // the same VMAC again
	}
	isVMAC := func(dev string) bool { return dev == "vrrp.9" || dev == "vrrp.5" }
	for _, tc := range []struct {
		name          string
		vmac          string
		all, xmitBase bool
		want          string
	}{
		{"plain", "", false, false, "NA vrrp.9 fd00::1"},
		{"all", "", true, false, "ARP eth1 10.0.1.1|NA vrrp.9 fd00::1"},
		{"own vmac", "vrrp.5", false, false, "NA vrrp.9 fd00::1"},
		{"own vmac xmit_base", "vrrp.5", false, true, "ARP vrrp.5 10.0.0.1|NA vrrp.9 fd00::1"},
		{"all xmit_base", "vrrp.5", true, true, "ARP vrrp.5 10.0.0.1|ARP eth1 10.0.1.1|NA vrrp.9 fd00::1"},
	} {
		var sent []string
		rec := func(kind string) func(string, netip.Addr, int) error {
			return func(dev string, ip netip.Addr, n int) error {
				if n != 1 {
					t.Errorf("%s: %d packets at once", tc.name, n)
				}
				sent = append(sent, kind+" "+dev+" "+ip.String())
				return nil
			}
		}
		p := &port{cfg: &vrrp.Instance{Name: "VI_1", Interface: "eth0", VIPs: vips, GARPExtraIfAll: tc.all, VMACXmitBase: tc.xmitBase},
			logf: t.Logf, vipIf: "eth0", vmac: tc.vmac, sendGARP: rec("ARP"), sendNA: rec("NA")}
		if tc.vmac != "" {
			p.vipIf = tc.vmac
		}
		p.extraGARP(isVMAC)
		if got := strings.Join(sent, "|"); got != tc.want {
			t.Errorf("%s: sent %q, want %q", tc.name, got, tc.want)
		}
	}
}
