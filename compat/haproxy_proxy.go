package compat

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"halo/parser"
	"halo/proxy"
)

// capFE/capBE say which side of a proxy a keyword belongs to.
const (
	capFE = proxy.CapFE
	capBE = proxy.CapBE
)

// needCap implements haproxy's warnifnotcap(): a keyword of the other side
// is ignored with a warning. It returns false when the caller must stop.
func (c *hctx) needCap(d *parser.Directive, cp proxy.Cap, what string) bool {
	if c.cur.p.Cap&cp != 0 {
		return true
	}
	c.rep.Warnf(d.Pos, "'%s' ignored because %s '%s' has no %s capability.", what, c.cur.kind, c.cur.p.Name, capWord(cp))
	c.status = Supported // nothing to execute: haproxy ignores it too
	return false
}

// mustCap implements alertif_not_cap(): the keyword is an error here.
func (c *hctx) mustCap(d *parser.Directive, cp proxy.Cap, what string) bool {
	if c.cur.p.Cap&cp != 0 {
		return true
	}
	c.rep.Alertf(d.Pos, "'%s' not allowed because %s '%s' has no %s capability.", what, c.cur.kind, c.cur.p.Name, capWord(cp))
	return false
}

// notInDefaults refuses keywords that only make sense in a real proxy.
func (c *hctx) notInDefaults(d *parser.Directive, what string) bool {
	if c.cur.kind != "defaults" {
		return true
	}
	c.rep.Alertf(d.Pos, "'%s' not allowed in 'defaults' section.", what)
	return false
}

func capWord(cp proxy.Cap) string {
	if cp == capFE {
		return "frontend"
	}
	return "backend"
}

var proxyTable = buildProxyTable()

func buildProxyTable() *Table[*hctx] {
	rows := []hrow{
		row("mode", decodeMode),
		row("bind", decodeBind),
		row("server", decodeServer),
		row("default-server", decodeDefaultServer),
		row("server-template", decodeServerTemplate),
		row("balance", decodeBalance),
		row("hash-type", decodeHashType),
		row("timeout", decodeTimeout),
		row("retries", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if !c.needCap(d, capBE, "retries") {
				return nil
			}
			if len(a) == 0 || a[0].Value == "" {
				return fmt.Errorf("'retries' expects an integer argument (dispatch counts for one).")
			}
			c.cur.p.Retries = atol(a[0].Value)
			return nil
		}),
		row("maxconn", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if c.cur.p.Cap&capFE == 0 {
				c.rep.Warnf(d.Pos, "'maxconn' ignored because %s '%s' has no frontend capability. Maybe you want 'fullconn' instead ?", c.cur.kind, c.cur.p.Name)
				c.status = Supported
				return nil
			}
			if len(a) == 0 || a[0].Value == "" {
				return fmt.Errorf("'maxconn' expects an integer argument.")
			}
			c.cur.p.Maxconn = atol(a[0].Value)
			return nil
		}),
		row("backlog", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if !c.needCap(d, capFE, "backlog") {
				return nil
			}
			if len(a) == 0 {
				return fmt.Errorf("'backlog' expects an integer argument.")
			}
			c.cur.p.Backlog = atol(a[0].Value)
			return nil
		}),
		row("fullconn", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if !c.needCap(d, capBE, "fullconn") {
				return nil
			}
			if len(a) == 0 {
				return fmt.Errorf("'fullconn' expects an integer argument.")
			}
			c.cur.p.Fullconn = atol(a[0].Value)
			return nil
		}),
		row("id", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if !c.notInDefaults(d, "id") {
				return nil
			}
			if len(a) == 0 {
				return fmt.Errorf("'id' : expects an integer argument")
			}
			n, ok := strictInt(a[0].Value)
			if !ok || n <= 0 {
				return fmt.Errorf("'id' : custom id has to be > 0")
			}
			for _, other := range c.proxies {
				if other != c.cur && other.explicitID && other.p.ID == n {
					return formError{"tight", fmt.Errorf("%s %s reuses same custom id as %s %s (declared at %s:%d).",
						kindWord(c.cur), c.cur.p.Name, kindWord(other), other.p.Name, other.pos.File, other.pos.Line)}
				}
			}
			c.cur.p.ID, c.cur.explicitID = n, true
			return nil
		}),
		row("description", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return formError{"tight", fmt.Errorf("'description' expects a string argument.")}
			}
			c.cur.p.Description = strings.Join(values(a), " ")
			return nil
		}),
		row("disabled", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			c.cur.p.Disabled = true
			return nil
		}),
		row("enabled", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			c.cur.p.Disabled = false
			return nil
		}),
		row("acl", decodeACL),
		row("use_backend", decodeUseBackend),
		row("default_backend", decodeDefaultBackend),
		row("use-server", decodeUseServer),
		row("http-request", decodeHTTPRule("http-request")),
		row("http-response", decodeHTTPRule("http-response")),
		row("http-after-response", decodeHTTPRule("http-after-response")),
		row("redirect", decodeRedirect),
		row("tcp-request", decodeTCPRequest),
		row("tcp-response", decodeTCPResponse),
		row("monitor-uri", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if !c.needCap(d, capFE, "monitor-uri") {
				return nil
			}
			if len(a) == 0 || a[0].Value == "" {
				return fmt.Errorf("'monitor-uri' expects an URI.")
			}
			c.cur.p.MonitorURI = a[0].Value
			return nil
		}),
		row("monitor", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			return fmt.Errorf("'monitor' only supports 'fail'.")
		}),
		row("monitor fail", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if !c.needCap(d, capFE, "monitor") {
				return nil
			}
			_, cond, err := c.condition(d, a, "'monitor fail' condition")
			if err != nil {
				return err
			}
			if cond == nil {
				return fmt.Errorf("'monitor fail' requires either 'if' or 'unless' followed by a condition.")
			}
			c.misplaced(d, stageMonitor, "monitor fail")
			c.cur.p.MonitorFail = append(c.cur.p.MonitorFail, cond)
			return nil
		}),
		row("log", decodeProxyLog),
		row("no log", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) > 0 {
				return fmt.Errorf("log : 'no log' does not expect arguments")
			}
			c.cur.p.Logs = nil
			c.cur.logGlobal = false
			return nil
		}),
		row("log-format", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'log-format' expects a format string as argument.")
			}
			if len(a) > 1 {
				return fmt.Errorf("log-format expects only one argument, don't forget to escape spaces!")
			}
			if c.cur.kind == "defaults" && c.cur.logFmtHere != "" {
				c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevWarning, Form: "tight",
					Msg: fmt.Sprintf("'log-format' overrides previous '%s' in 'defaults' section.", c.cur.logFmtHere)})
			}
			c.cur.logFmtHere = "log-format"
			c.lowerForFormat(a[0].Value)
			c.cur.p.LogFormat = a[0].Value
			c.cur.logFormatSet = d.Pos
			return nil
		}),
		row("log-format-sd", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("log-format-sd expects an argument.")
			}
			if err := oneFormat("log-format-sd")(c, d, a); err != nil {
				return err
			}
			c.cur.p.LogFormatSD = a[0].Value
			return nil
		}),
		row("error-log-format", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if err := oneFormat("error-log-format")(c, d, a); err != nil {
				return err
			}
			c.lowerForFormat(a[0].Value)
			c.cur.p.ErrorLogFormat = a[0].Value
			return nil
		}),
		row("log-tag", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'log-tag' expects a tag for use in syslog.")
			}
			c.cur.p.LogTag = a[0].Value
			return nil
		}),
		row("unique-id-format", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("unique-id-format expects an argument.")
			}
			if len(a) > 1 {
				return fmt.Errorf("unique-id-format expects only one argument, don't forget to escape spaces!")
			}
			c.lowerForFormat(a[0].Value)
			c.cur.p.UniqueIDFormat = a[0].Value
			return nil
		}),
		row("unique-id-header", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'unique-id-header' expects an argument.")
			}
			c.cur.p.UniqueIDHeader = a[0].Value
			return nil
		}),
		row("cookie", decodeCookie),
		row("dynamic-cookie-key", accept(1, "'dynamic-cookie-key' expects a key as argument.")),
		row("errorfile", decodeErrorfile),
		row("errorfiles", decodeErrorfiles),
		row("errorloc", decodeErrorloc),
		row("errorloc302", decodeErrorloc),
		row("errorloc303", decodeErrorloc),
		row("http-error", decodeHTTPError),
		row("http-check", decodeHTTPCheck),
		row("tcp-check", decodeTCPCheck),
		row("http-reuse", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if !c.needCap(d, capBE, "http-reuse") {
				return nil
			}
			v := ""
			if len(a) > 0 {
				v = a[0].Value
			}
			switch v {
			case "never":
				c.cur.p.HTTPReuse = proxy.ReuseNever
			case "safe":
				c.cur.p.HTTPReuse = proxy.ReuseSafe
			case "aggressive":
				c.cur.p.HTTPReuse = proxy.ReuseAggressive
			case "always":
				c.cur.p.HTTPReuse = proxy.ReuseAlways
			default:
				return fmt.Errorf("'http-reuse' only supports 'never', 'safe', 'aggressive', 'always'")
			}
			return nil
		}),
		row("capture request header", captureHeader(true)),
		row("capture response header", captureHeader(false)),
		row("capture cookie", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if !c.needCap(d, capFE, "capture") {
				return nil
			}
			if len(a) < 3 || a[1].Value != "len" {
				return fmt.Errorf("'capture cookie' expects <cookie name> 'len' <len>.")
			}
			return nil
		}),
		row("declare capture", decodeDeclareCapture),
		row("stick-table", decodeStickTable),
		row("stick", decodeStick),
		row("force-persist", decodePersistRule("force-persist")),
		row("ignore-persist", decodePersistRule("ignore-persist")),
		row("persist rdp-cookie", noArg),
		row("retry-on", decodeRetryOn),
		row("compression", decodeCompression),
		row("filter", decodeFilter), // haproxy_filters.go
		row("use-fcgi-app", accept(1, "'use-fcgi-app' expects an application name.")),
		row("email-alert", accept(1, "'email-alert' expects 'from', 'mailers', 'myhostname', 'level' or 'to'.")),
		row("source", decodeSource),
		row("dispatch", accept(1, "'dispatch' expects <addr>:<port> as argument.")),
		row("http-send-name-header", accept(0, "")),
		row("rate-limit sessions", accept(1, "'rate-limit sessions' expects an integer.")),
		row("max-keep-alive-queue", accept(1, "'max-keep-alive-queue' expects an integer argument.")),
		row("load-server-state-from-file", func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 || (a[0].Value != "global" && a[0].Value != "local" && a[0].Value != "none") {
				return fmt.Errorf("'load-server-state-from-file' expects 'global', 'local' or 'none'. Got '%s'", strings.Join(values(a), " "))
			}
			return nil
		}),
		row("server-state-file-name", accept(0, "")),
		row("external-check command", accept(1, "'external-check command' expects a path.")),
		row("external-check path", accept(1, "'external-check path' expects a path.")),
		row("clitcpka-cnt", decodeTCPKA("clitcpka-cnt", func(p *proxy.Proxy) *proxy.TCPKeepAlive { return &p.CliTCPKA })),
		row("clitcpka-idle", decodeTCPKA("clitcpka-idle", func(p *proxy.Proxy) *proxy.TCPKeepAlive { return &p.CliTCPKA })),
		row("clitcpka-intvl", decodeTCPKA("clitcpka-intvl", func(p *proxy.Proxy) *proxy.TCPKeepAlive { return &p.CliTCPKA })),
		row("srvtcpka-cnt", decodeTCPKA("srvtcpka-cnt", func(p *proxy.Proxy) *proxy.TCPKeepAlive { return &p.SrvTCPKA })),
		row("srvtcpka-idle", decodeTCPKA("srvtcpka-idle", func(p *proxy.Proxy) *proxy.TCPKeepAlive { return &p.SrvTCPKA })),
		row("srvtcpka-intvl", decodeTCPKA("srvtcpka-intvl", func(p *proxy.Proxy) *proxy.TCPKeepAlive { return &p.SrvTCPKA })),
		row("hash-balance-factor", accept(1, "'hash-balance-factor' expects an integer.")),
		row("option", decodeOption),
	}
	// stats keywords (configuration.txt 4.2 "stats …").
	for _, kw := range []string{"enable", "uri", "realm", "auth", "refresh", "admin", "hide-version",
		"show-legends", "show-node", "show-desc", "show-modules", "scope", "http-request", "disable", "bind-process"} {
		rows = append(rows, row("stats "+kw, decodeStats))
	}
	// Directives removed from haproxy before 2.6: haproxy rejects them with
	// a pointer to their replacement, and so does halo.
	for name, msg := range removedProxyKeywords {
		msg := msg
		rows = append(rows, row(name, func(c *hctx, d *parser.Directive, a []parser.Word) error {
			return fmt.Errorf("%s", msg)
		}))
	}
	for _, o := range proxyOptions {
		rows = append(rows, hrow{Name: "option " + o.name, Status: Supported, Sub: true})
	}
	for i := range rows {
		if lim, ok := proxyArgLimits[rows[i].Name]; ok {
			rows[i].Decode = limitArgs(rows[i].Decode, lim)
		}
	}
	return NewTable("proxy", rows)
}

// argLimit is HAProxy 2.6's alertif_too_many_args for one keyword: how
// many words it takes after its own, and the name its alert uses.
type argLimit struct {
	max  int
	name string // "" : the keyword; "=1": the keyword and its first argument
}

// proxyArgLimits lists the proxy keywords for which HAProxy 2.6 refuses
// extra words (checked against haproxy -c on this machine: `mode http
// userlist u1`, `retries 3 uri /` are alerts, exit 1).
var proxyArgLimits = map[string]argLimit{
	"mode": {max: 1}, "retries": {max: 1}, "maxconn": {max: 1}, "backlog": {max: 1},
	"fullconn": {max: 1}, "id": {max: 1}, "disabled": {max: 0}, "enabled": {max: 0},
	"default_backend": {max: 1}, "monitor-uri": {max: 1}, "server-state-file-name": {max: 1},
	"http-reuse":              {max: 1, name: "=1"},
	"capture request header":  {max: 3, name: "capture request"},
	"capture response header": {max: 3, name: "capture response"},
	"external-check command":  {max: 1, name: "external-check"},
	"external-check path":     {max: 1, name: "external-check"},
}

// limitArgs runs dec, then refuses the words beyond lim.max as HAProxy
// does ("'mode' cannot handle unexpected argument 'userlist'."); the
// decoder's own warnings (a keyword ignored for its capability) come
// first, as in HAProxy.
func limitArgs(dec hdecode, lim argLimit) hdecode {
	return func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if err := dec(c, d, a); err != nil {
			return err
		}
		if len(a) <= lim.max {
			return nil
		}
		name := lim.name
		switch name {
		case "":
			name = c.statusKey
		case "=1":
			name = c.statusKey + " " + a[0].Value
		}
		return fmt.Errorf("'%s' cannot handle unexpected argument '%s'.", name, a[lim.max].Value)
	}
}

var removedProxyKeywords = map[string]string{
	"clitimeout":   "the 'clitimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout client'.",
	"contimeout":   "the 'contimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout connect'.",
	"srvtimeout":   "the 'srvtimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout server'.",
	"reqadd":       "The 'reqadd' directive is not supported anymore since HAProxy 2.1. Use 'http-request add-header' instead.",
	"reqdel":       "The 'reqdel' directive is not supported anymore since HAProxy 2.1. Use 'http-request del-header' instead.",
	"reqrep":       "The 'reqrep' directive is not supported anymore since HAProxy 2.1. Use 'http-request replace-path', 'http-request replace-uri' or 'http-request replace-header' instead.",
	"reqirep":      "The 'reqirep' directive is not supported anymore since HAProxy 2.1. Use 'http-request replace-path', 'http-request replace-uri' or 'http-request replace-header' instead.",
	"reqidel":      "The 'reqidel' directive is not supported anymore since HAProxy 2.1. Use 'http-request del-header' instead.",
	"reqdeny":      "The 'reqdeny' directive is not supported anymore since HAProxy 2.1. Use 'http-request deny' instead.",
	"reqallow":     "The 'reqallow' directive is not supported anymore since HAProxy 2.1. Use 'http-request allow' instead.",
	"reqtarpit":    "The 'reqtarpit' directive is not supported anymore since HAProxy 2.1. Use 'http-request tarpit' instead.",
	"reqpass":      "The 'reqpass' directive is not supported anymore since HAProxy 2.1.",
	"rspadd":       "The 'rspadd' directive is not supported anymore since HAProxy 2.1. Use 'http-response add-header' instead.",
	"rspdel":       "The 'rspdel' directive is not supported anymore since HAProxy 2.1. Use 'http-response del-header' instead.",
	"rsprep":       "The 'rsprep' directive is not supported anymore since HAProxy 2.1. Use 'http-response replace-header' instead.",
	"rspirep":      "The 'rspirep' directive is not supported anymore since HAProxy 2.1. Use 'http-response replace-header' instead.",
	"rspidel":      "The 'rspidel' directive is not supported anymore since HAProxy 2.1. Use 'http-response del-header' instead.",
	"rspdeny":      "The 'rspdeny' directive is not supported anymore since HAProxy 2.1. Use 'http-response deny' instead.",
	"block":        "The 'block' directive is not supported anymore since HAProxy 2.1. Use 'http-request deny' which uses the exact same syntax.",
	"redisp":       "the 'redisp' keyword is not supported anymore since HAProxy 2.1. Use 'option redispatch'.",
	"redispatch":   "the 'redispatch' keyword is not supported anymore since HAProxy 2.1. Use 'option redispatch'.",
	"monitor-net":  "the 'monitor-net' directive is not supported anymore since HAProxy 2.2. Use 'tcp-request connection accept if { src <net> }'.",
	"bind-process": "'bind-process' is not supported anymore since HAProxy 2.5.",
}

// proxyOption describes one `option` keyword of haproxy 2.6.
type proxyOption struct {
	name string
	cap  proxy.Cap // side it applies to
	http bool      // requires mode http
}

// negatable reports whether the option accepts "no option"/"default option".
func (o *proxyOption) negatable() bool { return !notNegatable[o.name] }

// notNegatable are the options haproxy 2.6 parses specially and refuses
// after "no"/"default".
var notNegatable = map[string]bool{"httplog": true, "httpslog": true, "tcplog": true, "tcpka": true,
	"httpchk": true, "ssl-hello-chk": true, "smtpchk": true, "pgsql-check": true, "redis-check": true,
	"mysql-check": true, "ldap-check": true, "spop-check": true, "tcp-check": true, "external-check": true,
	"forwardfor": true, "originalto": true, "http-restrict-req-hdr-names": true}

var proxyOptions = []proxyOption{
	{"abortonclose", capBE, false}, {"accept-invalid-http-request", capFE, true},
	{"accept-invalid-http-response", capBE, true}, {"allbackups", capBE, false},
	{"checkcache", capBE, true}, {"clitcpka", capFE, false}, {"contstats", capFE, false},
	{"disable-h2-upgrade", capFE, true}, {"dontlog-normal", capFE, false},
	{"dontlognull", capFE, false}, {"forwardfor", capFE | capBE, true},
	{"h1-case-adjust-bogus-client", capFE, false},
	{"h1-case-adjust-bogus-server", capBE, false}, {"http-buffer-request", capFE | capBE, true},
	{"http-ignore-probes", capFE, true}, {"http-keep-alive", capFE | capBE, true},
	{"http-no-delay", capFE | capBE, true}, {"http-pretend-keepalive", capBE, true},
	{"http-server-close", capFE | capBE, true}, {"http-use-proxy-header", capFE, true},
	{"httpclose", capFE | capBE, true}, {"httplog", capFE, false}, {"httpslog", capFE, false},
	{"http_proxy", capFE | capBE, true}, {"idle-close-on-response", capFE, true},
	{"independent-streams", capFE | capBE, false}, {"ldap-check", capBE, false},
	{"external-check", capBE, false}, {"log-health-checks", capBE, false},
	{"log-separate-errors", capFE, false}, {"logasap", capFE, false},
	{"mysql-check", capBE, false}, {"nolinger", capFE | capBE, false},
	{"originalto", capFE | capBE, true}, {"persist", capBE, false},
	{"pgsql-check", capBE, false}, {"prefer-last-server", capBE, true},
	{"redis-check", capBE, false}, {"redispatch", capBE, false}, {"smtpchk", capBE, false},
	{"socket-stats", capFE, false}, {"splice-auto", capFE | capBE, false},
	{"splice-request", capFE | capBE, false}, {"splice-response", capFE | capBE, false},
	{"spop-check", capBE, false}, {"srvtcpka", capBE, false}, {"ssl-hello-chk", capBE, false},
	{"tcp-check", capBE, false}, {"tcp-smart-accept", capFE, false},
	{"tcp-smart-connect", capBE, false}, {"tcpka", capFE | capBE, false}, {"tcplog", capFE, false},
	{"transparent", capBE, false}, {"httpchk", capBE, false},
	{"http-restrict-req-hdr-names", capFE | capBE, true},
}

// optionArgs refuses the words HAProxy 2.6 refuses after an option: the
// flag options take none; httplog only "clf"; http-restrict-req-hdr-names
// one mode. (forwardfor, originalto and the check options check theirs;
// httpslog, redispatch and smtpchk ignore extra words, as HAProxy does.)
func optionArgs(name string, rest []parser.Word) error {
	switch name {
	case "forwardfor", "originalto", "httpslog", "redispatch", "smtpchk", "httpchk", "ssl-hello-chk",
		"mysql-check", "pgsql-check", "redis-check", "ldap-check", "spop-check", "tcp-check":
		return nil
	case "http_proxy":
		return formError{"tight", fmt.Errorf("option 'http_proxy' is not supported any more since HAProxy 2.5. This option stopped working in HAProxy 1.9 and usually had nasty side effects. It can be more reliably implemented with combinations of 'http-request set-dst' and 'http-request set-uri', and even 'http-request do-resolve' if DNS resolution is desired.")}
	case "httplog":
		if len(rest) > 0 && rest[0].Value != "clf" {
			return fmt.Errorf("keyword 'httplog' only supports option 'clf'.")
		}
		if len(rest) > 1 {
			return fmt.Errorf("'option httplog' cannot handle unexpected argument '%s'.", rest[1].Value)
		}
		return nil
	case "http-restrict-req-hdr-names":
		if len(rest) == 0 || (rest[0].Value != "preserve" && rest[0].Value != "reject" && rest[0].Value != "delete") {
			v := ""
			if len(rest) > 0 {
				v = rest[0].Value
			}
			return fmt.Errorf("invalid parameter '%s'. option 'http-restrict-req-hdr-names' expects 'preserve', 'reject' or 'delete' option.", v)
		}
		if len(rest) > 1 {
			return fmt.Errorf("'option' cannot handle unexpected argument '%s'.", rest[1].Value)
		}
		return nil
	}
	if len(rest) > 0 {
		return fmt.Errorf("'option %s' cannot handle unexpected argument '%s'.", name, rest[0].Value)
	}
	return nil
}

func findOption(name string) *proxyOption {
	for i := range proxyOptions {
		if proxyOptions[i].name == name {
			return &proxyOptions[i]
		}
	}
	return nil
}

func decodeMode(c *hctx, d *parser.Directive, a []parser.Word) error {
	v := ""
	if len(a) > 0 {
		v = a[0].Value
	}
	switch v {
	case "http":
		c.cur.p.Mode = proxy.ModeHTTP
	case "tcp":
		c.cur.p.Mode = proxy.ModeTCP
	case "health":
		return fmt.Errorf("'mode health' doesn't exist anymore. Please use 'http-request return status 200' instead.")
	default:
		return fmt.Errorf("unknown proxy mode '%s'.", v)
	}
	return nil
}

var timeoutNames = map[string]bool{
	"client": true, "server": true, "connect": true, "check": true, "queue": true,
	"http-keep-alive": true, "http-request": true, "tunnel": true, "tarpit": true,
	"client-fin": true, "server-fin": true,
}

func decodeTimeout(c *hctx, d *parser.Directive, a []parser.Word) error {
	name := ""
	if len(a) > 0 {
		name = a[0].Value
	}
	if !timeoutNames[name] {
		return fmt.Errorf("'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin' (got '%s')", name)
	}
	c.statusKey = "timeout " + name
	if k := c.table.Get(c.statusKey); k != nil {
		c.status, c.note = k.Status, k.Note
	}
	kw := "timeout " + name
	t, err := timeArg(kw, a, 1)
	if err != nil {
		return err
	}
	if len(a) > 2 {
		return fmt.Errorf("'timeout %s' : unexpected extra argument '%s' after value '%s'.", name, a[2].Value, a[1].Value)
	}
	feSide := map[string]bool{"client": true, "client-fin": true, "http-request": true, "http-keep-alive": true}
	beSide := map[string]bool{"server": true, "server-fin": true, "connect": true, "check": true, "queue": true, "tunnel": true}
	if feSide[name] && c.cur.p.Cap&capFE == 0 {
		c.rep.Warnf(d.Pos, "'%s' will be ignored because %s '%s' has no frontend capability", kw, c.cur.kind, c.cur.p.Name)
		c.status = Supported
		return nil
	}
	if beSide[name] && c.cur.p.Cap&capBE == 0 {
		c.rep.Warnf(d.Pos, "'%s' will be ignored because %s '%s' has no backend capability", kw, c.cur.kind, c.cur.p.Name)
		c.status = Supported
		return nil
	}
	to := &c.cur.p.Timeouts
	switch name {
	case "client":
		to.Client = t
	case "client-fin":
		to.ClientFin = t
	case "server":
		to.Server = t
	case "server-fin":
		to.ServerFin = t
	case "connect":
		to.Connect = t
	case "check":
		to.Check = t
	case "queue":
		to.Queue = t
	case "http-keep-alive":
		to.HTTPKeepAlive = t
	case "http-request":
		to.HTTPRequest = t
	case "tunnel":
		to.Tunnel = t
	case "tarpit":
		to.Tarpit = t
	}
	return nil
}

func decodeBalance(c *hctx, d *parser.Directive, a []parser.Word) error {
	if !c.needCap(d, capBE, "balance") {
		return nil
	}
	v := ""
	if len(a) > 0 {
		v = a[0].Value
	}
	if v == "" {
		// haproxy: "balance" alone selects round-robin.
		v = "roundrobin"
	}
	b := &c.cur.p.Balance
	algo := v
	arg := ""
	if i := strings.IndexByte(v, '('); i >= 0 && strings.HasSuffix(v, ")") {
		algo, arg = v[:i], v[i+1:len(v)-1]
	}
	c.statusKey = "balance " + algo
	if k := c.table.Get(c.statusKey); k != nil {
		c.status, c.note = k.Status, k.Note
	}
	rest := a
	if len(rest) > 0 {
		rest = rest[1:]
	}
	switch algo {
	case "roundrobin":
		b.Algo = proxy.BalanceRoundRobin
	case "static-rr":
		b.Algo = proxy.BalanceStaticRR
	case "leastconn":
		b.Algo = proxy.BalanceLeastConn
	case "first":
		b.Algo = proxy.BalanceFirst
	case "source":
		b.Algo = proxy.BalanceSource
	case "random":
		b.Algo = proxy.BalanceRandom
		b.RandomDraws = 2
		if arg != "" {
			n, ok := strictInt(arg)
			if !ok || n < 1 {
				return fmt.Errorf("balance random(<draws>) expects a positive integer.")
			}
			b.RandomDraws = n
		}
	case "uri":
		b.Algo = proxy.BalanceURI
		for i := 0; i < len(rest); i++ {
			switch rest[i].Value {
			case "whole":
				b.URIWhole = true
			case "path-only":
				b.URIPathOnly = true
			case "len", "depth":
				if i+1 >= len(rest) {
					return fmt.Errorf("'balance uri %s' expects a positive integer (got '').", rest[i].Value)
				}
				n := atol(rest[i+1].Value)
				if rest[i].Value == "len" {
					b.URILen = n
				} else {
					b.URIDepth = n
				}
				i++
			default:
				return fmt.Errorf("'balance uri' only accepts parameters 'whole', 'len', 'depth' and 'path-only' (got '%s').", rest[i].Value)
			}
		}
	case "url_param":
		b.Algo = proxy.BalanceURLParam
		if len(rest) == 0 {
			return fmt.Errorf("'balance url_param' requires an URL parameter name.")
		}
		b.Param = rest[0].Value
	case "hdr":
		b.Algo = proxy.BalanceHdr
		if arg == "" {
			return fmt.Errorf("'balance hdr' requires an http header field name.")
		}
		b.Param = arg
		if len(rest) > 0 {
			if rest[0].Value != "use_domain_only" {
				return fmt.Errorf("'balance hdr' only accepts 'use_domain_only' modifier (got '%s').", rest[0].Value)
			}
			b.HdrUseDomainOnly = true
		}
	case "rdp-cookie":
		b.Algo = proxy.BalanceRDPCookie
		b.Param = arg
		if b.Param == "" {
			b.Param = "mstshash"
		}
	default:
		return fmt.Errorf("balance only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hdr(name)' and 'rdp-cookie(name)' options.")
	}
	return nil
}

func decodeHashType(c *hctx, d *parser.Directive, a []parser.Word) error {
	if !c.needCap(d, capBE, "hash-type") {
		return nil
	}
	v := ""
	if len(a) > 0 {
		v = a[0].Value
	}
	switch v {
	case "map-based":
		c.cur.p.Balance.HashType = proxy.HashMapBased
	case "consistent":
		c.cur.p.Balance.HashType = proxy.HashConsistent
	case "avalanche":
		return fmt.Errorf("experimental feature 'hash-type avalanche' is not supported anymore, please use 'hash-type map-based sdbm avalanche' instead.")
	default:
		return fmt.Errorf("'hash-type' only supports 'consistent' and 'map-based'.")
	}
	// As haproxy 2.6: the second word is the function, the third only
	// the 'avalanche' modifier.
	if len(a) > 1 {
		switch fn := a[1].Value; fn {
		case "sdbm", "djb2", "wt6", "crc32":
			c.cur.p.Balance.HashFunction = fn
		default:
			return fmt.Errorf("'hash-type' only supports 'sdbm', 'djb2', 'crc32', or 'wt6' hash functions.")
		}
	}
	if len(a) > 2 {
		if a[2].Value != "avalanche" {
			return fmt.Errorf("'hash-type' only supports 'avalanche' as a modifier for hash functions.")
		}
		c.cur.p.Balance.Avalanche = true
	}
	return nil
}

// decodeTCPKA decodes clitcpka-* and srvtcpka-*: a count (TCP_KEEPCNT) or
// a time in seconds by default (TCP_KEEPIDLE, TCP_KEEPINTVL), in
// haproxy's words.
func decodeTCPKA(kw string, dst func(*proxy.Proxy) *proxy.TCPKeepAlive) hdecode {
	return func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if len(a) == 0 || a[0].Value == "" {
			return fmt.Errorf("'%s' expects an integer value", kw)
		}
		v := a[0].Value
		var t time.Duration
		if strings.HasSuffix(kw, "-cnt") {
			for i := 0; i < len(v); i++ {
				if v[i] < '0' || v[i] > '9' {
					return fmt.Errorf("'%s' : unexpected character '%c' in integer value '%s'", kw, v[i], v)
				}
			}
		} else {
			var bad byte
			var err error
			if t, bad, err = parseHATime(v, time.Second); err != nil {
				if bad != 0 {
					return fmt.Errorf("unexpected character '%c' in argument to <%s>.", bad, kw)
				}
				return fmt.Errorf("timer overflow in argument '%s' to '%s' (maximum value is 2147483647 s or ~68 years).", v, kw)
			}
			// haproxy keeps whole seconds, rounded up
			t = (t + time.Second - 1) / time.Second * time.Second
		}
		cp, side := capBE, "backend"
		if strings.HasPrefix(kw, "cli") {
			cp, side = capFE, "frontend"
		}
		if c.cur.p.Cap&cp == 0 {
			c.rep.Warnf(d.Pos, "%s will be ignored because %s '%s' has no %s capability", kw, c.cur.kind, c.cur.p.Name, side)
			c.status = Supported // nothing to execute: haproxy ignores it too
			return nil
		}
		ka := dst(c.cur.p)
		switch {
		case strings.HasSuffix(kw, "-cnt"):
			ka.Cnt = atol(v)
		case strings.HasSuffix(kw, "-idle"):
			ka.Idle = t
		default:
			ka.Intvl = t
		}
		return nil
	}
}

func decodeOption(c *hctx, d *parser.Directive, a []parser.Word) error {
	name := ""
	if len(a) > 0 {
		name = a[0].Value
	}
	o := findOption(name)
	if o == nil {
		names := make([]string, len(proxyOptions))
		for i := range proxyOptions {
			names[i] = proxyOptions[i].name
		}
		if s := Suggest(name, names); s != "" {
			return fmt.Errorf("unknown option '%s'; did you mean '%s' maybe ?", name, s)
		}
		return fmt.Errorf("unknown option '%s'.", name)
	}
	c.statusKey = "option " + name
	if k := c.table.Get(c.statusKey); k != nil {
		c.status, c.note = k.Status, k.Note
	}
	if c.neg {
		c.statusKey = "no " + c.statusKey
	} else if c.deflt {
		c.statusKey = "default " + c.statusKey
	}
	p := c.cur.p
	// Option statuses are per option; the generic "option" row never wins.
	if name == "tcplog" || name == "httplog" || name == "httpslog" {
		if p.Cap&capFE == 0 {
			c.rep.Warnf(d.Pos, "%s '%s' : 'option %s' directive is ignored in backends.", c.cur.kind, p.Name, name)
			c.status = Supported
			return nil
		}
	} else if o.cap != capFE|capBE && p.Cap&o.cap == 0 {
		c.rep.Warnf(d.Pos, "'%s' ignored because %s '%s' has no %s capability.", name, c.cur.kind, p.Name, capWord(o.cap))
		c.status = Supported
		return nil
	}
	on := !c.neg
	rest := a[1:]
	if err := optionArgs(name, rest); err != nil {
		return err
	}
	if (name == "httplog" || name == "tcplog" || name == "httpslog") && c.cur.kind == "defaults" && c.cur.logFmtHere != "" {
		c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevWarning, Form: "tight",
			Msg: fmt.Sprintf("'option %s' overrides previous '%s' in 'defaults' section.", name, c.cur.logFmtHere)})
	}
	if name == "httplog" || name == "tcplog" || name == "httpslog" {
		c.cur.logFmtHere = "option " + name
	}
	switch name {
	case "httplog", "httpslog":
		p.LogFormat = "httplog"
		if name == "httpslog" {
			p.LogFormat = "httpslog"
		}
		if len(rest) > 0 && rest[0].Value == "clf" {
			p.LogFormat = "clf"
		}
		c.cur.httpLog = d.Pos
	case "tcplog":
		p.LogFormat = "tcplog"
		c.cur.tcpLog = d.Pos
	case "dontlognull":
		p.DontLogNull = on
	case "dontlog-normal":
		p.DontLogNormal = on
	case "log-separate-errors":
		p.LogSeparateErrors = on
	case "http-ignore-probes":
		p.IgnoreProbes = on
	case "tcpka":
		// both sides; each applies where the proxy has that capability
		p.CliTCPKA.On, p.SrvTCPKA.On = on, on
	case "clitcpka":
		p.CliTCPKA.On = on
	case "srvtcpka":
		p.SrvTCPKA.On = on
	case "disable-h2-upgrade":
		p.DisableH2Upgrade = on
	case "forwardfor":
		ff := proxy.Forwardfor{Enabled: on, Header: "X-Forwarded-For"}
		for i := 0; i < len(rest); i++ {
			switch rest[i].Value {
			case "except":
				if i+1 >= len(rest) {
					return fmt.Errorf("'option forwardfor' except requires an IP address or network.")
				}
				pf, err := parseNet(rest[i+1].Value)
				if err != nil {
					return fmt.Errorf("'option forwardfor' except requires an IP address or network.")
				}
				ff.Except = append(ff.Except, pf)
				i++
			case "header":
				if i+1 >= len(rest) {
					return fmt.Errorf("'option forwardfor' header requires a header name.")
				}
				ff.Header = rest[i+1].Value
				i++
			case "if-none":
				ff.IfNone = true
			default:
				return fmt.Errorf("'option forwardfor' only supports optional values: 'except', 'header' and 'if-none'.")
			}
		}
		p.Forwardfor = ff
		c.cur.forwardfor = on
	case "originalto":
		ot := proxy.Originalto{Enabled: on, Header: "X-Original-To"}
		for i := 0; i < len(rest); i++ {
			switch rest[i].Value {
			case "except":
				if i+1 >= len(rest) {
					return fmt.Errorf("'option originalto' except requires an IP address or network.")
				}
				pf, err := parseNet(rest[i+1].Value)
				if err != nil {
					return fmt.Errorf("'option originalto' except requires an IP address or network.")
				}
				ot.Except = append(ot.Except, pf)
				i++
			case "header":
				if i+1 >= len(rest) {
					return fmt.Errorf("'option originalto' header requires a header name.")
				}
				ot.Header = rest[i+1].Value
				i++
			default:
				return fmt.Errorf("'option originalto' only supports optional values: 'except' and 'header'.")
			}
		}
		p.Originalto = ot
	case "httpclose":
		p.ConnMode = connMode(on, proxy.ConnClose)
	case "http-server-close":
		p.ConnMode = connMode(on, proxy.ConnServerClose)
	case "http-keep-alive":
		p.ConnMode = proxy.ConnKeepAlive
	case "http-pretend-keepalive":
		if on {
			p.ConnMode = proxy.ConnPretendKeepAlive
		} else if p.ConnMode == proxy.ConnPretendKeepAlive {
			p.ConnMode = proxy.ConnServerClose
		}
	case "redispatch":
		p.Redispatch = on
	case "persist":
		p.Persist = on
	case "allbackups":
		p.AllBackups = on
	case "httpchk", "tcp-check", "ssl-hello-chk", "mysql-check", "pgsql-check", "redis-check", "smtpchk", "ldap-check", "spop-check", "external-check":
		return c.decodeCheckOption(d, name, rest)
	case "log-health-checks":
		p.LogHealthChecks = on
	}
	return nil
}

func connMode(on bool, m proxy.ConnMode) proxy.ConnMode {
	if on {
		return m
	}
	return proxy.ConnKeepAlive
}

// parseNet parses "10.0.0.0/8", "10.0.0.1", "::1/128".
func parseNet(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(s)
		if err == nil {
			return pf.Masked(), nil
		}
		// haproxy also accepts a dotted netmask: 10.0.0.0/255.0.0.0
		addr, mask, _ := strings.Cut(s, "/")
		a, err1 := netip.ParseAddr(addr)
		m, err2 := netip.ParseAddr(mask)
		if err1 != nil || err2 != nil || !a.Is4() || !m.Is4() {
			return netip.Prefix{}, fmt.Errorf("invalid network")
		}
		mb := m.As4()
		bits := 0
		for _, b := range mb {
			for i := 7; i >= 0; i-- {
				if b&(1<<i) != 0 {
					bits++
				}
			}
		}
		return netip.PrefixFrom(a, bits).Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func decodeProxyLog(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) > 0 && a[0].Value == "global" {
		if len(a) > 1 {
			// HAProxy reads "log global <more>" as a log target whose
			// address is "global": the facility is checked first.
			if !logFacilities[a[1].Value] {
				return fmt.Errorf("log : unknown log facility '%s'", a[1].Value)
			}
			return fmt.Errorf("log : invalid address: 'global' in 'global'")
		}
		c.cur.logGlobal = true
		return nil
	}
	lt, err := parseLogTarget(a)
	if err != nil {
		return err
	}
	c.cur.p.Logs = append(c.cur.p.Logs, lt)
	return nil
}

func decodeCookie(c *hctx, d *parser.Directive, a []parser.Word) error {
	if !c.needCap(d, capBE, "cookie") {
		return nil
	}
	if len(a) == 0 || a[0].Value == "" {
		return fmt.Errorf("'cookie' expects <cookie_name> as argument.")
	}
	ck := &proxy.CookieConfig{Name: a[0].Value}
	for i := 1; i < len(a); i++ {
		v := a[i].Value
		switch v {
		case "insert", "rewrite", "prefix":
			if ck.Mode != "" && ck.Mode != v {
				return fmt.Errorf("'cookie' supports only one of 'rewrite', 'insert' and 'prefix' options.")
			}
			ck.Mode = v
		case "indirect":
			ck.Indirect = true
		case "nocache":
			ck.NoCache = true
		case "postonly":
			ck.PostOnly = true
			c.lowerPart("postonly", Ignored, "the cookie is inserted on any method")
		case "preserve":
			ck.Preserve = true
			c.lowerPart("preserve", Ignored, "the server's cookie is not preserved")
		case "httponly":
			ck.HTTPOnly = true
		case "secure":
			ck.Secure = true
		case "dynamic":
			ck.Dynamic = true
		case "domain", "maxidle", "maxlife", "attr":
			if i+1 >= len(a) {
				return fmt.Errorf("'cookie' '%s' requires a value.", v)
			}
			val := a[i+1].Value
			switch v {
			case "domain":
				ck.Domain = append(ck.Domain, val)
			case "attr":
				ck.Attrs = append(ck.Attrs, val)
			default:
				t, bad, err := parseHATime(val, time.Second)
				if err != nil {
					if bad != 0 {
						return fmt.Errorf("cookie : unexpected character '%c' in %s.", bad, v)
					}
					return fmt.Errorf("cookie : '%s' expects a time value.", v)
				}
				if v == "maxidle" {
					ck.MaxIdle = t
				} else {
					ck.MaxLife = t
				}
				c.lowerPart(v, Ignored, "cookie expiry dates are not enforced")
			}
			i++
		default:
			return fmt.Errorf("'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', 'maxidle', 'dynamic', 'maxlife' and 'attr' options.")
		}
	}
	if ck.Mode == "" {
		ck.Mode = "rewrite"
	}
	c.cur.p.Cookie = ck
	return nil
}

func captureHeader(request bool) hdecode {
	return func(c *hctx, d *parser.Directive, a []parser.Word) error {
		what := "capture request"
		if !request {
			what = "capture response"
		}
		if !c.notInDefaults(d, what) || !c.needCap(d, capFE, "capture") {
			return nil
		}
		if len(a) < 3 || a[1].Value != "len" {
			return fmt.Errorf("'%s' expects 'header' <header_name> 'len' <len>.", c.statusKey)
		}
		n, ok := strictInt(a[2].Value)
		if !ok || n <= 0 {
			return fmt.Errorf("'%s' : invalid length '%s'.", c.statusKey, a[2].Value)
		}
		cp := proxy.Capture{Name: a[0].Value, Len: n, Slot: c.captureSlot(request, n)}
		if request {
			c.cur.p.CaptureReqHeaders = append(c.cur.p.CaptureReqHeaders, cp)
		} else {
			c.cur.p.CaptureResHeaders = append(c.cur.p.CaptureResHeaders, cp)
		}
		return nil
	}
}

// captureSlot allocates the proxy's next request or response capture
// slot (HAProxy's nb_req_cap / nb_rsp_cap).
func (c *hctx) captureSlot(request bool, n int) int {
	p := c.cur.p
	if request {
		p.ReqCaptureLens = append(p.ReqCaptureLens, n)
		return len(p.ReqCaptureLens) - 1
	}
	p.ResCaptureLens = append(p.ResCaptureLens, n)
	return len(p.ResCaptureLens) - 1
}

// decodeDeclareCapture is `declare capture request|response len N`: a
// capture slot that http-request/-response capture ... id rules and the
// capture-req/capture-res converters fill.
func decodeDeclareCapture(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) < 3 || (a[0].Value != "request" && a[0].Value != "response") || a[1].Value != "len" {
		return fmt.Errorf("'declare capture' expects 'request' or 'response', 'len' and a length.")
	}
	n, ok := strictInt(a[2].Value)
	if !ok || n <= 0 {
		return fmt.Errorf("'declare capture %s' : invalid length '%s'.", a[0].Value, a[2].Value)
	}
	c.captureSlot(a[0].Value == "request", n)
	return nil
}

func decodeStats(c *hctx, d *parser.Directive, a []parser.Word) error {
	sub := strings.TrimPrefix(c.statusKey, "stats ")
	p := c.cur.p
	if p.Stats == nil && sub != "disable" {
		p.Stats = &proxy.StatsPage{URI: "/haproxy?stats"}
	}
	st := p.Stats
	switch sub {
	case "enable":
	case "disable":
		p.Stats = nil
	case "uri":
		if len(a) == 0 {
			return fmt.Errorf("'uri' needs an URI prefix.")
		}
		st.URI = a[0].Value
	case "realm":
		if len(a) == 0 {
			return fmt.Errorf("'realm' needs an realm name.")
		}
		st.Realm = strings.Join(values(a), " ")
	case "auth":
		if len(a) == 0 {
			return fmt.Errorf("'auth' needs a user:password account.")
		}
		user, pass, _ := strings.Cut(a[0].Value, ":")
		st.Auth = append(st.Auth, [2]string{user, pass})
	case "refresh":
		if len(a) == 0 {
			return fmt.Errorf("'refresh' needs a delay in seconds.")
		}
		t, bad, err := parseHATime(a[0].Value, time.Second)
		if err != nil {
			if bad != 0 {
				return formError{"tight", fmt.Errorf("unexpected character '%c' in argument to stats refresh interval.", bad)}
			}
			return fmt.Errorf("'refresh' needs a delay in seconds.")
		}
		st.Refresh = t
	case "admin":
		if !c.notInDefaults(d, "stats admin") {
			return nil
		}
		_, cond, err := c.condition(d, a, "a 'stats admin' rule")
		if err != nil {
			return err
		}
		if cond == nil {
			return fmt.Errorf("'stats admin' requires either 'if' or 'unless' followed by a condition.")
		}
		st.Admin = cond
	case "hide-version":
		st.HideVersion = true
	case "show-legends":
		st.ShowLegends = true
	case "show-node":
		st.ShowNode = "-"
		if len(a) > 0 {
			if !validNodeName(a[0].Value) {
				return formError{"tight", fmt.Errorf("'stats show-node' invalid node name - should be a stringwith digits(0-9), letters(A-Z, a-z), hyphen(-) or underscode(_).")}
			}
			st.ShowNode = a[0].Value
		}
	case "show-desc":
		st.ShowDescOn, st.ShowDesc = true, strings.Join(values(a), " ")
		if st.ShowDesc == "" && c.cfg.Global.Description == "" {
			c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevWarning, Form: "tight",
				Msg: "'show-desc' requires a parameter or 'desc' to be set in the global section."})
		}
	case "scope":
		if len(a) == 0 {
			return fmt.Errorf("'scope' needs a proxy name.")
		}
		st.Scope = append(st.Scope, a[0].Value)
	case "show-modules":
	case "http-request":
		if !c.notInDefaults(d, "stats http-request") {
			return nil
		}
		return decodeStatsHTTPRule(c, d, a, st)
	case "bind-process":
		return fmt.Errorf("'stats bind-process' is not supported anymore since HAProxy 2.5.")
	}
	return nil
}

// oneFormat decodes a format keyword taking exactly one argument.
func oneFormat(name string) hdecode {
	return func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if len(a) == 0 {
			return fmt.Errorf("'%s' expects a format string as argument.", name)
		}
		if len(a) > 1 {
			return fmt.Errorf("%s expects only one argument, don't forget to escape spaces!", name)
		}
		return nil
	}
}

// decodeUseServer decodes `use-server NAME|FMT if|unless COND`. As
// HAProxy, a proxy without backend capability warns that the rule is
// ignored yet keeps it, so its server name is still looked up (and not
// found) after parsing.
func decodeUseServer(c *hctx, d *parser.Directive, a []parser.Word) error {
	if !c.notInDefaults(d, "use-server") {
		return nil
	}
	be := c.needCap(d, capBE, "use-server")
	if len(a) == 0 {
		return fmt.Errorf("'use-server' expects a server name.")
	}
	if len(a) < 2 || (a[1].Value != "if" && a[1].Value != "unless") {
		return fmt.Errorf("'use-server' requires either 'if' or 'unless' followed by a condition.")
	}
	_, cond, err := c.conditionAt(d, a[1:], "switching rule", ctxBeSetSrv)
	if err != nil {
		return err
	}
	if be {
		c.misplaced(d, stageUseServer, "use-server")
	}
	c.cur.useServers = append(c.cur.useServers, pendingUseServer{name: a[0].Value, pos: d.Pos, cond: cond})
	return nil
}

// decodePersistRule decodes force-persist / ignore-persist, which need a
// condition (HAProxy refuses the rule without one). HAProxy evaluates them
// when the backend is chosen (process_switching_rules), so the condition's
// samples must be valid at the backend's tcp-request content stage.
func decodePersistRule(what string) hdecode {
	return func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if !c.notInDefaults(d, what) {
			return nil
		}
		// Without backend capability HAProxy warns the rule is ignored,
		// yet still parses its condition.
		be := c.needCap(d, capBE, what)
		if len(a) == 0 || (a[0].Value != "if" && a[0].Value != "unless") {
			return fmt.Errorf("'%s' requires either 'if' or 'unless' followed by a condition.", what)
		}
		_, cond, err := c.conditionAt(d, a, "a '"+what+"' rule", ctxBeReqCnt)
		if err != nil || !be {
			return err
		}
		c.cur.p.PersistRules = append(c.cur.p.PersistRules, proxy.PersistRule{Force: what == "force-persist", Cond: cond, Line: d.Pos.Line})
		return nil
	}
}

// retryOnKeywords are the failure types `retry-on` takes in HAProxy 2.6.
var retryOnKeywords = map[string]bool{
	"none": true, "conn-failure": true, "empty-response": true, "junk-response": true,
	"response-timeout": true, "0rtt-rejected": true, "all-retryable-errors": true,
	"401": true, "403": true, "404": true, "408": true, "425": true,
	"500": true, "501": true, "502": true, "503": true, "504": true,
}

func decodeRetryOn(c *hctx, d *parser.Directive, a []parser.Word) error {
	if c.cur.p.Cap&capBE == 0 {
		return fmt.Errorf("'retry-on' only available in backend or listen section")
	}
	if len(a) == 0 {
		return fmt.Errorf("'retry-on' needs at least one keyword to specify when to retry")
	}
	for _, w := range a {
		if !retryOnKeywords[w.Value] {
			return fmt.Errorf("'retry-on': unknown keyword '%s'", w.Value)
		}
		if w.Value == "none" && len(a) > 1 {
			return fmt.Errorf("'retry-on' 'none' keyworld only usable alone")
		}
	}
	return nil
}

// decodeSource checks `source <addr>[:<port>] [usesrc …] [interface …]`.
func decodeSource(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) == 0 {
		return fmt.Errorf("'source' expects <addr>[:<port>] as argument.")
	}
	for i := 1; i < len(a); i++ {
		switch a[i].Value {
		case "usesrc":
			if i+1 >= len(a) {
				return fmt.Errorf("'usesrc' expects <addr>[:<port>], 'client', or 'clientip' as argument.")
			}
			i++
		case "interface":
			if i+1 >= len(a) {
				return fmt.Errorf("'interface' expects an interface name.")
			}
			i++
		default:
			return fmt.Errorf("'source' only supports optional keywords 'interface' and 'usesrc'.")
		}
	}
	return nil
}

// validNodeName is what HAProxy accepts as a node name (`node`, `stats
// show-node`): letters, digits and ".-_:".
func validNodeName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_:", r)
		if !ok {
			return false
		}
	}
	return true
}

// decodeStatsHTTPRule is `stats http-request <action> [if|unless cond]`:
// an http-request rule evaluated only on the stats page's requests
// (HAProxy parses it with the http-request action list). An `auth`
// without a realm asks for the stats page's realm, "HAProxy
// Statistics", as HAProxy does for stats requests.
func decodeStatsHTTPRule(c *hctx, d *parser.Directive, a []parser.Word, st *proxy.StatsPage) error {
	if len(a) == 0 {
		return fmt.Errorf("'stats http-request' expects an action.")
	}
	act, ok := actionName("http-request", a[0].Value)
	if !ok {
		var names []string
		for _, n := range httpActions["http-request"] {
			if strings.HasSuffix(n, "*") {
				n = strings.TrimSuffix(n, "*") + "(*)"
			}
			names = append(names, "'"+n+"'")
		}
		return formError{"tight", fmt.Errorf("'http-request' expects %s, but got '%s'.", strings.Join(names, ", "), a[0].Value)}
	}
	before, cond, err := c.conditionAt(d, a[1:], fmt.Sprintf("an 'http-request %s' condition", act), c.where(ctxFeHrqHdr, ctxBeHrqHdr))
	if err != nil {
		return err
	}
	args := values(before)
	if act == "auth" {
		if len(args) == 1 && args[0] == "realm" {
			return fmt.Errorf("error detected in proxy '%s' while parsing 'http-request auth' rule : missing realm value.\n.", c.cur.p.Name)
		}
		if len(args) == 0 {
			args = []string{"realm", "HAProxy Statistics"}
		}
	}
	st.HTTPRequest = append(st.HTTPRequest, &proxy.HTTPRule{Action: a[0].Value, Args: args, Cond: cond, Line: d.Pos.Line})
	return nil
}
