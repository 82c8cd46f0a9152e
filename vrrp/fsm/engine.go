package fsm

import (
	"fmt"
	"net/netip"
	"time"
)

const (
	prioOwner = 255 // RFC 3768 5.3.4: the address owner
	prioStop  = 0   // RFC 3768 5.3.4: "stop participating"
	centisec  = 10 * time.Millisecond
)

type trackState struct {
	Tracker
	known   bool // a state has been reported
	value   int  // the last reported value (1/0 for up/down)
	contrib int  // current addition to the total priority
	fault   bool // currently holding the instance in FAULT
}

// holdsInit: an unweighted script not yet run keeps its instance out of the
// election (Keepalived's num_script_init): silently in FAULT until the
// script's first result.
func (t *trackState) holdsInit() bool {
	return !t.known && t.Kind == TrackScript && t.Weight == 0
}

type instance struct {
	idx   int
	cfg   Config
	state State
	want  State // Keepalived's wantstate: where the instance would be disregarding its sync group
	base  int   // configured priority (lowered to 254 by an owner conflict)
	total int   // base + tracker contributions
	eff   int   // effective priority: total clamped to 1..254, or 255 for the owner

	masterAdverInt time.Duration // the interval the current master advertises (v3)
	msDownTimer    time.Duration // Keepalived's ms_down_timer
	preemptAt      time.Time     // preempt_delay expiry; zero: not running
	masterAddr     netip.Addr
	masterPrio     int
	vipSet         bool
	refreshAt      time.Time // next garp_master_refresh
	extraAt        time.Time // next garp_extra_if
	faults         int       // trackers currently holding the instance down
	inits          int       // unweighted scripts that have not reported yet
	tracks         []trackState
	group          *group
	notified       State // last state notified, to notify once per change
	notifiedAny    bool

	gen   [numTimers]uint64
	armed [numTimers]bool
	at    [numTimers]time.Time
}

type group struct {
	idx      int
	cfg      GroupConfig
	members  []*instance
	state    State
	numFault int // members with faults > 0
}

// Engine runs every vrrp_instance and vrrp_sync_group of one Keepalived
// process. It is not safe for concurrent use; the daemon feeds it from one
// goroutine.
type Engine struct {
	inst    []*instance
	groups  []*group
	byName  map[string]int
	now     time.Time
	out     []Action
	started bool
	stopped bool
}

// NewEngine completes the configuration as Keepalived does
// (vrrp_complete_instance) and returns the engine, the warnings Keepalived
// logs while doing so (in its wording), and an error for a configuration the
// engine cannot run (compat has normally refused it already).
func NewEngine(cfgs []Config, groups []GroupConfig) (*Engine, []string, error) {
	e := &Engine{byName: make(map[string]int, len(cfgs))}
	var warn []string
	for i, c := range cfgs {
		if c.Name == "" {
			return nil, nil, fmt.Errorf("instance %d has no name", i)
		}
		if _, dup := e.byName[c.Name]; dup {
			return nil, nil, fmt.Errorf("(%s) duplicate instance", c.Name)
		}
		if c.VRID == 0 {
			return nil, nil, fmt.Errorf("(%s) the virtual router id must be set", c.Name)
		}
		if c.Version == 0 {
			c.Version = 2
		}
		if c.Version != 2 && c.Version != 3 {
			return nil, nil, fmt.Errorf("(%s): Version must be either 2 or 3", c.Name)
		}
		if c.Priority < 1 || c.Priority > prioOwner {
			return nil, nil, fmt.Errorf("(%s) Priority not valid! must be between 1 & %d", c.Name, prioOwner)
		}
		if c.AdvertInt <= 0 {
			c.AdvertInt = time.Second
		}
		if c.GARPRepeat <= 0 {
			c.GARPRepeat = 5
		}
		if c.GARPRefreshRepeat <= 0 {
			c.GARPRefreshRepeat = 1
		}
		if c.DownTimerAdverts <= 0 {
			c.DownTimerAdverts = 3
		}
		// garp_lower_prio_* default to the garp_master_* values.
		switch {
		case c.GARPLowerPrioRepeat == 0:
			c.GARPLowerPrioRepeat = c.GARPRepeat
		case c.GARPLowerPrioRepeat < 0:
			c.GARPLowerPrioRepeat = 0
		}
		switch {
		case c.GARPLowerPrioDelay == 0:
			c.GARPLowerPrioDelay = c.GARPDelay
		case c.GARPLowerPrioDelay < 0:
			c.GARPLowerPrioDelay = 0
		}
		in := &instance{idx: i, cfg: c, state: Init, base: c.Priority}
		// vrrp_complete_instance, in Keepalived 2.2's order and words.
		if in.base == prioOwner && c.NoPreempt {
			warn = append(warn, fmt.Sprintf("(%s) nopreempt is incompatible with priority %d. resetting nopreempt", c.Name, prioOwner))
			in.cfg.NoPreempt = false
		}
		in.want = Backup
		if c.InitialState == Master {
			in.want = Master
			if c.Strict && in.base != prioOwner {
				warn = append(warn, fmt.Sprintf("(%s) State MASTER must match being address owner", c.Name))
				in.want = Backup
			}
		}
		if in.want == Master {
			if in.cfg.NoPreempt {
				warn = append(warn, fmt.Sprintf("(%s) Warning - nopreempt will not work with initial state MASTER - clearing", c.Name))
				in.cfg.NoPreempt = false
			}
			if in.cfg.PreemptDelay > 0 {
				warn = append(warn, fmt.Sprintf("(%s) Warning - preempt delay will not work with initial state MASTER - clearing", c.Name))
				in.cfg.PreemptDelay = 0
			}
		}
		if in.cfg.PreemptDelay > 0 {
			if c.Strict {
				warn = append(warn, fmt.Sprintf("(%s) preempt_delay is incompatible with strict mode - resetting", c.Name))
				in.cfg.PreemptDelay = 0
			} else if in.cfg.NoPreempt {
				warn = append(warn, fmt.Sprintf("(%s) preempt_delay is incompatible with nopreempt mode - resetting", c.Name))
				in.cfg.PreemptDelay = 0
			}
		}
		in.total, in.eff = in.base, in.base
		in.masterAdverInt = c.AdvertInt
		for _, t := range c.Trackers {
			in.tracks = append(in.tracks, trackState{Tracker: t})
		}
		e.byName[c.Name] = i
		e.inst = append(e.inst, in)
	}
	for gi, gc := range groups {
		g := &group{idx: gi, cfg: gc, state: Backup}
		for _, name := range gc.Members {
			i, ok := e.byName[name]
			if !ok {
				warn = append(warn, fmt.Sprintf("Virtual router %s specified in sync group %s doesn't exist - ignoring", name, gc.Name))
				continue
			}
			in := e.inst[i]
			if in.group != nil {
				warn = append(warn, fmt.Sprintf("Virtual router %s cannot exist in more than one sync group; ignoring %s", name, gc.Name))
				continue
			}
			in.group = g
			g.members = append(g.members, in)
			for _, t := range gc.Trackers {
				in.tracks = append(in.tracks, trackState{Tracker: t})
			}
		}
		if len(g.members) <= 1 {
			if len(g.members) == 1 {
				warn = append(warn, fmt.Sprintf("Sync group %s has only 1 virtual router(s) - this probably isn't what you want", gc.Name))
			} else {
				warn = append(warn, fmt.Sprintf("Sync group %s has no virtual router(s) - removing", gc.Name))
				continue
			}
		}
		e.groups = append(e.groups, g)
	}
	// The instance's own interface is tracked with weight 0 unless
	// dont_track_primary, or unless it is tracked explicitly.
	for _, in := range e.inst {
		if in.cfg.Interface == "" || in.cfg.DontTrackPrimary {
			continue
		}
		found := false
		for _, t := range in.tracks {
			if t.Kind == TrackInterface && t.Name == in.cfg.Interface {
				found = true
			}
		}
		if !found {
			in.tracks = append(in.tracks, trackState{Tracker: Tracker{Kind: TrackInterface, Name: in.cfg.Interface}})
		}
	}
	for _, in := range e.inst {
		for j := range in.tracks {
			if in.tracks[j].holdsInit() {
				in.inits++
			}
		}
	}
	return e, warn, nil
}

// Index returns the index of the named instance, or -1.
func (e *Engine) Index(name string) int {
	if i, ok := e.byName[name]; ok {
		return i
	}
	return -1
}

// Len is the number of instances.
func (e *Engine) Len() int { return len(e.inst) }

// Name is instance i's name.
func (e *Engine) Name(i int) string { return e.inst[i].cfg.Name }

// State is instance i's state.
func (e *Engine) State(i int) State { return e.inst[i].state }

// Priority is instance i's effective priority (what its adverts carry).
func (e *Engine) Priority(i int) int { return e.inst[i].eff }

// MasterAddr is the source of the last advert instance i accepted (for
// skip_check_adv_addr and status dumps).
func (e *Engine) MasterAddr(i int) netip.Addr { return e.inst[i].masterAddr }

// MasterAdvertInt is the interval instance i currently expects from the
// master: VRRPv3 backups adopt the master's (RFC 5798 6.4.2).
func (e *Engine) MasterAdvertInt(i int) time.Duration { return e.inst[i].masterAdverInt }

// GroupState is sync group g's state.
func (e *Engine) GroupState(g int) State { return e.groups[g].state }

// begin starts an event: actions accumulate in e.out until done.
func (e *Engine) begin(now time.Time) {
	e.now = now
	e.out = nil
}

func (e *Engine) done() []Action {
	out := e.out
	e.out = nil
	return out
}

func (e *Engine) emit(a Action) { e.out = append(e.out, a) }

func (e *Engine) log(detail bool, format string, args ...any) {
	e.emit(Action{Kind: ActLog, Inst: -1, Group: -1, Text: fmt.Sprintf(format, args...), Detail: detail})
}

func (e *Engine) act(in *instance, k ActionKind) Action {
	return Action{Kind: k, Inst: in.idx, Group: -1, Name: in.cfg.Name}
}

func (e *Engine) sendAdvert(in *instance, prio int) {
	a := e.act(in, ActSendAdvert)
	a.Priority = prio
	e.emit(a)
}

func (e *Engine) notify(in *instance) {
	if in.notifiedAny && in.notified == in.state {
		return
	}
	in.notified, in.notifiedAny = in.state, true
	a := e.act(in, ActNotify)
	a.State, a.Priority = in.state, in.eff
	e.emit(a)
}

func (e *Engine) groupNotify(g *group) {
	e.emit(Action{Kind: ActNotify, Inst: -1, Group: g.idx, Name: g.cfg.Name, State: g.state})
}

func (e *Engine) setTimer(in *instance, k TimerKind, at time.Time) {
	if in.armed[k] && in.at[k].Equal(at) {
		return
	}
	in.gen[k]++
	in.armed[k], in.at[k] = true, at
	a := e.act(in, ActSetTimer)
	a.Timer, a.At = Timer{Inst: in.idx, Kind: k, Gen: in.gen[k]}, at
	e.emit(a)
}

func (e *Engine) cancelTimer(in *instance, k TimerKind) {
	if !in.armed[k] {
		return
	}
	in.gen[k]++
	in.armed[k] = false
	a := e.act(in, ActCancelTimer)
	a.Timer = Timer{Inst: in.idx, Kind: k, Gen: in.gen[k]}
	e.emit(a)
}

// skew is Keepalived's VRRP_TIMER_SKEW for priority pri_val = 256-prio, in
// its integer microseconds: v2 (256-prio)/256 s (RFC 3768 6.1), v3
// ((256-prio) x Master_Adver_Interval)/256 with the interval in centiseconds
// (RFC 5798 6.1).
func (in *instance) skewFor(prio int) time.Duration {
	if in.cfg.Version == 3 {
		cs := int64(in.masterAdverInt / centisec)
		return time.Duration(int64(256-prio)*cs*625/16) * time.Microsecond
	}
	return time.Duration(int64(256-prio)*1000000/256) * time.Microsecond
}

func (in *instance) skew() time.Duration { return in.skewFor(in.eff) }

// downInterval is the Master_Down_Interval: 3 x Master_Adver_Interval +
// Skew_Time (vrrp_down_timer_adverts replaces the 3).
func (in *instance) downInterval() time.Duration {
	return time.Duration(in.cfg.DownTimerAdverts)*in.masterAdverInt + in.skew()
}

// initSands is vrrp_init_instance_sands: arm the timer the state needs.
func (e *Engine) initSands(in *instance) {
	switch in.state {
	case Master:
		e.cancelTimer(in, TimerMasterDown)
		e.setTimer(in, TimerAdvert, e.now.Add(in.cfg.AdvertInt))
	case Backup:
		e.cancelTimer(in, TimerAdvert)
		e.setTimer(in, TimerMasterDown, e.now.Add(in.msDownTimer))
	default:
		e.cancelTimer(in, TimerAdvert)
		e.cancelTimer(in, TimerMasterDown)
	}
}

// Start leaves INIT: every instance enters BACKUP (or FAULT) and arms its
// master down timer, even with `state MASTER` (Keepalived 2.2 elects through
// the timer: 3 x advert_int + skew). Only the address owner (priority 255)
// takes over at once. Tracker states reported before Start are applied.
func (e *Engine) Start(now time.Time) []Action { return e.start(now, nil) }

// Resume starts the engine after a configuration reload (SIGHUP): carry
// holds the states of the previous engine's instances by name. As
// Keepalived 2.2 does, an instance carried as MASTER stays MASTER without
// a state line, notification or GARP ("setting VIPs." re-asserts its VIPs,
// and it advertises at once, with its new priority); one carried as BACKUP
// stays BACKUP silently with a fresh master down timer. Instances not
// carried, or that cannot keep their state (now in FAULT, held by scripts),
// start as with Start.
func (e *Engine) Resume(now time.Time, carry map[string]State) []Action {
	return e.start(now, carry)
}

func (e *Engine) start(now time.Time, carry map[string]State) []Action {
	e.begin(now)
	if e.started || e.stopped {
		return e.done()
	}
	e.started = true
	for _, g := range e.groups {
		g.numFault = 0
		owners, inits := true, false
		carried, allMaster := true, true
		for _, m := range g.members {
			st, ok := carry[m.cfg.Name]
			carried = carried && ok
			allMaster = allMaster && st == Master
			if m.faults > 0 {
				g.numFault++
			}
			if m.inits > 0 {
				inits = true
			}
			if m.want != Master || m.base != prioOwner {
				owners = false
			}
		}
		switch {
		case g.numFault > 0:
			g.state = Fault
		case inits:
			g.state = Init // waiting for scripts: no group notification yet
		case owners || (carried && allMaster):
			g.state = Master
		default:
			g.state = Backup
		}
		if g.state == Backup && !carried {
			e.groupNotify(g)
		}
	}
	// kept tells whether a reload keeps instance in's state.
	kept := func(in *instance) (State, bool) {
		st, ok := carry[in.cfg.Name]
		if !ok || in.faults > 0 || in.inits > 0 || in.group != nil && (in.group.state == Init || in.group.state == Fault) {
			return 0, false
		}
		if st == Master && (in.group == nil || in.group.state == Master) || st == Backup {
			return st, true
		}
		return 0, false
	}
	// Keepalived first reports the instances its trackers hold down, then
	// clears any VIPs a previous run left behind, for every instance, then
	// enters the initial states.
	synced := map[*group]bool{}
	for _, in := range e.inst {
		if in.faults == 0 {
			continue
		}
		for j := range in.tracks {
			if t := &in.tracks[j]; t.fault {
				e.faultReason(in, t)
			}
		}
		if g := in.group; g != nil && !synced[g] {
			synced[g] = true
			e.log(false, "VRRP_Group(%s): Syncing %s to FAULT state", g.cfg.Name, in.cfg.Name)
		}
	}
	for _, in := range e.inst {
		if in.faults > 0 {
			in.state, in.want = Fault, Fault
		} else if in.group != nil && in.group.state == Fault {
			in.state = Fault // held by its sync group
		} else {
			continue
		}
		e.log(false, "(%s) entering FAULT state", in.cfg.Name)
		e.notify(in)
	}
	for _, g := range e.groups {
		if g.state == Fault {
			e.groupNotify(g)
		}
	}
	for _, in := range e.inst {
		if _, ok := kept(in); !ok {
			e.removeVIPs(in)
		}
	}
	for _, in := range e.inst {
		isUp := in.faults == 0
		held := in.inits > 0 || (in.group != nil && in.group.state == Init)
		newState := in.want
		if in.group != nil {
			newState = in.group.state
		}
		in.masterAdverInt = in.cfg.AdvertInt
		if st, ok := kept(in); ok {
			switch st {
			case Master:
				in.state, in.want = Master, Master
				in.notified, in.notifiedAny = Master, true
				e.vipLog(in, "sett")
				e.emit(e.act(in, ActAddVIPs))
				in.vipSet = true
				if in.cfg.GARPRefresh > 0 {
					in.refreshAt = e.now.Add(in.cfg.GARPRefresh)
				}
				in.extraAt = e.now.Add(in.cfg.GARPExtraIf)
				e.setTimer(in, TimerAdvert, e.now) // advertise at once
				continue
			case Backup:
				in.state = Backup
				in.notified, in.notifiedAny = Backup, true
				in.msDownTimer = in.downInterval()
				e.initSands(in)
				continue
			}
		}
		if isUp && !held && newState == Master && in.base == prioOwner && in.want == Master {
			// The address owner with `state MASTER` (RFC 3768 6.4.1): "The
			// simplest way to become master is to timeout from the backup
			// state very quickly (1usec)." An owner left in `state BACKUP`
			// elects through the timer like everyone else.
			in.state = Backup
			in.msDownTimer = time.Microsecond
			e.initSands(in)
			continue
		}
		if newState == Backup && in.want == Master {
			in.msDownTimer = in.masterAdverInt + in.skewFor(prioOwner)
		} else {
			in.msDownTimer = in.downInterval()
		}
		switch {
		case isUp && !held && newState != Fault:
			e.log(false, "(%s) Entering BACKUP STATE (init)", in.cfg.Name)
			in.state = Backup
			e.notify(in)
		case !isUp:
			// reported above
		case held:
			in.state = Fault // silently, until the scripts report
		default:
			// in a sync group in FAULT: reported above
		}
		e.initSands(in)
	}
	return e.done()
}

// Receive handles an advert for instance i that passed the packet checks
// (packet.Expect.Check). Adverts are ignored in INIT, FAULT and STOP.
func (e *Engine) Receive(now time.Time, i int, adv Advert) []Action {
	e.begin(now)
	if i < 0 || i >= len(e.inst) || !e.started || e.stopped {
		return e.done()
	}
	in := e.inst[i]
	// Keepalived compares and prints the bare address (a link-local
	// source may come with its zone).
	adv.Src = adv.Src.WithZone("")
	prev := in.state
	switch in.state {
	case Backup:
		e.backupRx(in, adv)
	case Master:
		if e.masterRx(in, adv) {
			e.leaveMaster(in, false)
		}
	default:
		return e.done()
	}
	e.tsm(prev, in)
	if in.state != Master {
		e.initSands(in)
	}
	return e.done()
}

// backupRx is vrrp_state_backup (RFC 3768 6.4.2, RFC 5798 6.4.2).
func (e *Engine) backupRx(in *instance, adv Advert) {
	prio := int(adv.Priority)
	switch {
	case prio == prioStop:
		// The master is leaving: take over after Skew_Time.
		e.log(true, "(%s) Backup received priority 0 advertisement", in.cfg.Name)
		in.msDownTimer = in.skew()
	case in.cfg.NoPreempt || prio >= in.eff ||
		(in.cfg.PreemptDelay > 0 && (in.preemptAt.IsZero() || in.preemptAt.After(e.now))):
		if in.cfg.Version == 3 && adv.Interval > 0 && adv.Interval != in.masterAdverInt {
			e.log(true, "(%s) advertisement interval updated from %dms to %dms by master",
				in.cfg.Name, in.masterAdverInt.Milliseconds(), adv.Interval.Milliseconds())
			in.masterAdverInt = adv.Interval
		}
		in.msDownTimer = in.downInterval()
		in.masterAddr, in.masterPrio = adv.Src, prio
		if in.cfg.PreemptDelay > 0 {
			if prio >= in.eff {
				if !in.preemptAt.IsZero() {
					e.log(true, "(%s) stop preempt delay", in.cfg.Name)
					in.preemptAt = time.Time{}
				}
			} else if in.preemptAt.IsZero() {
				us := in.cfg.PreemptDelay.Microseconds()
				e.log(true, "(%s) start preempt delay (%d.%06d)", in.cfg.Name, us/1000000, us%1000000)
				in.preemptAt = e.now.Add(in.cfg.PreemptDelay)
			}
		}
		in.want = Backup
	default:
		// Preemption: a lower-priority master is ignored, so the down
		// timer runs out and we take over.
		e.log(false, "(%s) received lower priority (%d) advert from %s - discarding", in.cfg.Name, prio, adv.Src)
		in.masterAddr = adv.Src
		in.msDownTimer = e.remaining(in)
	}
}

// remaining keeps the master down deadline where it is.
func (e *Engine) remaining(in *instance) time.Duration {
	if !in.armed[TimerMasterDown] {
		return in.msDownTimer
	}
	d := in.at[TimerMasterDown].Sub(e.now)
	if d < 0 {
		d = 0
	}
	return d
}

// masterRx is vrrp_state_master_rx (RFC 3768 6.4.3, RFC 5798 6.4.3); true
// means leave MASTER for BACKUP.
func (e *Engine) masterRx(in *instance, adv Advert) bool {
	prio := int(adv.Priority)
	cmp := adv.Src.Compare(in.cfg.Addr.WithZone(""))
	if !in.cfg.Addr.IsValid() {
		cmp = 0
	}
	if prio == prioStop || (in.cfg.HigherPrioSendAdvert && (prio > in.eff || (prio == in.eff && cmp > 0))) {
		e.sendAdvert(in, in.eff)
		if prio == prioStop {
			e.log(true, "(%s) Master received priority 0 message", in.cfg.Name)
			return false
		}
	}
	if prio == in.eff {
		if cmp == 0 {
			e.log(false, "(%s) WARNING - equal priority advert received from remote host with our IP address.", in.cfg.Name)
		} else if in.eff == prioOwner {
			e.log(false, "(%s) CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority", in.cfg.Name)
			in.eff, in.base, in.total = prioOwner-1, prioOwner-1, in.total-1
		}
	}
	if prio < in.eff || (prio == in.eff && cmp < 0) {
		suffix := ", forcing new election"
		if in.cfg.LowerPrioNoAdvert {
			suffix = ""
		}
		e.log(false, "(%s) Received advert from %s with lower priority %d, ours %d%s", in.cfg.Name, adv.Src, prio, in.eff, suffix)
		if !in.cfg.LowerPrioNoAdvert {
			e.sendAdvert(in, in.eff)
		}
		e.lowerPrioGARP(in)
		if in.group != nil {
			for _, m := range in.group.members {
				if m != in {
					e.lowerPrioGARP(m)
				}
			}
		}
		return false
	}
	if prio > in.eff || (prio == in.eff && cmp > 0) {
		if prio > in.eff {
			e.log(false, "(%s) Master received advert from %s with higher priority %d, ours %d", in.cfg.Name, adv.Src, prio, in.eff)
		} else {
			e.log(false, "(%s) Master received advert from %s with same priority %d but higher IP address than ours", in.cfg.Name, adv.Src, prio)
		}
		if in.cfg.Version == 3 && adv.Interval > 0 && adv.Interval != in.masterAdverInt {
			e.log(true, "(%s) advertisement interval updated from %dms to %dms by master",
				in.cfg.Name, in.masterAdverInt.Milliseconds(), adv.Interval.Milliseconds())
			in.masterAdverInt = adv.Interval
		}
		in.msDownTimer = in.downInterval()
		in.masterAddr, in.masterPrio = adv.Src, prio
		in.want = Backup
		return true
	}
	return false
}

func (e *Engine) lowerPrioGARP(in *instance) {
	if in.cfg.GARPLowerPrioRepeat <= 0 {
		return
	}
	e.garp(in, in.cfg.GARPLowerPrioRepeat)
	if in.cfg.GARPLowerPrioDelay > 0 {
		e.setTimer(in, TimerGARPLowerPrio, e.now.Add(in.cfg.GARPLowerPrioDelay))
	}
}

// tsm is Keepalived's transition state matrix for sync groups.
func (e *Engine) tsm(prev State, in *instance) {
	if in.group == nil {
		return
	}
	switch {
	case prev == Backup && in.state == Master, prev == Fault && in.state == Master:
		e.syncMaster(in)
	case prev == Master && in.state == Backup:
		e.syncBackup(in)
	}
}

// Fire handles an expired timer. Stale generations are ignored.
func (e *Engine) Fire(now time.Time, t Timer) []Action {
	e.begin(now)
	if t.Inst < 0 || t.Inst >= len(e.inst) || t.Kind < 0 || t.Kind >= numTimers || e.stopped {
		return e.done()
	}
	in := e.inst[t.Inst]
	if !in.armed[t.Kind] || in.gen[t.Kind] != t.Gen {
		return e.done()
	}
	in.armed[t.Kind] = false
	prev := in.state
	switch t.Kind {
	case TimerMasterDown:
		if in.state != Backup {
			return e.done()
		}
		e.log(true, "(%s) Receive advertisement timeout", in.cfg.Name)
		in.want = Master
		e.gotoMaster(in)
	case TimerAdvert:
		if in.state != Master {
			return e.done()
		}
		e.masterTx(in)
	case TimerGARP:
		if in.state == Master && in.vipSet {
			e.garp(in, in.cfg.GARPRepeat)
		}
		return e.done()
	case TimerGARPLowerPrio:
		if in.state == Master && in.vipSet {
			e.garp(in, in.cfg.GARPLowerPrioRepeat)
		}
		return e.done()
	}
	e.tsm(prev, in)
	e.initSands(in)
	return e.done()
}

// gotoMaster is vrrp_state_goto_master.
func (e *Engine) gotoMaster(in *instance) {
	if in.group != nil && !e.syncCanGotoMaster(in) {
		in.want = Master
		return
	}
	in.state = Master
	e.initSands(in)
	e.masterTx(in)
}

// masterTx is vrrp_state_master_tx: the advert goes out first so the old
// master drops the VIPs before our gratuitous ARPs.
func (e *Engine) masterTx(in *instance) {
	e.sendAdvert(in, in.eff)
	if !in.vipSet {
		e.log(false, "(%s) Entering MASTER STATE", in.cfg.Name)
		e.becomeMaster(in)
		if in.cfg.GARPDelay > 0 {
			e.setTimer(in, TimerGARP, e.now.Add(in.cfg.GARPDelay))
		}
		return
	}
	if in.cfg.GARPRefresh > 0 && !e.now.Before(in.refreshAt) {
		e.garp(in, in.cfg.GARPRefreshRepeat)
		in.refreshAt = e.now.Add(in.cfg.GARPRefresh)
	}
	if in.cfg.GARPExtraIf > 0 && !e.now.Before(in.extraAt) {
		e.emit(e.act(in, ActSendExtraGARP))
		in.extraAt = e.now.Add(in.cfg.GARPExtraIf)
	}
}

// becomeMaster is vrrp_state_become_master.
func (e *Engine) becomeMaster(in *instance) {
	if in.cfg.Version == 3 && in.masterAdverInt != in.cfg.AdvertInt {
		e.log(true, "(%s) changing advert interval from %dms to locally configured %dms",
			in.cfg.Name, in.masterAdverInt.Milliseconds(), in.cfg.AdvertInt.Milliseconds())
		in.masterAdverInt = in.cfg.AdvertInt
	}
	e.vipLog(in, "sett")
	e.emit(e.act(in, ActAddVIPs))
	in.vipSet = true
	e.garp(in, in.cfg.GARPRepeat)
	if in.cfg.GARPRefresh > 0 {
		in.refreshAt = e.now.Add(in.cfg.GARPRefresh)
	}
	in.extraAt = e.now.Add(in.cfg.GARPExtraIf)
	e.notify(in)
}

// garp is vrrp_send_link_update: rep rounds over every VIP, logged once.
func (e *Engine) garp(in *instance, rep int) {
	if len(in.cfg.VIPs) == 0 || rep <= 0 {
		return
	}
	for _, v := range in.cfg.VIPs {
		what := "gratuitous ARPs"
		if v.Addr.Is6() && !v.Addr.Is4In6() {
			what = "Unsolicited Neighbour Adverts"
		}
		dev := v.Dev
		if dev == "" {
			dev = in.cfg.Interface
		}
		e.log(true, "(%s) Sending/queueing %s on %s for %s", in.cfg.Name, what, dev, v.Addr)
	}
	a := e.act(in, ActSendGARP)
	a.Repeat = rep
	e.emit(a)
}

// restoreInterface is vrrp_restore_interface: leaving MASTER.
func (e *Engine) restoreInterface(in *instance, advF bool) {
	if advF {
		e.sendAdvert(in, prioStop)
		e.log(true, "(%s) sent 0 priority", in.cfg.Name)
	}
	e.cancelTimer(in, TimerGARP)
	e.cancelTimer(in, TimerGARPLowerPrio)
	if in.vipSet {
		e.removeVIPs(in)
	}
}

// vipLog is Keepalived's "(%s) %sing %sVIPs." for the VIPs, then the
// excluded ones.
func (e *Engine) vipLog(in *instance, verb string) {
	vips, evips := false, false
	for _, v := range in.cfg.VIPs {
		if v.Excluded {
			evips = true
		} else {
			vips = true
		}
	}
	if vips {
		e.log(true, "(%s) %sing VIPs.", in.cfg.Name, verb)
	}
	if evips {
		e.log(true, "(%s) %sing E-VIPs.", in.cfg.Name, verb)
	}
}

func (e *Engine) removeVIPs(in *instance) {
	e.vipLog(in, "remov")
	e.emit(e.act(in, ActRemoveVIPs))
	in.vipSet = false
}

// leaveMaster is vrrp_state_leave_master.
func (e *Engine) leaveMaster(in *instance, advF bool) {
	switch in.want {
	case Backup:
		e.log(false, "(%s) Entering BACKUP STATE", in.cfg.Name)
		in.preemptAt = time.Time{}
	case Fault:
		e.log(false, "(%s) Entering FAULT STATE", in.cfg.Name)
		e.sendAdvert(in, prioStop)
	default:
		return
	}
	e.restoreInterface(in, advF)
	in.state = in.want
	e.notify(in)
	in.msDownTimer = in.downInterval()
	e.initSands(in)
}

// leaveFault is vrrp_state_leave_fault.
func (e *Engine) leaveFault(in *instance) {
	if in.want == Master {
		e.gotoMaster(in)
	} else {
		if in.state != in.want {
			e.log(false, "(%s) Entering %s STATE", in.cfg.Name, in.want)
		}
		if in.want == Fault && in.state == Master {
			e.sendAdvert(in, prioStop)
			e.restoreInterface(in, false)
		}
		in.state = in.want
		e.notify(in)
		if in.state == Backup {
			in.preemptAt = time.Time{}
		}
	}
	in.masterAdverInt = in.cfg.AdvertInt
	in.msDownTimer = in.downInterval()
	e.initSands(in)
}

// downInstance is down_instance: an unweighted tracker failed.
func (e *Engine) downInstance(in *instance) {
	in.faults++
	if !e.started {
		return
	}
	if in.faults == 1 {
		in.want = Fault
		if in.state == Master {
			e.leaveMaster(in, true)
		} else {
			e.leaveFault(in)
		}
		if g := in.group; g != nil {
			g.numFault++
			if g.numFault == 1 {
				e.syncFault(in)
			}
		}
	}
}

// tryUpInstance is try_up_instance: an unweighted tracker recovered
// (leavingInit: the last unweighted script reported for the first time, OK).
func (e *Engine) tryUpInstance(in *instance, leavingInit bool) {
	if !leavingInit {
		in.faults--
	}
	if !e.started || in.faults > 0 || in.inits > 0 {
		return
	}
	if leavingInit && in.state != Fault {
		// A sync group already brought it up (vrrp_sync_backup pulls held
		// members along); Keepalived would "leave FAULT" from wherever it
		// is, even MASTER, keeping the VIPs in BACKUP. Nothing to leave.
		return
	}
	if !(in.want == Master && in.base == prioOwner) {
		in.want = Backup
	}
	in.masterAdverInt = in.cfg.AdvertInt
	if in.want == Master && in.base == prioOwner {
		in.msDownTimer = in.masterAdverInt + in.skew()
	} else {
		in.msDownTimer = in.downInterval()
	}
	if g := in.group; g != nil {
		if !leavingInit {
			g.numFault--
		}
		if g.numFault > 0 {
			return
		}
	}
	want := in.want
	if in.group != nil && in.want == Master && !e.syncCanGotoMaster(in) {
		in.want = Backup
	}
	e.leaveFault(in)
	e.initSands(in)
	in.want = want
	if in.group != nil {
		if in.state == Master {
			e.syncMaster(in)
		} else {
			e.syncBackup(in)
		}
	}
}

// syncCanGotoMaster is vrrp_sync_can_goto_master: a member becomes MASTER
// only when every member wants to, "to avoid thrashing".
func (e *Engine) syncCanGotoMaster(in *instance) bool {
	g := in.group
	if g.state == Master {
		return true
	}
	for _, m := range g.members {
		if m != in && m.want != Master {
			in.msDownTimer = in.downInterval()
			e.initSands(in)
			return false
		}
	}
	return true
}

func (e *Engine) syncBackup(in *instance) {
	g := in.group
	if g.state == Backup {
		return
	}
	e.log(false, "VRRP_Group(%s) Syncing instances to BACKUP state", g.cfg.Name)
	for _, m := range g.members {
		if m == in || m.state == Backup {
			continue
		}
		m.want = Backup
		if m.state == Fault || m.state == Init {
			e.leaveFault(m)
		} else {
			e.leaveMaster(m, false)
		}
	}
	g.state = Backup
	e.groupNotify(g)
}

func (e *Engine) syncMaster(in *instance) {
	g := in.group
	if g.state == Master || !e.syncCanGotoMaster(in) {
		return
	}
	e.log(false, "VRRP_Group(%s) Syncing instances to MASTER state", g.cfg.Name)
	for _, m := range g.members {
		if m != in && m.state != Master {
			m.want = Master
			e.gotoMaster(m)
		}
	}
	g.state = Master
	e.groupNotify(g)
}

func (e *Engine) syncFault(in *instance) {
	g := in.group
	if g.state == Fault {
		return
	}
	e.log(false, "VRRP_Group(%s) Syncing instances to FAULT state", g.cfg.Name)
	for _, m := range g.members {
		if m == in || m.state == Fault {
			continue
		}
		m.want = Fault
		if m.state == Master {
			e.leaveMaster(m, false)
		} else if m.state == Backup || m.state == Init {
			m.state = Fault
			e.leaveFault(m)
		}
	}
	g.state = Fault
	e.groupNotify(g)
}

// Stop shuts every instance down as Keepalived does on SIGTERM: a MASTER
// sends a priority-0 advert (RFC 3768 6.4.3) so a backup takes over after
// Skew_Time, and removes its VIPs; then every instance and group is
// notified STOP.
func (e *Engine) Stop(now time.Time) []Action {
	e.begin(now)
	if e.stopped {
		return e.done()
	}
	e.stopped = true
	for _, in := range e.inst {
		if in.state == Master {
			e.restoreInterface(in, true)
		}
		for k := TimerKind(0); k < numTimers; k++ {
			e.cancelTimer(in, k)
		}
	}
	for _, in := range e.inst {
		in.state = Stop
		e.notify(in)
	}
	for _, g := range e.groups {
		g.state = Stop
		e.groupNotify(g)
	}
	return e.done()
}
