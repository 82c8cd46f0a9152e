package compat

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"halo/parser"
	"halo/proxy"
	"halo/proxy/stick"
)

// Stick tables, stick rules and peers sections (configuration.txt §3.5,
// §4.2 "stick-table", "stick", §7.3.3 sc_*/src_*), decoded into
// stick.Spec, proxy.StickRule and proxy.PeersSection with HAProxy 2.6's
// messages.

// stickState is what loading collects about tables and peers.
type stickState struct {
	tables map[string]*tableDecl // by name (proxy name, or peers/name)
	peers  map[string]*peersDecl
	order  []*peersDecl
	cur    *peersDecl // peers section being read
	// localSet: -L gave the local peer name (a `localpeer` line is then
	// ignored with a warning).
	localSet bool
	local    string
	lines    map[*proxy.Peer]*peerLine // each peer's parameters
}

type tableDecl struct {
	spec *stick.Spec
	pos  parser.Pos
	kind string // "backend", "frontend", "listen", "peers"
	who  string
}

type peersDecl struct {
	s        *proxy.PeersSection
	pos      parser.Pos
	peerSeen bool // a `peer` line (legacy syntax)
	bindSeen bool
	names    map[string]parser.Pos
	def      peerLine // default-server
}

// peerLine is a peer's server parameters as read.
type peerLine struct {
	proxy.Peer
	verifySet bool // `verify` given (else ssl-server-verify applies)
}

func (c *hctx) stk() *stickState {
	if c.stick == nil {
		c.stick = &stickState{tables: map[string]*tableDecl{}, peers: map[string]*peersDecl{}, lines: map[*proxy.Peer]*peerLine{}}
	}
	return c.stick
}

// parseSize reads a size with HAProxy's k/m/g (1024) suffixes; bad is
// the first unexpected character.
func parseSize(s string) (int, byte, bool) {
	i := 0
	n := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int(s[i]-'0')
		i++
	}
	if i == 0 && s != "" {
		return 0, s[0], false
	}
	if i < len(s) {
		switch s[i] {
		case 'k', 'K':
			n <<= 10
		case 'm', 'M':
			n <<= 20
		case 'g', 'G':
			n <<= 30
		default:
			return 0, s[i], false
		}
		i++
		if i < len(s) {
			return 0, s[i], false
		}
	}
	return n, 0, true
}

// parseStickTable reads `stick-table ARGS` (or a peers section's
// `table NAME ARGS`; kw is the keyword for messages) as HAProxy's
// parse_stick_table does.
func parseStickTable(kw string, a []parser.Word, inPeers bool) (*stick.Spec, error) {
	sp := &stick.Spec{}
	typed := false
	for i := 0; i < len(a); i++ {
		w := a[i].Value
		next := func() (string, bool) {
			if i+1 >= len(a) || a[i+1].Value == "" {
				return "", false
			}
			i++
			return a[i].Value, true
		}
		switch {
		case w == "size":
			v, ok := next()
			if !ok {
				return nil, fmt.Errorf("%s: missing argument after '%s'.", kw, w)
			}
			n, bad, ok := parseSize(v)
			if !ok {
				return nil, fmt.Errorf("%s: unexpected character '%c' in argument of '%s'.", kw, bad, w)
			}
			sp.Size = n
		case w == "peers" && !inPeers:
			v, ok := next()
			if !ok {
				return nil, fmt.Errorf("%s: missing argument after '%s'.", kw, w)
			}
			sp.Peers = v
		case w == "expire":
			v, ok := next()
			if !ok {
				return nil, fmt.Errorf("%s: missing argument after '%s'.", kw, w)
			}
			d, bad, err := parseHATime(v, 1)
			if err != nil {
				if bad != 0 {
					return nil, fmt.Errorf("%s: unexpected character '%c' in argument of '%s'.", kw, bad, w)
				}
				return nil, fmt.Errorf("%s: timer overflow in argument <%s> to <%s>, maximum value is 2147483647 ms (~24.8 days).", kw, v, w)
			}
			sp.Expire = d
		case w == "nopurge":
			sp.NoPurge = true
		case w == "type":
			if i+1 >= len(a) {
				return nil, fmt.Errorf("%s: unknown type ''.", kw)
			}
			i++
			t, ok := stick.ParseKeyType(a[i].Value)
			if !ok {
				return nil, fmt.Errorf("%s: unknown type '%s'.", kw, a[i].Value)
			}
			sp.Type, sp.KeySize, typed = t, stick.DefaultKeySize(t), true
			if (t == stick.KeyString || t == stick.KeyBinary) && i+1 < len(a) && a[i+1].Value == "len" {
				i++
				n := 0
				if i+1 < len(a) {
					n = atol(a[i+1].Value)
				}
				if n <= 0 {
					v := ""
					if i+1 < len(a) {
						v = a[i+1].Value
					}
					return nil, fmt.Errorf("%s: unknown type '%s'.", kw, v)
				}
				i++
				sp.KeySize = n
				if t == stick.KeyString {
					sp.KeySize++ // the NUL
				}
			}
		case w == "store":
			v, _ := next()
			for _, item := range splitStore(v) {
				st, err := stick.ParseStore(item)
				if err != nil {
					return nil, fmt.Errorf("%s: %s.", kw, err)
				}
				dup := false
				for _, o := range sp.Store {
					if o.Type == st.Type {
						dup = true
					}
				}
				if dup {
					name, _, _ := strings.Cut(item, "(")
					return sp, storeDupError{fmt.Sprintf("%s: store option '%s' already enabled, ignored.", kw, name)}
				}
				sp.Store = append(sp.Store, st)
			}
			if err := storeConflicts(kw, sp.Store); err != nil {
				return nil, err
			}
		case w == "srvkey":
			v := ""
			if i+1 < len(a) {
				i++
				v = a[i].Value
			}
			switch v {
			case "name":
				sp.SrvKey = stick.SrvKeyName
			case "addr":
				sp.SrvKey = stick.SrvKeyAddr
			default:
				return nil, fmt.Errorf("%s : unknown server key type '%s'.", kw, v)
			}
		default:
			return nil, fmt.Errorf("%s: unknown argument '%s'.", kw, w)
		}
	}
	if sp.Size == 0 {
		return nil, fmt.Errorf("%s: missing size.", kw)
	}
	if !typed {
		return nil, fmt.Errorf("%s: missing type.", kw)
	}
	return sp, nil
}

// storeDupError is HAProxy's warning for a store option given twice: the
// table is kept without the duplicate.
type storeDupError struct{ msg string }

func (e storeDupError) Error() string { return e.msg }

// splitStore splits a store list on the commas outside parentheses.
func splitStore(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func storeConflicts(kw string, st []stick.Store) error {
	has := map[stick.DataType]bool{}
	for _, s := range st {
		has[s.Type] = true
	}
	switch {
	case has[stick.GPT] && has[stick.GPT0]:
		return fmt.Errorf("%s: simultaneous usage of 'gpt' and 'gpt0' in a same table is not permitted as 'gpt' overrides 'gpt0'.", kw)
	case has[stick.GPC] && (has[stick.GPC0] || has[stick.GPC1]):
		return fmt.Errorf("%s: simultaneous usage of 'gpc' and 'gpc[0/1]' in a same table is not permitted as 'gpc' overrides 'gpc[0/1]'.", kw)
	case has[stick.GPCRate] && (has[stick.GPC0Rate] || has[stick.GPC1Rate]):
		return fmt.Errorf("%s: simultaneous usage of 'gpc_rate' and 'gpc[0/1]_rate' in a same table is not permitted as 'gpc_rate' overrides 'gpc[0/1]_rate'.", kw)
	}
	return nil
}

// addTable records a declared table, refusing a name taken already.
func (c *hctx) addTable(sp *stick.Spec, pos parser.Pos, kind, who string) error {
	s := c.stk()
	if o, ok := s.tables[sp.Name]; ok {
		return fmt.Errorf("stick-table name '%s' conflicts with table declared in %s '%s' at %s:%d.", sp.Name, o.kind, o.who, o.pos.File, o.pos.Line)
	}
	sp.File, sp.Line = pos.File, pos.Line
	s.tables[sp.Name] = &tableDecl{spec: sp, pos: pos, kind: kind, who: who}
	c.cfg.Tables = append(c.cfg.Tables, sp)
	return nil
}

// decodeStickTable is `stick-table` in a proxy section.
func decodeStickTable(c *hctx, d *parser.Directive, a []parser.Word) error {
	if c.cur.kind == "defaults" {
		return fmt.Errorf("'stick-table' is not supported in 'defaults' section.")
	}
	sp, err := parseStickTable("stick-table", a, false)
	if dup, ok := err.(storeDupError); ok {
		c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevWarning, Form: "tight", Msg: dup.msg})
		err = nil
	}
	if err != nil {
		return err
	}
	sp.Name, sp.NetName = c.cur.p.Name, c.cur.p.Name
	if err := c.addTable(sp, d.Pos, c.cur.kind, c.cur.p.Name); err != nil {
		return err
	}
	c.cur.p.Table = sp
	return nil
}

// decodeStick is `stick match|on|store-request|store-response PATTERN
// [table NAME] [if|unless COND]`.
func decodeStick(c *hctx, d *parser.Directive, a []parser.Word) error {
	if c.cur.kind == "defaults" {
		return fmt.Errorf("'stick' not allowed in 'defaults' section.")
	}
	if !c.needCap(d, capBE, "stick") {
		return nil
	}
	if len(a) == 0 {
		return fmt.Errorf("'stick' expects 'on', 'match', or 'store'.")
	}
	r := &proxy.StickRule{Line: d.Pos.Line}
	switch a[0].Value {
	case "on":
		r.Match, r.Store = true, true
	case "match":
		r.Match = true
	case "store-request":
		r.Store = true
	case "store-response":
		r.Store, r.Response = true, true
	default:
		return fmt.Errorf("'stick' expects 'on', 'match', or 'store'.")
	}
	before, cond, err := c.conditionAt(d, a[1:], "'stick' rule", c.where(ctxBeSetSrv, ctxBeSetSrv))
	if err != nil {
		return err
	}
	if len(before) == 0 {
		return fmt.Errorf("'stick' expects a fetch method.")
	}
	r.Expr = before[0].Value
	if msg := c.checkSample(r.Expr, r.Expr); msg != "" {
		return fmt.Errorf("'stick': %s", strings.TrimPrefix(msg, "failed to parse sample expression <"+r.Expr+"> : "))
	}
	r.Table = c.cur.p.Name
	for i := 1; i < len(before); i++ {
		if before[i].Value != "table" {
			return fmt.Errorf("'stick': unknown keyword '%s'.", before[i].Value)
		}
		r.Table = ""
		if i+1 < len(before) {
			r.Table = before[i+1].Value
			i++
		}
	}
	r.Cond = cond
	c.cur.p.StickRules = append(c.cur.p.StickRules, r)
	return nil
}

// decodeLocalPeer is the global `localpeer NAME`.
func decodeLocalPeer(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) == 0 {
		return fmt.Errorf("'localpeer' expects a name.")
	}
	s := c.stk()
	if s.localSet {
		c.rep.Warnf(d.Pos, "'localpeer' ignored since it is already set by using the '-L' command line argument.")
		return nil
	}
	s.local = a[0].Value
	return nil
}

// localPeer is this process's peer name: -L, else localpeer, else the
// host name (HAPROXY_LOCALPEER holds -L or the host name).
func (c *hctx) localPeer() string {
	s := c.stk()
	if s.local != "" {
		return s.local
	}
	local, _ := c.opt.Env.Lookup("HAPROXY_LOCALPEER")
	return local
}

// peersTable decodes the lines of a peers section.
var peersTable = NewTable("peers", []hrow{
	row("bind", decodePeersBind),
	row("default-bind", noArg),
	row("default-server", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		pd := c.stk().cur
		return c.peerParams(d, &pd.def, a)
	}),
	row("server", decodePeersServer(false)),
	row("peer", decodePeersServer(true)),
	row("table", decodePeersTable),
	row("disabled", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		c.stk().cur.s.Disabled = true
		return nil
	}),
	row("enabled", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		c.stk().cur.s.Disabled = false
		return nil
	}),
	row("enable", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		c.stk().cur.s.Disabled = false
		return nil
	}),
	{Name: "log", Status: Ignored, Note: "peers sessions are not logged", Decode: noArg},
})

// openPeers starts a `peers NAME` section.
func (c *hctx) openPeers(d *parser.Directive) bool {
	if len(d.Args) == 0 {
		c.rep.Alertf(d.Pos, "missing name for peers section.")
		return false
	}
	s := c.stk()
	name := d.Args[0].Value
	if o, ok := s.peers[name]; ok {
		c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevAlert, Form: "none",
			Msg: fmt.Sprintf("Parsing [%s:%d]: peers section '%s' has the same name as another peers section declared at %s:%d.", d.Pos.File, d.Pos.Line, name, o.pos.File, o.pos.Line)})
		return false
	}
	m := c.sections["peers"]
	if m == nil {
		m = map[string]parser.Pos{}
		c.sections["peers"] = m
	}
	m[name] = d.Pos
	c.rep.Record(d.Pos, "peers", "peers", Supported, "")
	pd := &peersDecl{s: &proxy.PeersSection{Name: name, File: d.Pos.File, Line: d.Pos.Line, Local: c.localPeer()}, pos: d.Pos, names: map[string]parser.Pos{}}
	s.peers[name] = pd
	s.order = append(s.order, pd)
	s.cur = pd
	c.peers[name] = []string{}
	return true
}

// peerAddr reads a peer's ADDR:PORT.
func peerAddr(v string) (netip.AddrPort, error) {
	host, port, ok := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(v, "ipv4@"), "ipv6@"), ":")
	if i := strings.LastIndexByte(v, ':'); i >= 0 && strings.Count(v, ":") > 1 {
		host, port, ok = v[:i], v[i+1:], true
	}
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("missing port in '%s'", v)
	}
	p := 0
	if port != "" {
		// an empty port (an unset variable) is port 0: HAProxy accepts
		// it and never reaches the peer
		var err error
		if p, err = strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return netip.AddrPort{}, fmt.Errorf("invalid port '%s'", port)
		}
	}
	if host == "" || host == "*" {
		host = "0.0.0.0"
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("invalid address '%s'", host)
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
}

func decodePeersBind(c *hctx, d *parser.Directive, a []parser.Word) error {
	pd := c.stk().cur
	if pd.peerSeen {
		return fmt.Errorf("mixing \"peer\" and \"bind\" line is forbidden")
	}
	pd.bindSeen = true
	if len(a) == 0 {
		return fmt.Errorf("'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.")
	}
	var binds []proxy.Bind
	for _, part := range strings.Split(a[0].Value, ",") {
		part, err := c.expandAddr(part)
		if err != nil {
			return fmt.Errorf("'bind' : %s", err)
		}
		hp, err := parseAddr(part, false)
		if err != nil {
			return fmt.Errorf("'bind' : %s", err)
		}
		if hp.path != "" {
			b, err := pathBind(hp)
			if err != nil {
				return fmt.Errorf("'bind' : %s", err)
			}
			b.Line = d.Pos.Line
			binds = append(binds, b)
			continue
		}
		if !hp.hasPort {
			return fmt.Errorf("'bind' : missing port specification in '%s'", part)
		}
		addr := hp.addr
		if !hp.isIP {
			ip, err := c.resolve(hp.host)
			if err != nil {
				return fmt.Errorf("'bind' : invalid address: '%s' in '%s'", hp.host, part)
			}
			addr = ip
		}
		binds = append(binds, proxy.Bind{Addr: netip.AddrPortFrom(addr, uint16(hp.portLo)), Network: "tcp", Line: d.Pos.Line})
	}
	var tlsb *proxy.BindTLS
	var certs []string
	ssl := false
	for i := 1; i < len(a); i++ {
		switch a[i].Value {
		case "ssl":
			ssl = true
		case "crt":
			if i+1 < len(a) {
				i++
				certs = append(certs, a[i].Value)
			}
		default:
			c.lowerPart(a[i].Value, Ignored, "peers bind parameter not applied")
			if n := bindParams[a[i].Value]; n > 0 {
				i += n
			}
		}
	}
	_ = tlsb
	for _, crt := range certs {
		if err := c.checkCert(crt); err != nil {
			return fmt.Errorf("'bind %s' in section 'peers' : %v", a[0].Value, err)
		}
	}
	for i := range binds {
		binds[i].SSL, binds[i].Certs = ssl, certs
	}
	pd.s.Binds = append(pd.s.Binds, binds...)
	return nil
}

// decodePeersServer is `server NAME [ADDR:PORT] [params]` or the legacy
// `peer NAME ADDR:PORT [params]`.
func decodePeersServer(legacy bool) hdecode {
	return func(c *hctx, d *parser.Directive, a []parser.Word) error {
		pd := c.stk().cur
		if legacy {
			if pd.bindSeen {
				return fmt.Errorf("mixing \"peer\" and \"bind\" line is forbidden")
			}
			pd.peerSeen = true
		}
		if len(a) == 0 {
			return fmt.Errorf("'%s' expects <name> and [<addr>:<port>] as arguments.", d.Name)
		}
		name := a[0].Value
		local := name == pd.s.Local
		if prev, ok := pd.names[name]; ok && local {
			return fmt.Errorf("'%s %s' : local peer name already referenced at %s:%d. %s", d.Name, name, prev.File, prev.Line, name)
		}
		pd.names[name] = d.Pos
		pl := &peerLine{}
		*pl = pd.def
		pr := &pl.Peer
		pr.Name, pr.Local, pr.Line = name, local, d.Pos.Line
		rest := a[1:]
		if len(rest) > 0 && !strings.HasPrefix(rest[0].Value, "ssl") && looksAddr(rest[0].Value) {
			v, err := c.expandAddr(rest[0].Value)
			if err != nil {
				return formError{"bare", fmt.Errorf("'%s %s' : %v", d.Name, name, err)}
			}
			ap, err := peerAddr(v)
			if err != nil {
				return formError{"bare", fmt.Errorf("'%s %s' : %v", d.Name, name, err)}
			}
			pr.Addr = ap
			rest = rest[1:]
		}
		if err := c.peerParams(d, pl, rest); err != nil {
			return err
		}
		c.stk().lines[pr] = pl
		if local && legacy && pr.Addr.IsValid() {
			pd.s.Binds = append(pd.s.Binds, proxy.Bind{Addr: pr.Addr, Network: "tcp", Line: d.Pos.Line})
		}
		pd.s.Peers = append(pd.s.Peers, pr)
		c.peers[pd.s.Name] = append(c.peers[pd.s.Name], name)
		return nil
	}
}

// peerParams reads a peer's server parameters: ssl, crt, verify; the
// others are accepted and not applied.
func (c *hctx) peerParams(d *parser.Directive, pl *peerLine, a []parser.Word) error {
	pr := &pl.Peer
	for i := 0; i < len(a); i++ {
		k := a[i].Value
		v := ""
		if n := serverParamArgs(k); n > 0 && i+1 < len(a) {
			v = a[i+1].Value
			i++
		}
		switch k {
		case "ssl":
			pr.SSL = true
		case "no-ssl":
			pr.SSL = false
		case "crt":
			pr.Crt = v
		case "ca-file":
			pr.CAFile = v
		case "verify":
			pr.VerifyNone, pl.verifySet = v == "none", true
		default:
			c.lowerPart(k, Ignored, "peer server parameter not applied")
		}
	}
	return nil
}

func looksAddr(s string) bool {
	return strings.Contains(s, ":") || strings.HasPrefix(s, "ipv4@") || strings.HasPrefix(s, "ipv6@")
}

// decodePeersTable is a peers section's `table NAME ARGS`: the table is
// "SECTION/NAME" locally and NAME to the peers.
func decodePeersTable(c *hctx, d *parser.Directive, a []parser.Word) error {
	pd := c.stk().cur
	if len(a) == 0 {
		return fmt.Errorf("table: ID not provided.")
	}
	sp, err := parseStickTable("table", a[1:], true)
	if dup, ok := err.(storeDupError); ok {
		c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevWarning, Form: "tight", Msg: dup.msg})
		err = nil
	}
	if err != nil {
		return err
	}
	sp.Name = pd.s.Name + "/" + a[0].Value
	sp.NetName = a[0].Value
	sp.Peers = pd.s.Name
	if _, ok := c.stk().tables[sp.Name]; ok {
		// haproxy keeps the first table of that name
		return nil
	}
	return c.addTable(sp, d.Pos, "peers", pd.s.Name)
}

// checkStick runs the whole-configuration checks of tables and their
// users (HAProxy's check_config_validity): tables named by tracking and
// stick rules and by stick-table … peers exist, and peers sections name
// this process.
func (c *hctx) checkStick() {
	s := c.stk()
	for _, pd := range s.order {
		hasLocal := false
		for _, p := range pd.s.Peers {
			if p.Local {
				hasLocal = true
			}
		}
		if !hasLocal {
			// postCheck warns "Removing incomplete section"; the tables
			// then stay local.
			continue
		}
		c.cfg.Peers = append(c.cfg.Peers, pd.s)
		// the TLS contexts of the peers' servers, as HAProxy prepares
		// them after parsing (no position in its messages)
		for _, p := range pd.s.Peers {
			if !p.SSL {
				continue
			}
			if p.Crt != "" {
				if err := c.checkCert(p.Crt); err != nil {
					c.bare(parser.SevAlert, parser.Pos{}, err.Error())
				}
			}
			if pl := s.lines[p]; pl != nil && !pl.verifySet && c.sslServerVerify == "none" {
				p.VerifyNone = true
			}
			if !p.VerifyNone && p.CAFile == "" {
				c.bare(parser.SevAlert, parser.Pos{}, "verify is enabled by default but no CA file specified. If you're running on a LAN where you're certain to trust the server's certificate, please set an explicit 'verify none' statement on the 'server' line, or use 'ssl-server-verify none' in the global section to disable server-side verifications by default.")
			}
		}
		for _, p := range pd.s.Peers {
			if p.Local && p.SSL && len(pd.s.Binds) > 0 && !pd.s.Binds[0].SSL {
				// HAProxy names the section after the local peer here
				c.bare(parser.SevWarning, parser.Pos{}, fmt.Sprintf("Peers section '%s': local peer have a non-SSL listener and a SSL server configured at line %s:%d.", p.Name, pd.pos.File, pd.s.Binds[0].Line))
			}
		}
	}
	for _, sp := range c.cfg.Tables {
		if sp.Peers == "" {
			continue
		}
		pd := s.peers[sp.Peers]
		if pd == nil {
			c.bare(parser.SevAlert, parser.Pos{}, fmt.Sprintf("Proxy '%s': unable to find sync peers '%s'.", sp.Name, sp.Peers))
			continue
		}
		pd.s.Tables = append(pd.s.Tables, sp.Name)
	}
	for _, st := range c.proxies {
		p := st.p
		if st.kind == "defaults" {
			continue
		}
		delay := false
		for _, r := range p.TCPRequest {
			c.checkTrackTable(p, r.Action, r.Args)
			delay = delay || r.Stage == "inspect-delay"
		}
		if p.Cap&capFE != 0 && !delay {
			// HAProxy's check of content tracking without inspect-delay
			for _, r := range p.TCPRequest {
				if r.Stage != "content" || !strings.HasPrefix(r.Action, "track-sc") || len(r.Args) == 0 {
					continue
				}
				name, _, _ := splitFetch(r.Args[0])
				use, ok := haproxyFetchUse[name]
				switch {
				case ok && use&ctxFeSesAcc == 0:
					c.bare(parser.SevWarning, parser.Pos{}, fmt.Sprintf("%s '%s' : a 'tcp-request content track-sc*' rule explicitly depending on request contents without any 'tcp-request inspect-delay' setting. This means that this rule will randomly find its contents. This can be fixed by setting the tcp-request inspect-delay.", kindWord(st), p.Name))
				case ok && p.Mode == proxy.ModeHTTP:
					c.bare(parser.SevWarning, parser.Pos{}, fmt.Sprintf("%s '%s' : a 'tcp-request content track-sc*' rule not depending on request contents for an HTTP frontend should be executed at the session level, using a 'tcp-request session' rule (mandatory to track invalid HTTP requests).", kindWord(st), p.Name))
				}
			}
		}
		for _, r := range p.HTTPRequest {
			c.checkTrackTable(p, r.Action, r.Args)
		}
		for _, r := range p.HTTPResponse {
			c.checkTrackTable(p, r.Action, r.Args)
		}
		for _, r := range p.StickRules {
			td := s.tables[r.Table]
			if td == nil {
				c.bare(parser.SevAlert, parser.Pos{}, fmt.Sprintf("Proxy '%s': unable to find stick-table '%s'.", p.Name, r.Table))
				continue
			}
			// a table stick rules use stores the server (HAProxy adds
			// server_id and server_key to it)
			for _, dt := range []stick.DataType{stick.ServerID, stick.ServerKey} {
				has := false
				for _, st := range td.spec.Store {
					has = has || st.Type == dt
				}
				if !has {
					td.spec.Store = append(td.spec.Store, stick.Store{Type: dt, N: 1})
				}
			}
		}
	}
}

// checkTrackTable checks the table of a track-sc rule.
func (c *hctx) checkTrackTable(p *proxy.Proxy, action string, args []string) {
	if !strings.HasPrefix(action, "track-sc") {
		return
	}
	name := p.Name
	for i := 1; i+1 < len(args); i++ {
		if args[i] == "table" {
			name = args[i+1]
		}
	}
	if c.stk().tables[name] == nil {
		c.bare(parser.SevAlert, parser.Pos{}, fmt.Sprintf("Proxy '%s': unable to find table '%s' referenced by %s.", p.Name, name, action))
	}
}

// serverParamArgs is how many values a server parameter takes.
func serverParamArgs(k string) int { return serverParams[k] }

// checkStickAction checks a track-sc, sc-inc-gpc or sc-set-gpt action as
// HAProxy's parsers do; it returns their message, "" when the action is
// fine. word is the action as written (track-sc0, sc-inc-gpc(1,0)), args
// what follows it before the condition.
func (c *hctx) checkStickAction(word string, args []parser.Word, where uint32) string {
	arg := func(i int) string {
		if i < len(args) {
			return args[i].Value
		}
		return ""
	}
	switch {
	case strings.HasPrefix(word, "track-sc"):
		n, err := strconv.Atoi(strings.TrimPrefix(word, "track-sc"))
		if err == nil && n >= stick.MaxCounters {
			return fmt.Sprintf("%d track-sc number exceeding %d (MAX_SESS_STKCTR-1) value", n, stick.MaxCounters-1)
		}
		if arg(0) == "" {
			return "missing fetch method"
		}
		name, _, _ := splitFetch(arg(0))
		if use, ok := haproxyFetchUse[name]; ok && where != 0 && use&where == 0 {
			return fmt.Sprintf("fetch method '%s' extracts information from '%s', none of which is available here", arg(0), fetchNeeds(name, use))
		}
		if msg := c.checkSample(arg(0), arg(0)); msg != "" {
			return strings.TrimSuffix(strings.TrimPrefix(msg, "failed to parse sample expression <"+arg(0)+"> : "), ".")
		}
		if arg(1) == "table" && arg(2) == "" {
			return "missing table name"
		}
	case strings.HasPrefix(word, "sc-inc-gpc"), strings.HasPrefix(word, "sc-set-gpt"):
		base := "sc-inc-gpc"
		if strings.HasPrefix(word, "sc-set-gpt") {
			base = "sc-set-gpt"
		}
		rest := strings.TrimPrefix(word, base)
		switch {
		case strings.HasPrefix(rest, "("):
			idx, ctr, ok := strings.Cut(strings.TrimSuffix(rest[1:], ")"), ",")
			if _, err := strconv.Atoi(idx); !ok || err != nil {
				what := "gpc"
				if base == "sc-set-gpt" {
					what = "gpt"
				}
				return fmt.Sprintf("Missing %s ID '%s'. Expects %s(<%s ID>,<Track ID>)", what, word, base, strings.ToUpper(what))
			}
			if n, err := strconv.Atoi(ctr); err == nil && n >= stick.MaxCounters {
				return fmt.Sprintf("invalid stick table track ID '%s'. The max allowed ID is %d", word, stick.MaxCounters-1)
			}
		default:
			if _, p, ok := strings.Cut(rest, "("); ok {
				if n, err := strconv.Atoi(strings.TrimSuffix(p, ")")); err == nil && n >= stick.MaxCounters {
					if base == "sc-set-gpt" {
						return fmt.Sprintf("invalid stick table track ID '%s'. The max allowed ID is %d", word, stick.MaxCounters-1)
					}
					return fmt.Sprintf("invalid stick table track ID. The max allowed ID is %d", stick.MaxCounters-1)
				}
			}
		}
		if base == "sc-set-gpt" && arg(0) != "" {
			if _, err := strconv.ParseInt(arg(0), 10, 64); err != nil {
				if msg := c.checkSample(arg(0), arg(0)); msg != "" {
					return strings.TrimSuffix(strings.TrimPrefix(msg, "failed to parse sample expression <"+arg(0)+"> : "), ".")
				}
			}
		}
	}
	return ""
}
