package proxy

import (
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"time"

	"halo/proxy/evloop"
)

// serverConn is a connection to a server with its read buffer.
type serverConn struct {
	c       net.Conn     // ec, or *tls.Conn with `server … ssl`
	ec      *evloop.Conn // the socket: &conn
	conn    evloop.Conn
	f       fastConn
	srv     *ServerState
	buf     []byte
	r, w    int
	reqs    int // requests sent on it
	idleAt  time.Time
	private bool // http-reuse never: only the session that opened it
	idle    bool // counted in Runtime.idleConns
	// hard: close with a reset (SO_LINGER 0) unless the server closed
	// first, as HAProxy closes the server connections it opened
	// (FD_LINGER_RISK, cleared on read0): no FIN exchange and no
	// TIME_WAIT socket holding a source port.
	hard bool
	// While idle the connection is parked on its loop, held by a session
	// (owner) or by its server's pool on that loop (pooled).
	owner  *session
	pooled bool
	inUse  bool // counted in its pool's used
	// tls is the handshake's state with an `ssl` server (ssl_bc_*,
	// ssl_s_*), nil otherwise.
	tls  *tls.ConnectionState
	ls   *loopState // its loop's engine state
	live int        // index in ls.srv
}

// maxIdlePerServer bounds each server's idle pool (HAProxy's pool-max-conn
// is unlimited by default, but purges; a bound keeps memory flat).
const maxIdlePerServer = 256

// close closes the connection and recycles sc: the caller drops it.
func (sc *serverConn) close() {
	ls := sc.ls
	ls.untrackServer(sc)
	sc.dropIdle()
	sc.unuse()
	if sc.hard && !sc.ec.Closed() {
		_ = sc.ec.SetLinger(0)
	}
	sc.c.Close()
	if sc.c != net.Conn(sc.ec) {
		sc.ec.Close()
	}
	if sc.buf != nil {
		ls.bufs.put(sc.buf)
	}
	*sc = serverConn{}
	ls.servers.put(sc)
}

// markIdle counts sc among the idle server connections; false means the
// budget (tune.pool-high-fd-ratio: 25 % of the descriptor limit) is used
// up and sc should be closed instead.
func (sc *serverConn) markIdle() bool {
	sc.unuse()
	rt := sc.srv.Backend.rt
	if rt.idleConns.Add(1) > rt.idleMax {
		rt.idleConns.Add(-1)
		return false
	}
	sc.idle = true
	return true
}

// unmarkIdle takes an idle connection back for a transaction.
func (sc *serverConn) unmarkIdle() {
	sc.dropIdle()
	sc.use()
}

func (sc *serverConn) dropIdle() {
	if sc.idle {
		sc.idle = false
		sc.srv.Backend.rt.idleConns.Add(-1)
	}
}

// use and unuse count the connections of a server in use on a loop, for
// the estimate of how many its idle pool should keep (HAProxy's
// est_need_conns).
func (sc *serverConn) use() {
	if sc.inUse {
		return
	}
	sc.inUse = true
	if p := sc.srv.pool(sc.ec.Loop()); p != nil {
		p.used++
		if p.used > p.maxUsed {
			p.maxUsed = p.used
		}
	}
}

func (sc *serverConn) unuse() {
	if !sc.inUse {
		return
	}
	sc.inUse = false
	if p := sc.srv.pool(sc.ec.Loop()); p != nil {
		p.used--
	}
}

// park watches an idle connection on its loop: the server closing it (or
// sending anything unasked) closes it.
func (sc *serverConn) park() { sc.ec.Park(sc, 0) }

// unpark takes an idle connection back for a request.
func (sc *serverConn) unpark() { sc.ec.Unpark() }

// Ready implements evloop.Handler for an idle connection.
func (sc *serverConn) Ready(c *evloop.Conn, ev evloop.Event) {
	if ev&evloop.EvRead == 0 {
		return
	}
	// Readable may be stale (the last read filled its buffer): look. A
	// TLS 1.3 server also sends session tickets after the handshake,
	// which crypto/tls takes without a byte for us.
	sc.ec.SetNonblock(true)
	n, err := sc.c.Read(sc.ls.scratch[:1])
	sc.ec.SetNonblock(false)
	if n == 0 && err == evloop.ErrWouldBlock {
		return
	}
	// Anything else on an idle connection ends it (HAProxy closes an idle
	// server connection on read0 or unexpected data).
	if err := sc.detach(); err == nil {
		sc.hard = false
		sc.close()
	}
}

// detach removes an idle connection from its session or pool.
func (sc *serverConn) detach() error {
	if s := sc.owner; s != nil {
		for i, x := range s.conns {
			if x == sc {
				s.conns[i] = nil
			}
		}
		sc.owner = nil
		return nil
	}
	if sc.pooled {
		sc.srv.removeIdle(sc)
		return nil
	}
	return errNotIdle
}

var errNotIdle = errors.New("connection not idle")

// idlePool is a server's idle connections on one loop (touched only
// there: a parked connection can only serve a task of its own loop).
type idlePool struct {
	conns []*serverConn
	// Connections in use by transactions, their most since the last
	// estimate, and the estimate of how many are needed (the previous
	// period's most): the pool keeps no more than that needs.
	used, maxUsed, need int
}

// estimate closes a period (every pool-purge-delay): the most used in it
// is the need for the next.
func (p *idlePool) estimate() {
	p.need = p.maxUsed
	p.maxUsed = p.used
}

func (s *ServerState) pool(l *evloop.Loop) *idlePool {
	if s.pools == nil {
		return nil
	}
	return &s.pools[l.ID()]
}

// takeIdle returns an idle connection of s on loop l, or nil.
func (s *ServerState) takeIdle(l *evloop.Loop) *serverConn {
	p := s.pool(l)
	if p == nil {
		return nil
	}
	if n := len(p.conns); n > 0 {
		sc := p.conns[n-1]
		p.conns[n-1] = nil
		p.conns = p.conns[:n-1]
		sc.pooled = false
		sc.unmarkIdle()
		sc.unpark()
		return sc
	}
	return nil
}

// putIdle parks sc for reuse by later requests on its loop.
func (s *ServerState) putIdle(sc *serverConn) {
	p := s.pool(sc.ec.Loop())
	if !s.Usable() || p == nil || sc.ec.Closed() {
		sc.close()
		return
	}
	sc.unuse()
	// As HAProxy (srv_add_to_idle_list): keep it if the pool is empty, or
	// if the server's connections in use and idle stay within what the
	// last period needed (plus one); else close it now rather than let
	// idle connections pile up on the server.
	if len(p.conns) > 0 && (len(p.conns) >= maxIdlePerServer || p.used+len(p.conns) > max(p.used, p.need)) {
		sc.close()
		return
	}
	sc.idleAt = sc.ls.l.Now()
	p.conns = append(p.conns, sc)
	sc.pooled = true
	sc.park()
}

func (s *ServerState) removeIdle(sc *serverConn) {
	p := s.pool(sc.ec.Loop())
	for i, x := range p.conns {
		if x == sc {
			copy(p.conns[i:], p.conns[i+1:])
			p.conns[len(p.conns)-1] = nil
			p.conns = p.conns[:len(p.conns)-1]
			break
		}
	}
	sc.pooled = false
}

// closeIdle closes the server's idle pooled connections (on every loop).
// Safe from any goroutine.
func (s *ServerState) closeIdle() {
	rt := s.Backend.rt
	if rt.group == nil || s.pools == nil {
		return
	}
	for i := 0; i < rt.group.Len(); i++ {
		l := rt.group.Loop(i)
		l.Post(func() { s.purgeIdleOn(l, time.Time{}) })
	}
	s.h2Purge(time.Time{})
}

// purgeIdleOn closes the idle connections of s on l older than before
// (zero: all). On l.
func (s *ServerState) purgeIdleOn(l *evloop.Loop, before time.Time) {
	p := s.pool(l)
	if p == nil {
		return
	}
	j := 0
	for _, sc := range p.conns {
		if before.IsZero() || sc.idleAt.Before(before) {
			sc.pooled = false
			sc.close()
			continue
		}
		p.conns[j] = sc
		j++
	}
	for i := j; i < len(p.conns); i++ {
		p.conns[i] = nil
	}
	p.conns = p.conns[:j]
}

// dial opens a connection to s within timeout (timeout connect; HAProxy
// without one waits forever, we cap at a minute) from a task on l: TCP,
// then the PROXY header (send-proxy) and the TLS handshake (ssl) inside
// the same time.
func (rt *Runtime) dial(l *evloop.Loop, s *ServerState, src, dst netip.AddrPort, timeout time.Duration) (*serverConn, error) {
	if timeout <= 0 {
		timeout = time.Minute
	}
	if s.h2pool != nil {
		return rt.dialH2(l, s, src, dst, timeout)
	}
	ls := rt.loops[l.ID()]
	sc := ls.servers.get()
	ec := &sc.conn
	var err error
	if s.Server.Path != "" {
		// A server on a UNIX socket (unix@, abns@).
		err = l.DialUnixInto(ec, s.Server.Path, timeout)
	} else {
		err = l.DialInto(ec, s.Addr(dst), timeout)
		if ka := &s.Backend.Proxy.SrvTCPKA; err == nil && ka.On {
			ka.Apply(ec.Fd())
		}
	}
	if err != nil {
		ls.servers.put(sc)
		return nil, err
	}
	var conn net.Conn = ec
	var tlsState *tls.ConnectionState
	if s.Server.SendProxy || s.Server.SendProxyV2 || s.Server.SSL {
		ec.SetReadTimeout(timeout)
		ec.SetWriteTimeout(timeout)
		if s.Server.SendProxy || s.Server.SendProxyV2 {
			hdr := appendProxyV1(nil, src, dst)
			if s.Server.SendProxyV2 {
				hdr = appendProxyV2(nil, src, dst)
			}
			if _, err := ec.Write(hdr); err != nil {
				ec.Close()
				ls.servers.put(sc)
				return nil, err
			}
		}
		if s.Server.SSL {
			conf, err := s.tlsClientConfig()
			if err != nil {
				ec.Close()
				ls.servers.put(sc)
				return nil, err
			}
			tlc := tls.Client(ec, conf)
			if err := tlc.Handshake(); err != nil {
				ec.Close()
				ls.servers.put(sc)
				return nil, err
			}
			conn = tlc
			cs := tlc.ConnectionState()
			tlsState = &cs
			rt.handshaked(false, tlsState)
		}
		ec.SetReadTimeout(0)
		ec.SetWriteTimeout(0)
	}
	sc.c, sc.ec, sc.srv, sc.ls, sc.tls = conn, ec, s, ls, tlsState
	sc.f.init(conn, ec)
	ls.trackServer(sc)
	sc.use()
	return sc, nil
}

// tlsClientConfig is the TLS configuration towards an `ssl` server
// (tlsserver.go), built once; Start has checked that it builds.
func (s *ServerState) tlsClientConfig() (*tls.Config, error) {
	if c := s.tlsCommitted.Load(); c != nil {
		return c, nil
	}
	s.tlsOnce.Do(func() {
		s.tlsConf, s.tlsErr = serverTLSConfig(s.Server, s.Backend.Proxy.Mode, s.Backend.rt.readTLSFile)
	})
	return s.tlsConf, s.tlsErr
}

// turnAround is HAProxy's delay before retrying a failed connection
// attempt: min(timeout connect, 1s) (configuration.txt, "retries").
func turnAround(connect time.Duration) time.Duration {
	if connect <= 0 || connect > time.Second {
		return time.Second
	}
	return connect
}
