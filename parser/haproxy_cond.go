package parser

import (
	"fmt"
	"strconv"
	"strings"
)

// CondEnv answers the predicates of haproxy's .if/.elif lines
// (configuration.txt 2.4): defined(), feature(), streq(), strneq(),
// version_atleast(), version_before() and the openssl ones.
type CondEnv struct {
	Env      Env
	Version  string          // the version halo claims, e.g. "2.6.12"
	Features map[string]bool // feature(NAME) answers
	OpenSSL  string          // OpenSSL-compatible version, e.g. "3.0.0"
	OSSLName string
}

// DefaultCondEnv describes halo: HAProxy 2.6.12-compatible, with the build
// features that halo really has (TLS yes, Lua no).
func DefaultCondEnv() *CondEnv {
	return &CondEnv{
		Env:     OSEnv{},
		Version: "2.6.12",
		Features: map[string]bool{
			"ACCEPT4": true, "EPOLL": true, "GETADDRINFO": true, "LINUX_SPLICE": true,
			"OPENSSL": true, "POLL": true, "PRCTL": true, "PROMEX": true, "RT": true,
			"THREAD": true, "TPROXY": true, "LINUX_TPROXY": true, "CRYPT_H": true,
			"LIBCRYPT": true, "NS": true, "TFO": true, "SYSTEMD": true,
		},
		OpenSSL:  "3.0.0",
		OSSLName: "OpenSSL",
	}
}

// condError is an .if expression error; pos is 1-based in text. msg may
// be empty: HAProxy fails some predicates (an OpenSSL version it cannot
// parse) without a word.
type condError struct {
	msg  string
	pos  int
	text string
	// empty: the term was missing (end of text); unparsable: it named no
	// known predicate. Both are reworded by the enclosing operator.
	empty, unparsable bool
}

func (e *condError) Error() string { return e.msg }

// EvalString evaluates a condition given as one string, as `haproxy -cc`
// does: quotes and environment variables are processed as in a
// configuration line, but spaces do not split it. The error, when not
// nil, is a *condError whose Error() may be empty.
func (ce *CondEnv) EvalString(s string) (bool, error) {
	env := ce.Env
	if env == nil {
		env = OSEnv{}
	}
	esc := strings.ReplaceAll(s, " ", "\\ ")
	words, lerr := lexLine(esc, "", 0, "", env)
	if lerr != nil {
		return false, &condError{msg: lerr.what}
	}
	v, err := ce.Eval(words)
	if err != nil {
		return false, err
	}
	return v, nil
}

// Eval evaluates the words after .if/.elif. An empty condition is false.
func (ce *CondEnv) Eval(words []Word) (bool, *condError) {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = w.Value
	}
	text := strings.Join(parts, " ")
	if strings.TrimSpace(text) == "" {
		return false, nil
	}
	p := &condParser{s: text, env: ce}
	v, err := p.expr()
	if err == nil {
		p.skip()
		if p.i < len(p.s) {
			err = &condError{msg: "unexpected character '" + string(p.s[p.i]) + "' at the end of conditional expression '" + p.s + "'", pos: p.i + 1}
		}
	}
	if err != nil {
		err.text = text
		return false, err
	}
	return v, nil
}

type condParser struct {
	s   string
	i   int
	env *CondEnv
}

func (p *condParser) skip() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

func (p *condParser) expr() (bool, *condError) {
	v, err := p.and()
	if err != nil {
		return false, err
	}
	for {
		p.skip()
		if !strings.HasPrefix(p.s[p.i:], "||") {
			return v, nil
		}
		op := p.i
		p.i += 2
		r, err := p.and()
		if err != nil {
			return false, err.emptyFrom(p.s, op)
		}
		v = v || r
	}
}

func (p *condParser) and() (bool, *condError) {
	v, err := p.term()
	if err != nil {
		return false, err
	}
	for {
		p.skip()
		if !strings.HasPrefix(p.s[p.i:], "&&") {
			return v, nil
		}
		op := p.i
		p.i += 2
		r, err := p.term()
		if err != nil {
			return false, err.emptyFrom(p.s, op)
		}
		v = v && r
	}
}

// unparsable is HAProxy's error for a term it cannot read, quoting the
// text from start.
func unparsable(s string, start int) *condError {
	return &condError{msg: "unparsable conditional expression '" + s[start:] + "'", pos: start + 1, empty: strings.TrimSpace(s[start:]) == ""}
}

// emptyFrom rewords an error about an empty term after an operator (&&,
// ||, !) as HAProxy does: quoting from the operator.
func (e *condError) emptyFrom(s string, op int) *condError {
	if e.empty {
		return unparsable(s, op)
	}
	return e
}

func (p *condParser) term() (bool, *condError) {
	p.skip()
	if p.i >= len(p.s) {
		return false, unparsable(p.s, p.i)
	}
	switch c := p.s[p.i]; {
	case c == '!':
		start := p.i
		p.i++
		v, err := p.term()
		if err != nil && (err.unparsable || err.empty) {
			// "!foo" and "!" are quoted whole.
			return false, unparsable(p.s, start)
		}
		return !v, err
	case c == '(':
		start := p.i
		p.i++
		v, err := p.expr()
		if err != nil {
			return false, err
		}
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return false, &condError{msg: "expected ')' after conditional expression '" + p.s[start:] + "'", pos: start + 1}
		}
		p.i++
		return v, nil
	case c == '-' || (c >= '0' && c <= '9'):
		j := p.i + 1
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		n, err := strconv.ParseInt(p.s[p.i:j], 10, 64)
		if err != nil {
			return false, unparsable(p.s, p.i)
		}
		p.i = j
		return n != 0, nil
	}
	start := p.i
	j := p.i
	for j < len(p.s) && (isAlnum(p.s[j]) || p.s[j] == '_') {
		j++
	}
	name := p.s[p.i:j]
	nargs, ok := condPredicates[name]
	if !ok {
		e := unparsable(p.s, start)
		e.unparsable = true
		return false, e
	}
	args, err := p.args(name, j, nargs)
	if err != nil {
		return false, err
	}
	v, ok := p.env.predicate(name, args)
	if !ok {
		return false, &condError{pos: start + 1} // HAProxy says nothing
	}
	return v, nil
}

// args reads a predicate's arguments from s[j:] as HAProxy's argument
// parser does: comma-separated strings up to ')', spaces kept, no
// parenthesis meaning one empty argument, and its messages (which always
// name "argument 1").
func (p *condParser) args(name string, j, nargs int) ([]string, *condError) {
	where := " in argument 1 of predicate '" + name + "' used in conditional expression"
	fail := func(msg string) ([]string, *condError) {
		return nil, &condError{msg: msg + where, pos: j + 1}
	}
	if j >= len(p.s) || p.s[j] != '(' {
		p.i = j
		if nargs > 1 {
			return fail(fmt.Sprintf("missing arguments (got 1/%d), type 'string' expected", nargs))
		}
		return []string{""}, nil
	}
	var args []string
	k := j + 1
	for {
		e := k
		for e < len(p.s) && p.s[e] != ',' && p.s[e] != ')' {
			e++
		}
		args = append(args, p.s[k:e])
		switch {
		case e < len(p.s) && p.s[e] == ',' && len(args) == nargs:
			rest := p.s[e:]
			if r := strings.IndexByte(rest, ')'); r >= 0 {
				rest = rest[:r+1]
			}
			return fail("expected ')' before '" + rest + "'")
		case e < len(p.s) && p.s[e] == ',':
			k = e + 1
			continue
		case len(args) < nargs:
			return fail(fmt.Sprintf("missing arguments (got %d/%d), type 'string' expected", len(args), nargs))
		case e >= len(p.s):
			return fail("expected ')'")
		}
		p.i = e + 1
		return args, nil
	}
}

// condPredicates lists the predicates HAProxy 2.6.12 evaluates (tried
// with -cc on this box) and their argument counts.
var condPredicates = map[string]int{
	"defined": 1, "feature": 1, "streq": 2, "strneq": 2,
	"version_atleast": 1, "version_before": 1,
	"openssl_version_atleast": 1, "openssl_version_before": 1, "ssllib_name_startswith": 1,
}

// predicate answers one predicate; ok is false when HAProxy fails it
// without a message (an OpenSSL version it cannot read).
func (ce *CondEnv) predicate(name string, a []string) (v, ok bool) {
	switch name {
	case "defined":
		env := ce.Env
		if env == nil {
			env = OSEnv{}
		}
		_, found := env.Lookup(a[0])
		return found, true
	case "feature":
		if a[0] == "" {
			// HAProxy 2.6.12 answers true to feature().
			for _, on := range ce.Features {
				if on {
					return true, true
				}
			}
			return false, true
		}
		return ce.Features[a[0]], true
	case "streq":
		return a[0] == a[1], true
	case "strneq":
		return a[0] != a[1], true
	case "version_atleast":
		return compareVersions(ce.Version, a[0]) >= 0, true
	case "version_before":
		return compareVersions(ce.Version, a[0]) < 0, true
	case "ssllib_name_startswith":
		return strings.HasPrefix(ce.OSSLName, a[0]), true
	case "openssl_version_atleast", "openssl_version_before":
		// OpenSSL versions read major.minor.patch[letter]: fewer parts
		// fail (haproxy -cc exits 2, silently).
		if len(versionParts(a[0])) < 3 {
			return false, false
		}
		c := compareVersions(ce.OpenSSL, a[0])
		if name == "openssl_version_atleast" {
			return c >= 0, true
		}
		return c < 0, true
	}
	return false, true
}

// compareVersions compares dotted numeric versions ("2.6.12" vs "2.5");
// missing components count as zero, a non-numeric tail is ignored.
func compareVersions(a, b string) int {
	pa, pb := versionParts(a), versionParts(b)
	for len(pa) < len(pb) {
		pa = append(pa, 0)
	}
	for len(pb) < len(pa) {
		pb = append(pb, 0)
	}
	for i := range pa {
		if pa[i] != pb[i] {
			if pa[i] < pb[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func versionParts(v string) []int {
	var out []int
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == '.' || r == '-' }) {
		n := 0
		digits := false
		for i := 0; i < len(f) && f[i] >= '0' && f[i] <= '9'; i++ {
			n = n*10 + int(f[i]-'0')
			digits = true
		}
		if !digits {
			break
		}
		out = append(out, n)
	}
	return out
}
