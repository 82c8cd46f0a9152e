package netif

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"halo/vrrp/internal/nstest"
)

func TestEUI64LinkLocal(t *testing.T) {
	if got := EUI64LinkLocal(VMACAddr(7, true)); got != netip.MustParseAddr("fe80::200:5eff:fe00:207") {
		t.Fatalf("got %s", got)
	}
}

// An IPv6 VMAC gets the router's own link-local address, not the one the
// kernel would derive from the shared virtual MAC (every router of the
// VRID would claim it), also when it is made again over a reload; with
// vmac_xmit_base (no address given) it has none.
func TestVMACIPv6LinkLocal(t *testing.T) {
	lab := nstest.NewLab(t, "v6", 1, 209)
	ns := lab.Nodes[0]
	ll := netip.MustParseAddr("fe80::1:2")
	show := func(args ...string) string {
		out, _ := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
		return string(out)
	}
	for round := range 2 { // the second is a reload finding the VMAC made
		nstest.In(t, ns, func() {
			if err := CreateVMAC("vrrp.7", "eth0", 7, true, ll); err != nil {
				t.Fatal(err)
			}
			if err := CreateVMAC("vrrp.8", "eth0", 8, true, netip.Addr{}); err != nil {
				t.Fatal(err)
			}
		})
		a := show("-6", "-o", "addr", "show", "dev", "vrrp.7")
		if strings.Count(a, "inet6 ") != 1 || !strings.Contains(a, "inet6 fe80::1:2/64 scope link") {
			t.Errorf("round %d: vrrp.7 addresses:\n%s", round, a)
		}
		if a := show("-6", "-o", "addr", "show", "dev", "vrrp.8"); strings.Contains(a, "inet6") {
			t.Errorf("round %d: vrrp.8 (vmac_xmit_base) has an address:\n%s", round, a)
		}
		if l := show("-d", "link", "show", "vrrp.7"); !strings.Contains(l, "00:00:5e:00:02:07") || !strings.Contains(l, "addrgenmode none") {
			t.Errorf("round %d: vrrp.7:\n%s", round, l)
		}
	}
	nstest.In(t, ns, func() {
		for _, n := range []string{"vrrp.7", "vrrp.8"} {
			if err := DeleteVMAC(n); err != nil {
				t.Fatal(err)
			}
		}
	})
}
