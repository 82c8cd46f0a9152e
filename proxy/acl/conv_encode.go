package acl

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"unicode/utf8"
)

const hexUpper = "0123456789ABCDEF"

// encodeConvs convert between representations: hex, base64, URL and JSON
// escaping, big-endian numbers (configuration.txt §7.3.1).
func encodeConvs() []*convDef {
	return []*convDef{
		{name: "hex", in: KBin, out: KStr, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			s := toStr(c, v)
			buf := c.scratchBuf()
			for _, ch := range s {
				buf = append(buf, hexUpper[ch>>4], hexUpper[ch&15])
			}
			c.keepScratch(buf)
			return strVal(buf), true
		}},
		// hex2i: a string of hex digits as an integer; any other
		// character fails the conversion.
		{name: "hex2i", out: KInt, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			var n int64
			for _, ch := range toStr(c, v) {
				d := unhexDigit(ch)
				if d < 0 {
					return Value{}, false
				}
				n = n<<4 + int64(d)
			}
			return intVal(n), true
		}},
		{name: "htonl", out: KBin, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			n, ok := v.asInt()
			if !ok {
				return Value{}, false
			}
			buf := binary.BigEndian.AppendUint32(c.scratchBuf(), uint32(n))
			c.keepScratch(buf)
			return Value{Kind: KBin, B: buf}, true
		}},
		{name: "base64", in: KBin, out: KStr, fn: b64Enc(base64.StdEncoding)},
		{name: "ub64enc", in: KBin, out: KStr, fn: b64Enc(base64.RawURLEncoding)},
		{name: "b64dec", out: KBin, fn: b64Dec(base64.StdEncoding)},
		{name: "ub64dec", out: KBin, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			s := toStr(c, v)
			// padding is optional in base64url
			for len(s) > 0 && s[len(s)-1] == '=' {
				s = s[:len(s)-1]
			}
			return b64Dec(base64.RawURLEncoding)(c, cv, Value{Kind: KStr, B: s})
		}},
		// url_enc([query]): every byte but A-Z a-z 0-9 - . _ ~ as %XX.
		{name: "url_enc", maxArgs: 1, out: KStr, compile: func(cv *conv, o *Options) error {
			if len(cv.args) > 0 && cv.args[0] != "query" {
				return fmt.Errorf("Unexpected encode type. Allowed value is 'query'")
			}
			return nil
		}, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			s := toStr(c, v)
			buf := c.scratchBuf()
			for _, ch := range s {
				if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '.' || ch == '_' || ch == '~' {
					buf = append(buf, ch)
				} else {
					buf = append(buf, '%', hexUpper[ch>>4], hexUpper[ch&15])
				}
			}
			c.keepScratch(buf)
			return strVal(buf), true
		}},
		// url_dec([in_form]): %XX decoded; '+' is a space after '?', or
		// everywhere when in_form is non-zero. A bad escape fails.
		{name: "url_dec", maxArgs: 1, out: KStr, compile: func(cv *conv, o *Options) error {
			if len(cv.args) > 0 {
				n, err := strconv.ParseInt(cv.args[0], 10, 64)
				if err != nil {
					return fmt.Errorf("expects an integer, got '%s'", cv.args[0])
				}
				cv.num = n
			}
			return nil
		}, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			s := toStr(c, v)
			buf := c.scratchBuf()
			query := cv.num != 0
			for i := 0; i < len(s); i++ {
				ch := s[i]
				switch {
				case ch == '?':
					query = true
				case ch == '+' && query:
					ch = ' '
				case ch == '%':
					if i+2 >= len(s) {
						return Value{}, false
					}
					h, l := unhexDigit(s[i+1]), unhexDigit(s[i+2])
					if h < 0 || l < 0 {
						return Value{}, false
					}
					ch = byte(h<<4 | l)
					i += 2
				}
				buf = append(buf, ch)
			}
			c.keepScratch(buf)
			return strVal(buf), true
		}},
		{name: "json", maxArgs: 1, out: KStr, compile: func(cv *conv, o *Options) error {
			mode := "ascii"
			if len(cv.args) > 0 && cv.args[0] != "" {
				mode = cv.args[0]
			}
			for i, m := range []string{"ascii", "utf8", "utf8s", "utf8p", "utf8ps"} {
				if m == mode {
					cv.num = int64(i)
					return nil
				}
			}
			return fmt.Errorf("Unexpected input code type. Allowed value are 'ascii', 'utf8', 'utf8s', 'utf8p' and 'utf8ps'")
		}, fn: convJSON},
		{name: "be2dec", in: KBin, minArgs: 2, maxArgs: 3, out: KStr, compile: compileChunks(true), fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			return beChunks(c, cv, v, func(dst, chunk []byte) []byte {
				var n uint64
				for _, b := range chunk {
					n = n<<8 | uint64(b)
				}
				return strconv.AppendUint(dst, n, 10)
			}), true
		}},
		{name: "be2hex", in: KBin, maxArgs: 3, out: KStr, compile: compileChunks(false), fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			return beChunks(c, cv, v, func(dst, chunk []byte) []byte {
				for _, b := range chunk {
					dst = append(dst, hexUpper[b>>4], hexUpper[b&15])
				}
				return dst
			}), true
		}},
	}
}

func unhexDigit(ch byte) int {
	switch {
	case ch >= '0' && ch <= '9':
		return int(ch - '0')
	case ch >= 'a' && ch <= 'f':
		return int(ch-'a') + 10
	case ch >= 'A' && ch <= 'F':
		return int(ch-'A') + 10
	}
	return -1
}

func b64Enc(enc *base64.Encoding) convFn {
	return func(c *Ctx, cv *conv, v Value) (Value, bool) {
		s := toStr(c, v)
		buf := enc.AppendEncode(c.scratchBuf(), s)
		c.keepScratch(buf)
		return strVal(buf), true
	}
}

func b64Dec(enc *base64.Encoding) convFn {
	return func(c *Ctx, cv *conv, v Value) (Value, bool) {
		s := toStr(c, v)
		buf, err := enc.AppendDecode(c.scratchBuf(), s)
		if err != nil {
			return Value{}, false
		}
		c.keepScratch(buf)
		return Value{Kind: KBin, B: buf}, true
	}
}

// compileChunks reads ([separator],[chunk_size],[truncate]) of be2dec
// (separator and size required) and be2hex.
func compileChunks(dec bool) func(cv *conv, o *Options) error {
	return func(cv *conv, o *Options) error {
		if len(cv.args) > 0 {
			cv.sep = []byte(cv.args[0])
		}
		if dec {
			cv.n = 1
		}
		if len(cv.args) > 1 && cv.args[1] != "" {
			n, err := strconv.Atoi(cv.args[1])
			if err != nil || n <= 0 || (dec && n > 8) {
				return fmt.Errorf("chunk size must be a positive integer%s", map[bool]string{true: " lower or equal to 8"}[dec])
			}
			cv.n = n
		}
		if len(cv.args) > 2 && cv.args[2] != "" {
			t, err := strconv.Atoi(cv.args[2])
			if err != nil {
				return fmt.Errorf("invalid truncate flag '%s'", cv.args[2])
			}
			cv.num = int64(t)
		}
		return nil
	}
}

// beChunks splits the input into chunk-size pieces (all of it at once when
// there is no size), renders each with put and joins them with the
// separator; truncate drops a short last piece.
func beChunks(c *Ctx, cv *conv, v Value, put func(dst, chunk []byte) []byte) Value {
	s := toStr(c, v)
	size := cv.n
	if size <= 0 {
		size = max(len(s), 1)
	}
	buf := c.scratchBuf()
	for i := 0; i < len(s); i += size {
		end := i + size
		if end > len(s) {
			if cv.num != 0 {
				break
			}
			end = len(s)
		}
		if i > 0 {
			buf = append(buf, cv.sep...)
		}
		buf = put(buf, s[i:end])
	}
	c.keepScratch(buf)
	return strVal(buf)
}

// convJSON escapes a string for JSON as HAProxy's json converter: '"',
// '\\', '/' and control characters escaped, other bytes per the input
// code (ascii: as they are; utf8*: decoded and written \uXXXX).
func convJSON(c *Ctx, cv *conv, v Value) (Value, bool) {
	s := toStr(c, v)
	mode := cv.num // 0 ascii, 1 utf8, 2 utf8s, 3 utf8p, 4 utf8ps
	buf := c.scratchBuf()
	for i := 0; i < len(s); {
		ch := s[i]
		var r rune
		size := 1
		if mode == 0 || ch < 0x80 {
			r = rune(ch)
		} else {
			r, size = utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size <= 1 {
				if mode == 2 || mode == 4 {
					i++
					continue
				}
				return Value{}, false
			}
			if r > 0xffff {
				if mode == 2 || mode == 4 {
					i += size
					continue
				}
				return Value{}, false
			}
		}
		i += size
		switch {
		case r == '"':
			buf = append(buf, '\\', '"')
		case r == '\\':
			buf = append(buf, '\\', '\\')
		case r == '/':
			buf = append(buf, '\\', '/')
		case r == '\b':
			buf = append(buf, '\\', 'b')
		case r == '\f':
			buf = append(buf, '\\', 'f')
		case r == '\r':
			buf = append(buf, '\\', 'r')
		case r == '\n':
			buf = append(buf, '\\', 'n')
		case r == '\t':
			buf = append(buf, '\\', 't')
		case r < 0x20 || r > 0x7e:
			buf = append(buf, '\\', 'u', hexLower[r>>12&15], hexLower[r>>8&15], hexLower[r>>4&15], hexLower[r&15])
		default:
			buf = append(buf, byte(r))
		}
	}
	c.keepScratch(buf)
	return strVal(buf), true
}

const hexLower = "0123456789abcdef"
