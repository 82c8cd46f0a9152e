package speaker

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"halo/vrrp"
	"halo/vrrp/internal/nstest"
)

// TestVMAC: use_vmac makes a private macvlan with the virtual router MAC
// (00:00:5e:00:01:VRID), the VIP lives there while MASTER, the adverts
// leave from it (a real keepalived backup takes them and stays BACKUP), and
// the interface goes at stop.
func TestVMAC(t *testing.T) {
	needKeepalived(t)
	lab := nstest.NewLab(t, "vm", 2, 225)
	c := labConfig(lab, 1, 150, func(in *vrrp.Instance) {
		in.InitialState = vrrp.StateMaster
		in.UseVMAC = "vrrp.51"
	})
	n := startNode(t, lab.Nodes[0], c)
	ka := startKeepalived(t, lab.Nodes[1], kaConf("node2", 100, "PASS", lab.Net+".100/24", ""))
	link := func() string {
		out, _ := exec.Command("ip", "-n", lab.Nodes[0], "-d", "link", "show", "vrrp.51").CombinedOutput()
		return string(out)
	}
	l := link()
	for t0 := time.Now(); time.Since(t0) < 5*time.Second && !strings.Contains(l, "macvlan"); time.Sleep(100 * time.Millisecond) {
		l = link() // the node makes it as it starts
	}
	if !strings.Contains(l, "link/ether 00:00:5e:00:01:33") || !strings.Contains(l, "macvlan mode private") {
		t.Fatalf("VMAC interface:\n%s", l)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(lab.Addrs(t, 1, "vrrp.51"), lab.Net+".100/24") {
		if time.Now().After(deadline) {
			t.Fatalf("VIP not on the VMAC:\n%s", n.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// keepalived hears the VMAC's adverts: it stays BACKUP (no VIP) past a
	// master down interval
	time.Sleep(5 * time.Second)
	if strings.Contains(lab.Addrs(t, 2, "eth0"), lab.Net+".100/") {
		t.Fatalf("keepalived took the VIP: it did not hear the VMAC's adverts\n%s", ka.out.String())
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = n.cmd.Wait()
	if l := link(); !strings.Contains(l, "does not exist") {
		t.Fatalf("VMAC left after stop:\n%s", l)
	}
}

// TestVMACIPv6: an IPv6 instance's VMAC (00:00:5e:00:02:VRID) carries the
// router's own link-local address, not the one derived from the shared
// MAC, its adverts leave from it (a real keepalived backup hears them and
// stays BACKUP) and the VIP lives there while MASTER.
func TestVMACIPv6(t *testing.T) {
	needKeepalived(t)
	lab := nstest.NewLab(t, "vv", 2, 226)
	for i, ns := range lab.Nodes {
		if out, err := exec.Command("ip", "-n", ns, "addr", "add", fmt.Sprintf("fe80::c%d/64", i+1), "dev", "eth0", "nodad").CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	c := labConfig(lab, 1, 150, func(in *vrrp.Instance) {
		in.Version, in.Family, in.AuthType = 3, 6, ""
		in.VIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix("2001:db8:226::100/64")}}
		in.InitialState = vrrp.StateMaster
		in.UseVMAC = "vrrp.51"
	})
	n := startNode(t, lab.Nodes[0], c)
	ka := startKeepalived(t, lab.Nodes[1], kaConf("node2", 100, "", "2001:db8:226::100/64", "  version 3\n"))
	show := func(args ...string) string {
		out, _ := exec.Command("ip", append([]string{"-n", lab.Nodes[0]}, args...)...).CombinedOutput()
		return string(out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(show("-6", "-o", "addr", "show", "dev", "vrrp.51"), "2001:db8:226::100/64") {
		if time.Now().After(deadline) {
			t.Fatalf("VIP not on the VMAC:\n%s", n.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	a := show("-6", "-o", "addr", "show", "dev", "vrrp.51")
	if !strings.Contains(a, "fe80::c1/64") || strings.Contains(a, "fe80::200:5eff:fe00:233") {
		t.Errorf("VMAC link-local addresses:\n%s", a)
	}
	if l := show("-d", "link", "show", "vrrp.51"); !strings.Contains(l, "00:00:5e:00:02:33") {
		t.Errorf("VMAC:\n%s", l)
	}
	time.Sleep(5 * time.Second) // past keepalived's master down interval
	out, _ := exec.Command("ip", "-n", lab.Nodes[1], "-6", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
	if strings.Contains(string(out), "2001:db8:226::100/") {
		t.Fatalf("keepalived took the VIP: it did not hear the VMAC's adverts\n%s", ka.out.String())
	}
	if !strings.Contains(ka.out.String(), "(VI_1) Entering BACKUP STATE") || strings.Contains(ka.out.String(), "Entering MASTER STATE") {
		t.Fatalf("keepalived is not a steady BACKUP:\n%s", ka.out.String())
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = n.cmd.Wait()
}
