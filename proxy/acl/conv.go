package acl

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
)

type convFn func(c *Ctx, cv *conv, v Value) (Value, bool)

type convDef struct {
	name             string
	minArgs, maxArgs int
	fn               convFn
}

// conv is a converter with its compiled arguments.
type conv struct {
	def  *convDef
	args []string
	n    int
	sep  []byte
	re   *regexp.Regexp
	repl []byte
	m    *Map
	dflt []byte
}

var convDefs = map[string]*convDef{}

func cdef(d *convDef) { convDefs[d.name] = d }

// toStr returns the textual form of v, using scratch space when needed.
func toStr(c *Ctx, v Value) []byte {
	if v.Kind == KStr {
		return v.B
	}
	buf := v.AppendText(c.scratchBuf())
	c.keepScratch(buf)
	return buf
}

func init() {
	cdef(&convDef{name: "lower", fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
		s := toStr(c, v)
		buf := c.scratchBuf()
		for _, ch := range s {
			if 'A' <= ch && ch <= 'Z' {
				ch += 'a' - 'A'
			}
			buf = append(buf, ch)
		}
		c.keepScratch(buf)
		return Value{Kind: KStr, B: buf}, true
	}})
	cdef(&convDef{name: "upper", fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
		s := toStr(c, v)
		buf := c.scratchBuf()
		for _, ch := range s {
			if 'a' <= ch && ch <= 'z' {
				ch -= 'a' - 'A'
			}
			buf = append(buf, ch)
		}
		c.keepScratch(buf)
		return Value{Kind: KStr, B: buf}, true
	}})
	cdef(&convDef{name: "length", fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
		return Value{Kind: KInt, I: int64(len(toStr(c, v)))}, true
	}})
	cdef(&convDef{name: "hex", fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
		s := toStr(c, v)
		buf := c.scratchBuf()
		for _, ch := range s {
			buf = append(buf, "0123456789ABCDEF"[ch>>4], "0123456789ABCDEF"[ch&15])
		}
		c.keepScratch(buf)
		return Value{Kind: KStr, B: buf}, true
	}})
	cdef(&convDef{name: "unhex", fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
		s := toStr(c, v)
		buf := c.scratchBuf()
		n := len(s) / 2
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := hex.Decode(buf, s); err != nil {
			return Value{}, false
		}
		c.keepScratch(buf)
		return Value{Kind: KStr, B: buf}, true
	}})
	cdef(&convDef{name: "bool", fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
		n, ok := v.asInt()
		return boolVal(ok && n != 0), true
	}})
	cdef(&convDef{name: "not", fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
		n, ok := v.asInt()
		return boolVal(!ok || n == 0), true
	}})
	for _, op := range []string{"add", "sub", "mul", "div", "mod", "and", "or", "xor"} {
		op := op
		cdef(&convDef{name: op, minArgs: 1, maxArgs: 1, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			a, ok := v.asInt()
			if !ok {
				return Value{}, false
			}
			b := int64(cv.n)
			if cv.n == 0 && len(cv.args[0]) > 0 && cv.args[0][0] != '0' {
				// variable operand: var(txn.x) style name
				if vb, found := c.Vars.Get(cv.args[0]); found {
					b, _ = parseLeadingInt(vb)
				}
			}
			switch op {
			case "add":
				a += b
			case "sub":
				a -= b
			case "mul":
				a *= b
			case "div":
				if b == 0 {
					a = 1<<63 - 1
				} else {
					a /= b
				}
			case "mod":
				if b == 0 {
					a = 0
				} else {
					a %= b
				}
			case "and":
				a &= b
			case "or":
				a |= b
			case "xor":
				a ^= b
			}
			return Value{Kind: KInt, I: a}, true
		}})
	}
	// word(index[,delimiters]) and field(index,delimiters): 1-based,
	// negative counts from the end.
	cdef(&convDef{name: "word", minArgs: 1, maxArgs: 3, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
		return pickPart(toStr(c, v), cv.n, cv.sep, true)
	}})
	cdef(&convDef{name: "field", minArgs: 2, maxArgs: 3, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
		return pickPart(toStr(c, v), cv.n, cv.sep, false)
	}})
	cdef(&convDef{name: "regsub", minArgs: 2, maxArgs: 3, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
		s := toStr(c, v)
		var out []byte
		if len(cv.args) > 2 && bytes.IndexByte([]byte(cv.args[2]), 'g') >= 0 {
			out = cv.re.ReplaceAll(s, cv.repl)
		} else {
			loc := cv.re.FindSubmatchIndex(s)
			if loc == nil {
				return Value{Kind: KStr, B: s}, true
			}
			buf := c.scratchBuf()
			buf = append(buf, s[:loc[0]]...)
			buf = cv.re.Expand(buf, cv.repl, s, loc)
			buf = append(buf, s[loc[1]:]...)
			c.keepScratch(buf)
			out = buf
		}
		return Value{Kind: KStr, B: out}, true
	}})
	for _, name := range []string{"map", "map_str", "map_beg", "map_end", "map_sub", "map_dir", "map_dom", "map_reg", "map_ip", "map_int"} {
		cdef(&convDef{name: name, minArgs: 1, maxArgs: 2, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			if r, ok := cv.m.Lookup(c, v); ok {
				return Value{Kind: KStr, B: r}, true
			}
			if cv.dflt != nil {
				return Value{Kind: KStr, B: cv.dflt}, true
			}
			return Value{}, false
		}})
	}
}

func pickPart(s []byte, idx int, seps []byte, word bool) (Value, bool) {
	isSep := func(b byte) bool { return bytes.IndexByte(seps, b) >= 0 }
	// collect part boundaries lazily from the wanted side
	var parts [][2]int
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || isSep(s[i]) {
			if !word || i > start {
				parts = append(parts, [2]int{start, i})
			}
			start = i + 1
		}
	}
	n := idx
	if n < 0 {
		n = len(parts) + n + 1
	}
	if n < 1 || n > len(parts) {
		return Value{}, false
	}
	p := parts[n-1]
	return Value{Kind: KStr, B: s[p[0]:p[1]]}, true
}

func newConv(name string, args []string, o *Options) (*conv, error) {
	d := convDefs[name]
	if d == nil {
		return nil, fmt.Errorf("unknown converter '%s'", name)
	}
	if len(args) < d.minArgs || len(args) > d.maxArgs {
		return nil, fmt.Errorf("converter '%s' expects %d to %d argument(s)", name, d.minArgs, d.maxArgs)
	}
	cv := &conv{def: d, args: args}
	switch name {
	case "word", "field":
		n, err := strconv.Atoi(args[0])
		if err != nil || n == 0 {
			return nil, fmt.Errorf("converter '%s': invalid index '%s'", name, args[0])
		}
		cv.n = n
		cv.sep = []byte(" ")
		if len(args) > 1 {
			cv.sep = []byte(args[1])
		}
	case "add", "sub", "mul", "div", "mod", "and", "or", "xor":
		n, err := strconv.Atoi(args[0])
		if err == nil {
			cv.n = n
		}
	case "regsub":
		re, err := regexp.Compile(args[0])
		if err != nil {
			return nil, fmt.Errorf("converter 'regsub': invalid regex '%s': %v", args[0], err)
		}
		cv.re = re
		cv.repl = []byte(regsubTemplate(args[1]))
	default:
		if len(name) >= 3 && name[:3] == "map" {
			m, err := LoadMap(args[0], name, o)
			if err != nil {
				return nil, err
			}
			cv.m = m
			if len(args) > 1 {
				cv.dflt = []byte(args[1])
			}
		}
	}
	return cv, nil
}

// regsubTemplate turns HAProxy's \1 back-references into Go's ${1}.
func regsubTemplate(s string) string {
	var b bytes.Buffer
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
