package parser

import (
	"reflect"
	"strings"
	"testing"
)

func TestLexLine(t *testing.T) {
	env := MapEnv{"A": "alpha", "L": "x y  z", "E": ""}
	for _, tc := range []struct {
		name string
		line string
		want []string
		err  string
	}{
		{"plain", "  server s1 1.2.3.4:80 check", []string{"server", "s1", "1.2.3.4:80", "check"}, ""},
		{"tabs", "\tbind\t:80 ", []string{"bind", ":80"}, ""},
		{"comment", "maxconn 10 # hi", []string{"maxconn", "10"}, ""},
		{"comment glued", "maxconn 10#hi", []string{"maxconn", "10"}, ""},
		{"escaped hash", `x a\#b`, []string{"x", "a#b"}, ""},
		{"escaped space", `log-format %t\ %s`, []string{"log-format", "%t %s"}, ""},
		{"double quotes", `x "a b" c`, []string{"x", "a b", "c"}, ""},
		{"single quotes keep backslash", `x 'a\b $A'`, []string{"x", `a\b $A`}, ""},
		{"mixed quoting", `x "%{+Q}o %t"' %s'\ %r`, []string{"x", "%{+Q}o %t %s %r"}, ""},
		{"env in dquote", `x "$A" "${A}-1"`, []string{"x", "alpha", "alpha-1"}, ""},
		{"env unquoted is literal", `bind *:$A`, []string{"bind", "*:$A"}, ""},
		{"env default", `x "${NOPE-def}" "${A-def}"`, []string{"x", "def", "alpha"}, ""},
		{"empty var keeps default off", `x "${E-def}"`, []string{"x"}, ""},
		{"unset trailing dropped", `maxconn "${NOPE}"`, []string{"maxconn"}, ""},
		{"empty middle word kept", `x "" y`, []string{"x", "", "y"}, ""},
		{"word expand", `x "${L[*]}" w`, []string{"x", "x", "y", "z", "w"}, ""},
		{"escaped dollar in dquote", `x "\$A"`, []string{"x", "$A"}, ""},
		{"hex", `x \x41\x62`, []string{"x", "Ab"}, ""},
		{"crlf", "x y\r", []string{"x", "y"}, ""},
		{"pseudo var", `x "${.LINE}"`, []string{"x", "7"}, ""},
		{"unmatched quote", `    maxconn "100`, nil, "unmatched quote@13"},
		{"unmatched brace", `  log "${X`, nil, "unmatched brace in environment variable name@9"},
		{"bad var name", `  foo "$1"`, nil, "forbidden first char in environment variable name@9"},
		{"bad hex", `  bar \x4`, nil, "truncated or invalid hexadecimal sequence@7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			words, err := lexLine(tc.line, "f.cfg", 7, "global", env)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("no error, words %v", words)
				}
				got := err.what + "@" + itoa(err.pos)
				if got != tc.err {
					t.Fatalf("error %q, want %q", got, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			var got []string
			for _, w := range words {
				got = append(got, w.Value)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q want %q", got, tc.want)
			}
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

func TestWordPositions(t *testing.T) {
	words, err := lexLine("\tserver  s1 \"a b\"", "f", 1, "", MapEnv{})
	if err != nil {
		t.Fatal(err)
	}
	cols := []int{2, 10, 13}
	for i, w := range words {
		if w.Pos.Col != cols[i] {
			t.Errorf("word %d %q col %d want %d", i, w.Value, w.Pos.Col, cols[i])
		}
	}
	if words[2].Raw != `"a b"` || !words[2].Quoted {
		t.Errorf("raw %q quoted %v", words[2].Raw, words[2].Quoted)
	}
}

func TestParseHAProxySections(t *testing.T) {
	src := "# top\nglobal\n  maxconn 10\n\ndefaults web from base\n  mode http\nfrontend fe\n  bind :80\n.if defined(NOPE)\n  bogus\n.elif 1\n  use_backend b\n.else\n  other\n.endif\n.notice \"hi there\"\n"
	f, diags := ParseHAProxyBytes("h.cfg", []byte(src), HAProxyOptions{Env: MapEnv{}})
	if len(f.Directives) != 3 {
		t.Fatalf("sections = %d", len(f.Directives))
	}
	fe := f.Directives[2]
	var names []string
	for _, d := range fe.Body {
		names = append(names, d.Name)
	}
	if !reflect.DeepEqual(names, []string{"bind", "use_backend"}) {
		t.Fatalf("frontend body %v", names)
	}
	if f.Directives[1].ArgValues()[1] != "from" || f.Directives[1].Body[0].Pos.Line != 6 {
		t.Fatalf("defaults %+v", f.Directives[1])
	}
	if len(diags) != 1 || diags[0].Sev != SevNotice || diags[0].Msg != "'hi there'." || diags[0].Pos.Line != 16 {
		t.Fatalf("diags %+v", diags)
	}
}

func TestParseHAProxyDiags(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
		line            int
	}{
		{"missing LF", "global\n  maxconn 100", "Missing LF on last line, file might have been truncated at position 14.", 2},
		{"lone endif", "global\n.endif\n", "lone '.endif' with no matching '.if'.", 2},
		{"lone else", "global\n.else\n", "lone '.else' with no matching '.if'.", 2},
		{"else else", ".if 1\n.else\n.else\n.endif\n", "'.else' after '.else' is not permitted.", 3},
		{"unterminated if", "global\n.if 1\n", "non-terminated '.if' block.", 2},
		{"bad predicate", ".if foo(1)\n.endif\n", "unparsable conditional expression 'foo(1)' in '.if' at position 1:\n  .if foo(1)\n      ^", 1},
		{"notice extra word", ".notice a b\n", "Unexpected argument 'b' for '.notice'. Use quotes if the message should contain spaces.", 1},
		{"unmatched quote", "global\n    maxconn \"100\n", "unmatched quote at position 13:\n  maxconn \"100\n          ^", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := ParseHAProxyBytes("h.cfg", []byte(tc.src), HAProxyOptions{Env: MapEnv{}})
			for _, d := range diags {
				if d.Msg == tc.want && d.Pos.Line == tc.line && d.Sev == SevAlert {
					return
				}
			}
			t.Fatalf("no alert %q at line %d in %+v", tc.want, tc.line, diags)
		})
	}
}

func TestCondEval(t *testing.T) {
	ce := DefaultCondEnv()
	ce.Env = MapEnv{"SET": "1"}
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{"", false}, {"0", false}, {"1", true}, {"-3", true},
		{"defined(SET)", true}, {"defined(UNSET)", false},
		{"defined(SET) && defined(UNSET)", false},
		{"defined(UNSET) || defined(SET)", true},
		{"!defined(UNSET)", true},
		{"version_atleast(2.5)&&!feature(LUA)", true},
		{"version_atleast(2.7)", false}, {"version_before(2.6.13)", true},
		{"streq(a,a)", true}, {"strneq(a,a)", false},
		{"(0 || 1) && !(0)", true},
		{"feature(OPENSSL)", true},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			var words []Word
			for _, f := range strings.Fields(tc.expr) {
				words = append(words, Word{Value: f})
			}
			got, err := ce.Eval(words)
			if err != nil {
				t.Fatalf("error %+v", err)
			}
			if got != tc.want {
				t.Fatalf("got %v", got)
			}
		})
	}
}

func FuzzParseHAProxy(f *testing.F) {
	for _, s := range []string{
		"global\n  maxconn 10\nfrontend f\n  bind :80\n  use_backend b if { path_beg /a } !x || y\n",
		".if defined(A) && (1 || version_atleast(2.4))\n.notice x\n.elif 0\n.else\n.endif\n",
		"x \"${A-d}\" '${B}' \\x41 \"${L[*]}\" # c\r\n",
		"defaults a from b\n  timeout client 5s\n  log-format \"%{+Q}o\\ %t\"\n",
	} {
		f.Add([]byte(s))
	}
	env := MapEnv{"A": "a", "L": "p q"}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, _ := ParseHAProxyBytes("fuzz.cfg", data, HAProxyOptions{Env: env})
		lines := strings.Split(string(data), "\n")
		// Every directive must still hold the words of its own line: the
		// lexer's arena must never let a later line overwrite them.
		check := func(d *Directive, section string) {
			if d.Pos.Line < 1 || d.Pos.Col < 1 || d.Pos.Line > len(lines) {
				t.Fatalf("bad position %+v", d.Pos)
			}
			want, err := lexLine(lines[d.Pos.Line-1], "fuzz.cfg", d.Pos.Line, section, env)
			if err != nil || len(want) != len(d.Args)+1 {
				t.Fatalf("line %d: re-lexed %d words (%v), directive has %d", d.Pos.Line, len(want), err, len(d.Args)+1)
			}
			for i, w := range d.Args {
				if w.Value != want[i+1].Value {
					t.Fatalf("line %d word %d: %q, re-lexed %q", d.Pos.Line, i+1, w.Value, want[i+1].Value)
				}
			}
		}
		section := ""
		for _, d := range file.Directives {
			check(d, section) // a section line is read under the previous section
			if d.HasBlock {
				section = d.Name
				if len(d.Args) > 0 {
					section = d.Args[0].Value
				}
			}
			for _, b := range d.Body {
				check(b, section)
				if _, _, err := SplitCondition(b.Args); err != nil {
					_ = err
				}
			}
		}
	})
}
