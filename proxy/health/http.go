package health

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"

	"halo/proxy"
	"halo/proxy/acl"
)

// buildRequest renders an http-check request as HAProxy's HTTP/1 output
// writes it (captured from haproxy 2.6.12): the request line, a host
// header taken from an absolute URI, the configured headers with
// lower-cased names (those whose value formats to nothing are left out),
// x-haproxy-server-state with send-state, content-length when there is a
// body, and for HTTP/1.1 "connection: close" unless a connection header
// was given.
func (r *run) buildRequest(h *httpSend) []byte {
	meth := h.method
	if meth == "" {
		meth = "OPTIONS"
	}
	uri := h.uri
	if h.uriFmt != nil {
		uri = string(h.uriFmt.Append(nil, &r.entry))
	}
	if uri == "" {
		uri = "/"
	}
	ver := h.version
	if ver == "" {
		ver = "HTTP/1.0"
	}
	var b bytes.Buffer
	b.WriteString(meth + " " + uri + " " + ver + "\r\n")
	if i := strings.Index(uri, "://"); i > 0 && !strings.Contains(uri[:i], "/") {
		auth := uri[i+3:]
		if j := strings.IndexAny(auth, "/?"); j >= 0 {
			auth = auth[:j]
		}
		b.WriteString("host: " + auth + "\r\n")
	}
	connHdr := false
	for _, hd := range h.headers {
		v := hd.value.Append(nil, &r.entry)
		if len(v) == 0 {
			continue
		}
		name := strings.ToLower(hd.name)
		connHdr = connHdr || name == "connection"
		b.WriteString(name + ": ")
		b.Write(v)
		b.WriteString("\r\n")
	}
	if r.rs.sendState && r.env.StateHeader != nil {
		b.WriteString("x-haproxy-server-state: " + r.env.StateHeader() + "\r\n")
	}
	body := []byte(h.body)
	if h.bodyFmt != nil {
		body = h.bodyFmt.Append(nil, &r.entry)
	}
	if len(body) > 0 {
		b.WriteString("content-length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	if http11(ver) && !connHdr {
		b.WriteString("connection: close\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// http11 is HAProxy's HTX_SL_F_VER_11 test on a version string.
func http11(v string) bool {
	return (len(v) == 6 && v[5] == '2') || (len(v) == 8 && (v[5] > '1' || (v[5] == '1' && v[7] >= '1')))
}

// response is an HTTP answer as far as it arrived: HAProxy's HTX view of
// the check's input buffer.
type response struct {
	headersDone bool // status line and headers complete
	bad         bool // not HTTP (HTX_FL_PARSING_ERROR)
	status      int
	reason      []byte
	hdrs        [][2][]byte // lower-cased names, trimmed values
	body        []byte      // de-chunked data received so far
	complete    bool        // the whole message arrived (EOM)
}

// parseResponse parses buf; eos says the server closed.
func parseResponse(buf []byte, eos bool) response {
	var rsp response
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	sep := 4
	if e2 := bytes.Index(buf, []byte("\n\n")); e2 >= 0 && (end < 0 || e2 < end) {
		end, sep = e2, 2
	}
	line := buf
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		line = buf[:i]
	}
	// A status line that cannot be HTTP is an error as soon as it shows.
	if len(line) >= 5 && !bytes.HasPrefix(line, []byte("HTTP/")) {
		rsp.bad = true
		return rsp
	}
	if end < 0 {
		if eos && len(buf) > 0 {
			rsp.bad = true
		}
		return rsp
	}
	lines := bytes.Split(buf[:end], []byte("\n"))
	sl := bytes.TrimRight(lines[0], "\r")
	// "HTTP/x.y CODE [REASON]": HAProxy's parser takes every digit of the
	// code ("2000" is a status, and a wrong one).
	if len(sl) < 10 || !bytes.HasPrefix(sl, []byte("HTTP/")) || sl[8] != ' ' ||
		!isDigit(sl[5]) || sl[6] != '.' || !isDigit(sl[7]) {
		rsp.bad = true
		return rsp
	}
	i := 9
	code := 0
	for i < len(sl) && isDigit(sl[i]) && code < 1e6 {
		code = code*10 + int(sl[i]-'0')
		i++
	}
	if i == 9 || (i < len(sl) && sl[i] != ' ') {
		rsp.bad = true
		return rsp
	}
	rsp.status = code
	if i < len(sl) {
		rsp.reason = sl[i+1:]
	}
	for _, l := range lines[1:] {
		l = bytes.TrimRight(l, "\r")
		c := bytes.IndexByte(l, ':')
		if c <= 0 {
			rsp.bad = true
			return rsp
		}
		name := bytes.ToLower(bytes.TrimSpace(l[:c]))
		rsp.hdrs = append(rsp.hdrs, [2][]byte{name, bytes.TrimSpace(l[c+1:])})
	}
	rsp.headersDone = true
	rest := buf[end+sep:]
	if code == 204 || code == 304 || (code >= 100 && code < 200) {
		rsp.complete = true
		return rsp
	}
	if te := rsp.header("transfer-encoding"); te != nil && bytes.Contains(bytes.ToLower(te), []byte("chunked")) {
		rsp.body, rsp.complete = dechunk(rest)
		return rsp
	}
	if cl := rsp.header("content-length"); cl != nil {
		n, err := strconv.Atoi(string(cl))
		if err != nil || n < 0 {
			rsp.bad = true
			return rsp
		}
		if len(rest) >= n {
			rsp.body, rsp.complete = rest[:n], true
		} else {
			rsp.body = rest
		}
		return rsp
	}
	rsp.body, rsp.complete = rest, eos
	return rsp
}

func (rsp *response) header(name string) []byte {
	for _, h := range rsp.hdrs {
		if string(h[0]) == name {
			return h[1]
		}
	}
	return nil
}

// dechunk decodes the chunks that fully arrived.
func dechunk(b []byte) ([]byte, bool) {
	var out []byte
	for {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			return out, false
		}
		szs := b[:i]
		if j := bytes.IndexByte(szs, ';'); j >= 0 {
			szs = szs[:j]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(szs)), 16, 32)
		if err != nil || n < 0 {
			return out, false
		}
		b = b[i+2:]
		if n == 0 {
			return out, true
		}
		if int64(len(b)) < n+2 {
			out = append(out, b[:min(int64(len(b)), n)]...)
			return out, false
		}
		out = append(out, b[:n]...)
		b = b[n+2:]
	}
}

// expectHTTP evaluates an expect rule of an HTTP check
// (tcpcheck_eval_expect_http).
func (r *run) expectHTTP(ru *rule, lastRead bool) evalRet {
	rsp := parseResponse(r.in, r.eos)
	r.txn.rsp = &rsp
	lastRead = lastRead || len(r.in) >= r.bufsize() || rsp.complete
	if rsp.bad {
		return r.expectFailed(ru, StatusL7Rsp, false, "")
	}
	if !rsp.headersDone {
		if lastRead {
			return r.expectFailed(ru, StatusL7Rsp, false, "")
		}
		return evalWait
	}
	r.code = rsp.status
	if r.rs.disableOn404 && r.code == 404 && !r.stopped() {
		return evalContinue // 404 may mean "stopping" for a running server
	}
	st := ru.errStatus
	desc := ""
	var match bool
	switch ru.exp {
	case expHTTPStatus:
		match = false
		for _, c := range ru.codes {
			if rsp.status >= c[0] && rsp.status <= c[1] {
				match = true
				break
			}
		}
		if st == StatusUnknown {
			st = StatusL7Sts
		}
		if ru.onError == nil {
			desc = string(rsp.reason)
		}
	case expHTTPStatusRegex:
		match = ru.re.MatchString(strconv.Itoa(rsp.status))
		if st == StatusUnknown {
			st = StatusL7Sts
		}
		if ru.onError == nil {
			desc = string(rsp.reason)
		}
	case expHTTPHeader:
		var ok bool
		match, ok = r.matchHeader(ru, &rsp)
		if !ok {
			return r.expectFailed(ru, StatusL7Rsp, false, "log-format string evaluated to an empty string")
		}
		if st == StatusUnknown {
			st = StatusL7Sts
		}
		if ru.onError == nil {
			desc = string(rsp.reason)
		}
	case expHTTPBody, expHTTPBodyRegex, expHTTPBodyLF:
		match = false
		if len(rsp.body) == 0 {
			if !lastRead {
				return evalWait
			}
			if st == StatusUnknown {
				st = StatusL7Rsp
			}
			if ru.onError == nil {
				desc = "HTTP content check could not find a response body"
			}
			return r.expectFailed(ru, st, false, desc)
		}
		var pat []byte
		if ru.exp == expHTTPBodyLF {
			pat = ru.fmt.Append(nil, &r.entry)
			if len(pat) == 0 {
				return r.expectFailed(ru, StatusL7Rsp, false, "log-format string evaluated to an empty string")
			}
		}
		if !lastRead && ((ru.exp == expHTTPBody && len(rsp.body) < len(ru.pattern)) ||
			(ru.exp == expHTTPBodyLF && len(rsp.body) < len(pat)) ||
			(ru.minRecv > 0 && len(rsp.body) < ru.minRecv)) {
			return evalWait
		}
		switch ru.exp {
		case expHTTPBody:
			match = bytes.Contains(rsp.body, ru.pattern)
		case expHTTPBodyLF:
			match = bytes.Contains(rsp.body, pat)
		default:
			match = ru.re.Match(rsp.body)
		}
		if !match && !lastRead && ru.minRecv == -1 {
			return evalWait
		}
		if st == StatusUnknown {
			st = StatusL7Rsp
		}
		if ru.onError == nil {
			if ru.inverse {
				desc = "HTTP check matched unwanted content"
			} else {
				desc = "HTTP content check did not match"
			}
		}
	default:
		if st == StatusUnknown {
			st = StatusL7Rsp
		}
		return r.expectFailed(ru, st, false, "")
	}
	if match != ru.inverse {
		return evalContinue
	}
	return r.expectFailed(ru, st, false, desc)
}

// matchHeader is `http-check expect [f]hdr name … [value …]`: ok is false
// when a log-format pattern evaluated to nothing.
func (r *run) matchHeader(ru *rule, rsp *response) (match, ok bool) {
	npat := ru.hdrName.text
	if ru.hdrName.lf != nil {
		npat = string(ru.hdrName.lf.Append(nil, &r.entry))
		if npat == "" {
			return false, false
		}
	}
	var vpat string
	if v := ru.hdrValue; v != nil {
		vpat = v.text
		if v.lf != nil {
			vpat = string(v.lf.Append(nil, &r.entry))
			if vpat == "" {
				return false, false
			}
		}
	}
	lname := strings.ToLower(npat)
	for _, h := range rsp.hdrs {
		name := string(h[0])
		var nm bool
		switch ru.hdrName.how {
		case "beg":
			nm = strings.HasPrefix(name, lname)
		case "end":
			nm = strings.HasSuffix(name, lname)
		case "sub":
			nm = strings.Contains(name, lname)
		case "reg":
			nm = ru.hdrName.re.MatchString(name)
		default:
			nm = name == lname
		}
		if !nm {
			continue
		}
		if ru.hdrValue == nil {
			return true, true
		}
		vals := [][]byte{h[1]}
		if !ru.hdrFull {
			vals = splitValues(h[1])
		}
		for _, v := range vals {
			if matchValue(ru.hdrValue, vpat, v) {
				return true, true
			}
		}
	}
	return false, true
}

func matchValue(m *headerMatch, pat string, v []byte) bool {
	s := string(v)
	switch m.how {
	case "beg":
		return strings.HasPrefix(s, pat)
	case "end":
		return strings.HasSuffix(s, pat)
	case "sub":
		return strings.Contains(s, pat)
	case "reg":
		return m.re.MatchString(s)
	}
	return s == pat
}

// splitValues splits a header value on commas (outside quotes), trimmed,
// as HAProxy's header lookup does without `full`.
func splitValues(v []byte) [][]byte {
	var out [][]byte
	quoted := false
	start := 0
	for i := 0; i <= len(v); i++ {
		if i < len(v) {
			switch v[i] {
			case '"':
				quoted = !quoted
				continue
			case ',':
				if quoted {
					continue
				}
			default:
				continue
			}
		}
		out = append(out, bytes.TrimSpace(v[start:i]))
		start = i + 1
	}
	return out
}

// checkTxn is what the samples of a check's rules read (HAProxy's check
// session): no request, the response once an HTTP check has one.
type checkTxn struct {
	r   *run
	rsp *response
}

var _ acl.Txn = (*checkTxn)(nil)

// Engine names the check's backend and server (acl.EngineTxn).
func (t *checkTxn) Engine() *proxy.Txn { return t.r.env.Engine }

func (t *checkTxn) Method() []byte             { return nil }
func (t *checkTxn) URI() []byte                { return nil }
func (t *checkTxn) Path() []byte               { return nil }
func (t *checkTxn) Query() []byte              { return nil }
func (t *checkTxn) Version() []byte            { return nil }
func (t *checkTxn) ReqHeaders() acl.HeaderList { return &hdrList{} }
func (t *checkTxn) ResHeaders() acl.HeaderList {
	if t.rsp == nil || !t.rsp.headersDone {
		return nil
	}
	return &hdrList{h: t.rsp.hdrs}
}
func (t *checkTxn) Status() int {
	if t.rsp == nil {
		return 0
	}
	return t.rsp.status
}
func (t *checkTxn) Src() netip.AddrPort {
	if t.r.conn != nil {
		a, _ := netip.ParseAddrPort(t.r.conn.LocalAddr().String())
		return a
	}
	return netip.AddrPort{}
}
func (t *checkTxn) Dst() netip.AddrPort {
	if t.r.conn != nil {
		a, _ := netip.ParseAddrPort(t.r.conn.RemoteAddr().String())
		return a
	}
	return netip.AddrPort{}
}
func (t *checkTxn) SSL() bool   { return t.r.ssl }
func (t *checkTxn) SNI() []byte { return nil }

// Payload is the check's input buffer (res.payload in check rules).
func (t *checkTxn) Payload() ([]byte, bool) { return t.r.in, true }

// hdrList is a read-only acl.HeaderList over parsed response headers.
type hdrList struct{ h [][2][]byte }

func (l *hdrList) Len() int                      { return len(l.h) }
func (l *hdrList) At(i int) (name, value []byte) { return l.h[i][0], l.h[i][1] }
func (l *hdrList) Add(name, value []byte)        {}
func (l *hdrList) Set(i int, value []byte)       {}
func (l *hdrList) Del(i int)                     {}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
