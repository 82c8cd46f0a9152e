package stick

// What replicating a table with peers needs: the local changes in order
// (each gets an update id, HAProxy's ts->upd), an entry's data as the
// peers protocol carries it, and applying a peer's update.

// Kind is how a data type is stored and carried.
type Kind uint8

const (
	KindSInt Kind = iota // signed 32-bit integer
	KindUInt             // unsigned 32-bit integer
	KindULL              // unsigned 64-bit integer
	KindFreq             // frequency counter
	KindDict             // server key (a string)
)

// Kind is the storage kind of d.
func (d DataType) Kind() Kind { return Kind(dataTypes[d].std) }

// PeerValue is one element of a datum as the peers protocol carries it:
// N for integers, a frequency counter as the age of its current period
// (ms), its current and previous counts, a server key as its string.
type PeerValue struct {
	N          uint64
	Age        uint32
	Curr, Prev uint32
	S          string
}

// Update is a local change to push: its id and the entry.
type Update struct {
	ID  uint32
	ref Ref
}

// LocalUpdate is the id of the latest local change.
func (t *Table) LocalUpdate() uint32 {
	t.updMu.Lock()
	defer t.updMu.Unlock()
	return t.localUpdate
}

// UpdatesAfter appends to buf the local changes after id after, oldest
// first, at most cap(buf)-len(buf) of them. Some may be stale (the entry
// changed again or went): Acquire says so.
func (t *Table) UpdatesAfter(after uint32, buf []Update) []Update {
	t.updMu.Lock()
	defer t.updMu.Unlock()
	// binary search of the first id after `after` (ids increase, with
	// wrapping compared as HAProxy does)
	lo, hi := 0, len(t.updLog)
	for lo < hi {
		m := (lo + hi) / 2
		if int32(t.updLog[m].id-after) > 0 {
			hi = m
		} else {
			lo = m + 1
		}
	}
	for i := lo; i < len(t.updLog) && len(buf) < cap(buf); i++ {
		buf = append(buf, Update{ID: t.updLog[i].id, ref: t.updLog[i].ref})
	}
	return buf
}

// Acquire takes a reference on the entry of a logged change if that
// change is still the entry's latest local one; 0 otherwise.
func (t *Table) Acquire(u Update) Ref {
	s := &t.shards[u.ref.shard()]
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ref.idx() == 0 || u.ref.idx() > s.n {
		return 0
	}
	rec := s.rec(t, u.ref.idx())
	if rec[hRef]&(fUsed|fLocal) != fUsed|fLocal || rec[hUpd] != u.ID {
		return 0
	}
	rec[hRef]++
	return u.ref
}

// CompactUpdates drops the logged changes that are no longer the latest
// of their entry, so the log stays as long as the table.
func (t *Table) CompactUpdates() {
	t.updMu.Lock()
	n := len(t.updLog)
	if n < 1024 || int64(n) < 2*t.Used() {
		t.updMu.Unlock()
		return
	}
	snap := append([]updRecord(nil), t.updLog[:n]...)
	t.updMu.Unlock()
	kept := snap[:0]
	for _, u := range snap {
		s := &t.shards[u.ref.shard()]
		s.mu.Lock()
		rec := s.rec(t, u.ref.idx())
		if rec[hRef]&(fUsed|fLocal) == fUsed|fLocal && rec[hUpd] == u.id {
			kept = append(kept, u)
		}
		s.mu.Unlock()
	}
	t.updMu.Lock()
	t.updLog = append(kept, t.updLog[n:]...)
	t.updMu.Unlock()
}

// PeerElem is one element of a stored datum.
type PeerElem struct {
	Type DataType
	Idx  int
	V    PeerValue
}

// ReadPeer appends every element of every stored datum of a referenced
// entry to buf, in data type order, and returns the time left before the
// entry expires (ms; 0 for tables without expire).
func (t *Table) ReadPeer(r Ref, buf []PeerElem) ([]PeerElem, uint32) {
	s, rec := t.lockRef(r)
	now := t.clock.Now()
	start := len(buf)
	for d := DataType(0); d < NumDataTypes; d++ {
		if t.off[d] < 0 {
			continue
		}
		for n := 0; n < int(t.nelem[d]); n++ {
			w := t.data(rec, d, n)
			e := PeerElem{Type: d, Idx: n}
			switch dataTypes[d].std {
			case stdSInt:
				e.V.N = uint64(int64(int32(w[0])))
			case stdUInt, stdDict:
				e.V.N = uint64(w[0])
			case stdULL:
				e.V.N = getULL(w)
			case stdFreq:
				e.V.Age, e.V.Curr, e.V.Prev = now-w[0], w[1], w[2]
			}
			buf = append(buf, e)
		}
	}
	var expire uint32
	if t.expire != 0 {
		expire = tickRemain(now, rec[hExp])
	}
	s.mu.Unlock()
	// server keys are resolved outside the shard lock (the dictionary
	// has its own)
	for i := start; i < len(buf); i++ {
		if buf[i].Type == ServerKey && t.dict != nil {
			buf[i].V.S = t.dict.Lookup(uint32(buf[i].V.N))
			buf[i].V.N = 0
		}
	}
	return buf, expire
}

// ApplyPeer sets key's entry (created if absent) from a peer's update:
// values returns a stored datum's element as received (ok false: the
// peer did not send it). Local-only data (conn_cur) is kept. The entry
// then expires expire ms from now, without becoming a local change to
// push (HAProxy's stktable_touch_remote). It reports false when the
// table has no room.
func (t *Table) ApplyPeer(key []byte, expire uint32, values func(dt DataType, idx int) (PeerValue, bool)) bool {
	key = t.normKey(key)
	var kid uint32
	if t.off[ServerKey] >= 0 && t.dict != nil {
		if v, ok := values(ServerKey, 0); ok && v.S != "" {
			kid = t.dict.Intern(v.S)
		}
	}
	h, _, s := t.lockKey(key)
	defer s.mu.Unlock()
	now := t.clock.Now()
	i := t.getLocked(s, h, key, now)
	if i == 0 {
		return false
	}
	rec := s.rec(t, i)
	for d := DataType(0); d < NumDataTypes; d++ {
		if t.off[d] < 0 || dataTypes[d].local {
			continue
		}
		for n := 0; n < int(t.nelem[d]); n++ {
			v, ok := values(d, n)
			if !ok {
				continue
			}
			w := t.data(rec, d, n)
			switch dataTypes[d].std {
			case stdSInt, stdUInt:
				w[0] = uint32(v.N)
			case stdULL:
				setULL(w, v.N)
			case stdFreq:
				w[0] = (now - v.Age) &^ 1
				w[1], w[2] = v.Curr, v.Prev
			case stdDict:
				if kid != 0 {
					w[0] = kid
				}
			}
		}
	}
	rec[hRef] &^= fLocal // learned, not to be pushed again
	s.setExp(t, i, tickAdd(now, expire))
	return true
}

// SetOnChange registers what to call after each local change (the peers
// sessions' wake-up); it must not block. Set it before traffic starts.
func (t *Table) SetOnChange(fn func()) {
	t.onChange = fn
	t.synced = true
}
