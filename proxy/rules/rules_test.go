package rules_test

import (
	"strings"
	"testing"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/acl/acltest"
	"halo/proxy/rules"
)

// anon builds `if { fetch values... }`.
func anon(words string) *proxy.Cond {
	f := strings.Fields(words)
	c := &proxy.Criterion{Fetch: f[0]}
	i := 1
	for i < len(f) && strings.HasPrefix(f[i], "-") {
		c.Flags = append(c.Flags, f[i])
		if f[i] == "-m" || f[i] == "-f" {
			c.Flags = append(c.Flags, f[i+1])
			i++
		}
		i++
	}
	c.Values = f[i:]
	return &proxy.Cond{Or: [][]proxy.CondTerm{{{ACL: &proxy.ACL{Criteria: []*proxy.Criterion{c}}}}}}
}

func rule(action string, args string, cond *proxy.Cond) *proxy.HTTPRule {
	return &proxy.HTTPRule{Action: action, Args: splitArgs(args), Cond: cond}
}

// splitArgs splits on spaces, keeping "quoted strings" together.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	q := false
	started := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && q && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			q = !q
			started = true
		case c == ' ' && !q:
			if started {
				out = append(out, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteByte(c)
			started = true
		}
	}
	if started {
		out = append(out, cur.String())
	}
	return out
}

func env() *rules.Env {
	o := &acl.Options{}
	return &rules.Env{ACL: acl.NewCompiler(o), Opts: o, Proxy: &proxy.Proxy{Name: "fe"}}
}

func run(t *testing.T, list []*proxy.HTTPRule, txn *acltest.Txn, response bool) rules.Result {
	t.Helper()
	rs, err := rules.CompileHTTP(list, response, env())
	if err != nil {
		t.Fatal(err)
	}
	st := &rules.State{}
	st.Reset(txn)
	st.Entry.Client = txn.Source
	return rules.Run(rs, st, response, proxy.DefaultErrorPage)
}

// Redirect answers recorded from HAProxy 2.6.12 (conformance cases 028
// and 029, and the append-slash probe).
func TestRedirects(t *testing.T) {
	list := []*proxy.HTTPRule{
		rule("redirect", "location /new code 301", anon("path /old")),
		rule("redirect", "location https://example.com/moved", anon("path /moved")),
		rule("redirect", "prefix https://example.com code 302", anon("path_beg /pfx")),
		rule("redirect", "prefix /v2 code 301 drop-query", anon("path_beg /v1/")),
		rule("redirect", "location /landing code 302 set-cookie SEEN=1", anon("path /sc")),
		rule("redirect", "location /cleared clear-cookie OLD=", anon("path /cc")),
		rule("redirect", "location /see-other code 303", anon("path /303")),
		rule("redirect", "location /permanent code 308", anon("path /308")),
		rule("redirect", "scheme https code 301", anon("path_beg /s/")),
		rule("redirect", "prefix /p append-slash", anon("path_beg /as")),
		// words in any order; an empty location is sent empty unless
		// ignore-empty skips the rule (recorded from haproxy 2.6.12)
		rule("redirect", "code 301 location %[req.hdr(x)]", anon("path /empty")),
		rule("redirect", "location %[req.hdr(x)] ignore-empty code 308", anon("path_beg /ie")),
		rule("redirect", "code 303 scheme %[req.hdr(x)] ignore-empty", anon("path_beg /sie")),
	}
	tests := []struct{ name, req, host, want string }{
		{"location 301", "GET /old?x=1", "", "HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: /new\r\n\r\n"},
		{"absolute default code", "GET /moved", "", "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: https://example.com/moved\r\ncache-control: no-cache\r\n\r\n"},
		{"prefix keeps path and query", "GET /pfx/a/b?x=1", "", "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: https://example.com/pfx/a/b?x=1\r\ncache-control: no-cache\r\n\r\n"},
		{"prefix drop-query", "GET /v1/users?page=2", "", "HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: /v2/v1/users\r\n\r\n"},
		{"set-cookie", "GET /sc", "", "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /landing\r\ncache-control: no-cache\r\nset-cookie: SEEN=1; path=/;\r\n\r\n"},
		{"clear-cookie", "GET /cc", "", "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /cleared\r\ncache-control: no-cache\r\nset-cookie: OLD=; path=/; Max-Age=0;\r\n\r\n"},
		{"303", "POST /303", "", "HTTP/1.1 303 See Other\r\ncontent-length: 0\r\nlocation: /see-other\r\ncache-control: no-cache\r\n\r\n"},
		{"308", "GET /308", "", "HTTP/1.1 308 Permanent Redirect\r\ncontent-length: 0\r\nlocation: /permanent\r\n\r\n"},
		{"scheme with host port", "GET /s/p?q=1", "www.example.com:8080", "HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: https://www.example.com:8080/s/p?q=1\r\n\r\n"},
		{"scheme without host", "GET /s/old HTTP/1.0", "-", "HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: https:///s/old\r\n\r\n"},
		{"code first, empty location", "GET /empty", "", "HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: \r\n\r\n"},
		{"ignore-empty skips", "GET /ie", "", ""},
		{"ignore-empty only for location", "GET /sie/d?q", "h", "HTTP/1.1 303 See Other\r\ncontent-length: 0\r\nlocation: ://h/sie/d?q\r\ncache-control: no-cache\r\n\r\n"},
		{"append-slash after query", "GET /as/x?q=1", "", "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /p/as/x?q=1/\r\ncache-control: no-cache\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var txn *acltest.Txn
			switch tc.host {
			case "-":
				txn = acltest.New(tc.req)
			case "":
				txn = acltest.New(tc.req, "Host: h")
			default:
				txn = acltest.New(tc.req, "Host: "+tc.host)
			}
			r := run(t, list, txn, false)
			if tc.want == "" {
				if r.Outcome != rules.Next {
					t.Errorf("got %v %q, want the rule skipped", r.Outcome, r.Reply)
				}
				return
			}
			if r.Outcome != rules.Reply || string(r.Reply) != tc.want {
				t.Errorf("got %v %q\nwant %q", r.Outcome, r.Reply, tc.want)
			}
		})
	}
	if r := run(t, list, acltest.New("GET /other"), false); r.Outcome != rules.Next {
		t.Errorf("no rule should match, got %v", r.Outcome)
	}
}

// Deny and return answers recorded from HAProxy 2.6.12 (cases 032, 033).
func TestDenyReturn(t *testing.T) {
	list := []*proxy.HTTPRule{
		rule("deny", "", anon("path_beg /admin")),
		rule("deny", "deny_status 429", anon("path_beg /slow")),
		rule("deny", `status 401 content-type text/plain string "nope" hdr X-Reason blocked`, anon("path_beg /custom")),
		rule("allow", "", anon("src 127.0.0.2")),
		rule("deny", "", anon("path_beg /private")),
		rule("return", "status 200 content-type text/plain string ok", anon("path /healthz")),
		rule("return", "status 404", anon("path /missing")),
		rule("return", `status 503 content-type application/json lf-string "{\"path\":\"%[path]\"}" hdr X-Return yes`, anon("path_beg /json")),
		rule("return", `status 200 content-type text/html string "<p>hi</p>" hdr Cache-Control no-store hdr X-Two 2`, anon("path /html")),
		// recorded from haproxy 2.6.12: a content-type without a payload
		// (or with one that formats empty) is not sent, nor a hdr whose
		// value formats empty
		rule("return", "status 200 content-type text/plain hdr x-e %[req.hdr(nope)] hdr x-f v", anon("path /noctype")),
		rule("return", "status 203 content-type text/plain lf-string %[req.hdr(nope)]", anon("path /emptylf")),
	}
	p403 := string(proxy.DefaultErrorPage(403))
	tests := []struct {
		name, req, src string
		out            rules.Outcome
		want           string
	}{
		{"deny 403", "GET /admin", "", rules.Reply, p403},
		{"deny_status 429", "GET /slow/x", "", rules.Reply, string(proxy.DefaultErrorPage(429))},
		{"custom 401", "GET /custom", "", rules.Reply, "HTTP/1.1 401 Unauthorized\r\nx-reason: blocked\r\ncontent-length: 4\r\ncontent-type: text/plain\r\n\r\nnope"},
		{"private denied", "GET /private", "", rules.Reply, p403},
		{"allow stops the list", "GET /private", "127.0.0.2:1", rules.Allow, ""},
		{"deny before allow", "GET /admin", "127.0.0.2:1", rules.Reply, p403},
		{"return ok", "GET /healthz?full=1", "", rules.Reply, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"},
		{"bare 404", "GET /missing", "", rules.Reply, "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"},
		{"lf-string", "GET /json/a", "", rules.Reply, "HTTP/1.1 503 Service Unavailable\r\nx-return: yes\r\ncontent-length: 18\r\ncontent-type: application/json\r\n\r\n{\"path\":\"/json/a\"}"},
		{"headers", "GET /html", "", rules.Reply, "HTTP/1.1 200 OK\r\ncache-control: no-store\r\nx-two: 2\r\ncontent-length: 9\r\ncontent-type: text/html\r\n\r\n<p>hi</p>"},
		{"no payload, no content-type", "GET /noctype", "", rules.Reply, "HTTP/1.1 200 OK\r\nx-f: v\r\ncontent-length: 0\r\n\r\n"},
		{"empty lf payload", "GET /emptylf", "", rules.Reply, "HTTP/1.1 203 Non-Authoritative Information\r\ncontent-length: 0\r\n\r\n"},
		{"proxied", "GET /other", "", rules.Next, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			txn := acltest.New(tc.req)
			if tc.src != "" {
				txn.Source = mustAP(tc.src)
			}
			r := run(t, list, txn, false)
			if r.Outcome != tc.out || string(r.Reply) != tc.want {
				t.Errorf("got %v %q\nwant %v %q", r.Outcome, r.Reply, tc.out, tc.want)
			}
		})
	}
}

// Header rewrites as the backend saw them behind HAProxy 2.6.12 (case 030).
func TestHeaderRewrite(t *testing.T) {
	list := []*proxy.HTTPRule{
		rule("set-header", "X-Set set-value", nil),
		rule("set-header", "X-Replace replaced", nil),
		rule("add-header", "X-Add added", nil),
		rule("del-header", "X-Secret", nil),
		rule("set-header", "X-Path %[path]", nil),
		rule("set-header", "X-Client %[src]", nil),
		rule("add-header", `X-Combined "%[method] %[path]"`, nil),
		rule("del-header", "X-Cond", anon("path_beg /cond")),
	}
	txn := acltest.New("GET /a/b?q=1", "host: h", "X-Replace: one", "X-Add: client", "X-Secret: s1", "Accept: */*", "x-secret: s2", "X-Replace: two", "X-Cond: kept")
	txn.Source = mustAP("127.0.0.2:5555")
	run(t, list, txn, false)
	var got []string
	for _, kv := range txn.Req.KV {
		got = append(got, strings.ToLower(string(kv[0]))+": "+string(kv[1]))
	}
	want := "host: h|x-add: client|accept: */*|x-cond: kept|x-set: set-value|x-replace: replaced|x-add: added|x-path: /a/b|x-client: 127.0.0.2|x-combined: GET /a/b"
	if strings.Join(got, "|") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, "|"), want)
	}
}

func TestPathActions(t *testing.T) {
	tests := []struct {
		name, action, args, uri, want string
	}{
		{"set-path keeps query", "set-path", "/new%[path]", "/a?x=1", "/new/a?x=1"},
		{"set-query", "set-query", "y=2", "/a?x=1", "/a?y=2"},
		{"set-query adds ?", "set-query", "y=2", "/a", "/a?y=2"},
		{"set-query empty keeps ?", "set-query", "%[urlp(none)]", "/a?x=1", "/a?"},
		{"set-uri", "set-uri", "/z", "/a?x=1", "/z"},
		{"replace-path", "replace-path", `/api/(.*) /v2/\1`, "/api/users?x=1", "/v2/users?x=1"},
		{"replace-path no match", "replace-path", `/nope/(.*) /v2/\1`, "/api/users", "/api/users"},
		{"replace-uri", "replace-uri", `^/old(.*) /new\1`, "/old/x?q", "/new/x?q"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			txn := acltest.New("GET " + tc.uri)
			run(t, []*proxy.HTTPRule{rule(tc.action, tc.args, nil)}, txn, false)
			if string(txn.U) != tc.want {
				t.Errorf("got %q want %q", txn.U, tc.want)
			}
		})
	}
}

func TestReplaceHeaderValue(t *testing.T) {
	txn := acltest.New("GET /", "Cookie: a=1; b=2", "X-List: one, two ,three")
	run(t, []*proxy.HTTPRule{
		rule("replace-header", `Cookie (.*)b=2(.*) \1b=3\2`, nil),
		rule("replace-value", `X-List ^t(.*) T\1`, nil),
	}, txn, false)
	if got := txn.Req.Get("cookie"); got[0] != "a=1; b=3" {
		t.Errorf("replace-header: %q", got)
	}
	if got := txn.Req.Get("x-list"); got[0] != "one, Two ,Three" {
		t.Errorf("replace-value: %q", got)
	}
}

func TestVarsAndResponse(t *testing.T) {
	txn := acltest.New("GET /x", "Host: Example.com")
	txn.HasRes, txn.Code = true, 200
	txn.Res.Add([]byte("server"), []byte("apache"))
	rs, err := rules.CompileHTTP([]*proxy.HTTPRule{
		rule("set-var(txn.host)", "req.hdr(host),lower", nil),
	}, false, env())
	if err != nil {
		t.Fatal(err)
	}
	res, err := rules.CompileHTTP([]*proxy.HTTPRule{
		rule("set-header", "X-Host %[var(txn.host)]", nil),
		rule("del-header", "server", nil),
		rule("set-status", "503 reason Busy", anon("var(txn.host) -m str example.com")),
	}, true, env())
	if err != nil {
		t.Fatal(err)
	}
	st := &rules.State{}
	st.Reset(txn)
	rules.Run(rs, st, false, proxy.DefaultErrorPage)
	rules.Run(res, st, true, proxy.DefaultErrorPage)
	if got := txn.Res.Get("x-host"); len(got) != 1 || got[0] != "example.com" {
		t.Errorf("x-host = %q", got)
	}
	if len(txn.Res.Get("server")) != 0 || txn.Code != 503 {
		t.Errorf("server header kept or status %d", txn.Code)
	}
}

func TestAuth(t *testing.T) {
	r := run(t, []*proxy.HTTPRule{rule("auth", "realm Zone", nil)}, acltest.New("GET /auth"), false)
	want := "HTTP/1.1 401 Unauthorized\r\nContent-length: 112\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\nwww-authenticate: Basic realm=\"Zone\"\r\n\r\n<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"
	if string(r.Reply) != want || !r.Deny {
		t.Errorf("got %q", r.Reply)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ name, action, args, want string }{
		{"unknown action", "frobnicate", "", "unsupported action 'frobnicate'"},
		{"set-header arity", "set-header", "X-A", "expects exactly 2 arguments"},
		{"bad regex", "replace-path", "( x", "invalid regex"},
		{"bad status", "deny", "deny_status 99", "status code between 200 and 599"},
		{"redirect code", "redirect", "location /x code 200", "unsupported HTTP code '200'"},
		{"redirect keyword", "redirect", "elsewhere /x", "expects 'code', 'prefix', 'location', 'scheme'"},
		{"redirect type", "redirect", "code 301", "redirection type expected"},
		{"body without type", "return", "status 200 string x", "content-type is required"},
		{"bad var scope", "set-var(foo)", "str(x)", "invalid variable name 'foo'"},
		{"bad lf", "set-header", "X-A %[nope]", "unknown fetch method 'nope'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rules.CompileHTTP([]*proxy.HTTPRule{rule(tc.action, tc.args, nil)}, false, env())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzCompileHTTP feeds arbitrary argument words to every action parser
// and runs what compiles over a request.
func FuzzCompileHTTP(f *testing.F) {
	actions := []string{"deny", "return", "redirect", "auth", "set-header", "add-header", "del-header",
		"replace-header", "replace-value", "set-path", "set-query", "set-uri", "replace-path", "replace-uri",
		"set-var(txn.x)", "capture", "set-status", "allow", "tarpit"}
	f.Add(uint8(0), "deny_status 429")
	f.Add(uint8(1), `status 200 content-type text/plain lf-string "%[path]" hdr X-A %[src]`)
	f.Add(uint8(2), "prefix /p code 301 drop-query append-slash set-cookie A=1")
	f.Add(uint8(8), `X-A (.*) \1x`)
	f.Add(uint8(15), "req.hdr(host) len 10")
	f.Fuzz(func(t *testing.T, a uint8, args string) {
		action := actions[int(a)%len(actions)]
		if strings.Contains(args, "file") {
			return // file contents are not the parser's input; /dev/zero would hang
		}
		rs, err := rules.CompileHTTP([]*proxy.HTTPRule{{Action: action, Args: strings.Fields(args)}}, action == "set-status", env())
		if err != nil {
			return
		}
		txn := acltest.New("GET /a?b=c", "Host: h", "X-A: 1")
		txn.HasRes = true
		st := &rules.State{}
		st.Reset(txn)
		rules.Run(rs, st, action == "set-status", proxy.DefaultErrorPage)
	})
}

func TestRejectClosesSilently(t *testing.T) {
	r := run(t, []*proxy.HTTPRule{rule("reject", "", anon("path /x"))}, acltest.New("GET /x"), false)
	if r.Outcome != rules.Drop {
		t.Errorf("outcome %v, want Drop", r.Outcome)
	}
}

func TestSetLogLevel(t *testing.T) {
	rs, err := rules.CompileHTTP([]*proxy.HTTPRule{rule("set-log-level", "silent", anon("path /health"))}, false, env())
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/health": -1, "/other": 6} {
		st := &rules.State{}
		st.Reset(acltest.New("GET " + path))
		rules.Run(rs, st, false, proxy.DefaultErrorPage)
		if st.LogLevel != want {
			t.Errorf("%s: level %d, want %d", path, st.LogLevel, want)
		}
	}
	if _, err := rules.CompileHTTP([]*proxy.HTTPRule{rule("set-log-level", "loud", nil)}, false, env()); err == nil {
		t.Error("unknown level must be refused")
	}
}
