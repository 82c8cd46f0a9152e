package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"

	"halo/proxy/http1"
)

// connMode is the effective HTTP connection mode: HAProxy takes the
// strongest closing option of the frontend and the backend.
func connMode(fe, be *Proxy) ConnMode {
	m := fe.ConnMode
	if be != nil {
		if be.ConnMode == ConnClose || m == ConnClose {
			return ConnClose
		}
		if be.ConnMode > m {
			m = be.ConnMode
		}
	}
	return m
}

// transaction forwards one parsed request and its response. It returns
// whether the client connection may carry another request.
func (s *session) transaction() bool {
	rt, tx, req := s.rt, &s.tx, &s.req
	tx.Req = req
	tx.ReqLine = append(tx.ReqLine[:0], req.Method...)
	tx.ReqLine = append(tx.ReqLine, ' ')
	tx.ReqLine = append(tx.ReqLine, req.URI...)
	tx.ReqLine = append(tx.ReqLine, ' ')
	tx.ReqLine = append(tx.ReqLine, "HTTP/"...)
	tx.ReqLine = append(tx.ReqLine, byte('0'+req.Major), '.', byte('0'+req.Minor))
	s.fe.Counters.Requests.Add(1)
	// Filters (filter.go): the frontend's now, the backend's once chosen.
	tx.attachFilters(s.fe.Proxy, s.fe.filters)
	defer tx.releaseFilters()
	if string(req.Method) == "PRI" {
		// The HTTP/2 preface (or any PRI request) on an HTTP/1 listener:
		// HAProxy's stream refuses the method (400, re-framed).
		return s.badRequest()
	}

	// Request body framing and how much of it is already buffered.
	headEnd := s.r + req.HeadLen
	var bodyBuf []byte // body bytes already in s.buf
	bodyDone := true
	switch {
	case req.Chunked:
		s.ch.Reset(http1.ChunkLimit(rt.bufsize))
		n, done, err := s.ch.Feed(s.buf[headEnd:s.w])
		if err == http1.ErrChunkTooLarge {
			// HAProxy finds this once its buffer is full, after the
			// request was handed on: the answer is re-framed.
			return s.badRequest()
		}
		if err != nil {
			// Malformed framing read with the head: HAProxy's H1 layer
			// answers with the raw error page.
			s.reqError(400, tx.ReqAt)
			return false
		}
		bodyBuf, bodyDone = s.buf[headEnd:headEnd+n], done
	case req.ContentLength > 0:
		n := int64(s.w - headEnd)
		if n >= req.ContentLength {
			n = req.ContentLength
		} else {
			bodyDone = false
		}
		bodyBuf = s.buf[headEnd : headEnd+int(n)]
	}
	s.next = headEnd + len(bodyBuf)
	if !bodyDone {
		s.next = s.w
	}
	tx.ReqBody, tx.ReqBodyFull = bodyBuf, bodyDone
	// HAProxy counts the request as its HTX holds it (%U, the bytes in
	// of the stats): the head's blocks instead of its wire bytes, a
	// chunked body's data and trailers without the framing.
	tx.BytesIn += htxHeadSize(s.buf[s.r:headEnd]) - int64(req.HeadLen)
	s.reqChCounted = 0
	if req.Chunked {
		tx.BytesIn += s.reqChunkBytes(bodyDone) - int64(len(bodyBuf))
	}

	cliKeep := req.ConnKeepAlive
	if req.Is11() {
		cliKeep = !req.ConnClose
	}
	if req.MustClose || rt.stopping.Load() {
		// Ambiguous framing, or a soft stop: this answer says
		// "connection: close" and the connection ends after it.
		cliKeep = false
	}

	// Frontend rules, backend choice, backend rules.
	// A transaction answered before reaching a backend (deny, return,
	// the stats page) counts its bytes on the frontend and, as HAProxy's
	// stream starts with the frontend as its backend, on the frontend
	// proxy's own backend side (a listen's BACKEND row).
	if v := rt.runRequest(tx, s.fe.Proxy); v != Continue {
		keep := s.verdict(v, cliKeep && bodyDone)
		s.countBytes(rt.backends[s.fe.Proxy])
		return keep
	}
	be := rt.chooseBackend(tx)
	if be == nil {
		tx.setTerm('S', 'C')
		keep := s.reply(tx.ErrorPage(503), cliKeep && bodyDone, 503)
		s.countBytes(rt.backends[s.fe.Proxy])
		return keep
	}
	if be.Proxy != s.fe.Proxy {
		tx.attachFilters(be.Proxy, be.filters)
		if v := rt.runRequest(tx, be.Proxy); v != Continue {
			keep := s.verdict(v, cliKeep && bodyDone)
			s.countBytes(be)
			return keep
		}
	}
	be.Counters.connOpen()
	be.Counters.Requests.Add(1)
	defer tx.leaveBackend(be)
	mode := connMode(s.fe.Proxy, be.Proxy)
	if mode == ConnClose {
		cliKeep = false
	}
	s.addForwardHeaders(be.Proxy)
	if tx.flt.n > 0 {
		tx.filterRequest()
	}
	if tx.Applet != nil {
		return s.serveApplet(be, cliKeep, bodyDone)
	}

	// Serialize the request head for the server.
	srvKeep := mode == ConnKeepAlive
	s.out = req.AppendRequestHead(s.out[:0])
	if !req.MustClose && !req.ConnUpgrade {
		// (With ambiguous framing, or an upgrade, whose Connection
		// header goes out as the client wrote it, HAProxy adds no token.)
		s.out = appendConnHeader(s.out, srvKeep || mode == ConnPretendKeepAlive, !req.Is11(), req.Is11())
	}
	s.out = append(s.out, '\r', '\n')
	if req.MustClose {
		srvKeep = false // ambiguous framing: never reuse this connection
	}
	replayable := bodyDone
	switch {
	case req.Chunked:
		// Chunked bodies go out normalized, as HAProxy forwards them
		// (sizes in hex without extensions, CRLF); the decoder ends in
		// the same state as the validating pass above.
		s.ch.Reset(http1.ChunkLimit(rt.bufsize))
		s.out, _, _, _ = s.ch.Rewrite(s.out, bodyBuf)
		bodyBuf = nil
		if bodyDone {
			tx.ReqChunked = s.ch.HTXSize()
		}
	case len(bodyBuf) <= 4096:
		s.out = append(s.out, bodyBuf...)
		bodyBuf = nil
	}

	key := &s.key
	*key = PickKey{Src: s.src, Dst: s.dst, Req: req, Txn: tx}
	resp := &s.resp
	var sc *serverConn
	var reqSent time.Time
	expectPending := false
	for try := 0; ; try++ {
		var err error
		sc, err = s.serverConn(key)
		if err != nil {
			be.Counters.CountStatus(503)
			return s.reply(tx.ErrorPage(503), cliKeep && bodyDone, 503)
		}
		tx.ServerTLS = sc.tls
		reused := sc.reqs > 0
		// A reused connection the server closed meanwhile fails on write
		// or gives EOF before any response byte: retry once on a new
		// connection while the whole request is still in our buffers.
		canRetry := reused && try == 0 && replayable
		sc.reqs++
		sc.f.writeTimeout(tx.serverTimeout())
		_, err = sc.c.Write(s.out)
		if err == nil && len(bodyBuf) > 0 {
			_, err = sc.c.Write(bodyBuf)
		}
		if err != nil {
			sc.close()
			if canRetry {
				continue
			}
			s.rt.releaseServer(tx)
			return s.serverFail(be, 502, 'S', 'H', cliKeep && bodyDone)
		}
		if try == 0 {
			tx.Server.Counters.Requests.Add(1)
		}
		reqSent = s.lp.Now()
		// 100-continue: the client waits for the interim answer before
		// sending the body, so read the server's answer first.
		expectPending = req.Expect100 && !bodyDone
		if !bodyDone && !expectPending {
			if err := s.streamRequestBody(sc, req); err != nil {
				return s.bodyFail(sc, be, err, cliKeep)
			}
			bodyDone = true
		}
		err = s.readResponseHead(sc, tx.serverTimeout())
		if err == nil {
			break
		}
		if canRetry && sc.w == 0 && !isTimeout(err) {
			sc.close()
			continue
		}
		s.dropConn(sc)
		observeReadError(tx.Server, err)
		if isTimeout(err) {
			be.Counters.CountStatus(504)
			return s.serverFail(be, 504, 's', 'H', cliKeep && bodyDone)
		}
		return s.serverFail(be, 502, 'S', 'H', cliKeep && bodyDone)
	}

	// Interim 1xx answers are forwarded as they come.
	for resp.Status < 200 && resp.Status != 101 {
		s.out = resp.AppendResponseHead(s.out[:0])
		s.out = append(s.out, '\r', '\n')
		s.cf.writeTimeout(s.timeouts().Client)
		if _, err := s.c.Write(s.out); err != nil {
			s.dropConn(sc)
			tx.setTerm('C', 'H')
			return false
		}
		sc.r += resp.HeadLen
		if resp.Status == 100 && expectPending {
			expectPending = false
			if err := s.streamRequestBody(sc, req); err != nil {
				return s.bodyFail(sc, be, err, cliKeep)
			}
			bodyDone = true
		}
		if err := s.readResponseHead(sc, tx.serverTimeout()); err != nil {
			s.dropConn(sc)
			observeReadError(tx.Server, err)
			if isTimeout(err) {
				return s.serverFail(be, 504, 's', 'H', false)
			}
			return s.serverFail(be, 502, 'S', 'H', false)
		}
	}
	if resp.Status == 101 && !req.ConnUpgrade {
		// A switch the client did not ask for ("Connection: upgrade"):
		// HAProxy answers 502 and the client's next request is filtered
		// as usual, never tunnelled past the rules.
		s.dropConn(sc)
		return s.serverFail(be, 502, 'S', 'H', cliKeep && bodyDone)
	}
	tx.Tr = s.lp.Now().Sub(reqSent)
	// HAProxy counts the response head as it came in from the server:
	// what its rules add or change (a cookie inserted, set-header) is
	// not in the byte counters.
	srvHead := htxHeadSize(sc.buf[sc.r : sc.r+resp.HeadLen])
	// told once the session has left the server: HAProxy's messages then
	// count it no more ("0 sessions active", recorded in observe.case)
	tx.observed = statusObservation(resp.Status)
	tx.Resp = resp
	if tx.flt.n > 0 {
		tx.filterResponseHead()
	}
	if !bodyDone {
		// Final answer without 100 Continue: the body will never come on
		// this connection.
		cliKeep, srvKeep = false, false
	}
	// Response rules: backend, then frontend.
	if v := rt.runResponse(tx, be.Proxy); v == Continue && be.Proxy != s.fe.Proxy {
		v = rt.runResponse(tx, s.fe.Proxy)
		if v != Continue {
			s.dropConn(sc)
			be.Counters.DeniedRsp.Add(1)
			return s.verdict(v, false)
		}
	} else if v != Continue {
		s.dropConn(sc)
		be.Counters.DeniedRsp.Add(1)
		return s.verdict(v, false)
	}

	// Response framing.
	noBody := http1.EqualFold(req.Method, "HEAD") || resp.Status < 200 || resp.Status == 204 || resp.Status == 304
	if resp.Status == 204 {
		// RFC 9110 §8.6: no Content-Length (nor framing) in a 204;
		// HAProxy removes them (a 304 keeps its Content-Length, which
		// describes the representation).
		resp.DelHeader("content-length")
		resp.DelHeader("transfer-encoding")
	}
	untilClose := !noBody && !resp.Chunked && resp.ContentLength < 0
	upgrade := resp.Status == 101
	if untilClose || upgrade {
		srvKeep = false
	}
	if untilClose {
		cliKeep = false
	}
	if resp.ConnClose || resp.MustClose || (!resp.Is11() && !resp.ConnKeepAlive) {
		srvKeep = false
	}
	tx.Status = resp.Status
	s.fe.Counters.CountStatus(resp.Status)
	be.Counters.CountStatus(resp.Status)
	tx.Server.Counters.CountStatus(resp.Status)

	if rt.stopping.Load() {
		// A soft stop began while this request was served: this answer
		// tells the client the connection ends after it.
		cliKeep = false
	}
	// The filters' Headers stage may rewrite the head (compression): the
	// body is read as the server framed it.
	bodyFilters := false
	inChunked, inLen := resp.Chunked, resp.ContentLength
	if tx.flt.n > 0 && !upgrade {
		bodyFilters = tx.filterHeaders() && !noBody
	}
	s.out = resp.AppendResponseHead(s.out[:0])
	if !upgrade {
		// (A 101's Connection header goes out as the server wrote it.)
		s.out = appendConnHeader(s.out, cliKeep, !resp.Is11() || !req.Is11(), resp.Is11())
	}
	s.out = append(s.out, '\r', '\n')
	headLen := len(s.out)
	sc.r += resp.HeadLen
	if bodyFilters {
		return s.filteredResponse(sc, be, inChunked, inLen, headLen, cliKeep, srvKeep)
	}
	// Body bytes already read from the server.
	var pre []byte
	respDone := noBody
	if !noBody {
		avail := sc.buf[sc.r:sc.w]
		switch {
		case resp.Chunked:
			s.ch.Reset(http1.ChunkLimit(s.rt.bufsize))
			s.chCounted = 0
			mark := len(s.out)
			out, n, done, err := s.ch.Rewrite(s.out, avail)
			if err != nil {
				// Nothing of this response went out yet: the client
				// connection stays usable, as with HAProxy.
				s.out = s.out[:mark]
				s.dropConn(sc)
				return s.serverFail(be, 502, 'S', 'D', cliKeep)
			}
			// Normalized body bytes follow the head in s.out.
			s.out, respDone = out, done
			if done {
				tx.RespChunked = s.ch.HTXSize()
			}
			sc.r += n
		case resp.ContentLength >= 0:
			n := int64(len(avail))
			if n >= resp.ContentLength {
				n, respDone = resp.ContentLength, true
			}
			pre = avail[:n]
		default:
			pre = avail
		}
		sc.r += len(pre)
	}
	if upgrade {
		pre = sc.buf[sc.r:sc.w]
		sc.r = sc.w
	}
	preLen := int64(len(pre))
	if len(pre) <= 8192 {
		s.out = append(s.out, pre...)
		pre = nil
	}
	s.cf.writeTimeout(s.timeouts().Client)
	n, err := s.c.Write(s.out)
	if n >= headLen {
		if resp.Chunked && !noBody && !upgrade {
			tx.BytesOut += srvHead + s.chunkBytes(respDone)
		} else {
			tx.BytesOut += srvHead + int64(n-headLen)
		}
	}
	if err == nil && len(pre) > 0 {
		n, err = s.c.Write(pre)
		tx.BytesOut += int64(n)
	}
	if err != nil {
		s.dropConn(sc)
		tx.setTerm('C', 'D')
		s.countBytes(be)
		return false
	}
	if upgrade {
		s.upgradeTunnel(sc, be)
		return false
	}
	if !respDone {
		if err := s.streamResponseBody(sc, resp, untilClose, preLen); err != nil {
			s.dropConn(sc)
			s.countBytes(be)
			return false
		}
	}
	tx.Ta = s.lp.Now().Sub(tx.ReqAt)
	s.countBytes(be)
	if srvKeep && sc.r == sc.w {
		// Idle server connections do not hold a buffer.
		sc.r, sc.w = 0, 0
		s.ls.bufs.put(sc.buf)
		sc.buf = nil
		s.keepConn(sc, be.Proxy.HTTPReuse)
	} else {
		s.dropConn(sc)
	}
	return cliKeep
}

// chunkBytes is what the chunked response body forwarded since the last
// call adds to the log's byte count: HAProxy counts the body as its HTX
// holds it, the data and trailers without the chunk framing, plus one
// for the end of the message (Chunked.HTXSize).
func (s *session) chunkBytes(done bool) int64 {
	t := s.ch.Body + s.ch.Trailers
	if done {
		t++
	}
	d := t - s.chCounted
	s.chCounted = t
	return d
}

// reqChunkBytes is chunkBytes for the chunked request body.
func (s *session) reqChunkBytes(done bool) int64 {
	t := s.ch.Body + s.ch.Trailers
	if done {
		t++
	}
	d := t - s.reqChCounted
	s.reqChCounted = t
	return d
}

func (s *session) countBytes(be *Backend) {
	tx := &s.tx
	s.fe.Counters.BytesIn.Add(tx.BytesIn)
	s.fe.Counters.BytesOut.Add(tx.BytesOut)
	if be == nil {
		return
	}
	be.Counters.BytesIn.Add(tx.BytesIn)
	be.Counters.BytesOut.Add(tx.BytesOut)
	if tx.Server != nil {
		tx.Server.Counters.BytesIn.Add(tx.BytesIn)
		tx.Server.Counters.BytesOut.Add(tx.BytesOut)
	}
}

// appendConnHeader adds the Connection token HAProxy's H1 mux emits
// (h1_update_req_conn_value / h1_update_res_conn_value), in a header of
// its own after the others: "keep-alive" when keeping the connection and
// addKA (the peer would otherwise close), "close" when closing and
// addClose (the peer would otherwise keep it). The message's own
// Connection headers (upgrade and other tokens) were written in place by
// AppendRequestHead / AppendResponseHead.
func appendConnHeader(dst []byte, keep, addKA, addClose bool) []byte {
	switch {
	case keep && addKA:
		dst = append(dst, "connection: keep-alive\r\n"...)
	case !keep && addClose:
		dst = append(dst, "connection: close\r\n"...)
	}
	return dst
}

// addForwardHeaders applies option forwardfor / originalto of the
// frontend or the backend (HAProxy: either enables it; the backend's
// header name wins).
func (s *session) addForwardHeaders(be *Proxy) {
	fe := s.fe.Proxy
	req := &s.req
	ff := be.Forwardfor
	if !ff.Enabled {
		ff = fe.Forwardfor
	}
	if ff.Enabled && s.src.Addr().IsValid() {
		name := ff.Header
		if name == "" {
			name = "X-Forwarded-For"
		}
		src := s.src.Addr()
		except := inPrefixes(src, fe.Forwardfor.Except) || inPrefixes(src, be.Forwardfor.Except)
		if !except && !(ff.IfNone && req.Count(name) > 0) {
			var tmp [64]byte
			req.AddHeaderBytes([]byte(name), src.AppendTo(tmp[:0]))
		}
	}
	ot := be.Originalto
	if !ot.Enabled {
		ot = fe.Originalto
	}
	if ot.Enabled && s.dst.Addr().IsValid() {
		name := ot.Header
		if name == "" {
			name = "X-Original-To"
		}
		dst := s.dst.Addr()
		if !inPrefixes(dst, fe.Originalto.Except) && !inPrefixes(dst, be.Originalto.Except) {
			var tmp [64]byte
			req.AddHeaderBytes([]byte(name), dst.AppendTo(tmp[:0]))
		}
	}
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// serverConn returns a connection to a server for this request, honouring
// http-reuse: the session's own connection to the picked server first,
// then (not for a session's first request in safe mode, never with
// `never`) an idle one, else a new one (with retries and redispatch).
func (s *session) serverConn(key *PickKey) (*serverConn, error) {
	tx := &s.tx
	be := tx.Backend
	tx.Tw = 0
	if !tx.held {
		// Queueing for a server slot lasts timeout queue (default:
		// timeout connect), as HAProxy; Tw is the time spent there.
		t0 := s.lp.Now()
		if q := pick(be.Proxy.Timeouts.Queue, be.Proxy.Timeouts.Connect); q > 0 && key.Deadline.IsZero() {
			key.Deadline = t0.Add(q)
		}
		err := be.hold(tx, key)
		tx.Tw = s.lp.Now().Sub(t0)
		if err != nil {
			tx.setTerm('S', 'C')
			if errors.Is(err, ErrQueueTimeout) {
				tx.setTerm('s', 'Q')
			}
			return nil, err
		}
	}
	srv := tx.Server
	for i, sc := range s.conns {
		if sc != nil && sc.srv == srv {
			s.conns[i] = nil
			sc.owner = nil
			sc.unpark()
			sc.unmarkIdle()
			tx.Tc = 0
			sc.buf = s.ls.bufs.get()
			return sc, nil
		}
	}
	reuse := be.Proxy.HTTPReuse
	if reuse != ReuseNever && (!tx.firstReq || reuse == ReuseAlways || reuse == ReuseAggressive) {
		if sc := srv.takeIdle(s.lp); sc != nil {
			tx.Tc = 0
			sc.buf = s.ls.bufs.get()
			return sc, nil
		}
	}
	sc, err := s.rt.connect(tx, key)
	if err != nil {
		return nil, err
	}
	sc.buf = s.ls.bufs.get()
	sc.private = reuse == ReuseNever
	sc.hard = true
	return sc, nil
}

// keepConn attaches sc to the session for its next requests (or closes
// it when the idle connection budget is used up).
func (s *session) keepConn(sc *serverConn, reuse HTTPReuse) {
	s.rt.releaseServer(&s.tx)
	if !sc.markIdle() {
		sc.close()
		return
	}
	sc.owner = s
	sc.park()
	for i := range s.conns {
		if s.conns[i] == nil {
			s.conns[i] = sc
			return
		}
	}
	// Full: the oldest goes to its server's idle pool.
	old := s.conns[0]
	copy(s.conns[:], s.conns[1:])
	s.conns[len(s.conns)-1] = sc
	old.owner = nil
	if old.private {
		old.close()
	} else {
		old.srv.putIdle(old)
	}
}

// dropConn closes sc and releases the server slot.
func (s *session) dropConn(sc *serverConn) {
	sc.close()
	s.rt.releaseServer(&s.tx)
}

func (rt *Runtime) releaseServer(tx *Txn) {
	if tx.held && !tx.released {
		tx.released = true
		// As HAProxy's, the log's srv_conn counts the server's other
		// sessions.
		tx.Backend.Picker.Release(tx.Server)
		tx.SrvConn = tx.Server.Counters.CurConns.Load()
	}
	if tx.observed != 0 {
		observe(tx.Server, tx.observed)
		tx.observed = 0
	}
}

// serverFail answers a server-side failure with the error page.
func (s *session) serverFail(be *Backend, status int, cause, state byte, keep bool) bool {
	tx := &s.tx
	tx.setTerm(cause, state)
	be.Counters.ErrResp.Add(1)
	if tx.Server != nil {
		tx.Server.Counters.ErrResp.Add(1)
	}
	s.rt.releaseServer(tx)
	return s.reply(tx.ErrorPage(status), keep, status)
}

func (s *session) bodyFail(sc *serverConn, be *Backend, err error, keep bool) bool {
	s.dropConn(sc)
	tx := &s.tx
	badChunk := errors.Is(err, http1.ErrBadChunk) || errors.Is(err, http1.ErrChunkTooLarge)
	if errors.Is(err, errClientGone) || badChunk {
		tx.setTerm('C', 'D')
		if badChunk {
			s.linger = true
			s.reply(tx.ErrorPage(400), false, 400)
		}
		return false
	}
	if isTimeout(err) {
		tx.setTerm('c', 'D')
		s.reply(tx.ErrorPage(408), false, 408)
		return false
	}
	return s.serverFail(be, 502, 'S', 'D', false)
}

// badRequest answers 400 with the re-framed error page, closes the
// connection and counts the request as invalid: HAProxy's answer to a
// request its stream refuses after the H1 layer accepted the head.
func (s *session) badRequest() bool {
	tx := &s.tx
	s.linger = true
	s.fe.Counters.ErrReq.Add(1)
	tx.setTerm('P', 'R')
	tx.Refused = RefusedStream
	return s.reply(tx.ErrorPage(400), false, 400)
}

// verdict carries out a hook's non-Continue verdict.
func (s *session) verdict(v Verdict, keep bool) bool {
	tx := &s.tx
	if v == Reject || tx.Reply == nil {
		tx.setTerm('P', 'R')
		return false
	}
	if tx.ReplyClose {
		keep = false
	}
	tx.setTerm('P', 'R')
	return s.reply(tx.Reply, keep, 0)
}

// reply sends a raw HTTP response (error page, deny, return, redirect)
// re-framed as HAProxy's HTX path does: header names lower-cased, the
// Connection header set for the client connection's fate, no body for
// HEAD. A response that does not parse is sent as is and the connection
// closed.
func (s *session) reply(raw []byte, keep bool, status int) bool {
	tx := &s.tx
	if s.rt.stopping.Load() {
		keep = false // soft stop: this answer says "connection: close"
	}
	s.scratch = append(s.scratch[:0], raw...)
	var m http1.Message
	m.Headers = s.resp.Headers[:0]
	s.cf.writeTimeout(pick(s.timeouts().Client, 5*time.Second))
	if err := http1.ParseResponse(&m, s.scratch, len(s.scratch)); err != nil {
		n, _ := s.c.Write(raw)
		tx.BytesOut += int64(n)
		tx.Status = status
		return false
	}
	s.resp = m
	if m.ConnClose || (m.ContentLength < 0 && !m.Chunked) {
		// An errorfile saying "Connection: close", or without a length,
		// ends the connection (as HAProxy does).
		keep = false
	}
	tx.Status = m.Status
	if status == 0 || status != 503 {
		s.fe.Counters.CountStatus(m.Status)
	} else {
		s.fe.Counters.CountStatus(status)
	}
	req := &s.req
	s.out = m.AppendResponseHead(s.out[:0])
	s.out = appendConnHeader(s.out, keep, !req.Is11(), true)
	s.out = append(s.out, '\r', '\n')
	headLen := len(s.out)
	if !http1.EqualFold(req.Method, "HEAD") {
		s.out = append(s.out, s.scratch[m.HeadLen:]...)
	}
	n, _ := s.c.Write(s.out)
	// HAProxy counts the reply as its HTX holds it: the raw message's
	// head (its own Connection header included), then the body sent.
	if n >= headLen {
		tx.BytesOut += htxHeadSize(raw[:m.HeadLen]) + int64(n-headLen)
	}
	if tx.Ta < 0 && !tx.ReqAt.IsZero() {
		tx.Ta = s.lp.Now().Sub(tx.ReqAt)
	}
	return keep
}

// readResponseHead reads from sc until a response head parses.
func (s *session) readResponseHead(sc *serverConn, timeout time.Duration) error {
	sc.f.readTimeout(timeout)
	for {
		if sc.w > sc.r {
			err := http1.ParseResponse(&s.resp, sc.buf[sc.r:sc.w], s.rt.headLimit)
			if err == nil {
				return nil
			}
			if err != http1.ErrIncomplete {
				return err
			}
		}
		if sc.r > 0 {
			n := copy(sc.buf, sc.buf[sc.r:sc.w])
			sc.r, sc.w = 0, n
		}
		if sc.w == len(sc.buf) {
			return http1.ErrTooLarge
		}
		n, err := sc.f.Read(sc.buf[sc.w:])
		sc.w += n
		if n == 0 && err != nil {
			if err == io.EOF {
				sc.hard = false // the server closed first
				return errServerGone
			}
			return err
		}
	}
}

// streamRequestBody copies the rest of the request body (what was not in
// the client buffer) from the client to the server through sc.buf.
func (s *session) streamRequestBody(sc *serverConn, req *http1.Message) error {
	tx := &s.tx
	var remain int64
	if !req.Chunked {
		remain = req.ContentLength - int64(s.w-(s.r+req.HeadLen))
	}
	cliTO := s.timeouts().Client
	srvTO := tx.serverTimeout()
	// Use the server buffer's free end as scratch: bytes the server may
	// already have sent (after a 100 Continue) stay untouched.
	if sc.r > 0 {
		n := copy(sc.buf, sc.buf[sc.r:sc.w])
		sc.r, sc.w = 0, n
	}
	buf := sc.buf[sc.w:]
	for {
		s.cf.readTimeout(cliTO)
		lim := len(buf)
		if !req.Chunked && remain < int64(lim) {
			lim = int(remain)
		}
		n, err := s.cf.Read(buf[:lim])
		if n > 0 {
			tx.BytesIn += int64(n)
			body := buf[:n]
			done := false
			if req.Chunked {
				var k int
				var d bool
				var cerr error
				s.out, k, d, cerr = s.ch.Rewrite(s.out[:0], body)
				// the chunk framing read does not count (chunkBytes)
				tx.BytesIn += s.reqChunkBytes(d) - int64(n)
				if cerr != nil {
					return cerr
				}
				done = d
				if d {
					tx.ReqChunked = s.ch.HTXSize()
				}
				if k < n {
					// Pipelined bytes after the body: keep them for the next
					// request, after what the client buffer holds.
					extra := buf[k:n]
					if s.w+len(extra) > len(s.buf) {
						return http1.ErrBadChunk
					}
					s.w += copy(s.buf[s.w:], extra)
				}
				body = s.out
			} else {
				remain -= int64(n)
				done = remain == 0
			}
			sc.f.writeTimeout(srvTO)
			if _, werr := sc.c.Write(body); werr != nil {
				return werr
			}
			if done {
				return nil
			}
			continue
		}
		if err != nil {
			if isTimeout(err) {
				return err
			}
			return errClientGone
		}
	}
}

// streamResponseBody copies the rest of the response body from the server
// to the client through sc.buf.
func (s *session) streamResponseBody(sc *serverConn, resp *http1.Message, untilClose bool, sent int64) error {
	tx := &s.tx
	var remain int64
	if !resp.Chunked && !untilClose {
		remain = resp.ContentLength - sent
	}
	srvTO := tx.serverTimeout()
	cliTO := s.timeouts().Client
	sc.r, sc.w = 0, 0
	if !resp.Chunked && (untilClose || remain >= spliceMin) && s.c == net.Conn(s.ec) && sc.c == net.Conn(sc.ec) {
		return s.spliceResponseBody(sc, untilClose, remain, srvTO, cliTO)
	}
	buf := sc.buf
	// A large body that is not chunked (nothing can follow it in the
	// buffer) moves through a bigger borrowed buffer: a quarter of the
	// read and write calls, and of the waits between them.
	if !resp.Chunked && (untilClose || remain > int64(2*len(buf))) {
		big := s.ls.bigs.get()
		defer s.ls.bigs.put(big)
		buf = big
	}
	for {
		sc.f.readTimeout(srvTO)
		lim := len(buf)
		if !resp.Chunked && !untilClose && remain < int64(lim) {
			lim = int(remain)
		}
		n, err := sc.f.Read(buf[:lim])
		if n > 0 {
			body := buf[:n]
			done := false
			switch {
			case resp.Chunked:
				out, k, d, cerr := s.ch.Rewrite(s.out[:0], body)
				if cerr != nil {
					tx.setTerm('S', 'D')
					return cerr
				}
				if d && k < n {
					sc.r, sc.w = k, n // bytes after the body: never reuse
				}
				if d {
					tx.RespChunked = s.ch.HTXSize()
				}
				s.out = out
				body, done = out, d
			case !untilClose:
				remain -= int64(n)
				done = remain == 0
			}
			s.cf.writeTimeout(cliTO)
			w, werr := s.c.Write(body)
			if resp.Chunked {
				if w > 0 {
					tx.BytesOut += s.chunkBytes(done)
				}
			} else {
				tx.BytesOut += int64(w)
			}
			if werr != nil {
				tx.setTerm('C', 'D')
				return werr
			}
			if done {
				return nil
			}
			continue
		}
		if err != nil {
			if err == io.EOF {
				sc.hard = false // the server closed first
			}
			if untilClose && err == io.EOF {
				return nil
			}
			if isTimeout(err) {
				tx.setTerm('s', 'D')
			} else {
				tx.setTerm('S', 'D')
			}
			return err
		}
	}
}

// spliceMin is the body size from which a response body between two
// plain sockets moves with splice(2) rather than through a buffer.
const spliceMin = 16 << 10

// spliceResponseBody moves the rest of a content-length (or until-close)
// response body from the server to the client inside the kernel: no
// filter looks at it, so it never needs to visit user space.
func (s *session) spliceResponseBody(sc *serverConn, untilClose bool, remain int64, srvTO, cliTO time.Duration) error {
	tx := &s.tx
	n := remain
	if untilClose {
		n = -1
	}
	moved, rerr, werr := s.lp.Splice(s.ec, sc.ec, n, srvTO, cliTO)
	tx.BytesOut += moved
	switch {
	case werr != nil:
		tx.setTerm('C', 'D')
		return werr
	case rerr != nil:
		if rerr == io.ErrUnexpectedEOF {
			sc.hard = false // the server closed first
		}
		if isTimeout(rerr) {
			tx.setTerm('s', 'D')
		} else {
			tx.setTerm('S', 'D')
		}
		return rerr
	}
	if untilClose {
		sc.hard = false // the server closed first
	}
	return nil
}

// upgradeTunnel turns the connection into a tunnel after 101 Switching
// Protocols (WebSocket), bounded by timeout tunnel: the session hands the
// connection to it once the transaction returns (startTunnel).
func (s *session) upgradeTunnel(sc *serverConn, be *Backend) {
	s.tunSC, s.tunBE = sc, be
	s.tun = &tunnel{}
}

// htxHeadSize is how HAProxy's byte counters (the log's bytes_read, stats'
// bout) count a response head: as its HTX holds it, 21 bytes for the
// start line's block plus the version, status and reason, then each
// header's name and value, a Connection header without its close and
// keep-alive tokens (the H1 layer handles those), left out when empty. Measured on haproxy 2.6.12 on this box, e.g. 49 for
// "HTTP/1.1 200 OK" with content-length: 0 sent with connection: close,
// 217 for its built-in 503 page. head is a raw head, start line first.
func htxHeadSize(head []byte) int64 {
	i := bytes.IndexByte(head, '\n')
	if i < 0 {
		return int64(len(head))
	}
	sl := bytes.TrimRight(head[:i], "\r")
	n := 21 + len(sl) - min(bytes.Count(sl, []byte(" ")), 2)
	rest := head[i+1:]
	for len(rest) > 0 {
		j := bytes.IndexByte(rest, '\n')
		if j < 0 {
			break
		}
		line := bytes.TrimRight(rest[:j], "\r")
		rest = rest[j+1:]
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		if http1.EqualFold(name, "connection") {
			// the H1 layer takes close and keep-alive out (and drops
			// the header when nothing else is left)
			if c := http1.CleanConnLen(value); c > 0 {
				n += len(name) + int(c)
			}
			continue
		}
		n += len(name) + len(bytes.Trim(value, " \t"))
	}
	return int64(n)
}
