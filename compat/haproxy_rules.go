package compat

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"halo/parser"
	"halo/proxy"
)

// splitFetch splits "hdr(host),lower,map(f)" into the fetch name, its
// arguments and the converters.
func splitFetch(expr string) (name string, args []string, convs []string) {
	parts := splitTopLevel(expr, ',')
	head := parts[0]
	if i := strings.IndexByte(head, '('); i >= 0 {
		name = head[:i]
		inner := strings.TrimSuffix(head[i+1:], ")")
		if inner != "" {
			for _, a := range splitTopLevel(inner, ',') {
				args = append(args, strings.Trim(a, "\"'"))
			}
		}
	} else {
		name = head
	}
	return name, args, parts[1:]
}

// splitTopLevel splits s on sep outside parentheses and quotes.
func splitTopLevel(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	var q byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case q != 0:
			if ch == q {
				q = 0
			}
		case ch == '"' || ch == '\'':
			q = ch
		case ch == '(':
			depth++
		case ch == ')':
			if depth > 0 {
				depth--
			}
		case ch == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// matchFromType is the default match method for a fetch output type.
func matchFromType(sig string) string {
	t := sig[strings.LastIndex(sig, " ")+1:]
	switch t {
	case "bool":
		return "bool"
	case "sint":
		return "int"
	case "ipv4", "ipv6", "addr":
		return "ip"
	case "bin":
		return "bin"
	}
	return "str"
}

var matchMethods = map[string]bool{"found": true, "bool": true, "int": true, "ip": true, "bin": true,
	"len": true, "str": true, "sub": true, "reg": true, "beg": true, "end": true, "dir": true, "dom": true}

// compileCriterion turns `fetch[(args)][,conv…] [flags] [values…]` into a
// Criterion. warn is the "no pattern" warning haproxy prints, if any.
func (c *hctx) compileCriterion(words []parser.Word) (*proxy.Criterion, string, error) {
	if len(words) == 0 {
		return nil, "", fmt.Errorf("missing fetch method")
	}
	expr := words[0].Value
	name, fargs, convs := splitFetch(expr)
	cr := &proxy.Criterion{FetchArgs: fargs, Converters: convs, Line: words[0].Pos.Line}
	fetch, match, ok := c.resolveCriterionFetch(name)
	if !ok {
		return nil, "", fmt.Errorf("unknown fetch method '%s' in ACL expression '%s'", name, expr)
	}
	cr.Fetch, cr.Match = fetch, match
	for _, cv := range convs {
		cn, cargs, _ := splitFetch(cv)
		if !haproxyKnowsConv(cn) {
			return nil, "", fmt.Errorf("unknown conv method '%s' in ACL expression '%s'", cn, expr)
		}
		if strings.HasPrefix(cn, "map") && len(cargs) > 0 {
			if _, err := c.opt.ReadFile(cargs[0]); err != nil {
				return nil, "", fmt.Errorf("invalid args in converter '%s' : failed to open pattern file <%s> in ACL expression '%s'", cn, cargs[0], expr)
			}
		}
		cr.Match = c.convOutMatch(cn)
	}
	rest := words[1:]
	explicit := false
	for len(rest) > 0 && strings.HasPrefix(rest[0].Value, "-") && len(rest[0].Value) > 1 {
		f := rest[0].Value
		if f == "--" {
			rest = rest[1:]
			explicit = true
			break
		}
		switch f {
		case "-i", "-n", "-u":
			cr.Flags = append(cr.Flags, f)
			rest = rest[1:]
		case "-m", "-f", "-M":
			if len(rest) < 2 {
				return nil, "", fmt.Errorf("'%s' expects an argument", f)
			}
			v := rest[1].Value
			cr.Flags = append(cr.Flags, f, v)
			switch f {
			case "-m":
				if !matchMethods[v] {
					return nil, "", fmt.Errorf("'-m' : unknown match method '%s' for ACL keyword '%s'", v, expr)
				}
				cr.Match = v
				explicit = true
			case "-f":
				data, err := c.opt.ReadFile(v)
				if err != nil {
					return nil, "", fmt.Errorf("failed to open pattern file <%s>", v)
				}
				for _, l := range strings.Split(string(data), "\n") {
					l = strings.TrimSpace(strings.TrimSuffix(l, "\r"))
					if l == "" || strings.HasPrefix(l, "#") {
						continue
					}
					cr.Values = append(cr.Values, l)
				}
				explicit = true
			}
			rest = rest[2:]
		default:
			// A negative number is a value, not a flag.
			if f[1] >= '0' && f[1] <= '9' {
				goto vals
			}
			return nil, "", fmt.Errorf("'%s' : unknown flag in ACL expression", f)
		}
	}
vals:
	cr.Values = append(cr.Values, values(rest)...)
	warn := ""
	if len(cr.Values) == 0 && !explicit && cr.Match != "bool" && cr.Match != "found" {
		warn = fmt.Sprintf("parsing acl keyword '%s' :\n  no pattern to match against were provided, so this ACL will never match.\n  If this is what you intended, please add '--' to get rid of this warning.\n  If you intended to match only for existence, please use '-m found'.\n  If you wanted to force an int to match as a bool, please use '-m bool'.\n", name)
	}
	if cr.Match == "ip" {
		for _, v := range cr.Values {
			if _, err := parseNet(v); err != nil {
				if _, err := c.resolve(v); err != nil {
					return nil, "", fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", v)
				}
			}
		}
	}
	if cr.Match == "int" {
		for _, v := range cr.Values {
			if !validIntPattern(v) {
				return nil, "", fmt.Errorf("'%s' is neither a number nor a supported operator", v)
			}
		}
	}
	return cr, warn, nil
}

func validIntPattern(v string) bool {
	switch v {
	case "eq", "ge", "gt", "le", "lt":
		return true
	}
	lo, hi, rng := strings.Cut(v, ":")
	ok := func(s string) bool {
		if s == "" {
			return rng
		}
		_, good := strictInt(s)
		return good
	}
	return ok(lo) && ok(hi) || (!rng && ok(lo))
}

// decodeACL is `acl <name> <criterion> [flags] [operator] <value> …`.
func decodeACL(c *hctx, d *parser.Directive, a []parser.Word) error {
	if c.cur.kind == "defaults" {
		if c.cur.anonymous {
			return fmt.Errorf("'acl' not allowed in anonymous 'defaults' section.")
		}
	}
	if len(a) == 0 {
		return fmt.Errorf("'acl' expects an ACL name as first argument.")
	}
	name := a[0].Value
	if bad := invalidACLChar(name); bad != 0 {
		return fmt.Errorf("character '%c' is not permitted in acl name '%s'.", bad, name)
	}
	if c.predefinedACL(name) != nil {
		c.rep.Warnf(d.Pos, "acl '%s' will never match because it masks a predefined ACL.", name)
	}
	cr, warn, err := c.compileCriterion(a[1:])
	if err != nil {
		return fmt.Errorf("error detected while parsing ACL '%s' : %s.", name, err)
	}
	if warn != "" {
		c.rep.Warnf(d.Pos, "%s", warn)
	}
	acl := c.cur.acls[name]
	if acl == nil {
		acl = &proxy.ACL{Name: name}
		c.cur.acls[name] = acl
		c.cur.p.ACLs = append(c.cur.p.ACLs, acl)
	}
	acl.Criteria = append(acl.Criteria, cr)
	c.lowerForFetch(cr)
	return nil
}

func invalidACLChar(s string) byte {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(isAlnumByte(ch) || ch == '-' || ch == '_' || ch == '.' || ch == ':') {
			return ch
		}
	}
	return 0
}

// condition parses the optional `if|unless …` at the start of args and
// resolves it against the ACLs declared so far. what names the rule in
// haproxy's error ("switching rule", "'http-request deny' condition").
func (c *hctx) condition(d *parser.Directive, args []parser.Word, what string) ([]parser.Word, *proxy.Cond, error) {
	return c.conditionAt(d, args, what, 0)
}

// Rule contexts: bit i is column i of `haproxy -dKsmp` (haproxyFetchUse).
const (
	ctxFeConAcc = 1 << iota
	ctxFeSesAcc
	ctxFeReqCnt
	ctxFeHrqHdr
	ctxFeHrqBdy
	ctxFeSetBck
	ctxBeReqCnt
	ctxBeHrqHdr
	ctxBeHrqBdy
	ctxBeSetSrv
	ctxBeSrvCon
	ctxBeResCnt
	ctxBeHrsHdr
	ctxBeHrsBdy
	ctxBeStoRul
	ctxFeResCnt
	ctxFeHrsHdr
	ctxFeHrsBdy
)

var ctxNames = []string{"frontend tcp-request connection rule", "frontend tcp-request session rule",
	"frontend tcp-request content rule", "frontend http-request header rule", "frontend http-request body rule",
	"frontend use-backend rule", "backend tcp-request content rule", "backend http-request header rule",
	"backend http-request body rule", "backend use-server, balance or stick-match rule", "server source selection",
	"backend tcp-response content rule", "backend http-response header rule", "backend http-response body rule",
	"backend stick-store rule", "frontend tcp-response content rule", "frontend http-response header rule",
	"frontend http-response body rule"}

// where gives the rule context of the current proxy: fe for its frontend
// side, be for its backend side.
func (c *hctx) where(fe, be uint32) uint32 {
	var w uint32
	if c.cur.p.Cap&capFE != 0 {
		w |= fe
	}
	if c.cur.p.Cap&capBE != 0 {
		w |= be
	}
	return w
}

func ctxName(w uint32) string {
	var names []string
	for i, n := range ctxNames {
		if w&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

// neverMatches is haproxy's acl_cond_conflicts(): an ACL whose every
// criterion uses a fetch unavailable where the rule runs never matches.
func neverMatches(acl *proxy.ACL, where uint32) (string, bool) {
	if where == 0 || len(acl.Criteria) == 0 {
		return "", false
	}
	kw := ""
	for _, cr := range acl.Criteria {
		use, ok := haproxyFetchUse[cr.Fetch]
		if !ok || use&where != 0 {
			return "", false
		}
		kw = cr.Fetch
	}
	return kw, true
}

// conditionAt is condition with haproxy's check that each ACL can match
// in the rule's context (where, a ctx* mask; 0 skips the check).
func (c *hctx) conditionAt(d *parser.Directive, args []parser.Word, what string, where uint32) ([]parser.Word, *proxy.Cond, error) {
	before, pc, err := parser.SplitCondition(args)
	if err != nil {
		return nil, nil, fmt.Errorf("error detected while parsing %s : %s.", what, err)
	}
	if pc == nil {
		return before, nil, nil
	}
	cond := &proxy.Cond{Unless: pc.Unless}
	warned := false
	for _, and := range pc.Or {
		var terms []proxy.CondTerm
		for _, t := range and {
			var acl *proxy.ACL
			if t.Anon != nil {
				cr, warn, err := c.compileCriterion(t.Anon)
				if err != nil {
					return nil, nil, fmt.Errorf("error detected while parsing %s : %s.", what, err)
				}
				if warn != "" {
					c.rep.Warnf(t.Pos, "%s", warn)
				}
				acl = &proxy.ACL{Name: "", Criteria: []*proxy.Criterion{cr}}
				c.lowerForFetch(cr)
			} else if acl = c.cur.acls[t.Name]; acl == nil {
				acl = c.predefinedACL(t.Name)
				if acl == nil {
					return nil, nil, fmt.Errorf("error detected while parsing %s : no such ACL : '%s'.", what, t.Name)
				}
			}
			if kw, never := neverMatches(acl, where); never && !warned {
				warned = true
				in := ""
				if c.neverIn != "" {
					in = " in '" + c.neverIn + "'"
				}
				if acl.Name != "" && t.Anon == nil {
					c.rep.Warnf(d.Pos, "acl '%s' will never match%s because it only involves keywords that are incompatible with '%s'", acl.Name, in, ctxName(where))
				} else {
					c.rep.Warnf(d.Pos, "anonymous acl will never match%s because it uses keyword '%s' which is incompatible with '%s'", in, kw, ctxName(where))
				}
			}
			terms = append(terms, proxy.CondTerm{Neg: t.Neg, ACL: acl})
		}
		cond.Or = append(cond.Or, terms)
	}
	return before, cond, nil
}

func decodeUseBackend(c *hctx, d *parser.Directive, a []parser.Word) error {
	if c.cur.kind == "defaults" {
		return fmt.Errorf("'use_backend' not allowed in 'defaults' section.")
	}
	// In a backend HAProxy warns that the rule is ignored, yet still reads
	// it: a bad condition is an error there too.
	ignored := !c.needCap(d, capFE, "use_backend")
	if len(a) == 0 {
		return fmt.Errorf("'use_backend' requires a backend name.")
	}
	before, cond, err := c.conditionAt(d, a[1:], "switching rule", ctxFeSetBck)
	if err != nil {
		return err
	}
	if len(before) > 0 {
		// Never an unconditional rule: words that are not a condition
		// ("use_backend b2 junk", "use_backend b2 global if FALSE").
		return fmt.Errorf("unexpected keyword '%s' after switching rule, only 'if' and 'unless' are allowed.", before[0].Value)
	}
	if ignored {
		return nil
	}
	c.cur.sawUseBackend = true
	c.misplaced(d, stageUseBackend, "use_backend")
	c.cur.useBackends = append(c.cur.useBackends, pendingUseBackend{name: a[0].Value, pos: d.Pos, cond: cond})
	return nil
}

func decodeDefaultBackend(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) == 0 {
		return fmt.Errorf("'default_backend' expects a backend name.")
	}
	// haproxy warns and ignores it in a backend, yet still records the
	// name, so `default_backend <itself>` later fails as a loop.
	c.cur.defBackend, c.cur.defBackendPos = a[0].Value, d.Pos
	if !c.needCap(d, capFE, "default_backend") {
		return nil
	}
	return nil
}

// httpActions are the http-request / http-response / http-after-response
// actions haproxy 2.6 knows; "*" marks a prefix taking "(args)".
var httpActions = map[string][]string{
	"http-request": {"add-acl*", "add-header", "allow", "auth", "cache-use", "capture", "del-acl*", "del-header",
		"del-map*", "deny", "disable-l7-retry", "do-resolve*", "early-hint", "normalize-uri", "ot-group", "redirect",
		"reject", "replace-header", "replace-path", "replace-pathq", "replace-uri", "replace-value", "return",
		"sc-inc-gpc*", "sc-inc-gpc0*", "sc-inc-gpc1*", "sc-set-gpt*", "sc-set-gpt0*", "send-spoe-group", "set-dst",
		"set-dst-port", "set-header", "set-log-level", "set-map*", "set-mark", "set-method", "set-nice", "set-path",
		"set-pathq", "set-priority-class", "set-priority-offset", "set-query", "set-src", "set-src-port",
		"set-timeout", "set-tos", "set-uri", "set-var*", "set-var-fmt*", "silent-drop", "strict-mode", "tarpit",
		"track-sc*", "unset-var*", "use-service", "wait-for-body", "wait-for-handshake"},
	"http-response": {"add-acl*", "add-header", "allow", "cache-store", "capture", "del-acl*", "del-header",
		"del-map*", "deny", "ot-group", "redirect", "replace-header", "replace-value", "return", "sc-inc-gpc*",
		"sc-inc-gpc0*", "sc-inc-gpc1*", "sc-set-gpt*", "sc-set-gpt0*", "send-spoe-group", "set-header",
		"set-log-level", "set-map*", "set-mark", "set-nice", "set-status", "set-tos", "set-var*", "set-var-fmt*",
		"silent-drop", "strict-mode", "track-sc*", "unset-var*", "wait-for-body"},
	"http-after-response": {"add-header", "allow", "capture", "del-header", "ot-group", "replace-header",
		"replace-value", "set-header", "set-status", "set-var*", "set-var-fmt*", "strict-mode", "unset-var*"},
}

// actionName finds the action of word w ("set-var(txn.x)" → "set-var").
func actionName(kind, w string) (string, bool) {
	for _, a := range httpActions[kind] {
		if strings.HasSuffix(a, "*") {
			p := strings.TrimSuffix(a, "*")
			if w == p || (strings.HasPrefix(w, p) && len(w) > len(p) && (w[len(p)] == '(' || (p == "track-sc" && w[len(p)] >= '0' && w[len(p)] <= '9'))) {
				return p, true
			}
			continue
		}
		if w == a {
			return a, true
		}
	}
	return "", false
}

// httpActionArgs gives the exact argument counts haproxy checks.
var httpActionArgs = map[string][2]int{
	"add-header": {2, 2}, "set-header": {2, 2}, "del-header": {1, 3}, "replace-header": {3, 3},
	"replace-value": {3, 3}, "set-path": {1, 1}, "set-pathq": {1, 1}, "set-query": {1, 1},
	"set-uri": {1, 1}, "set-method": {1, 1}, "replace-path": {2, 2}, "replace-pathq": {2, 2},
	"replace-uri": {2, 2}, "set-status": {1, 3}, "set-log-level": {1, 1}, "set-var": {1, 1},
	"set-var-fmt": {1, 1}, "unset-var": {0, 0}, "use-service": {1, 1}, "cache-use": {1, 1},
	"cache-store": {1, 1},
}

func decodeHTTPRule(kind string) hdecode {
	return func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if c.cur.kind == "defaults" && c.cur.anonymous {
			return fmt.Errorf("'%s' not allowed in anonymous 'defaults' section.", kind)
		}
		if len(a) == 0 {
			c.abort = true
			return fmt.Errorf("'%s' expects at least 1 argument.", kind)
		}
		act, ok := actionName(kind, a[0].Value)
		if !ok {
			c.abort = true
			var names []string
			for _, n := range httpActions[kind] {
				if strings.HasSuffix(n, "*") {
					n = strings.TrimSuffix(n, "*") + "(*)"
				}
				names = append(names, "'"+n+"'")
			}
			msg := fmt.Sprintf("'%s' expects %s, but got '%s'.", kind, strings.Join(names, ", "), a[0].Value)
			if strings.HasPrefix(a[0].Value, "lua.") {
				msg = fmt.Sprintf("'%s' expects %s, but got '%s'. (halo: Lua actions are not supported)", kind, strings.Join(names, ", "), a[0].Value)
			}
			return fmt.Errorf("%s", msg)
		}
		c.noteRule(0)
		c.statusKey = kind + " " + act
		if k := c.table.Get(c.statusKey); k != nil {
			c.status, c.note = k.Status, k.Note
		}
		var where uint32
		switch kind {
		case "http-request":
			where = c.where(ctxFeHrqHdr, ctxBeHrqHdr)
		case "http-response":
			where = c.where(ctxFeHrsHdr, ctxBeHrsHdr)
		}
		before, cond, err := c.conditionAt(d, a[1:], fmt.Sprintf("an '%s %s' condition", kind, act), where)
		if err != nil {
			c.abort = true
			return err
		}
		if err := c.cacheRule(act, before); err != nil { // haproxy_filters.go
			return err
		}
		if n, ok := httpActionArgs[act]; ok && (len(before) < n[0] || len(before) > n[1]) {
			c.abort = true
			if n[0] == n[1] {
				return fmt.Errorf("error detected in %s '%s' while parsing '%s %s' rule : expects exactly %d arguments.", c.cur.kind, c.cur.p.Name, kind, act, n[0])
			}
			return fmt.Errorf("error detected in %s '%s' while parsing '%s %s' rule : expects %d to %d arguments.", c.cur.kind, c.cur.p.Name, kind, act, n[0], n[1])
		}
		// Samples in the rule's arguments must be available on one of
		// the sides the rule runs on (HAProxy's "may not be reliably
		// used here").
		c.sampleWhere = where
		if err := c.checkReplyArgs(kind, act, before); err != nil {
			c.sampleWhere = 0
			c.abort = true
			return err
		}
		msg := c.checkActionSamples(act, a[0].Value, before)
		c.sampleWhere = 0
		if msg != "" {
			c.abort = true
			return fmt.Errorf("error detected in %s '%s' while parsing '%s %s' rule : %s", c.cur.kind, c.cur.p.Name, kind, a[0].Value, msg)
		}
		// The runtime splits "set-var(txn.x)" itself: the action word is
		// passed as written.
		rule := &proxy.HTTPRule{Action: a[0].Value, Args: values(before), Cond: cond, Line: d.Pos.Line}
		// capture <sample> len N takes a new capture slot of the proxy,
		// which the runtime then fills as `id` names it.
		if act == "capture" && len(rule.Args) >= 3 && rule.Args[1] == "len" && kind != "http-after-response" {
			if n, ok := strictInt(rule.Args[2]); ok && n > 0 {
				slot := c.captureSlot(kind == "http-request", n)
				rule.Args = append([]string{rule.Args[0], "id", strconv.Itoa(slot)}, rule.Args[3:]...)
			}
		}
		if c.status == Ignored {
			// Accepted and warned about, not handed to the runtime.
			return nil
		}
		switch kind {
		case "http-request":
			c.misplaced(d, stageHTTPReq, kind)
			c.cur.p.HTTPRequest = append(c.cur.p.HTTPRequest, rule)
		case "http-response":
			c.cur.p.HTTPResponse = append(c.cur.p.HTTPResponse, rule)
		default:
			c.cur.p.HTTPAfterResponse = append(c.cur.p.HTTPAfterResponse, rule)
		}
		return nil
	}
}

func decodeRedirect(c *hctx, d *parser.Directive, a []parser.Word) error {
	if !c.notInDefaults(d, "redirect") {
		return nil
	}
	if !c.needCap(d, capFE, "redirect") && c.cur.p.Cap&capBE == 0 {
		return nil
	}
	before, cond, err := c.conditionAt(d, a, "redirect rule", c.where(ctxFeHrqHdr, ctxBeHrqHdr))
	if err != nil {
		return err
	}
	if len(before) == 0 {
		return fmt.Errorf("error detected in %s '%s' while parsing redirect rule : expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query', 'ignore-empty' or 'append-slash' (was '').", c.cur.kind, c.cur.p.Name)
	}
	var typ string
	for i := 0; i < len(before); i++ {
		v := before[i].Value
		switch v {
		case "location", "prefix", "scheme":
			if i+1 >= len(before) {
				return fmt.Errorf("error detected in %s '%s' while parsing redirect rule : missing argument for '%s'.", c.cur.kind, c.cur.p.Name, v)
			}
			typ = v
			i++
		case "code":
			if i+1 >= len(before) {
				return fmt.Errorf("error detected in %s '%s' while parsing redirect rule : missing argument for 'code'.", c.cur.kind, c.cur.p.Name)
			}
			n, ok := strictInt(before[i+1].Value)
			if !ok || !(n >= 301 && n <= 303 || n == 307 || n == 308) {
				return fmt.Errorf("error detected in %s '%s' while parsing redirect rule : unsupported HTTP code '%s' (must be one of 301, 302, 303, 307 or 308).", c.cur.kind, c.cur.p.Name, before[i+1].Value)
			}
			i++
		case "set-cookie", "clear-cookie":
			if i+1 >= len(before) {
				return fmt.Errorf("error detected in %s '%s' while parsing redirect rule : missing argument for '%s'.", c.cur.kind, c.cur.p.Name, v)
			}
			i++
		case "drop-query", "append-slash", "ignore-empty":
		default:
			return fmt.Errorf("error detected in %s '%s' while parsing redirect rule : expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query', 'ignore-empty' or 'append-slash' (was '%s').", c.cur.kind, c.cur.p.Name, v)
		}
	}
	if typ == "" {
		return fmt.Errorf("error detected in %s '%s' while parsing redirect rule : redirect type must be one of 'location', 'prefix' or 'scheme'.", c.cur.kind, c.cur.p.Name)
	}
	c.misplaced(d, stageRedirect, "redirect")
	c.cur.p.Redirects = append(c.cur.p.Redirects, &proxy.HTTPRule{Action: "redirect", Args: values(before), Cond: cond, Line: d.Pos.Line})
	return nil
}

// tcpActions are the tcp-request actions of haproxy 2.6 per stage, in the
// order haproxy lists them; "*" marks a prefix taking "(args)" or a digit.
var tcpActions = map[string][]string{
	"connection": {"accept", "reject", "capture", "expect-proxy", "expect-netscaler-cip", "track-sc*", "sc-inc-gpc*", "sc-inc-gpc0*", "sc-inc-gpc1*", "sc-set-gpt*", "sc-set-gpt0*", "set-var-fmt*", "set-var*", "unset-var*", "set-dst", "set-dst-port", "set-mark", "set-src", "set-src-port", "set-tos", "silent-drop"},
	"session":    {"accept", "reject", "capture", "expect-proxy", "expect-netscaler-cip", "track-sc*", "sc-inc-gpc*", "sc-inc-gpc0*", "sc-inc-gpc1*", "sc-set-gpt*", "sc-set-gpt0*", "set-var-fmt*", "set-var*", "unset-var*", "set-dst", "set-dst-port", "set-mark", "set-src", "set-src-port", "set-tos", "silent-drop"},
	"content":    {"accept", "reject", "capture", "expect-proxy", "expect-netscaler-cip", "track-sc*", "ot-group", "set-log-level", "set-nice", "switch-mode", "use-service", "sc-inc-gpc*", "sc-inc-gpc0*", "sc-inc-gpc1*", "sc-set-gpt*", "sc-set-gpt0*", "send-spoe-group", "do-resolve*", "set-var-fmt*", "set-var*", "unset-var*", "set-src", "set-src-port", "set-dst", "set-dst-port", "set-mark", "set-tos", "silent-drop", "set-priority-class", "set-priority-offset"},
}

// tcpActionList renders the list as haproxy's error message does.
func tcpActionList(stage string) string {
	var names []string
	for _, n := range tcpActions[stage] {
		switch {
		case n == "track-sc*":
			names = append(names, "'track-sc0' ... 'track-sc2'")
		case strings.HasSuffix(n, "*"):
			names = append(names, "'"+strings.TrimSuffix(n, "*")+"(*)'")
		default:
			names = append(names, "'"+n+"'")
		}
	}
	return strings.Join(names, ", ")
}

func tcpActionName(stage, w string) (string, bool) {
	for _, a := range tcpActions[stage] {
		if strings.HasSuffix(a, "*") {
			p := strings.TrimSuffix(a, "*")
			if w == p || (strings.HasPrefix(w, p) && len(w) > len(p) && (w[len(p)] == '(' || (p == "track-sc" && w[len(p)] >= '0' && w[len(p)] <= '9'))) {
				return p, true
			}
			continue
		}
		if w == a {
			return a, true
		}
	}
	return "", false
}

func decodeTCPRequest(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) == 0 {
		return fmt.Errorf("'tcp-request' expects 'connection', 'session', 'content' or 'inspect-delay' as first argument.")
	}
	stage := a[0].Value
	if stage == "inspect-delay" {
		c.statusKey = "tcp-request inspect-delay"
		if k := c.table.Get(c.statusKey); k != nil {
			c.status, c.note = k.Status, k.Note
		}
		if c.cur.kind == "defaults" && c.cur.anonymous {
			return fmt.Errorf("tcp-request inspect-delay is not allowed in anonymous 'defaults' sections")
		}
		t, err := timeArg("tcp-request inspect-delay", a, 1)
		if err != nil {
			return err
		}
		c.cur.p.TCPRequest = append(c.cur.p.TCPRequest, &proxy.TCPRule{Stage: "inspect-delay", Args: []string{t.String()}, Line: d.Pos.Line})
		return nil
	}
	if _, ok := tcpActions[stage]; !ok {
		return fmt.Errorf("'tcp-request' expects 'connection', 'session', 'content' or 'inspect-delay' as first argument, but got '%s'.", stage)
	}
	if c.cur.kind == "defaults" && c.cur.anonymous {
		return fmt.Errorf("tcp-request %s is not allowed in anonymous 'defaults' sections", stage)
	}
	if (stage == "connection" || stage == "session") && c.cur.p.Cap&capFE == 0 {
		c.rep.Warnf(d.Pos, "'tcp-request %s' ignored because %s '%s' has no frontend capability.", stage, c.cur.kind, c.cur.p.Name)
		c.status = Supported
		return nil
	}
	if len(a) < 2 {
		return fmt.Errorf("'tcp-request %s' expects an action.", stage)
	}
	if stage == "connection" || stage == "session" {
		c.noteRule(ruleL45)
	} else {
		c.noteRule(0)
	}
	act, ok := tcpActionName(stage, a[1].Value)
	if !ok {
		return fmt.Errorf("'tcp-request %s' expects %s in %s '%s' (got '%s').", stage, tcpActionList(stage), c.cur.kind, c.cur.p.Name, a[1].Value)
	}
	c.statusKey = "tcp-request " + stage + " " + act
	if k := c.table.Get(c.statusKey); k != nil {
		c.status, c.note = k.Status, k.Note
	}
	where := map[string]uint32{"connection": ctxFeConAcc, "session": ctxFeSesAcc, "content": c.where(ctxFeReqCnt, ctxBeReqCnt)}[stage]
	c.neverIn = "tcp-request " + stage
	before, cond, err := c.conditionAt(d, a[2:], fmt.Sprintf("'tcp-request %s %s' rule", stage, act), where)
	c.neverIn = ""
	if err != nil {
		return err
	}
	if msg := c.checkStickAction(a[1].Value, before, where); msg != "" {
		// HAProxy's tcp-request messages name the rule, but the counter
		// actions' own parser does not
		if strings.HasPrefix(act, "sc-") {
			return fmt.Errorf("%s", msg)
		}
		return fmt.Errorf("'tcp-request %s %s' : %s", stage, a[1].Value, msg)
	}
	c.misplaced(d, map[string]int{"connection": stageTCPConn, "session": stageTCPSess, "content": stageTCPContent}[stage], "tcp-request")
	c.cur.p.TCPRequest = append(c.cur.p.TCPRequest, &proxy.TCPRule{Stage: stage, Action: a[1].Value, Args: values(before), Cond: cond, Line: d.Pos.Line})
	return nil
}

// tcpResponseActions are the tcp-response content actions of haproxy 2.6,
// in the order its messages list them.
var tcpResponseActions = []string{"accept", "close", "reject", "ot-group", "set-log-level", "set-nice", "sc-inc-gpc*",
	"sc-inc-gpc0*", "sc-inc-gpc1*", "sc-set-gpt*", "sc-set-gpt0*", "send-spoe-group", "set-var-fmt*", "set-var*",
	"unset-var*", "set-mark", "set-tos", "silent-drop"}

// decodeTCPResponse checks a tcp-response line in HAProxy's order
// (tcp_parse_tcp_rep): the first word, then where the line may be (a
// backend or a named defaults section), then the delay or the action.
func decodeTCPResponse(c *hctx, d *parser.Directive, a []parser.Word) error {
	in := fmt.Sprintf("%s '%s'", c.cur.kind, c.cur.p.Name)
	if len(a) == 0 {
		return fmt.Errorf("missing argument for 'tcp-response' in %s", in)
	}
	stage := a[0].Value
	if stage != "content" && stage != "inspect-delay" {
		return fmt.Errorf("'tcp-response' expects 'inspect-delay' or 'content' in %s (got '%s')", in, stage)
	}
	if c.cur.p.Cap&capBE == 0 || (c.cur.kind == "defaults" && c.cur.anonymous) {
		return fmt.Errorf("tcp-response %s is only allowed in 'backend' sections or 'defaults' section with a name", stage)
	}
	if stage == "inspect-delay" {
		c.statusKey = "tcp-response inspect-delay"
		if k := c.table.Get(c.statusKey); k != nil {
			c.status, c.note = k.Status, k.Note
		}
		if len(a) < 2 {
			return fmt.Errorf("'tcp-response inspect-delay' expects a positive delay in milliseconds, in %s", in)
		}
		t, _, err := parseHATime(a[1].Value, time.Millisecond)
		if err != nil {
			return fmt.Errorf("'tcp-response inspect-delay' expects a positive delay in milliseconds, in %s", in)
		}
		c.cur.p.TCPResponse = append(c.cur.p.TCPResponse, &proxy.TCPRule{Stage: "inspect-delay", Args: []string{t.String()}, Line: d.Pos.Line})
		return nil
	}
	if len(a) < 2 || !tcpResponseAction(a[1].Value) {
		got := ""
		if len(a) > 1 {
			got = a[1].Value
		}
		var names []string
		for _, n := range tcpResponseActions {
			if strings.HasSuffix(n, "*") {
				n = strings.TrimSuffix(n, "*") + "(*)"
			}
			names = append(names, "'"+n+"'")
		}
		return fmt.Errorf("'tcp-response content' expects %s in %s (got '%s').", strings.Join(names, ", "), in, got)
	}
	c.noteRule(ruleTCPRes)
	act := a[1].Value
	if i := strings.IndexByte(act, '('); i >= 0 {
		act = act[:i]
	}
	c.statusKey = "tcp-response content " + act
	if k := c.table.Get(c.statusKey); k != nil {
		c.status, c.note = k.Status, k.Note
	}
	c.neverIn = "tcp-response content"
	before, cond, err := c.conditionAt(d, a[2:], "'tcp-response content' rule", ctxBeResCnt)
	c.neverIn = ""
	if err != nil {
		return err
	}
	c.cur.p.TCPResponse = append(c.cur.p.TCPResponse, &proxy.TCPRule{Stage: "content", Action: a[1].Value, Args: values(before), Cond: cond, Line: d.Pos.Line})
	return nil
}

func tcpResponseAction(w string) bool {
	for _, a := range tcpResponseActions {
		if p, ok := strings.CutSuffix(a, "*"); ok {
			if w == p || (strings.HasPrefix(w, p) && len(w) > len(p) && w[len(p)] == '(') {
				return true
			}
		} else if w == a {
			return true
		}
	}
	return false
}

// Rule processing stages, in the order haproxy runs them whatever their
// order in the file.
const (
	stageTCPConn = iota
	stageTCPSess
	stageTCPContent
	stageMonitor
	stageHTTPReq
	stageRedirect
	stageUseBackend
	stageUseServer
)

var stageNames = [...]string{"a 'tcp-request connection'", "a 'tcp-request session'", "a 'tcp-request content'",
	"a 'monitor fail'", "an 'http-request'", "a 'redirect'", "a 'use_backend'", "a 'use-server'"}

// misplaced is haproxy's warnif_misplaced_*(): a rule written after one
// that runs later still runs first, which is worth a warning. The nearest
// later stage present is named.
func (c *hctx) misplaced(d *parser.Directive, stage int, kw string) {
	if c.cur.kind == "defaults" {
		return
	}
	for t := stage + 1; t < len(stageNames); t++ {
		if c.cur.ruleStages[t] > 0 {
			c.rep.Warnf(d.Pos, "a '%s' rule placed after %s rule will still be processed before.", kw, stageNames[t])
			break
		}
	}
	c.cur.ruleStages[stage]++
}

// checkSample validates a sample expression "fetch(args),conv(args)…" the
// way haproxy's sample_parse() does: known fetch, known converters, and
// map files that exist. It returns haproxy's message or "".
func (c *hctx) checkSample(expr, shown string) string {
	name, _, convs := splitFetch(expr)
	if name == "" {
		return fmt.Sprintf("failed to parse sample expression <%s> : missing fetch method.", shown)
	}
	if !haproxyKnowsFetch(name) {
		return fmt.Sprintf("failed to parse sample expression <%s> : unknown fetch method '%s'.", shown, name)
	}
	if head := splitTopLevel(expr, ',')[0]; strings.IndexByte(head, '(') >= 0 && !strings.HasSuffix(head, ")") {
		return fmt.Sprintf("failed to parse sample expression <%s> : fetch method '%s' : expected ')'.", shown, name)
	}
	if use, ok := haproxyFetchUse[name]; ok && c.sampleWhere != 0 && use&c.sampleWhere == 0 {
		return fmt.Sprintf("sample fetch <%s> may not be reliably used here because it needs '%s' which is not available here.", shown, fetchNeeds(name, use))
	}
	for _, cv := range convs {
		cn, cargs, _ := splitFetch(cv)
		if !haproxyKnowsConv(cn) {
			return fmt.Sprintf("failed to parse sample expression <%s> : unknown converter '%s'.", shown, cn)
		}
		if strings.HasPrefix(cn, "map") && len(cargs) > 0 {
			if _, err := c.opt.Stat(cargs[0]); err != nil {
				return fmt.Sprintf("invalid args in converter '%s' : failed to open pattern file <%s>.", cn, cargs[0])
			}
		}
	}
	c.lowerForSample(expr)
	return ""
}

// sampleEnd is the index of the ']' closing a log-format's %[expr]: the
// first one outside the fetch's and converters' parentheses (an argument
// may hold brackets, as str([::1]:80)), or -1.
func sampleEnd(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
			}
		case ']':
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// checkLogFormat validates every %[expr] of a log-format string.
func (c *hctx) checkLogFormat(s string) string {
	for {
		i := strings.Index(s, "%[")
		if i < 0 {
			return ""
		}
		rest := s[i+2:]
		j := sampleEnd(rest)
		if j < 0 {
			// an unclosed '(': the expression's own parser reports it
			j = strings.IndexByte(rest, ']')
		}
		if j < 0 {
			return fmt.Sprintf("missing ']' after '%s'.", rest)
		}
		if msg := c.checkSample(rest[:j], rest); msg != "" {
			return msg
		}
		s = rest[j+1:]
	}
}

// logFormatActions take log-format arguments.
var logFormatActions = map[string]bool{"add-header": true, "set-header": true, "replace-header": true,
	"replace-value": true, "set-path": true, "set-pathq": true, "set-query": true, "set-uri": true,
	"replace-path": true, "replace-pathq": true, "replace-uri": true, "set-var-fmt": true,
	"redirect": true, "return": true, "set-method": true, "early-hint": true, "set-status": false}

// checkReplyArgs checks the http reply of a return, deny or tarpit rule
// as HAProxy's parser does, with its warnings about ignored arguments.
func (c *hctx) checkReplyArgs(kind, act string, args []parser.Word) error {
	if act != "return" && act != "deny" && act != "tarpit" {
		return nil
	}
	kws := []string{"status"}
	if act != "return" {
		kws = append(kws, "deny_status")
	}
	r, err := c.parseHTTPReply(args, 0, 200, kws...)
	if err != nil {
		return fmt.Errorf("error detected in %s '%s' while parsing '%s %s' rule : %v.", c.cur.kind, c.cur.p.Name, kind, act, err)
	}
	if r.next < len(args) {
		return formError{"tight", fmt.Errorf("'%s %s' expects either 'if' or 'unless' followed by a condition but found '%s'.", kind, act, args[r.next].Value)}
	}
	for _, w := range r.warns {
		c.rep.Warnf(c.d.Pos, "%s", w)
	}
	if r.kind == "errorfiles" {
		c.cur.replyRefs = append(c.cur.replyRefs, errEntry{code: r.status, section: r.arg, pos: c.d.Pos})
	}
	return nil
}

func (c *hctx) checkActionSamples(act, word string, args []parser.Word) string {
	switch {
	case act == "track-sc" || strings.HasPrefix(act, "sc-inc-gpc") || strings.HasPrefix(act, "sc-set-gpt"):
		if msg := c.checkStickAction(word, args, c.sampleWhere); msg != "" {
			return msg + "."
		}
	case act == "use-service":
		if len(args) > 0 && args[0].Value != "prometheus-exporter" {
			return fmt.Sprintf("'%s' unknown service name.", args[0].Value)
		}
	case act == "set-var" && len(args) > 0:
		return c.checkSample(args[0].Value, args[0].Value)
	case logFormatActions[act]:
		for _, a := range args {
			if msg := c.checkLogFormat(a.Value); msg != "" {
				return msg
			}
		}
	}
	return ""
}
