package http1

import (
	"bytes"
	"strconv"
)

// Header access is case-insensitive; names are stored lower-case (parsed
// names are lower-cased in place; added names are lower-cased into the
// arena) so lookups compare with EqualFold against any spelling.

// Get returns the value of the first header named name, and whether it exists.
func (m *Message) Get(name string) ([]byte, bool) {
	for i := range m.Headers {
		if EqualFold(m.Headers[i].Name, name) {
			return m.Headers[i].Value, true
		}
	}
	return nil, false
}

// Count returns how many header lines are named name.
func (m *Message) Count(name string) int {
	n := 0
	for i := range m.Headers {
		if EqualFold(m.Headers[i].Name, name) {
			n++
		}
	}
	return n
}

// arenaCopy copies s into the arena and returns the copy. Earlier slices
// stay valid when the arena grows: they keep the old backing array alive.
func (m *Message) arenaCopy(s []byte, lower bool) []byte {
	start := len(m.Arena)
	m.Arena = append(m.Arena, s...)
	out := m.Arena[start:len(m.Arena):len(m.Arena)]
	if lower {
		for i, c := range out {
			if 'A' <= c && c <= 'Z' {
				out[i] = c + 'a' - 'A'
			}
		}
	}
	return out
}

// AddHeader appends a header line (name lower-cased, as HAProxy emits it).
func (m *Message) AddHeader(name, value string) {
	n := m.arenaCopy([]byte(name), true)
	v := m.arenaCopy([]byte(value), false)
	m.Headers = append(m.Headers, Header{Name: n, Value: v})
}

// AddHeaderBytes is AddHeader for byte slices (no conversion allocation).
func (m *Message) AddHeaderBytes(name, value []byte) {
	n := m.arenaCopy(name, true)
	v := m.arenaCopy(value, false)
	m.Headers = append(m.Headers, Header{Name: n, Value: v})
}

// SetHeader removes every header named name and appends one with value.
func (m *Message) SetHeader(name, value string) {
	m.DelHeader(name)
	m.AddHeader(name, value)
}

// DelHeader removes every header named name, keeping the others' order.
func (m *Message) DelHeader(name string) int {
	j, n := 0, 0
	for i := range m.Headers {
		if EqualFold(m.Headers[i].Name, name) {
			n++
			continue
		}
		m.Headers[j] = m.Headers[i]
		j++
	}
	m.Headers = m.Headers[:j]
	return n
}

// SetURI replaces the request URI (copied into the arena).
func (m *Message) SetURI(uri []byte) { m.URI = m.arenaCopy(uri, false) }

// SetMethod replaces the request method.
func (m *Message) SetMethod(meth []byte) { m.Method = m.arenaCopy(meth, false) }

// Path returns the URI's path part: the URI up to '?' with an absolute
// form's scheme://authority removed (as HAProxy's `path` fetch; the
// authority ends at the first '/').
func (m *Message) Path() []byte {
	u := m.URI
	if len(u) > 0 && u[0] != '/' && u[0] != '*' {
		if i := bytes.Index(u, []byte("://")); i >= 0 {
			rest := u[i+3:]
			j := bytes.IndexByte(rest, '/')
			if j < 0 {
				return nil
			}
			u = rest[j:]
		}
	}
	if i := bytes.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	return u
}

// Query returns the part of the URI after '?', or nil.
func (m *Message) Query() []byte {
	if i := bytes.IndexByte(m.URI, '?'); i >= 0 {
		return m.URI[i+1:]
	}
	return nil
}

// VersionString returns "HTTP/1.0" or "HTTP/1.1" as HAProxy forwards it:
// every version other than 1.0 goes out as 1.1.
func (m *Message) VersionString() string {
	if m.Is11() {
		return "HTTP/1.1"
	}
	return "HTTP/1.0"
}

// AppendRequestHead serializes the request head (without the final empty
// line) into dst: the request line and the headers. Connection headers
// keep their place with their close and keep-alive tokens removed (and are
// left out when nothing remains): the caller adds the token the
// connection mode calls for, as HAProxy does, in a header of its own.
func (m *Message) AppendRequestHead(dst []byte) []byte {
	dst = append(dst, m.Method...)
	dst = append(dst, ' ')
	uri := m.URI
	if m.FromH2 && len(uri) > 0 && uri[0] != '/' && uri[0] != '*' && !bytes.Equal(m.Method, []byte("CONNECT")) {
		// An HTTP/2 request's absolute URI was built from :scheme and
		// :authority: servers get the origin form, as HAProxy sends it.
		if p := m.Path(); p != nil {
			uri = uri[len(uri)-len(p)-len(m.Query())-boolInt(m.Query() != nil):]
		}
	}
	dst = append(dst, uri...)
	dst = append(dst, ' ')
	dst = append(dst, m.VersionString()...)
	dst = append(dst, '\r', '\n')
	return m.appendHeaders(dst)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// AppendResponseHead serializes the status line and the headers, the
// Connection headers as AppendRequestHead does (without the final empty
// line).
func (m *Message) AppendResponseHead(dst []byte) []byte {
	dst = append(dst, m.VersionString()...)
	dst = append(dst, ' ')
	if m.statusTextValid() {
		dst = append(dst, m.StatusText...)
	} else {
		dst = strconv.AppendInt(dst, int64(m.Status), 10)
	}
	dst = append(dst, ' ')
	dst = append(dst, m.Reason...)
	dst = append(dst, '\r', '\n')
	return m.appendHeaders(dst)
}

func (m *Message) appendHeaders(dst []byte) []byte {
	for i := range m.Headers {
		h := &m.Headers[i]
		if string(h.Name) == "connection" {
			dst = appendConnectionTokens(dst, h.Value)
			continue
		}
		dst = append(dst, h.Name...)
		dst = append(dst, ':', ' ')
		dst = append(dst, h.Value...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}

// appendConnectionTokens writes "connection: " and the tokens of v other
// than close and keep-alive, joined by ", ", or nothing when none is left.
func appendConnectionTokens(dst, v []byte) []byte {
	start := len(dst)
	dst = append(dst, "connection: "...)
	mark := len(dst)
	for len(v) > 0 {
		j := bytes.IndexByte(v, ',')
		tok := v
		if j >= 0 {
			tok, v = v[:j], v[j+1:]
		} else {
			v = nil
		}
		tok = bytes.Trim(tok, " \t")
		if len(tok) == 0 || equalFold(tok, "close") || equalFold(tok, "keep-alive") {
			continue
		}
		if len(dst) > mark {
			dst = append(dst, ',', ' ')
		}
		dst = append(dst, tok...)
	}
	if len(dst) == mark {
		return dst[:start]
	}
	return append(dst, '\r', '\n')
}

// statusTextValid reports whether StatusText still spells Status (a rule
// may have changed the status since the response was parsed).
func (m *Message) statusTextValid() bool {
	if len(m.StatusText) == 0 {
		return false
	}
	n := 0
	for _, c := range m.StatusText {
		n = n*10 + int(c-'0')
	}
	return n == m.Status
}

// CleanConnLen is the length of a Connection value without its close and
// keep-alive tokens (h1_parse_connection_header with
// H1_MF_CLEAN_CONN_HDR): the other tokens joined by ", ".
func CleanConnLen(v []byte) int64 {
	var n int64
	for len(v) > 0 {
		// One token at a time: bytes.Split would allocate per request.
		tok := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		tok = bytes.TrimSpace(tok)
		if len(tok) == 0 || bytes.EqualFold(tok, []byte("close")) || bytes.EqualFold(tok, []byte("keep-alive")) {
			continue
		}
		if n > 0 {
			n += 2
		}
		n += int64(len(tok))
	}
	return n
}
