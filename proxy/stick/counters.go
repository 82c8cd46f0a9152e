package stick

// MaxCounters is the number of stick counters a stream or a session
// tracks (HAProxy's MAX_SESS_STKCTR: sc0, sc1, sc2).
const MaxCounters = 3

// Counter is a tracked stick counter (HAProxy's struct stkctr): the entry
// a track-sc rule designated, held by a reference until the stream or
// session ends.
type Counter struct {
	T *Table
	R Ref
}

// Tracked says the counter designates an entry.
func (c *Counter) Tracked() bool { return c != nil && c.R != 0 }

// Counters are the stick counters of a stream or of a session.
type Counters [MaxCounters]Counter

// Track makes counter n designate key's entry in t and counts the start
// of a tracking (stream_track_stkctr). It does nothing when counter n is
// tracked already or the table has no room; it reports whether it
// tracked.
func (cs *Counters) Track(n int, t *Table, key []byte) bool {
	if n < 0 || n >= MaxCounters || cs[n].R != 0 {
		return false
	}
	r := t.Get(key)
	if r == 0 {
		return false
	}
	cs[n] = Counter{T: t, R: r}
	t.StartCounters(r)
	return true
}

// Stop ends every tracking (stream_store_counters): connections go down
// and the references are released.
func (cs *Counters) Stop() {
	for i := range cs {
		if c := &cs[i]; c.R != 0 {
			c.T.StopCounters(c.R)
			*c = Counter{}
		}
	}
}

// Tracking is what a stream's rules and fetches see: the stream's own
// counters (tcp-request content, http-request/-response track-sc) and
// its session's (tcp-request connection and session track-sc).
type Tracking struct {
	Stream  Counters
	Session *Counters
}

// Get returns counter n: the stream's if it is tracked, else the
// session's; nil when neither is (smp_fetch_sc_stkctr).
func (tk *Tracking) Get(n int) *Counter {
	if tk == nil || n < 0 || n >= MaxCounters {
		return nil
	}
	if tk.Stream[n].R != 0 {
		return &tk.Stream[n]
	}
	if tk.Session != nil && tk.Session[n].R != 0 {
		return &tk.Session[n]
	}
	return nil
}

// Count adds events to every tracked counter, the stream's where both
// are tracked (stream_inc_http_req_ctr and friends).
func (tk *Tracking) Count(ev Event) {
	for i := range MaxCounters {
		if c := tk.Get(i); c != nil {
			c.T.Count(c.R, ev)
		}
	}
}

// AddBytes counts the bytes of the stream (stream_process_counters).
func (tk *Tracking) AddBytes(in, out uint64) {
	for i := range MaxCounters {
		if c := tk.Get(i); c != nil {
			c.T.AddBytes(c.R, in, out)
		}
	}
}

// Track makes stream counter n designate key's entry in t unless counter
// n is tracked already, by the stream or its session (a stream starts
// with its session's counters); it reports whether it tracked.
func (tk *Tracking) Track(n int, t *Table, key []byte) bool {
	if tk.Get(n) != nil {
		return false
	}
	return tk.Stream.Track(n, t, key)
}
