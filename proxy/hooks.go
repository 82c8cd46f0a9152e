package proxy

import (
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"halo/proxy/evloop"
	"halo/proxy/http1"
)

// Module extends the engine; see doc.go. Every field may be nil.
type Module struct {
	Name string
	// NewPicker returns the server picker of a backend, or nil to leave
	// the choice to a later module (the built-in round robin is the last
	// resort). Called once per backend by New.
	NewPicker func(b *Backend) Picker
	// Check validates what Init would build from cfg (compiled rules,
	// balance and check settings) without starting or opening anything:
	// `haproxy -c` and `halo compat` run it, so a configuration the
	// runtime would refuse is refused there too. Check(cfg) runs it.
	Check func(cfg *Config) error
	// Init runs once after every backend has its picker and before any
	// listener opens: compile rules, start health checks, open the stats
	// socket. An error aborts the start.
	Init func(rt *Runtime) error
	// Stop runs once when the runtime stops (after listeners close).
	Stop func()
	// Connection runs when a client connection is accepted (tcp-request
	// connection rules); false closes it at once. It may keep state for
	// the connection's lifetime in cc.State.
	Connection func(cc *ClientConn) bool
	// Disconnect runs when a client connection the Connection hooks
	// admitted closes.
	Disconnect func(cc *ClientConn)
	// Handshake runs after each TLS handshake that succeeded: on a client
	// connection (front) or towards a server, full or resumed (HAProxy's
	// SSL rates and key rates of show info).
	Handshake func(front, resumed bool)
	// Request runs after the request head is parsed (HTTP), or once per
	// connection before a server is chosen (TCP, tx.Req nil): first with
	// px = the frontend, then, if a different backend was chosen, with px
	// = that backend. In the frontend stage it applies use_backend by
	// setting tx.Backend. A verdict other than Continue stops the chain.
	Request func(tx *Txn, px *Proxy) Verdict
	// Response runs after the server's response head is parsed: backend
	// first, then the frontend (HAProxy's order). In TCP mode it runs once
	// the server connection is established, with tx.Resp nil (HAProxy's
	// response analysers: stick store rules); its verdict is then
	// ignored.
	Response func(tx *Txn, px *Proxy) Verdict
	// Log runs once per transaction (HTTP request or TCP connection) when
	// it ends, with every timer and counter filled.
	Log func(tx *Txn)
	// ErrorReply renders px's http-error answer r (log-format parts) for
	// tx (a complete raw response, valid until the transaction's next
	// reply); nil when the module cannot.
	ErrorReply func(tx *Txn, px *Proxy, r *Reply) []byte
	// NewFilter builds the filter fc of proxy px (filter.go), or returns
	// nil when the module does not implement that filter. Called once per
	// filter by New.
	NewFilter func(rt *Runtime, px *Proxy, fc *FilterConf) (Filter, error)
}

// ClientConn is a client connection as modules see it for its whole life
// (HAProxy's session): the Connection hooks may keep state in it, every
// transaction of the connection has it (Txn.Conn), and the Disconnect
// hooks see it last.
type ClientConn struct {
	Frontend *Frontend
	Src, Dst netip.AddrPort
	// FD is the client socket, for the fetches that ask the kernel about
	// it (fc_rtt and the other TCP_INFO counters); 0 when unknown.
	FD int
	// State is the layer-7 module's state for the connection (the stick
	// counters tcp-request connection and session rules track).
	State any
}

// Verdict is what a Request/Response hook decided.
type Verdict int

const (
	// Continue passes the transaction on.
	Continue Verdict = iota
	// Replied: the hook set tx.SetReply; the engine sends it instead of
	// forwarding (request stage) or instead of the server's response
	// (response stage).
	Replied
	// Reject closes the client connection without an answer
	// (http-request silent-drop, tcp-request reject).
	Reject
)

// Picker chooses a server of a backend for one transaction. Implementations
// must be safe for concurrent use. Pick returns ErrNoServer when no server
// is usable (the engine answers 503) and may block until k.Deadline for a
// server slot (maxconn queueing), then return ErrQueueTimeout. Take does
// the same for a server chosen by persistence (a cookie: HAProxy's
// SF_DIRECT streams), whose maxconn and queue apply too; it may return
// another server (the one it waited for left load balancing, or its queue
// is full and the backend redispatches). Each successful Pick or Take is
// paired with exactly one Release of the server it returned.
type Picker interface {
	Pick(k *PickKey) (*ServerState, error)
	Take(s *ServerState, k *PickKey) (*ServerState, error)
	Release(s *ServerState)
}

// Errors a Picker returns.
var (
	ErrNoServer     = errors.New("no server available")
	ErrQueueTimeout = errors.New("queue timeout")
)

// PickKey is what a picker may hash or inspect. Req is nil in TCP mode.
type PickKey struct {
	Src      netip.AddrPort
	Dst      netip.AddrPort
	Req      *http1.Message // URI, headers (hdr(name), url_param)
	Exclude  *ServerState   // redispatch: avoid the server that just failed
	Deadline time.Time      // end of queueing: timeout queue (else connect); zero when neither is set
	Txn      *Txn
	// SrvQueue and BeQueue are set by the picker: the positions the
	// stream had in the server's and the backend's queues (the log's
	// %sq and %bq), added to those of earlier picks.
	SrvQueue, BeQueue int64
}

// ServerStatus is a server's administrative/operational state.
type ServerStatus int32

const (
	SrvUp    ServerStatus = iota
	SrvDown               // failed health checks
	SrvMaint              // disabled / set server state maint
	SrvDrain              // takes no new traffic except persistence
	SrvNoLB               // up but excluded from load balancing (e.g. 404 with http-check disable-on-404)
)

// Counters are the atomic per-proxy and per-server figures the stats page
// and log lines need.
type Counters struct {
	CurConns  atomic.Int64 // current sessions
	MaxConns  atomic.Int64 // peak sessions
	TotConns  atomic.Int64 // cumulated sessions
	Requests  atomic.Int64 // HTTP requests (frontend) / sent to server
	BytesIn   atomic.Int64 // from client
	BytesOut  atomic.Int64 // to client
	DeniedReq atomic.Int64
	DeniedRsp atomic.Int64
	ErrReq    atomic.Int64 // bad requests
	ErrConn   atomic.Int64 // server connection errors
	ErrResp   atomic.Int64 // server response errors
	Retries   atomic.Int64
	Redisp    atomic.Int64
	ClientAb  atomic.Int64    // client aborts during data transfer
	ServerAb  atomic.Int64    // server aborts during data transfer
	Hrsp      [6]atomic.Int64 // 1xx..5xx, other
	LastSess  atomic.Int64    // unix seconds of the last session
	// Rate/queue figures a picker may maintain.
	CurQueue atomic.Int64
	MaxQueue atomic.Int64
	// Downs counts a backend's transitions to no usable server.
	Downs atomic.Int64
	// Filters' figures (frontends and backends): the cache's lookups and
	// hits, the compression's bytes in and out and compressed responses.
	CacheLookups, CacheHits  atomic.Int64
	CompIn, CompOut, CompRsp atomic.Int64
}

// connOpen counts a new session.
func (c *Counters) connOpen() {
	n := c.CurConns.Add(1)
	for {
		m := c.MaxConns.Load()
		if n <= m || c.MaxConns.CompareAndSwap(m, n) {
			break
		}
	}
	c.TotConns.Add(1)
}

// CountStatus adds one response with HTTP status st.
func (c *Counters) CountStatus(st int) {
	i := st/100 - 1
	if i < 0 || i > 4 {
		i = 5
	}
	c.Hrsp[i].Add(1)
}

// Txn is one transaction: an HTTP request/response exchange, or a TCP
// connection. Hooks read and change it; it is reused, never retain it.
type Txn struct {
	Frontend *Frontend
	// Bind is the bind line whose listener accepted the connection
	// (so_id, so_name).
	Bind *Bind
	// Conn is the client connection the transaction belongs to (nil for
	// the streams of an HTTP/2 connection).
	Conn    *ClientConn
	Backend *Backend // chosen backend; set by use_backend in Request hooks
	Server  *ServerState
	Req     *http1.Message // nil in TCP mode
	Resp    *http1.Message // nil until a response head is parsed

	Src, Dst netip.AddrPort
	SSL      bool
	// TLS is the client connection's TLS state (SNI in ServerName,
	// Version, NegotiatedProtocol, PeerCertificates); nil without TLS.
	TLS *tls.ConnectionState
	// ClientCert is the client certificate check (ssl_c_*); nil without TLS.
	ClientCert *ClientCertCheck
	// ServerTLS is the server connection's TLS state (ssl_bc_*, ssl_s_*);
	// nil before a server is connected or without `ssl`.
	ServerTLS *tls.ConnectionState

	// ReqLine is a copy of the request line as received ("GET / HTTP/1.1")
	// for logs (the head may be rewritten by rules).
	ReqLine []byte

	// Timers, HAProxy's names (configuration.txt §8.4); -1 when the step
	// was not reached.
	AcceptAt time.Time     // connection accept date
	ReqAt    time.Time     // transaction start (first byte of the request)
	Th       time.Duration // handshake (TLS) time
	Ti       time.Duration // idle time before the first byte
	TR       time.Duration // time to receive the full request head
	Tw       time.Duration // time in queues
	Tc       time.Duration // time to connect to the server
	Tr       time.Duration // server response time (head)
	Ta       time.Duration // active time: request start to end of response
	Tt       time.Duration // total session time (TCP) / Ta + Ti + Th (HTTP)

	Status   int   // HTTP status sent to the client (-1 none)
	BytesIn  int64 // bytes read from the client
	BytesOut int64 // bytes sent to the client
	Retries  int
	// ReqChunked and RespChunked are the HTX sizes of complete chunked
	// bodies (http1.Chunked.HTXSize), 0 otherwise.
	ReqChunked, RespChunked int64
	// Redispatched: a retry went to another server (option redispatch);
	// the log prefixes the retries with '+'.
	Redispatched bool
	// Term is HAProxy's two-character termination state ("--", "CD",
	// "sH", "SC", "PR", …).
	Term [2]byte
	// Refused says the engine answered the request itself before any
	// Request hook ran (the Log hook counts it on the connection's
	// tracked counters as HAProxy does).
	Refused Refusal
	// ConnErr is HAProxy's error code of the client connection (fc_err,
	// CO_ER_*): not 0 only for the log line of a connection that failed
	// before any request (a TLS handshake); SSLErr is then OpenSSL's
	// error code for the handshake's failure (ssl_fc_err), 0 if none.
	ConnErr int
	SSLErr  uint32
	// Connection counts at log time: actconn, feconn, beconn, srv_conn.
	ActConn, FeConn, BeConn, SrvConn int64
	// SrvQueue and BeQueue are the stream's queue positions (%sq, %bq):
	// how many streams the server's and the backend's queues served from
	// its arrival to its own departure, itself included; 0 unqueued.
	SrvQueue, BeQueue int64

	// Reply, when set by a hook with SetReply, is answered instead of
	// forwarding. Raw is a complete HTTP/1.1 response (errorfile format);
	// the engine re-frames it for the client (lower-cased header names and
	// Connection handling as HAProxy's HTX path does).
	Reply      []byte
	ReplyClose bool

	// ReqBody is the part of the request body already received when the
	// Request hooks run (still chunk-framed for a chunked body), and
	// ReqBodyFull says it is all of it. Read-only (stats admin forms).
	ReqBody     []byte
	ReqBodyFull bool

	// Module scratch space (captures, variables), reset per transaction.
	Vars map[string][]byte
	// RuleState is the layer-7 module's per-transaction state (package
	// rules: variables, captures, the log line's inputs). It is set by
	// that module's first hook and handed back to its pool by its Log hook;
	// the engine only clears it between transactions.
	RuleState any

	// Payload is the client's first bytes read while tcp-request content
	// rules wait for them (mode tcp with tcp-request inspect-delay); they
	// are forwarded to the server unchanged. PayloadFinal says no more
	// will be read (see MorePayload).
	Payload      []byte
	PayloadFinal bool
	// SrvTimeout and TunTimeout are the stream's own server and tunnel
	// timeouts, set by http-request set-timeout (0: the backend's).
	SrvTimeout, TunTimeout time.Duration
	// ResPayload is the server's first bytes read while tcp-response
	// content rules wait for them (mode tcp); they are forwarded to the
	// client unchanged. ResPayloadFinal: no more will be read (see
	// MoreResPayload).
	ResPayload      []byte
	ResPayloadFinal bool

	// Applet, set by a Request hook, answers the request instead of a
	// server (a cache hit); Cache is the cache's state for the
	// transaction; Comp names the algorithm compressing the response ("":
	// not compressed), as res.comp_algo reads it (filter.go).
	Applet Applet
	Cache  TxnCache
	Comp   string

	// internal
	flt         filterChain  // the attached filters (filter.go)
	payConn     net.Conn     // client connection MorePayload reads from
	payEC       *evloop.Conn // its socket (deadlines)
	loop        *evloop.Loop // the event loop running the transaction
	payUntil    time.Time    // inspect-delay expiry
	payMax      int          // buffer size (tune.bufsize)
	resConn     net.Conn     // server connection MoreResPayload reads from
	resEC       *evloop.Conn // its socket (deadlines)
	resUntil    time.Time    // tcp-response inspect-delay expiry
	resOnce     bool         // no inspect-delay: the first bytes are final
	resCli      net.Conn     // the client, relayed to the server meanwhile
	resCliEC    *evloop.Conn
	resCliBuf   []byte
	resCliDone  bool  // the client's side ended while relayed
	resCliIn    int64 // client bytes relayed meanwhile
	firstReq    bool
	held        bool        // a slot is held on Server (Pick or Take): Release is owed
	released    bool        // the picked server was released
	observed    Observation // the response's outcome for `observe`, told once the server is released
	leftBackend bool        // the backend session count was decremented
	picked      bool        // tx.Server came from the Picker, not from persistence
}

// Refusal is why the engine answered a request without the Request hooks.
type Refusal uint8

const (
	NotRefused     Refusal = iota
	RefusedParse           // the H1 layer could not parse the head (400, 422)
	RefusedTimeout         // timeout http-request (408)
	RefusedStream          // a parsed head HAProxy's stream refuses (400: PRI)
)

// SetReply makes the engine answer raw (a full HTTP response) instead of
// forwarding; close forces the client connection to close afterwards.
func (tx *Txn) SetReply(raw []byte, close bool) {
	tx.Reply = raw
	tx.ReplyClose = close
}

// FirstRequest reports whether this is the first request of its client
// connection (the http_first_req fetch).
func (tx *Txn) FirstRequest() bool { return tx.firstReq }

// ErrorPage returns the raw response HAProxy would send for status
// (http_error_message): the backend's error page, else the frontend's,
// else the built-in page. An empty page means closing without an answer.
func (tx *Txn) ErrorPage(status int) []byte {
	if tx.Backend != nil {
		if b, ok := tx.errorPageOf(tx.Backend.Proxy, status); ok {
			return b
		}
	}
	if tx.Frontend != nil {
		if b, ok := tx.errorPageOf(tx.Frontend.Proxy, status); ok {
			return b
		}
	}
	return DefaultErrorPage(status)
}

func (tx *Txn) errorPageOf(px *Proxy, status int) ([]byte, bool) {
	if r := px.ErrorReplies[status]; r != nil && tx.Frontend != nil {
		if b := tx.Frontend.rt.errorReply(tx, px, r); b != nil {
			return b, true
		}
	}
	b, ok := px.ErrorFiles[status]
	return b, ok
}

// muxErrorPage is the page of an error HAProxy's H1 layer answers
// itself (a request it could not read): the frontend's errorfile, never
// an http-error built per transaction, else the built-in page.
func (tx *Txn) muxErrorPage(status int) []byte {
	if tx.Frontend != nil {
		if b, ok := tx.Frontend.Proxy.ErrorFiles[status]; ok {
			return b
		}
	}
	return DefaultErrorPage(status)
}

// errorReply renders r through the first module that can.
func (rt *Runtime) errorReply(tx *Txn, px *Proxy, r *Reply) []byte {
	for i := range rt.modules {
		if f := rt.modules[i].ErrorReply; f != nil {
			if b := f(tx, px, r); b != nil {
				return b
			}
		}
	}
	return nil
}

func (tx *Txn) reset() {
	v := tx.Vars
	for k := range v {
		delete(v, k)
	}
	rl := tx.ReqLine[:0]
	*tx = Txn{} // cleared in place: no Txn-sized temporary on the stack
	tx.Vars, tx.ReqLine = v, rl
	tx.Th, tx.Ti, tx.TR, tx.Tw, tx.Tc, tx.Tr, tx.Ta, tx.Tt = -1, -1, -1, -1, -1, -1, -1, -1
	tx.Status = -1
	tx.Term = [2]byte{'-', '-'}
}

// serverTimeout is the server timeout of the stream: set-timeout's, else
// the backend's.
func (tx *Txn) serverTimeout() time.Duration {
	if tx.SrvTimeout > 0 {
		return tx.SrvTimeout
	}
	return tx.Backend.Proxy.Timeouts.Server
}

func (tx *Txn) setTerm(cause, state byte) {
	if tx.Term[0] == '-' {
		tx.Term[0] = cause
	}
	if tx.Term[1] == '-' {
		tx.Term[1] = state
	}
}

// handshaked tells the modules that a TLS handshake succeeded.
func (rt *Runtime) handshaked(front bool, cs *tls.ConnectionState) {
	for i := range rt.modules {
		if f := rt.modules[i].Handshake; f != nil {
			f(front, cs.DidResume)
		}
	}
}
