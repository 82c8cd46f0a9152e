package main

import (
	"fmt"
	"os"

	"halo/vrrp"
)

// vrrpRunOpts is what Keepalived's command line says about running.
type vrrpRunOpts struct {
	ConfigFile   string
	DontFork     bool   // -n
	LogConsole   bool   // -l
	LogDetail    bool   // -D
	LogFacility  int    // -S
	PidFile      string // -p (main process)
	VRRPPidFile  string // -r
	CheckPidFile string // -c
	VRRPOnly     bool   // -P
	CheckOnly    bool   // -C
	DumpConf     bool   // -d
}

// runVRRP runs the VRRP speaker until it is told to stop and returns the
// process exit code.
func runVRRP(cfg *vrrp.Config, o vrrpRunOpts) int {
	fmt.Fprintln(os.Stderr, "halo keepalived: the VRRP runtime is not built yet")
	return 1
}
