package stats

import (
	"fmt"
	"net"
	"strings"
	"sync"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/stick"
)

// Hub is the statistics module of one runtime: the Stats its stats pages,
// sockets and Prometheus service share, and the engine hooks that feed its
// rates and timers. cmd/halo builds one per runtime with NewHub.
type Hub struct {
	checks CheckFunc
	// Tables returns the running stick tables for the table commands
	// (the peers module provides them; nil: none).
	Tables func() *stick.Set
	// PatRefs returns the pattern and map files the runtime API edits
	// (the rules module provides them; nil: none).
	PatRefs func() *acl.PatRefs
	// StartupLogs are the messages printed while the process started.
	StartupLogs string
	// Switch turns servers' health checks and agents on and off for the
	// stats page's admin actions (nil: none can be).
	Switch CheckSwitch
	// ShowCache writes `show cache` (the cache module provides it; nil:
	// no cache).
	ShowCache func(b *strings.Builder)

	mu  sync.Mutex
	sts *Stats
	srv *Server
}

// NewHub returns the statistics module; checks reports each server's
// health-check state (the balance module provides it; nil: none).
func NewHub(checks CheckFunc) *Hub { return &Hub{checks: checks} }

// For returns the statistics of rt, made on first use (a stats page is
// built by the layer-7 module's Init, before this module's own Init).
func (h *Hub) For(rt *proxy.Runtime) *Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sts == nil || h.sts.rt != rt {
		h.sts = New(rt, h.checks)
		h.sts.tables = h.Tables
		h.sts.refs = h.PatRefs
		h.sts.StartupLogs = h.StartupLogs
		h.sts.checkSwitch = h.Switch
		h.sts.showCache = h.ShowCache
	}
	return h.sts
}

// Page builds px's `stats uri` page.
func (h *Hub) Page(rt *proxy.Runtime, px *proxy.Proxy, cp *acl.Compiler) (*Page, error) {
	return NewPage(h.For(rt), px, cp)
}

// Services are the names `http-request use-service` accepts (haproxy
// -vv's "Available services").
func Services() []string { return []string{"prometheus-exporter"} }

// Service returns the service called name for `http-request use-service`;
// rt is nil when only checking the configuration.
func (h *Hub) Service(rt *proxy.Runtime, name string) (*Prometheus, error) {
	if name != Services()[0] {
		return nil, fmt.Errorf("unknown service '%s'", name)
	}
	if rt == nil {
		return &Prometheus{}, nil
	}
	return NewPrometheus(h.For(rt)), nil
}

// ServeCLI serves one CLI session on c at level lvl (the master's routed
// commands); c is closed when the runtime's sockets are not open.
func (h *Hub) ServeCLI(c net.Conn, lvl Level) {
	h.mu.Lock()
	srv := h.srv
	h.mu.Unlock()
	if srv == nil {
		c.Close()
		return
	}
	srv.ServeConn(c, lvl)
}

// Module returns the engine hooks: the global `stats socket`s open when the
// runtime starts and close when it stops; every accepted connection and
// finished transaction feeds the rates and timers.
func (h *Hub) Module() proxy.Module {
	var sts *Stats // set by Init, before any connection
	return proxy.Module{
		Name: "stats",
		Connection: func(cc *proxy.ClientConn) bool {
			if sts == nil {
				return true
			}
			return sts.connection(cc.Frontend)
		},
		Log: func(tx *proxy.Txn) {
			if sts != nil {
				sts.logged(tx)
			}
		},
		Handshake: func(front, resumed bool) {
			if sts != nil {
				sts.handshake(front, resumed)
			}
		},
		Init: func(rt *proxy.Runtime) error {
			sts = h.For(rt)
			s, err := Listen(sts, rt.Cfg.Global.StatsSockets, rt.Cfg.Global.StatsTimeout)
			if err != nil {
				return err
			}
			h.mu.Lock()
			h.srv = s
			h.mu.Unlock()
			return nil
		},
		Stop: func() {
			h.mu.Lock()
			srv := h.srv
			h.mu.Unlock()
			if srv != nil {
				srv.Close()
			}
		},
	}
}
