package stick

// Operations on an entry held by a reference, each under its shard's lock
// and each named after what HAProxy does at that point of a stream.

// lockRef locks r's shard and returns its record.
func (t *Table) lockRef(r Ref) (*shard, []uint32) {
	s := &t.shards[r.shard()]
	s.mu.Lock()
	return s, s.rec(t, r.idx())
}

func (t *Table) incUint(r []uint32, d DataType) bool {
	if w := t.data(r, d, 0); w != nil {
		w[0]++
		return true
	}
	return false
}

func (t *Table) incFreq(r []uint32, d DataType, now uint32, inc uint32) bool {
	if w := t.data(r, d, 0); w != nil {
		freqUpdate(w, now, t.period[d], inc)
		return true
	}
	return false
}

// StartCounters is what tracking an entry does (stream_start_counters):
// one more current and cumulated connection, the connection rate, and a
// local touch.
func (t *Table) StartCounters(r Ref) {
	if r == 0 {
		return
	}
	s, rec := t.lockRef(r)
	now := t.clock.Now()
	t.incUint(rec, ConnCur)
	t.incUint(rec, ConnCnt)
	t.incFreq(rec, ConnRate, now, 1)
	t.touchLocal(s, r.shard(), r.idx(), now)
	s.mu.Unlock()
}

// StopCounters is the end of a tracking stream or session
// (stream_store_counters): one connection less, a touch when conn_cur is
// stored, then the reference goes.
func (t *Table) StopCounters(r Ref) {
	if r == 0 {
		return
	}
	s, rec := t.lockRef(r)
	now := t.clock.Now()
	if w := t.data(rec, ConnCur, 0); w != nil {
		if w[0] > 0 {
			w[0]--
		}
		t.touchLocal(s, r.shard(), r.idx(), now)
	}
	if rec[hRef]&refMask > 0 {
		rec[hRef]--
	}
	if t.expired(rec, now) {
		s.remove(t, r.idx())
	}
	s.mu.Unlock()
}

// Event is a counted event of a tracked stream.
type Event uint8

const (
	EvHTTPReq  Event = 1 << iota // an HTTP request (http_req_cnt, http_req_rate)
	EvHTTPErr                    // a 4xx answer (http_err_cnt, http_err_rate)
	EvHTTPFail                   // a server failure (http_fail_cnt, http_fail_rate)
	EvSess                       // an accepted session (sess_cnt, sess_rate)
)

var eventTypes = [...][2]DataType{
	{HTTPReqCnt, HTTPReqRate},
	{HTTPErrCnt, HTTPErrRate},
	{HTTPFailCnt, HTTPFailRate},
	{SessCnt, SessRate},
}

// Count adds the events ev to the entry and touches it when one of them
// is stored (stream_inc_http_req_ctr and friends).
func (t *Table) Count(r Ref, ev Event) {
	if r == 0 {
		return
	}
	s, rec := t.lockRef(r)
	now := t.clock.Now()
	touched := false
	for i, dt := range eventTypes {
		if ev&(1<<i) == 0 {
			continue
		}
		if t.incUint(rec, dt[0]) {
			touched = true
		}
		if t.incFreq(rec, dt[1], now, 1) {
			touched = true
		}
	}
	if touched {
		t.touchLocal(s, r.shard(), r.idx(), now)
	}
	s.mu.Unlock()
}

// AddBytes counts bytes received from the client (in) and sent to it
// (out).
func (t *Table) AddBytes(r Ref, in, out uint64) {
	if r == 0 || (in == 0 && out == 0) {
		return
	}
	s, rec := t.lockRef(r)
	now := t.clock.Now()
	touched := false
	if w := t.data(rec, BytesInCnt, 0); w != nil {
		setULL(w, getULL(w)+in)
		touched = true
	}
	if t.incFreq(rec, BytesInRate, now, uint32(in)) {
		touched = true
	}
	if w := t.data(rec, BytesOutCnt, 0); w != nil {
		setULL(w, getULL(w)+out)
		touched = true
	}
	if t.incFreq(rec, BytesOutRate, now, uint32(out)) {
		touched = true
	}
	if touched {
		t.touchLocal(s, r.shard(), r.idx(), now)
	}
	s.mu.Unlock()
}

func getULL(w []uint32) uint64    { return uint64(w[0]) | uint64(w[1])<<32 }
func setULL(w []uint32, v uint64) { w[0], w[1] = uint32(v), uint32(v>>32) }

// gpcSlots finds the counter and the rate a gpc increment touches: gpc(N)
// and gpc_rate(N), or for gpc0/gpc1 the dedicated types with the arrays'
// element 0/1 as fallback (action_inc_gpc0).
func (t *Table) gpcSlots(rec []uint32, idx int, legacy bool) (ctr []uint32, rate []uint32, period uint32) {
	if legacy {
		ctr = t.data(rec, [2]DataType{GPC0, GPC1}[idx], 0)
		rate = t.data(rec, [2]DataType{GPC0Rate, GPC1Rate}[idx], 0)
		period = t.period[[2]DataType{GPC0Rate, GPC1Rate}[idx]]
		if ctr == nil {
			ctr = t.data(rec, GPC, idx)
		}
		if rate == nil {
			rate = t.data(rec, GPCRate, idx)
			period = t.period[GPCRate]
		}
		return
	}
	return t.data(rec, GPC, idx), t.data(rec, GPCRate, idx), t.period[GPCRate]
}

// IncGPC increments general purpose counter idx (legacy: gpc0 or gpc1
// with the array as fallback) and its rate. It returns the counter's new
// value and whether the counter or its rate is stored.
func (t *Table) IncGPC(r Ref, idx int, legacy bool) (uint32, bool) {
	if r == 0 {
		return 0, false
	}
	s, rec := t.lockRef(r)
	defer s.mu.Unlock()
	ctr, rate, period := t.gpcSlots(rec, idx, legacy)
	if ctr == nil && rate == nil {
		return 0, false
	}
	now := t.clock.Now()
	if rate != nil {
		freqUpdate(rate, now, period, 1)
	}
	var v uint32
	if ctr != nil {
		ctr[0]++
		v = ctr[0]
	}
	t.touchLocal(s, r.shard(), r.idx(), now)
	return v, true
}

// ClrGPC resets a general purpose counter and returns its previous value
// (sc_clr_gpc0 …); ok is false when the counter is not stored.
func (t *Table) ClrGPC(r Ref, idx int, legacy bool) (uint32, bool) {
	if r == 0 {
		return 0, false
	}
	s, rec := t.lockRef(r)
	defer s.mu.Unlock()
	ctr, _, _ := t.gpcSlots(rec, idx, legacy)
	if ctr == nil {
		return 0, false
	}
	v := ctr[0]
	ctr[0] = 0
	t.touchLocal(s, r.shard(), r.idx(), t.clock.Now())
	return v, true
}

// SetGPT sets general purpose tag idx (legacy: gpt0, with gpt[0] as
// fallback); false when not stored.
func (t *Table) SetGPT(r Ref, idx int, legacy bool, v uint32) bool {
	if r == 0 {
		return false
	}
	s, rec := t.lockRef(r)
	defer s.mu.Unlock()
	var w []uint32
	if legacy {
		w = t.data(rec, GPT0, 0)
	}
	if w == nil {
		w = t.data(rec, GPT, idx)
	}
	if w == nil {
		return false
	}
	w[0] = v
	t.touchLocal(s, r.shard(), r.idx(), t.clock.Now())
	return true
}

// Value reads element idx of stored type d: counters as they are, rates
// over their period, server_id signed. ok is false when the table does
// not store it. Legacy names fall back on the arrays as HAProxy's fetches
// do (gpc0 on gpc[0], gpt0 on gpt[0], gpc0_rate on gpc_rate[0] …).
func (t *Table) Value(r Ref, d DataType, idx int) (v int64, ok bool) {
	if r == 0 {
		return 0, false
	}
	s, rec := t.lockRef(r)
	v, ok = t.valueLocked(rec, d, idx, t.clock.Now())
	s.mu.Unlock()
	return v, ok
}

func (t *Table) valueLocked(rec []uint32, d DataType, idx int, now uint32) (int64, bool) {
	w := t.data(rec, d, idx)
	period := uint32(0)
	if d < NumDataTypes && t.off[d] >= 0 {
		period = t.period[d]
	}
	if w == nil {
		if fb, n, ok := fallback(d); ok {
			w = t.data(rec, fb, n)
			period = t.period[fb]
			d = fb
		}
	}
	if w == nil {
		return 0, false
	}
	switch dataTypes[d].std {
	case stdSInt:
		return int64(int32(w[0])), true
	case stdULL:
		return int64(getULL(w)), true
	case stdFreq:
		return int64(freqRead(w, now, period)), true
	}
	return int64(w[0]), true
}

// fallback is the array element a legacy type reads when it is not
// stored itself.
func fallback(d DataType) (DataType, int, bool) {
	switch d {
	case GPT0:
		return GPT, 0, true
	case GPC0:
		return GPC, 0, true
	case GPC1:
		return GPC, 1, true
	case GPC0Rate:
		return GPCRate, 0, true
	case GPC1Rate:
		return GPCRate, 1, true
	}
	return 0, 0, false
}

// Trackers is the number of references held on the entry (its "use").
func (t *Table) Trackers(r Ref) int64 {
	if r == 0 {
		return 0
	}
	s, rec := t.lockRef(r)
	n := int64(rec[hRef] & refMask)
	s.mu.Unlock()
	return n
}

// StoreServer records the server a stick rule chose: server_id and, when
// stored, server_key (its name or address, per srvkey).
func (t *Table) StoreServer(r Ref, id int32, key string) {
	if r == 0 {
		return
	}
	var kid uint32
	if t.off[ServerKey] >= 0 && t.dict != nil && key != "" {
		kid = t.dict.Intern(key)
	}
	s, rec := t.lockRef(r)
	if w := t.data(rec, ServerID, 0); w != nil {
		w[0] = uint32(id)
	}
	if w := t.data(rec, ServerKey, 0); w != nil {
		w[0] = kid
	}
	t.touchLocal(s, r.shard(), r.idx(), t.clock.Now())
	s.mu.Unlock()
}

// Server returns what a stick rule stored: server_id (0: none) and
// server_key ("" none).
func (t *Table) Server(r Ref) (id int32, key string) {
	if r == 0 {
		return 0, ""
	}
	s, rec := t.lockRef(r)
	if w := t.data(rec, ServerID, 0); w != nil {
		id = int32(w[0])
	}
	var kid uint32
	if w := t.data(rec, ServerKey, 0); w != nil {
		kid = w[0]
	}
	s.mu.Unlock()
	if kid != 0 && t.dict != nil {
		key = t.dict.Lookup(kid)
	}
	return id, key
}

// Touch refreshes an entry's expiry as a local change.
func (t *Table) Touch(r Ref) {
	if r == 0 {
		return
	}
	s, _ := t.lockRef(r)
	t.touchLocal(s, r.shard(), r.idx(), t.clock.Now())
	s.mu.Unlock()
}

// IncConnCnt adds one to conn_cnt and returns it (src_updt_conn_cnt);
// false when conn_cnt is not stored.
func (t *Table) IncConnCnt(r Ref) (uint32, bool) {
	if r == 0 {
		return 0, false
	}
	s, rec := t.lockRef(r)
	defer s.mu.Unlock()
	w := t.data(rec, ConnCnt, 0)
	if w == nil {
		return 0, false
	}
	w[0]++
	t.touchLocal(s, r.shard(), r.idx(), t.clock.Now())
	return w[0], true
}

// Remaining is the time left before a referenced entry expires, in
// milliseconds (0 for tables without expire).
func (t *Table) Remaining(r Ref) uint32 {
	if r == 0 || t.expire == 0 {
		return 0
	}
	s, rec := t.lockRef(r)
	defer s.mu.Unlock()
	return tickRemain(t.clock.Now(), rec[hExp])
}

// AppendRawKey appends a referenced entry's stored key (key size bytes,
// the significant part of a string) to dst.
func (t *Table) AppendRawKey(dst []byte, r Ref) []byte {
	k := t.keyOf(r)
	return append(dst, k[:t.keyLen(k)]...)
}
