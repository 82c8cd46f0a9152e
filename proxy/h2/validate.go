package h2

import (
	"errors"
	"strconv"
	"strings"

	"golang.org/x/net/http2"
)

// Request is a validated request head.
type Request struct {
	Method, Scheme, Authority, Path string
	// Header holds the regular fields in order, lower-case names; cookie
	// crumbs are joined back into one field (RFC 9113 §8.2.3).
	Header []HeaderField
	// ContentLength is the content-length field's value, -1 without one.
	ContentLength int64
}

var (
	errConnHeader     = errors.New("connection-specific header field")
	errTE             = errors.New("te header field other than trailers")
	errMissingPseudo  = errors.New("missing or empty required pseudo-header field")
	errConnectPseudo  = errors.New("CONNECT with :scheme or :path")
	errBadCL          = errors.New("invalid content-length")
	errValueSpace     = errors.New("header field value with leading or trailing whitespace")
	errUnknownPseudo  = errors.New("unknown or response pseudo-header field")
	errTrailersPseudo = errors.New("pseudo-header field in trailers")
	errBadPath        = errors.New(":path neither origin-form nor asterisk-form")
)

// parseRequest checks a request header block as RFC 9113 §8.2 and §8.3.1
// require (x/net's framer has already refused upper-case names, invalid
// characters, pseudo fields after regular ones, duplicated or mixed
// pseudo fields); any error is a stream error of type PROTOCOL_ERROR.
func parseRequest(f *http2.MetaHeadersFrame) (*Request, error) {
	r := &Request{ContentLength: -1}
	var host string
	var hasHost bool
	for _, hf := range f.PseudoFields() {
		switch hf.Name {
		case ":method":
			r.Method = hf.Value
		case ":scheme":
			r.Scheme = hf.Value
		case ":authority":
			r.Authority = hf.Value
		case ":path":
			r.Path = hf.Value
		default:
			// :status, and :protocol (extended CONNECT is not announced)
			return nil, errUnknownPseudo
		}
	}
	cookies := -1
	for _, hf := range f.RegularFields() {
		if err := checkRegular(hf.Name, hf.Value); err != nil {
			return nil, err
		}
		switch hf.Name {
		case "content-length":
			n, err := strconv.ParseInt(hf.Value, 10, 64)
			if err != nil || n < 0 || hf.Value[0] == '+' || (r.ContentLength >= 0 && n != r.ContentLength) {
				return nil, errBadCL
			}
			if r.ContentLength >= 0 {
				continue // an identical repetition carries nothing
			}
			r.ContentLength = n
		case "host":
			host, hasHost = hf.Value, true
			continue
		case "cookie":
			if cookies >= 0 {
				r.Header[cookies].Value += "; " + hf.Value
				continue
			}
			cookies = len(r.Header)
		}
		r.Header = append(r.Header, HeaderField{Name: hf.Name, Value: hf.Value})
	}
	if r.Method == "" {
		return nil, errMissingPseudo
	}
	if r.Method == "CONNECT" {
		if r.Scheme != "" || r.Path != "" || r.Authority == "" {
			return nil, errConnectPseudo
		}
	} else if r.Scheme == "" || r.Path == "" {
		return nil, errMissingPseudo
	} else if r.Path[0] != '/' && !(r.Path == "*" && r.Method == "OPTIONS") {
		// origin-form, or asterisk-form for OPTIONS (RFC 9113 §8.3.1)
		return nil, errBadPath
	}
	if r.Authority == "" && hasHost {
		// No :authority: the Host field names the target (RFC 9113
		// §8.3.1); with both, :authority wins and Host is dropped, as
		// HAProxy rebuilds the request from :authority.
		r.Authority = host
	}
	return r, nil
}

// checkRegular refuses connection-specific fields (§8.2.2) and values
// with surrounding whitespace (§8.2.1).
func checkRegular(name, value string) error {
	switch name {
	case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
		return errConnHeader
	case "te":
		if value != "trailers" {
			return errTE
		}
	}
	if value != "" && (value[0] == ' ' || value[0] == '\t' || value[len(value)-1] == ' ' || value[len(value)-1] == '\t') {
		return errValueSpace
	}
	return nil
}

// parseTrailers checks a trailer block: no pseudo fields (§8.1).
func parseTrailers(f *http2.MetaHeadersFrame) ([]HeaderField, error) {
	if len(f.PseudoFields()) > 0 {
		return nil, errTrailersPseudo
	}
	var out []HeaderField
	for _, hf := range f.RegularFields() {
		if err := checkRegular(hf.Name, hf.Value); err != nil {
			return nil, err
		}
		out = append(out, HeaderField{Name: hf.Name, Value: hf.Value})
	}
	return out, nil
}

// ResponseHead is a validated response head (client side).
type ResponseHead struct {
	Status        int
	Header        []HeaderField
	ContentLength int64
}

// parseResponse checks a response header block from a server.
func parseResponse(f *http2.MetaHeadersFrame) (*ResponseHead, error) {
	r := &ResponseHead{ContentLength: -1}
	for _, hf := range f.PseudoFields() {
		if hf.Name != ":status" {
			return nil, errUnknownPseudo
		}
		n, err := strconv.Atoi(hf.Value)
		if err != nil || len(hf.Value) != 3 || n < 100 {
			return nil, errMissingPseudo
		}
		r.Status = n
	}
	if r.Status == 0 {
		return nil, errMissingPseudo
	}
	for _, hf := range f.RegularFields() {
		if err := checkRegular(hf.Name, hf.Value); err != nil {
			return nil, err
		}
		if hf.Name == "content-length" {
			n, err := strconv.ParseInt(hf.Value, 10, 64)
			if err != nil || n < 0 || (r.ContentLength >= 0 && n != r.ContentLength) {
				return nil, errBadCL
			}
			if r.ContentLength >= 0 {
				continue
			}
			r.ContentLength = n
		}
		r.Header = append(r.Header, HeaderField{Name: hf.Name, Value: hf.Value})
	}
	return r, nil
}

// IsConnectionSpecific says whether an HTTP/1.1 field must be dropped
// when a message goes out over HTTP/2 (RFC 9113 §8.2.2).
func IsConnectionSpecific(name string) bool {
	switch strings.ToLower(name) {
	case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
		return true
	}
	return false
}
