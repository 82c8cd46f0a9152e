package lvs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"halo/lvs/check"
)

// Hooks are the Manager's collaborators, injected so tests can see every
// script run, alert and line logged.
type Hooks struct {
	Logf func(format string, args ...any)
	// RunScript runs a notify/quorum script without waiting for it.
	RunScript func(s *Script)
	// Alert sends an SMTP alert (nil: none configured).
	Alert func(subject, body string)
	Clock check.Clock
	Rand  func() float64
	// WatchAddrs reports the host's addresses (ha_suspend): each one
	// present, before it returns, then each one added or removed until ctx
	// ends; the same address on two interfaces is reported twice. nil
	// follows the kernel's through netlink (WatchAddrs).
	WatchAddrs func(ctx context.Context, ev func(a netip.Addr, added bool)) error
	// LogDetail logs what keepalived logs only with -D (--log-detail).
	LogDetail bool
	// NewProber builds a checker's client (nil: check.NewProber).
	NewProber func(*check.Config) (check.Prober, error)
}

// Manager runs the virtual servers of a Config on a DataPath.
type Manager struct {
	cfg *Config
	dp  DataPath
	h   Hooks
	mu  sync.Mutex
	vss []*vsState
	// addrs counts the host's addresses (an address on two interfaces
	// twice) while a virtual server uses ha_suspend; watching says the
	// watcher runs.
	addrs    map[netip.Addr]int
	watching bool
	fifo     *os.File
	wg       sync.WaitGroup
	ctx      context.Context // Start's: every checker's context derives from it
	// genFIFO is the generic notify_fifo, written beside lvs_notify_fifo;
	// the paths say what is open (a reload reopens what changed).
	genFIFO           *os.File
	fifoPath, genPath string
}

type vsState struct {
	cfg      *VirtualServer
	services []*Service
	quorumUp bool
	alive    bool // services added
	rss      []*rsState
	sorry    *rsState
}

type rsState struct {
	cfg       *RealServer
	alive     bool // in the pool (ISALIVE)
	set       bool // present in the data path
	numFailed int
	effWeight int64
	checkers  []*chkState
	sorry     bool
}

type chkState struct {
	cfg    *check.Config
	st     *check.State
	isUp   bool
	hasRun bool
	// weight is the last dynamic weight the checker reported (misc_dynamic:
	// the server's weight; FILE_CHECK: an offset), hasWeight that it did.
	weight    int
	hasWeight bool
	// stop ends the checker's goroutine (a reload dropped or changed it);
	// stopped makes a report that raced with it count for nothing.
	stop    context.CancelFunc
	stopped bool
	// enabled is false while ha_suspend holds the checker (keepalived's
	// checker->enabled): no virtual address of its server is configured.
	enabled atomic.Bool
}

// IPVS weights are 0..65535 (real_weight in ipwrapper.h).
func realWeight(w int64) int {
	if w < 0 {
		return 0
	}
	if w > 65535 {
		return 65535
	}
	return int(w)
}

// weight is the real server's effective weight: misc_dynamic's last
// weight, else the configured one, plus FILE_CHECK's offsets.
func (rs *rsState) weight() int64 {
	w := int64(rs.cfg.Weight)
	for _, c := range rs.checkers {
		if c.hasWeight && c.cfg.Kind != "FILE_CHECK" {
			w = int64(c.weight)
		}
	}
	for _, c := range rs.checkers {
		if c.hasWeight && c.cfg.Kind == "FILE_CHECK" {
			w += int64(c.weight)
		}
	}
	return w
}

// NewManager prepares the state of every virtual server (nothing runs
// until Start).
func NewManager(cfg *Config, dp DataPath, h Hooks) *Manager {
	if h.Logf == nil {
		h.Logf = func(string, ...any) {}
	}
	if h.Clock == nil {
		h.Clock = check.RealClock{}
	}
	if h.Rand == nil {
		h.Rand = rand.Float64
	}
	if h.NewProber == nil {
		h.NewProber = check.NewProber
	}
	if h.WatchAddrs == nil {
		h.WatchAddrs = WatchAddrs
	}
	m := &Manager{cfg: cfg, dp: dp, h: h}
	for _, vc := range cfg.VirtualServers {
		m.vss = append(m.vss, m.newVS(vc))
	}
	return m
}

// newVS is a virtual server's state before anything is installed: its
// real servers up unless an alpha checker holds them down.
func (m *Manager) newVS(vc *VirtualServer) *vsState {
	vs := &vsState{cfg: vc, services: m.servicesOf(vc)}
	for _, rc := range vc.RealServers {
		vs.rss = append(vs.rss, newRS(vc, rc))
	}
	if vc.Sorry != nil {
		vs.sorry = &rsState{cfg: vc.Sorry, effWeight: int64(vc.Sorry.Weight), sorry: true}
	}
	// set_quorum_states: up when the initially alive weight meets it
	sum := 0
	for _, rs := range vs.rss {
		if rs.numFailed == 0 {
			sum += realWeight(rs.effWeight)
		}
	}
	vs.quorumUp = sum >= vc.Quorum+vc.Hysteresis
	return vs
}

func newRS(vc *VirtualServer, rc *RealServer) *rsState {
	rs := &rsState{cfg: rc, effWeight: int64(rc.Weight)}
	for _, cc := range rc.Checkers {
		c := newChecker(vc, rc, cc, !cc.Alpha)
		if !c.isUp {
			rs.numFailed++
		}
		rs.checkers = append(rs.checkers, c)
	}
	return rs
}

func newChecker(vc *VirtualServer, rc *RealServer, cc *check.Config, up bool) *chkState {
	name := Trio(cc.Dst, vc.Proto)
	c := &chkState{cfg: cc, st: check.NewState(cc, name, rc.Addr.Addr().Unmap().String()), isUp: up}
	c.st.IsUp = up
	c.st.VS = vc.Name()
	return c
}

// servicesOf expands a virtual server into its IPVS services (one per
// address of a group's ranges, one per fwmark).
func (m *Manager) servicesOf(vc *VirtualServer) []*Service {
	base := Service{Proto: vc.Proto, Family: vc.Family, Sched: vc.Sched, Flags: vc.Flags, Netmask: vc.PersistenceMask, PE: vc.PersistenceEngine, Method: vc.Method}
	if vc.PersistenceTimeout > 0 {
		base.Timeout = uint32(vc.PersistenceTimeout.Seconds())
		base.Flags |= FlagPersistent
	}
	var out []*Service
	add := func(mod func(s *Service)) {
		s := base
		mod(&s)
		out = append(out, &s)
	}
	switch {
	case vc.Group != "":
		g := m.cfg.Groups[vc.Group]
		if g == nil {
			return nil
		}
		for _, e := range g.Entries {
			if e.FWMark != 0 {
				add(func(s *Service) {
					s.FWMark, s.Proto = e.FWMark, ProtoNone
					if e.Family != 0 {
						s.Family = e.Family
					}
				})
				continue
			}
			for a := e.First; a.IsValid(); a = a.Next() {
				add(func(s *Service) { s.Addr = netip.AddrPortFrom(a, e.Port) })
				if a == e.Last {
					break
				}
			}
		}
	case vc.FWMark != 0:
		add(func(s *Service) { s.FWMark, s.Proto = vc.FWMark, ProtoNone })
	default:
		add(func(s *Service) { s.Addr = vc.Addr })
	}
	return out
}

func (m *Manager) logf(format string, args ...any) { m.h.Logf(format, args...) }

// Start installs the services (lvs_flush first when asked), adds the real
// servers that start alive, and starts every checker.
func (m *Manager) Start(ctx context.Context) {
	m.watchAddrs(ctx, m.cfg)
	m.mu.Lock()
	m.ctx = ctx
	m.openFIFO()
	if m.cfg.Global.Flush {
		if err := m.dp.Flush(); err != nil {
			m.logf("%s: flush error: %v", m.dp.Name(), err)
		}
	}
	for _, vs := range m.vss {
		m.initVS(vs)
	}
	m.mu.Unlock()
	for _, vs := range m.vss {
		for _, rs := range vs.rss {
			for _, c := range rs.checkers {
				m.startChecker(ctx, vs, rs, c)
			}
		}
	}
}

// initVS is init_service_vs / init_service_rs.
func (m *Manager) initVS(vs *vsState) {
	for _, s := range vs.services {
		if err := m.dp.AddService(s); err != nil {
			m.logf("%s: %s: %v", m.dp.Name(), s, err)
		}
	}
	vs.alive = true
	for _, rs := range vs.rss {
		if (rs.numFailed == 0 && !rs.alive) || (rs.cfg.Inhibit && !rs.set) {
			m.ipvsAdd(vs, rs)
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
		// the inhibited sorry server waits in the pool at weight 0
		m.destCmd(vs, s, "add", 0)
		s.set = true
	}
}

func (m *Manager) startChecker(ctx context.Context, vs *vsState, rs *rsState, c *chkState) {
	// register_checkers_thread: a checker of an ha_suspend virtual server
	// whose address is absent starts deactivated
	m.mu.Lock()
	ctx, c.stop = context.WithCancel(ctx)
	on := !haSuspends(vs.cfg) || m.haCount(vs.cfg) > 0
	c.enabled.Store(on)
	name, vsName := Trio(rs.cfg.Addr, vs.cfg.Proto), vs.cfg.Name()
	m.mu.Unlock()
	if on {
		m.logf("Activating healthchecker for service %s for VS %s", name, vsName)
	} else {
		m.logf("Deactivating healthchecker for service %s for VS %s", name, vsName)
	}
	p, err := m.h.NewProber(c.cfg)
	if err != nil {
		m.logf("%v", err)
		return
	}
	ck := &check.Checker{
		Cfg: c.cfg, State: c.st, Probe: p, Clock: m.h.Clock, Rand: m.h.Rand,
		OnReport: func(r check.Report) { m.report(vs, rs, c, r) },
		Logf:     m.h.Logf,
	}
	ck.Enabled = c.enabled.Load
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ck.Run(ctx)
	}()
}

// report is update_svr_checker_state, plus the dynamic weights.
func (m *Manager) report(vs *vsState, rs *rsState, c *chkState, r check.Report) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.stopped {
		return // a reload replaced this checker while it probed
	}
	if r.HasWeight || r.ResetWeight {
		c.weight, c.hasWeight = r.Weight, r.HasWeight
		m.updateWeight(vs, rs, rs.weight(), true)
	}
	if !r.Up && !r.Down {
		if r.First && !c.hasRun {
			if c.cfg.Alpha || !c.isUp {
				m.rsNotifies(vs, rs, false)
			}
		}
		c.hasRun = true
		return
	}
	alive := r.Up
	c.hasRun = true
	wasAlive := rs.alive
	defer func() { m.alertRS(vs, rs, r.Alert, wasAlive != rs.alive) }()
	if alive {
		if rs.numFailed <= 1 && !m.performState(vs, rs, true) {
			return
		}
	} else if rs.numFailed == 0 && !m.performState(vs, rs, false) {
		return
	}
	if c.isUp != alive {
		c.isUp = alive
		if !alive {
			rs.numFailed++
		} else if rs.numFailed > 0 {
			rs.numFailed--
		}
	}
}

// performState is perform_svr_state: add a server that came up, remove
// (or, with inhibit_on_failure, zero) one that went down, unless the
// sorry server holds the pool.
func (m *Manager) performState(vs *vsState, rs *rsState, alive bool) bool {
	if rs.alive == alive {
		return true
	}
	verb, prep := "Remov", "from"
	switch {
	case alive && rs.cfg.Inhibit:
		verb, prep = "Enabl", "of"
	case alive:
		verb, prep = "Add", "to"
	case rs.cfg.Inhibit:
		verb, prep = "Disabl", "of"
	}
	m.logf("%sing service %s %s VS %s", verb, Trio(rs.cfg.Addr, vs.cfg.Proto), prep, vs.cfg.Name())
	if vs.quorumUp || vs.sorry == nil || !vs.sorry.alive {
		var err error
		if alive {
			err = m.ipvsAdd(vs, rs)
		} else {
			err = m.ipvsDel(vs, rs)
		}
		if err != nil {
			return false
		}
	}
	rs.alive = alive
	m.rsNotifies(vs, rs, false)
	m.updateQuorum(vs, false)
	return true
}

// ipvsAdd is LVS_CMD_ADD_DEST: an inhibited server already in the pool
// gets its weight back instead.
func (m *Manager) ipvsAdd(vs *vsState, rs *rsState) error {
	w := realWeight(rs.effWeight)
	if rs.numFailed > 0 && !rs.alive && rs.cfg.Inhibit && !rs.set {
		w = 0 // keepalived adds an inhibited failed server at weight 0
	}
	op := "add"
	if rs.cfg.Inhibit && rs.set {
		op = "edit"
	}
	err := m.destCmd(vs, rs, op, w)
	if err == nil {
		rs.set = true
	}
	return err
}

// ipvsDel is LVS_CMD_DEL_DEST: inhibit_on_failure keeps the server at
// weight 0.
func (m *Manager) ipvsDel(vs *vsState, rs *rsState) error {
	if rs.cfg.Inhibit && rs.set {
		return m.destCmd(vs, rs, "edit", 0)
	}
	err := m.destCmd(vs, rs, "del", 0)
	if err == nil {
		rs.set = false
	}
	return err
}

func (m *Manager) destCmd(vs *vsState, rs *rsState, op string, w int) error {
	d := Dest{Addr: rs.cfg.Addr, Weight: w, Method: rs.cfg.Method, UThreshold: rs.cfg.UThreshold, LThreshold: rs.cfg.LThreshold}
	var first error
	for _, s := range vs.services {
		var err error
		switch op {
		case "add":
			err = m.dp.AddDest(s, d)
		case "edit":
			err = m.dp.EditDest(s, d)
		case "del":
			err = m.dp.DelDest(s, d)
		}
		if err != nil {
			m.logf("%s: %s dest %s in %s: %v", m.dp.Name(), op, Trio(d.Addr, vs.cfg.Proto), s, err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// weightSum is weigh_live_realservers.
func (vs *vsState) weightSum() int {
	n := 0
	for _, rs := range vs.rss {
		if rs.alive {
			n += realWeight(rs.effWeight)
		}
	}
	return n
}

// updateQuorum is update_quorum_state.
func (m *Manager) updateQuorum(vs *vsState, init bool) {
	sum := vs.weightSum()
	q, h := vs.cfg.Quorum, vs.cfg.Hysteresis
	threshold := q + h
	if vs.quorumUp {
		threshold = q - h
	}
	if !vs.quorumUp && sum >= threshold {
		vs.quorumUp = true
		m.logf("Gained quorum %d+%d=%d <= %d for VS %s", q, h, threshold, sum, vs.cfg.Name())
		if s := vs.sorry; s != nil && s.alive {
			verb := "Removing"
			if s.cfg.Inhibit {
				verb = "Disabling"
			}
			m.logf("%s sorry server %s from VS %s", verb, Trio(s.cfg.Addr, vs.cfg.Proto), vs.cfg.Name())
			_ = m.ipvsDel(vs, s)
			s.alive = false
			m.quorumPool(vs, true)
		}
		m.vsNotifies(vs, init, threshold, sum, false)
		return
	}
	if (vs.quorumUp && (sum == 0 || sum < threshold)) || (init && !vs.quorumUp && vs.sorry != nil && !vs.sorry.alive) {
		vs.quorumUp = false
		what := "Lost quorum"
		if init {
			what = "Starting with quorum down"
		}
		m.logf("%s %d-%d=%d > %d for VS %s", what, q, h, threshold, sum, vs.cfg.Name())
		if s := vs.sorry; s != nil && !s.alive {
			verb := "Adding"
			if s.cfg.Inhibit {
				verb = "Enabling"
			}
			m.logf("%s sorry server %s to VS %s", verb, Trio(s.cfg.Addr, vs.cfg.Proto), vs.cfg.Name())
			m.quorumPool(vs, false)
			_ = m.ipvsAdd(vs, s)
			s.alive = true
		}
		m.vsNotifies(vs, init, threshold, sum, false)
	}
}

// quorumPool is perform_quorum_state: put the live servers back, or take
// them out for the sorry server.
func (m *Manager) quorumPool(vs *vsState, add bool) {
	what := "Removing alive servers from"
	if add {
		what = "Adding alive servers to"
	}
	m.logf("%s the pool for VS %s", what, vs.cfg.Name())
	for _, rs := range vs.rss {
		if !rs.alive {
			continue
		}
		if add {
			_ = m.ipvsAdd(vs, rs)
		} else {
			_ = m.ipvsDel(vs, rs)
		}
	}
}

// updateWeight is update_svr_wgt.
func (m *Manager) updateWeight(vs *vsState, rs *rsState, w int64, quorum bool) {
	nw, ow := realWeight(w), realWeight(rs.effWeight)
	rs.effWeight = w
	if nw == ow {
		return
	}
	in := ""
	if !rs.alive {
		in = "in"
	}
	m.logf("Changing weight from %d to %d for %sactive service %s of VS %s", ow, nw, in, Trio(rs.cfg.Addr, vs.cfg.Proto), vs.cfg.Name())
	if rs.set && rs.alive && (vs.quorumUp || vs.sorry == nil || !vs.sorry.alive) {
		_ = m.destCmd(vs, rs, "edit", nw)
	}
	if quorum {
		m.updateQuorum(vs, false)
	}
}

// rsNotifies is do_rs_notifies: notify_up/notify_down and the FIFO line.
func (m *Manager) rsNotifies(vs *vsState, rs *rsState, stopping bool) {
	s := rs.cfg.NotifyDown
	state := "DOWN"
	if rs.alive {
		s, state = rs.cfg.NotifyUp, "UP"
	}
	if s != nil && m.h.RunScript != nil {
		m.h.RunScript(s)
	}
	m.fifoLine(fmt.Sprintf("RS %s %s %s\n", Trio(rs.cfg.Addr, vs.cfg.Proto), vs.cfg.Name(), state))
}

// vsNotifies is do_vs_notifies: quorum_up/quorum_down, FIFO, SMTP.
func (m *Manager) vsNotifies(vs *vsState, init bool, threshold, sum int, stopping bool) {
	if stopping && !vs.cfg.Omega {
		return
	}
	s, state := vs.cfg.QuorumDown, "DOWN"
	if vs.quorumUp {
		s, state = vs.cfg.QuorumUp, "UP"
	}
	if s != nil && m.h.RunScript != nil {
		m.h.RunScript(s)
	}
	m.fifoLine(fmt.Sprintf("VS %s %s\n", vs.cfg.Name(), state))
	if vs.cfg.SMTPAlert {
		var msg string
		switch {
		case stopping:
			msg = "=> Shutting down <="
		default:
			what := "Lost quorum"
			switch {
			case vs.quorumUp && init:
				what = "Starting with quorum up"
			case vs.quorumUp:
				what = "Gained quorum"
			case init:
				what = "Starting with quorum down"
			}
			msg = fmt.Sprintf("=> %s %d+%d=%d <= %d <=", what, vs.cfg.Quorum, vs.cfg.Hysteresis, threshold, sum)
		}
		m.alert(fmt.Sprintf("[%s] Virtualserver %s - %s", m.cfg.Global.RouterID, vs.cfg.Name(), state), msg)
	}
}

// alertRS is a checker's smtp_alert: sent when the checker changed state
// and either the real server did too or no_checker_emails is off; the
// subject says what the real server is now.
func (m *Manager) alertRS(vs *vsState, rs *rsState, body string, rsChanged bool) {
	if body == "" || !rs.cfg.SMTPAlert || (!rsChanged && m.cfg.Global.NoCheckerMails) {
		return
	}
	state := "DOWN"
	if rs.alive {
		state = "UP"
	}
	m.alert(fmt.Sprintf("[%s] Realserver %s of virtual server %s - %s", m.cfg.Global.RouterID,
		Trio(rs.cfg.Addr, vs.cfg.Proto), vs.cfg.Name(), state), body)
}

func (m *Manager) alert(subject, body string) {
	if m.h.Alert != nil {
		m.h.Alert(subject, body)
	}
}

// openFIFO opens lvs_notify_fifo (made when missing) and starts its
// lvs_notify_fifo_script with the FIFO's name as last argument; the
// generic notify_fifo gets the same lines (its script is the VRRP side's
// unless only the checkers run).
func (m *Manager) openFIFO() {
	g := &m.cfg.Global
	open := func(path string, script *Script) *os.File {
		if path == "" {
			return nil
		}
		f, err := OpenFIFO(path)
		if err != nil {
			m.logf("Unable to open notify FIFO: %v", err)
			return nil
		}
		if script != nil && m.h.RunScript != nil {
			s := *script
			s.Argv = append(append([]string(nil), s.Argv...), path)
			m.h.RunScript(&s)
		}
		return f
	}
	m.fifo = open(g.NotifyFIFO, g.NotifyFIFOScript)
	m.fifoPath = g.NotifyFIFO
	if g.GenericFIFO != g.NotifyFIFO {
		m.genFIFO = open(g.GenericFIFO, g.GenericFIFOScript)
		m.genPath = g.GenericFIFO
	}
}

func (m *Manager) closeFIFO() {
	for _, f := range []*os.File{m.fifo, m.genFIFO} {
		if f != nil {
			f.Close()
		}
	}
	m.fifo, m.genFIFO, m.fifoPath, m.genPath = nil, nil, "", ""
}

// OpenFIFO creates path as a FIFO when absent and opens it read-write so
// that writing never blocks or fails for want of a reader, as keepalived
// does.
func OpenFIFO(path string) (*os.File, error) {
	st, err := os.Stat(path)
	switch {
	case os.IsNotExist(err):
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	case err != nil:
		return nil, err
	case st.Mode()&os.ModeNamedPipe == 0:
		return nil, fmt.Errorf("%s exists and is not a FIFO", path)
	}
	return os.OpenFile(path, os.O_RDWR|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
}

func (m *Manager) fifoLine(s string) {
	for _, f := range []*os.File{m.fifo, m.genFIFO} {
		if f != nil {
			_, _ = f.WriteString(s)
		}
	}
}

// Stop waits for the checkers (whose context the caller cancelled) and
// removes what halo installed (clear_services): every real server, then
// every service, or one flush with lvs_flush_on_stop. With omega the
// down notifiers run.
func (m *Manager) Stop() {
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cfg.Global.FlushOnStop == FlushOnStopFull {
		_ = m.dp.Flush()
		for _, vs := range m.vss {
			vs.quorumUp = false
			m.vsNotifies(vs, false, vs.cfg.Quorum-vs.cfg.Hysteresis, vs.weightSum(), true)
		}
	} else {
		for _, vs := range m.vss {
			m.clearVS(vs, true)
		}
	}
	m.closeFIFO()
}

// clearVS is clear_service_vs: at a stop (stopping) or because a reload
// dropped the virtual server.
func (m *Manager) clearVS(vs *vsState, stopping bool) {
	if m.cfg.Global.FlushOnStop == FlushOnStopNone || !stopping {
		if s := vs.sorry; s != nil && s.set {
			_ = m.destCmd(vs, s, "del", 0)
			s.set, s.alive = false, false
		}
		for _, rs := range vs.rss {
			m.clearRS(vs, rs, stopping)
		}
	}
	sum := vs.weightSum()
	if stopping {
		vs.quorumUp = false
		m.vsNotifies(vs, false, vs.cfg.Quorum-vs.cfg.Hysteresis, sum, true)
	} else {
		m.updateVSNotifies(vs)
	}
	for _, s := range vs.services {
		if err := m.dp.DelService(s); err != nil {
			m.logf("%s: %s: %v", m.dp.Name(), s, err)
		}
	}
	vs.alive = false
}

// updateVSNotifies is update_vs_notifies outside a stop: the quorum goes
// down when the servers taken away leave too little weight.
func (m *Manager) updateVSNotifies(vs *vsState) {
	threshold := vs.cfg.Quorum - vs.cfg.Hysteresis
	sum := vs.weightSum()
	if vs.quorumUp && (sum == 0 || sum < threshold) {
		vs.quorumUp = false
		m.vsNotifies(vs, false, threshold, sum, false)
	}
}

// clearRS is clear_service_rs: the real server leaves the data path (even
// an inhibited one); one that was alive runs its down notifiers (at a stop
// only with omega) and, with smtp_alert, mails.
func (m *Manager) clearRS(vs *vsState, rs *rsState, stopping bool) {
	if rs.set || stopping {
		inh, what := "", "Removing"
		if rs.cfg.Inhibit && !rs.alive {
			inh = "(inhibited) "
		}
		if stopping {
			what = "Shutting down"
		}
		m.logf("%s %sservice %s from VS %s", what, inh, Trio(rs.cfg.Addr, vs.cfg.Proto), vs.cfg.Name())
	}
	if !rs.set {
		return
	}
	_ = m.destCmd(vs, rs, "del", 0)
	rs.set = false
	if !rs.alive {
		return
	}
	rs.alive = false
	if stopping && !vs.cfg.Omega {
		return
	}
	m.rsNotifies(vs, rs, stopping)
	if rs.cfg.SMTPAlert {
		body := "=> Removing <="
		if stopping {
			body = "=> Shutting down <="
		}
		m.alert(fmt.Sprintf("[%s] Realserver %s of virtual server %s - DOWN", m.cfg.Global.RouterID,
			Trio(rs.cfg.Addr, vs.cfg.Proto), vs.cfg.Name()), body)
	}
}

// hostHasAddr reports whether a is configured on an interface here.
// Snapshot is one real server's state, for tests and dumps.
type Snapshot struct {
	VS, RS   string
	Alive    bool
	Set      bool
	Weight   int
	QuorumUp bool
}

// Snapshot lists every real server (sorry servers last in their VS).
func (m *Manager) Snapshot() []Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Snapshot
	for _, vs := range m.vss {
		list := vs.rss
		if vs.sorry != nil {
			list = append(append([]*rsState(nil), list...), vs.sorry)
		}
		for _, rs := range list {
			out = append(out, Snapshot{VS: vs.cfg.Name(), RS: Trio(rs.cfg.Addr, vs.cfg.Proto), Alive: rs.alive, Set: rs.set,
				Weight: realWeight(rs.effWeight), QuorumUp: vs.quorumUp})
		}
	}
	return out
}
