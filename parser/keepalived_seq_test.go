package parser

import (
	"runtime"
	"testing"
	"testing/fstest"
)

// TestSeqExpansionBounded: a ~SEQ generating 100,000 lines is expanded
// as it is read (no list of lines kept beside the directives) and split
// without the grammar's per-line allocations when the line has no quote.
// Measured in bytes allocated and kept per generated line, not in time:
// it was over 3 KB allocated per line (the kept directives are what keepalived keeps too).
func TestSeqExpansionBounded(t *testing.T) {
	const n = 100000
	conf := "vrrp_instance VI_1 {\n virtual_ipaddress {\n  ~SEQ(i,1,100000) 10.0.0.$i dev eth0\n }\n}\n"
	fsys := fstest.MapFS{"k.conf": {Data: []byte(conf), Mode: 0o644}}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f, diags := ParseKeepalived("k.conf", KeepalivedOptions{FS: fsys})
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(diags) != 0 || len(f.Directives) != 1 || len(f.Directives[0].Body) != 1 || len(f.Directives[0].Body[0].Body) != n {
		t.Fatalf("diags %v, directives %d", diags, len(f.Directives))
	}
	if got := f.Directives[0].Body[0].Body[n-1]; got.Name != "10.0.0.100000" || len(got.Args) != 2 || got.Args[1].Value != "eth0" {
		t.Fatalf("last line %+v", got)
	}
	allocated := (after.TotalAlloc - before.TotalAlloc) / n
	kept := int64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("per generated line: %d bytes allocated, %d bytes kept", allocated, kept)
	if allocated > 1000 {
		t.Errorf("%d bytes allocated per generated line, want at most 1000", allocated)
	}
	if kept > 600 {
		t.Errorf("%d bytes kept per generated line, want at most 600", kept)
	}
	runtime.KeepAlive(f)
}

// TestSplitKaWordsFastPath: lines without a double quote are split as the
// grammar splits them.
func TestSplitKaWordsFastPath(t *testing.T) {
	for _, line := range []string{"", "a", "  a  b\tc ", "10.0.0.1/24 dev eth0 label eth0:1", "x\fy\vz\r", "'single quoted' word", "a=b {"} {
		pos := Pos{File: "f", Line: 3, Col: 5}
		fast := splitBare(line, pos)
		ln, err := kaLineParser.ParseString("f", line)
		if err != nil {
			t.Fatal(err)
		}
		if len(fast) != len(ln.Words) {
			t.Fatalf("%q: %d words, grammar %d", line, len(fast), len(ln.Words))
		}
		for i, w := range ln.Words {
			if fast[i].Value != *w.Bare || fast[i].Raw != *w.Bare || fast[i].Pos.Col != pos.Col+w.Pos.Offset || fast[i].Pos.Line != 3 {
				t.Fatalf("%q word %d: %+v, grammar %q at %d", line, i, fast[i], *w.Bare, w.Pos.Offset)
			}
		}
	}
}

// FuzzSplitKaWordsFastPath: any quote-free line splits the same way both
// ways.
func FuzzSplitKaWordsFastPath(f *testing.F) {
	f.Add("virtual_ipaddress 10.0.0.1/24")
	f.Add("\t a\x00b  ")
	f.Fuzz(func(t *testing.T, line string) {
		for i := 0; i < len(line); i++ {
			if line[i] == '"' {
				return
			}
		}
		fast := splitBare(line, Pos{})
		ln, err := kaLineParser.ParseString("", line)
		if err != nil {
			t.Skip() // the lexer rejects invalid UTF-8 the fast path keeps; neither is used for it
		}
		if len(fast) != len(ln.Words) {
			t.Fatalf("%q: %d words, grammar %d", line, len(fast), len(ln.Words))
		}
		for i, w := range ln.Words {
			if w.Bare == nil || fast[i].Value != *w.Bare || fast[i].Pos.Col != w.Pos.Offset {
				t.Fatalf("%q word %d differs", line, i)
			}
		}
	})
}
