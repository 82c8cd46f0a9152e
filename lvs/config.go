// Package lvs is Keepalived's LVS half: virtual servers, their real
// servers and health checkers, run with Keepalived 2.2's semantics
// (check/ipwrapper.c): real servers join and leave the pool as checkers
// report, weights follow misc_dynamic and FILE_CHECK, quorum gains and
// losses run quorum_up/quorum_down and bring in the sorry server, and
// inhibit_on_failure sets a weight of 0 instead of removing a server.
//
// What "the pool" is belongs to a DataPath: IPVS through netlink where the
// kernel has it (package lvs/ipvs), halo's own L4 forwarder where it does
// not (package lvs/l4). The Manager drives either through the same calls
// keepalived makes to IPVS.
package lvs

import (
	"fmt"
	"net/netip"
	"time"

	"halo/lvs/check"
)

// Proto is a virtual service's L4 protocol (IPPROTO_*).
type Proto uint16

const (
	ProtoNone Proto = 0
	ProtoTCP  Proto = 6
	ProtoUDP  Proto = 17
	ProtoSCTP Proto = 132
)

func (p Proto) String() string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoSCTP:
		return "sctp"
	}
	return "none"
}

// Method is a forwarding method (lb_kind / lvs_method).
type Method int

const (
	NAT Method = iota
	DR
	TUN
)

func (m Method) String() string {
	switch m {
	case DR:
		return "DR"
	case TUN:
		return "TUN"
	}
	return "NAT"
}

// Scheduler flags (ipvsadm -b).
const (
	FlagPersistent = 0x0001
	FlagHashed     = 0x0002
	FlagOnePacket  = 0x0004
	FlagSched1     = 0x0008 // flag-1, sh-fallback, mh-fallback
	FlagSched2     = 0x0010 // flag-2, sh-port, mh-port
	FlagSched3     = 0x0020 // flag-3
)

// Config is the LVS part of a keepalived.conf.
type Config struct {
	Global         Global
	Groups         map[string]*Group
	VirtualServers []*VirtualServer
}

// Global is what global_defs says about the LVS side.
type Global struct {
	RouterID      string
	Flush         bool // lvs_flush
	FlushOnStop   int  // lvs_flush_on_stop: 0 no, 1 full, 2 VS
	SyncDaemon    *SyncDaemon
	TimeoutTCP    time.Duration // lvs_timeouts
	TimeoutTCPFin time.Duration
	TimeoutUDP    time.Duration
	NotifyFIFO    string // lvs_notify_fifo
	// NotifyFIFOScript is lvs_notify_fifo_script: started with the FIFO's
	// name as its last argument, to read the lines.
	NotifyFIFOScript *Script
	// GenericFIFO is notify_fifo, which gets the LVS lines too;
	// GenericFIFOScript its notify_fifo_script, run here only when the
	// VRRP side (which runs it otherwise) does not run (-C).
	GenericFIFO       string
	GenericFIFOScript *Script
	RSInitNotifies    bool
	NoCheckerMails    bool
	SMTPAlert         bool // smtp_alert / smtp_alert_checker default
	ScriptUID         uint32
	ScriptGID         uint32
}

// Flush-on-stop modes.
const (
	FlushOnStopNone = iota
	FlushOnStopFull
	FlushOnStopVS
)

// SyncDaemon is lvs_sync_daemon.
type SyncDaemon struct {
	Interface string
	Instance  string // VRRP instance whose state picks master or backup; "" = both
	SyncID    uint8
	MaxLen    uint16
	Port      uint16
	TTL       uint8
	Group     netip.Addr
}

// Group is a virtual_server_group: addresses, ranges and fwmarks.
type Group struct {
	Name    string
	Entries []GroupEntry
}

// GroupEntry is one line of a virtual_server_group: an address range
// (First..Last, Last == First for one address) with a port, or a fwmark.
type GroupEntry struct {
	First, Last netip.Addr
	Port        uint16
	FWMark      uint32
	Family      int // fwmark inet|inet6 (4, 6, 0 = unset)
}

// Script is a notify or quorum script.
type Script struct {
	Cmd      string // as written, for the logs
	Argv     []string
	UID, GID uint32
}

// VirtualServer is a virtual_server block, defaults resolved.
type VirtualServer struct {
	Where string // file:line, for messages

	Addr   netip.AddrPort // virtual_server IP PORT
	FWMark uint32         // virtual_server fwmark N
	Group  string         // virtual_server group NAME
	Family int            // 4 or 6
	Proto  Proto

	Sched              string
	Flags              uint32
	Method             Method
	PersistenceTimeout time.Duration
	PersistenceMask    netip.Addr // persistence_granularity; invalid = host
	PersistenceEngine  string
	VirtualHost        string
	HASuspend          bool
	SMTPAlert          bool
	Alpha, Omega       bool
	Quorum             int
	Hysteresis         int
	QuorumUp           *Script
	QuorumDown         *Script
	Sorry              *RealServer
	RealServers        []*RealServer
}

// RealServer is a real_server block (or a sorry_server).
type RealServer struct {
	Addr        netip.AddrPort
	Weight      int
	Method      Method
	Inhibit     bool
	NotifyUp    *Script
	NotifyDown  *Script
	UThreshold  uint32
	LThreshold  uint32
	SMTPAlert   bool
	Alpha       bool
	VirtualHost string
	Checkers    []*check.Config
}

// Name is keepalived's FMT_VS: [ip]:proto:port, FWM n, or [group]:port.
func (vs *VirtualServer) Name() string {
	switch {
	case vs.Group != "":
		return fmt.Sprintf("[%s]:%d", vs.Group, vs.Addr.Port())
	case vs.FWMark != 0:
		return fmt.Sprintf("FWM %d", vs.FWMark)
	}
	return Trio(vs.Addr, vs.Proto)
}

// Trio is keepalived's inet_sockaddrtotrio: [ip]:proto:port.
func Trio(a netip.AddrPort, p Proto) string {
	return fmt.Sprintf("[%s]:%s:%d", a.Addr().Unmap(), p, a.Port())
}

// Schedulers is the registry of lb_algo/lvs_sched names the runtime runs
// (the IPVS kernel's and halo's userspace path implement the same set).
func Schedulers() []string {
	return []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "mh", "sed", "nq", "fo", "ovf", "twos"}
}
