package balance

import (
	"bytes"
	"testing"
)

// Golden values from HAProxy 2.6.12's sdbm/djb2/wt6/crc32 converters (and
// sdbm(1), which applies full_hash), bytes above 0x7f included.
func TestHashGolden(t *testing.T) {
	tests := []struct {
		name                        string
		key                         string
		sdbm, djb2, wt6, crc, sdbmA uint32
	}{
		{"path", "/a", 3083250, 5861557, 1404582375, 1768979292, 1743195586},
		{"words", "hello world", 430867652, 894552257, 1866899626, 222957957, 261123301},
		{"high bytes", "caf\xc3\xa9\xff", 975159473, 4125378266, 2912783819, 1150544449, 3047193006},
		{"one byte", "x", 120, 177693, 1898969189, 2363233923, 2246094376},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := []byte(tc.key)
			if g := SDBM(k); g != tc.sdbm {
				t.Errorf("sdbm %d want %d", g, tc.sdbm)
			}
			if g := DJB2(k); g != tc.djb2 {
				t.Errorf("djb2 %d want %d", g, tc.djb2)
			}
			if g := WT6(k); g != tc.wt6 {
				t.Errorf("wt6 %d want %d", g, tc.wt6)
			}
			if g := CRC32(k); g != tc.crc {
				t.Errorf("crc32 %d want %d", g, tc.crc)
			}
			if g := FullHash(SDBM(k)); g != tc.sdbmA {
				t.Errorf("full_hash(sdbm) %d want %d", g, tc.sdbmA)
			}
		})
	}
}

func TestURIKey(t *testing.T) {
	tests := []struct {
		name, uri    string
		whole, po    bool
		maxLen, dpth int
		want         string
	}{
		{"query cut", "/a/b?x=1", false, false, 0, 0, "/a/b"},
		{"whole", "/a/b?x=1", true, false, 0, 0, "/a/b?x=1"},
		{"len", "/abcdef", false, false, 3, 0, "/ab"},
		{"depth 1", "/a/b/c", false, false, 0, 1, "/a"},
		{"depth 2", "/a/b/c", false, false, 0, 2, "/a/b"},
		{"depth beyond", "/a", false, false, 0, 3, "/a"},
		{"path-only absolute", "http://h/x/y?z", false, true, 0, 0, "/x/y"},
		{"absolute kept", "http://h/x", false, false, 0, 0, "http://h/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if g := string(URIKey([]byte(tc.uri), tc.whole, tc.po, tc.maxLen, tc.dpth)); g != tc.want {
				t.Fatalf("got %q want %q", g, tc.want)
			}
		})
	}
}

func TestURLParam(t *testing.T) {
	tests := []struct {
		name, uri, param, want string
		found                  bool
	}{
		{"simple", "/p?id=7", "id", "7", true},
		{"middle", "/p?a=1&id=7&b=2", "id", "7", true},
		{"prefix not matched", "/p?xid=7", "id", "", false},
		{"empty", "/p?id=", "id", "", true},
		{"no query", "/p", "id", "", false},
		{"name only", "/p?id", "id", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := urlParamValue([]byte(tc.uri), tc.param)
			if ok != tc.found || string(v) != tc.want {
				t.Fatalf("got %q,%v", v, ok)
			}
		})
	}
	if v, ok := bodyParamValue([]byte("a=1&id=42\r\n"), "id"); !ok || string(v) != "42" {
		t.Fatalf("body %q %v", v, ok)
	}
	if _, ok := bodyParamValue([]byte("id=\x01\x02"), "id"); ok {
		t.Fatal("binary body accepted")
	}
}

// FuzzRequestKeys feeds arbitrary request targets and bodies to the key
// extractors: results must stay within their input and never panic.
func FuzzRequestKeys(f *testing.F) {
	f.Add([]byte("/a/b?x=1&id=2"), "id", 3, 2)
	f.Add([]byte("http://h/x?id="), "id", 0, 0)
	f.Add([]byte("?&&=&id"), "", 1, 9)
	f.Fuzz(func(t *testing.T, uri []byte, name string, l, d int) {
		if l < 0 || d < 0 || l > 1<<16 || d > 1<<16 {
			return
		}
		for _, w := range []bool{false, true} {
			k := URIKey(uri, w, w, l, d)
			if len(k) > len(uri) {
				t.Fatal("key longer than uri")
			}
		}
		if v, ok := urlParamValue(uri, name); ok && !bytes.Contains(uri, v) {
			t.Fatal("value not from uri")
		}
		bodyParamValue(uri, name)
		domainOnly(uri)
		firstValue(uri)
		SDBM(uri)
		WT6(uri)
		CRC32(uri)
		DJB2(uri)
	})
}
