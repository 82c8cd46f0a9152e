package compat

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"halo/parser"
	"halo/proxy"
	"halo/proxy/acl"
)

// HAProxyOptions tunes LoadHAProxy. Zero values mean "as haproxy does".
type HAProxyOptions struct {
	Env parser.Env // nil: the process environment
	// Resolve turns a server host name into an address; nil: the system
	// resolver (/etc/hosts, then DNS) with a short timeout.
	Resolve func(host string) (netip.Addr, error)
	// Stat checks that a file exists (certificates, error files); nil: os.Stat.
	Stat func(path string) (os.FileInfo, error)
	// ReadFile reads errorfiles and configuration files; nil: os.ReadFile.
	ReadFile func(path string) ([]byte, error)
	// IgnoreResolveErrors is -dr: servers whose address cannot be
	// resolved start in maintenance instead of failing the check.
	IgnoreResolveErrors bool
	// Diag is -dD: .diag messages are shown.
	Diag bool
	// Registry is the runtime's vocabulary (fetches, converters, ACL
	// keywords) statuses are derived from; nil: acl.NewRegistry().
	Registry *acl.Registry
}

// pstate is a proxy (or defaults section) under construction: the typed
// proxy plus what is only needed while loading.
type pstate struct {
	p         *proxy.Proxy
	kind      string // "defaults", "frontend", "backend", "listen"
	pos       parser.Pos
	acls      map[string]*proxy.ACL
	defServer *proxy.Server
	defExtra  serverExtra
	// defSrvSet records which default-server fields were set, so that a
	// server line only inherits what was configured.
	defBackend    string
	defBackendPos parser.Pos
	useBackends   []pendingUseBackend
	useServers    []pendingUseServer
	servers       map[string]int // name → line
	logGlobal     bool
	logFormatSet  parser.Pos
	httpLog       parser.Pos
	tcpLog        parser.Pos
	forwardfor    bool
	errs          []errEntry // error directives in order (haproxy_errors.go)
	replyRefs     []errEntry // `errorfiles NAME` in return/deny/tarpit replies
	sawUseBackend bool
	anonymous     bool // anonymous defaults section
	explicitUse   bool // a defaults section some proxy names with "from"
	implicitUse   bool // a defaults section some proxy uses as the last one
	dupServers    []dupServer
	logFmtHere    string // log format set in this very section (not inherited)
	ruleStages    [8]int // rules seen per processing stage (misplaced-rule warnings)
	explicitID    bool   // `id` set p.ID
	// ruleKinds says which rules a defaults section defines (ruleAny,
	// ruleL45, ruleTCPRes); usedBy the kinds of proxies it initialized.
	ruleKinds uint8
	usedBy    proxy.Cap
	chk       *checkState
	filters   []filterDecl // filter lines and implied cache filters (haproxy_filters.go)
}

type dupServer struct {
	name  string
	first int
	pos   parser.Pos
}

type pendingUseBackend struct {
	name string
	pos  parser.Pos
	cond *proxy.Cond
}

// pendingUseServer is a use-server rule whose server is looked up once
// every server line is read.
type pendingUseServer struct {
	name string
	pos  parser.Pos
	cond *proxy.Cond
}

// hctx is the decoding context of the haproxy keyword tables.
type hctx struct {
	opt HAProxyOptions
	rep *Report
	cfg *proxy.Config
	reg *acl.Registry // the runtime's vocabulary
	// sampleWhere is the rule context (ctx* bits) samples of the rule
	// being decoded must be valid in; 0 when not checked.
	sampleWhere uint32
	// neverIn names the rule in "will never match" warnings when HAProxy
	// does (tcp-request/tcp-response rules: "in 'tcp-request content'").
	neverIn string

	abort bool // an error HAProxy treats as ERR_ABORT: stop reading

	sec     string // current section kind
	secName string
	secPos  parser.Pos
	cur     *pstate // current proxy or defaults
	// the directive being decoded and its status, which decoders may
	// lower (e.g. a server line using a partly executed parameter).
	d         *parser.Directive
	table     *Table[*hctx]
	status    Status
	statusKey string
	note      string
	neg       bool // "no option …"
	// quietStatus: the section header already said the status, so its
	// lines are counted without a diagnostic each.
	quietStatus bool
	deflt       bool // "default option …"

	defaults     map[string]*pstate
	lastDefaults *pstate
	byName       map[string][]*pstate
	proxies      []*pstate

	userlist   *proxy.Userlist
	httpErrors map[int][]byte
	resolvers  *proxy.Resolvers                 // the resolvers section being read
	nsPos      map[string]parser.Pos            // its nameservers
	sections   map[string]map[string]parser.Pos // other named sections (peers, resolvers, …)

	crtBase, caBase string
	resolved        map[string]resolveResult
	srvExtra        map[*proxy.Server]*serverExtra
	peers           map[string][]string // peers section → peer names
	stateFile       string              // global server-state-file
	sslServerVerify string              // global ssl-server-verify
	ssl             sslGlobals          // global ssl-default-* (haproxy_ssl.go)
	stick           *stickState         // stick tables and peers (haproxy_stick.go)
	cache           *proxy.CacheSection // the cache section being read (haproxy_filters.go)
}

type resolveResult struct {
	addr netip.Addr
	err  error
}

// LoadHAProxy reads haproxy configuration files (already expanded from -f
// arguments) into a proxy.Config. Diagnostics are in HAProxy's wording; the
// Config is nil when the Report is fatal.
func LoadHAProxy(paths []string, opt HAProxyOptions) (*proxy.Config, *Report) {
	if opt.Env == nil {
		opt.Env = parser.OSEnv{}
	}
	if opt.Stat == nil {
		opt.Stat = os.Stat
	}
	if opt.ReadFile == nil {
		opt.ReadFile = os.ReadFile
	}
	if opt.Resolve == nil {
		opt.Resolve = systemResolve
	}
	rep := &Report{Lang: parser.LangHAProxy, Files: paths}
	file, pdiags := parser.ParseHAProxy(paths, parser.HAProxyOptions{Env: opt.Env, ReadFile: opt.ReadFile})
	return loadHAProxyFile(file, pdiags, opt, rep)
}

// LoadHAProxyBytes loads one in-memory file (tests, fuzzing, benchmarks).
func LoadHAProxyBytes(name string, data []byte, opt HAProxyOptions) (*proxy.Config, *Report) {
	if opt.Env == nil {
		opt.Env = parser.MapEnv{}
	}
	if opt.Stat == nil {
		opt.Stat = os.Stat
	}
	if opt.ReadFile == nil {
		opt.ReadFile = os.ReadFile
	}
	if opt.Resolve == nil {
		opt.Resolve = func(h string) (netip.Addr, error) { return netip.Addr{}, fmt.Errorf("no resolver") }
	}
	rep := &Report{Lang: parser.LangHAProxy, Files: []string{name}}
	file, pdiags := parser.ParseHAProxyBytes(name, data, parser.HAProxyOptions{Env: opt.Env})
	return loadHAProxyFile(file, pdiags, opt, rep)
}

func loadHAProxyFile(file *parser.File, pdiags []parser.Diag, opt HAProxyOptions, rep *Report) (*proxy.Config, *Report) {
	if opt.Registry == nil {
		opt.Registry = acl.NewRegistry()
	}
	c := &hctx{
		opt: opt, rep: rep, reg: opt.Registry,
		cfg: &proxy.Config{
			Global:     proxy.Global{TuneBufsize: 16384, TuneMaxrewrite: 1024, Nbthread: 0},
			HTTPErrors: map[string]map[int][]byte{},
			Userlists:  map[string]*proxy.Userlist{},
		},
		defaults: map[string]*pstate{},
		byName:   map[string][]*pstate{},
		sections: map[string]map[string]parser.Pos{},
		resolved: map[string]resolveResult{},
		srvExtra: map[*proxy.Server]*serverExtra{},
		peers:    map[string][]string{},
	}
	parseFatal := false
	for _, d := range pdiags {
		if d.Sev == parser.SevDiag && !opt.Diag {
			continue
		}
		sev := d.Sev
		rep.Diags = append(rep.Diags, Diagnostic{Pos: d.Pos, Sev: sev, Msg: d.Msg, Form: "tight"})
		if sev == parser.SevAlert {
			parseFatal = true
		}
	}
	// Diagnostics from the parser come first, then those of the sections,
	// as haproxy reports line by line; sort keeps file order stable.
	for _, d := range file.Directives {
		if c.abort {
			break
		}
		c.section(d)
	}
	c.abort = c.abort || file.Aborted
	rep.Aborted = c.abort
	if !c.abort && !rep.Fatal() && !parseFatal {
		n := len(rep.Diags)
		c.postCheck()
		for i := n; i < len(rep.Diags); i++ {
			rep.Diags[i].Late = true
		}
	}
	sortDiags(rep)
	if rep.Fatal() {
		return nil, rep
	}
	return c.cfg, rep
}

// sortDiags orders the diagnostics of the reading phase by file position
// (the parser's come first otherwise); those of the whole-configuration
// checks keep the order haproxy emits them in, after the others.
func sortDiags(r *Report) {
	fileIdx := map[string]int{}
	for i, f := range r.Files {
		if _, ok := fileIdx[f]; !ok {
			fileIdx[f] = i
		}
	}
	n := 0
	for n < len(r.Diags) && !r.Diags[n].Late {
		n++
	}
	early := r.Diags[:n]
	sort.SliceStable(early, func(i, j int) bool {
		a, b := early[i].Pos, early[j].Pos
		if (a.Line == 0) != (b.Line == 0) {
			return b.Line == 0
		}
		if a.Line == 0 {
			return false
		}
		if a.File != b.File {
			return fileIdx[a.File] < fileIdx[b.File]
		}
		return a.Line < b.Line
	})
}

// section handles one top-level directive: a section with its body, or a
// line outside any section.
func (c *hctx) section(d *parser.Directive) {
	if !d.HasBlock {
		c.rep.Alertf(d.Pos, "unknown keyword '%s' out of section.", d.Name)
		return
	}
	c.sec, c.secPos, c.cur, c.userlist, c.httpErrors, c.resolvers = d.Name, d.Pos, nil, nil, nil, nil
	c.secName = ""
	if len(d.Args) > 0 {
		c.secName = d.Args[0].Value
	}
	var table *Table[*hctx]
	switch d.Name {
	case "global":
		c.rep.Record(d.Pos, "global", "global", Supported, "")
		table = globalTable
	case "defaults", "frontend", "backend", "listen":
		if !c.openProxy(d) {
			// haproxy keeps reading the section's lines without a proxy
			// and refuses each of them (unless it stopped reading).
			for _, line := range d.Body {
				if c.abort {
					break
				}
				c.rep.Alertf(line.Pos, "'listen' or 'defaults' expected.")
			}
			return
		}
		table = proxyTable
	case "userlist":
		if !c.openUserlist(d) {
			return
		}
		table = userlistTable
	case "peers":
		if !c.openPeers(d) {
			return
		}
		table = peersTable
	case "resolvers":
		if !c.openResolvers(d) {
			return
		}
		table = resolversTable
	case "http-errors":
		if len(d.Args) == 0 {
			c.rep.Alertf(d.Pos, "missing name for http-errors section.")
			return
		}
		c.rep.Record(d.Pos, "http-errors", "http-errors", Supported, "")
		c.httpErrors = map[int][]byte{}
		c.cfg.HTTPErrors[c.secName] = c.httpErrors
		table = httpErrorsTable
	case "cache":
		if !c.openCache(d) {
			return
		}
		table = cacheTable
		defer c.closeCache(d)
	default:
		table = otherSectionTables[d.Name]
		c.openOther(d)
	}
	for _, line := range d.Body {
		if c.abort {
			return
		}
		c.directive(table, line)
	}
}

// directive decodes one line of a section through its table.
func (c *hctx) directive(t *Table[*hctx], d *parser.Directive) {
	words := make([]string, 0, 3)
	words = append(words, d.Name)
	for i := 0; i < len(d.Args) && i < 2; i++ {
		words = append(words, d.Args[i].Value)
	}
	prefix := ""
	// "no option x" and "default option x" (configuration.txt 4.1).
	proxySec := c.sec == "defaults" || c.sec == "frontend" || c.sec == "backend" || c.sec == "listen"
	if (d.Name == "no" || d.Name == "default") && len(d.Args) > 0 && (proxySec || c.sec == "global") {
		next := d.Args[0].Value
		switch {
		case next == "option" && c.sec != "global":
			opt := ""
			if len(d.Args) > 1 {
				opt = d.Args[1].Value
			}
			if o := findOption(opt); o == nil || !o.negatable() {
				c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevAlert, Form: "tight",
					Msg: fmt.Sprintf("negation/default is not supported for option '%s'.", opt)})
				return
			}
		case next == "log" && c.sec != "global", negatableGlobal[next] && c.sec == "global":
		default:
			// haproxy complains, then still parses the rest of the line.
			c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevAlert, Form: "tight",
				Msg: "negation/default currently supported only for options, log, busy-polling, set-dumpable, strict-limits, insecure-fork-wanted and numa-cpu-mapping."})
			shifted := &parser.Directive{Pos: d.Args[0].Pos, Name: next, Args: d.Args[1:]}
			c.directive(t, shifted)
			return
		}
		prefix = d.Name
		words = words[1:]
		if next == "log" {
			words = []string{"no log"}
		}
	}
	kw, n := t.Lookup(words)
	if kw == nil {
		c.unknownKeyword(t, d)
		return
	}
	args := d.Args
	skip := n - 1
	if prefix != "" {
		skip = n
	}
	if prefix != "" && kw.Name == "no log" {
		skip = 1
	}
	if skip > len(args) {
		skip = len(args)
	}
	args = args[skip:]
	c.d, c.table, c.status, c.note, c.statusKey = d, t, kw.Status, kw.Note, kw.Name
	c.neg, c.deflt = prefix == "no", prefix == "default"
	c.quietStatus = false
	if prefix != "" {
		c.statusKey = prefix + " " + kw.Name
	}
	nDiags := len(c.rep.Diags)
	if kw.Decode != nil {
		if err := kw.Decode(c, d, args); err != nil {
			form := ""
			if fe, ok := err.(formError); ok {
				form = fe.form
			}
			c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevAlert, Msg: err.Error(), Form: form})
		}
	}
	// A directive that failed is not counted as executed.
	failed := false
	for _, dg := range c.rep.Diags[nDiags:] {
		if dg.Rejecting() {
			failed = true
		}
	}
	if failed {
		return
	}
	sec := c.sec
	if sec == "" {
		sec = t.Section
	}
	c.rep.Record(d.Pos, sec, c.statusKey, c.status, c.note)
	if c.quietStatus {
		return
	}
	switch c.status {
	case Ignored:
		c.rep.haloNotef(d.Pos, "halo: '%s' is accepted but not executed (ignored): %s", c.statusKey, c.note)
	case Partial:
		c.rep.haloNotef(d.Pos, "halo: '%s' is only partly executed: %s", c.statusKey, c.note)
	case Unsupported:
		c.rep.haloRefusef(d.Pos, "halo: '%s' is not supported: %s", c.statusKey, c.note)
	}
}

// lower makes the current directive's status at least s (worse), with the
// note explaining why.
func (c *hctx) lower(s Status, note string) {
	if s > c.status {
		c.status, c.note = s, note
	} else if s == c.status && s != Supported && note != "" && !strings.Contains(c.note, note) {
		if c.note != "" {
			c.note += "; "
		}
		c.note += note
	}
}

// lowerPart lowers the status for one part of a directive (a server or
// bind parameter, a fetch in a condition): the directive itself still
// runs, so an ignored part makes it partial, an unsupported one
// unsupported.
func (c *hctx) lowerPart(part string, s Status, note string) {
	if s == Ignored {
		s = Partial
	}
	c.lower(s, part+": "+note)
}

func (c *hctx) unknownKeyword(t *Table[*hctx], d *parser.Directive) {
	secName := c.sec
	form := ""
	if secName == "userlist" {
		// haproxy's userlist parser calls its section 'users'.
		secName, form = "users", "tight"
	}
	msg := fmt.Sprintf("unknown keyword '%s' in '%s' section", d.Name, secName)
	if s := t.Suggest(d.Name); s != "" {
		msg += fmt.Sprintf("; did you mean '%s' maybe ?", s)
	}
	c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevAlert, Msg: msg, Form: form})
}

// tightWarn adds a warning in haproxy's "parsing [f:l]: msg" form.
func (c *hctx) tightWarn(pos parser.Pos, format string, a ...any) {
	c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: pos, Sev: parser.SevWarning, Form: "tight", Msg: fmt.Sprintf(format, a...)})
}

// openProxy starts a frontend/backend/listen/defaults section.
func (c *hctx) openProxy(d *parser.Directive) bool {
	kind := d.Name
	name := ""
	args := d.Args
	if len(args) > 0 && !(kind == "defaults" && args[0].Value == "from") {
		name = args[0].Value
		args = args[1:]
	}
	if kind != "defaults" && name == "" {
		c.rep.Alertf(d.Pos, "'%s' expects an <id> argument", kind)
		c.abort = true
		return false
	}
	if name != "" {
		if bad := invalidNameChar(name); bad != 0 {
			c.rep.Alertf(d.Pos, "character '%c' is not permitted in '%s' name '%s'.", bad, kind, name)
			return false
		}
	}
	var from *pstate
	if len(args) > 0 {
		if args[0].Value == "from" {
			if len(args) < 2 {
				c.rep.Alertf(d.Pos, "'from' expects a defaults section name as argument.")
				return false
			}
			fromName := args[1].Value
			from = c.defaults[fromName]
			if from == nil {
				c.rep.Alertf(d.Pos, "defaults section '%s' not found for %s '%s'.", fromName, kind, name)
				c.abort = true
				return false
			}
			args = args[2:]
		}
		if len(args) > 0 {
			if kind == "listen" || kind == "frontend" {
				c.rep.Alertf(d.Pos, "please use the 'bind' keyword for listening addresses.")
			} else {
				c.rep.Alertf(d.Pos, "'%s' : unexpected argument '%s'.", kind, args[0].Value)
			}
			return false
		}
	}
	mixed := func(def *pstate) {
		// haproxy prints this as an alert but still accepts the file.
		c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevAlert, NonFatal: true,
			Msg: fmt.Sprintf("defaults section '%s' (declared at %s:%d) is explicitly referenced by another proxy and implicitly used here. To avoid any ambiguity don't mix both usage. Add a last defaults section not explicitly used or always use explicit references.",
				def.p.Name, def.pos.File, def.pos.Line)})
	}
	switch {
	case from != nil:
		if from.implicitUse {
			mixed(from)
		}
		from.explicitUse = true
	case kind == "defaults":
		// A defaults section without "from" starts from haproxy's
		// documented settings, not from the previous defaults.
	default:
		from = c.lastDefaults
		if from != nil && !from.anonymous {
			if from.explicitUse {
				mixed(from)
			}
			from.implicitUse = true
		}
	}
	if from != nil && from.ruleKinds != 0 && !c.defaultsWithRules(d, kind, from) {
		c.abort = true
		return false
	}
	st := newProxyState(kind, name, d.Pos, from)
	if kind == "defaults" {
		st.anonymous = name == ""
		if name != "" {
			c.defaults[name] = st
		}
		c.lastDefaults = st
		c.cur = st
		c.rep.Record(d.Pos, kind, kind, Supported, "")
		return true
	}
	for _, other := range c.byName[name] {
		if other.p.Cap&st.p.Cap != 0 {
			c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevAlert, Form: "none",
				Msg: fmt.Sprintf("Parsing [%s:%d]: %s '%s' has the same name as %s '%s' declared at %s:%d.",
					d.Pos.File, d.Pos.Line, kind, name, other.kind, name, other.pos.File, other.pos.Line)})
			break
		}
	}
	c.byName[name] = append(c.byName[name], st)
	c.proxies = append(c.proxies, st)
	c.cfg.Proxies = append(c.cfg.Proxies, st.p)
	c.cur = st
	c.rep.Record(d.Pos, kind, kind, Supported, "")
	return true
}

// Rules a defaults section may define (pstate.ruleKinds).
const (
	ruleAny    uint8 = 1 << iota // any TCP/HTTP rule
	ruleL45                      // tcp-request connection or session
	ruleTCPRes                   // tcp-response content
)

// noteRule records that the section being read defines a rule of kind k.
func (c *hctx) noteRule(k uint8) {
	if c.cur != nil && c.cur.kind == "defaults" {
		c.cur.ruleKinds |= ruleAny | k
	}
}

// defaultsWithRules applies HAProxy's limits on proxies initialized from a
// defaults section that defines rules (cfg_parse_listen): the proxy keeps
// a reference to those rules, so neither a defaults nor a listen section
// may use it, nor frontends and backends both, nor a backend when it has
// tcp-request connection/session rules, nor a frontend when it has
// tcp-response content rules.
func (c *hctx) defaultsWithRules(d *parser.Directive, kind string, from *pstate) bool {
	at := fmt.Sprintf("(defaults section at %s:%d)", from.pos.File, from.pos.Line)
	var cp proxy.Cap
	msg := ""
	switch kind {
	case "defaults":
		msg = "a defaults section cannot inherit from a defaults section defining TCP/HTTP rules " + at + "."
	case "listen":
		msg = "a listen section cannot inherit from a defaults section defining TCP/HTTP rules."
	case "frontend":
		cp = proxy.CapFE
	case "backend":
		cp = proxy.CapBE
	}
	switch {
	case msg != "":
	case from.usedBy|cp == proxy.CapFE|proxy.CapBE:
		msg = "frontends and backends cannot inherit from the same defaults section if it defines TCP/HTTP rules " + at + "."
	case cp == proxy.CapBE && from.ruleKinds&ruleL45 != 0:
		msg = "a backend section cannot inherit from a defaults section defining 'tcp-request connection' or 'tcp-request session' rules " + at + "."
	case cp == proxy.CapFE && from.ruleKinds&ruleTCPRes != 0:
		msg = "a frontend section cannot inherit from a defaults section defining 'tcp-response content' rules " + at + "."
	}
	if msg != "" {
		c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevAlert, Form: "tight", Msg: msg})
		return false
	}
	from.usedBy |= cp
	return true
}

func invalidNameChar(s string) byte {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(isAlnumByte(ch) || ch == '-' || ch == '_' || ch == '.' || ch == ':') {
			return ch
		}
	}
	return 0
}

func isAlnumByte(ch byte) bool {
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
}

// newProxyState creates a proxy preset from its defaults section, as
// haproxy's proxy_preset_defaults() + defaults copy do: settings are
// inherited, rules (acl, use_backend, http-request, …) and servers are not.
func newProxyState(kind, name string, pos parser.Pos, from *pstate) *pstate {
	var cp proxy.Cap
	switch kind {
	case "frontend":
		cp = proxy.CapFE
	case "backend":
		cp = proxy.CapBE
	default:
		cp = proxy.CapFE | proxy.CapBE
	}
	st := &pstate{kind: kind, pos: pos, acls: map[string]*proxy.ACL{}, servers: map[string]int{}}
	if from != nil {
		p := *from.p
		p.Logs = append([]proxy.LogTarget(nil), from.p.Logs...)
		p.ErrorFiles, p.ErrorReplies = nil, nil // resolved from errs at the end
		p.HealthCheck.Rules = nil
		st.chk = from.chk.inherit()
		if from.p.Cookie != nil {
			ck := *from.p.Cookie
			p.Cookie = &ck
		}
		if from.p.Stats != nil {
			sp := *from.p.Stats
			p.Stats = &sp
		}
		p.Binds, p.ACLs, p.UseBackends, p.DefaultBackend = nil, nil, nil, nil
		p.Redirects, p.Servers, p.MonitorFail = nil, nil, nil
		// Rules of a named defaults section run before the proxy's own
		// (haproxy 2.5+); anonymous defaults cannot hold any.
		p.HTTPRequest = append([]*proxy.HTTPRule(nil), from.p.HTTPRequest...)
		p.HTTPResponse = append([]*proxy.HTTPRule(nil), from.p.HTTPResponse...)
		p.HTTPAfterResponse = append([]*proxy.HTTPRule(nil), from.p.HTTPAfterResponse...)
		p.TCPRequest = append([]*proxy.TCPRule(nil), from.p.TCPRequest...)
		p.TCPResponse = append([]*proxy.TCPRule(nil), from.p.TCPResponse...)
		p.CaptureReqHeaders = append([]proxy.Capture(nil), from.p.CaptureReqHeaders...)
		p.CaptureResHeaders = append([]proxy.Capture(nil), from.p.CaptureResHeaders...)
		p.ReqCaptureLens = append([]int(nil), from.p.ReqCaptureLens...)
		p.ResCaptureLens = append([]int(nil), from.p.ResCaptureLens...)
		st.p = &p
		if cp&proxy.CapFE != 0 {
			// HAProxy copies a defaults' default_backend into proxies
			// that can use one only, so a backend never "loops" on it.
			st.defBackend, st.defBackendPos = from.defBackend, from.defBackendPos
		}
		st.logGlobal = from.logGlobal
		st.httpLog, st.tcpLog, st.logFormatSet = from.httpLog, from.tcpLog, from.logFormatSet
		st.forwardfor = from.forwardfor
		st.errs = append([]errEntry(nil), from.errs...)
		if from.defServer != nil {
			ds := *from.defServer
			st.defServer = &ds
		}
		st.defExtra = from.defExtra
	} else {
		st.p = &proxy.Proxy{Retries: 3}
	}
	st.p.Name = name
	st.p.Cap = cp
	st.p.File = pos.File
	st.p.Line = pos.Line
	st.p.ID = 0
	return st
}

// openOther records a named section of a kind halo does not execute
// (peers, resolvers, cache, ring, …) so references to it resolve.
func (c *hctx) openOther(d *parser.Directive) {
	m := c.sections[d.Name]
	if m == nil {
		m = map[string]parser.Pos{}
		c.sections[d.Name] = m
	}
	if c.secName != "" {
		m[c.secName] = d.Pos
		if d.Name == "peers" {
			c.peers[c.secName] = []string{}
			for _, l := range d.Body {
				if l.Name == "peer" && len(l.Args) > 0 {
					c.peers[c.secName] = append(c.peers[c.secName], l.Args[0].Value)
				}
			}
		}
	}
	kw := otherSectionStatus[d.Name]
	c.rep.Record(d.Pos, d.Name, d.Name, kw.status, kw.note)
	switch kw.status {
	case Ignored:
		c.rep.haloNotef(d.Pos, "halo: '%s' section is accepted but not executed (ignored): %s", d.Name, kw.note)
	case Partial:
		c.rep.haloNotef(d.Pos, "halo: '%s' section is only partly executed: %s", d.Name, kw.note)
	case Unsupported:
		c.rep.haloRefusef(d.Pos, "halo: '%s' section is not supported: %s", d.Name, kw.note)
	}
}

// systemResolve resolves like haproxy's init-addr libc: /etc/hosts, then
// DNS, bounded in time so an unreachable resolver does not hang -c.
func systemResolve(host string) (netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("no address")
	}
	// getaddrinfo returns IPv4 first on a typical host; prefer it too.
	for _, a := range addrs {
		if a.Is4() || a.Is4In6() {
			return a.Unmap(), nil
		}
	}
	return addrs[0], nil
}

func (c *hctx) resolve(host string) (netip.Addr, error) {
	if r, ok := c.resolved[host]; ok {
		return r.addr, r.err
	}
	a, err := c.opt.Resolve(host)
	c.resolved[host] = resolveResult{a, err}
	return a, err
}

// formError carries the prefix form haproxy uses for a decoder's error
// (see Diagnostic.Form).
type formError struct {
	form string
	error
}

// negatableGlobal are the global keywords haproxy accepts after no/default.
var negatableGlobal = map[string]bool{"busy-polling": true, "set-dumpable": true, "strict-limits": true,
	"insecure-fork-wanted": true, "numa-cpu-mapping": true}
