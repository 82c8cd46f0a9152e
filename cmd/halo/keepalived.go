package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"halo/compat"
	"halo/lvs"
	"halo/vrrp"
)

const keepalivedDefaultConf = "/etc/keepalived/keepalived.conf"

// keepalivedUsage is keepalived 2.2.7's --help text, so scripts that parse
// it keep working.
const keepalivedUsage = `Usage: keepalived [OPTION...]
  -f, --use-file=FILE          Use the specified configuration file
                                default '/etc/keepalived/keepalived.conf'
  -P, --vrrp                   Only run with VRRP subsystem
  -C, --check                  Only run with Health-checker subsystem
  -B, --no_bfd                 Don't run BFD subsystem
      --all                    Force all child processes to run, even if have no configuration
  -l, --log-console            Log messages to local console
  -D, --log-detail             Detailed log messages
  -S, --log-facility=([0-7]|local[0-7]|user|daemon)
                               Set syslog facility to LOG_LOCAL[0-7], user or daemon (default)
  -G, --no-syslog              Don't log via syslog
  -u, --umask=MASK             umask for file creation (in numeric form)
  -X, --release-vips           Drop VIP on transition from signal.
  -V, --dont-release-vrrp      Don't remove VRRP VIPs and VROUTEs on daemon stop
  -I, --dont-release-ipvs      Don't remove IPVS topology on daemon stop
  -R, --dont-respawn           Don't respawn child processes
  -n, --dont-fork              Don't fork the daemon process
  -d, --dump-conf              Dump the configuration data
  -p, --pid=FILE               Use specified pidfile for parent process
  -r, --vrrp_pid=FILE          Use specified pidfile for VRRP child process
  -T, --genhash                Enter into genhash utility mode (this should be the first option used).
  -c, --checkers_pid=FILE      Use specified pidfile for checkers child process
  -a, --address-monitoring     Report all address additions/deletions notified via netlink
  -b, --bfd_pid=FILE           Use specified pidfile for BFD child process
  -x, --snmp                   Enable SNMP subsystem
  -A, --snmp-agent-socket=FILE Use the specified socket for master agent
  -s, --namespace=NAME         Run in network namespace NAME (overrides config)
  -m, --core-dump              Produce core dump if terminate abnormally
  -M, --core-dump-pattern=PATN Also set /proc/sys/kernel/core_pattern to PATN (default 'core')
  -e, --all-config             Error if any configuration file missing (same as includet)
  -i, --config-id id           Skip any configuration lines beginning '@' that don't match id
                                or any lines beginning @^ that do match.
                                The config-id defaults to the node name if option not used
      --signum=SIGFUNC         Return signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON
  -t, --config-test[=LOG_FILE] Check the configuration for obvious errors, output to
                                stderr by default
  -v, --version                Display the version number
  -h, --help                   Display this help message
`

// keepalivedFlags is Keepalived's command line.
type keepalivedFlags struct {
	file, pid, vrrpPid, checkPid, bfdPid, facility, configID, testLog string
	umask, snmpSock, namespace, corePattern, signum                   string
	vrrpOnly, checkOnly, noBFD, all, logConsole, logDetail, noSyslog  bool
	releaseVIPs, dontReleaseVRRP, dontReleaseIPVS, dontRespawn        bool
	dontFork, dump, genhash, addrMon, snmp, coreDump, allConfig       bool
	version, help                                                     bool
	configIDSet, test                                                 bool
}

func keepalivedFlagSet(f *keepalivedFlags) *pflag.FlagSet {
	fs := pflag.NewFlagSet("keepalived", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.SortFlags = false
	fs.StringVarP(&f.file, "use-file", "f", keepalivedDefaultConf, "")
	fs.BoolVarP(&f.vrrpOnly, "vrrp", "P", false, "")
	fs.BoolVarP(&f.checkOnly, "check", "C", false, "")
	fs.BoolVarP(&f.noBFD, "no_bfd", "B", false, "")
	fs.BoolVar(&f.all, "all", false, "")
	fs.BoolVarP(&f.logConsole, "log-console", "l", false, "")
	fs.BoolVarP(&f.logDetail, "log-detail", "D", false, "")
	fs.StringVarP(&f.facility, "log-facility", "S", "", "")
	fs.BoolVarP(&f.noSyslog, "no-syslog", "G", false, "")
	fs.StringVarP(&f.umask, "umask", "u", "", "")
	fs.BoolVarP(&f.releaseVIPs, "release-vips", "X", false, "")
	fs.BoolVarP(&f.dontReleaseVRRP, "dont-release-vrrp", "V", false, "")
	fs.BoolVarP(&f.dontReleaseIPVS, "dont-release-ipvs", "I", false, "")
	fs.BoolVarP(&f.dontRespawn, "dont-respawn", "R", false, "")
	fs.BoolVarP(&f.dontFork, "dont-fork", "n", false, "")
	fs.BoolVarP(&f.dump, "dump-conf", "d", false, "")
	fs.StringVarP(&f.pid, "pid", "p", "", "")
	fs.StringVarP(&f.vrrpPid, "vrrp_pid", "r", "", "")
	fs.BoolVarP(&f.genhash, "genhash", "T", false, "")
	fs.StringVarP(&f.checkPid, "checkers_pid", "c", "", "")
	fs.BoolVarP(&f.addrMon, "address-monitoring", "a", false, "")
	fs.StringVarP(&f.bfdPid, "bfd_pid", "b", "", "")
	fs.BoolVarP(&f.snmp, "snmp", "x", false, "")
	fs.StringVarP(&f.snmpSock, "snmp-agent-socket", "A", "", "")
	fs.StringVarP(&f.namespace, "namespace", "s", "", "")
	fs.BoolVarP(&f.coreDump, "core-dump", "m", false, "")
	fs.StringVarP(&f.corePattern, "core-dump-pattern", "M", "", "")
	fs.Lookup("core-dump-pattern").NoOptDefVal = "core"
	fs.BoolVarP(&f.allConfig, "all-config", "e", false, "")
	fs.StringVarP(&f.configID, "config-id", "i", "", "")
	fs.StringVar(&f.signum, "signum", "", "")
	fs.StringVarP(&f.testLog, "config-test", "t", "", "")
	fs.Lookup("config-test").NoOptDefVal = "\x00stderr"
	fs.BoolVarP(&f.version, "version", "v", false, "")
	fs.BoolVarP(&f.help, "help", "h", false, "")
	return fs
}

// keepalivedSignums is --signum's table (keepalived's signal use).
var keepalivedSignums = map[string]int{"STOP": 15, "RELOAD": 1, "DATA": 10, "STATS": 12, "STATS_CLEAR": 12, "JSON": 36}

// keepalivedOptionalArgs rewrites getopt's optional arguments, which
// must be attached ("-tFILE", "-nt/tmp/log", "-Mcore"), into the long
// forms pflag understands; letters that take a required argument end the
// scan, since the rest of the word is their value.
func keepalivedOptionalArgs(args []string) []string {
	const required = "fSupcrbAsi"
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' {
			out = append(out, a)
			continue
		}
		done := false
		for j := 1; j < len(a) && !done; j++ {
			c := a[j]
			switch {
			case strings.IndexByte(required, c) >= 0:
				out = append(out, a)
				done = true
			case (c == 't' || c == 'M') && j+1 < len(a):
				if j > 1 {
					out = append(out, a[:j])
				}
				long := "--config-test="
				if c == 'M' {
					long = "--core-dump-pattern="
				}
				out = append(out, long+a[j+1:])
				done = true
			}
		}
		if !done {
			out = append(out, a)
		}
	}
	return out
}

func keepalivedMain(args []string) int {
	if len(args) > 0 && (args[0] == "-T" || args[0] == "--genhash") {
		return genhashRun(args[1:], "keepalived --genhash", os.Stdout, os.Stderr)
	}
	var f keepalivedFlags
	fs := keepalivedFlagSet(&f)
	if err := fs.Parse(keepalivedOptionalArgs(args)); err != nil {
		fmt.Fprint(os.Stderr, keepalivedUsage)
		fmt.Fprintln(os.Stderr, keepalivedFlagError(err))
		return 1
	}
	if fs.NArg() > 0 {
		fmt.Fprint(os.Stderr, keepalivedUsage)
		fmt.Fprintf(os.Stderr, "Unknown option %s\n", fs.Arg(0))
		return 1
	}
	f.configIDSet = fs.Changed("config-id")
	f.test = fs.Changed("config-test")
	switch {
	case f.help:
		fmt.Fprint(os.Stderr, keepalivedUsage)
		return 0
	case f.version:
		fmt.Fprintf(os.Stderr, "Keepalived v2.2.7 (halo %s)\n\nCopyright(C) 2001-2022 Alexandre Cassen, <acassen@gmail.com>\n", Version)
		return 0
	case f.signum != "":
		n, ok := keepalivedSignums[strings.ToUpper(f.signum)]
		if !ok {
			fmt.Fprintf(os.Stderr, "Unknown sigfunc %s\n", f.signum)
			return 1
		}
		fmt.Println(n)
		return 0
	case f.genhash:
		fmt.Fprintln(os.Stderr, "halo keepalived: -T/--genhash must be the first option")
		return 1
	}
	opt := compat.KeepalivedOptions{ConfigID: keepalivedConfigID(f)}
	opt.Parse.AllConfig = f.allConfig
	if f.test {
		return keepalivedTest(f, opt)
	}
	return keepalivedRun(f, opt)
}

// keepalivedFlagError words pflag's errors as keepalived's getopt does.
func keepalivedFlagError(err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "unknown flag: "):
		return "Unknown option " + strings.TrimPrefix(msg, "unknown flag: ")
	case strings.HasPrefix(msg, "unknown shorthand flag: "):
		s := strings.TrimPrefix(msg, "unknown shorthand flag: ")
		if i := strings.Index(s, " in "); i >= 0 {
			s = s[:i]
		}
		return "Unknown option -" + strings.Trim(s, "'")
	case strings.Contains(msg, "needs an argument"):
		name := msg[strings.Index(msg, ": ")+2:]
		if i := strings.Index(name, " "); i >= 0 {
			name = name[:i]
		}
		name = strings.Trim(name, "'")
		if len(name) == 1 {
			name = "-" + name
		}
		return "Missing parameter for option " + name
	}
	return msg
}

// keepalivedConfigID is -i, else the node name up to the first dot, as
// keepalived does.
func keepalivedConfigID(f keepalivedFlags) string {
	if f.configIDSet {
		return f.configID
	}
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	if i := strings.IndexByte(h, '.'); i >= 0 {
		h = h[:i]
	}
	return h
}

// keepalivedTest is -t: check the configuration and exit with keepalived
// -t's status. Output goes to stderr, or to -t's LOG_FILE.
func keepalivedTest(f keepalivedFlags, opt compat.KeepalivedOptions) int {
	_, r := loadKeepalived(f.file, opt)
	w := io.Writer(os.Stderr)
	if f.testLog != "\x00stderr" && f.testLog != "" {
		lf, err := os.OpenFile(f.testLog, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "Unable to open config-test log file %s\n", f.testLog)
			return 1
		}
		defer lf.Close()
		w = lf
	}
	compat.RenderKeepalivedTest(w, r)
	// halo's HA lint: what keepalived accepts but cannot fail over as the
	// author meant (keepalived_pair.go); the exit status stays keepalived's.
	for _, d := range lintDiags(f.file, opt) {
		fmt.Fprintln(w, compat.KeepalivedDiagText(d))
	}
	return r.Check.Exit
}

// keepalivedRun loads the configuration and runs the VRRP speaker.
func keepalivedRun(f keepalivedFlags, opt compat.KeepalivedOptions) int {
	if f.snmp {
		fmt.Fprintln(os.Stderr, "halo keepalived: -x/--snmp is not supported: halo has no SNMP agent")
		return 1
	}
	if f.namespace != "" {
		fmt.Fprintln(os.Stderr, "halo keepalived: -s/--namespace is not supported: start halo inside the namespace (ip netns exec)")
		return 1
	}
	if _, err := os.Stat(f.file); err != nil {
		fmt.Fprintf(os.Stderr, "halo keepalived: Config files missing '%s'.\n", f.file)
		return 1
	}
	opt.HostChecks = true
	load := func(log io.Writer) (*vrrp.Config, *lvs.Config, error) {
		cfg, lcfg, r := compat.LoadKeepalivedLVS(f.file, opt)
		if lcfg != nil && !f.checkOnly {
			// the VRRP side runs the generic notify_fifo_script
			lcfg.Global.GenericFIFOScript = nil
		}
		unsupported := 0
		for _, d := range compat.SortedKeepalivedDiags(r) {
			if log != nil {
				fmt.Fprintln(log, compat.KeepalivedDiagText(d))
			}
		}
		for _, fi := range r.Findings {
			// -P leaves the checker side out, -C the VRRP side: what
			// halo cannot run there does not stop the other
			lvs := compat.KeepalivedLVSFinding(fi)
			if fi.Status != compat.Unsupported || (f.vrrpOnly && lvs) || (f.checkOnly && !lvs) {
				continue
			}
			unsupported++
			// one line per LVS block, not per line inside it
			if log != nil && !strings.HasPrefix(fi.Note, "part of an LVS") {
				fmt.Fprintf(log, "%s:%d: '%s' is not supported by halo: %s\n", fi.File, fi.Line, fi.Keyword, fi.Note)
			}
		}
		if cfg == nil {
			return nil, nil, errors.New("configuration rejected")
		}
		if unsupported > 0 {
			return nil, nil, fmt.Errorf("%d unsupported directive(s): running would not do what the configuration says", unsupported)
		}
		return cfg, lcfg, nil
	}
	cfg, lvsCfg, err := load(os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "halo keepalived: %v\n", err)
		return 1
	}
	o := vrrpRunOpts{
		ConfigFile:   f.file,
		DontFork:     f.dontFork,
		LogConsole:   f.logConsole,
		LogDetail:    f.logDetail,
		LogFacility:  keepalivedFacility(f.facility),
		PidFile:      f.pid,
		VRRPPidFile:  f.vrrpPid,
		CheckPidFile: f.checkPid,
		VRRPOnly:     f.vrrpOnly,
		CheckOnly:    f.checkOnly,
		DumpConf:     f.dump,
		Reload:       func() (*vrrp.Config, *lvs.Config, error) { return load(nil) },
		LVS:          lvsCfg,
	}
	return runVRRP(cfg, o)
}

// keepalivedFacility maps -S's argument to LOG_LOCAL<N> (0-7); daemon
// and user (and anything else, or no -S) mean the default, -1.
func keepalivedFacility(s string) int {
	s = strings.TrimPrefix(s, "local")
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 7 {
		return n
	}
	return -1
}
