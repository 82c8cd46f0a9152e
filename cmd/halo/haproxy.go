package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"halo/compat"
	"halo/parser"
	"halo/proxy"
)

// haproxyVersion is the HAProxy version halo is compatible with.
const haproxyVersion = "2.6.12"

// haproxyArgs is HAProxy's command line (management.txt section 3).
type haproxyArgs struct {
	files        []string
	xferSocket   string   // -x
	masterCLI    []string // -S
	check        bool
	quiet        bool
	verbose      bool
	version      int // -v = 1, -vv = 2
	foreground   bool
	daemon       bool
	debug        bool
	masterWorker bool
	systemd      bool
	pidFile      string
	softStop     []int
	hardStop     []int
	localPeer    string
	chdir        string
	zeroWarning  bool
	diag         bool
	ignoreDNS    bool
	maxconn      int
	maxpconn     int
	checkCond    string
	checkSet     bool // -cc given (its condition may be empty: false)
	strictCompat bool
	help         bool
}

const haproxyUsage = `Usage : haproxy [-f <cfgfile|cfgdir>]* [ -vdVD ] [ -n <maxconn> ] [ -N <maxpconn> ]
        [ -p <pidfile> ] [ -m <max megs> ] [ -C <dir> ] [-- <cfgfile>*]
        -v displays version ; -vv shows known build options.
        -d enters debug mode ; -db only disables background mode.
        -dM[<byte>,help,...] debug memory (default: poison with <byte>/0x50)
        -V enters verbose mode (disables quiet mode)
        -D goes daemon ; -C changes to <dir> before loading files.
        -W master-worker mode.
        -Ws master-worker mode with systemd notify support.
        -q quiet mode : don't display messages
        -c check mode : only check config files and exit
        -cc check condition : evaluate a condition and exit
        -n sets the maximum total # of connections (uses ulimit -n)
        -m limits the usable amount of memory (in MB)
        -N sets the default, per-proxy maximum # of connections (0)
        -L set local peer name (default to hostname)
        -p writes pids of all children to this file
        -de disables epoll() usage even when available
        -dp disables poll() usage even when available
        -dS disables splice usage (broken on old kernels)
        -dG disables getaddrinfo() usage
        -dR disables SO_REUSEPORT usage
        -dL dumps loaded object files after config checks
        -dK{class[,...]} dump registered keywords (use 'help' for list)
        -dr ignores server address resolution failures
        -dV disables SSL verify on servers side
        -dW fails if any warning is emitted
        -dD diagnostic mode : warn about suspicious configuration statements
        -sf/-st [pid ]* finishes/terminates old pids.
        -x <unix_socket> get listening sockets from a unix socket
        -S <bind>[,<bind options>...] new master CLI
        -h, --help shows this help.
    halo accepts these too; it ignores -dM, -de, -dp, -dS, -dG, -dR, -dL,
    -dK, -dk and -m (nothing of HAProxy's they tune exists in halo):
        --strict-compat makes halo's compatibility notes ([COMPAT]: a
          directive halo accepts but does not execute as HAProxy) fatal.
`

// parseHAProxyArgs reads HAProxy's command line. HAProxy's flags are
// single-dash and often multi-letter (-db, -sf, -Ws, -dM0x55), which no
// getopt-style parser handles, so this is a direct port of its loop.
func parseHAProxyArgs(argv []string) (*haproxyArgs, error) {
	a := &haproxyArgs{}
	for i := 0; i < len(argv); i++ {
		arg := argv[i]
		next := func() (string, error) {
			if i+1 >= len(argv) {
				return "", fmt.Errorf("option '%s' expects an argument", arg)
			}
			i++
			return argv[i], nil
		}
		if arg == "--" {
			a.files = append(a.files, argv[i+1:]...)
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			// HAProxy treats a bare word after -f's as another config file
			// only after "--"; otherwise it is an error.
			return nil, fmt.Errorf("unknown option '%s'", arg)
		}
		switch {
		case arg == "-f":
			v, err := next()
			if err != nil {
				return nil, err
			}
			a.files = append(a.files, v)
		case strings.HasPrefix(arg, "-f") && len(arg) > 2:
			a.files = append(a.files, arg[2:])
		case arg == "-c":
			a.check = true
		case arg == "-cc":
			v, err := next()
			if err != nil {
				return nil, err
			}
			a.checkCond, a.checkSet = v, true
		case arg == "-q":
			a.quiet = true
		case arg == "-V":
			a.verbose = true
		case arg == "-v":
			a.version = 1
		case arg == "-vv":
			a.version = 2
		case arg == "-d":
			a.debug, a.foreground = true, true
		case arg == "-db":
			a.foreground = true
		case arg == "-D":
			a.daemon = true
		case arg == "-W":
			a.masterWorker = true
		case arg == "-Ws":
			a.masterWorker, a.systemd = true, true
		case arg == "-dW":
			a.zeroWarning = true
		case arg == "--strict-compat":
			a.strictCompat = true
		case arg == "-h" || arg == "--help":
			a.help = true
		case arg == "-dD":
			a.diag = true
		case arg == "-dr":
			a.ignoreDNS = true
		case strings.HasPrefix(arg, "-dM"), arg == "-de", arg == "-dp", arg == "-dS", arg == "-dG",
			arg == "-dR", arg == "-dV", arg == "-dL", strings.HasPrefix(arg, "-dK"), arg == "-dk":
			// Debug/tuning switches of HAProxy's internals: nothing to do.
		case arg == "-p":
			v, err := next()
			if err != nil {
				return nil, err
			}
			a.pidFile = v
		case arg == "-L":
			v, err := next()
			if err != nil {
				return nil, err
			}
			a.localPeer = v
		case arg == "-C":
			v, err := next()
			if err != nil {
				return nil, err
			}
			a.chdir = v
		case arg == "-n" || arg == "-N" || arg == "-m":
			v, err := next()
			if err != nil {
				return nil, err
			}
			n, cerr := strconv.Atoi(v)
			if cerr != nil {
				return nil, fmt.Errorf("option '%s' expects an integer argument", arg)
			}
			switch arg {
			case "-n":
				a.maxconn = n
			case "-N":
				a.maxpconn = n
			}
		case arg == "-x":
			v, err := next()
			if err != nil {
				return nil, err
			}
			a.xferSocket = v
		case arg == "-S":
			v, err := next()
			if err != nil {
				return nil, err
			}
			a.masterCLI = append(a.masterCLI, v)
		case arg == "-sf" || arg == "-st":
			// Every following numeric argument is a PID.
			for i+1 < len(argv) {
				pid, err := strconv.Atoi(argv[i+1])
				if err != nil {
					break
				}
				i++
				if arg == "-sf" {
					a.softStop = append(a.softStop, pid)
				} else {
					a.hardStop = append(a.hardStop, pid)
				}
			}
		default:
			return nil, fmt.Errorf("unknown option '%s'", arg)
		}
	}
	return a, nil
}

// diagPrinter prints diagnostics as HAProxy 2.6 does, with the startup
// notices before the first message.
type diagPrinter struct {
	w       io.Writer
	pid     int
	started bool
}

func (p *diagPrinter) header() {
	if p.started {
		return
	}
	p.started = true
	exe, _ := os.Executable()
	fmt.Fprintf(p.w, "[NOTICE]   (%d) : haproxy version is %s (halo %s)\n", p.pid, haproxyVersion, Version)
	fmt.Fprintf(p.w, "[NOTICE]   (%d) : path to executable is %s\n", p.pid, exe)
}

func sevTag(s parser.Severity) string {
	switch s {
	case parser.SevAlert:
		return "[ALERT]   "
	case parser.SevWarning:
		return "[WARNING] "
	case parser.SevDiag:
		return "[DIAG]    "
	}
	return "[NOTICE]  "
}

// line prints one message; pos may be empty (whole-configuration messages).
// form is compat.Diagnostic.Form.
func (p *diagPrinter) line(sev parser.Severity, pos parser.Pos, form, msg string) {
	// haproxy announces its version before the first warning or alert;
	// notices do not trigger it.
	if sev != parser.SevNotice && sev != parser.SevDiag {
		p.header()
	}
	if pos.Line > 0 && form != "none" {
		switch form {
		case "bare":
			fmt.Fprintf(p.w, "%s (%d) : config : [%s] : %s\n", sevTag(sev), p.pid, pos, msg)
		case "tight":
			fmt.Fprintf(p.w, "%s (%d) : config : parsing [%s]: %s\n", sevTag(sev), p.pid, pos, msg)
		default:
			fmt.Fprintf(p.w, "%s (%d) : config : parsing [%s] : %s\n", sevTag(sev), p.pid, pos, msg)
		}
		return
	}
	fmt.Fprintf(p.w, "%s (%d) : config : %s\n", sevTag(sev), p.pid, msg)
}

// diag prints one diagnostic of the configuration. halo's compatibility
// notes have their own tag, [COMPAT]: they are not HAProxy's warnings
// (zero-warning ignores them) and do not trigger the version header.
func (p *diagPrinter) diag(d compat.Diagnostic) {
	if d.Halo && d.Sev == parser.SevWarning {
		if d.Pos.Line > 0 {
			fmt.Fprintf(p.w, "[COMPAT]   (%d) : config : parsing [%s] : %s\n", p.pid, d.Pos, d.Msg)
		} else {
			fmt.Fprintf(p.w, "[COMPAT]   (%d) : config : %s\n", p.pid, d.Msg)
		}
		return
	}
	p.line(d.Sev, d.Pos, d.Form, d.Msg)
}

func (p *diagPrinter) plain(sev parser.Severity, msg string) {
	p.header()
	fmt.Fprintf(p.w, "%s (%d) : %s\n", sevTag(sev), p.pid, msg)
}

func haproxyMain(argv []string) int { return haproxyCmd(argv, os.Stdout, os.Stderr) }

// haproxyCmd is `halo haproxy ARGS…` writing to the given streams; it
// returns the exit status.
func haproxyCmd(argv []string, stdout, stderr io.Writer) int {
	a, err := parseHAProxyArgs(argv)
	if err != nil {
		if strings.HasPrefix(err.Error(), "unknown option") {
			// As haproxy: the version lines on stdout, the usage on
			// stderr, no alert.
			haproxyVersionText(stdout, false)
		} else {
			fmt.Fprintf(stderr, "[ALERT]    (%d) : %s\n", os.Getpid(), err)
		}
		fmt.Fprint(stderr, haproxyUsage)
		return 1
	}
	if a.version > 0 {
		haproxyVersionText(stdout, a.version > 1)
		return 0
	}
	if a.help {
		haproxyVersionText(stdout, false)
		fmt.Fprint(stderr, haproxyUsage)
		return 1 // as haproxy -h
	}
	var startup strings.Builder // show startup-logs
	dp := &diagPrinter{w: io.MultiWriter(stderr, &startup), pid: os.Getpid()}
	if a.quiet && !a.verbose {
		// haproxy -q prints no message at all, alerts included: only
		// the exit status tells.
		dp.w = io.Discard
	}
	if a.checkSet {
		// The evaluator of the configuration's .if lines.
		ok, cerr := parser.DefaultCondEnv().EvalString(a.checkCond)
		if cerr != nil {
			if msg := cerr.Error(); msg != "" {
				dp.line(parser.SevAlert, parser.Pos{}, "", "Failed to evaluate condition: "+msg)
			}
			return 2
		}
		if ok {
			return 0
		}
		return 1
	}
	if a.chdir != "" {
		if err := os.Chdir(a.chdir); err != nil {
			dp.plain(parser.SevAlert, fmt.Sprintf("Cannot chdir to '%s' : %s.", a.chdir, err))
			return 1
		}
	}
	if len(a.files) == 0 {
		fmt.Fprintf(stderr, "[ALERT]    (%d) : No configuration file specified.\n", os.Getpid())
		fmt.Fprint(stderr, haproxyUsage)
		return 1
	}
	paths, err := parser.ExpandHAProxyPaths(a.files)
	if err != nil {
		dp.plain(parser.SevAlert, err.Error())
		return 1
	}
	// Variables haproxy defines before reading its configuration
	// (configuration.txt 2.3), so "${HAPROXY_LOCALPEER}" expands alike.
	peer := a.localPeer
	if peer == "" {
		peer, _ = os.Hostname()
	}
	os.Setenv("HAPROXY_LOCALPEER", peer)
	os.Setenv("HAPROXY_CFGFILES", strings.Join(paths, ";"))
	if a.masterWorker {
		os.Setenv("HAPROXY_MWORKER", "1")
	}
	if a.check {
		// A check is a short-lived process whose garbage dies with it:
		// fewer collections make `-c` on large files faster.
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	cfg, rep := loadHAProxy(paths, haproxyLoadOpts{IgnoreDNS: a.ignoreDNS, Diag: a.diag, ZeroWarning: a.zeroWarning, StrictCompat: a.strictCompat})
	warned := false
	for _, d := range rep.Diags {
		if d.Sev == parser.SevWarning && !d.Halo {
			warned = true
		}
		dp.diag(d)
	}
	if rep.Check.Exit == 1 {
		return 1
	}
	mcli, err := masterCLISockets(a.masterCLI)
	if err != nil {
		dp.plain(parser.SevAlert, err.Error())
		return 1
	}
	if len(mcli) > 0 && !a.masterWorker && !cfg.Global.MasterWorker {
		warned = true
		dp.line(parser.SevWarning, parser.Pos{}, "", "a master CLI socket was defined, but master-worker mode (-W) is not enabled.")
	}
	if a.maxconn > 0 {
		cfg.Global.Maxconn = a.maxconn
	}
	if a.maxpconn > 0 {
		// -N is the default maxconn of proxies that set none.
		for _, p := range cfg.Proxies {
			if p.Cap&proxy.CapFE != 0 && p.Maxconn == 0 {
				p.Maxconn = a.maxpconn
			}
		}
	}
	if rep.Check.Exit == 2 {
		if a.check {
			if !a.quiet || a.verbose {
				fmt.Fprintln(stdout, "Configuration file has no error but will not start (no listener) => exit(2).")
			}
		} else {
			dp.plain(parser.SevAlert, "[haproxy.main()] No enabled listener found (check for 'bind' directives) ! Exiting.")
		}
		return 2
	}
	if a.check {
		// haproxy 2.6.12 -c says so whenever a warning was printed
		if warned && (!a.quiet || a.verbose) {
			fmt.Fprintln(stdout, "Warnings were found.")
		}
		if !a.quiet || a.verbose {
			fmt.Fprintln(stdout, "Configuration file is valid")
		}
		return 0
	}
	abs := make([]string, len(paths))
	for i, p := range paths {
		if ap, err := filepath.Abs(p); err == nil {
			abs[i] = ap
		} else {
			abs[i] = p
		}
	}
	return runProxy(cfg, proxyRunOpts{
		MasterCLI:         mcli,
		StartupLogs:       startup.String(),
		MworkerMaxReloads: cfg.Global.MworkerMaxReloads,
		Foreground:        a.foreground || (!a.daemon && !cfg.Global.Daemon),
		MasterWorker:      a.masterWorker || cfg.Global.MasterWorker,
		PidFile:           firstNonEmpty(a.pidFile, cfg.Global.PidFile),
		SoftStop:          a.softStop,
		HardStop:          a.hardStop,
		Quiet:             a.quiet,
		XferSocket:        a.xferSocket,
		ConfigFiles:       abs,
	})
}

func hasListener(cfg *proxy.Config) bool {
	if len(cfg.Global.StatsSockets) > 0 {
		return true
	}
	for _, p := range cfg.Proxies {
		if !p.Disabled && len(p.Binds) > 0 {
			return true
		}
	}
	for _, ps := range cfg.Peers {
		if !ps.Disabled && len(ps.Binds) > 0 {
			return true // the local peer's listener
		}
	}
	return false
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
