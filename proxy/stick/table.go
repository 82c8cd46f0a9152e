package stick

import (
	"bytes"
	"hash/maphash"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Record layout: every entry is a fixed run of uint32 words in its shard's
// arena, a header then the stored data; its key is in a parallel byte
// arena. Indexes are position+1 so that 0 means none.
const (
	hExp   = iota // expiry tick
	hRef          // reference count (low 24 bits) and flags
	hPrev         // previous entry in expiry order
	hNext         // next entry in expiry order
	hChain        // next entry in the same hash bucket
	hUpd          // update id of the last local change (peers)
	hWords
)

const (
	refMask = 1<<24 - 1
	fUsed   = 1 << 24 // the record holds an entry
	fLocal  = 1 << 25 // hUpd is a local update id (to push to peers)
)

// Ref designates an entry held by a reference (Get, Lookup, Track): the
// entry stays in the table, neither expired nor evicted, until Release.
// The zero Ref is no entry.
type Ref uint64

func mkRef(shard int, idx uint32) Ref { return Ref(uint64(shard)<<32 | uint64(idx)) }
func (r Ref) shard() int              { return int(r >> 32) }
func (r Ref) idx() uint32             { return uint32(r) }

// Table is one stick table. Its methods are safe for concurrent use.
type Table struct {
	Spec *Spec
	// ID numbers the table in its Set, in configuration order.
	ID int

	clock    *Clock
	dict     *Dict
	keySize  int
	stride   int // words per record
	chunkLog uint
	off      [NumDataTypes]int16 // word offset of each stored type, -1 absent
	nelem    [NumDataTypes]uint8
	period   [NumDataTypes]uint32 // milliseconds
	expire   uint32               // milliseconds, 0: never
	size     int64
	batch    int // entries evicted at once when the table is full

	used      atomic.Int64
	seed      maphash.Seed
	shardMask uint64
	shardBits uint
	shards    []shard

	// peers: local changes are numbered and logged for the sync sessions.
	updMu       sync.Mutex
	localUpdate uint32
	updLog      []updRecord
	synced      bool   // a peers section shares the table
	onChange    func() // called after local changes (peers)

	stop chan struct{}
	wg   sync.WaitGroup
}

type updRecord struct {
	id  uint32
	ref Ref
}

type shard struct {
	mu      sync.Mutex
	words   [][]uint32
	keys    [][]byte
	n       uint32 // records ever allocated
	free    uint32 // free list, linked through hNext
	buckets []uint32
	count   int
	head    uint32 // expiry order: oldest first
	tail    uint32
	_       [64]byte // keep shards on separate cache lines
}

// NewTable builds an empty table for spec. Start runs its expiry.
func NewTable(spec *Spec, clock *Clock, dict *Dict) *Table {
	t := &Table{Spec: spec, clock: clock, dict: dict, seed: maphash.MakeSeed()}
	t.keySize = spec.KeySize
	if t.keySize <= 0 {
		t.keySize = DefaultKeySize(spec.Type)
		if spec.Type == KeyString {
			t.keySize = 32
		}
	}
	for i := range t.off {
		t.off[i] = -1
	}
	w := hWords
	for _, st := range spec.Store {
		if t.off[st.Type] >= 0 {
			continue
		}
		n := max(st.N, 1)
		t.off[st.Type] = int16(w)
		t.nelem[st.Type] = uint8(n)
		t.period[st.Type] = uint32(st.Period.Milliseconds())
		w += n * dataTypes[st.Type].std.words()
	}
	t.stride = w
	t.expire = uint32(spec.Expire.Milliseconds())
	t.size = int64(spec.Size)
	t.batch = int(t.size>>8) + 1
	// Shard big tables so that concurrent requests rarely meet on a lock;
	// small ones keep one shard so that eviction at `size` picks exactly
	// HAProxy's victims (the oldest entries of the whole table).
	nshards := 1
	if t.size >= 1<<14 {
		nshards = 1 << bits.Len(uint(runtime.GOMAXPROCS(0)*4-1))
		nshards = min(nshards, 64)
	}
	t.shardBits = uint(bits.TrailingZeros(uint(nshards)))
	t.shardMask = uint64(nshards - 1)
	t.shards = make([]shard, nshards)
	per := t.size / int64(nshards)
	t.chunkLog = 10
	for t.chunkLog > 4 && int64(1)<<t.chunkLog > per {
		t.chunkLog--
	}
	t.batch = max(1, t.batch/nshards)
	t.stop = make(chan struct{})
	return t
}

// Now returns the table clock's current tick.
func (t *Table) Now() uint32 { return t.clock.Now() }

// Used is the number of entries (HAProxy's "used").
func (t *Table) Used() int64 { return t.used.Load() }

// Size is the configured maximum number of entries.
func (t *Table) Size() int64 { return t.size }

// KeySize is HAProxy's key_size.
func (t *Table) KeySize() int { return t.keySize }

// Stores says whether the table stores data type d.
func (t *Table) Stores(d DataType) bool { return d < NumDataTypes && t.off[d] >= 0 }

// Elems is the element count of a stored type (arrays), 0 when absent.
func (t *Table) Elems(d DataType) int {
	if !t.Stores(d) {
		return 0
	}
	return int(t.nelem[d])
}

// Period is a stored rate's period in milliseconds.
func (t *Table) Period(d DataType) uint32 { return t.period[d] }

// ExpireMS is the table's expire delay in milliseconds (0: none).
func (t *Table) ExpireMS() uint32 { return t.expire }

// EntryBytes is the memory one entry takes in halo: its record, its key
// and its share of the hash index.
func (t *Table) EntryBytes() int { return t.stride*4 + t.keySize + 4 }

func (s *shard) rec(t *Table, i uint32) []uint32 {
	i--
	c := s.words[i>>t.chunkLog]
	o := int(i&(1<<t.chunkLog-1)) * t.stride
	return c[o : o+t.stride : o+t.stride]
}

func (s *shard) key(t *Table, i uint32) []byte {
	i--
	c := s.keys[i>>t.chunkLog]
	o := int(i&(1<<t.chunkLog-1)) * t.keySize
	return c[o : o+t.keySize : o+t.keySize]
}

// keyLen is the significant length of a stored key (strings stop at NUL).
func (t *Table) keyLen(k []byte) int {
	if t.Spec.Type == KeyString {
		if i := bytes.IndexByte(k, 0); i >= 0 {
			return i
		}
	}
	return len(k)
}

// normKey cuts a lookup key as HAProxy's stksess_setkey and lookups do:
// strings to key_size-1 bytes, other types to key_size (callers pad
// binary keys).
func (t *Table) normKey(key []byte) []byte {
	if t.Spec.Type == KeyString {
		if i := bytes.IndexByte(key, 0); i >= 0 {
			key = key[:i]
		}
		if len(key) > t.keySize-1 {
			key = key[:t.keySize-1]
		}
		return key
	}
	if len(key) > t.keySize {
		key = key[:t.keySize]
	}
	return key
}

func (t *Table) hash(key []byte) uint64 { return maphash.Bytes(t.seed, key) }

func (t *Table) shardOf(h uint64) (int, *shard) {
	i := int(h & t.shardMask)
	return i, &t.shards[i]
}

func (s *shard) bucket(t *Table, h uint64) int {
	return int((h >> t.shardBits) & uint64(len(s.buckets)-1))
}

// find returns the index of key's entry in s, 0 if absent.
func (s *shard) find(t *Table, h uint64, key []byte) uint32 {
	if len(s.buckets) == 0 {
		return 0
	}
	for i := s.buckets[s.bucket(t, h)]; i != 0; i = s.rec(t, i)[hChain] {
		k := s.key(t, i)
		if t.Spec.Type == KeyString {
			if t.keyLen(k) == len(key) && bytes.Equal(k[:len(key)], key) {
				return i
			}
		} else if bytes.Equal(k[:len(key)], key) && allZero(k[len(key):]) {
			return i
		}
	}
	return 0
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// alloc takes a free record, growing the arena by one chunk if needed.
func (s *shard) alloc(t *Table) uint32 {
	if s.free != 0 {
		i := s.free
		r := s.rec(t, i)
		s.free = r[hNext]
		clear(r)
		clear(s.key(t, i))
		return i
	}
	if int(s.n)>>t.chunkLog == len(s.words) {
		s.words = append(s.words, make([]uint32, t.stride<<t.chunkLog))
		s.keys = append(s.keys, make([]byte, t.keySize<<t.chunkLog))
	}
	s.n++
	return s.n
}

func (s *shard) grow(t *Table) {
	nb := max(16, 2*len(s.buckets))
	old := s.buckets
	s.buckets = make([]uint32, nb)
	for _, head := range old {
		for i := head; i != 0; {
			r := s.rec(t, i)
			next := r[hChain]
			k := s.key(t, i)
			b := s.bucket(t, t.hash(k[:t.keyLen(k)]))
			r[hChain] = s.buckets[b]
			s.buckets[b] = i
			i = next
		}
	}
}

// insert creates key's entry (the caller checked it is absent and that
// the table has room).
func (s *shard) insert(t *Table, h uint64, key []byte, now uint32) uint32 {
	if s.count >= len(s.buckets) {
		s.grow(t)
	}
	i := s.alloc(t)
	r := s.rec(t, i)
	copy(s.key(t, i), key)
	b := s.bucket(t, h)
	r[hChain] = s.buckets[b]
	s.buckets[b] = i
	r[hRef] = fUsed
	r[hExp] = tickAdd(now, t.expire)
	s.linkTail(t, i)
	s.count++
	t.used.Add(1)
	return i
}

// remove frees entry i.
func (s *shard) remove(t *Table, i uint32) {
	k := s.key(t, i)
	h := t.hash(k[:t.keyLen(k)])
	b := s.bucket(t, h)
	r := s.rec(t, i)
	if s.buckets[b] == i {
		s.buckets[b] = r[hChain]
	} else {
		for j := s.buckets[b]; j != 0; j = s.rec(t, j)[hChain] {
			rj := s.rec(t, j)
			if rj[hChain] == i {
				rj[hChain] = r[hChain]
				break
			}
		}
	}
	s.unlink(t, i)
	r[hRef] = 0
	r[hNext] = s.free
	s.free = i
	s.count--
	t.used.Add(-1)
	if t.dict != nil && t.off[ServerKey] >= 0 {
		r[t.off[ServerKey]] = 0
	}
}

func (s *shard) unlink(t *Table, i uint32) {
	r := s.rec(t, i)
	if r[hPrev] != 0 {
		s.rec(t, r[hPrev])[hNext] = r[hNext]
	} else {
		s.head = r[hNext]
	}
	if r[hNext] != 0 {
		s.rec(t, r[hNext])[hPrev] = r[hPrev]
	} else {
		s.tail = r[hPrev]
	}
	r[hPrev], r[hNext] = 0, 0
}

// linkTail puts i in expiry order: usually last (a touch sets the latest
// expiry), else walking back from the tail (an expiry learned from a
// peer may be earlier).
func (s *shard) linkTail(t *Table, i uint32) {
	r := s.rec(t, i)
	at := s.tail
	for at != 0 && int32(r[hExp]-s.rec(t, at)[hExp]) < 0 {
		at = s.rec(t, at)[hPrev]
	}
	r[hPrev] = at
	if at == 0 {
		r[hNext] = s.head
		if s.head != 0 {
			s.rec(t, s.head)[hPrev] = i
		}
		s.head = i
	} else {
		ra := s.rec(t, at)
		r[hNext] = ra[hNext]
		if ra[hNext] != 0 {
			s.rec(t, ra[hNext])[hPrev] = i
		}
		ra[hNext] = i
	}
	if r[hNext] == 0 {
		s.tail = i
	}
}

// setExp changes an entry's expiry and keeps the order.
func (s *shard) setExp(t *Table, i uint32, exp uint32) {
	r := s.rec(t, i)
	if r[hExp] == exp {
		return
	}
	r[hExp] = exp
	s.unlink(t, i)
	s.linkTail(t, i)
}

// expired says an unreferenced entry is past its expiry (tables without
// expire never expire).
func (t *Table) expired(r []uint32, now uint32) bool {
	return t.expire != 0 && r[hRef]&refMask == 0 && tickExpired(r[hExp], now)
}

// trashOldest evicts up to t.batch unreferenced entries from the oldest,
// as HAProxy's stktable_trash_oldest (at most twice as many looked at).
func (s *shard) trashOldest(t *Table) int {
	n, search := 0, 2*t.batch
	for i := s.head; i != 0 && n < t.batch && search > 0; search-- {
		next := s.rec(t, i)[hNext]
		if s.rec(t, i)[hRef]&refMask == 0 {
			s.remove(t, i)
			n++
		}
		i = next
	}
	return n
}

// purge removes the expired entries of s and returns the next expiry (0
// when none is due).
func (s *shard) purge(t *Table, now uint32) uint32 {
	for i := s.head; i != 0; {
		r := s.rec(t, i)
		next := r[hNext]
		if !tickExpired(r[hExp], now) {
			return r[hExp]
		}
		if r[hRef]&refMask == 0 {
			s.remove(t, i)
		}
		i = next
	}
	return 0
}

// lockKey hashes key and locks its shard.
func (t *Table) lockKey(key []byte) (uint64, int, *shard) {
	h := t.hash(key)
	si, s := t.shardOf(h)
	s.mu.Lock()
	return h, si, s
}

// lookupLocked finds key's live entry, dropping it if it has expired
// (as HAProxy's expiry task would have by now).
func (t *Table) lookupLocked(s *shard, h uint64, key []byte, now uint32) uint32 {
	i := s.find(t, h, key)
	if i != 0 && t.expired(s.rec(t, i), now) {
		s.remove(t, i)
		return 0
	}
	return i
}

// getLocked finds or creates key's entry; 0 when the table is full and
// nothing could be evicted (or nopurge).
func (t *Table) getLocked(s *shard, h uint64, key []byte, now uint32) uint32 {
	if i := t.lookupLocked(s, h, key, now); i != 0 {
		return i
	}
	if t.used.Load() >= t.size {
		if t.Spec.NoPurge || s.trashOldest(t) == 0 {
			return 0
		}
	}
	return s.insert(t, h, key, now)
}

// Lookup returns a reference to key's entry, 0 when absent.
func (t *Table) Lookup(key []byte) Ref {
	key = t.normKey(key)
	h, si, s := t.lockKey(key)
	defer s.mu.Unlock()
	i := t.lookupLocked(s, h, key, t.clock.Now())
	if i == 0 {
		return 0
	}
	s.rec(t, i)[hRef]++
	return mkRef(si, i)
}

// Get returns a reference to key's entry, created if absent; 0 when the
// table is full and nothing could be evicted.
func (t *Table) Get(key []byte) Ref {
	key = t.normKey(key)
	h, si, s := t.lockKey(key)
	defer s.mu.Unlock()
	i := t.getLocked(s, h, key, t.clock.Now())
	if i == 0 {
		return 0
	}
	s.rec(t, i)[hRef]++
	return mkRef(si, i)
}

// Release drops a reference; an entry left unreferenced past its expiry
// goes (stksess_kill_if_expired).
func (t *Table) Release(r Ref) {
	if r == 0 {
		return
	}
	s := &t.shards[r.shard()]
	s.mu.Lock()
	rec := s.rec(t, r.idx())
	if rec[hRef]&refMask > 0 {
		rec[hRef]--
	}
	if t.expired(rec, t.clock.Now()) {
		s.remove(t, r.idx())
	}
	s.mu.Unlock()
}

// touchLocal is stktable_touch_local: the entry expires expire ms from
// now and, when peers share the table, gets a new update id to push.
func (t *Table) touchLocal(s *shard, si int, i uint32, now uint32) {
	s.setExp(t, i, tickAdd(now, t.expire))
	if t.synced {
		t.logUpdate(s.rec(t, i), mkRef(si, i))
	}
}

func (t *Table) logUpdate(r []uint32, ref Ref) {
	t.updMu.Lock()
	t.localUpdate++
	if t.localUpdate == 0 {
		t.localUpdate++
	}
	r[hUpd] = t.localUpdate
	r[hRef] |= fLocal
	t.updLog = append(t.updLog, updRecord{id: t.localUpdate, ref: ref})
	t.updMu.Unlock()
	if t.onChange != nil {
		t.onChange()
	}
}

// data returns the words of element n of stored type d in record r, nil
// when the table does not store it.
func (t *Table) data(r []uint32, d DataType, n int) []uint32 {
	if d >= NumDataTypes || t.off[d] < 0 || n < 0 || n >= int(t.nelem[d]) {
		return nil
	}
	w := dataTypes[d].std.words()
	o := int(t.off[d]) + n*w
	return r[o : o+w : o+w]
}

// Start runs the expiry of entries until Stop.
func (t *Table) Start() {
	if t.expire == 0 {
		return
	}
	t.wg.Add(1)
	go t.expireLoop()
}

// Stop ends the expiry goroutine.
func (t *Table) Stop() {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	t.wg.Wait()
}

func (t *Table) expireLoop() {
	defer t.wg.Done()
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	for {
		next := t.Purge()
		now := t.clock.Now()
		// Sleep until the next expiry; at most a second, since an entry
		// learned from a peer may expire sooner than the ones seen.
		wait := time.Second
		if next != 0 {
			if d := time.Duration(tickRemain(now, next)+1) * time.Millisecond; d < wait {
				wait = d
			}
		}
		timer.Reset(wait)
		select {
		case <-t.stop:
			return
		case <-timer.C:
		}
	}
}

// Purge removes every expired entry and returns the next expiry tick (0:
// none).
func (t *Table) Purge() uint32 {
	if t.expire == 0 {
		return 0
	}
	now := t.clock.Now()
	var next uint32
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n := s.purge(t, now)
		s.mu.Unlock()
		if n != 0 && (next == 0 || int32(n-next) < 0) {
			next = n
		}
	}
	return next
}
