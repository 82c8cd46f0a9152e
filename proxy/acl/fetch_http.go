package acl

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"halo/proxy/balance"
)

// CaptureTxn is implemented by views that keep the transaction's captures
// (capture request/response header, http-request/response capture): the
// i-th captured request (res=false) or response value.
type CaptureTxn interface {
	Captured(res bool, i int) ([]byte, bool)
	// SetCapture fills slot i; false when there is no such slot.
	SetCapture(res bool, i int, v []byte) bool
}

// BodyTxn is implemented by views that show the request body received so
// far: b is its bytes (chunk-framed when chunked) and full says it is all
// of it.
type BodyTxn interface {
	ReqBody() (b []byte, full bool)
}

// httpFetches are the fetches of configuration.txt §7.3.6 that read the
// HTTP request and response.
func httpFetches() []*fetchDef {
	return []*fetchDef{
		{name: "method", out: KStr, fn: strFetch(func(c *Ctx) []byte { return c.T.Method() })},
		{name: "path", out: KStr, fn: strFetch(func(c *Ctx) []byte { return c.T.Path() })},
		{name: "url", out: KStr, fn: strFetch(func(c *Ctx) []byte { return c.T.URI() })},
		{name: "query", out: KStr, fn: strFetch(func(c *Ctx) []byte { return c.T.Query() })},
		{name: "pathq", out: KStr, fn: strFetch(pathQ)},
		{name: "req.ver", aliases: []string{"req_ver"}, out: KStr, fn: strFetch(func(c *Ctx) []byte {
			return bytes.TrimPrefix(c.T.Version(), []byte("HTTP/"))
		})},
		{name: "base", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) { return baseOf(c, false) })},
		{name: "baseq", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) { return baseOf(c, true) })},
		{name: "base32", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) { return hashOf(c, false) })},
		{name: "url32", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) { return hashOf(c, true) })},
		{name: "base32+src", out: KBin, fn: single(func(c *Ctx, f *fetch) (Value, bool) { return hashSrc(c, false) })},
		{name: "url32+src", out: KBin, fn: single(func(c *Ctx, f *fetch) (Value, bool) { return hashSrc(c, true) })},
		{name: "url_ip", out: KIP, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			host, _ := urlHostPort(c.T.URI())
			a, err := netip.ParseAddr(string(host)) // rare: absolute-form URIs only
			if err != nil || !a.Is4() {
				return Value{}, false
			}
			return Value{Kind: KIP, IP: a}, true
		})},
		{name: "url_port", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			host, port := urlHostPort(c.T.URI())
			if host == nil {
				return Value{}, false
			}
			return intVal(int64(port)), true
		})},
		{name: "urlp", aliases: []string{"url_param"}, out: KStr, maxArgs: 2, compile: nameArg, fn: fetchURLParam},
		{name: "urlp_val", out: KInt, maxArgs: 2, compile: nameArg, fn: toInt(fetchURLParam)},

		{name: "req.hdr", out: KStr, maxArgs: 2, compile: hdrArgs, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			return hdrValue(c.T.ReqHeaders(), f.name, f.occ, f.multi, true, st)
		}},
		// hdr() is req.hdr() on requests and res.hdr() on responses (the
		// hdr ACL keywords always read the request: aclKeywords).
		{name: "hdr", out: KStr, maxArgs: 2, compile: hdrArgs, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			if c.Response {
				return hdrValue(c.T.ResHeaders(), f.name, f.occ, f.multi, true, st)
			}
			return hdrValue(c.T.ReqHeaders(), f.name, f.occ, f.multi, true, st)
		}},
		{name: "req.fhdr", out: KStr, maxArgs: 2, compile: hdrArgs, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			return hdrValue(c.T.ReqHeaders(), f.name, f.occ, f.multi, false, st)
		}},
		{name: "req.hdr_cnt", aliases: []string{"hdr_cnt"}, out: KInt, maxArgs: 1, compile: hdrArgs, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			return intVal(int64(hdrCountSplit(c.T.ReqHeaders(), f.name, true))), true
		})},
		{name: "req.fhdr_cnt", out: KInt, maxArgs: 1, compile: hdrArgs, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			return intVal(int64(hdrCountSplit(c.T.ReqHeaders(), f.name, false))), true
		})},
		{name: "req.hdr_val", aliases: []string{"hdr_val"}, out: KInt, maxArgs: 2, compile: hdrArgs, fn: toInt(func(c *Ctx, f *fetch, st *int) (Value, bool) {
			return hdrValue(c.T.ReqHeaders(), f.name, f.occ, f.multi, true, st)
		})},
		{name: "req.hdr_ip", aliases: []string{"hdr_ip"}, out: KIP, maxArgs: 2, compile: hdrArgs, fn: toIP(func(c *Ctx, f *fetch, st *int) (Value, bool) {
			return hdrValue(c.T.ReqHeaders(), f.name, f.occ, f.multi, true, st)
		})},
		{name: "req.hdr_names", out: KStr, maxArgs: 1, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			return hdrNames(c, c.T.ReqHeaders(), f)
		})},
		{name: "req.hdrs", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			return hdrsText(c, c.T.ReqHeaders())
		})},
		{name: "req.hdrs_bin", out: KBin, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			return hdrsBin(c, c.T.ReqHeaders())
		})},
		{name: "req.cook", aliases: []string{"cook"}, out: KStr, maxArgs: 1, compile: nameArg, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			return cookieFetch(c, f, c.T.ReqHeaders(), false, st)
		}},
		{name: "req.cook_cnt", aliases: []string{"cook_cnt"}, out: KInt, maxArgs: 1, compile: nameArg, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			return intVal(int64(cookieCount(c, f, c.T.ReqHeaders(), false))), true
		})},
		{name: "req.cook_val", aliases: []string{"cook_val"}, out: KInt, maxArgs: 1, compile: nameArg, fn: toInt(func(c *Ctx, f *fetch, st *int) (Value, bool) {
			return cookieFetch(c, f, c.T.ReqHeaders(), false, st)
		})},
		// cookie() reads the request's Cookie headers in the request
		// direction and the response's Set-Cookie headers in the response
		// direction (deprecated alias, configuration.txt §7.3.6).
		{name: "cookie", out: KStr, maxArgs: 1, compile: nameArg, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			if c.Response {
				return cookieFetch(c, f, c.T.ResHeaders(), true, st)
			}
			return cookieFetch(c, f, c.T.ReqHeaders(), false, st)
		}},
		{name: "req.body", out: KBin, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			b, _, ok := c.reqBody()
			return Value{Kind: KBin, B: b}, ok
		})},
		{name: "req.body_len", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			b, _, ok := c.reqBody()
			return intVal(int64(len(b))), ok
		})},
		{name: "req.body_size", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			b, _, ok := c.reqBody()
			if !ok {
				return Value{}, false
			}
			s := 0
			if cl, found := hdrValue(c.T.ReqHeaders(), contentLength, -1, false, false, &s); found {
				if n, err := strconv.ParseInt(string(bytes.TrimSpace(cl.B)), 10, 64); err == nil {
					return intVal(n), true
				}
			}
			return intVal(int64(len(b))), true
		})},
		{name: "req.body_param", out: KBin, maxArgs: 1, compile: nameArg, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			b, _, ok := c.reqBody()
			if !ok {
				return Value{}, false
			}
			v, found := paramFetch(b, '&', f, st)
			v.Kind = KBin
			return v, found
		}},
		{name: "req.proto_http", aliases: []string{"req_proto_http"}, out: KBool, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			if c.T.Method() != nil {
				return boolVal(true), true
			}
			b, final := c.payload()
			ok, short := looksHTTP(b)
			if short {
				c.payloadMiss(final)
			}
			return boolVal(ok), true
		})},
		{name: "http_first_req", out: KBool, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			if tx == nil || c.T.Method() == nil {
				return Value{}, false
			}
			return boolVal(tx.FirstRequest()), true
		})},
		{name: "unique-id", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			if len(c.UniqueID) == 0 {
				return Value{}, false
			}
			return Value{Kind: KStr, B: c.UniqueID}, true
		})},
		{name: "capture.req.method", out: KStr, fn: reqLinePart(0)},
		{name: "capture.req.uri", out: KStr, fn: reqLinePart(1)},
		{name: "capture.req.ver", out: KStr, fn: reqLinePart(2)},
		{name: "capture.req.hdr", out: KStr, minArgs: 1, maxArgs: 1, compile: intArg, fn: captured(false)},
		{name: "capture.res.hdr", out: KStr, minArgs: 1, maxArgs: 1, compile: intArg, fn: captured(true)},
		{name: "capture.res.ver", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			v := resVersion(c)
			if v == nil {
				return Value{}, false
			}
			return Value{Kind: KStr, B: v}, true
		})},

		{name: "status", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			if c.T.Status() == 0 {
				return Value{}, false
			}
			return intVal(int64(c.T.Status())), true
		})},
		{name: "res.ver", aliases: []string{"resp_ver"}, out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			v := resVersion(c)
			if v == nil {
				return Value{}, false
			}
			return Value{Kind: KStr, B: v[5:]}, true
		})},
		{name: "res.hdr", aliases: []string{"shdr"}, out: KStr, maxArgs: 2, compile: hdrArgs, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			return hdrValue(c.T.ResHeaders(), f.name, f.occ, f.multi, true, st)
		}},
		{name: "res.fhdr", out: KStr, maxArgs: 2, compile: hdrArgs, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			return hdrValue(c.T.ResHeaders(), f.name, f.occ, f.multi, false, st)
		}},
		{name: "res.hdr_cnt", aliases: []string{"shdr_cnt"}, out: KInt, maxArgs: 1, compile: hdrArgs, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			hl := c.T.ResHeaders()
			if hl == nil {
				return Value{}, false
			}
			return intVal(int64(hdrCountSplit(hl, f.name, true))), true
		})},
		{name: "res.fhdr_cnt", out: KInt, maxArgs: 1, compile: hdrArgs, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			hl := c.T.ResHeaders()
			if hl == nil {
				return Value{}, false
			}
			return intVal(int64(hdrCountSplit(hl, f.name, false))), true
		})},
		{name: "res.hdr_val", aliases: []string{"shdr_val"}, out: KInt, maxArgs: 2, compile: hdrArgs, fn: toInt(func(c *Ctx, f *fetch, st *int) (Value, bool) {
			return hdrValue(c.T.ResHeaders(), f.name, f.occ, f.multi, true, st)
		})},
		{name: "res.hdr_ip", aliases: []string{"shdr_ip"}, out: KIP, maxArgs: 2, compile: hdrArgs, fn: toIP(func(c *Ctx, f *fetch, st *int) (Value, bool) {
			return hdrValue(c.T.ResHeaders(), f.name, f.occ, f.multi, true, st)
		})},
		{name: "res.hdr_names", out: KStr, maxArgs: 1, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			return hdrNames(c, c.T.ResHeaders(), f)
		})},
		{name: "res.hdrs", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			return hdrsText(c, c.T.ResHeaders())
		})},
		{name: "res.hdrs_bin", out: KBin, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			return hdrsBin(c, c.T.ResHeaders())
		})},
		{name: "res.cook", aliases: []string{"scook"}, out: KStr, maxArgs: 1, compile: nameArg, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			return cookieFetch(c, f, c.T.ResHeaders(), true, st)
		}},
		{name: "res.cook_cnt", aliases: []string{"scook_cnt"}, out: KInt, maxArgs: 1, compile: nameArg, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			hl := c.T.ResHeaders()
			if hl == nil {
				return Value{}, false
			}
			return intVal(int64(cookieCount(c, f, hl, true))), true
		})},
		{name: "res.cook_val", aliases: []string{"scook_val"}, out: KInt, maxArgs: 1, compile: nameArg, fn: toInt(func(c *Ctx, f *fetch, st *int) (Value, bool) {
			return cookieFetch(c, f, c.T.ResHeaders(), true, st)
		})},
	}
}

var (
	hostName      = []byte("host")
	contentLength = []byte("content-length")
	cookieName    = []byte("cookie")
	setCookieName = []byte("set-cookie")
)

func strFetch(get func(c *Ctx) []byte) fetchFn {
	return func(c *Ctx, f *fetch, st *int) (Value, bool) { return strOnce(get(c), st) }
}

// toInt turns a string fetch into its integer value (hdr_val, urlp_val,
// cook_val): the leading decimal number, 0 when there is none.
func toInt(fn fetchFn) fetchFn {
	return func(c *Ctx, f *fetch, st *int) (Value, bool) {
		v, ok := fn(c, f, st)
		if !ok {
			return v, false
		}
		n, _ := v.asInt()
		return intVal(n), true
	}
}

// toIP turns a string fetch into addresses, skipping values that are not
// one (hdr_ip).
func toIP(fn fetchFn) fetchFn {
	return func(c *Ctx, f *fetch, st *int) (Value, bool) {
		for {
			v, ok := fn(c, f, st)
			if !ok {
				return v, false
			}
			if ip, ok := v.asIP(); ok {
				return Value{Kind: KIP, IP: ip}, true
			}
			if *st < 0 {
				return Value{}, false
			}
		}
	}
}

// hdrArgs compiles (name[,occurrence]) of the header fetches.
func hdrArgs(f *fetch, o *Options) error {
	if len(f.args) > 0 {
		f.name = []byte(strings.ToLower(f.args[0]))
		if len(f.args) > 1 {
			n, err := strconv.Atoi(f.args[1])
			if err != nil {
				return fmt.Errorf("invalid occurrence '%s'", f.args[1])
			}
			f.occ = n
		}
	}
	return nil
}

// nameArg compiles the case-sensitive name of cookie and parameter
// fetches.
func nameArg(f *fetch, o *Options) error {
	if len(f.args) > 0 {
		f.name = []byte(f.args[0])
	}
	return nil
}

func intArg(f *fetch, o *Options) error {
	n, err := strconv.ParseInt(f.args[0], 10, 64)
	if err != nil {
		return fmt.Errorf("expects an integer, got '%s'", f.args[0])
	}
	f.num = n
	return nil
}

func pathQ(c *Ctx) []byte {
	p := c.T.Path()
	if p == nil {
		return nil
	}
	// path and query are contiguous in the URI.
	u := c.T.URI()
	if i := bytes.Index(u, p); i >= 0 {
		return u[i:]
	}
	return p
}

// baseOf is base (host + path) or, with query, baseq (host + path?query).
func baseOf(c *Ctx, query bool) (Value, bool) {
	p := c.T.Path()
	if query {
		p = pathQ(c)
	}
	if p == nil {
		return Value{}, false
	}
	s := 0
	h, ok := hdrValue(c.T.ReqHeaders(), hostName, 1, false, false, &s)
	if !ok || len(h.B) == 0 {
		return Value{Kind: KStr, B: p}, true
	}
	buf := c.scratchBuf()
	buf = append(buf, h.B...)
	buf = append(buf, p...)
	c.keepScratch(buf)
	return Value{Kind: KStr, B: buf}, true
}

// hashOf is base32 (sdbm of host + path) or url32 (sdbm of host + URI),
// both with HAProxy's full avalanche.
func hashOf(c *Ctx, url bool) (Value, bool) {
	var p []byte
	if url {
		p = c.T.URI()
	} else {
		p = c.T.Path()
	}
	if p == nil {
		return Value{}, false
	}
	var h uint32
	s := 0
	if host, ok := hdrValue(c.T.ReqHeaders(), hostName, 1, false, false, &s); ok {
		h = sdbmMore(h, host.B)
	}
	h = sdbmMore(h, p)
	return intVal(int64(balance.FullHash(h))), true
}

func sdbmMore(h uint32, b []byte) uint32 {
	for _, ch := range b {
		h = uint32(ch) + (h << 6) + (h << 16) - h
	}
	return h
}

// hashSrc is base32+src / url32+src: the hash (4 bytes, big endian) then
// the source address (4 or 16 bytes).
func hashSrc(c *Ctx, url bool) (Value, bool) {
	h, ok := hashOf(c, url)
	if !ok {
		return Value{}, false
	}
	src := c.T.Src().Addr().Unmap()
	if !src.IsValid() {
		return Value{}, false
	}
	buf := c.scratchBuf()
	buf = binary.BigEndian.AppendUint32(buf, uint32(h.I))
	buf = append(buf, src.AsSlice()...)
	c.keepScratch(buf)
	return Value{Kind: KBin, B: buf}, true
}

// urlHostPort reads the host and port of an absolute-form URI
// ("http://1.2.3.4:8080/x"); the port defaults to 80.
func urlHostPort(u []byte) ([]byte, int) {
	i := bytes.Index(u, []byte("://"))
	if i <= 0 || u[0] == '/' {
		return nil, 0
	}
	auth := u[i+3:]
	if j := bytes.IndexAny(auth, "/?#"); j >= 0 {
		auth = auth[:j]
	}
	if j := bytes.LastIndexByte(auth, '@'); j >= 0 {
		auth = auth[j+1:]
	}
	host, port := auth, 80
	if len(auth) > 0 && auth[0] == '[' {
		if j := bytes.IndexByte(auth, ']'); j > 0 {
			host = auth[1:j]
			auth = auth[j+1:]
			if len(auth) > 1 && auth[0] == ':' {
				port, _ = strconv.Atoi(string(auth[1:]))
			}
			return host, port
		}
	}
	if j := bytes.LastIndexByte(auth, ':'); j >= 0 {
		host = auth[:j]
		port, _ = strconv.Atoi(string(auth[j+1:]))
	}
	return host, port
}

func eqFold(a, lowerB []byte) bool {
	if len(a) != len(lowerB) {
		return false
	}
	for i := range a {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lowerB[i] {
			return false
		}
	}
	return true
}

// nextValue returns the comma-delimited value of v starting at off
// (trimmed), and the offset of the next one or -1. Commas inside quoted
// strings do not split.
func nextValue(v []byte, off int) ([]byte, int) {
	i := off
	var quote bool
	for i < len(v) {
		c := v[i]
		if c == '"' {
			quote = !quote
		} else if c == '\\' && quote && i+1 < len(v) {
			i++
		} else if c == ',' && !quote {
			return bytes.TrimSpace(v[off:i]), i + 1
		}
		i++
	}
	return bytes.TrimSpace(v[off:]), -1
}

// hdrValue implements hdr()/fhdr(): in ACL mode every value in order;
// otherwise the occurrence asked for (default: the last one; negative
// counts from the end). split cuts values at commas (hdr) or not (fhdr).
func hdrValue(hl HeaderList, name []byte, occ int, multi, split bool, st *int) (Value, bool) {
	if hl == nil || *st < 0 {
		return Value{}, false
	}
	if multi && occ == 0 {
		// state: header index << 20 | offset within the value + 1
		idx, off := *st>>20, *st&(1<<20-1)
		for ; idx < hl.Len(); idx, off = idx+1, 0 {
			k, v := hl.At(idx)
			if name != nil && !eqFold(k, name) {
				continue
			}
			if !split {
				*st = (idx + 1) << 20
				return Value{Kind: KStr, B: v}, true
			}
			start := 0
			if off > 0 {
				start = off - 1
			}
			val, next := nextValue(v, start)
			if next < 0 {
				*st = (idx + 1) << 20
			} else {
				*st = idx<<20 | (next + 1)
			}
			return Value{Kind: KStr, B: val}, true
		}
		*st = -1
		return Value{}, false
	}
	*st = -1
	if occ == 0 {
		occ = -1
	}
	if occ > 0 {
		n := 0
		for i := 0; i < hl.Len(); i++ {
			k, v := hl.At(i)
			if name != nil && !eqFold(k, name) {
				continue
			}
			if !split {
				n++
				if n == occ {
					return Value{Kind: KStr, B: v}, true
				}
				continue
			}
			for off := 0; off >= 0; {
				var val []byte
				val, off = nextValue(v, off)
				n++
				if n == occ {
					return Value{Kind: KStr, B: val}, true
				}
			}
		}
		return Value{}, false
	}
	total := hdrCountSplit(hl, name, split)
	want := total + occ + 1 // occ -1 = last
	if want < 1 {
		return Value{}, false
	}
	s := 0
	return hdrValue(hl, name, want, false, split, &s)
}

// hdrCountSplit counts the values of header name (every header without
// a name): comma-separated values with split, header lines without.
func hdrCountSplit(hl HeaderList, name []byte, split bool) int {
	if hl == nil {
		return 0
	}
	n := 0
	for i := 0; i < hl.Len(); i++ {
		k, v := hl.At(i)
		if name != nil && !eqFold(k, name) {
			continue
		}
		if !split {
			n++
			continue
		}
		for off := 0; off >= 0; {
			_, off = nextValue(v, off)
			n++
		}
	}
	return n
}

// hdrNames is req.hdr_names / res.hdr_names: the header names joined by
// the first character of the argument (default ',').
func hdrNames(c *Ctx, hl HeaderList, f *fetch) (Value, bool) {
	if hl == nil {
		return Value{}, false
	}
	sep := byte(',')
	if len(f.args) > 0 && f.args[0] != "" {
		sep = f.args[0][0]
	}
	buf := c.scratchBuf()
	for i := 0; i < hl.Len(); i++ {
		k, _ := hl.At(i)
		if i > 0 {
			buf = append(buf, sep)
		}
		buf = append(buf, k...)
	}
	c.keepScratch(buf)
	return Value{Kind: KStr, B: buf}, true
}

// hdrsText is req.hdrs / res.hdrs: every header as "name: value\r\n" and
// the empty line that ends the block.
func hdrsText(c *Ctx, hl HeaderList) (Value, bool) {
	if hl == nil {
		return Value{}, false
	}
	buf := c.scratchBuf()
	for i := 0; i < hl.Len(); i++ {
		k, v := hl.At(i)
		buf = append(buf, k...)
		buf = append(buf, ": "...)
		buf = append(buf, v...)
		buf = append(buf, "\r\n"...)
	}
	buf = append(buf, "\r\n"...)
	c.keepScratch(buf)
	return Value{Kind: KStr, B: buf}, true
}

// hdrsBin is req.hdrs_bin / res.hdrs_bin: each name and value as a
// varint length then the bytes, ended by two empty strings.
func hdrsBin(c *Ctx, hl HeaderList) (Value, bool) {
	if hl == nil {
		return Value{}, false
	}
	buf := c.scratchBuf()
	for i := 0; i < hl.Len(); i++ {
		k, v := hl.At(i)
		buf = appendVarint(buf, uint64(len(k)))
		buf = append(buf, k...)
		buf = appendVarint(buf, uint64(len(v)))
		buf = append(buf, v...)
	}
	buf = append(buf, 0, 0)
	c.keepScratch(buf)
	return Value{Kind: KBin, B: buf}, true
}

// appendVarint is HAProxy's (SPOE) variable-length integer: below 240 in
// one byte, else the low 4 bits tagged 0xf0 then 7-bit groups.
func appendVarint(dst []byte, i uint64) []byte {
	if i < 240 {
		return append(dst, byte(i))
	}
	dst = append(dst, byte(i)|240)
	i = (i - 240) >> 4
	for i >= 128 {
		dst = append(dst, byte(i)|128)
		i = (i - 128) >> 7
	}
	return append(dst, byte(i))
}

// fetchURLParam is urlp(name[,delim]): the value of the first (or in ACL
// mode each) query parameter called name; without a name, every value.
func fetchURLParam(c *Ctx, f *fetch, st *int) (Value, bool) {
	q := c.T.Query()
	if q == nil {
		*st = -1
		return Value{}, false
	}
	delim := byte('&')
	if len(f.args) > 1 && f.args[1] != "" {
		delim = f.args[1][0]
	}
	return paramFetch(q, delim, f, st)
}

func paramFetch(q []byte, delim byte, f *fetch, st *int) (Value, bool) {
	if *st < 0 {
		return Value{}, false
	}
	i := *st
	for i < len(q) {
		end := bytes.IndexByte(q[i:], delim)
		var seg []byte
		if end < 0 {
			seg = q[i:]
			end = len(q)
		} else {
			seg = q[i : i+end]
			end = i + end + 1
		}
		i = end
		k, v := seg, seg[len(seg):]
		if eq := bytes.IndexByte(seg, '='); eq >= 0 {
			k, v = seg[:eq], seg[eq+1:]
		}
		if len(f.name) == 0 || bytes.Equal(k, f.name) {
			if f.multi && i < len(q) {
				*st = i
			} else {
				*st = -1
			}
			return Value{Kind: KStr, B: v}, true
		}
	}
	*st = -1
	return Value{}, false
}

// cookieFetch is req.cook(name) / res.cook(name): in ACL mode every value
// of cookie name; as a sample the last one, or without a name the first
// cookie's value (configuration.txt §7.3.6). In a Set-Cookie header only
// the first name=value pair is a cookie; the rest are its attributes.
func cookieFetch(c *Ctx, f *fetch, hl HeaderList, set bool, st *int) (Value, bool) {
	if hl == nil || *st < 0 {
		return Value{}, false
	}
	if !f.multi && len(f.name) > 0 {
		// the last occurrence
		var last Value
		found := false
		s := 0
		g := fetch{name: f.name, multi: true}
		for {
			v, ok := cookieFetch(c, &g, hl, set, &s)
			if !ok {
				break
			}
			last, found = v, true
		}
		*st = -1
		return last, found
	}
	hname := cookieName
	if set {
		hname = setCookieName
	}
	idx, off := *st>>20, *st&(1<<20-1)
	for ; idx < hl.Len(); idx, off = idx+1, 0 {
		k, v := hl.At(idx)
		if !eqFold(k, hname) {
			continue
		}
		for off < len(v) {
			first := off == 0
			end := bytes.IndexByte(v[off:], ';')
			var seg []byte
			next := len(v)
			if end < 0 {
				seg = v[off:]
			} else {
				seg = v[off : off+end]
				next = off + end + 1
			}
			off = next
			if set && !first && len(f.name) > 0 {
				break // attributes of a Set-Cookie are not cookies
			}
			seg = bytes.TrimSpace(seg)
			eq := bytes.IndexByte(seg, '=')
			if eq < 0 {
				continue
			}
			if len(f.name) == 0 || bytes.Equal(bytes.TrimSpace(seg[:eq]), f.name) {
				if f.multi {
					*st = idx<<20 | off
				} else {
					*st = -1
				}
				return Value{Kind: KStr, B: bytes.TrimSpace(seg[eq+1:])}, true
			}
		}
	}
	*st = -1
	return Value{}, false
}

func cookieCount(c *Ctx, f *fetch, hl HeaderList, set bool) int {
	g := fetch{name: f.name, multi: true}
	n, s := 0, 0
	for {
		if _, ok := cookieFetch(c, &g, hl, set, &s); !ok {
			return n
		}
		n++
	}
}

// reqBody returns the request body received so far, chunks decoded.
func (c *Ctx) reqBody() (b []byte, full, ok bool) {
	bt, isB := c.T.(BodyTxn)
	if !isB || c.T.Method() == nil {
		return nil, false, false
	}
	raw, full := bt.ReqBody()
	if !c.chunked() {
		return raw, full, true
	}
	buf := c.scratchBuf()
	buf = dechunk(buf, raw)
	c.keepScratch(buf)
	return buf, full, true
}

func (c *Ctx) chunked() bool {
	s := 0
	te, ok := hdrValue(c.T.ReqHeaders(), []byte("transfer-encoding"), -1, false, true, &s)
	return ok && eqFold(te.B, []byte("chunked"))
}

// dechunk appends the data of the complete chunks at the start of raw.
func dechunk(dst, raw []byte) []byte {
	for {
		i := bytes.Index(raw, []byte("\r\n"))
		if i < 0 {
			return dst
		}
		line := raw[:i]
		if j := bytes.IndexByte(line, ';'); j >= 0 {
			line = line[:j]
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 32)
		if err != nil || n == 0 {
			return dst
		}
		raw = raw[i+2:]
		if uint64(len(raw)) < n {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:n]...)
		raw = raw[n:]
		if len(raw) < 2 {
			return dst
		}
		raw = raw[2:]
	}
}

// looksHTTP reports whether b starts with an HTTP/1 request line ("METHOD
// SP URI SP HTTP/x.y"), or may once more bytes arrive (short).
func looksHTTP(b []byte) (ok, short bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		if len(b) > 8192 {
			return false, false
		}
		for _, ch := range b {
			if ch < 0x20 && ch != '\r' || ch > 0x7e {
				return false, false
			}
		}
		return false, true
	}
	line := bytes.TrimRight(b[:i], "\r")
	f := bytes.Fields(line)
	if len(f) != 3 || !bytes.HasPrefix(f[2], []byte("HTTP/")) {
		return false, false
	}
	for _, ch := range f[0] {
		if ch < 'A' || ch > 'Z' {
			return false, false
		}
	}
	return true, false
}

// reqLinePart is capture.req.method / uri / ver: a part of the request
// line as the client sent it.
func reqLinePart(part int) fetchFn {
	return single(func(c *Ctx, f *fetch) (Value, bool) {
		m, u, v := splitReqLine(c.ReqLine)
		b := [3][]byte{m, u, v}[part]
		if b == nil {
			return Value{}, false
		}
		return Value{Kind: KStr, B: b}, true
	})
}

// splitReqLine splits "METHOD URI VERSION".
func splitReqLine(r []byte) (m, u, v []byte) {
	i := bytes.IndexByte(r, ' ')
	if i < 0 {
		return r, nil, nil
	}
	m, rest := r[:i], r[i+1:]
	j := bytes.LastIndexByte(rest, ' ')
	if j < 0 {
		return m, rest, nil
	}
	return m, rest[:j], rest[j+1:]
}

func captured(res bool) fetchFn {
	return single(func(c *Ctx, f *fetch) (Value, bool) {
		ct, ok := c.T.(CaptureTxn)
		if !ok {
			return Value{}, false
		}
		b, ok := ct.Captured(res, int(f.num))
		if !ok {
			return Value{}, false
		}
		return Value{Kind: KStr, B: b}, true
	})
}

var versions = [...][]byte{[]byte("HTTP/1.0"), []byte("HTTP/1.1")}

// resVersion is the response's version as "HTTP/x.y", nil before one.
func resVersion(c *Ctx) []byte {
	tx := c.engine()
	if tx == nil || tx.Resp == nil {
		return nil
	}
	if tx.Resp.Major == 1 && tx.Resp.Minor <= 1 {
		return versions[tx.Resp.Minor]
	}
	return []byte("HTTP/" + strconv.Itoa(tx.Resp.Major) + "." + strconv.Itoa(tx.Resp.Minor))
}
