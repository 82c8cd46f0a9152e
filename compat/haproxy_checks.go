package compat

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"halo/parser"
	"halo/proxy"
)

// This file decodes the health-check directives (option httpchk and the
// protocol check options, tcp-check, http-check) into proxy.HealthCheck,
// building each proxy's rule list the way HAProxy 2.6 builds its
// tcpcheck_rules (src/tcpcheck.c):
//
//   - every section has its own tcp-check and http-check rulesets, which
//     its tcp-check / http-check lines fill;
//   - a proxy starts with the ruleset of its defaults section (the list is
//     shared, not copied), and the first rule it adds of the active kind
//     switches it to its own ruleset: the defaults' rules are then gone (a
//     backend's `http-check send` drops the defaults' `option httpchk GET
//     /x` request, and HAProxy sends its default OPTIONS / HTTP/1.0);
//   - rules of the other kind wait until an option selects them;
//   - `option httpchk`'s request is merged with the first `http-check
//     send` in either order.

// checkRuleset is one named ruleset (HAProxy's "*tcp-check-<proxy>").
type checkRuleset struct {
	rules []proxy.CheckRule
}

// checkState is a section's tcpcheck_rules while it is read.
type checkState struct {
	typ        proxy.CheckType
	list       *checkRuleset // the active ruleset (maybe the defaults')
	tcp, http  *checkRuleset // this section's own rulesets
	unusedTCP  bool
	unusedHTTP bool
	from       *checkState // the defaults section's state, for option tcp-check
}

// dropRuleset forgets a section's ruleset after a rule it could not
// parse, as HAProxy frees it (free_tcpcheck_ruleset): the next rule of
// the section starts a new, empty one (the configuration is refused
// anyway; this decides which later errors are reported).
func (cs *checkState) dropRuleset(rs **checkRuleset) {
	if cs.list == *rs {
		cs.list = nil
	}
	*rs = nil
}

// inherit is what a proxy takes from its defaults section.
func (cs *checkState) inherit() *checkState {
	if cs == nil {
		return &checkState{}
	}
	return &checkState{typ: cs.typ, list: cs.list, from: cs}
}

func (c *hctx) checks() *checkState {
	if c.cur.chk == nil {
		c.cur.chk = &checkState{}
	}
	return c.cur.chk
}

// finishChecks writes the proxy's rule list into its HealthCheck.
func (c *hctx) finishChecks(st *pstate) {
	cs := st.chk
	hc := &st.p.HealthCheck
	if cs == nil {
		return
	}
	hc.Type = cs.typ
	hc.Rules = nil
	if (cs.typ == proxy.CheckTCP || cs.typ == proxy.CheckHTTP) && cs.list != nil {
		hc.Rules = append([]proxy.CheckRule(nil), cs.list.rules...)
	}
}

// checkMuxes are the check-proto values of HTTP mode (the others, "none",
// are TCP mode).
var checkMuxes = map[string]bool{"h1": true, "h2": true, "fcgi": true}

// checkProtoFits is init_srv_check's test of an explicit check-proto
// against the check type: an HTTP mux needs an HTTP check and the reverse.
func (c *hctx) checkProtoFits(st *pstate) {
	httpChk := st.chk != nil && st.chk.typ == proxy.CheckHTTP
	for _, s := range st.p.Servers {
		if s.Check && s.CheckProto != "" && checkMuxes[s.CheckProto] != httpChk {
			c.rep.Alertf(parser.Pos{}, "config: %s '%s': server '%s' uses an incompatible MUX protocol for the selected check type", st.kind, st.p.Name, s.Name)
		}
	}
}

// setCheckOption switches the proxy to a protocol check (its rules are
// package health's).
func (c *hctx) setCheckOption(t proxy.CheckType) {
	cs := c.checks()
	cs.typ, cs.list = t, nil
	hc := &c.cur.p.HealthCheck
	hc.User, hc.MySQLPre41, hc.SMTPHello = "", false, ""
}

// checkOptionArgs implements alertif_too_many_args_idx for the check
// options (max extra arguments after the option name).
func checkOptionArgs(name string, rest []parser.Word, max int) error {
	if len(rest) > max {
		return fmt.Errorf("'option %s' cannot handle unexpected argument '%s'.", name, rest[max].Value)
	}
	return nil
}

// decodeCheckOption handles `option httpchk|tcp-check|ssl-hello-chk|
// mysql-check|pgsql-check|redis-check|smtpchk|ldap-check|spop-check`.
func (c *hctx) decodeCheckOption(d *parser.Directive, name string, rest []parser.Word) error {
	hc := &c.cur.p.HealthCheck
	switch name {
	case "httpchk":
		if err := checkOptionArgs(name, rest, 3); err != nil {
			return err
		}
		req := proxy.CheckRule{Action: proxy.CheckSendHTTP, FromOption: true, File: d.Pos.File, Line: d.Pos.Line}
		switch len(rest) {
		case 0:
		case 1:
			req.URI = rest[0].Value
		default:
			req.Method, req.URI = rest[0].Value, rest[1].Value
		}
		if len(rest) > 2 {
			v := rest[2].Value
			hdrs, body := strings.Index(v, "\r\n"), strings.Index(v, "\r\n\r\n")
			if hdrs == body {
				hdrs = -1
			}
			ver := v
			if hdrs >= 0 || body >= 0 {
				c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevWarning, Form: "tight",
					Msg: "'option httpchk' : hiding headers or body at the end of the version string is deprecated. Please, consider to use 'http-check send' directive instead."})
				cut := len(v)
				if hdrs >= 0 {
					cut = hdrs
				} else if body >= 0 {
					cut = body
				}
				ver = v[:cut]
				if hdrs >= 0 {
					end := len(v)
					if body >= 0 {
						end = body
					}
					for _, h := range strings.Split(v[hdrs+2:end], "\r\n") {
						n, val, ok := strings.Cut(h, ":")
						if !ok || strings.TrimSpace(n) == "" {
							return fmt.Errorf("'option httpchk' : unable to parse the request '%s\r\n\r\n'.", v[hdrs+2:end])
						}
						req.Headers = append(req.Headers, [2]string{strings.TrimSpace(n), strings.TrimSpace(val)})
					}
				}
				if body >= 0 {
					req.Body, req.HasBody = v[body+4:], true
				}
			}
			req.Version = ver
		}
		cs := c.checks()
		cs.typ = proxy.CheckHTTP
		if cs.http == nil {
			cs.http = &checkRuleset{}
		}
		cs.list, cs.unusedHTTP = cs.http, false
		return c.addHTTPRule(cs, req)
	case "tcp-check":
		if err := checkOptionArgs(name, rest, 0); err != nil {
			return err
		}
		cs := c.checks()
		if cs.typ == proxy.CheckTCP {
			if cs.list != nil {
				return nil // keeps the ruleset it has (maybe the defaults')
			}
		}
		if cs.typ != proxy.CheckTCP || cs.list == nil {
			switch {
			case cs.unusedTCP && cs.tcp != nil:
				cs.list = cs.tcp
			case cs.typ != proxy.CheckTCP && !cs.unusedTCP && cs.from != nil && cs.from.tcp != nil:
				cs.list = cs.from.tcp
			default:
				if cs.tcp == nil {
					cs.tcp = &checkRuleset{}
				}
				cs.list = cs.tcp
			}
		}
		cs.typ, cs.unusedTCP = proxy.CheckTCP, false
	case "ssl-hello-chk", "redis-check", "ldap-check", "spop-check":
		if err := checkOptionArgs(name, rest, 0); err != nil {
			return err
		}
		c.setCheckOption(map[string]proxy.CheckType{"ssl-hello-chk": proxy.CheckSSLHello, "redis-check": proxy.CheckRedis,
			"ldap-check": proxy.CheckLDAP, "spop-check": proxy.CheckSPOP}[name])
	case "smtpchk":
		if err := checkOptionArgs(name, rest, 2); err != nil {
			return err
		}
		c.setCheckOption(proxy.CheckSMTP)
		if len(rest) == 2 && (rest[0].Value == "EHLO" || rest[0].Value == "HELO") && rest[1].Value != "" {
			hc.SMTPHello = rest[0].Value + " " + rest[1].Value
		}
	case "pgsql-check":
		if err := checkOptionArgs(name, rest, 2); err != nil {
			return err
		}
		c.setCheckOption(proxy.CheckPgSQL)
		if len(rest) < 2 || rest[0].Value == "" || rest[1].Value == "" {
			return fmt.Errorf("'option pgsql-check' expects 'user <username>' as argument.")
		}
		if rest[0].Value != "user" {
			return fmt.Errorf("'option pgsql-check' only supports optional values: 'user'.")
		}
		hc.User = rest[1].Value
	case "mysql-check":
		if err := checkOptionArgs(name, rest, 3); err != nil {
			return err
		}
		c.setCheckOption(proxy.CheckMySQL)
		if len(rest) > 0 {
			if rest[0].Value != "user" {
				return fmt.Errorf("'option mysql-check' only supports optional values: 'user' (got '%s').", rest[0].Value)
			}
			if len(rest) < 2 || rest[1].Value == "" {
				return fmt.Errorf("'option mysql-check user' expects <username> as argument.")
			}
			hc.User = rest[1].Value
			if len(rest) > 2 {
				switch rest[2].Value {
				case "post-41":
				case "pre-41":
					hc.MySQLPre41 = true
				default:
					return fmt.Errorf("keyword 'user' only supports 'post-41' and 'pre-41' (got '%s').", rest[2].Value)
				}
			}
		}
	case "external-check":
		c.setCheckOption(proxy.CheckExternal)
	}
	return nil
}

// ruleIndex is the index HAProxy gives the next rule of rs.
func ruleIndex(rs *checkRuleset, http bool) int {
	if n := len(rs.rules); n > 0 {
		last := rs.rules[n-1]
		if http && last.Action == proxy.CheckSendHTTP && last.FromOption {
			return last.Index
		}
		return last.Index + 1
	}
	return 0
}

// firstAction is get_first_tcpcheck_rule: the first rule that is not a
// comment or a variable action.
func firstAction(rules []proxy.CheckRule, from int) int {
	for i := from; i < len(rules); i++ {
		switch rules[i].Action {
		case proxy.CheckComment, proxy.CheckSetVar, proxy.CheckUnsetVar:
			continue
		}
		return i
	}
	return -1
}

func lastAction(rules []proxy.CheckRule) int {
	for i := len(rules) - 1; i >= 0; i-- {
		switch rules[i].Action {
		case proxy.CheckComment, proxy.CheckSetVar, proxy.CheckUnsetVar:
			continue
		}
		return i
	}
	return -1
}

// overwriteSend merges send rule nw into old (tcpcheck_overwrite_send_http_rule):
// what nw sets wins; headers are always nw's.
func overwriteSend(old *proxy.CheckRule, nw proxy.CheckRule) {
	if nw.Method != "" {
		old.Method = nw.Method
	}
	if nw.URI != "" {
		old.URI, old.URILF = nw.URI, nw.URILF
	}
	if nw.Version != "" {
		old.Version = nw.Version
	}
	old.Headers = nw.Headers
	if nw.HasBody {
		old.Body, old.BodyLF, old.HasBody = nw.Body, nw.BodyLF, true
	}
}

// addHTTPRule is tcpcheck_add_http_rule for an active http ruleset.
func (c *hctx) addHTTPRule(cs *checkState, r proxy.CheckRule) error {
	rs := cs.list
	if r.Action == proxy.CheckSendHTTP && r.FromOption {
		i := firstAction(rs.rules, 0)
		if i >= 0 && rs.rules[i].Action == proxy.CheckConnect {
			i = firstAction(rs.rules, i+1)
		}
		switch {
		case i < 0 || rs.rules[i].Action != proxy.CheckSendHTTP:
			rs.rules = append([]proxy.CheckRule{r}, rs.rules...)
		case rs.rules[i].FromOption:
			rs.rules = append(rs.rules[:i:i], rs.rules[i+1:]...)
			rs.rules = append([]proxy.CheckRule{r}, rs.rules...)
		default:
			overwriteSend(&rs.rules[i], r)
		}
		return nil
	}
	if l := lastAction(rs.rules); l >= 0 {
		last := rs.rules[l]
		if !(last.Action == proxy.CheckSendHTTP && last.FromOption) {
			step := r.Index + 1
			switch {
			case last.Action != proxy.CheckConnect && r.Action == proxy.CheckSendHTTP:
				return fmt.Errorf("'http-check send' : unable to add http-check send rule at step %d (missing connect rule).", step)
			case last.Action != proxy.CheckSendHTTP && last.Action != proxy.CheckExpect && r.Action == proxy.CheckExpect:
				return fmt.Errorf("'http-check expect' : unable to add http-check expect rule at step %d (missing send rule).", step)
			case last.Action != proxy.CheckExpect && r.Action == proxy.CheckConnect:
				return fmt.Errorf("'http-check connect' : unable to add http-check connect rule at step %d (missing expect rule).", step)
			}
		}
	}
	if r.Action == proxy.CheckSendHTTP {
		if i := firstAction(rs.rules, 0); i >= 0 && rs.rules[i].Action == proxy.CheckSendHTTP && rs.rules[i].FromOption {
			old := rs.rules[i]
			overwriteSend(&old, r)
			old.FromOption = false
			rs.rules = append(rs.rules[:i:i], rs.rules[i+1:]...)
			r = old
		}
	}
	rs.rules = append(rs.rules, r)
	return nil
}

// decodeTCPCheck is a `tcp-check` line.
func decodeTCPCheck(c *hctx, d *parser.Directive, a []parser.Word) error {
	if !c.needCap(d, capBE, "tcp-check") {
		return nil
	}
	act := ""
	if len(a) > 0 {
		act = a[0].Value
	}
	c.statusKey = "tcp-check " + ruleKey(act)
	if k := c.table.Get(c.statusKey); k != nil {
		c.status, c.note = k.Status, k.Note
	}
	cs := c.checks()
	if cs.tcp == nil {
		cs.tcp = &checkRuleset{}
	}
	rs := cs.tcp
	r := proxy.CheckRule{Index: ruleIndex(rs, false), File: d.Pos.File, Line: d.Pos.Line}
	var err error
	switch {
	case act == "connect":
		err = c.checkConnect(&r, "tcp-check", a[1:], rs)
	case act == "send" || act == "send-binary" || act == "send-lf" || act == "send-binary-lf":
		err = c.checkSend(&r, a)
	case act == "expect":
		err = c.checkExpect(&r, "tcp-check", a[1:], false)
	case act == "comment":
		err = checkComment(&r, "tcp-check", a[1:])
	case isVarAction(act):
		err = checkVarAction(&r, "tcp-check", a)
	default:
		err = fmt.Errorf("'tcp-check' only supports 'comment', 'connect', 'send', 'send-binary', 'expect', 'set-var-fmt(*)', 'set-var(*)', 'unset-var(*)'. but got '%s'", act)
	}
	if err != nil {
		cs.dropRuleset(&cs.tcp)
		return err
	}
	rs.rules = append(rs.rules, r)
	if cs.typ == proxy.CheckTCP {
		cs.list, cs.unusedTCP = rs, false
	} else {
		cs.unusedTCP = true
	}
	return nil
}

// decodeHTTPCheck is an `http-check` line.
func decodeHTTPCheck(c *hctx, d *parser.Directive, a []parser.Word) error {
	if !c.needCap(d, capBE, "http-check") {
		return nil
	}
	act := ""
	if len(a) > 0 {
		act = a[0].Value
	}
	c.statusKey = "http-check " + ruleKey(act)
	if k := c.table.Get(c.statusKey); k != nil {
		c.status, c.note = k.Status, k.Note
	}
	hc := &c.cur.p.HealthCheck
	switch act {
	case "disable-on-404", "send-state":
		if len(a) > 1 {
			return fmt.Errorf("'http-check %s' cannot handle unexpected argument '%s'.", act, a[1].Value)
		}
		if act == "disable-on-404" {
			hc.DisableOn404 = true
		} else {
			hc.SendState = true
		}
		return nil
	}
	cs := c.checks()
	if cs.http == nil {
		cs.http = &checkRuleset{}
	}
	rs := cs.http
	r := proxy.CheckRule{Index: ruleIndex(rs, true), File: d.Pos.File, Line: d.Pos.Line}
	var err error
	switch {
	case act == "connect":
		err = c.checkConnect(&r, "http-check", a[1:], rs)
	case act == "send":
		err = c.checkSendHTTP(&r, a[1:])
	case act == "expect":
		err = c.checkExpect(&r, "http-check", a[1:], true)
	case act == "comment":
		err = checkComment(&r, "http-check", a[1:])
	case isVarAction(act):
		err = checkVarAction(&r, "http-check", a)
	default:
		err = fmt.Errorf("'http-check' only supports 'disable-on-404', 'send-state', 'comment', 'connect', 'send', 'expect', 'set-var-fmt(*)', 'set-var(*)', 'unset-var(*)'. but got '%s'", act)
	}
	if err != nil {
		cs.dropRuleset(&cs.http)
		return err
	}
	if cs.typ == proxy.CheckHTTP {
		cs.list, cs.unusedHTTP = rs, false
		if err := c.addHTTPRule(cs, r); err != nil {
			cs.dropRuleset(&cs.http)
			return err
		}
		return nil
	}
	cs.unusedHTTP = true
	rs.rules = append(rs.rules, r)
	return nil
}

// ruleKey is the status-table key of a rule ("set-var(check.x)" → "set-var").
func ruleKey(act string) string {
	if i := strings.IndexByte(act, '('); i > 0 {
		return act[:i]
	}
	return act
}

func isVarAction(act string) bool {
	return strings.HasPrefix(act, "set-var(") || strings.HasPrefix(act, "unset-var(") || strings.HasPrefix(act, "set-var-fmt(")
}

// varScopes are the variable scopes a check rule may use.
var varScopes = []string{"proc.", "sess.", "txn.", "req.", "res.", "check."}

func checkVarAction(r *proxy.CheckRule, kw string, a []parser.Word) error {
	act := a[0].Value
	name, _, _ := strings.Cut(act, "(")
	v := strings.TrimSuffix(act[len(name)+1:], ")")
	if !strings.HasSuffix(act, ")") || v == "" {
		return fmt.Errorf("'%s %s' : '%s' : missing variable name.", kw, act, name)
	}
	ok := false
	for _, s := range varScopes {
		if strings.HasPrefix(v, s) && len(v) > len(s) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("'%s %s' : '%s' : invalid variable '%s'. Expects 'proc', 'sess', 'txn', 'req', 'res' or 'check' scope.", kw, act, name, v)
	}
	r.Var = v
	switch name {
	case "unset-var":
		r.Action = proxy.CheckUnsetVar
		if len(a) > 1 {
			return fmt.Errorf("'%s %s' : '%s' : unexpected argument '%s'.", kw, act, name, a[1].Value)
		}
	case "set-var", "set-var-fmt":
		r.Action = proxy.CheckSetVar
		if len(a) < 2 || a[1].Value == "" {
			return fmt.Errorf("'%s %s' : '%s' : missing fetch method.", kw, act, name)
		}
		r.Expr, r.Fmt = a[1].Value, name == "set-var-fmt"
	}
	return nil
}

func checkComment(r *proxy.CheckRule, kw string, a []parser.Word) error {
	if len(a) == 0 || a[0].Value == "" {
		return fmt.Errorf("'%s comment' : expects a string as argument.", kw)
	}
	r.Action, r.Comment = proxy.CheckComment, a[0].Value
	return nil
}

// checkConnect is parse_tcpcheck_connect.
func (c *hctx) checkConnect(r *proxy.CheckRule, kw string, a []parser.Word, rs *checkRuleset) error {
	pre := "'" + kw + " connect' : "
	for _, x := range rs.rules {
		if x.Action == proxy.CheckConnect {
			break
		}
		if x.Action == proxy.CheckComment || x.Action == proxy.CheckSetVar || x.Action == proxy.CheckUnsetVar ||
			(x.Action == proxy.CheckSendHTTP && x.FromOption) {
			continue
		}
		return fmt.Errorf("%sfirst step MUST also be a 'connect', optionally preceded by a 'set-var', an 'unset-var' or a 'comment', when there is a 'connect' step in the tcp-check ruleset.", pre)
	}
	r.Action = proxy.CheckConnect
	for i := 0; i < len(a); i++ {
		k := a[i].Value
		next := func() (string, bool) {
			if i+1 >= len(a) || a[i+1].Value == "" {
				return "", false
			}
			i++
			return a[i].Value, true
		}
		switch k {
		case "default":
			r.Default = true
		case "addr":
			v, ok := next()
			if !ok {
				return fmt.Errorf("%s'addr' expects <ipv4|ipv6> as argument.", pre)
			}
			hp, err := parseAddr(v, false)
			if err != nil || !hp.isIP {
				return fmt.Errorf("%s'addr' : invalid address: '%s'.", pre, v)
			}
			r.Addr = netip.AddrPortFrom(hp.addr, uint16(hp.portLo))
		case "port":
			v, ok := next()
			if !ok {
				return fmt.Errorf("%s'port' expects a port number or a sample expression as argument.", pre)
			}
			n, digits := leadingUint(v)
			if digits != len(v) {
				r.PortExpr = v
				r.Port = 0
				continue
			}
			if n < 1 || n > 65535 {
				return fmt.Errorf("%sexpects a valid TCP port (from range 1 to 65535) or a sample expression, got %s..", pre, v)
			}
			r.Port, r.PortExpr = n, ""
		case "proto":
			v, ok := next()
			if !ok {
				return fmt.Errorf("%s'proto' expects a MUX protocol as argument.", pre)
			}
			switch v {
			case "h1", "h2", "fcgi", "none":
			default:
				return fmt.Errorf("%s'proto' : unknown MUX protocol '%s'.", pre, v)
			}
			if v == "fcgi" {
				c.lower(Unsupported, "checks over fcgi are not supported by halo")
			}
			r.Proto = v
		case "comment":
			v, ok := next()
			if !ok {
				return fmt.Errorf("%s'comment' expects a string as argument.", pre)
			}
			r.Comment = v
		case "send-proxy":
			r.SendProxy = true
		case "via-socks4":
			c.lower(Unsupported, "checks through a SOCKS4 proxy (via-socks4) are not supported by halo")
		case "linger":
			r.Linger = true
		case "ssl":
			r.SSL = true
		case "sni":
			v, ok := next()
			if !ok {
				return fmt.Errorf("%s'sni' expects a string as argument.", pre)
			}
			r.SNI = v
		case "alpn":
			v, ok := next()
			if !ok {
				return fmt.Errorf("%s'alpn' : missing value.", pre)
			}
			r.ALPN = strings.Split(v, ",")
		default:
			return fmt.Errorf("%sexpects 'comment', 'port', 'addr', 'send-proxy', 'ssl', 'sni', 'alpn' or 'via-socks4', 'linger', 'default' but got '%s' as argument..", pre, k)
		}
	}
	return nil
}

func leadingUint(s string) (int, int) {
	n, i := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if n < 1<<30 {
			n = n*10 + int(s[i]-'0')
		}
		i++
	}
	return n, i
}

// lfError is parse_logformat_string's verdict on a check's log-format
// string: HAProxy's message without its final dot, "" when it parses.
func (c *hctx) lfError(s string) string { return strings.TrimSuffix(c.checkLogFormat(s), ".") }

// checkSend is parse_tcpcheck_send.
func (c *hctx) checkSend(r *proxy.CheckRule, a []parser.Word) error {
	act := a[0].Value
	pre := "'tcp-check " + act + "' : "
	r.Action = proxy.CheckSend
	r.Binary = strings.HasPrefix(act, "send-binary")
	r.LF = strings.HasSuffix(act, "-lf")
	if len(a) < 2 || a[1].Value == "" {
		what := "string"
		if act == "send-binary" {
			what = "binary string"
		}
		return fmt.Errorf("%s'%s' expects a %s as argument.", pre, what, act)
	}
	r.Data = a[1].Value
	for i := 2; i < len(a); i++ {
		if a[i].Value != "comment" {
			return fmt.Errorf("%sexpects 'comment' but got '%s' as argument..", pre, a[i].Value)
		}
		if i+1 >= len(a) || a[i+1].Value == "" {
			return fmt.Errorf("%s'comment' expects a string as argument..", pre)
		}
		i++
		r.Comment = a[i].Value
	}
	if r.Binary && !r.LF {
		if err := hexCheck(r.Data); err != nil {
			return fmt.Errorf("%s'%s' invalid binary string (%s).\n.", pre, r.Data, err)
		}
	}
	if r.LF {
		if msg := c.lfError(r.Data); msg != "" {
			return fmt.Errorf("%s'%s' invalid log-format string (%s).\n.", pre, r.Data, msg)
		}
	}
	return nil
}

// hexCheck is parse_binary's validation, with its messages.
func hexCheck(s string) error {
	if len(s)%2 != 0 {
		return fmt.Errorf("an even number of hex digit is expected")
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')) {
			return fmt.Errorf("an hex digit is expected (found '%c')", ch)
		}
	}
	return nil
}

// checkSendHTTP is parse_tcpcheck_send_http.
func (c *hctx) checkSendHTTP(r *proxy.CheckRule, a []parser.Word) error {
	pre := "'http-check send' : "
	r.Action = proxy.CheckSendHTTP
	hostSeen := ""
	for i := 0; i < len(a); i++ {
		k := a[i].Value
		arg := func() (string, error) {
			if i+1 >= len(a) || a[i+1].Value == "" {
				return "", fmt.Errorf("%s'%s' expects a string as argument..", pre, k)
			}
			i++
			return a[i].Value, nil
		}
		var err error
		switch k {
		case "meth":
			r.Method, err = arg()
		case "uri", "uri-lf":
			r.URILF = k == "uri-lf"
			r.URI, err = arg()
		case "ver":
			r.Version, err = arg()
		case "hdr":
			if i+2 >= len(a) || a[i+1].Value == "" || a[i+2].Value == "" {
				return fmt.Errorf("%s'hdr' expects <name> and <value> as arguments.", pre)
			}
			n, v := a[i+1].Value, a[i+2].Value
			i += 2
			switch strings.ToLower(n) {
			case "host":
				if hostSeen != "" {
					return fmt.Errorf("%s'%s' header already defined (previous value is '%s').", pre, n, hostSeen)
				}
				hostSeen = v
			case "content-length", "transfer-encoding":
				continue
			}
			r.Headers = append(r.Headers, [2]string{n, v})
		case "body", "body-lf":
			r.BodyLF = k == "body-lf"
			r.Body, err = arg()
			r.HasBody = true
		case "comment":
			r.Comment, err = arg()
		default:
			return fmt.Errorf("%sexpects 'comment', 'meth', 'uri', 'uri-lf', 'ver', 'hdr', 'body' or 'body-lf' but got '%s' as argument..", pre, k)
		}
		if err != nil {
			return err
		}
	}
	// the log-format parts are compiled once the line is read: uri, each
	// header value, then the body
	if r.URILF && r.URI != "" {
		if msg := c.lfError(r.URI); msg != "" {
			return fmt.Errorf("%s'%s' invalid log-format string (%s).\n.", pre, r.URI, msg)
		}
	}
	for _, h := range r.Headers {
		if msg := c.lfError(h[1]); msg != "" {
			return fmt.Errorf("%s%s.", pre, msg)
		}
	}
	if r.BodyLF && r.HasBody {
		if msg := c.lfError(r.Body); msg != "" {
			return fmt.Errorf("%s'%s' invalid log-format string (%s).\n.", pre, r.Body, msg)
		}
	}
	return nil
}

// checkExpect is parse_tcpcheck_expect.
func (c *hctx) checkExpect(r *proxy.CheckRule, kw string, a []parser.Word, http bool) error {
	pre := "'" + kw + " expect' : "
	r.Action = proxy.CheckExpect
	e := &r.Expect
	e.MinRecv = -1
	if len(a) == 0 || a[0].Value == "" {
		return fmt.Errorf("%sexpects at least a matching pattern as arguments.", pre)
	}
	badKw := func(w string) error {
		if http {
			return fmt.Errorf("%s'only supports min-recv, [!]string', '[!]rstring', '[!]string-lf', '[!]status', '[!]rstatus', [!]hdr, [!]fhdr or comment but got '%s' as argument..", pre, w)
		}
		return fmt.Errorf("%s'only supports min-recv, '[!]binary', '[!]string', '[!]rstring', '[!]string-lf''[!]rbinary', '[!]binary-lf' or comment but got '%s' as argument..", pre, w)
	}
	pattern := func(i *int, w string) (string, error) {
		if e.Type != "" {
			return "", fmt.Errorf("%sonly on pattern expected.", pre)
		}
		if *i+1 >= len(a) || a[*i+1].Value == "" {
			return "", fmt.Errorf("%s'%s' expects a <pattern> as argument.", pre, w)
		}
		*i++
		return a[*i].Value, nil
	}
	optArg := func(i *int, w, what string, inPattern bool) (string, error) {
		if inPattern {
			return "", fmt.Errorf("%s[!] not supported with '%s'.", pre, w)
		}
		if *i+1 >= len(a) || a[*i+1].Value == "" {
			return "", fmt.Errorf("%s'%s' expects %s as argument.", pre, w, what)
		}
		*i++
		return a[*i].Value, nil
	}
	for i := 0; i < len(a); i++ {
		w := a[i].Value
		inPattern := false
		for strings.HasPrefix(w, "!") {
			inPattern = true
			e.Negate = !e.Negate
			w = w[1:]
		}
		if inPattern && w == "" {
			i++
			if i >= len(a) {
				break
			}
			w = a[i].Value
		}
		var err error
		var v string
		switch w {
		case "min-recv":
			if inPattern {
				return fmt.Errorf("%s[!] not supported with '%s'.", pre, w)
			}
			if i+1 >= len(a) || a[i+1].Value == "" {
				return fmt.Errorf("%s'%s' expects a integer as argument.", pre, w)
			}
			i++
			n, _ := strconv.Atoi(a[i].Value)
			if n < -1 {
				return fmt.Errorf("%s'%s' expects -1 or an integer from 0 to INT_MAX.", pre, w)
			}
			e.MinRecv = n
		case "string", "rstring":
			v, err = pattern(&i, w)
			e.Type, e.Pattern = w, v
		case "binary", "rbinary":
			if http {
				return badKw(w)
			}
			v, err = pattern(&i, w)
			e.Type, e.Pattern = w, v
		case "string-lf", "binary-lf":
			if http && w == "binary-lf" {
				return badKw(w)
			}
			v, err = pattern(&i, w)
			e.Type, e.Pattern = w, v
		case "status", "rstatus":
			if !http {
				return badKw(w)
			}
			v, err = pattern(&i, w)
			e.Type, e.Pattern = w, v
		case "hdr", "fhdr":
			if !http {
				return badKw(w)
			}
			if e.Type != "" {
				return fmt.Errorf("%sonly on pattern expected.", pre)
			}
			e.Type, e.Full = "hdr", w == "fhdr"
			err = parseHdrExpect(e, a, &i, pre, w)
		case "comment":
			r.Comment, err = optArg(&i, w, "a string", inPattern)
		case "on-success":
			e.OnSuccess, err = optArg(&i, w, "a string", inPattern)
		case "on-error":
			e.OnError, err = optArg(&i, w, "a string", inPattern)
		case "status-code":
			e.StatusCode, err = optArg(&i, w, "an expression", inPattern)
			if err == nil {
				if msg := strings.TrimSuffix(c.checkSample(e.StatusCode, e.StatusCode), "."); msg != "" {
					// sample_parse_expr's own text, without the log-format prefix
					if _, m, ok := strings.Cut(msg, "> : "); ok {
						msg = m
					}
					return fmt.Errorf("%serror detected while parsing status-code expression : %s.", pre, msg)
				}
			}
		case "ok-status":
			v, err = optArg(&i, w, "a string", inPattern)
			if err == nil {
				switch strings.ToUpper(v) {
				case "L7OK", "L7OKC", "L6OK", "L4OK":
					e.OKStatus = strings.ToUpper(v)
				default:
					return fmt.Errorf("%s'%s' only supports 'L4OK', 'L6OK', 'L7OK' or 'L7OKC' status (got '%s')..", pre, w, v)
				}
			}
		case "error-status":
			v, err = optArg(&i, w, "a string", inPattern)
			if err == nil {
				switch strings.ToUpper(v) {
				case "L7RSP", "L7STS", "L7OKC", "L6RSP", "L4CON":
					e.ErrorStatus = strings.ToUpper(v)
				default:
					return fmt.Errorf("%s'%s' only supports 'L4CON', 'L6RSP', 'L7RSP' or 'L7STS' status (got '%s')..", pre, w, v)
				}
			}
		case "tout-status":
			v, err = optArg(&i, w, "a string", inPattern)
			if err == nil {
				switch strings.ToUpper(v) {
				case "L7TOUT", "L6TOUT", "L4TOUT":
					e.ToutStatus = strings.ToUpper(v)
				default:
					return fmt.Errorf("%s'%s' only supports 'L4TOUT', 'L6TOUT' or 'L7TOUT' status (got '%s')..", pre, w, v)
				}
			}
		default:
			return badKw(w)
		}
		if err != nil {
			return err
		}
	}
	for _, m := range []string{e.OnSuccess, e.OnError} {
		if m == "" {
			continue
		}
		if msg := c.lfError(m); msg != "" {
			return fmt.Errorf("%s'%s' invalid log-format string (%s).\n.", pre, m, msg)
		}
	}
	switch e.Type {
	case "":
		return fmt.Errorf("%spattern not found.", pre)
	case "string-lf", "binary-lf":
		if msg := c.lfError(e.Pattern); msg != "" {
			return fmt.Errorf("%s'%s' invalid log-format string (%s).\n.", pre, e.Pattern, msg)
		}
	case "status":
		if err := statusCodes(e.Pattern); err != nil {
			return fmt.Errorf("%s%v.", pre, err)
		}
	case "binary":
		if err := hexCheck(e.Pattern); err != nil {
			return fmt.Errorf("%sinvalid binary string (%v).", pre, err)
		}
	case "rstring", "rbinary", "rstatus":
		if _, err := regexp.Compile(e.Pattern); err != nil {
			return fmt.Errorf("%sregex '%s' is invalid (%v).", pre, e.Pattern, err)
		}
	case "hdr":
		for _, m := range []struct {
			how, pat string
			lf, use  bool
		}{{e.NameMatch, e.Name, e.NameLF, true}, {e.ValueMatch, e.Value, e.ValueLF, e.HasValue}} {
			switch {
			case !m.use:
			case m.how == "reg":
				if _, err := regexp.Compile(m.pat); err != nil {
					return fmt.Errorf("%sregex '%s' is invalid (%v).", pre, m.pat, err)
				}
			case m.lf:
				if msg := c.lfError(m.pat); msg != "" {
					// HAProxy names the header name pattern for both
					return fmt.Errorf("%s'%s' invalid log-format string (%s).\n.", pre, e.Name, msg)
				}
			}
		}
	}
	return nil
}

// parseHdrExpect reads `name [-m how] PAT [value [-m how] PAT]` of an
// http-check expect hdr/fhdr.
func parseHdrExpect(e *proxy.CheckMatch, a []parser.Word, i *int, pre, w string) error {
	get := func(k int) string {
		if k < len(a) {
			return a[k].Value
		}
		return ""
	}
	if get(*i+1) == "" || get(*i+2) == "" || (get(*i+1) != "name" && get(*i+1) != "name-lf") {
		return fmt.Errorf("%s'%s' expects at the name keyword as first argument followed by a pattern.", pre, w)
	}
	e.NameLF = get(*i+1) == "name-lf"
	*i += 2
	how := func(lf bool) (string, error) {
		if get(*i) != "-m" {
			return "str", nil
		}
		m := get(*i + 1)
		if m == "" {
			return "", fmt.Errorf("%s'%s' : '-m' expects at a matching pattern ('str', 'beg', 'end', 'sub' or 'reg').", pre, w)
		}
		switch m {
		case "str", "beg", "end", "sub":
		case "reg":
			if lf {
				return "", fmt.Errorf("%s'%s': log-format string is not supported with a regex matching method.", pre, w)
			}
		default:
			return "", fmt.Errorf("%s'%s' : '-m' only supports 'str', 'beg', 'end', 'sub' or 'reg' (got '%s').", pre, w, m)
		}
		*i += 2
		return m, nil
	}
	var err error
	if e.NameMatch, err = how(e.NameLF); err != nil {
		return err
	}
	e.Name = get(*i)
	if v := get(*i + 1); v != "value" && v != "value-lf" {
		return nil
	}
	e.HasValue, e.ValueLF = true, get(*i+1) == "value-lf"
	*i++
	if get(*i+1) == "-m" {
		*i++
		if e.ValueMatch, err = how(e.ValueLF); err != nil {
			return err
		}
		*i--
	} else {
		e.ValueMatch = "str"
	}
	if get(*i+1) == "" {
		return fmt.Errorf("%s'%s' expect a pattern with the value keyword.", pre, w)
	}
	*i++
	e.Value = get(*i)
	return nil
}

// statusCodes validates "200", "200-399", "200,301-302".
func statusCodes(p string) error {
	rest := p
	for {
		c1, n := leadingUint(rest)
		rest = rest[n:]
		c2 := c1
		if strings.HasPrefix(rest, "-") {
			c2, n = leadingUint(rest[1:])
			rest = rest[1+n:]
		}
		if c1 > c2 {
			return fmt.Errorf("invalid range of status codes '%s'", p)
		}
		if rest == "" {
			return nil
		}
		if rest[0] != ',' {
			return fmt.Errorf("invalid character '%c' in the list of status codes", rest[0])
		}
		rest = rest[1:]
	}
}

// checkServerParam decodes the check-related server keywords; handled is
// false for the others.
func (c *hctx) checkServerParam(srv *proxy.Server, k, v, title, name string) (handled bool, err error) {
	agent := func() *proxy.AgentCheck {
		// default-server values are copied into each server: never share.
		a := &proxy.AgentCheck{}
		if srv.Agent != nil {
			*a = *srv.Agent
		}
		srv.Agent = a
		return a
	}
	delay := func() (time.Duration, error) {
		t, bad, perr := parseHATime(v, time.Millisecond)
		if perr != nil {
			if bad != 0 {
				return 0, fmt.Errorf("%s : unexpected character '%c' in '%s' argument of server %s.", title, bad, k, name)
			}
			return 0, fmt.Errorf("%s : timer overflow in argument <%s> to <%s> of server %s, maximum value is 2147483647 ms (~24.8 days).", title, v, k, name)
		}
		if t <= 0 {
			return 0, fmt.Errorf("%s : invalid value %d for argument '%s' of server %s..", title, t.Milliseconds(), k, name)
		}
		return t, nil
	}
	switch k {
	case "port":
		srv.CheckPort = atol(v)
	case "addr":
		hp, perr := parseAddr(v, false)
		if perr != nil || !hp.isIP {
			return true, fmt.Errorf("%s : 'addr' : invalid address: '%s'.", title, v)
		}
		srv.CheckAddr, srv.CheckAddrPort = hp.addr, 0
		if hp.hasPort {
			srv.CheckAddrPort = hp.portLo
		}
	case "agent-check":
		a := agent()
		a.Enabled = true
	case "no-agent-check":
		srv.Agent = nil
	case "agent-addr":
		ip, perr := netip.ParseAddr(v)
		if perr != nil {
			return true, fmt.Errorf("%s : parsing agent-addr failed. Check if '%s' is correct address..", title, v)
		}
		agent().Addr = ip
	case "agent-port":
		agent().Port = atol(v)
	case "agent-inter":
		t, derr := delay()
		if derr != nil {
			return true, derr
		}
		agent().Inter = t
	case "agent-send":
		a := agent()
		a.Send, a.HasSend = v, true
	case "check-send-proxy":
		srv.CheckSendProxy = true
	case "no-check-send-proxy":
		srv.CheckSendProxy = false
	case "check-ssl":
		srv.CheckSSL = true
	case "no-check-ssl":
		srv.CheckSSL = false
	case "check-sni":
		srv.CheckSNI = v
	case "check-alpn":
		srv.CheckALPN = strings.Split(v, ",")
	case "check-proto":
		switch v {
		case "h1", "h2", "fcgi", "none":
		default:
			return true, fmt.Errorf("%s : 'check-proto' :  unknown MUX protocol '%s'.", title, v)
		}
		if v == "fcgi" {
			c.lower(Unsupported, "checks over fcgi are not supported by halo")
		}
		srv.CheckProto = v
	case "check-via-socks4":
		c.lower(Unsupported, "checks through a SOCKS4 proxy (check-via-socks4) are not supported by halo")
	case "observe":
		switch v {
		case "none":
			srv.Observe = ""
		case "layer4", "layer7":
			srv.Observe = v
		default:
			return true, fmt.Errorf("%s : 'observe' expects one of 'none', 'layer4', 'layer7' but got '%s'.", title, v)
		}
	case "on-error":
		switch v {
		case "fastinter", "fail-check", "sudden-death", "mark-down":
			srv.OnError = v
		default:
			return true, fmt.Errorf("%s : 'on-error' expects one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down' but got '%s'.", title, v)
		}
	case "error-limit":
		n := atol(v)
		if n < 1 {
			return true, fmt.Errorf("%s : error-limit has to be > 0..", title)
		}
		srv.ErrorLimit = n
	default:
		return false, nil
	}
	return true, nil
}

// decodeSpreadChecks is the global spread-checks (percent) and
// max-spread-checks (delay).
func decodeSpreadChecks(c *hctx, d *parser.Directive, a []parser.Word) error {
	g := &c.cfg.Global
	tight := func(format string, args ...any) error { return formError{"tight", fmt.Errorf(format, args...)} }
	already := (d.Name == "spread-checks" && g.SpreadChecks != 0) || (d.Name == "max-spread-checks" && g.MaxSpreadChecks != 0)
	if already {
		c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevAlert, NonFatal: true, Form: "tight",
			Msg: d.Name + " already specified. Continuing."})
	}
	if len(a) == 0 || a[0].Value == "" {
		return tight("'%s' expects an integer argument (0..50).", d.Name)
	}
	if d.Name == "spread-checks" {
		n, digits := leadingUint(strings.TrimPrefix(a[0].Value, "-"))
		if strings.HasPrefix(a[0].Value, "-") {
			n = -n
		}
		_ = digits
		if n < 0 || n > 50 {
			return tight("'%s' needs a positive value in range 0..50.", d.Name)
		}
		g.SpreadChecks = n
		return nil
	}
	t, bad, err := parseHATime(a[0].Value, time.Millisecond)
	if err != nil {
		if bad != 0 {
			return tight("unsupported character '%c' in '%s' (wants an integer delay).", bad, d.Name)
		}
		return tight("timer overflow in argument '%s' to '%s' (maximum value is 2147483647 ms or ~24.8 days)", a[0].Value, d.Name)
	}
	g.MaxSpreadChecks = t
	return nil
}

// linkTrack checks and records `track`: the tracked server must run a
// check or an agent, or track another server itself, and both backends
// must agree on disable-on-404 (srv_apply_track).
func (c *hctx) linkTrack(st *pstate, srv *proxy.Server, target *pstate, sName string, pos parser.Pos, title string) {
	var ts *proxy.Server
	for _, s := range target.p.Servers {
		if s.Name == sName {
			ts = s
		}
	}
	if ts == nil {
		return
	}
	tex := c.srvExtra[ts]
	if !ts.Check && (ts.Agent == nil || !ts.Agent.Enabled) && (tex == nil || tex.track == "") {
		c.bare(parser.SevAlert, pos, fmt.Sprintf("%s : unable to use %s/%s for tracking as it does not have any check nor agent enabled.", title, target.p.Name, sName))
		return
	}
	if target != st && target.p.HealthCheck.DisableOn404 != st.p.HealthCheck.DisableOn404 {
		c.bare(parser.SevAlert, pos, fmt.Sprintf("%s : unable to use %s/%s for"+"tracking: disable-on-404 option inconsistency.", title, target.p.Name, sName))
		return
	}
	srv.TrackBackend, srv.TrackServer = target.p.Name, sName
}

// checkAgentPort refuses an agent check without a port, as haproxy does
// once the server line is read.
func checkAgentPort(srv *proxy.Server, title string) error {
	if srv.Agent == nil || !srv.Agent.Enabled {
		return nil
	}
	if srv.Agent.Port == 0 && srv.CheckPort == 0 {
		srv.Agent = nil
		return fmt.Errorf("%s : server %s does not have agent port. Agent check has been disabled.", title, srv.Name)
	}
	return nil
}
