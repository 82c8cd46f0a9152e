package compat

import (
	"sort"
	"strings"

	"halo/proxy/rules"
)

// This file is the one place that says how far halo executes each haproxy
// keyword. Decoders live elsewhere; flip a status here when the runtime on
// main starts (or stops) executing a keyword, and -c, the migration report
// and the docs follow.

// haproxyStatus overrides the Supported default of the table rows:
// keyword → status and what differs.
var haproxyStatus = map[string]struct {
	s    Status
	note string
}{
	// global
	"user":                        {Supported, ""},
	"group":                       {Supported, ""},
	"uid":                         {Supported, ""},
	"gid":                         {Supported, ""},
	"chroot":                      {Supported, ""},
	"nbthread":                    {Supported, "as many event loops, each connection served by one; GOMAXPROCS follows"},
	"cpu-map":                     {Supported, ""},
	"lua-load":                    {Unsupported, "halo has no Lua interpreter"},
	"lua-load-per-thread":         {Unsupported, "halo has no Lua interpreter"},
	"lua-prepend-path":            {Ignored, "halo has no Lua interpreter"},
	"stats bind-process":          {Ignored, "single process"},
	"server-state-file":           {Ignored, "server state is not loaded from a file"},
	"server-state-base":           {Ignored, "server state is not loaded from a file"},
	"log-send-hostname":           {Supported, ""},
	"log-tag":                     {Supported, ""},
	"issuers-chain-path":          {Ignored, "OCSP issuer chains are not loaded"},
	"nbproc":                      {Unsupported, "removed in haproxy 2.5; refused as haproxy 2.6 refuses it"},
	"tune.maxrewrite":             {Supported, ""},
	"master-worker":               {Supported, ""},
	"mworker-max-reloads":         {Supported, ""},
	"hard-stop-after":             {Supported, ""},
	"setenv":                      {Ignored, "the environment is not changed after parsing"},
	"presetenv":                   {Ignored, "the environment is not changed after parsing"},
	"unsetenv":                    {Ignored, "the environment is not changed after parsing"},
	"resetenv":                    {Ignored, "the environment is not changed after parsing"},
	"default-path":                {Ignored, "relative paths are resolved from the working directory"},
	"httpclient.ssl.verify":       {Ignored, "there is no internal HTTP client"},
	"httpclient.ssl.ca-file":      {Ignored, "there is no internal HTTP client"},
	"httpclient.resolvers.id":     {Ignored, "there is no internal HTTP client"},
	"httpclient.resolvers.prefer": {Ignored, "there is no internal HTTP client"},
	"external-check":              {Ignored, "external checks are not run"},
	"insecure-fork-wanted":        {Ignored, "external checks are not run"},
}

// haproxyProxyStatus is the same for defaults/frontend/backend/listen.
var haproxyProxyStatus = map[string]struct {
	s    Status
	note string
}{
	"capture request header":              {Supported, ""},
	"capture response header":             {Supported, ""},
	"capture cookie":                      {Ignored, "captured cookies are not logged"},
	"use-fcgi-app":                        {Unsupported, "FastCGI is not supported"},
	"email-alert":                         {Ignored, "email alerts are not sent"},
	"retry-on":                            {Partial, "only connection failures are retried"},
	"http-error":                          {Supported, ""},
	"dynamic-cookie-key":                  {Ignored, "dynamic cookies are not implemented"},
	"persist rdp-cookie":                  {Ignored, "RDP cookie persistence is not implemented"},
	"force-persist":                       {Supported, ""},
	"ignore-persist":                      {Supported, ""},
	"use-server":                          {Supported, ""},
	"source":                              {Ignored, "the source address for server connections is not set"},
	"dispatch":                            {Unsupported, "dispatch servers are not supported"},
	"http-send-name-header":               {Ignored, "the server name header is not added"},
	"rate-limit sessions":                 {Ignored, "session rate limiting is not applied"},
	"max-keep-alive-queue":                {Ignored, "not applied"},
	"load-server-state-from-file":         {Ignored, "server state is not loaded from a file"},
	"server-state-file-name":              {Ignored, "server state is not loaded from a file"},
	"external-check command":              {Ignored, "external checks are not run"},
	"external-check path":                 {Ignored, "external checks are not run"},
	"hash-balance-factor":                 {Ignored, "bounded-load consistent hashing is not applied"},
	"error-log-format":                    {Supported, ""},
	"monitor fail":                        {Supported, ""},
	"tcp-response":                        {Supported, ""},
	"stats show-modules":                  {Ignored, "no module statistics"},
	"option abortonclose":                 {Ignored, "not applied"},
	"option accept-invalid-http-request":  {Ignored, "halo's parser stays strict"},
	"option accept-invalid-http-response": {Ignored, "halo's parser stays strict"},
	"option checkcache":                   {Ignored, "not applied"},
	"option contstats":                    {Ignored, "not applied"},
	"option disable-h2-upgrade":           {Supported, ""},
	"option h1-case-adjust-bogus-client":  {Ignored, "header case is preserved as received"},
	"option h1-case-adjust-bogus-server":  {Ignored, "header case is preserved as received"},
	"option http-buffer-request":          {Ignored, "the body is not waited for"},
	"option http-ignore-probes":           {Supported, ""},
	"option http-no-delay":                {Ignored, "not applied"},
	"option http-use-proxy-header":        {Ignored, "not applied"},
	"option http_proxy":                   {Unsupported, "the HTTP proxy mode is not implemented"},
	"option idle-close-on-response":       {Ignored, "not applied"},
	"option independent-streams":          {Ignored, "not applied"},
	"option external-check":               {Ignored, "external checks are not run: the servers get a TCP connect check"},
	"option logasap":                      {Ignored, "logs are emitted at the end of the stream"},
	"option nolinger":                     {Ignored, "not applied"},
	"option prefer-last-server":           {Ignored, "not applied"},
	"option socket-stats":                 {Ignored, "per-listener stats are not kept"},
	"option splice-auto":                  {Ignored, "not applied"},
	"option splice-request":               {Ignored, "not applied"},
	"option splice-response":              {Ignored, "not applied"},
	"option tcp-smart-accept":             {Ignored, "not applied"},
	"option tcp-smart-connect":            {Ignored, "not applied"},
	"option transparent":                  {Unsupported, "transparent proxying is not implemented"},
	"option http-restrict-req-hdr-names":  {Ignored, "not applied"},
	"option httpslog":                     {Supported, ""},

	"balance rdp-cookie": {Supported, ""},
	"balance first":      {Supported, ""},
}

// notExecutedActions says what not running an action HAProxy knows means
// (Ignored: harmless or only a tuning; Unsupported: traffic would go
// elsewhere). The executed actions and their notes come from the
// runtime's registry (rules.Actions); an action in neither list is
// refused as not executed.
var notExecutedActions = map[string]struct {
	s    Status
	note string
}{
	"add-acl": {Ignored, "ACL files are not modified at runtime"}, "del-acl": {Ignored, "ACL files are not modified at runtime"},
	"del-map": {Ignored, "maps are not modified at runtime"}, "set-map": {Ignored, "maps are not modified at runtime"},
	"do-resolve": {Ignored, "not executed"}, "early-hint": {Ignored, "103 responses are not sent"},
	"normalize-uri": {Ignored, "the URI is not normalized"}, "ot-group": {Ignored, "no OpenTracing"},
	"send-spoe-group": {Ignored, "SPOE is not implemented"},
	"set-dst":         {Ignored, "the destination address is not changed"}, "set-dst-port": {Ignored, "the destination port is not changed"},
	"set-src": {Ignored, "the source address is not changed"}, "set-src-port": {Ignored, "the source port is not changed"},
	"set-mark": {Ignored, "not executed"}, "set-nice": {Ignored, "not executed"},
	"set-tos": {Ignored, "not executed"}, "disable-l7-retry": {Ignored, "not executed"}, "strict-mode": {Ignored, "not executed"},
	"set-priority-class": {Ignored, "not executed"}, "set-priority-offset": {Ignored, "not executed"},
	"wait-for-body": {Ignored, "the body is not waited for"}, "wait-for-handshake": {Ignored, "no TLS 0-RTT"},
}

// notExecutedTCPAction is notExecutedActions for tcp-request rules.
func notExecutedTCPAction(name string) (Status, string) {
	switch name {
	case "expect-proxy", "expect-netscaler-cip":
		return Unsupported, "the PROXY protocol header would reach the application: not executed by the runtime"
	case "use-service", "set-dst", "set-dst-port":
		return Unsupported, "not executed, and traffic would go elsewhere"
	}
	return Ignored, "this tcp-request action is not executed by the runtime"
}

// actionStatus derives an action's status: the runtime's registry for
// the actions it executes in that rule list, else what not executing it
// means.
func actionStatus(set rules.Ruleset, name string, runtime map[string]rules.ActionInfo) (Status, string) {
	if a, ok := runtime[name]; ok && a.Rulesets&set != 0 {
		if a.Note != "" {
			return Partial, a.Note
		}
		return Supported, ""
	}
	if set&(rules.TCPRequestConnection|rules.TCPRequestSession|rules.TCPRequestContent) != 0 {
		return notExecutedTCPAction(name)
	}
	if n, ok := notExecutedActions[name]; ok {
		return n.s, n.note
	}
	return Unsupported, "not executed by halo"
}

// bindParamStatus says what halo does with each bind parameter (the
// runtime's proxy.Bind has addresses, certificates, ALPN, PROXY protocol,
// maxconn/backlog and v6only; TLS tuning is Go's).
func bindParamStatus(k string) (Status, string) {
	if st, note, ok := bindSSLStatus(k); ok {
		return st, note
	}
	switch k {
	case "ssl", "crt", "crt-list", "alpn", "name", "maxconn", "backlog", "v4v6", "v6only", "accept-proxy",
		"user", "group", "uid", "gid", "mode", "level", "severity-output", "expose-fd":
		return Supported, ""
	case "ssl-min-ver", "ssl-max-ver", "no-sslv3", "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13",
		"force-sslv3", "force-tlsv10", "force-tlsv11", "force-tlsv12", "force-tlsv13", "ciphers",
		"ciphersuites", "curves", "ecdhe", "prefer-client-ciphers", "no-tls-tickets":
		return Partial, "Go's TLS settings apply (TLS 1.2 and 1.3, its cipher suites and curves)"
	case "strict-sni":
		return Partial, "an unknown SNI gets the default certificate instead of a failed handshake"
	case "verify":
		return Partial, "client certificates are not requested"
	case "ca-file", "crl-file", "ca-verify-file", "ca-ignore-err", "crt-ignore-err":
		return Partial, "client certificates are not requested or verified"
	case "id":
		return Supported, ""
	case "process", "thread", "shards", "nice":
		return Ignored, "single process; not applied"
	}
	return Ignored, "not applied"
}

// serverParamStatus says what halo does with each server parameter.
func serverParamStatus(k string) (Status, string) {
	if st, note, ok := serverSSLStatus(k); ok {
		return st, note
	}
	switch k {
	case "check", "no-check", "inter", "fastinter", "downinter", "rise", "fall", "weight", "backup",
		"no-backup", "disabled", "enabled", "maxconn", "maxqueue", "minconn", "slowstart", "port", "addr", "cookie",
		"on-marked-down", "id", "init-addr", "send-proxy", "send-proxy-v2", "no-send-proxy",
		"no-send-proxy-v2", "ssl", "no-ssl", "verify", "resolvers", "resolve-prefer", "resolve-opts", "resolve-net", "check-ssl", "no-check-ssl",
		"agent-check", "agent-addr", "agent-inter", "agent-port", "agent-send", "no-agent-check", "track",
		"observe", "on-error", "error-limit", "check-send-proxy", "no-check-send-proxy", "check-sni", "check-alpn",
		"check-proto", // fcgi refused where it is read
		"non-stick", "stick":
		return Supported, ""
	case "check-via-socks4":
		return Unsupported, "checks through a SOCKS4 proxy are not supported by halo"
	case "on-marked-up":
		return Ignored, "backup sessions are not shut down"
	}
	return Ignored, "not applied"
}

func init() {
	for k, v := range haproxyStatus {
		if !globalTable.SetStatus(k, v.s, v.note) {
			panic("compat: status for unknown global keyword " + k)
		}
	}
	// Each action HAProxy knows gets a row so the report and docs list
	// it; the rule decoder is the "http-request" row, these rows carry
	// statuses, derived from the runtime's action registry.
	runtime := map[string]rules.ActionInfo{}
	for _, a := range rules.Actions() {
		runtime[a.Name] = a
	}
	for kind, set := range map[string]rules.Ruleset{"http-request": rules.HTTPRequest, "http-response": rules.HTTPResponse} {
		for _, a := range httpActions[kind] {
			name := strings.TrimSuffix(a, "*")
			st, note := actionStatus(set, name, runtime)
			proxyTable.Add(hrow{Name: kind + " " + name, Status: st, Note: note, Sub: true})
		}
	}
	for stage, set := range map[string]rules.Ruleset{"connection": rules.TCPRequestConnection, "session": rules.TCPRequestSession, "content": rules.TCPRequestContent} {
		for _, a := range tcpActions[stage] {
			name := strings.TrimSuffix(a, "*")
			st, note := actionStatus(set, name, runtime)
			proxyTable.Add(hrow{Name: "tcp-request " + stage + " " + name, Status: st, Note: note, Sub: true})
		}
	}
	for _, a := range tcpResponseActions {
		name := strings.TrimSuffix(a, "*")
		st, note := actionStatus(rules.TCPResponseContent, name, runtime)
		proxyTable.Add(hrow{Name: "tcp-response content " + name, Status: st, Note: note, Sub: true})
	}
	proxyTable.Add(hrow{Name: "tcp-response inspect-delay", Status: Supported, Note: "in mode tcp, content rules wait for the server's first bytes (res.len, res.payload, res.ssl_hello_type)", Sub: true})
	for _, a := range httpActions["http-after-response"] {
		key := "http-after-response " + strings.TrimSuffix(a, "*")
		if proxyTable.Get(key) == nil {
			proxyTable.Add(hrow{Name: key, Status: Ignored, Note: "http-after-response rules are not executed by the runtime", Sub: true})
		}
	}
	proxyTable.Add(hrow{Name: "tcp-request inspect-delay", Status: Supported, Note: "in mode tcp, content rules wait for the client's first bytes (req.ssl_sni, req.ssl_hello_type, req.ssl_alpn, req.len, req.payload)", Sub: true})
	// Lua actions exist only once lua-load registered them; halo has no Lua.
	for _, k := range []string{"http-request lua.", "http-response lua.", "tcp-request content lua."} {
		proxyTable.Add(hrow{Name: k, Status: Unsupported, Note: "Lua actions need Lua, which halo does not embed", Sub: true})
	}
	for _, a := range []string{"comment", "connect", "send", "send-lf", "send-binary", "send-binary-lf", "expect", "set-var", "set-var-fmt", "unset-var"} {
		proxyTable.Add(hrow{Name: "tcp-check " + a, Status: Supported, Sub: true})
	}
	for _, t := range []string{"client", "server", "connect", "check", "queue", "http-keep-alive", "http-request", "tunnel", "tarpit", "client-fin", "server-fin"} {
		st, note := Supported, ""
		switch t {
		case "tarpit":
			st, note = Ignored, "tarpit rules answer at once"
		}
		proxyTable.Add(hrow{Name: "timeout " + t, Status: st, Note: note, Sub: true})
	}
	for _, b := range []string{"roundrobin", "static-rr", "leastconn", "source", "uri", "url_param", "hdr", "random", "first", "rdp-cookie"} {
		proxyTable.Add(hrow{Name: "balance " + b, Status: Supported, Sub: true})
	}
	for _, a := range []string{"expect", "send", "connect", "disable-on-404", "send-state", "comment", "set-var", "set-var-fmt", "unset-var"} {
		proxyTable.Add(hrow{Name: "http-check " + a, Status: Supported, Sub: true})
	}
	// Directives removed before 2.6 are errors in haproxy and in halo.
	for name := range removedProxyKeywords {
		proxyTable.SetStatus(name, Unsupported, "removed from haproxy before 2.6; refused with haproxy's message")
	}
	for k, v := range haproxyProxyStatus {
		if !proxyTable.SetStatus(k, v.s, v.note) {
			panic("compat: status for unknown proxy keyword " + k)
		}
	}
}

// KeywordInfo is one row of a keyword table, for documentation.
type KeywordInfo struct {
	Section string `json:"section"`
	Keyword string `json:"keyword"`
	Status  Status `json:"status"`
	Note    string `json:"note,omitempty"`
}

// HAProxyKeywords lists every haproxy keyword halo knows, table by table,
// with its status: the source of `halo compat --keywords`.
func HAProxyKeywords() []KeywordInfo {
	var out []KeywordInfo
	add := func(sec string, t *Table[*hctx]) {
		for _, name := range t.Names() {
			k := t.Get(name)
			out = append(out, KeywordInfo{Section: sec, Keyword: name, Status: k.Status, Note: k.Note})
		}
	}
	add("global", globalTable)
	add("defaults/frontend/backend/listen", proxyTable)
	add("userlist", userlistTable)
	add("http-errors", httpErrorsTable)
	add("cache", cacheTable)
	add("resolvers", resolversTable)
	secs := make([]string, 0, len(otherSectionTables))
	for s := range otherSectionTables {
		secs = append(secs, s)
	}
	sort.Strings(secs)
	for _, s := range secs {
		add(s, otherSectionTables[s])
	}
	for _, name := range sortedKeys(serverParams) {
		st, note := serverParamStatus(name)
		out = append(out, KeywordInfo{Section: "server/default-server", Keyword: name, Status: st, Note: note})
	}
	for _, name := range sortedKeys(bindParams) {
		st, note := bindParamStatus(name)
		out = append(out, KeywordInfo{Section: "bind", Keyword: name, Status: st, Note: note})
	}
	return out
}
