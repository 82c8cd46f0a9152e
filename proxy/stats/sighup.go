package stats

import (
	"fmt"

	"halo/proxy"
)

// ProxyDump is what HAProxy reports about one proxy when it receives
// SIGHUP: one line per server, then the proxy's own line.
type ProxyDump struct {
	Proxy *proxy.Proxy
	Lines []string
}

// SIGHUPDump is HAProxy 2.6's server state dump on SIGHUP (recorded on
// this box), for every proxy in configuration order. Its own internal
// proxies (GLOBAL, <HTTPCLIENT>) have no counterpart in halo.
func SIGHUPDump(rt *proxy.Runtime) []ProxyDump {
	var out []ProxyDump
	for _, p := range rt.Cfg.Proxies {
		if p.Disabled {
			continue
		}
		d := ProxyDump{Proxy: p}
		var feAct, feTot, beAct, beTot, pend, unass int64
		for _, fe := range rt.Frontends {
			if fe.Proxy == p {
				feAct, feTot = fe.Counters.CurConns.Load(), fe.Counters.TotConns.Load()
			}
		}
		be := rt.Backend(p)
		if be != nil {
			beAct, beTot = be.Counters.CurConns.Load(), be.Counters.TotConns.Load()
			unass = be.Counters.CurQueue.Load()
			pend = unass
			for _, ss := range be.Servers() {
				// A server in maintenance is stopped; a drained one keeps
				// its operational state.
				state := "UP"
				if ss.Status() == proxy.SrvMaint || ss.Health() == proxy.SrvDown {
					state = "DOWN"
				}
				c := &ss.Counters
				pend += c.CurQueue.Load()
				d.Lines = append(d.Lines, fmt.Sprintf("SIGHUP: Server %s/%s is %s. Conn: %d act, %d pend, %d tot.",
					p.Name, ss.Server.Name, state, c.CurConns.Load(), c.CurQueue.Load(), c.TotConns.Load()))
			}
		}
		conn := fmt.Sprintf("Conn: act(FE+BE): %d+%d, %d pend (%d unass), tot(FE+BE): %d+%d.", feAct, beAct, pend, unass, feTot, beTot)
		switch {
		case be == nil || len(be.Servers()) == 0:
			d.Lines = append(d.Lines, fmt.Sprintf("SIGHUP: Proxy %s has no servers. %s", p.Name, conn))
		default:
			act, bck := 0, 0
			for _, ss := range be.Servers() {
				if ss.Usable() {
					if ss.Server.Backup {
						bck++
					} else {
						act++
					}
				}
			}
			if act+bck == 0 {
				d.Lines = append(d.Lines, fmt.Sprintf("SIGHUP: Proxy %s has no server available ! %s", p.Name, conn))
			} else {
				d.Lines = append(d.Lines, fmt.Sprintf("SIGHUP: Proxy %s has %d active servers and %d backup servers available. %s", p.Name, act, bck, conn))
			}
		}
		out = append(out, d)
	}
	return out
}
