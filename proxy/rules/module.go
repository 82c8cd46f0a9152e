package rules

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/http1"
	"halo/proxy/logging"
	"halo/proxy/stick"
	"halo/proxy/tlsconf"
)

// StatsPage serves a proxy's `stats uri` (implemented by package stats).
type StatsPage interface {
	// Match reports whether the request is for the stats page.
	Match(t acl.Txn) bool
	// Serve answers the request (page, CSV, 401 challenge, admin action).
	Serve(dst []byte, ctx *acl.Ctx) []byte
}

type useBackend struct {
	cond    *acl.Cond
	backend *proxy.Backend
	dynamic *logging.Format
	line    int
}

// useServer is a compiled `use-server` rule: a fixed server, or a
// log-format naming it per request.
type useServer struct {
	cond    *acl.Cond
	server  *proxy.Server
	dynamic *logging.Format
}

// persistRule is a compiled force-persist (force) or ignore-persist rule.
type persistRule struct {
	cond  *acl.Cond
	force bool
}

type capture struct {
	name []byte
	len  int
	slot int
}

// compiled is everything a proxy runs per request, built once.
type compiled struct {
	px          *proxy.Proxy
	httpReq     []*Rule
	httpRes     []*Rule
	redirects   []*Rule
	useBackends []useBackend
	monitorURI  []byte
	monitorFail []*acl.Cond
	cookie      *Cookie
	useServers  []useServer
	persist     []persistRule
	stick       []stickRule             // stick match/on/store rules (persist_stick.go)
	errReplies  map[*proxy.Reply]*reply // http-error pages built per transaction
	stats       StatsPage
	statsReq    []*Rule // stats http-request
	reqCaps     []capture
	resCaps     []capture
	reqCapLens  []int // every capture slot's length (the frontend's)
	resCapLens  []int
	tcpReq      []tcpRule
	tcpRes      []tcpRule // tcp-response content rules (backend)

	logger     *logging.Logger
	logFmt     *logging.Format
	errFmt     *logging.Format // error-log-format
	dontLogNul bool
	// dontLogNormal, sepErrors: option dontlog-normal, log-separate-errors.
	dontLogNormal, sepErrors bool
	sdFmt                    *logging.Format // log-format-sd
	uidFmt                   *logging.Format
	uidHdr                   []byte
}

// L7 is the layer-7 module: ACL-driven rules, stats pages, persistence
// and logging. Build it with New, give it its collaborators, and pass
// Module() to proxy.New.
type L7 struct {
	// StatsPage builds a proxy's `stats uri` page (package stats provides
	// it); nil: `stats` sections serve no page.
	StatsPage func(rt *proxy.Runtime, px *proxy.Proxy, cp *acl.Compiler) (StatsPage, error)
	// Service returns the service `use-service NAME` runs (package stats
	// provides "prometheus-exporter"); rt is nil when only checking the
	// configuration. nil: no service is known.
	Service func(rt *proxy.Runtime, name string) (Service, error)
	// Registry is the vocabulary rules compile against (fetches,
	// converters, ACL keywords); nil builds acl.NewRegistry() at first
	// use.
	Registry *acl.Registry
	// Tables returns the running stick tables (the peers module owns
	// them); nil: the configuration has none.
	Tables func() *stick.Set
	// Cache returns what the cache-use and cache-store rules of px naming
	// a cache run (package cache); nil: no cache is known.
	Cache func(cfg *proxy.Config, px *proxy.Proxy, name string) (CacheAction, error)

	rt       *proxy.Runtime
	proc     *acl.ProcVars // proc.* variables, shared by every transaction
	px       map[*proxy.Proxy]*compiled
	pool     sync.Pool
	connPool sync.Pool
	sessPool sync.Pool // sessState
	hostname string
	pid      int
	reqs     atomic.Int64 // request counter (%rt)
	refs     *acl.PatRefs // the runtime's pattern references
}

// PatRefs returns the running configuration's pattern and map files as
// the runtime API edits them (nil before Init).
func (l *L7) PatRefs() *acl.PatRefs { return l.refs }

// ProcVars returns the process-wide variables (proc.*) for the runtime
// API's get/set var (nil before Init).
func (l *L7) ProcVars() *acl.ProcVars { return l.proc }

// New returns an unconfigured module; Init compiles the configuration.
func New() *L7 {
	l := &L7{proc: acl.NewProcVars()}
	l.pool.New = func() any {
		st := &txnState{}
		// the error page of the transaction's proxies (backend, then
		// frontend), bound once per pooled state
		st.errPage = func(status int) []byte { return st.v.tx.ErrorPage(status) }
		return st
	}
	l.connPool.New = func() any { return &connState{} }
	l.sessPool.New = func() any { return &sessState{} }
	return l
}

// Module returns the engine hooks.
func (l *L7) Module() proxy.Module {
	return proxy.Module{
		Name:       "l7",
		Check:      l.Check,
		Connection: l.Connection,
		Disconnect: l.Disconnect,
		Init:       l.Init,
		Stop:       l.Stop,
		Request:    l.Request,
		Response:   l.Response,
		Log:        l.Log,
		ErrorReply: l.ErrorReply,
	}
}

// ErrorReply renders an http-error page of a proxy (its log-format parts)
// for tx: the engine's error pages and the rules' deny answers use it.
func (l *L7) ErrorReply(tx *proxy.Txn, px *proxy.Proxy, r *proxy.Reply) []byte {
	c := l.px[px]
	if c == nil || c.errReplies[r] == nil {
		return nil
	}
	rp := c.errReplies[r]
	st := l.state(tx)
	st.v.bind(tx)
	body := rp.body
	if rp.bodyFmt != nil {
		st.errBody = rp.bodyFmt.Append(st.errBody[:0], &st.Entry)
		body = st.errBody
	}
	st.errOut = rp.build(st.errOut[:0], &st.State, body)
	return st.errOut
}

type txnState struct {
	State
	v      view
	refs   []ServerRef
	reqNum int64
	// trk is the stream's stick counters (track-sc); resCounted says the
	// response's status was counted on them.
	trk        stick.Tracking
	resCounted bool
	// outHead is the HTX size of the response head as received
	// (stick_bytes.go); scratchMsg parses local replies.
	outHead    int64
	scratchMsg http1.Message
	// stores are the keys stick rules record once a server answers.
	stores  [maxStores]pendingStore
	nstores int
	// errPage renders the error page for a status (tx.ErrorPage);
	// errOut and errBody hold an http-error page built for tx.
	errPage         Errorer
	errOut, errBody []byte
}

func (l *L7) registry() *acl.Registry {
	if l.Registry == nil {
		l.Registry = acl.NewRegistry()
	}
	return l.Registry
}

// setProcVars runs the global set-var / set-var-fmt lines in order, as
// HAProxy does while reading the configuration: each sees the variables
// set before it.
func (l *L7) setProcVars(cfg *proxy.Config, opts *acl.Options) error {
	if len(cfg.Global.SetVars) == 0 {
		return nil
	}
	ctx := &acl.Ctx{}
	ctx.Reset(&connView{})
	ctx.Vars.Proc = l.proc
	ctx.Runtime = l.rt
	for _, sv := range cfg.Global.SetVars {
		var v acl.Value
		if sv.Fmt {
			f, err := logging.Compile(sv.Expr, logging.CtxAction, opts)
			if err != nil {
				return fmt.Errorf("global 'set-var-fmt' (line %d): %w", sv.Line, err)
			}
			e := logging.Entry{Ctx: ctx}
			v = acl.Value{Kind: acl.KStr, B: f.Append(nil, &e)}
		} else {
			e, err := acl.ParseExpr(sv.Expr, opts)
			if err != nil {
				return fmt.Errorf("global 'set-var' (line %d): %w", sv.Line, err)
			}
			var ok bool
			if v, ok = e.Eval(ctx); !ok {
				continue // an expression without a value sets nothing
			}
		}
		ctx.Vars.Set(sv.Name, v)
	}
	return nil
}

// Check compiles cfg's layer-7 parts without a runtime (for -c). Errors
// name the proxy and, where known, the line.
func (l *L7) Check(cfg *proxy.Config) error {
	_, err := l.compileAll(cfg, nil)
	return err
}

// Init compiles every proxy's rules once, opens log targets and stats
// pages.
func (l *L7) Init(rt *proxy.Runtime) error {
	l.rt = rt
	l.hostname, _ = os.Hostname()
	l.pid = os.Getpid()
	m, err := l.compileAll(rt.Cfg, rt)
	if err != nil {
		return err
	}
	l.px = m
	return nil
}

// Stop closes log targets.
func (l *L7) Stop() {
	for _, c := range l.px {
		if c.logger != nil {
			c.logger.Close()
		}
	}
}

func (l *L7) compileAll(cfg *proxy.Config, rt *proxy.Runtime) (map[*proxy.Proxy]*compiled, error) {
	opts := &acl.Options{
		Registry:  l.registry(),
		Config:    cfg,
		Runtime:   rt,
		Userlists: cfg.Userlists,
	}
	if rt != nil && l.Tables != nil {
		opts.Tables = l.Tables()
	}
	if rt != nil {
		// the runtime API edits the pattern and map files through these
		l.refs = acl.NewPatRefs()
		opts.Refs = l.refs
		opts.CfgFile, _, _ = strings.Cut(os.Getenv("HAPROXY_CFGFILES"), ";")
	}
	cp := acl.NewCompiler(opts)
	if err := l.setProcVars(cfg, opts); err != nil {
		return nil, err
	}
	out := map[*proxy.Proxy]*compiled{}
	for _, p := range cfg.Proxies {
		// a server named without its backend belongs to the proxy whose
		// rules are compiled (srv_conn(s1))
		opts.Proxy = p
		c, err := l.compileProxy(p, cfg, rt, cp, opts)
		if err != nil {
			kind := "frontend"
			switch {
			case p.Cap == proxy.CapBE:
				kind = "backend"
			case p.Cap == proxy.CapFE|proxy.CapBE:
				kind = "proxy"
			}
			return nil, fmt.Errorf("%s '%s': %w", kind, p.Name, err)
		}
		out[p] = c
	}
	return out, nil
}

func (l *L7) compileProxy(p *proxy.Proxy, cfg *proxy.Config, rt *proxy.Runtime, cp *acl.Compiler, opts *acl.Options) (*compiled, error) {
	c := &compiled{px: p}
	env := &Env{ACL: cp, Opts: opts, Proxy: p, HTTPErrors: cfg.HTTPErrors}
	if l.Service != nil {
		env.Service = func(name string) (Service, error) { return l.Service(rt, name) }
	}
	if l.Cache != nil {
		env.Cache = func(name string) (CacheAction, error) { return l.Cache(cfg, p, name) }
	}
	var err error
	if c.httpReq, err = CompileHTTP(p.HTTPRequest, false, env); err != nil {
		return nil, err
	}
	if c.httpRes, err = CompileHTTP(p.HTTPResponse, true, env); err != nil {
		return nil, err
	}
	if c.tcpReq, err = compileTCP(p.TCPRequest, env); err != nil {
		return nil, err
	}
	if p.Cap&proxy.CapBE != 0 {
		if c.tcpRes, err = compileTCPList("tcp-response", p.TCPResponse, env); err != nil {
			return nil, err
		}
	}
	for code, r := range p.ErrorReplies {
		rp, err := compileErrorReply(r, env)
		if err != nil {
			return nil, fmt.Errorf("http-error status %d: %w", code, err)
		}
		if c.errReplies == nil {
			c.errReplies = map[*proxy.Reply]*reply{}
		}
		c.errReplies[r] = rp
	}
	for _, r := range p.Redirects {
		rr := *r
		if rr.Action != "redirect" {
			rr.Args = append([]string{rr.Action}, rr.Args...)
			rr.Action = "redirect"
		}
		rs, err := CompileHTTP([]*proxy.HTTPRule{&rr}, false, env)
		if err != nil {
			return nil, err
		}
		c.redirects = append(c.redirects, rs...)
	}
	for _, ub := range p.UseBackends {
		cond, err := cp.Cond(ub.Cond)
		if err != nil {
			return nil, fmt.Errorf("use_backend (line %d): %w", ub.Line, err)
		}
		u := useBackend{cond: cond, line: ub.Line}
		switch {
		case ub.Backend != nil:
			if rt != nil {
				u.backend = rt.Backend(ub.Backend)
			}
		case ub.Dynamic != "":
			f, err := logging.Compile(ub.Dynamic, logging.CtxAction, opts)
			if err != nil {
				return nil, fmt.Errorf("use_backend (line %d): %w", ub.Line, err)
			}
			u.dynamic = f
		default:
			return nil, fmt.Errorf("use_backend (line %d): missing backend", ub.Line)
		}
		c.useBackends = append(c.useBackends, u)
	}
	if p.MonitorURI != "" {
		c.monitorURI = []byte(p.MonitorURI)
		for _, mf := range p.MonitorFail {
			cond, err := cp.Cond(mf)
			if err != nil {
				return nil, fmt.Errorf("monitor fail: %w", err)
			}
			c.monitorFail = append(c.monitorFail, cond)
		}
	}
	for _, h := range p.CaptureReqHeaders {
		c.reqCaps = append(c.reqCaps, capture{name: []byte(strings.ToLower(h.Name)), len: h.Len, slot: h.Slot})
	}
	for _, h := range p.CaptureResHeaders {
		c.resCaps = append(c.resCaps, capture{name: []byte(strings.ToLower(h.Name)), len: h.Len, slot: h.Slot})
	}
	c.reqCapLens, c.resCapLens = p.ReqCaptureLens, p.ResCaptureLens
	if p.Cap&proxy.CapBE != 0 {
		for _, us := range p.UseServers {
			cond, err := cp.Cond(us.Cond)
			if err != nil {
				return nil, fmt.Errorf("use-server (line %d): %w", us.Line, err)
			}
			u := useServer{cond: cond, server: us.Server}
			if us.Server == nil {
				if u.dynamic, err = logging.Compile(us.Dynamic, logging.CtxAction, opts); err != nil {
					return nil, fmt.Errorf("use-server (line %d): %w", us.Line, err)
				}
			}
			c.useServers = append(c.useServers, u)
		}
		for _, pr := range p.PersistRules {
			cond, err := cp.Cond(pr.Cond)
			if err != nil {
				return nil, fmt.Errorf("persist rule (line %d): %w", pr.Line, err)
			}
			c.persist = append(c.persist, persistRule{cond: cond, force: pr.Force})
		}
		c.cookie = NewCookie(p.Cookie)
		if c.stick, err = compileStickRules(p, env); err != nil {
			return nil, err
		}
	}
	if p.UniqueIDFormat != "" && p.Cap&proxy.CapFE != 0 {
		f, err := logging.Compile(p.UniqueIDFormat, logging.CtxLog, opts)
		if err != nil {
			return nil, fmt.Errorf("unique-id-format: %w", err)
		}
		c.uidFmt = f
		if p.UniqueIDHeader != "" {
			c.uidHdr = []byte(strings.ToLower(p.UniqueIDHeader))
		}
	}
	if p.Stats != nil && rt != nil && l.StatsPage != nil {
		sp, err := l.StatsPage(rt, p, cp)
		if err != nil {
			return nil, err
		}
		c.stats = sp
		if c.statsReq, err = CompileHTTP(p.Stats.HTTPRequest, false, env); err != nil {
			return nil, fmt.Errorf("stats %w", err)
		}
	}
	if p.Cap&proxy.CapFE != 0 {
		var lf string
		switch p.LogFormat {
		case "httplog":
			lf = logging.HTTPLog
		case "httpslog":
			lf = logging.HTTPSLog
		case "tcplog":
			lf = logging.TCPLog
		case "clf", "httplog clf":
			lf = logging.CLFLog
		default:
			lf = p.LogFormat
		}
		// Without a format HAProxy logs its "Connect from" line
		// (appendConnect).
		if lf != "" {
			f, err := logging.Compile(lf, logging.CtxLog, opts)
			if err != nil {
				return nil, fmt.Errorf("failed to parse log-format : %w", err)
			}
			c.logFmt = f
		}
		if p.ErrorLogFormat != "" {
			f, err := logging.Compile(p.ErrorLogFormat, logging.CtxLog, opts)
			if err != nil {
				return nil, fmt.Errorf("failed to parse error-log-format : %w", err)
			}
			c.errFmt = f
		}
		c.dontLogNul = p.DontLogNull
		c.dontLogNormal, c.sepErrors = p.DontLogNormal, p.LogSeparateErrors
		if p.LogFormatSD != "" {
			f, err := logging.Compile(p.LogFormatSD, logging.CtxLog, opts)
			if err != nil {
				return nil, fmt.Errorf("failed to parse log-format-sd : %w", err)
			}
			c.sdFmt = f
		}
		if len(p.Logs) > 0 && rt != nil {
			lg, err := logging.OpenFor(cfg, p)
			if err != nil {
				return nil, err
			}
			c.logger = lg
		}
	}
	return c, nil
}

func (l *L7) state(tx *proxy.Txn) *txnState {
	if st, ok := tx.RuleState.(*txnState); ok {
		return st
	}
	st := l.pool.Get().(*txnState)
	st.v.bind(tx)
	st.v.st = &st.State
	st.Reset(&st.v)
	st.Ctx.Vars.Proc = l.proc
	st.Ctx.Runtime = l.rt
	st.trk = stick.Tracking{}
	if tx.Conn != nil {
		ss := l.session(tx.Conn)
		st.trk.Session = &ss.ctrs
		st.Ctx.Vars.Sess = &ss.vars
	}
	st.resCounted = false
	st.outHead = 0
	st.nstores = 0
	st.Ctx.Stick = &st.trk
	tx.RuleState = st
	return st
}

// Local replies never force a close themselves: like HAProxy, the engine
// closes when the request body was not fully received at reply time.
const replyClose = false

func hasBody(tx *proxy.Txn) bool {
	return tx.Req != nil && (tx.Req.ContentLength > 0 || tx.Req.Chunked)
}

// Request runs a proxy's request-side layer-7 processing in HAProxy's
// order: monitor-uri (frontend), http-request rules, stats page, redirect
// rules, then use_backend (frontend) and cookie persistence (backend).
func (l *L7) Request(tx *proxy.Txn, px *proxy.Proxy) proxy.Verdict {
	c := l.px[px]
	if c == nil {
		return proxy.Continue
	}
	st := l.state(tx)
	st.v.bind(tx)
	feStage := tx.Frontend != nil && px == tx.Frontend.Proxy
	if !feStage {
		st.Ctx.Backend = px.Name // default_backend too (be_name)
	}
	if feStage {
		st.Ctx.Frontend = px.Name
		st.Ctx.ReqLine = tx.ReqLine
		st.initCaptures(c.reqCapLens, c.resCapLens)
		st.reqNum = l.reqs.Add(1) - 1
		if c.uidFmt != nil {
			e := &st.Entry
			l.requestEntry(e, tx, st)
			st.Ctx.UniqueID = c.uidFmt.Append(st.Ctx.UniqueID[:0], e)
		}
	}
	// tcp-request content rules come first (HAProxy evaluates them before
	// any HTTP processing); in HTTP mode the request head is available.
	if runContent(c.tcpReq, &st.Ctx, tx) == tcpReject {
		l.countDenied(tx, px, false)
		tx.Term = [2]byte{'P', 'R'}
		return proxy.Reject
	}
	if tx.Req == nil { // TCP mode: only switching, use-server and stick rules apply
		if feStage {
			l.useBackend(tx, c, st)
			l.persistStage(tx, px, st)
		}
		l.serverStage(tx, px, c, st, feStage)
		l.stickStage(tx, px, c, st, feStage)
		return proxy.Continue
	}
	if feStage {
		// one more request for the counters tracked so far
		// (http_wait_for_request: stream_inc_http_req_ctr)
		st.trk.Count(stick.EvHTTPReq)
	}
	if feStage {
		for _, cap := range c.reqCaps {
			if v, ok := lastHeader(st.v.ReqHeaders(), cap.name); ok {
				st.Capture(false, cap.slot, v, cap.len)
			}
		}
		if c.monitorURI != nil && monitorMatch(tx.Req.URI, c.monitorURI) {
			// the 200 is an error page too (errorfile 200)
			status := 200
			for _, mf := range c.monitorFail {
				if mf.Eval(&st.Ctx) {
					status = 503
					break
				}
			}
			page := st.errPage(status)
			tx.Term = [2]byte{'L', 'R'}
			tx.SetReply(page, replyClose)
			return proxy.Replied
		}
	}
	if v, done := l.outcome(tx, px, st, Run(c.httpReq, &st.State, false, st.errPage)); done {
		return v
	}
	if c.stats != nil && c.stats.Match(&st.v) {
		// stats http-request rules (allow, deny, auth …) apply to the
		// stats requests only, after the proxy's own rules.
		if v, done := l.outcome(tx, px, st, Run(c.statsReq, &st.State, false, st.errPage)); done {
			return v
		}
		st.Stats = true
		st.out = c.stats.Serve(st.out[:0], &st.Ctx)
		tx.Term = [2]byte{'L', 'R'}
		tx.SetReply(st.out, replyClose)
		return proxy.Replied
	}
	if v, done := l.outcome(tx, px, st, Run(c.redirects, &st.State, false, st.errPage)); done {
		return v
	}
	if feStage {
		l.useBackend(tx, c, st)
		l.persistStage(tx, px, st)
		if c.uidHdr != nil {
			if hl := st.v.ReqHeaders(); hl != nil {
				hl.Add(c.uidHdr, st.Ctx.UniqueID)
			}
		}
	}
	l.serverStage(tx, px, c, st, feStage)
	// Cookie persistence belongs to the backend stage; a listen section
	// that keeps its own servers has only the frontend stage. A server
	// chosen already (use-server) or ignore-persist leaves the cookie
	// unused, yet stripped as its mode wants.
	if c.cookie != nil && (!feStage || l.effectiveBackend(tx, px) == px) {
		be := tx.Backend
		if be == nil {
			be = l.rt.Backend(px)
		}
		if be != nil {
			use := CookieRunning
			switch {
			case tx.Server != nil || st.ignorePrst:
				use = CookieUnused
			case st.forcePrst || px.Persist:
				use = CookieAny
			}
			refs := serverRefs(be, st)
			if i := c.cookie.Request(st.v.ReqHeaders(), refs, use, &st.State); i >= 0 {
				// The engine takes the server's slot (Picker.Take):
				// its maxconn and queue apply.
				tx.Server = refs[i].(srvRef).s
			}
		}
	}
	l.stickStage(tx, px, c, st, feStage)
	return proxy.Continue
}

// persistStage runs the force-persist / ignore-persist rules of the
// backend that will serve tx, once it is known (HAProxy's
// process_switching_rules): the first whose condition holds applies.
func (l *L7) persistStage(tx *proxy.Txn, fe *proxy.Proxy, st *txnState) {
	bp := l.effectiveBackend(tx, fe)
	if bp == nil {
		return
	}
	bc := l.px[bp]
	if bc == nil {
		return
	}
	for i := range bc.persist {
		r := &bc.persist[i]
		if r.cond.Eval(&st.Ctx) {
			st.forcePrst, st.ignorePrst = r.force, !r.force
			return
		}
	}
}

// serverStage runs the use-server rules (HAProxy's process_server_rules)
// in the backend stage, before cookie and stick persistence: the first
// rule whose condition holds and whose server runs (or any server with
// option persist or force-persist) chooses it. A dynamic name that names
// no server ends the rules.
func (l *L7) serverStage(tx *proxy.Txn, px *proxy.Proxy, c *compiled, st *txnState, feStage bool) {
	if len(c.useServers) == 0 || tx.Server != nil || (feStage && l.effectiveBackend(tx, px) != px) {
		return
	}
	be := tx.Backend
	if be == nil {
		be = l.rt.Backend(px)
	}
	if be == nil {
		return
	}
	for i := range c.useServers {
		u := &c.useServers[i]
		if !u.cond.Eval(&st.Ctx) {
			continue
		}
		var s *proxy.ServerState
		if u.dynamic != nil {
			st.val = u.dynamic.Append(st.val[:0], &st.Entry)
			for _, bs := range be.Servers() {
				if bs.Server.Name == string(st.val) {
					s = bs
					break
				}
			}
		} else {
			for _, bs := range be.Servers() {
				if bs.Server == u.server {
					s = bs
					break
				}
			}
		}
		if s == nil {
			return
		}
		if stoppedServer(s) && !px.Persist && !st.forcePrst {
			continue // down: a later rule may name a running one
		}
		tx.Server = s
		st.direct = true
		return
	}
}

// stoppedServer says HAProxy counts the server as stopped (cur_state
// SRV_ST_STOPPED: down or in maintenance; draining servers run).
func stoppedServer(s *proxy.ServerState) bool {
	switch s.Status() {
	case proxy.SrvDown, proxy.SrvMaint:
		return true
	}
	return false
}

// stickStage runs the stick rules: after cookie persistence (a cookie's
// server wins) and, like it, in the backend stage.
func (l *L7) stickStage(tx *proxy.Txn, px *proxy.Proxy, c *compiled, st *txnState, feStage bool) {
	if len(c.stick) == 0 || (feStage && l.effectiveBackend(tx, px) != px) {
		return
	}
	be := tx.Backend
	if be == nil {
		be = l.rt.Backend(px)
	}
	if be != nil {
		l.stickRequest(tx, be, c.stick, st)
	}
}

// effectiveBackend is the proxy whose servers will serve tx once the
// frontend stage is over.
func (l *L7) effectiveBackend(tx *proxy.Txn, fe *proxy.Proxy) *proxy.Proxy {
	if tx.Backend != nil {
		return tx.Backend.Proxy
	}
	if fe.DefaultBackend != nil {
		return fe.DefaultBackend
	}
	if fe.Cap&proxy.CapBE != 0 {
		return fe
	}
	return nil
}

type srvRef struct{ s *proxy.ServerState }

func (r srvRef) CookieValue() string { return r.s.Server.Cookie }
func (r srvRef) Persistable() bool   { return !stoppedServer(r.s) }

// serverRefs views a backend's servers for persistence, reusing st's
// slice.
func serverRefs(be *proxy.Backend, st *txnState) []ServerRef {
	refs := st.refs[:0]
	for _, s := range be.Servers() {
		refs = append(refs, srvRef{s})
	}
	st.refs = refs
	return refs
}

func (l *L7) useBackend(tx *proxy.Txn, c *compiled, st *txnState) {
	for i := range c.useBackends {
		u := &c.useBackends[i]
		if !u.cond.Eval(&st.Ctx) {
			continue
		}
		if u.dynamic != nil {
			st.val = u.dynamic.Append(st.val[:0], &st.Entry)
			be := l.rt.BackendByName(string(st.val))
			if be == nil {
				continue
			}
			tx.Backend = be
		} else {
			tx.Backend = u.backend
		}
		st.Ctx.Backend = tx.Backend.Proxy.Name
		return
	}
}

// outcome turns a rule list's result into an engine verdict.
func (l *L7) outcome(tx *proxy.Txn, px *proxy.Proxy, st *txnState, r Result) (proxy.Verdict, bool) {
	switch r.Outcome {
	case Reply:
		if r.Deny {
			l.countDenied(tx, px, false)
			tx.Term = [2]byte{'P', 'R'}
			// a denied request is an HTTP error of the client's
			st.trk.Count(stick.EvHTTPErr)
		} else {
			tx.Term = [2]byte{'L', 'R'}
		}
		tx.SetReply(r.Reply, replyClose || (r.Redirect && hasBody(tx)))
		return proxy.Replied, true
	case Drop:
		tx.Term = [2]byte{'P', 'R'}
		return proxy.Reject, true
	}
	return proxy.Continue, false
}

func (l *L7) countDenied(tx *proxy.Txn, px *proxy.Proxy, response bool) {
	var ctr *proxy.Counters
	if tx.Frontend != nil && tx.Frontend.Proxy == px {
		ctr = &tx.Frontend.Counters
	} else if be := l.rt.Backend(px); be != nil {
		ctr = &be.Counters
	}
	if ctr == nil {
		return
	}
	if response {
		ctr.DeniedRsp.Add(1)
	} else {
		ctr.DeniedReq.Add(1)
	}
}

// Response runs http-response rules and cookie insertion/rewriting.
func (l *L7) Response(tx *proxy.Txn, px *proxy.Proxy) proxy.Verdict {
	c := l.px[px]
	if c == nil {
		return proxy.Continue
	}
	beStage := tx.Backend == nil || tx.Backend.Proxy == px
	if tx.Resp == nil {
		// mode tcp: the server connection is established; tcp-response
		// content rules inspect the server's first bytes, then the keys
		// of stick rules are stored with its server
		if len(c.tcpRes) > 0 && beStage {
			st := l.state(tx)
			st.v.bind(tx)
			if v := runResContent(c.tcpRes, &st.Ctx, tx); v == tcpReject || v == tcpClose {
				return proxy.Reject
			}
		}
		if len(c.stick) > 0 && beStage {
			l.stickResponse(tx, c.stick, l.state(tx))
		}
		return proxy.Continue
	}
	st := l.state(tx)
	st.v.bind(tx)
	if len(c.tcpRes) > 0 && beStage {
		// tcp-response content rules run before the HTTP analysers: a
		// reject closes the client's connection without an answer; close
		// shuts the server's, which the client sees as a 502.
		switch runTCP(c.tcpRes, &st.Ctx, "content") {
		case tcpReject:
			tx.Term = [2]byte{'P', 'D'}
			return proxy.Reject
		case tcpClose:
			tx.Term = [2]byte{'S', 'H'}
			tx.SetReply(st.errPage(502), false)
			return proxy.Replied
		}
	}
	if !st.resCounted {
		// the server's answer, once (http_wait_for_response): 4xx are the
		// client's errors, 5xx but 501 and 505 the server's failures
		st.resCounted = true
		st.outHead = htxHeadSize(tx.Resp, false)
		switch s := tx.Resp.Status; {
		case s >= 400 && s < 500:
			st.trk.Count(stick.EvHTTPErr)
		case s >= 500 && s < 600 && s != 501 && s != 505:
			st.trk.Count(stick.EvHTTPFail)
		}
	}
	st.Ctx.Response = true // cookie() reads Set-Cookie now
	r := Run(c.httpRes, &st.State, true, st.errPage)
	st.Ctx.Response = false
	switch r.Outcome {
	case Reply:
		if r.Deny {
			l.countDenied(tx, px, true)
		}
		tx.SetReply(r.Reply, false)
		return proxy.Replied
	case Drop:
		return proxy.Reject
	}
	if c.cookie != nil && tx.Server != nil && tx.Backend != nil && tx.Backend.Proxy == px {
		c.cookie.Response(st.v.ResHeaders(), tx.Server.Server.Cookie, &st.State)
	}
	if len(c.stick) > 0 && (tx.Backend == nil || tx.Backend.Proxy == px) {
		l.stickResponse(tx, c.stick, st)
	}
	if tx.Frontend != nil && px == tx.Frontend.Proxy {
		for _, cap := range c.resCaps {
			if v, ok := lastHeader(st.v.ResHeaders(), cap.name); ok {
				st.Capture(true, cap.slot, v, cap.len)
			}
		}
	}
	return proxy.Continue
}

func lastHeader(hl acl.HeaderList, name []byte) ([]byte, bool) {
	if hl == nil {
		return nil, false
	}
	var out []byte
	found := false
	for i := 0; i < hl.Len(); i++ {
		k, v := hl.At(i)
		if bytes.EqualFold(k, name) {
			out, found = v, true
		}
	}
	return out, found
}

func ms(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return d.Milliseconds()
}

// Log renders and sends the frontend's log line, then recycles the state.
// countRefused counts a request the engine refused on the connection's
// tracked counters as HAProxy 2.6.12 does: a request each time, an error
// for the H1 layer's parsing errors only (session_inc_http_err_ctr).
func (l *L7) countRefused(tx *proxy.Txn) {
	ss, ok := tx.Conn.State.(*sessState)
	if !ok {
		return
	}
	ev := stick.EvHTTPReq
	if tx.Refused == proxy.RefusedParse {
		ev |= stick.EvHTTPErr
	}
	tk := stick.Tracking{Session: &ss.ctrs}
	tk.Count(ev)
}

func (l *L7) Log(tx *proxy.Txn) {
	st, _ := tx.RuleState.(*txnState)
	if st != nil {
		if !st.resCounted && (tx.Status == 502 || tx.Status == 504) && (tx.Term[0] == 'S' || tx.Term[0] == 's') {
			// no response head: the server closed, failed or timed
			// out (http_wait_for_response's stream_inc_http_fail_ctr)
			st.trk.Count(stick.EvHTTPFail)
		}
		// the stream ends: its bytes count, its counters go
		// (stream_process_counters, stream_store_counters)
		st.trk.AddBytes(st.stickBytes(tx))
		st.trk.Stream.Stop()
		st.Ctx.Stick = nil
	} else if tx.Refused != proxy.NotRefused && tx.Conn != nil {
		l.countRefused(tx)
	}
	defer func() {
		if st != nil {
			tx.RuleState = nil
			st.v.tx = nil
			l.pool.Put(st)
		}
	}()
	if tx.Frontend == nil {
		return
	}
	c := l.px[tx.Frontend.Proxy]
	if c == nil || c.logger == nil {
		return
	}
	if c.dontLogNul && tx.BytesIn == 0 {
		return
	}
	if st == nil {
		st = l.pool.Get().(*txnState)
		st.v.bind(tx)
		st.Reset(&st.v)
	}
	if st.LogLevel < 0 { // http-request set-log-level silent
		return
	}
	// An error, a retry, a redispatch or a 5xx (strm_log): only these
	// are logged with dontlog-normal, at level err with
	// log-separate-errors. A termination cause other than '-' (none)
	// and 'L' (local) is an error.
	t0 := tx.Term[0]
	isErr := tx.ConnErr != 0 || tx.Redispatched || (t0 != 0 && t0 != '-' && t0 != 'L') ||
		((t0 == 0 || t0 == '-') && tx.Retries > 0) || (tx.Req != nil && tx.Status >= 500)
	if c.dontLogNormal && !isErr {
		return
	}
	level := st.LogLevel
	if !st.LogLevelSet && isErr && c.sepErrors {
		level = logging.LevelErr
	}
	e := &st.Entry
	fillEntry(e, tx, st, l)
	st.out = st.out[:0]
	switch {
	case isErr && c.errFmt != nil:
		st.out = c.errFmt.Append(st.out, e)
	case tx.ConnErr != 0:
		st.out = appendConnError(st.out, tx)
	case c.logFmt == nil:
		st.out = appendConnect(st.out, tx)
	default:
		st.out = c.logFmt.Append(st.out, e)
	}
	if c.sdFmt == nil {
		c.logger.Send(level, st.out)
		return
	}
	n := len(st.out)
	st.out = c.sdFmt.Append(st.out, e)
	c.logger.SendSD(level, st.out[n:], st.out[:n])
}

// appendConnError is HAProxy's short line for a failed connection:
// "127.0.0.1:4242 [03/Dec/2026:17:18:49.801] fe/bind: message".
func appendConnError(dst []byte, tx *proxy.Txn) []byte {
	dst = tx.Src.AppendTo(dst)
	dst = append(dst, " ["...)
	dst = tx.AcceptAt.AppendFormat(dst, "02/Jan/2006:15:04:05.000")
	dst = append(dst, "] "...)
	dst = append(dst, tx.Frontend.Proxy.Name...)
	dst = append(dst, '/')
	if tx.Bind != nil && tx.Bind.Name != "" {
		dst = append(dst, tx.Bind.Name...)
	} else if tx.Bind != nil {
		dst = strconv.AppendInt(dst, int64(tx.Bind.ID), 10)
	}
	dst = append(dst, ": "...)
	return append(dst, proxy.ConnErrString(tx.ConnErr)...)
}

// appendConnect is HAProxy's default log line (no option httplog/tcplog).
func appendConnect(dst []byte, tx *proxy.Txn) []byte {
	dst = append(dst, "Connect from "...)
	dst = tx.Src.AppendTo(dst)
	dst = append(dst, " to "...)
	dst = tx.Dst.AppendTo(dst)
	dst = append(dst, " ("...)
	dst = append(dst, tx.Frontend.Proxy.Name...)
	if tx.Frontend.Proxy.Mode == proxy.ModeHTTP {
		dst = append(dst, "/HTTP)"...)
	} else {
		dst = append(dst, "/TCP)"...)
	}
	return dst
}

// requestEntry fills what a log-format can read before the transaction
// ends (unique-id-format).
func (l *L7) requestEntry(e *logging.Entry, tx *proxy.Txn, st *txnState) {
	ctx := e.Ctx
	*e = logging.Entry{Ctx: ctx}
	e.Client, e.Frontend = tx.Src, tx.Dst
	e.Accept, e.Request = tx.AcceptAt, tx.ReqAt
	e.FrontendName, e.SSL = tx.Frontend.Proxy.Name, tx.SSL
	e.PID, e.Hostname = l.pid, l.hostname
	e.ReqCounter = st.reqNum
	if tx.TLS != nil {
		// %sslv, %sslc: OpenSSL's names, read-only views of constants.
		e.SSLVersion = strBytes(tlsconf.VersionString(tx.TLS.Version))
		e.SSLCipher = strBytes(tlsconf.CipherName(tx.TLS.CipherSuite))
	}
	if len(tx.ReqLine) > 0 {
		e.RequestLine = tx.ReqLine
	}
	e.Th, e.Ti, e.TR, e.Tw, e.Tc, e.Tr, e.Ta, e.Tt = -1, -1, -1, -1, -1, -1, -1, -1
}

func strBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func fillEntry(e *logging.Entry, tx *proxy.Txn, st *txnState, l *L7) {
	l.requestEntry(e, tx, st)
	if tx.Backend != nil {
		e.BackendName = tx.Backend.Proxy.Name
	}
	switch {
	case st.Stats:
		e.ServerName = "<STATS>"
	case tx.Applet != nil:
		e.ServerName = tx.Applet.Name()
	case tx.Server != nil:
		e.ServerName = tx.Server.Server.Name
	}
	e.Th, e.Ti, e.TR, e.Tw = ms(tx.Th), ms(tx.Ti), ms(tx.TR), ms(tx.Tw)
	e.Tc, e.Tr, e.Ta, e.Tt = ms(tx.Tc), ms(tx.Tr), ms(tx.Ta), ms(tx.Tt)
	if st.Stats {
		// the stats applet "connects" at once (HAProxy logs 0/0/0/0/0)
		for _, t := range []*int64{&e.Tw, &e.Tc, &e.Tr} {
			if *t < 0 {
				*t = 0
			}
		}
	}
	if e.Th < 0 {
		e.Th = 0
	}
	if e.Ti < 0 {
		e.Ti = 0
	}
	e.Status = tx.Status
	e.BytesOut, e.BytesIn = tx.BytesOut, tx.BytesIn
	e.Term = [4]byte{tx.Term[0], tx.Term[1], st.CookieReq, st.CookieRes}
	e.ActConn, e.FeConn = int(tx.ActConn), int(tx.FeConn)
	e.BeConn, e.SrvConn = int(tx.BeConn), int(tx.SrvConn)
	e.Retries, e.Redispatched = tx.Retries, tx.Redispatched
	e.SrvQueue, e.BeQueue = int(tx.SrvQueue), int(tx.BeQueue)
	e.ReqCaptures, e.ResCaptures = st.ReqCaps, st.ResCaps
	e.UniqueID = st.Ctx.UniqueID
	if tx.Server != nil {
		e.Server = tx.Server.Addr(tx.Dst)
	}
}

// monitorMatch is HAProxy's monitor-uri test: a monitor-uri starting with
// '/' matches the request's path (with its query), also when the request
// line carries an absolute URI; any monitor-uri matches the URI as sent.
func monitorMatch(uri, mon []byte) bool {
	if string(uri) == string(mon) {
		return true
	}
	if len(mon) == 0 || mon[0] != '/' || len(uri) == 0 || uri[0] == '/' {
		return false
	}
	i := bytes.Index(uri, []byte("://"))
	if i < 0 {
		return false
	}
	rest := uri[i+3:]
	j := bytes.IndexAny(rest, "/?")
	if j < 0 {
		return false
	}
	path := rest[j:]
	if path[0] == '?' {
		return false
	}
	return string(path) == string(mon)
}
