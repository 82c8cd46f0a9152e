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
	// Response line.
	Status int
	Reason []byte
	// Version is HTTP/Major.Minor as received.
	Major, Minor int

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

	websocket, wsKey, hostSeen bool

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
	if len(line) < 12 || !parseVersion(m, line[:8]) || line[8] != ' ' {
		return ErrBadResponse
	}
	st := line[9:12]
	for _, c := range st {
		if c < '0' || c > '9' {
			return ErrBadResponse
		}
	}
	m.Status = int(st[0]-'0')*100 + int(st[1]-'0')*10 + int(st[2]-'0')
	if m.Status < 100 {
		return ErrBadResponse
	}
	if len(line) > 12 {
		if line[12] != ' ' {
			return ErrBadResponse
		}
		m.Reason = line[13:]
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
				return err
			}
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
		if isReq && !m.Chunked {
			return ErrBadRequest // request TE must end with chunked
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
	if isReq && m.hostSeen {
		// RFC 7230 §5.4: an absolute-form authority and the Host header
		// must agree (HAProxy answers 400 otherwise).
		if auth, ok := uriAuthority(m.URI); ok {
			if h, _ := m.Get("host"); !equalFoldBytes(auth, h) {
				return ErrBadRequest
			}
		}
	}
	return nil
}

// parseContentLength accepts a decimal value or a comma list of identical
// values (RFC 7230 §3.3.2).
func parseContentLength(v []byte) (int64, bool) {
	var first int64 = -1
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		part := v
		if i >= 0 {
			part, v = v[:i], v[i+1:]
		} else {
			v = nil
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
	}
	return first, first >= 0
}

func parseTE(m *Message, v []byte) error {
	// Tokens separated by commas; chunked must be the last one and appear
	// once (HAProxy refuses "chunked, chunked" and codings after chunked).
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		tok := v
		if i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		tok = bytes.Trim(tok, " \t")
		if len(tok) == 0 {
			continue
		}
		if m.Chunked {
			return ErrBadRequest // something after chunked
		}
		if equalFold(tok, "chunked") {
			m.Chunked = true
		} else if !IsToken(trimParams(tok)) {
			return ErrBadRequest
		}
	}
	return nil
}

// uriAuthority returns the authority of an absolute-form URI.
func uriAuthority(u []byte) ([]byte, bool) {
	i := bytes.Index(u, []byte("://"))
	if i <= 0 || u[0] == '/' {
		return nil, false
	}
	rest := u[i+3:]
	if j := bytes.IndexAny(rest, "/?"); j >= 0 {
		rest = rest[:j]
	}
	return rest, true
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

func trimParams(t []byte) []byte {
	if i := bytes.IndexByte(t, ';'); i >= 0 {
		return bytes.TrimRight(t[:i], " \t")
	}
	return t
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
