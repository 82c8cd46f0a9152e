package speaker

import (
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"halo/vrrp"
	"halo/vrrp/internal/nstest"
)

// TestStaticAndVirtualRules: static_ipaddress/static_routes/static_rules
// are set from start to stop; virtual_rules and virtual_routes while
// MASTER, as keepalived sets them.
func TestStaticAndVirtualRules(t *testing.T) {
	lab := nstest.NewLab(t, "sr", 1, 222)
	ns := lab.Nodes[0]
	show := func(args ...string) string {
		out, _ := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
		return string(out)
	}
	c := labConfig(lab, 1, 255, func(in *vrrp.Instance) {
		in.InitialState = vrrp.StateMaster
		in.Rules = []vrrp.Rule{{Family: 4, From: netip.MustParsePrefix(lab.Net + ".100/32"), Action: "table", Table: 101,
			Priority: 101, SuppressPrefixLen: -1, IPProto: -1, Protocol: vrrp.ProtoKeepalived, HasProtocol: true}}
		in.Routes = []vrrp.Route{{Dst: netip.MustParsePrefix("10.202.0.0/16"), Dev: "eth0", Table: 101}}
	})
	c.StaticIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix("10.203.0.1/24"), Dev: "eth0"}}
	c.StaticRoutes = []vrrp.Route{{Dst: netip.MustParsePrefix("10.204.0.0/16"), Dev: "eth0"}}
	c.StaticRules = []vrrp.Rule{{Family: 4, From: netip.MustParsePrefix("10.205.0.0/16"), Action: "blackhole",
		Priority: 100, SuppressPrefixLen: -1, IPProto: -1}}
	n := startNode(t, ns, c)
	waitHolders(t, lab, "1", 5*time.Second)
	want := map[string][]string{
		"rule":  {"100:\tfrom 10.205.0.0/16 blackhole", "101:\tfrom " + lab.Net + ".100 lookup 101 proto keepalived"},
		"route": {"10.204.0.0/16 dev eth0"},
		"addr":  {"10.203.0.1/24"},
	}
	var out map[string]string
	for t0 := time.Now(); time.Since(t0) < 3*time.Second; time.Sleep(100 * time.Millisecond) {
		out = map[string]string{"rule": show("rule"), "route": show("route") + show("route", "show", "table", "101"), "addr": show("addr")}
		ok := strings.Contains(out["route"], "10.202.0.0/16 dev eth0")
		for k, ws := range want {
			for _, w := range ws {
				ok = ok && strings.Contains(out[k], w)
			}
		}
		if ok {
			break
		}
	}
	for k, ws := range want {
		for _, w := range ws {
			if !strings.Contains(out[k], w) {
				t.Errorf("ip %s lacks %q:\n%s", k, w, out[k])
			}
		}
	}
	if !strings.Contains(out["route"], "10.202.0.0/16 dev eth0") {
		t.Errorf("virtual route missing:\n%s", out["route"])
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = n.cmd.Wait()
	rules, routes, addrs := show("rule"), show("route")+show("route", "show", "table", "101"), show("addr")
	for _, gone := range []string{"10.205.0.0/16", "lookup 101", "10.204.0.0/16", "10.202.0.0/16", "10.203.0.1"} {
		if strings.Contains(rules+routes+addrs, gone) {
			t.Errorf("%s still set after stop:\n%s%s%s", gone, rules, routes, addrs)
		}
	}
}
