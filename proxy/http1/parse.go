// Package http1 is halo's HTTP/1.1 message codec: a strict, allocation-free
// parser of request and response heads into offsets over the caller's
// buffer, a streaming chunked-body decoder, and the head serializer.
//
// Strictness follows HAProxy 2.6's H1 parser (src/h1.c): requests it
// refuses with 400 are refused here with ErrBadRequest; responses it refuses
// with 502 are refused with ErrBadResponse.
package http1

import (
	"bytes"
	"errors"
	"strconv"
)

// Errors returned by the parsers. ErrIncomplete means "read more bytes and
// call again"; the others are final.
var (
	ErrIncomplete  = errors.New("http1: incomplete message head")
	ErrBadRequest  = errors.New("http1: invalid request")
	ErrBadResponse = errors.New("http1: invalid response")
	ErrTooLarge    = errors.New("http1: message head too large")
	ErrTooMany     = errors.New("http1: too many headers")
	// ErrUnprocessable is a request whose Transfer-Encoding names codings
	// before its final chunked: HAProxy 2.6.12 answers 422.
	ErrUnprocessable = errors.New("http1: transfer coding other than chunked")
)

// MaxHeaders is HAProxy's tune.http.maxhdr default (101) minus the slot
// its HTX representation uses for the start line: 100 header fields.
const MaxHeaders = 100

// Header is one header field: Name and Value are slices of the parsed
// buffer (names lower-cased in place, as HAProxy's HTX does) or of the
// message's arena for fields added by rules.
type Header struct {
	Name, Value []byte
}

// Message is a parsed request or response head. All byte slices point into
// the buffer given to ParseRequest/ParseResponse (or into Arena), so the
// buffer must not be reused while the Message is in use.
type Message struct {
	// Request line.
	Method, URI []byte
	// Response line. StatusText is the status code as received (HAProxy
	// forwards "2000" or "099" as they came); it is written out while it
	// still says Status.
	Status     int
	StatusText []byte
	Reason     []byte
	// Version is HTTP/Major.Minor as received.
	Major, Minor int
	// FromH2 marks a request that came over HTTP/2 (the session serving
	// an HTTP/2 stream sets it; an HTTP/1 request line saying HTTP/2.0
	// does not): its absolute URI goes to servers in origin form.
	FromH2 bool

	Headers []Header

	// Body framing derived from the headers.
	ContentLength int64 // -1 when absent
	Chunked       bool
	// Connection header tokens.
	ConnClose, ConnKeepAlive, ConnUpgrade bool
	HasUpgrade                            bool // an Upgrade header is present
	Expect100                             bool
	HasTE                                 bool // Transfer-Encoding present (any value)
	// MustClose: the framing was ambiguous (TE with CL, TE in HTTP/1.0);
	// the connection closes after this message.
	MustClose bool

	websocket, wsKey, wsAccept, hostSeen bool
	teOther                              bool // a transfer coding other than chunked was seen
	teSeen                               bool // a TE (accepted codings) request header was seen

	// HeadLen is the number of buffer bytes the head used (including any
	// leading empty lines and the final empty line).
	HeadLen int

	// Arena holds bytes of headers added or set by rules; reset per message.
	Arena []byte
}

// Reset clears m for reuse, keeping its slices' capacity.
func (m *Message) Reset() {
	h := m.Headers[:0]
	a := m.Arena[:0]
	*m = Message{Headers: h, Arena: a, ContentLength: -1}
}

// Is11 reports whether the message version is HTTP/1.1 or above (HAProxy
// treats every version but 1.0 as 1.1).
func (m *Message) Is11() bool { return !(m.Major == 1 && m.Minor == 0) }

// tchar per RFC 7230 §3.2.6.
var tokenTable = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return
}()

// IsToken reports whether b is a non-empty RFC 7230 token.
func IsToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenTable[c] {
			return false
		}
	}
	return true
}

// lineEnd returns the index of the LF ending the line starting at off and
// the index where the line's content ends (before CR), or -1 if no LF yet.
func lineEnd(buf []byte, off int) (lf, end int) {
	i := bytes.IndexByte(buf[off:], '\n')
	if i < 0 {
		return -1, -1
	}
	lf = off + i
	end = lf
	if end > off && buf[end-1] == '\r' {
		end--
	}
	return lf, end
}

// ParseRequest parses a request head from buf. limit is the maximum head
// size (tune.bufsize - tune.maxrewrite); a head not complete within limit
// bytes gives ErrTooLarge.
func ParseRequest(m *Message, buf []byte, limit int) error {
	m.Reset()
	off := 0
	// RFC 7230 §3.5: ignore at least one empty line before the request line.
	for off < len(buf) && (buf[off] == '\r' || buf[off] == '\n') {
		if buf[off] == '\r' && (off+1 >= len(buf) || buf[off+1] != '\n') {
			if off+1 >= len(buf) {
				return incomplete(len(buf), limit)
			}
			return ErrBadRequest
		}
		off++
	}
	lf, end := lineEnd(buf, off)
	if lf < 0 {
		return incomplete(len(buf), limit)
	}
	if lf >= limit {
		return ErrTooLarge
	}
	line := buf[off:end]
	// method SP+ uri SP+ version: HAProxy tolerates several spaces.
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return ErrBadRequest
	}
	m.Method = line[:sp]
	if !IsToken(m.Method) {
		return ErrBadRequest
	}
	rest := line[sp:]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return ErrBadRequest // HTTP/0.9 style or no URI
	}
	m.URI = rest[:sp]
	for _, c := range m.URI {
		// HAProxy 2.6 refuses controls, space, DEL, non-ASCII and '#'
		// (a fragment never belongs on the wire).
		if c <= ' ' || c >= 0x7f || c == '#' {
			return ErrBadRequest
		}
	}
	if !validTarget(m.Method, m.URI) {
		return ErrBadRequest
	}
	rest = rest[sp:]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	if !parseVersion(m, rest) {
		return ErrBadRequest
	}
	return parseHeaders(m, buf, lf+1, limit, true)
}

func parseVersion(m *Message, v []byte) bool {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return false
	}
	m.Major, m.Minor = int(v[5]-'0'), int(v[7]-'0')
	return true
}

func incomplete(n, limit int) error {
	if n >= limit {
		return ErrTooLarge
	}
	return ErrIncomplete
}

// ParseResponse parses a response head from buf.
func ParseResponse(m *Message, buf []byte, limit int) error {
	m.Reset()
	lf, end := lineEnd(buf, 0)
	if lf < 0 {
		return incomplete(len(buf), limit)
	}
	if lf >= limit {
		return ErrTooLarge
	}
	line := buf[:end]
	if len(line) < 9 || !parseVersion(m, line[:8]) || line[8] != ' ' {
		return ErrBadResponse
	}
	// HAProxy tolerates several spaces before the code and a code of any
	// length ("2000" is forwarded); a code below 100 is refused here
	// (stricter than HAProxy, which forwards it without its length).
	rest := line[9:]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 || n > 9 || (n < len(rest) && rest[n] != ' ') {
		return ErrBadResponse
	}
	m.StatusText = rest[:n]
	for _, c := range m.StatusText {
		m.Status = m.Status*10 + int(c-'0')
	}
	if m.Status < 100 {
		return ErrBadResponse
	}
	if n < len(rest) {
		m.Reason = rest[n+1:]
		for _, c := range m.Reason {
			if c < ' ' && c != '\t' || c == 0x7f {
				return ErrBadResponse
			}
		}
	}
	if err := parseHeaders(m, buf, lf+1, limit, false); err != nil {
		if err == ErrBadRequest {
			return ErrBadResponse
		}
		return err
	}
	return nil
}

// parseHeaders parses header lines starting at off up to the empty line.
func parseHeaders(m *Message, buf []byte, off, limit int, isReq bool) error {
	clSeen := false
	for {
		lf, end := lineEnd(buf, off)
		if lf < 0 {
			return incomplete(len(buf), limit)
		}
		if lf >= limit {
			return ErrTooLarge
		}
		if end == off {
			m.HeadLen = lf + 1
			break
		}
		if buf[off] == ' ' || buf[off] == '\t' {
			return ErrBadRequest // continuation line without a header
		}
		// Obsolete line folding (RFC 7230 §3.2.4): HAProxy replaces the
		// line break with spaces and keeps the value.
		for {
			if lf+1 >= len(buf) {
				return incomplete(len(buf), limit)
			}
			if buf[lf+1] != ' ' && buf[lf+1] != '\t' {
				break
			}
			for i := end; i <= lf; i++ {
				buf[i] = ' '
			}
			lf2, end2 := lineEnd(buf, lf+1)
			if lf2 < 0 {
				return incomplete(len(buf), limit)
			}
			if lf2 >= limit {
				return ErrTooLarge
			}
			lf, end = lf2, end2
		}
		line := buf[off:end]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return ErrBadRequest
		}
		name := line[:colon]
		for i, c := range name {
			if !tokenTable[c] {
				return ErrBadRequest
			}
			if 'A' <= c && c <= 'Z' {
				name[i] = c + 'a' - 'A'
			}
		}
		val := line[colon+1:]
		for len(val) > 0 && (val[0] == ' ' || val[0] == '\t') {
			val = val[1:]
		}
		for len(val) > 0 && (val[len(val)-1] == ' ' || val[len(val)-1] == '\t') {
			val = val[:len(val)-1]
		}
		for _, c := range val {
			// HAProxy 2.6 only refuses a lone CR in a value (NUL and
			// non-ASCII bytes pass).
			if c == '\r' {
				return ErrBadRequest
			}
		}
		off = lf + 1
		if len(m.Headers) >= MaxHeaders {
			return ErrTooMany
		}
		switch string(name) {
		case "content-length":
			n, ok := parseContentLength(val)
			if !ok || (clSeen && n != m.ContentLength) {
				return ErrBadRequest
			}
			if clSeen {
				continue // identical duplicate: HAProxy keeps one
			}
			clSeen = true
			m.ContentLength = n
			if !isDigits(val) {
				// "3, 3" goes out as "3".
				var tmp [20]byte
				val = m.arenaCopy(strconv.AppendInt(tmp[:0], n, 10), false)
			}
		case "transfer-encoding":
			m.HasTE = true
			if err := parseTE(m, val); err != nil {
				if !isReq {
					return ErrBadResponse
				}
				return err
			}
			if !equalFold(val, "chunked") {
				// Accepted only if it says chunked (checked below): halo
				// re-frames the body, and names its framing plainly, so
				// no server has to interpret "chunked," or "CHUNKED"
				// (HAProxy forwards the client's spelling).
				val = m.arenaCopy(chunkedValue, false)
			}
		case "te":
			m.teSeen = true
		case "sec-websocket-accept":
			m.wsAccept = true
		case "connection":
			parseConnection(m, val)
		case "upgrade":
			m.HasUpgrade = true
			if equalFold(bytes.TrimSpace(val), "websocket") {
				m.websocket = true
			}
		case "sec-websocket-key":
			m.wsKey = true
		case "host":
			if isReq && m.hostSeen {
				return ErrBadRequest // HAProxy refuses several Host headers
			}
			m.hostSeen = true
		case "expect":
			if isReq && equalFold(val, "100-continue") {
				m.Expect100 = true
			}
		}
		m.Headers = append(m.Headers, Header{Name: name, Value: val})
	}
	if m.HasTE {
		// HAProxy 2.6.12: a request's codings must end with chunked
		// (400), and codings before it are not implemented (422); a
		// response may only say chunked (502).
		switch {
		case isReq && !m.Chunked:
			return ErrBadRequest
		case isReq && m.teOther:
			return ErrUnprocessable
		case !isReq && (!m.Chunked || m.teOther):
			return ErrBadResponse
		}
		if !m.Is11() || clSeen {
			// RFC 7230 §3.3.3 #3: TE overrides CL; HAProxy drops the CL
			// header and closes the connection after this message (also
			// for TE in an HTTP/1.0 message).
			m.ContentLength = -1
			m.DelHeader("content-length")
			m.MustClose = true
		}
	}
	if isReq && m.ConnUpgrade && m.websocket && !m.wsKey {
		return ErrBadRequest // RFC 6455 §4.1: a WebSocket upgrade needs a key
	}
	if !isReq && m.Status == 101 && m.websocket && !m.wsAccept {
		// HAProxy refuses a WebSocket 101 without its accept key.
		return ErrBadResponse
	}
	if isReq {
		if err := checkAuthority(m); err != nil {
			return err
		}
		if m.teSeen {
			m.reduceTE()
		}
	}
	return nil
}

// validTarget reports whether uri is a request target HAProxy 2.6 takes:
// origin-form ("/…"), asterisk-form (HAProxy takes any target starting with
// '*'), authority-form for CONNECT, or absolute-form
// with a scheme followed by "://" ("foo", "http:/a" and "http:h/p" are
// refused).
func validTarget(meth, u []byte) bool {
	switch {
	case u[0] == '/' || u[0] == '*':
		return true
	case string(meth) == "CONNECT":
		return true
	}
	_, _, ok := absoluteURI(u)
	return ok
}

// absoluteURI splits an absolute-form target into its scheme and its
// authority: everything after "://" up to the first '/', as HAProxy reads
// it (so in "http://h?/x" the authority is "h?").
func absoluteURI(u []byte) (scheme, auth []byte, ok bool) {
	i := bytes.Index(u, []byte("://"))
	if i <= 0 {
		return nil, nil, false
	}
	scheme = u[:i]
	for j, c := range scheme {
		alpha := 'a' <= c|0x20 && c|0x20 <= 'z'
		if !alpha && (j == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return nil, nil, false
		}
	}
	auth = u[i+3:]
	if j := bytes.IndexByte(auth, '/'); j >= 0 {
		auth = auth[:j]
	}
	return scheme, auth, true
}

// trimDefaultPort removes a trailing ":80" (http) or ":443" (https) from
// a host; scheme nil (CONNECT) removes either, as HAProxy 2.6 does.
func trimDefaultPort(h, scheme []byte) []byte {
	for _, dp := range [...]struct{ scheme, port string }{{"http", ":80"}, {"https", ":443"}} {
		if scheme != nil && !equalFold(scheme, dp.scheme) {
			continue
		}
		if len(h) > len(dp.port) && string(h[len(h)-len(dp.port):]) == dp.port {
			return h[:len(h)-len(dp.port)]
		}
	}
	return h
}

// checkAuthority applies HAProxy 2.6's rules to a target that carries an
// authority (absolute-form, or CONNECT's authority-form). The host named
// by a non-empty authority (after any userinfo@) and the Host header must
// agree, case and the default port aside (RFC 9112 §3.2.2), else 400. An
// absolute URI goes out without its scheme's default port
// ("http://h:80/p" becomes "http://h/p"); with CONNECT, the Host header
// loses a ":80" or ":443".
func checkAuthority(m *Message) error {
	u := m.URI
	var scheme, auth []byte
	switch {
	case string(m.Method) == "CONNECT":
		auth = u
		if i := m.index("host"); i >= 0 {
			m.Headers[i].Value = trimDefaultPort(m.Headers[i].Value, nil)
		}
	case u[0] == '/' || u[0] == '*':
		return nil
	default:
		scheme, auth, _ = absoluteURI(u)
		if short := trimDefaultPort(auth, scheme); len(short) < len(auth) {
			cut := len(scheme) + 3 + len(short)
			start := len(m.Arena)
			m.Arena = append(m.Arena, u[:cut]...)
			m.Arena = append(m.Arena, u[cut+len(auth)-len(short):]...)
			m.URI = m.Arena[start:len(m.Arena):len(m.Arena)]
			auth = short
		}
		if scheme == nil {
			scheme = []byte{} // not CONNECT: only the scheme's own port
		}
	}
	if i := bytes.LastIndexByte(auth, '@'); i >= 0 {
		auth = auth[i+1:]
	}
	if len(auth) == 0 || !m.hostSeen {
		return nil
	}
	h, _ := m.Get("host")
	if !equalFoldBytes(trimDefaultPort(auth, scheme), trimDefaultPort(h, scheme)) {
		return ErrBadRequest
	}
	return nil
}

// index returns the position of the first header named name, or -1.
func (m *Message) index(name string) int {
	for i := range m.Headers {
		if string(m.Headers[i].Name) == name {
			return i
		}
	}
	return -1
}

// reduceTE keeps of the request's TE headers only the "trailers" token
// (exactly so spelt), as HAProxy 2.6 forwards them: one "te: trailers"
// where the first header naming it was, every other TE header removed.
func (m *Message) reduceTE() {
	kept := false
	j := 0
	for i := range m.Headers {
		h := m.Headers[i]
		if string(h.Name) == "te" {
			if kept || !hasToken(h.Value, "trailers") {
				continue
			}
			kept = true
			h.Value = m.arenaCopy([]byte("trailers"), false)
		}
		m.Headers[j] = h
		j++
	}
	m.Headers = m.Headers[:j]
}

// hasToken reports whether the comma list v holds tok exactly (no
// parameters, case-sensitive).
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		t := v
		if i >= 0 {
			t, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if string(bytes.Trim(t, " \t")) == tok {
			return true
		}
	}
	return false
}

// parseContentLength accepts a decimal value or a comma list of identical
// values (RFC 9112 §6.3); every element must be digits (HAProxy 2.6.12
// refuses "5," and ",5"). More than 18 digits is refused: halo is
// stricter than HAProxy, which forwards 2^64 and then waits for it.
func parseContentLength(v []byte) (int64, bool) {
	var first int64 = -1
	for {
		i := bytes.IndexByte(v, ',')
		part := v
		if i >= 0 {
			part = v[:i]
		}
		for len(part) > 0 && (part[0] == ' ' || part[0] == '\t') {
			part = part[1:]
		}
		for len(part) > 0 && (part[len(part)-1] == ' ' || part[len(part)-1] == '\t') {
			part = part[:len(part)-1]
		}
		if len(part) == 0 || len(part) > 18 {
			return 0, false
		}
		var n int64
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int64(c-'0')
		}
		if first >= 0 && n != first {
			return 0, false
		}
		first = n
		if i < 0 {
			return first, true
		}
		v = v[i+1:]
	}
}

var chunkedValue = []byte("chunked")

// parseTE reads one Transfer-Encoding header: chunked may appear once, as
// the last coding (across header lines too); another coding before it,
// even an empty element (",chunked"), sets teOther.
func parseTE(m *Message, v []byte) error {
	for {
		for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
			v = v[1:]
		}
		if len(v) == 0 {
			return nil
		}
		i := bytes.IndexByte(v, ',')
		tok := v
		if i >= 0 {
			tok = v[:i]
		}
		tok = bytes.TrimRight(tok, " \t")
		if m.Chunked {
			return ErrBadRequest // something after chunked
		}
		if equalFold(tok, "chunked") {
			m.Chunked = true
		} else {
			m.teOther = true
		}
		if i < 0 {
			return nil
		}
		v = v[i+1:]
	}
}

func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func parseConnection(m *Message, v []byte) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		tok := v
		if i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		tok = bytes.Trim(tok, " \t")
		switch {
		case equalFold(tok, "close"):
			m.ConnClose = true
		case equalFold(tok, "keep-alive"):
			m.ConnKeepAlive = true
		case equalFold(tok, "upgrade"):
			m.ConnUpgrade = true
		}
	}
}

// equalFold compares b to the lower-case ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// EqualFold reports whether b equals s ignoring ASCII case.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}
