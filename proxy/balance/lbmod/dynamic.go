package lbmod

import (
	"errors"
	"fmt"
	"slices"

	"halo/proxy"
	"halo/proxy/balance"
	"halo/proxy/health"
)

// table is a picker's per-server tables, indexed by the engine's
// ServerState.Index() (a slot, never reused). `add server` publishes a
// longer copy; a deleted server keeps its slot so an index read by a
// request in flight stays valid.
type table struct {
	states []*proxy.ServerState
	srvs   []*balance.Server
	// checks are the servers' checks: health, agent, track (nil: none).
	checks []*health.ServerChecks
}

func (p *Picker) t() *table { return p.tab.Load() }

var _ proxy.ServerAdder = (*Picker)(nil)

// AddServer implements proxy.ServerAdder: the server joins the balance
// backend in maintenance. Dynamic servers have no checks here (the
// runtime API refuses `check` and `agent-check`).
func (p *Picker) AddServer(ss *proxy.ServerState) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.t()
	if ss.Index() != len(old.states) {
		return fmt.Errorf("internal error: server slot %d, table of %d", ss.Index(), len(old.states))
	}
	s := ss.Server
	bs, err := p.be.AddServer(ss.Index(), balance.ServerConfig{
		Name: s.Name, ID: s.ID, Weight: s.Weight, Backup: s.Backup,
		Maxconn: s.Maxconn, Minconn: s.Minconn, Maxqueue: s.Maxqueue, Slowstart: s.Slowstart,
	})
	if errors.Is(err, balance.ErrNotDynamic) {
		return proxy.ErrNotDynamicLB
	}
	if err != nil {
		return err
	}
	p.tab.Store(&table{
		states: append(slices.Clip(old.states), ss),
		srvs:   append(slices.Clip(old.srvs), bs),
		checks: append(slices.Clip(old.checks), nil),
	})
	return nil
}

// ErrReferenced refuses to delete a server that checks involve: it is
// tracked, tracks another or is checked (its checks would outlive it).
var ErrReferenced = errors.New("This server cannot be removed at runtime due to other configuration elements pointing to it.")

// DelServer implements proxy.ServerAdder.
func (p *Picker) DelServer(ss *proxy.ServerState) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := ss.Index()
	if sc := p.t().checks[i]; sc != nil {
		return ErrReferenced
	}
	if err := p.be.DelServer(p.t().srvs[i]); err != nil {
		return proxy.ErrServerBusy
	}
	return nil
}
