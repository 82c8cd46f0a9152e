package acl_test

import (
	"net/netip"
	"strings"
	"testing"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/acl/acltest"
)

// crit builds a criterion the way `acl x WORDS...` reads: fetch, flags, values.
func crit(words string) *proxy.Criterion {
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
	return c
}

// testConfig has a backend "up" with two usable servers and "down" with
// one in maintenance.
var testConfig = &proxy.Config{Proxies: []*proxy.Proxy{
	{Name: "up", ID: 2, Cap: proxy.CapBE, Servers: []*proxy.Server{{Name: "a", ID: 1, Weight: 1}, {Name: "b", ID: 2, Weight: 1}}},
	{Name: "down", ID: 3, Cap: proxy.CapBE, Servers: []*proxy.Server{{Name: "c", ID: 1, Weight: 1, Disabled: true}}},
}}

var testRuntime = func() *proxy.Runtime {
	for _, p := range testConfig.Proxies {
		for _, s := range p.Servers {
			s.Resolved = true
		}
	}
	rt, err := proxy.New(testConfig)
	if err != nil {
		panic(err)
	}
	return rt
}()

var opts = &acl.Options{
	Registry: acl.NewRegistry(),
	Config:   testConfig,
	Runtime:  testRuntime,
	Userlists: map[string]*proxy.Userlist{"ul": {Name: "ul", Users: map[string]proxy.UserEntry{
		"bob":   {Password: "pw", Insecure: true, Groups: []string{"dev"}},
		"alice": {Password: "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"},
		"carol": {Password: "$5$abc$/LKlXd6vuvdFX3oWbf2vGk3DgflzzsvOtMZsiOxqqY5"},
		"dave":  {Password: "$6$rounds=1000$xy$iuQKcZ2TAFa1eB.CJPNJxVLtmdJXVxW114bJViXTHZkF1Hxr3aQKJ1Xou3j6S3xBJBROkOtLLT.//lQM9XcAY."},
	}, Groups: map[string][]string{"ops": {"alice", "bob"}}}},
	ReadFile: func(p string) ([]byte, error) {
		return []byte("# bad bots\n  /admin  \n\n/private\r\n"), nil
	},
}

func TestCriteria(t *testing.T) {
	req := acltest.New("GET /api/v1/users.json?id=42&x=&debug HTTP/1.1",
		"Host: API.example.com:8080",
		"Accept: text/html, application/json",
		"Accept: */*",
		"Cookie: SRV=s1; lang=fr",
		"Cookie: theme=dark",
		"X-Num: 17",
		"X-Fwd: 10.1.2.3",
		"Authorization: Basic Ym9iOnB3") // bob:pw
	tests := []struct {
		name  string
		words string
		txn   *acltest.Txn
		want  bool
	}{
		{"path exact", "path /api/v1/users.json", req, true},
		{"path exact miss", "path /api", req, false},
		{"path_beg", "path_beg /static /api", req, true},
		{"path_beg case", "path_beg /API", req, false},
		{"path_beg -i", "path_beg -i /API", req, true},
		{"path_end", "path_end .jpg .json", req, true},
		{"path_sub", "path_sub v1", req, true},
		{"path_reg", "path_reg ^/api/v[0-9]+/", req, true},
		{"path_reg -i", "path_reg -i ^/API/", req, true},
		{"path_dir", "path_dir v1", req, true},
		{"path_dir partial", "path_dir v", req, false},
		{"path_dom", "path_dom users", req, true},
		{"path_len", "path_len gt 5", req, true},
		{"path -m len", "path -m len 18", req, true},
		{"path -m beg", "path -m beg /api", req, true},
		{"url_beg", "url_beg /api/v1/users.json?id", req, true},
		{"url_sub", "url_sub debug", req, true},
		{"query", "query -m sub id=42", req, true},
		{"urlp", "urlp(id) 42", req, true},
		{"urlp empty", "urlp(x) -m found", req, true},
		{"urlp missing", "urlp(nope) -m found", req, false},
		{"urlp_val", "urlp_val(id) ge 40", req, true},
		{"hdr host", "hdr(host) -i api.example.com:8080", req, true},
		{"hdr host case", "hdr(host) api.example.com:8080", req, false},
		{"hdr_beg -i", "hdr_beg(host) -i api.", req, true},
		{"hdr_beg case", "hdr_beg(host) api.", req, false},
		{"hdr_end", "hdr_end(host) :8080", req, true},
		{"hdr_dom", "hdr_dom(host) -i example", req, true},
		{"hdr_dom port", "hdr_dom(host) 8080", req, true},
		{"hdr_sub", "hdr_sub(accept) json", req, true},
		{"hdr splits commas", "hdr(accept) application/json", req, true},
		{"req.fhdr no split", "req.fhdr(accept) application/json", req, false},
		{"req.hdr second occurrence", "req.hdr(accept) */*", req, true},
		{"hdr_reg", "hdr_reg(host) ^API", req, true},
		{"hdr_cnt", "hdr_cnt(accept) eq 3", req, true},
		{"hdr_cnt zero", "hdr_cnt(nope) 0", req, true},
		{"hdr_val", "hdr_val(x-num) 10:20", req, true},
		{"hdr_ip", "hdr_ip(x-fwd) 10.0.0.0/8", req, true},
		{"hdr found", "hdr(x-num) -m found", req, true},
		{"hdr not found", "hdr(x-none) -m found", req, false},
		{"hdr no pattern", "hdr(x-num)", req, false},
		{"method", "method GET HEAD", req, true},
		{"method case", "method get", req, false},
		{"method -i", "method -i get", req, true},
		{"src exact", "src 127.0.0.1", req, true},
		{"src net", "src 127.0.0.0/8", req, true},
		{"src mask", "src 127.0.0.0/255.0.0.0", req, true},
		{"src miss", "src 10.0.0.0/8 192.168.0.1", req, false},
		{"src v6 pattern", "src ::ffff:127.0.0.1", req, true},
		{"src file", "path -f bots.lst", acltest.New("GET /private"), true},
		{"src_port", "src_port 40000", req, true},
		{"dst_port", "dst_port 80 8080", req, true},
		{"dst_port range", "dst_port 1:1024", req, false},
		{"dst", "dst 127.0.0.1", req, true},
		{"ssl_fc false", "ssl_fc", req, false},
		{"ssl_fc true", "ssl_fc", &acltest.Txn{TLS: true}, true},
		{"ssl_fc_sni", "ssl_fc_sni -i www.example.com", &acltest.Txn{TLS: true, ServerName: []byte("WWW.example.com")}, true},
		{"ssl_fc_sni -m end", "ssl_fc_sni -m end .example.com", &acltest.Txn{TLS: true, ServerName: []byte("www.example.com")}, true},
		{"ssl_fc_has_sni", "ssl_fc_has_sni", &acltest.Txn{TLS: true, ServerName: []byte("www.example.com")}, true},
		{"ssl_fc_has_sni without SNI", "ssl_fc_has_sni", &acltest.Txn{TLS: true}, false},
		{"ssl_fc_has_sni plain", "ssl_fc_has_sni", req, false},
		{"cook", "cook(SRV) s1", req, true},
		{"cook second header", "req.cook(theme) dark", req, true},
		{"cook_beg", "cook_beg(lang) f", req, true},
		{"cook_cnt", "cook_cnt eq 3", req, true},
		{"cook missing", "cook(nope) -m found", req, false},
		{"base", "base API.example.com:8080/api/v1/users.json", req, true},
		{"base_beg -i", "base_beg -i api.example.com", req, true},
		{"nbsrv up", "nbsrv(up) ge 1", req, true},
		{"nbsrv down lt", "nbsrv(down) lt 1", req, true},
		{"always_true", "always_true", req, true},
		{"always_false", "always_false", req, false},
		{"http_auth ok", "http_auth(ul)", req, true},
		{"http_auth wrong", "http_auth(ul)", acltest.New("GET /", "Authorization: Basic Ym9iOng="), false},
		{"http_auth sha512", "http_auth(ul)", acltest.New("GET /", "Authorization: Basic YWxpY2U6c2VjcmV0"), true},
		{"http_auth sha256", "http_auth(ul)", acltest.New("GET /", "Authorization: Basic Y2Fyb2w6cHc="), true},
		{"http_auth rounds", "http_auth(ul)", acltest.New("GET /", "Authorization: Basic ZGF2ZTpwdw=="), true},
		{"http_auth none", "http_auth(ul)", acltest.New("GET /"), false},
		{"http_auth_group user line", "http_auth_group(ul) dev", req, true},
		{"http_auth_group group line", "http_auth_group(ul) ops", req, true},
		{"http_auth_group other", "http_auth_group(ul) admins", req, false},
		{"http_auth_group bad password", "http_auth_group(ul) dev", acltest.New("GET /", "Authorization: Basic Ym9iOng="), false},
		{"converter lower", "hdr(host),lower api.example.com:8080", req, true},
		{"req.ver", "req.ver 1.1", req, true},
		{"str found", "str(x) -m found", req, true},
		{"int op eq", "int(5) eq 5", req, true},
		{"int op lt", "int(5) lt 5", req, false},
		{"int op le", "int(5) le 5", req, true},
		{"int op gt", "int(5) gt 4", req, true},
		{"untracked stick counter: no sample", "sc_http_req_rate(0) gt 10", req, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := acl.CompileCriterion(crit(tc.words), opts)
			if err != nil {
				t.Fatalf("compile %q: %v", tc.words, err)
			}
			ctx := &acl.Ctx{}
			ctx.Reset(tc.txn)
			if got := c.Eval(ctx); got != tc.want {
				t.Errorf("%q = %v, want %v", tc.words, got, tc.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ name, words, want string }{
		{"unknown fetch", "nope_fetch x", "unknown fetch method 'nope_fetch'"},
		{"bad regex", "path_reg (", "regex '(' is invalid"},
		{"bad ip", "src 300.1.1.1", "'300.1.1.1' is not a valid IPv4 or IPv6 address"},
		{"bad int", "dst_port abc", "'abc' is not a number"},
		{"missing op value", "dst_port gt", "missing value after operator 'gt'"},
		{"bad match", "path -m nope x", "unknown matching method 'nope'"},
		{"bad userlist", "http_auth(none)", "unable to find userlist 'none'"},
		{"bad converter", "path,nope x", "unknown converter 'nope'"},
		{"unclosed", "hdr(host x", "missing closing parenthesis"},
		{"payload fetch not implemented", "res.payload_lv(0,1)", "unknown fetch method"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := acl.CompileCriterion(crit(tc.words), opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func cond(unless bool, or ...[]proxy.CondTerm) *proxy.Cond {
	return &proxy.Cond{Unless: unless, Or: or}
}

func TestConditions(t *testing.T) {
	isAPI := &proxy.ACL{Name: "is_api", Criteria: []*proxy.Criterion{crit("path_beg /api")}}
	isGet := &proxy.ACL{Name: "METH_GET"}
	local := &proxy.ACL{Name: "LOCALHOST"}
	two := &proxy.ACL{Name: "two", Criteria: []*proxy.Criterion{crit("path /a"), crit("path /b")}}
	tests := []struct {
		name string
		c    *proxy.Cond
		req  string
		want bool
	}{
		{"single", cond(false, []proxy.CondTerm{{ACL: isAPI}}), "GET /api/x", true},
		{"negated", cond(false, []proxy.CondTerm{{Neg: true, ACL: isAPI}}), "GET /api/x", false},
		{"and", cond(false, []proxy.CondTerm{{ACL: isAPI}, {ACL: isGet}}), "POST /api/x", false},
		{"or", cond(false, []proxy.CondTerm{{ACL: isAPI}, {ACL: isGet}}, []proxy.CondTerm{{ACL: local}}), "POST /api/x", true},
		{"unless", cond(true, []proxy.CondTerm{{ACL: isAPI}}), "GET /other", true},
		{"builtin HEAD is METH_GET", cond(false, []proxy.CondTerm{{ACL: isGet}}), "HEAD /", true},
		{"multi-line acl ORs", cond(false, []proxy.CondTerm{{ACL: two}}), "GET /b", true},
		// `use_backend b2 if` / `unless` with nothing after: HAProxy 2.6
		// accepts them, never / always true.
		{"empty if", cond(false), "GET /", false},
		{"empty unless", cond(true), "GET /", true},
	}
	cp := acl.NewCompiler(opts)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cp.Cond(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			ctx := &acl.Ctx{}
			ctx.Reset(acltest.New(tc.req))
			if got := c.Eval(ctx); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	var nilCond *acl.Cond
	if !nilCond.Eval(&acl.Ctx{}) {
		t.Error("nil condition must hold")
	}
	if _, err := cp.ACL(&proxy.ACL{Name: "undefined_acl"}); err == nil {
		t.Error("undefined ACL without criteria must fail")
	}
}

func TestExpr(t *testing.T) {
	req := acltest.New("GET /a/b?x=1", "Host: Example.COM", "X-A: 1", "X-A: 2, 3")
	req.Source = netip.MustParseAddrPort("[::ffff:10.0.0.1]:1234")
	tests := []struct{ expr, want string }{
		{"path", "/a/b"},
		{"req.hdr(host),lower", "example.com"},
		{"hdr(x-a)", "3"},
		{"hdr(x-a,1)", "1"},
		{"hdr(x-a,-2)", "2"},
		{"src", "10.0.0.1"},
		{"dst_port", "8080"},
		{"path,word(1,/)", "a"},
		{"path,word(-1,/)", "b"},
		{"path,field(2,/)", "a"},
		{"path,upper", "/A/B"},
		{"path,regsub(^/a,/z)", "/z/b"},
		{"path,regsub(/,_,g)", "_a_b"},
		{"str(abc),hex", "616263"},
		{"int(7),add(3)", "10"},
		{"path,length", "4"},
		{"url", "/a/b?x=1"},
		{"pathq", "/a/b?x=1"},
		{"base", "Example.COM/a/b"},
		{"ssl_fc", "0"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			e, err := acl.ParseExpr(tc.expr, opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := &acl.Ctx{}
			ctx.Reset(req)
			v, ok := e.Eval(ctx)
			if !ok {
				t.Fatalf("no value")
			}
			if got := string(v.AppendText(nil)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMapConverter(t *testing.T) {
	o := &acl.Options{ReadFile: func(p string) ([]byte, error) {
		return []byte("# hosts\nwww.example.com  be_www\napi.example.com be_api\n"), nil
	}}
	e, err := acl.ParseExpr("req.hdr(host),lower,map(hosts.map,be_default)", o)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{"API.example.com": "be_api", "x": "be_default"} {
		ctx := &acl.Ctx{}
		ctx.Reset(acltest.New("GET /", "Host: "+host))
		v, _ := e.Eval(ctx)
		if string(v.B) != want {
			t.Errorf("%s: got %q want %q", host, v.B, want)
		}
	}
}

func TestEvalDoesNotAllocate(t *testing.T) {
	cp := acl.NewCompiler(opts)
	c, err := cp.Cond(cond(false, []proxy.CondTerm{
		{ACL: &proxy.ACL{Name: "a", Criteria: []*proxy.Criterion{crit("hdr_beg(host) -i www."), crit("path_reg ^/v[0-9]/")}}},
		{Neg: true, ACL: &proxy.ACL{Name: "b", Criteria: []*proxy.Criterion{crit("src 10.0.0.0/8"), crit("cook(SRV) s9")}}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := &acl.Ctx{}
	ctx.Reset(acltest.New("GET /v1/x", "Host: WWW.example.com", "Cookie: a=b; SRV=s1"))
	c.Eval(ctx) // warm scratch buffers
	if n := testing.AllocsPerRun(100, func() { c.Eval(ctx) }); n != 0 {
		t.Errorf("Eval allocates %v times per run", n)
	}
}

func FuzzPatternFile(f *testing.F) {
	f.Add([]byte("# c\n a \n\nb\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range acl.ParsePatternFile(data) {
			if p == "" || p[0] == '#' || strings.ContainsAny(p, "\n") {
				t.Fatalf("bad pattern %q", p)
			}
		}
		acl.ParseMapFile(data)
	})
}

func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{"req.hdr(host),lower", "path,regsub(a\\,b,c,g)", "hdr(x,\"a)\")", "urlp(id", "str(),word(0)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := acl.ParseExpr(s, &acl.Options{ReadFile: func(string) ([]byte, error) { return nil, nil }})
		if err != nil {
			return
		}
		ctx := &acl.Ctx{}
		ctx.Reset(acltest.New("GET /a?b=c", "Host: h"))
		e.Eval(ctx)
	})
}

// FuzzFetches runs header, cookie, query and auth fetches over arbitrary
// client-supplied values.
func FuzzFetches(f *testing.F) {
	f.Add("/a?x=1&y", "a, \"b,c\", d", "SRV=1; x", "Basic Ym9iOnB3")
	words := []string{"hdr(x-v) -m sub b", "hdr_cnt(x-v) gt 1", "hdr_ip(x-v) 10.0.0.0/8", "hdr_val(x-v) gt 3",
		"cook(SRV) 1", "cook_cnt gt 0", "urlp(x) 1", "urlp_val(y) 2", "query -m found", "path_dom a",
		"url_dir x", "http_auth(ul)", "http_auth_group(ul) ops", "base -m reg ^a"}
	var crits []*acl.Criterion
	for _, w := range words {
		c, err := acl.CompileCriterion(crit(w), opts)
		if err != nil {
			f.Fatal(w, err)
		}
		crits = append(crits, c)
	}
	f.Fuzz(func(t *testing.T, uri, v, cookie, auth string) {
		if uri == "" || uri[0] != '/' {
			uri = "/" + uri
		}
		txn := acltest.New("GET x", "X-V: "+v, "Cookie: "+cookie, "Authorization: "+auth, "Host: "+v)
		txn.U = []byte(uri)
		ctx := &acl.Ctx{}
		ctx.Reset(txn)
		for _, c := range crits {
			c.Eval(ctx)
		}
	})
}

func TestVarScopes(t *testing.T) {
	proc := acl.NewProcVars()
	a, b := acl.Vars{Proc: proc}, acl.Vars{Proc: proc}
	a.Set("txn.x", acl.Value{Kind: acl.KInt, I: 1})
	a.Set("proc.shared", acl.Value{Kind: acl.KStr, B: []byte("p")})
	if _, ok := b.Get("txn.x"); ok {
		t.Error("txn variables must not leak between transactions")
	}
	if v, ok := b.Get("proc.shared"); !ok || string(v.B) != "p" || v.Kind != acl.KStr {
		t.Errorf("proc variable not shared: %+v %v", v, ok)
	}
	if v, ok := a.Get("txn.x"); !ok || v.Kind != acl.KInt || v.I != 1 {
		t.Errorf("variables keep their type: %+v %v", v, ok)
	}
	a.Reset()
	if _, ok := a.Get("txn.x"); ok {
		t.Error("Reset must forget txn variables")
	}
	b.Unset("proc.shared")
	if _, ok := a.Get("proc.shared"); ok {
		t.Error("Unset of a proc variable must be global")
	}
}
