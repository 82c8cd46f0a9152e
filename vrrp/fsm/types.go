package fsm

import (
	"fmt"
	"net/netip"
	"time"
)

// State is a VRRP instance (or sync group) state. The numbering is the same
// as vrrp.State's, so the two convert with a plain conversion.
type State int

// States, as vrrp.State.
const (
	Init State = iota
	Backup
	Master
	Fault
	Stop
)

func (s State) String() string {
	switch s {
	case Init:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Fault:
		return "FAULT"
	case Stop:
		return "STOP"
	}
	return "UNKNOWN"
}

// TrackKind says what a Tracker watches.
type TrackKind int

// Tracker kinds.
const (
	TrackScript    TrackKind = iota // vrrp_script, reported by Engine.Script
	TrackInterface                  // track_interface (and the instance's own interface), Engine.Interface
	TrackFile                       // track_file, Engine.File
	TrackProcess                    // track_process: quorum of processes, Engine.Process
)

func (k TrackKind) String() string {
	switch k {
	case TrackScript:
		return "script"
	case TrackInterface:
		return "interface"
	case TrackFile:
		return "file"
	case TrackProcess:
		return "process"
	}
	return "unknown"
}

// Tracker is one tracked object of an instance, with its weight as
// Keepalived applies it: weight 0 means "down puts the instance in FAULT";
// a positive weight is added while the object is up, a negative one added
// while it is down; Reverse swaps up and down. For files the weight
// multiplies the file's value, weight 0 puts the instance in FAULT on any
// non-zero value.
type Tracker struct {
	Kind    TrackKind
	Name    string
	Weight  int
	Reverse bool
}

// VIP is one virtual address of an instance, with the device it lives on
// (the instance's interface when Dev is empty); the FSM only uses them for
// Keepalived's log lines, the daemon owns the netlink side.
type VIP struct {
	Addr netip.Addr
	Dev  string
	// Excluded marks a virtual_ipaddress_excluded entry (Keepalived logs
	// them as "E-VIPs"); list them after the VIPs, as Keepalived does.
	Excluded bool
}

// Config is one vrrp_instance as the state machine needs it. Zero values
// mean Keepalived's defaults where Keepalived has no zero: AdvertInt 1s,
// GARPRepeat 5, GARPRefreshRepeat 1, DownTimerAdverts 3, GARPLowerPrio*
// the GARP* values. GARPDelay zero means no delayed second burst (the
// daemon passes Keepalived's 5s default).
type Config struct {
	Name         string
	VRID         uint8
	Version      int // 2 or 3
	Priority     int // configured priority 1..255; 255 is the address owner
	AdvertInt    time.Duration
	InitialState State // Master for `state MASTER`, otherwise Backup
	NoPreempt    bool
	PreemptDelay time.Duration
	Strict       bool // vrrp_strict
	// Addr is this router's primary address (the adverts' source): the
	// equal-priority tie break compares it with the sender's.
	Addr      netip.Addr
	Interface string
	VIPs      []VIP
	// DontTrackPrimary: the instance's own interface going down does not
	// put it in FAULT (dont_track_primary).
	DontTrackPrimary bool
	Trackers         []Tracker

	GARPDelay         time.Duration // garp_master_delay: second burst after becoming MASTER
	GARPRepeat        int           // garp_master_repeat
	GARPRefresh       time.Duration // garp_master_refresh, 0: off
	GARPRefreshRepeat int           // garp_master_refresh_repeat
	// GARPExtraIf is garp_extra_if: while MASTER, an ActSendExtraGARP at
	// the first advert after each such period (0: off).
	GARPExtraIf time.Duration
	// garp_lower_prio_delay/repeat: a MASTER receiving a lower-priority
	// advert sends a GARP burst now and another after the delay. Zero
	// means Keepalived's default (the garp_master_* value), negative: none.
	GARPLowerPrioDelay  time.Duration
	GARPLowerPrioRepeat int
	// LowerPrioNoAdvert: a MASTER does not answer a lower-priority advert
	// with its own (vrrp_lower_prio_no_advert).
	LowerPrioNoAdvert bool
	// HigherPrioSendAdvert: a MASTER sends an advert before yielding to a
	// higher-priority one (vrrp_higher_prio_send_advert).
	HigherPrioSendAdvert bool
	DownTimerAdverts     int // vrrp_down_timer_adverts
}

// GroupConfig is a vrrp_sync_group: its members move together. Trackers
// apply to every member (Keepalived's group track_script/interface/file).
type GroupConfig struct {
	Name     string
	Members  []string
	Trackers []Tracker
}

// Advert is a received advertisement that passed packet.Expect.Check.
type Advert struct {
	Src      netip.Addr
	Priority uint8
	// Interval is the advertised interval (VRRPv3 backups adopt it; unused
	// for VRRPv2, whose mismatches the packet check already dropped).
	Interval time.Duration
}

// TimerKind names one of an instance's timers.
type TimerKind int

// Timers. At most one of TimerAdvert (MASTER) and TimerMasterDown (BACKUP)
// is armed at a time.
const (
	TimerAdvert        TimerKind = iota // MASTER: send the next advert
	TimerMasterDown                     // BACKUP: master down interval expired
	TimerGARP                           // MASTER: delayed gratuitous ARP burst (garp_master_delay)
	TimerGARPLowerPrio                  // MASTER: delayed burst after a lower-priority advert
	numTimers
)

func (k TimerKind) String() string {
	switch k {
	case TimerAdvert:
		return "advert"
	case TimerMasterDown:
		return "master-down"
	case TimerGARP:
		return "garp"
	case TimerGARPLowerPrio:
		return "garp-lower-prio"
	}
	return "unknown"
}

// Timer identifies one arming of one timer. Engine.Fire ignores a Timer
// whose generation is stale (re-armed or cancelled since), so a daemon
// racing a timer against an event needs no locking of its own.
type Timer struct {
	Inst int
	Kind TimerKind
	Gen  uint64
}

// ActionKind says what an Action asks the daemon to do.
type ActionKind int

// Actions, in the order the engine emits them; the daemon performs them in
// order.
const (
	// ActSendAdvert: send an advert for Inst with Priority (0 on leaving
	// MASTER; otherwise the effective priority).
	ActSendAdvert ActionKind = iota
	// ActAddVIPs / ActRemoveVIPs: add or remove Inst's virtual addresses
	// (and virtual routes/rules).
	ActAddVIPs
	ActRemoveVIPs
	// ActSendGARP: send Repeat rounds of gratuitous ARP / unsolicited NA
	// for every VIP of Inst, now.
	ActSendGARP
	// ActNotify: run notify scripts / SMTP / FIFO for State. Group >= 0
	// marks a sync group notification (Inst is then -1); Name is the
	// instance or group name, Priority the instance's effective priority.
	ActNotify
	// ActLog: a log line in Keepalived's wording. Detail lines are the ones
	// Keepalived prints only with -D (--log-detail).
	ActLog
	// ActSetTimer: (re)arm Timer to fire at At, replacing any earlier
	// arming of the same Inst and Kind.
	ActSetTimer
	// ActCancelTimer: disarm Timer's Inst and Kind.
	ActCancelTimer
	// ActSendExtraGARP: garp_extra_if's periodic gratuitous ARP / NA on
	// the VIPs' other interfaces (vrrp_send_vmac_update); the daemon
	// picks the interfaces.
	ActSendExtraGARP
)

// Action is one thing the daemon must do. Only the fields its Kind names
// are set.
type Action struct {
	Kind     ActionKind
	Inst     int
	Group    int
	Name     string
	Priority int
	State    State
	Repeat   int
	Timer    Timer
	At       time.Time
	Text     string
	Detail   bool
}

// String renders an action for logs and test transcripts.
func (a Action) String() string {
	switch a.Kind {
	case ActSendAdvert:
		return fmt.Sprintf("advert %s prio %d", a.Name, a.Priority)
	case ActAddVIPs:
		return "add-vips " + a.Name
	case ActRemoveVIPs:
		return "remove-vips " + a.Name
	case ActSendGARP:
		return fmt.Sprintf("garp %s x%d", a.Name, a.Repeat)
	case ActSendExtraGARP:
		return "extra-garp " + a.Name
	case ActNotify:
		if a.Group >= 0 {
			return fmt.Sprintf("notify GROUP %s %s", a.Name, a.State)
		}
		return fmt.Sprintf("notify INSTANCE %s %s %d", a.Name, a.State, a.Priority)
	case ActLog:
		if a.Detail {
			return "log+ " + a.Text
		}
		return "log " + a.Text
	case ActSetTimer:
		return fmt.Sprintf("set %s %s @%s", a.Name, a.Timer.Kind, a.At.Format("15:04:05.000000"))
	case ActCancelTimer:
		return fmt.Sprintf("cancel %s %s", a.Name, a.Timer.Kind)
	}
	return "unknown action"
}
