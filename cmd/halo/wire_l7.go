package main

import (
	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/balance/lbmod"
	"halo/proxy/rules"
	"halo/proxy/stats"
)

// The layer-7 modules: ACLs, http-request/response rules, redirects,
// use_backend, cookie persistence, monitor-uri, stats pages and logs;
// then the stats sockets (runtime API).
func init() {
	rules.NewStatsPage = func(rt *proxy.Runtime, px *proxy.Proxy, cp *acl.Compiler) (rules.StatsPage, error) {
		return stats.NewPage(stats.For(rt), px, cp)
	}
	rules.NewService = func(rt *proxy.Runtime, name string) (rules.Service, error) {
		return stats.NewService(rt, name)
	}
	stats.Checks = balanceChecks
	proxyModules = append(proxyModules, rules.New().Module(), stats.Module())
}

// balanceChecks reads a server's health-check state from the balance
// module (proxy/balance, proxy/health) for the stats check_* columns.
func balanceChecks(ss *proxy.ServerState) (stats.CheckState, bool) {
	p, ok := ss.Backend.Picker.(*lbmod.Picker)
	if !ok {
		return stats.CheckState{}, false
	}
	bs := p.Balance().Server(ss.Server.Name)
	if bs == nil {
		return stats.CheckState{}, false
	}
	st := bs.Stats()
	if !st.Check.Enabled {
		return stats.CheckState{}, false
	}
	return stats.CheckState{
		Enabled:  true,
		Status:   st.Check.Status,
		Code:     st.Check.Code,
		Desc:     stats.CheckDesc(st.Check.Status),
		Info:     st.Check.Desc,
		Duration: st.Check.Duration.Milliseconds(),
		Health:   st.Check.Health,
		Failed:   int64(st.FailedChecks),
		Downs:    int64(st.DownTrans),
		Downtime: st.Downtime,
		// lastchg
		LastChange: st.LastChange,
	}, true
}
