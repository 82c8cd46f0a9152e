package proxy

import (
	"fmt"
	"io"
	"strconv"

	"halo/proxy/http1"
)

// Filters (configuration.txt §9, HAProxy's stream filters): the cache and
// the compression see a transaction's response on its way to the client.
//
// A proxy's filters (Proxy.Filters, in evaluation order) are built once
// per configuration by the module that implements them
// (Module.NewFilter). A transaction is filtered by its frontend's filters,
// attached when it starts, then by its backend's, attached once the
// backend is chosen (before the backend's request rules): HAProxy's order.
// Each attached filter gets a FilterSlot and is called, in that order:
//
//  1. Request, after the request rules of both proxies, before the request
//     is sent to a server or answered by an Applet (compression picks its
//     algorithm from Accept-Encoding here);
//  2. ResponseHead, once the response head is parsed (from the server or
//     the applet), before the response rules (compression decides here;
//     res.comp is known to the rules);
//  3. Headers, after the response rules: it may rewrite tx.Resp
//     (compression's Content-Encoding, Vary, ETag, chunked framing) and
//     says whether it takes part in the body;
//  4. Data for each piece of the body and End after the last, through the
//     filters that asked for it, each one's output the next one's input;
//  5. Release, always, once per attached filter.
//
// A transaction without filters costs nothing: no slot is touched. Filters
// keep their per-transaction state in FilterSlot.State, from pools of
// their own.
type Filter interface {
	Request(tx *Txn, f *FilterSlot)
	ResponseHead(tx *Txn, f *FilterSlot)
	// Headers returns whether the filter sees the body.
	Headers(tx *Txn, f *FilterSlot) bool
	// Data returns what goes on: p itself for a filter that only looks,
	// or a buffer of its own, valid until its next call.
	Data(tx *Txn, f *FilterSlot, p []byte) []byte
	// End is called once after the last piece; complete is false when the
	// body was cut short. It returns the filter's last output.
	End(tx *Txn, f *FilterSlot, complete bool) []byte
	Release(tx *Txn, f *FilterSlot)
}

// FilterSlot is a filter attached to one transaction.
type FilterSlot struct {
	Filter Filter
	// Proxy declared the filter.
	Proxy *Proxy
	// State is the filter's state for this transaction (nil until the
	// filter sets it).
	State any
	body  bool
}

// Applet answers a request in a server's place (HAProxy's applets: a hit
// of `http-request cache-use`). A Request hook sets tx.Applet; the response
// it gives then runs the response rules and the filters as a server's
// would.
type Applet interface {
	// Name is what logs show as the server ("<CACHE>").
	Name() string
	// AppendHead appends the response head (status line, header lines,
	// the empty line) to dst.
	AppendHead(tx *Txn, dst []byte) []byte
	// Body returns the body and the trailer fields ("name: value\r\n"
	// lines) of a chunked one; read-only.
	Body(tx *Txn) (data, trailers []byte)
}

// TxnCache is what the cache keeps per transaction (HAProxy's txn cache
// fields): the keys `http-request cache-use` computed, which
// `http-response cache-store` and the cache filter reuse.
type TxnCache struct {
	// Key is the SHA-1 of the request's URI (with its host); HasKey says
	// it was computed.
	Key    [20]byte
	HasKey bool
	// Secondary is the variant key (accept-encoding and referer parts);
	// HasSecondary says it could be built.
	Secondary    [8]byte
	HasSecondary bool
	// Ignore: the request must not use nor fill a cache (HTTP/1.0, not
	// GET/HEAD, Cache-Control: no-cache …); NotCacheable: the response
	// must not be stored (Authorization, no-store).
	Ignore, NotCacheable bool
	// Entry is the cache entry answering the request (with tx.Applet);
	// NotModified says it answers 304 (a conditional request matched).
	Entry       any
	NotModified bool
	// Name is the cache that answered (res.cache_name).
	Name string
}

// maxTxnFilters bounds the filters of a transaction (its frontend's and
// its backend's); maxProxyFilters those of one proxy.
const (
	maxTxnFilters   = 8
	maxProxyFilters = maxTxnFilters / 2
)

type filterChain struct {
	n     int
	slots [maxTxnFilters]FilterSlot
}

// buildFilters asks the modules for each proxy's filters.
func (rt *Runtime) buildFilters(p *Proxy) ([]Filter, error) {
	if len(p.Filters) == 0 || p.Mode != ModeHTTP {
		return nil, nil
	}
	if len(p.Filters) > maxProxyFilters {
		return nil, fmt.Errorf("proxy '%s': more than %d filters", p.Name, maxProxyFilters)
	}
	var out []Filter
	for i := range p.Filters {
		fc := &p.Filters[i]
		var f Filter
		for _, m := range rt.modules {
			if m.NewFilter == nil {
				continue
			}
			var err error
			if f, err = m.NewFilter(rt, p, fc); err != nil {
				return nil, fmt.Errorf("proxy '%s': filter %s: %w", p.Name, fc.Name, err)
			}
			if f != nil {
				break
			}
		}
		if f == nil {
			return nil, fmt.Errorf("proxy '%s': filter %s is not implemented", p.Name, fc.Name)
		}
		out = append(out, f)
	}
	return out, nil
}

// attachFilters adds a proxy's filters to the transaction.
func (tx *Txn) attachFilters(px *Proxy, fs []Filter) {
	for _, f := range fs {
		c := &tx.flt
		if c.n == maxTxnFilters {
			return
		}
		c.slots[c.n] = FilterSlot{Filter: f, Proxy: px}
		c.n++
	}
}

// FilterSlot returns filter f's slot in the transaction, nil when f is not
// attached to it (as HAProxy's cache-store looks its filter up among the
// stream's).
func (tx *Txn) FilterSlot(f Filter) *FilterSlot {
	for i := 0; i < tx.flt.n; i++ {
		if tx.flt.slots[i].Filter == f {
			return &tx.flt.slots[i]
		}
	}
	return nil
}

func (tx *Txn) filterRequest() {
	for i := 0; i < tx.flt.n; i++ {
		sl := &tx.flt.slots[i]
		sl.Filter.Request(tx, sl)
	}
}

func (tx *Txn) filterResponseHead() {
	for i := 0; i < tx.flt.n; i++ {
		sl := &tx.flt.slots[i]
		sl.Filter.ResponseHead(tx, sl)
	}
}

// filterHeaders runs the Headers stage; it reports whether a filter
// takes part in the body.
func (tx *Txn) filterHeaders() bool {
	any := false
	for i := 0; i < tx.flt.n; i++ {
		sl := &tx.flt.slots[i]
		sl.body = sl.Filter.Headers(tx, sl)
		any = any || sl.body
	}
	return any
}

// filterData runs p through the filters from slot `from` on.
func (tx *Txn) filterData(from int, p []byte) []byte {
	for i := from; i < tx.flt.n; i++ {
		sl := &tx.flt.slots[i]
		if sl.body && len(p) > 0 {
			p = sl.Filter.Data(tx, sl, p)
		}
	}
	return p
}

// releaseFilters ends every attached filter's part in the transaction.
func (tx *Txn) releaseFilters() {
	for i := 0; i < tx.flt.n; i++ {
		sl := &tx.flt.slots[i]
		sl.Filter.Release(tx, sl)
		*sl = FilterSlot{}
	}
	tx.flt.n = 0
}

// unchunker splits a chunked body in the normalized form http1.Chunked
// writes (hex size CRLF data CRLF …, "0" CRLF, trailer lines, CRLF) back
// into its data and its trailer block; its input was validated by that
// machine, so it only counts.
type unchunker struct {
	state  uint8
	remain int64
	size   int64
	tr     []byte // the trailer lines so far
}

const (
	ucSize uint8 = iota
	ucSizeLF
	ucData
	ucDataCR
	ucDataLF
	ucTrailers
	ucDone
)

// next returns the next piece of data in p[*off:] (nil when p holds no
// more data) and advances *off; the trailer block is collected in u.tr.
func (u *unchunker) next(p []byte, off *int) []byte {
	i := *off
	for i < len(p) {
		switch u.state {
		case ucSize:
			b := p[i]
			i++
			if b == '\r' {
				u.state = ucSizeLF
				continue
			}
			v := int64(0)
			switch {
			case b >= '0' && b <= '9':
				v = int64(b - '0')
			case b >= 'a' && b <= 'f':
				v = int64(b-'a') + 10
			}
			u.size = u.size<<4 | v
		case ucSizeLF:
			i++
			if u.size == 0 {
				u.state = ucTrailers
			} else {
				u.remain, u.state = u.size, ucData
			}
			u.size = 0
		case ucData:
			k := int64(len(p) - i)
			if k > u.remain {
				k = u.remain
			}
			d := p[i : i+int(k)]
			i += int(k)
			u.remain -= k
			if u.remain == 0 {
				u.state = ucDataCR
			}
			*off = i
			return d
		case ucDataCR:
			i++
			u.state = ucDataLF
		case ucDataLF:
			i++
			u.state = ucSize
		case ucTrailers:
			// Everything up to the end: the trailer lines, then CRLF.
			u.tr = append(u.tr, p[i:]...)
			i = len(p)
			if n := len(u.tr); n == 2 && string(u.tr) == "\r\n" || n >= 4 && string(u.tr[n-4:]) == "\r\n\r\n" {
				u.tr = u.tr[:n-2]
				u.state = ucDone
			}
		case ucDone:
			i = len(p)
		}
	}
	*off = i
	return nil
}

// appendChunk frames p as one chunk.
func appendChunk(dst, p []byte) []byte {
	if len(p) == 0 {
		return dst
	}
	dst = strconv.AppendInt(dst, int64(len(p)), 16)
	dst = append(dst, '\r', '\n')
	dst = append(dst, p...)
	return append(dst, '\r', '\n')
}

// filteredBody sends the head already in s.out and the response body
// through the transaction's filters: from the server (sc, with the input
// framing of the response as received: chunked, or remain bytes) or, with
// sc nil, the applet's data and trailers. The output is chunked when the
// response now says so (compression), else framed as received.
func (s *session) filteredBody(sc *serverConn, inChunked bool, remain int64, data, trailers []byte, headLen int) error {
	tx := &s.tx
	s.fb = filterBody{outChunked: s.resp.Chunked, headLen: headLen}
	s.fb.u.tr = s.scratch[:0]
	defer func() { s.scratch = s.fb.u.tr[:0] }()
	if sc == nil {
		// An applet's body, at once.
		s.filterEmit(data)
		s.fb.u.tr = append(s.fb.u.tr, trailers...)
		return s.filterFinish(true)
	}
	if inChunked {
		s.ch.Reset(http1.ChunkLimit(s.rt.bufsize))
	}
	untilClose := !inChunked && remain < 0
	if untilClose {
		remain = 1<<63 - 1
	}
	done := !inChunked && remain == 0
	if avail := sc.buf[sc.r:sc.w]; !done && len(avail) > 0 {
		k, d, err := s.filterFeed(avail, inChunked, &remain)
		if err != nil {
			return s.filterAbort(err)
		}
		sc.r += k
		done = d
	}
	buf := sc.buf
	if !done {
		sc.r, sc.w = 0, 0
		if !inChunked && remain > int64(2*len(buf)) && !untilClose {
			// As streamResponseBody: a large body moves through a bigger
			// borrowed buffer.
			big := s.ls.bigs.get()
			defer s.ls.bigs.put(big)
			buf = big
		}
	}
	srvTO := tx.serverTimeout()
	for !done {
		if err := s.filterFlush(); err != nil {
			return s.filterAbort(err)
		}
		sc.f.readTimeout(srvTO)
		lim := len(buf)
		if !inChunked && remain < int64(lim) {
			lim = int(remain)
		}
		n, err := sc.f.Read(buf[:lim])
		if n > 0 {
			k, d, ferr := s.filterFeed(buf[:n], inChunked, &remain)
			if ferr != nil {
				return s.filterAbort(ferr)
			}
			if d && k < n {
				sc.r, sc.w = k, n // bytes after the body: never reuse
			}
			done = d
			continue
		}
		if err != nil {
			if err == io.EOF {
				sc.hard = false // the server closed first
				if untilClose {
					break
				}
			}
			if isTimeout(err) {
				tx.setTerm('s', 'D')
			} else {
				tx.setTerm('S', 'D')
			}
			return s.filterAbort(err)
		}
	}
	return s.filterFinish(true)
}

// filterBody is filteredBody's state, kept in the session's work so the
// body path allocates nothing.
type filterBody struct {
	outChunked bool
	wrote      bool // the head went out
	headLen    int
	u          unchunker
	norm       []byte
}

// filterFeed takes body bytes from the server: it returns how many of in
// belong to the body and whether the body is complete.
func (s *session) filterFeed(in []byte, chunked bool, remain *int64) (int, bool, error) {
	if !chunked {
		k := int64(len(in))
		if k > *remain {
			k = *remain
		}
		s.filterEmit(in[:k])
		*remain -= k
		return int(k), *remain == 0, nil
	}
	out, k, done, err := s.ch.Rewrite(s.fb.norm[:0], in)
	s.fb.norm = out
	if err != nil {
		s.tx.setTerm('S', 'D')
		return k, false, err
	}
	off := 0
	for {
		piece := s.fb.u.next(out, &off)
		if piece == nil {
			break
		}
		s.filterEmit(piece)
	}
	return k, done, nil
}

// filterEmit runs body bytes through the filters and frames their output.
func (s *session) filterEmit(p []byte) {
	p = s.tx.filterData(0, p)
	if s.fb.outChunked {
		s.out = appendChunk(s.out, p)
	} else {
		s.out = append(s.out, p...)
	}
}

// filterFlush writes what is pending (the head first).
func (s *session) filterFlush() error {
	if len(s.out) == 0 {
		return nil
	}
	tx := &s.tx
	s.cf.writeTimeout(s.timeouts().Client)
	n, err := s.c.Write(s.out)
	if !s.fb.wrote {
		s.fb.wrote = true
		if n >= s.fb.headLen {
			tx.BytesOut += htxHeadSize(s.out[:s.fb.headLen]) + int64(n-s.fb.headLen)
		}
	} else {
		tx.BytesOut += int64(n)
	}
	s.out = s.out[:0]
	if err != nil {
		tx.setTerm('C', 'D')
	}
	return err
}

// filterFinish ends the body: each filter's last output goes through the
// filters after it, then the last chunk and the trailers.
func (s *session) filterFinish(complete bool) error {
	tx := &s.tx
	for i := 0; i < tx.flt.n; i++ {
		sl := &tx.flt.slots[i]
		if !sl.body {
			continue
		}
		p := tx.filterData(i+1, sl.Filter.End(tx, sl, complete))
		if s.fb.outChunked {
			s.out = appendChunk(s.out, p)
		} else {
			s.out = append(s.out, p...)
		}
	}
	if s.fb.outChunked {
		s.out = append(s.out, '0', '\r', '\n')
		s.out = append(s.out, s.fb.u.tr...)
		s.out = append(s.out, '\r', '\n')
	}
	return s.filterFlush()
}

// filterAbort ends the filters of a body cut short (a cache drops its
// entry) and sends nothing more.
func (s *session) filterAbort(err error) error {
	tx := &s.tx
	for i := 0; i < tx.flt.n; i++ {
		if sl := &tx.flt.slots[i]; sl.body {
			sl.Filter.End(tx, sl, false)
		}
	}
	s.out = s.out[:0]
	return err
}
