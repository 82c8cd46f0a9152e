// Package ipvs is the kernel data path of halo's LVS runtime: the IPVS
// table driven through generic netlink with github.com/moby/ipvs, the
// calls keepalived's ipvswrapper.c makes (services and destinations added,
// edited, deleted; flush; connection timeouts). The sync daemon
// (lvs_sync_daemon) is hand-written genetlink (daemon.go) because moby/ipvs
// has no IPVS_CMD_NEW_DAEMON.
package ipvs

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	mipvs "github.com/moby/ipvs"

	"halo/lvs"
)

// Handle is the part of moby/ipvs' Handle the data path uses, so tests
// can record the calls instead of needing ip_vs in the kernel.
type Handle interface {
	NewService(*mipvs.Service) error
	UpdateService(*mipvs.Service) error
	DelService(*mipvs.Service) error
	Flush() error
	NewDestination(*mipvs.Service, *mipvs.Destination) error
	UpdateDestination(*mipvs.Service, *mipvs.Destination) error
	DelDestination(*mipvs.Service, *mipvs.Destination) error
	SetConfig(*mipvs.Config) error
	Close()
}

// Daemon starts and stops the IPVS connection sync daemon.
type Daemon interface {
	Start(state int, d *lvs.SyncDaemon) error
	Stop(state int) error
}

// Sync daemon states (IP_VS_STATE_MASTER/BACKUP).
const (
	StateMaster = 1
	StateBackup = 2
)

// Path is the IPVS data path.
type Path struct {
	h      Handle
	daemon Daemon
	// syncState is the daemon SetSyncState runs (0: none).
	syncState int
}

var _ lvs.DataPath = (*Path)(nil)

// Available reports whether this kernel has IPVS (/proc/net/ip_vs), and
// if not, why.
func Available() (bool, string) {
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		return false, "the kernel has no IPVS (/proc/net/ip_vs is missing: ip_vs is not loaded or not built)"
	}
	return true, ""
}

// New opens the IPVS netlink family in the current namespace.
func New() (*Path, error) {
	h, err := mipvs.New("")
	if err != nil {
		return nil, fmt.Errorf("IPVS: Can't initialize ipvs: %w", err)
	}
	return &Path{h: h, daemon: netlinkDaemon{}}, nil
}

// NewWith uses the given handle and daemon control (tests).
func NewWith(h Handle, d Daemon) *Path { return &Path{h: h, daemon: d} }

// Name says which data path runs.
func (p *Path) Name() string { return "IPVS" }

func family(s *lvs.Service) uint16 {
	if s.Family == 6 || (s.FWMark == 0 && s.Addr.Addr().Is6() && !s.Addr.Addr().Is4In6()) {
		return syscall.AF_INET6
	}
	return syscall.AF_INET
}

// service converts to moby/ipvs' form (ipvs_set_srule).
func service(s *lvs.Service) *mipvs.Service {
	out := &mipvs.Service{
		AddressFamily: family(s),
		Protocol:      uint16(s.Proto),
		FWMark:        s.FWMark,
		SchedName:     s.Sched,
		Flags:         s.Flags,
		Timeout:       s.Timeout,
		PEName:        s.PE,
	}
	if s.FWMark == 0 {
		out.Address = net.IP(s.Addr.Addr().Unmap().AsSlice())
		out.Port = s.Addr.Port()
	}
	if out.AddressFamily == syscall.AF_INET6 {
		out.Netmask = 128
	} else {
		out.Netmask = 0xffffffff
	}
	if s.Netmask.IsValid() {
		if s.Netmask.Is4() {
			b := s.Netmask.As4()
			out.Netmask = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		}
	}
	return out
}

func method(m lvs.Method) uint32 {
	switch m {
	case lvs.DR:
		return mipvs.ConnFwdDirectRoute
	case lvs.TUN:
		return mipvs.ConnFwdTunnel
	}
	return mipvs.ConnFwdMasq
}

func dest(d lvs.Dest) *mipvs.Destination {
	a := d.Addr.Addr().Unmap()
	af := uint16(syscall.AF_INET)
	if a.Is6() {
		af = syscall.AF_INET6
	}
	return &mipvs.Destination{
		Address: net.IP(a.AsSlice()), Port: d.Addr.Port(), Weight: d.Weight,
		ConnectionFlags: method(d.Method), AddressFamily: af,
		UpperThreshold: d.UThreshold, LowerThreshold: d.LThreshold,
	}
}

// AddService is ipvsadm -A.
func (p *Path) AddService(s *lvs.Service) error {
	err := p.h.NewService(service(s))
	if errors.Is(err, syscall.EEXIST) {
		// left by a previous run without lvs_flush: take it over
		return p.h.UpdateService(service(s))
	}
	return err
}

// EditService is ipvsadm -E.
func (p *Path) EditService(s *lvs.Service) error { return p.h.UpdateService(service(s)) }

// DelService is ipvsadm -D.
func (p *Path) DelService(s *lvs.Service) error { return p.h.DelService(service(s)) }

// AddDest is ipvsadm -a.
func (p *Path) AddDest(s *lvs.Service, d lvs.Dest) error {
	return p.h.NewDestination(service(s), dest(d))
}

// EditDest is ipvsadm -e.
func (p *Path) EditDest(s *lvs.Service, d lvs.Dest) error {
	return p.h.UpdateDestination(service(s), dest(d))
}

// DelDest is ipvsadm -d.
func (p *Path) DelDest(s *lvs.Service, d lvs.Dest) error {
	return p.h.DelDestination(service(s), dest(d))
}

// Flush is ipvsadm -C.
func (p *Path) Flush() error { return p.h.Flush() }

// Close releases the netlink socket.
func (p *Path) Close() error {
	p.h.Close()
	return nil
}

// SetTimeouts is lvs_timeouts (ipvsadm --set); zero leaves a value as is.
func (p *Path) SetTimeouts(tcp, tcpfin, udp time.Duration) error {
	if tcp == 0 && tcpfin == 0 && udp == 0 {
		return nil
	}
	return p.h.SetConfig(&mipvs.Config{TimeoutTCP: tcp, TimeoutTCPFin: tcpfin, TimeoutUDP: udp})
}

// StartSyncDaemon is lvs_sync_daemon: without a VRRP instance both the
// master and the backup daemon run (keepalived's behaviour); with one,
// the caller switches them as the instance changes state.
func (p *Path) StartSyncDaemon(d *lvs.SyncDaemon, state int) error {
	if state == 0 {
		if err := p.daemon.Start(StateMaster, d); err != nil {
			return err
		}
		return p.daemon.Start(StateBackup, d)
	}
	return p.daemon.Start(state, d)
}

// SetSyncState runs the sync daemon in one state, the one the VRRP
// instance lvs_sync_daemon names calls for: master while it is MASTER,
// backup otherwise (keepalived's ipvs_syncd_master/ipvs_syncd_backup).
// The daemon of the other state is stopped first.
func (p *Path) SetSyncState(d *lvs.SyncDaemon, state int) error {
	if p.syncState == state {
		return nil
	}
	var errs []error
	if p.syncState != 0 {
		errs = append(errs, p.daemon.Stop(p.syncState))
	}
	p.syncState = 0
	if err := p.daemon.Start(state, d); err != nil {
		errs = append(errs, err)
	} else {
		p.syncState = state
	}
	return errors.Join(errs...)
}

// StopSyncDaemon stops the daemon(s) started.
func (p *Path) StopSyncDaemon(state int) error {
	if state == 0 && p.syncState != 0 {
		state, p.syncState = p.syncState, 0
		return p.daemon.Stop(state)
	}
	if state == 0 {
		e1 := p.daemon.Stop(StateMaster)
		e2 := p.daemon.Stop(StateBackup)
		return errors.Join(e1, e2)
	}
	return p.daemon.Stop(state)
}
