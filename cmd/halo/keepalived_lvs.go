package main

import (
	"context"
	"fmt"
	"log/syslog"
	"os"
	"sync"
	"time"

	"halo/lvs"
	"halo/lvs/ipvs"
	"halo/lvs/l4"
	"halo/vrrp"
	"halo/vrrp/notify"
	"halo/vrrp/track"
)

// envLVSDataPath forces a data path ("ipvs" or "userspace") instead of
// choosing by /proc/net/ip_vs (tests, and hosts where IPVS must not be
// touched).
const envLVSDataPath = "HALO_LVS_DATAPATH"

// checkerLogger writes keepalived's checker lines: syslog ident
// Keepalived_healthcheckers, or the console with -l.
type checkerLogger struct {
	mu      sync.Mutex
	console bool
	sys     *syslog.Writer
}

func newCheckerLogger(o vrrpRunOpts) *checkerLogger {
	l := &checkerLogger{console: o.LogConsole}
	if !o.LogConsole {
		fac := syslog.LOG_DAEMON
		if o.LogFacility >= 0 && o.LogFacility <= 7 {
			fac = syslog.Priority((16 + o.LogFacility) << 3)
		}
		if w, err := syslog.New(fac|syslog.LOG_INFO, "Keepalived_healthcheckers"); err == nil {
			l.sys = w
		} else {
			l.console = true
		}
	}
	return l
}

func (l *checkerLogger) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sys != nil {
		_ = l.sys.Info(msg)
	}
	if l.console {
		fmt.Fprintf(os.Stderr, "%s: %s\n", time.Now().Format("Mon Jan _2 15:04:05 2006"), msg)
	}
}

// chooseDataPath opens IPVS when the kernel has it, else halo's
// userspace path, and says loudly which one runs and why.
func chooseDataPath(logf func(string, ...any)) (lvs.DataPath, error) {
	want := os.Getenv(envLVSDataPath)
	ok, why := ipvs.Available()
	if want == "ipvs" || (want == "" && ok) {
		p, err := ipvs.New()
		if err == nil {
			logf("Initializing ipvs")
			return p, nil
		}
		if want == "ipvs" {
			return nil, err
		}
		why = err.Error()
	}
	if want == "" {
		logf("IPVS: %s: halo serves the virtual servers on its userspace L4 path (NAT only: real servers see this host as the client; fwmark and SCTP services are not served)", why)
	}
	return l4.New(logf), nil
}

// startLVS runs the virtual servers and returns the function that stops
// them (removing what was installed, as keepalived does on exit).
func startLVS(cfg *lvs.Config, vcfg *vrrp.Config, o vrrpRunOpts) (func(), error) {
	if cfg == nil || len(cfg.VirtualServers) == 0 || o.VRRPOnly {
		return func() {}, nil
	}
	log := newCheckerLogger(o)
	dp, err := chooseDataPath(log.Printf)
	if err != nil {
		return nil, err
	}
	switch p := dp.(type) {
	case *ipvs.Path:
		g := cfg.Global
		if err := p.SetTimeouts(g.TimeoutTCP, g.TimeoutTCPFin, g.TimeoutUDP); err != nil {
			log.Printf("IPVS: cannot set timeouts: %v", err)
		}
		if g.SyncDaemon != nil {
			// without VRRP state tracking both daemons run, as keepalived
			// does when no instance is named
			if err := p.StartSyncDaemon(g.SyncDaemon, 0); err != nil {
				log.Printf("IPVS: cannot start the sync daemon on %s: %v", g.SyncDaemon.Interface, err)
			}
		}
	case *l4.Path:
		if cfg.Global.TimeoutUDP > 0 {
			p.UDPTimeout = cfg.Global.TimeoutUDP
		}
		if cfg.Global.SyncDaemon != nil {
			log.Printf("lvs_sync_daemon: the userspace path has no connection table to sync; not started")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := lvs.Hooks{
		Logf: log.Printf,
		RunScript: func(s *lvs.Script) {
			go track.Run(ctx, s.Argv, track.Cred{UID: s.UID, GID: s.GID}, 0)
		},
	}
	if vcfg != nil && vcfg.Global.SMTPServer != "" && len(vcfg.Global.NotificationEmail) > 0 {
		g := vcfg.Global
		h.Alert = func(subject, body string) {
			go func() {
				if err := notify.Send(ctx, &g, subject, body); err != nil {
					log.Printf("%v", err)
				}
			}()
		}
	}
	m := lvs.NewManager(cfg, dp, h)
	m.Start(ctx)
	return func() {
		cancel()
		m.Stop()
		if p, ok := dp.(*ipvs.Path); ok && cfg.Global.SyncDaemon != nil {
			_ = p.StopSyncDaemon(0)
		}
		_ = dp.Close()
	}, nil
}
