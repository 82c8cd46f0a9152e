package http1

import (
	"errors"
	"strconv"
)

// ErrBadChunk is a malformed chunked body (bad size line, missing CRLF).
var ErrBadChunk = errors.New("http1: invalid chunked encoding")

// Chunked is the chunked-body state machine (RFC 9112 §7.1). One machine
// serves two uses: Feed only validates and finds where the body ends (the
// engine looks at a request body already buffered before choosing where to
// send it), Rewrite also appends the body to dst in the form HAProxy 2.6
// forwards it. Both run the same transitions, so they can never disagree
// about what a body is. The zero value is ready for a new body.
type Chunked struct {
	state  uint8
	digits uint8
	size   int64 // remaining data bytes of the current chunk
	inName bool  // inside a trailer field name
	// Body counts data bytes seen (the decoded body length).
	Body int64
}

const (
	cSize uint8 = iota
	cSizeWS
	cExt
	cSizeLF
	cData
	cDataCR
	cDataLF
	cTrailerStart
	cTrailer
	cTrailerLF
	cEndLF
	cDone
)

// Reset prepares c for a new body.
func (c *Chunked) Reset() { *c = Chunked{} }

// Done reports whether the terminating chunk and trailers were seen.
func (c *Chunked) Done() bool { return c.state == cDone }

// Feed consumes bytes of the body. It returns how many bytes of p belong to
// the body (all of p unless the body ends inside it), whether the body is
// complete, and ErrBadChunk on malformed input.
func (c *Chunked) Feed(p []byte) (n int, done bool, err error) {
	_, n, done, err = c.run(nil, p, false)
	return n, done, err
}

// Rewrite is Feed that also appends the body to dst in the normalized
// form HAProxy 2.6 forwards: chunk sizes in lower-case hex without
// extensions, CRLF line ends, trailer field names lower-cased. It returns
// the extended dst, how many bytes of p belong to the body, whether the
// body is complete, and ErrBadChunk on malformed input.
func (c *Chunked) Rewrite(dst, p []byte) ([]byte, int, bool, error) {
	return c.run(dst, p, true)
}

// run is the machine; with emit false nothing is appended to dst.
func (c *Chunked) run(dst, p []byte, emit bool) ([]byte, int, bool, error) {
	i := 0
	for i < len(p) {
		b := p[i]
		switch c.state {
		case cSize:
			v := hexVal(b)
			if v >= 0 {
				if c.digits >= 15 {
					return dst, i, false, ErrBadChunk // size overflow
				}
				c.digits++
				c.size = c.size<<4 | int64(v)
				i++
				continue
			}
			if c.digits == 0 {
				return dst, i, false, ErrBadChunk
			}
			switch b {
			case ' ', '\t':
				c.state = cSizeWS
			case ';':
				c.state = cExt
			case '\r':
				c.state = cSizeLF
			case '\n':
				dst = c.endSizeLine(dst, emit)
			default:
				return dst, i, false, ErrBadChunk
			}
			i++
		case cSizeWS:
			switch b {
			case ' ', '\t':
			case ';':
				c.state = cExt
			case '\r':
				c.state = cSizeLF
			case '\n':
				dst = c.endSizeLine(dst, emit)
			default:
				return dst, i, false, ErrBadChunk
			}
			i++
		case cExt:
			switch {
			case b == '\r':
				c.state = cSizeLF
			case b == '\n':
				dst = c.endSizeLine(dst, emit)
			case b < ' ' && b != '\t' || b == 0x7f:
				return dst, i, false, ErrBadChunk
			}
			i++
		case cSizeLF:
			if b != '\n' {
				return dst, i, false, ErrBadChunk
			}
			dst = c.endSizeLine(dst, emit)
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
		case cDataCR:
			switch b {
			case '\r':
				c.state = cDataLF
			case '\n':
				dst = c.endData(dst, emit)
			default:
				return dst, i, false, ErrBadChunk
			}
			i++
		case cDataLF:
			if b != '\n' {
				return dst, i, false, ErrBadChunk
			}
			dst = c.endData(dst, emit)
			i++
		case cTrailerStart:
			switch b {
			case '\r':
				c.state = cEndLF
			case '\n':
				c.state = cDone
				if emit {
					dst = append(dst, '\r', '\n')
				}
				return dst, i + 1, true, nil
			default:
				if b < ' ' || b == 0x7f {
					return dst, i, false, ErrBadChunk
				}
				c.inName = true
				c.state = cTrailer
				continue // the byte belongs to the field: cTrailer takes it
			}
			i++
		case cTrailer:
			switch {
			case b == '\r':
				c.state = cTrailerLF
			case b == '\n':
				if emit {
					dst = append(dst, '\r', '\n')
				}
				c.state = cTrailerStart
			case b < ' ' && b != '\t' || b == 0x7f:
				return dst, i, false, ErrBadChunk
			default:
				if c.inName {
					if b == ':' {
						c.inName = false
					} else if 'A' <= b && b <= 'Z' {
						b += 'a' - 'A'
					}
				}
				if emit {
					dst = append(dst, b)
				}
			}
			i++
		case cTrailerLF:
			if b != '\n' {
				return dst, i, false, ErrBadChunk
			}
			if emit {
				dst = append(dst, '\r', '\n')
			}
			c.state = cTrailerStart
			i++
		case cEndLF:
			if b != '\n' {
				return dst, i, false, ErrBadChunk
			}
			c.state = cDone
			if emit {
				dst = append(dst, '\r', '\n')
			}
			return dst, i + 1, true, nil
		case cDone:
			return dst, i, true, nil
		}
	}
	return dst, i, c.state == cDone, nil
}

// endSizeLine ends a size line: the size goes out in lower-case hex.
func (c *Chunked) endSizeLine(dst []byte, emit bool) []byte {
	if emit {
		dst = strconv.AppendInt(dst, c.size, 16)
		dst = append(dst, '\r', '\n')
	}
	if c.size == 0 {
		c.state = cTrailerStart
	} else {
		c.state = cData
	}
	return dst
}

// endData ends a chunk's data: CRLF goes out.
func (c *Chunked) endData(dst []byte, emit bool) []byte {
	if emit {
		dst = append(dst, '\r', '\n')
	}
	c.state, c.digits = cSize, 0
	return dst
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
