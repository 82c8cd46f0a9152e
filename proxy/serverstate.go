package proxy

import (
	"net/netip"
	"sync/atomic"
)

// ServerStates owns the status and weight of a backend's servers (index
// i is the position in Backend.Servers). There is one copy: ServerState's
// accessors read it and its setters go to it, so the owner's algorithm
// sees a change when it is made. A backend's Picker that implements
// ServerStates (package balance's does: its trees must follow every
// change) owns its servers; otherwise the engine keeps a plain table.
// Implementations must be safe for concurrent use, and Status must be
// cheap: the engine asks it for persistent requests.
type ServerStates interface {
	// Status returns the server's state.
	Status(i int) ServerStatus
	// Health returns the operational state alone, whatever the
	// administrative one: SrvUp, SrvNoLB or SrvDown (show servers state's
	// srv_op_state, a drained server that fails its checks shows DOWN).
	Health(i int) ServerStatus
	// SetAdmin applies a runtime API or stats page request on the
	// server's administrative state (`set server … state`, `enable` and
	// `disable server`).
	SetAdmin(i int, a AdminAction)
	// SetHealth forces the operational state (`set server … health`):
	// SrvUp, SrvNoLB or SrvDown. Health checks change it again later.
	SetHealth(i int, st ServerStatus)
	// Weight returns the server's current user weight.
	Weight(i int) int
	// SetWeight changes the user weight (0..256); the error, worded for
	// the runtime API, says why it is refused.
	SetWeight(i int, w int) error
	// SetAddr changes the server's address, port and the name it
	// resolves (DNS answers, SRV records); by says who, in HAProxy's
	// words ("DNS cache", "DNS additional record"). The owner applies it
	// with ServerState.ApplyAddr.
	SetAddr(i int, a netip.Addr, port int, fqdn, by string)
	// SetResolveMaint sets or clears the maintenance a resolution puts a
	// server in (HAProxy's RMAINT): on for "DNS NX status", "No IP for
	// server " …, off when it resolves again.
	SetResolveMaint(i int, on bool, reason string)
	// ResolveMaint reports whether the server is in that maintenance.
	ResolveMaint(i int) bool
}

// AdminAction is a request on a server's administrative state.
type AdminAction int

const (
	// AdminReady leaves maintenance and drain (`set server … state
	// ready`, `enable server`).
	AdminReady AdminAction = iota
	// AdminDrain stops new load-balanced traffic; persistence still
	// reaches the server (`state drain`).
	AdminDrain
	// AdminMaint takes the server out of service (`state maint`,
	// `disable server`).
	AdminMaint
)

// Status returns the server's state.
func (s *ServerState) Status() ServerStatus { return s.Backend.states.Status(s.idx) }

// Health returns the operational state alone: SrvUp, SrvNoLB or SrvDown.
func (s *ServerState) Health() ServerStatus { return s.Backend.states.Health(s.idx) }

// Usable reports whether the server may take new (non-persistent) traffic.
func (s *ServerState) Usable() bool { return s.Status() == SrvUp }

// SetAdmin applies a change of administrative state (see AdminAction).
func (s *ServerState) SetAdmin(a AdminAction) {
	s.Backend.states.SetAdmin(s.idx, a)
	s.StatusChanged()
}

// SetHealth forces the operational state: SrvUp, SrvNoLB or SrvDown.
func (s *ServerState) SetHealth(st ServerStatus) {
	s.Backend.states.SetHealth(s.idx, st)
	s.StatusChanged()
}

// ResolveMaint reports whether the server is in maintenance for want of an
// address from DNS (HAProxy's RMAINT).
func (s *ServerState) ResolveMaint() bool { return s.Backend.states.ResolveMaint(s.idx) }

// SetResolveMaint sets or clears that maintenance through the owner.
func (s *ServerState) SetResolveMaint(on bool, reason string) {
	s.Backend.states.SetResolveMaint(s.idx, on, reason)
}

// Weight returns the server's current user weight.
func (s *ServerState) Weight() int { return s.Backend.states.Weight(s.idx) }

// SetWeight changes the server's user weight.
func (s *ServerState) SetWeight(w int) error { return s.Backend.states.SetWeight(s.idx, w) }

// StatusChanged applies what a new status means to the engine's own
// resources: the idle connections of a server that is down or in
// maintenance are closed. The owner calls it after changes it makes
// itself (health checks); SetAdmin and SetHealth call it.
func (s *ServerState) StatusChanged() {
	if st := s.Status(); st == SrvDown || st == SrvMaint {
		s.closeIdle()
	}
}

// localStates is the engine's own table, for backends whose Picker does
// not own its servers' states (the built-in RoundRobin).
type localStates struct {
	servers []*ServerState
	admin   []atomic.Int32 // AdminAction in force
	health  []atomic.Int32 // SrvUp, SrvNoLB, SrvDown
	weight  []atomic.Int32
	rmaint  []atomic.Bool // maintenance by resolution
}

func newLocalStates(servers []*ServerState) *localStates {
	n := len(servers)
	l := &localStates{servers: servers, admin: make([]atomic.Int32, n), health: make([]atomic.Int32, n),
		weight: make([]atomic.Int32, n), rmaint: make([]atomic.Bool, n)}
	for i, ss := range servers {
		s := ss.Server
		l.weight[i].Store(int32(s.Weight))
		// `disabled`, or an address left unresolved (init-addr none):
		// the server starts in maintenance.
		if s.Disabled {
			l.admin[i].Store(int32(AdminMaint))
		}
		// an address left unresolved (init-addr none): maintenance until
		// DNS gives one
		l.rmaint[i].Store(!s.Resolved && !s.Addr.IsValid())
	}
	return l
}

func (l *localStates) Status(i int) ServerStatus {
	if l.rmaint[i].Load() {
		return SrvMaint
	}
	switch AdminAction(l.admin[i].Load()) {
	case AdminMaint:
		return SrvMaint
	case AdminDrain:
		return SrvDrain
	}
	return ServerStatus(l.health[i].Load())
}

func (l *localStates) Health(i int) ServerStatus { return ServerStatus(l.health[i].Load()) }

func (l *localStates) SetAdmin(i int, a AdminAction) { l.admin[i].Store(int32(a)) }

func (l *localStates) SetHealth(i int, st ServerStatus) { l.health[i].Store(int32(st)) }

func (l *localStates) Weight(i int) int { return int(l.weight[i].Load()) }

func (l *localStates) SetWeight(i int, w int) error {
	l.weight[i].Store(int32(w))
	return nil
}

func (l *localStates) SetAddr(i int, a netip.Addr, port int, fqdn, by string) {
	l.servers[i].ApplyAddr(a, port, fqdn)
}

func (l *localStates) SetResolveMaint(i int, on bool, reason string) { l.rmaint[i].Store(on) }

func (l *localStates) ResolveMaint(i int) bool { return l.rmaint[i].Load() }
