package main

import "halo/proxy/balance/lbmod"

// The load-balancing module: HAProxy's balance algorithms, maxconn queues,
// server states and health checks (proxy/balance, proxy/health).
func init() {
	proxyModules = append(proxyModules, lbmod.Module())
}
