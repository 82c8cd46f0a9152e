package balance

import (
	"fmt"
	"time"
)

// Transition reports what a state change did, with the figures HAProxy
// prints in its "Server x/y is DOWN …" and "… is UP …" messages.
type Transition struct {
	Changed     bool // the server moved in or out of load balancing
	Active      int  // usable active servers after the change
	Backup      int  // usable backup servers after the change
	SessActive  int  // connections still on the server
	Requeued    int  // queued streams moved away (down) or taken from the backend queue (up)
	Queued      int  // streams left in the server's queue
	BackendDown bool // the backend has no usable server any more
}

// RunningOnBackup is HAProxy's " Running on backup." condition.
func (t Transition) RunningOnBackup() bool { return t.Active == 0 && t.Backup > 0 }

// SetState changes the operational state (health checks, agent). Going up
// after being down enters the slowstart ramp when `slowstart` is set.
func (s *Server) SetState(st State) Transition {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if st == StateRunning && s.slowstart > 0 && s.nextState == StateStopped && b.cfg.dynamic() {
		st = StateStarting
	}
	if st == s.nextState {
		return b.transition(s, false, 0)
	}
	wasUp := s.nextState != StateStopped
	s.nextState = st
	s.lastChange = now
	return b.apply(s, now, wasUp)
}

// SetAdmin sets or clears administrative flags (maintenance, drain).
func (s *Server) SetAdmin(flag Admin, on bool) Transition {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	next := s.nextAdmin &^ flag
	if on {
		next |= flag
	}
	if next == s.nextAdmin {
		return b.transition(s, false, 0)
	}
	wasMaint := s.nextAdmin&AdminMaint != 0
	wasUp := s.nextState != StateStopped && !wasMaint
	s.nextAdmin = next
	if wasMaint && next&AdminMaint == 0 && s.nextState != StateStopped && s.slowstart > 0 && b.cfg.dynamic() {
		s.nextState = StateStarting // leaving maintenance starts at the minimal step
	}
	s.lastChange = now
	return b.apply(s, now, wasUp)
}

// SetWeight changes the user weight at run time (`set server … weight`).
// Static algorithms only accept 0 or the configured weight, as HAProxy does.
func (s *Server) SetWeight(w int) (Transition, error) {
	b := s.b
	if w < 0 || w > 256 {
		return Transition{}, fmt.Errorf("weight %d out of range 0..256", w)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.cfg.dynamic() && w != 0 && w != s.uweight && s.uweight != 0 {
		return Transition{}, fmt.Errorf("backend '%s' uses a static load-balancing algorithm: only 0%% or 100%% is supported", b.cfg.Name)
	}
	s.uweight = w
	now := b.now()
	return b.apply(s, now, s.curUsable()), nil
}

// Tick advances slowstart ramps; the owner calls it about every second
// (HAProxy's warmup task runs every max(1s, slowstart/20)).
func (b *Backend) Tick() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	for _, s := range b.servers {
		if s.nextState == StateStarting {
			b.apply(s, now, true)
		}
	}
}

// apply recomputes s's effective weight, updates the trees, and moves
// queued streams as HAProxy does on down (redistribute) and up (grab).
func (b *Backend) apply(s *Server, now time.Time, wasUp bool) Transition {
	wasAny := b.srvAct+b.srvBck > 0
	was := s.curUsable()
	s.nextEwght = b.weightOf(s, now)
	b.update(s)
	will := s.curUsable()
	requeued := 0
	if was && !will {
		requeued = b.redistribute(s)
	}
	if !was && will {
		before := s.cnt.CumLB
		for _, x := range b.servers {
			if x.curUsable() {
				b.processQueue(x)
			}
		}
		requeued = int(s.cnt.CumLB - before)
	}
	isUp := s.curState != StateStopped && s.curAdmin&AdminMaint == 0
	if wasUp && !isUp {
		s.cnt.DownTrans++
		s.downSince = now
	} else if !wasUp && isUp && !s.downSince.IsZero() {
		s.cnt.DownTime += now.Sub(s.downSince)
		s.downSince = time.Time{}
	}
	if b.srvAct+b.srvBck == 0 && b.lastDown.IsZero() {
		b.lastDown = now
		b.downTrn++
	} else if b.srvAct+b.srvBck > 0 && !b.lastDown.IsZero() {
		b.downTime += now.Sub(b.lastDown)
		b.lastDown = time.Time{}
	}
	t := b.transition(s, was != will, requeued)
	t.BackendDown = wasAny && b.srvAct+b.srvBck == 0
	return t
}

func (b *Backend) transition(s *Server, changed bool, requeued int) Transition {
	return Transition{
		Changed: changed, Active: b.srvAct, Backup: b.srvBck,
		SessActive: s.served, Requeued: requeued, Queued: len(s.queue),
	}
}

// redistribute is pendconn_redistribute: streams queued on a server that
// left load balancing pick another server.
func (b *Backend) redistribute(s *Server) int {
	n := len(s.queue)
	for _, w := range s.queue {
		b.beconn--
		w.pos = s.qIdx - w.idx
		w.done = true
		w.ch <- nil
	}
	clear(s.queue)
	s.queue = s.queue[:0]
	b.queueChanged(s)
	return n
}

// MarkFailedConn, MarkRetry and MarkRedispatch count connection outcomes
// the engine sees (stats econ, wretr, wredis).
func (s *Server) MarkFailedConn() { s.b.mu.Lock(); s.cnt.FailedConns++; s.b.mu.Unlock() }
func (s *Server) MarkRetry()      { s.b.mu.Lock(); s.cnt.Retries++; s.b.mu.Unlock() }
func (s *Server) MarkRedispatch() { s.b.mu.Lock(); s.cnt.Redispatches++; s.b.mu.Unlock() }

// SetCheck records the latest health-check outcome for the stats page.
func (s *Server) SetCheck(c CheckInfo, failed bool) {
	s.b.mu.Lock()
	s.chk = c
	if failed {
		s.cnt.FailedChecks++
	}
	s.b.mu.Unlock()
}

// Shutdown returns a channel closed when the server's sessions must be
// killed (`on-marked-down shutdown-sessions`, `shutdown sessions server`).
func (s *Server) Shutdown() <-chan struct{} {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.shutdown
}

// ShutdownSessions closes the current Shutdown channel and arms a new one.
func (s *Server) ShutdownSessions() {
	s.b.mu.Lock()
	close(s.shutdown)
	s.shutdown = make(chan struct{})
	s.b.mu.Unlock()
}

// Usable reports whether the server currently takes load-balanced traffic.
func (s *Server) Usable() bool {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.curUsable()
}

// Stats returns a snapshot of the server.
func (s *Server) Stats() ServerStats {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	dt := s.cnt.DownTime
	if !s.downSince.IsZero() {
		dt += now.Sub(s.downSince)
	}
	w := 0
	if b.wdiv > 0 {
		w = (s.curEweight*b.wmult + b.wdiv - 1) / b.wdiv
	}
	return ServerStats{
		Name: s.Name, ID: s.ID, Backup: s.Backup,
		State: s.curState, Admin: s.curAdmin, Status: statusString(s),
		Weight: w, UWeight: s.uweight,
		Cur: s.served, Max: s.cnt.MaxServed, Limit: s.maxconn,
		Queue: len(s.queue), QueueMax: s.cnt.MaxQueue, QueueLimit: s.maxqueue,
		LastChange: s.lastChange, Downtime: dt,
		Counters: s.cnt, Check: s.chk,
	}
}

// BackendStats is a snapshot of the backend's aggregate figures.
type BackendStats struct {
	Name       string
	Algo       string
	Active     int
	Backup     int
	Weight     int // total user weight of usable servers (stats "weight")
	Cur        int
	Queue      int
	QueueMax   int
	CumSess    uint64
	CumLB      uint64
	DownTrans  uint64
	Downtime   time.Duration
	Up         bool
	LastChange time.Time
}

// Stats returns the backend's aggregate snapshot.
func (b *Backend) Stats() BackendStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	dt := b.downTime
	if !b.lastDown.IsZero() {
		dt += now.Sub(b.lastDown)
	}
	w := 0
	if b.wdiv > 0 {
		w = (b.totWt*b.wmult + b.wdiv - 1) / b.wdiv
	}
	return BackendStats{
		Name: b.cfg.Name, Algo: b.cfg.Algo.String(),
		Active: b.srvAct, Backup: b.srvBck, Weight: w,
		Cur: b.served, Queue: len(b.queue), QueueMax: b.maxQueue,
		CumSess: b.cumSess, CumLB: b.cumLB, DownTrans: b.downTrn, Downtime: dt,
		Up: b.totWt > 0, LastChange: b.lastDown,
	}
}

// SetMaxconn changes maxconn at run time (an agent's "maxconn:N"): a
// static maxconn (minconn equal to it) moves both, a dynamic one only
// maxconn, as HAProxy's server_parse_maxconn_change_request; queued
// streams may then get the new slots.
func (s *Server) SetMaxconn(v int) error {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.maxconn == s.minconn {
		s.minconn = v
	}
	s.maxconn = v
	if s.curUsable() {
		b.processQueue(s)
	}
	return nil
}
