package stats

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"halo/proxy"
)

// The master CLI (management.txt §9.4): the socket(s) of `-S` in
// master-worker mode, served by the master process. It supervises the
// processes (`show proc`, `reload`) and routes commands to the workers'
// own CLI with the `@` prefixes: `@1` (the current worker), `@!PID` (any
// worker, leaving ones included), `@` / `@master` (the master itself). A
// prefix alone on a command changes the session's default target. The
// answers and errors are HAProxy 2.6.12's.

// Proc is one line of `show proc`.
type Proc struct {
	PID     int
	Type    string // "master" or "worker"
	Reloads int    // reloads survived (the master: reloads done)
	Failed  int    // the master only: reloads that failed
	Start   time.Time
	Version string
	Leaving bool // an old worker, finishing its connections
}

// MasterHost is what the master process gives its CLI.
type MasterHost interface {
	// Procs lists the master first, then the workers, current and old.
	Procs() []Proc
	// Reload does what SIGUSR2 does to the master.
	Reload()
	// ReloadFailed reports whether the last reload failed (the prompt
	// then says so).
	ReloadFailed() bool
	// Forward runs one command line on the CLI of worker pid at level
	// and returns its answer.
	Forward(pid int, level Level, cmd string) (string, error)
}

// MasterServer serves the master CLI sockets.
type MasterServer struct {
	host   MasterHost
	lns    []net.Listener
	levels []Level
	once   sync.Once
	files  []unixFile
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	done   bool
}

// ListenMaster opens the `-S` sockets.
func ListenMaster(host MasterHost, socks []proxy.StatsSocket) (*MasterServer, error) {
	ms := &MasterServer{host: host, conns: map[net.Conn]struct{}{}}
	for _, sk := range socks {
		ln, err := listenSocket(sk)
		if err != nil {
			ms.Close()
			return nil, err
		}
		if ul, ok := ln.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false)
			if p := ul.Addr().String(); !strings.HasPrefix(p, "@") {
				if fi, err := os.Stat(p); err == nil {
					ms.files = append(ms.files, unixFile{p, fi})
				}
			}
		}
		ms.lns = append(ms.lns, ln)
		lvl := LevelAdmin // the master CLI's default level
		if sk.Level != "" {
			lvl = ParseLevel(sk.Level)
		}
		ms.levels = append(ms.levels, lvl)
	}
	return ms, nil
}

// Start accepts connections; the master calls it once its first worker
// runs (clients wait in the backlog until then, as with HAProxy, whose
// master polls its CLI only once the workers are forked).
func (ms *MasterServer) Start() {
	ms.once.Do(func() {
		for i, ln := range ms.lns {
			ms.wg.Add(1)
			go ms.accept(ln, ms.levels[i])
		}
	})
}

func (ms *MasterServer) accept(ln net.Listener, lvl Level) {
	defer ms.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		ms.mu.Lock()
		if ms.done {
			ms.mu.Unlock()
			c.Close()
			return
		}
		ms.conns[c] = struct{}{}
		ms.wg.Add(1)
		ms.mu.Unlock()
		go func() {
			defer ms.wg.Done()
			ms.Serve(c, lvl)
			ms.mu.Lock()
			delete(ms.conns, c)
			ms.mu.Unlock()
		}()
	}
}

// Close stops listening and ends the open sessions.
func (ms *MasterServer) Close() {
	ms.mu.Lock()
	ms.done = true
	for c := range ms.conns {
		c.Close()
	}
	ms.mu.Unlock()
	for _, ln := range ms.lns {
		ln.Close()
	}
	for _, f := range ms.files {
		if fi, err := os.Stat(f.path); err == nil && os.SameFile(fi, f.fi) {
			_ = os.Remove(f.path)
		}
	}
	ms.wg.Wait()
}

// masterSession is one master CLI connection.
type masterSession struct {
	level       Level
	interactive bool
	quit        bool
	target      int // 0: the master; >0: a worker's PID
	// modes shown as prompt flags; forwarded to the workers
	expert, experimental, debug bool
}

// Serve runs one master CLI session on c at level lvl until the client
// is done, as HAProxy's master does: non-interactive sessions end once
// every command sent is answered; `reload` ends the session.
func (ms *MasterServer) Serve(c net.Conn, lvl Level) {
	defer c.Close()
	s := &masterSession{level: lvl}
	r := bufio.NewReaderSize(c, 16384)
	for {
		// The master CLI has no idle timeout of its own in 2.6 beyond
		// the client's; a long one keeps interactive sessions alive.
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Minute))
		line, err := readLine(r, 16384)
		if err != nil && line == "" {
			return
		}
		out, reload := ms.execute(s, line)
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, werr := c.Write([]byte(out)); werr != nil {
			return
		}
		if reload {
			// HAProxy's master re-executes itself: the session ends.
			ms.host.Reload()
			return
		}
		if s.quit || err != nil || (!s.interactive && r.Buffered() == 0) {
			return
		}
	}
}

func (ms *MasterServer) prompt(s *masterSession) string {
	var b strings.Builder
	if s.target == 0 {
		b.WriteString("master")
		if ms.host.ReloadFailed() {
			b.WriteString("[ReloadFailed]")
		}
	} else {
		b.WriteString(strconv.Itoa(s.target))
	}
	if s.experimental || s.expert || s.debug {
		b.WriteString("(")
		if s.experimental {
			b.WriteString("x")
		}
		if s.expert {
			b.WriteString("e")
		}
		if s.debug {
			b.WriteString("d")
		}
		b.WriteString(")")
	}
	b.WriteString("> ")
	return b.String()
}

// execute answers one line: commands separated by unescaped ';', each
// possibly led by an @ prefix, each answer followed by the prompt in
// interactive mode. reload: the session must end with a reload.
func (ms *MasterServer) execute(s *masterSession, line string) (string, bool) {
	var out strings.Builder
	for _, cmd := range splitRaw(line) {
		ans, reload := ms.one(s, cmd)
		out.WriteString(ans)
		if reload || s.quit {
			return out.String(), reload
		}
		if s.interactive {
			out.WriteString(ms.prompt(s))
		}
	}
	return out.String(), false
}

// one answers one command of a line.
func (ms *MasterServer) one(s *masterSession, cmd string) (string, bool) {
	cmd = strings.TrimLeft(cmd, " \t")
	target, prefixed := s.target, false
	if strings.HasPrefix(cmd, "@") {
		prefix, rest, _ := strings.Cut(cmd, " ")
		pid, ok := ms.resolve(prefix)
		if !ok {
			// HAProxy answers and ends the session on a bad prefix.
			s.quit = true
			return "Can't find the target PID matching the prefix '" + prefix + "'\n", false
		}
		rest = strings.TrimLeft(rest, " \t")
		if strings.TrimSpace(rest) == "" {
			s.target = pid // a prefix alone changes the default target
			return "", false
		}
		target, cmd, prefixed = pid, rest, true
	}
	if strings.TrimSpace(cmd) == "" {
		return "", false
	}
	if target != 0 {
		args := tokenize(cmd)
		// The session's own commands stay with the master unless
		// prefixed (2.6.12 forwards "@1 prompt").
		if len(args) > 0 && (prefixed || !(args[0] == "prompt" || args[0] == "quit")) {
			ans, err := ms.host.Forward(target, s.level, cmd)
			if err != nil {
				ans = "Can't find the target PID matching the prefix '@!" + strconv.Itoa(target) + "'\n"
			}
			return ans, false
		}
	}
	return ms.run(s, tokenize(cmd))
}

// resolve reads an @ prefix: "@" and "@master" are the master (PID 0),
// "@N" the Nth current worker, "@!PID" any worker by PID.
func (ms *MasterServer) resolve(prefix string) (int, bool) {
	p := prefix[1:]
	if p == "" || p == "master" {
		return 0, true
	}
	procs := ms.host.Procs()
	if pid, ok := strings.CutPrefix(p, "!"); ok {
		n, err := strconv.Atoi(pid)
		if err != nil {
			return 0, false
		}
		for _, pr := range procs {
			if pr.Type == "worker" && pr.PID == n {
				return n, true
			}
		}
		return 0, false
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 {
		return 0, false
	}
	if n == 0 { // 2.6.12 takes "@0" for the master
		return 0, true
	}
	i := 0
	for _, pr := range procs {
		if pr.Type == "worker" && !pr.Leaving {
			i++
			if i == n {
				return pr.PID, true
			}
		}
	}
	return 0, false
}

type masterCommand struct {
	words []string
	usage string
	help  string
}

// masterCommands is the master CLI's help, in 2.6.12's order (help,
// prompt and quit come last, as in the workers' CLI).
var masterCommands = []masterCommand{
	{[]string{"@!<pid>"}, "@!<pid>", "send a command to the <pid> process"},
	{[]string{"@<relative pid>"}, "@<relative pid>", "send a command to the <relative pid> process"},
	{[]string{"@master"}, "@master", "send a command to the master process"},
	{[]string{"operator"}, "operator", "lower the level of the current CLI session to operator"},
	{[]string{"reload"}, "reload", "reload haproxy"},
	{[]string{"show", "cli", "level"}, "show cli level", "display the level of the current CLI session"},
	{[]string{"show", "cli", "sockets"}, "show cli sockets", "dump list of cli sockets"},
	{[]string{"show", "proc"}, "show proc", "show processes status"},
	{[]string{"show", "version"}, "show version", "show version of the current process"},
	{[]string{"user"}, "user", "lower the level of the current CLI session to user"},
	{[]string{"help"}, "help [<command>]", "list matching or all commands"},
	{[]string{"prompt"}, "prompt", "toggle interactive mode with prompt"},
	{[]string{"quit"}, "quit", "disconnect"},
}

// run executes a command meant for the master itself.
func (ms *MasterServer) run(s *masterSession, args []string) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	is := func(words ...string) bool {
		if len(args) < len(words) {
			return false
		}
		for i, w := range words {
			if args[i] != w {
				return false
			}
		}
		return true
	}
	switch {
	case is("prompt"):
		s.interactive = !s.interactive
		return "", false
	case is("quit"):
		s.quit = true
		return "", false
	case is("help"):
		return masterHelp(args[1:], true), false
	case is("operator"):
		if s.level < LevelOperator {
			// 2.6.12 refuses so and ends the session.
			s.quit = true
			return "Permission denied!\n", false
		}
		s.level = LevelOperator
		return "", false
	case is("user"):
		s.level = LevelUser
		return "", false
	case is("show", "cli", "level"):
		return [...]string{"user", "operator", "admin"}[s.level] + "\n\n", false
	case is("show", "cli", "sockets"):
		// The master's listeners are not in its list in 2.6.
		return "\n", false
	case is("show", "proc"):
		return ms.showProc(), false
	case is("show", "version"):
		return Version + "\n\n", false
	case is("reload"):
		if s.level < LevelOperator {
			return "Permission denied\n\n", false
		}
		return "", true
	case is("expert-mode") || is("experimental-mode") || is("mcli-debug-mode"):
		if s.level < LevelAdmin {
			s.quit = true
			return "Permission denied!\n", false
		}
		on := len(args) < 2 || args[1] == "on"
		if len(args) >= 2 && args[1] != "on" && args[1] != "off" {
			return "", false // 2.6.12 says nothing and changes nothing
		}
		switch args[0] {
		case "expert-mode":
			s.expert = on
		case "experimental-mode":
			s.experimental = on
		default:
			s.debug = on
		}
		return "", false
	}
	return masterHelp(args, false), false
}

// masterHelp is the master's help (helpmatch.go): its own commands,
// whatever the level, as 2.6.12 lists them.
func masterHelp(words []string, isHelp bool) string {
	var entries []helpEntry
	for _, c := range masterCommands {
		switch c.words[0] {
		case "help", "prompt", "quit":
			continue
		}
		entries = append(entries, helpEntry{c.words, helpLine(c.usage, c.help)})
	}
	return helpList(entries, words, isHelp) + "\n"
}

// showProc is `show proc` in 2.6.12's columns.
func (ms *MasterServer) showProc() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-15s %-15s %-15s %-15s %-15s\n", "#<PID>", "<type>", "<reloads>", "<uptime>", "<version>")
	procs := ms.host.Procs()
	now := time.Now()
	var workers, old []Proc
	for _, p := range procs {
		switch {
		case p.Type == "master":
			fmt.Fprintf(&b, "%-15d %-15s %-15s %-15s %-15s\n", p.PID, p.Type,
				fmt.Sprintf("%d [failed: %d]", p.Reloads, p.Failed), procUptime(now.Sub(p.Start)), p.Version)
		case p.Leaving:
			old = append(old, p)
		default:
			workers = append(workers, p)
		}
	}
	b.WriteString("# workers\n")
	for _, p := range workers {
		fmt.Fprintf(&b, "%-15d %-15s %-15d %-15s %-15s\n", p.PID, p.Type, p.Reloads, procUptime(now.Sub(p.Start)), p.Version)
	}
	if len(old) > 0 {
		b.WriteString("# old workers\n")
		for _, p := range old {
			fmt.Fprintf(&b, "%-15d %-15s %-15d %-15s %-15s\n", p.PID, p.Type, p.Reloads, procUptime(now.Sub(p.Start)), p.Version)
		}
	}
	b.WriteString("# programs\n\n")
	return b.String()
}

// procUptime is HAProxy's "%dd%02dh%02dm%02ds".
func procUptime(d time.Duration) string {
	s := int64(d / time.Second)
	if s < 0 {
		s = 0
	}
	return fmt.Sprintf("%dd%02dh%02dm%02ds", s/86400, s/3600%24, s/60%60, s%60)
}

// splitRaw splits a line on the ';' not escaped by a backslash, keeping
// every escape: the pieces go on to a worker, which unescapes them.
func splitRaw(line string) []string {
	var out []string
	start := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case ';':
			out = append(out, line[start:i])
			start = i + 1
		}
	}
	return append(out, line[start:])
}

// ServeConn serves one CLI session on c at level lvl, as a connection
// to a stats socket would be (the master hands its workers such
// connections for the commands it routes to them).
func (srv *Server) ServeConn(c net.Conn, lvl Level) {
	srv.mu.Lock()
	if srv.closed {
		srv.mu.Unlock()
		c.Close()
		return
	}
	srv.conns[c] = struct{}{}
	srv.wg.Add(1)
	srv.mu.Unlock()
	srv.serve(c, listenerOpts{level: lvl})
}
