package proxy

import (
	"errors"
	"slices"
)

// Dynamic servers (`add server`, `del server`, management.txt §9.3).
//
// A backend's server list is published as a whole: AddServer and
// DelServer build a new slice and store it, so the many readers (pickers,
// fetches, stats) never lock and never see a half-built list. A server's
// idx is a slot in its backend's ServerStates tables; slots are never
// reused, so an index held by a request in flight stays valid after a
// `del server`.

// ServerAdder is implemented by a backend's ServerStates owner that can
// take servers at run time (package balance's dynamic algorithms).
type ServerAdder interface {
	// AddServer registers ss (its idx is the next slot) in maintenance:
	// `enable server` puts it in service, as HAProxy does. The error is
	// the runtime API's answer.
	AddServer(ss *ServerState) error
	// DelServer forgets ss; it fails (with the runtime API's answer)
	// while ss is not in maintenance or still has connections or a queue.
	DelServer(ss *ServerState) error
}

// Errors of AddServer and DelServer, worded as HAProxy's runtime API.
var (
	ErrNotDynamicLB = errors.New("Backend must use a dynamic load balancing to support dynamic servers.")
	ErrServerExists = errors.New("Already exists a server with the same name in backend.")
	ErrNotInMaint   = errors.New("Only servers in maintenance mode can be deleted.")
	ErrServerBusy   = errors.New("Server still has connections attached to it, cannot remove it.")
)

// Servers returns the backend's servers in declaration order, then the
// ones added at run time. The slice must not be modified.
func (b *Backend) Servers() []*ServerState {
	if p := b.servers.Load(); p != nil {
		return *p
	}
	return nil
}

// Server returns the server named name (nil: none).
func (b *Backend) Server(name string) *ServerState {
	for _, s := range b.Servers() {
		if s.Server.Name == name {
			return s
		}
	}
	return nil
}

// AddServer creates a server at run time, in maintenance.
func (b *Backend) AddServer(s *Server) (*ServerState, error) {
	ad, ok := b.states.(ServerAdder)
	if !ok {
		return nil, ErrNotDynamicLB
	}
	b.dynMu.Lock()
	defer b.dynMu.Unlock()
	if b.Server(s.Name) != nil {
		return nil, ErrServerExists
	}
	ss := &ServerState{Server: s, Backend: b, idx: b.slots}
	if ss.h2Mode() {
		ss.h2pool = &h2Pool{}
	}
	if b.rt.group != nil {
		ss.pools = make([]idlePool, b.rt.group.Len())
	}
	if s.SSL {
		if _, err := ss.tlsClientConfig(); err != nil {
			return nil, err
		}
	}
	if err := ad.AddServer(ss); err != nil {
		return nil, err
	}
	b.slots++
	if s.Maxconn > 0 {
		b.mayQueue.Store(true)
	}
	list := append(slices.Clip(b.Servers()), ss)
	b.servers.Store(&list)
	return ss, nil
}

// DelServer removes a server: it must be in maintenance, with no
// connection in use and nothing queued (HAProxy's conditions); its idle
// connections are closed.
func (b *Backend) DelServer(ss *ServerState) error {
	ad, ok := b.states.(ServerAdder)
	if !ok {
		return ErrNotDynamicLB
	}
	b.dynMu.Lock()
	defer b.dynMu.Unlock()
	if ss.Status() != SrvMaint {
		return ErrNotInMaint
	}
	if ss.Counters.CurConns.Load() > 0 || ss.Counters.CurQueue.Load() > 0 {
		return ErrServerBusy
	}
	if err := ad.DelServer(ss); err != nil {
		return err
	}
	list := slices.DeleteFunc(slices.Clone(b.Servers()), func(x *ServerState) bool { return x == ss })
	b.servers.Store(&list)
	ss.closeIdle()
	return nil
}
