// Package logging renders HAProxy log lines (httplog, tcplog, clf and
// custom log-format strings, configuration.txt §8.2) and sends them to
// syslog targets (§4.2 "log").
//
// The same format engine renders the log-format strings of HTTP actions
// (set-header values, lf-string bodies, dynamic use_backend names), which
// HAProxy evaluates slightly differently (see Context).
package logging

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"halo/proxy/acl"
)

// The predefined formats, exactly as HAProxy 2.6 declares them.
const (
	HTTPLog = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"
	TCPLog  = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"
	CLFLog  = "%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl"
	// HTTPSLog is `option httpslog`.
	HTTPSLog = HTTPLog + " %[fc_err]/%[ssl_fc_err,hex]/%[ssl_c_err]/%[ssl_c_ca_err]/%[ssl_fc_is_resumed] %[ssl_fc_sni]/%sslv/%sslc"
)

// Context says where a format string is used.
type Context int

const (
	// CtxLog is a log line: spaces are separators merged on output, an
	// absent sample prints "-".
	CtxLog Context = iota
	// CtxAction is an HTTP action argument (set-header, lf-string,
	// use_backend): spaces are literal and an absent sample prints nothing.
	CtxAction
)

type nodeKind uint8

const (
	nText nodeKind = iota
	nSep
	nVar
	nExpr
)

const (
	flagQ uint8 = 1 << iota
	flagX
	flagE
)

type node struct {
	kind  nodeKind
	text  string
	v     string // variable name
	flags uint8
	expr  *acl.Expr
}

// Format is a compiled log-format string.
type Format struct {
	ctx   Context
	nodes []node
	// NeedsHTTP is true when the format reads HTTP-only variables.
	src string
}

// String returns the format as written.
func (f *Format) String() string { return f.src }

var knownVars = map[string]bool{
	"o": true, "B": true, "CC": true, "CS": true, "H": true, "HM": true, "HP": true, "HPO": true,
	"HQ": true, "HU": true, "HV": true, "ID": true, "ST": true, "T": true, "Ta": true, "Tc": true,
	"Td": true, "Tl": true, "Th": true, "Ti": true, "Tq": true, "TR": true, "Tr": true, "Ts": true,
	"Tt": true, "Tu": true, "Tw": true, "U": true, "ac": true, "b": true, "bc": true, "bi": true,
	"bp": true, "bq": true, "ci": true, "cp": true, "f": true, "fc": true, "fi": true, "fp": true,
	"ft": true, "lc": true, "hr": true, "hrl": true, "hs": true, "hsl": true, "ms": true, "pid": true,
	"r": true, "rc": true, "rt": true, "s": true, "sc": true, "si": true, "sp": true, "sq": true,
	"sslc": true, "sslv": true, "t": true, "tr": true, "trg": true, "trl": true, "ts": true, "tsc": true,
}

// Compile parses a log-format string (configuration.txt §8.2.6). Sample
// expressions are compiled with o.
func Compile(s string, ctx Context, o *acl.Options) (*Format, error) {
	f := &Format{ctx: ctx, src: s}
	var globalFlags uint8
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			f.nodes = append(f.nodes, node{kind: nText, text: text.String()})
			text.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c == ' ' && ctx == CtxLog {
			flush()
			f.nodes = append(f.nodes, node{kind: nSep})
			i++
			continue
		}
		if c != '%' {
			text.WriteByte(c)
			i++
			continue
		}
		i++
		if i >= len(s) {
			return nil, fmt.Errorf("truncated line after '%%'")
		}
		if s[i] == '%' {
			text.WriteByte('%')
			i++
			continue
		}
		flags := globalFlags
		if s[i] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("missing '}' after '%%{' in log-format")
			}
			for _, fl := range strings.Split(s[i+1:i+end], ",") {
				if len(fl) < 2 || (fl[0] != '+' && fl[0] != '-') {
					if fl == "" {
						continue
					}
					return nil, fmt.Errorf("unexpected flag '%s' in log-format", fl)
				}
				var bit uint8
				switch fl[1:] {
				case "Q":
					bit = flagQ
				case "X":
					bit = flagX
				case "E":
					bit = flagE
				default:
					return nil, fmt.Errorf("unexpected flag '%s' in log-format", fl)
				}
				if fl[0] == '+' {
					flags |= bit
				} else {
					flags &^= bit
				}
			}
			i += end + 1
			if i >= len(s) {
				return nil, fmt.Errorf("truncated line after '%s'", s[i-end-1:])
			}
		}
		if s[i] == '[' {
			end := matchBracket(s, i)
			if end < 0 {
				return nil, fmt.Errorf("missing ']' in log-format expression '%s'", s[i:])
			}
			e, err := acl.ParseExpr(s[i+1:end], o)
			if err != nil {
				return nil, fmt.Errorf("failed to parse sample expression <%s> : %v", s[i+1:end], err)
			}
			flush()
			f.nodes = append(f.nodes, node{kind: nExpr, expr: e, flags: flags})
			i = end + 1
			continue
		}
		j := i
		for j < len(s) && isAlnum(s[j]) {
			j++
		}
		name := s[i:j]
		if name == "" {
			return nil, fmt.Errorf("no such format variable '%s'. If you wanted to emit the '%%' character verbatim, you need to use '%%%%'", s[i:])
		}
		// HAProxy reads the longest alphanumeric run; pick the longest known
		// prefix so "%Tw/%Tc" and "%cp]" parse too.
		for len(name) > 0 && !knownVars[name] {
			name = name[:len(name)-1]
		}
		if name == "" {
			return nil, fmt.Errorf("no such format variable '%s'. If you wanted to emit the '%%' character verbatim, you need to use '%%%%'", s[i:j])
		}
		i += len(name)
		if name == "o" {
			globalFlags = flags
			continue
		}
		flush()
		f.nodes = append(f.nodes, node{kind: nVar, v: name, flags: flags})
	}
	flush()
	return f, nil
}

func matchBracket(s string, i int) int {
	depth := 0
	for k := i; k < len(s); k++ {
		switch s[k] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Entry is what the runtime knows about a finished transaction (or a TCP
// session) when it logs it. Timers are milliseconds, -1 when the step was
// never reached.
type Entry struct {
	Ctx *acl.Ctx // for %[...] samples; may be nil

	Client, Frontend netip.AddrPort // %ci:%cp, %fi:%fp
	BackendSrc       netip.AddrPort // %bi:%bp
	Server           netip.AddrPort // %si:%sp
	Accept           time.Time      // %t, %ms, %Ts
	Request          time.Time      // %tr; zero means Accept
	FrontendName     string
	SSL              bool   // adds '~' to %ft
	BackendName      string // empty means the frontend itself
	ServerName       string // empty means "<NOSRV>"

	Th, Ti, TR, Tw, Tc, Tr, Ta, Tt int64

	Status            int
	BytesOut, BytesIn int64   // %B (to the client), %U (from the client)
	Term              [4]byte // termination state, e.g. "LR--"; zero bytes print '-'
	ActConn, FeConn   int
	BeConn, SrvConn   int
	Retries           int
	Redispatched      bool // %rc is then prefixed with '+'
	SrvQueue, BeQueue int
	RequestLine       []byte   // %r; nil prints <BADREQ>
	ReqCaptures       [][]byte // capture request header, in declaration order
	ResCaptures       [][]byte
	ReqCookie         []byte // captured request cookie (capture cookie)
	ResCookie         []byte
	UniqueID          []byte
	ReqCounter        int64 // %rt
	LogCounter        int64 // %lc
	SSLVersion        []byte
	SSLCipher         []byte
	PID               int
	Hostname          string
}

// Append renders the format for e onto dst.
func (f *Format) Append(dst []byte, e *Entry) []byte {
	lastSpace := true
	for i := range f.nodes {
		n := &f.nodes[i]
		switch n.kind {
		case nSep:
			if !lastSpace {
				dst = append(dst, ' ')
				lastSpace = true
			}
		case nText:
			dst = append(dst, n.text...)
			lastSpace = false
		case nExpr:
			var v acl.Value
			ok := false
			if e.Ctx != nil {
				v, ok = n.expr.Eval(e.Ctx)
			}
			if f.ctx == CtxAction {
				if ok {
					dst = appendActionSample(dst, v)
				}
				lastSpace = false
				continue
			}
			q := n.flags&flagQ != 0
			if q && v.Kind != acl.KInt && v.Kind != acl.KBool {
				dst = append(dst, '"')
			}
			if ok && (v.Kind != acl.KStr || len(v.B) > 0) {
				txt := v.B
				if v.Kind != acl.KStr {
					var tmp [48]byte
					txt = v.AppendText(tmp[:0])
				}
				dst = escape(dst, txt, n.flags)
			} else if !q {
				dst = append(dst, '-')
			}
			if q && v.Kind != acl.KInt && v.Kind != acl.KBool {
				dst = append(dst, '"')
			}
			lastSpace = false
		case nVar:
			before := len(dst)
			dst = f.appendVar(dst, n, e)
			if len(dst) != before {
				lastSpace = false
			}
		}
	}
	return dst
}

const monthNames = "JanFebMarAprMayJunJulAugSepOctNovDec"

// appendDate writes dd/Mon/yyyy:HH:MM:SS[.mmm].
func appendDate(dst []byte, t time.Time, millis bool) []byte {
	dst = append2(dst, t.Day())
	dst = append(dst, '/')
	dst = append(dst, monthNames[(t.Month()-1)*3:t.Month()*3]...)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, int64(t.Year()), 10)
	dst = append(dst, ':')
	dst = append2(dst, t.Hour())
	dst = append(dst, ':')
	dst = append2(dst, t.Minute())
	dst = append(dst, ':')
	dst = append2(dst, t.Second())
	if millis {
		dst = append(dst, '.')
		dst = append3(dst, t.Nanosecond()/1e6)
	}
	return dst
}

func appendZone(dst []byte, t time.Time) []byte {
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	dst = append(dst, ' ', sign)
	dst = append2(dst, off/3600)
	return append2(dst, off/60%60)
}

func append2(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/10%10), byte('0'+n%10))
}

func append3(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
}

// escape writes s, replacing what HAProxy's log encoding replaces
// (control characters, DEL and '"' become #XX), and with +E escaping '"',
// '\' and ']'.
// appendActionSample writes a sample into an action's text (header
// value, lf-string body) as HAProxy 2.6 does: it ends at a NUL byte (a C
// string there), control characters other than tab, and DEL, become %XX
// (checked against 2.6.12); other bytes, '%' included, are copied.
func appendActionSample(dst []byte, v acl.Value) []byte {
	start := len(dst)
	dst = v.AppendText(dst)
	for i := start; i < len(dst); i++ {
		if c := dst[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			rest := dst[i:]
			if j := bytes.IndexByte(rest, 0); j >= 0 {
				rest = rest[:j]
			}
			return escapeControls(dst[:i], append([]byte(nil), rest...)) // rare: control bytes
		}
	}
	return dst
}

func escapeControls(dst, s []byte) []byte {
	for _, c := range s {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			dst = append(dst, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

func escape(dst, s []byte, flags uint8) []byte {
	for _, c := range s {
		if flags&flagE != 0 && (c == '"' || c == '\\' || c == ']') {
			dst = append(dst, '\\', c)
			continue
		}
		if c < 0x20 || c >= 0x7f || (c == '"' && flags&flagE == 0) {
			dst = append(dst, '#', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

func appendStr(dst []byte, s []byte, flags uint8) []byte {
	if flags&flagQ != 0 {
		dst = append(dst, '"')
		dst = escape(dst, s, flags)
		return append(dst, '"')
	}
	if len(s) == 0 {
		return append(dst, '-')
	}
	return escape(dst, s, flags)
}

func appendStrS(dst []byte, s string, flags uint8) []byte {
	if flags&flagQ != 0 {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	if s == "" {
		return append(dst, '-')
	}
	return append(dst, s...)
}

func appendInt(dst []byte, n int64, flags uint8) []byte {
	if flags&flagX != 0 {
		// HAProxy prints hexadecimal numbers with "%04X".
		h := strings.ToUpper(strconv.FormatInt(n, 16))
		for i := len(h); i < 4; i++ {
			dst = append(dst, '0')
		}
		return append(dst, h...)
	}
	return strconv.AppendInt(dst, n, 10)
}

func appendIP(dst []byte, a netip.Addr, flags uint8) []byte {
	q := flags&flagQ != 0
	if q {
		dst = append(dst, '"')
	}
	switch {
	case !a.IsValid():
		dst = append(dst, '-')
	case flags&flagX != 0 && a.Unmap().Is4():
		for _, b := range a.Unmap().As4() {
			dst = append(dst, "0123456789ABCDEF"[b>>4], "0123456789ABCDEF"[b&15])
		}
	default:
		dst = a.Unmap().AppendTo(dst)
	}
	if q {
		dst = append(dst, '"')
	}
	return dst
}

func appendPort(dst []byte, ap netip.AddrPort, flags uint8) []byte {
	if !ap.IsValid() {
		return append(dst, '-')
	}
	if flags&flagX != 0 {
		return append(dst, fmt.Sprintf("%04X", ap.Port())...)
	}
	return strconv.AppendUint(dst, uint64(ap.Port()), 10)
}

// requestParts splits the logged request line into method, URI, version.
func requestParts(r []byte) (m, u, v []byte) {
	sp := func(b []byte) int {
		for i, c := range b {
			if c == ' ' {
				return i
			}
		}
		return -1
	}
	i := sp(r)
	if i < 0 {
		return r, nil, nil
	}
	m, rest := r[:i], r[i+1:]
	j := sp(rest)
	if j < 0 {
		return m, rest, nil
	}
	return m, rest[:j], rest[j+1:]
}

func (f *Format) appendVar(dst []byte, n *node, e *Entry) []byte {
	fl := n.flags
	switch n.v {
	case "ci":
		return appendIP(dst, e.Client.Addr(), fl)
	case "cp":
		return appendPort(dst, e.Client, fl)
	case "fi":
		return appendIP(dst, e.Frontend.Addr(), fl)
	case "fp":
		return appendPort(dst, e.Frontend, fl)
	case "bi":
		return appendIP(dst, e.BackendSrc.Addr(), fl)
	case "bp":
		return appendPort(dst, e.BackendSrc, fl)
	case "si":
		return appendIP(dst, e.Server.Addr(), fl)
	case "sp":
		return appendPort(dst, e.Server, fl)
	case "t", "tr":
		t := e.Accept
		if n.v == "tr" && !e.Request.IsZero() {
			t = e.Request
		}
		return appendDate(dst, t, true)
	case "trg", "T":
		t := e.Accept
		if n.v == "trg" && !e.Request.IsZero() {
			t = e.Request
		}
		return appendZone(appendDate(dst, t.UTC(), false), t.UTC())
	case "trl", "Tl":
		t := e.Accept
		if n.v == "trl" && !e.Request.IsZero() {
			t = e.Request
		}
		return appendZone(appendDate(dst, t.Local(), false), t.Local())
	case "Ts":
		return appendInt(dst, e.Accept.Unix(), fl)
	case "ms":
		return append3(dst, e.Accept.Nanosecond()/1e6)
	case "ft":
		name := e.FrontendName
		if fl&flagQ != 0 {
			dst = append(dst, '"')
		}
		dst = append(dst, name...)
		if e.SSL {
			dst = append(dst, '~')
		}
		if fl&flagQ != 0 {
			dst = append(dst, '"')
		}
		return dst
	case "f":
		return appendStrS(dst, e.FrontendName, fl)
	case "b":
		b := e.BackendName
		if b == "" {
			b = e.FrontendName
		}
		return appendStrS(dst, b, fl)
	case "s":
		s := e.ServerName
		if s == "" {
			s = "<NOSRV>"
		}
		return appendStrS(dst, s, fl)
	case "Th":
		return appendInt(dst, e.Th, fl)
	case "Ti":
		return appendInt(dst, e.Ti, fl)
	case "TR":
		return appendInt(dst, e.TR, fl)
	case "Tq":
		if e.TR < 0 {
			return appendInt(dst, -1, fl)
		}
		return appendInt(dst, e.Th+e.Ti+e.TR, fl)
	case "Tw":
		return appendInt(dst, e.Tw, fl)
	case "Tc":
		return appendInt(dst, e.Tc, fl)
	case "Tr":
		return appendInt(dst, e.Tr, fl)
	case "Ta":
		return appendInt(dst, e.Ta, fl)
	case "Tt":
		return appendInt(dst, e.Tt, fl)
	case "Tu":
		return appendInt(dst, e.Tt-e.Ti, fl)
	case "Td":
		if e.Tr < 0 || e.Tc < 0 || e.Tw < 0 || e.TR < 0 {
			return appendInt(dst, -1, fl)
		}
		return appendInt(dst, e.Tt-(e.Th+e.Ti+e.TR+e.Tw+e.Tc+e.Tr), fl)
	case "ST":
		return appendInt(dst, int64(e.Status), fl)
	case "B":
		return appendInt(dst, e.BytesOut, fl)
	case "U":
		return appendInt(dst, e.BytesIn, fl)
	case "CC":
		return appendStr(dst, e.ReqCookie, fl)
	case "CS":
		return appendStr(dst, e.ResCookie, fl)
	case "ts", "tsc":
		k := 2
		if n.v == "tsc" {
			k = 4
		}
		for i := 0; i < k; i++ {
			c := e.Term[i]
			if c == 0 {
				c = '-'
			}
			dst = append(dst, c)
		}
		return dst
	case "ac":
		return appendInt(dst, int64(e.ActConn), fl)
	case "fc":
		return appendInt(dst, int64(e.FeConn), fl)
	case "bc":
		return appendInt(dst, int64(e.BeConn), fl)
	case "sc":
		return appendInt(dst, int64(e.SrvConn), fl)
	case "rc":
		if e.Redispatched {
			dst = append(dst, '+')
		}
		return appendInt(dst, int64(e.Retries), fl)
	case "sq":
		return appendInt(dst, int64(e.SrvQueue), fl)
	case "bq":
		return appendInt(dst, int64(e.BeQueue), fl)
	case "rt":
		return appendInt(dst, e.ReqCounter, fl)
	case "lc":
		return appendInt(dst, e.LogCounter, fl)
	case "pid":
		return appendInt(dst, int64(e.PID), fl)
	case "H":
		return appendStrS(dst, e.Hostname, fl)
	case "ID":
		return appendStr(dst, e.UniqueID, fl)
	case "sslv":
		return appendStr(dst, e.SSLVersion, fl)
	case "sslc":
		return appendStr(dst, e.SSLCipher, fl)
	case "hr", "hs", "hrl", "hsl":
		caps := e.ReqCaptures
		if n.v[1] == 's' {
			caps = e.ResCaptures
		}
		if len(caps) == 0 {
			return dst
		}
		if n.v == "hr" || n.v == "hs" {
			if fl&flagQ != 0 {
				dst = append(dst, '"')
			}
			dst = append(dst, '{')
			for i, c := range caps {
				if i > 0 {
					dst = append(dst, '|')
				}
				dst = escapeHdr(dst, c)
			}
			dst = append(dst, '}')
			if fl&flagQ != 0 {
				dst = append(dst, '"')
			}
			return dst
		}
		for i, c := range caps {
			if i > 0 {
				dst = append(dst, ' ')
			}
			if fl&flagQ != 0 {
				dst = append(dst, '"')
				dst = escapeHdr(dst, c)
				dst = append(dst, '"')
			} else if len(c) == 0 {
				dst = append(dst, '-')
			} else {
				dst = escapeHdr(dst, c)
			}
		}
		return dst
	case "r":
		if e.RequestLine == nil {
			return appendStr(dst, []byte("<BADREQ>"), fl)
		}
		return appendStr(dst, e.RequestLine, fl)
	case "HM", "HU", "HP", "HPO", "HQ", "HV":
		m, u, v := requestParts(e.RequestLine)
		var out []byte
		switch n.v {
		case "HM":
			out = m
		case "HU":
			out = u
		case "HV":
			out = v
		case "HP", "HPO", "HQ":
			p, q := u, []byte(nil)
			for i, c := range u {
				if c == '?' {
					p, q = u[:i], u[i:]
					break
				}
			}
			switch n.v {
			case "HP":
				out = p
			case "HQ":
				out = q
			case "HPO":
				// drop scheme://authority of an absolute URI
				s := string(p)
				if i := strings.Index(s, "://"); i >= 0 {
					if j := strings.IndexByte(s[i+3:], '/'); j >= 0 {
						out = p[i+3+j:]
					} else {
						out = []byte("/")
					}
				} else {
					out = p
				}
			}
		}
		return appendStr(dst, out, fl)
	}
	return dst
}

// escapeHdr applies HAProxy's captured-header encoding: control
// characters and '"', '#', '{', '|', '}' become #XX.
func escapeHdr(dst, s []byte) []byte {
	for _, c := range s {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '#' || c == '{' || c == '|' || c == '}' {
			dst = append(dst, '#', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}
