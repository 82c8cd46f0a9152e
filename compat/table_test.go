package compat

import (
	"testing"

	"halo/parser"
)

type tctx struct{ seen []string }

func testTable() *Table[*tctx] {
	dec := func(c *tctx, d *parser.Directive, args []parser.Word) error {
		c.seen = append(c.seen, d.Name)
		return nil
	}
	return NewTable("test", []Keyword[*tctx]{
		{Name: "option", Status: Supported, Decode: dec},
		{Name: "option forwardfor", Status: Partial, Note: "no except", Decode: dec},
		{Name: "timeout client", Status: Supported, Decode: dec},
		{Name: "maxconn", Status: Supported, Decode: dec},
	})
}

func TestTableLookup(t *testing.T) {
	tb := testTable()
	for _, tc := range []struct {
		name  string
		words []string
		want  string
		n     int
	}{
		{"single", []string{"maxconn", "10"}, "maxconn", 1},
		{"longest wins", []string{"option", "forwardfor", "except"}, "option forwardfor", 2},
		{"prefix fallback", []string{"option", "httplog"}, "option", 1},
		{"two words", []string{"timeout", "client", "5s"}, "timeout client", 2},
		{"missing", []string{"timeout", "server"}, "", 0},
		{"empty", nil, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kw, n := tb.Lookup(tc.words)
			got := ""
			if kw != nil {
				got = kw.Name
			}
			if got != tc.want || n != tc.n {
				t.Fatalf("Lookup(%q) = %q,%d want %q,%d", tc.words, got, n, tc.want, tc.n)
			}
		})
	}
}

func TestTableSetStatus(t *testing.T) {
	tb := testTable()
	if !tb.SetStatus("option forwardfor", Supported, "") {
		t.Fatal("SetStatus on an existing row returned false")
	}
	if k := tb.Get("option forwardfor"); k.Status != Supported || k.Note != "" {
		t.Fatalf("row = %+v", k)
	}
	if tb.SetStatus("nope", Supported, "") {
		t.Fatal("SetStatus on a missing row returned true")
	}
}

func TestDuplicatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate keyword did not panic")
		}
	}()
	NewTable("dup", []Keyword[*tctx]{{Name: "a"}, {Name: "a"}})
}

func TestSuggest(t *testing.T) {
	cands := []string{"maxconn", "timeout", "option", "default_backend", "use_backend"}
	for _, tc := range []struct{ name, word, want string }{
		{"one typo", "maxcon", "maxconn"},
		{"swap", "optoin", "option"},
		{"long word", "defualt_backend", "default_backend"},
		{"far", "frobnicate", ""},
		{"exact is no suggestion", "option", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Suggest(tc.word, cands); got != tc.want {
				t.Fatalf("Suggest(%q) = %q, want %q", tc.word, got, tc.want)
			}
		})
	}
}

func TestRecord(t *testing.T) {
	var r Report
	p := parser.Pos{File: "x.cfg", Line: 3}
	r.Record(p, "global", "maxconn", Supported, "")
	r.Record(p, "global", "chroot", Ignored, "not root")
	r.Record(p, "global", "lua-load", Unsupported, "no Lua")
	if r.Summary != (Summary{Supported: 1, Ignored: 1, Unsupported: 1}) {
		t.Fatalf("summary = %+v", r.Summary)
	}
	if len(r.Findings) != 2 || r.Findings[1].Keyword != "lua-load" || r.Findings[1].Line != 3 {
		t.Fatalf("findings = %+v", r.Findings)
	}
	r.Alertf(p, "bad %s", "thing")
	if !r.Fatal() || r.Diags[0].Msg != "bad thing" {
		t.Fatalf("diags = %+v", r.Diags)
	}
}
