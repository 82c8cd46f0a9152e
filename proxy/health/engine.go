package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/logging"
)

// descLen is HAProxy's HCHK_DESC_LEN: a check's info text holds at most
// descLen-1 bytes, and stops at a NUL byte (it is a C string there).
const descLen = 128

// Target is where and how a check connects, resolved from the server
// line once: the address and port of its default connection, and the
// server settings the `default` connect options inherit.
type Target struct {
	// Addr is the server's address and its check port (check `port`,
	// `addr IP:PORT`, agent-port, or the server's port).
	Addr netip.AddrPort
	// TLS, when set, makes default connections TLS (ssl, check-ssl);
	// SNI and ALPN are check-sni / check-alpn.
	TLS  *tls.Config
	SNI  string
	ALPN []string
	// SendProxy is check-send-proxy (or send-proxy without a check port);
	// ProxyV2 picks the binary header.
	SendProxy, ProxyV2 bool
	// H2 makes default connections of HTTP checks speak HTTP/2
	// (check-proto h2, or the server's proto h2).
	H2 bool
	// FollowServer: Addr is the server's own address (no check addr),
	// which DNS may change at run time; FollowPort: its port too (no
	// check port).
	FollowServer, FollowPort bool
}

// Timing bounds one check run (see Timeouts): the connection gets
// Connect; with RefreshOnConnect the answer then gets Read from the moment
// the connection is established, otherwise the whole check must finish
// within Connect.
type Timing struct {
	Connect, Read    time.Duration
	RefreshOnConnect bool
}

// Timeouts computes a check's timing from inter, `timeout connect` and
// `timeout check`. Without `timeout check` the whole check must finish
// within inter. With it, the connection gets min(inter, timeout connect),
// and the answer is waited for max(timeout check, min(inter, 1s)): that
// is what haproxy 2.6.12 measures (e.g. check 200ms/inter 3s times out
// after 1s, check 3s/inter 1s after 3s, check 300ms/inter 500ms after
// 500ms), the check task only noticing the shorter `timeout check` on its
// next wake-up.
func Timeouts(inter, connect, check time.Duration) (conn, read time.Duration) {
	if check <= 0 {
		return inter, inter
	}
	conn = inter
	if connect > 0 && connect < conn {
		conn = connect
	}
	read = min(inter, time.Second)
	if check > read {
		read = check
	}
	return conn, read
}

// Env is what a run needs from the server beyond its target: state for
// disable-on-404 and send-state, and names for the check's samples.
type Env struct {
	Proxy, Server string
	// Stopped reports whether the server's next state is DOWN (a 404 only
	// counts as "stopping" for a server that is not down).
	Stopped func() bool
	// StateHeader renders the X-Haproxy-Server-State value.
	StateHeader func() string
	// Vars are check.* variables preset before the first rule (agent-send).
	Vars    [][2]string
	Bufsize int
	// PrevStatus is the check's previous status (an agent's incomplete
	// line keeps it).
	PrevStatus Status
	// Engine, when set, names the check's backend and server to the
	// sample fetches (be_name, srv_name, srv_id… in -lf formats).
	Engine *proxy.Txn
}

// run is one check execution: HAProxy's tcpcheck_main over one
// connection at a time, written as straight-line blocking code.
type run struct {
	rs  *Ruleset
	tg  *Target
	env *Env
	tm  Timing

	ctx      context.Context
	conn     net.Conn
	tcp      *net.TCPConn
	ssl      bool
	linger   bool
	in       []byte
	eos      bool
	rerr     error
	deadline time.Time
	cur      *rule

	// result: HAProxy's check->status, ->code and ->desc
	status Status
	code   int
	desc   string
	done   bool

	actx  acl.Ctx
	txn   checkTxn
	entry logging.Entry

	agent           *AgentReply // an agent's parsed answer
	agentIncomplete bool
}

// Run executes ruleset rs once against tg and returns the result.
func (rs *Ruleset) Run(ctx context.Context, tg *Target, env *Env, tm Timing) Result {
	res, _ := rs.exec(ctx, tg, env, tm)
	return res
}

// exec runs the ruleset; an agent check also returns the agent's reply.
func (rs *Ruleset) exec(ctx context.Context, tg *Target, env *Env, tm Timing) (Result, *AgentReply) {
	r := &run{rs: rs, tg: tg, env: env, tm: tm, ctx: ctx}
	start := time.Now()
	r.main()
	r.close()
	return Result{Status: r.status, Code: r.code, Info: r.desc, Duration: time.Since(start)}, r.agent
}

func (r *run) set(st Status, desc string) {
	r.status, r.desc, r.done = st, cDesc(desc), true
}

// cDesc truncates a message as HAProxy's check->desc holds it.
func cDesc(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if len(s) > descLen-1 {
		s = s[:descLen-1]
	}
	return s
}

func (r *run) bufsize() int {
	if r.env.Bufsize > 0 {
		return r.env.Bufsize
	}
	return 16384
}

func (r *run) main() {
	r.actx.T = &r.txn
	r.txn.r = r
	r.actx.Backend = r.env.Proxy
	r.entry.Ctx = &r.actx
	for _, v := range r.rs.vars {
		r.actx.Vars.Set(v[0], acl.Value{Kind: acl.KStr, B: []byte(v[1])})
	}
	for _, v := range r.env.Vars {
		r.actx.Vars.Set(v[0], acl.Value{Kind: acl.KStr, B: []byte(v[1])})
	}
	mustRead := true
	rules := r.rs.rules
	for i := 0; i < len(rules); i++ {
		ru := rules[i]
		r.code = 0
		var ret evalRet
		switch ru.kind {
		case actConnect:
			r.cur = ru
			ret = r.connect(ru, r.next(i))
			mustRead = true
		case actSend:
			r.cur = ru
			ret = r.send(ru)
			mustRead = true
		case actExpect:
			r.cur = ru
			lastRead := r.eos || r.rerr != nil
			if mustRead {
				if ret = r.recv(ru); ret == evalStop {
					return
				}
				lastRead = r.eos || r.rerr != nil
				mustRead = false
			}
			if r.rs.Proto == ProtoHTTP {
				ret = r.expectHTTP(ru, lastRead)
			} else {
				ret = r.expect(ru, lastRead)
			}
			if ret == evalWait {
				// Read more, then re-evaluate from the chain's head.
				i = ru.head - 1
				mustRead = true
				continue
			}
		case actSetVar:
			if ru.fmt != nil {
				r.actx.Vars.Set(ru.varName, acl.Value{Kind: acl.KStr, B: ru.fmt.Append(nil, &r.entry)})
			} else if v, ok := ru.expr.Eval(&r.actx); ok {
				r.actx.Vars.Set(ru.varName, v)
			}
		case actUnsetVar:
			r.actx.Vars.Unset(ru.varName)
		}
		if ret == evalStop {
			return
		}
	}
	r.succeed()
}

// next is the rule evaluated after rules[i] (the connect's delayed-ACK
// choice depends on it).
func (r *run) next(i int) *rule {
	for _, ru := range r.rs.rules[i+1:] {
		if ru.kind != actSetVar && ru.kind != actUnsetVar {
			return ru
		}
	}
	return nil
}

// succeed sets the status once every rule passed, from the last one run.
func (r *run) succeed() {
	ru := r.cur
	switch {
	case ru == nil:
		r.set(StatusL7OK, "(tcp-check)")
	case ru.kind == actExpect:
		if r.rs.disableOn404 && r.code == 404 && !r.stopped() {
			r.set(StatusL7OKC, "")
			return
		}
		msg := r.successMessage(ru)
		st := StatusL7OK
		if ru.okStatus != StatusUnknown {
			st = ru.okStatus
		}
		r.set(st, msg)
	case ru.kind == actConnect:
		st := StatusL4OK
		if r.ssl {
			st = StatusL6OK
		}
		msg := ""
		if !ru.implicit {
			msg = "(tcp-check)"
		}
		r.set(st, msg)
	default:
		r.set(StatusL7OK, "(tcp-check)")
	}
}

func (r *run) stopped() bool { return r.env.Stopped != nil && r.env.Stopped() }

func (r *run) close() {
	if r.conn == nil {
		return
	}
	// HAProxy closes check connections with a reset unless the rule asked
	// for a clean close (`linger`) or the server closed first.
	if r.tcp != nil && !r.linger && !r.eos {
		_ = r.tcp.SetLinger(0)
	}
	r.conn.Close()
	r.conn, r.tcp = nil, nil
}

// connect opens the rule's connection (tcpcheck_eval_connect).
func (r *run) connect(ru *rule, next *rule) evalRet {
	r.close()
	r.in, r.eos, r.rerr, r.ssl = r.in[:0], false, nil, false
	dst := r.tg.Addr
	addr := dst.Addr()
	if ru.addr.Addr().IsValid() {
		addr = ru.addr.Addr()
	}
	port := ru.port
	if port == 0 && ru.portExpr != nil {
		if v, ok := ru.portExpr.Eval(&r.actx); ok {
			if n, err := strconv.Atoi(string(bytes.TrimSpace(v.AppendText(nil)))); err == nil {
				port = n
			}
		}
	}
	if port == 0 && ru.addr.Port() != 0 {
		port = int(ru.addr.Port())
	}
	if port == 0 {
		port = int(dst.Port())
	}
	to := netip.AddrPortFrom(addr, uint16(port))
	r.deadline = time.Now().Add(r.tm.Connect)
	// A check that sends nothing first lets the kernel delay the last ACK
	// of the handshake (TCP_QUICKACK off), so that a pure connect check
	// ends with a reset before the server ever accepts: the server sees
	// no connection (HAProxy's CONNECT_DELACK_ALWAYS).
	// Agent connections are acknowledged at once (measured on haproxy
	// 2.6.12: the agent sees the connection while its check waits).
	delack := (next == nil || next.kind != actExpect) && r.rs.Proto != ProtoAgent
	d := net.Dialer{Deadline: r.deadline}
	if delack {
		d.Control = func(network, address string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 0)
			})
		}
	}
	c, err := d.DialContext(r.ctx, "tcp", to.String())
	if err != nil {
		r.connError(err, errL4)
		return evalStop
	}
	r.conn, r.tcp = c, c.(*net.TCPConn)
	r.linger = ru.linger
	sendProxy := ru.sendProxy || (ru.def && r.tg.SendProxy)
	if sendProxy {
		if _, err := c.Write(proxyHeader(c, r.tg.ProxyV2)); err != nil {
			r.connError(err, errEstablished)
			return evalStop
		}
	}
	var tc *tls.Config
	switch {
	case ru.ssl:
		tc = &tls.Config{InsecureSkipVerify: true}
		if r.tg.TLS != nil {
			tc = r.tg.TLS.Clone()
		}
	case ru.def && r.tg.TLS != nil:
		tc = r.tg.TLS.Clone()
	}
	if tc != nil {
		tc.ServerName = ""
		if ru.sni != "" {
			tc.ServerName = ru.sni
		} else if ru.def && r.tg.SNI != "" {
			tc.ServerName = r.tg.SNI
		}
		if len(ru.alpn) > 0 {
			tc.NextProtos = ru.alpn
		} else if ru.def && len(r.tg.ALPN) > 0 {
			tc.NextProtos = r.tg.ALPN
		}
		c.SetDeadline(r.deadline)
		tlsc := tls.Client(c, tc)
		if err := tlsc.HandshakeContext(r.ctx); err != nil {
			r.connError(err, errL6)
			return evalStop
		}
		r.conn, r.ssl = tlsc, true
	}
	if r.rs.Proto == ProtoHTTP && r.wantH2(ru) {
		r.conn.SetDeadline(r.deadline)
		hc, err := newH2Conn(r.conn, r.ssl)
		if err != nil {
			r.connError(err, errEstablished)
			return evalStop
		}
		r.conn = hc
	}
	if r.tm.RefreshOnConnect {
		r.deadline = time.Now().Add(r.tm.Read)
	}
	r.conn.SetDeadline(r.deadline)
	return evalContinue
}

// wantH2 is the mux an HTTP check's connection gets: the rule's proto,
// else for a default connection check-proto / the server's proto, else
// what TLS negotiated with ALPN.
func (r *run) wantH2(ru *rule) bool {
	switch {
	case ru.proto != "":
		return ru.proto == "h2"
	case ru.def && r.tg.H2:
		return true
	}
	if tc, ok := r.conn.(*tls.Conn); ok {
		return tc.ConnectionState().NegotiatedProtocol == "h2"
	}
	return false
}

// proxyHeader is the PROXY protocol header of a check connection: v1
// with the connection's own addresses, v2 as a LOCAL command (no client).
func proxyHeader(c net.Conn, v2 bool) []byte {
	if v2 {
		return []byte("\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00")
	}
	src, _ := netip.ParseAddrPort(c.LocalAddr().String())
	dst, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	fam := "TCP4"
	if src.Addr().Unmap().Is6() {
		fam = "TCP6"
	}
	return []byte("PROXY " + fam + " " + src.Addr().Unmap().String() + " " + dst.Addr().Unmap().String() + " " +
		strconv.Itoa(int(src.Port())) + " " + strconv.Itoa(int(dst.Port())) + "\r\n")
}

// send writes a send rule's data (tcpcheck_eval_send).
func (r *run) send(ru *rule) evalRet {
	r.in = r.in[:0] // a new send forgets what was read
	var data []byte
	switch ru.send {
	case sendString:
		data = ru.data
		if len(data) >= r.bufsize() {
			r.set(StatusL7Rsp, "tcp-check send : string too large ("+itoa(len(data))+") for buffer size ("+itoa(r.bufsize())+") at step "+itoa(ru.stepID()))
			return evalStop
		}
	case sendStringLF:
		data = ru.fmt.Append(nil, &r.entry)
		if len(data) == 0 {
			return evalContinue
		}
	case sendBinaryLF:
		txt := ru.fmt.Append(nil, &r.entry)
		if len(txt) == 0 {
			return evalContinue
		}
		b, err := parseBinary(string(txt))
		if err != nil {
			r.set(StatusL7Rsp, "tcp-check send : failed to build log-format string at step "+itoa(ru.stepID()))
			return evalStop
		}
		data = b
	case sendFunc:
		data = ru.sendFn(r)
	case sendHTTP:
		data = r.buildRequest(ru.http)
	}
	if _, err := r.conn.Write(data); err != nil {
		r.connError(err, errEstablished)
		return evalStop
	}
	return evalContinue
}

// recv reads what the server sent before an expect rule
// (tcpcheck_eval_recv).
func (r *run) recv(ru *rule) evalRet {
	if r.eos || r.rerr != nil {
		if len(r.in) == 0 {
			return r.emptyResponse(ru)
		}
		return evalContinue
	}
	if len(r.in) >= r.bufsize() {
		return evalContinue
	}
	if cap(r.in) < r.bufsize() {
		nb := make([]byte, len(r.in), r.bufsize())
		copy(nb, r.in)
		r.in = nb
	}
	n, err := r.conn.Read(r.in[len(r.in):cap(r.in)])
	r.in = r.in[:len(r.in)+n]
	if err != nil {
		if isTimeout(err) {
			r.expired()
			return evalStop
		}
		if errors.Is(err, io.EOF) {
			r.eos = true
		} else {
			r.rerr = err
			if len(r.in) == 0 {
				// Network errors count only without any data: a reset
				// just after the last bytes is common.
				r.connError(err, errEstablished)
				return evalStop
			}
		}
		if n == 0 && len(r.in) == 0 && r.rs.Proto != ProtoHTTP {
			// HTTP checks let the expect rule see the empty, ended
			// response: HAProxy reports L7RSP without the "empty
			// response" text there (recorded in http.case).
			return r.emptyResponse(ru)
		}
	}
	return evalContinue
}

func (r *run) emptyResponse(ru *rule) evalRet {
	msg := "TCPCHK got an empty response at step " + itoa(ru.stepID())
	if ru.comment != "" {
		msg += " comment: '" + ru.comment + "'"
	}
	st := StatusL7Rsp
	if ru.errStatus != StatusUnknown {
		st = ru.errStatus
	}
	r.set(st, msg)
	return evalStop
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// The layer a connection error happened at.
type errLayer int

const (
	errL4          errLayer = iota // while connecting
	errL6                          // during the TLS handshake
	errEstablished                 // once connected
)

// connError reports a connection failure or timeout the way HAProxy's
// chk_report_conn_err words it.
func (r *run) connError(err error, layer errLayer) {
	if isTimeout(err) || errors.Is(err, context.DeadlineExceeded) {
		if layer == errEstablished {
			r.expired()
			return
		}
		st := StatusL4Tout
		if layer == errL6 {
			st = StatusL6Tout
		}
		r.set(st, r.stepInfo())
		return
	}
	if r.ctx.Err() != nil {
		r.set(StatusSockErr, r.stepInfo())
		return
	}
	var errno syscall.Errno
	text := ""
	if errors.As(err, &errno) {
		text = strerror(errno)
	}
	switch layer {
	case errL4:
		if text == "" {
			r.set(StatusSockErr, err.Error()+r.stepInfo())
			return
		}
		r.set(StatusL4Con, text+r.stepInfo())
	case errL6:
		msg := sslErrorText(err)
		if text != "" {
			msg += " (" + text + ")"
		}
		r.set(StatusL6Rsp, msg+r.stepInfo())
	default:
		r.set(StatusSockErr, text+r.stepInfo())
	}
}

// expired reports a check that ran out of time once connected.
func (r *run) expired() {
	st := StatusL7Tout
	if r.cur != nil && r.cur.kind == actExpect && r.cur.toutSt != StatusUnknown {
		st = r.cur.toutSt
	}
	r.set(st, r.stepInfo())
}

// sslErrorText names a failed TLS handshake as HAProxy's conn_err_code_str.
func sslErrorText(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "Connection closed during SSL handshake"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return "Connection error during SSL handshake"
	}
	return "SSL handshake failure"
}

// stepInfo is the step description HAProxy appends to connection errors
// of plain tcp-check rulesets (" at step 2 of tcp-check (connect port
// 80)"); other rulesets get nothing.
func (r *run) stepInfo() string {
	if r.rs.Proto != ProtoTCP {
		return ""
	}
	ru := r.cur
	id := ru.stepID()
	if id == 0 {
		return " at initial connection step of tcp-check"
	}
	var b strings.Builder
	b.WriteString(" at step " + itoa(id) + " of tcp-check")
	switch ru.kind {
	case actConnect:
		if ru.port != 0 {
			b.WriteString(" (connect port " + itoa(ru.port) + ")")
		} else {
			b.WriteString(" (connect)")
		}
	case actExpect:
		b.WriteString(expectDesc(ru))
	case actSend:
		b.WriteString(" (send)")
	}
	if ru.comment != "" {
		b.WriteString(" comment: '" + ru.comment + "'")
	}
	return b.String()
}

func expectDesc(ru *rule) string {
	switch ru.exp {
	case expString:
		return " (expect string '" + string(ru.pattern) + "')"
	case expBinary:
		return " (expect binary '" + string(ru.pattern) + "')"
	case expStringRegex:
		return " (expect regex)"
	case expBinaryRegex:
		return " (expect binary regex)"
	case expStringLF:
		return " (expect log-format string)"
	case expBinaryLF:
		return " (expect log-format binary)"
	case expHTTPStatus:
		return " (expect HTTP status codes)"
	case expHTTPStatusRegex:
		return " (expect HTTP status regex)"
	case expHTTPHeader:
		return " (expect HTTP header pattern)"
	case expHTTPBody:
		return " (expect HTTP body content '" + string(ru.pattern) + "')"
	case expHTTPBodyRegex:
		return " (expect HTTP body regex)"
	case expHTTPBodyLF:
		return " (expect log-format HTTP body)"
	case expCustom:
		return " (expect custom function)"
	}
	return " (undefined expect!)"
}

// strerror is glibc's wording of an errno (Go's texts are lower-case and
// sometimes differ).
func strerror(e syscall.Errno) string {
	if s, ok := glibcErrors[e]; ok {
		return s
	}
	s := e.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

var glibcErrors = map[syscall.Errno]string{
	syscall.ECONNREFUSED:  "Connection refused",
	syscall.ECONNRESET:    "Connection reset by peer",
	syscall.EHOSTUNREACH:  "No route to host",
	syscall.ENETUNREACH:   "Network is unreachable",
	syscall.ETIMEDOUT:     "Connection timed out",
	syscall.EPIPE:         "Broken pipe",
	syscall.EADDRNOTAVAIL: "Cannot assign requested address",
}

// expect evaluates a raw (non-HTTP) expect rule (tcpcheck_eval_expect).
func (r *run) expect(ru *rule, lastRead bool) evalRet {
	lastRead = lastRead || len(r.in) >= r.bufsize()
	if !lastRead {
		if (ru.exp == expString || ru.exp == expBinary) && len(r.in) < len(ru.pattern) {
			return evalWait
		}
		if ru.minRecv > 0 && len(r.in) < ru.minRecv {
			return evalWait
		}
	}
	var match bool
	st := StatusL7Rsp
	if ru.errStatus != StatusUnknown {
		st = ru.errStatus
	}
	desc := ""
	switch ru.exp {
	case expString, expBinary:
		match = bytes.Contains(r.in, ru.pattern)
	case expStringRegex:
		n := min(len(r.in), r.bufsize()-1)
		match = ru.re.Match(r.in[:n])
	case expBinaryRegex:
		match = ru.re.MatchString(dumpBinary(r.in))
	case expStringLF, expBinaryLF:
		match = false
		pat := ru.fmt.Append(nil, &r.entry)
		if len(pat) == 0 {
			st, desc = StatusL7Rsp, "log-format string evaluated to an empty string"
			return r.expectFailed(ru, st, false, desc)
		}
		if ru.exp == expBinaryLF {
			b, err := parseBinary(string(pat))
			if err != nil {
				st, desc = StatusL7Rsp, "Failed to parse hexastring resulting of eval of a log-format string"
				return r.expectFailed(ru, st, false, desc)
			}
			pat = b
		}
		if len(r.in) < len(pat) {
			if !lastRead {
				return evalWait
			}
			break
		}
		match = bytes.Contains(r.in, pat)
	case expCustom:
		return ru.custom(r, ru, lastRead)
	default:
		r.set(StatusL7Rsp, "")
		return evalStop
	}
	// Without min-recv a mismatch may still become a match.
	if !match && !lastRead && ru.minRecv == -1 {
		return evalWait
	}
	if match != ru.inverse {
		return evalContinue
	}
	return r.expectFailed(ru, st, match, desc)
}

// expectFailed sets the status of a failed expect with HAProxy's info
// text (tcpcheck_expect_onerror_message).
func (r *run) expectFailed(ru *rule, st Status, match bool, info string) evalRet {
	r.set(st, r.errorMessage(ru, match, info))
	return evalStop
}

func (r *run) errorMessage(ru *rule, match bool, info string) string {
	var b strings.Builder
	switch {
	case info != "":
		b.WriteString(info)
	case ru.onError != nil:
		b.Write(ru.onError.Append(nil, &r.entry))
	case ru.onErrorFn != nil:
		b.WriteString(ru.onErrorFn(r))
	case r.rs.Proto != ProtoTCP && r.rs.Proto != ProtoNone:
	default:
		if match {
			b.WriteString("TCPCHK matched unwanted content")
		} else {
			b.WriteString("TCPCHK did not match content")
		}
		step := itoa(ru.stepID())
		switch ru.exp {
		case expHTTPStatus:
			b.WriteString("(status codes) at step " + step)
		case expString, expHTTPBody:
			b.WriteString(" '" + string(ru.pattern) + "' at step " + step)
		case expBinary:
			b.WriteString(" (binary) at step " + step)
		case expStringRegex, expHTTPStatusRegex, expHTTPBodyRegex:
			b.WriteString(" (regex) at step " + step)
		case expBinaryRegex:
			b.WriteString(" (binary regex) at step " + step)
		case expStringLF, expHTTPBodyLF:
			b.WriteString(" (log-format string) at step " + step)
		case expBinaryLF:
			b.WriteString(" (log-format binary) at step " + step)
		case expCustom:
			b.WriteString(" (custom function) at step " + step)
		case expHTTPHeader:
			// HAProxy returns before the comment and the status code here.
			b.WriteString(" (header pattern) at step " + step)
			return b.String()
		}
	}
	if ru.comment != "" {
		b.WriteString(" comment: " + ru.comment)
	}
	r.statusCode(ru)
	return b.String()
}

// successMessage is tcpcheck_expect_onsuccess_message.
func (r *run) successMessage(ru *rule) string {
	var msg string
	switch {
	case ru.onSuccess != nil:
		msg = string(ru.onSuccess.Append(nil, &r.entry))
	case ru.onSuccessFn != nil:
		msg = ru.onSuccessFn(r)
	case r.rs.Proto == ProtoTCP:
		msg = "(tcp-check)"
	}
	r.statusCode(ru)
	return msg
}

// statusCode applies an expect's status-code expression to the code.
func (r *run) statusCode(ru *rule) {
	switch {
	case ru.statusExpr != nil:
		if v, ok := ru.statusExpr.Eval(&r.actx); ok {
			if n, ok := leadingInt(v.AppendText(nil)); ok {
				r.code = n
			}
		}
	case ru.statusFn != nil:
		if n, ok := ru.statusFn(r); ok {
			r.code = n
		}
	}
}

func leadingInt(b []byte) (int, bool) {
	b = bytes.TrimSpace(b)
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	n, i := 0, 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int(b[i]-'0')
		i++
	}
	if i == 0 {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// dumpBinary is HAProxy's dump_binary: upper-case hex digits, which
// rbinary patterns are matched against.
func dumpBinary(b []byte) string {
	const hx = "0123456789ABCDEF"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = hx[c>>4], hx[c&15]
	}
	return string(out)
}

// hostname is `node` in the send-state header (HAProxy's global.node).
var hostname = func() string {
	h, _ := os.Hostname()
	return h
}()
