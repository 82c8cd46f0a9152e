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
	kNoop
)

// Rule is one compiled http-request / http-response / redirect rule.
type Rule struct {
	kind   kind
	cond   *acl.Cond
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
	svc    Service
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

func compileRule(hr *proxy.HTTPRule, response bool, env *Env) (*Rule, error) {
	cond, err := env.ACL.Cond(hr.Cond)
	if err != nil {
		return nil, err
	}
	r := &Rule{cond: cond, line: hr.Line}
	action, args := hr.Action, hr.Args
	param := ""
	if i := strings.IndexByte(action, '('); i >= 0 && strings.HasSuffix(action, ")") {
		action, param = action[:i], action[i+1:len(action)-1]
	}
	need := func(n int, usage string) error {
		if len(args) < n {
			return fmt.Errorf("expects %s", usage)
		}
		return nil
	}
	lf := func(s string) (*logging.Format, error) {
		return logging.Compile(s, logging.CtxAction, env.Opts)
	}
	switch action {
	case "allow":
		r.kind = kAllow
	case "deny", "tarpit":
		r.kind = kDeny
		if action == "tarpit" {
			r.kind = kTarpit
		}
		def := 403
		if action == "tarpit" {
			def = 500
		}
		if response {
			def = 502
		}
		rp, err := parseReply(args, def, true, env)
		if err != nil {
			return nil, err
		}
		r.reply = rp
	case "return":
		r.kind = kReturn
		rp, err := parseReply(args, 200, false, env)
		if err != nil {
			return nil, err
		}
		r.reply = rp
	case "redirect", "location", "prefix", "scheme":
		if action != "redirect" {
			args = append([]string{action}, args...)
		}
		r.kind = kRedirect
		rd, err := parseRedirect(args, env)
		if err != nil {
			return nil, err
		}
		r.rdr = rd
	case "auth":
		r.kind = kAuth
		r.realm = env.Proxy.Name
		for i := 0; i < len(args); i++ {
			if args[i] == "realm" && i+1 < len(args) {
				r.realm = args[i+1]
				i++
			} else {
				return nil, fmt.Errorf("expects [realm <realm>], got '%s'", args[i])
			}
		}
	case "set-header", "add-header":
		if err := need(2, "exactly 2 arguments"); err != nil {
			return nil, err
		}
		r.kind = kSetHeader
		if action == "add-header" {
			r.kind = kAddHeader
		}
		r.name, r.nameB = strings.ToLower(args[0]), []byte(strings.ToLower(args[0]))
		f, err := lf(strings.Join(args[1:], " "))
		if err != nil {
			return nil, err
		}
		r.fmt = f
	case "del-header":
		if err := need(1, "at least 1 argument"); err != nil {
			return nil, err
		}
		r.kind = kDelHeader
		r.name, r.nameB = strings.ToLower(args[0]), []byte(strings.ToLower(args[0]))
		if len(args) >= 3 && args[1] == "-m" {
			r.delM = args[2]
			switch r.delM {
			case "str", "beg", "end", "sub", "reg":
			default:
				return nil, fmt.Errorf("unknown matching method '%s'", r.delM)
			}
			if r.delM == "reg" {
				re, err := regexp.Compile(args[0])
				if err != nil {
					return nil, err
				}
				r.re = re
			}
		}
	case "replace-header", "replace-value":
		if err := need(3, "exactly 3 arguments"); err != nil {
			return nil, err
		}
		r.kind = kReplaceHeader
		if action == "replace-value" {
			r.kind = kReplaceValue
		}
		r.name, r.nameB = strings.ToLower(args[0]), []byte(strings.ToLower(args[0]))
		re, err := regexp.Compile(args[1])
		if err != nil {
			return nil, fmt.Errorf("invalid regex '%s': %v", args[1], err)
		}
		r.re = re
		f, err := lf(args[2])
		if err != nil {
			return nil, err
		}
		r.fmt = f
	case "set-path", "set-pathq", "set-query", "set-uri", "set-method":
		if err := need(1, "exactly 1 argument"); err != nil {
			return nil, err
		}
		r.kind = map[string]kind{"set-path": kSetPath, "set-pathq": kSetPathQ, "set-query": kSetQuery,
			"set-uri": kSetURI, "set-method": kSetMethod}[action]
		f, err := lf(args[0])
		if err != nil {
			return nil, err
		}
		r.fmt = f
	case "replace-path", "replace-pathq", "replace-uri":
		if err := need(2, "exactly 2 arguments"); err != nil {
			return nil, err
		}
		r.kind = map[string]kind{"replace-path": kReplacePath, "replace-pathq": kReplacePathQ, "replace-uri": kReplaceURI}[action]
		re, err := regexp.Compile(args[0])
		if err != nil {
			return nil, fmt.Errorf("invalid regex '%s': %v", args[0], err)
		}
		r.re = re
		f, err := lf(args[1])
		if err != nil {
			return nil, err
		}
		r.fmt = f
	case "set-var", "set-var-fmt":
		if param == "" || len(args) < 1 {
			return nil, fmt.Errorf("expects a variable name and an expression")
		}
		if err := checkVarName(param); err != nil {
			return nil, err
		}
		r.name = param
		if action == "set-var-fmt" {
			r.kind = kSetVarFmt
			f, err := lf(strings.Join(args, " "))
			if err != nil {
				return nil, err
			}
			r.fmt = f
		} else {
			r.kind = kSetVar
			e, err := acl.ParseExpr(args[0], env.Opts)
			if err != nil {
				return nil, err
			}
			r.expr = e
		}
	case "unset-var":
		if err := checkVarName(param); err != nil {
			return nil, err
		}
		r.kind, r.name = kUnsetVar, param
	case "capture":
		// capture <sample> len <n> | id <n>
		if len(args) < 3 {
			return nil, fmt.Errorf("expects <sample> len <length> | id <idx>")
		}
		e, err := acl.ParseExpr(args[0], env.Opts)
		if err != nil {
			return nil, err
		}
		r.kind, r.expr, r.capID = kCapture, e, -1
		n, err := strconv.Atoi(args[2])
		if err != nil || n < 0 {
			return nil, fmt.Errorf("invalid length or id '%s'", args[2])
		}
		switch args[1] {
		case "len":
			r.capLen = n
		case "id":
			r.capID = n
		default:
			return nil, fmt.Errorf("expects 'len' or 'id', got '%s'", args[1])
		}
	case "set-status":
		if !response {
			return nil, fmt.Errorf("is only valid in http-response")
		}
		if err := need(1, "a status code"); err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 100 || n > 999 {
			return nil, fmt.Errorf("expects an HTTP status code between 100 and 999")
		}
		r.kind, r.status = kSetStatus, n
		if len(args) >= 3 && args[1] == "reason" {
			r.reason = []byte(args[2])
		}
	case "silent-drop", "reject":
		// reject closes without an answer; silent-drop also skips the
		// TTL trick HAProxy plays on the client's side.
		r.kind = kSilentDrop
	case "use-service":
		if response {
			return nil, fmt.Errorf("is only valid in http-request")
		}
		if err := need(1, "a service name"); err != nil {
			return nil, err
		}
		if env.Service == nil {
			return nil, fmt.Errorf("unknown service '%s'", args[0])
		}
		svc, err := env.Service(args[0])
		if err != nil {
			return nil, err
		}
		r.kind, r.svc = kService, svc
	case "set-log-level":
		if err := need(1, "a log level"); err != nil {
			return nil, err
		}
		lv := logLevel(args[0])
		if lv < -1 {
			return nil, fmt.Errorf("unknown log level '%s'", args[0])
		}
		r.kind, r.status = kSetLogLevel, lv
	case "disable-l7-retry", "strict-mode", "set-nice", "set-mark", "set-tos":
		// Accepted; they tune HAProxy internals halo does not have.
		r.kind = kNoop
	default:
		return nil, fmt.Errorf("unsupported action '%s'", hr.Action)
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

func checkVarName(n string) error {
	for _, p := range []string{"proc.", "sess.", "txn.", "req.", "res."} {
		if strings.HasPrefix(n, p) && len(n) > len(p) {
			return nil
		}
	}
	return fmt.Errorf("invalid variable name '%s': expects a scope (proc, sess, txn, req, res) followed by a '.'", n)
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
				rp.errorPage = true
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
	if (rp.body != nil || rp.bodyFmt != nil) && rp.contentType == "" {
		return nil, fmt.Errorf("a content-type is required with a body")
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
	cookie      string // full Set-Cookie value, or ""
}

func parseRedirect(args []string, env *Env) (*redirect, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("expects 'location', 'prefix' or 'scheme' followed by a destination")
	}
	rd := &redirect{typ: args[0], code: 302}
	switch rd.typ {
	case "location", "prefix", "scheme":
	default:
		return nil, fmt.Errorf("expects 'location', 'prefix' or 'scheme', got '%s'", rd.typ)
	}
	f, err := logging.Compile(args[1], logging.CtxAction, env.Opts)
	if err != nil {
		return nil, err
	}
	rd.to = f
	rd.toSlash = args[1] == "/"
	for i := 2; i < len(args); i++ {
		switch args[i] {
		case "code":
			if i+1 >= len(args) {
				return nil, fmt.Errorf("'code' expects a number")
			}
			n, err := strconv.Atoi(args[i+1])
			if err != nil || !(n >= 301 && n <= 303 || n == 307 || n == 308) {
				return nil, fmt.Errorf("unsupported HTTP code '%s' (must be 301, 302, 303, 307 or 308)", args[i+1])
			}
			rd.code = n
			i++
		case "drop-query":
			rd.dropQuery = true
		case "append-slash":
			rd.appendSlash = true
		case "set-cookie", "clear-cookie":
			if i+1 >= len(args) {
				return nil, fmt.Errorf("'%s' expects a cookie", args[i])
			}
			if args[i] == "set-cookie" {
				rd.cookie = args[i+1] + "; path=/;"
			} else {
				rd.cookie = args[i+1] + "; path=/; Max-Age=0;"
			}
			i++
		case "ignore-empty":
		default:
			return nil, fmt.Errorf("unexpected keyword '%s'", args[i])
		}
	}
	return rd, nil
}

// buildRedirect renders the redirect answer into dst. ok is false when
// the target evaluated empty (HAProxy then skips the rule).
func (rd *redirect) build(dst []byte, st *State) ([]byte, bool) {
	t := st.Ctx.T
	loc := st.tmp[:0]
	switch rd.typ {
	case "location":
		loc = rd.to.Append(loc, &st.Entry)
		if len(loc) == 0 {
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
