package stats

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"halo/proxy"
)

// Level is a CLI access level (management.txt §9.3 "level").
type Level int

const (
	LevelUser Level = iota
	LevelOperator
	LevelAdmin
)

// ParseLevel reads `stats socket … level L`; "operator" is the default
// (configuration.txt §5.1 "level").
func ParseLevel(s string) Level {
	switch s {
	case "user":
		return LevelUser
	case "admin":
		return LevelAdmin
	}
	return LevelOperator
}

// Session is one CLI connection's state.
type Session struct {
	Level       Level
	Interactive bool // "prompt" mode
	Quit        bool
	// Payload is the text after a command line ending in "<<", up to an
	// empty line (management.txt §9.3), for the command that takes one.
	Payload string
	// Timeout replaces the socket's idle timeout (`set timeout cli`).
	Timeout time.Duration
}

type command struct {
	words []string // the fixed words that select it
	usage string   // "show info [desc|json|typed|float]*"
	help  string
	level Level
	run   func(s *Stats, sess *Session, args []string) string
}

var commands []command

func init() {
	commands = []command{
		{[]string{"clear", "counters"}, "clear counters [all]", "clear max statistics counters (or all counters)", LevelOperator, cmdClearCounters},
		{[]string{"disable", "server"}, "disable server (DEPRECATED)", "disable a server for maintenance (use 'set server' instead)", LevelAdmin, cmdDisableServer},
		{[]string{"enable", "server"}, "enable server  (DEPRECATED)", "enable a disabled server (use 'set server' instead)", LevelAdmin, cmdEnableServer},
		{[]string{"get", "weight"}, "get weight <bk>/<srv>", "report a server's current weight", LevelUser, cmdGetWeight},
		{[]string{"help"}, "help [<command>]", "list matching or all commands", LevelUser, nil},
		{[]string{"operator"}, "operator", "lower the level of the current CLI session to operator", LevelOperator, cmdOperator},
		{[]string{"prompt"}, "prompt", "toggle interactive mode with prompt", LevelUser, cmdPrompt},
		{[]string{"quit"}, "quit", "disconnect", LevelUser, cmdQuit},
		{[]string{"set", "server"}, "set server <bk>/<srv> [opts]", "change a server's state, weight, address or ssl", LevelAdmin, cmdSetServer},
		{[]string{"set", "weight"}, "set weight <bk>/<srv>  (DEPRECATED)", "change a server's weight (use 'set server' instead)", LevelAdmin, cmdSetWeight},
		{[]string{"show", "backend"}, "show backend", "list backends in the current running config", LevelUser, cmdShowBackend},
		{[]string{"show", "info"}, "show info [desc|json|typed|float]*", "report information about the running process", LevelUser, cmdShowInfo},
		{[]string{"show", "schema", "json"}, "show schema json", "report schema used for stats", LevelUser, func(s *Stats, sess *Session, args []string) string { return SchemaJSON() + "\n" }},
		{[]string{"show", "servers", "state"}, "show servers state [<backend>]", "dump volatile server information (all or for a single backend)", LevelUser, cmdShowServersState},
		{[]string{"show", "stat"}, "show stat [desc|json|no-maint|typed|up]*", "report counters for each proxy and server", LevelUser, cmdShowStat},
		{[]string{"set", "timeout"}, "set timeout [cli] <delay>", "change a timeout setting", LevelUser, cmdSetTimeout},
		{[]string{"show", "startup-logs"}, "show startup-logs", "report logs emitted during HAProxy startup", LevelUser, func(s *Stats, sess *Session, args []string) string {
			if s.StartupLogs == "" {
				return "\n\n"
			}
			return s.StartupLogs + "\n"
		}},
		{[]string{"show", "cli", "level"}, "show cli level", "display the level of the current CLI session", LevelUser, cmdShowCLILevel},
		{[]string{"user"}, "user", "lower the level of the current CLI session to user", LevelUser, cmdUser},
		{[]string{"show", "ssl", "cert"}, "show ssl cert [<certfile>]", "display the SSL certificates used in memory, or the details of a file", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			arg := ""
			if len(args) > 0 {
				arg = args[0]
			}
			return s.rt.ShowSSLCert(arg)
		}},
		{[]string{"set", "ssl", "cert"}, "set ssl cert <certfile> <payload>", "replace a certificate file", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) == 0 || (sess.Payload == "" && len(args) < 2) {
				return "'set ssl cert' expects a filename and a certificate as a payload\n\n"
			}
			payload := sess.Payload
			if payload == "" {
				payload = strings.Join(args[1:], " ")
			}
			return endAnswer(s.rt.SetSSLCert(args[0], []byte(payload)))
		}},
		{[]string{"commit", "ssl", "cert"}, "commit ssl cert <certfile>", "commit a certificate file", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) == 0 {
				return "'commit ssl cert' expects a filename\n\n"
			}
			return endAnswer(s.rt.CommitSSLCert(args[0]))
		}},
		{[]string{"show", "ssl", "crt-list"}, "show ssl crt-list [-n] [<list>]", "show the list of crt-lists or the content of a crt-list file <list>", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			return endAnswer(s.rt.ShowCrtList(args))
		}},
		{[]string{"add", "ssl", "crt-list"}, "add ssl crt-list <list> <cert> [opts]*", "add to crt-list file <list> a line <cert> or a payload", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			line := sess.Payload
			if line == "" && len(args) > 1 {
				line = strings.Join(args[1:], " ")
			}
			if len(args) == 0 || strings.TrimSpace(line) == "" {
				return "'add ssl crtlist' expects a filename and a certificate name\n\n"
			}
			if i := strings.IndexByte(strings.TrimLeft(line, "\n"), '\n'); i >= 0 {
				line = strings.TrimLeft(line, "\n")[:i]
			}
			return endAnswer(s.rt.AddCrtList(args[0], line))
		}},
		{[]string{"del", "ssl", "crt-list"}, "del ssl crt-list <list> <cert[:line]>", "delete a line <cert> from crt-list file <list>", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) < 2 {
				return "'del ssl crt-list' expects a filename and a certificate name\n\n"
			}
			return endAnswer(s.rt.DelCrtList(args[0], args[1]))
		}},
		{[]string{"new", "ssl", "cert"}, "new ssl cert <certfile>", "create a new certificate file to be used in a crt-list or a directory", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) == 0 {
				return "'new ssl cert' expects a filename\n\n"
			}
			return endAnswer(s.rt.NewSSLCert(args[0]))
		}},
		{[]string{"del", "ssl", "cert"}, "del ssl cert <certfile>", "delete an unused certificate file", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) == 0 {
				return "'del ssl cert' expects a certificate name\n\n"
			}
			return endAnswer(s.rt.DelSSLCert(args[0]))
		}},
		{[]string{"show", "ssl", "ca-file"}, "show ssl ca-file [<ca-file>[:<index>]]", "display the SSL CA files used in memory, or the details of a <ca-file>, or a single certificate of index <index> of a CA file <ca-file>", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			arg := ""
			if len(args) > 0 {
				arg = args[0]
			}
			return endAnswer(s.rt.ShowCAFile(false, arg))
		}},
		{[]string{"new", "ssl", "ca-file"}, "new ssl ca-file <ca-file>", "create a new CA file to be used in a crt-list", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) == 0 {
				return "'new ssl ca-file' expects a filename\n\n"
			}
			return endAnswer(s.rt.NewCAFile(false, args[0]))
		}},
		{[]string{"set", "ssl", "ca-file"}, "set ssl ca-file <ca-file> <payload>", "replace a CA file", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) == 0 || sess.Payload == "" && len(args) < 2 {
				return "'set ssl ca-file' expects a filename and a payload\n\n"
			}
			payload := sess.Payload
			if payload == "" {
				payload = strings.Join(args[1:], " ")
			}
			return endAnswer(s.rt.SetCAFile(false, args[0], []byte(payload)))
		}},
		{[]string{"commit", "ssl", "ca-file"}, "commit ssl ca-file <ca-file>", "commit a CA file", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) == 0 {
				return "'commit ssl ca-file' expects a filename\n\n"
			}
			return endAnswer(s.rt.CommitCAFile(false, args[0]))
		}},
		{[]string{"abort", "ssl", "ca-file"}, "abort ssl ca-file <ca-file>", "abort a transaction for a CA file", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) == 0 {
				return "'abort ssl ca-file' expects a filename\n\n"
			}
			return endAnswer(s.rt.AbortCAFile(false, args[0]))
		}},
		{[]string{"del", "ssl", "ca-file"}, "del ssl ca-file <ca-file>", "delete an unused CA file", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) == 0 {
				return "'del ssl ca-file' expects a filename\n\n"
			}
			return endAnswer(s.rt.DelCAFile(false, args[0]))
		}},
		{[]string{"show", "ssl", "crl-file"}, "show ssl crl-file [<crl-file>[:<index>]]", "display the SSL CRL files used in memory, or the details of a <crl-file>, or a single certificate of index <index> of a CRL file <crl-file>", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			arg := ""
			if len(args) > 0 {
				arg = args[0]
			}
			return endAnswer(s.rt.ShowCAFile(true, arg))
		}},
		{[]string{"new", "ssl", "crl-file"}, "new ssl crl-file <crl-file>", "create a new CRL file to be used in a crt-list", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) == 0 {
				return "'new ssl crl-file' expects a filename\n\n"
			}
			return endAnswer(s.rt.NewCAFile(true, args[0]))
		}},
		{[]string{"set", "ssl", "crl-file"}, "set ssl crl-file <crl-file> <payload>", "replace a CRL file", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) == 0 || sess.Payload == "" && len(args) < 2 {
				return "'set ssl crl-file' expects a filename and a payload\n\n"
			}
			payload := sess.Payload
			if payload == "" {
				payload = strings.Join(args[1:], " ")
			}
			return endAnswer(s.rt.SetCAFile(true, args[0], []byte(payload)))
		}},
		{[]string{"commit", "ssl", "crl-file"}, "commit ssl crl-file <crl-file>", "commit a CRL file", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) == 0 {
				return "'commit ssl crl-file' expects a filename\n\n"
			}
			return endAnswer(s.rt.CommitCAFile(true, args[0]))
		}},
		{[]string{"abort", "ssl", "crl-file"}, "abort ssl crl-file <crl-file>", "abort a transaction for a CRL file", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) == 0 {
				return "'abort ssl crl-file' expects a filename\n\n"
			}
			return endAnswer(s.rt.AbortCAFile(true, args[0]))
		}},
		{[]string{"del", "ssl", "crl-file"}, "del ssl crl-file <crl-file>", "delete an unused CRL file", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) == 0 {
				return "'del ssl crl-file' expects a filename\n\n"
			}
			return endAnswer(s.rt.DelCAFile(true, args[0]))
		}},
		{[]string{"abort", "ssl", "cert"}, "abort ssl cert <certfile>", "abort a transaction for a certificate file", LevelAdmin, func(s *Stats, sess *Session, args []string) string {
			if len(args) == 0 {
				return "'abort ssl cert' expects a filename\n\n"
			}
			return endAnswer(s.rt.AbortSSLCert(args[0]))
		}},
	}
	commands = append(commands, tableCommands()...)  // table_cli.go
	commands = append(commands, mapCommands()...)    // map_cli.go
	commands = append(commands, cacheCommands()...)  // cache_cli.go
	commands = append(commands, serverCommands()...) // server_cli.go
}

// Execute runs one command line (possibly several commands separated by
// ';') and returns what HAProxy's CLI prints for it.
func (s *Stats) Execute(line string, sess *Session) string {
	var out strings.Builder
	for _, cmd := range splitCommands(line) {
		args := tokenize(cmd)
		if len(args) == 0 {
			continue
		}
		out.WriteString(s.run(args, sess))
		if sess.Quit {
			break
		}
	}
	return out.String()
}

// splitCommands splits on unescaped ';'.
func splitCommands(line string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' && i+1 < len(line) && line[i+1] == ';' {
			cur.WriteByte(';')
			i++
			continue
		}
		if line[i] == ';' {
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(line[i])
	}
	return append(out, cur.String())
}

// tokenize splits on blanks; a backslash escapes the next character.
func tokenize(s string) []string {
	var out []string
	var cur strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

func (s *Stats) run(args []string, sess *Session) string {
	best := -1
	for i, c := range commands {
		if len(args) < len(c.words) {
			continue
		}
		ok := true
		for j, w := range c.words {
			if args[j] != w {
				ok = false
				break
			}
		}
		if ok && (best < 0 || len(c.words) > len(commands[best].words)) {
			best = i
		}
	}
	if best < 0 {
		return helpText(args, false)
	}
	if commands[best].level > sess.Level {
		return "Permission denied\n\n"
	}
	c := commands[best]
	if c.run == nil { // help
		return helpText(args[1:], true)
	}
	return c.run(s, sess, args[len(c.words):])
}

// helpText answers help (isHelp, args: the words after it) and unknown
// commands (args: the words typed) as 2.6.12 does: every command is
// listed whatever the session's level (helpmatch.go).
func helpText(args []string, isHelp bool) string {
	var entries []helpEntry
	for _, c := range commands {
		switch c.words[0] {
		case "help", "prompt", "quit":
			continue
		}
		entries = append(entries, helpEntry{c.words, helpLine(c.usage, c.help)})
	}
	return helpList(entries, args, isHelp) + "\n"
}

// cmdClearCounters resets the maxima (operator) or every counter
// (admin, "all"), as management.txt §9.3 "clear counters" describes.
func cmdClearCounters(s *Stats, sess *Session, args []string) string {
	all := len(args) > 0 && args[0] == "all"
	if all && sess.Level < LevelAdmin {
		return "Permission denied\n\n"
	}
	var list []*proxy.Counters
	for _, fe := range s.rt.Frontends {
		list = append(list, &fe.Counters)
	}
	for _, be := range s.rt.Backends {
		list = append(list, &be.Counters)
		for _, ss := range be.Servers() {
			list = append(list, &ss.Counters)
		}
	}
	for _, c := range list {
		c.MaxConns.Store(c.CurConns.Load())
		c.MaxQueue.Store(c.CurQueue.Load())
		if !all {
			continue
		}
		for _, a := range []*atomic.Int64{&c.TotConns, &c.Requests, &c.BytesIn, &c.BytesOut, &c.DeniedReq,
			&c.DeniedRsp, &c.ErrReq, &c.ErrConn, &c.ErrResp, &c.Retries, &c.Redisp, &c.ClientAb, &c.ServerAb} {
			a.Store(0)
		}
		for i := range c.Hrsp {
			c.Hrsp[i].Store(0)
		}
	}
	s.m.clear(all)
	return "\n"
}

func cmdPrompt(s *Stats, sess *Session, args []string) string {
	sess.Interactive = !sess.Interactive
	return "\n" // every answer ends with an empty line ("\n> " in prompt mode)
}

func cmdQuit(s *Stats, sess *Session, args []string) string {
	sess.Quit = true
	return ""
}

func cmdOperator(s *Stats, sess *Session, args []string) string {
	if sess.Level > LevelOperator {
		sess.Level = LevelOperator
	}
	return "\n"
}

func cmdUser(s *Stats, sess *Session, args []string) string {
	sess.Level = LevelUser
	return "\n"
}

// cmdSetTimeout is `set timeout cli <delay>` (seconds unless a unit
// says otherwise): the session's idle timeout.
func cmdSetTimeout(s *Stats, sess *Session, args []string) string {
	if len(args) == 0 || args[0] != "cli" {
		return "'set timeout' only supports 'cli'.\n\n"
	}
	if len(args) < 2 {
		return "Expects an integer value.\n\n"
	}
	v := args[1]
	unit := time.Second
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok && n != "" && n[len(n)-1] >= '0' && n[len(n)-1] <= '9' {
			v, unit = n, u.d
			break
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return "Invalid timeout value.\n\n"
	}
	sess.Timeout = time.Duration(n) * unit
	return "\n"
}

// cmdShowCLILevel is `show cli level`.
func cmdShowCLILevel(s *Stats, sess *Session, args []string) string {
	return [...]string{"user", "operator", "admin"}[sess.Level] + "\n\n"
}

// findServer resolves "backend/server" (names or #ids).
func (s *Stats) findServer(arg string) (*proxy.ServerState, string) {
	bk, sv, ok := strings.Cut(arg, "/")
	if !ok || bk == "" || sv == "" {
		return nil, "Require 'backend/server'.\n\n"
	}
	var be *proxy.Backend
	for _, b := range s.rt.Backends {
		if b.Proxy.Name == bk || (strings.HasPrefix(bk, "#") && "#"+strconv.Itoa(b.Proxy.ID) == bk) {
			be = b
			break
		}
	}
	if be == nil {
		return nil, "No such backend.\n\n"
	}
	for _, ss := range be.Servers() {
		if ss.Server.Name == sv || (strings.HasPrefix(sv, "#") && "#"+strconv.Itoa(ss.Server.ID) == sv) {
			return ss, ""
		}
	}
	return nil, "No such server.\n\n"
}

func cmdDisableServer(s *Stats, sess *Session, args []string) string {
	if len(args) < 1 {
		return "Require 'backend/server'.\n\n"
	}
	ss, msg := s.findServer(args[0])
	if ss == nil {
		return msg
	}
	ss.SetAdmin(proxy.AdminMaint)
	return "\n"
}

func cmdEnableServer(s *Stats, sess *Session, args []string) string {
	if len(args) < 1 {
		return "Require 'backend/server'.\n\n"
	}
	ss, msg := s.findServer(args[0])
	if ss == nil {
		return msg
	}
	ss.SetAdmin(proxy.AdminReady)
	return "\n"
}

func cmdGetWeight(s *Stats, sess *Session, args []string) string {
	if len(args) < 1 {
		return "Require 'backend/server'.\n\n"
	}
	ss, msg := s.findServer(args[0])
	if ss == nil {
		return msg
	}
	return fmt.Sprintf("%d (initial %d)\n\n", ss.Weight(), ss.Server.Weight)
}

// setWeight applies "N" or "N%" (of the initial weight).
func setWeight(ss *proxy.ServerState, v string) string {
	var w int
	if strings.HasSuffix(v, "%") {
		pct, err := strconv.Atoi(strings.TrimSuffix(v, "%"))
		if err != nil || pct < 0 {
			return "Require <weight> or <weight%>.\n\n"
		}
		w = ss.Server.Weight * pct / 100
		if w > 256 {
			w = 256
		}
	} else {
		n, err := strconv.Atoi(v)
		if err != nil {
			return "Require <weight> or <weight%>.\n\n"
		}
		if n < 0 || n > 256 {
			return "Absolute weight can only be between 0 and 256 inclusive.\n\n"
		}
		w = n
	}
	if err := ss.SetWeight(w); err != nil {
		return err.Error() + "\n"
	}
	return "\n"
}

func cmdSetWeight(s *Stats, sess *Session, args []string) string {
	if len(args) < 2 {
		return "Require <weight> or <weight%>.\n\n"
	}
	ss, msg := s.findServer(args[0])
	if ss == nil {
		return msg
	}
	return setWeight(ss, args[1])
}

func cmdSetServer(s *Stats, sess *Session, args []string) string {
	if len(args) < 1 {
		return "Require 'backend/server'.\n\n"
	}
	ss, msg := s.findServer(args[0])
	if ss == nil {
		return msg
	}
	if len(args) < 2 {
		return "unknown keyword ''. Supported keywords are 'weight', 'state', 'health', 'agent', 'addr', 'check-port', 'check-addr', 'fqdn' and 'ssl'.\n\n"
	}
	switch args[1] {
	case "weight":
		if len(args) < 3 {
			return "Require <weight> or <weight%>.\n\n"
		}
		return setWeight(ss, args[2])
	case "state":
		v := ""
		if len(args) > 2 {
			v = args[2]
		}
		switch v {
		case "ready":
			ss.SetAdmin(proxy.AdminReady)
		case "drain":
			ss.SetAdmin(proxy.AdminDrain)
		case "maint":
			ss.SetAdmin(proxy.AdminMaint)
		default:
			return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n"
		}
		return "\n"
	case "health":
		v := ""
		if len(args) > 2 {
			v = args[2]
		}
		switch v {
		case "up":
			ss.SetHealth(proxy.SrvUp)
		case "stopping":
			ss.SetHealth(proxy.SrvNoLB)
		case "down":
			ss.SetHealth(proxy.SrvDown)
		default:
			return "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n\n"
		}
		return "\n"
	case "addr":
		return setServerAddr(ss, args[2:]) // server_cli.go
	}
	return fmt.Sprintf("'set server <srv> %s' is not supported by halo.\n\n", args[1])
}

func cmdShowBackend(s *Stats, sess *Session, args []string) string {
	var b strings.Builder
	b.WriteString("# name\n")
	for _, be := range s.rt.Backends {
		b.WriteString(be.Proxy.Name + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

func cmdShowStat(s *Stats, sess *Session, args []string) string {
	f := AllRows
	f.Admin = sess.Level >= LevelOperator
	typed, json, up, noMaint := false, false, false, false
	var pos []string
	for _, a := range args {
		switch a {
		case "typed", "json", "desc", "no-maint", "up", "float":
			typed = typed || a == "typed"
			json = json || a == "json"
			up = up || a == "up"
			noMaint = noMaint || a == "no-maint"
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) > 0 && len(pos) != 3 {
		return "Require <iid> <type> <sid>.\n\n"
	}
	if len(pos) == 3 {
		iid, err := strconv.Atoi(pos[0])
		if err != nil {
			f.Name = pos[0]
		} else {
			f.IID = iid
		}
		t, err1 := strconv.Atoi(pos[1])
		sid, err2 := strconv.Atoi(pos[2])
		if err1 != nil || err2 != nil {
			return "Require <iid> <type> <sid>.\n\n"
		}
		if t != -1 {
			f.Types = t
		}
		f.SID = sid
	}
	rows := FilterServers(s.Rows(f), up, noMaint)
	if json {
		return string(AppendJSON(nil, rows)) + "\n"
	}
	if typed {
		return string(AppendTyped(nil, rows))
	}
	return string(AppendCSV(nil, rows))
}

func (s *Stats) totals() (conns, reqs, bytesOut int64) {
	for _, fe := range s.rt.Frontends {
		conns += fe.Counters.TotConns.Load()
		reqs += fe.Counters.Requests.Load()
		bytesOut += fe.Counters.BytesOut.Load()
	}
	return
}

func cmdShowInfo(s *Stats, sess *Session, args []string) string {
	for _, a := range args {
		switch a {
		case "typed":
			return s.InfoTyped()
		case "json":
			return s.InfoJSON() + "\n"
		}
	}
	return s.Info()
}

// InfoTyped renders `show info typed`: "POS.NAME.PROC:ONS:TYPE:VALUE".
func (s *Stats) InfoTyped() string {
	var b strings.Builder
	for _, e := range s.infoFields() {
		m, ok := infoTypedMeta[e.k]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "%d.%s.1:%s:%v\n", m.idx, e.k, m.meta, e.v)
	}
	b.WriteString("\n")
	return b.String()
}

// AppendTyped renders rows as `show stat typed`: one line per non-empty
// field, "T.IID.SID.POS.NAME.PROC:ONS:TYPE:VALUE".
func AppendTyped(dst []byte, rows []Row) []byte {
	for _, r := range rows {
		letter, iid, sid := typeLetter[r.Get("type")], r.Get("iid"), r.Get("sid")
		typedFields(r, func(pos int, name, meta, v string) {
			dst = fmt.Appendf(dst, "%s.%s.%s.%d.%s.1:%s:%s\n", letter, iid, sid, pos, name, meta, v)
		})
	}
	return append(dst, '\n')
}

// infoField is one `show info` line.
type infoField struct {
	k string
	v any
}

// Info renders `show info` in 2.6's order.
func (s *Stats) Info() string {
	var b strings.Builder
	for _, e := range s.infoFields() {
		fmt.Fprintf(&b, "%s: %v\n", e.k, e.v)
	}
	b.WriteString("\n")
	return b.String()
}

func (s *Stats) infoFields() []infoField {
	g := s.rt.Cfg.Global
	up := time.Since(s.start)
	secs := int64(up / time.Second)
	var rl syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	host, _ := os.Hostname()
	conns, reqs, bout := s.totals()
	maxconn := g.Maxconn // set by proxy.New when the configuration has none
	nbthread := g.Nbthread
	if nbthread <= 0 {
		nbthread = runtime.GOMAXPROCS(0)
	}
	listeners := 0
	for _, fe := range s.rt.Frontends {
		listeners += len(fe.Proxy.Binds)
	}
	cur := s.rt.ActConn.Load()
	now := time.Now()
	sslRate, sslMax := s.m.ssl.read(now)
	feKey, feKeyMax := s.m.feKey.read(now)
	beKey, beKeyMax := s.m.beKey.read(now)
	return []infoField{
		{"Name", "HAProxy"}, {"Version", s.Version}, {"Release_date", s.Release},
		{"Nbthread", nbthread}, {"Nbproc", 1}, {"Process_num", 1}, {"Pid", os.Getpid()},
		{"Uptime", fmt.Sprintf("%dd %dh%02dm%02ds", secs/86400, secs/3600%24, secs/60%60, secs%60)},
		{"Uptime_sec", secs}, {"Memmax_MB", 0}, {"PoolAlloc_MB", ms.HeapAlloc >> 20}, {"PoolUsed_MB", ms.HeapInuse >> 20},
		{"PoolFailed", 0}, {"Ulimit-n", rl.Cur}, {"Maxsock", s.rt.Maxsock}, {"Maxconn", maxconn}, {"Hard_maxconn", maxconn},
		{"CurrConns", cur}, {"CumConns", conns}, {"CumReq", reqs}, {"MaxSslConns", 0}, {"CurrSslConns", 0},
		{"CumSslConns", s.m.sslCum.Load()}, {"Maxpipes", 0}, {"PipesUsed", 0}, {"PipesFree", 0}, {"ConnRate", 0},
		{"ConnRateLimit", 0}, {"MaxConnRate", 0}, {"SessRate", 0}, {"SessRateLimit", 0}, {"MaxSessRate", 0},
		{"SslRate", sslRate}, {"SslRateLimit", 0}, {"MaxSslRate", sslMax}, {"SslFrontendKeyRate", feKey},
		{"SslFrontendMaxKeyRate", feKeyMax}, {"SslFrontendSessionReuse_pct", s.sslReuse(now)}, {"SslBackendKeyRate", beKey},
		{"SslBackendMaxKeyRate", beKeyMax}, {"SslCacheLookups", 0}, {"SslCacheMisses", 0}, {"CompressBpsIn", 0},
		{"CompressBpsOut", 0}, {"CompressBpsRateLim", 0}, {"Tasks", runtime.NumGoroutine()}, {"Run_queue", 0},
		{"Idle_pct", 100}, {"node", host}, {"Stopping", 0}, {"Jobs", cur + int64(listeners)},
		{"Unstoppable Jobs", 0}, {"Listeners", listeners}, {"ActivePeers", 0}, {"ConnectedPeers", 0},
		{"DroppedLogs", 0}, {"BusyPolling", 0}, {"FailedResolutions", 0}, {"TotalBytesOut", bout},
		{"TotalSplicdedBytesOut", 0}, {"BytesOutRate", 0}, {"DebugCommandsIssued", 0}, {"CumRecvLogs", 0},
		{"Build info", s.Version}, {"Memmax_bytes", 0}, {"PoolAlloc_bytes", ms.HeapAlloc}, {"PoolUsed_bytes", ms.HeapInuse},
		{"Start_time_sec", s.start.Unix()}, {"Tainted", 0},
	}
}

// HAProxy's check status numbers (enum healthcheck_status) and results.
var checkStatusNum = map[string]int{
	"": 1, "UNK": 0, "INI": 1, "SOCKERR": 5, "L4OK": 6, "L4TOUT": 7, "L4CON": 8, "L6OK": 9, "L6TOUT": 10,
	"L6RSP": 11, "L7TOUT": 12, "L7RSP": 13, "L57DATA": 14, "L7OKD": 15, "L7OKCD": 16, "L7STS": 17,
	"PROCERR": 18, "PROCTOUT": 19, "PROCOK": 20,
}

func cmdShowServersState(s *Stats, sess *Session, args []string) string {
	var b strings.Builder
	if len(args) > 0 && s.rt.BackendByName(args[0]) == nil {
		return "Can't find backend.\n\n"
	}
	b.WriteString("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, be := range s.rt.Backends {
		if len(args) > 0 && be.Proxy.Name != args[0] {
			continue
		}
		for _, ss := range be.Servers() {
			sv := ss.Server
			m := s.mark(ss, now)
			// srv_op_state (0 stopped, 2 running, 3 stopping) and
			// srv_admin_state (1 forced maintenance, 4 from the
			// configuration, 8 drain), as HAProxy's: a server in
			// maintenance is stopped, a drained one keeps its health.
			op, admin := 2, 0
			switch ss.Health() {
			case proxy.SrvDown:
				op = 0
			case proxy.SrvNoLB:
				op = 3
			}
			paused := false
			switch ss.Status() {
			case proxy.SrvMaint:
				op, admin, paused = 0, 1, true
				if sv.Disabled {
					admin = 5
				}
				if ss.ResolveMaint() {
					admin = 0x20 // SRV_ADMF_RMAINT alone
				}
			case proxy.SrvDrain:
				admin = 8
			}
			if sv.SRV != "" && ss.AddrChanged() {
				// HAProxy keeps SRV_ADMF_HMAINT on the servers a SRV
				// label fills, whatever their state
				admin |= 0x40
			}
			var chk CheckState
			has := false
			if s.checks != nil {
				chk, has = s.checks(ss)
			}
			// srv_check_status (HAProxy's HCHK_STATUS_*), srv_check_result
			// (0 unknown, 2 failed, 3 passed) and srv_check_state (2
			// configured, 4 enabled, 8 paused: checks pause in maintenance).
			cs, cr, chs := 1, 0, 0
			if sv.Check {
				chs = 6
				if paused {
					chs = 14
				}
				if has {
					cs = checkStatusNum[chk.Status]
					switch {
					case chk.Status == "" || chk.Status == "INI":
					case strings.HasSuffix(chk.Status, "OK") || strings.HasPrefix(chk.Status, "L7OK"):
						cr = 3
					default:
						cr = 2
					}
				}
			}
			health := 0
			if has {
				health = chk.Health
			} else if (ss.Status() == proxy.SrvUp || ss.Status() == proxy.SrvDrain) && sv.Resolved {
				// (a server that started without an address, init-addr
				// none, keeps 0 as HAProxy's does)
				health = sv.Rise + sv.Fall - 1
				if !sv.Check {
					health = sv.Rise
				}
			}
			ssl := 0
			if sv.SSL {
				ssl = 1
			}
			forced := 0
			if sv.IDForced {
				forced = 1
			}
			checkAddr := "-"
			if sv.CheckAddr.IsValid() {
				checkAddr = sv.CheckAddr.String()
			}
			addr, port := ss.CurrentAddr()
			addrText := "-"
			if addr.IsValid() {
				addrText = addr.String()
			}
			fqdn, srvrec := ss.FQDN(), sv.SRV
			if fqdn == "" {
				fqdn = "-"
			}
			if srvrec == "" {
				srvrec = "-"
			}
			fmt.Fprintf(&b, "%d %s %d %s %s %d %d %d %d %d %d %d %d %d 0 0 %d %s %d %s %d %d %s - 0\n",
				be.Proxy.ID, be.Proxy.Name, sv.ID, sv.Name, addrText, op, admin, ss.Weight(), sv.Weight,
				int64(now.Sub(m.at)/time.Second), cs, cr, health, chs, forced, fqdn, port, srvrec, ssl, sv.CheckPort, checkAddr)
		}
	}
	b.WriteString("\n")
	return b.String()
}

// endAnswer ends a command's message with the empty line HAProxy's CLI
// prints after it.
func endAnswer(s string) string {
	if strings.HasSuffix(s, "\n\n") {
		return s
	}
	return s + "\n"
}
