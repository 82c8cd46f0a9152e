package h2

import (
	"errors"
	"strconv"
	"strings"

	"golang.org/x/net/http2"
)

// The response side of ClientConn (clientconn.go): heads decoded by x/net's
// Framer into MetaHeadersFrames, checked here. ClientConn runs on
// goroutines of its own; the loop-bound Client (client.go, driver.go)
// replaces it once proxy/h2client.go drives streams as tasks.

// HeaderField is one decoded header field (lower-case name).
type HeaderField struct {
	Name, Value string
}

var errValueSpace = errors.New("header field value with leading or trailing whitespace")

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

// IsConnectionSpecificString is IsConnectionSpecific for a string in
// any case.
func IsConnectionSpecificString(name string) bool {
	switch strings.ToLower(name) {
	case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
		return true
	}
	return false
}

// writeHeaderBlock writes a header block as HEADERS and CONTINUATION
// frames of at most maxFrame bytes.
func writeHeaderBlock(fr *http2.Framer, id uint32, block []byte, end bool, maxFrame int) error {
	first := true
	for {
		frag := block
		if len(frag) > maxFrame {
			frag = frag[:maxFrame]
		}
		block = block[len(frag):]
		var err error
		if first {
			err = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: frag, EndStream: end, EndHeaders: len(block) == 0})
			first = false
		} else {
			err = fr.WriteContinuation(id, len(block) == 0, frag)
		}
		if err != nil || len(block) == 0 {
			return err
		}
	}
}
