package main

import (
	"fmt"
	"os"

	"halo/proxy"
)

// proxyRunOpts is what HAProxy's command line says about running (not
// checking) a configuration.
type proxyRunOpts struct {
	Foreground   bool   // -db, or no `daemon`
	MasterWorker bool   // -W / -Ws / master-worker
	PidFile      string // -p
	SoftStop     []int  // -sf PIDs: ask them to finish and exit once we listen
	HardStop     []int  // -st PIDs: terminate them once we listen
	Quiet        bool   // -q
	ConfigFiles  []string
}

// runProxy runs the load balancer until it is told to stop and returns the
// process exit code.
func runProxy(cfg *proxy.Config, o proxyRunOpts) int {
	fmt.Fprintln(os.Stderr, "[ALERT] halo: the proxy runtime is not built yet")
	return 1
}
