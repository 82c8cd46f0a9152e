// Package compress is HAProxy's compression filter (configuration.txt
// §4.2 "compression", §9.2): responses are compressed with gzip, deflate
// (zlib) or raw deflate when the client accepts one of the proxy's
// algorithms and the response allows it, as HAProxy 2.6's
// flt_http_comp.c decides, and streamed chunk by chunk without holding
// the body.
//
// The deflate coder is github.com/klauspost/compress/flate: the fastest
// maintained pure-Go deflate (several times the standard library's speed
// at level 1, with an incompressible-data shortcut), allocation-free once
// its writers are pooled. HAProxy on Debian uses libslz, which only has
// one (fast) level; tune.comp.maxlevel (default 1) picks the flate level
// here. README's "Compression" section compares ratios and speeds.
package compress

import (
	"bytes"
	"encoding/binary"
	"hash"
	"hash/adler32"
	"hash/crc32"
	"sync"

	"github.com/klauspost/compress/flate"

	"halo/proxy"
	"halo/proxy/http1"
)

// Algorithm is one of `compression algo`'s algorithms.
type Algorithm struct {
	// Name is its configuration name (res.comp_algo); Token the
	// Accept-Encoding token that selects it and the Content-Encoding it
	// sends (none for identity).
	Name, Token string
	kind        int
}

const (
	kIdentity = iota
	kGzip
	kDeflate // zlib format
	kRaw
)

var algorithms = []*Algorithm{
	{Name: "identity", Token: "identity", kind: kIdentity},
	{Name: "gzip", Token: "gzip", kind: kGzip},
	{Name: "deflate", Token: "deflate", kind: kDeflate},
	{Name: "raw-deflate", Token: "deflate", kind: kRaw},
}

// Lookup returns the algorithm called name (a `compression algo` word).
func Lookup(name string) *Algorithm {
	for _, a := range algorithms {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Module is the compression filter's module: it builds `filter
// compression` (declared or implied) for the engine.
type Module struct {
	level int
	pool  sync.Pool // *coder
}

// New returns the module; the runtime's tune.comp.maxlevel (default 1)
// sets its level.
func New() *Module { return &Module{level: 1} }

// EngineModule returns the engine hooks.
func (m *Module) EngineModule() proxy.Module {
	return proxy.Module{Name: "compression", NewFilter: m.newFilter}
}

func (m *Module) newFilter(rt *proxy.Runtime, px *proxy.Proxy, fc *proxy.FilterConf) (proxy.Filter, error) {
	if fc.Name != "compression" {
		return nil, nil
	}
	if rt != nil && rt.Cfg.Global.CompMaxLevel > 0 {
		m.level = rt.Cfg.Global.CompMaxLevel
	}
	return &filter{m: m}, nil
}

// filter is one proxy's compression filter. Its slot's State is the
// chosen *Algorithm after Request, a *coder once it compresses.
type filter struct {
	m *Module
}

// settings returns the compression settings that apply to tx: the
// backend's when it has algorithms (types, offload), else the frontend's
// (HAProxy reads s->be->comp first, then the frontend's).
func settings(tx *proxy.Txn) (algos []string, types []string, offload bool) {
	var be, fe *proxy.Compression
	if tx.Backend != nil {
		be = tx.Backend.Proxy.Compression
	}
	if tx.Frontend != nil {
		fe = tx.Frontend.Proxy.Compression
	}
	switch {
	case be != nil && len(be.Algos) > 0:
		algos = be.Algos
	case fe != nil:
		algos = fe.Algos
	}
	switch {
	case be != nil && len(be.Types) > 0:
		types = be.Types
	case fe != nil:
		types = fe.Types
	}
	offload = be != nil && be.Offload || fe != nil && fe.Offload
	return
}

// Request picks the algorithm from the request (select_compression_request_header).
func (f *filter) Request(tx *proxy.Txn, sl *proxy.FilterSlot) {
	req := tx.Req
	if req == nil {
		return
	}
	if ua, ok := req.Get("user-agent"); ok && oldMozilla(ua) {
		return
	}
	algos, _, offload := settings(tx)
	if len(algos) == 0 {
		return
	}
	var chosen *Algorithm
	best := 0
	for i := range req.Headers {
		h := &req.Headers[i]
		if !http1.EqualFold(h.Name, "accept-encoding") {
			continue
		}
		v := h.Value
		for len(v) > 0 {
			var item []byte
			item, v = nextItem(v)
			if len(item) == 0 {
				continue
			}
			tok, q := parseCoding(item)
			if q <= best {
				continue
			}
			for _, name := range algos {
				a := Lookup(name)
				if a == nil {
					continue
				}
				if item[0] == '*' || equalFold(tok, a.Token) {
					chosen, best = a, q
					break
				}
			}
		}
	}
	if chosen != nil {
		if offload {
			req.DelHeader("accept-encoding")
		}
		sl.State = chosen
		return
	}
	// identity needs no header
	for _, name := range algos {
		if name == "identity" {
			sl.State = Lookup(name)
			return
		}
	}
}

// oldMozilla is HAProxy's test for old browsers announcing themselves
// "Mozilla/4" that mishandle compression (MSIE 6 SP2 and MSIE 7+ are
// known good).
func oldMozilla(ua []byte) bool {
	if len(ua) < 9 || string(ua[:9]) != "Mozilla/4" {
		return false
	}
	return len(ua) < 31 || string(ua[25:30]) != "MSIE " || ua[30] < '6' ||
		(ua[30] == '6' && (len(ua) < 54 || string(ua[51:54]) != "SV1"))
}

// nextItem returns the first comma-separated item of a header value
// (trimmed; commas inside quoted strings do not split) and the rest.
func nextItem(v []byte) (item, rest []byte) {
	quoted := false
	i := 0
	for ; i < len(v); i++ {
		c := v[i]
		if c == '"' {
			quoted = !quoted
		} else if c == '\\' && quoted && i+1 < len(v) {
			i++
		} else if c == ',' && !quoted {
			break
		}
	}
	item = bytes.Trim(v[:i], " \t")
	if i < len(v) {
		return item, v[i+1:]
	}
	return item, nil
}

// parseCoding splits an Accept-Encoding item into its token and its
// q-value in thousandths (1000 without one), as HAProxy reads them: the
// first "q=" parameter counts, whatever follows its digits.
func parseCoding(item []byte) ([]byte, int) {
	n := 0
	for n < len(item) && http1.IsToken(item[n:n+1]) {
		n++
	}
	tok := item[:n]
	p := item[n:]
	for {
		p = bytes.TrimLeft(p, " \t")
		if len(p) == 0 || p[0] != ';' {
			return tok, 1000
		}
		p = bytes.TrimLeft(p[1:], " \t")
		if len(p) == 0 {
			return tok, 1000
		}
		if len(p) >= 2 && p[0] == 'q' && p[1] == '=' || len(p) == 1 && p[0] == 'q' {
			if len(p) < 2 {
				return tok, QValue(nil)
			}
			return tok, QValue(p[2:])
		}
		i := bytes.IndexByte(p, ';')
		if i < 0 {
			return tok, 1000
		}
		p = p[i:]
	}
}

// QValue reads a q-value ("0.5", "1", "0.125") in thousandths, as
// HAProxy's http_parse_qvalue: what does not parse counts as 1, and more
// than 1 as 1.
func QValue(b []byte) int {
	q := 1000
	digit := func(i int) (int, bool) {
		if i < len(b) && b[i] >= '0' && b[i] <= '9' {
			return int(b[i] - '0'), true
		}
		return 0, false
	}
	d, ok := digit(0)
	if !ok {
		return q
	}
	q = d * 1000
	if len(b) > 1 && b[1] == '.' {
		for i, w := range []int{100, 10, 1} {
			d, ok := digit(2 + i)
			if !ok {
				break
			}
			q += d * w
		}
	}
	return min(q, 1000)
}

func equalFold(a []byte, s string) bool {
	if len(a) != len(s) {
		return false
	}
	for i := range a {
		c, d := a[i], s[i]
		if c|0x20 != d|0x20 {
			return false
		}
	}
	return true
}

// ResponseHead decides whether the response is compressed
// (select_compression_response_header); the head changes only after the
// response rules (Headers).
func (f *filter) ResponseHead(tx *proxy.Txn, sl *proxy.FilterSlot) {
	a, _ := sl.State.(*Algorithm)
	if a == nil {
		return
	}
	sl.State = nil
	resp, req := tx.Resp, tx.Req
	if tx.Comp != "" || !resp.Is11() || !req.Is11() || http1.EqualFold(req.Method, "HEAD") {
		return
	}
	if resp.Status < 200 || resp.Status > 203 {
		return
	}
	// A length must be known and the body not empty.
	if !resp.Chunked && resp.ContentLength <= 0 {
		return
	}
	if _, ok := resp.Get("content-encoding"); ok {
		return
	}
	for i := range resp.Headers {
		h := &resp.Headers[i]
		if !http1.EqualFold(h.Name, "cache-control") {
			continue
		}
		for v := h.Value; len(v) > 0; {
			var item []byte
			item, v = nextItem(v)
			if equalFold(item, "no-transform") {
				return
			}
		}
	}
	if n := resp.Count("etag"); n > 1 {
		return
	} else if n == 1 {
		if et, _ := resp.Get("etag"); etagType(et) == etagInvalid {
			return
		}
	}
	_, types, _ := settings(tx)
	if ct, ok := resp.Get("content-type"); ok {
		if len(ct) >= 9 && equalFold(ct[:9], "multipart") {
			return
		}
		if len(types) > 0 {
			match := false
			for _, t := range types {
				if len(ct) >= len(t) && equalFold(ct[:len(t)], t) {
					match = true
					break
				}
			}
			if !match {
				return
			}
		}
	} else if len(types) > 0 {
		return
	}
	c := f.m.get(a)
	sl.State = c
	tx.Comp = a.Name
}

type etagKind int

const (
	etagInvalid etagKind = iota
	etagStrong
	etagWeak
)

func etagType(v []byte) etagKind {
	switch {
	case len(v) < 2 || v[len(v)-1] != '"':
		return etagInvalid
	case v[0] == '"':
		return etagStrong
	case len(v) >= 3 && string(v[:3]) == `W/"`:
		return etagWeak
	}
	return etagInvalid
}

// Headers rewrites the head of a response being compressed
// (set_compression_response_header): chunked framing instead of a
// length, a weak ETag, Vary and Content-Encoding.
func (f *filter) Headers(tx *proxy.Txn, sl *proxy.FilterSlot) bool {
	c, _ := sl.State.(*coder)
	if c == nil {
		return false
	}
	resp := tx.Resp
	if !resp.Chunked {
		resp.AddHeader("transfer-encoding", "chunked")
		resp.Chunked, resp.HasTE = true, true
	}
	if resp.ContentLength >= 0 {
		resp.DelHeader("content-length")
		resp.ContentLength = -1
	}
	for i := range resp.Headers {
		h := &resp.Headers[i]
		if http1.EqualFold(h.Name, "etag") {
			if len(h.Value) > 0 && h.Value[0] == '"' {
				// In place, in the message's arena (as its own edits).
				start := len(resp.Arena)
				resp.Arena = append(append(resp.Arena, 'W', '/'), h.Value...)
				h.Value = resp.Arena[start:len(resp.Arena):len(resp.Arena)]
			}
			break
		}
	}
	resp.AddHeader("vary", "Accept-Encoding")
	if c.algo.kind != kIdentity {
		resp.AddHeader("content-encoding", c.algo.Token)
	}
	return true
}

// Data compresses a piece of the body; each piece is flushed (a sync
// flush), so nothing waits for the next read.
func (f *filter) Data(tx *proxy.Txn, sl *proxy.FilterSlot, p []byte) []byte {
	c := sl.State.(*coder)
	out := c.write(p)
	count(tx, int64(len(p)), int64(len(out)), 0)
	return out
}

// count adds to the comp_in, comp_out and comp_rsp figures of the
// frontend and the backend, as HAProxy counts them.
func count(tx *proxy.Txn, in, out, rsp int64) {
	for _, c := range [2]*proxy.Counters{frontendCounters(tx), backendCounters(tx)} {
		if c == nil {
			continue
		}
		c.CompIn.Add(in)
		c.CompOut.Add(out)
		c.CompRsp.Add(rsp)
	}
}

func frontendCounters(tx *proxy.Txn) *proxy.Counters {
	if tx.Frontend == nil {
		return nil
	}
	return &tx.Frontend.Counters
}

func backendCounters(tx *proxy.Txn) *proxy.Counters {
	if tx.Backend == nil {
		return nil
	}
	return &tx.Backend.Counters
}

// End finishes the compressed stream.
func (f *filter) End(tx *proxy.Txn, sl *proxy.FilterSlot, complete bool) []byte {
	c, _ := sl.State.(*coder)
	if c == nil || !complete {
		return nil
	}
	out := c.close()
	count(tx, 0, int64(len(out)), 1)
	return out
}

func (f *filter) Release(tx *proxy.Txn, sl *proxy.FilterSlot) {
	if c, ok := sl.State.(*coder); ok {
		f.m.put(c)
	}
	sl.State = nil
}

// coder is one response's compressor; pooled with its flate writer.
type coder struct {
	algo    *Algorithm
	fw      *flate.Writer
	out     sink
	sum     hash.Hash32 // gzip: CRC-32; deflate: Adler-32
	crc     hash.Hash32
	adler   hash.Hash32
	size    uint32
	started bool
}

type sink struct{ b []byte }

func (s *sink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

func (m *Module) get(a *Algorithm) *coder {
	c, _ := m.pool.Get().(*coder)
	if c == nil {
		c = &coder{crc: crc32.NewIEEE(), adler: adler32.New()}
	}
	c.algo, c.size, c.started = a, 0, false
	c.out.b = c.out.b[:0]
	if a.kind != kIdentity {
		if c.fw == nil {
			c.fw, _ = flate.NewWriter(&c.out, m.level)
		} else {
			c.fw.Reset(&c.out)
		}
	}
	switch a.kind {
	case kGzip:
		c.sum = c.crc
	case kDeflate:
		c.sum = c.adler
	default:
		c.sum = nil
	}
	if c.sum != nil {
		c.sum.Reset()
	}
	return c
}

func (m *Module) put(c *coder) {
	if cap(c.out.b) > 256<<10 {
		c.out.b = nil
	}
	m.pool.Put(c)
}

// gzip header (RFC 1952): no name, no time, "fastest" flags, Unix.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3}

// zlib header (RFC 1950): deflate with a 32 KiB window, fastest level.
var zlibHeader = []byte{0x78, 0x01}

func (c *coder) write(p []byte) []byte {
	c.out.b = c.out.b[:0]
	if c.algo.kind == kIdentity {
		return p
	}
	c.header()
	if c.sum != nil {
		c.sum.Write(p)
	}
	c.size += uint32(len(p))
	_, _ = c.fw.Write(p)
	_ = c.fw.Flush()
	return c.out.b
}

func (c *coder) header() {
	if c.started {
		return
	}
	c.started = true
	switch c.algo.kind {
	case kGzip:
		c.out.b = append(c.out.b, gzipHeader...)
	case kDeflate:
		c.out.b = append(c.out.b, zlibHeader...)
	}
}

func (c *coder) close() []byte {
	c.out.b = c.out.b[:0]
	if c.algo.kind == kIdentity {
		return nil
	}
	c.header()
	_ = c.fw.Close()
	switch c.algo.kind {
	case kGzip:
		c.out.b = binary.LittleEndian.AppendUint32(c.out.b, c.sum.Sum32())
		c.out.b = binary.LittleEndian.AppendUint32(c.out.b, c.size)
	case kDeflate:
		c.out.b = binary.BigEndian.AppendUint32(c.out.b, c.sum.Sum32())
	}
	return c.out.b
}
