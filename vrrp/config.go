// Package vrrp is the Keepalived runtime: it executes a Config. It never
// sees the configuration's syntax; package compat builds the Config.
package vrrp

import (
	"net/netip"
	"time"
)

// Config is everything `halo keepalived` runs.
type Config struct {
	Global     Global
	Scripts    map[string]*Script // vrrp_script blocks by name
	Instances  []*Instance
	SyncGroups []*SyncGroup
	TrackFiles map[string]*TrackFile
	// TrackProcesses are the vrrp_track_process blocks by name.
	TrackProcesses map[string]*TrackProcess
	// static_ipaddress / static_routes / static_rules: set while the
	// process runs, whatever the instances' states.
	StaticIPs    []VIP
	StaticRoutes []Route
	StaticRules  []Rule
}

// Global is `global_defs`.
type Global struct {
	RouterID                string
	NotificationEmail       []string
	NotificationEmailFrom   string
	SMTPServer              string        // host or host:port
	SMTPConnectTimeout      time.Duration // default 30s
	SMTPAlert               bool
	McastGroup4             netip.Addr // default 224.0.0.18
	McastGroup6             netip.Addr // default ff02::12
	ScriptUser              string
	ScriptGroup             string
	EnableScriptSecurity    bool
	GARPMasterDelay         time.Duration // vrrp_garp_master_delay, default 5s
	GARPMasterRepeat        int           // default 5
	GARPMasterRefresh       time.Duration
	GARPMasterRefreshRepeat int
	GARPInterval            time.Duration // vrrp_garp_interval: spacing of GARPs on an interface
	GNAInterval             time.Duration // vrrp_gna_interval
	GARPGroups              []*GARPGroup  // garp_group: the spacing of named interfaces
	// vrrp_garp_extra_if [all] N: the instances' default garp_extra_if.
	GARPExtraIf       time.Duration
	GARPExtraIfAll    bool
	Version           int // vrrp_version, default 2
	Strict            bool
	SkipCheckAdvAddr  bool
	NotifyFIFO        string
	NotifyFIFOScript  string
	DynamicInterfaces bool
	DefaultInterface  string // default_interface: static entries without dev (keepalived: eth0)
	NftablesTable     string // nftables [TABLE]: no_accept's table (keepalived: "keepalived")
	MaxAutoPriority   int
}

// GARPGroup is a `garp_group` block: GARP/NA spacing for its interfaces
// (the global vrrp_garp_interval/vrrp_gna_interval elsewhere).
type GARPGroup struct {
	Interfaces      []string
	GARPInterval    time.Duration
	GNAInterval     time.Duration
	GARPSet, GNASet bool
}

// State is a VRRP instance state.
type State int

const (
	StateInit State = iota
	StateBackup
	StateMaster
	StateFault
	StateStop
)

func (s State) String() string {
	switch s {
	case StateInit:
		return "INIT"
	case StateBackup:
		return "BACKUP"
	case StateMaster:
		return "MASTER"
	case StateFault:
		return "FAULT"
	case StateStop:
		return "STOP"
	}
	return "UNKNOWN"
}

// Instance is a `vrrp_instance` block.
type Instance struct {
	Name             string
	Line             int
	InitialState     State // state MASTER|BACKUP (keepalived starts in BACKUP either way)
	Interface        string
	VRID             int           // 1..255
	Priority         int           // 1..255, default 100
	AdvertInt        time.Duration // default 1s; v3 centiseconds
	Version          int           // 2 or 3
	Family           int           // 4 or 6, from the VIPs
	NoPreempt        bool
	PreemptDelay     time.Duration
	AuthType         string // "", "PASS", "AH"
	AuthPass         string // at most 8 bytes used
	McastSrcIP       netip.Addr
	UnicastSrcIP     netip.Addr
	UnicastPeers     []netip.Addr
	UnicastTTL       int
	VIPs             []VIP
	ExcludedVIPs     []VIP
	Routes           []Route // virtual_routes: set while MASTER
	Rules            []Rule  // virtual_rules: set while MASTER
	TrackScripts     []TrackRef
	TrackInterfaces  []TrackRef
	TrackFiles       []TrackRef
	TrackProcesses   []TrackRef
	DontTrackPrimary bool
	NotifyMaster     string
	NotifyBackup     string
	NotifyFault      string
	NotifyStop       string
	Notify           string
	SMTPAlert        bool
	// GARPMasterDelay: the second burst after becoming MASTER; 0 means
	// the global value (or 5 s), a negative value none.
	GARPMasterDelay         time.Duration
	GARPMasterRepeat        int
	GARPMasterRefresh       time.Duration
	GARPMasterRefreshRepeat int
	// garp_lower_prio_delay/repeat: a MASTER hearing a lower-priority
	// advert sends GARPs now and again after the delay. 0 means the
	// garp_master_* values, -1 none (compat resolves Keepalived's defaults).
	GARPLowerPrioDelay  time.Duration
	GARPLowerPrioRepeat int
	// garp_extra_if [all] N: while MASTER, one gratuitous ARP / NA every N
	// (0: never) on each VMAC interface other than the one adverts leave
	// from (with all: each interface) that carries a VIP, to keep switches'
	// MAC caches (vrrp_send_vmac_update). compat resolves the global
	// default.
	GARPExtraIf    time.Duration
	GARPExtraIfAll bool
	// lower_prio_no_advert: a MASTER does not answer a lower-priority
	// advert with its own; higher_prio_send_advert: a MASTER sends one
	// more advert before yielding to a higher-priority one.
	LowerPrioNoAdvert    bool
	HigherPrioSendAdvert bool
	DownTimerAdverts     int  // down_timer_adverts: master down = N adverts (0: 3)
	Accept               bool // accept (default) / no_accept; strict mode defaults to no_accept
	UseVMAC              string
	VMACXmitBase         bool
	Debug                int
}

// VIP is one `virtual_ipaddress` entry:
// ADDR[/PREFIX] [brd ADDR] [dev IFACE] [scope SCOPE] [label LABEL].
type VIP struct {
	Prefix    netip.Prefix
	Broadcast netip.Addr
	Dev       string
	Scope     string
	Label     string
	NoDAD     bool
}

// Route is one `virtual_routes` entry.
type Route struct {
	Dst       netip.Prefix
	Via       netip.Addr
	Src       netip.Addr
	Dev       string
	Metric    int
	Table     int
	Scope     string
	Blackhole bool
}

// ProtoKeepalived is RTPROT_KEEPALIVED: the protocol keepalived marks its
// routes and rules with.
const ProtoKeepalived = 18

// Rule is one virtual_rules / static_rules entry (`ip rule` syntax).
type Rule struct {
	Family             int // 4 or 6
	From, To           netip.Prefix
	Priority           int
	Invert             bool   // not
	Action             string // table, goto, nop, blackhole, unreachable, prohibit, l3mdev
	Table              int
	Goto               int
	TOS                uint8
	FwMark, FwMask     uint32
	HasFwMask          bool
	IIF, OIF           string
	Realms             uint32
	SuppressPrefixLen  int // -1: none
	SuppressIfGroup    int
	HasSuppressIfGroup bool
	UIDStart, UIDEnd   uint32
	HasUIDRange        bool
	Protocol           uint8
	HasProtocol        bool
	IPProto            int // -1: any
	SPort, DPort       [2]uint16
	NoTrack            bool
}

// TrackRef names a tracked script/interface/file with an optional weight
// override (`weight N` after the name, `reverse`).
type TrackRef struct {
	Name      string
	Weight    int
	HasWeight bool
	Reverse   bool
}

// Script is a `vrrp_script` block.
type Script struct {
	Name     string
	Line     int
	Command  string
	Interval time.Duration // default 1s
	Timeout  time.Duration // default = interval
	Weight   int           // -253..253
	Reverse  bool
	Rise     int // default 1
	Fall     int // default 1
	User     string
	Group    string
	InitFail bool
}

// TrackProcess is a `vrrp_track_process` block: up while between Quorum
// and QuorumMax (-1: no maximum) processes match.
type TrackProcess struct {
	Name string
	// Process is matched against the process name (/proc/PID/status
	// Name:, 15 characters), or with FullCommand against argv[0], Params
	// against the other arguments (ParamMatch exact, partial or initial).
	Process        string
	Params         []string
	ParamMatch     string
	FullCommand    bool
	Weight         int
	Reverse        bool
	Quorum         int
	QuorumMax      int
	ForkDelay      time.Duration // quorum gained: wait this long before up
	TerminateDelay time.Duration // quorum lost: wait this long before down
}

// TrackFile is a `vrrp_track_file` block.
type TrackFile struct {
	Name      string
	Path      string
	Weight    int
	InitFile  bool
	InitValue int
}

// SyncGroup is a `vrrp_sync_group` block.
type SyncGroup struct {
	Name         string
	Instances    []string
	NotifyMaster string
	NotifyBackup string
	NotifyFault  string
	NotifyStop   string
	Notify       string
	SMTPAlert    bool
	TrackScripts []TrackRef
	// The group's track_interface, track_file and track_process apply to
	// every member, as its track_script does.
	TrackInterfaces []TrackRef
	TrackFiles      []TrackRef
	TrackProcesses  []TrackRef
}
