// Package peers owns the running stick tables and shares them with other
// processes through HAProxy's peers protocol (doc/peers-v2.0.txt,
// version 2.1 as HAProxy 2.6 speaks it).
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

	mu     sync.Mutex
	tables *stick.Set
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

// Init builds the tables and starts their expiry.
func (m *Module) Init(rt *proxy.Runtime) error {
	clock := m.Clock
	if clock == nil {
		clock = stick.NewClock()
	}
	set := stick.NewSet(rt.Cfg.Tables, clock)
	m.mu.Lock()
	m.tables = set
	m.mu.Unlock()
	set.Start()
	return nil
}

// Stop ends the tables' expiry.
func (m *Module) Stop() {
	if t := m.Tables(); t != nil {
		t.Stop()
	}
}
