// Package peers owns the running stick tables and shares them with other
// processes through HAProxy's peers protocol (doc/peers-v2.0.txt,
// version 2.1 as HAProxy 2.6 speaks it): a session with each peer of a
// `peers` section pushes local changes as they happen, learns the
// peers', and at start the tables are taught by the process being
// replaced (a reload) or by a remote peer.
package peers

import (
	"sync"

	"halo/proxy"
	"halo/proxy/stick"
)

// Module builds the stick tables of the configuration when the runtime
// starts and runs the peers sections' sessions.
type Module struct {
	// Clock is the tables' clock (nil: the real one).
	Clock *stick.Clock

	mu       sync.Mutex
	tables   *stick.Set
	sections []*section
	rt       *proxy.Runtime
}

// New returns an unconfigured module.
func New() *Module { return &Module{} }

// Tables returns the running stick tables (nil before Init).
func (m *Module) Tables() *stick.Set {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tables
}

// Module returns the engine hooks.
func (m *Module) Module() proxy.Module {
	return proxy.Module{Name: "peers", Init: m.Init, Stop: m.Stop}
}

// Init builds the tables, starts their expiry and the peers sections.
func (m *Module) Init(rt *proxy.Runtime) error {
	clock := m.Clock
	if clock == nil {
		clock = stick.NewClock()
	}
	set := stick.NewSet(rt.Cfg.Tables, clock)
	m.mu.Lock()
	m.tables, m.rt = set, rt
	m.mu.Unlock()
	set.Start()
	for _, ps := range rt.Cfg.Peers {
		if ps.Disabled {
			continue
		}
		sec, err := newSection(ps, set, rt.Cfg.Replaces)
		if err != nil {
			return err
		}
		if n := rt.Cfg.Global.PeersMaxUpdates; n > 0 {
			sec.maxUpdates = n
		}
		if err := sec.start(); err != nil {
			return err
		}
		m.mu.Lock()
		m.sections = append(m.sections, sec)
		m.mu.Unlock()
	}
	return nil
}

// Stop ends the sections (a soft stop first teaches the tables to the
// new process) and the tables' expiry.
func (m *Module) Stop() {
	m.mu.Lock()
	secs, rt := m.sections, m.rt
	m.sections = nil
	m.mu.Unlock()
	teach := rt != nil && !rt.HardStopped()
	var wg sync.WaitGroup
	for _, s := range secs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.stop(teach)
		}()
	}
	wg.Wait()
	if t := m.Tables(); t != nil {
		t.Stop()
	}
}
