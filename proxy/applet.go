package proxy

import (
	"time"

	"halo/proxy/http1"
)

// filteredResponse sends a server's response whose body goes through
// filters (filter.go), the head being in s.out, then lets the server
// connection go as transaction() does.
func (s *session) filteredResponse(sc *serverConn, be *Backend, inChunked bool, inLen int64, headLen int, cliKeep, srvKeep bool) bool {
	tx := &s.tx
	if err := s.filteredBody(sc, inChunked, inLen, nil, nil, headLen); err != nil {
		s.dropConn(sc)
		s.countBytes(be)
		return false
	}
	tx.Ta = time.Since(tx.ReqAt)
	s.countBytes(be)
	if srvKeep && sc.r == sc.w {
		sc.r, sc.w = 0, 0
		s.ls.bufs.put(sc.buf)
		sc.buf = nil
		s.keepConn(sc, be.Proxy.HTTPReuse)
	} else {
		s.dropConn(sc)
	}
	return cliKeep
}

// serveApplet answers the request with tx.Applet (a cache hit) instead of
// a server: its response runs the response rules, backend then frontend,
// and the filters, as a server's would.
func (s *session) serveApplet(be *Backend, cliKeep, bodyDone bool) bool {
	rt, tx, req, resp := s.rt, &s.tx, &s.req, &s.resp
	if !bodyDone {
		// The rest of the request body is never read.
		cliKeep = false
	}
	s.abuf = tx.Applet.AppendHead(tx, s.abuf[:0])
	if err := http1.ParseResponse(resp, s.abuf, len(s.abuf)); err != nil {
		tx.setTerm('P', 'H')
		return s.reply(tx.ErrorPage(500), cliKeep, 500)
	}
	// An applet answers at once: no queue, no connect, no wait.
	tx.Tw, tx.Tc, tx.Tr = 0, 0, 0
	tx.Resp = resp
	if tx.flt.n > 0 {
		tx.filterResponseHead()
	}
	v := rt.runResponse(tx, be.Proxy)
	if v == Continue && be.Proxy != s.fe.Proxy {
		v = rt.runResponse(tx, s.fe.Proxy)
	}
	if v != Continue {
		be.Counters.DeniedRsp.Add(1)
		return s.verdict(v, false)
	}
	noBody := http1.EqualFold(req.Method, "HEAD") || resp.Status < 200 || resp.Status == 204 || resp.Status == 304
	tx.Status = resp.Status
	s.fe.Counters.CountStatus(resp.Status)
	be.Counters.CountStatus(resp.Status)
	if rt.stopping.Load() {
		cliKeep = false
	}
	if !noBody && !resp.Chunked && resp.ContentLength < 0 {
		cliKeep = false // no length: the body ends with the connection
	}
	bodyFilters := false
	if tx.flt.n > 0 {
		bodyFilters = tx.filterHeaders() && !noBody
	}
	s.out = resp.AppendResponseHead(s.out[:0])
	s.out = appendConnHeader(s.out, cliKeep, !resp.Is11() || !req.Is11(), resp.Is11())
	s.out = append(s.out, '\r', '\n')
	headLen := len(s.out)
	data, trailers := tx.Applet.Body(tx)
	var err error
	switch {
	case bodyFilters:
		err = s.filteredBody(nil, false, 0, data, trailers, headLen)
	case noBody:
		err = s.writeHead(headLen, nil)
	case resp.Chunked:
		s.out = appendChunk(s.out, data)
		s.out = append(s.out, '0', '\r', '\n')
		s.out = append(s.out, trailers...)
		s.out = append(s.out, '\r', '\n')
		err = s.writeHead(headLen, nil)
	case len(data) <= 8192:
		s.out = append(s.out, data...)
		err = s.writeHead(headLen, nil)
	default:
		err = s.writeHead(headLen, data)
	}
	tx.Ta = time.Since(tx.ReqAt)
	s.countBytes(be)
	if err != nil {
		return false
	}
	return cliKeep
}

// writeHead writes s.out (a head of headLen bytes and what follows it),
// then body, counting the bytes as HAProxy does.
func (s *session) writeHead(headLen int, body []byte) error {
	tx := &s.tx
	s.cf.writeTimeout(s.timeouts().Client)
	n, err := s.c.Write(s.out)
	if n >= headLen {
		tx.BytesOut += htxHeadSize(s.out[:headLen]) + int64(n-headLen)
	}
	if err == nil && len(body) > 0 {
		n, err = s.c.Write(body)
		tx.BytesOut += int64(n)
	}
	if err != nil {
		tx.setTerm('C', 'D')
	}
	return err
}
