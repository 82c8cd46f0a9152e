package stick

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func ipKey(s string) []byte {
	a := netip.MustParseAddr(s).As4()
	return a[:]
}

func mustStore(t *testing.T, list string) []Store {
	t.Helper()
	var out []Store
	depth, start := 0, 0
	for i := 0; i <= len(list); i++ {
		if i == len(list) || (list[i] == ',' && depth == 0) {
			st, err := ParseStore(list[start:i])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, st)
			start = i + 1
			continue
		}
		switch list[i] {
		case '(':
			depth++
		case ')':
			depth--
		}
	}
	return out
}

func newTestTable(t *testing.T, typ KeyType, size int, expire time.Duration, store string) (*Table, *Clock) {
	t.Helper()
	c := NewManualClock(1000)
	sp := &Spec{Name: "t", Type: typ, KeySize: DefaultKeySize(typ), Size: size, Expire: expire}
	if store != "" {
		sp.Store = mustStore(t, store)
	}
	return NewTable(sp, c, NewDict()), c
}

// TestFreqCounter follows HAProxy's freq_ctr arithmetic: the previous
// period counts for the part of the current one that remains, two empty
// periods reset, a lone event in the previous period reads as 1.
func TestFreqCounter(t *testing.T) {
	w := make([]uint32, 3)
	const p = 10000
	const base = 1_000_000
	now := uint32(base + 1)
	freqUpdate(w, now, p, 1)
	if w[0] != base || w[1] != 1 || w[2] != 0 {
		t.Fatalf("first update: %v", w)
	}
	for range 9 {
		freqUpdate(w, now, p, 1)
	}
	if got := freqRead(w, now, p); got != 10 {
		t.Fatalf("rate %d, want 10", got)
	}
	// 2.5 s into the next period: 10 previous * 7500/10000 + 4 current
	now = base + p + 2500
	for range 4 {
		freqUpdate(w, now, p, 1)
	}
	if w[0] != base+p || w[1] != 4 || w[2] != 10 {
		t.Fatalf("rotated: %v", w)
	}
	if got := freqRead(w, now, p); got != 11 {
		t.Fatalf("rate %d, want 11 (7.5+4 rounded down)", got)
	}
	// past the period: the current one is now the previous
	now = base + 2*p + 5000
	if got := freqRead(w, now, p); got != 2 {
		t.Fatalf("rate %d, want 2", got)
	}
	// two periods later: nothing
	now = base + 3*p + 1
	if got := freqRead(w, now, p); got != 0 {
		t.Fatalf("rate %d, want 0", got)
	}
	// a lone event keeps reading 1 through the next period
	w = make([]uint32, 3)
	freqUpdate(w, base, p, 1)
	if got := freqRead(w, base+p+p/2, p); got != 1 {
		t.Fatalf("flapping correction: %d", got)
	}
	// wrapping ticks
	w = make([]uint32, 3)
	freqUpdate(w, 0xfffffff0, p, 3)
	freqUpdate(w, 4, p, 2)
	if got := freqRead(w, 4, p); got != 5 {
		t.Fatalf("across the wrap: %d", got)
	}
}

func TestGetLookupRelease(t *testing.T) {
	tb, _ := newTestTable(t, KeyIP, 10, 0, "http_req_cnt")
	if r := tb.Lookup(ipKey("10.0.0.1")); r != 0 {
		t.Fatal("found in an empty table")
	}
	r := tb.Get(ipKey("10.0.0.1"))
	if r == 0 || tb.Used() != 1 {
		t.Fatalf("get: %v used %d", r, tb.Used())
	}
	tb.Count(r, EvHTTPReq)
	tb.Count(r, EvHTTPReq)
	r2 := tb.Lookup(ipKey("10.0.0.1"))
	if r2 != r {
		t.Fatalf("lookup %v, want %v", r2, r)
	}
	if v, ok := tb.Value(r2, HTTPReqCnt, 0); !ok || v != 2 {
		t.Fatalf("http_req_cnt %d %v", v, ok)
	}
	if n := tb.Trackers(r); n != 2 {
		t.Fatalf("trackers %d", n)
	}
	tb.Release(r)
	tb.Release(r2)
	if _, ok := tb.Value(r, GPC0, 0); ok {
		t.Fatal("gpc0 is not stored")
	}
}

// TestEvictOldest: a full table drops its oldest unreferenced entries,
// (size>>8)+1 at a time as HAProxy does; nopurge refuses new entries.
func TestEvictOldest(t *testing.T) {
	tb, c := newTestTable(t, KeyInteger, 4, 0, "gpc0")
	key := func(i uint32) []byte { return binary.LittleEndian.AppendUint32(nil, i) }
	held := tb.Get(key(1))
	for i := uint32(2); i <= 4; i++ {
		c.Advance(time.Millisecond)
		tb.Release(tb.Get(key(i)))
	}
	c.Advance(time.Millisecond)
	tb.Release(tb.Get(key(5)))
	if tb.Used() != 4 {
		t.Fatalf("used %d", tb.Used())
	}
	if r := tb.Lookup(key(2)); r != 0 {
		t.Fatal("2 should have been evicted (1 is referenced)")
	}
	if r := tb.Lookup(key(1)); r == 0 {
		t.Fatal("referenced 1 evicted")
	} else {
		tb.Release(r)
	}
	tb.Release(held)

	np, _ := newTestTable(t, KeyInteger, 2, 0, "")
	np.Spec.NoPurge = true
	np.Release(np.Get(key(1)))
	np.Release(np.Get(key(2)))
	if r := np.Get(key(3)); r != 0 {
		t.Fatal("nopurge table took a third entry")
	}
}

func TestExpire(t *testing.T) {
	tb, c := newTestTable(t, KeyString, 100, 10*time.Second, "gpc0")
	r := tb.Get([]byte("held"))
	tb.Release(tb.Get([]byte("free")))
	c.Advance(10 * time.Second)
	if next := tb.Purge(); next != 0 {
		t.Fatalf("next expiry %d with only a held entry left", next)
	}
	if tb.Used() != 1 {
		t.Fatalf("used %d, want 1 (the referenced entry stays)", tb.Used())
	}
	tb.Release(r) // expired and now unreferenced: gone
	if tb.Used() != 0 {
		t.Fatalf("used %d after release", tb.Used())
	}
	// a touch pushes the expiry back
	r = tb.Get([]byte("k"))
	tb.Release(r)
	c.Advance(6 * time.Second)
	r = tb.Lookup([]byte("k"))
	tb.Touch(r)
	tb.Release(r)
	c.Advance(6 * time.Second)
	if r = tb.Lookup([]byte("k")); r == 0 {
		t.Fatal("touched entry expired")
	}
	tb.Release(r)
}

func TestStringKeyTruncated(t *testing.T) {
	c := NewManualClock(1)
	tb := NewTable(&Spec{Name: "s", Type: KeyString, KeySize: 13, Size: 10}, c, nil)
	tb.Release(tb.Get([]byte("abcdefghijklmnopqrstuvwxyz")))
	r := tb.Lookup([]byte("abcdefghijkl"))
	if r == 0 {
		t.Fatal("truncated key not found")
	}
	if got := string(tb.Key(r)); got != "abcdefghijkl" {
		t.Fatalf("key %q", got)
	}
	tb.Release(r)
}

func TestDumpFormat(t *testing.T) {
	tb, c := newTestTable(t, KeyString, 1024, 0, "gpc(3),gpc_rate(2,10s),gpt(2),http_req_cnt,server_id,conn_rate(50000),server_key")
	r := tb.Get([]byte("/p1"))
	for range 4 {
		tb.Count(r, EvHTTPReq)
		tb.IncGPC(r, 1, false)
	}
	tb.StoreServer(r, 3, "srv1")
	c.Advance(time.Millisecond)
	tb.Release(r)
	refs := tb.Entries(nil)
	if len(refs) != 1 {
		t.Fatalf("%d entries", len(refs))
	}
	line := string(tb.AppendEntry(nil, refs[0], 1))
	tb.Release(refs[0])
	_, got, _ := strings.Cut(line, ": ")
	want := "key=/p1 use=0 exp=0 server_id=3 conn_rate(50000)=0 http_req_cnt=4 server_key=srv1 gpt0=0 gpt1=0 gpc0=0 gpc1=4 gpc2=0 gpc0_rate(10000)=0 gpc1_rate(10000)=4\n"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if h := string(tb.AppendHead(nil)); h != "# table: t, type: string, size:1024, used:1\n" {
		t.Fatalf("head %q", h)
	}
}

func TestDumpOrderIntegerKeys(t *testing.T) {
	tb, _ := newTestTable(t, KeyInteger, 100, 0, "")
	for _, k := range []string{"1", "256", "65536", "7"} {
		kb, err := tb.ParseCLIKey(k)
		if err != nil {
			t.Fatal(err)
		}
		tb.Release(tb.Get(kb))
	}
	var got []string
	for _, r := range tb.Entries(nil) {
		got = append(got, string(tb.AppendKey(nil, tb.keyOf(r))))
		tb.Release(r)
	}
	// HAProxy walks a tree of host-order (little-endian) keys as bytes
	if fmt.Sprint(got) != "[65536 256 1 7]" {
		t.Fatalf("order %v", got)
	}
	if _, err := tb.ParseCLIKey("-1"); err != ErrInvalidKey {
		t.Fatalf("-1: %v", err)
	}
}

func TestParseStore(t *testing.T) {
	for _, tc := range []struct {
		in, err string
		want    Store
	}{
		{in: "gpc0", want: Store{Type: GPC0, N: 1}},
		{in: "http_req_rate(10s)", want: Store{Type: HTTPReqRate, N: 1, Period: 10 * time.Second}},
		{in: "gpc(3)", want: Store{Type: GPC, N: 3}},
		{in: "gpc_rate(2,1m)", want: Store{Type: GPCRate, N: 2, Period: time.Minute}},
		{in: "server_name", want: Store{Type: ServerKey, N: 1}},
		{in: "http_req_rate", err: "missing argument to store option 'http_req_rate'"},
		{in: "gpc0(1)", err: "unexpected argument to store option 'gpc0'"},
		{in: "gpc(0)", err: "array size is out of allowed range (1-100) for store option 'gpc'"},
		{in: "nope", err: "unknown store option 'nope'"},
	} {
		got, err := ParseStore(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v %v", tc.in, got, err)
		}
	}
}

// TestConcurrentTracking hammers one sharded table from many goroutines:
// counts add up and references balance.
func TestConcurrentTracking(t *testing.T) {
	c := NewClock()
	sp := &Spec{Name: "big", Type: KeyIP, KeySize: 4, Size: 1 << 16, Expire: time.Minute, Store: []Store{{Type: HTTPReqCnt, N: 1}, {Type: HTTPReqRate, N: 1, Period: 10 * time.Second}}}
	tb := NewTable(sp, c, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := []byte{10, 0, byte(i % 50), byte(g)}
				r := tb.Get(k)
				tb.StartCounters(r)
				tb.Count(r, EvHTTPReq)
				tb.StopCounters(r)
			}
		}()
	}
	wg.Wait()
	var total int64
	for _, r := range tb.Entries(nil) {
		v, _ := tb.Value(r, HTTPReqCnt, 0)
		total += v
		if n := tb.Trackers(r); n != 1 {
			t.Fatalf("trackers %d", n)
		}
		tb.Release(r)
	}
	if total != 16000 || tb.Used() != 400 {
		t.Fatalf("total %d used %d", total, tb.Used())
	}
}

// TestTrackAllocs: tracking a request allocates nothing once the entry
// exists.
func TestTrackAllocs(t *testing.T) {
	tb, _ := newTestTable(t, KeyIP, 1<<16, time.Minute, "http_req_rate(10s)")
	k := ipKey("192.0.2.1")
	tb.StopCounters(tb.Get(k))
	n := testing.AllocsPerRun(1000, func() {
		r := tb.Get(k)
		tb.StartCounters(r)
		tb.Count(r, EvHTTPReq)
		_, _ = tb.Value(r, HTTPReqRate, 0)
		tb.StopCounters(r)
	})
	if n != 0 {
		t.Fatalf("%v allocations per tracked request", n)
	}
}

func FuzzParseStore(f *testing.F) {
	for _, s := range []string{"gpc0", "http_req_rate(10s)", "gpc(3)", "gpc_rate(2,1m)", "x(", "gpt(0)", "conn_rate(1d)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStore(s)
		if err == nil && (st.Type >= NumDataTypes || st.N < 1 || st.N > MaxArray) {
			t.Fatalf("%q: accepted %+v", s, st)
		}
	})
}

func FuzzParseCLIKey(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "::1", "12abc", "-1", "18446744073709551616", " +7", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range []KeyType{KeyIP, KeyIPv6, KeyInteger, KeyString, KeyBinary} {
			tb := NewTable(&Spec{Name: "f", Type: typ, KeySize: DefaultKeySize(typ), Size: 10}, NewManualClock(1), nil)
			k, err := tb.ParseCLIKey(s)
			if err != nil {
				continue
			}
			r := tb.Get(k)
			if r == 0 {
				t.Fatalf("%v %q: no entry", typ, s)
			}
			_ = tb.AppendEntry(nil, r, 0)
			tb.Release(r)
		}
	})
}
