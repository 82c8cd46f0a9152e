package rules

import (
	"fmt"
	"net/netip"
	"strings"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/logging"
	"halo/proxy/stick"
)

// tcpVerdict is the outcome of tcp-request rules.
type tcpVerdict int

const (
	tcpNext tcpVerdict = iota
	tcpAccept
	tcpReject
	tcpClose // tcp-response content close: the server side closes
)

// tcpRule is a compiled tcp-request connection/session/content rule:
// the decisions accept, reject and silent-drop, and in the content stage
// set-var, set-var-fmt and unset-var (the registry's rulesets say so; the
// configuration loader reports the others).
type tcpRule struct {
	stage  string
	accept bool
	close  bool
	cond   *acl.Cond
	// set is non-nil for a variable action, which runs and goes on.
	set *Rule
	stk *stickAction // a stick counter action (runs, then the next rule)
}

// compileTCP compiles the accept/reject/silent-drop tcp-request rules.
// An accept rule whose condition halo cannot evaluate (payload fetches
// such as req_ssl_hello_type need the client's first bytes, which the
// engine does not inspect) is skipped: accepting early only matters when a
// later rule of the same stage rejects, and then the configuration is
// refused rather than rejecting what HAProxy would accept.
func compileTCP(list []*proxy.TCPRule, env *Env) ([]tcpRule, error) {
	return compileTCPList("tcp-request", list, env)
}

// compileTCPList compiles the tcp-request (kind) or tcp-response rules.
func compileTCPList(kind string, list []*proxy.TCPRule, env *Env) ([]tcpRule, error) {
	cp := env.ACL
	var out []tcpRule
	skipped := map[string]error{}
	for _, r := range list {
		var set *Rule
		if r.Stage == "inspect-delay" {
			continue
		}
		switch name, param, _ := strings.Cut(r.Action, "("); name {
		case "accept", "reject", "silent-drop", "close":
		case "set-var", "set-var-fmt", "unset-var":
			set = &Rule{line: r.Line}
			a := &actionCtx{action: r.Action, param: strings.TrimSuffix(param, ")"), args: r.Args, env: &Env{Opts: cp.Opts}}
			var err error
			if name == "unset-var" {
				set.kind, set.name, err = kUnsetVar, a.param, acl.CheckVarName(a.param)
			} else {
				err = compileSetVar(set, a)
			}
			if err != nil {
				return nil, fmt.Errorf("line %d: '%s %s %s': %w", r.Line, kind, r.Stage, r.Action, err)
			}
		default:
			if kind == "tcp-request" && (r.Stage == "content" || r.Stage == "connection" || r.Stage == "session") {
				sr, err := compileTCPStick(r, env)
				if err != nil {
					return nil, err
				}
				if sr != nil {
					out = append(out, *sr)
				}
			}
			continue
		}
		if err, ok := skipped[r.Stage]; ok && r.Action != "accept" {
			return nil, fmt.Errorf("line %d: '%s %s %s' follows an accept rule halo cannot evaluate (%v)", r.Line, kind, r.Stage, r.Action, err)
		}
		cond, err := cp.Cond(r.Cond)
		if err != nil {
			if r.Action == "accept" {
				skipped[r.Stage] = err
				continue
			}
			return nil, fmt.Errorf("line %d: '%s %s %s': %w", r.Line, kind, r.Stage, r.Action, err)
		}
		out = append(out, tcpRule{stage: r.Stage, accept: r.Action == "accept", close: r.Action == "close", cond: cond, set: set})
	}
	return out, nil
}

// applyVar runs a tcp-request content set-var / set-var-fmt / unset-var.
func applyVar(r *Rule, ctx *acl.Ctx) {
	switch r.kind {
	case kSetVar:
		if v, ok := r.expr.Eval(ctx); ok {
			ctx.Vars.SetIf(r.name, v, r.conds)
		}
	case kSetVarFmt:
		e := logging.Entry{Ctx: ctx}
		ctx.Vars.SetIf(r.name, acl.Value{Kind: acl.KStr, B: r.fmt.Append(nil, &e)}, r.conds)
	case kUnsetVar:
		ctx.Vars.Unset(r.name)
	}
}

// runTCP evaluates the rules of the given stages in order: the first
// matching accept or reject decides.
func runTCP(rules []tcpRule, ctx *acl.Ctx, stages ...string) tcpVerdict {
	v, _ := runTCPPartial(rules, ctx, nil, stages...)
	return v
}

// runContent runs the tcp-request content rules, waiting for more of the
// client's bytes (tx.MorePayload) while a condition cannot be decided
// yet, as HAProxy's tcp_inspect_request does: a rule whose test misses
// data suspends the evaluation, which restarts at that rule when more
// arrives; once the data is final a miss counts as no match.
func runContent(rules []tcpRule, ctx *acl.Ctx, tx *proxy.Txn) tcpVerdict {
	from := 0
	for {
		v, at := runTCPPartial(rules[from:], ctx, tx, "content")
		if at < 0 {
			return v
		}
		from += at
		if !tx.MorePayload() {
			// nothing more will come: decide on what is there
			v, _ := runTCPPartial(rules[from:], ctx, nil, "content")
			return v
		}
	}
}

// runResContent runs the tcp-response content rules, waiting for more of
// the server's bytes (tx.MoreResPayload) while a condition cannot be
// decided yet, as HAProxy's tcp_inspect_response does.
func runResContent(rules []tcpRule, ctx *acl.Ctx, tx *proxy.Txn) tcpVerdict {
	// HAProxy first looks at the rules once the server said something
	// (or the delay expired).
	if b, final := tx.ResPayloadState(); len(b) == 0 && !final {
		tx.MoreResPayload()
	}
	from := 0
	for {
		v, at := runTCPPartial(rules[from:], ctx, tx, "content")
		if at < 0 {
			return v
		}
		from += at
		if !tx.MoreResPayload() {
			v, _ := runTCPPartial(rules[from:], ctx, nil, "content")
			return v
		}
	}
}

// runTCPPartial is runTCP; with tx set, a condition missing data stops it
// and at is that rule's index (-1 otherwise).
func runTCPPartial(rules []tcpRule, ctx *acl.Ctx, tx *proxy.Txn, stages ...string) (v tcpVerdict, at int) {
	for i := range rules {
		r := &rules[i]
		in := false
		for _, s := range stages {
			if r.stage == s {
				in = true
			}
		}
		if !in {
			continue
		}
		ok, miss := r.cond.EvalPartial(ctx)
		if miss && tx != nil {
			return tcpNext, i
		}
		if !ok {
			continue
		}
		if r.set != nil {
			applyVar(r.set, ctx)
			continue
		}
		if r.stk != nil {
			if r.stk.exec(ctx, 0) && tx != nil {
				return tcpNext, i // the key may still come
			}
			continue
		}
		switch {
		case r.accept:
			return tcpAccept, -1
		case r.close:
			return tcpClose, -1
		}
		return tcpReject, -1
	}
	return tcpNext, -1
}

// connView is a transaction view with only the connection's addresses,
// for tcp-request connection rules (no request exists yet).
type connView struct {
	src, dst netip.AddrPort
}

func (c *connView) Method() []byte             { return nil }
func (c *connView) URI() []byte                { return nil }
func (c *connView) Path() []byte               { return nil }
func (c *connView) Query() []byte              { return nil }
func (c *connView) Version() []byte            { return nil }
func (c *connView) ReqHeaders() acl.HeaderList { return nil }
func (c *connView) ResHeaders() acl.HeaderList { return nil }
func (c *connView) Status() int                { return 0 }
func (c *connView) Src() netip.AddrPort        { return c.src }
func (c *connView) Dst() netip.AddrPort        { return c.dst }
func (c *connView) SSL() bool                  { return false }
func (c *connView) SNI() []byte                { return nil }

type connState struct {
	ctx acl.Ctx
	v   connView
	trk stick.Tracking
}

// sessState is what the module keeps for a client connection (HAProxy's
// session): the stick counters its tcp-request connection and session
// rules track, and its sess.* variables, which every transaction of the
// connection sees.
type sessState struct {
	ctrs stick.Counters
	vars acl.Vars
}

// session returns the connection's state, made on first use.
func (l *L7) session(cc *proxy.ClientConn) *sessState {
	if ss, ok := cc.State.(*sessState); ok {
		return ss
	}
	ss := l.sessPool.Get().(*sessState)
	cc.State = ss
	return ss
}

// Connection runs tcp-request connection and session rules when a client
// connection is accepted; false closes it.
func (l *L7) Connection(cc *proxy.ClientConn) bool {
	fe := cc.Frontend
	c := l.px[fe.Proxy]
	if c == nil || len(c.tcpReq) == 0 {
		return true
	}
	cs := l.connPool.Get().(*connState)
	defer l.connPool.Put(cs)
	cs.v = connView{src: cc.Src, dst: cc.Dst}
	cs.ctx.Reset(&cs.v)
	cs.ctx.Frontend = fe.Proxy.Name
	cs.trk = stick.Tracking{}
	cs.ctx.Stick = &cs.trk
	ss := l.session(cc)
	cs.ctx.Vars.Sess = &ss.vars
	cs.ctx.Vars.Proc = l.proc
	v := runTCP(c.tcpReq, &cs.ctx, "connection", "session")
	cs.ctx.Stick = nil
	tracked := false
	for i := range cs.trk.Stream {
		tracked = tracked || cs.trk.Stream[i].R != 0
	}
	if v == tcpReject {
		cs.trk.Stream.Stop()
		fe.Counters.DeniedReq.Add(1)
		return false
	}
	if tracked {
		// The counters belong to the session; one more session for
		// them (session_count_new).
		ss.ctrs = cs.trk.Stream
		for i := range ss.ctrs {
			if ctr := &ss.ctrs[i]; ctr.R != 0 {
				ctr.T.Count(ctr.R, stick.EvSess)
			}
		}
	}
	return true
}

// Disconnect releases the session's stick counters and variables.
func (l *L7) Disconnect(cc *proxy.ClientConn) {
	if ss, ok := cc.State.(*sessState); ok {
		ss.ctrs.Stop()
		ss.vars.Reset()
		cc.State = nil
		l.sessPool.Put(ss)
	}
}
