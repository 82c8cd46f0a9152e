package compat

import (
	"fmt"
	"strings"
	"testing"

	"halo/proxy"
)

// ruleSummary renders a rule list compactly for comparison.
func ruleSummary(rules []proxy.CheckRule) string {
	var parts []string
	for _, r := range rules {
		switch r.Action {
		case proxy.CheckConnect:
			parts = append(parts, fmt.Sprintf("%d:connect(%d)", r.Index, r.Port))
		case proxy.CheckSend:
			parts = append(parts, fmt.Sprintf("%d:send(%s)", r.Index, r.Data))
		case proxy.CheckSendHTTP:
			opt := ""
			if r.FromOption {
				opt = "opt:"
			}
			parts = append(parts, fmt.Sprintf("%d:http(%s%s %s %s %v)", r.Index, opt, r.Method, r.URI, r.Version, r.Headers))
		case proxy.CheckExpect:
			neg := ""
			if r.Expect.Negate {
				neg = "!"
			}
			parts = append(parts, fmt.Sprintf("%d:expect(%s%s %s)", r.Index, neg, r.Expect.Type, r.Expect.Pattern))
		case proxy.CheckComment:
			parts = append(parts, fmt.Sprintf("%d:comment", r.Index))
		case proxy.CheckSetVar:
			parts = append(parts, fmt.Sprintf("%d:set-var(%s)", r.Index, r.Var))
		case proxy.CheckUnsetVar:
			parts = append(parts, fmt.Sprintf("%d:unset-var(%s)", r.Index, r.Var))
		}
	}
	return strings.Join(parts, " ")
}

const checkDefaults = "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\n"

// HAProxy's rule lists (tcpcheck_rules), checked against what haproxy
// 2.6.12 sends on the wire for the same configurations.
func TestCheckRulesets(t *testing.T) {
	tests := []struct {
		name string
		cfg  string
		typ  proxy.CheckType
		want string
	}{
		{"option httpchk",
			"backend b\n    option httpchk GET /h\n    server s 127.0.0.1:80 check\n",
			proxy.CheckHTTP, "0:http(opt:GET /h  [])"},
		{"http-check send after option httpchk merges into it",
			"backend b\n    option httpchk GET /h HTTP/1.1\n    http-check send hdr Host x\n    http-check expect status 200\n",
			proxy.CheckHTTP, "0:http(GET /h HTTP/1.1 [[Host x]]) 1:expect(status 200)"},
		{"option httpchk after http-check send overwrites it (headers dropped)",
			"backend b\n    http-check send meth HEAD uri /x hdr A b\n    option httpchk GET /h\n",
			proxy.CheckHTTP, "0:http(GET /h  [])"},
		{"defaults' option httpchk is inherited",
			checkDefaults + "    option httpchk GET /d HTTP/1.1\nbackend b\n    server s 127.0.0.1:80 check\n",
			proxy.CheckHTTP, "0:http(opt:GET /d HTTP/1.1 [])"},
		{"a backend's http-check send drops the defaults' request (OPTIONS / HTTP/1.0)",
			checkDefaults + "    option httpchk GET /d HTTP/1.1\nbackend b\n    http-check send hdr X-A b\n",
			proxy.CheckHTTP, "0:http(   [[X-A b]])"},
		{"a backend's http-check expect alone leaves no request",
			checkDefaults + "    option httpchk GET /d HTTP/1.1\n    http-check expect status 200\nbackend b\n    http-check expect status 200-299\n",
			proxy.CheckHTTP, "0:expect(status 200-299)"},
		{"tcp-check rules wait for option tcp-check",
			"backend b\n    tcp-check send PING\n    tcp-check expect string +PONG\n    option tcp-check\n",
			proxy.CheckTCP, "0:send(PING) 1:expect(string +PONG)"},
		{"tcp-check comments count in the indexes",
			"backend b\n    option tcp-check\n    tcp-check comment first\n    tcp-check connect port 80\n    tcp-check expect ! rstring ^E\n",
			proxy.CheckTCP, "0:comment 1:connect(80) 2:expect(!rstring ^E)"},
		{"defaults' tcp-check rules are inherited",
			checkDefaults + "    option tcp-check\n    tcp-check send x\nbackend b\n    server s 127.0.0.1:80 check\n",
			proxy.CheckTCP, "0:send(x)"},
		{"a backend's own tcp-check rules replace the defaults'",
			checkDefaults + "    option tcp-check\n    tcp-check send x\nbackend b\n    tcp-check send y\n",
			proxy.CheckTCP, "0:send(y)"},
		{"option tcp-check picks the defaults' tcp-check rules",
			checkDefaults + "    tcp-check send x\nbackend b\n    option tcp-check\n",
			proxy.CheckTCP, "0:send(x)"},
		{"a protocol option replaces the rules",
			"backend b\n    option tcp-check\n    tcp-check send x\n    option redis-check\n",
			proxy.CheckRedis, ""},
		{"set-var and unset-var",
			"backend b\n    option httpchk\n    http-check set-var(check.p) str(/x)\n    http-check send uri-lf %[var(check.p)]\n    http-check unset-var(check.p)\n",
			proxy.CheckHTTP, "0:set-var(check.p) 0:http( %[var(check.p)]  []) 1:unset-var(check.p)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, rep := load(t, tc.cfg)
			if cfg == nil {
				t.Fatalf("refused: %v", rep.Diags)
			}
			var hc *proxy.HealthCheck
			for _, p := range cfg.Proxies {
				if p.Name == "b" {
					hc = &p.HealthCheck
				}
			}
			if hc.Type != tc.typ || ruleSummary(hc.Rules) != tc.want {
				t.Fatalf("type %d rules\n %s\nwant type %d\n %s", hc.Type, ruleSummary(hc.Rules), tc.typ, tc.want)
			}
		})
	}
}

// Errors in haproxy 2.6.12's words (captured with haproxy -c).
func TestCheckErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{"tcp-check foo", "'tcp-check' only supports 'comment', 'connect', 'send', 'send-binary', 'expect', 'set-var-fmt(*)', 'set-var(*)', 'unset-var(*)'. but got 'foo'"},
		{"http-check", "'http-check' only supports 'disable-on-404', 'send-state', 'comment', 'connect', 'send', 'expect', 'set-var-fmt(*)', 'set-var(*)', 'unset-var(*)'. but got ''"},
		{"tcp-check expect", "'tcp-check expect' : expects at least a matching pattern as arguments."},
		{"tcp-check expect foo bar", "'tcp-check expect' : 'only supports min-recv, '[!]binary', '[!]string', '[!]rstring', '[!]string-lf''[!]rbinary', '[!]binary-lf' or comment but got 'foo' as argument.."},
		{"http-check expect foo bar", "'http-check expect' : 'only supports min-recv, [!]string', '[!]rstring', '[!]string-lf', '[!]status', '[!]rstatus', [!]hdr, [!]fhdr or comment but got 'foo' as argument.."},
		{"tcp-check send", "'tcp-check send' : 'string' expects a send as argument."},
		{"tcp-check send-binary zz", "'tcp-check send-binary' : 'zz' invalid binary string (an hex digit is expected (found 'z')).\n."},
		{"tcp-check connect port 0", "'tcp-check connect' : expects a valid TCP port (from range 1 to 65535) or a sample expression, got 0.."},
		{"tcp-check connect blah", "'tcp-check connect' : expects 'comment', 'port', 'addr', 'send-proxy', 'ssl', 'sni', 'alpn' or 'via-socks4', 'linger', 'default' but got 'blah' as argument.."},
		{"http-check send blah", "'http-check send' : expects 'comment', 'meth', 'uri', 'uri-lf', 'ver', 'hdr', 'body' or 'body-lf' but got 'blah' as argument.."},
		{"http-check expect status", "'http-check expect' : 'status' expects a <pattern> as argument."},
		{"http-check expect status 3-1", "'http-check expect' : invalid range of status codes '3-1'."},
		{"http-check expect status 2x", "'http-check expect' : invalid character 'x' in the list of status codes."},
		{"http-check expect hdr foo", "'http-check expect' : 'hdr' expects at the name keyword as first argument followed by a pattern."},
		{"tcp-check comment", "'tcp-check comment' : expects a string as argument."},
		{"tcp-check expect string x ok-status FOO", "'tcp-check expect' : 'ok-status' only supports 'L4OK', 'L6OK', 'L7OK' or 'L7OKC' status (got 'FOO').."},
		{"tcp-check set-var(check.x)", "'tcp-check set-var(check.x)' : 'set-var' : missing fetch method."},
		{"option mysql-check foo", "'option mysql-check' only supports optional values: 'user' (got 'foo')."},
		{"option mysql-check user", "'option mysql-check user' expects <username> as argument."},
		{"option mysql-check user x bad", "keyword 'user' only supports 'post-41' and 'pre-41' (got 'bad')."},
		{"option pgsql-check", "'option pgsql-check' expects 'user <username>' as argument."},
		{"option pgsql-check foo bar", "'option pgsql-check' only supports optional values: 'user'."},
		{"option smtpchk a b c", "'option smtpchk' cannot handle unexpected argument 'c'."},
		{"option redis-check x", "'option redis-check' cannot handle unexpected argument 'x'."},
		{"option httpchk a b c d", "'option httpchk' cannot handle unexpected argument 'd'."},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			_, rep := load(t, checkDefaults+"backend b\n    "+tc.line+"\n")
			found := false
			for _, d := range rep.Diags {
				found = found || d.Msg == tc.want
			}
			if !found {
				var got []string
				for _, d := range rep.Diags {
					got = append(got, d.Msg)
				}
				t.Fatalf("want %q, got %q", tc.want, got)
			}
		})
	}
}

// Server keywords of checks, agents and tracking.
func TestCheckServerParams(t *testing.T) {
	cfg, rep := load(t, checkDefaults+`backend b
    default-server agent-port 9000 agent-inter 3s
    server s1 127.0.0.1:80 check agent-check agent-send "hi\n" observe layer7 on-error mark-down error-limit 4 addr 127.0.0.2:81 port 82 check-sni x check-alpn h2,http/1.1 check-send-proxy
    server s2 127.0.0.1:80 track s1
backend c
    server s3 127.0.0.1:80 agent-check agent-addr 127.0.0.9 agent-port 9001
`)
	if cfg == nil {
		t.Fatalf("refused: %v", rep.Diags)
	}
	var s1, s2, s3 *proxy.Server
	for _, p := range cfg.Proxies {
		for _, s := range p.Servers {
			switch s.Name {
			case "s1":
				s1 = s
			case "s2":
				s2 = s
			case "s3":
				s3 = s
			}
		}
	}
	a := s1.Agent
	if a == nil || !a.Enabled || a.Port != 9000 || a.Send != "hi\n" || !a.HasSend || a.Inter.Seconds() != 3 {
		t.Fatalf("agent %+v", a)
	}
	if s1.Observe != "layer7" || s1.OnError != "mark-down" || s1.ErrorLimit != 4 || s1.CheckAddr.String() != "127.0.0.2" ||
		s1.CheckAddrPort != 81 || s1.CheckPort != 82 || s1.CheckSNI != "x" || len(s1.CheckALPN) != 2 || !s1.CheckSendProxy {
		t.Fatalf("s1 %+v", s1)
	}
	if s2.TrackBackend != "b" || s2.TrackServer != "s1" {
		t.Fatalf("s2 track %q/%q", s2.TrackBackend, s2.TrackServer)
	}
	if s3.Agent == nil || s3.Agent.Addr.String() != "127.0.0.9" {
		t.Fatalf("s3 %+v", s3.Agent)
	}
	// The default-server's agent settings were copied, not shared.
	if s3.Agent == s1.Agent {
		t.Fatal("agent shared")
	}
}

func TestCheckServerErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{"server s 127.0.0.1:80 observe foo", "'server b/s' : 'observe' expects one of 'none', 'layer4', 'layer7' but got 'foo'."},
		{"server s 127.0.0.1:80 on-error foo", "'server b/s' : 'on-error' expects one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down' but got 'foo'."},
		{"server s 127.0.0.1:80 error-limit 0", "'server b/s' : error-limit has to be > 0.."},
		{"server s 127.0.0.1:80 agent-inter 0", "'server b/s' : invalid value 0 for argument 'agent-inter' of server s.."},
		{"server s 127.0.0.1:80 agent-addr foo", "'server b/s' : parsing agent-addr failed. Check if 'foo' is correct address.."},
		{"server s 127.0.0.1:80 agent-check", "'server b/s' : server s does not have agent port. Agent check has been disabled."},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			_, rep := load(t, checkDefaults+"backend b\n    "+tc.line+"\n")
			found := false
			var got []string
			for _, d := range rep.Diags {
				found = found || d.Msg == tc.want
				got = append(got, d.Msg)
			}
			if !found {
				t.Fatalf("want %q, got %q", tc.want, got)
			}
		})
	}
	// check-via-socks4 is refused with a reason.
	_, rep := load(t, checkDefaults+"backend b\n    server s 127.0.0.1:80 check check-via-socks4\n")
	if !rep.Fatal() {
		t.Fatal("check-via-socks4 accepted")
	}
}

func TestTrackErrors(t *testing.T) {
	_, rep := load(t, checkDefaults+"backend b\n    server s1 127.0.0.1:80\n    server s2 127.0.0.1:81 track s1\n")
	want := "'server b/s2' : unable to use b/s1 for tracking as it does not have any check nor agent enabled."
	found := false
	for _, d := range rep.Diags {
		found = found || d.Msg == want
	}
	if !found {
		t.Fatalf("%v", rep.Diags)
	}
}
