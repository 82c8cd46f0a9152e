package parser

import (
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
)

func words(s string) []Word {
	var out []Word
	for i, f := range strings.Fields(s) {
		out = append(out, Word{Value: f, Pos: Pos{File: "f", Line: 1, Col: i + 1}})
	}
	return out
}

// condString renders a Condition compactly for comparison.
func condString(c *Condition) string {
	var ors []string
	for _, and := range c.Or {
		var ts []string
		for _, t := range and {
			s := t.Name
			if t.Anon != nil {
				var a []string
				for _, w := range t.Anon {
					a = append(a, w.Value)
				}
				s = "{" + strings.Join(a, " ") + "}"
			}
			if t.Neg {
				s = "!" + s
			}
			ts = append(ts, s)
		}
		ors = append(ors, strings.Join(ts, "&"))
	}
	kw := "if"
	if c.Unless {
		kw = "unless"
	}
	return kw + " " + strings.Join(ors, " | ")
}

func TestParseCondition(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{"single", "if a", "if a", ""},
		{"implicit and", "if a b", "if a&b", ""},
		{"or", "if a || b or c", "if a | b | c", ""},
		{"neg glued", "unless !a b", "unless !a&b", ""},
		{"neg separate", "if ! a", "if !a", ""},
		{"double neg", "if !!a", "if a", ""},
		{"anon", "if { path_beg /a /b } !{ src 10.0.0.0/8 }", "if {path_beg /a /b}&!{src 10.0.0.0/8}", ""},
		{"anon with or word", "if { hdr(x) or } || b", "if {hdr(x) or} | b", ""},
		// HAProxy 2.6 accepts an empty condition: never true after "if",
		// always after "unless".
		{"empty if", "if", "if ", ""},
		{"empty unless", "unless", "unless ", ""},
		{"unclosed brace", "if { path /", "", "missing closing '}' in condition"},
		{"stray close", "if a }", "", "unexpected '}' in condition"},
		{"leading or", "if || a", "", "unexpected '||' in condition"},
		{"trailing or", "if a ||", "", "incomplete condition"},
		{"empty braces", "if { }", "", "unexpected '{' in condition"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCondition(words(tc.in))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := condString(c); got != tc.want {
				t.Fatalf("got %q want %q", got, tc.want)
			}
		})
	}
}

func TestSplitCondition(t *testing.T) {
	before, c, err := SplitCondition(words("set-header X 1 if a"))
	if err != nil || len(before) != 3 || c == nil || c.Or[0][0].Name != "a" {
		t.Fatalf("%v %v %v", before, c, err)
	}
}

func FuzzCondition(f *testing.F) {
	for _, s := range []string{"if a b || !c", "unless { path_beg /x } or !{ src 1.2.3.4 }", "if !! { } }", "if or or"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ws := words(s)
		// The fast path for named conditions must agree with the grammar.
		if len(ws) > 1 && (ws[0].Value == "if" || ws[0].Value == "unless") && !hasBrace(ws) {
			if fast, ok := parseNamedCondition(ws); ok {
				pl, err := lexer.Upgrade(lexCondWords(ws))
				if err != nil {
					t.Fatal(err)
				}
				slow, err := aclCondParser.ParseFromLexer(pl)
				if err != nil {
					t.Fatalf("fast path accepted %q, grammar refused: %v", s, err)
				}
				if len(slow.Or) != len(fast.Or) {
					t.Fatalf("%q: fast %d OR groups, grammar %d", s, len(fast.Or), len(slow.Or))
				}
				for i := range slow.Or {
					if len(slow.Or[i].Terms) != len(fast.Or[i]) {
						t.Fatalf("%q: group %d sizes differ", s, i)
					}
					for j, term := range slow.Or[i].Terms {
						if term.Name != fast.Or[i][j].Name || (len(term.Not)%2 == 1) != fast.Or[i][j].Neg {
							t.Fatalf("%q: term %d.%d differs: %+v vs %+v", s, i, j, term, fast.Or[i][j])
						}
					}
				}
			}
		}
		c, err := ParseCondition(ws)
		if err == nil {
			// "if"/"unless" alone is HAProxy 2.6's empty condition.
			if len(c.Or) == 0 && len(ws) > 1 {
				t.Fatal("condition without terms")
			}
			for _, and := range c.Or {
				if len(and) == 0 {
					t.Fatal("empty AND group")
				}
			}
		}
	})
}
