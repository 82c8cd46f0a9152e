package parser

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// KeepalivedOptions tunes ParseKeepalived.
type KeepalivedOptions struct {
	// ConfigID is keepalived's config-id (-i): "@ID line" is kept only when
	// ID matches it, "@^ID line" only when it does not. Empty means no id,
	// as when keepalived cannot find one: every "@ID" line is dropped and
	// every "@^ID" line kept. The command fills it with keepalived's default
	// (the node name up to the first dot) when -i is not given.
	ConfigID string
	// MaxLines bounds how many logical lines ~SEQ/~LST and multiline
	// definitions may generate (0 means 4 million); past it the
	// expansion stops with an error instead of exhausting memory.
	MaxLines int
	// FS, when set, replaces the operating system's files (tests, fuzzing).
	FS fs.FS
	// AllConfig is -e/--all-config: every include problem is an error.
	AllConfig bool
}

// Keepalived diagnostic classes: keepalived's config_err_t levels
// (lib/parser.h), which decide `keepalived -t`'s exit status. An empty
// class is a log line that does not affect the status.
const (
	KaFileNotFound     = "FILE_NOT_FOUND"
	KaBadIf            = "BAD_IF"
	KaFatal            = "FATAL"
	KaMultipleFiles    = "MULTIPLE_FILES"
	KaUnknownKeyword   = "UNKNOWN_KEYWORD"
	KaUnexpectedBOB    = "UNEXPECTED_BOB"
	KaMissingBOB       = "MISSING_BOB"
	KaUnexpectedEOB    = "UNEXPECTED_EOB"
	KaMissingEOB       = "MISSING_EOB"
	KaUnmatchedQuote   = "UNMATCHED_QUOTE"
	KaMissingParameter = "MISSING_PARAMETER"
	KaInvalidNumber    = "INVALID_NUMBER"
	KaGeneralError     = "GENERAL_ERROR"
	KaWarning          = "WARNING"
	KaDeprecated       = "DEPRECATED"
	KaSecurityError    = "SECURITY_ERROR"
	// KaPrint is a message keepalived -t prints without counting it.
	KaPrint = "PRINT"
	// KaIncludeError is an include problem an include check (includer…,
	// -e) makes an error; keepalived 2.2.7 -t then exits 6.
	KaIncludeError = "INCLUDE_ERROR"
)

// kaMaxBuf is keepalived's MAXBUF: the longest line it handles; a
// substitution that would exceed it is refused.
const kaMaxBuf = 1024

// kaLogical is one logical line: "{", "}", or a brace-free statement.
type kaLogical struct {
	pos  Pos
	text string
}

type kaDef struct {
	name      string
	value     string // multiline values hold '\n' between lines
	multiline bool
	fn        func(params string) string
	maxParams int
}

type kaFrame struct {
	path string
	dir  string
}

type kaReader struct {
	opt      KeepalivedOptions
	diags    []Diag
	defs     map[string]*kaDef
	mlDef    *kaDef // multiline definition being read
	b        kaBuilder
	paths    []string
	frames   []kaFrame
	maxLines int
	work     int
	overflow bool
}

// ParseKeepalived reads a keepalived.conf the way keepalived 2.2 does
// (lib/parser.c): comments, quoting, include globs relative to the
// including file, $NAME definitions, @config-id conditionals, ~SEQ/~LST
// sequences and blocks. It never fails outright: problems are returned as
// diagnostics in keepalived's wording, each with its config_err class, and
// the statements read so far are kept, as keepalived keeps going.
func ParseKeepalived(path string, opt KeepalivedOptions) (*File, []Diag) {
	r := &kaReader{opt: opt, defs: map[string]*kaDef{}}
	r.maxLines = opt.MaxLines
	if r.maxLines <= 0 {
		r.maxLines = 4 << 20
	}
	r.stdDefs()
	f := &File{Lang: LangKeepalived}
	if !r.exists(path) {
		// keepalived -t says so and still exits 0 (4 with -e)
		class := KaPrint
		if opt.AllConfig {
			class = KaFileNotFound
		}
		r.diag(Pos{File: path}, SevWarning, class, "Config files missing '%s'.", path)
		return f, r.diags
	}
	r.b.stack = []kaBuildFrame{{body: &r.b.top}}
	r.readGlob(path, Pos{File: path}, true, 0)
	f.Paths = r.paths
	f.Directives = r.finish()
	return f, r.diags
}

func (r *kaReader) diag(pos Pos, sev Severity, class, format string, a ...any) {
	r.diags = append(r.diags, Diag{Pos: pos, Sev: sev, Class: class, Msg: fmt.Sprintf(format, a...)})
}

func (r *kaReader) stdDefs() {
	r.defs["_PWD"] = &kaDef{name: "_PWD", fn: func(string) string {
		if len(r.frames) > 0 {
			if d, err := filepath.Abs(r.frames[len(r.frames)-1].dir); err == nil {
				return d
			}
		}
		d, _ := os.Getwd()
		return d
	}}
	r.defs["_INSTANCE"] = &kaDef{name: "_INSTANCE", fn: func(string) string { return r.opt.ConfigID }}
	r.defs["_RANDOM"] = &kaDef{name: "_RANDOM", maxParams: 2, fn: kaRandom}
	r.defs["_HASH"] = &kaDef{name: "_HASH", value: "#"}
	r.defs["_BANG"] = &kaDef{name: "_BANG", value: "!"}
}

// kaRandom is ${_RANDOM [MIN [MAX]]}: an integer in [MIN, MAX], default
// [0, 32767].
func kaRandom(params string) string {
	lo, hi := uint64(0), uint64(32767)
	f := strings.Fields(params)
	if len(f) > 0 {
		lo, _ = strconv.ParseUint(f[0], 10, 32)
	}
	if len(f) > 1 {
		hi, _ = strconv.ParseUint(f[1], 10, 32)
	}
	if hi < lo {
		lo, hi = hi, lo
	}
	return strconv.FormatUint(lo+rand.Uint64N(hi-lo+1), 10)
}

func (r *kaReader) readFile(path string) ([]byte, error) {
	if r.opt.FS != nil {
		return fs.ReadFile(r.opt.FS, strings.TrimPrefix(filepath.ToSlash(path), "/"))
	}
	return os.ReadFile(path)
}

func (r *kaReader) stat(path string) (fs.FileInfo, error) {
	if r.opt.FS != nil {
		p := strings.TrimPrefix(filepath.ToSlash(filepath.Clean(path)), "/")
		if p == "" {
			p = "."
		}
		return fs.Stat(r.opt.FS, p)
	}
	return os.Stat(path)
}

func (r *kaReader) exists(pattern string) bool {
	return len(r.glob(pattern)) > 0
}

// glob expands pattern like glob(3) with GLOB_BRACE, sorted per brace
// alternative as glibc does.
func (r *kaReader) glob(pattern string) []string {
	var out []string
	for _, p := range expandBraces(pattern) {
		if !hasGlobMeta(p) {
			if _, err := r.stat(p); err == nil {
				out = append(out, p)
			}
			continue
		}
		var m []string
		if r.opt.FS != nil {
			abs := strings.HasPrefix(p, "/")
			mm, _ := fs.Glob(r.opt.FS, strings.TrimPrefix(p, "/"))
			for _, x := range mm {
				if abs {
					x = "/" + x
				}
				m = append(m, x)
			}
		} else {
			m, _ = filepath.Glob(p)
		}
		sort.Strings(m)
		out = append(out, m...)
	}
	return out
}

func hasGlobMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// expandBraces does csh-style {a,b} expansion; an unbalanced brace is
// literal.
func expandBraces(s string) []string {
	depth, open := 0, -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '{':
			if depth == 0 {
				open = i
			}
			depth++
		case '}':
			if depth == 0 {
				continue
			}
			depth--
			if depth != 0 {
				continue
			}
			// split s[open+1:i] on top-level commas
			var alts []string
			d, start := 0, open+1
			for j := open + 1; j < i; j++ {
				switch s[j] {
				case '{':
					d++
				case '}':
					d--
				case ',':
					if d == 0 {
						alts = append(alts, s[start:j])
						start = j + 1
					}
				}
			}
			alts = append(alts, s[start:i])
			if len(alts) < 2 {
				continue // "{x}" is literal in glob(3) too... keep scanning
			}
			var out []string
			for _, a := range alts {
				out = append(out, expandBraces(s[:open]+a+s[i+1:])...)
			}
			return out
		}
	}
	return []string{s}
}

// Include checks (keepalived's include_check / include variants): which
// problems with an included file are errors rather than log lines.
const (
	incReadable = 1 << iota // includer: a matched file cannot be read
	incMatch                // includem: a plain name matches nothing
	incWildcard             // includew: a wildcard matches nothing
	incBrace                // includeb: a brace alternative matches nothing
	incAll      = incReadable | incMatch | incWildcard | incBrace
)

var kaIncludeVariants = map[string]int{"include": 0, "includer": incReadable, "includem": incMatch,
	"includew": incWildcard | incMatch, "includeb": incBrace, "includea": incAll}

// readGlob reads every regular, non-executable file matching pattern, in
// order. top is the -f file itself; checks are the include variant's.
func (r *kaReader) readGlob(pattern string, at Pos, top bool, checks int) {
	orig := pattern
	if r.opt.AllConfig {
		checks = incAll
	}
	class := func(check int) string {
		if checks&check != 0 {
			return KaIncludeError
		}
		return KaPrint
	}
	dir := ""
	if len(r.frames) > 0 && !filepath.IsAbs(pattern) {
		dir = r.frames[len(r.frames)-1].dir
		pattern = filepath.Join(dir, pattern)
	}
	// keepalived reads includes from the including file's directory, so
	// it names them relative to it
	rel := func(m string) string {
		if dir != "" {
			return strings.TrimPrefix(m, dir+string(filepath.Separator))
		}
		return m
	}
	matches := r.glob(pattern)
	if len(matches) == 0 {
		switch {
		case top && r.opt.AllConfig:
			r.diag(at, SevWarning, KaFileNotFound, "Config files missing '%s'.", orig)
		case hasGlobMeta(orig):
			r.diag(at, SevWarning, class(incWildcard), "Config files missing '%s'.", orig)
		case strings.Contains(orig, "{"):
			r.diag(at, SevWarning, class(incBrace|incMatch), "Config files missing '%s'.", orig)
		default:
			r.diag(at, SevWarning, class(incMatch), "Config files missing '%s'.", orig)
		}
		return
	}
	if top && len(matches) > 1 {
		r.diag(at, SevWarning, KaMultipleFiles, "WARNING, more than one file matches configuration file %s, using %s", pattern, matches[0])
		matches = matches[:1]
	}
	if len(r.frames) > 40 {
		r.diag(at, SevWarning, KaGeneralError, "include nesting too deep at '%s' - skipping", pattern)
		return
	}
	for _, m := range matches {
		st, err := r.stat(m)
		if err != nil {
			r.diag(at, SevWarning, class(incReadable), "Configuration file '%s' open problem (%v) - skipping", rel(m), err)
			continue
		}
		if st.IsDir() {
			// keepalived 2.2.7 counts this as an error for every include
			// variant, and only logs it for plain include
			c := KaPrint
			if checks != 0 {
				c = KaIncludeError
			}
			r.diag(at, SevWarning, c, "Configuration file '%s/' is a directory - skipping", strings.TrimSuffix(rel(m), "/"))
			continue
		}
		if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 != 0 {
			r.diag(at, SevWarning, class(incReadable), "Configuration file '%s' is not a regular non-executable file - skipping", rel(m))
			continue
		}
		data, err := r.readFile(m)
		if err != nil {
			r.diag(at, SevWarning, class(incReadable), "Configuration file '%s' open problem (%v) - skipping", rel(m), err)
			continue
		}
		r.paths = append(r.paths, m)
		r.frames = append(r.frames, kaFrame{path: m, dir: filepath.Dir(m)})
		r.readData(m, data)
		r.frames = r.frames[:len(r.frames)-1]
	}
}

// readData processes one file's bytes line by line (read_line).
func (r *kaReader) readData(path string, data []byte) {
	lineNo := 0
	for len(data) > 0 && !r.overflow {
		var raw []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			raw, data = data, nil
		}
		lineNo++
		if z := bytes.IndexByte(raw, 0); z >= 0 {
			raw = raw[:z] // keepalived's C strings end at a NUL byte
		}
		for len(raw) > 0 && (raw[len(raw)-1] == '\r' || raw[len(raw)-1] == '\n') {
			raw = raw[:len(raw)-1]
		}
		pos := Pos{File: path, Line: lineNo, Col: 1}
		if len(raw) >= kaMaxBuf {
			// halo reads the line whole; keepalived reads it in 1023-byte
			// pieces (and 2.2.7 can crash on a quoted one)
			r.diag(pos, SevNotice, "", "line is %d bytes long: keepalived reads at most %d bytes per line and would split it", len(raw), kaMaxBuf-1)
		}
		if len(raw) == 0 {
			r.endMultiline()
			continue
		}
		text, lead := r.decomment(string(raw), pos)
		pos.Col += lead
		if r.mlDef != nil {
			r.continueMultiline(text)
			continue
		}
		if text == "" {
			continue
		}
		r.process(text, pos, 0)
	}
	r.endMultiline()
}

func (r *kaReader) endMultiline() {
	if r.mlDef != nil && r.mlDef.value == "" {
		r.mlDef.multiline = false
	}
	r.mlDef = nil
}

func (r *kaReader) continueMultiline(text string) {
	d := r.mlDef
	more := strings.HasSuffix(text, "\\")
	if more {
		text = strings.TrimRight(strings.TrimSuffix(text, "\\"), " \t")
	} else {
		r.mlDef = nil
	}
	if text == "" {
		if !more && d.value == "" {
			d.multiline = false
		}
		return
	}
	if d.value != "" {
		d.value += "\n"
	}
	d.value += text
}

// decomment strips leading and trailing blanks and the comment, and
// unescapes \# and \! outside quotes (decomment()). lead is how many
// leading bytes were removed.
func (r *kaReader) decomment(s string, pos Pos) (out string, lead int) {
	t := strings.TrimLeft(s, " \t")
	lead = len(s) - len(t)
	var b strings.Builder
	quote, cont := false, false
	cut := -1
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '"':
			if cut < 0 {
				quote = !quote
			}
		case c == '\\':
			if i+1 < len(t) {
				if !quote && (t[i+1] == '#' || t[i+1] == '!') && cut < 0 {
					b.WriteByte(t[i+1])
					i++
					continue
				}
				if cut < 0 {
					b.WriteByte(c)
					b.WriteByte(t[i+1])
				}
				i++
				continue
			}
			cont = true
			i = len(t)
			continue
		case !quote && cut < 0 && (c == '!' || c == '#'):
			cut = b.Len()
		}
		if cut < 0 {
			b.WriteByte(c)
		}
	}
	if quote {
		r.diag(pos, SevWarning, KaGeneralError, "Unterminated quote '%s'", b.String())
	}
	out = strings.TrimRight(b.String(), " \t")
	if cont {
		out += "\\"
	}
	return out, lead
}

// process runs the conditional/definition/sequence/substitution loop of
// read_line on one line, then emits it (or reads the include it names).
func (r *kaReader) process(text string, pos Pos, depth int) {
	// every generated line costs work, emitted or not, so a ~SEQ over
	// definitions alone cannot spin forever
	r.work++
	if r.work > 4*r.maxLines && !r.overflow {
		r.diag(pos, SevAlert, KaFatal, "configuration expands to more than %d lines - stopping", r.maxLines)
		r.overflow = true
	}
	if depth > 64 || r.overflow {
		if !r.overflow {
			r.diag(pos, SevWarning, KaGeneralError, "Definitions nest too deeply on line '%s'", text)
		}
		return
	}
	for {
		if strings.HasPrefix(text, "@") {
			neg := strings.HasPrefix(text, "@^")
			ofs := 1
			if neg {
				ofs = 2
			}
			sp := strings.IndexAny(text[ofs:], " \t")
			if sp < 0 {
				return
			}
			id := text[ofs : ofs+sp]
			match := r.opt.ConfigID != "" && id == r.opt.ConfigID
			if match == neg {
				return
			}
			rest := text[ofs+sp:]
			trim := strings.TrimLeft(rest, " \t")
			pos.Col += len(text) - len(trim)
			text = trim
		}
		if strings.HasPrefix(text, "$") && r.define(text) {
			return
		}
		if strings.HasPrefix(text, "~SEQ") {
			r.seq(text, pos, depth)
			return
		}
		if strings.HasPrefix(text, "~LST") {
			r.lst(text, pos, depth)
			return
		}
		if strings.HasPrefix(text, "~") {
			break
		}
		if !strings.Contains(text, "$") {
			break
		}
		first, rest, changed := r.substitute(text, pos)
		if !changed {
			break
		}
		if rest != nil {
			r.process(first, pos, depth+1)
			for _, l := range rest {
				r.process(l, pos, depth+1)
			}
			return
		}
		text = first
		if !strings.HasPrefix(text, "@") && !strings.Contains(text, "$") {
			break
		}
		depth++
		if depth > 64 {
			r.diag(pos, SevWarning, KaGeneralError, "Definitions nest too deeply on line '%s'", text)
			break
		}
	}
	r.emit(text, pos)
}

// define handles "$NAME=VALUE" (check_definition); it reports whether the
// line was a definition.
func (r *kaReader) define(text string) bool {
	if len(text) < 2 || !(kaIsAlpha(text[1]) || text[1] == '_') {
		return false
	}
	eq := strings.IndexByte(text, '=')
	if eq < 0 {
		return false
	}
	name := text[1:eq]
	for i := 0; i < len(name); i++ {
		if !kaIsAlnum(name[i]) && name[i] != '_' {
			return false
		}
	}
	val := strings.TrimLeft(text[eq+1:], " \t")
	d := r.defs[name]
	if d == nil {
		d = &kaDef{name: name}
		r.defs[name] = d
	}
	d.fn, d.maxParams = nil, 0
	if strings.HasSuffix(val, "\\") {
		d.value = strings.TrimRight(strings.TrimSuffix(val, "\\"), " \t")
		d.multiline = true
		r.mlDef = d
	} else {
		d.value = val
		d.multiline = false
	}
	return true
}

func kaIsAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func kaIsDigit(c byte) bool { return c >= '0' && c <= '9' }
func kaIsAlnum(c byte) bool { return kaIsAlpha(c) || kaIsDigit(c) }

// substitute replaces $NAME and ${NAME} references (replace_param). When
// a multiline definition is used, first is the line with its first line
// in place and rest the definition's remaining lines.
func (r *kaReader) substitute(text string, pos Pos) (first string, rest []string, changed bool) {
	buf := text
	i := 0
	for n := 0; ; n++ {
		if n > 1000 {
			// a definition that refers to itself would loop forever
			r.diag(pos, SevWarning, KaGeneralError, "Parameter substitution on line '%s' does not terminate", text)
			return text, nil, false
		}
		j := strings.IndexByte(buf[i:], '$')
		if j < 0 || i+j+1 >= len(buf) {
			break
		}
		i += j
		d, refLen, params := r.findRef(buf[i+1:])
		if d == nil {
			i++
			continue
		}
		changed = true
		val := d.value
		if d.fn != nil {
			val = d.fn(params)
		}
		if d.multiline {
			lines := strings.Split(val, "\n")
			buf = buf[:i] + lines[0] + buf[i+1+refLen:]
			rest = append(lines[1:], rest...)
			break
		}
		buf = buf[:i] + val + buf[i+1+refLen:]
		if len(buf) >= kaMaxBuf {
			r.diag(pos, SevNotice, "", "Parameter substitution on line '%s' would exceed maximum line length", text)
			return text, nil, false
		}
		if v := strings.TrimLeft(val, " \t"); strings.HasPrefix(v, "~") {
			break
		}
	}
	return buf, rest, changed
}

// findRef recognises a definition reference at s (just after '$'):
// NAME followed by blank, ',', ')' or the end, or {NAME} / {NAME params}.
// refLen is how many bytes of s the reference spans.
func (r *kaReader) findRef(s string) (d *kaDef, refLen int, params string) {
	braces := strings.HasPrefix(s, "{")
	name := s
	if braces {
		name = s[1:]
	}
	if name == "" || !(kaIsAlpha(name[0]) || name[0] == '_') {
		return nil, 0, ""
	}
	n := 1
	for n < len(name) && (kaIsAlnum(name[n]) || name[n] == '_') {
		n++
	}
	p := n
	if braces {
		ps := -1
		pe := -1
		for p < len(name) && (name[p] == ' ' || kaIsDigit(name[p])) {
			if name[p] != ' ' {
				if ps < 0 {
					ps = p
				}
				pe = p
			}
			p++
		}
		if ps >= 0 && pe+1 != p {
			return nil, 0, ""
		}
		if p >= len(name) || name[p] != '}' {
			return nil, 0, ""
		}
		if ps >= 0 {
			params = name[ps : pe+1]
		}
	} else if p < len(name) && !strings.ContainsRune(" \t,)", rune(name[p])) {
		return nil, 0, ""
	}
	whole := (!braces && p == len(name)) || (braces && p+1 == len(name))
	d = r.defs[name[:n]]
	if d == nil || (d.multiline && !whole) || (params != "" && d.maxParams == 0) {
		return nil, 0, ""
	}
	if braces {
		return d, p + 2, params
	}
	return d, n, params
}

// seq handles "~SEQ(var, start, step, end) text" and ~SEQx (hex values).
func (r *kaReader) seq(text string, pos Pos, depth int) {
	p := text[4:]
	hex := strings.HasPrefix(p, "x")
	if hex {
		p = p[1:]
	}
	p = strings.TrimLeft(p, " \t")
	bad := func() {
		r.diag(pos, SevWarning, KaGeneralError, "Invalid ~SEQ specification '%s'", text)
	}
	if !strings.HasPrefix(p, "(") {
		bad()
		return
	}
	end := strings.IndexByte(p, ')')
	if end < 0 {
		bad()
		return
	}
	inner, body := p[1:end], strings.TrimLeft(p[end+1:], " \t")
	parts := strings.Split(inner, ",")
	v := strings.TrimSpace(parts[0])
	if v == "" || len(parts) < 2 || len(parts) > 4 {
		bad()
		return
	}
	var nums []int64
	for _, s := range parts[1:] {
		s = strings.TrimSpace(s)
		if sub, _, ch := r.substitute(s, pos); ch {
			s = strings.TrimSpace(sub)
		}
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			bad()
			return
		}
		nums = append(nums, n)
	}
	var start, step, last int64
	switch len(nums) {
	case 1:
		last = nums[0]
		step, start = 1, 1
		if last < 1 {
			step = -1
		}
		if last < 0 {
			start = -1
		}
	case 2:
		start, last = nums[0], nums[1]
		step = 1
		if start > last {
			step = -1
		}
	case 3:
		start, step, last = nums[0], nums[1], nums[2]
		if step == 0 || (start < last && step < 0) || (start > last && step > 0) {
			bad()
			return
		}
	}
	if hex && (start < 0 || last < 0) {
		bad()
		return
	}
	for x := start; (step > 0 && x <= last) || (step < 0 && x >= last); x += step {
		val := strconv.FormatInt(x, 10)
		if hex {
			val = strconv.FormatInt(x, 16)
		}
		r.defs[v] = &kaDef{name: v, value: val}
		r.process(body, pos, depth+1)
		if r.overflow {
			return
		}
	}
}

// lst handles "~LST(var, v1, v2, …) text" and "~LST({a,b}, {1,2}, …) text".
func (r *kaReader) lst(text string, pos Pos, depth int) {
	bad := func() {
		r.diag(pos, SevWarning, KaGeneralError, "Invalid ~LST specification '%s'", text)
	}
	p := strings.TrimLeft(text[4:], " \t")
	if !strings.HasPrefix(p, "(") {
		bad()
		return
	}
	// find the matching ')' outside {}
	d, end := 0, -1
	for i := 1; i < len(p) && end < 0; i++ {
		switch p[i] {
		case '{':
			d++
		case '}':
			d--
		case ')':
			if d == 0 {
				end = i
			}
		}
	}
	if end < 0 {
		bad()
		return
	}
	items := splitTopLevel(p[1:end])
	body := strings.TrimLeft(p[end+1:], " \t")
	if len(items) < 2 {
		bad()
		return
	}
	vars := unbrace(items[0])
	for _, it := range items[1:] {
		vals := unbrace(it)
		if len(vals) != len(vars) {
			bad()
			return
		}
		for k, v := range vars {
			r.defs[v] = &kaDef{name: v, value: vals[k]}
		}
		r.process(body, pos, depth+1)
		if r.overflow {
			return
		}
	}
}

func splitTopLevel(s string) []string {
	var out []string
	d, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			d++
		case '}':
			d--
		case ',':
			if d == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

func unbrace(s string) []string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		var out []string
		for _, x := range strings.Split(s[1:len(s)-1], ",") {
			out = append(out, strings.TrimSpace(x))
		}
		return out
	}
	return []string{s}
}

// emit handles include lines, then splits braces off into their own
// logical lines as read_line does: a '{' or '}' outside double quotes ends
// the text before it, and one at the start of a line stands alone.
func (r *kaReader) emit(text string, pos Pos) {
	if strings.Contains(text, "include") {
		if w, _ := splitKaWords(text, pos); len(w) == 2 {
			if checks, ok := kaIncludeVariants[w[0].Value]; ok {
				r.readGlob(w[1].Value, pos, false, checks)
				return
			}
		}
	}
	for text != "" {
		if r.b.lines >= r.maxLines {
			if !r.overflow {
				r.diag(pos, SevAlert, KaFatal, "configuration expands to more than %d lines - stopping", r.maxLines)
			}
			r.overflow = true
			return
		}
		p := -1
		if text[0] == '{' || text[0] == '}' {
			p = 0
		} else {
			for i := 0; i < len(text); i++ {
				if text[i] == '"' {
					j := strings.IndexByte(text[i+1:], '"')
					if j < 0 {
						break
					}
					i += j + 1
					continue
				}
				if text[i] == '{' || text[i] == '}' {
					p = i
					break
				}
			}
		}
		if p < 0 {
			r.add(kaLogical{pos: pos, text: strings.TrimRight(text, " \t")})
			return
		}
		if p == 0 {
			r.add(kaLogical{pos: pos, text: text[:1]})
			rest := text[1:]
			trim := strings.TrimLeft(rest, " \t")
			pos.Col += 1 + len(rest) - len(trim)
			text = trim
			continue
		}
		r.add(kaLogical{pos: pos, text: strings.TrimRight(text[:p], " \t")})
		pos.Col += p
		text = text[p:]
	}
}

// kaBuilder assembles the logical lines into directives as they are read
// (a ~SEQ generating a million lines is never held as a list of lines): a
// statement directly followed by a "{" line owns the block up to the
// matching "}". Keepalived itself decides per keyword whether a block is
// expected; package compat does that, reporting a block given to a keyword
// that takes none.
type kaBuilder struct {
	top     []*Directive
	stack   []kaBuildFrame
	last    *Directive // the statement on the previous logical line
	lines   int
	lastPos Pos
}

type kaBuildFrame struct {
	owner *Directive // nil for a stray '{'
	body  *[]*Directive
}

// add takes the next logical line.
func (r *kaReader) add(l kaLogical) {
	b := &r.b
	b.lines++
	b.lastPos = l.pos
	cur := &b.stack[len(b.stack)-1]
	switch l.text {
	case "{":
		if b.last != nil && !b.last.HasBlock {
			b.last.HasBlock = true
			b.stack = append(b.stack, kaBuildFrame{owner: b.last, body: &b.last.Body})
		} else {
			r.diag(l.pos, SevWarning, KaUnexpectedBOB, "Unexpected '{' - ignoring")
			// keepalived reads the contents at the current level
			b.stack = append(b.stack, kaBuildFrame{body: cur.body})
		}
		b.last = nil
	case "}":
		if len(b.stack) == 1 {
			r.diag(l.pos, SevWarning, KaUnexpectedEOB, "Extra '}' found")
			// keepalived then reads the '}' as a statement: kept as a
			// directive named "}" so the keyword tables see it (it
			// ends a block whose '{' was missing, or is unknown)
			b.top = append(b.top, &Directive{Pos: l.pos, Name: "}"})
		} else {
			if o := b.stack[len(b.stack)-1].owner; o != nil {
				o.End = l.pos
			}
			b.stack = b.stack[:len(b.stack)-1]
		}
		b.last = nil
	default:
		words, unended := splitKaWords(l.text, l.pos)
		if unended {
			r.diag(l.pos, SevWarning, KaUnmatchedQuote, "Unmatched quote: '%s'", l.text)
		}
		if len(words) == 0 {
			return
		}
		d := &Directive{Pos: words[0].Pos, Name: words[0].Value}
		if len(words) > 1 {
			d.Args = words[1:]
		}
		*cur.body = append(*cur.body, d)
		b.last = d
	}
}

// finish ends the build, reporting unclosed blocks.
func (r *kaReader) finish() []*Directive {
	if n := len(r.b.stack) - 1; n > 0 {
		r.diag(r.b.lastPos, SevWarning, KaMissingEOB, "There are %d missing '}'s or extra '{'s", n)
	}
	return r.b.top
}

// SplitScript splits a script command line the way keepalived does for
// scripts (alloc_strvec_quoted_escaped): whitespace separates words, single
// and double quotes group, backslash escapes (\n, \t, \xHH, \NNN, \cX…).
func SplitScript(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	quote := byte(0)
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case c == '\\':
			i++
			if i >= len(s) {
				return out, fmt.Errorf("missing escape char at end: '%s'", s)
			}
			inWord = true
			cur.WriteByte(unescape(s, &i))
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
			inWord = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return out, fmt.Errorf("String '%s': missing terminating %c", s, quote)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// unescape decodes the escape whose letter is s[*i], leaving *i on its
// last byte.
func unescape(s string, i *int) byte {
	c := s[*i]
	isHex := func(b byte) bool { return kaIsDigit(b) || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' }
	switch {
	case c == 'x' && *i+1 < len(s) && isHex(s[*i+1]):
		var v byte
		for *i+1 < len(s) && isHex(s[*i+1]) {
			*i++
			h := s[*i]
			switch {
			case kaIsDigit(h):
				h -= '0'
			case h >= 'a':
				h -= 'a' - 10
			default:
				h -= 'A' - 10
			}
			v = v<<4 | h
		}
		return v
	case c == 'c' && *i+1 < len(s):
		*i++
		return s[*i] & 0x1f
	case c >= '0' && c <= '7':
		v := c - '0'
		for k := 0; k < 2 && *i+1 < len(s) && s[*i+1] >= '0' && s[*i+1] <= '7'; k++ {
			*i++
			v = v<<3 + (s[*i] - '0')
		}
		return v
	}
	switch c {
	case 'a':
		return '\a'
	case 'b':
		return '\b'
	case 'E':
		return 0x1b
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'v':
		return '\v'
	}
	return c
}
