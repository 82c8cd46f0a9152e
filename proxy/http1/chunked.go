package http1

import (
	"errors"
	"strconv"
)

// Errors of the chunked-body machine. ErrBadChunk is malformed framing (a
// bad size line, data not followed by CRLF, a trailer section that does
// not parse as header fields); ErrChunkTooLarge is a size line or trailer
// section longer than the machine's limit (HAProxy needs each to fit in
// its buffer and answers 400 otherwise).
var (
	ErrBadChunk      = errors.New("http1: invalid chunked encoding")
	ErrChunkTooLarge = errors.New("http1: chunk size line or trailers too large")
)

// ChunkLimit is the longest chunk-size line (extensions included) and
// trailer section HAProxy 2.6 accepts with tune.bufsize bufsize: both must
// fit in its buffer once converted to its internal (HTX) form. Measured
// against haproxy 2.6.12: with the default 16384, a 16320-byte size line
// or trailer section passes and one byte more is refused.
func ChunkLimit(bufsize int) int { return bufsize - 64 }

// Chunked is the chunked-body state machine (RFC 9112 §7.1). One machine
// serves two uses: Feed only validates and finds where the body ends (the
// engine looks at a request body already buffered before choosing where to
// send it), Rewrite also appends the body to dst in the form HAProxy 2.6
// forwards it. Both run the same transitions, so they never disagree about
// what a body is.
//
// The trailer section is collected whole and parsed as header fields when
// its empty line arrives, as HAProxy parses it: fields without a colon,
// with an empty or invalid name, a lone CR, more than MaxHeaders fields or
// an invalid Content-Length are refused; folded lines are unfolded, names
// lower-cased, whitespace around values trimmed, Content-Length dropped.
// halo is stricter than HAProxy 2.6 in two places, on purpose: control
// bytes (NUL included) in a trailer value or a chunk extension, and a
// trailer section starting with whitespace, are refused (HAProxy forwards
// them, leaving the server to guess).
//
// The last-chunk line is held back with the trailers, so a server never
// receives the start of a trailer section that is then refused.
type Chunked struct {
	state  uint8
	digits uint8
	size   int64 // remaining data bytes of the current chunk
	line   int   // bytes of the current size line
	limit  int
	tr     []byte // the trailer section so far (raw; normalized in place once complete)
	// Body counts data bytes seen (the decoded body length).
	Body int64
	// Trailers counts the kept trailer fields' names and values.
	Trailers int64
}

// HTXSize is what HAProxy's HTX holds of a complete chunked body: the
// data, each trailer's name and value, and the end-of-trailers block
// (stick counters' bytes_in/bytes_out count it).
func (c *Chunked) HTXSize() int64 { return c.Body + c.Trailers + 1 }

const (
	cSize   uint8 = iota // chunk-size digits
	cSizeWS              // whitespace after the size
	cExt                 // chunk extensions, up to the line end
	cSizeLF              // CR seen, LF expected
	cData                // chunk data
	cDataCR              // CRLF after the data
	cDataLF
	cTrailerStart // start of a trailer line (or of the final empty line)
	cTrailer      // inside a trailer line
	cTrailerLF    // CR seen in a trailer line
	cEndLF        // CR of the final empty line seen
	cDone
)

// Reset prepares c for a new body whose size lines and trailer section may
// each be at most limit bytes (0: unbounded). The trailer buffer's
// capacity is kept.
func (c *Chunked) Reset(limit int) {
	*c = Chunked{tr: c.tr[:0], limit: limit}
}

// Done reports whether the terminating chunk and trailers were seen.
func (c *Chunked) Done() bool { return c.state == cDone }

// Feed consumes bytes of the body. It returns how many bytes of p belong to
// the body (all of p unless the body ends inside it), whether the body is
// complete, and ErrBadChunk or ErrChunkTooLarge on bad input.
func (c *Chunked) Feed(p []byte) (n int, done bool, err error) {
	_, n, done, err = c.run(nil, p, false)
	return n, done, err
}

// Rewrite is Feed that also appends the body to dst in the normalized
// form HAProxy 2.6 forwards: chunk sizes in lower-case hex without
// extensions, CRLF line ends, trailers as described on Chunked. It returns
// the extended dst, how many bytes of p belong to the body, whether the
// body is complete, and the error.
func (c *Chunked) Rewrite(dst, p []byte) ([]byte, int, bool, error) {
	return c.run(dst, p, true)
}

// run is the machine; with emit false nothing is appended to dst.
func (c *Chunked) run(dst, p []byte, emit bool) ([]byte, int, bool, error) {
	i := 0
	for i < len(p) {
		b := p[i]
		switch c.state {
		case cSize, cSizeWS, cExt, cSizeLF:
			c.line++
			if c.limit > 0 && c.line > c.limit {
				return dst, i, false, ErrChunkTooLarge
			}
			var err error
			if dst, err = c.sizeByte(dst, b, emit); err != nil {
				return dst, i, false, err
			}
			i++
		case cData:
			k := int64(len(p) - i)
			if k > c.size {
				k = c.size
			}
			if emit {
				dst = append(dst, p[i:i+int(k)]...)
			}
			i += int(k)
			c.size -= k
			c.Body += k
			if c.size == 0 {
				c.state = cDataCR
			}
		case cDataCR, cDataLF:
			if b == '\r' && c.state == cDataCR {
				c.state = cDataLF
			} else if b == '\n' {
				if emit {
					dst = append(dst, '\r', '\n')
				}
				c.state, c.digits, c.line = cSize, 0, 0
			} else {
				return dst, i, false, ErrBadChunk
			}
			i++
		case cTrailerStart, cTrailer, cTrailerLF, cEndLF:
			end := false
			switch {
			case c.state == cTrailerStart && b == '\r':
				c.state = cEndLF
			case (c.state == cTrailerStart || c.state == cEndLF) && b == '\n':
				end = true
			case c.state == cEndLF || c.state == cTrailerLF && b != '\n':
				return dst, i, false, ErrBadChunk // lone CR
			case b == '\r':
				c.state = cTrailerLF
			case b == '\n':
				c.state = cTrailerStart
			default:
				c.state = cTrailer
			}
			if end {
				var err error
				if dst, err = c.endTrailers(dst, emit); err != nil {
					return dst, i, false, err
				}
				c.state = cDone
				return dst, i + 1, true, nil
			}
			switch {
			case c.state == cEndLF:
				// The CR of the final empty line: not part of a field.
			case b == '\r':
				// Kept as a space: unfolding turns each byte of a line
				// break into a space (HAProxy's way), and the CR of a
				// line that is not continued is trimmed with the value.
				c.tr = append(c.tr, ' ')
			default:
				c.tr = append(c.tr, b)
			}
			if c.limit > 0 && len(c.tr)+2 > c.limit {
				return dst, i, false, ErrChunkTooLarge
			}
			i++
		case cDone:
			return dst, i, true, nil
		}
	}
	return dst, i, c.state == cDone, nil
}

// sizeByte takes one byte of a chunk-size line: hex digits, optional
// whitespace, extensions (dropped), CRLF or a bare LF.
func (c *Chunked) sizeByte(dst []byte, b byte, emit bool) ([]byte, error) {
	switch c.state {
	case cSize:
		if v := hexVal(b); v >= 0 {
			if c.digits >= 15 {
				return dst, ErrBadChunk // size overflow
			}
			c.digits++
			c.size = c.size<<4 | int64(v)
			return dst, nil
		}
		if c.digits == 0 {
			return dst, ErrBadChunk
		}
		fallthrough
	case cSizeWS:
		switch b {
		case ' ', '\t':
			c.state = cSizeWS
		case ';':
			c.state = cExt
		case '\r':
			c.state = cSizeLF
		case '\n':
			return c.endSizeLine(dst, emit), nil
		default:
			return dst, ErrBadChunk
		}
	case cExt:
		switch {
		case b == '\r':
			c.state = cSizeLF
		case b == '\n':
			return c.endSizeLine(dst, emit), nil
		case b < ' ' && b != '\t' || b == 0x7f:
			return dst, ErrBadChunk
		}
	case cSizeLF:
		if b != '\n' {
			return dst, ErrBadChunk
		}
		return c.endSizeLine(dst, emit), nil
	}
	return dst, nil
}

// endSizeLine ends a size line: the size goes out in lower-case hex; the
// last chunk's line waits for the trailers.
func (c *Chunked) endSizeLine(dst []byte, emit bool) []byte {
	if c.size == 0 {
		c.state = cTrailerStart
		return dst
	}
	if emit {
		dst = strconv.AppendInt(dst, c.size, 16)
		dst = append(dst, '\r', '\n')
	}
	c.state = cData
	return dst
}

// endTrailers checks the collected trailer section (LF-separated lines,
// CRs already turned into spaces) and, when emitting, appends the last
// chunk, the normalized fields and the final CRLF.
func (c *Chunked) endTrailers(dst []byte, emit bool) ([]byte, error) {
	if emit {
		dst = append(dst, '0', '\r', '\n')
	}
	tr := c.tr
	if len(tr) > 0 && (tr[0] == ' ' || tr[0] == '\t') {
		return dst, ErrBadChunk // continuation of nothing
	}
	// Unfold: a line break followed by whitespace becomes a space (the
	// CR, when there was one, is already a space).
	for i := 0; i+1 < len(tr); i++ {
		if tr[i] == '\n' && (tr[i+1] == ' ' || tr[i+1] == '\t') {
			tr[i] = ' '
		}
	}
	n := 0
	for len(tr) > 0 {
		var line []byte
		if j := indexLF(tr); j >= 0 {
			line, tr = tr[:j], tr[j+1:]
		} else {
			line, tr = tr, nil
		}
		name, val, ok := splitField(line)
		if !ok {
			return dst, ErrBadChunk
		}
		if n++; n > MaxHeaders {
			return dst, ErrBadChunk
		}
		for _, ch := range val {
			if ch < ' ' && ch != '\t' || ch == 0x7f {
				return dst, ErrBadChunk // halo: stricter than HAProxy (NUL, controls)
			}
		}
		if string(name) == "content-length" {
			// HAProxy checks a Content-Length trailer and drops it.
			if _, ok := parseContentLength(val); !ok {
				return dst, ErrBadChunk
			}
			continue
		}
		c.Trailers += int64(len(name) + len(val))
		if emit {
			dst = append(dst, name...)
			dst = append(dst, ':', ' ')
			dst = append(dst, val...)
			dst = append(dst, '\r', '\n')
		}
	}
	if emit {
		dst = append(dst, '\r', '\n')
	}
	return dst, nil
}

// splitField splits "name: value" (name lower-cased in place, value
// trimmed of surrounding whitespace); ok is false without a colon or with
// an empty or invalid name.
func splitField(line []byte) (name, val []byte, ok bool) {
	colon := -1
	for i, ch := range line {
		if ch == ':' {
			colon = i
			break
		}
	}
	if colon <= 0 {
		return nil, nil, false
	}
	name = line[:colon]
	for i, ch := range name {
		if !tokenTable[ch] {
			return nil, nil, false
		}
		if 'A' <= ch && ch <= 'Z' {
			name[i] = ch + 'a' - 'A'
		}
	}
	val = line[colon+1:]
	for len(val) > 0 && (val[0] == ' ' || val[0] == '\t') {
		val = val[1:]
	}
	for len(val) > 0 && (val[len(val)-1] == ' ' || val[len(val)-1] == '\t') {
		val = val[:len(val)-1]
	}
	return name, val, true
}

func indexLF(b []byte) int {
	for i, ch := range b {
		if ch == '\n' {
			return i
		}
	}
	return -1
}

func hexVal(b byte) int {
	switch {
	case '0' <= b && b <= '9':
		return int(b - '0')
	case 'a' <= b && b <= 'f':
		return int(b-'a') + 10
	case 'A' <= b && b <= 'F':
		return int(b-'A') + 10
	}
	return -1
}
