// Package stats is HAProxy's statistics: `show stat` CSV with 2.6's exact
// columns (management.txt §9.1), `show info`, the runtime API over the
// stats socket (management.txt §9.3) and the HTML stats page
// (configuration.txt §4.2 "stats").
package stats

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/stick"
)

// Fields are the `show stat` CSV columns of HAProxy 2.6, in order.
var Fields = strings.Split("pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out", ",")

var fieldIndex = func() map[string]int {
	m := map[string]int{}
	for i, f := range Fields {
		m[f] = i
	}
	return m
}()

// Row is one CSV line: field values by column, "" for empty.
type Row []string

func newRow() Row { return make(Row, len(Fields)) }

func (r Row) set(name string, v string) { r[fieldIndex[name]] = v }
func (r Row) setI(name string, v int64) { r[fieldIndex[name]] = strconv.FormatInt(v, 10) }
func (r Row) zero(names ...string) {
	for _, n := range names {
		r[fieldIndex[n]] = "0"
	}
}

// Get returns a field's value by column name.
func (r Row) Get(name string) string {
	if v := r[fieldIndex[name]]; v != emptyField {
		return v
	}
	return ""
}

// emptyField marks a field that is present with an empty value (a
// check's last output when it said nothing): the CSV shows it empty,
// the typed and JSON outputs list it, as HAProxy's.
const emptyField = "\x00"

// setStr sets a string field that exists even when empty.
func (r Row) setStr(name, v string) {
	if v == "" {
		v = emptyField
	}
	r.set(name, v)
}

// Row types (the "type" column).
const (
	TypeFrontend = 0
	TypeBackend  = 1
	TypeServer   = 2
	TypeListener = 3
)

// CheckState is what a server's checks know, for the check_* and agent_*
// columns (a CheckFunc, given to New, reports it).
type CheckState struct {
	Enabled  bool
	Status   string // L4OK, L4CON, L7OK, L7STS, L4TOUT, … INI before the first check
	Code     int    // L7 code, shown when HasCode
	HasCode  bool
	Desc     string // "Layer4 check passed" …
	Info     string // last_chk: "Connection refused", HTTP reason …
	Duration int64  // ms, -1 when none
	Health   int    // 0 .. rise+fall-1
	Rise     int
	Fall     int
	// Paused: the check is suspended (maintenance): its columns are empty.
	Paused bool
	// InProgress: a check is running now (check_status shows "* ").
	InProgress bool
	Failed     int64 // chkfail
	Downs      int64 // chkdown: UP->DOWN transitions
	Downtime   time.Duration
	// LastChange is when the server last changed state (lastchg); zero
	// when unknown.
	LastChange time.Time
	// Agent is the agent check's state (nil without agent-check).
	Agent *AgentState
	// Maxconn is the server's maxconn now (an agent may change it).
	Maxconn int
	// MaintVia names the tracked server ("be/srv") when the maintenance
	// is only inherited from it: the status reads MAINT (via be/srv).
	MaintVia string
	// Ref is the state of the checks at the end of the track chain (the
	// server's own when it tracks nothing): the status column reads it.
	Ref RefState
}

// RefState is what the status column reads from the checked server at
// the end of a track chain (stats_fill_sv_computestate's ref).
type RefState struct {
	Check       bool // ref has a health check
	Health      int
	Rise, Fall  int
	Agent       bool // ref has an agent check
	AgentHealth int
}

// AgentState is an agent check's state for the agent_* columns.
type AgentState struct {
	Status     string
	Code       int
	HasCode    bool
	Desc       string
	Info       string // last_agt
	Duration   int64
	Health     int
	Rise       int
	Fall       int
	InProgress bool
}

// CheckFunc returns a server's health-check state; false (or a nil
// CheckFunc) means no checker reports on it, and the columns then come
// from the configuration alone.
type CheckFunc func(s *proxy.ServerState) (CheckState, bool)

// Stats renders a runtime's statistics. It remembers when each server
// last changed state (lastchg) by watching the states it reports.
type Stats struct {
	rt      *proxy.Runtime
	checks  CheckFunc
	start   time.Time
	mu      sync.Mutex
	changed map[*proxy.ServerState]stateMark
	beMark  map[*proxy.Backend]stateMark
	Version string
	Release string
	m       *measures
	tables  func() *stick.Set // stick tables (table_cli.go)
	// checkSwitch turns servers' checks on and off for the page's admin
	// actions (nil: those actions change nothing).
	checkSwitch CheckSwitch
	// refs returns the runtime's pattern and map references (the rules
	// module owns them); nil: none.
	refs func() *acl.PatRefs
	// showCache writes `show cache` (cache_cli.go; nil: no cache).
	showCache func(b *strings.Builder)
	// StartupLogs are the messages the process printed while starting
	// (show startup-logs).
	StartupLogs string
}

type stateMark struct {
	status proxy.ServerStatus
	up     bool
	at     time.Time
	downAt time.Time
	down   time.Duration
	downs  int64
}

// New returns the statistics of rt; checks (may be nil) reports the
// servers' health checks.
func New(rt *proxy.Runtime, checks CheckFunc) *Stats {
	return &Stats{rt: rt, checks: checks, start: time.Now(), changed: map[*proxy.ServerState]stateMark{},
		beMark: map[*proxy.Backend]stateMark{}, Version: Version, Release: ReleaseDate, m: newMeasures(rt)}
}

// Version and ReleaseDate are reported by show info and the stats page.
var (
	Version     = "2.6.12-halo"
	ReleaseDate = "2026/11/25"
)

// stopped: a server down or in maintenance is stopped for HAProxy
// (SRV_ST_STOPPED), and its downtime runs (srv_downtime).
func stopped(st proxy.ServerStatus) bool { return st == proxy.SrvDown || st == proxy.SrvMaint }

func (s *Stats) mark(ss *proxy.ServerState, now time.Time) stateMark {
	st := ss.Status()
	m, ok := s.changed[ss]
	if !ok {
		m = stateMark{status: st, at: s.start, downAt: s.start}
	}
	if m.status != st {
		if st == proxy.SrvDown && m.status != proxy.SrvDown {
			m.downs++
		}
		if stopped(st) && !stopped(m.status) {
			m.downAt = now
		}
		if stopped(m.status) && !stopped(st) {
			m.down += now.Sub(m.downAt)
		}
		m.status, m.at = st, now
	}
	s.changed[ss] = m
	return m
}

// Filter selects rows like `show stat [<iid> <type> <sid>]`: IID -1 is
// every proxy, Types is a bit mask (1 FE, 2 BE, 4 server), SID -1 every
// server.
type Filter struct {
	IID   int
	Types int
	SID   int
	// Admin shows addr and cookie (CLI at admin level, or
	// stats show-legends on the page).
	Admin bool
	// Name restricts to one proxy by name (used when IID is -1).
	Name string
}

// AllRows is the unfiltered selection.
var AllRows = Filter{IID: -1, Types: 7, SID: -1}

// Rows returns the CSV rows in HAProxy's order: for each proxy in
// configuration order, its FRONTEND, then its servers, then BACKEND.
func (s *Stats) Rows(f Filter) []Row {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var out []Row
	fes := map[*proxy.Proxy]*proxy.Frontend{}
	for _, fe := range s.rt.Frontends {
		fes[fe.Proxy] = fe
	}
	for _, p := range s.rt.Cfg.Proxies {
		if p.Disabled {
			continue
		}
		if f.IID >= 0 && p.ID != f.IID {
			continue
		}
		if f.Name != "" && p.Name != f.Name {
			continue
		}
		if fe := fes[p]; fe != nil && f.Types&1 != 0 {
			out = append(out, s.frontendRow(fe))
		}
		be := s.rt.Backend(p)
		if be == nil {
			continue
		}
		if f.Types&4 != 0 {
			for _, ss := range be.Servers() {
				if f.SID >= 0 && ss.Server.ID != f.SID {
					continue
				}
				out = append(out, s.serverRow(ss, now, f.Admin))
			}
		}
		if f.Types&2 != 0 {
			out = append(out, s.backendRow(be, now, f.Admin))
		}
	}
	return out
}

// AppendCSV writes the header line and rows as `show stat` prints them.
func AppendCSV(dst []byte, rows []Row) []byte {
	dst = append(dst, "# "...)
	for _, f := range Fields {
		dst = append(dst, f...)
		dst = append(dst, ',')
	}
	dst = append(dst, '\n')
	for _, r := range rows {
		for _, v := range r {
			dst = append(dst, csvEscape(v)...)
			dst = append(dst, ',')
		}
		dst = append(dst, '\n')
	}
	return append(dst, '\n')
}

func csvEscape(v string) string {
	if v == emptyField {
		return ""
	}
	if !strings.ContainsAny(v, ",\"\n") {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
}

func modeName(p *proxy.Proxy) string {
	if p.Mode == proxy.ModeHTTP {
		return "http"
	}
	return "tcp"
}

func (s *Stats) frontendRow(fe *proxy.Frontend) Row {
	p := fe.Proxy
	c := &fe.Counters
	r := newRow()
	r.set("pxname", p.Name)
	r.set("svname", "FRONTEND")
	r.setI("scur", c.CurConns.Load())
	r.setI("smax", c.MaxConns.Load())
	r.setI("slim", int64(frontendMaxconn(s.rt.Cfg, p)))
	r.setI("stot", c.TotConns.Load())
	r.setI("bin", c.BytesIn.Load())
	r.setI("bout", c.BytesOut.Load())
	r.setI("dreq", c.DeniedReq.Load())
	r.setI("dresp", c.DeniedRsp.Load())
	r.setI("ereq", c.ErrReq.Load())
	r.set("status", "OPEN")
	r.set("pid", "1")
	r.setI("iid", int64(p.ID))
	r.set("sid", "0")
	r.setI("type", TypeFrontend)
	r.zero("rate", "rate_lim", "rate_max", "req_rate", "req_rate_max", "comp_in", "comp_out", "comp_byp", "comp_rsp",
		"conn_rate", "conn_rate_max", "dcon", "dses", "wrew", "eint")
	if o := s.m.fe[fe]; o != nil {
		now := time.Now()
		setRate(r, &o.sess, now, "rate", "rate_max")
		setRate(r, &o.conn, now, "conn_rate", "conn_rate_max")
		if p.Mode == proxy.ModeHTTP {
			setRate(r, &o.req, now, "req_rate", "req_rate_max")
		}
	}
	if p.Mode == proxy.ModeHTTP {
		for i, n := range []string{"hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"} {
			r.setI(n, c.Hrsp[i].Load())
		}
		r.setI("req_tot", c.Requests.Load())
		r.zero("intercepted")
		setFilterCounters(r, c) // cache_cli.go
	} else {
		r.zero("req_tot")
	}
	r.setI("conn_tot", c.TotConns.Load())
	r.set("mode", modeName(p))
	r.set("-", "-")
	s.protoCounters(r, c, true)
	return r
}

// protoCounters fills the ssl/h2/h1 module columns.
func (s *Stats) protoCounters(r Row, c *proxy.Counters, h12 bool) {
	r.zero("ssl_sess", "ssl_reused_sess", "ssl_failed_handshake")
	if !h12 {
		return
	}
	for _, n := range Fields[fieldIndex["h2_headers_rcvd"]:] {
		r.set(n, "0")
	}
	r.setI("h1_open_connections", c.CurConns.Load())
	r.setI("h1_total_connections", c.TotConns.Load())
	r.setI("h1_total_streams", c.Requests.Load())
	r.setI("h1_bytes_in", c.BytesIn.Load())
	r.setI("h1_bytes_out", c.BytesOut.Load())
}

// frontendMaxconn is a frontend's effective maxconn (slim).
func frontendMaxconn(cfg *proxy.Config, p *proxy.Proxy) int {
	if p.Maxconn > 0 {
		return p.Maxconn
	}
	if cfg.Global.Maxconn > 0 {
		return cfg.Global.Maxconn
	}
	return 2000 // HAProxy's DEFAULT_MAXCONN without a global maxconn
}

// backendFullconn is HAProxy's default fullconn: 10% of the maxconn of
// every frontend that can reach the backend.
func backendFullconn(cfg *proxy.Config, be *proxy.Proxy) int {
	if be.Fullconn > 0 {
		return be.Fullconn
	}
	sum := 0
	for _, p := range cfg.Proxies {
		if p.Cap&proxy.CapFE == 0 {
			continue
		}
		reach := p == be || p.DefaultBackend == be
		for _, ub := range p.UseBackends {
			if ub.Backend == be || ub.Dynamic != "" {
				reach = true
			}
		}
		if reach {
			sum += frontendMaxconn(cfg, p)
		}
	}
	if sum == 0 {
		sum = frontendMaxconn(cfg, be)
	}
	if n := (sum + 9) / 10; n > 0 {
		return n
	}
	return 1
}

// serverStatus is the status column: MAINT, else the operational state
// (DOWN, NOLB; a drained server that is up shows DRAIN), as HAProxy's.
func serverStatus(ss *proxy.ServerState, chk CheckState, hasChk bool) string {
	if ss.Status() == proxy.SrvMaint {
		if hasChk && chk.MaintVia != "" {
			return "MAINT (via " + chk.MaintVia + ")"
		}
		return "MAINT"
	}
	ref := RefState{Check: ss.Server.Check, Rise: ss.Server.Rise, Fall: ss.Server.Fall}
	if hasChk {
		ref = chk.Ref
		if ref == (RefState{}) { // not given: the server's own checks
			ref = RefState{Check: chk.Enabled, Health: chk.Health, Rise: chk.Rise, Fall: chk.Fall}
			if chk.Agent != nil {
				ref.Agent, ref.AgentHealth = true, chk.Agent.Health
			}
		}
	}
	frac := func(a, b int) string { return strconv.Itoa(a) + "/" + strconv.Itoa(b) }
	switch ss.Health() {
	case proxy.SrvNoLB:
		if (!ss.Server.Check && ss.Server.TrackServer == "") || ref.Health == ref.Rise+ref.Fall-1 {
			return "NOLB"
		}
		return "NOLB " + frac(ref.Health-ref.Rise+1, ref.Fall)
	case proxy.SrvDown:
		switch {
		case ref.Agent && ref.AgentHealth == 0:
			return "DOWN (agent)"
		case ref.Check && ref.Health == 0:
			return "DOWN"
		case ref.Agent || ref.Check:
			return "DOWN " + frac(ref.Health, ref.Rise)
		}
		return "DOWN"
	}
	goingDown := ref.Check && ref.Health < ref.Rise+ref.Fall-1
	if ss.Status() == proxy.SrvDrain {
		switch {
		case ref.Agent:
			return "DRAIN (agent)"
		case goingDown:
			return "DRAIN " + frac(ref.Health-ref.Rise+1, ref.Fall)
		}
		return "DRAIN"
	}
	switch {
	case goingDown:
		return "UP " + frac(ref.Health-ref.Rise+1, ref.Fall)
	case !ref.Check:
		return "no check"
	}
	return "UP"
}

func (s *Stats) serverRow(ss *proxy.ServerState, now time.Time, admin bool) Row {
	sv := ss.Server
	p := ss.Backend.Proxy
	c := &ss.Counters
	m := s.mark(ss, now)
	var chk CheckState
	hasChk := false
	if s.checks != nil {
		chk, hasChk = s.checks(ss)
	}
	r := newRow()
	r.set("pxname", p.Name)
	r.set("svname", sv.Name)
	r.setI("qcur", c.CurQueue.Load())
	r.setI("qmax", c.MaxQueue.Load())
	r.setI("scur", c.CurConns.Load())
	r.setI("smax", c.MaxConns.Load())
	slim := sv.Maxconn
	if hasChk && chk.Maxconn > 0 {
		slim = chk.Maxconn
	}
	if slim > 0 {
		r.setI("slim", int64(slim))
	}
	r.setI("stot", c.TotConns.Load())
	r.setI("bin", c.BytesIn.Load())
	r.setI("bout", c.BytesOut.Load())
	r.setI("dresp", c.DeniedRsp.Load())
	r.setI("econ", c.ErrConn.Load())
	r.setI("eresp", c.ErrResp.Load())
	r.setI("wretr", c.Retries.Load())
	r.setI("wredis", c.Redisp.Load())
	r.set("status", serverStatus(ss, chk, hasChk))
	w := int64(ss.Weight())
	r.setI("weight", w)
	if sv.Backup {
		r.set("act", "0")
		r.set("bck", "1")
	} else {
		r.set("act", "1")
		r.set("bck", "0")
	}
	if sv.Check {
		r.setI("chkfail", chk.Failed)
		downs := m.downs
		if hasChk {
			downs = chk.Downs
		}
		r.setI("chkdown", downs)
		down := m.down
		if stopped(m.status) {
			down += now.Sub(m.downAt)
		}
		if hasChk && chk.Downtime > 0 {
			down = chk.Downtime
		}
		r.setI("downtime", int64(down/time.Second))
	}
	changed := m.at
	if hasChk && !chk.LastChange.IsZero() {
		changed = chk.LastChange
	}
	r.setI("lastchg", int64(now.Sub(changed)/time.Second))
	if sv.Maxqueue > 0 {
		r.setI("qlimit", int64(sv.Maxqueue))
	}
	r.set("pid", "1")
	r.setI("iid", int64(p.ID))
	r.setI("sid", int64(sv.ID))
	r.setI("lbtot", c.TotConns.Load())
	if sv.TrackServer != "" {
		r.set("tracked", sv.TrackBackend+"/"+sv.TrackServer)
	}
	r.setI("type", TypeServer)
	r.zero("rate", "rate_max", "cli_abrt", "srv_abrt", "qtime", "ctime", "rtime", "ttime", "wrew", "connect", "reuse",
		"srv_icur", "qtime_max", "ctime_max", "rtime_max", "ttime_max", "eint", "idle_conn_cur", "safe_conn_cur", "used_conn_cur")
	r.setI("cli_abrt", c.ClientAb.Load())
	r.setI("srv_abrt", c.ServerAb.Load())
	r.setI("connect", c.TotConns.Load())
	if o := s.m.srv[ss]; o != nil {
		setRate(r, &o.sess, now, "rate", "rate_max")
		setTimes(r, o)
	}
	// Checks pause in maintenance: HAProxy then shows no check columns.
	if sv.Check && hasChk && !chk.Paused && ss.Status() != proxy.SrvMaint {
		status := chk.Status
		if chk.InProgress {
			status = "* " + status
		}
		r.set("check_status", status)
		if chk.HasCode {
			r.setI("check_code", int64(chk.Code))
		}
		if chk.Duration >= 0 {
			r.setI("check_duration", chk.Duration)
		}
		r.setStr("last_chk", chk.Info)
		r.set("check_desc", chk.Desc)
		r.setI("check_rise", int64(chk.Rise))
		r.setI("check_fall", int64(chk.Fall))
		r.setI("check_health", int64(chk.Health))
	}
	if a := chk.Agent; hasChk && a != nil {
		status := a.Status
		if a.InProgress {
			status = "* " + status
		}
		r.set("agent_status", status)
		if a.HasCode {
			r.setI("agent_code", int64(a.Code))
		}
		if a.Duration >= 0 {
			r.setI("agent_duration", a.Duration)
		}
		r.set("agent_desc", a.Desc)
		r.setStr("last_agt", a.Info)
		r.setI("agent_rise", int64(a.Rise))
		r.setI("agent_fall", int64(a.Fall))
		r.setI("agent_health", int64(a.Health))
	}
	if p.Mode == proxy.ModeHTTP {
		for i, n := range []string{"hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"} {
			r.setI(n, c.Hrsp[i].Load())
		}
		r.setI("req_tot", c.Requests.Load())
	}
	last := c.LastSess.Load()
	if last > 0 {
		r.setI("lastsess", now.Unix()-last)
	} else {
		r.set("lastsess", "-1")
	}
	if admin {
		port := sv.Port
		addr := sv.Addr.String()
		if sv.Addr.Is6() && !sv.Addr.Is4In6() {
			addr = "[" + addr + "]"
		}
		r.set("addr", addr+":"+strconv.Itoa(port))
		r.set("cookie", sv.Cookie)
	}
	r.set("mode", modeName(p))
	// est_need_conns: what 2.6 reported for servers with and without checks.
	need := "0"
	if sv.Check && hasChk && chk.Status != "" && chk.Status != "INI" {
		need = "1" // a check connection was made
	}
	r.set("need_conn_est", need)
	r.setI("uweight", int64(sv.Weight))
	r.set("-", "-")
	s.protoCounters(r, c, false)
	return r
}

func algoName(b proxy.BalanceAlgo) string {
	switch b {
	case proxy.BalanceStaticRR:
		return "static-rr"
	case proxy.BalanceLeastConn:
		return "leastconn"
	case proxy.BalanceFirst:
		return "first"
	case proxy.BalanceSource:
		return "source"
	case proxy.BalanceURI:
		return "uri"
	case proxy.BalanceURLParam:
		return "url_param"
	case proxy.BalanceHdr:
		return "hdr"
	case proxy.BalanceRandom:
		return "random"
	case proxy.BalanceRDPCookie:
		return "rdp-cookie"
	}
	return "roundrobin"
}

func (s *Stats) backendRow(be *proxy.Backend, now time.Time, admin bool) Row {
	p := be.Proxy
	c := &be.Counters
	r := newRow()
	r.set("pxname", p.Name)
	r.set("svname", "BACKEND")
	r.setI("qcur", c.CurQueue.Load())
	r.setI("qmax", c.MaxQueue.Load())
	r.setI("scur", c.CurConns.Load())
	r.setI("smax", c.MaxConns.Load())
	r.setI("slim", int64(backendFullconn(s.rt.Cfg, p)))
	r.setI("stot", c.TotConns.Load())
	r.setI("bin", c.BytesIn.Load())
	r.setI("bout", c.BytesOut.Load())
	r.setI("dreq", c.DeniedReq.Load())
	r.setI("dresp", c.DeniedRsp.Load())
	r.setI("econ", c.ErrConn.Load())
	r.setI("eresp", c.ErrResp.Load())
	r.setI("wretr", c.Retries.Load())
	r.setI("wredis", c.Redisp.Load())
	// Weight and counts: active servers when any is usable, else backups
	// (HAProxy's lbprm totals).
	var act, bck, wAct, wBck int64
	// Drained, stopping and down servers are not counted (HAProxy 2.6.12
	// on this box: act 1 with one server up beside drained, NOLB, DOWN
	// and MAINT ones).
	for _, ss := range be.Servers() {
		if !ss.Usable() {
			continue
		}
		w := int64(ss.Weight())
		if ss.Server.Backup {
			bck++
			wBck += w
		} else {
			act++
			wAct += w
		}
	}
	weight := wAct
	if act == 0 {
		weight = wBck
	}
	// A backend without servers (a stats-only listen) is UP, as in
	// HAProxy, and has no downtime.
	status := "UP"
	if act+bck == 0 && len(be.Servers()) > 0 {
		status = "DOWN"
	}
	r.set("status", status)
	r.setI("weight", weight)
	r.setI("act", act)
	r.setI("bck", bck)
	m, ok := s.beMark[be]
	up := status == "UP"
	if !ok {
		m = stateMark{up: up, at: s.start, downAt: s.start}
	}
	if m.up != up {
		if !up {
			m.downAt = now
		} else {
			m.down += now.Sub(m.downAt)
		}
		m.up, m.at = up, now
	}
	s.beMark[be] = m
	r.setI("chkdown", c.Downs.Load())
	r.setI("lastchg", int64(now.Sub(m.at)/time.Second))
	if len(be.Servers()) > 0 {
		down := m.down
		if !up {
			down += now.Sub(m.downAt)
		}
		r.setI("downtime", int64(down/time.Second))
	}
	r.set("pid", "1")
	r.setI("iid", int64(p.ID))
	r.set("sid", "0")
	r.setI("lbtot", c.TotConns.Load())
	r.setI("type", TypeBackend)
	r.zero("rate", "rate_max", "cli_abrt", "srv_abrt", "comp_in", "comp_out", "comp_byp", "comp_rsp",
		"qtime", "ctime", "rtime", "ttime", "wrew", "connect", "reuse", "qtime_max", "ctime_max", "rtime_max", "ttime_max",
		"eint", "agg_server_status", "agg_server_check_status", "agg_check_status")
	r.setI("cli_abrt", c.ClientAb.Load())
	r.setI("srv_abrt", c.ServerAb.Load())
	r.setI("connect", c.TotConns.Load())
	if o := s.m.be[be]; o != nil {
		setRate(r, &o.sess, now, "rate", "rate_max")
		setTimes(r, o)
	}
	if p.Mode == proxy.ModeHTTP {
		for i, n := range []string{"hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"} {
			r.setI(n, c.Hrsp[i].Load())
		}
		r.setI("req_tot", c.Requests.Load())
		setFilterCounters(r, c) // cache_cli.go
	}
	last := c.LastSess.Load()
	if last > 0 {
		r.setI("lastsess", now.Unix()-last)
	} else {
		r.set("lastsess", "-1")
	}
	if admin {
		if p.Cookie != nil && p.Cookie.Name != "" {
			r.set("cookie", p.Cookie.Name)
		}
		r.set("algo", algoName(p.Balance.Algo))
	}
	r.set("mode", modeName(p))
	var uw int64
	for _, ss := range be.Servers() {
		if ss.Usable() && !ss.Server.Backup {
			uw += int64(ss.Server.Weight)
		}
	}
	if act == 0 {
		for _, ss := range be.Servers() {
			if ss.Usable() {
				uw += int64(ss.Server.Weight)
			}
		}
	}
	r.setI("uweight", uw)
	r.set("-", "-")
	s.protoCounters(r, c, true)
	r.setI("h1_open_connections", 0)
	r.setI("h1_total_connections", 0)
	r.setI("h1_total_streams", 0)
	r.setI("h1_bytes_in", 0)
	r.setI("h1_bytes_out", 0)
	return r
}
