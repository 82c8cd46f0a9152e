package acl

import (
	"fmt"
	"strings"
	"time"

	"halo/proxy"
)

// EngineTxn is implemented by views over the engine's transaction: the
// fetches about the stream (its frontend, backend, server, listener and
// timeouts) read it. Without it they find nothing.
type EngineTxn interface {
	Engine() *proxy.Txn
}

// engine returns the engine's transaction, nil when the view has none.
func (c *Ctx) engine() *proxy.Txn {
	if e, ok := c.T.(EngineTxn); ok {
		return e.Engine()
	}
	return nil
}

// curFrontend is the proxy that accepted the stream.
func (c *Ctx) curFrontend() *proxy.Proxy {
	if tx := c.engine(); tx != nil && tx.Frontend != nil {
		return tx.Frontend.Proxy
	}
	return nil
}

// curBackend is the backend chosen so far: until use_backend decides, a
// listen section is its own backend (HAProxy's stream starts with be = fe).
func (c *Ctx) curBackend() *proxy.Backend {
	tx := c.engine()
	if tx == nil {
		return nil
	}
	if tx.Backend != nil {
		return tx.Backend
	}
	if tx.Frontend != nil && tx.Frontend.Proxy.Cap&proxy.CapBE != 0 && c.Runtime != nil {
		return c.Runtime.Backend(tx.Frontend.Proxy)
	}
	return nil
}

// curBackendProxy is curBackend's configuration, or the frontend itself
// when it is a listen section and no runtime backend is at hand.
func (c *Ctx) curBackendProxy() *proxy.Proxy {
	if b := c.curBackend(); b != nil {
		return b.Proxy
	}
	if p := c.curFrontend(); p != nil && p.Cap&proxy.CapBE != 0 {
		return p
	}
	return nil
}

func ms(d time.Duration) Value { return intVal(d.Milliseconds()) }

// proxyFetches are the fetches about proxies and servers (configuration.txt
// §7.3.2 and §7.3.3): identities, timeouts, connection counts, queues and
// server states.
func proxyFetches() []*fetchDef {
	return []*fetchDef{
		{name: "fe_id", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			p := c.curFrontend()
			if p == nil {
				return Value{}, false
			}
			return intVal(int64(p.ID)), true
		})},
		{name: "fe_name", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			if p := c.curFrontend(); p != nil {
				return Value{Kind: KStr, B: strBytes(p.Name)}, true
			}
			if c.Frontend == "" {
				return Value{}, false
			}
			return Value{Kind: KStr, B: strBytes(c.Frontend)}, true
		})},
		{name: "fe_defbe", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			p := c.curFrontend()
			if p == nil || p.DefaultBackend == nil {
				return Value{}, false
			}
			return Value{Kind: KStr, B: strBytes(p.DefaultBackend.Name)}, true
		})},
		{name: "fe_client_timeout", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			p := c.curFrontend()
			if p == nil {
				return Value{}, false
			}
			return ms(p.Timeouts.Client), true
		})},
		{name: "be_id", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			p := c.curBackendProxy()
			if p == nil {
				return Value{}, false
			}
			return intVal(int64(p.ID)), true
		})},
		{name: "be_name", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			if p := c.curBackendProxy(); p != nil {
				return Value{Kind: KStr, B: strBytes(p.Name)}, true
			}
			if c.Backend == "" {
				return Value{}, false
			}
			return Value{Kind: KStr, B: strBytes(c.Backend)}, true
		})},
		{name: "be_server_timeout", out: KInt, fn: beTimeout(func(t *proxy.Timeouts) time.Duration { return t.Server })},
		{name: "be_tunnel_timeout", out: KInt, fn: beTimeout(func(t *proxy.Timeouts) time.Duration { return t.Tunnel })},
		// The stream's current timeouts: set-timeout's once it ran, else
		// the server timeout applies once a server is chosen (0 before,
		// as in HAProxy 2.6.12's request rules); the stream's own tunnel
		// timeout is only ever set by set-timeout.
		{name: "cur_server_timeout", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			p := c.curBackendProxy()
			if tx == nil || p == nil {
				return Value{}, false
			}
			if tx.SrvTimeout > 0 {
				return ms(tx.SrvTimeout), true
			}
			if tx.Server == nil {
				return intVal(0), true
			}
			return ms(p.Timeouts.Server), true
		})},
		{name: "cur_tunnel_timeout", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			if c.curBackendProxy() == nil {
				return Value{}, false
			}
			if tx := c.engine(); tx != nil && tx.TunTimeout > 0 {
				return ms(tx.TunTimeout), true
			}
			return intVal(0), true
		})},
		{name: "srv_id", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			if tx == nil || tx.Server == nil {
				return Value{}, false
			}
			return intVal(int64(tx.Server.Server.ID)), true
		})},
		{name: "srv_name", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			if tx == nil || tx.Server == nil {
				return Value{}, false
			}
			return Value{Kind: KStr, B: strBytes(tx.Server.Server.Name)}, true
		})},

		{name: "nbsrv", out: KInt, maxArgs: 1, compile: compileBackendArg, fn: backendInt(usableServers)},
		{name: "be_conn", out: KInt, maxArgs: 1, compile: compileBackendArg, fn: backendInt(func(b *proxy.Backend) int64 {
			return b.Counters.CurConns.Load()
		})},
		{name: "be_conn_free", out: KInt, maxArgs: 1, compile: compileBackendArg, fn: backendInt(beConnFree)},
		{name: "connslots", out: KInt, maxArgs: 1, compile: compileBackendArg, fn: backendInt(connSlots)},
		{name: "queue", out: KInt, maxArgs: 1, compile: compileBackendArg, fn: backendInt(totalQueue)},
		{name: "avg_queue", out: KInt, maxArgs: 1, compile: compileBackendArg, fn: backendInt(func(b *proxy.Backend) int64 {
			act := 0
			for _, s := range b.Servers() {
				if s.Usable() && !s.Server.Backup {
					act++
				}
			}
			q := totalQueue(b)
			if act == 0 {
				return 2 * q
			}
			return (q + int64(act) - 1) / int64(act)
		})},
		{name: "fe_conn", out: KInt, maxArgs: 1, compile: compileFrontendArg, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			fe, _ := f.ref.(*proxy.Frontend)
			if fe == nil {
				if tx := c.engine(); tx != nil {
					fe = tx.Frontend
				}
			}
			if fe == nil {
				return Value{}, false
			}
			return intVal(fe.Counters.CurConns.Load()), true
		})},
		{name: "srv_conn", out: KInt, minArgs: 1, maxArgs: 1, compile: compileServerArg, fn: serverInt(func(s *proxy.ServerState) int64 {
			return s.Counters.CurConns.Load()
		})},
		{name: "srv_conn_free", out: KInt, minArgs: 1, maxArgs: 1, compile: compileServerArg, fn: serverInt(func(s *proxy.ServerState) int64 {
			if s.Server.Maxconn == 0 {
				return -1
			}
			return max(int64(s.Server.Maxconn)-s.Counters.CurConns.Load(), 0)
		})},
		{name: "srv_queue", out: KInt, minArgs: 1, maxArgs: 1, compile: compileServerArg, fn: serverInt(func(s *proxy.ServerState) int64 {
			return s.Counters.CurQueue.Load()
		})},
		{name: "srv_is_up", out: KBool, minArgs: 1, maxArgs: 1, compile: compileServerArg, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			v, ok := serverInt(func(s *proxy.ServerState) int64 {
				if st := s.Status(); st == proxy.SrvDown || st == proxy.SrvMaint {
					return 0
				}
				return 1
			})(c, f, st)
			return boolVal(v.I != 0), ok
		}},
		{name: "srv_iweight", out: KInt, minArgs: 1, maxArgs: 1, compile: compileServerArg, fn: serverInt(func(s *proxy.ServerState) int64 {
			return int64(s.Server.Weight)
		})},
		{name: "srv_uweight", out: KInt, minArgs: 1, maxArgs: 1, compile: compileServerArg, fn: serverInt(func(s *proxy.ServerState) int64 {
			return int64(s.Weight())
		})},
		{name: "srv_weight", out: KInt, minArgs: 1, maxArgs: 1, compile: compileServerArg, fn: serverInt(func(s *proxy.ServerState) int64 {
			return int64(s.Weight())
		})},
	}
}

func beTimeout(get func(t *proxy.Timeouts) time.Duration) fetchFn {
	return single(func(c *Ctx, f *fetch) (Value, bool) {
		p := c.curBackendProxy()
		if p == nil {
			return Value{}, false
		}
		return ms(get(&p.Timeouts)), true
	})
}

// proxyByName finds a proxy with the capability cap in the configuration.
func proxyByName(o *Options, name string, cp proxy.Cap) *proxy.Proxy {
	if o == nil || o.Config == nil {
		return nil
	}
	for _, p := range o.Config.Proxies {
		if p.Name == name && p.Cap&cp != 0 {
			return p
		}
	}
	return nil
}

// compileBackendArg resolves the optional backend name of be_conn,
// nbsrv, queue …; without one the fetch reads the current backend.
func compileBackendArg(f *fetch, o *Options) error {
	if len(f.args) == 0 || f.args[0] == "" {
		return nil
	}
	p := proxyByName(o, f.args[0], proxy.CapBE)
	if p == nil {
		return fmt.Errorf("unable to find backend '%s' referenced in arg 1 of sample fetch keyword '%s'", f.args[0], f.def.name)
	}
	if o.Runtime != nil {
		f.ref = o.Runtime.Backend(p)
	}
	return nil
}

func compileFrontendArg(f *fetch, o *Options) error {
	if len(f.args) == 0 || f.args[0] == "" {
		return nil
	}
	p := proxyByName(o, f.args[0], proxy.CapFE)
	if p == nil {
		return fmt.Errorf("unable to find frontend '%s' referenced in arg 1 of sample fetch keyword '%s'", f.args[0], f.def.name)
	}
	if o.Runtime != nil {
		for _, fe := range o.Runtime.Frontends {
			if fe.Proxy == p {
				f.ref = fe
			}
		}
	}
	return nil
}

// compileServerArg resolves [<backend>/]<server>. Without a backend the
// server belongs to the proxy whose rules are compiled (Options.Proxy);
// when that is unknown it is looked up in the current backend at run time.
func compileServerArg(f *fetch, o *Options) error {
	bname, sname, ok := strings.Cut(f.args[0], "/")
	var p *proxy.Proxy
	if ok {
		p = proxyByName(o, bname, proxy.CapBE)
		if p == nil {
			return fmt.Errorf("unable to find backend '%s' referenced in arg 1 of sample fetch keyword '%s'", bname, f.def.name)
		}
	} else {
		sname = bname
		if o != nil && o.Proxy != nil {
			p = o.Proxy
		}
	}
	f.str = []byte(sname)
	if p == nil {
		return nil
	}
	for _, s := range p.Servers {
		if s.Name == sname {
			if o.Runtime != nil {
				if b := o.Runtime.Backend(p); b != nil {
					for _, ss := range b.Servers() {
						if ss.Server == s {
							f.ref = ss
						}
					}
				}
			}
			return nil
		}
	}
	return fmt.Errorf("unable to find server '%s' in proxy '%s', referenced in arg 1 of sample fetch keyword '%s'", sname, p.Name, f.def.name)
}

func backendInt(get func(b *proxy.Backend) int64) fetchFn {
	return single(func(c *Ctx, f *fetch) (Value, bool) {
		b, _ := f.ref.(*proxy.Backend)
		if b == nil {
			b = c.curBackend()
		}
		if b == nil {
			return Value{}, false
		}
		return intVal(get(b)), true
	})
}

func serverInt(get func(s *proxy.ServerState) int64) fetchFn {
	return single(func(c *Ctx, f *fetch) (Value, bool) {
		s, _ := f.ref.(*proxy.ServerState)
		if s == nil {
			if b := c.curBackend(); b != nil {
				for _, ss := range b.Servers() {
					if ss.Server.Name == string(f.str) {
						s = ss
						break
					}
				}
			}
		}
		if s == nil {
			return Value{}, false
		}
		return intVal(get(s)), true
	})
}

func totalQueue(b *proxy.Backend) int64 {
	q := b.Counters.CurQueue.Load()
	for _, s := range b.Servers() {
		q += s.Counters.CurQueue.Load()
	}
	return q
}

// connSlots is HAProxy's connslots: free connection and queue slots of
// the running servers, -1 when one of them is unlimited.
func connSlots(b *proxy.Backend) int64 {
	var n int64
	for _, s := range b.Servers() {
		if !s.Usable() {
			continue
		}
		if s.Server.Maxconn == 0 || s.Server.Maxqueue == 0 {
			return -1
		}
		n += int64(s.Server.Maxconn) - s.Counters.CurConns.Load() + int64(s.Server.Maxqueue) - s.Counters.CurQueue.Load()
	}
	return n
}

// beConnFree is HAProxy's be_conn_free: free connection slots of the
// running servers (backups only when no active one runs), -1 when one is
// unlimited.
func beConnFree(b *proxy.Backend) int64 {
	act := false
	for _, s := range b.Servers() {
		if s.Usable() && !s.Server.Backup {
			act = true
		}
	}
	var n int64
	firstBck := true
	for _, s := range b.Servers() {
		if !s.Usable() {
			continue
		}
		if s.Server.Backup {
			if act || (!firstBck && !b.Proxy.AllBackups) {
				continue
			}
			firstBck = false
		}
		if s.Server.Maxconn == 0 {
			return -1
		}
		if cur := s.Counters.CurConns.Load(); int64(s.Server.Maxconn) > cur {
			n += int64(s.Server.Maxconn) - cur
		}
	}
	return n
}
