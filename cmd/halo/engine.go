package main

import (
	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/balance"
	"halo/proxy/balance/lbmod"
	"halo/proxy/cache"
	"halo/proxy/compress"
	"halo/proxy/peers"
	"halo/proxy/resolve"
	"halo/proxy/rules"
	"halo/proxy/stats"
)

// haproxyEngine assembles the HAProxy runtime: every module proxy.New
// plugs in, in hook order, and what each one gets from the others. It is
// the only place the engine is put together; each call returns fresh
// modules (they keep per-runtime state).
//
//   - peers (proxy/peers): the stick tables and their replication; its
//     Init runs first so the rules compile against the tables.
//   - balance (proxy/balance/lbmod): each backend's picker (HAProxy's
//     algorithms, maxconn queues), the servers' state and health checks.
//   - l7 (proxy/rules): ACLs, tcp/http-request and -response rules,
//     use_backend, cookie persistence, monitor-uri, stats pages, logs.
//   - stats (proxy/stats): show stat/info, the runtime API on the stats
//     sockets, the stats page and the Prometheus exporter, which read
//     the balance module's check state.
//   - cache (proxy/cache) and compression (proxy/compress): the filters
//     (NewFilter); the rules reach the caches for cache-use/cache-store,
//     the stats socket for `show cache`.
//   - resolve (proxy/resolve): the resolvers sections; last, so its first
//     answers change servers whose owner (balance) is ready.
//
// Request and Response hooks run in this order; for NewPicker the last
// module that returns a picker wins.
func haproxyEngine() []proxy.Module {
	mods, _ := haproxyEngineHub()
	return mods
}

// haproxyEngineHub is haproxyEngine with the statistics module, whose
// runtime API a worker also serves to its master (haproxy_mcli.go).
func haproxyEngineHub() ([]proxy.Module, *stats.Hub) {
	pm := peers.New()
	lb := lbmod.New()
	st := stats.NewHub(balanceChecks)
	st.Tables = pm.Tables
	l7 := rules.New()
	l7.Tables = pm.Tables
	st.PatRefs = l7.PatRefs
	l7.StatsPage = func(rt *proxy.Runtime, px *proxy.Proxy, cp *acl.Compiler) (rules.StatsPage, error) {
		return st.Page(rt, px, cp)
	}
	l7.Service = func(rt *proxy.Runtime, name string) (rules.Service, error) {
		return st.Service(rt, name)
	}
	cm := cache.New()
	l7.Cache = func(cfg *proxy.Config, px *proxy.Proxy, name string) (rules.CacheAction, error) {
		return cm.Action(cfg, px, name)
	}
	st.ShowCache = cm.AppendShow
	return []proxy.Module{pm.Module(), lb.Module(), l7.Module(), st.Module(),
		cm.EngineModule(), compress.New().EngineModule(), resolve.New().Module()}, st
}

// balanceChecks reads a server's check state from the balance module
// (proxy/balance, proxy/health) for the stats check_* and agent_* columns.
func balanceChecks(ss *proxy.ServerState) (stats.CheckState, bool) {
	bs, ok := lbmod.Server(ss)
	sc := lbmod.ServerChecks(ss)
	if !ok || sc == nil {
		return stats.CheckState{}, false
	}
	st := bs.Stats()
	cv, av := sc.Views()
	cs := stats.CheckState{
		Enabled: sc.HasCheck(), Status: cv.Status, Code: cv.Code, HasCode: cv.HasCode,
		Desc: cv.Desc, Info: cv.Info, Duration: cv.Duration, Health: cv.Health, Rise: cv.Rise, Fall: cv.Fall,
		Paused: cv.Paused, InProgress: cv.InProgress,
		Failed:     int64(st.FailedChecks),
		Downs:      int64(st.DownTrans),
		Downtime:   st.Downtime,
		LastChange: st.LastChange,
		Maxconn:    st.Limit,
	}
	if bs, ok := lbmod.Server(ss); ok {
		if _, adm := bs.Current(); adm&balance.AdminMaint == balance.AdminInheritedMaint && sc.Tracked() != nil {
			cs.MaintVia = sc.Tracked().Name()
		}
	}
	ref := sc.Ref()
	rc, ra := ref.Views()
	cs.Ref = stats.RefState{Check: ref.HasCheck(), Health: rc.Health, Rise: rc.Rise, Fall: rc.Fall,
		Agent: ref.HasAgent(), AgentHealth: ra.Health}
	if av.Status != "" {
		cs.Agent = &stats.AgentState{Status: av.Status, Code: av.Code, HasCode: av.HasCode, Desc: av.Desc, Info: av.Info,
			Duration: av.Duration, Health: av.Health, Rise: av.Rise, Fall: av.Fall, InProgress: av.InProgress}
	}
	return cs, true
}
