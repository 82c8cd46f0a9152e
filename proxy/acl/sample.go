package acl

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Kind is a sample's type (configuration.txt §7.1).
type Kind uint8

const (
	KNone Kind = iota // no value (fetch found nothing)
	KStr
	KInt
	KBool
	KIP
	KBin // binary string: printed as is, matched against hex patterns
)

// Value is one sample. B may point into the transaction's buffers or the
// Ctx scratch space; it is only valid until the next evaluation.
type Value struct {
	Kind Kind
	B    []byte
	I    int64
	IP   netip.Addr
}

// AppendText appends the value as HAProxy prints it in a log-format or a
// header value.
func (v Value) AppendText(dst []byte) []byte {
	switch v.Kind {
	case KStr, KBin:
		return append(dst, v.B...)
	case KInt:
		return strconv.AppendInt(dst, v.I, 10)
	case KBool:
		if v.I != 0 {
			return append(dst, '1')
		}
		return append(dst, '0')
	case KIP:
		return v.IP.AppendTo(dst)
	}
	return dst
}

// Int is the value as an integer sample (a string is parsed), as
// actions taking a number read their expression.
func (v Value) Int() (int64, bool) { return v.asInt() }

// asInt converts a sample to an integer the way HAProxy's casts do: a
// string is read as an optional sign and the decimal digits that follow
// (none read as 0); an empty string does not convert.
func (v Value) asInt() (int64, bool) {
	switch v.Kind {
	case KInt, KBool:
		return v.I, true
	case KStr, KBin:
		if len(v.B) == 0 {
			return 0, false
		}
		n, _ := parseLeadingInt(v.B)
		return n, true
	}
	return 0, false
}

func parseLeadingInt(b []byte) (int64, bool) {
	neg := false
	i := 0
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	start := i
	var n int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int64(b[i]-'0')
		i++
	}
	if i == start {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func (v Value) asIP() (netip.Addr, bool) {
	switch v.Kind {
	case KIP:
		return v.IP, true
	case KStr:
		a, err := netip.ParseAddr(string(bytes.TrimSpace(v.B))) // rare path (hdr_ip)
		if err != nil {
			return netip.Addr{}, false
		}
		return a, true
	}
	return netip.Addr{}, false
}

// Expr is a compiled sample expression: a fetch followed by converters,
// e.g. `req.hdr(host),lower`. It is what `%[...]` holds in a log-format.
type Expr struct {
	f     *fetch
	convs []*conv
	text  string
}

// String returns the expression as written.
func (e *Expr) String() string { return e.text }

// Eval returns the expression's value, or ok=false when the fetch found
// nothing (or a converter failed). In this (non-ACL) context multi-valued
// fetches such as hdr() return their last occurrence, as HAProxy does.
func (e *Expr) Eval(c *Ctx) (Value, bool) {
	c.st = 0
	v, ok := e.f.def.fn(c, e.f, &c.st)
	if !ok {
		return Value{}, false
	}
	for _, cv := range e.convs {
		v, ok = cv.apply(c, v)
		if !ok {
			return Value{}, false
		}
	}
	return v, true
}

// ParseExpr compiles `fetch[(args)][,conv[(args)]]...`.
func ParseExpr(s string, o *Options) (*Expr, error) {
	o = o.withRegistry()
	name, args, rest, err := splitCall(s)
	if err != nil {
		return nil, err
	}
	f, err := newFetch(name, args, o, false)
	if err != nil {
		return nil, err
	}
	e := &Expr{f: f, text: s}
	for rest != "" {
		if rest[0] != ',' {
			return nil, fmt.Errorf("unexpected %q after sample fetch in %q", rest, s)
		}
		var cname string
		var cargs []string
		cname, cargs, rest, err = splitCall(rest[1:])
		if err != nil {
			return nil, err
		}
		cv, err := newConv(cname, cargs, o)
		if err != nil {
			return nil, err
		}
		e.convs = append(e.convs, cv)
	}
	return e, nil
}

// splitCall splits `name(arg,arg)rest` or `name,rest`. Arguments may be
// quoted ('…' literally, "…" with \\ and \" escapes); outside quotes a
// backslash only escapes a backslash or a quote, and is kept before
// anything else (HAProxy's make_arg_list: "\." stays a regex escape).
func splitCall(s string) (name string, args []string, rest string, err error) {
	i := 0
	for i < len(s) && s[i] != '(' && s[i] != ',' {
		i++
	}
	name = strings.TrimSpace(s[:i])
	if name == "" {
		return "", nil, "", fmt.Errorf("missing fetch or converter name in %q", s)
	}
	if i == len(s) || s[i] == ',' {
		return name, nil, s[i:], nil
	}
	// s[i] == '('
	i++
	var cur strings.Builder
	var quote byte
	argStarted := false
	for i < len(s) {
		ch := s[i]
		switch {
		case quote == '\'':
			if ch == quote {
				quote = 0
			} else {
				cur.WriteByte(ch)
			}
		case quote == '"':
			if ch == quote {
				quote = 0
			} else if ch == '\\' && i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '"') {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(ch)
			}
		case ch == '\\' && i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '"' || s[i+1] == '\''):
			i++
			cur.WriteByte(s[i])
			argStarted = true
		case ch == '"' || ch == '\'':
			quote = ch
			argStarted = true
		case ch == ',':
			args = append(args, cur.String())
			cur.Reset()
			argStarted = true
		case ch == ')':
			if argStarted || cur.Len() > 0 {
				args = append(args, cur.String())
			}
			return name, args, s[i+1:], nil
		default:
			cur.WriteByte(ch)
			argStarted = true
		}
		i++
	}
	return "", nil, "", fmt.Errorf("missing closing parenthesis in %q", s)
}
