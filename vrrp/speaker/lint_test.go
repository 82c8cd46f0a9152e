package speaker

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"halo/halint"
	"halo/vrrp"
	"halo/vrrp/internal/nstest"
)

// The failures halint predicts, shown on real speakers: each case asks
// the lint about the two nodes' configurations, then runs them and
// observes what it said would happen.

func lintNode(path string, cfg *vrrp.Config) *halint.Node {
	return &halint.Node{Path: path, Cfg: cfg}
}

func predicts(t *testing.T, fs []halint.Finding, check string) {
	t.Helper()
	for _, f := range fs {
		if f.Check == check {
			t.Logf("halint: %s", f.Msg)
			return
		}
	}
	t.Fatalf("halint does not predict %s: %v", check, fs)
}

// holdsFor fails unless the VIP holders stay want for d.
func holdsFor(t *testing.T, lab *nstest.Lab, want string, d time.Duration) {
	t.Helper()
	for t0 := time.Now(); time.Since(t0) < d; time.Sleep(100 * time.Millisecond) {
		if got := holders(t, lab); got != want {
			t.Fatalf("VIP holders %q, the lint predicted %q", got, want)
		}
	}
}

// TestLintMismatchDualMaster: two nodes that differ in VRID, password,
// advert interval, version, address list or unicast peers drop each
// other's adverts: both become MASTER and hold the VIP.
func TestLintMismatchDualMaster(t *testing.T) {
	fast := func(in *vrrp.Instance) { in.Version, in.AuthType, in.AdvertInt = 3, "", 300*time.Millisecond }
	for _, tc := range []struct {
		name  string
		check string
		a, b  func(lab *nstest.Lab, in *vrrp.Instance)
	}{
		{name: "VRID", check: halint.Mismatch, a: func(_ *nstest.Lab, in *vrrp.Instance) { fast(in) },
			b: func(_ *nstest.Lab, in *vrrp.Instance) { fast(in); in.VRID = 52 }},
		{name: "password", check: halint.Mismatch, a: func(*nstest.Lab, *vrrp.Instance) {},
			b: func(_ *nstest.Lab, in *vrrp.Instance) { in.AuthPass = "secret13" }},
		{name: "advert_int", check: halint.Mismatch, a: func(*nstest.Lab, *vrrp.Instance) {},
			b: func(_ *nstest.Lab, in *vrrp.Instance) { in.AdvertInt = 2 * time.Second }},
		{name: "version", check: halint.Mismatch, a: func(_ *nstest.Lab, in *vrrp.Instance) { fast(in) },
			b: func(_ *nstest.Lab, in *vrrp.Instance) { in.AuthType = "" }},
		{name: "address list", check: halint.Mismatch, a: func(_ *nstest.Lab, in *vrrp.Instance) { fast(in) },
			b: func(lab *nstest.Lab, in *vrrp.Instance) {
				fast(in)
				in.VIPs = append(in.VIPs, vrrp.VIP{Prefix: netip.MustParsePrefix(lab.Net + ".101/24")})
			}},
		{name: "unicast peers", check: halint.UnicastPeers,
			a: func(lab *nstest.Lab, in *vrrp.Instance) {
				fast(in)
				in.UnicastSrcIP = netip.MustParseAddr(lab.Net + ".1")
				in.UnicastPeers = []netip.Addr{netip.MustParseAddr(lab.Net + ".3")}
			},
			b: func(lab *nstest.Lab, in *vrrp.Instance) {
				fast(in)
				in.UnicastSrcIP = netip.MustParseAddr(lab.Net + ".2")
				in.UnicastPeers = []netip.Addr{netip.MustParseAddr(lab.Net + ".1")}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab := nstest.NewLab(t, "lm", 2, 219)
			c1 := labConfig(lab, 1, 150, func(in *vrrp.Instance) { in.InitialState = vrrp.StateMaster; tc.a(lab, in) })
			c2 := labConfig(lab, 2, 100, func(in *vrrp.Instance) { tc.b(lab, in) })
			predicts(t, halint.Pair(lintNode("n1", c1), lintNode("n2", c2)), tc.check)
			startNode(t, lab.Nodes[0], c1)
			startNode(t, lab.Nodes[1], c2)
			waitHolders(t, lab, "1 2", 10*time.Second)
			holdsFor(t, lab, "1 2", 2*time.Second)
		})
	}
}

// checkScript is a track script that passes while flag exists.
func checkScript(flag string, weight int) map[string]*vrrp.Script {
	return map[string]*vrrp.Script{"chk": {Name: "chk", Command: "/usr/bin/test -f " + flag, Interval: 300 * time.Millisecond,
		Timeout: 300 * time.Millisecond, Weight: weight, Rise: 1, Fall: 1}}
}

// TestLintCheckCannotMoveVIP: the master's check fails (its load balancer
// is dead) and the VIP stays there, as halint predicts, when the weights
// cannot cross the priority gap, or when the backup has nopreempt (netlab
// seed --backup-nopreempt shows the same with the real stack).
func TestLintCheckCannotMoveVIP(t *testing.T) {
	for _, tc := range []struct {
		name     string
		check    string
		backup   int
		weight   int
		nopreemp bool
	}{
		{name: "weight -2 against a gap of 5", check: halint.WeightGap, backup: 95, weight: -2},
		{name: "nopreempt backup", check: halint.NopreemptWeight, backup: 99, weight: -2, nopreemp: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab := nstest.NewLab(t, "lw", 2, 220)
			flag := filepath.Join(t.TempDir(), "healthy")
			if err := os.WriteFile(flag, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			fast := func(in *vrrp.Instance) {
				in.Version, in.AuthType, in.AdvertInt = 3, "", 300*time.Millisecond
				in.TrackScripts = []vrrp.TrackRef{{Name: "chk"}}
			}
			c1 := labConfig(lab, 1, 100, func(in *vrrp.Instance) { fast(in); in.InitialState = vrrp.StateMaster })
			c1.Scripts = checkScript(flag, tc.weight)
			c2 := labConfig(lab, 2, tc.backup, func(in *vrrp.Instance) { fast(in); in.NoPreempt = tc.nopreemp })
			c2.Scripts = checkScript(flag+"-node2-always", tc.weight)
			if err := os.WriteFile(flag+"-node2-always", nil, 0o644); err != nil {
				t.Fatal(err)
			}
			predicts(t, halint.Pair(lintNode("n1", c1), lintNode("n2", c2)), tc.check)
			n1 := startNode(t, lab.Nodes[0], c1)
			startNode(t, lab.Nodes[1], c2)
			waitHolders(t, lab, "1", 10*time.Second)
			if err := os.Remove(flag); err != nil { // node 1's load balancer dies
				t.Fatal(err)
			}
			// fall 1 x 0.3 s, then several master down intervals (about 1 s)
			holdsFor(t, lab, "1", 4*time.Second)
			if !strings.Contains(n1.out.String(), "Changing effective priority from 100 to 98") {
				t.Fatalf("node 1's check did not fail:\n%s", n1.out.String())
			}
		})
	}
}

// TestLintNopreemptMasterPreempts: nopreempt with state MASTER is cleared,
// so the node takes the VIP back when it returns, as halint predicts.
func TestLintNopreemptMasterPreempts(t *testing.T) {
	lab := nstest.NewLab(t, "lp", 2, 221)
	fast := func(in *vrrp.Instance) { in.Version, in.AuthType, in.AdvertInt = 3, "", 300*time.Millisecond }
	c1 := labConfig(lab, 1, 150, func(in *vrrp.Instance) { fast(in); in.InitialState = vrrp.StateMaster; in.NoPreempt = true })
	c2 := labConfig(lab, 2, 100, fast)
	predicts(t, halint.Pair(lintNode("n1", c1), lintNode("n2", c2)), halint.NopreemptMaster)
	n1 := startNode(t, lab.Nodes[0], c1)
	startNode(t, lab.Nodes[1], c2)
	waitHolders(t, lab, "1", 10*time.Second)
	if err := n1.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitHolders(t, lab, "2", 5*time.Second)
	_ = n1.cmd.Wait()
	startNode(t, lab.Nodes[0], c1)
	waitHolders(t, lab, "1", 10*time.Second) // it took the VIP back: no "nopreempt"
}

// TestLintProcessName: a check for a process the HAProxy side does not run
// as fails whether HAProxy runs or not (here a process named haproxy runs
// alone in its PID namespace, as in netlab seed).
func TestLintProcessName(t *testing.T) {
	nstest.Root(t)
	killall, err := exec.LookPath("killall")
	if err != nil {
		t.Fatal("killall (psmisc) not installed: .ci/run installs it")
	}
	dir := t.TempDir()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "haproxy"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := &vrrp.Config{Scripts: map[string]*vrrp.Script{"chk": {Name: "chk", Command: killall + " -0 nginx"}},
		Instances: []*vrrp.Instance{{Name: "VI_1", VRID: 51, Priority: 100}}}
	fs := halint.Single(&halint.Node{Path: "n1", Cfg: cfg, HAProxy: true})
	predicts(t, fs, halint.ProcessName)
	run := func(check string) error {
		return exec.Command("unshare", "--pid", "--fork", "--mount-proc", "sh", "-c",
			filepath.Join(dir, "haproxy")+" 5 & sleep 0.2; "+check).Run()
	}
	if err := run(killall + " -0 haproxy"); err != nil {
		t.Fatalf("the right check fails: %v", err)
	}
	if err := run(killall + " -0 nginx"); err == nil {
		t.Fatal("the check for nginx passed while only haproxy runs")
	}
}
