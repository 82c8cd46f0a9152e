package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"halo/proxy"
	"halo/proxy/logging"
	"halo/proxy/stats"
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
	XferSocket   string // -x: the old process's stats socket, to take its listening sockets
	ConfigFiles  []string
	// MasterCLI are the -S sockets; MworkerMaxReloads the global
	// mworker-max-reloads (haproxy_mcli.go).
	MasterCLI         []proxy.StatsSocket
	MworkerMaxReloads int
	StartupLogs       string // what was printed while loading (show startup-logs)
}

// daemonEnv marks the re-executed child of a daemonizing `halo haproxy`.
const daemonEnv = "HALO_HAPROXY_DAEMON"

// runProxy runs the load balancer until it is told to stop and returns the
// process exit code.
func runProxy(cfg *proxy.Config, o proxyRunOpts) int {
	worker := os.Getenv(workerEnv) != ""
	if !o.Foreground && os.Getenv(daemonEnv) == "" && !worker {
		return daemonizeProxy(o)
	}
	if o.MasterWorker && !worker {
		return runMaster(o)
	}
	// A process started to replace running ones waits for their stick
	// tables (the peers' local lesson).
	cfg.Replaces = len(o.SoftStop) > 0 || len(o.HardStop) > 0 || os.Getenv(reloadEnv) != ""
	mods, hub := haproxyEngineHub()
	hub.StartupLogs = o.StartupLogs
	rt, err := proxy.New(cfg, mods...)
	if err != nil {
		proxyAlert("%v", err)
		return 1
	}
	// As HAProxy, the soft descriptor limit becomes what the process
	// needs (show info's Ulimit-n), within the hard limit.
	var rl syscall.Rlimit
	if n := cfg.Global.UlimitN; n > 0 {
		// `ulimit-n` sets it, raising the hard limit when allowed
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
			want := syscall.Rlimit{Cur: uint64(n), Max: max(rl.Max, uint64(n))}
			if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil {
				if !cfg.Global.NoStrictLimits {
					proxyAlert("[haproxy.main()] Cannot raise FD limit to %d, limit is %d.", n, rl.Cur)
					return 1
				}
				// at least the hard limit
				rl.Cur = rl.Max
				_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
				_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
				fmt.Fprintf(os.Stderr, "[WARNING]  (%d) : [haproxy.main()] Cannot raise FD limit to %d, limit is %d.\n", os.Getpid(), n, rl.Cur)
			}
		}
	} else if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rt.Maxsock > 0 && uint64(rt.Maxsock) <= rl.Max {
		rl.Cur = uint64(rt.Maxsock)
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	// Catch signals before listening so an early SIGUSR1 is not fatal.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGUSR2)
	if err := inheritSockets(rt, o); err != nil {
		return 1
	}
	if err := rt.Start(); err != nil {
		proxyAlert("%v", err)
		return 1
	}
	pidfile := o.PidFile
	if pidfile == "" {
		pidfile = cfg.Global.PidFile
	}
	if worker {
		// The master owns the pidfile and the -sf/-st PIDs.
		pidfile, o.SoftStop, o.HardStop = "", nil, nil
	}
	if pidfile != "" {
		if err := os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			proxyAlert("[%s.main()] Cannot create pidfile %s", "haproxy", pidfile)
		}
	}
	// chroot before the old processes are told to leave, so a failure
	// leaves them serving (HAProxy's order).
	if err := proxy.Chroot(&cfg.Global); err != nil {
		proxyAlert("[haproxy.main()] %v", err)
		rt.HardStop()
		return 1
	}
	// Once we listen (SO_REUSEPORT lets both generations bind), tell the
	// old processes to leave: -sf finishes their connections, -st kills.
	for _, pid := range o.SoftStop {
		_ = syscall.Kill(pid, syscall.SIGUSR1)
	}
	for _, pid := range o.HardStop {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	// As HAProxy: change ids only now, with every socket bound, the
	// pidfile written and the old processes told while still privileged.
	// A -W worker does it too (it binds its own sockets); the master,
	// which re-executes workers on reload, keeps its identity.
	if err := proxy.SetIDs(&cfg.Global, func(m string) {
		fmt.Fprintf(os.Stderr, "[WARNING]  (%d) : [haproxy.main()] %s\n", os.Getpid(), m)
	}); err != nil {
		proxyAlert("[haproxy.main()] %v", err)
		rt.HardStop()
		return 1
	}
	if worker {
		serveMasterChannel(rt) // the next worker takes our sockets through it
		serveMasterCLI(hub)    // the master's @1 / @!PID commands
		// Tell the master we listen under our final identity.
		if f := os.NewFile(3, "ready"); f != nil {
			_, _ = f.Write([]byte("R"))
			f.Close()
		}
	}
	var hardAfter <-chan time.Time
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGUSR1:
				// Soft stop: stop listening, finish in-flight work, exit.
				rt.SoftStop()
				if d := cfg.Global.HardStopAfter; d > 0 && hardAfter == nil {
					hardAfter = time.After(d)
				}
			case syscall.SIGHUP:
				dumpServerStates(os.Stderr, rt)
			case syscall.SIGUSR2:
				// Reload needs -W (the master re-executes workers).
			default:
				rt.HardStop()
			}
		case <-hardAfter:
			rt.HardStop()
		case <-rt.Done():
			if pidfile != "" {
				if b, err := os.ReadFile(pidfile); err == nil && string(b) == strconv.Itoa(os.Getpid())+"\n" {
					_ = os.Remove(pidfile)
				}
			}
			return 0
		}
	}
}

// daemonizeProxy re-executes this command detached from the terminal (Go
// cannot fork), as HAProxy's `daemon`: the parent writes the pidfile with
// the child's PID and exits 0.
func daemonizeProxy(o proxyRunOpts) int {
	exe, err := os.Executable()
	if err != nil {
		proxyAlert("cannot daemonize: %v", err)
		return 1
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		proxyAlert("cannot daemonize: %v", err)
		return 1
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), daemonEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		proxyAlert("cannot daemonize: %v", err)
		return 1
	}
	if o.PidFile != "" {
		_ = os.WriteFile(o.PidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	}
	return 0
}

func proxyAlert(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[ALERT]    (%d) : %s\n", os.Getpid(), fmt.Sprintf(format, args...))
}

// dumpServerStates is HAProxy's answer to SIGHUP: every proxy's servers
// and connection counts as warnings on stderr, and each proxy's part to
// its own log targets (syslog notice).
func dumpServerStates(w io.Writer, rt *proxy.Runtime) {
	warn := func(msg string) { fmt.Fprintf(w, "[WARNING]  (%d) : %s\n", os.Getpid(), msg) }
	warn("SIGHUP received, dumping servers states.")
	for _, d := range stats.SIGHUPDump(rt) {
		for _, l := range d.Lines {
			warn(l)
		}
		if len(d.Proxy.Logs) == 0 {
			continue
		}
		lg, err := logging.OpenFor(rt.Cfg, d.Proxy)
		if err != nil {
			continue
		}
		lg.Send(syslogNotice, []byte("SIGHUP received, dumping servers states for proxy "+d.Proxy.Name+"."))
		for _, l := range d.Lines {
			lg.Send(syslogNotice, []byte(l))
		}
		lg.Close()
	}
}

const syslogNotice = 5
