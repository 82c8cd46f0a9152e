package speaker

import (
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
