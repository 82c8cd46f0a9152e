package parser

import (
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

// condError is an .if expression error; pos is 1-based in text.
type condError struct {
	msg  string
	pos  int
	text string
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
			err = &condError{msg: "unexpected character '" + string(p.s[p.i]) + "' at the end of conditional expression '" + p.s[p.i:] + "'", pos: p.i + 1}
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
		p.i += 2
		r, err := p.and()
		if err != nil {
			return false, err
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
		p.i += 2
		r, err := p.term()
		if err != nil {
			return false, err
		}
		v = v && r
	}
}

func (p *condParser) term() (bool, *condError) {
	p.skip()
	if p.i >= len(p.s) {
		return false, &condError{msg: "unparsable conditional expression ''", pos: p.i + 1}
	}
	switch c := p.s[p.i]; {
	case c == '!':
		p.i++
		v, err := p.term()
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
			return false, &condError{msg: "unparsable conditional sub-expression '" + p.s[start:] + "'", pos: start + 1}
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
			return false, &condError{msg: "unparsable conditional expression '" + p.s[p.i:] + "'", pos: p.i + 1}
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
	if !ok || j >= len(p.s) || p.s[j] != '(' {
		return false, &condError{msg: "unparsable conditional expression '" + p.s[start:] + "'", pos: start + 1}
	}
	end := strings.IndexByte(p.s[j:], ')')
	if end < 0 {
		return false, &condError{msg: "unparsable conditional expression '" + p.s[start:] + "'", pos: start + 1}
	}
	args := strings.Split(p.s[j+1:j+end], ",")
	for i := range args {
		args[i] = strings.Trim(strings.TrimSpace(args[i]), "\"")
	}
	if len(args) != nargs {
		return false, &condError{msg: "unparsable conditional expression '" + p.s[start:] + "'", pos: start + 1}
	}
	p.i = j + end + 1
	return p.env.predicate(name, args), nil
}

// condPredicates lists the predicates and their argument counts.
var condPredicates = map[string]int{
	"defined": 1, "feature": 1, "streq": 2, "strneq": 2,
	"version_atleast": 1, "version_before": 1,
	"osslname_startswith": 1, "openssl_version_atleast": 1, "openssl_version_before": 1,
}

func (ce *CondEnv) predicate(name string, a []string) bool {
	switch name {
	case "defined":
		env := ce.Env
		if env == nil {
			env = OSEnv{}
		}
		_, ok := env.Lookup(a[0])
		return ok
	case "feature":
		return ce.Features[a[0]]
	case "streq":
		return a[0] == a[1]
	case "strneq":
		return a[0] != a[1]
	case "version_atleast":
		return compareVersions(ce.Version, a[0]) >= 0
	case "version_before":
		return compareVersions(ce.Version, a[0]) < 0
	case "osslname_startswith":
		return strings.HasPrefix(ce.OSSLName, a[0])
	case "openssl_version_atleast":
		return compareVersions(ce.OpenSSL, a[0]) >= 0
	case "openssl_version_before":
		return compareVersions(ce.OpenSSL, a[0]) < 0
	}
	return false
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
