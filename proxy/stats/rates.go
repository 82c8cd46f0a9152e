package stats

import (
	"sync"
	"sync/atomic"
	"time"

	"halo/proxy"
)

// freqCtr is HAProxy's per-second event counter (freq_ctr): the rate read
// at any time is the events of the current second plus the previous
// second's, weighted by what is left of the current one.
type freqCtr struct {
	mu   sync.Mutex
	sec  int64
	curr uint32
	prev uint32
	max  uint32
}

func (f *freqCtr) add(now time.Time) { f.addN(now, 1) }

// addN counts n events at once (bytes sent, for the bit rate).
func (f *freqCtr) addN(now time.Time, n uint32) {
	f.mu.Lock()
	s := now.Unix()
	switch {
	case s == f.sec:
	case s == f.sec+1:
		f.prev, f.curr, f.sec = f.curr, 0, s
	default:
		f.prev, f.curr, f.sec = 0, 0, s
	}
	f.curr += n
	if r := f.readLocked(now); r > f.max {
		f.max = r
	}
	f.mu.Unlock()
}

func (f *freqCtr) readLocked(now time.Time) uint32 {
	curr, prev := f.curr, f.prev
	switch now.Unix() - f.sec {
	case 0:
	case 1:
		prev, curr = curr, 0
	default:
		return 0
	}
	left := 1000 - uint64(now.Nanosecond()/1e6)
	return curr + uint32(uint64(prev)*left/1000)
}

// read returns the current rate and the highest seen.
func (f *freqCtr) read(now time.Time) (rate, max uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readLocked(now), f.max
}

// timeAvg is HAProxy's swrate over the last 1024 samples (arithmetic
// mean until that many were seen) plus the maximum, in milliseconds.
type timeAvg struct {
	n   int64
	sum int64
	max int64
}

const timeSamples = 1024

func (t *timeAvg) add(v int64) {
	if v < 0 {
		return
	}
	if t.n < timeSamples {
		t.n++
		t.sum += v
	} else {
		t.sum = t.sum - (t.sum+timeSamples-1)/timeSamples + v
	}
	if v > t.max {
		t.max = v
	}
}

func (t *timeAvg) avg() int64 {
	if t.n == 0 {
		return 0
	}
	return t.sum / t.n
}

// objStats are the rates and timers halo measures for one frontend,
// backend or server (the engine's Counters hold the totals).
type objStats struct {
	sess, req, conn freqCtr
	mu              sync.Mutex
	q, c, r, t      timeAvg
}

func (o *objStats) times(tx *proxy.Txn, http bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if tx.Tw < 0 || tx.Tc < 0 {
		return // never reached a server
	}
	o.q.add(tx.Tw.Milliseconds())
	o.c.add(tx.Tc.Milliseconds())
	if tx.Tr >= 0 {
		o.r.add(tx.Tr.Milliseconds())
	}
	total := tx.Tt
	if http && tx.Ta >= 0 {
		total = tx.Ta
	}
	if total >= 0 {
		o.t.add(total.Milliseconds())
	}
}

// measures indexes the objStats of a runtime's objects; built once, read
// without locking.
type measures struct {
	// conn and out are the process's connection rate and the bytes it
	// sends per second (HAProxy's global conn_per_sec and out_32bps),
	// for the stats page's "conn rate" and "bit rate".
	conn, out freqCtr
	// ssl counts TLS handshakes on both sides (ssl_per_sec), feKey and
	// beKey the full ones, which computed a key (ssl_fe_keys_per_sec,
	// ssl_be_keys_per_sec); sslCum is the total (CumSslConns).
	ssl, feKey, beKey freqCtr
	sslCum            atomic.Int64
	fe                map[*proxy.Frontend]*objStats
	be                map[*proxy.Backend]*objStats
	srv               map[*proxy.ServerState]*objStats
}

func newMeasures(rt *proxy.Runtime) *measures {
	m := &measures{fe: map[*proxy.Frontend]*objStats{}, be: map[*proxy.Backend]*objStats{},
		srv: map[*proxy.ServerState]*objStats{}}
	for _, f := range rt.Frontends {
		m.fe[f] = &objStats{}
	}
	for _, b := range rt.Backends {
		m.be[b] = &objStats{}
		for _, s := range b.Servers() {
			m.srv[s] = &objStats{}
		}
	}
	return m
}

// Connection counts an accepted connection (conn_rate, and the session
// rate: halo opens a session for every accepted connection).
func (s *Stats) Connection(fe *proxy.Frontend) bool { return s.connection(fe) }

// Logged records a finished transaction (see logged).
func (s *Stats) Logged(tx *proxy.Txn) { s.logged(tx) }

// handshake counts a TLS handshake (show info's SSL rates).
func (s *Stats) handshake(front, resumed bool) {
	now := time.Now()
	s.m.sslCum.Add(1)
	if front {
		s.m.ssl.add(now)
	}
	if !resumed {
		if front {
			s.m.feKey.add(now)
		} else {
			s.m.beKey.add(now)
		}
	}
}

// sslReuse is HAProxy's SslFrontendSessionReuse_pct: the share of the last
// second's frontend handshakes that needed no new key.
func (s *Stats) sslReuse(now time.Time) int64 {
	hs, _ := s.m.ssl.read(now)
	keys, _ := s.m.feKey.read(now)
	if keys >= hs {
		return 0
	}
	// the key share rounded up, as HAProxy rounds it
	return 100 - int64((100*uint64(keys)+uint64(hs)-1)/uint64(hs))
}

func (s *Stats) connection(fe *proxy.Frontend) bool {
	now := time.Now()
	s.m.conn.add(now)
	if o := s.m.fe[fe]; o != nil {
		o.conn.add(now)
		o.sess.add(now)
	}
	return true
}

// logged records a finished transaction: request rate, backend and server
// session rates and timers.
func (s *Stats) logged(tx *proxy.Txn) {
	now := tx.Now() // the event loop's clock: no clock read per request
	http := tx.Req != nil
	if tx.BytesOut > 0 {
		s.m.out.addN(now, uint32(min(tx.BytesOut, 1<<31)))
	}
	if tx.Frontend != nil && http {
		if o := s.m.fe[tx.Frontend]; o != nil {
			o.req.add(now)
		}
	}
	if tx.Backend != nil && (tx.Server != nil || tx.Tw >= 0) {
		// the engine dates server sessions only; lastsess of a backend is
		// its last server session
		if tx.Server != nil {
			tx.Backend.Counters.LastSess.Store(now.Unix())
		}
		if o := s.m.be[tx.Backend]; o != nil {
			o.sess.add(now)
			o.times(tx, http)
		}
	}
	if tx.Server != nil {
		if o := s.m.srv[tx.Server]; o != nil {
			o.sess.add(now)
			o.times(tx, http)
		}
	}
}

func setRate(r Row, f *freqCtr, now time.Time, cur, max string) {
	v, m := f.read(now)
	r.setI(cur, int64(v))
	r.setI(max, int64(m))
}

func setTimes(r Row, o *objStats) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r.setI("qtime", o.q.avg())
	r.setI("ctime", o.c.avg())
	r.setI("rtime", o.r.avg())
	r.setI("ttime", o.t.avg())
	r.setI("qtime_max", o.q.max)
	r.setI("ctime_max", o.c.max)
	r.setI("rtime_max", o.r.max)
	r.setI("ttime_max", o.t.max)
}

// clear resets the rate maxima, and with all the timers too.
func (m *measures) clear(all bool) {
	reset := func(o *objStats) {
		for _, f := range []*freqCtr{&o.sess, &o.req, &o.conn} {
			f.mu.Lock()
			f.max = 0
			f.mu.Unlock()
		}
		o.mu.Lock()
		o.q.max, o.c.max, o.r.max, o.t.max = 0, 0, 0, 0
		if all {
			o.q, o.c, o.r, o.t = timeAvg{}, timeAvg{}, timeAvg{}, timeAvg{}
		}
		o.mu.Unlock()
	}
	for _, o := range m.fe {
		reset(o)
	}
	for _, o := range m.be {
		reset(o)
	}
	for _, o := range m.srv {
		reset(o)
	}
}
