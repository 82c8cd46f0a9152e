package proxy

// Server connections in use are listed per loop (loopState.srv), so that
// `on-marked-down shutdown-sessions` (and the stats page's "shutdown")
// can kill the sessions of a server marked down: each loop closes the
// sockets of that server's connections, and their owners end as
// HAProxy's shutdown-sessions ends them. One append and one swap-remove
// per server connection, on its loop, with no lock.

func (ls *loopState) trackServer(sc *serverConn) {
	sc.live = len(ls.srv)
	ls.srv = append(ls.srv, sc)
}

func (ls *loopState) untrackServer(sc *serverConn) {
	i := sc.live
	if i < 0 || i >= len(ls.srv) || ls.srv[i] != sc {
		return
	}
	last := len(ls.srv) - 1
	ls.srv[i] = ls.srv[last]
	ls.srv[i].live = i
	ls.srv[last] = nil
	ls.srv = ls.srv[:last]
	sc.live = -1
}

// ShutdownSessions closes every connection to s, idle or in use: the
// sessions using them end as HAProxy's shutdown-sessions ends them. Safe
// from any goroutine (a loop's own included); the loops act on it next.
func (s *ServerState) ShutdownSessions() {
	s.closeIdle()
	rt := s.Backend.rt
	for _, ls := range rt.loops {
		ls.l.Post(func() {
			for _, sc := range ls.srv {
				if sc.srv == s {
					// The owner's close() later recycles it.
					sc.ec.Close()
				}
			}
		})
	}
}
