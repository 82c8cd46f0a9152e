package rules

import (
	"fmt"
	"strconv"
	"strings"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/stick"
)

// Stick counter actions (configuration.txt §4.2 "http-request track-sc0",
// "sc-inc-gpc0", "sc-set-gpt0"): a stream tracks an entry of a stick
// table as one of its counters sc0..sc2, then increments or sets that
// entry's general purpose counters and tags.

type stickOp uint8

const (
	opTrack stickOp = iota
	opIncGPC
	opSetGPT
)

// stickAction is a compiled track-sc / sc-inc-gpc / sc-set-gpt.
type stickAction struct {
	op       stickOp
	ctr      int          // the stick counter (scN)
	idx      int          // gpc/gpt index
	legacy   bool         // sc-inc-gpc0/1, sc-set-gpt0: the dedicated types first
	table    *stick.Table // track: the table (nil when only checking)
	expr     *acl.Expr    // track: the key; set-gpt: the value, if not a constant
	value    int64        // set-gpt constant
	response bool         // an http-response rule
	http     bool         // an http-request/-response rule (track counts the request)
}

// stickActions are the stick counter actions of the registry.
func stickActions() []*actionDef {
	const sets = HTTPRequest | HTTPResponse | TCPRequestConnection | TCPRequestSession | TCPRequestContent
	return []*actionDef{
		{ActionInfo{Name: "track-sc", Rulesets: sets}, compileTrack},
		{ActionInfo{Name: "sc-inc-gpc", Rulesets: sets}, compileIncGPC},
		{ActionInfo{Name: "sc-inc-gpc0", Rulesets: sets}, compileIncGPC},
		{ActionInfo{Name: "sc-inc-gpc1", Rulesets: sets}, compileIncGPC},
		{ActionInfo{Name: "sc-set-gpt", Rulesets: sets}, compileSetGPT},
		{ActionInfo{Name: "sc-set-gpt0", Rulesets: sets}, compileSetGPT},
	}
}

// splitTrack reads "track-scN" as the action track-sc with parameter N
// (compileRule's name and param).
func splitTrack(name string) (string, string, bool) {
	if strings.HasPrefix(name, "track-sc") && len(name) > len("track-sc") {
		return "track-sc", name[len("track-sc"):], true
	}
	return name, "", false
}

func stickCounter(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid stick table track ID '%s'", s)
	}
	if n >= stick.MaxCounters {
		return 0, fmt.Errorf("invalid stick table track ID. The max allowed ID is %d", stick.MaxCounters-1)
	}
	return n, nil
}

// compileTrack is `track-scN KEY [table NAME]`.
func compileTrack(r *Rule, a *actionCtx) error {
	n, err := strconv.Atoi(a.param)
	if err != nil {
		return fmt.Errorf("invalid track-sc number '%s'", a.param)
	}
	if n >= stick.MaxCounters {
		return fmt.Errorf("%d track-sc number exceeding %d (MAX_SESS_STKCTR-1) value", n, stick.MaxCounters-1)
	}
	if len(a.args) == 0 {
		return fmt.Errorf("missing fetch method")
	}
	sa := &stickAction{op: opTrack, ctr: n, response: a.response, http: a.http}
	e, err := acl.ParseExpr(a.args[0], a.env.Opts)
	if err != nil {
		return err
	}
	sa.expr = e
	name := ""
	if a.env.Proxy != nil {
		name = a.env.Proxy.Name
	}
	for i := 1; i < len(a.args); i++ {
		if a.args[i] != "table" || i+1 >= len(a.args) {
			return fmt.Errorf("unexpected '%s' after the key of track-sc%d", a.args[i], n)
		}
		name = a.args[i+1]
		i++
	}
	if o := a.env.Opts; o != nil && o.Tables != nil {
		sa.table = o.Tables.Table(name)
		if sa.table == nil {
			return fmt.Errorf("unable to find table '%s' referenced by track-sc%d", name, n)
		}
	}
	r.kind, r.stk = kStick, sa
	return nil
}

// compileIncGPC is `sc-inc-gpc(IDX,N)`, `sc-inc-gpc0[(N)]`, `sc-inc-gpc1[(N)]`.
func compileIncGPC(r *Rule, a *actionCtx) error {
	sa := &stickAction{op: opIncGPC}
	name, _, _ := strings.Cut(a.action, "(")
	switch name {
	case "sc-inc-gpc":
		idx, ctr, ok := strings.Cut(a.param, ",")
		n, err := strconv.Atoi(idx)
		if !ok || err != nil || n < 0 {
			return fmt.Errorf("Missing gpc ID '%s'. Expects sc-inc-gpc(<GPC ID>,<Track ID>)", a.action)
		}
		sa.idx = n
		if sa.ctr, err = stickCounter(ctr); err != nil {
			return err
		}
	default:
		sa.legacy = true
		sa.idx = int(name[len(name)-1] - '0')
		if a.param != "" {
			var err error
			if sa.ctr, err = stickCounter(a.param); err != nil {
				return err
			}
		}
	}
	r.kind, r.stk = kStick, sa
	return nil
}

// compileSetGPT is `sc-set-gpt(IDX,N) VALUE|EXPR` and `sc-set-gpt0[(N)]
// VALUE|EXPR`.
func compileSetGPT(r *Rule, a *actionCtx) error {
	sa := &stickAction{op: opSetGPT, response: a.response}
	name, _, _ := strings.Cut(a.action, "(")
	if name == "sc-set-gpt" {
		idx, ctr, ok := strings.Cut(a.param, ",")
		n, err := strconv.Atoi(idx)
		if !ok || err != nil || n < 0 {
			return fmt.Errorf("Missing gpt ID '%s'. Expects sc-set-gpt(<GPT ID>,<Track ID>)", a.action)
		}
		sa.idx = n
		if sa.ctr, err = stickCounter(ctr); err != nil {
			return err
		}
	} else {
		sa.legacy = true
		if a.param != "" {
			var err error
			if sa.ctr, err = stickCounter(a.param); err != nil {
				return err
			}
		}
	}
	// A value that reads whole as an integer is a constant (an empty
	// one too, as HAProxy's strtol), else a sample expression.
	v := ""
	if len(a.args) > 0 {
		v = a.args[0]
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil || v == "" {
		sa.value = n
	} else {
		e, err := acl.ParseExpr(v, a.env.Opts)
		if err != nil {
			return err
		}
		sa.expr = e
	}
	r.kind, r.stk = kStick, sa
	return nil
}

// exec runs the action on the stream's counters; status is the response
// status for http-response rules (0 otherwise). It reports a track whose
// key may still appear once more of the client's bytes arrive (mode tcp
// inspection: the rule is evaluated again then).
func (sa *stickAction) exec(c *acl.Ctx, status int) (wait bool) {
	tk := c.Stick
	if tk == nil {
		return false
	}
	switch sa.op {
	case opTrack:
		if sa.table == nil || tk.Get(sa.ctr) != nil {
			return false
		}
		c.MayChange = false
		v, ok := sa.expr.Eval(c)
		if !ok || c.MayChange {
			return c.MayChange
		}
		key, ok := acl.StickKey(c, sa.table, v)
		if !ok {
			return false
		}
		if !tk.Track(sa.ctr, sa.table, key) {
			return false
		}
		if sa.http {
			// HTTP tracking counts the current request, and from a
			// response its error (http_action_track_sc)
			ev := stick.EvHTTPReq
			if sa.response {
				switch {
				case status >= 400 && status < 500:
					ev |= stick.EvHTTPErr
				case status >= 500 && status < 600 && status != 501 && status != 505:
					ev |= stick.EvHTTPFail
				}
			}
			ctr := tk.Get(sa.ctr)
			ctr.T.Count(ctr.R, ev)
		}
	case opIncGPC:
		if ctr := tk.Get(sa.ctr); ctr != nil {
			ctr.T.IncGPC(ctr.R, sa.idx, sa.legacy)
		}
	case opSetGPT:
		ctr := tk.Get(sa.ctr)
		if ctr == nil {
			return false
		}
		v := sa.value
		if sa.expr != nil {
			val, ok := sa.expr.Eval(c)
			if !ok {
				return false
			}
			n, ok := acl.IntOf(val)
			if !ok {
				return false
			}
			v = n
		}
		ctr.T.SetGPT(ctr.R, sa.idx, sa.legacy, uint32(v))
	}
	return false
}

// compileTCPStick compiles a tcp-request content stick counter action;
// nil when the action is another one.
func compileTCPStick(tr *proxy.TCPRule, env *Env) (*tcpRule, error) {
	name, param := tr.Action, ""
	if i := strings.IndexByte(name, '('); i >= 0 && strings.HasSuffix(name, ")") {
		name, param = name[:i], name[i+1:len(name)-1]
	} else if n, p, ok := splitTrack(name); ok {
		name, param = n, p
	}
	var d *actionDef
	for _, sd := range stickActions() {
		if sd.Name == name {
			d = sd
		}
	}
	if d == nil {
		return nil, nil
	}
	cond, err := env.ACL.Cond(tr.Cond)
	if err != nil {
		return nil, fmt.Errorf("line %d: 'tcp-request %s %s': %w", tr.Line, tr.Stage, tr.Action, err)
	}
	var r Rule
	a := &actionCtx{action: tr.Action, param: param, args: tr.Args, env: env}
	if err := d.compile(&r, a); err != nil {
		return nil, fmt.Errorf("line %d: 'tcp-request %s %s': %w", tr.Line, tr.Stage, tr.Action, err)
	}
	return &tcpRule{stage: tr.Stage, cond: cond, stk: r.stk}, nil
}
