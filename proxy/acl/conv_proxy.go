package acl

import (
	"bytes"

	"halo/proxy"
)

// proxyConvs look up a backend or a server named by the sample
// (configuration.txt §7.3.1 nbsrv, srv_queue): for names known only at
// run time, such as the result of a map.
func proxyConvs() []*convDef {
	return []*convDef{
		{name: "nbsrv", out: KInt, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			if c.Runtime == nil {
				return Value{}, false
			}
			b := c.Runtime.BackendByName(string(toStr(c, v)))
			if b == nil {
				return Value{}, false
			}
			return intVal(usableServers(b)), true
		}},
		// srv_queue: "backend/server" or a server of the current backend.
		{name: "srv_queue", out: KInt, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			name := toStr(c, v)
			b := c.curBackend()
			if i := bytes.IndexByte(name, '/'); i >= 0 {
				if c.Runtime == nil {
					return Value{}, false
				}
				b = c.Runtime.BackendByName(string(name[:i]))
				name = name[i+1:]
			}
			if b == nil {
				return Value{}, false
			}
			for _, s := range b.Servers {
				if s.Server.Name == string(name) {
					return intVal(s.Counters.CurQueue.Load()), true
				}
			}
			return Value{}, false
		}},
	}
}

// usableServers is nbsrv's count: the usable active servers, else the
// usable backups (all with allbackups, one otherwise).
func usableServers(b *proxy.Backend) int64 {
	act, bck := 0, 0
	for _, s := range b.Servers {
		if s.Usable() {
			if s.Server.Backup {
				bck++
			} else {
				act++
			}
		}
	}
	switch {
	case act > 0:
		return int64(act)
	case b.Proxy.AllBackups:
		return int64(bck)
	}
	return int64(min(bck, 1))
}
