// Package rules compiles and runs a proxy's layer-7 rules: http-request
// and http-response actions, redirect rules, use_backend, monitor-uri and
// cookie persistence (configuration.txt §4.2, §4.3).
//
// Rules are compiled once per configuration (Compile) from proxy.HTTPRule:
// Action is the word after http-request/http-response (e.g. "set-header",
// "set-var(txn.x)", "redirect"), Args the words that follow it up to the
// condition. A `redirect` line is an HTTPRule with Action "redirect" and
// Args starting with location|prefix|scheme.
package rules

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/logging"
)

// Txn is what actions change on a transaction, beyond what ACLs read.
type Txn interface {
	acl.Txn
	SetMethod(m []byte)
	SetURI(u []byte)
	SetStatus(code int, reason []byte)
}

// Outcome is what running a rule list decided.
type Outcome int

const (
	// Next: no rule stopped the list; carry on.
	Next Outcome = iota
	// Allow: an allow rule stopped the list; carry on with the next stage.
	Allow
	// Reply: send Result.Reply instead of forwarding.
	Reply
	// Drop: close the client connection without an answer (silent-drop).
	Drop
)

// Result is the outcome of a rule list with its reply, if any.
type Result struct {
	Outcome Outcome
	Reply   []byte // complete raw HTTP/1.1 response
	Status  int
	// Deny is true for deny/tarpit/auth (counted as denied requests).
	Deny bool
	// Local is true for return/redirect (HAProxy logs them "LR").
	Local bool
	// Redirect: HAProxy closes the connection after a redirect when the
	// request has a body, even a fully received one (checked against
	// 2.6.12; return and deny keep it open then).
	Redirect bool
}

type kind int

const (
	kAllow kind = iota
	kDeny
	kTarpit
	kReturn
	kRedirect
	kAuth
	kSetHeader
	kAddHeader
	kDelHeader
	kReplaceHeader
	kReplaceValue
	kSetPath
	kSetPathQ
	kSetQuery
	kSetURI
	kSetMethod
	kReplacePath
	kReplacePathQ
	kReplaceURI
	kSetVar
	kSetVarFmt
	kUnsetVar
	kCapture
	kSetStatus
	kSilentDrop
	kService
	kSetLogLevel
	kSetTimeout
	kStick      // track-sc, sc-inc-gpc, sc-set-gpt (actions_stick.go)
	kCacheUse   // cache-use (actions_cache.go)
	kCacheStore // cache-store
)

// Rule is one compiled http-request / http-response / redirect rule.
type Rule struct {
	kind   kind
	cond   *acl.Cond
	file   string
	line   int
	name   string // header name (lower case) / variable name
	nameB  []byte
	fmt    *logging.Format
	re     *regexp.Regexp
	expr   *acl.Expr
	reply  *reply
	rdr    *redirect
	realm  string
	status int
	reason []byte
	capLen int
	capID  int
	delM   string // del-header -m method
	conds  acl.SetVarConds
	svc    Service
	stk    *stickAction
	cache  CacheAction
}

// Service is an HTTP service an `http-request use-service` rule hands the
// request to (HAProxy's prometheus-exporter).
type Service interface {
	// Serve returns the complete raw response.
	Serve(dst []byte, ctx *acl.Ctx) []byte
}

// Errorer returns the raw error page a proxy answers with for a status
// (its errorfiles, else HAProxy's built-in page).
type Errorer func(status int) []byte

// Env is what compiling needs besides the rule itself.
type Env struct {
	ACL   *acl.Compiler
	Opts  *acl.Options
	Proxy *proxy.Proxy
	// Service resolves `use-service NAME`; nil refuses every service.
	Service func(name string) (Service, error)
	// HTTPErrors are the http-errors sections (`errorfiles NAME` in
	// return, deny and tarpit replies).
	HTTPErrors map[string]map[int][]byte
	// Cache resolves the cache of `cache-use NAME` / `cache-store NAME`
	// (actions_cache.go); nil refuses every cache.
	Cache func(name string) (CacheAction, error)

	actions map[string]*actionDef // actionTable(), built once
}

// CompileHTTP compiles an http-request (response=false) or http-response
// rule list. Errors name the rule's line.
func CompileHTTP(list []*proxy.HTTPRule, response bool, env *Env) ([]*Rule, error) {
	var out []*Rule
	for _, hr := range list {
		r, err := compileRule(hr, response, env)
		if err != nil {
			if hr.Line > 0 {
				return nil, fmt.Errorf("line %d: '%s %s': %w", hr.Line, side(response), hr.Action, err)
			}
			return nil, fmt.Errorf("'%s %s': %w", side(response), hr.Action, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func side(response bool) string {
	if response {
		return "http-response"
	}
	return "http-request"
}

// actionCtx is what an action's compile function reads: the rule's
// words, where it is written and the compile environment.
type actionCtx struct {
	action   string // as written, e.g. "set-var(txn.x)"
	param    string // what the parentheses held ("txn.x")
	args     []string
	response bool
	http     bool // an http-request/-response rule (not tcp-request)
	env      *Env
}

func (a *actionCtx) need(n int, usage string) error {
	if len(a.args) < n {
		return fmt.Errorf("expects %s", usage)
	}
	return nil
}

func (a *actionCtx) lf(s string) (*logging.Format, error) {
	return logging.Compile(s, logging.CtxAction, a.env.Opts)
}

func compileRule(hr *proxy.HTTPRule, response bool, env *Env) (*Rule, error) {
	cond, err := env.ACL.Cond(hr.Cond)
	if err != nil {
		return nil, err
	}
	r := &Rule{cond: cond, line: hr.Line}
	if env.Proxy != nil {
		r.file = env.Proxy.File
	}
	a := &actionCtx{action: hr.Action, args: hr.Args, response: response, http: true, env: env}
	name := hr.Action
	if i := strings.IndexByte(name, '('); i >= 0 && strings.HasSuffix(name, ")") {
		name, a.param = name[:i], name[i+1:len(name)-1]
	} else if n, p, ok := splitTrack(name); ok {
		name, a.param = n, p
	}
	if env.actions == nil {
		env.actions = actionTable()
	}
	d := env.actions[name]
	set := HTTPRequest
	if response {
		set = HTTPResponse
	}
	if d == nil || d.Rulesets&set == 0 {
		return nil, fmt.Errorf("unsupported action '%s'", hr.Action)
	}
	if err := d.compile(r, a); err != nil {
		return nil, err
	}
	return r, nil
}

// logLevel maps a syslog level name to its severity, -1 for "silent",
// -2 for an unknown name.
func logLevel(s string) int {
	if s == "silent" {
		return -1
	}
	for i, n := range []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"} {
		if n == s {
			return i
		}
	}
	return -2
}

// reply is a compiled deny/return answer.
type reply struct {
	status      int
	contentType string
	body        []byte          // static body
	bodyFmt     *logging.Format // lf-string / lf-file
	hdrs        []hdrArg
	raw         []byte // prebuilt raw response when nothing is dynamic
	errorPage   bool   // use the proxy's error page for status
	section     string // errorfiles NAME: the http-errors section
}

type hdrArg struct {
	name string
	fmt  *logging.Format
}

// parseReply reads HAProxy's http reply arguments (configuration.txt
// §4.2 "http-request return"): [status N] [content-type T]
// [errorfile F | errorfiles N | file F | lf-file F | string S |
// lf-string S] [hdr N V]*; deny also accepts deny_status N.
func parseReply(args []string, def int, isDeny bool, env *Env) (*reply, error) {
	rp := &reply{status: def}
	hasContent := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("'%s' expects an argument", a)
			}
			i++
			return args[i], nil
		}
		switch a {
		case "status", "deny_status":
			v, err := val()
			if err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 200 || n > 599 {
				return nil, fmt.Errorf("'%s' expects a status code between 200 and 599", a)
			}
			rp.status = n
		case "content-type":
			v, err := val()
			if err != nil {
				return nil, err
			}
			rp.contentType = v
		case "string", "lf-string", "file", "lf-file", "errorfile", "errorfiles", "default-errorfiles":
			if hasContent {
				return nil, fmt.Errorf("only one content argument is allowed")
			}
			hasContent = true
			if a == "default-errorfiles" {
				rp.errorPage = true
				continue
			}
			v, err := val()
			if err != nil {
				return nil, err
			}
			switch a {
			case "string":
				rp.body = []byte(v)
			case "lf-string":
				f, err := logging.Compile(v, logging.CtxAction, env.Opts)
				if err != nil {
					return nil, err
				}
				rp.bodyFmt = f
			case "file", "lf-file", "errorfile":
				data, err := os.ReadFile(v)
				if err != nil {
					return nil, fmt.Errorf("failed to open file '%s'", v)
				}
				switch a {
				case "file":
					rp.body = data
				case "lf-file":
					f, err := logging.Compile(string(data), logging.CtxAction, env.Opts)
					if err != nil {
						return nil, err
					}
					rp.bodyFmt = f
				default:
					rp.raw = data
				}
			case "errorfiles":
				// that http-errors section's page; without one for the
				// status, the proxy's (HAProxy's HTTP_REPLY_ERRFILES)
				rp.section = v
			}
		case "hdr":
			if i+2 >= len(args) {
				return nil, fmt.Errorf("'hdr' expects <name> <fmt>")
			}
			f, err := logging.Compile(args[i+2], logging.CtxAction, env.Opts)
			if err != nil {
				return nil, err
			}
			rp.hdrs = append(rp.hdrs, hdrArg{name: strings.ToLower(args[i+1]), fmt: f})
			i += 2
		default:
			return nil, fmt.Errorf("unexpected keyword '%s'", a)
		}
	}
	if (len(rp.body) > 0 || rp.bodyFmt != nil) && rp.contentType == "" {
		return nil, fmt.Errorf("a content-type is required with a body")
	}
	if rp.section != "" {
		if page, ok := env.HTTPErrors[rp.section][rp.status]; ok {
			rp.raw = page
		} else {
			rp.errorPage = true
		}
	}
	if rp.raw != nil || rp.errorPage {
		rp.hdrs = nil // ignored with an errorfile, as HAProxy warns
	}
	if rp.bodyFmt == nil && len(rp.body) == 0 {
		// no payload: a content-type is not sent (HAProxy warns at
		// parse time that it is ignored)
		rp.contentType = ""
	}
	// deny/return without any content: the error page (deny) or an empty
	// answer (return).
	if isDeny && !hasContent && rp.contentType == "" && len(rp.hdrs) == 0 {
		rp.errorPage = true
	}
	if !rp.errorPage && rp.raw == nil && rp.bodyFmt == nil && len(rp.hdrs) == 0 {
		rp.raw = appendReply(nil, rp.status, nil, nil, rp.contentType, rp.body, nil)
	}
	return rp, nil
}

// compileErrorReply compiles an http-error page with log-format parts.
func compileErrorReply(r *proxy.Reply, env *Env) (*reply, error) {
	rp := &reply{status: r.Status, contentType: r.ContentType}
	if r.BodyLF {
		f, err := logging.Compile(r.Body, logging.CtxAction, env.Opts)
		if err != nil {
			return nil, err
		}
		rp.bodyFmt = f
	} else {
		rp.body = []byte(r.Body)
	}
	for _, h := range r.Headers {
		f, err := logging.Compile(h[1], logging.CtxAction, env.Opts)
		if err != nil {
			return nil, err
		}
		rp.hdrs = append(rp.hdrs, hdrArg{name: strings.ToLower(h[0]), fmt: f})
	}
	return rp, nil
}

// appendReply builds a raw HAProxy-style reply: status line, the hdr
// arguments, content-length, content-type, then the body.
func appendReply(dst []byte, status int, hdrNames []string, hdrVals [][]byte, ctype string, body []byte, extra []byte) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, Reason(status)...)
	dst = append(dst, "\r\n"...)
	for i, n := range hdrNames {
		dst = append(dst, n...)
		dst = append(dst, ": "...)
		dst = append(dst, hdrVals[i]...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "content-length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n"...)
	if ctype != "" {
		dst = append(dst, "content-type: "...)
		dst = append(dst, ctype...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, extra...)
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}

// Reason returns HAProxy's reason phrase for a status (src/http.c).
func Reason(code int) string {
	if r, ok := reasons[code]; ok {
		return r
	}
	switch {
	case code < 200:
		return "Informational"
	case code < 300:
		return "Success"
	case code < 400:
		return "Redirection"
	case code < 500:
		return "Client Error"
	}
	return "Server Error"
}

var reasons = map[int]string{
	100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
	200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
	204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
	210: "Content Different", 226: "IM Used",
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
	304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
	310: "Too many Redirects",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
	407: "Proxy Authentication Required", 408: "Request Time-out", 409: "Conflict",
	410: "Gone", 411: "Length Required", 412: "Precondition Failed",
	413: "Request Entity Too Large", 414: "Request-URI Too Long",
	415: "Unsupported Media Type", 416: "Requested range unsatisfiable",
	417: "Expectation failed", 418: "I'm a teapot", 421: "Misdirected Request",
	422: "Unprocessable entity", 423: "Locked", 424: "Method failure", 425: "Too Early",
	426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
	431: "Request Header Fields Too Large", 449: "Retry With",
	450: "Blocked by Windows Parental Controls", 451: "Unavailable For Legal Reasons",
	456: "Unrecoverable Error", 499: "client has closed connection",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway or Proxy Error",
	503: "Service Unavailable", 504: "Gateway Time-out", 505: "HTTP Version not supported",
	506: "Variant also negociate", 507: "Insufficient storage", 508: "Loop detected",
	509: "Bandwidth Limit Exceeded", 510: "Not extended", 511: "Network authentication required",
	520: "Web server is returning an unknown error",
}

// redirect is a compiled redirect rule (configuration.txt §4.2 "redirect").
type redirect struct {
	typ         string // location, prefix, scheme
	to          *logging.Format
	toSlash     bool // prefix "/" adds nothing
	code        int
	dropQuery   bool
	appendSlash bool
	// ignoreEmpty: a location that formats to nothing skips the rule
	// (without it HAProxy sends an empty Location header).
	ignoreEmpty bool
	cookie      string // full Set-Cookie value, or ""
}

// parseRedirect reads a redirect rule's words in any order, as HAProxy's
// http_parse_redirect_rule does: "code 301 location /x" is as valid as
// "location /x code 301"; the last type keyword wins.
func parseRedirect(args []string, env *Env) (*redirect, error) {
	rd := &redirect{code: 302}
	dest := ""
	for i := 0; i < len(args); i++ {
		k := args[i]
		switch k {
		case "location", "prefix", "scheme", "set-cookie", "clear-cookie", "code":
			if i+1 >= len(args) || args[i+1] == "" {
				return nil, fmt.Errorf("missing argument for '%s'", k)
			}
		}
		switch k {
		case "location", "prefix", "scheme":
			rd.typ, dest = k, args[i+1]
			i++
		case "code":
			n := atolPrefix(args[i+1])
			if n < 301 || n > 308 || (n > 303 && n < 307) {
				return nil, fmt.Errorf("'%s': unsupported HTTP code '%s' (must be one of 301, 302, 303, 307 or 308)", k, args[i+1])
			}
			rd.code = n
			i++
		case "drop-query":
			rd.dropQuery = true
		case "append-slash":
			rd.appendSlash = true
		case "ignore-empty":
			rd.ignoreEmpty = true
		case "set-cookie":
			rd.cookie = args[i+1] + "; path=/;"
			i++
		case "clear-cookie":
			rd.cookie = args[i+1] + "; path=/; Max-Age=0;"
			i++
		default:
			return nil, fmt.Errorf("expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query', 'ignore-empty' or 'append-slash' (was '%s')", k)
		}
	}
	if rd.typ == "" {
		return nil, fmt.Errorf("redirection type expected")
	}
	f, err := logging.Compile(dest, logging.CtxAction, env.Opts)
	if err != nil {
		return nil, err
	}
	rd.to = f
	rd.toSlash = dest == "/"
	return rd, nil
}

// atolPrefix is C's atol: the leading digits, 0 without any.
func atolPrefix(s string) int {
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9' && n < 1e6; i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// buildRedirect renders the redirect answer into dst. ok is false when
// the target evaluated empty (HAProxy then skips the rule).
func (rd *redirect) build(dst []byte, st *State) ([]byte, bool) {
	t := st.Ctx.T
	loc := st.tmp[:0]
	switch rd.typ {
	case "location":
		loc = rd.to.Append(loc, &st.Entry)
		if len(loc) == 0 && rd.ignoreEmpty {
			return dst, false
		}
	case "prefix", "scheme":
		if rd.typ == "scheme" {
			loc = rd.to.Append(loc, &st.Entry)
			loc = append(loc, "://"...)
			h, _ := firstHeader(t.ReqHeaders(), hostHdr)
			loc = append(loc, h...)
		} else if !rd.toSlash {
			loc = rd.to.Append(loc, &st.Entry)
		}
		start := len(loc)
		loc = append(loc, t.Path()...)
		if q := t.Query(); q != nil {
			loc = append(loc, '?')
			loc = append(loc, q...)
		}
		if rd.dropQuery {
			if i := bytes.IndexByte(loc[start:], '?'); i >= 0 {
				loc = loc[:start+i]
			}
		}
		if rd.appendSlash && (len(loc) == 0 || loc[len(loc)-1] != '/') {
			loc = append(loc, '/')
		}
	}
	st.tmp = loc
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(rd.code), 10)
	dst = append(dst, ' ')
	dst = append(dst, Reason(rd.code)...)
	dst = append(dst, "\r\ncontent-length: 0\r\nlocation: "...)
	dst = append(dst, loc...)
	dst = append(dst, "\r\n"...)
	// HAProxy marks temporary redirects uncacheable.
	if rd.code == 302 || rd.code == 303 || rd.code == 307 {
		dst = append(dst, "cache-control: no-cache\r\n"...)
	}
	if rd.cookie != "" {
		dst = append(dst, "set-cookie: "...)
		dst = append(dst, rd.cookie...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...), true
}

var hostHdr = []byte("host")

func firstHeader(hl acl.HeaderList, name []byte) ([]byte, bool) {
	if hl == nil {
		return nil, false
	}
	for i := 0; i < hl.Len(); i++ {
		k, v := hl.At(i)
		if bytes.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}
