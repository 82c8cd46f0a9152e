package h2

import (
	"errors"
)

// Head is a decoded header block (a request or response head, or
// trailers): its fields' bytes lie back to back in one buffer that the
// pooled stream keeps, so decoding a head allocates nothing once the
// buffer has grown to the size heads have.
type Head struct {
	buf    []byte
	fields []field
	pseudo [npseudo]span
	seen   uint8 // one bit per pseudo-header field present
	// ContentLength is the content-length field's value, -1 without one.
	ContentLength int64
	host          span // the host field (requests: it names the target without :authority)
	hasHost       bool
	cookies       int // cookie fields (joined by finish)
	sawRegular    bool
	size          uint32 // header list size (RFC 9113 §6.5.2) so far
	tooBig        bool   // more than the list size limit: fields were dropped
	err           error  // the first malformation found
}

type span struct{ off, end int32 }

type field struct{ name, value span }

// Pseudo-header fields.
const (
	pMethod = iota
	pScheme
	pAuthority
	pPath
	pStatus
	npseudo
)

// Malformations (RFC 9113 §8.1.1, §8.2, §8.3): each is a stream error
// of type PROTOCOL_ERROR.
var (
	errPseudoAfterRegular = errors.New("pseudo-header field after a regular one")
	errUnknownPseudo      = errors.New("unknown or misplaced pseudo-header field")
	errDuplicatePseudo    = errors.New("duplicated pseudo-header field")
	errFieldName          = errors.New("invalid field name")
	errFieldValue         = errors.New("invalid field value")
	errConnHeader         = errors.New("connection-specific header field")
	errTE                 = errors.New("te header field other than trailers")
	errMissingPseudo      = errors.New("missing or empty required pseudo-header field")
	errConnectPseudo      = errors.New("CONNECT with :scheme or :path")
	errBadCL              = errors.New("invalid content-length")
	errBadPath            = errors.New(":path neither origin-form nor asterisk-form")
	errBadStatus          = errors.New("invalid :status")
	errTrailersPseudo     = errors.New("pseudo-header field in trailers")
)

func (h *Head) reset() {
	h.buf = h.buf[:0]
	h.fields = h.fields[:0]
	h.pseudo = [npseudo]span{}
	h.seen = 0
	h.ContentLength = -1
	h.host, h.hasHost = span{}, false
	h.cookies = 0
	h.sawRegular = false
	h.size = 0
	h.tooBig = false
	h.err = nil
}

func (h *Head) bytes(s span) []byte { return h.buf[s.off:s.end:s.end] }

func (h *Head) store(s string) span {
	off := int32(len(h.buf))
	h.buf = append(h.buf, s...)
	return span{off, int32(len(h.buf))}
}

func (h *Head) fail(err error) {
	if h.err == nil {
		h.err = err
	}
}

// kind of header block being decoded.
type blockKind uint8

const (
	blockRequest blockKind = iota
	blockResponse
	blockTrailers
)

// add takes one decoded field (from the HPACK decoder), checking it as
// RFC 9113 §8.2 and HAProxy's H2 layer do.
func (h *Head) add(name, value string, kind blockKind, limit uint32) {
	h.size += uint32(len(name)+len(value)) + 32
	if limit > 0 && h.size > limit {
		h.tooBig = true
		return
	}
	if len(name) > 0 && name[0] == ':' {
		if h.sawRegular {
			h.fail(errPseudoAfterRegular)
			return
		}
		p := -1
		switch kind {
		case blockRequest:
			switch name {
			case ":method":
				p = pMethod
			case ":scheme":
				p = pScheme
			case ":authority":
				p = pAuthority
			case ":path":
				p = pPath
			}
		case blockResponse:
			if name == ":status" {
				p = pStatus
			}
		default:
			h.fail(errTrailersPseudo)
			return
		}
		if p < 0 {
			// :status in a request, :protocol (extended CONNECT is not
			// announced), anything else.
			h.fail(errUnknownPseudo)
			return
		}
		if h.seen&(1<<p) != 0 {
			h.fail(errDuplicatePseudo)
			return
		}
		h.seen |= 1 << p
		h.pseudo[p] = h.store(value)
		if !validValue(value) {
			h.fail(errFieldValue)
		}
		return
	}
	h.sawRegular = true
	if !validName(name) {
		h.fail(errFieldName)
		return
	}
	if !validValue(value) {
		h.fail(errFieldValue)
		return
	}
	switch name {
	case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
		h.fail(errConnHeader)
		return
	case "te":
		if value != "trailers" {
			h.fail(errTE)
			return
		}
	case "content-length":
		if kind == blockTrailers {
			break
		}
		n, ok := parseCL(value)
		if !ok || (h.ContentLength >= 0 && n != h.ContentLength) {
			h.fail(errBadCL)
			return
		}
		if h.ContentLength >= 0 {
			return // an identical repetition carries nothing
		}
		h.ContentLength = n
	case "host":
		if kind == blockRequest {
			if !h.hasHost {
				h.host, h.hasHost = h.store(value), true
			}
			return // the request's target is rebuilt from :authority
		}
	case "cookie":
		h.cookies++
	}
	h.fields = append(h.fields, field{h.store(name), h.store(value)})
}

// validName: a token in lower case (RFC 9113 §8.2.1, §8.2).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || !tokenChar[c] {
			return false
		}
	}
	return true
}

// validValue refuses what RFC 9113 §8.2.1 forbids: NUL, CR and LF
// anywhere (HAProxy refuses those three), whitespace at either end.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 0, '\r', '\n':
			return false
		}
	}
	if s != "" && (s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		return false
	}
	return true
}

var tokenChar = func() (t [256]bool) {
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

// parseCL parses a content-length value: digits only, at most 18.
func parseCL(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// finish checks the complete block: the pseudo-header fields a request
// or a response needs (RFC 9113 §8.3), and joins cookie crumbs into one
// field (§8.2.3, as HAProxy passes them on).
func (h *Head) finish(kind blockKind) {
	if h.err != nil {
		return
	}
	switch kind {
	case blockRequest:
		m := h.bytes(h.pseudo[pMethod])
		if len(m) == 0 {
			h.fail(errMissingPseudo)
			return
		}
		if string(m) == "CONNECT" {
			if h.seen&(1<<pScheme|1<<pPath) != 0 || h.pseudo[pAuthority].end == h.pseudo[pAuthority].off {
				h.fail(errConnectPseudo)
				return
			}
		} else {
			p := h.bytes(h.pseudo[pPath])
			if h.pseudo[pScheme].end == h.pseudo[pScheme].off || len(p) == 0 {
				h.fail(errMissingPseudo)
				return
			}
			if p[0] != '/' && !(string(p) == "*" && string(m) == "OPTIONS") {
				h.fail(errBadPath)
				return
			}
		}
		if h.seen&(1<<pAuthority) == 0 && h.hasHost {
			// No :authority: the Host field names the target (§8.3.1);
			// with both, :authority wins.
			h.pseudo[pAuthority] = h.host
		}
	case blockResponse:
		s := h.bytes(h.pseudo[pStatus])
		if len(s) != 3 || s[0] < '1' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' {
			h.fail(errBadStatus)
			return
		}
	}
	if h.cookies > 1 {
		h.joinCookies()
	}
}

func (h *Head) joinCookies() {
	first := -1
	off := int32(len(h.buf))
	j := 0
	for i, f := range h.fields {
		if string(h.bytes(f.name)) == "cookie" {
			if first >= 0 {
				h.buf = append(h.buf, ';', ' ')
			} else {
				first = j
			}
			h.buf = append(h.buf, h.buf[f.value.off:f.value.end]...)
			if first != j {
				continue
			}
		}
		h.fields[j] = h.fields[i]
		j++
	}
	h.fields = h.fields[:j]
	h.fields[first].value = span{off, int32(len(h.buf))}
}

// Method, Scheme, Authority and Path are a request's pseudo-header
// fields (Authority falls back on the host field); empty when absent.
func (h *Head) Method() []byte    { return h.bytes(h.pseudo[pMethod]) }
func (h *Head) Scheme() []byte    { return h.bytes(h.pseudo[pScheme]) }
func (h *Head) Authority() []byte { return h.bytes(h.pseudo[pAuthority]) }
func (h *Head) Path() []byte      { return h.bytes(h.pseudo[pPath]) }

// Status is a response's status code.
func (h *Head) Status() int {
	s := h.bytes(h.pseudo[pStatus])
	if len(s) != 3 {
		return 0
	}
	return int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
}

// Len is the number of regular fields.
func (h *Head) Len() int { return len(h.fields) }

// Field returns regular field i (lower-case name). The slices stay valid
// until the stream is done.
func (h *Head) Field(i int) (name, value []byte) {
	f := h.fields[i]
	return h.bytes(f.name), h.bytes(f.value)
}

// IsConnectionSpecific says whether an HTTP/1.1 field must be dropped
// when a message goes out over HTTP/2 (RFC 9113 §8.2.2). name is lower
// case.
func IsConnectionSpecific(name []byte) bool {
	switch string(name) {
	case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
		return true
	}
	return false
}
