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

// lvsRunner is the checker side of halo keepalived: the virtual servers,
// their checkers and the data path, reloaded on SIGHUP.
type lvsRunner struct {
	o   vrrpRunOpts
	log *checkerLogger

	mu    sync.Mutex
	cfg   *lvs.Config
	vglob vrrp.Global // the SMTP settings alerts use (global_defs)
	dp    lvs.DataPath
	m     *lvs.Manager
	ctx   context.Context
	stop  context.CancelFunc
	sync  chan bool // lvs_sync_daemon inst: the instance is MASTER
	done  chan struct{}
}

// startLVS runs the virtual servers (when there are any; a reload may
// bring some later) and returns the runner, whose Stop removes what was
// installed, as keepalived does on exit.
func startLVS(cfg *lvs.Config, vcfg *vrrp.Config, o vrrpRunOpts) (*lvsRunner, error) {
	r := &lvsRunner{o: o}
	if o.VRRPOnly {
		return r, nil
	}
	if vcfg != nil {
		r.vglob = vcfg.Global
	}
	return r, r.start(cfg)
}

func (r *lvsRunner) start(cfg *lvs.Config) error {
	if cfg == nil || len(cfg.VirtualServers) == 0 {
		return nil
	}
	if r.log == nil {
		r.log = newCheckerLogger(r.o)
	}
	log := r.log
	dp, err := chooseDataPath(log.Printf)
	if err != nil {
		return err
	}
	r.dp, r.cfg = dp, cfg
	switch p := dp.(type) {
	case *ipvs.Path:
		g := cfg.Global
		if err := p.SetTimeouts(g.TimeoutTCP, g.TimeoutTCPFin, g.TimeoutUDP); err != nil {
			log.Printf("IPVS: cannot set timeouts: %v", err)
		}
		if sd := g.SyncDaemon; sd != nil {
			if sd.Instance == "" || r.o.CheckOnly {
				// no instance to follow: both daemons run, as keepalived
				// does when no instance is named
				if err := p.StartSyncDaemon(sd, 0); err != nil {
					log.Printf("IPVS: cannot start the sync daemon on %s: %v", sd.Interface, err)
				}
			} else {
				// the instance starts in BACKUP; the speaker says when it
				// changes (InstanceState)
				r.sync = make(chan bool, 16)
				r.done = make(chan struct{})
				go r.followSync(p, sd)
				r.sync <- false
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
	r.ctx, r.stop = context.WithCancel(context.Background())
	ctx := r.ctx
	h := lvs.Hooks{
		Logf:      log.Printf,
		LogDetail: r.o.LogDetail,
		RunScript: func(s *lvs.Script) {
			go track.Run(ctx, s.Argv, track.Cred{UID: s.UID, GID: s.GID}, 0)
		},
		Alert: func(subject, body string) {
			r.mu.Lock()
			g := r.vglob
			r.mu.Unlock()
			if g.SMTPServer == "" || len(g.NotificationEmail) == 0 {
				return
			}
			go func() {
				if err := notify.Send(ctx, &g, subject, body); err != nil {
					log.Printf("%v", err)
				}
			}()
		},
	}
	r.m = lvs.NewManager(cfg, dp, h)
	r.m.Start(ctx)
	return nil
}

// followSync switches the IPVS sync daemon as the instance named by
// lvs_sync_daemon changes state, off the speaker's loop.
func (r *lvsRunner) followSync(p *ipvs.Path, sd *lvs.SyncDaemon) {
	defer close(r.done)
	for master := range r.sync {
		state := ipvs.StateBackup
		if master {
			state = ipvs.StateMaster
		}
		if err := p.SetSyncState(sd, state); err != nil {
			r.log.Printf("IPVS: cannot switch the sync daemon on %s: %v", sd.Interface, err)
		}
	}
}

// InstanceState is the speaker's StateObserver: lvs_sync_daemon's
// instance going MASTER or leaving it switches the sync daemon.
func (r *lvsRunner) InstanceState(name string, st vrrp.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sync == nil || r.cfg == nil || r.cfg.Global.SyncDaemon == nil || r.cfg.Global.SyncDaemon.Instance != name {
		return
	}
	select {
	case r.sync <- st == vrrp.StateMaster:
	default: // a burst of changes: the daemon catches up with the next
	}
}

// Reload applies a re-read configuration (SIGHUP).
func (r *lvsRunner) Reload(cfg *lvs.Config, vcfg *vrrp.Config) {
	if r.o.VRRPOnly {
		return
	}
	r.mu.Lock()
	if vcfg != nil {
		r.vglob = vcfg.Global
	}
	m := r.m
	r.mu.Unlock()
	if m == nil {
		if err := r.start(cfg); err != nil {
			r.logf("%v", err)
		}
		return
	}
	if cfg == nil {
		cfg = &lvs.Config{Global: r.cfg.Global}
	}
	r.mu.Lock()
	r.cfg = cfg
	r.mu.Unlock()
	m.Reload(cfg)
}

func (r *lvsRunner) logf(format string, args ...any) {
	if r.log != nil {
		r.log.Printf(format, args...)
	}
}

// Stop cancels the checkers and removes what was installed.
func (r *lvsRunner) Stop() {
	if r.m == nil {
		return
	}
	r.stop()
	r.m.Stop()
	if p, ok := r.dp.(*ipvs.Path); ok && r.cfg.Global.SyncDaemon != nil {
		r.mu.Lock()
		if r.sync != nil {
			close(r.sync)
			r.sync = nil
		}
		r.mu.Unlock()
		if r.done != nil {
			<-r.done
		}
		_ = p.StopSyncDaemon(0)
	}
	_ = r.dp.Close()
}
