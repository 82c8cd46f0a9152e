package acl

import (
	"bytes"
	"fmt"
	"strconv"

	"halo/proxy"
)

// proxyConvs look up a backend or a server named by the sample
// (configuration.txt §7.3.1 nbsrv, srv_queue): for names known only at
// run time, such as the result of a map.
func proxyConvs() []*convDef {
	capture := func(res bool) convFn {
		return func(c *Ctx, cv *conv, v Value) (Value, bool) {
			ct, ok := c.T.(CaptureTxn)
			if !ok || !ct.SetCapture(res, int(cv.num), toStr(c, v)) {
				return Value{}, false
			}
			return v, true
		}
	}
	return []*convDef{
		// capture-req(id) / capture-res(id): store the sample in a
		// declared capture slot and pass it on.
		{name: "capture-req", minArgs: 1, maxArgs: 1, out: KStr, compile: convSlot, fn: capture(false)},
		{name: "capture-res", minArgs: 1, maxArgs: 1, out: KStr, compile: convSlot, fn: capture(true)},
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
			for _, s := range b.Servers() {
				if s.Server.Name == string(name) {
					return intVal(s.Counters.CurQueue.Load()), true
				}
			}
			return Value{}, false
		}},
	}
}

func convSlot(cv *conv, o *Options) error {
	n, err := strconv.Atoi(cv.args[0])
	if err != nil || n < 0 {
		return fmt.Errorf("invalid capture id '%s'", cv.args[0])
	}
	cv.num = int64(n)
	return nil
}

// usableServers is nbsrv's count: the usable active servers, else the
// usable backups (all with allbackups, one otherwise).
func usableServers(b *proxy.Backend) int64 {
	act, bck := 0, 0
	for _, s := range b.Servers() {
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
