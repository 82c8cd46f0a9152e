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
	cliTO := pick(fe.Proxy.Timeouts.Tunnel, fe.Proxy.Timeouts.Client)
	srvTO := pick(be.Proxy.Timeouts.Tunnel, be.Proxy.Timeouts.Server)
	if be.Proxy.Timeouts.Tunnel > 0 {
		cliTO = be.Proxy.Timeouts.Tunnel
	}
	cpre := tx.Payload
	if hasTCPResponseContent(be.Proxy) {
		// tcp-response content rules wait for the server's first bytes
		// (MoreResPayload): what the client sent so far goes first, or
		// the server would have nothing to answer.
		if len(cpre) > 0 {
			n, err := sc.c.Write(cpre)
			if err != nil {
				tx.setTerm('S', 'D')
				t.tunnelEnd(int64(n), 0, 0)
				return
			}
		}
		d := tcpResponseDelay(be.Proxy)
		tx.resConn, tx.resEC, tx.payMax = sc.c, sc.ec, rt.bufsize
		tx.resCli, tx.resCliEC = c, ec
		if d > 0 {
			tx.resUntil = time.Now().Add(d)
		} else {
			// Without a delay HAProxy decides on the first bytes, which
			// the server timeout bounds.
			tx.resUntil, tx.resOnce = time.Now().Add(pick(srvTO, 24*time.Hour)), true
		}
	}
	// the response side starts: its analysers (tcp-response content and
	// stick store rules) run
	if v := rt.runResponse(tx, be.Proxy); v != Continue {
		// rejected or closed by a tcp-response rule: both sides close
		tx.setTerm('P', 'D')
		// HAProxy counts what it read from both sides, forwarded or not.
		var in int64
		if tx.resConn != nil {
			in = int64(len(cpre))
		}
		t.tunnelEnd(in, int64(len(tx.ResPayload)), 0)
		return
	}
	if tx.resConn != nil {
		cpre = nil // sent already
		tx.resConn, tx.resEC, tx.resCli, tx.resCliEC = nil, nil, nil, nil
	}
	t.tun = &tunnel{
		cli: c, srv: sc.c, cliEC: ec, srvEC: sc.ec,
		cpre: cpre, spre: tx.ResPayload, cliTO: cliTO, srvTO: srvTO,
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
	in += tx.resCliIn // relayed while tcp-response rules waited
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

// hasTCPResponseContent says the backend has tcp-response content rules.
func hasTCPResponseContent(px *Proxy) bool {
	for _, r := range px.TCPResponse {
		if r.Stage == "content" {
			return true
		}
	}
	return false
}

// tcpResponseDelay is the backend's tcp-response inspect-delay (0 when
// unset).
func tcpResponseDelay(px *Proxy) time.Duration {
	var d time.Duration
	for _, r := range px.TCPResponse {
		if r.Stage == "inspect-delay" && len(r.Args) > 0 {
			if v, err := time.ParseDuration(r.Args[0]); err == nil {
				d = v
			}
		}
	}
	return d
}

// ResPayloadState returns the server bytes read so far (mode tcp, while
// tcp-response content rules inspect them) and whether no more will be
// read.
func (tx *Txn) ResPayloadState() ([]byte, bool) {
	return tx.ResPayload, tx.ResPayloadFinal || tx.resConn == nil
}

// MoreResPayload waits for more of the server's first bytes, until
// tcp-response inspect-delay expires, the buffer (tune.bufsize) is full or
// the server closes (without a delay, the first bytes are final, as
// HAProxy's tcp_inspect_response takes them); the bytes are kept in
// tx.ResPayload and forwarded to the client unchanged. It reports whether
// anything changed, i.e. whether the rules are worth evaluating again.
func (tx *Txn) MoreResPayload() bool {
	if tx.resConn == nil || tx.ResPayloadFinal {
		return false
	}
	if tx.ResPayload == nil {
		tx.ResPayload = make([]byte, 0, tx.payMax)
	}
	max := cap(tx.ResPayload)
	for {
		now := time.Now()
		if len(tx.ResPayload) >= max || !now.Before(tx.resUntil) {
			tx.ResPayloadFinal = true
			return true
		}
		// Meanwhile the client's bytes go on to the server (HAProxy
		// forwards the request side while the response is inspected):
		// the server may wait for them before it says anything.
		tx.relayClient()
		until := now.Add(resPoll)
		if until.After(tx.resUntil) || tx.resCliDone {
			until = tx.resUntil
		}
		tx.resEC.SetReadDeadline(until)
		n, err := tx.resConn.Read(tx.ResPayload[len(tx.ResPayload):max])
		tx.resEC.SetReadDeadline(time.Time{})
		tx.ResPayload = tx.ResPayload[:len(tx.ResPayload)+n]
		if n == 0 && isTimeout(err) && time.Now().Before(tx.resUntil) {
			continue // nothing yet: relay the client again
		}
		if err != nil || (tx.resOnce && n > 0) {
			tx.ResPayloadFinal = true
		}
		return true
	}
}

// resPoll is how often the client is relayed while the server's first
// bytes are awaited.
const resPoll = 10 * time.Millisecond

// relayClient forwards what the client sent so far to the server, while
// tcp-response content rules wait for the server (MoreResPayload). A
// client that closed is remembered: the tunnel sees its end again.
func (tx *Txn) relayClient() {
	if tx.resCli == nil || tx.resCliDone {
		return
	}
	if tx.resCliBuf == nil {
		tx.resCliBuf = make([]byte, 16384)
	}
	for {
		tx.resCliEC.SetReadDeadline(time.Now().Add(time.Millisecond))
		n, err := tx.resCli.Read(tx.resCliBuf)
		tx.resCliEC.SetReadDeadline(time.Time{})
		if n > 0 {
			tx.resCliIn += int64(n)
			if _, werr := tx.resConn.Write(tx.resCliBuf[:n]); werr != nil {
				tx.resCliDone = true
				return
			}
		}
		if err != nil {
			if !isTimeout(err) {
				tx.resCliDone = true
			}
			return
		}
	}
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
