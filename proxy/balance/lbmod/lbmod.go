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
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
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
	be     *balance.Backend
	pb     *proxy.Backend
	states []*proxy.ServerState
	srvs   []*balance.Server
	// checkers are the servers' health checkers (nil: not checked).
	checkers []*health.Checker
	rdp      string     // balance rdp-cookie: the cookie name
	mu       sync.Mutex // orders runtime API changes and their messages
	sink     health.Sink
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
			// As the engine does: an unresolved address starts in maintenance.
			Disabled: s.Disabled || (!s.Resolved && !s.Addr.IsValid()),
			Maxconn:  s.Maxconn, Minconn: s.Minconn, Maxqueue: s.Maxqueue, Slowstart: s.Slowstart,
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
	p := &Picker{be: be, pb: pb, states: pb.Servers, srvs: be.Servers(),
		checkers: make([]*health.Checker, len(pb.Servers)), sink: health.StderrSink}
	if cfg.Algo == balance.RDPCookie {
		p.rdp = pb.Proxy.Balance.Param
	}
	be.SetQueueHook(func(s *balance.Server, n int) {
		c := &pb.Counters
		if s != nil {
			c = &pb.Servers[s.Index()].Counters
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
	return p.srvs[ss.Index()], true
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
		prev = p.srvs[k.Exclude.Index()]
	}
	s, err := p.be.TakeUntil(&req, prev, k.Deadline)
	return p.taken(s, err)
}

// Take implements proxy.Picker: a server chosen by persistence takes a
// slot as a picked one does (its maxconn and queue apply, HAProxy's
// SF_DIRECT streams). When its queue is full (maxqueue), `option
// redispatch` lets the algorithm choose another server; otherwise the
// request fails as HAProxy's does (503).
func (p *Picker) Take(ss *proxy.ServerState, k *proxy.PickKey) (*proxy.ServerState, error) {
	s, err := p.be.TakeServerUntil(p.srvs[ss.Index()], k.Deadline)
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
	ss := p.states[s.Index()]
	ss.Counters.CurConns.Add(1)
	return ss, nil
}

// Release implements proxy.Picker.
func (p *Picker) Release(ss *proxy.ServerState) {
	if ss == nil {
		return
	}
	ss.Counters.CurConns.Add(-1)
	p.be.Release(p.srvs[ss.Index()])
}

// Health implements proxy.ServerStates.
func (p *Picker) Health(i int) proxy.ServerStatus {
	switch st, _ := p.srvs[i].Current(); st {
	case balance.StateStopped:
		return proxy.SrvDown
	case balance.StateStopping:
		return proxy.SrvNoLB
	}
	return proxy.SrvUp
}

// Status implements proxy.ServerStates.
func (p *Picker) Status(i int) proxy.ServerStatus {
	st, adm := p.srvs[i].Current()
	switch {
	case adm&balance.AdminMaint != 0:
		return proxy.SrvMaint
	case adm&balance.AdminForcedDrain != 0:
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
// pauses the server's checks; leaving it resumes them with the server up
// and checked at once.
func (p *Picker) SetAdmin(i int, a proxy.AdminAction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.srvs[i]
	name, bk := p.pb.Proxy.Name, s.Backup
	st0, adm0 := s.Current()
	wasMaint, wasDrain := adm0&balance.AdminMaint != 0, adm0&balance.AdminForcedDrain != 0
	var t balance.Transition
	switch a {
	case proxy.AdminMaint:
		if wasMaint {
			return
		}
		s.SetAdmin(balance.AdminForcedDrain, false)
		t = s.SetAdmin(balance.AdminForcedMaint, true)
		if c := p.checkers[i]; c != nil {
			c.Pause()
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
		if wasDrain && !wasMaint {
			return
		}
		t = s.SetAdmin(balance.AdminForcedDrain, true)
		if wasMaint {
			p.leaveMaint(i)
			st, _ := s.Current()
			p.sink(event(name, s.Name, bk, false, "is %s/DRAIN (leaving forced maintenance).", upOrDown(st)))
			p.sink(event(name, s.Name, bk, false, "remains in forced drain mode."))
			return
		}
		// The tail of a server that is down reads as one that left.
		if st0 == balance.StateStopped {
			p.sink(event(name, s.Name, bk, false, "enters drain state. %s", left(t)))
		} else {
			p.sink(event(name, s.Name, bk, false, "enters drain state. %s", online(t)))
		}
	case proxy.AdminReady:
		switch {
		case wasMaint:
			s.SetAdmin(balance.AdminForcedDrain, false)
			p.leaveMaint(i)
			st, _ := s.Current()
			p.sink(event(name, s.Name, bk, false, "is %s/READY (leaving forced maintenance).", upOrDown(st)))
		case wasDrain:
			s.SetAdmin(balance.AdminForcedDrain, false)
			st, _ := s.Current()
			p.sink(event(name, s.Name, bk, false, "is %s (leaving forced drain).", upOrDown(st)))
		}
		return
	}
	if t.BackendDown {
		p.sink(health.Event{Proxy: name, Alert: true, Severity: health.SevEmerg, Msg: health.NoServerMessage(name)})
	}
}

// leaveMaint clears maintenance. As HAProxy, a server leaving it is up:
// a checked one starts at health rise and is checked at once, an
// unchecked one is simply running.
func (p *Picker) leaveMaint(i int) {
	s := p.srvs[i]
	s.SetAdmin(balance.AdminMaint, false)
	if c := p.checkers[i]; c != nil {
		c.Resume()
	}
	if st, _ := s.Current(); st == balance.StateStopped {
		s.SetState(balance.StateRunning)
	}
}

// SetHealth implements proxy.ServerStates (`set server … health`), with
// HAProxy's "changed from CLI" messages.
func (p *Picker) SetHealth(i int, st proxy.ServerStatus) {
	p.mu.Lock()
	s := p.srvs[i]
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
			p.sink(health.Event{Proxy: name, Alert: true, Severity: health.SevEmerg, Msg: health.NoServerMessage(name)})
		}
	}
	p.mu.Unlock()
	p.markedDown(i)
}

// markedDown applies `on-marked-down shutdown-sessions` to a server that
// is now down.
func (p *Picker) markedDown(i int) {
	if p.Status(i) == proxy.SrvDown && p.states[i].Server.OnMarkedDown == "shutdown-sessions" {
		p.states[i].ShutdownSessions()
	}
}

// Weight implements proxy.ServerStates.
func (p *Picker) Weight(i int) int { return p.srvs[i].UserWeight() }

// SetWeight implements proxy.ServerStates. Static algorithms accept only
// 0 and the configured weight, with HAProxy's answer otherwise.
func (p *Picker) SetWeight(i int, w int) error {
	if _, err := p.srvs[i].SetWeight(w); err != nil {
		return errors.New("Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.")
	}
	return nil
}

// healthChanged is a health check's change: the engine closes what it
// must, and the sessions go on `on-marked-down shutdown-sessions`.
func (p *Picker) healthChanged(i int) {
	p.states[i].StatusChanged()
	p.markedDown(i)
}

// Checks builds the health checkers of the backend's servers with `check`.
func (p *Picker) Checks(sink health.Sink) []*health.Checker {
	px := p.pb.Proxy
	var out []*health.Checker
	for i, s := range px.Servers {
		if !s.Check {
			continue
		}
		addr := s.Addr
		if s.CheckAddr.IsValid() {
			addr = s.CheckAddr
		}
		port := s.Port
		if s.CheckPort > 0 {
			port = s.CheckPort
		}
		if cp := connectPort(px); cp > 0 {
			port = cp
		}
		if !addr.IsValid() || port <= 0 {
			continue // compat rejects a check without a port
		}
		inter := s.Inter
		if inter <= 0 {
			inter = 2 * time.Second
		}
		ct, rt := health.Timeouts(inter, px.Timeouts.Connect, px.Timeouts.Check)
		probe := health.Probe{Addr: netip.AddrPortFrom(addr, uint16(port)).String(), ConnectTimeout: ct, ReadTimeout: rt}
		if s.SSL {
			// Checks of an `ssl` server go over TLS too (check-ssl implied).
			name := s.Host
			if h, _, err := net.SplitHostPort(name); err == nil {
				name = h
			}
			probe.TLS = &tls.Config{ServerName: name, InsecureSkipVerify: s.Verify != "required"}
		}
		switch px.HealthCheck.Type {
		case proxy.CheckRedis:
			probe.TCP = health.RedisCheck()
		case proxy.CheckTCP:
			// option tcp-check with rules; without rules a plain connect.
			var rules [][]string
			for _, r := range px.HTTPCheckRules {
				if a, ok := strings.CutPrefix(r.Action, "tcp-check "); ok {
					rules = append(rules, append([]string{a}, r.Args...))
				}
			}
			if len(rules) > 0 {
				if tc, err := health.CompileTCPCheck(rules); err == nil {
					probe.TCP = tc
				}
			}
		}
		if px.HealthCheck.Type == proxy.CheckHTTP {
			hc := px.HealthCheck
			ver, extra := health.SplitLegacyVersion(hc.Version)
			probe.Request = health.HTTPRequest(hc.Method, hc.URI, ver, append(append([][2]string(nil), hc.Headers...), extra...), hc.Body)
			for _, r := range px.HTTPCheckRules {
				probe.DisableOn404 = probe.DisableOn404 || r.Action == "disable-on-404"
			}
			for _, e := range hc.Expect {
				x, err := health.CompileExpect(e.Kind, e.Negate, e.Pattern)
				if err == nil {
					probe.Expect = append(probe.Expect, x)
				}
			}
		}
		idx := i
		c := health.New(health.Config{
			Proxy: px.Name, Server: s.Name, Backup: s.Backup, Probe: probe,
			Rise: s.Rise, Fall: s.Fall,
			Intervals:      health.Intervals{Inter: inter, FastInter: s.FastInter, DownInter: s.DownInter},
			ShutdownOnDown: s.OnMarkedDown == "shutdown-sessions",
			OnChange:       func() { p.healthChanged(idx) },
		}, p.srvs[i], sink)
		p.checkers[i] = c
		if _, adm := p.srvs[i].Current(); adm&balance.AdminMaint != 0 {
			c.Pause() // `disabled`: checks wait for the server to leave maintenance
		}
		out = append(out, c)
	}
	return out
}

// connectPort is `http-check connect port N` (the first connect rule).
func connectPort(px *proxy.Proxy) int {
	for _, r := range px.HTTPCheckRules {
		if r.Action != "connect" {
			continue
		}
		for j := 0; j+1 < len(r.Args); j++ {
			if r.Args[j] == "port" {
				n, _ := strconv.Atoi(r.Args[j+1])
				return n
			}
		}
		return 0
	}
	return 0
}

func (m *Balancer) init(rt *proxy.Runtime) error {
	var checkers []*health.Checker
	ticking := false
	for _, p := range m.pickers {
		if p.pb.Picker != proxy.Picker(p) {
			continue // another module's picker serves this backend
		}
		sink := health.StderrSink
		if px := p.pb.Proxy; len(px.Logs) > 0 {
			if l, err := logging.Open(px.Logs, ""); err == nil {
				m.loggers = append(m.loggers, l)
				sink = func(e health.Event) {
					health.StderrSink(e)
					l.Send(int(e.Severity), []byte(health.SyslogText(e)))
				}
			}
		}
		p.sink = sink
		checkers = append(checkers, p.Checks(sink)...)
		for _, s := range p.pb.Proxy.Servers {
			ticking = ticking || s.Slowstart > 0
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopChecks := health.Start(ctx, checkers)
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
