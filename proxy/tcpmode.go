package proxy

import (
	"errors"
	"net"
	"os"
	"time"

	"halo/proxy/evloop"
	"halo/proxy/rawtcp"
)

// tcpSession is one mode-tcp connection: set up in a task (payload
// inspection, rules, connect with retries), then a tunnel until the end.
type tcpSession struct {
	rt   *Runtime
	l    *listener
	ls   *loopState
	ec   *evloop.Conn
	c    net.Conn // ec, or the *tls.Conn over it
	cc   ClientConn
	tx   Txn
	be   *Backend
	sc   *serverConn
	tun  *tunnel
	live int
}

func (t *tcpSession) liveIndex() *int { return &t.live }

// stop ends the connection on a hard stop (a soft stop lets it finish).
func (t *tcpSession) stop(hard bool) {
	if !hard {
		return
	}
	if t.tun != nil {
		t.tun.abort()
		return
	}
	t.ec.Close() // its task unwinds
}

// serveTCP runs one mode-tcp connection (in a task): choose a backend and
// a server, connect (retries, redispatch), then a tunnel until both sides
// have closed (half-close is propagated) or a timeout fires.
func (rt *Runtime) serveTCP(l *listener, ls *loopState, ec *evloop.Conn, c net.Conn, cc *ClientConn, tlsState *TLSConn) {
	fe := l.fe
	src, dst := cc.Src, cc.Dst
	t := &tcpSession{rt: rt, l: l, ls: ls, ec: ec, c: c, cc: *cc}
	ls.track(t)
	tx := &t.tx
	tx.reset()
	tx.Frontend, tx.Src, tx.Dst = fe, src, dst
	tx.Conn = &t.cc
	tx.Bind = l.bind
	tx.TLS, tx.SSL, tx.ClientCert = tlsState.state(), tlsState != nil, tlsState.client()
	tx.AcceptAt = time.Now()
	tx.ReqAt = tx.AcceptAt
	tx.Th, tx.Ti, tx.TR = 0, 0, 0
	tx.loop = ec.Loop()
	if d := inspectDelay(fe.Proxy); d > 0 {
		// tcp-request content rules may wait for the client's first
		// bytes (MorePayload); they are forwarded to the server below.
		tx.payConn, tx.payEC, tx.payUntil, tx.payMax = c, ec, tx.AcceptAt.Add(d), rt.bufsize
	}
	if v := rt.runRequest(tx, fe.Proxy); v != Continue {
		tx.setTerm('P', 'R')
		t.end()
		return
	}
	be := rt.chooseBackend(tx)
	if be == nil {
		tx.setTerm('P', 'R')
		// HAProxy has read what the client sent by then, so the close is
		// a FIN; unread bytes would turn it into a reset.
		drainReadable(ec)
		t.end()
		return
	}
	if be.Proxy != fe.Proxy {
		if v := rt.runRequest(tx, be.Proxy); v != Continue {
			tx.setTerm('P', 'R')
			t.end()
			return
		}
	}
	be.Counters.connOpen()
	t.be = be
	key := PickKey{Src: src, Dst: dst, Txn: tx}
	sc, err := rt.connect(tx, &key)
	if err != nil {
		t.end()
		return
	}
	t.sc = sc
	// the response side starts: its analysers (stick store rules) run
	rt.runResponse(tx, be.Proxy)
	cliTO := pick(fe.Proxy.Timeouts.Tunnel, fe.Proxy.Timeouts.Client)
	srvTO := pick(be.Proxy.Timeouts.Tunnel, be.Proxy.Timeouts.Server)
	if be.Proxy.Timeouts.Tunnel > 0 {
		cliTO = be.Proxy.Timeouts.Tunnel
	}
	t.tun = &tunnel{
		cli: c, srv: sc.c, cliEC: ec, srvEC: sc.ec,
		cpre: tx.Payload, cliTO: cliTO, srvTO: srvTO,
		cliFin: pick(fe.Proxy.Timeouts.ClientFin, cliTO), srvFin: pick(be.Proxy.Timeouts.ServerFin, srvTO),
		end: t.tunnelEnd, ls: ls,
	}
	t.tun.start()
}

// tunnelEnd is the end of a connected mode-tcp connection.
func (t *tcpSession) tunnelEnd(in, out int64, cause byte) {
	tx, be := &t.tx, t.be
	fe := t.l.fe
	srv := tx.Server
	tx.BytesIn, tx.BytesOut = in, out
	fe.Counters.BytesIn.Add(in)
	fe.Counters.BytesOut.Add(out)
	be.Counters.BytesIn.Add(in)
	be.Counters.BytesOut.Add(out)
	srv.Counters.BytesIn.Add(in)
	srv.Counters.BytesOut.Add(out)
	if cause != 0 {
		tx.setTerm(cause, 'D')
	}
	tx.Ta = time.Since(tx.ReqAt)
	tx.Tt = tx.Ta
	t.sc.close()
	tx.released = true
	be.Picker.Release(srv)
	tx.SrvConn = srv.Counters.CurConns.Load() // the server's other sessions, as HAProxy logs
	t.end()
}

// end logs the connection, closes it and releases its slots.
func (t *tcpSession) end() {
	rt, tx := t.rt, &t.tx
	if t.be != nil {
		tx.leaveBackend(t.be)
	}
	rt.logTxn(tx)
	t.ls.untrack(t)
	t.c.Close()
	if t.c != net.Conn(t.ec) {
		t.ec.Close()
	}
	rt.leaveConn(&t.cc)
	rt.endClient(t.l)
}

// inspectDelay is the proxy's tcp-request inspect-delay (0 when unset).
func inspectDelay(px *Proxy) time.Duration {
	var d time.Duration
	for _, r := range px.TCPRequest {
		if r.Stage == "inspect-delay" && len(r.Args) > 0 {
			if v, err := time.ParseDuration(r.Args[0]); err == nil {
				d = v
			}
		}
	}
	return d
}

// PayloadState returns the client bytes read so far and whether no more
// will be read (always final outside mode tcp with inspect-delay).
func (tx *Txn) PayloadState() ([]byte, bool) {
	return tx.Payload, tx.PayloadFinal || tx.payConn == nil
}

// MorePayload waits for more of the client's first bytes, until
// tcp-request inspect-delay expires, the buffer (tune.bufsize) is full or
// the client closes; the bytes are kept in tx.Payload and forwarded to the
// server unchanged. It reports whether anything changed (more bytes, or
// the data became final), i.e. whether rules are worth evaluating again.
func (tx *Txn) MorePayload() bool {
	if tx.payConn == nil || tx.PayloadFinal {
		return false
	}
	if tx.Payload == nil {
		tx.Payload = make([]byte, 0, tx.payMax)
	}
	if len(tx.Payload) >= tx.payMax || !time.Now().Before(tx.payUntil) {
		tx.PayloadFinal = true
		return true
	}
	tx.payEC.SetReadDeadline(tx.payUntil)
	n, err := tx.payConn.Read(tx.Payload[len(tx.Payload):tx.payMax])
	tx.payEC.SetReadDeadline(time.Time{})
	tx.Payload = tx.Payload[:len(tx.Payload)+n]
	if err != nil {
		// Timeout (the delay expired), end of stream or an error: the
		// rules decide on what arrived.
		tx.PayloadFinal = true
	}
	return true
}

func pick(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}

func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		c.Close()
	}
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// drainReadable reads what already arrived on ec without waiting for more.
func drainReadable(ec *evloop.Conn) {
	var buf [4096]byte
	for {
		if n, err := rawtcp.Recv(ec.Fd(), buf[:]); err != nil || n == 0 {
			return
		}
	}
}
