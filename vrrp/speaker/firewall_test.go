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

// TestNoAccept: a non-owner MASTER with no_accept does not answer on its
// VIP (keepalived's nftables drop), one with accept does; the table goes
// at stop. (halo used to log that no_accept was not enforced.)
func TestNoAccept(t *testing.T) {
	if _, err := exec.LookPath("ping"); err != nil {
		t.Fatal("ping (iputils-ping) not installed: .ci/run installs it")
	}
	for _, accept := range []bool{false, true} {
		name := map[bool]string{false: "no_accept", true: "accept"}[accept]
		t.Run(name, func(t *testing.T) {
			lab := nstest.NewLab(t, "na", 2, 224)
			c := labConfig(lab, 1, 150, func(in *vrrp.Instance) {
				in.InitialState = vrrp.StateMaster
				in.Version, in.AuthType, in.AdvertInt = 3, "", 300*time.Millisecond
				in.Accept = accept
			})
			n := startNode(t, lab.Nodes[0], c)
			waitHolders(t, lab, "1", 5*time.Second)
			ping := func(addr string) bool {
				return exec.Command("ip", "netns", "exec", lab.Nodes[1], "ping", "-c", "1", "-W", "1", addr).Run() == nil
			}
			if !ping(lab.Net + ".1") {
				t.Fatal("node 1's own address does not answer")
			}
			if got := ping(lab.Net + ".100"); got != accept {
				t.Fatalf("VIP answers ping: %v, want %v\n%s", got, accept, n.out.String())
			}
			if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			_ = n.cmd.Wait()
			if strings.Contains(n.out.String(), "no_accept:") {
				t.Fatalf("firewall complaint:\n%s", n.out.String())
			}
			// the table is gone: the address, added by hand, answers again
			if out, err := exec.Command("ip", "-n", lab.Nodes[0], "addr", "add", lab.Net+".100/24", "dev", "eth0").CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if !ping(lab.Net + ".100") {
				t.Fatal("VIP still blocked after stop")
			}
		})
	}
}
