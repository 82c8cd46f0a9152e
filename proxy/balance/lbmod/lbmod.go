// Package lbmod plugs package balance (HAProxy's algorithms, queueing,
// server states) and package health (checks) into the proxy engine as a
// proxy.Module: one Picker per backend, health checks started in Init.
//
// Each Picker is its backend's proxy.ServerStates: balance.Server holds
// the one copy of a server's state and weight. The runtime API and the
// stats page change it through the engine's ServerState, which calls the
// Picker, so the algorithm's trees follow at once; health checks change it
// directly and tell the engine (ServerState.StatusChanged).
package lbmod

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/balance"
	"halo/proxy/health"
	"halo/proxy/http1"
	"halo/proxy/logging"
)

// Balancer is the balance/health module of one runtime. Build it with New
// and pass Module() to proxy.New.
type Balancer struct {
	mu      sync.Mutex
	pickers []*Picker
	stopFn  func()
	loggers []*logging.Logger
}

// Picker is a backend's proxy.Picker backed by a balance.Backend; it
// owns the servers' states (proxy.ServerStates).
type Picker struct {
	be *balance.Backend
	pb *proxy.Backend
	// tab holds the per-server tables, indexed by ServerState.Index();
	// `add server` publishes a longer copy (dynamic.go).
	tab  atomic.Pointer[table]
	rdp  string     // balance rdp-cookie: the cookie name
	mu   sync.Mutex // orders runtime API changes and their messages
	sink health.Sink
}

var (
	_ proxy.Picker       = (*Picker)(nil)
	_ proxy.ServerStates = (*Picker)(nil)
)

// Config converts a backend's proxy configuration for package balance.
func Config(p *proxy.Proxy) (balance.Config, []balance.ServerConfig) {
	b := p.Balance
	c := balance.Config{
		Name: p.Name, Consistent: b.HashType == proxy.HashConsistent, Avalanche: b.Avalanche,
		URIWhole: b.URIWhole, URIPathOnly: b.URIPathOnly, URILen: b.URILen, URIDepth: b.URIDepth,
		Param: b.Param, HdrUseDomainOnly: b.HdrUseDomainOnly, RandomDraws: b.RandomDraws,
		AllBackups: p.AllBackups, Fullconn: p.Fullconn,
	}
	c.Algo = map[proxy.BalanceAlgo]balance.Algo{
		proxy.BalanceRoundRobin: balance.RoundRobin, proxy.BalanceStaticRR: balance.StaticRR,
		proxy.BalanceLeastConn: balance.LeastConn, proxy.BalanceFirst: balance.First,
		proxy.BalanceSource: balance.Source, proxy.BalanceURI: balance.URI,
		proxy.BalanceURLParam: balance.URLParam, proxy.BalanceHdr: balance.Hdr,
		proxy.BalanceRandom: balance.Random, proxy.BalanceRDPCookie: balance.RDPCookie,
	}[b.Algo]
	// configuration.txt, hash-type: "consistent hash uses sdbm and
	// avalanche if no hash function is specified".
	if c.Consistent && b.HashFunction == "" {
		c.Avalanche = true
	}
	switch strings.ToLower(b.HashFunction) {
	case "djb2":
		c.Func = balance.HashDJB2
	case "wt6":
		c.Func = balance.HashWT6
	case "crc32":
		c.Func = balance.HashCRC32
	}
	// HAProxy: without `timeout queue`, the queue waits `timeout connect`.
	c.QueueTimeout = p.Timeouts.Queue
	if c.QueueTimeout <= 0 {
		c.QueueTimeout = p.Timeouts.Connect
	}
	var srvs []balance.ServerConfig
	for _, s := range p.Servers {
		srvs = append(srvs, balance.ServerConfig{
			Name: s.Name, ID: s.ID, Weight: s.Weight, Backup: s.Backup,
			// As the engine does: an unresolved address starts in
			// maintenance (by resolution).
			Disabled: s.Disabled, Unresolved: !s.Resolved && !s.Addr.IsValid(),
			Maxconn: s.Maxconn, Minconn: s.Minconn, Maxqueue: s.Maxqueue, Slowstart: s.Slowstart,
		})
	}
	return c, srvs
}

// New returns the module, with no backend yet: proxy.New asks it for
// each backend's picker.
func New() *Balancer { return &Balancer{} }

// Module returns the engine hooks.
func (m *Balancer) Module() proxy.Module {
	return proxy.Module{Name: "balance", Check: m.check, NewPicker: m.newPicker, Init: m.init, Stop: m.stop}
}

func (m *Balancer) newPicker(pb *proxy.Backend) proxy.Picker {
	cfg, srvs := Config(pb.Proxy)
	be, err := balance.New(cfg, srvs)
	if err != nil {
		return nil // the built-in round robin takes over; Check refuses such a configuration
	}
	p := &Picker{be: be, pb: pb, sink: health.StderrSink}
	p.tab.Store(&table{states: pb.Servers(), srvs: be.Servers(), checks: make([]*health.ServerChecks, len(pb.Servers()))})
	if cfg.Algo == balance.RDPCookie {
		p.rdp = pb.Proxy.Balance.Param
	}
	be.SetQueueHook(func(s *balance.Server, n int) {
		c := &pb.Counters
		if s != nil {
			c = &p.t().states[s.Index()].Counters
		}
		c.CurQueue.Store(int64(n))
		if int64(n) > c.MaxQueue.Load() {
			c.MaxQueue.Store(int64(n))
		}
	})
	m.mu.Lock()
	m.pickers = append(m.pickers, p)
	m.mu.Unlock()
	return p
}

// check is the module's Check hook: what newPicker and Checks would
// refuse or silently drop.
func (m *Balancer) check(cfg *proxy.Config) error {
	for _, px := range cfg.Proxies {
		if px.Disabled || px.Cap&proxy.CapBE == 0 {
			continue
		}
		bc, srvs := Config(px)
		if _, err := balance.New(bc, srvs); err != nil {
			return err
		}
	}
	return nil
}

// Server returns the balance state of an engine server whose backend this
// module serves (stats: check columns, status, lbtot).
func Server(ss *proxy.ServerState) (*balance.Server, bool) {
	p, ok := ss.Backend.Picker.(*Picker)
	if !ok {
		return nil, false
	}
	return p.t().srvs[ss.Index()], true
}

// Balance returns the picker's balance.Backend (stats, tests).
func (p *Picker) Balance() *balance.Backend { return p.be }

// msgHeaders gives http1.Message the balance.HeaderLookup method without
// an allocation (a pointer conversion).
type msgHeaders http1.Message

func (h *msgHeaders) LookupHeader(name string) ([]byte, bool) {
	return (*http1.Message)(h).Get(name)
}

// Pick implements proxy.Picker.
func (p *Picker) Pick(k *proxy.PickKey) (*proxy.ServerState, error) {
	var req balance.Request
	req.Src = k.Src.Addr().Unmap()
	if k.Req != nil {
		req.URI = k.Req.URI
		req.Post = string(k.Req.Method) == "POST"
		req.Headers = (*msgHeaders)(k.Req)
		if req.Post && k.Txn != nil {
			// url_param also looks in a urlencoded POST body (get_server_ph_post).
			req.Body = k.Txn.ReqBody
		}
	}
	if p.rdp != "" && k.Txn != nil {
		// balance rdp-cookie: the client's first bytes (read while
		// tcp-request content rules waited for them); without a complete
		// cookie the algorithm falls back to round robin, as HAProxy's.
		if v, ok, _ := acl.RDPCookie(k.Txn.Payload, p.rdp); ok {
			req.RDP = v
		}
	}
	var prev *balance.Server
	if k.Exclude != nil {
		prev = p.t().srvs[k.Exclude.Index()]
	}
	var pos balance.QueuePos
	s, err := p.be.TakeUntilPos(&req, prev, k.Deadline, &pos)
	k.SrvQueue, k.BeQueue = k.SrvQueue+pos.Srv, k.BeQueue+pos.Be
	return p.taken(s, err)
}

// Take implements proxy.Picker: a server chosen by persistence takes a
// slot as a picked one does (its maxconn and queue apply, HAProxy's
// SF_DIRECT streams). When its queue is full (maxqueue), `option
// redispatch` lets the algorithm choose another server; otherwise the
// request fails as HAProxy's does (503).
func (p *Picker) Take(ss *proxy.ServerState, k *proxy.PickKey) (*proxy.ServerState, error) {
	var pos balance.QueuePos
	s, err := p.be.TakeServerUntilPos(p.t().srvs[ss.Index()], k.Deadline, &pos)
	k.SrvQueue, k.BeQueue = k.SrvQueue+pos.Srv, k.BeQueue+pos.Be
	if errors.Is(err, balance.ErrQueueFull) && p.pb.Proxy.Redispatch {
		return p.Pick(k)
	}
	return p.taken(s, err)
}

func (p *Picker) taken(s *balance.Server, err error) (*proxy.ServerState, error) {
	if err != nil {
		if errors.Is(err, balance.ErrNoServer) {
			return nil, proxy.ErrNoServer
		}
		return nil, proxy.ErrQueueTimeout
	}
	ss := p.t().states[s.Index()]
	ss.Counters.CurConns.Add(1)
	return ss, nil
}

// Release implements proxy.Picker.
func (p *Picker) Release(ss *proxy.ServerState) {
	if ss == nil {
		return
	}
	ss.Counters.CurConns.Add(-1)
	p.be.Release(p.t().srvs[ss.Index()])
}

// Health implements proxy.ServerStates.
func (p *Picker) Health(i int) proxy.ServerStatus {
	switch st, _ := p.t().srvs[i].Current(); st {
	case balance.StateStopped:
		return proxy.SrvDown
	case balance.StateStopping:
		return proxy.SrvNoLB
	}
	return proxy.SrvUp
}

// Status implements proxy.ServerStates.
func (p *Picker) Status(i int) proxy.ServerStatus {
	st, adm := p.t().srvs[i].Current()
	switch {
	case adm&balance.AdminMaint != 0:
		return proxy.SrvMaint
	case adm&balance.AdminDrain != 0:
		return proxy.SrvDrain
	case st == balance.StateStopped:
		return proxy.SrvDown
	case st == balance.StateStopping:
		return proxy.SrvNoLB
	}
	return proxy.SrvUp
}

// SetAdmin implements proxy.ServerStates with HAProxy's semantics and
// messages: maint sets forced maintenance and clears drain, drain sets
// drain and leaves maintenance, ready clears both. Entering maintenance
// pauses the server's checks; leaving it resumes them with the server up.
// The change then reaches the servers tracking this one, as inherited
// maintenance or drain (srv_set_admin_flag, srv_clr_admin_flag).
func (p *Picker) SetAdmin(i int, a proxy.AdminAction) {
	steps := p.setAdmin(i, a)
	p.propagate(i, steps)
}

// inheritStep is one change a server passes to its trackers.
type inheritStep struct{ maint, on bool }

func (p *Picker) setAdmin(i int, a proxy.AdminAction) []inheritStep {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.t().srvs[i]
	name, bk := p.pb.Proxy.Name, s.Backup
	st0, adm0 := s.Current()
	wasMaint, wasDrain := adm0&balance.AdminMaint != 0, adm0&balance.AdminDrain != 0
	// a `disabled` server (configuration maintenance) is enabled as a
	// forced one
	forcedMaint := adm0&(balance.AdminForcedMaint|balance.AdminCfgMaint) != 0
	forcedDrain := adm0&balance.AdminForcedDrain != 0
	// HAProxy passes a flag on only when the server had no other flag of
	// the same kind (forced or inherited).
	var steps []inheritStep
	var t balance.Transition
	switch a {
	case proxy.AdminMaint:
		if forcedMaint {
			return nil
		}
		t = s.SetAdmin(balance.AdminForcedMaint, true)
		if !wasMaint {
			steps = append(steps, inheritStep{true, true})
		}
		s.SetAdmin(balance.AdminForcedDrain, false)
		if forcedDrain && adm0&balance.AdminInheritedDrain == 0 {
			steps = append(steps, inheritStep{false, false})
		}
		if wasMaint {
			return steps // already in (inherited) maintenance: no message
		}
		if sc := p.t().checks[i]; sc != nil {
			sc.AdminChanged() // checks pause, health 0
		}
		switch {
		case st0 == balance.StateStopped:
			p.sink(event(name, s.Name, bk, false, "was DOWN and now enters maintenance."))
		default:
			// An alert unless the server already took no new traffic.
			taking := !wasDrain && st0 != balance.StateStopping
			p.sink(event(name, s.Name, bk, taking, "is going DOWN for maintenance. %s", left(t)))
		}
	case proxy.AdminDrain:
		if forcedDrain && !forcedMaint {
			return nil
		}
		t = s.SetAdmin(balance.AdminForcedDrain, true)
		if !wasDrain {
			steps = append(steps, inheritStep{false, true})
		}
		if forcedMaint {
			steps = append(steps, p.leaveForcedMaint(i)...)
			return steps
		}
		if wasMaint || wasDrain {
			return steps
		}
		// The tail of a server that is down reads as one that left.
		if st0 == balance.StateStopped {
			p.sink(event(name, s.Name, bk, false, "enters drain state. %s", left(t)))
		} else {
			p.sink(event(name, s.Name, bk, false, "enters drain state. %s", online(t)))
		}
	case proxy.AdminReady:
		if forcedDrain {
			s.SetAdmin(balance.AdminForcedDrain, false)
			if adm0&balance.AdminInheritedDrain == 0 {
				steps = append(steps, inheritStep{false, false})
			}
			if !forcedMaint && !wasMaint {
				st, _ := s.Current()
				if adm0&balance.AdminInheritedDrain != 0 {
					p.sink(event(name, s.Name, bk, false, "is leaving forced drain but remains in drain mode%s.", p.via(i)))
				} else {
					p.sink(event(name, s.Name, bk, false, "is %s (leaving forced drain).", upOrDown(st)))
				}
			}
		}
		if forcedMaint {
			steps = append(steps, p.leaveForcedMaint(i)...)
		}
		return steps
	}
	if t.BackendDown {
		p.noServer(name)
	}
	return steps
}

// via is " via be/srv" naming the server i tracks ("" when none).
func (p *Picker) via(i int) string {
	if s := p.t().states[i].Server; s.TrackServer != "" {
		be := s.TrackBackend
		if be == "" {
			be = p.pb.Proxy.Name
		}
		return " via " + be + "/" + s.TrackServer
	}
	return ""
}

// leaveForcedMaint clears forced maintenance with HAProxy's messages:
// the server leaves maintenance unless it inherits it.
func (p *Picker) leaveForcedMaint(i int) []inheritStep {
	s := p.t().srvs[i]
	name, bk := p.pb.Proxy.Name, s.Backup
	s.SetAdmin(balance.AdminForcedMaint|balance.AdminCfgMaint, false)
	if _, adm := s.Current(); adm&balance.AdminMaint != 0 {
		p.sink(event(name, s.Name, bk, false, "is leaving forced maintenance but remains in maintenance%s.", p.via(i)))
		return nil
	}
	p.leaveMaint(i)
	p.leftMaintMessages(i, "forced ")
	return []inheritStep{{true, false}}
}

// leftMaintMessages are the lines of a server that left maintenance:
// its state, and whether it stays drained.
func (p *Picker) leftMaintMessages(i int, forced string) {
	s := p.t().srvs[i]
	name, bk := p.pb.Proxy.Name, s.Backup
	st, adm := s.Current()
	ready := "READY"
	if adm&balance.AdminDrain != 0 {
		ready = "DRAIN"
	}
	p.sink(event(name, s.Name, bk, false, "is %s/%s (leaving %smaintenance).", upOrDown(st), ready, forced))
	switch {
	case adm&balance.AdminForcedDrain != 0:
		p.sink(event(name, s.Name, bk, false, "remains in forced drain mode."))
	case adm&balance.AdminDrain != 0:
		p.sink(event(name, s.Name, bk, false, "is leaving forced drain but remains in drain mode%s.", p.via(i)))
	}
}

// leaveMaint clears maintenance once no maintenance flag is left. As
// HAProxy, a server leaving it is up (unless it tracks a DOWN server or
// its agent is down): a checked one starts at health rise, an unchecked
// one is simply running.
func (p *Picker) leaveMaint(i int) {
	s := p.t().srvs[i]
	sc := p.t().checks[i]
	if sc != nil {
		sc.AdminChanged()
	}
	if st, adm := s.Current(); adm&balance.AdminMaint == 0 && st == balance.StateStopped && (sc == nil || sc.MayRun()) {
		s.SetState(balance.StateRunning)
	}
}

// inherit sets or clears server i's maintenance or drain inherited from
// the server it tracks (via), with HAProxy's messages, and passes it on.
func (p *Picker) inherit(i int, maint, on bool, via string) {
	if p.inheritLocked(i, maint, on, via) {
		p.propagate(i, []inheritStep{{maint, on}})
	}
}

func (p *Picker) inheritLocked(i int, maint, on bool, via string) (pass bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.t().srvs[i]
	name, bk := p.pb.Proxy.Name, s.Backup
	st0, adm0 := s.Current()
	flag, kind := balance.AdminInheritedDrain, balance.AdminDrain
	if maint {
		flag, kind = balance.AdminInheritedMaint, balance.AdminMaint
	}
	if (adm0&flag != 0) == on {
		return false
	}
	t := s.SetAdmin(flag, on)
	_, adm := s.Current()
	inMaint := adm0&balance.AdminMaint != 0
	switch {
	case maint && on:
		if adm0&kind != 0 {
			return false // already in maintenance: silent, not passed on
		}
		if sc := p.t().checks[i]; sc != nil {
			sc.AdminChanged()
		}
		if st0 == balance.StateStopped {
			p.sink(event(name, s.Name, bk, false, "was DOWN and now enters maintenance via %s.", via))
		} else {
			taking := adm0&balance.AdminDrain == 0 && st0 != balance.StateStopping
			p.sink(event(name, s.Name, bk, taking, "is going DOWN for maintenance via %s. %s", via, left(t)))
		}
	case maint:
		if adm&kind != 0 {
			p.sink(event(name, s.Name, bk, false, "remains in forced maintenance."))
			return false
		}
		p.leaveMaint(i)
		p.leftMaintMessages(i, "")
		return true
	case on:
		if adm0&kind != 0 {
			return false
		}
		if !inMaint {
			if st0 == balance.StateStopped {
				p.sink(event(name, s.Name, bk, false, "enters drain state via %s. %s", via, left(t)))
			} else {
				p.sink(event(name, s.Name, bk, false, "enters drain state via %s. %s", via, online(t)))
			}
		}
	default:
		if adm&kind != 0 {
			if !inMaint {
				p.sink(event(name, s.Name, bk, false, "remains in forced drain mode."))
			}
			return false
		}
		if !inMaint {
			st, _ := s.Current()
			p.sink(event(name, s.Name, bk, false, "is %s (leaving forced drain).", upOrDown(st)))
		}
	}
	if t.BackendDown {
		p.noServer(name)
	}
	return true
}

// propagate passes server i's changes to its trackers, depth first.
func (p *Picker) propagate(i int, steps []inheritStep) {
	sc := p.t().checks[i]
	if sc == nil || len(steps) == 0 {
		return
	}
	via := p.pb.Proxy.Name + "/" + p.t().srvs[i].Name
	for _, st := range steps {
		for _, tr := range sc.Trackers() {
			tr.InheritAdmin(st.maint, st.on, via)
		}
	}
}

// SetHealth implements proxy.ServerStates (`set server … health`), with
// HAProxy's "changed from CLI" messages.
func (p *Picker) SetHealth(i int, st proxy.ServerStatus) {
	p.mu.Lock()
	s := p.t().srvs[i]
	name, bk := p.pb.Proxy.Name, s.Backup
	next, word := balance.StateRunning, "UP"
	switch st {
	case proxy.SrvDown:
		next, word = balance.StateStopped, "DOWN"
	case proxy.SrvNoLB:
		next, word = balance.StateStopping, "stopping"
	}
	prev, adm := s.Current()
	t := s.SetState(next)
	if now, _ := s.Current(); now != prev && adm&balance.AdminMaint == 0 {
		if next == balance.StateStopped {
			p.sink(event(name, s.Name, bk, true, "is DOWN, changed from CLI. %s", left(t)))
		} else {
			p.sink(event(name, s.Name, bk, false, "is %s, changed from CLI. %s", word, online(t)))
		}
		if t.BackendDown {
			p.noServer(name)
		}
	}
	p.mu.Unlock()
	p.markedDown(i)
}

// markedDown applies `on-marked-down shutdown-sessions` to a server that
// is now down.
func (p *Picker) markedDown(i int) {
	if p.Status(i) == proxy.SrvDown && p.t().states[i].Server.OnMarkedDown == "shutdown-sessions" {
		p.t().states[i].ShutdownSessions()
	}
}

// Weight implements proxy.ServerStates.
func (p *Picker) Weight(i int) int { return p.t().srvs[i].UserWeight() }

// SetWeight implements proxy.ServerStates. Static algorithms accept only
// 0 and the configured weight, with HAProxy's answer otherwise.
func (p *Picker) SetWeight(i int, w int) error {
	if _, err := p.t().srvs[i].SetWeight(w); err != nil {
		return errors.New("Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.")
	}
	return nil
}

// SetAddr implements proxy.ServerStates: the server's new address, with
// HAProxy's message (srv_update_addr).
func (p *Picker) SetAddr(i int, a netip.Addr, port int, fqdn, by string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ss := p.t().states[i]
	old, _ := ss.CurrentAddr()
	oldFQDN := ss.FQDN()
	name := p.pb.Proxy.Name
	if old != a && a.IsValid() {
		p.sink(health.Event{Proxy: name, Severity: health.SevNotice,
			Msg: fmt.Sprintf("%s/%s changed its IP from %s to %s by %s.", name, p.t().srvs[i].Name, addrText(old), a, by)})
	}
	if fqdn != oldFQDN && fqdn != "" && ss.Server.SRV != "" {
		if oldFQDN == "" {
			oldFQDN = "(null)"
		}
		p.sink(health.Event{Proxy: name, Severity: health.SevNotice,
			Msg: fmt.Sprintf("%s/%s changed its FQDN from %s to %s by 'SRV record'", name, p.t().srvs[i].Name, oldFQDN, fqdn)})
	}
	ss.ApplyAddr(a, port, fqdn)
}

// addrText prints an address as HAProxy does, "(none)" for none.
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return "(none)"
	}
	return a.String()
}

// ResolveMaint implements proxy.ServerStates.
func (p *Picker) ResolveMaint(i int) bool {
	_, adm := p.t().srvs[i].Current()
	return adm&balance.AdminResolveMaint != 0
}

// SetResolveMaint implements proxy.ServerStates with HAProxy's messages
// (srv_set_admin_flag / srv_clr_admin_flag with SRV_ADMF_RMAINT).
func (p *Picker) SetResolveMaint(i int, on bool, reason string) {
	p.mu.Lock()
	s := p.t().srvs[i]
	name, bk := p.pb.Proxy.Name, s.Backup
	st0, adm0 := s.Current()
	if (adm0&balance.AdminResolveMaint != 0) == on {
		p.mu.Unlock()
		return
	}
	t := s.SetAdmin(balance.AdminResolveMaint, on)
	wasMaint := adm0&balance.AdminMaint != 0
	var steps []inheritStep
	if on {
		if !wasMaint {
			steps = append(steps, inheritStep{true, true})
			if sc := p.t().checks[i]; sc != nil {
				sc.AdminChanged()
			}
			if st0 == balance.StateStopped {
				p.sink(event(name, s.Name, bk, false, "was DOWN and now enters maintenance (%s).", reason))
			} else {
				taking := adm0&balance.AdminDrain == 0 && st0 != balance.StateStopping
				p.sink(event(name, s.Name, bk, taking, "is going DOWN for maintenance (%s). %s", reason, left(t)))
			}
			if t.BackendDown {
				p.noServer(name)
			}
		}
	} else if _, adm := s.Current(); adm&balance.AdminMaint == 0 {
		p.leaveMaint(i)
		st, adm := s.Current()
		ready := "READY"
		if adm&balance.AdminDrain != 0 {
			ready = "DRAIN"
		}
		p.sink(event(name, s.Name, bk, false, "('%s') is %s/%s (resolves again).", p.t().states[i].FQDN(), upOrDown(st), ready))
		if p.t().states[i].Server.SRV == "" {
			p.sink(event(name, s.Name, bk, false, "administratively READY thanks to valid DNS answer."))
		}
		steps = append(steps, inheritStep{true, false})
	}
	p.mu.Unlock()
	p.propagate(i, steps)
	p.t().states[i].StatusChanged()
}

// healthChanged is a health check's change: the engine closes what it
// must, and the sessions go on `on-marked-down shutdown-sessions`.
func (p *Picker) healthChanged(i int) {
	p.t().states[i].StatusChanged()
	p.markedDown(i)
}

// Checks builds the checks (health, agent, track) of the backend's
// servers and adds them to set.
func (p *Picker) Checks(g *proxy.Global, set *health.Set, sink health.Sink) error {
	px := p.pb.Proxy
	var rs *health.Ruleset
	for i, s := range px.Servers {
		agent := s.Agent != nil && s.Agent.Enabled
		if !s.Check && !agent && s.TrackServer == "" {
			continue
		}
		if s.Check && rs == nil {
			var err error
			if rs, err = health.Compile(&px.HealthCheck, &acl.Options{}); err != nil {
				return err
			}
		}
		cfg := health.ForServer(g, px, s, rs)
		idx := i
		cfg.OnChange = func() { p.healthChanged(idx) }
		cfg.OnBackendDown = func() { p.pb.Counters.Downs.Add(1) }
		// An agent's ready/drain/maint is the runtime API's change, with
		// its messages.
		cfg.SetAdmin = func(a string) {
			switch a {
			case "maint":
				p.SetAdmin(idx, proxy.AdminMaint)
			case "drain":
				p.SetAdmin(idx, proxy.AdminDrain)
			default:
				p.SetAdmin(idx, proxy.AdminReady)
			}
		}
		cfg.Inherit = func(maint, on bool, via string) { p.inherit(idx, maint, on, via) }
		cfg.Engine = &proxy.Txn{Backend: p.pb, Server: p.t().states[i]}
		sc := health.New(cfg, p.t().srvs[i], sink)
		p.t().checks[i] = sc
		set.Add(sc)
	}
	return nil
}

// ServerChecks returns the checks of an engine server whose backend this
// module serves, nil when it has none (stats: check and agent columns).
func ServerChecks(ss *proxy.ServerState) *health.ServerChecks {
	p, ok := ss.Backend.Picker.(*Picker)
	if !ok {
		return nil
	}
	return p.t().checks[ss.Index()]
}

func (m *Balancer) init(rt *proxy.Runtime) error {
	set := &health.Set{Spread: rt.Cfg.Global.SpreadChecks, MaxSpread: rt.Cfg.Global.MaxSpreadChecks}
	ticking := false
	for _, p := range m.pickers {
		if p.pb.Picker != proxy.Picker(p) {
			continue // another module's picker serves this backend
		}
		sink := health.StderrSink
		if px := p.pb.Proxy; len(px.Logs) > 0 {
			if l, err := logging.OpenFor(rt.Cfg, px); err == nil {
				m.loggers = append(m.loggers, l)
				sink = func(e health.Event) {
					health.StderrSink(e)
					l.Send(int(e.Severity), []byte(health.SyslogText(e)))
				}
			}
		}
		p.sink = sink
		if err := p.Checks(&rt.Cfg.Global, set, sink); err != nil {
			return err
		}
		for _, s := range p.pb.Proxy.Servers {
			ticking = ticking || s.Slowstart > 0
		}
	}
	if err := set.Link(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopChecks := set.Start(ctx)
	done := make(chan struct{})
	if ticking {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					for _, p := range m.pickers {
						p.be.Tick()
					}
				}
			}
		}()
	}
	m.stopFn = func() {
		cancel()
		close(done)
		stopChecks()
	}
	return nil
}

func (m *Balancer) stop() {
	if m.stopFn != nil {
		m.stopFn()
	}
	for _, l := range m.loggers {
		l.Close()
	}
}

// Observe implements proxy.Observer: the traffic's outcomes reach the
// server's `observe` (health_adjust).
func (p *Picker) Observe(s *proxy.ServerState, o proxy.Observation) {
	if sc := p.t().checks[s.Index()]; sc != nil {
		sc.Observe(health.Observed(o))
	}
}

// noServer reports that the backend lost its last usable server: the
// alert, and one more DOWN transition on its counters (the stats'
// chkdown of the BACKEND row, HAProxy's down_trans).
func (p *Picker) noServer(name string) {
	p.pb.Counters.Downs.Add(1)
	p.sink(health.Event{Proxy: name, Alert: true, Severity: health.SevEmerg, Msg: health.NoServerMessage(health.ProxyKind(p.pb.Proxy), name)})
}
