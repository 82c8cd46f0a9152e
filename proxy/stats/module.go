package stats

import (
	"fmt"
	"net/netip"
	"sync"

	"halo/proxy"
)

var (
	regMu sync.Mutex
	reg   = map[*proxy.Runtime]*Stats{}
)

// For returns the statistics of rt, shared by its stats pages and sockets.
func For(rt *proxy.Runtime) *Stats {
	regMu.Lock()
	defer regMu.Unlock()
	s := reg[rt]
	if s == nil {
		s = New(rt)
		reg[rt] = s
	}
	return s
}

// Module opens the global `stats socket`s when the runtime starts and
// closes them when it stops.
func Module() proxy.Module {
	var srv *Server
	var rt0 *proxy.Runtime
	var sts *Stats // set by Init, before any connection
	return proxy.Module{
		Name: "stats",
		// Rates and timers: every accepted connection and every finished
		// transaction.
		Connection: func(fe *proxy.Frontend, src, dst netip.AddrPort) bool {
			if sts == nil {
				return true
			}
			return sts.connection(fe)
		},
		Log: func(tx *proxy.Txn) {
			if sts != nil {
				sts.logged(tx)
			}
		},
		Init: func(rt *proxy.Runtime) error {
			rt0 = rt
			sts = For(rt)
			s, err := Listen(sts, rt.Cfg.Global.StatsSockets, rt.Cfg.Global.StatsTimeout)
			if err != nil {
				return err
			}
			srv = s
			return nil
		},
		Stop: func() {
			if srv != nil {
				srv.Close()
			}
			regMu.Lock()
			delete(reg, rt0)
			regMu.Unlock()
		},
	}
}

// NewService returns the service called name for `http-request
// use-service`; rt may be nil when only checking the configuration.
func NewService(rt *proxy.Runtime, name string) (*Prometheus, error) {
	if name != "prometheus-exporter" {
		return nil, fmt.Errorf("unknown service '%s'", name)
	}
	if rt == nil {
		return &Prometheus{}, nil
	}
	return NewPrometheus(For(rt)), nil
}
