package acl

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// stringConvs are the converters that reshape strings (configuration.txt
// §7.3.1).
func stringConvs() []*convDef {
	return []*convDef{
		{name: "lower", out: KStr, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) { return caseConv(c, v, 'A', 'Z', true), true }},
		{name: "upper", out: KStr, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) { return caseConv(c, v, 'a', 'z', false), true }},
		{name: "length", out: KInt, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			return intVal(int64(len(toStr(c, v)))), true
		}},
		{name: "ltrim", minArgs: 1, maxArgs: 1, out: KStr, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			return strVal(bytes.TrimLeft(toStr(c, v), cv.args[0])), true
		}},
		{name: "rtrim", minArgs: 1, maxArgs: 1, out: KStr, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			return strVal(bytes.TrimRight(toStr(c, v), cv.args[0])), true
		}},
		{name: "cut_crlf", out: KStr, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			s := toStr(c, v)
			if i := bytes.IndexAny(s, "\r\n"); i >= 0 {
				s = s[:i]
			}
			return strVal(s), true
		}},
		// bytes(offset[,length]): the bytes from offset, at most length.
		{name: "bytes", in: KBin, minArgs: 1, maxArgs: 2, out: KBin, compile: func(cv *conv, o *Options) error {
			n, err := strconv.ParseInt(cv.args[0], 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("invalid offset '%s'", cv.args[0])
			}
			cv.num, cv.num2 = n, -1
			if len(cv.args) > 1 {
				l, err := strconv.ParseInt(cv.args[1], 10, 64)
				if err != nil || l < 0 {
					return fmt.Errorf("invalid length '%s'", cv.args[1])
				}
				cv.num2 = l
			}
			return nil
		}, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			s := toStr(c, v)
			if int64(len(s)) <= cv.num {
				return Value{Kind: KBin, B: s[:0]}, true
			}
			s = s[cv.num:]
			if cv.num2 >= 0 && int64(len(s)) > cv.num2 {
				s = s[:cv.num2]
			}
			return Value{Kind: KBin, B: s}, true
		}},
		{name: "field", minArgs: 2, maxArgs: 3, out: KStr, compile: compileField, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			return pickPart(toStr(c, v), cv.n, int(cv.num), cv.sep, false)
		}},
		{name: "word", minArgs: 2, maxArgs: 3, out: KStr, compile: compileField, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			return pickPart(toStr(c, v), cv.n, int(cv.num), cv.sep, true)
		}},
		{name: "regsub", minArgs: 2, maxArgs: 3, out: KStr, compile: compileRegsub, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			s := toStr(c, v)
			buf := c.scratchBuf()
			start := 0
			for start <= len(s) {
				loc := cv.re.FindSubmatchIndex(s[start:])
				if loc == nil {
					break
				}
				for i := range loc {
					if loc[i] >= 0 {
						loc[i] += start
					}
				}
				buf = append(buf, s[start:loc[0]]...)
				buf = cv.re.Expand(buf, cv.repl, s, loc)
				if cv.num == 0 { // not global
					start = loc[1]
					break
				}
				if loc[1] == loc[0] {
					if loc[1] < len(s) {
						buf = append(buf, s[loc[1]])
					}
					start = loc[1] + 1
				} else {
					start = loc[1]
				}
			}
			if start < len(s) {
				buf = append(buf, s[start:]...)
			}
			c.keepScratch(buf)
			return strVal(buf), true
		}},
		// concat([start],[var],[end])
		{name: "concat", maxArgs: 3, out: KStr, compile: compileConcat, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			s := toStr(c, v)
			buf := c.scratchBuf()
			buf = append(buf, s...)
			buf = append(buf, cv.args[0]...)
			if cv.args[1] != "" {
				if vv, ok := c.Vars.Get(cv.args[1]); ok {
					buf = vv.AppendText(buf)
				}
			}
			buf = append(buf, cv.args[2]...)
			c.keepScratch(buf)
			return strVal(buf), true
		}},
		// add_item(delim,[var][,suffix]): like concat, with the delimiter
		// only between a non-empty sample and something to add.
		{name: "add_item", minArgs: 2, maxArgs: 3, out: KStr, compile: func(cv *conv, o *Options) error {
			for len(cv.args) < 3 {
				cv.args = append(cv.args, "")
			}
			if cv.args[1] == "" && cv.args[2] == "" {
				return fmt.Errorf("expects at least a variable or a suffix")
			}
			if cv.args[1] != "" {
				return CheckVarName(cv.args[1])
			}
			return nil
		}, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			s := toStr(c, v)
			var vb []byte
			found := false
			if cv.args[1] != "" {
				if vv, ok := c.Vars.Get(cv.args[1]); ok {
					vb, found = vv.AppendText(c.scratchBuf()), true
					c.keepScratch(vb)
				}
			}
			buf := c.scratchBuf()
			buf = append(buf, s...)
			if len(s) > 0 && ((found && len(vb) > 0) || cv.args[2] != "") {
				buf = append(buf, cv.args[0]...)
			}
			buf = append(buf, vb...)
			buf = append(buf, cv.args[2]...)
			c.keepScratch(buf)
			return strVal(buf), true
		}},
		// strcmp(var): the difference of the first differing bytes, else
		// -1, 0 or 1 by length (HAProxy 2.6.12's answers).
		{name: "strcmp", minArgs: 1, maxArgs: 1, out: KInt, compile: varArg, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			other, ok := c.Vars.Get(cv.args[0])
			if !ok {
				return Value{}, false
			}
			a := toStr(c, v)
			b := toStr(c, other)
			n := min(len(a), len(b))
			for i := 0; i < n; i++ {
				if a[i] != b[i] {
					return intVal(int64(a[i]) - int64(b[i])), true
				}
			}
			switch {
			case len(a) < len(b):
				return intVal(-1), true
			case len(a) > len(b):
				return intVal(1), true
			}
			return intVal(0), true
		}},
		{name: "secure_memcmp", in: KBin, minArgs: 1, maxArgs: 1, out: KBool, compile: varArg, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			other, ok := c.Vars.Get(cv.args[0])
			if !ok {
				return Value{}, false
			}
			a := toStr(c, v)
			b := toStr(c, other)
			return boolVal(len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1), true
		}},
		{name: "iif", minArgs: 2, maxArgs: 2, out: KStr, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			n, ok := v.asInt()
			if ok && n != 0 {
				return strVal(strBytes(cv.args[0])), true
			}
			return strVal(strBytes(cv.args[1])), true
		}},
		{name: "host_only", out: KStr, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			h, _ := splitHostPort(toStr(c, v))
			return caseConv(c, strVal(h), 'A', 'Z', true), true
		}},
		{name: "port_only", out: KInt, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			_, p := splitHostPort(toStr(c, v))
			n, _ := strconv.Atoi(string(p))
			return intVal(int64(n)), true
		}},
		{name: "language", minArgs: 1, maxArgs: 2, out: KStr, fn: convLanguage},
	}
}

func caseConv(c *Ctx, v Value, lo, hi byte, toLower bool) Value {
	s := toStr(c, v)
	buf := c.scratchBuf()
	for _, ch := range s {
		if lo <= ch && ch <= hi {
			if toLower {
				ch += 'a' - 'A'
			} else {
				ch -= 'a' - 'A'
			}
		}
		buf = append(buf, ch)
	}
	c.keepScratch(buf)
	return strVal(buf)
}

func varArg(cv *conv, o *Options) error { return CheckVarName(cv.args[0]) }

func compileConcat(cv *conv, o *Options) error {
	for len(cv.args) < 3 {
		cv.args = append(cv.args, "")
	}
	if cv.args[1] != "" {
		return CheckVarName(cv.args[1])
	}
	return nil
}

// compileField reads (index,delimiters[,count]) of field and word.
func compileField(cv *conv, o *Options) error {
	n, err := strconv.Atoi(cv.args[0])
	if err != nil || n == 0 {
		return fmt.Errorf("invalid index '%s'", cv.args[0])
	}
	cv.n = n
	cv.sep = []byte(cv.args[1])
	cv.num = 1
	if len(cv.args) > 2 {
		cnt, err := strconv.Atoi(cv.args[2])
		if err != nil || cnt < 0 {
			return fmt.Errorf("invalid count '%s'", cv.args[2])
		}
		cv.num = int64(cnt)
	}
	return nil
}

// pickPart extracts count fields (0: all remaining) from the idx-th
// (1-based; negative counts from the end). word skips empty fields.
func pickPart(s []byte, idx, count int, seps []byte, word bool) (Value, bool) {
	isSep := func(b byte) bool { return bytes.IndexByte(seps, b) >= 0 }
	type span struct{ a, b int }
	var parts []span
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || isSep(s[i]) {
			if !word || i > start {
				parts = append(parts, span{start, i})
			}
			start = i + 1
		}
	}
	var first, last int // indexes into parts, inclusive
	if idx > 0 {
		first = idx - 1
		if first >= len(parts) {
			return Value{}, false
		}
		last = len(parts) - 1
		if count > 0 && first+count-1 < last {
			last = first + count - 1
		}
	} else {
		last = len(parts) + idx
		if last < 0 {
			return Value{}, false
		}
		first = 0
		if count > 0 && last-count+1 > 0 {
			first = last - count + 1
		}
	}
	return strVal(s[parts[first].a:parts[last].b]), true
}

// compileRegsub reads (regex,subst[,flags]): flags g (every match) and i
// (ignore case).
func compileRegsub(cv *conv, o *Options) error {
	expr := cv.args[0]
	if len(cv.args) > 2 {
		for _, f := range cv.args[2] {
			switch f {
			case 'g':
				cv.num = 1
			case 'i':
				expr = "(?i)" + expr
			default:
				return fmt.Errorf("invalid regex flag '%c', only 'i' and 'g' are supported", f)
			}
		}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return fmt.Errorf("invalid regex '%s': %v", cv.args[0], err)
	}
	cv.re = re
	cv.repl = []byte(regsubTemplate(cv.args[1]))
	return nil
}

// regsubTemplate turns HAProxy's \1 back-references into Go's ${1}.
func regsubTemplate(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			b.WriteString("${")
			b.WriteByte(s[i+1])
			b.WriteString("}")
			i++
			continue
		}
		if s[i] == '$' {
			b.WriteString("$$")
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// splitHostPort splits a Host header value: name, name:port, v4,
// v4:port, [v6], [v6]:port.
func splitHostPort(h []byte) (host, port []byte) {
	if len(h) > 0 && h[0] == '[' {
		if i := bytes.IndexByte(h, ']'); i > 0 {
			host, rest := h[:i+1], h[i+1:]
			if len(rest) > 1 && rest[0] == ':' {
				return host, rest[1:]
			}
			return host, nil
		}
	}
	if i := bytes.LastIndexByte(h, ':'); i >= 0 {
		return h[:i], h[i+1:]
	}
	return h, nil
}

// convLanguage is language(values[,default]): of an Accept-Language
// value, the listed language with the highest q-factor.
func convLanguage(c *Ctx, cv *conv, v Value) (Value, bool) {
	s := toStr(c, v)
	wanted := strings.Split(cv.args[0], ";")
	best, bestQ := "", -1.0
	for off := 0; off >= 0; {
		var item []byte
		item, off = nextValue(s, off)
		lang, params, _ := bytes.Cut(item, []byte(";"))
		lang = bytes.TrimSpace(lang)
		q := 1.0
		if p := bytes.TrimSpace(params); bytes.HasPrefix(p, []byte("q=")) {
			if f, err := strconv.ParseFloat(string(p[2:]), 64); err == nil {
				q = f
			}
		}
		if q <= 0 || q <= bestQ {
			continue
		}
		for _, w := range wanted {
			base, _, _ := bytes.Cut(lang, []byte("-"))
			if string(lang) == w || string(base) == w {
				best, bestQ = w, q
				break
			}
		}
	}
	if bestQ < 0 {
		if len(cv.args) > 1 {
			return strVal(strBytes(cv.args[1])), true
		}
		return Value{}, false
	}
	return strVal(strBytes(best)), true
}
