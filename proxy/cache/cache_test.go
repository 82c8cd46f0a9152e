package cache

import (
	"encoding/binary"
	"testing"
	"time"

	"halo/proxy"
	"halo/proxy/http1"
)

func msg(headers ...string) *http1.Message {
	m := &http1.Message{ContentLength: -1}
	for i := 0; i+1 < len(headers); i += 2 {
		m.AddHeader(headers[i], headers[i+1])
	}
	return m
}

func TestAcceptEncodingBits(t *testing.T) {
	const all = ^uint32(0)
	for _, tc := range []struct {
		name string
		hdrs []string
		want uint32
		ok   bool
	}{
		{"none", nil, all, true},
		{"gzip", []string{"accept-encoding", "gzip"}, encIdentity | encGzip, true},
		{"upper", []string{"accept-encoding", "GZIP"}, encIdentity | encGzip, true},
		{"weights", []string{"accept-encoding", "deflate;q=0.8, gzip;q=0"}, (encIdentity | encDeflate) &^ encGzip, true},
		{"identity refused", []string{"accept-encoding", "deflate, identity;q=0"}, encDeflate, true},
		{"star", []string{"accept-encoding", "gzip;q=0, deflate,*"}, all &^ encGzip, true},
		{"unknown", []string{"accept-encoding", "first_encoding", "accept-encoding", "gzip"}, encIdentity | encOther | encGzip, true},
		{"empty", []string{"accept-encoding", ""}, encIdentity, true},
		{"prefix only", []string{"accept-encoding", "bz"}, encIdentity, true},
		{"x-gzip", []string{"accept-encoding", "x-gzip"}, encIdentity | encGzip, true},
		{"sixteen", []string{"accept-encoding", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p"}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := acceptEncodingBits(msg(tc.hdrs...), nil)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("got %#x %v, want %#x %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestSecondaryMatch(t *testing.T) {
	key := func(ae, ref uint32) (k [8]byte) {
		binary.LittleEndian.PutUint32(k[0:4], ae)
		binary.LittleEndian.PutUint32(k[4:8], ref)
		return
	}
	for _, tc := range []struct {
		ref, req [8]byte
		want     bool
	}{
		{key(encGzip, 0), key(encIdentity|encGzip, 0), true},
		{key(encGzip, 0), key(encIdentity|encDeflate, 0), false},
		{key(encGzip|encDeflate, 0), key(encGzip, 0), false},
		{key(encOther, 0), key(^uint32(0), 0), false},
		{key(0, 7), key(0, 7), true},
		{key(0, 7), key(0, 8), false},
	} {
		if got := secondaryMatch(tc.ref, tc.req); got != tc.want {
			t.Errorf("secondaryMatch(%x, %x) = %v", tc.ref, tc.req, got)
		}
	}
}

func TestMaxAge(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, tc := range []struct {
		name     string
		hdrs     []string
		eff, own int64
	}{
		{"none", nil, 60, 0},
		{"max-age", []string{"cache-control", "max-age=5"}, 5, 5},
		{"bounded", []string{"cache-control", "max-age=500"}, 60, 500},
		{"s-maxage wins", []string{"cache-control", "s-maxage=30, max-age=5"}, 30, 30},
		{"quoted", []string{"cache-control", `max-age="7"`}, 7, 7},
		{"bad", []string{"cache-control", "max-age=x"}, -1, 0},
		{"expires", []string{"expires", "Mon, 01 Jan 2024 00:00:20 GMT"}, 20, 20},
		{"expired", []string{"expires", "Sun, 31 Dec 2023 00:00:00 GMT"}, 0, 0},
		{"bad expires", []string{"expires", "soon"}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eff, own := maxAge(msg(tc.hdrs...), 60, now)
			if eff != tc.eff || own != tc.own {
				t.Errorf("got %d %d, want %d %d", eff, own, tc.eff, tc.own)
			}
		})
	}
}

func TestHTTPDate(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC).Unix()
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"} {
		if got, ok := parseHTTPDate([]byte(s)); !ok || got != want {
			t.Errorf("%q: %d %v", s, got, ok)
		}
	}
	if _, ok := parseHTTPDate([]byte("yesterday")); ok {
		t.Error("yesterday parsed")
	}
}

func TestNotModified(t *testing.T) {
	e := &entry{etag: []byte(`"v1"`), lastMod: 1000}
	for _, tc := range []struct {
		hdrs []string
		want bool
	}{
		{[]string{"if-none-match", `"v1"`}, true},
		{[]string{"if-none-match", `W/"v1"`}, true},
		{[]string{"if-none-match", `"v0", "v1"`}, true},
		{[]string{"if-none-match", `"v0"`}, false},
		{[]string{"if-none-match", `*`}, true},
		{[]string{"if-none-match", `"v0"`, "if-modified-since", "Thu, 01 Jan 2099 00:00:00 GMT"}, false},
		{[]string{"if-modified-since", "Thu, 01 Jan 1970 00:16:40 GMT"}, true},
		{[]string{"if-modified-since", "Thu, 01 Jan 1970 00:16:39 GMT"}, false},
		{nil, false},
	} {
		if got := notModified(msg(tc.hdrs...), e); got != tc.want {
			t.Errorf("%q: %v", tc.hdrs, got)
		}
	}
}

// TestEviction: entries are accounted in blocks; the least recently used
// make room, and an entry larger than the cache is not kept.
func TestEviction(t *testing.T) {
	m := New()
	now := time.Unix(1000, 0)
	m.Now = func() time.Time { return now }
	cfg := &proxy.Config{Caches: []*proxy.CacheSection{{Name: "c", TotalMaxSize: 10 * blockSize, MaxAge: time.Minute, MaxSecondaryEntries: 10}}}
	c := m.cache(cfg, "c")
	add := func(k byte, size int) *entry {
		e := &entry{key: [20]byte{k}, expire: now.Unix() + 60, size: size}
		c.mu.Lock()
		c.insert(e, now.Unix())
		c.mu.Unlock()
		c.complete(e)
		return e
	}
	add(1, 4*blockSize)
	add(2, 4*blockSize)
	c.mu.Lock()
	c.lru.MoveToBack(c.lookup([20]byte{1}, now.Unix()).elem) // 1 used last
	c.mu.Unlock()
	add(3, 4*blockSize)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lookup([20]byte{2}, now.Unix()) != nil || c.lookup([20]byte{1}, now.Unix()) == nil || c.lookup([20]byte{3}, now.Unix()) == nil {
		t.Errorf("the least recently used entry (2) should have gone: %v", c.entries)
	}
	if c.used != 8 {
		t.Errorf("used %d blocks, want 8", c.used)
	}
}

// FuzzCacheHeaders: the cache's header readers never panic and keep their
// invariants on any value.
func FuzzCacheHeaders(f *testing.F) {
	for _, s := range []string{"gzip;q=0", "max-age=5", `s-maxage="3"`, "Sun, 06 Nov 1994 08:49:37 GMT", "*", "accept-encoding, referer", `W/"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		m := msg("accept-encoding", string(v), "cache-control", string(v), "vary", string(v),
			"expires", string(v), "content-encoding", string(v), "if-none-match", string(v), "last-modified", string(v))
		if bits, ok := acceptEncodingBits(m, nil); ok && bits == 0 && len(v) == 0 {
			t.Fatal("an empty Accept-Encoding accepts nothing")
		}
		if eff, _ := maxAge(m, 60, 1000); eff > 60 {
			t.Fatalf("lifetime %d above the cache's", eff)
		}
		varySignature(m)
		responseEncodingBits(m)
		parseHTTPDate(v)
		notModified(m, &entry{etag: v})
		var sec [8]byte
		secondaryKey(m, varyAll, &sec, nil)
	})
}
