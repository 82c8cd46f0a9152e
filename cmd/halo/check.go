package main

import (
	"halo/compat"
	"halo/parser"
	"halo/proxy"
	"halo/vrrp"
)

// haproxyLoadOpts are the command-line switches that change what loading a
// haproxy configuration accepts.
type haproxyLoadOpts struct {
	IgnoreDNS    bool // -dr
	Diag         bool // -dD
	ZeroWarning  bool // -dW (global zero-warning counts too)
	StrictCompat bool // --strict-compat: halo's compatibility notes are fatal
}

// loadHAProxy is the one load behind `halo haproxy` (-c and running) and
// `halo compat`: compat's decoding and whole-configuration checks, then
// what the engine would refuse when it starts (each module's Check, on
// the very modules haproxyEngine assembles), zero-warning, and whether
// anything listens. The report ends with the closing alerts haproxy -c
// prints, and rep.Check holds -c's exit status: 0 valid, 1 refused, 2 no
// listener. The config is nil unless the status is 0 or 2.
func loadHAProxy(paths []string, o haproxyLoadOpts) (*proxy.Config, *compat.Report) {
	cfg, rep := compat.LoadHAProxy(paths, compat.HAProxyOptions{IgnoreResolveErrors: o.IgnoreDNS, Diag: o.Diag})
	rep.Check = &compat.CheckVerdict{Tool: "haproxy -c"}
	alert := func(msg string) {
		rep.Diags = append(rep.Diags, compat.Diagnostic{Sev: parser.SevAlert, Msg: msg, Late: true})
	}
	closing := func(msg string) {
		rep.Diags = append(rep.Diags, compat.Diagnostic{Sev: parser.SevAlert, Msg: msg, Late: true, Closing: true})
	}
	refuse := func() (*proxy.Config, *compat.Report) {
		rep.Check.Exit = 1
		return nil, rep
	}
	if rep.Fatal() {
		if n := len(rep.Diags); n > 0 && rep.Diags[n-1].Msg == compat.AddrInitFailed {
			return refuse() // haproxy stops there, without its summary
		}
		errFiles := map[string]bool{}
		for _, d := range rep.Diags {
			if d.Rejecting() && d.Pos.File != "" && !d.Late {
				errFiles[d.Pos.File] = true
			}
		}
		for _, f := range paths {
			if errFiles[f] {
				closing("Error(s) found in configuration file : " + f)
			}
		}
		if !rep.Aborted {
			closing("Fatal errors found in configuration.")
		}
		return refuse()
	}
	// What the runtime compiles when it starts (ACLs, rules, log formats,
	// balance settings) fails the check here.
	if err := proxy.Check(cfg, haproxyEngine()...); err != nil {
		alert("halo: " + err.Error())
		closing("Fatal errors found in configuration.")
		return refuse()
	}
	warned, noted := false, false
	for _, d := range rep.Diags {
		if d.Sev == parser.SevWarning {
			if d.Halo {
				noted = true
			} else {
				warned = true
			}
		}
	}
	if (o.ZeroWarning || cfg.Global.ZeroWarning) && warned {
		alert("Some warnings were found and 'zero-warning' is set. Aborting.")
		return refuse()
	}
	if o.StrictCompat && noted {
		alert("halo: some directives are not executed as HAProxy does and --strict-compat is set. Aborting.")
		return refuse()
	}
	if !hasListener(cfg) {
		rep.Check.Exit = 2
		rep.Check.Reason = "no listener"
	}
	return cfg, rep
}

// loadKeepalived is the one load behind `halo keepalived -t` and `halo
// compat`: the checks keepalived -t runs on this host (interfaces,
// scripts, files); rep.Check holds -t's exit status.
func loadKeepalived(path string, opt compat.KeepalivedOptions) (*vrrp.Config, *compat.Report) {
	opt.HostChecks = true
	cfg, rep := compat.LoadKeepalived(path, opt)
	rep.Check = &compat.CheckVerdict{Tool: "keepalived -t", Exit: compat.KeepalivedTestExit(rep)}
	return cfg, rep
}
