package compat

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"halo/parser"
	"halo/proxy"
)

type hrow = Keyword[*hctx]
type hdecode = func(c *hctx, d *parser.Directive, args []parser.Word) error

// row builds a table row; statuses are then set from haproxy_status.go.
func row(name string, dec hdecode) hrow { return hrow{Name: name, Status: Supported, Decode: dec} }

// accept decodes nothing: the keyword's effect is what its status says.
func accept(min int, usage string) hdecode {
	return func(c *hctx, d *parser.Directive, args []parser.Word) error {
		if len(args) < min {
			return fmt.Errorf("%s", usage)
		}
		return nil
	}
}

func noArg(c *hctx, d *parser.Directive, args []parser.Word) error { return nil }

func intArg(name string, dst func(c *hctx) *int) hdecode {
	return func(c *hctx, d *parser.Directive, args []parser.Word) error {
		if len(args) == 0 || args[0].Value == "" {
			return fmt.Errorf("'%s' expects an integer argument.", name)
		}
		*dst(c) = atol(args[0].Value)
		return nil
	}
}

var globalTable = buildGlobalTable()

func buildGlobalTable() *Table[*hctx] {
	rows := []hrow{
		row("daemon", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			c.cfg.Global.Daemon = true
			return nil
		}),
		row("master-worker", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) > 0 && a[0].Value != "no-exit-on-failure" {
				return fmt.Errorf("'master-worker' only supports 'no-exit-on-failure' option.")
			}
			c.cfg.Global.MasterWorker = true
			return nil
		}),
		row("maxconn", intArg("maxconn", func(c *hctx) *int { return &c.cfg.Global.Maxconn })),
		row("ulimit-n", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'ulimit-n' expects an integer argument.")
			}
			c.cfg.Global.UlimitN = atol(a[0].Value) // atol, as haproxy reads it
			return nil
		}),
		row("mworker-max-reloads", decodeMworkerMaxReloads), // haproxy_mcli.go
		row("tune.peers.max-updates-at-once", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			n := 0
			if len(a) > 0 {
				n = atol(a[0].Value)
			}
			if n <= 0 {
				return fmt.Errorf("'tune.peers.max-updates-at-once' expects an integer argument greater than 0.")
			}
			c.cfg.Global.PeersMaxUpdates = n
			return nil
		}),
		row("nbthread", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			v := ""
			if len(a) > 0 {
				v = a[0].Value
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("'nbthread' passed a missing or unparsable integer value in '%s'", v)
			}
			if n < 1 || n > 64 {
				return fmt.Errorf("'nbthread' is out of range (1..64)")
			}
			c.cfg.Global.Nbthread = n
			return nil
		}),
		row("cpu-map", decodeCPUMap),
		row("pidfile", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'pidfile' expects a file name as an argument.")
			}
			c.cfg.Global.PidFile = a[0].Value
			return nil
		}),
		row("user", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'user' expects a user name.")
			}
			u, err := user.Lookup(a[0].Value)
			if err != nil {
				return fmt.Errorf("cannot find user id for '%s' (0:Success)", a[0].Value)
			}
			c.cfg.Global.User = a[0].Value
			c.cfg.Global.UID, _ = strconv.Atoi(u.Uid)
			return nil
		}),
		row("group", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'group' expects a group name.")
			}
			g, err := user.LookupGroup(a[0].Value)
			if err != nil {
				return fmt.Errorf("cannot find group id for '%s' (0:Success)", a[0].Value)
			}
			c.cfg.Global.Group = a[0].Value
			c.cfg.Global.GID, _ = strconv.Atoi(g.Gid)
			return nil
		}),
		row("uid", numericID("uid", "user")),
		row("gid", numericID("gid", "group")),
		row("chroot", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'chroot' expects a directory as an argument.")
			}
			c.cfg.Global.Chroot = a[0].Value
			return nil
		}),
		row("log", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			lt, err := parseLogTarget(a)
			if err != nil {
				return err
			}
			c.cfg.Global.Logs = append(c.cfg.Global.Logs, lt)
			return nil
		}),
		row("stats socket", decodeStatsSocket),
		row("stats timeout", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			t, err := timeArg("stats timeout", a, 0)
			if err != nil {
				return err
			}
			c.cfg.Global.StatsTimeout = t
			return nil
		}),
		row("stats maxconn", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			n := 0
			if len(a) > 0 {
				n = atol(a[0].Value)
			}
			if n <= 0 {
				return fmt.Errorf("'stats maxconn' expects a positive value")
			}
			c.cfg.Global.StatsMaxconn = n
			return nil
		}),
		row("stats bind-process", accept(1, "'stats bind-process' expects a process number.")),
		row("tune.bufsize", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 || a[0].Value == "" {
				return fmt.Errorf("'tune.bufsize' expects an integer argument.")
			}
			n := atol(a[0].Value)
			if n <= 0 {
				return fmt.Errorf("'tune.bufsize' expects a positive integer argument.")
			}
			c.cfg.Global.TuneBufsize = n
			return nil
		}),
		row("tune.maxrewrite", intArg("tune.maxrewrite", func(c *hctx) *int { return &c.cfg.Global.TuneMaxrewrite })),
		row("tune.comp.maxlevel", decodeCompMaxLevel), // haproxy_filters.go
		row("set-var", decodeGlobalSetVar(false)),
		row("set-var-fmt", decodeGlobalSetVar(true)),
		row("localpeer", decodeLocalPeer),
		row("hard-stop-after", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'hard-stop-after' expects <time> as argument.")
			}
			t, bad, err := parseHATime(a[0].Value, time.Millisecond)
			if err != nil {
				if bad != 0 {
					return fmt.Errorf("unexpected character '%c' in argument to <hard-stop-after>.", bad)
				}
				return fmt.Errorf("'hard-stop-after' expects <time> as argument.")
			}
			c.cfg.Global.HardStopAfter = t
			return nil
		}),
		row("crt-base", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'crt-base' expects a directory path as an argument.")
			}
			c.crtBase = a[0].Value
			return nil
		}),
		row("ca-base", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'ca-base' expects a directory path as an argument.")
			}
			c.caBase = a[0].Value
			return nil
		}),
		row("issuers-chain-path", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("global statement '%s' expects a directory path as an argument.", d.Name)
			}
			if st, err := c.opt.Stat(a[0].Value); err != nil || !st.IsDir() {
				return fmt.Errorf("global statement '%s' expects a directory path as an argument.", d.Name)
			}
			return nil
		}),
		row("lua-load", luaLoad),
		row("lua-load-per-thread", luaLoad),
		row("node", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 || !validNodeName(a[0].Value) {
				return formError{"tight", fmt.Errorf("'node' requires valid node name - non-empty string with digits(0-9), letters(A-Z, a-z), dot(.), hyphen(-) or underscode(_).")}
			}
			if len(a) > 1 {
				return fmt.Errorf("'node' cannot handle unexpected argument '%s'.", a[1].Value)
			}
			c.cfg.Global.Node = a[0].Value
			return nil
		}),
		row("description", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return formError{"tight", fmt.Errorf("'description' expects a string argument.")}
			}
			c.cfg.Global.Description = strings.Join(values(a), " ")
			return nil
		}),
		row("log-tag", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'log-tag' expects a tag for use in syslog.")
			}
			c.cfg.Global.LogTag = a[0].Value
			return nil
		}),
		row("log-send-hostname", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) > 0 {
				c.cfg.Global.LogSendHostname = a[0].Value
				return nil
			}
			h, err := os.Hostname()
			if err != nil {
				return fmt.Errorf("'log-send-hostname' : cannot get the hostname: %v", err)
			}
			c.cfg.Global.LogSendHostname = h
			return nil
		}),
		row("ssl-server-verify", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 || (a[0].Value != "none" && a[0].Value != "required") {
				return fmt.Errorf("'%s' expects 'none' or 'required' as argument.", d.Name)
			}
			c.sslServerVerify = a[0].Value
			return nil
		}),
		row("server-state-file", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'server-state-file' expects a file path as an argument.")
			}
			c.stateFile = a[0].Value
			return nil
		}),
		row("zero-warning", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			c.cfg.Global.ZeroWarning = true
			return nil
		}),
		row("spread-checks", decodeSpreadChecks),
		row("max-spread-checks", decodeSpreadChecks),
		row("nbproc", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			return fmt.Errorf("nbproc is not supported any more since HAProxy 2.5. Threads will automatically be used on multi-processor machines if available.")
		}),
	}
	rows = append(rows, sslGlobalRows()...)
	// strict-limits is on by default in 2.6: a descriptor limit that
	// cannot be set stops the start; `no strict-limits` only warns.
	rows = append(rows, row("strict-limits", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		c.cfg.Global.NoStrictLimits = c.neg
		return nil
	}))
	// Keywords haproxy 2.6 knows whose arguments halo only checks for
	// presence; their status (haproxy_status.go) says what halo does.
	for _, kw := range []string{
		"busy-polling", "insecure-fork-wanted", "insecure-setuid-wanted", "noepoll", "nokqueue",
		"noevports", "nopoll", "nosplice", "nogetaddrinfo", "noreuseport", "quiet",
		"set-dumpable", "strict-limits", "expose-experimental-directives", "no-memory-trimming",
		"pp2-never-send-local", "ssl-mode-async", "ssl-skip-self-issued-ca", "tune.fail-alloc",
		"external-check", "h1-accept-payload-with-any-method", "log-send-hostname", "numa-cpu-mapping",
		"resetenv", "tune.sched.low-latency", "tune.idle-pool.shared", "tune.listener.multi-queue",
		"tune.fd.edge-triggered", "profiling.memory",
	} {
		if globalHas(rows, kw) {
			continue
		}
		rows = append(rows, hrow{Name: kw, Status: Ignored, Note: "accepted, not applied by halo", Decode: noArg})
	}
	for _, kw := range []string{
		"ulimit-n", "maxconnrate", "maxsessrate", "maxsslrate", "maxcomprate", "maxpipes",
		"maxzlibmem", "maxcompcpuusage", "maxsslconn", "fd-hard-limit", "description", "node",
		"unix-bind", "server-state-base", "server-state-file", "log-tag", "spread-checks",
		"max-spread-checks", "cpu-map", "setenv", "presetenv", "unsetenv", "anonkey",
		"cluster-secret", "default-path", "grace", "close-spread-time", "h1-case-adjust",
		"h1-case-adjust-file", "httpclient.resolvers.id", "httpclient.resolvers.prefer",
		"httpclient.ssl.ca-file", "httpclient.ssl.verify", "lua-prepend-path", "mworker-max-reloads",
		"profiling.tasks", "set-var", "set-var-fmt", "ssl-default-bind-ciphers",
		"ssl-default-bind-ciphersuites", "ssl-default-bind-curves", "ssl-default-bind-options",
		"ssl-default-server-ciphers", "ssl-default-server-ciphersuites", "ssl-default-server-options",
		"ssl-dh-param-file", "ssl-load-extra-del-ext", "ssl-load-extra-files", "ssl-propquery",
		"ssl-provider", "ssl-provider-path", "ssl-server-verify", "ssl-engine", "thread-group",
		"thread-groups", "tune.runqueue-depth", "tune.maxpollevents", "tune.maxaccept", "tune.chksize",
		"tune.recv_enough", "tune.buffers.limit", "tune.buffers.reserve", "tune.idletimer",
		"tune.rcvbuf.client", "tune.rcvbuf.server", "tune.sndbuf.client", "tune.sndbuf.server",
		"tune.pipesize", "tune.http.cookielen", "tune.http.logurilen", "tune.http.maxhdr",
		"tune.comp.maxlevel", "tune.pattern.cache-size", "tune.zlib.memlevel", "tune.zlib.windowsize",
		"tune.h2.header-table-size", "tune.h2.initial-window-size", "tune.h2.max-concurrent-streams",
		"tune.h2.max-frame-size", "tune.lua.forced-yield", "tune.lua.maxmem", "tune.lua.service-timeout",
		"tune.lua.session-timeout", "tune.lua.task-timeout",
		"tune.pool-high-fd-ratio", "tune.pool-low-fd-ratio", "tune.ssl.cachesize",
		"tune.ssl.capture-buffer-size", "tune.ssl.capture-cipherlist-size", "tune.ssl.default-dh-param",
		"tune.ssl.force-private-cache", "tune.ssl.hard-maxrecord", "tune.ssl.keylog", "tune.ssl.lifetime",
		"tune.ssl.maxrecord", "tune.ssl.ssl-ctx-cache-size", "tune.vars.check-max-size",
		"tune.vars.global-max-size", "tune.vars.proc-max-size", "tune.vars.reqres-max-size",
		"tune.vars.sess-max-size", "tune.vars.txn-max-size", "tune.ssl.ocsp-update.maxdelay",
		"tune.quic.frontend.conn-tx-buffers.limit", "stats", "debug",
	} {
		if globalHas(rows, kw) {
			continue
		}
		rows = append(rows, hrow{Name: kw, Status: Ignored, Note: "accepted, not applied by halo", Decode: accept(1, fmt.Sprintf("'%s' expects an argument.", kw))})
	}
	t := NewTable("global", rows)
	return t
}

func globalHas(rows []hrow, name string) bool {
	for _, r := range rows {
		if r.Name == name {
			return true
		}
	}
	return false
}

// luaLoad reports a missing Lua file as haproxy does; an existing one is
// refused by the status table (halo has no Lua).
func luaLoad(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) == 0 {
		return fmt.Errorf("'%s' expects a path as argument.", d.Name)
	}
	if _, err := c.opt.Stat(a[0].Value); err != nil {
		return fmt.Errorf("error in Lua file '%s': cannot open %s: No such file or directory", a[0].Value, a[0].Value)
	}
	return nil
}

// decodeStatsSocket is `stats socket <path|[ipv4@]addr:port> [params]`.
func decodeStatsSocket(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) == 0 {
		return fmt.Errorf("'stats socket' requires a path or an address")
	}
	ss := proxy.StatsSocket{Path: a[0].Value, Level: "user", Mode: 0}
	for i := 1; i < len(a); i++ {
		k := a[i].Value
		need := func() (string, error) {
			if i+1 >= len(a) {
				return "", fmt.Errorf("'stats socket' : '%s' : missing value", k)
			}
			i++
			return a[i].Value, nil
		}
		switch k {
		case "mode":
			v, err := need()
			if err != nil {
				return err
			}
			m, perr := strconv.ParseUint(v, 8, 32)
			if perr != nil {
				return fmt.Errorf("'stats socket' : ''%s' : missing or invalid mode '%s' (octal integer expected)'", k, v)
			}
			ss.Mode = uint32(m)
		case "level":
			v, err := need()
			if err != nil {
				return err
			}
			if v != "user" && v != "operator" && v != "admin" {
				return fmt.Errorf("'stats socket' : 'level' only supports 'user', 'operator', and 'admin'")
			}
			ss.Level = v
		case "user", "group":
			if i+1 >= len(a) {
				return fmt.Errorf("'stats socket' : ''%s' : missing %s name'", k, k)
			}
			i++
			if k == "user" {
				u, err := user.Lookup(a[i].Value)
				if err != nil {
					return fmt.Errorf("'stats socket' : ''user' : unknown user name '%s''", a[i].Value)
				}
				ss.UID, _ = strconv.Atoi(u.Uid)
			} else {
				g, err := user.LookupGroup(a[i].Value)
				if err != nil {
					return fmt.Errorf("'stats socket' : ''group' : unknown group name '%s''", a[i].Value)
				}
				ss.GID, _ = strconv.Atoi(g.Gid)
			}
		case "uid", "gid":
			if i+1 >= len(a) {
				return fmt.Errorf("'stats socket' : ''%s' : missing value'", k)
			}
			i++
			if k == "uid" {
				ss.UID = atoiPrefix(a[i].Value)
			} else {
				ss.GID = atoiPrefix(a[i].Value)
			}
		case "process", "name", "thread", "severity-output", "backlog", "id", "nice":
			if _, err := need(); err != nil {
				return err
			}
		case "maxconn":
			v, err := need()
			if err != nil {
				return err
			}
			ss.Maxconn = atol(v)
		case "expose-fd":
			v, err := need()
			if err != nil {
				return err
			}
			if v != "listeners" {
				return fmt.Errorf("'stats socket' : ''expose-fd' only supports 'listeners' (got '%s')'", v)
			}
			ss.ExposeFD = true
		case "accept-proxy", "transparent", "v4v6", "v6only", "defer-accept", "tfo":
		default:
			return fmt.Errorf("'stats socket' : unknown keyword '%s'.", k)
		}
	}
	ss.Path = strings.TrimPrefix(ss.Path, "unix@")
	c.cfg.Global.StatsSockets = append(c.cfg.Global.StatsSockets, ss)
	return nil
}

// numericID is uid/gid: a number, or haproxy's hint to use user/group.
func numericID(kw, named string) hdecode {
	return func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if len(a) == 0 {
			return fmt.Errorf("'%s' expects an integer argument.", kw)
		}
		if _, ok := strictInt(a[0].Value); !ok {
			c.rep.Warnf(d.Pos, " %s: string '%s' is not a number.\n   | You might want to use the '%s' parameter to use a system %s name.", kw, a[0].Value, named, named)
		}
		n := atoiPrefix(a[0].Value)
		if kw == "uid" {
			c.cfg.Global.UID = n
		} else {
			c.cfg.Global.GID = n
		}
		return nil
	}
}

// atoiPrefix is C's atol() as HAProxy uses it for ids: the leading digits,
// else 0.
func atoiPrefix(v string) int {
	n := 0
	for _, r := range strings.TrimLeft(v, " \t") {
		if r < '0' || r > '9' || n > 1<<30 {
			break
		}
		n = n*10 + int(r-'0')
	}
	return n
}

// decodeGlobalSetVar is global `set-var proc.NAME EXPR` and `set-var-fmt
// proc.NAME FMT`: process variables set once at start, before any rule
// runs (the runtime evaluates them: rules.L7).
func decodeGlobalSetVar(fmtForm bool) hdecode {
	kw := "set-var"
	if fmtForm {
		kw = "set-var-fmt"
	}
	return func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if len(a) != 2 {
			return fmt.Errorf("'%s' requires a variable name and an expression.", kw)
		}
		name := a[0].Value
		if !strings.HasPrefix(name, "proc.") {
			return fmt.Errorf("'%s' : only proc scope variables are allowed, found '%s'.", kw, name)
		}
		if fmtForm {
			c.lowerForFormat(a[1].Value)
		} else if msg := c.checkSample(a[1].Value, a[1].Value); msg != "" {
			return fmt.Errorf("%s", msg)
		}
		c.cfg.Global.SetVars = append(c.cfg.Global.SetVars, proxy.SetVar{Name: name, Expr: a[1].Value, Fmt: fmtForm, Line: d.Pos.Line})
		return nil
	}
}
