package parser

import (
	"strings"
	"testing"
	"testing/fstest"
)

// kaDump renders directives compactly: name args {body}; one per line.
func kaDump(ds []*Directive, indent string, b *strings.Builder) {
	for _, d := range ds {
		b.WriteString(indent + d.Name)
		for _, a := range d.Args {
			b.WriteString(" [" + a.Value + "]")
		}
		b.WriteString("\n")
		if d.HasBlock {
			b.WriteString(indent + "{\n")
			kaDump(d.Body, indent+"  ", b)
			b.WriteString(indent + "}\n")
		}
	}
}

func parseKaString(t *testing.T, files map[string]string, id string) (string, []Diag) {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body), Mode: 0o644}
	}
	f, diags := ParseKeepalived("/main.conf", KeepalivedOptions{ConfigID: id, FS: fsys})
	var b strings.Builder
	kaDump(f.Directives, "", &b)
	return b.String(), diags
}

func TestParseKeepalived(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		id    string
		want  string
		diags []string // substrings, in order
	}{
		{name: "brace on same line", files: map[string]string{"main.conf": "vrrp_instance V {\n priority 100\n}\n"},
			want: "vrrp_instance [V]\n{\n  priority [100]\n}\n"},
		{name: "brace on next line", files: map[string]string{"main.conf": "vrrp_instance V\n{\n priority 100\n}\n"},
			want: "vrrp_instance [V]\n{\n  priority [100]\n}\n"},
		{name: "all on one line", files: map[string]string{"main.conf": "virtual_ipaddress { 10.0.0.1/24 dev eth0 }"},
			want: "virtual_ipaddress\n{\n  10.0.0.1/24 [dev] [eth0]\n}\n"},
		{name: "brace glued to word", files: map[string]string{"main.conf": "vrrp_script s{\nscript x}\n"},
			want: "vrrp_script [s]\n{\n  script [x]\n}\n"},
		{name: "comments hash and bang", files: map[string]string{"main.conf": "# c\n! c\nrouter_id a#b\nx y ! z\n"},
			want: "router_id [a]\nx [y]\n"},
		{name: "escaped comment char", files: map[string]string{"main.conf": "auth_pass a\\#b\n"},
			want: "auth_pass [a#b]\n"},
		{name: "quoted string keeps spaces and hash", files: map[string]string{"main.conf": "script \"/bin/x 'a b' # c\"  # real comment\n"},
			want: "script [/bin/x 'a b' # c]\n"},
		{name: "quote glued to word splits", files: map[string]string{"main.conf": "a\"b c\"d\n"},
			want: "a [b c] [d]\n"},
		{name: "single quotes are plain", files: map[string]string{"main.conf": "router_id 'a b'\n"},
			want: "router_id ['a] [b']\n"},
		{name: "crlf and no final newline", files: map[string]string{"main.conf": "global_defs {\r\n router_id r1\r\n}"},
			want: "global_defs\n{\n  router_id [r1]\n}\n"},
		{name: "tabs and blank lines", files: map[string]string{"main.conf": "\n\t\tpriority\t\t100  \n\n"},
			want: "priority [100]\n"},
		{name: "include relative glob", files: map[string]string{
			"main.conf": "include conf.d/*.conf\nlast 1\n", "conf.d/a.conf": "a 1\n", "conf.d/b.conf": "b 2\n"},
			want: "a [1]\nb [2]\nlast [1]\n"},
		{name: "include braces", files: map[string]string{
			"main.conf": "include {x,y}.conf\n", "x.conf": "x 1\n", "y.conf": "y 1\n"},
			want: "x [1]\ny [1]\n"},
		{name: "include nested relative to includer", files: map[string]string{
			"main.conf": "include d/a.conf\n", "d/a.conf": "include b.conf\n", "d/b.conf": "b 1\n"},
			want: "b [1]\n"},
		{name: "include missing is a log line", files: map[string]string{"main.conf": "include nope.conf\na 1\n"},
			want: "a [1]\n", diags: []string{"Config files missing 'nope.conf'."}},
		{name: "block spans include", files: map[string]string{
			"main.conf": "vrrp_instance V {\ninclude body.conf\n}\n", "body.conf": "priority 5\n"},
			want: "vrrp_instance [V]\n{\n  priority [5]\n}\n"},
		{name: "conditional match", id: "main", files: map[string]string{"main.conf": "@main router_id m\n@backup router_id b\n@^main x 1\n@^backup y 1\n"},
			want: "router_id [m]\ny [1]\n"},
		{name: "conditional without id", files: map[string]string{"main.conf": "@main a 1\n@^main b 1\n"},
			want: "b [1]\n"},
		{name: "definition and use", files: map[string]string{"main.conf": "$PRIO=150\npriority $PRIO\nx ${PRIO}0\n"},
			want: "priority [150]\nx [1500]\n"},
		{name: "definition recursion at use time", files: map[string]string{"main.conf": "$A=10.2.${B}\n$B=0\n${A}.1\n$B=10\n${A}.1\n"},
			want: "10.2.0.1\n10.2.10.1\n"},
		{name: "undefined stays", files: map[string]string{"main.conf": "script \"$6$salt\" \"${NOPE}\"\n"},
			want: "script [$6$salt] [${NOPE}]\n"},
		{name: "unquoted braces split even in references", files: map[string]string{"main.conf": "x ${NOPE}\n"},
			want: "x [$]\n{\n  NOPE\n}\n"},
		{name: "definition with conditional", id: "backup", files: map[string]string{"main.conf": "@main $P=240\n@backup $P=200\npriority $P\n"},
			want: "priority [200]\n"},
		{name: "multiline definition", files: map[string]string{"main.conf": "$INST= \\\nvrrp_instance VI_${N} { \\\n  priority 1${N} \\\n}\n$N=0\n$INST\n$N=1\n$INST\n"},
			want: "vrrp_instance [VI_0]\n{\n  priority [10]\n}\nvrrp_instance [VI_1]\n{\n  priority [11]\n}\n"},
		{name: "seq", files: map[string]string{"main.conf": "~SEQ(S, 0, 2) ip 10.0.${S}.1\n"},
			want: "ip [10.0.0.1]\nip [10.0.1.1]\nip [10.0.2.1]\n"},
		{name: "seq hex step", files: map[string]string{"main.conf": "~SEQx(S, 0x90, 0x10, 0xb0) fe80::${S}\n"},
			want: "fe80::90\nfe80::a0\nfe80::b0\n"},
		{name: "nested seq", files: map[string]string{"main.conf": "~SEQ(A,1,2) ~SEQ(B,1,2) x ${A}${B}\n"},
			want: "x [11]\nx [12]\nx [21]\nx [22]\n"},
		{name: "lst tuples", files: map[string]string{"main.conf": "~LST({IP, IP1}, {10,1},{20,4}) 192.168.${IP}.${IP1}\n"},
			want: "192.168.10.1\n192.168.20.4\n"},
		{name: "conditional from a definition", id: "main", files: map[string]string{"main.conf": "$IF_MAIN=@main\n$IF_MAIN priority 240\n$IF_B=@b\n$IF_B priority 1\n"},
			want: "priority [240]\n"},
		{name: "random in range", files: map[string]string{"main.conf": "x ${_RANDOM 7 7}\n"},
			want: "x [7]\n"},
		{name: "definition needs no space before equals", files: map[string]string{"main.conf": "$A =1\nx $A\n"},
			want: "$A [=1]\nx [$A]\n"},
		{name: "definition followed by comma", files: map[string]string{"main.conf": "$A=1\nx $A,2 $Ab\n"},
			want: "x [1,2] [$Ab]\n"},
		{name: "hash and bang definitions", files: map[string]string{"main.conf": "x a${_HASH}b${_BANG}\n"},
			want: "x [a#b!]\n"},
		{name: "instance definition", id: "n1", files: map[string]string{"main.conf": "router_id ${_INSTANCE}\n"},
			want: "router_id [n1]\n"},
		{name: "extra close brace", files: map[string]string{"main.conf": "a 1\n}\nb 2\n"},
			want: "a [1]\n}\nb [2]\n", diags: []string{"Extra '}' found"}},
		{name: "missing close brace", files: map[string]string{"main.conf": "a {\nb 2\n"},
			want: "a\n{\n  b [2]\n}\n", diags: []string{"There are 1 missing '}'s or extra '{'s"}},
		{name: "unterminated quote", files: map[string]string{"main.conf": "script \"abc\n"},
			want: "script [abc]\n", diags: []string{"Unterminated quote", "Unmatched quote"}},
		{name: "stray open brace", files: map[string]string{"main.conf": "{\na 1\n}\n"},
			want: "a [1]\n", diags: []string{"Unexpected '{'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, diags := parseKaString(t, tc.files, tc.id)
			if got != tc.want {
				t.Errorf("tree:\n%s\nwant:\n%s", got, tc.want)
			}
			var msgs []string
			for _, d := range diags {
				msgs = append(msgs, d.Msg)
			}
			if len(msgs) != len(tc.diags) {
				t.Fatalf("diags %q, want %q", msgs, tc.diags)
			}
			for i, want := range tc.diags {
				if !strings.Contains(msgs[i], want) {
					t.Errorf("diag %d = %q, want it to contain %q", i, msgs[i], want)
				}
			}
		})
	}
}

func TestParseKeepalivedPositions(t *testing.T) {
	fsys := fstest.MapFS{"k.conf": {Data: []byte("global_defs {\n\trouter_id  r1\n}\n"), Mode: 0o644}}
	f, _ := ParseKeepalived("/k.conf", KeepalivedOptions{FS: fsys})
	d := f.Directives[0].Body[0]
	if d.Pos != (Pos{File: "/k.conf", Line: 2, Col: 2}) {
		t.Errorf("keyword at %v, want /k.conf:2:2", d.Pos)
	}
	if d.Args[0].Pos.Col != 13 {
		t.Errorf("argument at column %d, want 13", d.Args[0].Pos.Col)
	}
}

func TestParseKeepalivedMissingFile(t *testing.T) {
	_, diags := ParseKeepalived("/nonexistent/keepalived.conf", KeepalivedOptions{FS: fstest.MapFS{}})
	if len(diags) != 1 || diags[0].Class != KaPrint || diags[0].Msg != "Config files missing '/nonexistent/keepalived.conf'." {
		t.Fatalf("got %+v", diags)
	}
}

func TestParseKeepalivedExpansionBounded(t *testing.T) {
	fsys := fstest.MapFS{"k.conf": {Data: []byte("~SEQ(A,1,1000000) ~SEQ(B,1,1000000) x\n"), Mode: 0o644}}
	f, diags := ParseKeepalived("/k.conf", KeepalivedOptions{FS: fsys, MaxLines: 1000})
	if len(f.Directives) != 1000 {
		t.Errorf("got %d directives, want the 1000 allowed", len(f.Directives))
	}
	if len(diags) == 0 || diags[len(diags)-1].Class != KaFatal {
		t.Errorf("no fatal diagnostic for the runaway expansion: %+v", diags)
	}
}

func TestSplitScript(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"plain", "/bin/x a b", []string{"/bin/x", "a", "b"}},
		{"single quotes group", "/bin/x 'a b' c", []string{"/bin/x", "a b", "c"}},
		{"double quotes group", `x "a b"`, []string{"x", "a b"}},
		{"escapes", `x a\tb \x41 \101 \\`, []string{"x", "a\tb", "A", "A", `\`}},
		{"adjacent quoted parts join", `x a'b c'd`, []string{"x", "ab cd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SplitScript(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("SplitScript(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzKeepalived feeds arbitrary bytes (as the main file and as an
// included file) through the keepalived reader: it must not panic or
// hang, and every position must point into a file it read.
func FuzzKeepalived(f *testing.F) {
	for _, s := range []string{
		"vrrp_instance V {\n state MASTER\n virtual_ipaddress { 10.0.0.1/24 }\n}\n",
		"$A=x \\\ny ${A} \\\n}\n$A\n~SEQ(S,1,3) a $S\n@main b\ninclude inc.conf\n",
		"\"unterminated\n{ } } {\n~LST({a,b},{1,2}) $a$b\n${_RANDOM 1 5}\n",
	} {
		f.Add(s, "a 1\n")
	}
	f.Fuzz(func(t *testing.T, main, inc string) {
		fsys := fstest.MapFS{
			"main.conf": {Data: []byte(main), Mode: 0o644},
			"inc.conf":  {Data: []byte(inc), Mode: 0o644},
		}
		file, diags := ParseKeepalived("/main.conf", KeepalivedOptions{ConfigID: "main", FS: fsys, MaxLines: 2000})
		var walk func([]*Directive)
		walk = func(ds []*Directive) {
			for _, d := range ds {
				if d.Pos.File != "/main.conf" && d.Pos.File != "/inc.conf" {
					t.Fatalf("directive %q at unknown file %q", d.Name, d.Pos.File)
				}
				if d.Pos.Line < 1 || d.Pos.Col < 1 {
					t.Fatalf("bad directive %+v", d)
				}
				walk(d.Body)
			}
		}
		walk(file.Directives)
		for _, d := range diags {
			if d.Msg == "" {
				t.Fatalf("empty diagnostic %+v", d)
			}
		}
	})
}
