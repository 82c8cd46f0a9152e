package fsm

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requirements maps each RFC 3768 / RFC 5798 MUST the state machine and
// codec own, and each Keepalived 2.2 behaviour halo keeps, to the test that
// covers it. TestRequirements checks that every named test exists.
var requirements = []struct{ req, test string }{
	// RFC 3768 / 5798 section 6.4.1 Initialize
	{"RFC 6.4.1: owner (255) sends an advert, GARPs, becomes MASTER at once", "TestOwnerTakesOverAtOnce"},
	{"KA: an owner configured `state BACKUP` elects through the timer (lab)", "TestOwnerWithStateBackupWaits"},
	{"RFC 6.4.1: non-owner sets Master_Down_Timer and becomes BACKUP", "TestStartBackupWithDownTimer"},
	// 6.4.2 Backup
	{"RFC 6.4.2: BACKUP does not own the VIPs (no ARP answers, no packets)", "TestBackupHoldsNoVIPs"},
	{"RFC 6.4.2: Master_Down_Timer expiry: advert, GARP, Adver_Timer, MASTER", "TestDownTimerExpiryBecomesMaster"},
	{"RFC 6.4.2: priority-0 advert sets Master_Down_Timer to Skew_Time", "TestBackupPriorityZeroSkew"},
	{"RFC 6.4.2: higher/equal priority or no preempt resets Master_Down_Timer", "TestBackupAcceptsHigherResetsTimer"},
	{"RFC 5798 6.4.2: backup sets Master_Adver_Interval from the advert and recomputes", "TestV3BackupAdoptsMasterInterval"},
	{"RFC 6.4.2: lower priority with preempt: advert discarded", "TestBackupDiscardsLowerPriority"},
	// 6.4.3 Master
	{"RFC 6.4.3: Adver_Timer expiry sends an advert and re-arms", "TestMasterAdvertisesEveryInterval"},
	{"RFC 6.4.3: shutdown cancels timers and sends priority 0", "TestStopSendsPriorityZero"},
	{"RFC 6.4.3: priority-0 advert answered with an advert", "TestMasterAnswersPriorityZero"},
	{"RFC 6.4.3: higher priority: cancel Adver_Timer, set Master_Down_Timer, BACKUP", "TestMasterYieldsToHigherPriority"},
	{"RFC 6.4.3: equal priority and greater primary address: BACKUP", "TestMasterYieldsToEqualPriorityHigherAddress"},
	{"RFC 6.4.3: lower priority (or equal, lower address) advert discarded", "TestMasterKeepsEqualPriorityLowerAddress"},
	{"RFC 5798 6.4.3: IPv6 primary addresses compared without zones", "TestIPv6TieBreakIgnoresZone"},
	// 6.1 parameters
	{"RFC 3768 6.1: Skew_Time (256-Priority)/256 s; Master_Down_Interval 3x+skew", "TestSkewTime"},
	{"RFC 5798 6.1: Skew_Time ((256-Priority) x Master_Adver_Interval)/256", "TestSkewTime"},
	// section 7 receive/send MUSTs (codec)
	{"RFC 7.1: discard TTL != 255 (multicast)", "TestExpectCheck"},
	{"RFC 7.1: discard wrong version, bad checksum, short packet", "TestDecodeErrors"},
	{"RFC 3768 7.1: discard on auth type mismatch / wrong password", "TestExpectCheck"},
	{"RFC 3768 7.1: discard v2 advert interval mismatch", "TestExpectCheck"},
	{"RFC 7.1: VRID, address count and list (MAY) checked", "TestExpectCheck"},
	{"RFC 5798 5.2.8: v3 checksum over the IPv4/IPv6 pseudo-header", "TestV3IPv6"},
	{"RFC 5798: real Keepalived v3/IPv6, v3 unicast and v2 no-auth packets round-trip", "TestGoldenMixedCapture"},
	{"RFC 7.2/5.1: send with TTL 255, protocol 112, checksum; Keepalived bytes", "TestGoldenCaptures"},
	{"IPsec AH (auth type 2) recognised and refused", "TestDecodeErrors"},
	// Keepalived 2.2 behaviours
	{"KA: `state MASTER` starts in BACKUP (init), elects after 3 x advert + skew", "TestStateMasterStartsBackup"},
	{"KA: netlab election 3.414 s", "TestLabElection"},
	{"KA: netlab SIGTERM failover = skew", "TestLabFailoverSigterm"},
	{"KA: netlab SIGKILL failover = 3 x advert + skew", "TestLabFailoverSigkill"},
	{"KA: netlab track weight failover", "TestLabTrackWeight"},
	{"KA: netlab preempt on return", "TestLabPreempt"},
	{"KA: netlab nopreempt", "TestLabNoPreempt"},
	{"KA: netlab preempt_delay", "TestLabPreemptDelay"},
	{"KA: netlab VRRPv3 0.5 s", "TestLabV3HalfSecond"},
	{"KA: netlab GARP 5 + 5", "TestLabGARP"},
	{"KA: netlab steady state, no split brain", "TestLabSteady"},
	{"KA: nopreempt/preempt_delay cleared under state MASTER, with warnings", "TestConfigWarnings"},
	{"KA: nopreempt reset for priority 255; preempt_delay vs nopreempt/strict", "TestConfigWarnings"},
	{"KA: preempt_delay: lower adverts accepted until the delay ran out", "TestPreemptDelay"},
	{"KA: nopreempt never preempts a lower-priority master", "TestNoPreempt"},
	{"KA: MASTER answers a lower-priority advert at once, log 'forcing new election'", "TestMasterAnswersLowerPriority"},
	{"KA: vrrp_lower_prio_no_advert", "TestLowerPrioNoAdvert"},
	{"KA: vrrp_higher_prio_send_advert", "TestHigherPrioSendAdvert"},
	{"KA: two owners: CONFIGURATION ERROR, local priority reduced to 254", "TestOwnerConflict"},
	{"KA: equal priority from our own address: WARNING", "TestEqualPriorityOwnAddress"},
	{"KA: equal-priority split brain resolves to the higher address", "TestEqualPrioritySplitResolves"},
	{"KA: MASTER to FAULT sends priority 0 and drops the VIPs", "TestMasterToFaultSendsPriorityZero"},
	{"KA: adverts ignored in FAULT", "TestFaultIgnoresAdverts"},
	{"KA: tracker weights (+ up, - down, reverse), effective priority 1..254", "TestTrackerWeights"},
	{"KA: owner's priority never moved by tracking", "TestOwnerPriorityNotTracked"},
	{"KA: weight-0 script failure: FAULT, recovery: BACKUP", "TestScriptWeightZeroFault"},
	{"KA: own interface down: FAULT (unless dont_track_primary)", "TestInterfaceDownFault"},
	{"KA: track_file values (weight 0, multiplied, < -253 faults)", "TestTrackFile"},
	{"KA: priority change in BACKUP moves the master down deadline", "TestPriorityChangeShiftsDownTimer"},
	{"KA: GARP at takeover, garp_master_delay burst, garp_master_refresh", "TestGARPSchedule"},
	{"KA: garp_lower_prio_repeat/delay", "TestGARPLowerPrio"},
	{"KA: v3 master advertises its own interval again", "TestV3MasterUsesOwnInterval"},
	{"KA: notify per state change with instance name and priority", "TestNotify"},
	{"KA: stop notifies STOP for instances and groups", "TestStopNotifies"},
	{"KA: sync group: one member FAULT, all FAULT", "TestSyncGroupFault"},
	{"KA: sync group: MASTER only when all members want it, then together", "TestSyncGroupMaster"},
	{"KA: sync group: a member yielding pulls the group to BACKUP", "TestSyncGroupBackup"},
	{"KA: sync group starts in FAULT when a member is down", "TestSyncGroupStartFault"},
	{"KA: sync group trackers apply to every member", "TestSyncGroupTrackers"},
	{"KA: log lines in Keepalived 2.2.7's wording", "TestLogWording"},
	{"KA: 16 real Keepalived runs (sigterm, track, preempt_delay, nopreempt, split/heal, v3 intervals, link down, owner x2, SIGHUP reload, excluded VIPs, trackers down at startup + track_file, garp refresh, sync group fault, sync group down at startup, sync group waiting for all members) replayed: same log lines", "TestKeepalivedReplay"},
	{"KA: unweighted scripts hold the instance silently until their first result", "TestInitScriptHold"},
	{"KA: stale VIPs removed at startup ('removing VIPs.' before BACKUP (init))", "TestStartBackupWithDownTimer"},
	{"KA: SIGHUP reload keeps MASTER/BACKUP silently, new priority advertised at once", "TestResume"},
	{"timers tagged by generation: stale expiries ignored", "TestStaleTimerIgnored"},
	{"State numbering equals vrrp.State's", "TestStateNumbering"},
}

// TestRequirements fails when a requirement names a test that does not
// exist in this package or in ../packet.
func TestRequirements(t *testing.T) {
	have := map[string]bool{}
	for _, dir := range []string{".", filepath.Join("..", "packet")} {
		files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
		for _, f := range files {
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range af.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
					have[fd.Name.Name] = true
				}
			}
		}
	}
	tests := map[string]bool{}
	for _, r := range requirements {
		if !have[r.test] {
			t.Errorf("%q: test %s does not exist", r.req, r.test)
		}
		tests[r.test] = true
	}
	t.Logf("%d requirements covered by %d tests", len(requirements), len(tests))
}

// basic is a v2 instance "VI_1" at 10.0.0.1 with priority prio.
func basic(prio int) Config {
	return Config{Name: "VI_1", VRID: 51, Version: 2, Priority: prio, AdvertInt: time.Second,
		Addr: netip.MustParseAddr("10.0.0.1"), Interface: "eth0", GARPDelay: 5 * time.Second, GARPRepeat: 5,
		VIPs: []VIP{{Addr: netip.MustParseAddr("10.0.0.100")}}}
}

// master returns a rig whose only instance is MASTER (elected by timeout).
func masterRig(t *testing.T, c Config) *rig {
	r := newRig(t, []Config{c}, nil)
	r.start()
	r.advance(5 * time.Second)
	if r.e.State(0) != Master {
		t.Fatalf("not master: %s", r.e.State(0))
	}
	return r
}

func TestOwnerTakesOverAtOnce(t *testing.T) {
	c := basic(255)
	c.InitialState = Master
	r := newRig(t, []Config{c}, nil)
	acts := r.start()
	if hasLog(acts, "(VI_1) Entering BACKUP STATE (init)") {
		t.Fatal("owner logged BACKUP (init)")
	}
	r.advance(time.Millisecond)
	if r.e.State(0) != Master {
		t.Fatalf("state %s", r.e.State(0))
	}
	got := transcript(r.since(0))
	want := "log+ (VI_1) removing VIPs.\nremove-vips VI_1\nlog+ (VI_1) Receive advertisement timeout\nadvert VI_1 prio 255\nlog (VI_1) Entering MASTER STATE\n"
	if !strings.HasPrefix(got, want) || !strings.Contains(got, "garp VI_1 x5") {
		t.Fatalf("transcript:\n%s", got)
	}
}

func TestStartBackupWithDownTimer(t *testing.T) {
	r := newRig(t, []Config{basic(100)}, nil)
	acts := r.start()
	if want := "log+ (VI_1) removing VIPs.\nremove-vips VI_1\nlog (VI_1) Entering BACKUP STATE (init)\nnotify INSTANCE VI_1 BACKUP 100\n"; transcript(acts) != want {
		t.Fatalf("state %s, %s", r.e.State(0), transcript(acts))
	}
	at, ok := r.timerAt(0, TimerMasterDown)
	if !ok || at != 3*time.Second+609375*time.Microsecond {
		t.Fatalf("master down timer at %v (%v)", at, ok)
	}
}

func TestInitScriptHold(t *testing.T) {
	c := basic(100)
	c.Trackers = []Tracker{{Kind: TrackScript, Name: "chk"}, {Kind: TrackScript, Name: "w", Weight: 10}}
	r := newRig(t, []Config{c}, nil)
	acts := r.start()
	if r.e.State(0) != Fault || transcript(acts) != "log+ (VI_1) removing VIPs.\nremove-vips VI_1\n" {
		t.Fatalf("state %s:\n%s", r.e.State(0), transcript(acts))
	}
	r.advance(10 * time.Second) // no timers run while held
	if r.e.State(0) != Fault || len(r.timers) != 0 {
		t.Fatal("held instance moved")
	}
	if acts := r.apply(r.e.Script(r.now, "w", true)); r.e.State(0) != Fault || r.e.Priority(0) != 110 {
		t.Fatalf("weighted script released the hold: %s", transcript(acts))
	}
	acts = r.apply(r.e.Script(r.now, "chk", true))
	if want := "log (VI_1) Entering BACKUP STATE\nnotify INSTANCE VI_1 BACKUP 110\n"; transcript(acts) != want {
		t.Fatalf("transcript:\n%s", transcript(acts))
	}
	// A first result of failure notifies FAULT once, without a state line.
	r = newRig(t, []Config{c}, nil)
	r.start()
	acts = r.apply(r.e.Script(r.now, "chk", false))
	if want := "notify INSTANCE VI_1 FAULT 100\n"; transcript(acts) != want {
		t.Fatalf("transcript:\n%s", transcript(acts))
	}
}

func TestStateMasterStartsBackup(t *testing.T) {
	c := basic(150)
	c.InitialState = Master
	r := newRig(t, []Config{c}, nil)
	r.start()
	if r.e.State(0) != Backup {
		t.Fatalf("state %s", r.e.State(0))
	}
	if at, _ := r.timerAt(0, TimerMasterDown); at != 3*time.Second+414062*time.Microsecond {
		t.Fatalf("down timer %v", at)
	}
}

func TestBackupHoldsNoVIPs(t *testing.T) {
	r := newRig(t, []Config{basic(100)}, nil)
	r.start()
	for i := 0; i < 10; i++ {
		r.advance(time.Second)
		r.recv(0, "10.0.0.2", 200)
	}
	for _, a := range r.since(0) {
		if a.Kind == ActAddVIPs || a.Kind == ActSendGARP || a.Kind == ActSendAdvert {
			t.Fatalf("BACKUP did %s", a)
		}
	}
}

func TestDownTimerExpiryBecomesMaster(t *testing.T) {
	r := newRig(t, []Config{basic(100)}, nil)
	r.start()
	m := r.mark()
	r.advance(3*time.Second + 609375*time.Microsecond)
	got := transcript(r.since(m))
	want := "log+ (VI_1) Receive advertisement timeout\n" +
		"advert VI_1 prio 100\n" +
		"log (VI_1) Entering MASTER STATE\n" +
		"log+ (VI_1) setting VIPs.\n" +
		"add-vips VI_1\n" +
		"log+ (VI_1) Sending/queueing gratuitous ARPs on eth0 for 10.0.0.100\n" +
		"garp VI_1 x5\n" +
		"notify INSTANCE VI_1 MASTER 100\n"
	if got != want {
		t.Fatalf("transcript:\n%s\nwant:\n%s", got, want)
	}
	if at, ok := r.timerAt(0, TimerAdvert); !ok || at != 4*time.Second+609375*time.Microsecond {
		t.Fatalf("advert timer %v %v", at, ok)
	}
	if _, ok := r.timerAt(0, TimerMasterDown); ok {
		t.Fatal("master down timer still armed")
	}
}

func TestBackupPriorityZeroSkew(t *testing.T) {
	r := newRig(t, []Config{basic(100)}, nil)
	r.start()
	r.advance(time.Second)
	acts := r.recv(0, "10.0.0.2", 0)
	if !hasLog(acts, "(VI_1) Backup received priority 0 advertisement") {
		t.Fatal(transcript(acts))
	}
	if at, _ := r.timerAt(0, TimerMasterDown); at != time.Second+609375*time.Microsecond {
		t.Fatalf("down timer %v, want now + skew", at)
	}
}

func TestBackupAcceptsHigherResetsTimer(t *testing.T) {
	for _, prio := range []int{200, 100} { // higher, and equal (Keepalived accepts equal in BACKUP)
		r := newRig(t, []Config{basic(100)}, nil)
		r.start()
		r.advance(2 * time.Second)
		r.recv(0, "10.0.0.2", prio)
		if at, _ := r.timerAt(0, TimerMasterDown); at != 5*time.Second+609375*time.Microsecond {
			t.Fatalf("prio %d: down timer %v", prio, at)
		}
		if r.e.MasterAddr(0) != netip.MustParseAddr("10.0.0.2") {
			t.Fatal("master address not recorded")
		}
	}
}

func TestV3BackupAdoptsMasterInterval(t *testing.T) {
	c := basic(100)
	c.Version = 3
	r := newRig(t, []Config{c}, nil)
	r.start()
	acts := r.recvIv(0, "10.0.0.2", 200, 500*time.Millisecond)
	if r.e.MasterAdvertInt(0) != 500*time.Millisecond {
		t.Fatalf("master interval %v", r.e.MasterAdvertInt(0))
	}
	if !hasLog(acts, "(VI_1) advertisement interval updated from 1000ms to 500ms by master") {
		t.Fatal(transcript(acts))
	}
	// 3 x 0.5 + (156 x 50 x 625 / 16) us = 1.5 + 0.304687
	if at, _ := r.timerAt(0, TimerMasterDown); at != 1500*time.Millisecond+304687*time.Microsecond {
		t.Fatalf("down timer %v", at)
	}
}

// TestV3MasterAdoptsHigherMasterInterval: a MASTER yielding to a
// higher-priority VRRPv3 master with another interval says so in
// Keepalived's words ("by master", as the BACKUP's line).
func TestV3MasterAdoptsHigherMasterInterval(t *testing.T) {
	c := basic(100)
	c.Version = 3
	r := masterRig(t, c)
	acts := r.recvIv(0, "10.0.0.2", 200, 500*time.Millisecond)
	if r.e.State(0) != Backup {
		t.Fatalf("state %v", r.e.State(0))
	}
	if !hasLog(acts, "(VI_1) advertisement interval updated from 1000ms to 500ms by master") {
		t.Fatal(transcript(acts))
	}
}

// TestDownTimerAdverts: down_timer_adverts N makes the master down
// interval N adverts plus the skew time (Keepalived 2.2's
// ms_down_timer), from the start and after every advert.
func TestDownTimerAdverts(t *testing.T) {
	c := basic(100)
	c.DownTimerAdverts = 5
	r := newRig(t, []Config{c}, nil)
	r.start()
	if at, _ := r.timerAt(0, TimerMasterDown); at != 5*time.Second+609375*time.Microsecond {
		t.Fatalf("down timer at start %v", at)
	}
	r.advance(time.Second)
	r.recv(0, "10.0.0.2", 200)
	if at, _ := r.timerAt(0, TimerMasterDown); at != 6*time.Second+609375*time.Microsecond {
		t.Fatalf("down timer after an advert %v", at)
	}
}

func TestBackupDiscardsLowerPriority(t *testing.T) {
	r := newRig(t, []Config{basic(100)}, nil)
	r.start()
	r.advance(time.Second)
	acts := r.recv(0, "10.0.0.2", 50)
	if !hasLog(acts, "(VI_1) received lower priority (50) advert from 10.0.0.2 - discarding") {
		t.Fatal(transcript(acts))
	}
	if at, _ := r.timerAt(0, TimerMasterDown); at != 3*time.Second+609375*time.Microsecond {
		t.Fatalf("down timer moved to %v", at)
	}
	r.advance(3 * time.Second)
	if r.e.State(0) != Master {
		t.Fatal("did not preempt")
	}
}

func TestMasterAdvertisesEveryInterval(t *testing.T) {
	r := masterRig(t, basic(100))
	m := r.mark()
	r.advance(10 * time.Second)
	if got := adverts(r.since(m)); len(got) != 10 || got[0] != 100 {
		t.Fatalf("adverts %v", got)
	}
}

func TestStopSendsPriorityZero(t *testing.T) {
	r := masterRig(t, basic(100))
	m := r.mark()
	r.apply(r.e.Stop(r.now))
	got := transcript(r.since(m))
	want := "advert VI_1 prio 0\nlog+ (VI_1) sent 0 priority\nlog+ (VI_1) removing VIPs.\nremove-vips VI_1\nnotify INSTANCE VI_1 STOP 100\n"
	if got != want {
		t.Fatalf("transcript:\n%s", got)
	}
	if len(r.timers) != 0 {
		t.Fatalf("timers left: %v", r.timers)
	}
	r.advance(10 * time.Second)
	if adv := adverts(r.since(m)); len(adv) != 1 || adv[0] != 0 {
		t.Fatal("adverts after stop")
	}
}

func TestMasterAnswersPriorityZero(t *testing.T) {
	r := masterRig(t, basic(100))
	before, _ := r.timerAt(0, TimerAdvert)
	acts := r.recv(0, "10.0.0.2", 0)
	if got := adverts(acts); !slices.Equal(got, []int{100}) || !hasLog(acts, "(VI_1) Master received priority 0 message") {
		t.Fatal(transcript(acts))
	}
	// Keepalived does not reset the advert timer for this extra advert.
	if after, _ := r.timerAt(0, TimerAdvert); after != before || r.e.State(0) != Master {
		t.Fatalf("advert timer %v -> %v", before, after)
	}
}

func TestMasterYieldsToHigherPriority(t *testing.T) {
	r := masterRig(t, basic(100))
	m := r.mark()
	r.recv(0, "10.0.0.2", 150)
	got := transcript(r.since(m))
	want := "log (VI_1) Master received advert from 10.0.0.2 with higher priority 150, ours 100\n" +
		"log (VI_1) Entering BACKUP STATE\n" +
		"log+ (VI_1) removing VIPs.\n" +
		"remove-vips VI_1\n" +
		"notify INSTANCE VI_1 BACKUP 100\n"
	if got != want {
		t.Fatalf("transcript:\n%s", got)
	}
	if _, ok := r.timerAt(0, TimerAdvert); ok {
		t.Fatal("advert timer still armed")
	}
	if at, ok := r.timerAt(0, TimerMasterDown); !ok || at != r.now.Sub(t0)+3*time.Second+609375*time.Microsecond {
		t.Fatalf("down timer %v %v", at, ok)
	}
}

func TestMasterYieldsToEqualPriorityHigherAddress(t *testing.T) {
	r := masterRig(t, basic(100))
	acts := r.recv(0, "10.0.0.9", 100)
	if !hasLog(acts, "(VI_1) Master received advert from 10.0.0.9 with same priority 100 but higher IP address than ours") ||
		r.e.State(0) != Backup {
		t.Fatal(transcript(acts))
	}
}

func TestIPv6TieBreakIgnoresZone(t *testing.T) {
	c := basic(100)
	c.Version, c.Addr = 3, netip.MustParseAddr("fe80::5%eth0")
	c.VIPs = []VIP{{Addr: netip.MustParseAddr("fe80::100")}}
	r := masterRig(t, c)
	acts := r.apply(r.e.Receive(r.now, 0, Advert{Src: netip.MustParseAddr("fe80::9%eth0"), Priority: 100, Interval: time.Second}))
	if !hasLog(acts, "(VI_1) Master received advert from fe80::9 with same priority 100 but higher IP address than ours") {
		t.Fatal(transcript(acts))
	}
	r = masterRig(t, c)
	acts = r.apply(r.e.Receive(r.now, 0, Advert{Src: netip.MustParseAddr("fe80::5%eth0"), Priority: 100, Interval: time.Second}))
	if !hasLog(acts, "(VI_1) WARNING - equal priority advert received from remote host with our IP address.") {
		t.Fatal(transcript(acts))
	}
}

func TestMasterKeepsEqualPriorityLowerAddress(t *testing.T) {
	c := basic(100)
	c.Addr = netip.MustParseAddr("10.0.0.5")
	r := masterRig(t, c)
	acts := r.recv(0, "10.0.0.2", 100)
	// Keepalived calls the lower address "lower priority".
	if !hasLog(acts, "(VI_1) Received advert from 10.0.0.2 with lower priority 100, ours 100, forcing new election") ||
		r.e.State(0) != Master || !slices.Equal(adverts(acts), []int{100}) {
		t.Fatal(transcript(acts))
	}
}

func TestMasterAnswersLowerPriority(t *testing.T) {
	r := masterRig(t, basic(100))
	acts := r.recv(0, "10.0.0.2", 50)
	// garp_lower_prio_repeat defaults to garp_master_repeat (seen in the lab).
	want := "log (VI_1) Received advert from 10.0.0.2 with lower priority 50, ours 100, forcing new election\nadvert VI_1 prio 100\n" +
		"log+ (VI_1) Sending/queueing gratuitous ARPs on eth0 for 10.0.0.100\ngarp VI_1 x5\n"
	if got := transcript(acts); got != want {
		t.Fatalf("transcript:\n%s", got)
	}
}

func TestLowerPrioNoAdvert(t *testing.T) {
	c := basic(100)
	c.LowerPrioNoAdvert = true
	c.GARPLowerPrioRepeat = -1
	r := masterRig(t, c)
	acts := r.recv(0, "10.0.0.2", 50)
	if want := "log (VI_1) Received advert from 10.0.0.2 with lower priority 50, ours 100\n"; transcript(acts) != want {
		t.Fatalf("transcript:\n%s", transcript(acts))
	}
}

func TestHigherPrioSendAdvert(t *testing.T) {
	c := basic(100)
	c.HigherPrioSendAdvert = true
	r := masterRig(t, c)
	acts := r.recv(0, "10.0.0.2", 150)
	if got := adverts(acts); !slices.Equal(got, []int{100}) || r.e.State(0) != Backup {
		t.Fatalf("adverts %v state %s", got, r.e.State(0))
	}
	if acts[0].Kind != ActSendAdvert {
		t.Fatal("advert not sent before yielding")
	}
}

func TestSkewTime(t *testing.T) {
	tests := []struct {
		name    string
		version int
		prio    int
		iv      time.Duration
		skew    time.Duration
		down    time.Duration
	}{
		{"v2 prio 100", 2, 100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{"v2 prio 150", 2, 150, time.Second, 414062 * time.Microsecond, 3414062 * time.Microsecond},
		{"v2 prio 254", 2, 254, 3 * time.Second, 7812 * time.Microsecond, 9007812 * time.Microsecond},
		{"v2 prio 1", 2, 1, time.Second, 996093 * time.Microsecond, 3996093 * time.Microsecond},
		{"v3 prio 150 1s", 3, 150, time.Second, 414062 * time.Microsecond, 3414062 * time.Microsecond},
		{"v3 prio 150 0.5s", 3, 150, 500 * time.Millisecond, 207031 * time.Microsecond, 1707031 * time.Microsecond},
		{"v3 prio 100 0.1s", 3, 100, 100 * time.Millisecond, 60937 * time.Microsecond, 360937 * time.Microsecond},
		{"v3 prio 200 40s", 3, 200, 40 * time.Second, 8750000 * time.Microsecond, 128750000 * time.Microsecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := basic(tc.prio)
			c.Version, c.AdvertInt = tc.version, tc.iv
			e, _, err := NewEngine([]Config{c}, nil)
			if err != nil {
				t.Fatal(err)
			}
			in := e.inst[0]
			if got := in.skew(); got != tc.skew {
				t.Errorf("skew %v, want %v", got, tc.skew)
			}
			if got := in.downInterval(); got != tc.down {
				t.Errorf("down interval %v, want %v", got, tc.down)
			}
		})
	}
}

func TestConfigWarnings(t *testing.T) {
	tests := []struct {
		name     string
		mod      func(*Config)
		want     []string
		noPre    bool
		delay    time.Duration
		wantSate State
	}{
		{name: "nopreempt under state MASTER", mod: func(c *Config) { c.InitialState, c.NoPreempt = Master, true },
			want: []string{"(VI_1) Warning - nopreempt will not work with initial state MASTER - clearing"}, wantSate: Master},
		{name: "preempt_delay under state MASTER", mod: func(c *Config) { c.InitialState, c.PreemptDelay = Master, 2*time.Second },
			want: []string{"(VI_1) Warning - preempt delay will not work with initial state MASTER - clearing"}, wantSate: Master},
		{name: "nopreempt with priority 255", mod: func(c *Config) { c.Priority, c.NoPreempt = 255, true },
			want: []string{"(VI_1) nopreempt is incompatible with priority 255. resetting nopreempt"}, wantSate: Backup},
		{name: "owner state MASTER with nopreempt and delay", mod: func(c *Config) {
			c.Priority, c.InitialState, c.NoPreempt, c.PreemptDelay = 255, Master, true, 3*time.Second
		}, want: []string{"(VI_1) nopreempt is incompatible with priority 255. resetting nopreempt",
			"(VI_1) Warning - preempt delay will not work with initial state MASTER - clearing"}, wantSate: Master},
		{name: "preempt_delay with nopreempt", mod: func(c *Config) { c.NoPreempt, c.PreemptDelay = true, time.Second },
			want: []string{"(VI_1) preempt_delay is incompatible with nopreempt mode - resetting"}, noPre: true, wantSate: Backup},
		{name: "preempt_delay in strict mode", mod: func(c *Config) { c.Strict, c.PreemptDelay = true, time.Second },
			want: []string{"(VI_1) preempt_delay is incompatible with strict mode - resetting"}, wantSate: Backup},
		{name: "strict state MASTER without owner", mod: func(c *Config) { c.Strict, c.InitialState = true, Master },
			want: []string{"(VI_1) State MASTER must match being address owner"}, wantSate: Backup},
		{name: "BACKUP with nopreempt and delay kept", mod: func(c *Config) { c.PreemptDelay = 3 * time.Second },
			delay: 3 * time.Second, wantSate: Backup},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := basic(100)
			tc.mod(&c)
			e, warn, err := NewEngine([]Config{c}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(warn, tc.want) {
				t.Fatalf("warnings %q, want %q", warn, tc.want)
			}
			in := e.inst[0]
			if in.cfg.NoPreempt != tc.noPre || in.cfg.PreemptDelay != tc.delay || in.want != tc.wantSate {
				t.Fatalf("nopreempt %v delay %v want %s", in.cfg.NoPreempt, in.cfg.PreemptDelay, in.want)
			}
		})
	}
}

func TestPreemptDelay(t *testing.T) {
	c := basic(150)
	c.PreemptDelay = 2 * time.Second
	r := newRig(t, []Config{c}, nil)
	r.start()
	r.advance(500 * time.Millisecond)
	acts := r.recv(0, "10.0.0.2", 100)
	if !hasLog(acts, "(VI_1) start preempt delay (2.000000)") {
		t.Fatal(transcript(acts))
	}
	// Within the delay: accepted, timer reset.
	r.advance(time.Second)
	r.recv(0, "10.0.0.2", 100)
	if at, _ := r.timerAt(0, TimerMasterDown); at != 1500*time.Millisecond+3414062*time.Microsecond {
		t.Fatalf("down timer %v", at)
	}
	// After the delay: discarded; takeover when the timer runs out.
	r.advance(time.Second)
	acts = r.recv(0, "10.0.0.2", 100)
	if !hasLog(acts, "(VI_1) received lower priority (100) advert from 10.0.0.2 - discarding") {
		t.Fatal(transcript(acts))
	}
	r.advance(3 * time.Second)
	if r.e.State(0) != Master {
		t.Fatal("no takeover after preempt_delay")
	}
	// A higher-priority master stops a running delay.
	r2 := newRig(t, []Config{c}, nil)
	r2.start()
	r2.recv(0, "10.0.0.2", 100)
	acts = r2.recv(0, "10.0.0.3", 200)
	if !hasLog(acts, "(VI_1) stop preempt delay") {
		t.Fatal(transcript(acts))
	}
}

func TestNoPreempt(t *testing.T) {
	c := basic(200)
	c.NoPreempt = true
	r := newRig(t, []Config{c}, nil)
	r.start()
	for i := 0; i < 20; i++ {
		r.advance(time.Second)
		r.recv(0, "10.0.0.2", 50)
	}
	if r.e.State(0) != Backup {
		t.Fatal("nopreempt instance preempted")
	}
	r.advance(4 * time.Second) // the lower master dies
	if r.e.State(0) != Master {
		t.Fatal("nopreempt instance did not take over a dead master")
	}
}

func TestOwnerWithStateBackupWaits(t *testing.T) {
	r := newRig(t, []Config{basic(255)}, nil)
	acts := r.start()
	if !hasLog(acts, "(VI_1) Entering BACKUP STATE (init)") {
		t.Fatal(transcript(acts))
	}
	// 3 x 1 s + (256-255)/256 s, as Keepalived 2.2.7 does in the lab.
	if at, _ := r.timerAt(0, TimerMasterDown); at != 3*time.Second+3906*time.Microsecond {
		t.Fatalf("down timer %v", at)
	}
}

func TestOwnerConflict(t *testing.T) {
	r := newRig(t, []Config{basic(255)}, nil)
	r.start()
	r.advance(4 * time.Second)
	acts := r.recv(0, "10.0.0.2", 255)
	if !hasLog(acts, "(VI_1) CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority") {
		t.Fatal(transcript(acts))
	}
	// 255 > 254 now: yield.
	if r.e.Priority(0) != 254 || r.e.State(0) != Backup {
		t.Fatalf("prio %d state %s", r.e.Priority(0), r.e.State(0))
	}
}

func TestEqualPriorityOwnAddress(t *testing.T) {
	r := masterRig(t, basic(100))
	acts := r.recv(0, "10.0.0.1", 100)
	if !hasLog(acts, "(VI_1) WARNING - equal priority advert received from remote host with our IP address.") || r.e.State(0) != Master {
		t.Fatal(transcript(acts))
	}
}

func TestEqualPrioritySplitResolves(t *testing.T) {
	l := newLAN(t)
	ca, cb := basic(100), basic(100)
	ca.Addr, cb.Addr = netip.Addr{}, netip.Addr{} // each router's own
	a := l.add("a", "10.0.0.1", []Config{ca}, nil)
	b := l.add("b", "10.0.0.2", []Config{cb}, nil)
	l.start(a)
	l.start(b)
	l.run(10 * time.Second)
	if h := l.holders("VI_1"); !slices.Equal(h, []string{"b"}) {
		t.Fatalf("holders %v, want the higher address", h)
	}
}

func TestMasterToFaultSendsPriorityZero(t *testing.T) {
	c := basic(100)
	c.Trackers = []Tracker{{Kind: TrackScript, Name: "chk"}}
	r := newRig(t, []Config{c}, nil)
	r.apply(r.e.Script(r.now, "chk", true))
	r.start()
	r.advance(5 * time.Second)
	m := r.mark()
	r.apply(r.e.Script(r.now, "chk", false))
	got := transcript(r.since(m))
	// Two priority-0 adverts, as Keepalived 2.2.7 sends (leave_master and
	// restore_interface each send one; seen on the wire in the lab).
	want := "log (VI_1) Entering FAULT STATE\n" +
		"advert VI_1 prio 0\n" +
		"advert VI_1 prio 0\n" +
		"log+ (VI_1) sent 0 priority\n" +
		"log+ (VI_1) removing VIPs.\n" +
		"remove-vips VI_1\n" +
		"notify INSTANCE VI_1 FAULT 100\n"
	if got != want {
		t.Fatalf("transcript:\n%s", got)
	}
	if len(r.timers) != 0 {
		t.Fatal("timers armed in FAULT")
	}
}

func TestFaultIgnoresAdverts(t *testing.T) {
	c := basic(100)
	c.Trackers = []Tracker{{Kind: TrackScript, Name: "chk"}}
	r := newRig(t, []Config{c}, nil)
	r.apply(r.e.Script(r.now, "chk", false))
	acts := r.start()
	if !hasLog(acts, "(VI_1): entering FAULT state due to script chk") || r.e.State(0) != Fault {
		t.Fatal(transcript(acts))
	}
	if acts := r.recv(0, "10.0.0.2", 0); len(acts) != 0 {
		t.Fatalf("FAULT reacted: %s", transcript(acts))
	}
	r.advance(time.Minute)
	if r.e.State(0) != Fault {
		t.Fatal("left FAULT by itself")
	}
}

func TestTrackerWeights(t *testing.T) {
	tests := []struct {
		name string
		tr   Tracker
		up   bool
		want int
	}{
		{"positive weight, up adds", Tracker{Weight: 20}, true, 120},
		{"positive weight, down adds nothing", Tracker{Weight: 20}, false, 100},
		{"negative weight, down subtracts", Tracker{Weight: -60}, false, 40},
		{"negative weight, up nothing", Tracker{Weight: -60}, true, 100},
		{"reverse positive, up subtracts", Tracker{Weight: 20, Reverse: true}, true, 80},
		{"reverse negative, down adds", Tracker{Weight: -60, Reverse: true}, false, 160},
		{"clamped at 254", Tracker{Weight: 200}, true, 254},
		{"clamped at 1", Tracker{Weight: -200}, false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := basic(100)
			tc.tr.Kind, tc.tr.Name = TrackScript, "chk"
			c.Trackers = []Tracker{tc.tr}
			r := newRig(t, []Config{c}, nil)
			r.start()
			acts := r.apply(r.e.Script(r.now, "chk", tc.up))
			if got := r.e.Priority(0); got != tc.want {
				t.Fatalf("priority %d, want %d", got, tc.want)
			}
			if tc.want != 100 && !hasLog(acts, "(VI_1) Changing effective priority from 100 to "+itoa(tc.want)) {
				t.Fatal(transcript(acts))
			}
			if r.e.State(0) != Backup {
				t.Fatalf("weighted tracker changed state to %s", r.e.State(0))
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestOwnerPriorityNotTracked(t *testing.T) {
	c := basic(255)
	c.Trackers = []Tracker{{Kind: TrackScript, Name: "chk", Weight: -50}}
	r := newRig(t, []Config{c}, nil)
	r.start()
	acts := r.apply(r.e.Script(r.now, "chk", false))
	if r.e.Priority(0) != 255 || len(acts) != 0 {
		t.Fatalf("owner priority %d, %s", r.e.Priority(0), transcript(acts))
	}
}

func TestScriptWeightZeroFault(t *testing.T) {
	c := basic(100)
	c.Trackers = []Tracker{{Kind: TrackScript, Name: "chk"}}
	r := newRig(t, []Config{c}, nil)
	r.apply(r.e.Script(r.now, "chk", true))
	r.start()
	r.advance(time.Second)
	m := r.mark()
	r.apply(r.e.Script(r.now, "chk", false))
	want := "log (VI_1) Entering FAULT STATE\nnotify INSTANCE VI_1 FAULT 100\n"
	if got := transcript(r.since(m)); got != want {
		t.Fatalf("transcript:\n%s", got)
	}
	m = r.mark()
	r.apply(r.e.Script(r.now, "chk", true))
	want = "log (VI_1) Entering BACKUP STATE\nnotify INSTANCE VI_1 BACKUP 100\n"
	if got := transcript(r.since(m)); got != want {
		t.Fatalf("transcript:\n%s", got)
	}
	if at, ok := r.timerAt(0, TimerMasterDown); !ok || at != time.Second+3609375*time.Microsecond {
		t.Fatalf("down timer %v", at)
	}
	// weight 0 reverse: down while the script succeeds.
	c.Trackers = []Tracker{{Kind: TrackScript, Name: "chk", Reverse: true}}
	r = newRig(t, []Config{c}, nil)
	r.start()
	r.apply(r.e.Script(r.now, "chk", true))
	if r.e.State(0) != Fault {
		t.Fatal("weight 0 reverse: not FAULT while the script succeeds")
	}
}

func TestInterfaceDownFault(t *testing.T) {
	r := masterRig(t, basic(100))
	m := r.mark()
	r.apply(r.e.Interface(r.now, "eth0", false))
	if got := transcript(r.since(m)); !strings.HasPrefix(got, "log (VI_1) Entering FAULT STATE\n") {
		t.Fatalf("transcript:\n%s", got)
	}
	r.apply(r.e.Interface(r.now, "eth0", true))
	if r.e.State(0) != Backup {
		t.Fatalf("state %s after link up", r.e.State(0))
	}
	// Other interfaces do not matter; dont_track_primary ignores our own.
	c := basic(100)
	c.DontTrackPrimary = true
	r = newRig(t, []Config{c}, nil)
	r.start()
	r.apply(r.e.Interface(r.now, "eth0", false))
	r.apply(r.e.Interface(r.now, "eth1", false))
	if r.e.State(0) != Backup {
		t.Fatalf("dont_track_primary: state %s", r.e.State(0))
	}
	// track_interface with a weight moves the priority instead.
	c = basic(100)
	c.Trackers = []Tracker{{Kind: TrackInterface, Name: "eth1", Weight: -30}}
	r = newRig(t, []Config{c}, nil)
	r.start()
	r.apply(r.e.Interface(r.now, "eth1", false))
	if r.e.State(0) != Backup || r.e.Priority(0) != 70 {
		t.Fatalf("weighted track_interface: %s %d", r.e.State(0), r.e.Priority(0))
	}
}

func TestTrackFile(t *testing.T) {
	tests := []struct {
		name   string
		weight int
		rev    bool
		value  int
		prio   int
		state  State
	}{
		{"weight 0, zero is ok", 0, false, 0, 100, Backup},
		{"weight 0, non-zero faults", 0, false, 3, 100, Fault},
		{"weight 1, value added", 1, false, 20, 120, Backup},
		{"weight 2, negative value", 2, false, -10, 80, Backup},
		{"reverse", 1, true, 20, 80, Backup},
		{"below -253 faults", 1, false, -254, 100, Fault},
		{"large value clamped to 254", 1, false, 253, 254, Backup},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := basic(100)
			c.Trackers = []Tracker{{Kind: TrackFile, Name: "tf", Weight: tc.weight, Reverse: tc.rev}}
			r := newRig(t, []Config{c}, nil)
			r.apply(r.e.File(r.now, "tf", tc.value))
			acts := r.start()
			if r.e.Priority(0) != tc.prio || r.e.State(0) != tc.state {
				t.Fatalf("prio %d state %s: %s", r.e.Priority(0), r.e.State(0), transcript(acts))
			}
			// Keepalived prints -254 for a weight-0 failure, else value x weight.
			if tc.state == Fault && !hasLog(acts, "(VI_1): entering FAULT state (tracked file tf has status -254)") {
				t.Fatal(transcript(acts))
			}
		})
	}
}

func TestPriorityChangeShiftsDownTimer(t *testing.T) {
	c := basic(100)
	c.Trackers = []Tracker{{Kind: TrackScript, Name: "chk", Weight: 50}}
	r := newRig(t, []Config{c}, nil)
	r.start() // down at 3.609375
	r.advance(time.Second)
	r.apply(r.e.Script(r.now, "chk", true)) // 150: skew 0.414062
	if at, _ := r.timerAt(0, TimerMasterDown); at != 3414062*time.Microsecond {
		t.Fatalf("down timer %v, want moved by the skew change", at)
	}
}

func TestGARPSchedule(t *testing.T) {
	c := basic(100)
	c.GARPRefresh = 60 * time.Second
	c.GARPRefreshRepeat = 2
	r := newRig(t, []Config{c}, nil)
	r.start()
	r.advance(4 * time.Second) // master at 3.609375
	var bursts []string
	r.advance(120 * time.Second)
	for _, s := range r.acts {
		if s.a.Kind == ActSendGARP {
			bursts = append(bursts, s.at.String()+" x"+itoa(s.a.Repeat))
		}
	}
	want := []string{"3.609375s x5", "8.609375s x5", "1m3.609375s x2", "2m3.609375s x2"}
	if !slices.Equal(bursts, want) {
		t.Fatalf("bursts %v, want %v", bursts, want)
	}
	// No delayed burst once the instance has left MASTER.
	r = masterRig(t, basic(100))
	r.recv(0, "10.0.0.2", 200)
	m := r.mark()
	for i := 0; i < 10; i++ {
		r.advance(time.Second)
		r.recv(0, "10.0.0.2", 200)
	}
	for _, a := range r.since(m) {
		if a.Kind == ActSendGARP {
			t.Fatal("GARP after leaving MASTER")
		}
	}
}

func TestGARPLowerPrio(t *testing.T) {
	c := basic(100)
	c.GARPLowerPrioRepeat, c.GARPLowerPrioDelay = 2, 3*time.Second
	r := masterRig(t, c)
	acts := r.recv(0, "10.0.0.2", 50)
	if !strings.Contains(transcript(acts), "garp VI_1 x2") {
		t.Fatal(transcript(acts))
	}
	m := r.mark()
	r.advance(3 * time.Second)
	if !strings.Contains(transcript(r.since(m)), "garp VI_1 x2") {
		t.Fatal("no delayed lower-priority burst")
	}
}

func TestV3MasterUsesOwnInterval(t *testing.T) {
	c := basic(100)
	c.Version = 3
	r := newRig(t, []Config{c}, nil)
	r.start()
	r.recvIv(0, "10.0.0.2", 200, 500*time.Millisecond)
	m := r.mark()
	r.advance(5 * time.Second) // master dies
	if r.e.State(0) != Master || !hasLog(r.since(m), "(VI_1) changing advert interval from 500ms to locally configured 1000ms") {
		t.Fatal(transcript(r.since(m)))
	}
	if r.e.MasterAdvertInt(0) != time.Second {
		t.Fatal("interval not restored")
	}
}

func TestNotify(t *testing.T) {
	r := newRig(t, []Config{basic(100)}, nil)
	r.start()
	r.advance(4 * time.Second)
	r.recv(0, "10.0.0.2", 200)
	var got []string
	for _, a := range r.since(0) {
		if a.Kind == ActNotify {
			got = append(got, a.String())
		}
	}
	want := []string{"notify INSTANCE VI_1 BACKUP 100", "notify INSTANCE VI_1 MASTER 100", "notify INSTANCE VI_1 BACKUP 100"}
	if !slices.Equal(got, want) {
		t.Fatalf("notifies %v", got)
	}
}

func groupRig(t *testing.T) *rig {
	a, b := basic(100), basic(100)
	b.Name, b.VRID, b.Interface = "VI_2", 52, "eth1"
	return newRig(t, []Config{a, b}, []GroupConfig{{Name: "G1", Members: []string{"VI_1", "VI_2"}}})
}

func TestStopNotifies(t *testing.T) {
	r := groupRig(t)
	r.start()
	m := r.mark()
	r.apply(r.e.Stop(r.now))
	want := "notify INSTANCE VI_1 STOP 100\nnotify INSTANCE VI_2 STOP 100\nnotify GROUP G1 STOP\n"
	if got := transcript(r.since(m)); got != want {
		t.Fatalf("transcript:\n%s", got)
	}
}

func TestSyncGroupFault(t *testing.T) {
	r := groupRig(t)
	r.start()
	r.advance(4 * time.Second) // both time out; the group goes MASTER together
	if r.e.State(0) != Master || r.e.State(1) != Master || r.e.GroupState(0) != Master {
		t.Fatalf("states %s %s group %s", r.e.State(0), r.e.State(1), r.e.GroupState(0))
	}
	m := r.mark()
	r.apply(r.e.Interface(r.now, "eth1", false))
	if r.e.State(0) != Fault || r.e.State(1) != Fault || r.e.GroupState(0) != Fault {
		t.Fatalf("states %s %s", r.e.State(0), r.e.State(1))
	}
	got := transcript(r.since(m))
	for _, want := range []string{"log VRRP_Group(G1) Syncing instances to FAULT state", "notify GROUP G1 FAULT",
		"advert VI_1 prio 0", "remove-vips VI_1", "notify INSTANCE VI_1 FAULT 100"} {
		if !strings.Contains(got, want+"\n") {
			t.Fatalf("missing %q in:\n%s", want, got)
		}
	}
	// Recovery: both back to BACKUP.
	m = r.mark()
	r.apply(r.e.Interface(r.now, "eth1", true))
	if r.e.State(0) != Backup || r.e.State(1) != Backup || r.e.GroupState(0) != Backup {
		t.Fatalf("after recovery %s %s %s:\n%s", r.e.State(0), r.e.State(1), r.e.GroupState(0), transcript(r.since(m)))
	}
}

func TestSyncGroupMaster(t *testing.T) {
	r := groupRig(t)
	r.start()
	// VI_2's master is alive, VI_1's is dead: VI_1 wants MASTER but waits.
	for i := 0; i < 6; i++ {
		r.advance(time.Second)
		r.recv(1, "10.0.0.2", 200)
	}
	if r.e.State(0) != Backup || r.e.State(1) != Backup {
		t.Fatalf("states %s %s: group member went MASTER alone", r.e.State(0), r.e.State(1))
	}
	// VI_2's master dies too: once VI_2 times out, both go MASTER together.
	m := r.mark()
	r.advance(5 * time.Second)
	if r.e.State(0) != Master || r.e.State(1) != Master {
		t.Fatalf("states %s %s", r.e.State(0), r.e.State(1))
	}
	got := transcript(r.since(m))
	if !strings.Contains(got, "log VRRP_Group(G1) Syncing instances to MASTER state\n") || !strings.Contains(got, "notify GROUP G1 MASTER\n") {
		t.Fatalf("transcript:\n%s", got)
	}
}

func TestSyncGroupBackup(t *testing.T) {
	r := groupRig(t)
	r.start()
	r.advance(4 * time.Second)
	m := r.mark()
	r.recv(0, "10.0.0.2", 200) // VI_1 yields; VI_2 must follow
	if r.e.State(0) != Backup || r.e.State(1) != Backup || r.e.GroupState(0) != Backup {
		t.Fatalf("states %s %s", r.e.State(0), r.e.State(1))
	}
	got := transcript(r.since(m))
	for _, want := range []string{"log VRRP_Group(G1) Syncing instances to BACKUP state", "remove-vips VI_2", "notify GROUP G1 BACKUP"} {
		if !strings.Contains(got, want+"\n") {
			t.Fatalf("missing %q in:\n%s", want, got)
		}
	}
}

func TestSyncGroupStartFault(t *testing.T) {
	r := groupRig(t)
	r.apply(r.e.Interface(r.now, "eth0", false))
	acts := r.start()
	if r.e.State(0) != Fault || r.e.State(1) != Fault {
		t.Fatalf("states %s %s", r.e.State(0), r.e.State(1))
	}
	// As Keepalived 2.2.7 logs it in the lab (replay "syncinit").
	want := "log (VI_1): entering FAULT state (interface eth0 down)\n" +
		"log VRRP_Group(G1): Syncing VI_1 to FAULT state\n" +
		"log (VI_1) entering FAULT state\nnotify INSTANCE VI_1 FAULT 100\n" +
		"log (VI_2) entering FAULT state\nnotify INSTANCE VI_2 FAULT 100\n" +
		"notify GROUP G1 FAULT\n" +
		"log+ (VI_1) removing VIPs.\nremove-vips VI_1\nlog+ (VI_2) removing VIPs.\nremove-vips VI_2\n"
	if got := transcript(acts); got != want {
		t.Fatalf("transcript:\n%s", got)
	}
}

func TestSyncGroupTrackers(t *testing.T) {
	a, b := basic(100), basic(100)
	b.Name, b.VRID = "VI_2", 52
	r := newRig(t, []Config{a, b}, []GroupConfig{{Name: "G1", Members: []string{"VI_1", "VI_2"},
		Trackers: []Tracker{{Kind: TrackScript, Name: "chk"}}}})
	r.apply(r.e.Script(r.now, "chk", true))
	r.start()
	r.apply(r.e.Script(r.now, "chk", false))
	if r.e.State(0) != Fault || r.e.State(1) != Fault {
		t.Fatalf("states %s %s", r.e.State(0), r.e.State(1))
	}
}

// TestLogWording pins the exact Keepalived 2.2.7 strings the engine emits
// (checked against `strings $(which keepalived)`).
func TestLogWording(t *testing.T) {
	l, n1, n2 := twoNodes(t, nil)
	l.start(n1)
	l.start(n2)
	l.run(10 * time.Second)
	l.stop(n1)
	l.run(15 * time.Second)
	var all []string
	for _, r := range []*router{n1, n2} {
		all = append(all, r.logs(0)...)
	}
	for _, want := range []string{
		"(VI_1) Entering BACKUP STATE (init)",
		"(VI_1) Receive advertisement timeout",
		"(VI_1) Entering MASTER STATE",
		"(VI_1) setting VIPs.",
		"(VI_1) Sending/queueing gratuitous ARPs on eth0 for 10.77.0.100",
		"(VI_1) sent 0 priority",
		"(VI_1) removing VIPs.",
		"(VI_1) Backup received priority 0 advertisement",
	} {
		if !slices.Contains(all, want) {
			t.Errorf("missing %q", want)
		}
	}
}

func TestStaleTimerIgnored(t *testing.T) {
	r := newRig(t, []Config{basic(100)}, nil)
	r.start()
	first := r.timers[[2]int{0, int(TimerMasterDown)}].Timer
	r.advance(time.Second)
	r.recv(0, "10.0.0.2", 200) // re-arms: first is stale
	if acts := r.e.Fire(t0.Add(3609375*time.Microsecond), first); len(acts) != 0 {
		t.Fatalf("stale timer acted: %s", transcript(acts))
	}
	if r.e.State(0) != Backup {
		t.Fatal("stale timer changed state")
	}
	if acts := r.e.Fire(r.now, Timer{Inst: 7, Kind: TimerAdvert}); len(acts) != 0 {
		t.Fatal("unknown instance acted")
	}
}

func TestResume(t *testing.T) {
	b := basic(100)
	b.Name, b.VRID = "VI_2", 52
	n := basic(100)
	n.Name, n.VRID = "VI_3", 53
	r := newRig(t, []Config{basic(90), b, n}, nil)
	acts := r.apply(r.e.Resume(r.now, map[string]State{"VI_1": Master, "VI_2": Backup}))
	want := "log+ (VI_3) removing VIPs.\nremove-vips VI_3\n" + // a new instance: stale VIPs cleared
		"log+ (VI_1) setting VIPs.\nadd-vips VI_1\n" + // MASTER kept, VIPs re-asserted
		"log (VI_3) Entering BACKUP STATE (init)\nnotify INSTANCE VI_3 BACKUP 100\n"
	if got := transcript(acts); got != want {
		t.Fatalf("transcript:\n%s", got)
	}
	if r.e.State(0) != Master || r.e.State(1) != Backup {
		t.Fatalf("states %s %s", r.e.State(0), r.e.State(1))
	}
	m := r.mark()
	r.advance(0) // the advert goes out at once, with the new priority
	if got := adverts(r.since(m)); len(got) != 1 || got[0] != 90 {
		t.Fatalf("adverts %v", got)
	}
	if at, _ := r.timerAt(1, TimerMasterDown); at != 3609375*time.Microsecond {
		t.Fatalf("VI_2 down timer %v", at)
	}
	// A carried MASTER now in FAULT starts as FAULT.
	c := basic(100)
	c.Trackers = []Tracker{{Kind: TrackScript, Name: "chk"}}
	r = newRig(t, []Config{c}, nil)
	r.apply(r.e.Script(r.now, "chk", false))
	r.apply(r.e.Resume(r.now, map[string]State{"VI_1": Master}))
	if r.e.State(0) != Fault {
		t.Fatalf("state %s", r.e.State(0))
	}
}

// garp_extra_if: while MASTER, the first advert after each period also
// asks for the extra interfaces' GARP (vrrp_master's vmac_garp_timer);
// none before the period, none after leaving MASTER.
func TestGARPExtraIfSchedule(t *testing.T) {
	c := basic(100)
	c.GARPExtraIf = 10 * time.Second
	r := newRig(t, []Config{c}, nil)
	r.start()
	r.advance(35 * time.Second) // master at 3.609375, adverts every second
	var at []string
	for _, s := range r.acts {
		if s.a.Kind == ActSendExtraGARP {
			at = append(at, s.at.String())
		}
	}
	want := []string{"13.609375s", "23.609375s", "33.609375s"}
	if !slices.Equal(at, want) {
		t.Fatalf("extra GARPs at %v, want %v", at, want)
	}
	r.recv(0, "10.0.0.2", 200)
	m := r.mark()
	for range 30 { // the other master keeps advertising
		r.advance(time.Second)
		r.recv(0, "10.0.0.2", 200)
	}
	for _, a := range r.since(m) {
		if a.Kind == ActSendExtraGARP {
			t.Fatal("extra GARP after leaving MASTER")
		}
	}
}
