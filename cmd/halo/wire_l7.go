package main

import (
	"halo/proxy"
	"halo/proxy/acl"
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
	proxyModules = append(proxyModules, rules.New().Module(), stats.Module())
}
