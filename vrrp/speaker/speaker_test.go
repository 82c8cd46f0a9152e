package speaker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"halo/vrrp"
	"halo/vrrp/internal/nstest"
)

const (
	envCfg     = "HALO_SPEAKER_TEST_CFG"
	envCfgFile = "HALO_SPEAKER_TEST_CFGFILE"
	envDumpDir = "HALO_SPEAKER_TEST_DUMPDIR"
)

// TestMain doubles as the speaker process of the integration tests: with
// envCfg set, the test binary runs one speaker (inside the namespace `ip
// netns exec` put it in) until SIGTERM.
func TestMain(m *testing.M) {
	if js := os.Getenv(envCfg); js != "" {
		os.Exit(serve(js))
	}
	os.Exit(m.Run())
}

func serve(js string) int {
	var cfg vrrp.Config
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		fmt.Println(err)
		return 2
	}
	var mu sync.Mutex
	logf := func(f string, a ...any) {
		mu.Lock()
		fmt.Printf(f+"\n", a...)
		mu.Unlock()
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	sp, err := New(&cfg, logf)
	if err == nil {
		sp.Detail = true
		sp.Observer = observerFunc(func(name string, st vrrp.State) { logf("observed %s %s", name, st) })
		err = sp.Start()
	}
	if err != nil {
		fmt.Println(err)
		return 1
	}
	for sig := range sigs {
		if sig == syscall.SIGUSR1 || sig == syscall.SIGUSR2 {
			fill, name := sp.WriteData, "data"
			if sig == syscall.SIGUSR2 {
				fill, name = sp.WriteStats, "stats"
			}
			err := WriteFile(os.Getenv(envDumpDir)+"/keepalived."+name, fill)
			logf("dump %s: %v", name, err)
			continue
		}
		if sig == syscall.SIGHUP {
			// SIGHUP: reload from the file the test rewrote.
			b, err := os.ReadFile(os.Getenv(envCfgFile))
			var nc vrrp.Config
			if err == nil {
				err = json.Unmarshal(b, &nc)
			}
			if err == nil {
				err = sp.Reload(&nc)
			}
			logf("reload done: %v", err)
			continue
		}
		break
	}
	sp.Stop()
	return 0
}

type observerFunc func(string, vrrp.State)

func (f observerFunc) InstanceState(name string, st vrrp.State) { f(name, st) }

type node struct {
	cmd *exec.Cmd
	out *syncBuf
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startNode(t *testing.T, ns string, cfg *vrrp.Config) *node {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{out: &syncBuf{}}
	n.cmd = exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^$")
	n.cmd.Env = append(os.Environ(), envCfg+"="+string(js))
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = n.cmd.Process.Kill()
		_ = n.cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", ns, n.out.String())
		}
	})
	return n
}

func labConfig(lab *nstest.Lab, i int, prio int, mutate func(*vrrp.Instance)) *vrrp.Config {
	in := &vrrp.Instance{
		Name: "VI_1", InitialState: vrrp.StateBackup, Interface: "eth0", VRID: 51, Priority: prio,
		AdvertInt: time.Second, Version: 2, Family: 4, AuthType: "PASS", AuthPass: "secret12", Accept: true,
		VIPs: []vrrp.VIP{{Prefix: netip.MustParsePrefix(lab.Net + ".100/24")}},
	}
	if mutate != nil {
		mutate(in)
	}
	return &vrrp.Config{Global: vrrp.Global{RouterID: fmt.Sprintf("node%d", i)}, Instances: []*vrrp.Instance{in}}
}

// holders is the set of nodes holding the VIP, like netlab's.
func holders(t *testing.T, lab *nstest.Lab) string {
	var h []string
	for i := range lab.Nodes {
		if strings.Contains(lab.Addrs(t, i+1, "eth0"), " "+lab.Net+".100/") {
			h = append(h, fmt.Sprint(i+1))
		}
	}
	return strings.Join(h, " ")
}

func waitHolders(t *testing.T, lab *nstest.Lab, want string, limit time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	for time.Since(t0) < limit {
		if holders(t, lab) == want {
			return time.Since(t0)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("VIP holders %q after %v, want %q", holders(t, lab), limit, want)
	return 0
}

func TestElectionAndSigtermFailover(t *testing.T) {
	lab := nstest.NewLab(t, "el", 2, 211)
	// A VIP left over from a crash on the backup must go at start.
	if out, err := exec.Command("ip", "-n", lab.Nodes[1], "addr", "add", lab.Net+".100/24", "dev", "eth0").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	dumpDir := t.TempDir()
	t.Setenv(envDumpDir, dumpDir)
	n1 := startNode(t, lab.Nodes[0], labConfig(lab, 1, 150, func(in *vrrp.Instance) { in.InitialState = vrrp.StateMaster }))
	n2 := startNode(t, lab.Nodes[1], labConfig(lab, 2, 100, nil))
	el := waitHolders(t, lab, "1", 10*time.Second)
	// master down interval 3 s + skew (256-150)/256 s, from BACKUP at start
	if el < 3*time.Second || el > 6*time.Second {
		t.Errorf("election took %v, want about 3.4 s", el)
	}
	time.Sleep(1500 * time.Millisecond)
	if h := holders(t, lab); h != "1" {
		t.Fatalf("holders %q after election settled", h)
	}
	// SIGUSR1/SIGUSR2: keepalived's data and stats dumps.
	for _, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2} {
		if err := n1.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	dumps := map[string][]string{
		"keepalived.data":  {" VRRP Instance = VI_1\n", "   State = MASTER\n", "   Virtual Router ID = 51\n", "   Effective priority = 150\n"},
		"keepalived.stats": {"VRRP Instance: VI_1\n", "  Became master: 1\n", "  Priority Zero:\n"},
	}
	for file, wants := range dumps {
		var b []byte
		for t0 := time.Now(); time.Since(t0) < 3*time.Second; time.Sleep(50 * time.Millisecond) {
			if b, _ = os.ReadFile(dumpDir + "/" + file); len(b) > 0 {
				break
			}
		}
		for _, w := range wants {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q:\n%s", file, w, b)
			}
		}
	}
	t0 := time.Now()
	if err := n1.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitHolders(t, lab, "2", 5*time.Second)
	fo := time.Since(t0)
	// priority-0 advert → node 2 waits skew (256-100)/256 = 0.61 s
	if fo > 2500*time.Millisecond {
		t.Errorf("failover after SIGTERM took %v, want about 0.65 s", fo)
	}
	_ = n1.cmd.Wait()
	for _, want := range []string{"(VI_1) Entering BACKUP STATE (init)", "(VI_1) Entering MASTER STATE", "(VI_1) sent 0 priority", "(VI_1) removing VIPs.",
		"observed VI_1 BACKUP\n", "observed VI_1 MASTER\n"} {
		if !strings.Contains(n1.out.String(), want) {
			t.Errorf("node 1 log lacks %q", want)
		}
	}
	for _, want := range []string{"(VI_1) Backup received priority 0 advertisement", "(VI_1) Entering MASTER STATE", "(VI_1) Sending/queueing gratuitous ARPs on eth0 for " + lab.Net + ".100"} {
		if !strings.Contains(n2.out.String(), want) {
			t.Errorf("node 2 log lacks %q", want)
		}
	}
	t.Logf("election %v, SIGTERM failover %v", el.Round(10*time.Millisecond), fo.Round(10*time.Millisecond))
}

func TestTrackScriptWeightFailover(t *testing.T) {
	lab := nstest.NewLab(t, "tr", 2, 212)
	dir := t.TempDir()
	flag := dir + "/healthy"
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c1 := labConfig(lab, 1, 150, func(in *vrrp.Instance) {
		in.InitialState = vrrp.StateMaster
		in.Version, in.AuthType, in.AdvertInt = 3, "", 500*time.Millisecond
		in.TrackScripts = []vrrp.TrackRef{{Name: "chk"}}
	})
	c1.Scripts = map[string]*vrrp.Script{"chk": {Name: "chk", Command: "/usr/bin/test -f " + flag, Interval: 500 * time.Millisecond, Weight: -60, Rise: 1, Fall: 2}}
	n1 := startNode(t, lab.Nodes[0], c1)
	startNode(t, lab.Nodes[1], labConfig(lab, 2, 100, func(in *vrrp.Instance) {
		in.Version, in.AuthType, in.AdvertInt = 3, "", 500*time.Millisecond
	}))
	waitHolders(t, lab, "1", 10*time.Second)
	time.Sleep(time.Second)
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	waitHolders(t, lab, "2", 8*time.Second)
	for _, want := range []string{"Script `chk` now returning 1", "VRRP_Script(chk) failed (exited with status 1)", "(VI_1) Changing effective priority from 150 to 90", "(VI_1) Master received advert from " + lab.Net + ".2 with higher priority 100, ours 90"} {
		if !strings.Contains(n1.out.String(), want) {
			t.Errorf("node 1 log lacks %q", want)
		}
	}
}

func TestIPv6VRRPv3(t *testing.T) {
	lab := nstest.NewLab(t, "v6", 2, 213)
	for i, ns := range lab.Nodes {
		ll := fmt.Sprintf("fe80::b%d/64", i+1)
		if out, err := exec.Command("ip", "-n", ns, "addr", "add", ll, "dev", "eth0", "nodad").CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	v6 := func(in *vrrp.Instance) {
		in.Version, in.Family, in.AuthType, in.AdvertInt = 3, 6, "", 500*time.Millisecond
		in.VIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix("2001:db8:213::100/64")}}
	}
	n1 := startNode(t, lab.Nodes[0], labConfig(lab, 1, 150, func(in *vrrp.Instance) { v6(in); in.InitialState = vrrp.StateMaster }))
	startNode(t, lab.Nodes[1], labConfig(lab, 2, 100, v6))
	has := func(i int) bool {
		out, _ := exec.Command("ip", "-n", lab.Nodes[i-1], "-6", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
		return strings.Contains(string(out), "2001:db8:213::100/64")
	}
	wait := func(i int, limit time.Duration) {
		t.Helper()
		for t0 := time.Now(); time.Since(t0) < limit; time.Sleep(50 * time.Millisecond) {
			if has(i) && !has(3-i) {
				return
			}
		}
		t.Fatalf("node %d does not hold the IPv6 VIP alone", i)
	}
	wait(1, 6*time.Second)
	if err := n1.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wait(2, 3*time.Second)
	_ = n1.cmd.Wait()
	if !strings.Contains(n1.out.String(), "Sending/queueing Unsolicited Neighbour Adverts on eth0 for 2001:db8:213::100") {
		t.Errorf("node 1 log lacks the NA line")
	}
}

func TestSyncGroupFault(t *testing.T) {
	lab := nstest.NewLab(t, "sg", 2, 214)
	dir := t.TempDir()
	flag := dir + "/healthy"
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mk := func(i, prio int, tracked bool) *vrrp.Config {
		c := labConfig(lab, i, prio, func(in *vrrp.Instance) { in.Version, in.AuthType, in.AdvertInt = 3, "", 500*time.Millisecond })
		in2 := *c.Instances[0]
		in2.Name, in2.VRID = "VI_2", 52
		in2.VIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix(lab.Net + ".101/24")}}
		c.Instances = append(c.Instances, &in2)
		c.SyncGroups = []*vrrp.SyncGroup{{Name: "G", Instances: []string{"VI_1", "VI_2"}}}
		if tracked {
			c.Instances[0].TrackScripts = []vrrp.TrackRef{{Name: "chk"}}
			c.Scripts = map[string]*vrrp.Script{"chk": {Name: "chk", Command: "/usr/bin/test -f " + flag, Interval: 300 * time.Millisecond, Weight: 0, Rise: 1, Fall: 1}}
		}
		return c
	}
	n1 := startNode(t, lab.Nodes[0], mk(1, 150, true))
	startNode(t, lab.Nodes[1], mk(2, 100, false))
	waitHolders(t, lab, "1", 8*time.Second)
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	// VI_1 goes FAULT; VI_2 must follow it although nothing of its own failed.
	waitHolders(t, lab, "2", 5*time.Second)
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(lab.Addrs(t, 2, "eth0"), lab.Net+".101/") {
		if time.Now().After(deadline) {
			t.Fatalf("VI_2 did not follow to node 2:\n%s", n1.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"(VI_1) Entering FAULT STATE", "VRRP_Group(G) Syncing instances to FAULT state", "(VI_2) Entering FAULT STATE"} {
		if !strings.Contains(n1.out.String(), want) {
			t.Errorf("node 1 log lacks %q", want)
		}
	}
}

func TestReloadKeepsMaster(t *testing.T) {
	lab := nstest.NewLab(t, "rl", 2, 215)
	c1 := labConfig(lab, 1, 150, func(in *vrrp.Instance) { in.InitialState = vrrp.StateMaster })
	file := t.TempDir() + "/cfg.json"
	t.Setenv(envCfgFile, file)
	n1 := startNode(t, lab.Nodes[0], c1)
	startNode(t, lab.Nodes[1], labConfig(lab, 2, 100, nil))
	waitHolders(t, lab, "1", 8*time.Second)
	// The new configuration adds an excluded VIP (not in adverts, so the
	// peer's configuration still matches) and keeps the instance's identity.
	c1.Instances[0].ExcludedVIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix(lab.Net + ".102/24")}}
	js, _ := json.Marshal(c1)
	if err := os.WriteFile(file, js, 0o644); err != nil {
		t.Fatal(err)
	}
	before := strings.Count(n1.out.String(), "Entering")
	if err := n1.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(n1.out.String(), "reload done: <nil>") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload:\n%s", n1.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Mastership holds through the reload and for several master down intervals.
	for t0 := time.Now(); time.Since(t0) < 4*time.Second; time.Sleep(100 * time.Millisecond) {
		if h := holders(t, lab); h != "1" {
			t.Fatalf("holders %q after reload", h)
		}
	}
	if !strings.Contains(lab.Addrs(t, 1, "eth0"), lab.Net+".102/24") {
		t.Errorf("added VIP not set after reload")
	}
	if after := strings.Count(n1.out.String(), "Entering"); after != before {
		t.Errorf("state changed during reload:\n%s", n1.out.String())
	}
	// Keepalived's reload of a MASTER (fsm.Engine.Resume): "setting VIPs."
	// again, no GARP burst, no notification.
	_, after, _ := strings.Cut(n1.out.String(), "Reloading")
	if !strings.Contains(after, "(VI_1) setting VIPs.") || strings.Contains(after, "gratuitous ARP") {
		t.Errorf("reload of a MASTER, keepalived logs 'setting VIPs.' and sends no GARP:\n%s", after)
	}
}

func TestTrackInterfaceAndFile(t *testing.T) {
	lab := nstest.NewLab(t, "ti", 2, 216)
	// node 1 gets a second link to track
	for _, args := range [][]string{{"-n", lab.Nodes[0], "link", "add", "eth1", "type", "veth", "peer", "name", "eth2"},
		{"-n", lab.Nodes[0], "link", "set", "eth2", "up"}, {"-n", lab.Nodes[0], "link", "set", "eth1", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	file := t.TempDir() + "/weight"
	if err := os.WriteFile(file, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fast := func(in *vrrp.Instance) { in.Version, in.AuthType, in.AdvertInt = 3, "", 300*time.Millisecond }
	c1 := labConfig(lab, 1, 150, func(in *vrrp.Instance) {
		fast(in)
		in.TrackInterfaces = []vrrp.TrackRef{{Name: "eth1", Weight: -60, HasWeight: true}}
		in.TrackFiles = []vrrp.TrackRef{{Name: "tf"}}
	})
	c1.TrackFiles = map[string]*vrrp.TrackFile{"tf": {Name: "tf", Path: file, Weight: -1}}
	n1 := startNode(t, lab.Nodes[0], c1)
	startNode(t, lab.Nodes[1], labConfig(lab, 2, 100, fast))
	waitHolders(t, lab, "1", 6*time.Second)
	// track_interface: eth1 down costs 60 → 90 < 100, node 2 takes over.
	if out, err := exec.Command("ip", "-n", lab.Nodes[0], "link", "set", "eth1", "down").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	waitHolders(t, lab, "2", 5*time.Second)
	if out, err := exec.Command("ip", "-n", lab.Nodes[0], "link", "set", "eth1", "up").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	waitHolders(t, lab, "1", 5*time.Second) // 150 again: it preempts
	// track_file: value 60 × weight -1 → 90 < 100.
	if err := os.WriteFile(file, []byte("60\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitHolders(t, lab, "2", 5*time.Second)
	for _, want := range []string{"Netlink reports eth1 down", "(VI_1) Changing effective priority from 150 to 90", "Netlink reports eth1 up"} {
		if !strings.Contains(n1.out.String(), want) {
			t.Errorf("node 1 log lacks %q", want)
		}
	}
}

func TestNoInstances(t *testing.T) {
	sp, err := New(&vrrp.Config{}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.Start(); err != nil {
		t.Fatalf("start without instances: %v", err)
	}
	if n := len(sp.Instances()); n != 0 {
		t.Fatalf("%d instances", n)
	}
	sp.Stop()
}
