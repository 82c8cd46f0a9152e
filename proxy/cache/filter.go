package cache

import (
	"bytes"
	"strconv"

	"halo/proxy"
	"halo/proxy/http1"
)

// filter is one proxy's cache filter for one cache (declared with `filter
// cache NAME` or implied by the proxy's cache-use/cache-store rules). Its
// slot's State is the entry being stored, or disabled.
type filter struct {
	c  *Cache
	px *proxy.Proxy
}

// disabled marks a slot whose response may not be stored: a compression
// filter before this one compresses it (cache_store_post_analyze).
var disabled = &entry{}

func (f *filter) Request(tx *proxy.Txn, sl *proxy.FilterSlot) {}

func (f *filter) ResponseHead(tx *proxy.Txn, sl *proxy.FilterSlot) {
	if tx.Comp != "" {
		sl.State = disabled
	}
}

func pending(sl *proxy.FilterSlot) *entry {
	if e, ok := sl.State.(*entry); ok && e != disabled {
		return e
	}
	return nil
}

func (f *filter) Headers(tx *proxy.Txn, sl *proxy.FilterSlot) bool {
	return pending(sl) != nil
}

// Data stores a piece of the body, giving up (and dropping the entry)
// when the object outgrows max-object-size.
func (f *filter) Data(tx *proxy.Txn, sl *proxy.FilterSlot, p []byte) []byte {
	e := pending(sl)
	if e == nil {
		return p
	}
	e.body = append(e.body, p...)
	e.growing += 4 + len(p) // an HTX data block: its info word and the data
	if f.c.cfg.MaxObjectSize > 0 && int64(e.growing) > f.c.cfg.MaxObjectSize {
		f.c.drop(e)
		e.body = nil
		sl.State = disabled
	}
	return p
}

// End makes the stored entry usable once the whole body is in.
func (f *filter) End(tx *proxy.Txn, sl *proxy.FilterSlot, complete bool) []byte {
	e := pending(sl)
	if e == nil {
		return nil
	}
	sl.State = nil
	if !complete {
		f.c.drop(e)
		return nil
	}
	f.c.mu.Lock()
	e.size = e.growing
	f.c.mu.Unlock()
	f.c.complete(e)
	return nil
}

func (f *filter) Release(tx *proxy.Txn, sl *proxy.FilterSlot) {
	if e := pending(sl); e != nil {
		f.c.drop(e)
	}
	sl.State = nil
}

// Action is what a proxy's `cache-use NAME` and `cache-store NAME` rules
// run.
type Action struct {
	f *filter
}

// Use is `http-request cache-use`: the request's key, then a lookup; a
// fresh entry answers the request (the engine's Applet is the cache).
func (a *Action) Use(tx *proxy.Txn) {
	req := tx.Req
	if req == nil || tx.Applet != nil {
		return
	}
	c := a.f.c
	tc := &tx.Cache
	requestFlags(tx)
	var scratch [256]byte
	if _, ok := primaryKey(req, &tc.Key, scratch[:0]); !ok {
		return
	}
	tc.HasKey = true
	if tc.Ignore {
		return
	}
	ctr := a.counters(tx)
	ctr.CacheLookups.Add(1)
	now := c.m.now().Unix()
	c.mu.Lock()
	e := c.lookup(tc.Key, now)
	if e != nil && e.complete {
		if e.varySig != 0 {
			tc.HasSecondary = secondaryKey(req, e.varySig, &tc.Secondary, scratch[:0])
			if tc.HasSecondary {
				e = c.variant(e, tc.Secondary, now)
			} else {
				e = nil
			}
		}
		if e == nil {
			c.mu.Unlock()
			return
		}
		if e.elem != nil {
			c.lru.MoveToBack(e.elem)
		}
		c.mu.Unlock()
		tx.Applet = c
		tc.Entry = e
		tc.Name = c.name
		tc.NotModified = notModified(req, e)
		ctr.CacheHits.Add(1)
		return
	}
	c.mu.Unlock()
	if e == nil && c.cfg.ProcessVary {
		// The response will say which headers it varies on.
		tc.HasSecondary = secondaryKey(req, varyAll, &tc.Secondary, scratch[:0])
	}
}

// counters are the proxy's whose rule runs: the frontend's when it is
// the frontend, else the backend's.
func (a *Action) counters(tx *proxy.Txn) *proxy.Counters {
	if tx.Frontend != nil && tx.Frontend.Proxy == a.f.px {
		return &tx.Frontend.Counters
	}
	if tx.Backend != nil {
		return &tx.Backend.Counters
	}
	return &tx.Frontend.Counters
}

// Store is `http-response cache-store`: when the response may be stored,
// its head is taken as it is now (the rules after this one do not change
// the stored copy) and the filter stores the body as it goes by.
func (a *Action) Store(tx *proxy.Txn) {
	req, resp := tx.Req, tx.Resp
	if req == nil || resp == nil || tx.Applet != nil || !req.Is11() {
		return
	}
	c := a.f.c
	tc := &tx.Cache
	now := c.m.now().Unix()
	if !http1.EqualFold(req.Method, "GET") {
		// A successful unsafe method invalidates the stored resource
		// (RFC 7234 §4.4).
		safe := http1.EqualFold(req.Method, "HEAD") || http1.EqualFold(req.Method, "OPTIONS") || http1.EqualFold(req.Method, "TRACE")
		if tc.HasKey && !safe && resp.Status >= 200 && resp.Status < 400 {
			c.mu.Lock()
			if old := c.lookup(tc.Key, now); old != nil {
				c.remove(old)
			}
			c.mu.Unlock()
		}
		return
	}
	if !tc.HasKey || resp.Status != 200 {
		return
	}
	sl := tx.FilterSlot(a.f)
	if sl == nil || sl.State != nil {
		return // not attached, disabled, or already storing
	}
	head := htxHead(resp)
	if mo := c.cfg.MaxObjectSize; mo > 0 && resp.ContentLength >= 0 && int64(head)+resp.ContentLength > mo {
		return
	}
	var sig uint32
	sec := tc.Secondary
	if c.cfg.ProcessVary {
		var ok bool
		if sig, ok = varySignature(resp); !ok {
			return
		}
		if sig != 0 {
			if !tc.HasSecondary {
				return
			}
			if sig&varyAcceptEncoding == 0 {
				clear(sec[0:4])
			}
			if sig&varyReferer == 0 {
				clear(sec[4:8])
			}
		}
	} else if _, ok := resp.Get("vary"); ok {
		return
	}
	if tc.Ignore || !responseCacheable(resp, tx) {
		return
	}
	eff, own := maxAge(resp, int64(c.cfg.MaxAge.Seconds()), now)
	e := &entry{key: tc.Key, secondary: sec, varySig: sig, validated: now, expire: now + eff}
	if v, ok := resp.Get("age"); ok {
		age, good := ageValue(v)
		if !good || age > own {
			return // stale already, or a bad Age
		}
		e.age = age
		resp.DelHeader("age")
	}
	e.lastMod = lastModified(resp, now)
	if c.cfg.ProcessVary && sig != 0 {
		bits, ok := responseEncodingBits(resp)
		if !ok {
			return
		}
		e.secondary[0], e.secondary[1], e.secondary[2], e.secondary[3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
	}
	if head > 16384-1024 {
		return // HAProxy stores heads that fit a buffer less its reserve
	}
	e.status = resp.AppendResponseHead(nil)
	i := bytes.Index(e.status, []byte("\r\n"))
	e.headers = e.status[i+2:]
	e.status = e.status[:i]
	e.headers = stripConnection(e.headers)
	for j := range resp.Headers {
		if http1.EqualFold(resp.Headers[j].Name, "etag") {
			e.etag = append(e.etag[:0], resp.Headers[j].Value...)
		}
	}
	e.size = entryOverhead + head
	e.growing = e.size
	c.mu.Lock()
	old := c.lookup(tc.Key, now)
	if old != nil && sig != 0 {
		old = c.variant(old, sec, now)
	}
	if old != nil {
		if !old.complete {
			// Another response for it is being stored.
			c.mu.Unlock()
			return
		}
		c.remove(old)
	}
	ok := c.insert(e, now)
	c.mu.Unlock()
	if ok {
		sl.State = e
	}
}

// stripConnection drops Connection header lines from a serialized block:
// the engine writes the client's own.
func stripConnection(h []byte) []byte {
	out := h[:0]
	for len(h) > 0 {
		i := bytes.Index(h, []byte("\r\n"))
		if i < 0 {
			break
		}
		line := h[:i+2]
		h = h[i+2:]
		if len(line) >= 11 && http1.EqualFold(line[:11], "connection:") {
			continue
		}
		out = append(out, line...)
	}
	return out
}

// htxHead is the size HAProxy's HTX gives a response head: a start-line
// block (its info word, 28 bytes of fixed fields, version, status,
// reason), a block per header (info word, name, value) and the
// end-of-headers block.
func htxHead(resp *http1.Message) int {
	n := 4 + 28 + len(resp.VersionString()) + 3 + len(resp.Reason)
	for i := range resp.Headers {
		h := &resp.Headers[i]
		n += 4 + len(h.Name) + len(h.Value)
	}
	return n + 4
}

// The cache is the engine's Applet for its hits.

// Name is what logs show as the server.
func (c *Cache) Name() string { return "<CACHE>" }

// AppendHead writes the entry's head, with Age, as a 304 Not Modified for
// a conditional request that matches.
func (c *Cache) AppendHead(tx *proxy.Txn, dst []byte) []byte {
	e := tx.Cache.Entry.(*entry)
	if tx.Cache.NotModified {
		v := e.status
		if i := bytes.IndexByte(v, ' '); i >= 0 {
			v = v[:i]
		}
		dst = append(dst, v...)
		dst = append(dst, " 304 Not Modified\r\n"...)
	} else {
		dst = append(dst, e.status...)
		dst = append(dst, '\r', '\n')
	}
	dst = append(dst, e.headers...)
	age := c.m.now().Unix() - e.validated
	if age < 0 {
		age = 0
	}
	age = min(age+e.age, maxEntryAge)
	dst = append(dst, "age: "...)
	dst = strconv.AppendInt(dst, age, 10)
	return append(dst, "\r\n\r\n"...)
}

// Body returns the stored body.
func (c *Cache) Body(tx *proxy.Txn) ([]byte, []byte) {
	e := tx.Cache.Entry.(*entry)
	return e.body, e.trailers
}
