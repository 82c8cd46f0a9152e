package lvs

import (
	"fmt"
	"reflect"

	"halo/lvs/check"
)

// Reload swaps in the configuration a SIGHUP read, changing only what
// changed, as keepalived's clear_diff_services does (check/ipwrapper.c):
// a virtual server that is gone is removed with its real servers; one that
// stays keeps its services (so connections in flight on the userspace path
// go on), has its scheduler and persistence edited when they changed, and
// its group entries added or removed; its real servers are diffed the same
// way (added, removed, weight and forwarding changes applied). A checker
// whose configuration is unchanged keeps running with its state; a changed
// or new one starts afresh (one failure is enough to take its server down,
// and a new alpha checker holds down a server that already has a failed
// one, as migrate_checkers does); a removed one stops. New virtual servers
// start as at start-up.
func (m *Manager) Reload(ncfg *Config) {
	if m.ctx != nil {
		m.watchAddrs(m.ctx, ncfg)
	}
	m.mu.Lock()
	var starts []pendingChecker
	var stops []*chkState
	ocfg := m.cfg
	m.cfg = ncfg
	if ncfg.Global.NotifyFIFO != m.fifoPath || ncfg.Global.GenericFIFO != m.genPath {
		m.closeFIFO()
		m.openFIFO()
	}
	used := map[*vsState]bool{}
	var next, added []*vsState
	for _, vc := range ncfg.VirtualServers {
		var vs *vsState
		for _, o := range m.vss {
			if !used[o] && sameVS(o.cfg, vc) {
				vs = o
				break
			}
		}
		if vs == nil {
			vs = m.newVS(vc)
			added = append(added, vs)
			next = append(next, vs)
			continue
		}
		used[vs] = true
		m.reloadVS(vs, vc, &starts, &stops)
		m.haApply(vs) // ha_suspend may have come or gone
		next = append(next, vs)
	}
	for _, o := range m.vss {
		if used[o] {
			continue
		}
		if o.cfg.Group != "" {
			m.logf("Removing Virtual Server Group [%s]", o.cfg.Group)
		} else {
			m.logf("Removing Virtual Server %s", o.cfg.Name())
		}
		for _, rs := range o.rss {
			stops = append(stops, rs.checkers...)
		}
		m.withCfg(ocfg, func() { m.clearVS(o, false) })
	}
	m.vss = next
	for _, vs := range added {
		m.initVS(vs)
		for _, rs := range vs.rss {
			for _, c := range rs.checkers {
				starts = append(starts, pendingChecker{vs, rs, c})
			}
		}
	}
	for _, c := range stops {
		c.stopped = true
	}
	m.mu.Unlock()
	for _, c := range stops {
		if c.stop != nil {
			c.stop()
		}
	}
	if m.ctx != nil {
		for _, p := range starts {
			m.startChecker(m.ctx, p.vs, p.rs, p.c)
		}
	}
}

type pendingChecker struct {
	vs *vsState
	rs *rsState
	c  *chkState
}

// withCfg runs f with the configuration a removed virtual server belonged
// to (its group's entries, the FIFO lines' wording).
func (m *Manager) withCfg(cfg *Config, f func()) {
	cur := m.cfg
	m.cfg = cfg
	defer func() { m.cfg = cur }()
	f()
}

// sameVS is vs_iseq: the same group and port, the same family and fwmark,
// or the same protocol and address.
func sameVS(a, b *VirtualServer) bool {
	switch {
	case a.Group != "" || b.Group != "":
		return a.Group == b.Group && a.Addr.Port() == b.Addr.Port()
	case a.Family != b.Family:
		return false
	case a.FWMark != 0 || b.FWMark != 0:
		return a.FWMark == b.FWMark
	}
	return a.Proto == b.Proto && a.Addr == b.Addr
}

func serviceKey(s *Service) string { return s.String() }

// sameService says whether an edit is needed (ipvs_cmd(IP_VS_SO_SET_EDIT)).
func sameService(a, b *Service) bool {
	return a.Sched == b.Sched && a.Flags == b.Flags && a.Timeout == b.Timeout && a.Netmask == b.Netmask && a.PE == b.PE && a.Method == b.Method
}

func (m *Manager) reloadVS(vs *vsState, vc *VirtualServer, starts *[]pendingChecker, stops *[]*chkState) {
	ovc := vs.cfg
	// services: group entries that went, came, or whose scheduling changed
	old := map[string]*Service{}
	for _, s := range vs.services {
		old[serviceKey(s)] = s
	}
	vs.cfg = vc
	nserv := m.servicesOf(vc)
	keep := map[string]bool{}
	var fresh []*Service
	for _, s := range nserv {
		k := serviceKey(s)
		o := old[k]
		if o == nil {
			if vc.Group != "" {
				m.logf("VS [%s] added into group %s", s, vc.Group)
			}
			fresh = append(fresh, s)
			continue
		}
		keep[k] = true
		if !sameService(o, s) {
			if err := m.dp.EditService(s); err != nil {
				m.logf("%s: %s: %v", m.dp.Name(), s, err)
			}
		}
	}
	for _, s := range vs.services {
		if keep[serviceKey(s)] {
			continue
		}
		if ovc.Group != "" {
			m.logf("VS [%s] in group %s no longer exists", s, ovc.Group)
		}
		if err := m.dp.DelService(s); err != nil {
			m.logf("%s: %s: %v", m.dp.Name(), s, err)
		}
	}
	vs.services = nserv
	for _, s := range fresh {
		if err := m.dp.AddService(s); err != nil {
			m.logf("%s: %s: %v", m.dp.Name(), s, err)
			continue
		}
		// the servers in the pool join the new entry (ipvs_group_sync_entry)
		pool := append([]*rsState(nil), vs.rss...)
		if vs.sorry != nil {
			pool = append(pool, vs.sorry)
		}
		for _, rs := range pool {
			if !rs.set {
				continue
			}
			w := 0
			if rs.alive && (rs.sorry || vs.quorumUp || vs.sorry == nil || !vs.sorry.alive) {
				w = realWeight(rs.effWeight)
			}
			d := Dest{Addr: rs.cfg.Addr, Weight: w, Method: rs.cfg.Method, UThreshold: rs.cfg.UThreshold, LThreshold: rs.cfg.LThreshold}
			if err := m.dp.AddDest(s, d); err != nil {
				m.logf("%s: add dest %s in %s: %v", m.dp.Name(), Trio(d.Addr, vc.Proto), s, err)
			}
		}
	}

	// real servers (clear_diff_rs)
	var nrss []*rsState
	taken := map[*rsState]bool{}
	for _, rc := range vc.RealServers {
		var rs *rsState
		for _, o := range vs.rss {
			if !taken[o] && o.cfg.Addr == rc.Addr {
				rs = o
				break
			}
		}
		if rs == nil {
			rs = newRS(vc, rc)
			nrss = append(nrss, rs)
			for _, c := range rs.checkers {
				*starts = append(*starts, pendingChecker{vs, rs, c})
			}
			continue
		}
		taken[rs] = true
		nrss = append(nrss, rs)
		m.reloadRS(vs, rs, rc, starts, stops)
	}
	for _, o := range vs.rss {
		if taken[o] {
			continue
		}
		m.logf("service %s no longer exist", Trio(o.cfg.Addr, ovc.Proto))
		*stops = append(*stops, o.checkers...)
		cur := vs.cfg
		vs.cfg = ovc
		m.clearRS(vs, o, false)
		vs.cfg = cur
	}
	vs.rss = nrss

	// the sorry server (clear_diff_s_srv)
	ss := vs.sorry
	switch {
	case ss != nil && vc.Sorry != nil && ss.cfg.Addr == vc.Sorry.Addr:
		wasInhibit := ss.cfg.Inhibit
		ss.cfg = vc.Sorry
		ss.effWeight = int64(vc.Sorry.Weight)
		if !ss.alive && wasInhibit && !vc.Sorry.Inhibit && ss.set {
			_ = m.destCmd(vs, ss, "del", 0)
			ss.set = false
		}
	case ss != nil:
		if ss.set {
			if ss.alive {
				m.logf("Removing sorry server %s from VS %s", Trio(ss.cfg.Addr, ovc.Proto), ovc.Name())
			}
			_ = m.destCmd(vs, ss, "del", 0)
			ss.set = false
			if ss.alive && vc.Sorry == nil {
				m.quorumPool(vs, true)
			}
		}
		vs.sorry = nil
		if vc.Sorry != nil {
			vs.sorry = &rsState{cfg: vc.Sorry, effWeight: int64(vc.Sorry.Weight), sorry: true}
		}
	case vc.Sorry != nil:
		vs.sorry = &rsState{cfg: vc.Sorry, effWeight: int64(vc.Sorry.Weight), sorry: true}
	}

	// new real servers join as at start-up, then the quorum is looked at
	// again (its settings may have changed): init_service_vs
	for _, rs := range vs.rss {
		if rs.set || rs.alive {
			continue
		}
		if rs.numFailed == 0 || rs.cfg.Inhibit {
			_ = m.ipvsAdd(vs, rs)
			if rs.numFailed == 0 {
				rs.alive = true
				if m.cfg.Global.RSInitNotifies {
					m.rsNotifies(vs, rs, false)
				}
			}
		}
	}
	m.updateQuorum(vs, true)
	if s := vs.sorry; s != nil && s.cfg.Inhibit && !s.set {
		_ = m.destCmd(vs, s, "add", 0)
		s.set = true
	}
}

// reloadRS carries a real server's state over (migrate_checkers) and
// applies what changed in its configuration.
func (m *Manager) reloadRS(vs *vsState, rs *rsState, rc *RealServer, starts *[]pendingChecker, stops *[]*chkState) {
	orc := rs.cfg
	rs.cfg = rc
	kept := map[*chkState]bool{}
	var checkers, fresh []*chkState
	for _, cc := range rc.Checkers {
		var c *chkState
		for _, o := range rs.checkers {
			if !kept[o] && sameChecker(o.cfg, cc) {
				c = o
				break
			}
		}
		if c != nil {
			kept[c] = true
			checkers = append(checkers, c)
			continue
		}
		c = newChecker(vs.cfg, rc, cc, true)
		checkers = append(checkers, c)
		fresh = append(fresh, c)
	}
	for _, o := range rs.checkers {
		if !kept[o] {
			*stops = append(*stops, o)
		}
	}
	rs.checkers = checkers
	failed, anyRun := 0, false
	for _, c := range checkers {
		if !c.isUp {
			failed++
		}
		if c.hasRun {
			anyRun = true
		}
	}
	// a new alpha checker holds the server down until it has run when
	// another checker already failed (or none has run on a server that is
	// not alive)
	if failed > 0 || (!rs.alive && !anyRun) {
		for _, c := range fresh {
			if c.cfg.Alpha {
				c.isUp, c.st.IsUp = false, false
				failed++
			}
		}
	}
	rs.numFailed = failed
	for _, c := range fresh {
		*starts = append(*starts, pendingChecker{vs, rs, c})
	}
	// the weight: the new configured one, with the dynamic weights kept
	if w := rs.weight(); w != rs.effWeight {
		m.updateWeight(vs, rs, w, false)
	}
	switch {
	case rs.numFailed == 0 && !rs.alive:
		m.performState(vs, rs, true)
	case rs.numFailed > 0 && rs.alive:
		m.performState(vs, rs, false)
	case rs.numFailed > 0 && rs.cfg.Inhibit && !rs.set:
		// inhibit_on_failure turned on: the failed server waits at weight 0
		_ = m.destCmd(vs, rs, "add", 0)
		rs.set = true
	case rs.numFailed > 0 && !rs.cfg.Inhibit && rs.set && !rs.alive:
		_ = m.destCmd(vs, rs, "del", 0)
		rs.set = false
	case rs.set && rs.alive && (orc.Method != rc.Method || orc.UThreshold != rc.UThreshold || orc.LThreshold != rc.LThreshold) &&
		(vs.quorumUp || vs.sorry == nil || !vs.sorry.alive):
		_ = m.destCmd(vs, rs, "edit", realWeight(rs.effWeight))
	}
}

// sameChecker is a checker's compare function: the same kind and every
// setting the same (keepalived's compare_conn_opts and friends).
func sameChecker(a, b *check.Config) bool {
	return reflect.DeepEqual(a, b)
}

// Services lists the IPVS services of every virtual server (tests, dumps).
func (m *Manager) Services() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, vs := range m.vss {
		for _, s := range vs.services {
			out = append(out, fmt.Sprintf("%s %s", s, s.Sched))
		}
	}
	return out
}
