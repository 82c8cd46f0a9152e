package main

import (
	"context"
	"errors"
	"fmt"
	"log/syslog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"halo/lvs"
	"halo/vrrp"
	"halo/vrrp/speaker"
	"halo/vrrp/track"
)

// vrrpRunOpts is what Keepalived's command line says about running.
type vrrpRunOpts struct {
	ConfigFile   string
	DontFork     bool   // -n
	LogConsole   bool   // -l
	LogDetail    bool   // -D
	LogFacility  int    // -S: 0-7 is LOG_LOCAL<N>, -1 the default (daemon)
	PidFile      string // -p (main process)
	VRRPPidFile  string // -r
	CheckPidFile string // -c
	VRRPOnly     bool   // -P
	CheckOnly    bool   // -C
	DumpConf     bool   // -d
	// Reload re-reads the configuration for SIGHUP (the VRRP and the LVS
	// sides); nil means SIGHUP only logs that reloading is unavailable.
	Reload func() (*vrrp.Config, *lvs.Config, error)
	// LVS is the virtual servers to run beside VRRP (keepalived_lvs.go).
	LVS *lvs.Config
}

// Keepalived 2.2.7's default files (Debian's build: runstatedir /run).
const (
	defaultPidFile      = "/run/keepalived.pid"
	defaultVRRPPidFile  = "/run/vrrp.pid"
	defaultCheckPidFile = "/run/checkers.pid"
	dataFile            = "/tmp/keepalived.data"
	statsFile           = "/tmp/keepalived.stats"
	envDaemonized       = "HALO_KEEPALIVED_DAEMONIZED"
)

// vrrpLogger writes keepalived-style lines to the console (-l) or syslog.
type vrrpLogger struct {
	mu      sync.Mutex
	console bool
	sys     *syslog.Writer
}

func newVRRPLogger(o vrrpRunOpts) *vrrpLogger {
	l := &vrrpLogger{console: o.LogConsole}
	if !o.LogConsole {
		fac := syslog.LOG_DAEMON
		if o.LogFacility >= 0 && o.LogFacility <= 7 {
			fac = syslog.Priority((16 + o.LogFacility) << 3) // -S N is LOG_LOCALN
		}
		if w, err := syslog.New(fac|syslog.LOG_INFO, "Keepalived_vrrp"); err == nil {
			l.sys = w
		} else {
			l.console = true // no syslog daemon: do not lose the lines
		}
	}
	return l
}

func (l *vrrpLogger) Printf(format string, args ...any) {
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

// runVRRP runs the VRRP speaker until it is told to stop and returns the
// process exit code.
func runVRRP(cfg *vrrp.Config, o vrrpRunOpts) int {
	if !o.DontFork && os.Getenv(envDaemonized) == "" {
		return daemonize()
	}
	if o.PidFile == "" {
		o.PidFile = defaultPidFile
	}
	if o.VRRPPidFile == "" {
		o.VRRPPidFile = defaultVRRPPidFile
	}
	if o.CheckPidFile == "" {
		o.CheckPidFile = defaultCheckPidFile
	}
	log := newVRRPLogger(o)
	log.Printf("Starting halo keepalived %s (Keepalived 2.2.7 compatible)", Version)
	log.Printf("Command line: %s", quoteArgs(os.Args))
	if o.ConfigFile != "" {
		log.Printf("Configuration file %s", o.ConfigFile)
	}
	// -P runs the VRRP side only, -C the checkers only (keepalived's
	// subsystems). One halo process does what keepalived's children do and
	// writes the pid file of each subsystem it runs: -c's only when there
	// are virtual servers to check, as keepalived starts no checker child
	// without them.
	runVRRPSide := !o.CheckOnly
	runChecks := !o.VRRPOnly && o.LVS != nil && len(o.LVS.VirtualServers) > 0
	if !runChecks && (o.CheckOnly || len(cfg.Instances) == 0) {
		log.Printf("Warning - keepalived has no configuration to run")
	}
	pids := []string{o.PidFile}
	if runVRRPSide {
		pids = append(pids, o.VRRPPidFile)
	}
	if runChecks {
		pids = append(pids, o.CheckPidFile)
	}
	// keepalived refuses to start twice on the same pid files.
	for _, p := range pids {
		if pidAlive(p) {
			log.Printf("daemon is already running")
			return 1
		}
	}
	for _, p := range pids {
		if err := writePid(p); err != nil {
			log.Printf("Unable to write pid file %s: %v", p, err)
			return 1
		}
		defer os.Remove(p)
	}

	// Children inherited from the shell that exec'd us are reaped as they
	// die, as keepalived does, so `killall -0 NAME` sees them go.
	reapCtx, stopReaping := context.WithCancel(context.Background())
	defer stopReaping()
	go track.ReapInherited(reapCtx, track.InheritedChildren())

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)

	lr, err := startLVS(o.LVS, cfg, o)
	if err != nil {
		log.Printf("%v", err)
		return 1
	}
	defer lr.Stop()
	if o.CheckOnly {
		// no VRRP side: the speaker runs no instance, no static address,
		// no notify FIFO (the checkers run the generic one's script)
		cfg = &vrrp.Config{}
	}
	sp, err := speaker.New(cfg, log.Printf)
	if err == nil {
		sp.Detail = o.LogDetail
		sp.Observer = lr
		err = sp.Start()
	}
	if err != nil {
		log.Printf("%v", err)
		return 1
	}
	log.Printf("Startup complete")
	for sig := range sigs {
		switch sig {
		case syscall.SIGHUP:
			if o.Reload == nil {
				log.Printf("Reload requested but no configuration loader is wired; keeping the running configuration")
				continue
			}
			ncfg, nlvs, err := o.Reload()
			if err != nil {
				log.Printf("Reload failed, keeping the running configuration: %v", err)
				continue
			}
			lr.Reload(nlvs, ncfg)
			if o.CheckOnly {
				ncfg = &vrrp.Config{}
			}
			if err := sp.Reload(ncfg); err != nil {
				log.Printf("Reload failed: %v", err)
				return 1
			}
			log.Printf("Reload finished")
		case syscall.SIGUSR1:
			if err := speaker.WriteFile(dataFile, sp.WriteData); err != nil {
				log.Printf("Unable to write %s: %v", dataFile, err)
			}
		case syscall.SIGUSR2:
			if err := speaker.WriteFile(statsFile, sp.WriteStats); err != nil {
				log.Printf("Unable to write %s: %v", statsFile, err)
			}
		default:
			sp.Stop()
			log.Printf("Stopped halo keepalived %s", Version)
			return 0
		}
	}
	return 0
}

// daemonize re-runs the same command line detached (a new session, stdio on
// /dev/null) and returns at once, as keepalived does without -n. Go cannot
// fork a running runtime, so the child is a fresh exec of this binary.
func daemonize() int {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), envDaemonized+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "keepalived: cannot start in the background: %v\n", err)
		return 1
	}
	return 0
}

func pidAlive(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func writePid(path string) error {
	return os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

func quoteArgs(a []string) string {
	q := make([]string, len(a))
	for i, s := range a {
		q[i] = "'" + s + "'"
	}
	return strings.Join(q, " ")
}
