package main

import (
	"time"

	"halo/proxy"
	"halo/proxy/balance/lbmod"
	"halo/proxy/health"
	"halo/proxy/stats"
)

// The load-balancing module: HAProxy's balance algorithms, maxconn queues,
// server states and health checks (proxy/balance, proxy/health). The stats
// page reads the checks' state through stats.Checks.
func init() {
	proxyModules = append(proxyModules, lbmod.Module())
	stats.Checks = func(ss *proxy.ServerState) (stats.CheckState, bool) {
		s, ok := lbmod.Lookup(ss)
		if !ok {
			return stats.CheckState{}, false
		}
		st := s.Stats()
		c := st.Check
		if !c.Enabled {
			return stats.CheckState{}, false
		}
		dur := int64(-1)
		desc := ""
		if c.Status != "" && c.Status != "INI" {
			dur = int64(c.Duration / time.Millisecond)
			desc = health.DescriptionOf(c.Status)
		}
		return stats.CheckState{
			Enabled: true, Status: c.Status, Code: c.Code, Desc: desc, Info: c.Desc,
			Duration: dur, Health: c.Health, Failed: int64(st.FailedChecks),
			Downs: int64(st.DownTrans), Downtime: st.Downtime,
		}, true
	}
}
