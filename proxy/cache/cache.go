// Package cache is HAProxy's HTTP cache (configuration.txt §6, §9.4): the
// `cache` sections' storage, the cache filter, `http-request cache-use`
// and `http-response cache-store` (called by the layer-7 rules), the
// responses answered from a cache (an engine Applet, logged as <CACHE>)
// and `show cache`. It follows HAProxy 2.6's cache.c: what may be stored
// and served (http.go), the entries' freshness, variants (Vary on
// accept-encoding and referer) and 304 answers to conditional requests.
//
// Entries live in memory accounted in 1 kB blocks against total-max-size;
// the least recently used go first when room is needed. An entry is
// immutable once complete, so hits read it without a lock while the
// index is held only to look it up.
package cache

import (
	"container/list"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"halo/proxy"
)

// blockSize is HAProxy's cache block (CACHE_BLOCKSIZE).
const blockSize = 1024

// entryOverhead approximates HAProxy's struct cache_entry at the head of
// an entry's first block (its `show cache` sizes count it).
const entryOverhead = 104

// maxEntryAge caps Age values (CACHE_ENTRY_MAX_AGE).
const maxEntryAge = 2147483648

// Module owns the caches of a runtime and builds their filters.
type Module struct {
	// Now is the clock (tests set it); nil: time.Now.
	Now func() time.Time

	mu      sync.Mutex
	caches  map[string]*Cache
	order   []*Cache
	filters map[filterKey]*filter
}

type filterKey struct {
	px   *proxy.Proxy
	name string
}

// New returns the module; the caches are made from the configuration on
// first use.
func New() *Module {
	return &Module{caches: map[string]*Cache{}, filters: map[filterKey]*filter{}}
}

// EngineModule returns the engine hooks.
func (m *Module) EngineModule() proxy.Module {
	return proxy.Module{Name: "cache", NewFilter: m.newFilter}
}

func (m *Module) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// cache returns the cache section called name of cfg, made on first use.
func (m *Module) cache(cfg *proxy.Config, name string) *Cache {
	if c := m.caches[name]; c != nil {
		return c
	}
	for _, cs := range cfg.Caches {
		if cs.Name == name {
			c := newCache(m, cs)
			m.caches[name] = c
			m.order = append(m.order, c)
			return c
		}
	}
	return nil
}

// filterFor returns the cache filter of proxy px using cache name: the
// one a `filter cache` line declares or a cache-use/cache-store rule
// implies (the rules of px reach the cache through it).
func (m *Module) filterFor(cfg *proxy.Config, px *proxy.Proxy, name string) (*filter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := filterKey{px, name}
	if f := m.filters[k]; f != nil {
		return f, nil
	}
	c := m.cache(cfg, name)
	if c == nil {
		return nil, fmt.Errorf("unable to find the cache '%s' referenced by the filter 'cache'", name)
	}
	f := &filter{c: c, px: px}
	m.filters[k] = f
	return f, nil
}

func (m *Module) newFilter(rt *proxy.Runtime, px *proxy.Proxy, fc *proxy.FilterConf) (proxy.Filter, error) {
	if fc.Name != "cache" {
		return nil, nil
	}
	return m.filterFor(rt.Cfg, px, fc.Cache)
}

// Action returns what the `cache-use NAME` / `cache-store NAME` rules of
// px run (package rules calls it when compiling them).
func (m *Module) Action(cfg *proxy.Config, px *proxy.Proxy, name string) (*Action, error) {
	f, err := m.filterFor(cfg, px, name)
	if err != nil {
		return nil, err
	}
	return &Action{f: f}, nil
}

// Cache is one `cache` section's storage.
type Cache struct {
	m      *Module
	name   string
	cfg    *proxy.CacheSection
	blocks int // total-max-size in blocks

	mu      sync.Mutex
	entries map[[20]byte][]*entry // primary key → its variants, oldest first
	lru     list.List             // complete entries, least recently used first
	used    int                   // blocks of the complete entries
	hot     int                   // blocks of entries being stored or sent
}

func newCache(m *Module, cs *proxy.CacheSection) *Cache {
	c := &Cache{m: m, name: cs.Name, cfg: cs, entries: map[[20]byte][]*entry{}}
	c.blocks = int(cs.TotalMaxSize / blockSize)
	return c
}

// entry is a stored response.
type entry struct {
	key       [20]byte
	secondary [8]byte
	varySig   uint32 // the Vary headers it varies on (varyAcceptEncoding|varyReferer)
	complete  bool
	expire    int64 // unix seconds
	validated int64 // when stored (latest_validation)
	age       int64 // the origin's Age
	lastMod   int64 // Last-Modified, else Date, else the storing time
	etag      []byte
	status    []byte // the status line, without CRLF
	headers   []byte // header lines, each with CRLF
	body      []byte
	trailers  []byte
	size      int // HAProxy's accounting of the entry (show cache's size)
	growing   int // size while the body comes in (the storing transaction's)
	nblocks   int
	elem      *list.Element
}

func (e *entry) hash32() uint32 {
	return uint32(e.key[0]) | uint32(e.key[1])<<8 | uint32(e.key[2])<<16 | uint32(e.key[3])<<24
}

// lookup is entry_exist: the first entry stored for key, if fresh; an
// expired one is dropped. Called with c.mu held.
func (c *Cache) lookup(key [20]byte, now int64) *entry {
	list := c.entries[key]
	if len(list) == 0 {
		return nil
	}
	e := list[0]
	if e.expire > now {
		return e
	}
	c.remove(e)
	return nil
}

// variant is secondary_entry_exist: among the variants of e's key, the
// one whose secondary key matches sec; expired ones met on the way are
// dropped. Called with c.mu held.
func (c *Cache) variant(e *entry, sec [8]byte, now int64) *entry {
	if e.varySig == 0 {
		return nil
	}
	for _, v := range append([]*entry(nil), c.entries[e.key]...) {
		if v.expire <= now {
			c.remove(v)
			continue
		}
		if secondaryMatch(v.secondary, sec) {
			return v
		}
	}
	return nil
}

// insert adds a (not yet complete) entry; for a variant, at most
// max-secondary-entries live ones per key. Called with c.mu held.
func (c *Cache) insert(e *entry, now int64) bool {
	list := c.entries[e.key]
	if e.varySig != 0 && len(list) > 0 {
		live := 0
		for _, v := range list {
			if v.expire > now {
				live++
			}
		}
		if live >= c.cfg.MaxSecondaryEntries {
			return false
		}
	}
	c.entries[e.key] = append(list, e)
	return true
}

// remove drops e from the index (and its blocks from the accounting).
// Called with c.mu held.
func (c *Cache) remove(e *entry) {
	list := c.entries[e.key]
	for i, v := range list {
		if v == e {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(c.entries, e.key)
	} else {
		c.entries[e.key] = list
	}
	if e.elem != nil {
		c.lru.Remove(e.elem)
		e.elem = nil
		c.used -= e.nblocks
	}
}

// complete makes a stored entry usable, making room for it among the
// least recently used ones; false when it cannot fit.
func (c *Cache) complete(e *entry) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.nblocks = (e.size + blockSize - 1) / blockSize
	if e.nblocks > c.blocks {
		c.remove(e)
		return false
	}
	for c.used+e.nblocks > c.blocks {
		old := c.lru.Front()
		if old == nil {
			break
		}
		c.remove(old.Value.(*entry))
	}
	e.complete = true
	e.elem = c.lru.PushBack(e)
	c.used += e.nblocks
	return true
}

// drop forgets an entry whose storing failed.
func (c *Cache) drop(e *entry) {
	c.mu.Lock()
	c.remove(e)
	c.mu.Unlock()
}

// AppendShow appends `show cache` for every cache (HAProxy's format: the
// cache, then its entries by hash; addresses are halo's).
func (m *Module) AppendShow(b *strings.Builder) {
	m.mu.Lock()
	caches := append([]*Cache(nil), m.order...)
	m.mu.Unlock()
	now := m.now().Unix()
	for _, c := range caches {
		c.mu.Lock()
		fmt.Fprintf(b, "%p: %s (shctx:%p, available blocks:%d)\n", c, c.name, &c.entries, c.blocks-c.hot)
		// The index in hash order; HAProxy walks its tree key by key, so
		// only the first entry of a key (of its variants) shows, if
		// fresh.
		var all []*entry
		for _, l := range c.entries {
			if l[0].expire > now {
				all = append(all, l[0])
			}
		}
		sort.SliceStable(all, func(i, j int) bool { return all[i].hash32() < all[j].hash32() })
		for i, e := range all {
			if i > 0 && e.hash32() == all[i-1].hash32() {
				continue
			}
			fmt.Fprintf(b, "%p hash:%d vary:0x%x size:%d (%d blocks), refcount:0, expire:%d\n",
				e, e.hash32(), e.secondary[:], e.size, max(e.nblocks, 1), e.expire-now)
		}
		c.mu.Unlock()
	}
}
