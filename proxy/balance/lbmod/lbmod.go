// Package lbmod plugs package balance (HAProxy's algorithms, queueing,
// server states) and package health (checks) into the proxy engine as a
// proxy.Module: one Picker per backend, health checks started in Init.
//
// The engine's ServerState status and weight stay the shared view other
// modules read and write (stats page, runtime API): changes made there are
// picked up before the next pick, and changes made by health checks are
// written back to it.
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
	"sync/atomic"
	"time"

	"halo/proxy"
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

// Picker is a backend's proxy.Picker backed by a balance.Backend.
type Picker struct {
	be     *balance.Backend
	pb     *proxy.Backend
	states []*proxy.ServerState
	srvs   []*balance.Server
	// seen mirrors the status/weight last agreed between the engine view
	// and balance; a difference means someone else (runtime API) changed it.
	seen    []mirror
	lbTaken []atomic.Int64 // slots taken through balance, per server
	checked []bool
	mu      sync.Mutex
	sink    health.Sink
}

type mirror struct {
	status atomic.Int32
	weight atomic.Int32
}

var _ proxy.Picker = (*Picker)(nil)

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
	return proxy.Module{Name: "balance", NewPicker: m.newPicker, Init: m.init, Stop: m.stop}
}

func (m *Balancer) newPicker(pb *proxy.Backend) proxy.Picker {
	cfg, srvs := Config(pb.Proxy)
	be, err := balance.New(cfg, srvs)
	if err != nil {
		return nil // the built-in round robin takes over; compat rejects such weights
	}
	p := &Picker{be: be, pb: pb, states: pb.Servers, srvs: be.Servers(),
		seen: make([]mirror, len(pb.Servers)), lbTaken: make([]atomic.Int64, len(pb.Servers)),
		checked: make([]bool, len(pb.Servers)), sink: health.StderrSink}
	for i, ss := range pb.Servers {
		p.seen[i].status.Store(int32(ss.Status()))
		p.seen[i].weight.Store(ss.Weight.Load())
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

// Server returns the balance state of an engine server whose backend this
// module serves (stats: check columns, status, lbtot).
func Server(ss *proxy.ServerState) (*balance.Server, bool) {
	p, ok := ss.Backend.Picker.(*Picker)
	if !ok {
		return nil, false
	}
	return p.srvs[ss.Index()], true
}

// Reserve takes a connection slot on a server chosen by persistence (a
// cookie, a stick table) instead of a Pick, so that its maxconn, queue
// and leastconn count apply as HAProxy applies them to SF_DIRECT streams.
// It blocks while the server is full, up to deadline (zero: timeout queue),
// and returns the server to use: ss, or another one if ss left load
// balancing while the stream waited. Pair it with the engine's Release as
// a Pick. For a server this module does not handle it only counts the
// engine's CurConns.
func Reserve(ss *proxy.ServerState, deadline time.Time) (*proxy.ServerState, error) {
	p, ok := ss.Backend.Picker.(*Picker)
	if !ok {
		ss.Counters.CurConns.Add(1)
		return ss, nil
	}
	s, err := p.be.TakeServerUntil(p.srvs[ss.Index()], deadline)
	if err != nil {
		if errors.Is(err, balance.ErrNoServer) {
			return nil, proxy.ErrNoServer
		}
		return nil, proxy.ErrQueueTimeout
	}
	i := s.Index()
	p.lbTaken[i].Add(1)
	got := p.states[i]
	got.Counters.CurConns.Add(1)
	return got, nil
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
	p.reconcile()
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
	var prev *balance.Server
	if k.Exclude != nil {
		for i, ss := range p.states {
			if ss == k.Exclude {
				prev = p.srvs[i]
			}
		}
	}
	s, err := p.be.TakeUntil(&req, prev, k.Deadline)
	if err != nil {
		if errors.Is(err, balance.ErrNoServer) {
			return nil, proxy.ErrNoServer
		}
		return nil, proxy.ErrQueueTimeout
	}
	i := s.Index()
	p.lbTaken[i].Add(1)
	ss := p.states[i]
	ss.Counters.CurConns.Add(1)
	return ss, nil
}

// Release implements proxy.Picker. Servers chosen by persistence were not
// taken through balance; they only carry the engine's count.
func (p *Picker) Release(ss *proxy.ServerState) {
	if ss == nil {
		return
	}
	ss.Counters.CurConns.Add(-1)
	for i, x := range p.states {
		if x != ss {
			continue
		}
		for {
			n := p.lbTaken[i].Load()
			if n <= 0 {
				return
			}
			if p.lbTaken[i].CompareAndSwap(n, n-1) {
				p.be.Release(p.srvs[i])
				return
			}
		}
	}
}

// reconcile applies status/weight changes others made on the engine's
// ServerState (runtime API, stats admin) to balance.
func (p *Picker) reconcile() {
	for i, ss := range p.states {
		st, w := int32(ss.Status()), ss.Weight.Load()
		if st == p.seen[i].status.Load() && w == p.seen[i].weight.Load() {
			continue
		}
		p.mu.Lock()
		p.applyExternal(i, proxy.ServerStatus(st), w)
		p.mu.Unlock()
	}
}

func (p *Picker) applyExternal(i int, st proxy.ServerStatus, w int32) {
	s, ss := p.srvs[i], p.states[i]
	m := &p.seen[i]
	if w != m.weight.Load() {
		if _, err := s.SetWeight(int(w)); err != nil {
			ss.Weight.Store(m.weight.Load()) // static algorithm: refused
		} else {
			m.weight.Store(w)
		}
	}
	prev := proxy.ServerStatus(m.status.Load())
	if st == prev {
		return
	}
	name, bk := p.pb.Proxy.Name, s.Backup
	switch st {
	case proxy.SrvMaint:
		t := s.SetAdmin(balance.AdminForcedMaint, true)
		p.sink(health.Event{Proxy: name, Severity: health.SevAlert, Msg: health.MaintMessage(name, s.Name, bk, t)})
		if t.BackendDown {
			p.sink(health.Event{Proxy: name, Alert: true, Severity: health.SevEmerg, Msg: health.NoServerMessage(name)})
		}
	case proxy.SrvDrain:
		s.SetAdmin(balance.AdminMaint, false)
		s.SetAdmin(balance.AdminForcedDrain, true)
	case proxy.SrvUp, proxy.SrvDown, proxy.SrvNoLB:
		wasMaint := prev == proxy.SrvMaint
		s.SetAdmin(balance.AdminForcedDrain, false)
		t := s.SetAdmin(balance.AdminMaint, false)
		switch {
		case st == proxy.SrvDown:
			s.SetState(balance.StateStopped)
		case st == proxy.SrvNoLB:
			s.SetState(balance.StateStopping)
		case !p.checked[i]:
			s.SetState(balance.StateRunning)
		}
		if wasMaint && t.Changed {
			p.sink(health.Event{Proxy: name, Severity: health.SevNotice, Msg: health.ReadyMessage(name, s.Name, bk, t)})
		}
	}
	// The checks may disagree with "ready": the engine view follows balance.
	st = engineStatus(s)
	ss.SetStatus(st)
	m.status.Store(int32(st))
}

func engineStatus(s *balance.Server) proxy.ServerStatus {
	st := s.Stats()
	switch {
	case st.Admin&balance.AdminMaint != 0:
		return proxy.SrvMaint
	case st.Admin&balance.AdminForcedDrain != 0:
		return proxy.SrvDrain
	case st.State == balance.StateStopped:
		return proxy.SrvDown
	case st.State == balance.StateStopping:
		return proxy.SrvNoLB
	}
	return proxy.SrvUp
}

// syncFromBalance writes a health-driven change to the engine's view, and
// kills the server's sessions on `on-marked-down shutdown-sessions`.
func (p *Picker) syncFromBalance(i int) {
	p.mu.Lock()
	st := engineStatus(p.srvs[i])
	p.states[i].SetStatus(st)
	p.seen[i].status.Store(int32(st))
	p.mu.Unlock()
	if st == proxy.SrvDown && p.states[i].Server.OnMarkedDown == "shutdown-sessions" {
		p.states[i].ShutdownSessions()
	}
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
			OnChange:       func() { p.syncFromBalance(idx) },
		}, p.srvs[i], sink)
		p.checked[i] = true
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
