package proxy

import (
	"errors"
	"time"
)

// runRequest runs every module's Request hook for px until one decides.
func (rt *Runtime) runRequest(tx *Txn, px *Proxy) Verdict {
	for i := range rt.modules {
		if h := rt.modules[i].Request; h != nil {
			if v := h(tx, px); v != Continue {
				return v
			}
		}
	}
	return Continue
}

// runResponse runs every module's Response hook for px until one decides.
func (rt *Runtime) runResponse(tx *Txn, px *Proxy) Verdict {
	for i := range rt.modules {
		if h := rt.modules[i].Response; h != nil {
			if v := h(tx, px); v != Continue {
				return v
			}
		}
	}
	return Continue
}

// chooseBackend returns the backend a frontend-stage hook chose, else the
// default_backend, else the frontend itself when it is a listen section.
func (rt *Runtime) chooseBackend(tx *Txn) *Backend {
	if tx.Backend != nil {
		return tx.Backend
	}
	tx.Backend = tx.Frontend.defaultBackend
	return tx.Backend
}

func (rt *Runtime) logTxn(tx *Txn) {
	tx.ActConn = rt.ActConn.Load()
	if tx.Frontend != nil {
		tx.FeConn = tx.Frontend.Counters.CurConns.Load()
	}
	if tx.Backend != nil {
		if !tx.leftBackend {
			tx.BeConn = tx.Backend.Counters.CurConns.Load()
		}
	}
	if tx.Server != nil {
		if !tx.released {
			tx.SrvConn = tx.Server.Counters.CurConns.Load()
		}
	}
	for i := range rt.modules {
		if h := rt.modules[i].Log; h != nil {
			h(tx)
		}
	}
}

// leaveBackend ends the transaction's backend session, keeping the count
// with it included for the log line (beconn).
func (tx *Txn) leaveBackend(be *Backend) {
	// As HAProxy, the log counts the backend's other sessions: this one
	// has left (haproxy 2.6.12 logs beconn 0 for a lone finished session).
	tx.BeConn = be.Counters.CurConns.Add(-1)
	tx.leftBackend = true
}

var errConnect = errors.New("cannot connect to server")

// hold takes a connection slot for tx: on the server persistence chose
// (Take: its maxconn and queue apply, as to HAProxy's SF_DIRECT streams),
// else on the one the algorithm picks. The session then counts on that
// server, as when HAProxy assigns it.
func (be *Backend) hold(tx *Txn, key *PickKey) error {
	var s *ServerState
	var err error
	if be.mayQueue.Load() && tx.loop != nil && tx.loop.Current() != nil {
		// With a maxconn the Picker may wait for a slot: then off the
		// event loop, which serves the others meanwhile (one of them
		// may free it).
		s, err = be.takeOffloaded(tx, key)
	} else {
		s, err = be.takeSlot(tx, key)
	}
	if err != nil {
		if tx.picked {
			tx.Server = nil // nothing was chosen; a persistent server stays named in the log
		}
		return err
	}
	tx.Server, tx.held = s, true
	s.Counters.TotConns.Add(1)
	s.Counters.LastSess.Store(tx.Now().Unix())
	if n := s.Counters.CurConns.Load(); n > s.Counters.MaxConns.Load() {
		s.Counters.MaxConns.Store(n)
	}
	return nil
}

func (be *Backend) takeSlot(tx *Txn, key *PickKey) (s *ServerState, err error) {
	key.SrvQueue, key.BeQueue = 0, 0
	if tx.Server != nil {
		s, err = be.Picker.Take(tx.Server, key)
	} else {
		tx.picked = true
		s, err = be.Picker.Pick(key)
	}
	// queue positions add up over the picks of a transaction
	tx.SrvQueue += key.SrvQueue
	tx.BeQueue += key.BeQueue
	return s, err
}

func (be *Backend) takeOffloaded(tx *Txn, key *PickKey) (s *ServerState, err error) {
	tx.loop.Offload(func() { s, err = be.takeSlot(tx, key) })
	return s, err
}

// connect picks a server (unless tx.Server is already set by persistence)
// and connects to it: `retries` more attempts after a failure, each after
// the turn-around delay, the last one on another server with `option
// redispatch` (HAProxy's default redispatch interval -1). On success
// tx.Server holds a picked server that the caller must Release. Errors:
// ErrNoServer / ErrQueueTimeout (nothing picked), errConnect.
func (rt *Runtime) connect(tx *Txn, key *PickKey) (*serverConn, error) {
	be := tx.Backend
	px := be.Proxy
	retries := px.Retries
	if retries < 0 {
		retries = 0
	}
	start := tx.Now()
	direct := tx.Server != nil && !tx.picked // chosen by persistence (HAProxy's SF_DIRECT)
	if px.Timeouts.Queue > 0 {
		key.Deadline = start.Add(px.Timeouts.Queue)
	} else if px.Timeouts.Connect > 0 {
		key.Deadline = start.Add(px.Timeouts.Connect)
	}
	for attempt := 0; ; attempt++ {
		if !tx.held {
			if err := be.hold(tx, key); err != nil {
				if tx.Tw < 0 {
					tx.Tw = tx.Now().Sub(start)
				}
				if errors.Is(err, ErrQueueTimeout) {
					tx.setTerm('s', 'Q')
				} else {
					tx.setTerm('S', 'C')
				}
				return nil, err
			}
		}
		if tx.Tw < 0 {
			tx.Tw = tx.Now().Sub(start)
		}
		t0 := tx.Now()
		sc, err := rt.dial(tx.loop, tx.Server, tx.Src, tx.Dst, px.Timeouts.Connect)
		if err == nil {
			tx.Tc = tx.Now().Sub(t0)
			observe(tx.Server, ObsL4OK)
			return sc, nil
		}
		observe(tx.Server, ObsL4Err)
		tx.Server.Counters.ErrConn.Add(1)
		be.Counters.ErrConn.Add(1)
		if attempt >= retries {
			// The log still names the server that failed (HAProxy: be/s2
			// … SC--); its slot is given back.
			be.Picker.Release(tx.Server)
			tx.held, tx.released = false, true
			tx.SrvConn = tx.Server.Counters.CurConns.Load()
			tx.Tc = -1
			if isTimeout(err) {
				tx.setTerm('s', 'C')
			} else {
				tx.setTerm('S', 'C')
			}
			return nil, errConnect
		}
		tx.Retries++
		be.Counters.Retries.Add(1)
		tx.Server.Counters.Retries.Add(1)
		// redispatch.go: HAProxy redispatches at the last retry, or at once
		// in a round-robin farm, and then does not wait.
		redisp := px.Redispatch && (attempt+1 == retries || redispatchEarly(be, tx.Server, direct))
		if el := tx.Now().Sub(t0); (!redisp || !rrSpread(be)) && (el < px.Timeouts.Connect || px.Timeouts.Connect <= 0) {
			tx.loop.Sleep(turnAround(px.Timeouts.Connect))
		}
		if redisp {
			key.Exclude = tx.Server
			be.Picker.Release(tx.Server)
			tx.Server, tx.held = nil, false
			tx.Redispatched = true
			be.Counters.Redisp.Add(1)
		}
	}
}

// Offload runs fn where it may block (a network lookup, a wait on a
// shared resource) without stalling the event loop that serves the
// transaction and many other connections: on a goroutine of its own,
// while the transaction's task waits. fn must not use the transaction's
// connections.
func (tx *Txn) Offload(fn func()) {
	if tx.loop != nil && tx.loop.Current() != nil {
		tx.loop.Offload(fn)
		return
	}
	fn()
}

// Now is the time as the event loop read it at its last iteration
// (HAProxy's now_ms): what the transaction's timers and the modules' rate
// counters use, without a clock read each. Outside a loop, time.Now.
func (tx *Txn) Now() time.Time {
	if tx.loop != nil {
		return tx.loop.Now()
	}
	return time.Now()
}
