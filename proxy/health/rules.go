package health

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/logging"
)

// Proto is the kind of a ruleset, HAProxy's TCPCHK_RULES_*_CHK: it decides
// how expect rules read the answer (raw bytes or an HTTP response) and
// which generic messages are printed (only plain tcp-check rulesets name
// their steps).
type Proto int

const (
	ProtoNone  Proto = iota // `check` without a check option: a connect
	ProtoTCP                // option tcp-check
	ProtoHTTP               // option httpchk
	ProtoRedis              // option redis-check
	ProtoSSL3               // option ssl-hello-chk
	ProtoSMTP               // option smtpchk
	ProtoPgSQL              // option pgsql-check
	ProtoMySQL              // option mysql-check
	ProtoLDAP               // option ldap-check
	ProtoSPOP               // option spop-check
	ProtoAgent              // agent-check
)

// ruleKind is a rule's action (TCPCHK_ACT_*).
type ruleKind int

const (
	actConnect ruleKind = iota
	actSend
	actExpect
	actSetVar
	actUnsetVar
)

// sendKind is a send rule's data type.
type sendKind int

const (
	sendString   sendKind = iota // bytes as written
	sendStringLF                 // log-format string
	sendBinaryLF                 // log-format string giving hex digits
	sendHTTP                     // an HTTP request
	sendFunc                     // built by a protocol check's function
)

// expectKind is an expect rule's match type (TCPCHK_EXPECT_*).
type expectKind int

const (
	expString expectKind = iota
	expStringRegex
	expStringLF
	expBinary
	expBinaryRegex
	expBinaryLF
	expCustom
	expHTTPStatus
	expHTTPStatusRegex
	expHTTPHeader
	expHTTPBody
	expHTTPBodyRegex
	expHTTPBodyLF
)

// evalRet is what evaluating a rule says to do next.
type evalRet int

const (
	evalContinue evalRet = iota // next rule
	evalWait                    // read more, then evaluate again
	evalStop                    // the check is over (status set)
)

// customFunc is a protocol check's expect function (mysql, ldap, spop,
// agent): it reads r.in and sets the status when it stops.
type customFunc func(r *run, ru *rule, lastRead bool) evalRet

// headerMatch is a name or value pattern of `http-check expect hdr`.
type headerMatch struct {
	how  string // str, beg, end, sub, reg
	text string
	re   *regexp.Regexp
	lf   *logging.Format
}

type rule struct {
	kind    ruleKind
	index   int
	comment string

	// connect
	port      int
	portExpr  *acl.Expr
	addr      netip.AddrPort
	def       bool // default: the server's check settings
	implicit  bool // inserted by HAProxy, not written
	sendProxy bool
	linger    bool
	ssl       bool
	sni       string
	alpn      []string
	proto     string // connect's mux: "h1", "h2" or "" (the default)

	// send
	send     sendKind
	data     []byte
	fmt      *logging.Format
	sendFn   func(r *run) []byte
	http     *httpSend
	fromOpts bool

	// expect
	exp       expectKind
	inverse   bool
	minRecv   int
	pattern   []byte // string / binary / http body
	re        *regexp.Regexp
	codes     [][2]int
	custom    customFunc
	okStatus  Status
	errStatus Status
	toutSt    Status
	onSuccess *logging.Format
	onError   *logging.Format
	// onSuccessFn / onErrorFn are the protocol checks' messages, which
	// HAProxy writes as log-format strings over res.payload.
	onSuccessFn func(r *run) string
	onErrorFn   func(r *run) string
	statusExpr  *acl.Expr
	statusFn    func(r *run) (int, bool)
	head        int // index in Ruleset.rules of the first rule to re-run on wait
	hdrFull     bool
	hdrName     headerMatch
	hdrValue    *headerMatch // nil: any value

	// set-var / unset-var
	varName string
	expr    *acl.Expr
}

// httpSend is an http-check send rule.
type httpSend struct {
	method, uri, version string
	uriFmt, bodyFmt      *logging.Format
	headers              []httpHdr
	body                 string
	hasBody              bool
}

type httpHdr struct {
	name  string
	value *logging.Format
}

// Ruleset is a compiled check: the rules one check runs, in order, and
// the variables preset before each run.
type Ruleset struct {
	Proto Proto
	rules []*rule
	vars  [][2]string // check.* variables set before the first rule
	// disableOn404 / sendState come from the backend (http-check
	// disable-on-404 / send-state).
	disableOn404 bool
	sendState    bool
}

// Compile builds the ruleset a backend's server checks run, as HAProxy
// does once its configuration is read: the protocol checks' pre-written
// rule lists, an implicit connect first when the rules do not start with
// one, the implicit `http-check expect status 200-399` after a last send,
// comments attached to the rules that follow them. Sample expressions and
// log-format strings are compiled with o.
func Compile(hc *proxy.HealthCheck, o *acl.Options) (*Ruleset, error) {
	rs := &Ruleset{disableOn404: hc.DisableOn404, sendState: hc.SendState}
	switch hc.Type {
	case proxy.CheckDefault:
		rs.Proto = ProtoNone
	case proxy.CheckTCP:
		rs.Proto = ProtoTCP
	case proxy.CheckHTTP:
		rs.Proto = ProtoHTTP
	case proxy.CheckRedis:
		return redisRuleset(rs), nil
	case proxy.CheckSSLHello:
		return sslHelloRuleset(rs), nil
	case proxy.CheckSMTP:
		return smtpRuleset(rs, hc.SMTPHello), nil
	case proxy.CheckPgSQL:
		return pgsqlRuleset(rs, hc.User), nil
	case proxy.CheckMySQL:
		return mysqlRuleset(rs, hc.User, hc.MySQLPre41), nil
	case proxy.CheckLDAP:
		return ldapRuleset(rs), nil
	case proxy.CheckSPOP:
		return spopRuleset(rs), nil
	case proxy.CheckExternal:
		return nil, errors.New("external checks are not supported")
	}
	var pending string // comment rules attach to the rules that follow
	prev := proxy.CheckComment
	for i := range hc.Rules {
		cr := &hc.Rules[i]
		if cr.Action != prev && prev != proxy.CheckComment {
			pending = ""
		}
		prev = cr.Action
		if cr.Action == proxy.CheckComment {
			pending = cr.Comment
			continue
		}
		ru, err := compileRule(cr, rs.Proto, o)
		if err != nil {
			return nil, fmt.Errorf("parsing [%s:%d] : %w", cr.File, cr.Line, err)
		}
		switch ru.kind {
		case actConnect, actSend, actExpect:
			if ru.comment == "" {
				ru.comment = pending
			}
		}
		if ru.kind == actConnect || ru.kind == actSetVar || ru.kind == actUnsetVar {
			pending = ""
		}
		rs.rules = append(rs.rules, ru)
	}
	if rs.Proto == ProtoHTTP {
		// The request of `option httpchk` goes after a first connect.
		if len(rs.rules) > 1 && rs.rules[0].kind == actSend && rs.rules[0].fromOpts && rs.rules[1].kind == actConnect {
			rs.rules[0], rs.rules[1] = rs.rules[1], rs.rules[0]
			rs.rules[1].index = rs.rules[0].index
		}
		if n := len(rs.rules); n > 0 && rs.rules[n-1].kind == actSend {
			last := rs.rules[n-1]
			ex, _ := compileRule(&proxy.CheckRule{Action: proxy.CheckExpect, Expect: proxy.CheckMatch{Type: "status", Pattern: "200-399", MinRecv: -1}}, ProtoHTTP, o)
			ex.index = last.index
			rs.rules = append(rs.rules, ex)
		}
	}
	rs.finish()
	return rs, nil
}

// finish inserts the implicit first connect and links each expect to the
// first inverse expect of its chain (re-evaluated when more data comes).
func (rs *Ruleset) finish() {
	if first := rs.firstAction(); first == nil || first.kind != actConnect {
		rs.rules = append([]*rule{{kind: actConnect, def: true, implicit: true}}, rs.rules...)
	}
	for i, ru := range rs.rules {
		if ru.kind != actExpect {
			continue
		}
		ru.head = i
		for j := i - 1; j >= 0; j-- {
			p := rs.rules[j]
			if p.kind == actExpect {
				if p.inverse {
					ru.head = j
				}
				continue
			}
			if p.kind != actSetVar && p.kind != actUnsetVar {
				break
			}
		}
	}
}

func (rs *Ruleset) firstAction() *rule {
	for _, ru := range rs.rules {
		if ru.kind != actSetVar && ru.kind != actUnsetVar {
			return ru
		}
	}
	return nil
}

// ConnectPort is the port of the ruleset's first rule when it is a
// connect naming one (HAProxy accepts servers without a port then).
func (rs *Ruleset) ConnectPort() int {
	if ru := rs.firstAction(); ru != nil && ru.kind == actConnect && !ru.implicit {
		if ru.port > 0 {
			return ru.port
		}
		return int(ru.addr.Port())
	}
	return 0
}

var checkStatuses = map[string]Status{
	"L4OK": StatusL4OK, "L6OK": StatusL6OK, "L7OK": StatusL7OK, "L7OKC": StatusL7OKC,
	"L7RSP": StatusL7Rsp, "L7STS": StatusL7Sts, "L6RSP": StatusL6Rsp, "L4CON": StatusL4Con,
	"L7TOUT": StatusL7Tout, "L6TOUT": StatusL6Tout, "L4TOUT": StatusL4Tout,
}

func compileRule(cr *proxy.CheckRule, proto Proto, o *acl.Options) (*rule, error) {
	ru := &rule{index: cr.Index, comment: cr.Comment}
	lf := func(s string) (*logging.Format, error) {
		f, err := logging.Compile(s, logging.CtxAction, o)
		if err != nil {
			return nil, fmt.Errorf("'%s' invalid log-format string (%v)", s, err)
		}
		return f, nil
	}
	var err error
	switch cr.Action {
	case proxy.CheckConnect:
		ru.kind = actConnect
		ru.port, ru.addr, ru.def = cr.Port, cr.Addr, cr.Default
		ru.sendProxy, ru.linger, ru.ssl, ru.sni, ru.alpn = cr.SendProxy, cr.Linger, cr.SSL, cr.SNI, cr.ALPN
		if cr.Proto == "h1" || cr.Proto == "h2" {
			ru.proto = cr.Proto
		}
		if cr.PortExpr != "" {
			if ru.portExpr, err = acl.ParseExpr(cr.PortExpr, o); err != nil {
				return nil, fmt.Errorf("error detected while parsing port expression : %v", err)
			}
		}
	case proxy.CheckSend:
		ru.kind = actSend
		switch {
		case cr.LF && cr.Binary:
			ru.send = sendBinaryLF
			ru.fmt, err = lf(cr.Data)
		case cr.LF:
			ru.send = sendStringLF
			ru.fmt, err = lf(cr.Data)
		case cr.Binary:
			ru.data, err = parseBinary(cr.Data)
			if err != nil {
				err = fmt.Errorf("'%s' invalid binary string (%v)", cr.Data, err)
			}
		default:
			ru.data = []byte(cr.Data)
		}
	case proxy.CheckSendHTTP:
		ru.kind, ru.send, ru.fromOpts = actSend, sendHTTP, cr.FromOption
		h := &httpSend{method: cr.Method, uri: cr.URI, version: cr.Version, body: cr.Body, hasBody: cr.HasBody}
		if cr.URILF && cr.URI != "" {
			if h.uriFmt, err = lf(cr.URI); err != nil {
				return nil, err
			}
		}
		if cr.BodyLF && cr.HasBody {
			if h.bodyFmt, err = lf(cr.Body); err != nil {
				return nil, err
			}
		}
		for _, hd := range cr.Headers {
			f, err := lf(hd[1])
			if err != nil {
				return nil, err
			}
			h.headers = append(h.headers, httpHdr{name: hd[0], value: f})
		}
		ru.http = h
	case proxy.CheckExpect:
		ru.kind = actExpect
		err = compileExpect(ru, &cr.Expect, proto, lf, o)
	case proxy.CheckSetVar:
		ru.kind, ru.varName = actSetVar, cr.Var
		if cr.Fmt {
			ru.fmt, err = lf(cr.Expr)
		} else if ru.expr, err = acl.ParseExpr(cr.Expr, o); err != nil {
			err = fmt.Errorf("'set-var(%s)' : %v", strings.TrimPrefix(cr.Var, "check."), err)
		}
	case proxy.CheckUnsetVar:
		ru.kind, ru.varName = actUnsetVar, cr.Var
	default:
		return nil, fmt.Errorf("unknown check rule %d", cr.Action)
	}
	if err != nil {
		return nil, err
	}
	return ru, nil
}

func compileExpect(ru *rule, e *proxy.CheckMatch, proto Proto, lf func(string) (*logging.Format, error), o *acl.Options) error {
	var err error
	ru.inverse, ru.minRecv = e.Negate, e.MinRecv
	for _, s := range []struct {
		name string
		dst  *Status
	}{{e.OKStatus, &ru.okStatus}, {e.ErrorStatus, &ru.errStatus}, {e.ToutStatus, &ru.toutSt}} {
		if s.name != "" {
			*s.dst = checkStatuses[strings.ToUpper(s.name)]
		}
	}
	if e.OnSuccess != "" {
		if ru.onSuccess, err = lf(e.OnSuccess); err != nil {
			return err
		}
	}
	if e.OnError != "" {
		if ru.onError, err = lf(e.OnError); err != nil {
			return err
		}
	}
	if e.StatusCode != "" {
		if ru.statusExpr, err = acl.ParseExpr(e.StatusCode, o); err != nil {
			return fmt.Errorf("error detected while parsing status-code expression : %v", err)
		}
	}
	http := proto == ProtoHTTP
	switch e.Type {
	case "string":
		ru.exp, ru.pattern = expString, []byte(e.Pattern)
		if http {
			ru.exp = expHTTPBody
		}
	case "rstring":
		ru.exp = expStringRegex
		if http {
			ru.exp = expHTTPBodyRegex
		}
		ru.re, err = compileRegex(e.Pattern)
	case "binary":
		ru.exp = expBinary
		if ru.pattern, err = parseBinary(e.Pattern); err != nil {
			err = fmt.Errorf("invalid binary string (%v)", err)
		}
	case "rbinary":
		ru.exp = expBinaryRegex
		ru.re, err = compileRegex(e.Pattern)
	case "string-lf":
		ru.exp = expStringLF
		if http {
			ru.exp = expHTTPBodyLF
		}
		ru.fmt, err = lf(e.Pattern)
	case "binary-lf":
		ru.exp = expBinaryLF
		ru.fmt, err = lf(e.Pattern)
	case "status":
		ru.exp = expHTTPStatus
		ru.codes, err = parseStatusCodes(e.Pattern)
	case "rstatus":
		ru.exp = expHTTPStatusRegex
		ru.re, err = compileRegex(e.Pattern)
	case "hdr":
		ru.exp, ru.hdrFull = expHTTPHeader, e.Full
		ru.hdrName, err = compileHeaderMatch(e.NameMatch, e.Name, e.NameLF, false, lf)
		if err == nil && e.HasValue {
			var v headerMatch
			v, err = compileHeaderMatch(e.ValueMatch, e.Value, e.ValueLF, true, lf)
			ru.hdrValue = &v
		}
	case "custom":
		ru.exp = expCustom
	default:
		return fmt.Errorf("unknown expect type '%s'", e.Type)
	}
	return err
}

func compileHeaderMatch(how, text string, isLF, value bool, lf func(string) (*logging.Format, error)) (headerMatch, error) {
	if how == "" {
		how = "str"
	}
	m := headerMatch{how: how, text: text}
	var err error
	switch {
	case how == "reg":
		// Header names match case-insensitively (HAProxy compiles the
		// name regex with REG_ICASE); values as written.
		if !value {
			text = "(?i)" + text
		}
		m.re, err = compileRegex(text)
	case isLF:
		m.lf, err = lf(text)
	}
	return m, err
}

// compileRegex compiles a PCRE-style pattern with Go's RE2 (the patterns
// checks use — anchors, classes, repetitions — mean the same).
func compileRegex(p string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("regex '%s' is invalid: %v", p, err)
	}
	return re, nil
}

// parseStatusCodes reads "200", "200-399", "200,301-302" as HAProxy's
// expect status does.
func parseStatusCodes(p string) ([][2]int, error) {
	var out [][2]int
	rest := p
	for {
		c1, n := readUint(rest)
		rest = rest[n:]
		c2 := c1
		if strings.HasPrefix(rest, "-") {
			c2, n = readUint(rest[1:])
			rest = rest[1+n:]
		}
		if c1 > c2 {
			return nil, fmt.Errorf("invalid range of status codes '%s'", p)
		}
		out = append(out, [2]int{c1, c2})
		if rest == "" {
			return out, nil
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("invalid character '%c' in the list of status codes", rest[0])
		}
		rest = rest[1:]
	}
}

func readUint(s string) (int, int) {
	n, i := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int(s[i]-'0')
		i++
	}
	return n, i
}

// parseBinary reads a hex string as HAProxy's parse_binary does: an even
// number of hex digits, spaces not allowed.
func parseBinary(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, errors.New("an even number of hex digit is expected")
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		for i := 0; i < len(s); i++ {
			if !isHex(s[i]) {
				return nil, fmt.Errorf("'%c' is not a hex digit", s[i])
			}
		}
		return nil, err
	}
	return b, nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// stepID is HAProxy's tcpcheck_get_step_id: 0 for the implicit first
// connect, the rule index + 1 otherwise.
func (ru *rule) stepID() int {
	if ru == nil {
		return 1
	}
	if ru.index == 0 && ru.kind == actConnect && ru.implicit {
		return 0
	}
	return ru.index + 1
}

func itoa(n int) string { return strconv.Itoa(n) }
