package compat

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"halo/parser"
	"halo/proxy"
	"halo/proxy/acl"
)

func load(t *testing.T, src string) (*proxy.Config, *Report) {
	t.Helper()
	return LoadHAProxyBytes("h.cfg", []byte(src), HAProxyOptions{})
}

const basicCfg = `global
    maxconn 1000
    daemon
    log 127.0.0.1:514 local0 notice
    stats socket /run/haproxy.sock mode 660 level admin
    tune.bufsize 32768

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    option forwardfor except 127.0.0.0/8
    option http-server-close
    retries 2

frontend fe
    bind 127.0.0.1:8080,[::1]:8081-8082
    acl is_api path_beg /api
    acl is_api hdr(host) -i api.example.com
    http-request set-header X-Test 1 if is_api !{ src 10.0.0.0/8 }
    use_backend api if is_api
    default_backend app

backend app
    balance leastconn
    default-server inter 3s fall 5
    server s1 127.0.0.1:9001 check weight 10
    server s2 127.0.0.1:9002 check backup

backend api
    balance uri whole
    hash-type consistent
    cookie SRV insert indirect nocache
    server a1 10.0.0.1:80 cookie a1 maxconn 50 slowstart 10s
`

func TestLoadBasic(t *testing.T) {
	cfg, rep := load(t, basicCfg)
	if rep.Fatal() {
		t.Fatalf("fatal: %+v", rep.Diags)
	}
	g := cfg.Global
	if g.Maxconn != 1000 || !g.Daemon || g.TuneBufsize != 32768 || len(g.Logs) != 1 || g.Logs[0].Facility != "local0" {
		t.Fatalf("global %+v", g)
	}
	if len(g.StatsSockets) != 1 || g.StatsSockets[0].Mode != 0o660 || g.StatsSockets[0].Level != "admin" {
		t.Fatalf("stats socket %+v", g.StatsSockets)
	}
	if len(cfg.Proxies) != 3 {
		t.Fatalf("proxies %d", len(cfg.Proxies))
	}
	fe, app, api := cfg.Proxies[0], cfg.Proxies[1], cfg.Proxies[2]
	if fe.Mode != proxy.ModeHTTP || fe.Timeouts.Client != 5*time.Second || fe.ConnMode != proxy.ConnServerClose {
		t.Fatalf("fe %+v", fe)
	}
	if len(fe.Binds) != 3 || fe.Binds[1].Addr.String() != "[::1]:8081" || fe.Binds[2].Addr.Port() != 8082 {
		t.Fatalf("binds %+v", fe.Binds)
	}
	if !fe.Forwardfor.Enabled || len(fe.Forwardfor.Except) != 1 {
		t.Fatalf("forwardfor %+v", fe.Forwardfor)
	}
	if fe.DefaultBackend != app || len(fe.UseBackends) != 1 || fe.UseBackends[0].Backend != api {
		t.Fatalf("routing %+v %+v", fe.DefaultBackend, fe.UseBackends)
	}
	if len(fe.ACLs) != 1 || len(fe.ACLs[0].Criteria) != 2 {
		t.Fatalf("acls %+v", fe.ACLs)
	}
	cr := fe.ACLs[0].Criteria[1]
	if cr.Fetch != "req.hdr" || cr.Match != "str" || cr.FetchArgs[0] != "host" || cr.Values[0] != "api.example.com" {
		t.Fatalf("criterion %+v", cr)
	}
	r := fe.HTTPRequest[0]
	if r.Action != "set-header" || len(r.Args) != 2 || len(r.Cond.Or) != 1 || len(r.Cond.Or[0]) != 2 || !r.Cond.Or[0][1].Neg {
		t.Fatalf("rule %+v cond %+v", r, r.Cond)
	}
	if app.Balance.Algo != proxy.BalanceLeastConn || app.Retries != 2 || len(app.Servers) != 2 {
		t.Fatalf("app %+v", app)
	}
	s1, s2 := app.Servers[0], app.Servers[1]
	if !s1.Check || s1.Weight != 10 || s1.Inter != 3*time.Second || s1.Fall != 5 || s1.Rise != 2 || s1.Port != 9001 {
		t.Fatalf("s1 %+v", s1)
	}
	if !s2.Backup || s2.Weight != 1 {
		t.Fatalf("s2 %+v", s2)
	}
	if api.Balance.Algo != proxy.BalanceURI || !api.Balance.URIWhole || api.Balance.HashType != proxy.HashConsistent {
		t.Fatalf("api balance %+v", api.Balance)
	}
	if api.Cookie == nil || api.Cookie.Mode != "insert" || !api.Cookie.Indirect || api.Servers[0].Cookie != "a1" || api.Servers[0].Slowstart != 10*time.Second {
		t.Fatalf("api %+v %+v", api.Cookie, api.Servers[0])
	}
}

// diagLines renders diagnostics as "SEV line: msg" for comparison.
func diagLines(r *Report) []string {
	var out []string
	for _, d := range r.Diags {
		sev := map[parser.Severity]string{parser.SevAlert: "ALERT", parser.SevWarning: "WARNING", parser.SevNotice: "NOTICE"}[d.Sev]
		out = append(out, sev+" "+itoa(d.Pos.Line)+": "+d.Msg)
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

func noStat(string) (os.FileInfo, error) { return nil, os.ErrNotExist }
func noRead(string) ([]byte, error)      { return nil, os.ErrNotExist }

func TestDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want string // a diagnostic that must be present: "SEV line: msg"
	}{
		{"unknown keyword", "backend b\n    frobnicate on\n", "ALERT 2: unknown keyword 'frobnicate' in 'backend' section"},
		{"suggestion", "global\n    maxconnn 10\n", "ALERT 2: unknown keyword 'maxconnn' in 'global' section; did you mean 'maxconn' maybe ?"},
		{"missing use_backend", "frontend f\n    bind :80\n    use_backend nosuch if { path_beg /x }\n", "ALERT 0: Proxy 'f': unable to find required use_backend: 'nosuch'."},
		{"unknown fetch", "frontend f\n    bind :80\n    acl bad no_such_fetch(foo) -i bar\n", "ALERT 3: error detected while parsing ACL 'bad' : unknown fetch method 'no_such_fetch' in ACL expression 'no_such_fetch(foo)'."},
		{"no such acl", "frontend f\n    bind :80\n    use_backend b if bad\nbackend b\n", "ALERT 3: error detected while parsing switching rule : no such ACL : 'bad'."},
		{"server in frontend", "frontend f\n    bind :80\n    server s 1.2.3.4:80\n", "ALERT 3: 'server' not allowed because frontend 'f' has no backend capability."},
		{"default_backend in backend", "backend b\n    default_backend b\n", "WARNING 2: 'default_backend' ignored because backend 'b' has no frontend capability."},
		{"default_backend loop", "backend b\n    default_backend b\n", "ALERT 0: Proxy 'b': loop detected for default_backend: 'b'."},
		{"timeout unit", "defaults\n    timeout client 5x\n", "ALERT 2: unexpected character 'x' in 'timeout client'"},
		{"timeout kind", "defaults\n    timeout bogus 5s\n", "ALERT 2: 'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin' (got 'bogus')"},
		{"weight range", "backend b\n    server s1 1.2.3.4:80 weight 300\n", "ALERT 2: 'server b/s1' : weight of server s1 is not within 0 and 256 (300)."},
		{"bind port", "frontend f\n    bind :99999\n", "ALERT 2: 'bind' : invalid port '99999'"},
		{"bind missing port", "frontend f\n    bind \"*:$PORT\"\n", "ALERT 2: 'bind' : missing port specification in '*:'"},
		{"missing cert", "frontend f\n    bind :443 ssl crt /nonexistent/x.pem\n", "ALERT 2: 'bind :443' in section 'frontend' : unable to stat SSL certificate from file '/nonexistent/x.pem' : No such file or directory."},
		{"duplicate server", "backend b\n    server n 1.2.3.4:80\n    server n 1.2.3.5:80\n", "ALERT 3: backend 'b', another server named 'n' was already defined at line 2, please use distinct names."},
		{"removed keyword", "defaults\n    clitimeout 5000\n", "ALERT 2: the 'clitimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout client'."},
		{"listen address", "listen l 0.0.0.0:80\n", "ALERT 1: please use the 'bind' keyword for listening addresses."},
		{"unresolvable", "backend b\n    server s nohost.invalid:80\n", "ALERT 2: 'server b/s' : could not resolve address 'nohost.invalid'."},
		{"empty dns label", "resolvers dns\n    nameserver n 127.0.0.1:53\nbackend b\n    server s ..internal:80 resolvers dns init-addr none\n", "ALERT 4: 'server b/s' : Can't create DNS resolution for server 's'"},
		{"init-addr none", "backend b\n    server s nohost.invalid:80 init-addr last,libc,none\n", "WARNING 2: 'server b/s' : could not resolve address 'nohost.invalid', disabling server."},
		{"out of section", "maxconn 10\n", "ALERT 1: unknown keyword 'maxconn' out of section."},
		{"forwardfor tcp", "backend b\n    mode tcp\n    option forwardfor\n", "WARNING 0: 'option forwardfor' ignored for backend 'b' as it requires HTTP mode."},
		{"tcplog in backend", "backend b\n    option tcplog\n", "WARNING 2: backend 'b' : 'option tcplog' directive is ignored in backends."},
		{"lua missing", "global\n    lua-load /nonexistent.lua\n", "ALERT 2: error in Lua file '/nonexistent.lua': cannot open /nonexistent.lua: No such file or directory"},
		{"ignored keyword warns", "global\n    lua-prepend-path /usr/share/lua/?.lua\n", "WARNING 2: halo: 'lua-prepend-path' is accepted but not executed (ignored): halo has no Lua interpreter"},
		{"unknown option", "defaults\n    option nosuch\n", "ALERT 2: unknown option 'nosuch'."},
		{"tcpka count", "frontend f\n    clitcpka-cnt 4x\n", "ALERT 2: 'clitcpka-cnt' : unexpected character 'x' in integer value '4x'"},
		{"tcpka time", "frontend f\n    clitcpka-idle 3q\n", "ALERT 2: unexpected character 'q' in argument to <clitcpka-idle>."},
		{"tcpka no value", "backend b\n    srvtcpka-idle\n", "ALERT 2: 'srvtcpka-idle' expects an integer value"},
		{"tcpka other side", "frontend f\n    srvtcpka-intvl 3\n", "WARNING 2: srvtcpka-intvl will be ignored because frontend 'f' has no backend capability"},
		{"http-request unknown action", "frontend f\n    http-request frob X\n", "ALERT 2: 'http-request' expects"},
		{"duplicate server id", "backend b\n    server a 1.2.3.4:80 id 3\n    server c 1.2.3.5:80 id 3\n", "ALERT 3: 'server b/c' : 'id' : custom id 3 already used at h.cfg:2 ('server a')."},
		{"hash-type avalanche alone", "backend b\n    hash-type avalanche\n", "ALERT 2: experimental feature 'hash-type avalanche' is not supported anymore, please use 'hash-type map-based sdbm avalanche' instead."},
		{"hash-type avalanche as function", "backend b\n    hash-type consistent avalanche\n", "ALERT 2: 'hash-type' only supports 'sdbm', 'djb2', 'crc32', or 'wt6' hash functions."},
		{"hash-type bad modifier", "backend b\n    hash-type consistent sdbm foo\n", "ALERT 2: 'hash-type' only supports 'avalanche' as a modifier for hash functions."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rep := load(t, tc.src)
			got := diagLines(rep)
			for _, g := range got {
				if strings.HasPrefix(g, tc.want) {
					return
				}
			}
			t.Fatalf("missing %q in\n%s", tc.want, strings.Join(got, "\n"))
		})
	}
}

func TestDefaultsInheritance(t *testing.T) {
	src := `defaults base
    mode http
    timeout client 7s
    timeout connect 1s
    timeout server 1s
defaults
    mode tcp
    timeout client 3s
    timeout connect 1s
    timeout server 1s
frontend plain
    bind :1
    default_backend be
frontend named from base
    bind :2
    default_backend be
backend be from base
    server s 127.0.0.1:1
`
	cfg, rep := load(t, src)
	if rep.Fatal() {
		t.Fatalf("%v", diagLines(rep))
	}
	if p := cfg.Proxies[0]; p.Mode != proxy.ModeTCP || p.Timeouts.Client != 3*time.Second {
		t.Fatalf("plain %+v", p)
	}
	if p := cfg.Proxies[1]; p.Mode != proxy.ModeHTTP || p.Timeouts.Client != 7*time.Second {
		t.Fatalf("named %+v", p)
	}
}

// Server ids as haproxy assigns them (consistent hashing depends on them).
func TestServerIDs(t *testing.T) {
	cfg, rep := load(t, "backend b\n    server s1 1.2.3.4:80\n    server s2 1.2.3.4:81 id 1\n    server s3 1.2.3.4:82\n    server s4 1.2.3.4:83 id 7\n")
	if rep.Fatal() {
		t.Fatalf("%v", diagLines(rep))
	}
	want := map[string]int{"s1": 2, "s2": 1, "s3": 4, "s4": 7} // sid column of haproxy 2.6.12's show stat
	for _, s := range cfg.Proxies[0].Servers {
		if s.ID != want[s.Name] {
			t.Errorf("server %s id %d, want %d", s.Name, s.ID, want[s.Name])
		}
	}
}

func TestSendProxyVersions(t *testing.T) {
	cfg, rep := load(t, "backend b\n    server v1 1.2.3.4:80 send-proxy\n    server v2 1.2.3.4:81 send-proxy-v2\n")
	if rep.Fatal() {
		t.Fatalf("%v", diagLines(rep))
	}
	v1, v2 := cfg.Proxies[0].Servers[0], cfg.Proxies[0].Servers[1]
	if !v1.SendProxy || v1.SendProxyV2 || v2.SendProxy || !v2.SendProxyV2 {
		t.Fatalf("v1 %v/%v v2 %v/%v", v1.SendProxy, v1.SendProxyV2, v2.SendProxy, v2.SendProxyV2)
	}
}

func TestFindings(t *testing.T) {
	_, rep := load(t, "global\n    lua-prepend-path /usr/share/lua/?.lua\n    maxconn 5\nbackend b\n    persist rdp-cookie\n")
	if rep.Summary.Ignored != 2 || rep.Summary.Supported < 2 {
		t.Fatalf("summary %+v", rep.Summary)
	}
	if len(rep.Findings) != 2 || rep.Findings[0].Keyword != "lua-prepend-path" || rep.Findings[1].Keyword != "persist rdp-cookie" {
		t.Fatalf("findings %+v", rep.Findings)
	}
}

func FuzzLoadHAProxy(f *testing.F) {
	f.Add([]byte(basicCfg))
	f.Add([]byte("peers p\n peer A 127.0.0.1:1\n table t type string len 8 size 1k store gpc(2),http_req_rate(10s)\nbackend b\n stick-table type ip size 1m expire 30s store conn_cur peers p\n stick on src table p/t\n http-request track-sc0 src\n http-request sc-inc-gpc(1,0) if { sc_http_req_rate(0) gt 5 }\n"))
	f.Add([]byte("frontend f\n bind :80 ssl crt x\n use_backend %[req.hdr(host)] if { hdr(x) -m beg a } || !TRUE\nbackend b\n server s 1.2.3.4:+1 check inter 1s\n"))
	f.Add([]byte("defaults d\nlisten l from d\n bind :1-3\n balance hdr(x)\n cookie c prefix\n stats enable\n stats auth a:b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, rep := LoadHAProxyBytes("f.cfg", data, HAProxyOptions{Stat: noStat, ReadFile: noRead})
		if rep.Fatal() != (cfg == nil) {
			t.Fatalf("config %v but fatal %v", cfg != nil, rep.Fatal())
		}
	})
}

func TestNamedDefaultsRules(t *testing.T) {
	src := `defaults named
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
    http-request set-header X-From defaults
frontend f from named
    bind :18090
    http-request set-header X-From frontend
    default_backend b
defaults plain
    mode http
    timeout connect 1s
    timeout server 1s
backend b from plain
    server s 127.0.0.1:1
`
	cfg, rep := load(t, src)
	if rep.Fatal() {
		t.Fatalf("%v", diagLines(rep))
	}
	rs := cfg.Proxies[0].HTTPRequest
	if len(rs) != 2 || rs[0].Args[1] != "defaults" || rs[1].Args[1] != "frontend" {
		t.Fatalf("rules %+v", rs)
	}
	_, rep = load(t, "defaults\n    http-request deny\n")
	if got := diagLines(rep); len(got) == 0 || got[0] != "ALERT 2: 'http-request' not allowed in anonymous 'defaults' section." {
		t.Fatalf("diags %v", got)
	}
	// Who may use a defaults section with rules (messages of haproxy
	// 2.6.12 -c, regtest startup/default_rules.vtc).
	for _, tc := range []struct{ name, src, want string }{
		{"defaults", "defaults d\n    tcp-request content accept\ndefaults from d\n", "ALERT 3: a defaults section cannot inherit from a defaults section defining TCP/HTTP rules (defaults section at h.cfg:1)."},
		{"listen", "defaults d\n    tcp-request content accept\nlisten l from d\n", "ALERT 3: a listen section cannot inherit from a defaults section defining TCP/HTTP rules."},
		{"fe and be", "defaults d\n    http-request deny\nfrontend f from d\nbackend b from d\n", "ALERT 4: frontends and backends cannot inherit from the same defaults section if it defines TCP/HTTP rules (defaults section at h.cfg:1)."},
		{"be with l4", "defaults d\n    tcp-request connection accept\nbackend b from d\n", "ALERT 3: a backend section cannot inherit from a defaults section defining 'tcp-request connection' or 'tcp-request session' rules (defaults section at h.cfg:1)."},
		{"be with l5", "defaults d\n    tcp-request session accept\nbackend b from d\n", "ALERT 3: a backend section cannot inherit from a defaults section defining 'tcp-request connection' or 'tcp-request session' rules (defaults section at h.cfg:1)."},
		{"fe with tcp-response", "defaults d\n    tcp-response content accept\nfrontend f from d\n", "ALERT 3: a frontend section cannot inherit from a defaults section defining 'tcp-response content' rules (defaults section at h.cfg:1)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rep := load(t, tc.src)
			if got := diagLines(rep); !slices.Contains(got, tc.want) {
				t.Fatalf("diags %v\nwant %s", got, tc.want)
			}
		})
	}
}

func TestCompileCriterion(t *testing.T) {
	for _, tc := range []struct {
		name, acl                string
		fetch, match, args, vals string
		err                      string
	}{
		{"alias", "path_beg /api /v1", "path", "beg", "", "/api,/v1", ""},
		{"hdr alias", "hdr_end(host) -i .example.com", "req.hdr", "end", "host", ".example.com", ""},
		{"explicit match", "req.hdr(x-env) -m sub prod", "req.hdr", "sub", "x-env", "prod", ""},
		{"ip default", "src 10.0.0.0/8 192.168.1.1", "src", "ip", "", "10.0.0.0/8,192.168.1.1", ""},
		{"int default", "dst_port 80 443", "dst_port", "int", "", "80,443", ""},
		{"int operator", "hdr_cnt(host) gt 1", "hdr_cnt", "int", "host", "gt,1", ""},
		{"bool", "ssl_fc", "ssl_fc", "bool", "", "", ""},
		{"found", "req.cook(sid) -m found", "req.cook", "found", "sid", "", ""},
		{"converter output", "req.hdr(host),lower -m str a", "req.hdr", "str", "host", "a", ""},
		{"double dash", "path -- -x", "path", "str", "", "-x", ""},
		{"unknown fetch", "nope /x", "", "", "", "", "unknown fetch method 'nope' in ACL expression 'nope'"},
		{"unknown match", "path -m nope x", "", "", "", "", "'-m' : unknown match method 'nope' for ACL keyword 'path'"},
		{"bad ip", "src not-an-ip", "", "", "", "", "'not-an-ip' is not a valid IPv4 or IPv6 address"},
		{"bad int", "dst_port eighty", "", "", "", "", "'eighty' is neither a number nor a supported operator"},
		{"missing pattern file", "path -f /nonexistent/list", "", "", "", "", "failed to open pattern file </nonexistent/list>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &hctx{opt: HAProxyOptions{ReadFile: noRead, Resolve: func(string) (netip.Addr, error) { return netip.Addr{}, os.ErrNotExist }}, resolved: map[string]resolveResult{}, reg: acl.NewRegistry()}
			var words []parser.Word
			for _, f := range strings.Fields(tc.acl) {
				words = append(words, parser.Word{Value: f})
			}
			cr, _, err := c.compileCriterion(words)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cr.Fetch != tc.fetch || cr.Match != tc.match || strings.Join(cr.FetchArgs, ",") != tc.args || strings.Join(cr.Values, ",") != tc.vals {
				t.Fatalf("got %+v", cr)
			}
		})
	}
}

// TestProxyIDs: proxy ids as haproxy 2.6.12 numbered them on this box
// (show stat's iid): a stats socket's hidden GLOBAL proxy makes the first
// proxy 2; explicit ids are kept and a reused one is refused.
func TestProxyIDs(t *testing.T) {
	const body = `defaults
  mode http
  timeout client 1s
  timeout server 1s
  timeout connect 1s
listen stats
  bind 127.0.0.1:13070
  stats enable
frontend fe
  bind 127.0.0.1:13071
  default_backend be
backend be
  server s1 127.0.0.1:13011
`
	for _, tc := range []struct {
		name, cfg, want string
	}{
		{"no stats socket", body, "stats=1 fe=2 be=3"},
		{"stats socket", "global\n  stats socket /tmp/x.sock\n" + body, "stats=2 fe=3 be=4"},
		{"two stats sockets", "global\n  stats socket /tmp/x.sock\n  stats socket /tmp/y.sock\n" + body, "stats=2 fe=3 be=4"},
		{"later id 1", body + "listen l2\n  bind 127.0.0.1:13073\n  id 1\n", "stats=2 fe=3 be=4 l2=1"},
		{"socket and later id 1", "global\n  stats socket /tmp/x.sock\n" + body + "listen l2\n  bind 127.0.0.1:13073\n  id 1\n", "stats=2 fe=3 be=4 l2=1"},
		{"reused id", body + "listen l2\n  bind 127.0.0.1:13073\n  id 3\nlisten l3\n  bind 127.0.0.1:13074\n  id 3\n", "error: proxy l3 reuses same custom id as proxy l2 (declared at t.cfg:14)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, rep := LoadHAProxyBytes("t.cfg", []byte(tc.cfg), HAProxyOptions{})
			var got []string
			if rep.Fatal() {
				for _, d := range rep.Diags {
					if d.Sev == parser.SevAlert {
						got = append(got, "error: "+d.Msg)
						break
					}
				}
			} else {
				for _, p := range cfg.Proxies {
					got = append(got, fmt.Sprintf("%s=%d", p.Name, p.ID))
				}
			}
			if g := strings.Join(got, " "); !strings.Contains(g, tc.want) {
				t.Errorf("got %q, want %q", g, tc.want)
			}
		})
	}
}
