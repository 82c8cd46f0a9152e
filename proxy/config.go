// Package proxy is the HAProxy runtime: it executes a Config. It never sees
// the configuration's syntax; package compat builds the Config.
package proxy

import (
	"net/netip"
	"time"

	"halo/proxy/stick"
)

// Config is everything `halo haproxy` runs: the global section and every
// proxy (frontend, backend, listen) with its defaults already applied and
// its references resolved.
type Config struct {
	Global  Global
	Proxies []*Proxy // in configuration order, as HAProxy numbers them (iid)
	// HTTPErrors holds http-errors sections by name; each maps status code
	// to the full raw HTTP response to send.
	HTTPErrors map[string]map[int][]byte
	Userlists  map[string]*Userlist
	// Tables holds every stick table (proxies' and peers sections'), in
	// configuration order; Peers the peers sections (config_stick.go).
	Tables []*stick.Spec
	Peers  []*PeersSection
	// Caches are the `cache` sections, in configuration order
	// (config_filters.go).
	Caches []*CacheSection
	// Resolvers are the resolvers sections, in configuration order
	// (servers name theirs in Server.Resolvers).
	Resolvers []*Resolvers
	// Replaces says the process takes over from running ones (-sf/-st,
	// a master's reload): the local peer then waits for their lesson.
	Replaces bool
}

// Global is the `global` section.
type Global struct {
	Daemon       bool
	MasterWorker bool
	// MworkerMaxReloads: an old worker still running after this many
	// reloads is terminated (0: never).
	MworkerMaxReloads int
	Maxconn           int
	Nbthread          int
	// CPUMap is cpu-map, thread by thread (index: thread number - 1):
	// the CPUs that thread is bound to (none: unbound).
	CPUMap      [][]int
	PidFile     string
	User, Group string
	Chroot      string
	// UID and GID are the ids `user`/`uid` and `group`/`gid` resolve to
	// (0: unset, as in HAProxy, which never switches to root).
	UID, GID       int
	Logs           []LogTarget
	StatsSockets   []StatsSocket
	StatsTimeout   time.Duration
	StatsMaxconn   int // `stats maxconn`: CLI connections at once (0: HAProxy's 10)
	TuneBufsize    int // tune.bufsize, default 16384
	TuneMaxrewrite int // tune.maxrewrite, default 1024
	// PeersMaxUpdates is tune.peers.max-updates-at-once (0: 200).
	PeersMaxUpdates int
	HardStopAfter   time.Duration
	// ZeroWarning is `zero-warning` (or -dW): any configuration warning
	// makes the process refuse to start.
	ZeroWarning bool
	// LogTag is `log-tag` (default "haproxy"); LogSendHostname is the
	// name `log-send-hostname` puts in syslog headers ("" when unset).
	LogTag          string
	LogSendHostname string
	// tune.h2.*: HTTP/2 settings announced to clients (0: HAProxy's
	// defaults, see package h2).
	H2HeaderTableSize, H2InitialWindowSize uint32
	H2MaxConcurrentStreams, H2MaxFrameSize uint32
	// SSLLoadExtraDelExt is ssl-load-extra-del-ext: cert.crt's key is
	// cert.key (not cert.crt.key).
	SSLLoadExtraDelExt bool
	// SetVars are the process variables set at start, in order.
	SetVars []SetVar
	// SpreadChecks is `spread-checks` (0..50, percent of random jitter
	// added to each check interval); MaxSpreadChecks `max-spread-checks`
	// bounds the spread of the first checks (0: no bound).
	SpreadChecks    int
	MaxSpreadChecks time.Duration
	// TuneChksize is `tune.chksize` (default 16384): the check buffers.
	TuneChksize int
	// UlimitN is `ulimit-n`: the process's descriptor limit (its soft
	// RLIMIT_NOFILE); 0: what the process needs (maxsock).
	UlimitN int
	// NoStrictLimits is `no strict-limits`: a descriptor limit that
	// cannot be set is a warning instead of a fatal error.
	NoStrictLimits bool
	// Node and Description are `node` (default: the host name) and
	// `description`: the stats page and `show info` show them.
	Node        string
	Description string
	// CompMaxLevel is `tune.comp.maxlevel` (1..9, default 1): the
	// compression level of `compression algo`.
	CompMaxLevel int
}

// SetVar is a global `set-var` (Fmt false: Expr is a sample expression)
// or `set-var-fmt` (Expr is a log-format string) of a proc.* variable.
type SetVar struct {
	Name string
	Expr string
	Fmt  bool
	Line int
}

// LogTarget is one `log` line: address is "/dev/log", "udp@host:port",
// "stdout", "stderr", "ring@name".
type LogTarget struct {
	Address  string
	Facility string
	Level    string
	MinLevel string
	Format   string // rfc3164 (default), rfc5424, raw, short …
	Len      int
	// Sample is `sample <ranges>:<size>`: of every Size lines, those
	// whose number (1..Size) falls in a range are sent; nil sends all.
	Sample     []SampleRange
	SampleSize int
}

// SampleRange is one `low[-high]` of a log target's sample ranges.
type SampleRange struct{ Low, High int }

// StatsSocket is `stats socket PATH [mode M] [level L] …`.
type StatsSocket struct {
	Path  string // unix path, or "ipv4@host:port"
	Mode  uint32
	Level string // user, operator, admin
	// UID and GID own a unix socket's file (`user`/`uid`, `group`/`gid`;
	// 0: the starting user's, root's when halo later drops privileges).
	UID, GID int
	// Maxconn is the socket's `maxconn` (0: the global `stats maxconn`).
	Maxconn int
	// ExposeFD is `expose-fd listeners`: the `_getsocks` command hands
	// the listening sockets to a new process (its -x).
	ExposeFD bool
}

// Mode is a proxy's `mode`.
type Mode int

const (
	ModeTCP Mode = iota
	ModeHTTP
)

// Cap says which sides a proxy has: frontend (accepts), backend (servers),
// or both (listen).
type Cap int

const (
	CapFE Cap = 1 << iota
	CapBE
)

// Timeouts are a proxy's `timeout` values; zero means unset.
type Timeouts struct {
	Client, ClientFin time.Duration
	Server, ServerFin time.Duration
	Connect           time.Duration
	Queue             time.Duration
	Tunnel            time.Duration
	HTTPRequest       time.Duration
	HTTPKeepAlive     time.Duration
	Check             time.Duration
	Tarpit            time.Duration
}

// ConnMode is the HTTP connection mode (option http-keep-alive, …).
type ConnMode int

const (
	ConnKeepAlive ConnMode = iota // 2.6 default
	ConnServerClose
	ConnClose
	ConnPretendKeepAlive // http-pretend-keepalive with http-server-close semantics
)

// Forwardfor is `option forwardfor [except NET] [header NAME] [if-none]`.
type Forwardfor struct {
	Enabled bool
	Except  []netip.Prefix
	Header  string // default "X-Forwarded-For"
	IfNone  bool
}

// Originalto is `option originalto [except NET] [header NAME]`.
type Originalto struct {
	Enabled bool
	Except  []netip.Prefix
	Header  string // default "X-Original-To"
}

// Proxy is a frontend, backend or listen section after defaults are applied.
type Proxy struct {
	Name string
	ID   int // iid: position among proxies, 1-based (or `id` keyword)
	Cap  Cap
	Mode Mode
	File string
	Line int

	Disabled bool
	Maxconn  int
	Backlog  int
	Timeouts Timeouts
	// Description is the proxy's `description` (the stats page shows it
	// beside the proxy's name).
	Description string
	// LogTag is the proxy's `log-tag` ("": the global one).
	LogTag string
	// DontLogNormal is `option dontlog-normal`: only transactions with
	// an error, a retry, a redispatch or a 5xx status are logged.
	// LogSeparateErrors is `option log-separate-errors`: those are
	// logged at level err instead of info.
	DontLogNormal, LogSeparateErrors bool
	// LogFormatSD is `log-format-sd`: the structured-data part of
	// RFC 5424 lines (a log-format string).
	LogFormatSD string
	// ErrorLogFormat is `error-log-format`: the format of the lines of
	// connections that fail before a request (TLS handshake) and of
	// transactions ending in error; "" HAProxy's short line for the former.
	ErrorLogFormat string

	// Frontend side.
	Binds          []Bind
	ACLs           []*ACL
	UseBackends    []UseBackend
	DefaultBackend *Proxy // nil when none
	HTTPRequest    []*HTTPRule
	HTTPResponse   []*HTTPRule
	// HTTPAfterResponse holds http-after-response rules: they run on every
	// response, haproxy's own (errors, redirects, stats) included.
	HTTPAfterResponse []*HTTPRule
	TCPRequest        []*TCPRule
	// TCPResponse are the tcp-response inspect-delay and content rules.
	TCPResponse []*TCPRule
	Redirects   []*HTTPRule
	MonitorURI  string
	Stats       *StatsPage // nil when `stats enable` is absent
	Logs        []LogTarget
	LogFormat   string // resolved: httplog/tcplog/custom
	DontLogNull bool
	ConnMode    ConnMode
	Forwardfor  Forwardfor
	Originalto  Originalto
	ErrorFiles  map[int][]byte // status → full raw response (errorfile/errorfiles); empty: close without an answer
	// ErrorReplies are the http-error answers built per transaction
	// (log-format bodies or headers); a status has an entry in at most
	// one of ErrorFiles and ErrorReplies.
	ErrorReplies   map[int]*Reply
	UniqueIDFormat string
	UniqueIDHeader string
	// MonitorFail holds `monitor fail if|unless COND` conditions: when one
	// holds, monitor-uri answers 503 instead of 200.
	MonitorFail []*Cond
	// CaptureReqHeaders / CaptureResHeaders are `capture request|response
	// header NAME len N`, in declaration order (logged by %hr/%hs).
	CaptureReqHeaders []Capture
	CaptureResHeaders []Capture
	// ReqCaptureLens / ResCaptureLens are the maximum lengths of every
	// capture slot, in declaration order: `capture request|response
	// header`, `declare capture` and `http-request|response capture ...
	// len` (whose rule then names its slot with `id`). capture.req.hdr(N),
	// capture-req(N) and %hr/%hs use these indexes.
	ReqCaptureLens []int
	ResCaptureLens []int
	// IgnoreProbes is `option http-ignore-probes`: a connection closed or
	// timed out before sending any byte gets no 408/400 and no log.
	IgnoreProbes bool
	// DisableH2Upgrade is `option disable-h2-upgrade`: an HTTP/2 preface
	// as the first request on a clear HTTP/1 bind stays a (bad) HTTP/1
	// request instead of turning the connection into HTTP/2.
	DisableH2Upgrade bool
	// CliTCPKA is the frontend's TCP keep-alive on client connections
	// (`option clitcpka` or `tcpka`, `clitcpka-cnt|idle|intvl`); SrvTCPKA
	// the backend's on server connections (`option srvtcpka` or `tcpka`,
	// `srvtcpka-*`).
	CliTCPKA, SrvTCPKA TCPKeepAlive

	// Backend side.
	Balance     Balance
	Servers     []*Server
	Retries     int // default 3
	Redispatch  bool
	AllBackups  bool
	Fullconn    int
	HTTPReuse   HTTPReuse
	HealthCheck HealthCheck
	Cookie      *CookieConfig
	// LogHealthChecks is `option log-health-checks`: every check result
	// that changes the health counter or the status is logged.
	LogHealthChecks bool
	// Table is the proxy's own stick-table (nil: none); StickRules its
	// stick match/on/store rules; Persist is `option persist`.
	Table      *stick.Spec
	StickRules []*StickRule
	Persist    bool

	// Compression is the `compression` settings (nil: none); Filters the
	// proxy's filters in evaluation order, declared or implied
	// (config_filters.go).
	Compression *Compression
	Filters     []FilterConf
	// UseServers are the `use-server` rules in order; PersistRules the
	// `force-persist` / `ignore-persist` rules in order (the first whose
	// condition holds applies).
	UseServers   []UseServer
	PersistRules []PersistRule
}

// UseServer is `use-server NAME if|unless COND` (configuration.txt §4.2):
// Server is the named server, or nil when Dynamic holds a log-format
// naming it per request.
type UseServer struct {
	Server  *Server
	Dynamic string
	Cond    *Cond
	Line    int
}

// PersistRule is `force-persist if|unless COND` (Force) or
// `ignore-persist if|unless COND`.
type PersistRule struct {
	Force bool
	Cond  *Cond
	Line  int
}

// Bind is one `bind` line, one per address after port ranges are expanded.
type Bind struct {
	Addr    netip.AddrPort // unspecified address = all
	Network string         // "tcp", "tcp4", "tcp6", "unix", "fd"
	Path    string         // unix socket path ("@name": abstract namespace)
	FD      int            // Network "fd": an inherited listening socket (fd@N)
	V4V6    bool
	V6Only  bool
	Maxconn int
	Backlog int
	Name    string
	// ID is the listener's id (`id`, else numbered as HAProxy does): the
	// so_id fetch.
	ID          int
	SSL         bool
	Certs       []string // crt files/dirs, resolved paths
	ALPN        []string
	AcceptProxy bool
	Line        int
	// TLS is the resolved TLS configuration of an ssl bind (nil: built
	// from Certs and ALPN with HAProxy's defaults).
	TLS *BindTLS
	// Proto is `proto h2`: HTTP/2 without TLS (prior knowledge).
	Proto string
}

// BalanceAlgo is the `balance` algorithm.
type BalanceAlgo int

const (
	BalanceRoundRobin BalanceAlgo = iota
	BalanceStaticRR
	BalanceLeastConn
	BalanceFirst
	BalanceSource
	BalanceURI
	BalanceURLParam
	BalanceHdr
	BalanceRandom
	BalanceRDPCookie
)

// HashType is `hash-type`.
type HashType int

const (
	HashMapBased HashType = iota
	HashConsistent
)

// Balance is `balance ALGO [args]` plus `hash-type`.
type Balance struct {
	Algo        BalanceAlgo
	URIWhole    bool
	URILen      int
	URIDepth    int
	Param       string // url_param name, hdr name, rdp-cookie name
	HashType    HashType
	Avalanche   bool
	RandomDraws int
	// HashFunction is the function of `hash-type … <function>`: "sdbm"
	// (default), "djb2", "wt6" or "crc32".
	HashFunction string
	URIPathOnly  bool // balance uri path-only
	// HdrUseDomainOnly is `balance hdr(name) use_domain_only`.
	HdrUseDomainOnly bool
}

// HTTPReuse is `http-reuse`.
type HTTPReuse int

const (
	ReuseSafe HTTPReuse = iota
	ReuseNever
	ReuseAggressive
	ReuseAlways
)

// Server is a `server` line with default-server applied.
type Server struct {
	Name string
	ID   int
	// IDForced: the ID was given (`id`), not assigned by position.
	IDForced bool
	Host     string // as written, before resolution
	Addr     netip.Addr
	// Path is set for a server on a UNIX socket (unix@PATH, /PATH, or
	// abns@NAME as "@NAME"); Addr and Port are then unused.
	Path      string
	Port      int // 0 = same port as the client connected to
	Weight    int // 0..256, default 1
	Backup    bool
	Disabled  bool
	NonStick  bool // never stored in a stick table (server non-stick)
	Maxconn   int
	Maxqueue  int
	Minconn   int // dynamic maxconn floor with the backend's fullconn
	Slowstart time.Duration
	Cookie    string
	SendProxy bool
	SSL       bool
	Verify    string
	Line      int
	// TLS holds the server's TLS settings (nil: Go's defaults).
	TLS *ServerTLS
	// Proto is `proto h2`: HTTP/2 without TLS (prior knowledge).
	Proto string

	Check        bool
	CheckPort    int
	CheckAddr    netip.Addr
	Inter        time.Duration // default 2s
	FastInter    time.Duration // default = Inter
	DownInter    time.Duration // default = Inter
	Rise, Fall   int           // default 2, 3
	OnMarkedDown string        // "shutdown-sessions" or ""
	OnMarkedUp   string
	// Resolved is false when the address could not be resolved and
	// init-addr allowed starting without it (server starts in MAINT).
	Resolved bool

	// SendProxyV2 is `send-proxy-v2`: the binary PROXY header instead of
	// the text one (SendProxy stays the v1 switch).
	SendProxyV2 bool

	// CheckAddrPort is the port given with `addr IP:PORT` (0: none).
	CheckAddrPort int
	// CheckSendProxy is `check-send-proxy`; CheckSSL is `check-ssl`
	// (checks over TLS even when traffic is not); CheckSNI, CheckALPN and
	// CheckProto are `check-sni`, `check-alpn`, `check-proto`.
	CheckSendProxy bool
	CheckSSL       bool
	CheckSNI       string
	CheckALPN      []string
	CheckProto     string

	// Agent is the `agent-check` configuration (nil without one).
	Agent *AgentCheck
	// Track is `track [BACKEND/]SERVER`, resolved to the backend and
	// server names ("" when not tracking).
	TrackBackend, TrackServer string
	// Resolvers names the resolvers section that resolves Host at run
	// time ("" when the address is only resolved at start-up);
	// ResolvePrefer is "ipv4" or "ipv6" (the default), ResolveNets the
	// preferred networks (resolve-net), ResolveOpts resolve-opts.
	// SRV is the SRV label of a server-template (`_svc._proto.name`),
	// whose records give the servers their targets and ports.
	Resolvers     string
	ResolvePrefer string
	ResolveNets   []netip.Prefix
	ResolveOpts   ResolveOpts
	SRV           string

	// Observe is `observe layer4|layer7` ("" when off); OnError the
	// `on-error` mode (fastinter, fail-check, sudden-death, mark-down;
	// default fail-check); ErrorLimit the `error-limit` (default 10).
	Observe    string
	OnError    string
	ErrorLimit int
}

// ResolveOpts are a server's resolve-opts.
type ResolveOpts struct {
	AllowDupIP, IgnoreWeight, PreventDupIP bool
}

// Resolvers is a `resolvers` section (configuration.txt §5.3.2).
type Resolvers struct {
	Name        string
	File        string
	Line        int
	Nameservers []Nameserver
	// Retries is resolve_retries (default 3); TimeoutResolve the interval
	// between resolutions, TimeoutRetry between queries without a valid
	// answer (both 1s by default).
	Retries                      int
	TimeoutResolve, TimeoutRetry time.Duration
	// Hold periods (defaults 30s, obsolete 0, valid 10s).
	HoldNX, HoldOther, HoldRefused, HoldTimeout, HoldValid, HoldObsolete time.Duration
	// PayloadSize is accepted_payload_size (default 512), the EDNS0
	// payload announced.
	PayloadSize int
}

// TCPKeepAlive is SO_KEEPALIVE on a connection's socket and its probes'
// timers (zero: the system's tcp_keepalive_* values).
type TCPKeepAlive struct {
	On          bool
	Idle, Intvl time.Duration // whole seconds
	Cnt         int
}

// Nameserver is one `nameserver NAME ADDR[:PORT]` (or one found by
// parse-resolv-conf); Network is "udp" or "tcp".
type Nameserver struct {
	Name    string
	Addr    netip.AddrPort
	Network string
}

// AgentCheck is a server's agent check (configuration.txt §5.2
// agent-check): a TCP connection to the agent, `agent-send` written, and
// the agent's one-line answer applied to the server.
type AgentCheck struct {
	// Enabled is agent-check (agent-* keywords may come without it, e.g.
	// on default-server).
	Enabled bool
	Addr    netip.Addr // agent-addr; invalid: the server's (or `addr`'s) address
	Port    int        // agent-port; 0: the check port
	Inter   time.Duration
	// Send is agent-send; HasSend tells an empty string from none.
	Send    string
	HasSend bool
}

// HealthCheck is a backend's health-check configuration as HAProxy holds
// it once the section is read (its tcpcheck_rules): the kind of check and,
// for `option tcp-check` and `option httpchk`, the rule sequence, with the
// implicit send of `option httpchk` already merged with `http-check send`
// the way HAProxy merges them. The protocol checks (mysql, pgsql, redis,
// smtp, ldap, ssl-hello, spop) carry only their options: package health
// holds their pre-written rule lists.
type HealthCheck struct {
	Type  CheckType
	Rules []CheckRule
	// User is the `user` of option mysql-check / pgsql-check.
	User string
	// MySQLPre41 selects the pre-4.1 MySQL client handshake.
	MySQLPre41 bool
	// SMTPHello is option smtpchk's greeting ("HELO localhost" when unset).
	SMTPHello string
	// DisableOn404 is `http-check disable-on-404`; SendState is
	// `http-check send-state`.
	DisableOn404 bool
	SendState    bool
}

// CheckType is the kind of health check (HAProxy's check option).
type CheckType int

const (
	CheckDefault  CheckType = iota // no check option: a plain connect
	CheckTCP                       // option tcp-check
	CheckHTTP                      // option httpchk
	CheckSSLHello                  // option ssl-hello-chk
	CheckMySQL                     // option mysql-check
	CheckPgSQL                     // option pgsql-check
	CheckRedis                     // option redis-check
	CheckSMTP                      // option smtpchk
	CheckLDAP                      // option ldap-check
	CheckSPOP                      // option spop-check
	CheckExternal                  // option external-check (not run)
)

// CheckAction is the kind of a tcp-check / http-check rule.
type CheckAction int

const (
	CheckConnect  CheckAction = iota // connect
	CheckSend                        // tcp-check send / send-lf / send-binary / send-binary-lf
	CheckSendHTTP                    // http-check send, or option httpchk's request
	CheckExpect                      // expect
	CheckComment                     // comment
	CheckSetVar                      // set-var(NAME) EXPR
	CheckUnsetVar                    // unset-var(NAME)
)

// CheckRule is one tcp-check or http-check rule, decoded but not compiled:
// sample expressions and log-format strings are compiled by package
// health. Index is HAProxy's rule index (comments count), which its
// messages print as "step Index+1".
type CheckRule struct {
	Action  CheckAction
	Index   int
	Comment string
	File    string
	Line    int

	// connect
	Port      int            // 0: the server's check port
	PortExpr  string         // port given as a sample expression
	Addr      netip.AddrPort // connect addr (port 0: none given)
	Default   bool           // `default`: the server's check settings
	SendProxy bool
	Linger    bool
	SSL       bool
	SNI       string
	ALPN      []string
	Proto     string // mux protocol ("h1", "h2", …)

	// send (tcp-check)
	Data   string // as written: text, hex for binary, format for -lf
	Binary bool
	LF     bool

	// send (http-check)
	Method, URI, Version string
	URILF, BodyLF        bool
	Headers              [][2]string // values are log-format strings
	Body                 string
	HasBody              bool
	// FromOption marks the request of `option httpchk` (HAProxy's
	// TCPCHK_SND_HTTP_FROM_OPT), merged with a later `http-check send`.
	FromOption bool

	Expect CheckMatch

	// set-var / unset-var
	Var  string // "check.x"
	Expr string // set-var's sample expression (set-var-fmt's format)
	Fmt  bool   // set-var-fmt: Expr is a log-format string
}

// CheckMatch is an expect rule: `[min-recv N] [!] TYPE PATTERN` and its
// options.
type CheckMatch struct {
	// Type: string, rstring, binary, rbinary, string-lf, binary-lf (tcp),
	// status, rstatus, string, rstring, string-lf, hdr (http; fhdr is hdr
	// with Full), custom (protocol checks).
	Type    string
	Negate  bool
	Pattern string
	MinRecv int // -1 when not given
	// OnSuccess / OnError are log-format strings; StatusCode a sample
	// expression.
	OnSuccess, OnError, StatusCode string
	// OKStatus, ErrorStatus, ToutStatus: "L7OK", "L7STS", "L7TOUT", …
	OKStatus, ErrorStatus, ToutStatus string
	// hdr / fhdr
	Full                  bool   // fhdr: the whole value, not comma-split
	NameMatch, ValueMatch string // str, beg, end, sub, reg
	NameLF, ValueLF       bool
	Name, Value           string
	HasValue              bool
}

// CookieConfig is `cookie NAME [insert|rewrite|prefix] [indirect] [nocache] …`.
type CookieConfig struct {
	Name     string
	Mode     string // "insert", "rewrite", "prefix"
	Indirect bool
	NoCache  bool
	PostOnly bool
	Preserve bool
	HTTPOnly bool
	Secure   bool
	Domain   []string
	MaxIdle  time.Duration
	MaxLife  time.Duration
	Dynamic  bool
	Attrs    []string
}

// Reply is an http-error answer whose parts are log-format strings
// (configuration.txt §4.2 http-error: `lf-string`, `lf-file`, `hdr`),
// rendered for each transaction by the layer-7 module (Module.ErrorReply).
type Reply struct {
	Status      int
	ContentType string
	Headers     [][2]string // name, log-format value (an empty result is not sent)
	Body        string
	BodyLF      bool // Body is a log-format string
}

// Capture is one `capture request|response header NAME len N`.
type Capture struct {
	Name string
	Len  int
	// Slot is its place among the proxy's capture slots (CaptureLens).
	Slot int
}

// StatsPage is `stats enable` and its friends in a proxy.
type StatsPage struct {
	URI         string // default "/haproxy?stats"
	Realm       string
	Auth        [][2]string // user, password
	Refresh     time.Duration
	Admin       *Cond
	HideVersion bool
	ShowLegends bool
	// ShowNode is `stats show-node [name]`: "-" without a name (the
	// global node is shown), "" when absent.
	ShowNode string
	// ShowDesc is `stats show-desc [text]`: ShowDescOn with Desc empty
	// shows the global description.
	ShowDescOn bool
	ShowDesc   string
	// Scope lists `stats scope` proxy names ("." is the proxy serving
	// the page); empty shows every proxy.
	Scope []string
	// HTTPRequest are `stats http-request` rules (allow, deny, auth),
	// evaluated on stats requests after the proxy's http-request rules.
	HTTPRequest []*HTTPRule
}

// Userlist is a `userlist` section.
type Userlist struct {
	Name   string
	Users  map[string]UserEntry
	Groups map[string][]string
}

// UserEntry is a `user` line in a userlist.
type UserEntry struct {
	Password string
	Insecure bool // "insecure-password": clear text
	Groups   []string
}

// ACL is a named `acl NAME criterion [flags] [operator] value…` line.
// Several lines with the same name OR together; Criteria keeps them in order.
type ACL struct {
	Name     string
	Criteria []*Criterion
}

// Criterion is one fetch+matcher+patterns test: a named acl line or an
// anonymous `{ … }` condition term.
type Criterion struct {
	Fetch      string // e.g. "path_beg", "hdr(host)", "src"
	FetchArgs  []string
	Converters []string
	Flags      []string // -i, -m beg, -f file …
	Match      string   // explicit -m method, or derived from the fetch suffix
	Values     []string
	Line       int
}

// Cond is a compiled `if`/`unless` condition: OR of ANDs of (negated) terms.
type Cond struct {
	Unless bool
	Or     [][]CondTerm
}

// CondTerm is one term of a condition: a named ACL or an anonymous one.
type CondTerm struct {
	Neg bool
	ACL *ACL // resolved named (or built-in like TRUE, METH_GET) or anonymous ACL
}

// UseBackend is `use_backend NAME if|unless COND`. Name may hold a
// log-format expression (dynamic use_backend); then Backend is nil.
type UseBackend struct {
	Backend *Proxy
	Dynamic string
	Cond    *Cond
	Line    int
}

// HTTPRule is one http-request / http-response / redirect rule.
type HTTPRule struct {
	Action string   // "set-header", "deny", "redirect", "return", …
	Args   []string // action arguments, already split
	Cond   *Cond
	Line   int
}

// TCPRule is one tcp-request rule.
type TCPRule struct {
	Stage  string // "connection", "content", "session", "inspect-delay"
	Action string
	Args   []string
	Cond   *Cond
	Line   int
}
