package http1

// The two chunk state machines halo had before they became one (chunked.go):
// kept here as the oracle of FuzzChunkedAgainstOld until that fuzz has run.

import (
	"bytes"
	"strconv"
	"testing"
)

// Chunked validates a chunked body as it streams through, so the engine can
// forward the bytes verbatim and still know where the message ends
// (RFC 7230 §4.1). The zero value is ready for a new body.
type oldChunked struct {
	state  uint8
	digits uint8
	size   int64 // remaining data bytes of the current chunk
	inName bool  // Rewrite: inside a trailer field name
	// Body counts data bytes seen (the decoded body length).
	Body int64
}

// Reset prepares c for a new body.
func (c *oldChunked) Reset() { *c = oldChunked{} }

// Done reports whether the terminating chunk and trailers were seen.
func (c *oldChunked) Done() bool { return c.state == cDone }

// Feed consumes bytes of the body. It returns how many bytes of p belong to
// the body (all of p unless the body ends inside it), whether the body is
// complete, and ErrBadChunk on malformed input.
func (c *oldChunked) Feed(p []byte) (n int, done bool, err error) {
	i := 0
	for i < len(p) {
		b := p[i]
		switch c.state {
		case cSize:
			v := hexVal(b)
			if v >= 0 {
				if c.digits >= 15 {
					return i, false, ErrBadChunk // size overflow
				}
				c.digits++
				c.size = c.size<<4 | int64(v)
				i++
				continue
			}
			if c.digits == 0 {
				return i, false, ErrBadChunk
			}
			switch b {
			case ' ', '\t':
				c.state = cSizeWS
			case ';':
				c.state = cExt
			case '\r':
				c.state = cSizeLF
			case '\n':
				c.endSizeLine()
			default:
				return i, false, ErrBadChunk
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
				c.endSizeLine()
			default:
				return i, false, ErrBadChunk
			}
			i++
		case cExt:
			switch {
			case b == '\r':
				c.state = cSizeLF
			case b == '\n':
				c.endSizeLine()
			case b < ' ' && b != '\t' || b == 0x7f:
				return i, false, ErrBadChunk
			}
			i++
		case cSizeLF:
			if b != '\n' {
				return i, false, ErrBadChunk
			}
			c.endSizeLine()
			i++
		case cData:
			k := int64(len(p) - i)
			if k > c.size {
				k = c.size
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
				c.state = cSize
				c.digits = 0
			default:
				return i, false, ErrBadChunk
			}
			i++
		case cDataLF:
			if b != '\n' {
				return i, false, ErrBadChunk
			}
			c.state = cSize
			c.digits = 0
			i++
		case cTrailerStart:
			switch b {
			case '\r':
				c.state = cEndLF
			case '\n':
				c.state = cDone
				return i + 1, true, nil
			default:
				if b < ' ' || b == 0x7f {
					return i, false, ErrBadChunk
				}
				c.state = cTrailer
			}
			i++
		case cTrailer:
			switch {
			case b == '\r':
				c.state = cTrailerLF
			case b == '\n':
				c.state = cTrailerStart
			case b < ' ' && b != '\t' || b == 0x7f:
				return i, false, ErrBadChunk
			}
			i++
		case cTrailerLF:
			if b != '\n' {
				return i, false, ErrBadChunk
			}
			c.state = cTrailerStart
			i++
		case cEndLF:
			if b != '\n' {
				return i, false, ErrBadChunk
			}
			c.state = cDone
			return i + 1, true, nil
		case cDone:
			return i, true, nil
		}
	}
	return i, c.state == cDone, nil
}

func (c *oldChunked) endSizeLine() {
	if c.size == 0 {
		c.state = cTrailerStart
		return
	}
	c.state = cData
}

// Rewrite is Feed that also appends the body to dst in the normalized
// form HAProxy 2.6 forwards: chunk sizes in lower-case hex without
// extensions, CRLF line ends, trailer field names lower-cased. It returns
// the extended dst, how many bytes of p belong to the body, whether the
// body is complete, and ErrBadChunk on malformed input.
func (c *oldChunked) Rewrite(dst, p []byte) ([]byte, int, bool, error) {
	i := 0
	for i < len(p) {
		b := p[i]
		switch c.state {
		case cSize:
			v := hexVal(b)
			if v >= 0 {
				if c.digits >= 15 {
					return dst, i, false, ErrBadChunk
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
				dst = c.emitSize(dst)
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
				dst = c.emitSize(dst)
			default:
				return dst, i, false, ErrBadChunk
			}
			i++
		case cExt:
			switch {
			case b == '\r':
				c.state = cSizeLF
			case b == '\n':
				dst = c.emitSize(dst)
			case b < ' ' && b != '\t' || b == 0x7f:
				return dst, i, false, ErrBadChunk
			}
			i++
		case cSizeLF:
			if b != '\n' {
				return dst, i, false, ErrBadChunk
			}
			dst = c.emitSize(dst)
			i++
		case cData:
			k := int64(len(p) - i)
			if k > c.size {
				k = c.size
			}
			dst = append(dst, p[i:i+int(k)]...)
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
				dst = append(dst, '\r', '\n')
				c.state, c.digits = cSize, 0
			default:
				return dst, i, false, ErrBadChunk
			}
			i++
		case cDataLF:
			if b != '\n' {
				return dst, i, false, ErrBadChunk
			}
			dst = append(dst, '\r', '\n')
			c.state, c.digits = cSize, 0
			i++
		case cTrailerStart:
			switch b {
			case '\r':
				c.state = cEndLF
			case '\n':
				c.state = cDone
				return append(dst, '\r', '\n'), i + 1, true, nil
			default:
				if b < ' ' || b == 0x7f {
					return dst, i, false, ErrBadChunk
				}
				c.inName = true
				c.state = cTrailer
				continue // emitted by cTrailer
			}
			i++
		case cTrailer:
			switch {
			case b == '\r':
				c.state = cTrailerLF
			case b == '\n':
				dst = append(dst, '\r', '\n')
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
				dst = append(dst, b)
			}
			i++
		case cTrailerLF:
			if b != '\n' {
				return dst, i, false, ErrBadChunk
			}
			dst = append(dst, '\r', '\n')
			c.state = cTrailerStart
			i++
		case cEndLF:
			if b != '\n' {
				return dst, i, false, ErrBadChunk
			}
			c.state = cDone
			return append(dst, '\r', '\n'), i + 1, true, nil
		case cDone:
			return dst, i, true, nil
		}
	}
	return dst, i, c.state == cDone, nil
}

// emitSize ends a size line: the size goes out in lower-case hex.
func (c *oldChunked) emitSize(dst []byte) []byte {
	dst = strconv.AppendInt(dst, c.size, 16)
	dst = append(dst, '\r', '\n')
	c.endSizeLine()
	return dst
}

// FuzzChunkedAgainstOld feeds the same bytes, cut at the same places, to
// the unified machine and to the old validator and rewriter: verdicts,
// lengths, body sizes and output must be identical.
func FuzzChunkedAgainstOld(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), uint8(3), uint8(7))
	f.Add([]byte("3;x=y\nabc\n0\nT: 1\n\n"), uint8(1), uint8(2))
	f.Add([]byte("3 ;x\r\nabc\r\n0\r\nX-A: B\r\nY:\tz\r\n\r\nNEXT"), uint8(9), uint8(20))
	f.Add([]byte("A\r\n0123456789\r\n0;e\r\n\r\n"), uint8(0), uint8(255))
	f.Fuzz(func(t *testing.T, data []byte, s1, s2 uint8) {
		a, b := min(int(s1), len(data)), min(int(s2), len(data))
		if a > b {
			a, b = b, a
		}
		parts := [][]byte{data[:a], data[a:b], data[b:]}
		var nv Chunked
		var oldV oldChunked
		var nr Chunked
		var oldR oldChunked
		var nout, oout []byte
		vDone, rDone := false, false
		for i, p := range parts {
			if !vDone {
				n1, d1, e1 := nv.Feed(p)
				n2, d2, e2 := oldV.Feed(p)
				if n1 != n2 || d1 != d2 || e1 != e2 || nv.Body != oldV.Body {
					t.Fatalf("Feed part %d %q: new (%d %v %v %d) old (%d %v %v %d)", i, p, n1, d1, e1, nv.Body, n2, d2, e2, oldV.Body)
				}
				vDone = d1 || e1 != nil
			}
			if !rDone {
				var n1, n2 int
				var d1, d2 bool
				var e1, e2 error
				nout, n1, d1, e1 = nr.Rewrite(nout, p)
				oout, n2, d2, e2 = oldR.Rewrite(oout, p)
				if n1 != n2 || d1 != d2 || e1 != e2 || nr.Body != oldR.Body || !bytes.Equal(nout, oout) {
					t.Fatalf("Rewrite part %d %q: new (%d %v %v %d %q) old (%d %v %v %d %q)", i, p, n1, d1, e1, nr.Body, nout, n2, d2, e2, oldR.Body, oout)
				}
				rDone = d1 || e1 != nil
			}
		}
	})
}
