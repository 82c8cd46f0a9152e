package balance

import (
	"sync/atomic"
	"time"
)

// State is a server's operational state (HAProxy's srv_state).
type State int

const (
	StateStopped  State = iota // DOWN: fails its checks, gets no traffic
	StateStarting              // UP, weight ramping up during `slowstart`
	StateRunning               // UP
	StateStopping              // NOLB: up but takes no new load-balanced traffic
)

// Admin holds a server's administrative flags (HAProxy's srv_admin).
type Admin uint8

const (
	AdminForcedMaint    Admin = 1 << iota // `disable server` / `set server … state maint`
	AdminCfgMaint                         // `disabled` on the server line
	AdminForcedDrain                      // `set server … state drain`
	AdminInheritedMaint                   // maintenance of the tracked server (IMAINT)
	AdminInheritedDrain                   // drain of the tracked server (IDRAIN)
	AdminResolveMaint                     // no address from DNS (RMAINT)
)

// AdminMaint is any maintenance flag, AdminDrain any drain flag.
const (
	AdminMaint = AdminForcedMaint | AdminCfgMaint | AdminInheritedMaint | AdminResolveMaint
	AdminDrain = AdminForcedDrain | AdminInheritedDrain
)

// ServerConfig is what the balancer needs from a `server` line.
type ServerConfig struct {
	Name     string
	ID       int // puid: places consistent-hash nodes; 1-based position by default
	Weight   int // 0..256
	Backup   bool
	Disabled bool // starts in maintenance
	// Unresolved starts it in maintenance by resolution (init-addr none:
	// no address until DNS gives one).
	Unresolved bool
	Maxconn    int // 0: unlimited, no queueing
	Minconn    int // dynamic maxconn floor (with the backend's fullconn)
	Maxqueue   int // 0: unlimited queue
	Slowstart  time.Duration
}

// Server is one server's runtime load-balancing state. Its fields are
// guarded by the owning Backend's lock; read them through Stats.
type Server struct {
	Name   string
	ID     int
	Backup bool

	b   *Backend
	idx int // declaration order

	uweight    int // user weight
	maxconn    int
	minconn    int
	maxqueue   int
	slowstart  time.Duration
	curState   State
	nextState  State
	curAdmin   Admin
	nextAdmin  Admin
	curEweight int
	nextEwght  int
	// now is curState and curAdmin, published at each commit so that
	// Current reads them without the backend lock.
	now atomic.Uint32

	served int       // connections currently assigned
	queue  []*waiter // streams waiting for a slot on this server
	qIdx   uint64    // streams this server's queue served (see Backend.qIdx)

	// fwrr
	lbTree  *keyTree
	inTree  bool
	lbKey   uint32
	npos    int
	lpos    int
	rweight int
	// map
	wscore int
	// chash
	nodesNow int
	nodeKeys []uint32

	lastChange time.Time
	downSince  time.Time // zero while up
	shutdown   chan struct{}

	cnt Counters
	chk CheckInfo
}

// Counters are a server's cumulative counters (stats columns).
type Counters struct {
	CumSess      uint64 // stot
	CumLB        uint64 // lbtot: times picked by the algorithm
	MaxServed    int    // smax
	MaxQueue     int    // qmax
	FailedConns  uint64 // econ
	Retries      uint64 // wretr
	Redispatches uint64 // wredis
	DownTrans    uint64 // chkdown: UP→DOWN transitions
	FailedChecks uint64 // chkfail
	DownTime     time.Duration
}

// CheckInfo is the last health-check outcome, as the stats page shows it.
type CheckInfo struct {
	Enabled  bool
	Status   string // HAProxy's short code: "L4OK", "L4CON", "L7STS", …
	Code     int    // HTTP status for L7 checks
	Desc     string // info text
	Duration time.Duration
	Health   int // current health counter, 0..Rise+Fall-1
	Rise     int
	Fall     int
}

func newServer(b *Backend, idx int, c ServerConfig) *Server {
	s := &Server{
		Name: c.Name, ID: c.ID, Backup: c.Backup,
		b: b, idx: idx,
		uweight: c.Weight, maxconn: c.Maxconn, minconn: c.Minconn, maxqueue: c.Maxqueue,
		slowstart: c.Slowstart,
		curState:  StateRunning, nextState: StateRunning,
		shutdown: make(chan struct{}),
	}
	if s.ID == 0 {
		s.ID = idx + 1
	}
	if s.minconn == 0 || s.minconn > s.maxconn {
		s.minconn = s.maxconn
	}
	if c.Disabled {
		s.curAdmin, s.nextAdmin = AdminCfgMaint, AdminCfgMaint
	}
	if c.Unresolved {
		s.curAdmin |= AdminResolveMaint
		s.nextAdmin |= AdminResolveMaint
	}
	s.publish()
	return s
}

func (s *Server) publish() { s.now.Store(uint32(s.curState) | uint32(s.curAdmin)<<8) }

// Current returns the committed operational state and admin flags. It
// takes no lock: the engine asks on every persistent request.
func (s *Server) Current() (State, Admin) {
	v := s.now.Load()
	return State(v & 0xff), Admin(v >> 8)
}

// UserWeight returns the user weight (`weight`, or `set server … weight`).
func (s *Server) UserWeight() int {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.uweight
}

// Index is the server's position in its backend (declaration order).
func (s *Server) Index() int { return s.idx }

// Backend returns the server's backend.
func (s *Server) Backend() *Backend { return s.b }

func usable(st State, adm Admin, ew int) bool {
	if ew == 0 || adm&(AdminMaint|AdminDrain) != 0 {
		return false
	}
	return st == StateStarting || st == StateRunning
}

// curUsable is srv_currently_usable: in the load-balancing trees now.
func (s *Server) curUsable() bool { return usable(s.curState, s.curAdmin, s.curEweight) }

// willUsable is srv_willbe_usable: should be in the trees once committed.
func (s *Server) willUsable() bool { return usable(s.nextState, s.nextAdmin, s.nextEwght) }

func (s *Server) commit() {
	s.curState, s.curAdmin, s.curEweight = s.nextState, s.nextAdmin, s.nextEwght
	s.publish()
}

// dynMaxconn is srv_dynamic_maxconn: maxconn scaled by the backend's load
// when minconn/fullconn are set, and by the slowstart ramp.
func (s *Server) dynMaxconn(now time.Time) int {
	max := s.maxconn
	b := s.b
	if b.cfg.Fullconn > 0 && s.minconn < s.maxconn && b.beconn < b.cfg.Fullconn {
		m := b.beconn * s.maxconn / b.cfg.Fullconn
		if m < s.minconn {
			m = s.minconn
		}
		max = m
	}
	if s.curState == StateStarting && s.slowstart > 0 {
		el := now.Sub(s.lastChange)
		if el >= 0 && el < s.slowstart {
			ratio := int(100 * el / s.slowstart)
			max = max * ratio / 100
			if max < 1 {
				max = 1
			}
		}
	}
	return max
}

// hasRoom is the algorithms' saturation test: no maxconn, or an empty queue
// and a free slot.
func (s *Server) hasRoom(now time.Time) bool {
	return s.maxconn == 0 || (len(s.queue) == 0 && s.served < s.dynMaxconn(now))
}

// ServerStats is a consistent snapshot of one server for stats and logs.
type ServerStats struct {
	Name       string
	ID         int
	Backup     bool
	State      State
	Admin      Admin
	Status     string // "UP", "DOWN", "MAINT", "DRAIN", "NOLB", "UP 1/3", "DOWN 1/2", "no check"
	Weight     int    // current user-visible weight (uweight scaled by slowstart)
	UWeight    int
	Cur        int // current connections
	Max        int // max connections seen
	Limit      int // maxconn
	Queue      int
	QueueMax   int
	QueueLimit int
	LastChange time.Time
	Downtime   time.Duration
	Counters
	Check CheckInfo
}

// StatusString renders a server's status the way HAProxy's stats page does.
func statusString(s *Server) string {
	switch {
	case s.curAdmin&AdminMaint != 0:
		return "MAINT"
	case s.curAdmin&AdminDrain != 0:
		return "DRAIN"
	}
	c := s.chk
	switch s.curState {
	case StateStopped:
		if c.Enabled && c.Health > 0 {
			return "DOWN " + itoa(c.Health) + "/" + itoa(c.Rise)
		}
		return "DOWN"
	case StateStopping:
		return "NOLB"
	}
	if !c.Enabled {
		return "no check"
	}
	full := c.Rise + c.Fall - 1
	if c.Health < full && c.Health >= c.Rise {
		return "UP " + itoa(c.Health-c.Rise+1) + "/" + itoa(c.Fall)
	}
	return "UP"
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	neg := i < 0
	if neg {
		i = -i
	}
	var b [20]byte
	p := len(b)
	for i > 0 {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		p--
		b[p] = '-'
	}
	return string(b[p:])
}
