package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"halo/proxy/acl"
)

// Ruleset is a set of rule lists an action may be written in.
type Ruleset uint8

const (
	HTTPRequest Ruleset = 1 << iota
	HTTPResponse
	HTTPAfterResponse
	TCPRequestConnection
	TCPRequestSession
	TCPRequestContent
	TCPResponseContent
)

// ActionInfo describes an action the runtime executes.
type ActionInfo struct {
	Name     string
	Rulesets Ruleset
	// Note is empty when the action runs as HAProxy's does, else what
	// differs (the configuration loader reports it as partly executed).
	Note string
}

// actionDef is one action of the registry and how it compiles.
type actionDef struct {
	ActionInfo
	compile func(r *Rule, a *actionCtx) error
}

// Actions returns every action the runtime executes, with the rule lists
// it runs in: the one list the configuration loader derives action
// statuses from.
func Actions() []ActionInfo {
	t := actionTable()
	out := make([]ActionInfo, 0, len(t))
	for _, d := range t {
		out = append(out, d.ActionInfo)
	}
	return out
}

// actionTable is the registry of actions by name. HTTP actions compile in
// compileRule; the tcp-request decisions in compileTCP.
func actionTable() map[string]*actionDef {
	const (
		req  = HTTPRequest
		res  = HTTPResponse
		both = HTTPRequest | HTTPResponse
		tcp  = TCPRequestConnection | TCPRequestSession | TCPRequestContent
		tres = TCPResponseContent
	)
	defs := []*actionDef{
		{ActionInfo{Name: "allow", Rulesets: both}, func(r *Rule, a *actionCtx) error {
			r.kind = kAllow
			return nil
		}},
		{ActionInfo{Name: "deny", Rulesets: both}, compileDeny},
		{ActionInfo{Name: "tarpit", Rulesets: req, Note: "answered at once, without holding the connection for 'timeout tarpit'"}, compileDeny},
		{ActionInfo{Name: "return", Rulesets: both}, func(r *Rule, a *actionCtx) error {
			r.kind = kReturn
			rp, err := parseReply(a.args, 200, false, a.env)
			r.reply = rp
			return err
		}},
		{ActionInfo{Name: "redirect", Rulesets: both}, func(r *Rule, a *actionCtx) error {
			r.kind = kRedirect
			rd, err := parseRedirect(a.args, a.env)
			r.rdr = rd
			return err
		}},
		{ActionInfo{Name: "auth", Rulesets: req}, func(r *Rule, a *actionCtx) error {
			r.kind = kAuth
			r.realm = a.env.Proxy.Name
			for i := 0; i < len(a.args); i++ {
				if a.args[i] == "realm" && i+1 < len(a.args) {
					r.realm = a.args[i+1]
					i++
				} else {
					return fmt.Errorf("expects [realm <realm>], got '%s'", a.args[i])
				}
			}
			return nil
		}},
		{ActionInfo{Name: "set-header", Rulesets: both}, compileSetHeader(kSetHeader)},
		{ActionInfo{Name: "add-header", Rulesets: both}, compileSetHeader(kAddHeader)},
		{ActionInfo{Name: "del-header", Rulesets: both}, func(r *Rule, a *actionCtx) error {
			if err := a.need(1, "at least 1 argument"); err != nil {
				return err
			}
			r.kind = kDelHeader
			r.name, r.nameB = strings.ToLower(a.args[0]), []byte(strings.ToLower(a.args[0]))
			if len(a.args) >= 3 && a.args[1] == "-m" {
				r.delM = a.args[2]
				switch r.delM {
				case "str", "beg", "end", "sub", "reg":
				default:
					return fmt.Errorf("unknown matching method '%s'", r.delM)
				}
				if r.delM == "reg" {
					re, err := regexp.Compile(a.args[0])
					if err != nil {
						return err
					}
					r.re = re
				}
			}
			return nil
		}},
		{ActionInfo{Name: "replace-header", Rulesets: both}, compileReplaceHeader(kReplaceHeader)},
		{ActionInfo{Name: "replace-value", Rulesets: both}, compileReplaceHeader(kReplaceValue)},
		{ActionInfo{Name: "set-path", Rulesets: req}, compileSetFmt(kSetPath)},
		{ActionInfo{Name: "set-pathq", Rulesets: req}, compileSetFmt(kSetPathQ)},
		{ActionInfo{Name: "set-query", Rulesets: req}, compileSetFmt(kSetQuery)},
		{ActionInfo{Name: "set-uri", Rulesets: req}, compileSetFmt(kSetURI)},
		{ActionInfo{Name: "set-method", Rulesets: req}, compileSetFmt(kSetMethod)},
		{ActionInfo{Name: "replace-path", Rulesets: req}, compileReplaceURI(kReplacePath)},
		{ActionInfo{Name: "replace-pathq", Rulesets: req}, compileReplaceURI(kReplacePathQ)},
		{ActionInfo{Name: "replace-uri", Rulesets: req}, compileReplaceURI(kReplaceURI)},
		{ActionInfo{Name: "set-var", Rulesets: both | tcp | tres}, compileSetVar},
		{ActionInfo{Name: "set-var-fmt", Rulesets: both | tcp | tres}, compileSetVar},
		{ActionInfo{Name: "unset-var", Rulesets: both | tcp | tres}, func(r *Rule, a *actionCtx) error {
			if err := acl.CheckVarName(a.param); err != nil {
				return err
			}
			r.kind, r.name = kUnsetVar, a.param
			return nil
		}},
		{ActionInfo{Name: "capture", Rulesets: both}, func(r *Rule, a *actionCtx) error {
			// capture <sample> len <n> | id <n>
			if len(a.args) < 3 {
				return fmt.Errorf("expects <sample> len <length> | id <idx>")
			}
			e, err := acl.ParseExpr(a.args[0], a.env.Opts)
			if err != nil {
				return err
			}
			r.kind, r.expr, r.capID = kCapture, e, -1
			n, err := strconv.Atoi(a.args[2])
			if err != nil || n < 0 {
				return fmt.Errorf("invalid length or id '%s'", a.args[2])
			}
			switch a.args[1] {
			case "len":
				r.capLen = n
			case "id":
				r.capID = n
			default:
				return fmt.Errorf("expects 'len' or 'id', got '%s'", a.args[1])
			}
			return nil
		}},
		{ActionInfo{Name: "set-status", Rulesets: res}, func(r *Rule, a *actionCtx) error {
			if err := a.need(1, "a status code"); err != nil {
				return err
			}
			n, err := strconv.Atoi(a.args[0])
			if err != nil || n < 100 || n > 999 {
				return fmt.Errorf("expects an HTTP status code between 100 and 999")
			}
			r.kind, r.status = kSetStatus, n
			if len(a.args) >= 3 && a.args[1] == "reason" {
				r.reason = []byte(a.args[2])
			}
			return nil
		}},
		{ActionInfo{Name: "silent-drop", Rulesets: both | tcp | tres, Note: "the connection is closed without the TTL trick"}, compileDrop},
		{ActionInfo{Name: "reject", Rulesets: req | tcp | tres}, compileDrop},
		{ActionInfo{Name: "accept", Rulesets: tcp | tres}, nil},
		{ActionInfo{Name: "close", Rulesets: tres}, nil},
		{ActionInfo{Name: "use-service", Rulesets: req}, func(r *Rule, a *actionCtx) error {
			if err := a.need(1, "a service name"); err != nil {
				return err
			}
			if a.env.Service == nil {
				return fmt.Errorf("unknown service '%s'", a.args[0])
			}
			svc, err := a.env.Service(a.args[0])
			if err != nil {
				return err
			}
			r.kind, r.svc = kService, svc
			return nil
		}},
		{ActionInfo{Name: "set-log-level", Rulesets: both}, func(r *Rule, a *actionCtx) error {
			if err := a.need(1, "a log level"); err != nil {
				return err
			}
			lv := logLevel(a.args[0])
			if lv < -1 {
				return fmt.Errorf("unknown log level '%s'", a.args[0])
			}
			r.kind, r.status = kSetLogLevel, lv
			return nil
		}},
	}
	defs = append(defs, &actionDef{ActionInfo{Name: "set-timeout", Rulesets: req}, compileSetTimeout})
	defs = append(defs, stickActions()...) // actions_stick.go
	defs = append(defs, cacheActions()...) // actions_cache.go
	m := make(map[string]*actionDef, len(defs))
	for _, d := range defs {
		m[d.Name] = d
	}
	return m
}

func compileDeny(r *Rule, a *actionCtx) error {
	r.kind = kDeny
	def := 403
	if a.action == "tarpit" {
		r.kind, def = kTarpit, 500
	}
	if a.response {
		def = 502
	}
	rp, err := parseReply(a.args, def, true, a.env)
	r.reply = rp
	return err
}

// compileDrop: reject closes without an answer; silent-drop also skips
// the TTL trick HAProxy plays on the client's side.
func compileDrop(r *Rule, a *actionCtx) error {
	r.kind = kSilentDrop
	return nil
}

func compileSetHeader(k kind) func(r *Rule, a *actionCtx) error {
	return func(r *Rule, a *actionCtx) error {
		if err := a.need(2, "exactly 2 arguments"); err != nil {
			return err
		}
		r.kind = k
		r.name, r.nameB = strings.ToLower(a.args[0]), []byte(strings.ToLower(a.args[0]))
		f, err := a.lf(strings.Join(a.args[1:], " "))
		r.fmt = f
		return err
	}
}

func compileReplaceHeader(k kind) func(r *Rule, a *actionCtx) error {
	return func(r *Rule, a *actionCtx) error {
		if err := a.need(3, "exactly 3 arguments"); err != nil {
			return err
		}
		r.kind = k
		r.name, r.nameB = strings.ToLower(a.args[0]), []byte(strings.ToLower(a.args[0]))
		re, err := regexp.Compile(a.args[1])
		if err != nil {
			return fmt.Errorf("invalid regex '%s': %v", a.args[1], err)
		}
		r.re = re
		f, err := a.lf(a.args[2])
		r.fmt = f
		return err
	}
}

func compileSetFmt(k kind) func(r *Rule, a *actionCtx) error {
	return func(r *Rule, a *actionCtx) error {
		if err := a.need(1, "exactly 1 argument"); err != nil {
			return err
		}
		r.kind = k
		f, err := a.lf(a.args[0])
		r.fmt = f
		return err
	}
}

func compileReplaceURI(k kind) func(r *Rule, a *actionCtx) error {
	return func(r *Rule, a *actionCtx) error {
		if err := a.need(2, "exactly 2 arguments"); err != nil {
			return err
		}
		r.kind = k
		re, err := regexp.Compile(a.args[0])
		if err != nil {
			return fmt.Errorf("invalid regex '%s': %v", a.args[0], err)
		}
		r.re = re
		f, err := a.lf(a.args[1])
		r.fmt = f
		return err
	}
}

// compileSetVar is set-var(name[,cond…]) expr and set-var-fmt(name[,cond…])
// fmt: the conditions (ifexists, ifnotset, ifgt …) are set-var's.
func compileSetVar(r *Rule, a *actionCtx) error {
	name, conds, _ := strings.Cut(a.param, ",")
	if name == "" || len(a.args) < 1 {
		return fmt.Errorf("expects a variable name and an expression")
	}
	if err := acl.CheckVarName(name); err != nil {
		return err
	}
	if conds != "" {
		c, err := acl.ParseSetVarConds(strings.Split(conds, ","))
		if err != nil {
			return err
		}
		r.conds = c
	}
	r.name = name
	if strings.HasPrefix(a.action, "set-var-fmt") {
		r.kind = kSetVarFmt
		f, err := a.lf(strings.Join(a.args, " "))
		r.fmt = f
		return err
	}
	r.kind = kSetVar
	e, err := acl.ParseExpr(a.args[0], a.env.Opts)
	r.expr = e
	return err
}

// compileSetTimeout compiles `http-request set-timeout server|tunnel
// <timeout>|<expr>`: a time (milliseconds by default) or a sample whose
// integer is milliseconds, as HAProxy 2.6 reads it.
func compileSetTimeout(r *Rule, a *actionCtx) error {
	if err := a.need(2, "'server' or 'tunnel' and a timeout or an expression"); err != nil {
		return err
	}
	switch a.args[0] {
	case "server", "tunnel":
		r.name = a.args[0]
	default:
		return fmt.Errorf("'set-timeout' expects 'server' or 'tunnel', got '%s'", a.args[0])
	}
	r.kind = kSetTimeout
	if d, ok := parseTimeout(a.args[1]); ok {
		r.status = int(d / time.Millisecond)
		return nil
	}
	e, err := acl.ParseExpr(a.args[1], a.env.Opts)
	if err != nil {
		return err
	}
	r.expr = e
	return nil
}

// parseTimeout reads an HAProxy time: digits and a unit (us, ms, s, m,
// h, d; milliseconds without one).
func parseTimeout(s string) (time.Duration, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, false
	}
	unit := map[string]time.Duration{"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond,
		"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	u, ok := unit[s[i:]]
	if !ok {
		return 0, false
	}
	return time.Duration(n) * u, true
}
