package speaker

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"halo/vrrp"
	"halo/vrrp/netif"
	"halo/vrrp/notify"
	"halo/vrrp/packet"
	"halo/vrrp/track"
	"halo/vrrp/transport"
)

// Stats are keepalived's per-instance counters (SIGUSR2 dump).
type Stats struct {
	AdvertRcvd, AdvertSent                                                  uint64
	BecomeMaster, ReleaseMaster                                             uint64
	PacketLenErr, IPTTLErr, InvalidTypeRcvd, AdvertIntervalErr, AddrListErr uint64
	InvalidAuthType, AuthTypeMismatch, AuthFailure                          uint64
	PriZeroRcvd, PriZeroSent                                                uint64
}

type evKind int

const (
	evAdvert evKind = iota
	evTrack
	evStop
	evDetach
	evSnapshot
	evSync
)

type event struct {
	kind   evKind
	adv    *packet.Advert
	done   chan struct{}
	snap   chan Snapshot
	notify bool
	state  vrrp.State // evSync: the state the sync group moves to
}

// instance is one running vrrp_instance. Everything below `events` is owned
// by the instance's goroutine (run); other goroutines talk to it by event.
type instance struct {
	sp     *Speaker
	cfg    *vrrp.Instance
	conn   *transport.Conn
	src    netip.Addr
	v6     bool
	vips   []netip.Addr
	expect packet.Expect
	events chan event
	exited chan struct{}
	ready  chan struct{} // closed once the initial state is entered

	state          vrrp.State
	effPrio        int
	fault          bool
	masterAdverInt time.Duration
	masterAddr     netip.Addr
	preemptAt      time.Time
	nopreempt      bool
	preemptDelay   time.Duration
	timer          *time.Timer // master down timer (BACKUP) or advert timer (MASTER)
	garpTimer      *time.Timer
	garpRefresh    *time.Timer
	lastTransition time.Time
	stats          Stats
	buf            []byte
	adv            packet.Advert

	syncing bool // transition caused by the sync group: do not re-propagate

	statsMu sync.Mutex
	snapSt  Stats
}

func instanceKey(ic *vrrp.Instance) string {
	return fmt.Sprintf("%s|%s|%d|%d|%d|%v|%v", ic.Name, ic.Interface, ic.VRID, ic.Family, ic.Version, ic.UnicastSrcIP, ic.UnicastPeers)
}

func (in *instance) key() string { return instanceKey(in.cfg) }

func newInstance(sp *Speaker, ic *vrrp.Instance) (*instance, error) {
	in := &instance{sp: sp, cfg: ic, events: make(chan event, 64), exited: make(chan struct{}), ready: make(chan struct{}), effPrio: ic.Priority}
	in.v6 = ic.Family == 6
	if ic.Family == 0 && len(ic.VIPs) > 0 {
		in.v6 = ic.VIPs[0].Prefix.Addr().Is6()
	}
	for _, v := range ic.VIPs {
		in.vips = append(in.vips, v.Prefix.Addr())
	}
	version := ic.Version
	if version == 0 {
		version = sp.cfg.Global.Version
	}
	if version == 0 {
		version = 2
	}
	if in.v6 {
		version = 3 // VRRPv2 is IPv4 only (RFC 3768)
	}
	in.nopreempt, in.preemptDelay = ic.NoPreempt, ic.PreemptDelay
	if ic.InitialState == vrrp.StateMaster {
		// keepalived: "nopreempt/preempt delay will not work with initial
		// state MASTER - clearing" (compat says so at -c time too).
		in.nopreempt, in.preemptDelay = false, 0
	}
	switch {
	case ic.UnicastSrcIP.IsValid():
		in.src = ic.UnicastSrcIP
	case ic.McastSrcIP.IsValid():
		in.src = ic.McastSrcIP
	default:
		a, err := netif.PrimaryAddr(ic.Interface, in.v6, in.vips)
		if err != nil {
			return nil, err
		}
		in.src = a
	}
	group := sp.cfg.Global.McastGroup4
	if in.v6 {
		group = sp.cfg.Global.McastGroup6
	}
	if !group.IsValid() {
		group = packet.Group4
		if in.v6 {
			group = packet.Group6
		}
	}
	conn, err := transport.Open(transport.Options{Iface: ic.Interface, V6: in.v6, Group: group, Src: in.src, Peers: ic.UnicastPeers, UnicastTTL: ic.UnicastTTL})
	if err != nil {
		return nil, err
	}
	in.conn = conn
	in.expect = packet.Expect{Version: uint8(version), VRID: uint8(ic.VRID), Interval: in.intervalUnits(version), Addrs: in.vips, CheckAddrs: !sp.cfg.Global.SkipCheckAdvAddr, Unicast: len(ic.UnicastPeers) > 0}
	if version == 2 && ic.AuthType == "PASS" {
		in.expect.AuthType = packet.AuthPass
		in.expect.AuthData = packet.PassData(ic.AuthPass)
	}
	in.adv = packet.Advert{Version: uint8(version), VRID: uint8(ic.VRID), Interval: in.expect.Interval, Addrs: in.vips, AuthType: in.expect.AuthType, AuthData: in.expect.AuthData, Src: in.src}
	in.masterAdverInt = in.advertInt()
	in.buf = make([]byte, 0, 1500)
	return in, nil
}

func (in *instance) advertInt() time.Duration {
	if in.cfg.AdvertInt > 0 {
		return in.cfg.AdvertInt
	}
	return time.Second
}

func (in *instance) intervalUnits(version int) uint16 {
	d := in.advertInt()
	if version == 3 {
		return uint16(d / (10 * time.Millisecond))
	}
	return uint16(max(d/time.Second, 1))
}

func (in *instance) logf(format string, args ...any) {
	in.sp.logf("("+in.cfg.Name+") "+format, args...)
}

// post hands an event to the instance goroutine; it never blocks the
// caller for long (a full queue drops track nudges, which are idempotent).
func (in *instance) post(ev event) {
	select {
	case in.events <- ev:
	case <-in.exited:
	default:
		if ev.kind != evTrack {
			select {
			case in.events <- ev:
			case <-in.exited:
			}
		}
	}
}

// start enters the initial state and runs the instance. resumed carries the
// state of the same instance across a reload.
func (in *instance) start(st vrrp.State, resumed bool) {
	go in.readLoop()
	go in.run(st, resumed)
	<-in.ready
}

func (in *instance) readLoop() {
	buf := make([]byte, 1500)
	for {
		pk, err := in.conn.Recv(buf)
		if err != nil {
			return
		}
		a := &packet.Advert{}
		if err := packet.DecodePayload(pk.Payload, pk.Src, pk.Dst, a); err != nil {
			in.countErr(err)
			in.logf("%v", err)
			continue
		}
		if a.VRID != in.expect.VRID {
			continue // another virtual router on the same segment
		}
		if err := in.expect.Check(a, pk.TTL); err != nil {
			in.countErr(err)
			in.logf("%v", err)
			continue
		}
		in.post(event{kind: evAdvert, adv: a})
	}
}

func (in *instance) countErr(err error) {
	in.statsMu.Lock()
	defer in.statsMu.Unlock()
	switch {
	case errors.Is(err, packet.ErrLength):
		in.snapSt.PacketLenErr++
	case errors.Is(err, packet.ErrTTL):
		in.snapSt.IPTTLErr++
	case errors.Is(err, packet.ErrType):
		in.snapSt.InvalidTypeRcvd++
	case errors.Is(err, packet.ErrInterval):
		in.snapSt.AdvertIntervalErr++
	case errors.Is(err, packet.ErrAddrCount), errors.Is(err, packet.ErrAddrList):
		in.snapSt.AddrListErr++
	case errors.Is(err, packet.ErrAuthType):
		in.snapSt.InvalidAuthType++
	case errors.Is(err, packet.ErrAuthMismatch):
		in.snapSt.AuthTypeMismatch++
	case errors.Is(err, packet.ErrPassword):
		in.snapSt.AuthFailure++
	}
}

func (in *instance) run(st vrrp.State, resumed bool) {
	defer close(in.exited)
	in.timer = time.NewTimer(time.Hour)
	in.garpTimer = time.NewTimer(time.Hour)
	in.garpTimer.Stop()
	in.garpRefresh = time.NewTimer(time.Hour)
	in.garpRefresh.Stop()
	in.recomputeQuiet()
	switch {
	case resumed && st == vrrp.StateMaster && !in.fault:
		in.state = vrrp.StateMaster
		in.setVIPs(false)
		in.sendAdvert(in.effPrio)
		in.timer.Reset(in.advertInt())
	case resumed && st == vrrp.StateBackup && !in.fault:
		in.state = vrrp.StateBackup
		in.timer.Reset(in.downInterval())
	default:
		// Leftover VIPs (a crash, a kill -9) go first, as keepalived does.
		in.logf("removing VIPs.")
		in.removeVIPs()
		switch {
		case in.fault:
			in.transition(vrrp.StateFault, " (init)")
		case in.cfg.Priority == 255 && in.cfg.InitialState == vrrp.StateMaster:
			in.transition(vrrp.StateMaster, "")
		default:
			in.transition(vrrp.StateBackup, " (init)")
		}
	}
	close(in.ready)
	for {
		select {
		case ev := <-in.events:
			switch ev.kind {
			case evAdvert:
				in.onAdvert(ev.adv)
			case evTrack:
				in.recompute()
			case evSnapshot:
				ev.snap <- in.snap()
			case evSync:
				in.onSync(ev.state)
			case evStop:
				in.shutdown(ev.notify)
				close(ev.done)
				return
			case evDetach:
				in.conn.Close()
				in.stopTimers()
				close(ev.done)
				return
			}
		case <-in.timer.C:
			in.onTimer()
		case <-in.garpTimer.C:
			if in.state == vrrp.StateMaster {
				in.garp(in.garpRepeat())
			}
		case <-in.garpRefresh.C:
			if in.state == vrrp.StateMaster {
				n := in.cfg.GARPMasterRefreshRepeat
				if n == 0 {
					n = max(in.sp.cfg.Global.GARPMasterRefreshRepeat, 1)
				}
				in.garp(n)
				in.garpRefresh.Reset(in.garpRefreshInt())
			}
		}
	}
}

func (in *instance) stopTimers() {
	in.timer.Stop()
	in.garpTimer.Stop()
	in.garpRefresh.Stop()
}

// skew is RFC 3768 §6.1 Skew_Time, scaled by the master's interval as
// keepalived does: ((256 - priority) * Master_Adver_Interval) / 256.
func (in *instance) skew() time.Duration {
	return time.Duration(int64(256-in.effPrio) * int64(in.masterAdverInt) / 256)
}

func (in *instance) downInterval() time.Duration {
	return 3*in.masterAdverInt + in.skew()
}

func (in *instance) onTimer() {
	switch in.state {
	case vrrp.StateBackup:
		in.logf("Receive advertisement timeout")
		in.transition(vrrp.StateMaster, "")
	case vrrp.StateMaster:
		in.sendAdvert(in.effPrio)
		in.timer.Reset(in.advertInt())
	}
}

func (in *instance) onAdvert(a *packet.Advert) {
	in.stats.AdvertRcvd++
	if a.Priority == 0 {
		in.stats.PriZeroRcvd++
	}
	switch in.state {
	case vrrp.StateBackup:
		if a.Version == 3 {
			if iv := a.IntervalDuration(); iv > 0 {
				in.masterAdverInt = iv
			}
		}
		now := time.Now()
		switch {
		case a.Priority == 0:
			in.logf("Backup received priority 0 advertisement")
			in.timer.Reset(in.skew())
		case in.nopreempt || int(a.Priority) >= in.effPrio ||
			(in.preemptDelay > 0 && (in.preemptAt.IsZero() || now.Before(in.preemptAt))):
			if in.preemptDelay > 0 && in.preemptAt.IsZero() && int(a.Priority) < in.effPrio {
				in.preemptAt = now.Add(in.preemptDelay)
				in.logf("start preempt delay (%.6f)", in.preemptDelay.Seconds())
			}
			in.masterAddr = a.Src
			in.timer.Reset(in.downInterval())
		default:
			in.logf("received lower priority (%d) advert from %s - discarding", a.Priority, a.Src)
		}
	case vrrp.StateMaster:
		switch {
		case a.Priority == 0:
			in.logf("Master received priority 0 message")
			in.sendAdvert(in.effPrio)
			in.timer.Reset(in.advertInt())
		case int(a.Priority) > in.effPrio || (int(a.Priority) == in.effPrio && addrGreater(a.Src, in.src)):
			in.logf("Master received advert from %s with higher priority %d, ours %d", a.Src, a.Priority, in.effPrio)
			in.masterAddr = a.Src
			if a.Version == 3 {
				if iv := a.IntervalDuration(); iv > 0 {
					in.masterAdverInt = iv
				}
			}
			in.transition(vrrp.StateBackup, "")
		default:
			in.logf("Received advert from %s with lower priority %d, ours %d, forcing new election", a.Src, a.Priority, in.effPrio)
			in.sendAdvert(in.effPrio)
			in.timer.Reset(in.advertInt())
		}
	}
}

func addrGreater(a, b netip.Addr) bool { return a.Compare(b) > 0 }

// recompute applies tracking: a FAULT condition, or a new effective priority.
func (in *instance) recompute() {
	terms, ifDown := in.sp.terms(in.cfg)
	prio, fault := track.Priority(in.cfg.Priority, terms)
	fault = fault || ifDown
	if prio != in.effPrio {
		in.logf("Changing effective priority from %d to %d", in.effPrio, prio)
		in.effPrio = prio
	}
	switch {
	case fault && in.state != vrrp.StateFault:
		in.fault = true
		in.transition(vrrp.StateFault, "")
	case !fault && in.state == vrrp.StateFault:
		in.fault = false
		in.transition(vrrp.StateBackup, "")
	}
	in.fault = fault
}

func (in *instance) recomputeQuiet() {
	terms, ifDown := in.sp.terms(in.cfg)
	in.effPrio, in.fault = track.Priority(in.cfg.Priority, terms)
	in.fault = in.fault || ifDown
}

// transition leaves the current state and enters st.
func (in *instance) transition(st vrrp.State, why string) {
	prev := in.state
	if prev == vrrp.StateMaster && st != vrrp.StateMaster {
		if st == vrrp.StateFault && in.sp.links.Up(in.cfg.Interface) {
			// Let the backups take over at once rather than after the
			// master down interval.
			in.sendAdvert(0)
		}
		in.logf("Entering %s STATE%s", st, why)
		in.logf("removing VIPs.")
		in.removeVIPs()
		in.stats.ReleaseMaster++
		in.garpTimer.Stop()
		in.garpRefresh.Stop()
	} else {
		in.logf("Entering %s STATE%s", st, why)
	}
	in.state = st
	in.lastTransition = time.Now()
	switch st {
	case vrrp.StateBackup:
		in.masterAdverInt = in.advertInt()
		in.timer.Reset(in.downInterval())
	case vrrp.StateFault:
		in.timer.Stop()
	case vrrp.StateMaster:
		in.preemptAt = time.Time{}
		in.stats.BecomeMaster++
		in.masterAddr = in.src
		in.sendAdvert(in.effPrio)
		in.timer.Reset(in.advertInt())
		in.setVIPs(true)
	}
	in.sp.notifier.Notify(notify.Event{Name: in.cfg.Name, State: st, Priority: in.effPrio}, notify.InstanceScripts(in.cfg))
	if !in.syncing {
		in.sp.syncGroup(in, st)
	}
}

// onSync follows a vrrp_sync_group peer into st (keepalived's
// vrrp_sync_master/backup/fault): one member's transition moves them all.
func (in *instance) onSync(st vrrp.State) {
	if in.state == st || in.state == vrrp.StateStop {
		return
	}
	if in.fault && st != vrrp.StateFault {
		return // our own fault holds until it clears
	}
	in.syncing = true
	defer func() { in.syncing = false }()
	in.transition(st, "")
}

func (in *instance) garpDelay() time.Duration {
	if in.cfg.GARPMasterDelay > 0 {
		return in.cfg.GARPMasterDelay
	}
	if in.sp.cfg.Global.GARPMasterDelay > 0 {
		return in.sp.cfg.Global.GARPMasterDelay
	}
	return 5 * time.Second
}

func (in *instance) garpRepeat() int {
	if in.cfg.GARPMasterRepeat > 0 {
		return in.cfg.GARPMasterRepeat
	}
	if in.sp.cfg.Global.GARPMasterRepeat > 0 {
		return in.sp.cfg.Global.GARPMasterRepeat
	}
	return 5
}

func (in *instance) garpRefreshInt() time.Duration {
	if in.cfg.GARPMasterRefresh > 0 {
		return in.cfg.GARPMasterRefresh
	}
	return in.sp.cfg.Global.GARPMasterRefresh
}

// setVIPs adds VIPs, excluded VIPs and routes; with announce it starts
// keepalived's GARP/NA schedule (a burst now, another after
// garp_master_delay, then every garp_master_refresh).
func (in *instance) setVIPs(announce bool) {
	in.logf("setting VIPs.")
	for _, list := range [][]vrrp.VIP{in.cfg.VIPs, in.cfg.ExcludedVIPs} {
		for _, v := range list {
			if err := netif.AddVIP(netif.VIPDev(v, in.cfg.Interface), v); err != nil {
				in.logf("%v", err)
			}
		}
	}
	for _, r := range in.cfg.Routes {
		if err := netif.AddRoute(r, in.cfg.Interface); err != nil {
			in.logf("%v", err)
		}
	}
	if !announce {
		return
	}
	in.garp(in.garpRepeat())
	in.garpTimer.Reset(in.garpDelay())
	if d := in.garpRefreshInt(); d > 0 {
		in.garpRefresh.Reset(d)
	}
}

func (in *instance) removeVIPs() {
	for _, r := range in.cfg.Routes {
		_ = netif.DelRoute(r, in.cfg.Interface)
	}
	for _, list := range [][]vrrp.VIP{in.cfg.VIPs, in.cfg.ExcludedVIPs} {
		for _, v := range list {
			if err := netif.DelVIP(netif.VIPDev(v, in.cfg.Interface), v); err != nil {
				in.logf("%v", err)
			}
		}
	}
}

// garp announces every VIP: count gratuitous ARPs (IPv4) or unsolicited
// neighbour advertisements (IPv6), in keepalived's log wording.
func (in *instance) garp(count int) {
	byDev := map[string][]netip.Addr{}
	var devs []string
	for _, list := range [][]vrrp.VIP{in.cfg.VIPs, in.cfg.ExcludedVIPs} {
		for _, v := range list {
			d := netif.VIPDev(v, in.cfg.Interface)
			if _, ok := byDev[d]; !ok {
				devs = append(devs, d)
			}
			byDev[d] = append(byDev[d], v.Prefix.Addr())
		}
	}
	for _, d := range devs {
		for _, ip := range byDev[d] {
			if ip.Is4() {
				in.logf("Sending/queueing gratuitous ARPs on %s for %s", d, ip)
				for range count {
					in.sp.logf("Sending gratuitous ARP on %s for %s", d, ip)
				}
				if err := netif.SendGARP(d, ip, count); err != nil {
					in.logf("%v", err)
				}
			} else {
				in.logf("Sending/queueing Unsolicited Neighbour Adverts on %s for %s", d, ip)
				for range count {
					in.sp.logf("Sending unsolicited Neighbour Advert on %s for %s", d, ip)
				}
				if err := netif.SendNA(d, ip, count); err != nil {
					in.logf("%v", err)
				}
			}
		}
	}
}

// sendAdvert sends one advertisement with prio to every destination.
func (in *instance) sendAdvert(prio int) {
	in.adv.Priority = uint8(prio)
	for _, dst := range in.conn.Dests() {
		in.adv.Dst = dst
		b, err := in.adv.AppendBinary(in.buf[:0])
		if err != nil {
			in.logf("%v", err)
			return
		}
		in.buf = b
		if err := in.conn.SendTo(b, dst); err != nil {
			in.logf("send advert to %s: %v", dst, err)
			continue
		}
	}
	in.stats.AdvertSent++
	if prio == 0 {
		in.stats.PriZeroSent++
	}
}

// shutdown is SIGTERM for one instance.
func (in *instance) shutdown(announce bool) {
	if in.state == vrrp.StateMaster && announce {
		in.sendAdvert(0)
		in.logf("sent 0 priority")
		in.logf("removing VIPs.")
		in.removeVIPs()
	}
	in.stopTimers()
	in.conn.Close()
	if announce {
		in.state = vrrp.StateStop
		in.sp.notifier.Notify(notify.Event{Name: in.cfg.Name, State: vrrp.StateStop, Priority: in.effPrio}, notify.InstanceScripts(in.cfg))
	}
}

func (in *instance) stop(announce bool) {
	done := make(chan struct{})
	in.post(event{kind: evStop, done: done, notify: announce})
	select {
	case <-done:
	case <-in.exited:
	}
}

func (in *instance) detach() {
	done := make(chan struct{})
	in.post(event{kind: evDetach, done: done})
	select {
	case <-done:
	case <-in.exited:
	}
}

func (in *instance) snap() Snapshot {
	in.statsMu.Lock()
	st := in.stats
	e := in.snapSt
	in.statsMu.Unlock()
	st.PacketLenErr, st.IPTTLErr, st.InvalidTypeRcvd, st.AdvertIntervalErr, st.AddrListErr = e.PacketLenErr, e.IPTTLErr, e.InvalidTypeRcvd, e.AdvertIntervalErr, e.AddrListErr
	st.InvalidAuthType, st.AuthTypeMismatch, st.AuthFailure = e.InvalidAuthType, e.AuthTypeMismatch, e.AuthFailure
	return Snapshot{Name: in.cfg.Name, State: in.state, Priority: in.cfg.Priority, EffectivePriority: in.effPrio,
		Interface: in.cfg.Interface, VRID: in.cfg.VRID, Stats: st, MasterAddr: in.masterAddr, LastTransition: in.lastTransition}
}

// snapshot asks the instance goroutine for its state.
func (in *instance) snapshot() Snapshot {
	ch := make(chan Snapshot, 1)
	select {
	case in.events <- event{kind: evSnapshot, snap: ch}:
	case <-in.exited:
		return Snapshot{Name: in.cfg.Name, State: vrrp.StateStop, Priority: in.cfg.Priority, Interface: in.cfg.Interface, VRID: in.cfg.VRID}
	}
	select {
	case s := <-ch:
		return s
	case <-in.exited:
		return Snapshot{Name: in.cfg.Name, State: vrrp.StateStop, Priority: in.cfg.Priority, Interface: in.cfg.Interface, VRID: in.cfg.VRID}
	}
}
