// Package speaker is the Keepalived runtime: it runs every vrrp_instance of a
// vrrp.Config on real sockets and interfaces. Decisions come from the pure
// state machine in vrrp/fsm; this package feeds it (adverts, timers,
// script/link/file verdicts) and performs its actions (adverts, VIPs, GARP,
// notifications, log lines). It lives below vrrp/ because the helper
// packages it drives import vrrp's config types.
package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"halo/vrrp"
	"halo/vrrp/fsm"
	"halo/vrrp/netif"
	"halo/vrrp/notify"
	"halo/vrrp/packet"
	"halo/vrrp/track"
)

const centisecond = 10 * time.Millisecond

// Logf receives one log line in Keepalived's wording, without timestamp.
type Logf func(format string, args ...any)

type evKind int

const (
	evAdvert evKind = iota
	evFire
	evScript
	evIface
	evFile
	evProcess
	evCall // run fn on the loop goroutine
	evStop // SIGTERM: the engine's Stop, then the loop ends
	evQuit // reload: the loop ends without stopping instances
)

type event struct {
	kind  evKind
	inst  int
	adv   fsm.Advert
	timer fsm.Timer
	name  string
	ok    bool
	value int
	fn    func()
	done  chan struct{}
}

type timerKey struct {
	inst int
	kind fsm.TimerKind
}

// StateObserver hears every instance state change, in order. It is
// called on the speaker's loop and must not block. Keepalived's LVS side
// is the user: lvs_sync_daemon's "inst" follows one instance (master or
// backup sync daemon).
type StateObserver interface {
	InstanceState(name string, st vrrp.State)
}

// Speaker runs a configuration until Stop.
type Speaker struct {
	// Detail prints the lines keepalived prints only with -D.
	Detail bool
	// Observer, when set before Start, hears the instances' states.
	Observer StateObserver

	cfg  *vrrp.Config
	logf Logf

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	notifier *notify.Notifier
	scripts  map[string]*track.Script
	files    map[string]*track.File
	procs    *track.Processes
	fw       *netif.Firewall // no_accept: drops packets to the VIPs
	links    *track.Links

	eng    *fsm.Engine
	ports  []*port
	bus    *bus
	timers map[timerKey]*time.Timer // loop goroutine only
	armed  map[timerKey]fsm.Timer   // loop goroutine only
	carry  map[string]vrrp.State    // states kept over a reload
}

// New checks what can be checked before anything changes on the host.
func New(cfg *vrrp.Config, logf Logf) (*Speaker, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	// No vrrp_instance is not an error: keepalived then runs without VRRP
	// work (an LVS-only file) and a reload may add instances.
	return &Speaker{cfg: cfg, logf: logf}, nil
}

// bus carries events to one generation of the loop. Goroutines capture
// their generation's bus, so a late event after a reload never reaches the
// next loop.
type bus struct {
	events chan event
	done   chan struct{} // closed when the loop has ended
}

// post hands an event to the loop; it gives up once the loop has ended.
func (b *bus) post(ev event) {
	select {
	case b.events <- ev:
	case <-b.done:
	}
}

func (s *Speaker) post(ev event) { s.bus.post(ev) }

func advertInt(ic *vrrp.Instance) time.Duration {
	if ic.AdvertInt > 0 {
		return ic.AdvertInt
	}
	return time.Second
}

// fsmConfig maps one instance onto the state machine's view of it.
func (s *Speaker) fsmConfig(ic *vrrp.Instance, p *port) fsm.Config {
	g := &s.cfg.Global
	c := fsm.Config{
		Name: ic.Name, VRID: uint8(ic.VRID), Version: int(p.adv.Version), Priority: ic.Priority,
		AdvertInt: advertInt(ic), InitialState: fsm.State(ic.InitialState),
		NoPreempt: ic.NoPreempt, PreemptDelay: ic.PreemptDelay, Strict: g.Strict,
		Addr: p.src, Interface: ic.Interface, DontTrackPrimary: ic.DontTrackPrimary,
		GARPDelay:         garpDelay(ic.GARPMasterDelay, g.GARPMasterDelay),
		GARPRepeat:        firstInt(ic.GARPMasterRepeat, g.GARPMasterRepeat, 5),
		GARPRefresh:       firstDur(ic.GARPMasterRefresh, g.GARPMasterRefresh, 0),
		GARPRefreshRepeat: firstInt(ic.GARPMasterRefreshRepeat, g.GARPMasterRefreshRepeat, 1),
		// 0 is the fsm's default (the garp_master_* values), -1 none.
		GARPLowerPrioDelay: ic.GARPLowerPrioDelay, GARPLowerPrioRepeat: ic.GARPLowerPrioRepeat,
		LowerPrioNoAdvert: ic.LowerPrioNoAdvert, HigherPrioSendAdvert: ic.HigherPrioSendAdvert,
		DownTimerAdverts: ic.DownTimerAdverts,
		GARPExtraIf:      ic.GARPExtraIf,
	}
	if c.InitialState != fsm.Master {
		c.InitialState = fsm.Backup
	}
	for _, list := range [][]vrrp.VIP{ic.VIPs, ic.ExcludedVIPs} {
		for _, v := range list {
			c.VIPs = append(c.VIPs, fsm.VIP{Addr: v.Prefix.Addr(), Dev: netif.VIPDev(v, p.vipIf)})
		}
	}
	c.Trackers = s.trackers(ic.TrackScripts, ic.TrackInterfaces, ic.TrackFiles, ic.TrackProcesses)
	return c
}

// isVMAC says whether dev is a VMAC interface one of the instances made
// (keepalived's ifp->is_ours).
func (s *Speaker) isVMAC(dev string) bool {
	for _, p := range s.ports {
		if p != nil && p.vmac != "" && p.vmac == dev {
			return true
		}
	}
	return false
}

// trackers maps track_script/interface/file/process references (an
// instance's or a sync group's) onto the state machine's trackers.
func (s *Speaker) trackers(scripts, ifaces, files, procs []vrrp.TrackRef) []fsm.Tracker {
	out := s.scriptTrackers(scripts)
	for _, r := range ifaces {
		out = append(out, fsm.Tracker{Kind: fsm.TrackInterface, Name: r.Name, Weight: r.Weight, Reverse: r.Reverse})
	}
	for _, r := range files {
		w := 0
		if tf := s.cfg.TrackFiles[r.Name]; tf != nil {
			w = tf.Weight
		}
		if r.HasWeight {
			w = r.Weight
		}
		out = append(out, fsm.Tracker{Kind: fsm.TrackFile, Name: r.Name, Weight: w, Reverse: r.Reverse})
	}
	for _, r := range procs {
		tp := s.cfg.TrackProcesses[r.Name]
		if tp == nil {
			continue
		}
		w, rev := tp.Weight, tp.Reverse
		if r.HasWeight {
			w, rev = r.Weight, r.Reverse
		}
		out = append(out, fsm.Tracker{Kind: fsm.TrackProcess, Name: r.Name, Weight: w, Reverse: rev})
	}
	return out
}

func (s *Speaker) scriptTrackers(refs []vrrp.TrackRef) []fsm.Tracker {
	var out []fsm.Tracker
	for _, r := range refs {
		sc := s.cfg.Scripts[r.Name]
		if sc == nil {
			continue
		}
		w, rev := sc.Weight, sc.Reverse
		if r.HasWeight {
			w, rev = r.Weight, r.Reverse
		}
		out = append(out, fsm.Tracker{Kind: fsm.TrackScript, Name: r.Name, Weight: w, Reverse: rev})
	}
	return out
}

// garpDelay is garp_master_delay: the instance's, else the global one,
// else 5 s; a negative value (a written 0) means no second burst.
func garpDelay(inst, global time.Duration) time.Duration {
	for _, d := range []time.Duration{inst, global} {
		switch {
		case d < 0:
			return 0
		case d > 0:
			return d
		}
	}
	return 5 * time.Second
}

func firstDur(v ...time.Duration) time.Duration {
	for _, d := range v[:len(v)-1] {
		if d > 0 {
			return d
		}
	}
	return v[len(v)-1]
}

func firstInt(v ...int) int {
	for _, d := range v[:len(v)-1] {
		if d > 0 {
			return d
		}
	}
	return v[len(v)-1]
}

// Start brings every instance up (leftover VIPs removed, BACKUP or FAULT
// state) and returns; the instances run in the background.
func (s *Speaker) Start() error {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	b := &bus{events: make(chan event, 256), done: make(chan struct{})}
	s.bus = b
	s.timers, s.armed = map[timerKey]*time.Timer{}, map[timerKey]fsm.Timer{}
	g := &s.cfg.Global
	fail := func(err error) error {
		for _, p := range s.ports {
			p.conn.Close()
		}
		s.ports = nil
		s.cancel()
		close(b.done)
		return err
	}

	cred, err := track.LookupUser(g.ScriptUser, g.ScriptGroup)
	if err != nil {
		s.logf("%v", err)
	}
	if !g.EnableScriptSecurity && cred.UID == 0 && s.hasScripts() {
		s.logf("SECURITY VIOLATION - scripts are being executed but script_security not enabled.")
	}
	if s.notifier, err = notify.New(s.ctx, g, cred, s.logf); err != nil {
		s.logf("%v", err)
		s.notifier, _ = notify.New(s.ctx, &vrrp.Global{}, cred, s.logf)
	}

	s.setupFirewall()
	s.ports = nil
	for i, ic := range s.cfg.Instances {
		p, err := newPort(s, i, ic)
		if err != nil {
			return fail(fmt.Errorf("(%s) %w", ic.Name, err))
		}
		s.ports = append(s.ports, p)
	}
	cfgs := make([]fsm.Config, len(s.ports))
	for i, p := range s.ports {
		cfgs[i] = s.fsmConfig(p.cfg, p)
	}
	var groups []fsm.GroupConfig
	for _, sg := range s.cfg.SyncGroups {
		groups = append(groups, fsm.GroupConfig{Name: sg.Name, Members: sg.Instances,
			Trackers: s.trackers(sg.TrackScripts, sg.TrackInterfaces, sg.TrackFiles, sg.TrackProcesses)})
	}
	eng, warnings, err := fsm.NewEngine(cfgs, groups)
	if err != nil {
		return fail(err)
	}
	for _, w := range warnings {
		s.logf("%s", w)
	}
	s.eng = eng

	// Trackers: scripts, files, links. Their first verdicts go in before
	// Start, as keepalived's initial tracker states.
	s.scripts = map[string]*track.Script{}
	var refs []vrrp.TrackRef
	for _, ic := range s.cfg.Instances {
		refs = append(refs, ic.TrackScripts...)
	}
	for _, sg := range s.cfg.SyncGroups {
		refs = append(refs, sg.TrackScripts...)
	}
	for _, ref := range refs {
		sc := s.cfg.Scripts[ref.Name]
		if sc == nil || s.scripts[ref.Name] != nil {
			continue
		}
		if sc.Name == "" {
			sc.Name = ref.Name
		}
		c := cred
		if sc.User != "" {
			if c2, err := track.LookupUser(sc.User, sc.Group); err == nil {
				c = c2
			} else {
				s.logf("%v", err)
			}
		}
		if g.EnableScriptSecurity {
			path, err := track.Resolve(track.SplitCommand(sc.Command))
			if err != nil {
				s.logf("Disabling track script %s since not found/accessible", sc.Name)
				continue
			}
			if err := track.CheckSecure(path, c); err != nil {
				s.logf("Unsafe permissions found for script '%s' (%v) - disabling.", sc.Command, err)
				continue
			}
		}
		runner := track.NewScript(sc, c, s.logf)
		runner.OnChange = func(r *track.Script, st track.ScriptState) {
			b.post(event{kind: evScript, name: r.Cfg.Name, ok: st != track.ScriptFailed})
		}
		s.scripts[ref.Name] = runner
		if runner.Failed() { // init_fail
			eng.Script(time.Now(), sc.Name, false)
		}
	}
	s.files = map[string]*track.File{}
	var fileRefs, procRefs []vrrp.TrackRef
	var ifnames []string
	for _, ic := range s.cfg.Instances {
		fileRefs = append(fileRefs, ic.TrackFiles...)
		procRefs = append(procRefs, ic.TrackProcesses...)
		ifnames = append(ifnames, ic.Interface)
		for _, ref := range ic.TrackInterfaces {
			ifnames = append(ifnames, ref.Name)
		}
	}
	for _, sg := range s.cfg.SyncGroups {
		fileRefs = append(fileRefs, sg.TrackFiles...)
		procRefs = append(procRefs, sg.TrackProcesses...)
		for _, ref := range sg.TrackInterfaces {
			ifnames = append(ifnames, ref.Name)
		}
	}
	{
		for _, ref := range fileRefs {
			tf := s.cfg.TrackFiles[ref.Name]
			if tf == nil || s.files[ref.Name] != nil {
				continue
			}
			name := ref.Name
			f := track.NewFile(tf.Path, tf.InitValue, func(_ *track.File, v int) { b.post(event{kind: evFile, name: name, value: v}) })
			s.files[name] = f
			eng.File(time.Now(), name, f.Value())
		}
	}
	// vrrp_track_process: the first scan's states go in before Start.
	var tps []*vrrp.TrackProcess
	seenTP := map[string]bool{}
	for _, ref := range procRefs {
		if tp := s.cfg.TrackProcesses[ref.Name]; tp != nil && !seenTP[ref.Name] {
			seenTP[ref.Name] = true
			tps = append(tps, tp)
		}
	}
	s.procs = nil
	if len(tps) > 0 {
		s.procs = track.NewProcesses(tps)
		s.procs.OnChange = func(name string, up bool) { b.post(event{kind: evProcess, name: name, ok: up}) }
		s.procs.Init()
		for _, tp := range tps {
			eng.Process(time.Now(), tp.Name, s.procs.Up(tp.Name))
		}
	}
	s.links, err = track.WatchLinks(s.ctx, ifnames, func(name string, up bool) {
		st := "down"
		if up {
			st = "up"
		}
		s.logf("Netlink reports %s %s", name, st)
		b.post(event{kind: evIface, name: name, ok: up})
	})
	if err != nil {
		return fail(fmt.Errorf("netlink link monitor: %w", err))
	}
	for _, n := range ifnames {
		eng.Interface(time.Now(), n, s.links.Up(n))
	}

	s.addStatics()

	// Start removes VIPs left over from a crash (or a kill -9) first, as
	// keepalived does ("removing VIPs."). After a reload, Resume keeps the
	// instances whose identity did not change in their state, silently, as
	// keepalived does: a MASTER re-asserts its VIPs (idempotent) and
	// advertises at once, so the peers never see a gap.
	if len(s.carry) == 0 {
		s.exec(eng.Start(time.Now()))
	} else {
		carry := make(map[string]fsm.State, len(s.carry))
		for n, st := range s.carry {
			carry[n] = fsm.State(st)
		}
		s.exec(eng.Resume(time.Now(), carry))
	}
	s.carry = nil

	go s.loop(b)
	for _, p := range s.ports {
		s.wg.Go(func() {
			p.readLoop(func(idx int, a *packet.Advert) {
				b.post(event{kind: evAdvert, inst: idx, adv: fsm.Advert{Src: a.Src, Priority: a.Priority, Interval: a.IntervalDuration()}})
			})
		})
	}
	for _, sc := range s.scripts {
		s.wg.Go(func() { sc.Run(s.ctx) })
	}
	for _, f := range s.files {
		s.wg.Go(func() { f.Run(s.ctx) })
	}
	if s.procs != nil {
		s.wg.Go(func() { s.procs.Run(s.ctx) })
	}
	return nil
}

func (s *Speaker) hasScripts() bool {
	if len(s.cfg.Scripts) > 0 {
		return true
	}
	for _, in := range s.cfg.Instances {
		if in.Notify != "" || in.NotifyMaster != "" || in.NotifyBackup != "" || in.NotifyFault != "" || in.NotifyStop != "" {
			return true
		}
	}
	return false
}

// loop is the only goroutine that touches the engine and the timers.
func (s *Speaker) loop(b *bus) {
	defer close(b.done)
	for ev := range b.events {
		now := time.Now()
		switch ev.kind {
		case evAdvert:
			s.exec(s.eng.Receive(now, ev.inst, ev.adv))
		case evFire:
			s.exec(s.eng.Fire(now, ev.timer))
		case evScript:
			s.exec(s.eng.Script(now, ev.name, ev.ok))
		case evIface:
			s.exec(s.eng.Interface(now, ev.name, ev.ok))
		case evFile:
			s.exec(s.eng.File(now, ev.name, ev.value))
		case evProcess:
			what := "lost"
			if ev.ok {
				what = "gained"
			}
			s.logf("Quorum %s for tracked process %s", what, ev.name)
			s.exec(s.eng.Process(now, ev.name, ev.ok))
		case evCall:
			ev.fn()
		case evStop, evQuit:
			if ev.kind == evStop {
				s.exec(s.eng.Stop(now))
			} else if ev.fn != nil {
				ev.fn()
			}
			for k, t := range s.timers {
				t.Stop()
				delete(s.timers, k)
			}
			close(ev.done)
			return
		}
	}
}

// exec performs the engine's actions in order.
func (s *Speaker) exec(acts []fsm.Action) {
	for _, a := range acts {
		switch a.Kind {
		case fsm.ActSendAdvert:
			s.ports[a.Inst].send(a.Priority)
		case fsm.ActAddVIPs:
			p := s.ports[a.Inst]
			if p.ah != nil {
				p.ah.BecomeMaster()
			}
			p.setVIPs()
			p.vipsSet = true
		case fsm.ActRemoveVIPs:
			p := s.ports[a.Inst]
			p.stopGARP()
			p.removeVIPs()
			if p.vipsSet { // not the leftover cleanup at start
				p.stats.releaseMaster.Add(1)
			}
			p.vipsSet = false
		case fsm.ActSendGARP:
			s.ports[a.Inst].garp(a.Repeat)
		case fsm.ActSendExtraGARP:
			s.ports[a.Inst].extraGARP(s.isVMAC)
		case fsm.ActNotify:
			if a.Group >= 0 {
				s.notifier.Notify(notify.Event{Group: true, Name: a.Name, State: vrrp.State(a.State), Priority: a.Priority},
					notify.GroupScripts(s.cfg.SyncGroups[a.Group]))
				continue
			}
			if a.State == fsm.Master {
				s.ports[a.Inst].stats.becomeMaster.Add(1)
			}
			if s.Observer != nil {
				s.Observer.InstanceState(a.Name, vrrp.State(a.State))
			}
			s.notifier.Notify(notify.Event{Name: a.Name, State: vrrp.State(a.State), Priority: a.Priority},
				notify.InstanceScripts(s.cfg.Instances[a.Inst]))
		case fsm.ActLog:
			if !a.Detail || s.Detail {
				s.logf("%s", a.Text)
			}
		case fsm.ActSetTimer:
			k := timerKey{a.Timer.Inst, a.Timer.Kind}
			if t := s.timers[k]; t != nil {
				t.Stop()
			}
			tm, b := a.Timer, s.bus
			s.armed[k] = tm
			s.timers[k] = time.AfterFunc(time.Until(a.At), func() { b.post(event{kind: evFire, timer: tm}) })
		case fsm.ActCancelTimer:
			k := timerKey{a.Timer.Inst, a.Timer.Kind}
			if t := s.timers[k]; t != nil {
				t.Stop()
				delete(s.timers, k)
			}
			delete(s.armed, k)
		}
	}
}

// Stop ends every instance the way keepalived does on SIGTERM: masters send
// a priority-0 advert and remove their VIPs; notify_stop runs.
func (s *Speaker) Stop() {
	s.logf("Stopping")
	done := make(chan struct{})
	s.post(event{kind: evStop, done: done})
	select {
	case <-done:
	case <-s.bus.done:
	}
	s.shutdown()
	s.removeStatics(s.cfg, nil)
	s.closeFirewall()
	for _, p := range s.ports {
		if p.vmac != "" {
			// keepalived removes the VMAC interfaces it made at exit
			if err := netif.DeleteVMAC(p.vmac); err != nil {
				s.logf("(%s) %v", p.cfg.Name, err)
			}
		}
	}
}

// shutdown releases sockets and goroutines once the loop has ended.
func (s *Speaker) shutdown() {
	s.cancel()
	for _, p := range s.ports {
		p.conn.Close()
	}
	s.wg.Wait()
	s.notifier.Wait()
	s.notifier.Close()
}

// Reload swaps in cfg (SIGHUP). Instances whose identity (name, interface,
// VRID, family, addressing) is unchanged keep their state, so a MASTER stays
// MASTER and keeps its VIPs; instances that are gone stop as on SIGTERM.
func (s *Speaker) Reload(cfg *vrrp.Config) error {
	s.logf("Reloading")
	next := map[string]*vrrp.Instance{}
	for _, ic := range cfg.Instances {
		next[instanceKey(ic)] = ic
	}
	carry := map[string]vrrp.State{}
	done := make(chan struct{})
	s.post(event{kind: evQuit, done: done, fn: func() {
		for i, p := range s.ports {
			st := vrrp.State(s.eng.State(i))
			nic, kept := next[instanceKey(p.cfg)]
			switch {
			case kept:
				carry[p.cfg.Name] = st
				if st != vrrp.StateMaster {
					continue
				}
				// VIPs and routes the new configuration dropped go now.
				for _, v := range append(append([]vrrp.VIP(nil), p.cfg.VIPs...), p.cfg.ExcludedVIPs...) {
					if !hasVIP(nic.VIPs, v) && !hasVIP(nic.ExcludedVIPs, v) {
						_ = netif.DelVIP(netif.VIPDev(v, p.vipIf), v)
					}
				}
			case st == vrrp.StateMaster:
				p.send(0)
				s.logf("(%s) sent 0 priority", p.cfg.Name)
				s.logf("(%s) removing VIPs.", p.cfg.Name)
				p.removeVIPs()
			}
		}
	}})
	select {
	case <-done:
	case <-s.bus.done:
	}
	s.shutdown()
	s.removeStatics(s.cfg, cfg)
	s.closeFirewall()
	s.cfg, s.carry = cfg, carry
	return s.Start()
}

func instanceKey(ic *vrrp.Instance) string {
	return fmt.Sprintf("%s|%s|%d|%d|%d|%v|%v|%s|%v", ic.Name, ic.Interface, ic.VRID, ic.Family, ic.Version, ic.UnicastSrcIP, ic.UnicastPeers, ic.UseVMAC, ic.VMACXmitBase)
}

func hasVIP(list []vrrp.VIP, v vrrp.VIP) bool {
	for _, x := range list {
		if x.Prefix == v.Prefix && x.Dev == v.Dev {
			return true
		}
	}
	return false
}

// Instances returns a snapshot of every instance, in config order.
func (s *Speaker) Instances() []Snapshot {
	out := make([]Snapshot, len(s.ports))
	for i, p := range s.ports {
		out[i] = Snapshot{Name: p.cfg.Name, State: vrrp.StateStop, Priority: p.cfg.Priority, EffectivePriority: p.cfg.Priority,
			Interface: p.cfg.Interface, VRID: p.cfg.VRID, Stats: p.stats.snapshot()}
	}
	done := make(chan struct{})
	s.post(event{kind: evCall, fn: func() {
		for i := range out {
			out[i].State = vrrp.State(s.eng.State(i))
			out[i].EffectivePriority = s.eng.Priority(i)
			out[i].MasterAddr = s.eng.MasterAddr(i)
		}
		close(done)
	}})
	select {
	case <-done:
	case <-s.bus.done:
	}
	return out
}

// Snapshot is one instance's state for dumps and tests.
type Snapshot struct {
	Name              string
	State             vrrp.State
	Priority          int
	EffectivePriority int
	Interface         string
	VRID              int
	Stats             Stats
	MasterAddr        netip.Addr
}
