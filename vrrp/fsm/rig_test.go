package fsm

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// t0 is the fake clock's origin.
var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// router is one Keepalived process on the simulated LAN.
type router struct {
	name   string
	addr   netip.Addr
	e      *Engine
	timers map[[2]int]Action // (inst, kind) -> the arming action
	seq    map[[2]int]uint64 // arming order, for equal expiry times
	up     bool              // process alive
	vips   map[int]bool      // instances whose VIPs are installed
	acts   []stamped
}

type stamped struct {
	at time.Duration
	a  Action
}

// lan is a discrete-event simulation of routers on one segment: adverts
// reach every other live router after latency, timers fire on the fake
// clock. It plays the netlab scenarios without sockets.
type lan struct {
	t        *testing.T
	now      time.Time
	latency  time.Duration
	routers  []*router
	inflight []delivery
	armSeq   uint64
	cut      map[*router]bool // routers detached from the segment
	// holders samples: every change of who holds each VRID's VIPs.
	changes []string
}

type delivery struct {
	at   time.Time
	from *router
	vrid uint8
	adv  Advert
}

func newLAN(t *testing.T) *lan {
	return &lan{t: t, now: t0, latency: 50 * time.Microsecond, cut: map[*router]bool{}}
}

// add creates a router running the given instances (and sync groups).
func (l *lan) add(name, addr string, cfgs []Config, groups []GroupConfig) *router {
	l.t.Helper()
	r := &router{name: name, addr: netip.MustParseAddr(addr), timers: map[[2]int]Action{}, seq: map[[2]int]uint64{}, vips: map[int]bool{}}
	for i := range cfgs {
		if !cfgs[i].Addr.IsValid() {
			cfgs[i].Addr = r.addr
		}
	}
	e, warn, err := NewEngine(cfgs, groups)
	if err != nil {
		l.t.Fatal(err)
	}
	r.e = e
	r.warn(l, warn)
	l.routers = append(l.routers, r)
	return r
}

func (l *lan) elapsed() time.Duration { return l.now.Sub(t0) }

// apply performs a router's actions: timers, VIPs, adverts onto the wire.
func (l *lan) apply(r *router, acts []Action) {
	for _, a := range acts {
		r.acts = append(r.acts, stamped{l.elapsed(), a})
		switch a.Kind {
		case ActSetTimer:
			l.armSeq++
			r.timers[[2]int{a.Inst, int(a.Timer.Kind)}] = a
			r.seq[[2]int{a.Inst, int(a.Timer.Kind)}] = l.armSeq
		case ActCancelTimer:
			delete(r.timers, [2]int{a.Inst, int(a.Timer.Kind)})
		case ActAddVIPs:
			r.vips[a.Inst] = true
			l.changes = append(l.changes, fmt.Sprintf("%.6f %s +%s", l.elapsed().Seconds(), r.name, a.Name))
		case ActRemoveVIPs:
			delete(r.vips, a.Inst)
			l.changes = append(l.changes, fmt.Sprintf("%.6f %s -%s", l.elapsed().Seconds(), r.name, a.Name))
		case ActSendAdvert:
			in := r.e.inst[a.Inst]
			l.inflight = append(l.inflight, delivery{at: l.now.Add(l.latency), from: r, vrid: in.cfg.VRID,
				adv: Advert{Src: in.cfg.Addr, Priority: uint8(a.Priority), Interval: in.cfg.AdvertInt}})
		}
	}
}

// start starts a router's process at the current time.
func (l *lan) start(r *router) {
	r.up = true
	l.apply(r, r.e.Start(l.now))
}

// stop is SIGTERM.
func (l *lan) stop(r *router) {
	l.apply(r, r.e.Stop(l.now))
	r.up = false
	r.timers = map[[2]int]Action{}
}

// kill is SIGKILL: the process vanishes; in the shared-kernel lab its VIPs
// go with it.
func (l *lan) kill(r *router) {
	r.up = false
	r.timers = map[[2]int]Action{}
	for i := range r.vips {
		delete(r.vips, i)
	}
}

// restart replaces a stopped router's process by a fresh one.
func (l *lan) restart(r *router, cfgs []Config, groups []GroupConfig) {
	for i := range cfgs {
		if !cfgs[i].Addr.IsValid() {
			cfgs[i].Addr = r.addr
		}
	}
	e, warn, err := NewEngine(cfgs, groups)
	if err != nil {
		l.t.Fatal(err)
	}
	r.e = e
	r.warn(l, warn)
	r.timers = map[[2]int]Action{}
	l.start(r)
}

// warn records NewEngine's warnings as the daemon logs them at startup.
func (r *router) warn(l *lan, warn []string) {
	for _, w := range warn {
		r.acts = append(r.acts, stamped{l.elapsed(), Action{Kind: ActLog, Inst: -1, Group: -1, Text: w}})
	}
}

// reload is SIGHUP: a new engine from cfgs resumes the old one's states.
func (l *lan) reload(r *router, cfgs []Config, groups []GroupConfig) {
	carry := map[string]State{}
	for i := 0; i < r.e.Len(); i++ {
		carry[r.e.Name(i)] = r.e.State(i)
	}
	for i := range cfgs {
		if !cfgs[i].Addr.IsValid() {
			cfgs[i].Addr = r.addr
		}
	}
	e, warn, err := NewEngine(cfgs, groups)
	if err != nil {
		l.t.Fatal(err)
	}
	r.e = e
	r.warn(l, warn)
	r.timers = map[[2]int]Action{}
	l.apply(r, e.Resume(l.now, carry))
}

// run advances the clock to t0+until, processing events in time order.
func (l *lan) run(until time.Duration) {
	end := t0.Add(until)
	for {
		// earliest event
		var next time.Time
		kind := 0 // 1 timer, 2 delivery
		var tr *router
		var ta Action
		var tseq uint64
		di := -1
		// Timers fire in expiry order. Equal expiries follow Keepalived's
		// scheduler: the per-socket advert/master-down timers in instance
		// order, other timer threads (GARP) in arming order.
		for _, r := range l.routers {
			if !r.up {
				continue
			}
			for k, a := range r.timers {
				sq := r.seq[k] + 1<<32
				if a.Timer.Kind == TimerAdvert || a.Timer.Kind == TimerMasterDown {
					sq = uint64(a.Inst)
				}
				if kind == 0 || a.At.Before(next) || (a.At.Equal(next) && sq < tseq) {
					next, kind, tr, ta, tseq = a.At, 1, r, a, sq
				}
			}
		}
		for i, d := range l.inflight {
			if kind == 0 || d.at.Before(next) {
				next, kind, di = d.at, 2, i
			}
		}
		if kind == 0 || next.After(end) {
			l.now = end
			return
		}
		if next.After(l.now) {
			l.now = next
		}
		switch kind {
		case 1:
			delete(tr.timers, [2]int{ta.Inst, int(ta.Timer.Kind)})
			l.apply(tr, tr.e.Fire(l.now, ta.Timer))
		case 2:
			d := l.inflight[di]
			l.inflight = append(l.inflight[:di], l.inflight[di+1:]...)
			for _, r := range l.routers {
				if r == d.from || !r.up || l.cut[r] || l.cut[d.from] {
					continue
				}
				for i, in := range r.e.inst {
					if in.cfg.VRID == d.vrid {
						l.apply(r, r.e.Receive(l.now, i, d.adv))
					}
				}
			}
		}
	}
}

// runUntil advances until cond holds (checked after every event) or limit.
func (l *lan) runUntil(limit time.Duration, cond func() bool) (time.Duration, bool) {
	step := time.Millisecond
	for l.elapsed() < limit {
		l.run(l.elapsed() + step)
		if cond() {
			return l.elapsed(), true
		}
	}
	return l.elapsed(), false
}

// holders lists the routers holding instance name's VIPs.
func (l *lan) holders(name string) []string {
	var out []string
	for _, r := range l.routers {
		i := r.e.Index(name)
		if i >= 0 && r.vips[i] {
			out = append(out, r.name)
		}
	}
	return out
}

// firstTime returns when router r first emitted an action matching f, after from.
func (r *router) firstTime(from time.Duration, f func(Action) bool) (time.Duration, bool) {
	for _, s := range r.acts {
		if s.at >= from && f(s.a) {
			return s.at, true
		}
	}
	return 0, false
}

func (r *router) logs(from time.Duration) []string {
	var out []string
	for _, s := range r.acts {
		if s.at >= from && s.a.Kind == ActLog {
			out = append(out, s.a.Text)
		}
	}
	return out
}

func (r *router) count(from time.Duration, f func(Action) bool) int {
	n := 0
	for _, s := range r.acts {
		if s.at >= from && f(s.a) {
			n++
		}
	}
	return n
}

func isAdvert(prio int) func(Action) bool {
	return func(a Action) bool { return a.Kind == ActSendAdvert && a.Priority == prio }
}

// labConfig is netlab's generated instance: VRID 51, VIP 10.77.0.100,
// priority 200-50*i, node 1 `state MASTER`.
func labConfig(node int) Config {
	c := Config{Name: "VI_1", VRID: 51, Version: 2, Priority: 200 - 50*node, AdvertInt: time.Second,
		InitialState: Backup, Interface: "eth0", GARPDelay: 5 * time.Second, GARPRepeat: 5,
		VIPs: []VIP{{Addr: netip.MustParseAddr("10.77.0.100")}}}
	if node == 1 {
		c.InitialState = Master
	}
	return c
}

// single-engine rig for unit tests -----------------------------------------

type rig struct {
	t      *testing.T
	e      *Engine
	now    time.Time
	timers map[[2]int]Action
	acts   []stamped
	warn   []string
	vips   map[int]bool // instances whose VIPs are installed
}

func newRig(t *testing.T, cfgs []Config, groups []GroupConfig) *rig {
	t.Helper()
	e, warn, err := NewEngine(cfgs, groups)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, e: e, now: t0, timers: map[[2]int]Action{}, warn: warn, vips: map[int]bool{}}
}

func (r *rig) apply(acts []Action) []Action {
	for _, a := range acts {
		r.acts = append(r.acts, stamped{r.now.Sub(t0), a})
		switch a.Kind {
		case ActSetTimer:
			r.timers[[2]int{a.Inst, int(a.Timer.Kind)}] = a
		case ActCancelTimer:
			delete(r.timers, [2]int{a.Inst, int(a.Timer.Kind)})
		case ActAddVIPs:
			r.vips[a.Inst] = true
		case ActRemoveVIPs:
			r.vips[a.Inst] = false
		}
	}
	return acts
}

// advance moves the clock by d, firing due timers in order.
func (r *rig) advance(d time.Duration) {
	end := r.now.Add(d)
	for {
		var best Action
		found := false
		for _, a := range r.timers {
			if !a.At.After(end) && (!found || a.At.Before(best.At) ||
				(a.At.Equal(best.At) && (a.Inst < best.Inst || (a.Inst == best.Inst && a.Timer.Kind < best.Timer.Kind)))) {
				best, found = a, true
			}
		}
		if !found {
			r.now = end
			return
		}
		if best.At.After(r.now) {
			r.now = best.At
		}
		delete(r.timers, [2]int{best.Inst, int(best.Timer.Kind)})
		r.apply(r.e.Fire(r.now, best.Timer))
	}
}

func (r *rig) start() []Action { return r.apply(r.e.Start(r.now)) }

func (r *rig) recv(inst int, src string, prio int) []Action {
	return r.apply(r.e.Receive(r.now, inst, Advert{Src: netip.MustParseAddr(src), Priority: uint8(prio),
		Interval: r.e.inst[inst].cfg.AdvertInt}))
}

func (r *rig) recvIv(inst int, src string, prio int, iv time.Duration) []Action {
	return r.apply(r.e.Receive(r.now, inst, Advert{Src: netip.MustParseAddr(src), Priority: uint8(prio), Interval: iv}))
}

// timerAt reports when inst's timer of kind fires, if armed.
func (r *rig) timerAt(inst int, k TimerKind) (time.Duration, bool) {
	a, ok := r.timers[[2]int{inst, int(k)}]
	if !ok {
		return 0, false
	}
	return a.At.Sub(t0), true
}

func (r *rig) mark() int { return len(r.acts) }

func (r *rig) since(m int) []Action {
	out := make([]Action, 0, len(r.acts)-m)
	for _, s := range r.acts[m:] {
		out = append(out, s.a)
	}
	return out
}

// transcript renders actions without timers, for order assertions.
func transcript(acts []Action) string {
	var b strings.Builder
	for _, a := range acts {
		if a.Kind == ActSetTimer || a.Kind == ActCancelTimer {
			continue
		}
		b.WriteString(a.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func hasLog(acts []Action, text string) bool {
	for _, a := range acts {
		if a.Kind == ActLog && a.Text == text {
			return true
		}
	}
	return false
}

func adverts(acts []Action) []int {
	var out []int
	for _, a := range acts {
		if a.Kind == ActSendAdvert {
			out = append(out, a.Priority)
		}
	}
	return out
}
