package proxy

import "sync"

// Server connections in use, per server, so that `on-marked-down
// shutdown-sessions` (and the runtime API's `shutdown sessions server`) can
// kill the sessions of a server marked down. Kept apart from ServerState so
// that the tracking stays one call in dial and one in serverConn.close.
var liveConns sync.Map // *ServerState → *liveSet

type liveSet struct {
	mu    sync.Mutex
	conns map[*serverConn]struct{}
}

func trackLive(sc *serverConn) {
	v, ok := liveConns.Load(sc.srv)
	if !ok {
		v, _ = liveConns.LoadOrStore(sc.srv, &liveSet{conns: map[*serverConn]struct{}{}})
	}
	ls := v.(*liveSet)
	ls.mu.Lock()
	ls.conns[sc] = struct{}{}
	ls.mu.Unlock()
}

func untrackLive(sc *serverConn) {
	if sc.srv == nil {
		return
	}
	if v, ok := liveConns.Load(sc.srv); ok {
		ls := v.(*liveSet)
		ls.mu.Lock()
		delete(ls.conns, sc)
		ls.mu.Unlock()
	}
}

// ShutdownSessions closes every connection to s, idle or in use: the
// sessions using them end as HAProxy's shutdown-sessions ends them. It
// returns how many were closed.
func (s *ServerState) ShutdownSessions() int {
	s.closeIdle()
	v, ok := liveConns.Load(s)
	if !ok {
		return 0
	}
	ls := v.(*liveSet)
	ls.mu.Lock()
	n := 0
	for sc := range ls.conns {
		if sc.ec != nil {
			// On its loop; the owner's close() later returns the buffer.
			sc.ec.CloseAsync()
			n++
		}
	}
	ls.mu.Unlock()
	return n
}
