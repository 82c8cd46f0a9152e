package ipvs

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	mipvs "github.com/moby/ipvs"
	"github.com/vishvananda/netlink/nl"

	"halo/lvs"
	"halo/lvs/check"
)

// fakeHandle records the IPVS calls as ipvsadm would write them.
type fakeHandle struct{ ops []string }

func svc(s *mipvs.Service) string {
	if s.FWMark != 0 {
		return fmt.Sprintf("-f %d", s.FWMark)
	}
	p := map[uint16]string{6: "-t", 17: "-u", 132: "--sctp-service"}[s.Protocol]
	return fmt.Sprintf("%s %s:%d", p, s.Address, s.Port)
}
func dst(d *mipvs.Destination) string {
	m := map[uint32]string{mipvs.ConnFwdMasq: "-m", mipvs.ConnFwdDirectRoute: "-g", mipvs.ConnFwdTunnel: "-i"}[d.ConnectionFlags]
	return fmt.Sprintf("-r %s:%d %s -w %d", d.Address, d.Port, m, d.Weight)
}
func (f *fakeHandle) NewService(s *mipvs.Service) error {
	f.ops = append(f.ops, fmt.Sprintf("-A %s -s %s", svc(s), s.SchedName))
	return nil
}
func (f *fakeHandle) UpdateService(s *mipvs.Service) error {
	f.ops = append(f.ops, "-E "+svc(s))
	return nil
}
func (f *fakeHandle) DelService(s *mipvs.Service) error {
	f.ops = append(f.ops, "-D "+svc(s))
	return nil
}
func (f *fakeHandle) Flush() error { f.ops = append(f.ops, "-C"); return nil }
func (f *fakeHandle) NewDestination(s *mipvs.Service, d *mipvs.Destination) error {
	f.ops = append(f.ops, "-a "+svc(s)+" "+dst(d))
	return nil
}
func (f *fakeHandle) UpdateDestination(s *mipvs.Service, d *mipvs.Destination) error {
	f.ops = append(f.ops, "-e "+svc(s)+" "+dst(d))
	return nil
}
func (f *fakeHandle) DelDestination(s *mipvs.Service, d *mipvs.Destination) error {
	f.ops = append(f.ops, fmt.Sprintf("-d %s -r %s:%d", svc(s), d.Address, d.Port))
	return nil
}
func (f *fakeHandle) SetConfig(c *mipvs.Config) error {
	f.ops = append(f.ops, fmt.Sprintf("--set %d %d %d", int(c.TimeoutTCP.Seconds()), int(c.TimeoutTCPFin.Seconds()), int(c.TimeoutUDP.Seconds())))
	return nil
}
func (f *fakeHandle) Close() {}

type fakeDaemon struct{ ops []string }

func (d *fakeDaemon) Start(state int, sd *lvs.SyncDaemon) error {
	d.ops = append(d.ops, fmt.Sprintf("--start-daemon %d --mcast-interface %s --syncid %d", state, sd.Interface, sd.SyncID))
	return nil
}
func (d *fakeDaemon) Stop(state int) error {
	d.ops = append(d.ops, fmt.Sprintf("--stop-daemon %d", state))
	return nil
}

// TestIPVSCommands drives the Manager on the IPVS back end (with the
// netlink handle replaced by a recorder): services and destinations are
// added, set to weight 0 (inhibit_on_failure) or removed as checks
// change, and everything is removed on stop.
func TestIPVSCommands(t *testing.T) {
	fh, fd := &fakeHandle{}, &fakeDaemon{}
	p := NewWith(fh, fd)
	rs := func(a string, inhibit bool) *lvs.RealServer {
		ap := netip.MustParseAddrPort(a)
		return &lvs.RealServer{Addr: ap, Weight: 2, Inhibit: inhibit, Method: lvs.DR}
	}
	cfg := &lvs.Config{Global: lvs.Global{Flush: true}, VirtualServers: []*lvs.VirtualServer{{
		Addr: netip.MustParseAddrPort("192.0.2.10:80"), Proto: lvs.ProtoTCP, Sched: "wlc", Quorum: 1,
		RealServers: []*lvs.RealServer{rs("10.0.0.1:80", false), rs("10.0.0.2:80", true)}}}}
	m := lvs.NewManager(cfg, p, lvs.Hooks{})
	m.Start(t.Context())
	if err := p.SetTimeouts(900e9, 0, 300e9); err != nil {
		t.Fatal(err)
	}
	if err := p.StartSyncDaemon(&lvs.SyncDaemon{Interface: "eth0", SyncID: 7}, 0); err != nil {
		t.Fatal(err)
	}
	m.Stop()
	if err := p.StopSyncDaemon(0); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"-C",
		"-A -t 192.0.2.10:80 -s wlc",
		"-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 2",
		"-a -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 2",
		"--set 900 0 300",
		"-d -t 192.0.2.10:80 -r 10.0.0.1:80",
		"-d -t 192.0.2.10:80 -r 10.0.0.2:80",
		"-D -t 192.0.2.10:80",
	}
	if got := strings.Join(fh.ops, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("ops:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	wantD := "--start-daemon 1 --mcast-interface eth0 --syncid 7|--start-daemon 2 --mcast-interface eth0 --syncid 7|--stop-daemon 1|--stop-daemon 2"
	if got := strings.Join(fd.ops, "|"); got != wantD {
		t.Errorf("daemon ops %q, want %q", got, wantD)
	}
}

// TestIPVSCheckerDriven runs real checkers (a fake prober) against the
// recorder: a failing server with inhibit_on_failure goes to weight 0,
// one without it is deleted, and both come back.
func TestIPVSCheckerDriven(t *testing.T) {
	fh := &fakeHandle{}
	p := NewWith(fh, &fakeDaemon{})
	mk := func(a string, inhibit bool) *lvs.RealServer {
		ap := netip.MustParseAddrPort(a)
		return &lvs.RealServer{Addr: ap, Weight: 3, Inhibit: inhibit, Checkers: []*check.Config{{Kind: "TCP_CHECK", Dst: ap, DelayLoop: 1e6, DelayBeforeRetry: 1e6, Retry: 0}}}
	}
	cfg := &lvs.Config{VirtualServers: []*lvs.VirtualServer{{
		Addr: netip.MustParseAddrPort("192.0.2.10:53"), Proto: lvs.ProtoUDP, Sched: "rr", Quorum: 1,
		RealServers: []*lvs.RealServer{mk("10.0.0.1:53", false), mk("10.0.0.2:53", true)}}}}
	results := map[netip.AddrPort]chanProber{}
	for _, r := range cfg.VirtualServers[0].RealServers {
		results[r.Addr] = make(chanProber)
	}
	m := lvs.NewManager(cfg, p, lvs.Hooks{
		Rand:      func() float64 { return 0 },
		Clock:     instantClock{},
		NewProber: func(c *check.Config) (check.Prober, error) { return results[c.Dst], nil },
	})
	m.Start(t.Context())
	send := func(o check.Outcome) {
		for _, c := range results {
			c <- o
		}
	}
	send(check.Outcome{OK: true})
	send(check.Outcome{})
	send(check.Outcome{OK: true})
	send(check.Outcome{OK: true}) // the reports before are applied once the next probe starts
	got := strings.Join(fh.ops, "\n")
	for _, w := range []string{
		"-d -u 192.0.2.10:53 -r 10.0.0.1:53",
		"-e -u 192.0.2.10:53 -r 10.0.0.2:53 -m -w 0",
		"-a -u 192.0.2.10:53 -r 10.0.0.1:53 -m -w 3",
		"-e -u 192.0.2.10:53 -r 10.0.0.2:53 -m -w 3",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
}

type instantClock struct{}

func (instantClock) Now() time0 { return time0{} }

type chanProber chan check.Outcome

func (c chanProber) Probe(ctx contextT, _ int) check.Outcome {
	select {
	case o := <-c:
		return o
	case <-ctx.Done():
		return check.Outcome{}
	}
}

func TestDaemonAttrs(t *testing.T) {
	a := DaemonAttrs(StateBackup, &lvs.SyncDaemon{Interface: "eth1", SyncID: 5, Port: 8848, TTL: 2, Group: netip.MustParseAddr("224.0.0.81")})
	b := a.Serialize()
	// nested attribute 3 holding state, ifname, syncid, port, ttl, group
	if len(b) < 4 || nl.NativeEndian().Uint16(b[2:])&^0x8000 != cmdAttrDaemon {
		t.Fatalf("bad nest header % x", b[:4])
	}
	for _, want := range [][]byte{[]byte("eth1\x00"), {224, 0, 0, 81}} {
		if !strings.Contains(string(b), string(want)) {
			t.Errorf("attrs % x lack % x", b, want)
		}
	}
}

// TestKernelIPVS runs where the kernel has IPVS: a service and a
// destination really go into the table and out again.
func TestKernelIPVS(t *testing.T) {
	if ok, why := Available(); !ok {
		t.Skipf("no kernel IPVS here: %s", why)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to change the IPVS table")
	}
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := &lvs.Service{Addr: netip.MustParseAddrPort("192.0.2.77:16077"), Proto: lvs.ProtoTCP, Sched: "rr"}
	if err := p.AddService(s); err != nil {
		t.Fatal(err)
	}
	defer p.DelService(s)
	if err := p.AddDest(s, lvs.Dest{Addr: netip.MustParseAddrPort("10.9.9.9:16077"), Weight: 1}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("/proc/net/ip_vs")
	if !strings.Contains(string(b), "0A090909:3EED") {
		t.Errorf("destination not in /proc/net/ip_vs:\n%s", b)
	}
}

// lvs_sync_daemon with an instance: the backup daemon while the instance
// is BACKUP (as it starts), the master daemon while it is MASTER, the
// other stopped at each switch, and the running one stopped at exit.
func TestSyncDaemonFollowsInstance(t *testing.T) {
	fd := &fakeDaemon{}
	p := NewWith(&fakeHandle{}, fd)
	sd := &lvs.SyncDaemon{Interface: "eth0", SyncID: 3, Instance: "VI_1"}
	for _, st := range []int{StateBackup, StateBackup, StateMaster, StateBackup} {
		if err := p.SetSyncState(sd, st); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.StopSyncDaemon(0); err != nil {
		t.Fatal(err)
	}
	want := "--start-daemon 2 --mcast-interface eth0 --syncid 3|--stop-daemon 2|--start-daemon 1 --mcast-interface eth0 --syncid 3|" +
		"--stop-daemon 1|--start-daemon 2 --mcast-interface eth0 --syncid 3|--stop-daemon 2"
	if got := strings.Join(fd.ops, "|"); got != want {
		t.Errorf("daemon ops\n%s\nwant\n%s", got, want)
	}
}
