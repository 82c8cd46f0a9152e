package main

import "halo/proxy/rules"

// The layer-7 module: ACLs, http-request/response rules, redirects,
// use_backend, cookie persistence, monitor-uri, stats pages and logs.
func init() {
	proxyModules = append(proxyModules, rules.New().Module())
}
