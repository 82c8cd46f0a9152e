package proxy

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"halo/proxy/evloop"
	"halo/proxy/h2"
	"halo/proxy/http1"
	"halo/proxy/rawtcp"
)

// session is one client connection in mode http. Its life on the loop:
//
//	parked   waiting for (the rest of) a request head: no task, no
//	         buffer; a partial head waits in a buffer of its own size.
//	         The loop wakes it (Ready) on data or at the deadline
//	         (timeout http-request / http-keep-alive).
//	serving  a task runs serve: it reads the request, runs the
//	         transaction (transaction(), blocking-style: a wait yields
//	         the task), logs, and loops while more requests are already
//	         there; when a read would wait, it parks again.
//	tunnel   after 101 Switching Protocols the connection belongs to a
//	         tunnel (splice, no task) until it ends.
type session struct {
	rt   *Runtime
	cc   ClientConn // the client connection as modules see it
	fe   *Frontend
	l    *listener
	ls   *loopState
	lp   *evloop.Loop
	ec   *evloop.Conn // the client socket (&conn for a plain connection)
	c    net.Conn     // ec, or the *tls.Conn over it
	conn evloop.Conn
	cf   fastConn
	src  netip.AddrPort
	dst  netip.AddrPort
	tls  *TLSConn

	live int // index in ls.live

	// Buffers and the transaction state, held only while a task serves
	// the connection.
	*work
	r, w int
	next int // where the next request starts once the current one is done

	part     []byte // a partial request head kept while parked
	partIn   int64  // bytes of the pending request read before parking
	acceptAt time.Time
	first    time.Time // first byte of the pending request (zero: none yet)
	idleAt   time.Time // when the wait for the pending request began
	nreq     int
	parked   bool
	expired  bool // the park deadline passed
	// linger: the connection ends on an error answer and the client may
	// have sent bytes not read yet (see drainInput).
	linger bool

	// After 101 Switching Protocols: the tunnel that owns the connection.
	tun   *tunnel
	tunSC *serverConn
	tunBE *Backend

	// Server connections kept by this session, one per server (HAProxy
	// keeps a session's idle connections attached to it).
	conns [4]*serverConn

	serveFn func() // s.serve, bound once per pooled session

	// stream: the session serves one HTTP/2 stream (h2serve.go), which
	// counts neither as a connection nor against maxconn.
	stream bool
	h2c    *h2StreamConn // the stream (kept with the pooled session)
}

// bodyBufSize is the buffer for streaming large response bodies.
const bodyBufSize = 64 << 10

// errors that end a transaction; the client connection is closed.
var (
	errClientGone = errors.New("client closed")
	errServerGone = errors.New("server closed")
)

// init starts a session (from the loop's free list) on client
// connection ec: &s.conn for a plain connection, else the Conn the setup
// task registered.
func (s *session) init(rt *Runtime, l *listener, ls *loopState, ec *evloop.Conn, src, dst netip.AddrPort, tlsState *TLSConn) {
	s.rt, s.fe, s.l, s.ls, s.lp = rt, l.fe, l, ls, ec.Loop()
	s.ec, s.c, s.src, s.dst, s.tls = ec, ec, src, dst, tlsState
	s.cf.init(ec, ec)
	s.acceptAt = s.lp.Now()
	s.idleAt = s.acceptAt
	ls.track(s)
}

func (s *session) liveIndex() *int { return &s.live }

func (s *session) timeouts() *Timeouts { return &s.fe.Proxy.Timeouts }

// waitFirst parks a new connection until its first request comes.
func (s *session) waitFirst() {
	to := s.timeouts()
	var dl int64
	if reqTO := pick(to.HTTPRequest, to.Client); reqTO > 0 {
		dl = s.lp.Mono(s.acceptAt.Add(reqTO))
	}
	s.parked = true
	s.ec.Park(s, dl)
}

// Ready implements evloop.Handler for a parked session: data (or the
// client's close) or the deadline starts a task.
func (s *session) Ready(c *evloop.Conn, ev evloop.Event) {
	if ev&(evloop.EvRead|evloop.EvTimeout) == 0 {
		return
	}
	if ev&evloop.EvTimeout != 0 {
		s.expired = true
	}
	s.parked = false
	s.ec.Unpark()
	s.lp.Go(s.serveFn)
}

// stop ends the session on a hard stop. On a soft stop nothing is closed
// here: a keep-alive connection idle between two requests cannot be
// closed without racing the request its client may be sending (the client
// would see a reset, or a close, instead of an answer), so it stays until
// its next request, which is answered with "Connection: close" (as
// HAProxy's option idle-close-on-response does), or until its keep-alive
// timeout; hard-stop-after bounds the wait. A busy session answers its
// request with "Connection: close" (it sees rt.stopping).
func (s *session) stop(hard bool) {
	switch {
	case s.tun != nil:
		if hard {
			s.tun.abort()
		}
	case s.parked:
		if hard {
			s.ec.Unpark()
			s.parked = false
			s.end()
		}
	case hard:
		// A task serves it: closing the sockets makes it unwind.
		s.ec.Close()
	}
}

// serve runs in a task: it serves requests while they come without
// waiting, and parks the connection when a read would wait.
func (s *session) serve() {
	rt := s.rt
	for {
		s.acquireWork()
		tx := &s.tx
		tx.reset()
		tx.Frontend, tx.Src, tx.Dst = s.fe, s.src, s.dst
		if !s.stream {
			tx.Conn = &s.cc
		}
		tx.Bind = s.l.bind
		tx.TLS, tx.SSL, tx.ClientCert = s.tls.state(), s.tls != nil, s.tls.client()
		tx.AcceptAt = s.acceptAt
		tx.firstReq = s.nreq == 0
		tx.loop = s.lp
		switch s.readRequest() {
		case reqPark:
			s.park()
			return
		case reqEnd:
			s.end()
			return
		case reqH2:
			s.upgradeH2()
			return
		}
		keep := s.transaction()
		s.nreq++
		if s.tun != nil {
			// The tunnel owns the connection now; it logs and ends the
			// session when it is over. Nothing here touches s after.
			s.startTunnel()
			return
		}
		rt.logTxn(tx)
		if !keep {
			// (An answer that said keep-alive is never followed by a
			// bare close, even if a soft stop began meanwhile: the next
			// request gets "Connection: close".)
			s.end()
			return
		}
		// Drop the finished request's bytes; keep pipelined ones.
		n := copy(s.buf, s.buf[s.next:s.w])
		s.r, s.w, s.next = 0, n, 0
		s.partIn = 0 // pipelined bytes counted with the request that read them
		s.first = time.Time{}
		if n > 0 {
			s.first = s.lp.Now()
		}
		s.idleAt = s.lp.Now()
	}
}

type reqState int

const (
	reqReady reqState = iota // a request head is parsed in s.req
	reqPark                  // nothing more to read now: park
	reqEnd                   // close (after an error answer if any)
	reqH2                    // the HTTP/2 preface: the connection speaks HTTP/2
)

// readRequest reads until a complete request head is parsed. On a bad
// request it answers HAProxy's raw 400/408 and ends; on a silent close
// (client gone, idle keep-alive timeout) it ends too. When a read would
// wait it says to park: the connection waits on the loop without a task.
func (s *session) readRequest() reqState {
	tx := &s.tx
	tx.BytesIn = s.partIn
	if s.expired {
		s.expired = false
		if !s.rt.stopping.Load() && (s.w > s.r || (s.nreq == 0 && !s.fe.Proxy.IgnoreProbes)) {
			s.reqError(408, s.first)
			tx.setTerm('c', 'R')
		}
		return reqEnd
	}
	for {
		if s.nreq == 0 && s.w-s.r >= len(h2.Preface) && string(s.buf[s.r:s.r+len(h2.Preface)]) == h2.Preface && s.h2Upgrade() {
			return reqH2
		}
		if s.w > s.r {
			err := http1.ParseRequest(&s.req, s.buf[s.r:s.w], s.rt.headLimit)
			if err == nil {
				s.req.FromH2 = s.stream
				break
			}
			if err != http1.ErrIncomplete || s.w == len(s.buf) {
				status := 400
				if err == http1.ErrUnprocessable {
					status = 422 // HAProxy 2.6.12: codings before chunked
				}
				s.reqError(status, s.first)
				return reqEnd
			}
		}
		s.ec.SetNonblock(true)
		n, err := s.cf.Read(s.buf[s.w:])
		s.ec.SetNonblock(false)
		if n > 0 {
			if s.w == s.r && s.first.IsZero() {
				s.first = s.lp.Now()
			}
			s.w += n
			tx.BytesIn += int64(n)
			s.partIn = tx.BytesIn
			continue
		}
		if err == nil {
			continue
		}
		if err == evloop.ErrWouldBlock {
			return reqPark
		}
		// The client closed or failed: end silently.
		return reqEnd
	}
	tx.ReqAt = s.first
	now := s.lp.Now()
	tx.Ti = s.first.Sub(s.idleAt)
	tx.Th = 0
	tx.TR = now.Sub(s.first)
	s.partIn = 0
	return reqReady
}

// h2Upgrade says whether an HTTP/2 preface as the connection's first
// request makes it HTTP/2, as HAProxy does on a clear HTTP/1 bind (prior
// knowledge) unless `option disable-h2-upgrade` or `proto h1` says
// otherwise. HAProxy checks the whole preface as the first request's
// bytes: a part of it ("PRI * HTTP/2.0" alone) is a bad HTTP/1 request.
func (s *session) h2Upgrade() bool {
	return s.tls == nil && !s.stream && s.l.bind.Proto != "h1" && !s.fe.Proxy.DisableH2Upgrade
}

// upgradeH2 hands the connection, with what it read, to HTTP/2
// (h2serve.go). The session is not recycled: its Conn (s.conn) is the
// socket the HTTP/2 connection keeps.
func (s *session) upgradeH2() {
	s.ls.untrack(s)
	s.rt.serveH2(s.l, s.ls, s.ec, s.ec, nil, &s.cc, nil, s.buf[s.r:s.w])
	s.releaseWork()
	s.ls.putPart(s.part)
	s.part = nil
}

// park releases the task and the buffers until the client sends more;
// a partial request head is kept in a buffer of its own size.
func (s *session) park() {
	to := s.timeouts()
	reqTO := pick(to.HTTPRequest, to.Client)
	var dl int64
	switch {
	case s.w > s.r:
		// Partial head: timeout http-request from its first byte.
		s.part = append(s.ls.getPart(s.w-s.r), s.buf[s.r:s.w]...)
		if reqTO > 0 {
			dl = s.lp.Mono(s.first.Add(reqTO))
		}
	case s.nreq == 0:
		if reqTO > 0 {
			dl = s.lp.Mono(s.acceptAt.Add(reqTO))
		}
	default:
		// Idle keep-alive: timeout http-keep-alive (else http-request).
		if kaTO := pick(to.HTTPKeepAlive, reqTO); kaTO > 0 {
			dl = s.lp.Deadline(kaTO)
		}
	}
	s.releaseWork()
	s.parked = true
	s.ec.Park(s, dl)
}

// end closes the client connection and recycles the session.
func (s *session) end() {
	s.ls.untrack(s)
	if s.linger && s.ec != nil && !s.ec.Closed() {
		drainInput(s.ec.Fd())
	}
	s.c.Close()
	if s.ec != nil && s.c != net.Conn(s.ec) {
		s.ec.Close()
	}
	s.releaseWork()
	s.releaseConns()
	ls := s.ls
	ls.putPart(s.part)
	rt, l, stream := s.rt, s.l, s.stream
	if !stream {
		rt.leaveConn(&s.cc)
	}
	// Nothing keeps a session once its connection is served (logging is
	// synchronous, tunnels end before): recycle it, its Conn with it.
	fn, h2c := s.serveFn, s.h2c
	*s = session{serveFn: fn, h2c: h2c}
	s.live = -1
	ls.sessions.put(s)
	if stream {
		return
	}
	rt.endClient(l)
}

// work holds a session's per-request buffers and transaction (pooled).
type work struct {
	buf     []byte // client read buffer (tune.bufsize); data in buf[r:w]
	out     []byte // serialized heads
	scratch []byte // copy of a reply being re-framed
	req     http1.Message
	resp    http1.Message
	tx      Txn
	ch      http1.Chunked
	// chCounted is what of the chunked response body the log's byte
	// count already holds (see chunkBytes).
	chCounted int64
	// reqChCounted is the same for the chunked request body.
	reqChCounted int64
	key          PickKey    // the transaction's hashing inputs (escapes to the Picker)
	fb           filterBody // a filtered body's state (filter.go)
	abuf         []byte     // an applet's response head
}

func newWork() *work {
	w := &work{out: make([]byte, 0, 1024)}
	w.req.Headers = make([]http1.Header, 0, 32)
	w.resp.Headers = make([]http1.Header, 0, 32)
	return w
}

func (s *session) acquireWork() {
	if s.work != nil {
		return
	}
	w := s.ls.works.get()
	if len(w.buf) != s.rt.bufsize {
		w.buf = make([]byte, s.rt.bufsize)
	}
	s.work = w
	s.r, s.w, s.next = 0, 0, 0
	if len(s.part) > 0 {
		s.w = copy(w.buf, s.part)
		s.ls.putPart(s.part)
		s.part = nil
	}
}

func (s *session) releaseWork() {
	if s.work == nil {
		return
	}
	w := s.work
	s.work = nil
	s.r, s.w, s.next = 0, 0, 0
	// Drop references into the old buffers (and oversized arenas).
	w.req.Reset()
	w.resp.Reset()
	w.tx.reset()
	w.tx.Req, w.tx.Resp = nil, nil
	w.key = PickKey{}
	if cap(w.req.Arena) > 64<<10 {
		w.req.Arena = nil
	}
	if cap(w.scratch) > 64<<10 {
		w.scratch = nil
	}
	if cap(w.out) > 64<<10 {
		w.out = make([]byte, 0, 1024)
	}
	s.ls.works.put(w)
}

// releaseConns hands the session's server connections to the servers'
// idle pools (or closes them) when the client leaves.
func (s *session) releaseConns() {
	for i, sc := range s.conns {
		if sc == nil {
			continue
		}
		s.conns[i] = nil
		sc.owner = nil
		if sc.private || s.rt.stopping.Load() {
			sc.close()
		} else {
			sc.srv.putIdle(sc)
		}
	}
}

// drainInput reads and drops, without waiting, what the client already
// sent, before the connection closes after an error answer: closing a
// socket with unread input sends RST, which can destroy the answer before
// the client reads it. HAProxy drains pending input before closing for
// the same reason.
func drainInput(fd int) {
	var buf [4096]byte
	for total := 0; total < 256<<10; {
		n, err := rawtcp.Recv(fd, buf[:])
		if err != nil || n <= 0 {
			return
		}
		total += n
	}
}

// reqError answers a request the engine could not read with HAProxy's raw
// error page (Connection: close) and counts it. HAProxy's H1 layer sends
// that page itself: no byte is counted (log bytes_read 0, bout 0).
func (s *session) reqError(status int, first time.Time) {
	tx := &s.tx
	s.linger = true
	page := tx.muxErrorPage(status)
	s.cf.writeTimeout(pick(s.timeouts().Client, 5*time.Second))
	_, _ = s.c.Write(page)
	tx.Status = status
	tx.Refused = RefusedParse
	if status == 408 {
		tx.Refused = RefusedTimeout
	}
	s.fe.Counters.ErrReq.Add(1)
	s.fe.Counters.CountStatus(status)
	if status == 400 || status == 422 {
		tx.setTerm('P', 'R')
	}
	if !first.IsZero() {
		tx.ReqAt = first
		tx.Ta = s.lp.Now().Sub(first)
	}
	s.rt.logTxn(tx)
}

// startTunnel hands the connection to a tunnel after 101 Switching
// Protocols (WebSocket), bounded by timeout tunnel; tunnelEnd finishes
// the transaction and the session.
func (s *session) startTunnel() {
	sc, be := s.tunSC, s.tunBE
	fe := s.fe.Proxy
	tunTO := pick(s.tx.TunTimeout, be.Proxy.Timeouts.Tunnel) // set-timeout tunnel first
	cliTO := pick(tunTO, pick(fe.Timeouts.Tunnel, fe.Timeouts.Client))
	srvTO := pick(tunTO, s.tx.serverTimeout())
	// Bytes the client sent after the upgrade request go first; copied,
	// as the tunnel may hold them past this task.
	var cpre []byte
	if s.w > s.next {
		cpre = append([]byte(nil), s.buf[s.next:s.w]...)
	}
	t := s.tun
	*t = tunnel{
		cli: s.c, srv: sc.c, cliEC: s.ec, srvEC: sc.ec, cpre: cpre,
		cliTO: cliTO, srvTO: srvTO,
		cliFin: pick(fe.Timeouts.ClientFin, cliTO), srvFin: pick(be.Proxy.Timeouts.ServerFin, srvTO),
		end: s.tunnelEnd, ls: s.ls,
	}
	t.start()
}

func (s *session) tunnelEnd(in, out int64, cause byte) {
	tx := &s.tx
	sc, be := s.tunSC, s.tunBE
	tx.BytesIn += in
	tx.BytesOut += out
	if cause != 0 {
		tx.setTerm(cause, 'D')
	}
	tx.Ta = s.lp.Now().Sub(tx.ReqAt)
	s.countBytes(be)
	sc.hard = false // a tunnel ends with both sides shut, as in mode tcp
	s.dropConn(sc)
	s.tun, s.tunSC, s.tunBE = nil, nil, nil
	s.rt.logTxn(tx)
	s.end()
}
