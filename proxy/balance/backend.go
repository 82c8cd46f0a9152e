package balance

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Algo is the `balance` algorithm.
type Algo int

const (
	RoundRobin Algo = iota
	StaticRR
	LeastConn
	First
	Source
	URI
	URLParam
	Hdr
	Random
	RDPCookie
)

var algoNames = [...]string{"roundrobin", "static-rr", "leastconn", "first", "source", "uri", "url_param", "hdr", "random", "rdp-cookie"}

func (a Algo) String() string {
	if int(a) < len(algoNames) {
		return algoNames[a]
	}
	return "unknown"
}

// hashed reports whether the algorithm hashes a request property.
func (a Algo) hashed() bool {
	return a == Source || a == URI || a == URLParam || a == Hdr || a == RDPCookie
}

// dynamic is BE_LB_PROP_DYN: weights may change at run time (and slowstart
// ramps them).
func (c *Config) dynamic() bool {
	switch c.Algo {
	case RoundRobin, LeastConn, Random:
		return true
	}
	return c.Algo.hashed() && c.Consistent
}

// Config is a backend's load-balancing configuration.
type Config struct {
	Name             string
	Algo             Algo
	Consistent       bool // hash-type consistent (else map-based)
	Avalanche        bool // hash-type … avalanche
	Func             HashFunc
	URIWhole         bool // balance uri whole
	URIPathOnly      bool // balance uri path-only
	URILen           int  // balance uri len N
	URIDepth         int  // balance uri depth N
	Param            string
	HdrUseDomainOnly bool // balance hdr(name) use_domain_only
	RandomDraws      int  // balance random(N), default 2
	AllBackups       bool // option allbackups
	Fullconn         int
	QueueTimeout     time.Duration // timeout queue (the caller applies HAProxy's fallback to timeout connect)
}

// Errors returned by Take; the engine answers 503 for each of them.
var (
	ErrNoServer     = errors.New("no server available")
	ErrQueueFull    = errors.New("server queue full")
	ErrQueueTimeout = errors.New("queue timeout")
)

// Backend is one backend's servers and load-balancing state.
type Backend struct {
	cfg Config
	now func() time.Time

	mu      sync.Mutex
	servers []*Server
	byName  map[string]*Server
	srvAct  int
	srvBck  int
	totWact int
	totWbck int
	totWt   int // tot_weight
	totUsed int
	fbck    *Server
	wdiv    int
	wmult   int
	lb      lbAlgo
	queue   []*waiter // backend queue: no server had room
	// qIdx counts the streams the backend queue served (queue.idx):
	// a stream's queue position is how many left the queue from its
	// arrival to its own departure, itself included.
	qIdx     uint64
	served   int // connections on this backend's servers
	beconn   int // served + queued
	seq      uint64
	cumLB    uint64
	lastDown time.Time // zero while some server is usable
	downTime time.Duration
	maxQueue int

	cumSess uint64
	downTrn uint64

	onQueue func(s *Server, n int)
}

// SetQueueHook registers fn, called with the backend lock held whenever a
// queue length changes: s is the server, or nil for the backend queue.
// fn must not call back into the Backend.
func (b *Backend) SetQueueHook(fn func(s *Server, n int)) { b.onQueue = fn }

func (b *Backend) queueChanged(s *Server) {
	if b.onQueue == nil {
		return
	}
	if s == nil {
		b.onQueue(nil, len(b.queue))
	} else {
		b.onQueue(s, len(s.queue))
	}
}

// lbAlgo is one lookup structure (HAProxy's lbprm callbacks).
type lbAlgo interface {
	init()
	up(s *Server)       // s becomes usable
	down(s *Server)     // s stops being usable
	reweight(s *Server) // s stays usable with another weight
	next(avoid *Server) *Server
	hash(h uint32, avoid *Server) *Server
	taken(s *Server) // s's served/queue count changed
}

// New builds a backend. Servers keep their order; IDs default to their
// 1-based position. It fails on a weight outside 0..256.
func New(cfg Config, servers []ServerConfig) (*Backend, error) {
	b := &Backend{cfg: cfg, now: time.Now, byName: map[string]*Server{}, wdiv: 1, wmult: 1}
	if b.cfg.RandomDraws <= 0 {
		b.cfg.RandomDraws = 2
	}
	for i, sc := range servers {
		if sc.Weight < 0 || sc.Weight > 256 {
			return nil, fmt.Errorf("server %s/%s: weight %d out of range 0..256", cfg.Name, sc.Name, sc.Weight)
		}
		s := newServer(b, i, sc)
		s.lastChange = b.now()
		b.servers = append(b.servers, s)
		b.byName[s.Name] = s
	}
	switch {
	case cfg.Algo == RoundRobin:
		b.lb = &fwrr{b: b}
	case cfg.Algo == LeastConn:
		b.lb = &fwlc{b: b}
	case cfg.Algo == First:
		b.lb = &fas{b: b}
	case cfg.Algo == Random || (cfg.Algo.hashed() && cfg.Consistent):
		b.lb = &chash{b: b}
	default: // static-rr, map-based hashing
		b.lb = &lbMap{b: b}
	}
	b.lb.init()
	return b, nil
}

// SetClock replaces time.Now (tests).
func (b *Backend) SetClock(now func() time.Time) { b.now = now }

// Name returns the backend's name.
func (b *Backend) Name() string { return b.cfg.Name }

// Config returns the backend's configuration.
func (b *Backend) Config() Config { return b.cfg }

// Servers returns the servers in declaration order.
// The slice must not be modified; `add server` and `del server` replace
// it, so it stays valid after they run.
func (b *Backend) Servers() []*Server {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.servers
}

// Server finds a server by name.
func (b *Backend) Server(name string) *Server {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byName[name]
}

// weightOf computes next_eweight from the user weight, the way
// server_recalc_eweight does (slowstart ramp included).
func (b *Backend) weightOf(s *Server, now time.Time) int {
	w := b.wdiv
	if s.nextState == StateStarting && s.slowstart > 0 {
		el := now.Sub(s.lastChange)
		if el < 0 || el >= s.slowstart {
			s.nextState = StateRunning
		} else if b.cfg.dynamic() {
			w = int((int64(b.wdiv)*int64(el) + int64(s.slowstart)) / int64(s.slowstart))
		}
	}
	return (s.uweight*w + b.wmult - 1) / b.wmult
}

// recount is recount_servers + update_backend_weight.
// initDynamicWeights is the start shared by the tree-based algorithms
// (roundrobin, leastconn, first, consistent hash): weights scaled by
// weightScale, every server's effective weight committed, totals counted.
func (b *Backend) initDynamicWeights() {
	b.wdiv = weightScale
	now := b.now()
	for _, s := range b.servers {
		s.nextEwght = b.weightOf(s, now)
		s.commit()
	}
	b.recount()
}

func (b *Backend) recount() {
	b.srvAct, b.srvBck, b.totWact, b.totWbck, b.fbck = 0, 0, 0, 0, nil
	for _, s := range b.servers {
		if !s.willUsable() {
			continue
		}
		if s.Backup {
			if b.srvBck == 0 && !b.cfg.AllBackups {
				b.fbck = s
			}
			b.srvBck++
			b.totWbck += s.nextEwght
		} else {
			b.srvAct++
			b.totWact += s.nextEwght
		}
	}
	switch {
	case b.srvAct > 0:
		b.totWt, b.totUsed = b.totWact, b.srvAct
	case b.fbck != nil:
		b.totWt, b.totUsed = b.fbck.nextEwght, 1
	default:
		b.totWt, b.totUsed = b.totWbck, b.srvBck
	}
}

// update applies a server's next state/weight to the trees and commits it.
func (b *Backend) update(s *Server) {
	was, will := s.curUsable(), s.willUsable()
	switch {
	case !was && will:
		b.lb.up(s)
	case was && !will:
		b.lb.down(s)
	case was && will && s.curEweight != s.nextEwght:
		b.lb.reweight(s)
	}
	b.recount()
	s.commit()
}

// Request carries what the hashing algorithms read from a stream.
type Request struct {
	Src     netip.Addr // client address (IPv4-mapped addresses are unmapped)
	URI     []byte     // request target as received (HTTP mode)
	Post    bool       // method is POST: url_param also looks in Body
	Body    []byte     // the part of the body already received
	Headers HeaderLookup
	RDP     []byte // rdp-cookie value, when the engine extracted it
}

// HeaderLookup finds a request header's first value (nil, false if absent).
type HeaderLookup interface {
	LookupHeader(name string) ([]byte, bool)
}

type waiter struct {
	ch   chan *Server // the server whose slot was reserved, or nil: pick again
	srv  *Server      // queued on this server; nil: on the backend queue
	seq  uint64
	done bool
	idx  uint64 // the queue's qIdx when the stream arrived
	pos  uint64 // its queue position once it left
}

// QueuePos is where a stream waited (the log's %sq and %bq): the
// positions it had in the server's and the backend's queues, 0 for a
// queue it did not wait in.
type QueuePos struct{ Srv, Be int64 }

var waiterPool = sync.Pool{New: func() any { return &waiter{ch: make(chan *Server, 1)} }}

// Take picks a server for req (avoiding prev when other servers can serve,
// as HAProxy does on redispatch) and reserves a connection slot on it. When
// every eligible server is at its maxconn the call waits in a queue until a
// slot frees, `timeout queue` expires (ErrQueueTimeout) or ctx ends.
func (b *Backend) Take(ctx context.Context, req *Request, prev *Server) (*Server, error) {
	return b.take(ctx, req, prev, nil, time.Time{}, nil)
}

// TakeUntil is Take with an explicit queue deadline (zero: the backend's
// QueueTimeout) and no context.
func (b *Backend) TakeUntil(req *Request, prev *Server, deadline time.Time) (*Server, error) {
	return b.take(context.Background(), req, prev, nil, deadline, nil)
}

// TakeUntilPos is TakeUntil recording where the stream queued in pos.
func (b *Backend) TakeUntilPos(req *Request, prev *Server, deadline time.Time, pos *QueuePos) (*Server, error) {
	return b.take(context.Background(), req, prev, nil, deadline, pos)
}

// TakeServer reserves a slot on a server chosen by persistence (a cookie, a
// stick table), queueing on that server if it is full. It does not count as
// a load-balancing decision.
func (b *Backend) TakeServer(ctx context.Context, s *Server) error {
	_, err := b.take(ctx, nil, nil, s, time.Time{}, nil)
	return err
}

// TakeServerUntil is TakeServer with an explicit queue deadline (zero: the
// backend's QueueTimeout). If s leaves load balancing while the stream
// waits, the stream is redispatched and the server it got is returned.
func (b *Backend) TakeServerUntil(s *Server, deadline time.Time) (*Server, error) {
	return b.take(context.Background(), nil, nil, s, deadline, nil)
}

// TakeServerUntilPos is TakeServerUntil recording where the stream
// queued in pos.
func (b *Backend) TakeServerUntilPos(s *Server, deadline time.Time, pos *QueuePos) (*Server, error) {
	return b.take(context.Background(), nil, nil, s, deadline, pos)
}

func (b *Backend) take(ctx context.Context, req *Request, prev, direct *Server, deadline time.Time, pos *QueuePos) (*Server, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		b.mu.Lock()
		now := b.now()
		var srv *Server
		if direct != nil {
			srv = direct
		} else {
			if b.totWt == 0 {
				b.mu.Unlock()
				return nil, ErrNoServer
			}
			// With an existing queue, the round-robin family knows every
			// server is full (assign_server).
			if len(b.queue) == 0 || !(b.cfg.Algo == RoundRobin || b.cfg.Algo == StaticRR || b.cfg.Algo == First) {
				srv = b.pick(req, prev, now)
			}
			if srv != nil && srv != prev {
				srv.cnt.CumLB++
				b.cumLB++
			}
		}
		var w *waiter
		switch {
		case srv == nil:
			w = b.enqueue(nil)
		case srv.maxconn > 0 && (len(srv.queue) > 0 || srv.served >= srv.dynMaxconn(now)):
			if srv.maxqueue > 0 && len(srv.queue) >= srv.maxqueue {
				b.mu.Unlock()
				return nil, ErrQueueFull
			}
			w = b.enqueue(srv)
		default:
			b.assign(srv)
			b.mu.Unlock()
			return srv, nil
		}
		b.mu.Unlock()

		if timer == nil {
			if deadline.IsZero() {
				to := b.cfg.QueueTimeout
				if to <= 0 {
					to = 5 * time.Second
				}
				deadline = now.Add(to)
			}
			timer = time.NewTimer(deadline.Sub(now))
		}
		done := ctx.Done()
		var got *Server
		var err error
		select {
		case got = <-w.ch:
		case <-timer.C:
			err = ErrQueueTimeout
		case <-done:
			err = ctx.Err()
		}
		if err != nil {
			b.mu.Lock()
			if w.done { // assigned while we gave up: take it anyway
				b.mu.Unlock()
				got = <-w.ch
				err = nil
			} else {
				b.dequeue(w)
				b.mu.Unlock()
				w.addPos(pos)
				waiterPool.Put(w)
				return nil, err
			}
		}
		w.addPos(pos)
		waiterPool.Put(w)
		if got != nil {
			return got, nil
		}
		// Our server went down while we waited: pick again (redistribution).
		direct = nil
	}
}

// addPos adds where w waited to pos (HAProxy adds them up when a
// stream queues again after a redispatch).
func (w *waiter) addPos(pos *QueuePos) {
	if pos == nil {
		return
	}
	if w.srv != nil {
		pos.Srv += int64(w.pos)
	} else {
		pos.Be += int64(w.pos)
	}
}

func (b *Backend) enqueue(s *Server) *waiter {
	w := waiterPool.Get().(*waiter)
	b.seq++
	w.srv, w.seq, w.done, w.pos = s, b.seq, false, 0
	w.idx = b.qIdx
	if s != nil {
		w.idx = s.qIdx
		s.queue = append(s.queue, w)
		if len(s.queue) > s.cnt.MaxQueue {
			s.cnt.MaxQueue = len(s.queue)
		}
		b.lb.taken(s)
	} else {
		b.queue = append(b.queue, w)
		if len(b.queue) > b.maxQueue {
			b.maxQueue = len(b.queue)
		}
	}
	b.beconn++
	b.queueChanged(s)
	return w
}

// dequeue removes an unserved waiter from its queue (pendconn_unlink:
// its position counts the streams served before it gave up).
func (b *Backend) dequeue(w *waiter) {
	if w.srv != nil {
		w.srv.queue = removeWaiter(w.srv.queue, w)
		b.lb.taken(w.srv)
		w.pos = w.srv.qIdx - w.idx
	} else {
		b.queue = removeWaiter(b.queue, w)
		w.pos = b.qIdx - w.idx
	}
	b.beconn--
	b.queueChanged(w.srv)
}

func removeWaiter(q []*waiter, w *waiter) []*waiter {
	for i, x := range q {
		if x == w {
			copy(q[i:], q[i+1:])
			q[len(q)-1] = nil
			return q[:len(q)-1]
		}
	}
	return q
}

func (b *Backend) assign(s *Server) {
	s.served++
	b.served++
	b.beconn++
	s.cnt.CumSess++
	b.cumSess++
	if s.served > s.cnt.MaxServed {
		s.cnt.MaxServed = s.served
	}
	b.lb.taken(s)
}

// Release gives back the slot Take reserved on s, and hands it to the
// oldest waiter of s's queue or the backend queue.
func (b *Backend) Release(s *Server) {
	if s == nil {
		return
	}
	b.mu.Lock()
	s.served--
	b.served--
	b.beconn--
	b.lb.taken(s)
	b.processQueue(s)
	b.mu.Unlock()
}

// processQueue is process_srv_queue: while s has free slots, serve the
// oldest of its own queue and (if it may take load-balanced traffic) the
// backend queue.
func (b *Backend) processQueue(s *Server) {
	now := b.now()
	pxOK := s.curUsable() || (b.srvAct == 0 && b.fbck == s)
	for s.maxconn == 0 || s.served < s.dynMaxconn(now) {
		var w *waiter
		switch {
		case len(s.queue) > 0 && (!pxOK || len(b.queue) == 0 || s.queue[0].seq < b.queue[0].seq):
			w = s.queue[0]
			s.queue = removeWaiter(s.queue, w)
			s.qIdx++
			w.pos = s.qIdx - w.idx
			b.queueChanged(s)
		case pxOK && len(b.queue) > 0:
			w = b.queue[0]
			b.queue = removeWaiter(b.queue, w)
			b.qIdx++
			w.pos = b.qIdx - w.idx
			b.queueChanged(nil)
			s.cnt.CumLB++
			b.cumLB++
		default:
			return
		}
		b.beconn--
		b.assign(s)
		w.done = true
		w.ch <- s
	}
}

// pick runs the algorithm (assign_server) with the lock held.
func (b *Backend) pick(req *Request, avoid *Server, now time.Time) *Server {
	c := &b.cfg
	if !c.Algo.hashed() {
		if c.Algo == Random {
			return b.lb.(*chash).random(avoid, now)
		}
		return b.lb.next(avoid)
	}
	var s *Server
	if req != nil {
		if h, ok := b.hashKey(req); ok {
			s = b.lb.hash(h, avoid)
		}
	}
	if s == nil { // no key: round robin over the map or tree
		s = b.lb.next(avoid)
	}
	return s
}

// hashKey computes the request's hash for the configured algorithm; false
// when the request has no key (the caller falls back to round robin).
func (b *Backend) hashKey(req *Request) (uint32, bool) {
	c := &b.cfg
	var h uint32
	if b.totUsed == 1 { // HAProxy does not hash with a single server left
		switch c.Algo {
		case URLParam:
			if _, ok := urlParamValue(req.URI, c.Param); !ok {
				if !req.Post {
					return 0, false
				}
				if _, ok := bodyParamValue(req.Body, c.Param); !ok {
					return 0, false
				}
			}
		case Hdr:
			if req.Headers == nil {
				return 0, false
			}
			if v, ok := req.Headers.LookupHeader(c.Param); !ok || len(firstValue(v)) == 0 {
				return 0, false
			}
		case RDPCookie:
			if len(req.RDP) == 0 {
				return 0, false
			}
		}
		return 0, true
	}
	switch c.Algo {
	case Source:
		if !req.Src.IsValid() {
			return 0, false
		}
		h = SourceHash(req.Src)
	case URI:
		if req.URI == nil {
			return 0, false
		}
		h = c.Func.sum(URIKey(req.URI, c.URIWhole, c.URIPathOnly, c.URILen, c.URIDepth))
	case URLParam:
		v, ok := urlParamValue(req.URI, c.Param)
		if !ok && req.Post {
			v, ok = bodyParamValue(req.Body, c.Param)
		}
		if !ok {
			return 0, false
		}
		h = c.Func.sum(v)
	case Hdr:
		if req.Headers == nil {
			return 0, false
		}
		v, ok := req.Headers.LookupHeader(c.Param)
		v = firstValue(v)
		if !ok || len(v) == 0 {
			return 0, false
		}
		if c.HdrUseDomainOnly {
			v = domainOnly(v)
		}
		h = c.Func.sum(v)
	case RDPCookie:
		if len(req.RDP) == 0 {
			return 0, false
		}
		h = c.Func.sum(req.RDP)
	}
	if c.Avalanche {
		h = FullHash(h)
	}
	return h, true
}
