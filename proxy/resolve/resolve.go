// Package resolve runs HAProxy's resolvers sections (configuration.txt
// §5.3): the servers that name one are resolved again at run time, every
// `timeout resolve`, by asking its nameservers (github.com/miekg/dns), and
// follow the answers: a new address, maintenance while no valid answer
// came within the `hold` period of the error, back to service when the
// name resolves again. A server-template whose name is a SRV label
// (`_service._proto.name`) takes its servers' targets, ports and weights
// from the SRV records. Every change goes through the backend's state
// owner (proxy.ServerStates), which says it as HAProxy does.
package resolve

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"halo/proxy"
)

// Module is the resolvers module of one runtime: build it with New and
// pass Module() to proxy.New.
type Module struct {
	sections []*section
	stop     context.CancelFunc
	wg       sync.WaitGroup
}

// New returns the module; Init finds the servers to resolve.
func New() *Module { return &Module{} }

// Module returns the engine hooks.
func (m *Module) Module() proxy.Module {
	return proxy.Module{Name: "resolvers", Init: m.init, Stop: m.halt}
}

// section is a resolvers section and the names it resolves.
type section struct {
	cfg   *proxy.Resolvers
	names []*resolution
}

// Status is a resolution's outcome (HAProxy's RSLV_STATUS_*).
type Status int

const (
	StatusValid Status = iota
	StatusNX
	StatusRefused
	StatusTimeout
	StatusOther
)

// resolution is one name asked of the nameservers, shared by the servers
// that resolve it.
type resolution struct {
	sec     *section
	name    string // FQDN without the final dot
	srv     bool   // a SRV label
	prefer  uint16 // dns.TypeA or dns.TypeAAAA
	servers []*proxy.ServerState
	// lastValid is when the last valid answer came (the hold periods
	// count from it); srvSeen when each SRV target was last in one.
	lastValid time.Time
	srvSeen   map[string]time.Time
	// answers are the addresses of the valid answers, in the order they
	// first came, each kept until `hold obsolete` has passed since it was
	// last in one (HAProxy's answer list).
	answers []seenAddr
	// targets are the names a SRV answer gave without their addresses,
	// resolved on their own (HAProxy's per-server resolutions).
	targets map[string]*resolution
}

func (m *Module) init(rt *proxy.Runtime) error {
	byName := map[string]*section{}
	for _, r := range rt.Cfg.Resolvers {
		s := &section{cfg: r}
		byName[r.Name] = s
		m.sections = append(m.sections, s)
	}
	for _, be := range rt.Backends {
		for _, ss := range be.Servers() {
			sv := ss.Server
			sec := byName[sv.Resolvers]
			if sec == nil || sv.Path != "" {
				continue
			}
			name := strings.TrimSuffix(sv.Host, ".")
			if sv.SRV != "" {
				name = strings.TrimSuffix(sv.SRV, ".")
			}
			if name == "" {
				continue
			}
			sec.subscribe(name, sv.SRV != "", sv.ResolvePrefer, ss)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	for _, s := range m.sections {
		if len(s.names) == 0 || len(s.cfg.Nameservers) == 0 {
			continue
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			s.run(ctx)
		}()
	}
	return nil
}

func (m *Module) halt() {
	if m.stop != nil {
		m.stop()
		m.wg.Wait()
	}
}

func (s *section) subscribe(name string, srv bool, prefer string, ss *proxy.ServerState) {
	pt := uint16(dns.TypeAAAA)
	if prefer == "ipv4" {
		pt = dns.TypeA
	}
	for _, r := range s.names {
		if r.name == name && r.srv == srv && (srv || r.prefer == pt) {
			r.servers = append(r.servers, ss)
			return
		}
	}
	s.names = append(s.names, &resolution{sec: s, name: name, srv: srv, prefer: pt, servers: []*proxy.ServerState{ss}, srvSeen: map[string]time.Time{}})
}

// run resolves every name of the section every `timeout resolve`.
func (s *section) run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, r := range s.names {
			r.resolve(ctx)
			if ctx.Err() != nil {
				return
			}
		}
		t.Reset(s.cfg.TimeoutResolve)
	}
}

// resolve runs one resolution: the preferred type, the other on an
// error answer (not on a timeout), again up to resolve_retries times.
func (r *resolution) resolve(ctx context.Context) {
	types := []uint16{dns.TypeSRV}
	if !r.srv {
		types = []uint16{r.prefer, otherType(r.prefer)}
	}
	st := StatusTimeout
	retries := max(r.sec.cfg.Retries, 1)
	for try := 0; try < retries; try++ {
		for _, qt := range types {
			msg, ns, s := r.sec.query(ctx, r.name, qt)
			if ctx.Err() != nil {
				return
			}
			if s == StatusValid {
				r.lastValid = time.Now()
				if r.srv {
					r.applySRV(ctx, msg)
				} else {
					// the first server says which nameserver answered, the
					// others take the answer from the cache
					r.applyAddrs(r.remember(addrsOf(msg, qt), r.lastValid), r.sec.cfg.Name+"/"+ns)
				}
				return
			}
			st = s
			if s == StatusTimeout {
				break
			}
		}
	}
	r.applyError(st)
}

// seenAddr is an address of a name and when an answer last held it.
type seenAddr struct {
	ip   netip.Addr
	last time.Time
}

// remember merges an answer's addresses into the answer list: one
// already there is seen again, a new one goes at its end, one unseen for
// longer than `hold obsolete` leaves it. It returns the list's addresses.
func (r *resolution) remember(ips []netip.Addr, now time.Time) []netip.Addr {
	for _, ip := range ips {
		i := slices.IndexFunc(r.answers, func(x seenAddr) bool { return x.ip == ip })
		if i < 0 {
			r.answers = append(r.answers, seenAddr{ip, now})
		} else {
			r.answers[i].last = now
		}
	}
	hold := r.sec.cfg.HoldObsolete
	r.answers = slices.DeleteFunc(r.answers, func(x seenAddr) bool { return x.last.Add(hold).Before(now) })
	out := make([]netip.Addr, len(r.answers))
	for i, x := range r.answers {
		out[i] = x.ip
	}
	return out
}

func otherType(t uint16) uint16 {
	if t == dns.TypeA {
		return dns.TypeAAAA
	}
	return dns.TypeA
}

// query asks every nameserver at once and returns the first valid
// answer, else the status of the last invalid one (configuration.txt
// §5.3.2), waiting `timeout retry` at most.
func (s *section) query(ctx context.Context, name string, qt uint16) (*dns.Msg, string, Status) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qt)
	q.RecursionDesired = true
	q.SetEdns0(uint16(max(s.cfg.PayloadSize, 512)), false)
	type answer struct {
		m  *dns.Msg
		ns string
		st Status
	}
	ch := make(chan answer, len(s.cfg.Nameservers))
	wait := s.cfg.TimeoutRetry
	if wait <= 0 {
		wait = time.Second
	}
	for _, ns := range s.cfg.Nameservers {
		c := &dns.Client{Net: ns.Network, Timeout: wait, UDPSize: uint16(max(s.cfg.PayloadSize, 512))}
		go func() {
			in, _, err := c.ExchangeContext(ctx, q, ns.Addr.String())
			ch <- answer{in, ns.Name, classify(in, err, qt)}
		}()
	}
	last := StatusTimeout
	for range s.cfg.Nameservers {
		a := <-ch
		if a.st == StatusValid {
			return a.m, a.ns, StatusValid
		}
		if a.st != StatusTimeout || last == StatusTimeout {
			last = a.st
		}
	}
	return nil, "", last
}

// classify says what a nameserver's answer to a query of type qt is.
func classify(m *dns.Msg, err error, qt uint16) Status {
	if err != nil {
		var ne net.Error
		if ok := asNetError(err, &ne); ok && ne.Timeout() {
			return StatusTimeout
		}
		return StatusOther
	}
	switch m.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return StatusNX
	case dns.RcodeRefused:
		return StatusRefused
	default:
		return StatusOther
	}
	for _, rr := range m.Answer {
		if rr.Header().Rrtype == qt {
			return StatusValid
		}
	}
	// no record of the type asked: HAProxy then tries the other type
	return StatusOther
}

func asNetError(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

// addrsOf lists the addresses of type qt in an answer, in its order.
func addrsOf(m *dns.Msg, qt uint16) []netip.Addr {
	var out []netip.Addr
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *dns.A:
			if qt == dns.TypeA {
				if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
					out = append(out, a)
				}
			}
		case *dns.AAAA:
			if qt == dns.TypeAAAA {
				if a, ok := netip.AddrFromSlice(v.AAAA); ok {
					out = append(out, a.Unmap())
				}
			}
		}
	}
	return out
}

// applyAddrs gives each server of the resolution an address of the
// answer, in configuration order, as HAProxy's
// resolv_get_ip_from_response chooses it: the preferred family first
// (8 points), then a resolve-net network (4), then an address no other
// server resolving the same name uses (2; without allow-dup-ip a used
// one is not taken at all), then the server's own (1).
func (r *resolution) applyAddrs(ips []netip.Addr, by string) {
	for i, ss := range r.servers {
		if i > 0 {
			by = "DNS cache"
		}
		r.applyOne(ss, ips, ss.Server.Port, r.name, by)
	}
}

func (r *resolution) applyOne(ss *proxy.ServerState, ips []netip.Addr, port int, fqdn, by string) {
	sv := ss.Server
	cur, _ := ss.CurrentAddr()
	best, bestScore := netip.Addr{}, -1
	for _, ip := range ips {
		score := 0
		if (sv.ResolvePrefer == "ipv4") == ip.Is4() {
			score += 8
		}
		for _, n := range sv.ResolveNets {
			if n.Contains(ip) {
				score += 4
				break
			}
		}
		if usedByOther(ss, fqdn, ip) {
			if !sv.ResolveOpts.AllowDupIP {
				continue
			}
		} else {
			score += 2
		}
		if ip == cur {
			score++
		}
		if score > bestScore {
			best, bestScore = ip, score
		}
	}
	if !best.IsValid() {
		ss.SetResolveMaint(true, "No IP for server ")
		// and its address is forgotten (show servers state: "-")
		_, p := ss.CurrentAddr()
		ss.SetAddr(netip.Addr{}, p, ss.FQDN(), "")
		return
	}
	if _, p := ss.CurrentAddr(); best != cur || p != port || ss.FQDN() != fqdn {
		ss.SetAddr(best, port, fqdn, by)
	}
	if ss.ResolveMaint() {
		ss.SetResolveMaint(false, "")
	}
}

// usedByOther reports whether another server of the backend resolving
// the same name has ip (snr_check_ip_callback).
func usedByOther(ss *proxy.ServerState, fqdn string, ip netip.Addr) bool {
	for _, o := range ss.Backend.Servers() {
		if o == ss || o.FQDN() != fqdn {
			continue
		}
		if a, _ := o.CurrentAddr(); a == ip && !o.ResolveMaint() {
			return true
		}
	}
	return false
}

// freeSRV takes a server's SRV target away: maintenance, no address.
func (r *resolution) freeSRV(ss *proxy.ServerState) {
	ss.SetResolveMaint(true, "entry removed from SRV record")
	ss.SetAddr(netip.Addr{}, 0, "", "")
}

// applyError handles an invalid resolution: each server keeps its
// address while a valid answer came within the hold period of this
// status, then enters maintenance (snr_update_srv_status).
func (r *resolution) applyError(st Status) {
	c := r.sec.cfg
	hold, reason := c.HoldOther, "unspecified DNS error"
	switch st {
	case StatusNX:
		hold, reason = c.HoldNX, "DNS NX status"
	case StatusTimeout:
		hold, reason = c.HoldTimeout, "DNS timeout status"
	case StatusRefused:
		hold, reason = c.HoldRefused, "DNS refused status"
	}
	if !r.lastValid.IsZero() && time.Since(r.lastValid) < hold {
		return
	}
	if r.srv {
		// the records are gone: every target leaves its server
		for i := len(r.servers) - 1; i >= 0; i-- {
			if ss := r.servers[i]; ss.FQDN() != "" {
				r.freeSRV(ss)
			}
		}
		return
	}
	for _, ss := range r.servers {
		if !ss.ResolveMaint() {
			ss.SetResolveMaint(true, reason)
			// and its address is forgotten (show servers state: "-")
			_, port := ss.CurrentAddr()
			ss.SetAddr(netip.Addr{}, port, ss.FQDN(), "")
		}
	}
}

// applySRV gives the template's servers the SRV records' targets: a
// server keeps its target while the records hold it, a new target takes
// a free server; the address comes from the answer's additional records
// ("DNS additional record") or from resolving the target ("DNS cache").
// A target missing from the answers for `hold obsolete` frees its server,
// which enters maintenance.
func (r *resolution) applySRV(ctx context.Context, m *dns.Msg) {
	now := time.Now()
	var recs []*dns.SRV
	for _, rr := range m.Answer {
		if v, ok := rr.(*dns.SRV); ok {
			recs = append(recs, v)
			r.srvSeen[strings.TrimSuffix(v.Target, ".")] = now
		}
	}
	extra := map[string][]netip.Addr{}
	for _, rr := range m.Extra {
		switch v := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
				n := strings.TrimSuffix(v.Hdr.Name, ".")
				extra[n] = append(extra[n], a)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(v.AAAA); ok {
				n := strings.TrimSuffix(v.Hdr.Name, ".")
				extra[n] = append(extra[n], a.Unmap())
			}
		}
	}
	// new targets take free servers first, then the servers whose target
	// left the answers for longer than hold obsolete are freed (HAProxy's
	// order, which its "N active servers left" counts show)
	defer func() {
		for i := len(r.servers) - 1; i >= 0; i-- {
			ss := r.servers[i]
			t := ss.FQDN()
			if t == "" || slices.ContainsFunc(recs, func(x *dns.SRV) bool { return strings.TrimSuffix(x.Target, ".") == t }) {
				continue
			}
			if now.Sub(r.srvSeen[t]) >= r.sec.cfg.HoldObsolete {
				r.freeSRV(ss)
			}
		}
	}()
	for _, rec := range recs {
		target := strings.TrimSuffix(rec.Target, ".")
		var owner *proxy.ServerState
		for _, ss := range r.servers {
			if ss.FQDN() == target {
				owner = ss
				break
			}
		}
		if owner == nil {
			for _, ss := range r.servers {
				if ss.FQDN() == "" {
					owner = ss
					break
				}
			}
		}
		if owner == nil {
			continue // more records than servers
		}
		if !owner.Server.ResolveOpts.IgnoreWeight {
			// HAProxy's weight is the SRV weight / 256, set once the
			// server has its address
			defer func(ss *proxy.ServerState, w int) {
				if ss.Weight() != w {
					_ = ss.SetWeight(w)
				}
			}(owner, int(rec.Weight)/256)
		}
		if ips := extra[target]; len(ips) > 0 {
			r.applyOne(owner, ips, int(rec.Port), target, "DNS additional record")
			continue
		}
		// no additional record: resolve the target itself
		sub := r.targets[target]
		if sub == nil {
			if r.targets == nil {
				r.targets = map[string]*resolution{}
			}
			sub = &resolution{sec: r.sec, name: target, prefer: dns.TypeAAAA, srvSeen: map[string]time.Time{}}
			if owner.Server.ResolvePrefer == "ipv4" {
				sub.prefer = dns.TypeA
			}
			r.targets[target] = sub
		}
		sub.servers = []*proxy.ServerState{owner}
		for _, qt := range []uint16{sub.prefer, otherType(sub.prefer)} {
			msg, _, st := r.sec.query(ctx, target, qt)
			if st == StatusValid {
				r.applyOne(owner, addrsOf(msg, qt), int(rec.Port), target, "DNS cache")
				break
			}
		}
	}
}
