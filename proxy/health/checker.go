package health

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"halo/proxy"
	"halo/proxy/balance"
)

// Server is the load-balancing side of a checked server: the state its
// checks drive and read. *balance.Server implements it; the module that
// owns server state hands it over (keeping this interface small is what
// lets that module change underneath).
type Server interface {
	Stats() balance.ServerStats
	SetState(balance.State) balance.Transition
	SetAdmin(balance.Admin, bool) balance.Transition
	SetWeight(int) (balance.Transition, error)
	SetCheck(balance.CheckInfo, bool)
	ShutdownSessions()
}

// MaxconnSetter is implemented by servers whose maxconn an agent may
// change ("maxconn:N").
type MaxconnSetter interface {
	SetMaxconn(int) error
}

// CheckConfig is one check of a server (its health check or its agent),
// ready to run.
type CheckConfig struct {
	Rules  *Ruleset
	Target Target
	Timing Timing
	// Rise and Fall are the check's thresholds (agent: 1 and 1).
	Rise, Fall                  int
	Inter, FastInter, DownInter time.Duration
	// Send is agent-send (HasSend: given, possibly empty).
	Send    string
	HasSend bool
	Bufsize int
}

// ServerConfig is what a server's checks need to know about it.
type ServerConfig struct {
	Proxy, Server string
	Backup        bool
	// LogHealthChecks is `option log-health-checks`.
	LogHealthChecks bool
	// ShutdownOnDown is `on-marked-down shutdown-sessions`.
	ShutdownOnDown bool
	// Check and Agent are nil when the server has none.
	Check, Agent *CheckConfig
	// TrackBackend/TrackServer name the server whose state this one
	// follows ("" when not tracking).
	TrackBackend, TrackServer string
	// Observe is "layer4" or "layer7" ("" off); OnError and ErrorLimit
	// decide what consecutive errors do.
	Observe    string
	OnError    string
	ErrorLimit int
	// IWeight is the configured weight (agent weights are relative to it).
	IWeight int
	// StateAddr and StatePort are shown in the send-state header, with
	// the slowstart throttle while the server starts.
	StateAddr string
	StatePort int
	Slowstart time.Duration
	// OnChange runs after each state change was applied.
	OnChange func()
	// OnBackendDown runs when a change leaves the backend without a
	// usable server (its DOWN transitions are counted).
	OnBackendDown func()
	// ProxyKind names the proxy in messages ("proxy" for a listen;
	// "" is "backend").
	ProxyKind string
	// Engine names the server and its backend to the checks' sample
	// fetches (nil: only be_name, from Proxy).
	Engine *proxy.Txn
	// SetAdmin applies an agent's "ready", "drain" or "maint" as the
	// runtime API would (with its messages); it is called without the
	// checks' lock, and calls AdminChanged.
	SetAdmin func(word string)
	// Inherit sets or clears the maintenance (maint) or drain inherited
	// from the tracked server via ("be/srv"), with HAProxy's messages and
	// on to this server's own trackers (srv_set_admin_flag with IMAINT,
	// IDRAIN). Called without the checks' lock.
	Inherit func(maint, on bool, via string)
}

// Trackers are the servers tracking this one, in the order HAProxy tells
// them (the last declared first).
func (sc *ServerChecks) Trackers() []*ServerChecks { return sc.trackers }

// InheritAdmin passes the tracked server's maintenance or drain change
// to this tracker (see ServerConfig.Inherit).
func (sc *ServerChecks) InheritAdmin(maint, on bool, via string) {
	if sc.cfg.Inherit != nil {
		sc.cfg.Inherit(maint, on, via)
	}
}

// Check is one running check of a server: HAProxy's struct check.
type Check struct {
	sc    *ServerChecks
	cfg   *CheckConfig
	agent bool

	// protected by sc.mu
	health   int
	status   Status
	code     int
	desc     string
	duration time.Duration // -1: none
	lastRun  time.Time
	paused   bool
	disabled bool
	running  bool

	wake chan struct{}
}

// ServerChecks are the checks of one server and the state they share.
type ServerChecks struct {
	cfg  ServerConfig
	srv  Server
	sink Sink

	mu       sync.Mutex
	check    *Check
	agent    *Check
	track    *ServerChecks
	trackers []*ServerChecks
	errors   int // consecutive errors seen by observe
	maint    bool
	failHana int
}

// New prepares the checks of one server; sink receives its state-change
// messages (nil: StderrSink).
func New(cfg ServerConfig, srv Server, sink Sink) *ServerChecks {
	if sink == nil {
		sink = StderrSink
	}
	if cfg.ErrorLimit <= 0 {
		cfg.ErrorLimit = 10
	}
	sc := &ServerChecks{cfg: cfg, srv: srv, sink: sink}
	mk := func(cc *CheckConfig, agent bool) *Check {
		if cc == nil {
			return nil
		}
		if cc.Rise < 1 {
			cc.Rise = 1
		}
		if cc.Fall < 1 {
			cc.Fall = 1
		}
		if cc.Inter <= 0 {
			cc.Inter = 2 * time.Second
		}
		return &Check{sc: sc, cfg: cc, agent: agent, health: cc.Rise, status: StatusIni, duration: -1, wake: make(chan struct{}, 1)}
	}
	sc.check = mk(cfg.Check, false)
	sc.agent = mk(cfg.Agent, true)
	sc.maint = srv.Stats().Admin&balance.AdminMaint != 0
	if sc.maint && sc.check != nil {
		sc.check.paused, sc.check.health = true, 0
	}
	sc.publish(false)
	return sc
}

// HasCheck reports whether the server runs a health check.
func (sc *ServerChecks) HasCheck() bool { return sc.check != nil }

// Tracked is the server this one tracks (nil when none).
func (sc *ServerChecks) Tracked() *ServerChecks { return sc.track }

// Ref is the end of the track chain: the server whose checks decide this
// one's state (itself when it tracks nothing).
func (sc *ServerChecks) Ref() *ServerChecks {
	r := sc
	for r.track != nil && r.track != sc {
		r = r.track
	}
	return r
}

// HasAgent reports whether the server runs an agent check.
func (sc *ServerChecks) HasAgent() bool { return sc.agent != nil }

// Name is "backend/server".
func (sc *ServerChecks) Name() string { return sc.cfg.Proxy + "/" + sc.cfg.Server }

// publish writes the health check's view where the server state keeps it
// (stats columns of the load-balancing module). failed counts a check
// failure (chkfail).
func (sc *ServerChecks) publish(failed bool) {
	c := sc.check
	if c == nil {
		return
	}
	code := c.status.Code()
	sc.srv.SetCheck(balance.CheckInfo{
		Enabled: true, Status: code, Code: c.code, Desc: c.desc,
		Duration: max(c.duration, 0), Health: c.health, Rise: c.cfg.Rise, Fall: c.cfg.Fall,
	}, failed)
}

// CheckView is one check's state as `show stat` prints it.
type CheckView struct {
	Status   string // "L4OK", "INI", … ("" without a check)
	Code     int    // shown when the status has one
	HasCode  bool
	Duration int64 // ms, -1 when none
	Desc     string
	Info     string // last_chk / last_agt
	Health   int
	Rise     int
	Fall     int
	// Paused: suspended by maintenance; InProgress: running now.
	Paused     bool
	InProgress bool
}

// Views returns the health check's and the agent's state (zero views when
// the server has none).
func (sc *ServerChecks) Views() (check, agent CheckView) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return view(sc.check), view(sc.agent)
}

func view(c *Check) CheckView {
	if c == nil {
		return CheckView{}
	}
	v := CheckView{Status: c.status.Code(), Code: c.code, HasCode: c.status.HasCode(), Duration: -1,
		Desc: c.status.Description(), Info: c.desc, Health: c.health, Rise: c.cfg.Rise, Fall: c.cfg.Fall,
		Paused: c.paused, InProgress: c.running}
	if c.status.Finished() && c.duration >= 0 {
		v.Duration = int64(c.duration / time.Millisecond)
	}
	return v
}

// getInter is srv_getinter: inter while fully up, downinter while down
// with no success yet, fastinter in between (each falls back to inter).
func (c *Check) getInter() time.Duration {
	cc := c.cfg
	if c.health == cc.Rise+cc.Fall-1 {
		return cc.Inter
	}
	if c.health == 0 && c.sc.srv.Stats().State == balance.StateStopped {
		if cc.DownInter > 0 {
			return cc.DownInter
		}
		return cc.Inter
	}
	if cc.FastInter > 0 {
		return cc.FastInter
	}
	return cc.Inter
}

// apply is set_server_check_status followed by the check_notify_*
// decision, for one finished run. An agent's answer is applied in
// HAProxy's order (tcpcheck_agent_expect_reply): the administrative
// state, the weight and maxconn change, then the agent's own status is
// written. The health word moves the agent's health only: HAProxy
// 2.6.12 leaves the health check's counter alone (an agent saying "down"
// beside passing checks, or "up" beside failing ones, changes nothing in
// the health check's srv_check_health; recorded in agent.case).
func (c *Check) apply(r Result, reply *AgentReply) {
	sc := c.sc
	if reply != nil {
		if a := strings.ToLower(reply.Admin); a != "" && sc.cfg.SetAdmin != nil {
			sc.cfg.SetAdmin(a)
		}
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if reply != nil {
		sc.agentRest(reply, &r)
	}
	c.setStatus(r)
	switch r.Status.Outcome() {
	case OutcomeFailed:
		sc.notifyFailure(c)
	case OutcomeCondPass:
		sc.notifyStopping(c)
	case OutcomePassed:
		sc.notifySuccess(c)
	}
}

// setStatus records a result and moves the health counter, logging it
// with `option log-health-checks` (set_server_check_status).
func (c *Check) setStatus(r Result) {
	sc := c.sc
	prev := c.status
	c.status, c.code, c.desc = r.Status, r.Code, r.Info
	c.duration = r.Duration
	if r.Status == StatusHana {
		c.duration = -1
	}
	c.lastRun = time.Now()
	report, failed := false, false
	cc := c.cfg
	switch r.Status.Outcome() {
	case OutcomeNeutral, OutcomeUnknown:
		sc.publish(false)
		return
	case OutcomeFailed:
		// An agent that cannot be reached does not count against the
		// server; only its "down"/"fail"/"stopped" do.
		if (!c.agent || r.Status.HasCode()) && c.health > 0 {
			failed, report = true, true
			c.health--
			if c.health < cc.Rise {
				c.health = 0
			}
		}
	case OutcomePassed, OutcomeCondPass:
		if c.health < cc.Rise+cc.Fall-1 {
			report = true
			c.health++
			if c.health >= cc.Rise {
				c.health = cc.Rise + cc.Fall - 1
			}
		}
		if sc.cfg.Observe != "" {
			sc.errors = 0
		}
	}
	if !c.agent {
		sc.publish(failed)
	} else if failed {
		sc.publishFailed()
	}
	if sc.cfg.LogHealthChecks && (r.Status != prev || report) {
		sc.sink(Event{Proxy: sc.cfg.Proxy, Severity: SevNotice, Msg: c.healthLine(r)})
	}
}

// publishFailed counts an agent failure in chkfail, as HAProxy's shared
// failed_checks counter does.
func (sc *ServerChecks) publishFailed() {
	if sc.check != nil {
		sc.publish(true)
		return
	}
	sc.srv.SetCheck(balance.CheckInfo{}, true)
}

// healthLine is the log-health-checks message.
func (c *Check) healthLine(r Result) string {
	sc := c.sc
	kind := "Health"
	if c.agent {
		kind = "Agent"
	}
	bk := ""
	if sc.cfg.Backup {
		bk = "backup "
	}
	verdict := "failed"
	if r.Status.Outcome() == OutcomeCondPass {
		verdict = "conditionally succeeded"
	} else if r.Status.Outcome() >= OutcomePassed {
		verdict = "succeeded"
	}
	if r.Status == StatusHana {
		r.Duration = -1
	}
	cc := c.cfg
	var num, den int
	word := "DOWN"
	if c.health >= cc.Rise {
		num, den = c.health-cc.Rise+1, cc.Fall
		word = "UP"
		if sc.srv.Stats().UWeight == 0 {
			word = "DRAIN"
		}
	} else {
		num, den = c.health, cc.Rise
	}
	return fmt.Sprintf("%s check for %sserver %s/%s %s%s, status: %d/%d %s.", kind, bk, sc.cfg.Proxy, sc.cfg.Server, verdict, reason(r), num, den, word)
}

// why is the reason a state change reports: the check's result, unless
// the result was already logged (log-health-checks) or the server tracks
// another one.
func (sc *ServerChecks) why(c *Check) Why {
	if c == nil || sc.track != nil || sc.cfg.LogHealthChecks {
		return Why{}
	}
	r := Result{Status: c.status, Code: c.code, Info: c.desc, Duration: c.duration}
	return Why{Result: &r}
}

func (sc *ServerChecks) stats() balance.ServerStats { return sc.srv.Stats() }

// notifyFailure is check_notify_failure.
func (sc *ServerChecks) notifyFailure(c *Check) {
	if c.agent && c.status != StatusL7Sts {
		return
	}
	if c.health > 0 {
		return
	}
	sc.setStopped(sc.why(c))
}

// notifySuccess is check_notify_success.
func (sc *ServerChecks) notifySuccess(c *Check) {
	st := sc.stats()
	if st.Admin&balance.AdminMaint != 0 {
		return
	}
	if sc.track != nil && sc.track.stats().State == balance.StateStopped {
		return
	}
	if sc.check != nil && !sc.check.disabled && sc.check.health < sc.check.cfg.Rise {
		return
	}
	if sc.agent != nil && !sc.agent.disabled && sc.agent.health < sc.agent.cfg.Rise {
		return
	}
	if c.agent && st.State == balance.StateStopping {
		return
	}
	sc.setRunning(sc.why(c))
}

// notifyStopping is check_notify_stopping (disable-on-404).
func (sc *ServerChecks) notifyStopping(c *Check) {
	if sc.stats().Admin&balance.AdminMaint != 0 || c.agent {
		return
	}
	if sc.track != nil && sc.track.stats().State == balance.StateStopped {
		return
	}
	if sc.check != nil && sc.check.health < sc.check.cfg.Rise {
		return
	}
	if sc.agent != nil && !sc.agent.disabled && sc.agent.health < sc.agent.cfg.Rise {
		return
	}
	sc.setStopping(sc.why(c))
}

func (sc *ServerChecks) event(sev Severity, msg string) {
	sc.sink(Event{Proxy: sc.cfg.Proxy, Severity: sev, Msg: msg})
}

func (sc *ServerChecks) backendDown(t balance.Transition) {
	if t.BackendDown {
		if sc.cfg.OnBackendDown != nil {
			sc.cfg.OnBackendDown()
		}
		kind := sc.cfg.ProxyKind
		if kind == "" {
			kind = "backend"
		}
		sc.sink(Event{Proxy: sc.cfg.Proxy, Alert: true, Severity: SevEmerg, Msg: NoServerMessage(kind, sc.cfg.Proxy)})
	}
}

func (sc *ServerChecks) changed() {
	if sc.cfg.OnChange != nil {
		sc.cfg.OnChange()
	}
}

// setStopped is srv_set_stopped: the server goes DOWN (unless in
// maintenance or already down), then every server tracking it.
func (sc *ServerChecks) setStopped(w Why) {
	st := sc.stats()
	if st.Admin&balance.AdminMaint != 0 || st.State == balance.StateStopped {
		return
	}
	wasStopping := st.State == balance.StateStopping || st.Admin&balance.AdminDrain != 0
	t := sc.srv.SetState(balance.StateStopped)
	sc.changed()
	sev := SevAlert
	if wasStopping {
		sev = SevNotice
	}
	sc.event(sev, DownMessage(sc.cfg.Proxy, sc.cfg.Server, sc.cfg.Backup, w, t))
	sc.backendDown(t)
	if sc.cfg.ShutdownOnDown {
		sc.srv.ShutdownSessions()
	}
	for _, tr := range sc.trackers {
		tr.mu.Lock()
		tr.setStopped(Why{Via: sc.Name()})
		tr.mu.Unlock()
	}
}

// setRunning is srv_set_running.
func (sc *ServerChecks) setRunning(w Why) {
	st := sc.stats()
	if st.Admin&balance.AdminMaint != 0 || st.State == balance.StateRunning || st.State == balance.StateStarting {
		return
	}
	t := sc.srv.SetState(balance.StateRunning)
	sc.changed()
	sc.event(SevNotice, UpMessage(sc.cfg.Proxy, sc.cfg.Server, sc.cfg.Backup, w, t))
	sc.backendDown(t)
	for _, tr := range sc.trackers {
		tr.mu.Lock()
		tr.setRunning(Why{Via: sc.Name()})
		tr.mu.Unlock()
	}
}

// setStopping is srv_set_stopping.
func (sc *ServerChecks) setStopping(w Why) {
	st := sc.stats()
	if st.Admin&balance.AdminMaint != 0 || st.State == balance.StateStopping {
		return
	}
	t := sc.srv.SetState(balance.StateStopping)
	sc.changed()
	sc.event(SevNotice, StoppingMessage(sc.cfg.Proxy, sc.cfg.Server, sc.cfg.Backup, w, t))
	sc.backendDown(t)
	for _, tr := range sc.trackers {
		tr.mu.Lock()
		tr.setStopping(Why{Via: sc.Name()})
		tr.mu.Unlock()
	}
}

// AdminChanged tells the checks that the server's administrative state
// may have changed (runtime API, stats page): entering maintenance pauses
// the health check and zeroes its health; leaving it resumes the check
// with health at rise, so the server comes back UP and is checked again
// (srv_update_status). The owner of the server state calls it after each
// change; the checks also look before each run.
func (sc *ServerChecks) AdminChanged() {
	sc.mu.Lock()
	sc.adminChangedLocked()
	sc.mu.Unlock()
}

func (sc *ServerChecks) adminChangedLocked() {
	maint := sc.stats().Admin&balance.AdminMaint != 0
	if maint == sc.maint {
		return
	}
	sc.maint = maint
	c := sc.check
	if c == nil {
		return
	}
	if maint {
		c.paused, c.health = true, 0
	} else {
		c.paused, c.health = false, c.cfg.Rise
		c.kick()
	}
	sc.publish(false)
}

// MayRun reports whether the server may be UP as far as its checks are
// concerned once it leaves maintenance: not tracking a DOWN server and
// its agent not down (its health check restarts at rise).
func (sc *ServerChecks) MayRun() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.track != nil && sc.track.stats().State == balance.StateStopped {
		return false
	}
	if sc.agent != nil && !sc.agent.disabled && sc.agent.health < sc.agent.cfg.Rise {
		return false
	}
	return true
}

// kick wakes a check's loop to re-read its schedule.
func (c *Check) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// agentRest applies an agent's weight and maxconn and writes the agent's
// info text, as HAProxy does after the administrative word.
func (sc *ServerChecks) agentRest(a *AgentReply, r *Result) {
	var warn string
	if a.Weight != "" {
		warn = sc.agentWeight(a.Weight)
	}
	if a.Maxconn != "" {
		if w := sc.agentMaxconn(a.Maxconn); warn == "" {
			warn = w
		}
	}
	switch {
	case a.Health != "":
		msg := a.Comment
		if msg == "" || r.Status == StatusL7OK {
			if a.Err != "" {
				msg = a.Err
			} else if warn != "" {
				msg = warn
			}
		}
		info := "via agent : " + a.Health
		if msg != "" {
			info += " (" + msg + ")"
		}
		r.Info = cDesc(info)
	case a.Err != "":
		r.Info = cDesc("agent reports an error : " + a.Err)
	case warn != "":
		r.Info = cDesc("agent warns : " + warn)
	}
}

// agentWeight is server_parse_weight_change_request for an agent's "N%":
// it returns a warning text, "" when applied.
func (sc *ServerChecks) agentWeight(w string) string {
	n, rest := leadingDigits(w)
	if rest != "%" {
		return "Trailing garbage in weight string"
	}
	if n > 25600 {
		n = 25600
	}
	n = sc.cfg.IWeight * n / 100
	if n > 256 {
		n = 256
	}
	if _, err := sc.srv.SetWeight(n); err != nil {
		return "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n"
	}
	sc.changed()
	return ""
}

func (sc *ServerChecks) agentMaxconn(v string) string {
	n, rest := leadingDigits(v)
	if rest == v {
		return "maxconn string empty or preceded by garbage"
	}
	if rest != "" {
		return "Trailing garbage in maxconn string"
	}
	if ms, ok := sc.srv.(MaxconnSetter); ok {
		if err := ms.SetMaxconn(n); err != nil {
			return err.Error()
		}
		sc.changed()
	}
	return ""
}

func leadingDigits(s string) (int, string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, _ := strconv.Atoi(s[:i])
	return n, s[i:]
}

// Observed classifies a finished exchange with the server for `observe`
// (HAProxy's health_adjust): HANA statuses below, numbered as
// proxy.Observation.
type Observed int

const (
	ObsL4OK            Observed = iota + 1 // the connection was established
	ObsL4Err                               // the connection failed
	ObsHTTPOK                              // a valid HTTP response (not 5xx, or 501/505)
	ObsHTTPSts                             // a 5xx response
	ObsHTTPHdrRsp                          // an invalid response head
	ObsHTTPRsp                             // an invalid response
	ObsHTTPReadError                       // a read error
	ObsHTTPReadTimeout                     // the response timed out
	ObsHTTPBrokenPipe                      // the server closed
)

var observed = map[Observed]struct {
	desc   string
	l4, l7 int // 0 ignore, 1 error, 2 ok
}{
	ObsL4OK:            {"L4 successful connection", 2, 0},
	ObsL4Err:           {"L4 unsuccessful connection", 1, 1},
	ObsHTTPOK:          {"Correct http response", 0, 2},
	ObsHTTPSts:         {"Wrong http response", 0, 1},
	ObsHTTPHdrRsp:      {"Invalid http response (headers)", 0, 1},
	ObsHTTPRsp:         {"Invalid http response", 0, 1},
	ObsHTTPReadError:   {"Read error (http)", 0, 1},
	ObsHTTPReadTimeout: {"Read timeout (http)", 0, 1},
	ObsHTTPBrokenPipe:  {"Close from server (http)", 0, 1},
}

// Observe feeds one exchange's outcome to `observe`: error-limit
// consecutive errors trigger the on-error action.
func (sc *ServerChecks) Observe(o Observed) {
	if sc.cfg.Observe == "" || sc.check == nil {
		return
	}
	d, ok := observed[o]
	if !ok {
		return
	}
	v := d.l4
	if sc.cfg.Observe == "layer7" {
		v = d.l7
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	switch v {
	case 2:
		sc.errors = 0
		return
	case 0:
		return
	}
	sc.errors++
	if sc.errors < sc.cfg.ErrorLimit {
		return
	}
	msg := fmt.Sprintf("Detected %d consecutive errors, last one was: %s", sc.errors, d.desc)
	c := sc.check
	switch sc.cfg.OnError {
	case "fastinter":
	case "sudden-death":
		if c.health > c.cfg.Rise {
			c.health = c.cfg.Rise + 1
		}
		c.setStatus(Result{Status: StatusHana, Info: msg, Duration: -1})
		sc.notifyFailure(c)
	case "mark-down":
		c.health = c.cfg.Rise
		c.setStatus(Result{Status: StatusHana, Info: msg, Duration: -1})
		sc.notifyFailure(c)
	default: // fail-check
		c.setStatus(Result{Status: StatusHana, Info: msg, Duration: -1})
		sc.notifyFailure(c)
	}
	sc.errors = 0
	sc.failHana++
	if c.cfg.FastInter > 0 {
		c.kick()
	}
}

// stateHeader renders X-Haproxy-Server-State (httpchk_build_status_header).
func (sc *ServerChecks) stateHeader() string {
	st := sc.stats()
	c := sc.check
	var b strings.Builder
	rise, fall, health := 0, 0, 0
	enabled := c != nil
	if enabled {
		rise, fall, health = c.cfg.Rise, c.cfg.Fall, c.health
	}
	switch {
	case !enabled:
		b.WriteString("no check")
	case st.State != balance.StateStopped:
		word := "UP"
		if st.State == balance.StateStopping {
			word = "NOLB"
		}
		if health == rise+fall-1 {
			b.WriteString(word)
		} else {
			fmt.Fprintf(&b, "%s %d/%d", word, health-rise+1, fall)
		}
	case health > 0:
		fmt.Fprintf(&b, "DOWN %d/%d", health, rise)
	default:
		b.WriteString("DOWN")
	}
	var tot, beCur, beQueue int
	if bs, ok := sc.srv.(interface{ Backend() *balance.Backend }); ok && bs.Backend() != nil {
		s := bs.Backend().Stats()
		tot, beCur, beQueue = s.Weight, s.Cur, s.Queue
	}
	fmt.Fprintf(&b, "; address=%s; port=%d; name=%s/%s; node=%s; weight=%d/%d; scur=%d/%d; qcur=%d",
		sc.cfg.StateAddr, sc.cfg.StatePort, sc.cfg.Proxy, sc.cfg.Server, hostname,
		st.Weight, tot, st.Cur, beCur-beQueue, st.Queue)
	// slowstart in whole seconds, rounded up, as HAProxy keeps it
	if ss := int64((sc.cfg.Slowstart + time.Second - 1) / time.Second); st.State == balance.StateStarting && ss > 0 {
		now, last := time.Now().Unix(), st.LastChange.Unix()
		if now < last+ss && now >= last {
			fmt.Fprintf(&b, "; throttle=%d%%", max(1, 100*(now-last)/ss))
		}
	}
	return b.String()
}

// run performs one check and applies it.
func (c *Check) runOnce(ctx context.Context) {
	sc := c.sc
	sc.mu.Lock()
	prev := c.status
	c.running = true
	sc.mu.Unlock()
	defer func() {
		sc.mu.Lock()
		c.running = false
		sc.mu.Unlock()
	}()
	env := Env{
		Proxy: sc.cfg.Proxy, Server: sc.cfg.Server, Bufsize: c.cfg.Bufsize, PrevStatus: prev,
		Stopped: func() bool { return sc.stats().State == balance.StateStopped },
		Engine:  sc.cfg.Engine,
	}
	if c.agent && c.cfg.HasSend {
		env.Vars = [][2]string{{"check.agent_string", c.cfg.Send}}
	}
	if !c.agent {
		env.StateHeader = func() string {
			sc.mu.Lock()
			defer sc.mu.Unlock()
			return sc.stateHeader()
		}
	}
	tg := &c.cfg.Target
	if tg.FollowServer && sc.cfg.Engine != nil && sc.cfg.Engine.Server != nil && sc.cfg.Engine.Server.Server.Resolvers != "" {
		// the address DNS gave the server now
		t := *tg
		a, port := sc.cfg.Engine.Server.CurrentAddr()
		if !t.FollowPort || port == 0 {
			port = int(t.Addr.Port())
		}
		t.Addr = netip.AddrPortFrom(a, uint16(port))
		tg = &t
	}
	res, reply := c.cfg.Rules.exec(ctx, tg, &env, c.cfg.Timing)
	if ctx.Err() != nil {
		return
	}
	c.apply(res, reply)
}

// loop runs the check every interval until ctx ends (process_chk_conn's
// scheduling): a paused check (maintenance) only moves its date forward.
func (c *Check) loop(ctx context.Context, first time.Duration, spread int) {
	expire := time.Now().Add(first)
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.wake:
			// re-read the schedule: leaving maintenance or an observe
			// error asks for a check at fastinter.
			c.sc.mu.Lock()
			next := time.Now().Add(c.getInter())
			c.sc.mu.Unlock()
			if next.Before(expire) {
				expire = next
			}
			t.Reset(time.Until(expire))
			continue
		}
		c.sc.mu.Lock()
		c.sc.adminChangedLocked()
		paused := (c.paused && !c.agent) || c.disabled
		inter := c.cfg.Inter
		c.sc.mu.Unlock()
		if paused {
			for !expire.After(time.Now()) {
				expire = expire.Add(inter)
			}
			t.Reset(time.Until(expire))
			continue
		}
		c.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		c.sc.mu.Lock()
		d := c.getInter()
		c.sc.mu.Unlock()
		if spread > 0 {
			rv := int64(d) * int64(spread) / 100
			rv -= int64(2 * float64(rv) * rand.Float64())
			d += time.Duration(rv)
		}
		expire = time.Now().Add(d)
		t.Reset(d)
	}
}

// Set is every server's checks of a configuration, started together.
type Set struct {
	servers []*ServerChecks
	// Spread is spread-checks (percent); MaxSpread max-spread-checks.
	Spread    int
	MaxSpread time.Duration
}

// Add registers a server's checks.
func (s *Set) Add(sc *ServerChecks) { s.servers = append(s.servers, sc) }

// Link resolves `track` references: a tracking server follows the state
// of the server it names (which must run a check or track one itself).
func (s *Set) Link() error {
	byName := map[string]*ServerChecks{}
	for _, sc := range s.servers {
		byName[sc.Name()] = sc
	}
	for _, sc := range s.servers {
		if sc.cfg.TrackServer == "" {
			continue
		}
		be := sc.cfg.TrackBackend
		if be == "" {
			be = sc.cfg.Proxy
		}
		t := byName[be+"/"+sc.cfg.TrackServer]
		if t == nil {
			return fmt.Errorf("unable to find required server '%s/%s' for tracking", be, sc.cfg.TrackServer)
		}
		sc.track = t
		// HAProxy links a tracker at the head of the list: the last
		// declared is told first
		t.trackers = append([]*ServerChecks{sc}, t.trackers...)
	}
	return nil
}

// startDelays spreads the first checks as HAProxy's start_checks: each
// check starts after max(smallest interval ≥ 1s, its own interval),
// bounded by max-spread-checks, times its position among all checks.
func (s *Set) startDelays(checks []*Check) []time.Duration {
	var minInter time.Duration
	for _, c := range checks {
		if iv := c.getInter(); iv >= time.Second && (minInter == 0 || iv < minInter) {
			minInter = iv
		}
	}
	out := make([]time.Duration, len(checks))
	for i, c := range checks {
		m := max(minInter, c.getInter())
		if s.MaxSpread > 0 && m > s.MaxSpread {
			m = s.MaxSpread
		}
		out[i] = m * time.Duration(i) / time.Duration(len(checks))
	}
	return out
}

// Start runs every check until the returned function is called.
func (s *Set) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var checks []*Check
	for _, sc := range s.servers {
		if sc.check != nil {
			checks = append(checks, sc.check)
		}
		if sc.agent != nil {
			checks = append(checks, sc.agent)
		}
	}
	delays := s.startDelays(checks)
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.loop(ctx, delays[i], s.Spread)
		}()
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// Servers lists the registered servers' checks.
func (s *Set) Servers() []*ServerChecks { return s.servers }
