package proxy

import (
	"crypto/tls"
	"halo/proxy/rawtcp"
	"net"
	"net/netip"
	"sync"
	"time"
)

// serverConn is a connection to a server with its read buffer.
type serverConn struct {
	c       net.Conn // *net.TCPConn, or *tls.Conn with `server … ssl`
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
}

// maxIdlePerServer bounds each server's idle pool (HAProxy's pool-max-conn
// is unlimited by default, but purges; a bound keeps memory flat).
const maxIdlePerServer = 256

var bufPools sync.Map // size → *sync.Pool

func getBuf(size int) []byte {
	p, _ := bufPools.Load(size)
	if p == nil {
		p, _ = bufPools.LoadOrStore(size, &sync.Pool{New: func() any { b := make([]byte, size); return &b }})
	}
	return *(p.(*sync.Pool).Get().(*[]byte))
}

func putBuf(b []byte) {
	if b == nil {
		return
	}
	b = b[:cap(b)]
	p, _ := bufPools.Load(len(b))
	if p == nil {
		return
	}
	p.(*sync.Pool).Put(&b)
}

func (sc *serverConn) close() {
	untrackLive(sc)
	sc.unmarkIdle()
	if sc.c != nil {
		if sc.hard {
			noLinger(sc.c)
		}
		sc.c.Close()
	}
	putBuf(sc.buf)
	sc.buf = nil
}

func noLinger(c net.Conn) {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	if lc, ok := c.(interface{ SetLinger(int) error }); ok {
		_ = lc.SetLinger(0)
	}
}

// markIdle counts sc among the idle server connections; false means the
// budget (tune.pool-high-fd-ratio: 25 % of the descriptor limit) is used
// up and sc should be closed instead.
func (sc *serverConn) markIdle() bool {
	rt := sc.srv.Backend.rt
	if rt.idleConns.Add(1) > rt.idleMax {
		rt.idleConns.Add(-1)
		return false
	}
	sc.idle = true
	return true
}

func (sc *serverConn) unmarkIdle() {
	if sc.idle {
		sc.idle = false
		sc.srv.Backend.rt.idleConns.Add(-1)
	}
}

// takeIdle returns an idle connection of s, or nil.
func (s *ServerState) takeIdle() *serverConn {
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	if n := len(s.idle); n > 0 {
		sc := s.idle[n-1]
		s.idle[n-1] = nil
		s.idle = s.idle[:n-1]
		sc.unmarkIdle()
		return sc
	}
	return nil
}

// putIdle parks sc for reuse by later requests.
func (s *ServerState) putIdle(sc *serverConn) {
	if !s.Usable() {
		sc.close()
		return
	}
	sc.idleAt = time.Now()
	s.idleMu.Lock()
	if len(s.idle) >= maxIdlePerServer {
		old := s.idle[0]
		copy(s.idle, s.idle[1:])
		s.idle[len(s.idle)-1] = sc
		s.idleMu.Unlock()
		old.close()
		return
	}
	s.idle = append(s.idle, sc)
	s.idleMu.Unlock()
}

func (s *ServerState) closeIdle() {
	s.idleMu.Lock()
	idle := s.idle
	s.idle = nil
	s.idleMu.Unlock()
	for _, sc := range idle {
		sc.close()
	}
}

func (s *ServerState) purgeIdle(before time.Time) {
	s.idleMu.Lock()
	var old []*serverConn
	j := 0
	for _, sc := range s.idle {
		if sc.idleAt.Before(before) {
			old = append(old, sc)
			continue
		}
		s.idle[j] = sc
		j++
	}
	for i := j; i < len(s.idle); i++ {
		s.idle[i] = nil
	}
	s.idle = s.idle[:j]
	s.idleMu.Unlock()
	for _, sc := range old {
		sc.close()
	}
}

// dial opens a connection to s within timeout (timeout connect; HAProxy
// without one waits forever, we cap at a minute): TCP, then the PROXY
// header (send-proxy) and the TLS handshake (ssl) inside the same time.
func (rt *Runtime) dial(s *ServerState, src, dst netip.AddrPort, timeout time.Duration) (*serverConn, error) {
	if timeout <= 0 {
		timeout = time.Minute
	}
	start := time.Now()
	// No keep-alive probes (HAProxy: only with option srvtcpka), which
	// also saves three setsockopt calls per connection; Go sets
	// TCP_NODELAY itself.
	var tc net.Conn
	if s.Server.Path != "" {
		// A server on a UNIX socket (unix@, abns@): no TCP options apply.
		c, err := net.DialTimeout("unix", s.Server.Path, timeout)
		if err != nil {
			return nil, err
		}
		tc = c
	} else if s.Backend.Proxy.Mode == ModeHTTP && !s.Server.SSL {
		// mode http without TLS: a raw socket (proxy/rawtcp), which
		// saves the poller and the dialer's context, timer and
		// resolution on each of these usually short connections.
		c, err := rawtcp.Dial(s.Addr(dst), timeout)
		if err != nil {
			return nil, err
		}
		tc = c
	} else {
		d := net.Dialer{Timeout: timeout, KeepAlive: -1}
		c, err := d.Dial("tcp", s.Addr(dst).String())
		if err != nil {
			return nil, err
		}
		tc = c.(*net.TCPConn)
	}
	var conn net.Conn = tc
	if s.Server.SendProxy || s.Server.SendProxyV2 || s.Server.SSL {
		_ = tc.SetDeadline(start.Add(timeout))
		if s.Server.SendProxy || s.Server.SendProxyV2 {
			hdr := appendProxyV1(nil, src, dst)
			if s.Server.SendProxyV2 {
				hdr = appendProxyV2(nil, src, dst)
			}
			if _, err := tc.Write(hdr); err != nil {
				tc.Close()
				return nil, err
			}
		}
		if s.Server.SSL {
			conf, err := s.tlsClientConfig()
			if err != nil {
				tc.Close()
				return nil, err
			}
			tlc := tls.Client(tc, conf)
			if err := tlc.Handshake(); err != nil {
				tc.Close()
				return nil, err
			}
			conn = tlc
		}
		_ = tc.SetDeadline(time.Time{})
	}
	sc := &serverConn{c: conn, srv: s}
	sc.f.init(conn)
	trackLive(sc)
	return sc, nil
}

// tlsClientConfig is the TLS configuration towards an `ssl` server
// (tlsserver.go), built once; Start has checked that it builds.
func (s *ServerState) tlsClientConfig() (*tls.Config, error) {
	s.tlsOnce.Do(func() {
		s.tlsConf, s.tlsErr = serverTLSConfig(s.Server, s.Backend.Proxy.Mode)
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
