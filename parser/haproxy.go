package parser

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// HAProxySections are the section keywords of HAProxy 2.6: a line starting
// with one of them opens a new section.
var HAProxySections = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true,
	"listen": true, "userlist": true, "peers": true, "resolvers": true,
	"mailers": true, "http-errors": true, "cache": true, "ring": true,
	"program": true, "fcgi-app": true, "log-forward": true,
}

// HAProxyOptions tunes ParseHAProxy.
type HAProxyOptions struct {
	Env Env // nil: the process environment
	// ReadFile reads one file; nil: os.ReadFile.
	ReadFile func(path string) ([]byte, error)
	// Cond answers the predicates of .if lines; nil: DefaultCondEnv.
	Cond *CondEnv
}

// ExpandHAProxyPaths turns HAProxy's -f arguments into the list of files
// read, in order: a directory contributes its *.cfg regular files in
// lexical order (as haproxy does with -f DIR). A path that cannot be read
// is an error in HAProxy's words.
func ExpandHAProxyPaths(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("Cannot open configuration file/directory %s : %s", a, errnoText(err))
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		ents, err := os.ReadDir(a)
		if err != nil {
			return nil, fmt.Errorf("Cannot open configuration file/directory %s : %s", a, errnoText(err))
		}
		var names []string
		for _, e := range ents {
			n := e.Name()
			if !strings.HasSuffix(n, ".cfg") || len(n) <= 4 {
				continue
			}
			p := filepath.Join(a, n)
			if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			names = append(names, p)
		}
		sort.Strings(names)
		out = append(out, names...)
	}
	return out, nil
}

// errnoText gives the strerror() text HAProxy prints for a failed open.
func errnoText(err error) string {
	var pe *os.PathError
	if e, ok := err.(*os.PathError); ok {
		pe = e
		s := pe.Err.Error()
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return err.Error()
}

// condLevel is one open .if block.
type condLevel struct {
	taken    bool // some branch of this block was taken
	active   bool // lines of the current branch are used
	sawElse  bool
	parentOK bool // the enclosing block is active
	pos      Pos
}

// maxCondNesting is HAProxy's MAXNESTEDCONDS.
const maxCondNesting = 128

// ParseHAProxy reads the given files (already expanded, see
// ExpandHAProxyPaths) into one File. Diagnostics use HAProxy's wording;
// an SevAlert diagnostic makes the configuration invalid.
func ParseHAProxy(paths []string, opt HAProxyOptions) (*File, []Diag) {
	if opt.Env == nil {
		opt.Env = OSEnv{}
	}
	if opt.ReadFile == nil {
		opt.ReadFile = os.ReadFile
	}
	if opt.Cond == nil {
		opt.Cond = DefaultCondEnv()
		opt.Cond.Env = opt.Env
	}
	f := &File{Lang: LangHAProxy}
	var diags []Diag
	for _, p := range paths {
		data, err := opt.ReadFile(p)
		if err != nil {
			diags = append(diags, Diag{Pos: Pos{File: p}, Sev: SevAlert,
				Msg: fmt.Sprintf("Cannot open configuration file/directory %s : %s", p, errnoText(err))})
			continue
		}
		f.Paths = append(f.Paths, p)
		dirs, d, aborted := parseHAProxyBytes(p, data, opt)
		f.Directives = append(f.Directives, dirs...)
		diags = append(diags, d...)
		if aborted {
			f.Aborted = true
			break
		}
	}
	return f, diags
}

// ParseHAProxyBytes parses one file's content (tests, fuzzing).
func ParseHAProxyBytes(name string, data []byte, opt HAProxyOptions) (*File, []Diag) {
	if opt.Env == nil {
		opt.Env = OSEnv{}
	}
	if opt.Cond == nil {
		opt.Cond = DefaultCondEnv()
		opt.Cond.Env = opt.Env
	}
	dirs, d, aborted := parseHAProxyBytes(name, data, opt)
	return &File{Lang: LangHAProxy, Paths: []string{name}, Directives: dirs, Aborted: aborted}, d
}

// parseHAProxyBytes reads one file; aborted is true when a conditional
// block error stopped the reading, as haproxy stops (ERR_ABORT).
func parseHAProxyBytes(name string, data []byte, opt HAProxyOptions) (out []*Directive, diags []Diag, aborted bool) {
	var (
		lx      lineLexer
		section *Directive
		secName string
		conds   []condLevel
	)
	alert := func(line int, col int, msg string) {
		diags = append(diags, Diag{Pos: Pos{File: name, Line: line, Col: col}, Sev: SevAlert, Msg: msg})
	}
	active := func() bool { return len(conds) == 0 || conds[len(conds)-1].active }
	s := string(data)
	lineno := 0
	for len(s) > 0 {
		lineno++
		var line string
		nl := strings.IndexByte(s, '\n')
		if nl < 0 {
			line, s = s, ""
			// HAProxy 2.6 refuses a last line without LF: the file may
			// have been truncated.
			alert(lineno, len(line)+1, fmt.Sprintf("Missing LF on last line, file might have been truncated at position %d.", len(line)+1))
		} else {
			line, s = s[:nl], s[nl+1:]
		}
		words, lerr := lx.line(line, name, lineno, secName, opt.Env)
		if lerr != nil {
			if strings.HasPrefix(lerr.what, "too many words") {
				alert(lineno, lerr.pos, fmt.Sprintf("%s, position %d: <%s>.", lerr.what, lerr.pos-1, strings.TrimLeft(line, " \t")))
				continue
			}
			trimmed := strings.TrimLeft(line, " \t\v\f\r")
			lead := len(line) - len(trimmed)
			alert(lineno, lerr.pos, fmt.Sprintf("%s at position %d:\n  %s\n  %*s", lerr.what, lerr.pos, trimmed, lerr.pos-lead, "^"))
			continue
		}
		if len(words) == 0 {
			continue
		}
		kw := words[0].Value
		pos := words[0].Pos
		// Conditional blocks (configuration.txt 2.4) are handled whatever
		// the current state, everything else only in an active branch.
		switch kw {
		case ".if":
			if len(conds) >= maxCondNesting {
				alert(lineno, pos.Col, fmt.Sprintf("too many nested '.if', max is %d.", maxCondNesting))
				return out, diags, true
			}
			lvl := condLevel{parentOK: active(), pos: pos}
			if lvl.parentOK {
				ok, err := opt.Cond.Eval(words[1:])
				if err != nil {
					alert(lineno, pos.Col, fmt.Sprintf("%s in '.if' at position %d:\n  .if %s\n  %*s", err.msg, err.pos, err.text, err.pos+4, "^"))
					return out, diags, true
				}
				lvl.active, lvl.taken = ok, ok
			}
			conds = append(conds, lvl)
			continue
		case ".elif":
			if len(conds) == 0 {
				alert(lineno, pos.Col, "lone '.elif' with no matching '.if'.")
				return out, diags, true
			}
			lvl := &conds[len(conds)-1]
			if lvl.sawElse {
				alert(lineno, pos.Col, "'.elif' after '.else' is not permitted.")
				return out, diags, true
			}
			lvl.active = false
			if lvl.parentOK && !lvl.taken {
				ok, err := opt.Cond.Eval(words[1:])
				if err != nil {
					alert(lineno, pos.Col, fmt.Sprintf("%s in '.elif' at position %d:\n  .elif %s\n  %*s", err.msg, err.pos, err.text, err.pos+6, "^"))
					return out, diags, true
				}
				lvl.active, lvl.taken = ok, ok
			}
			continue
		case ".else":
			if len(conds) == 0 {
				alert(lineno, pos.Col, "lone '.else' with no matching '.if'.")
				return out, diags, true
			}
			lvl := &conds[len(conds)-1]
			if lvl.sawElse {
				alert(lineno, pos.Col, "'.else' after '.else' is not permitted.")
				return out, diags, true
			}
			lvl.sawElse = true
			lvl.active = lvl.parentOK && !lvl.taken
			lvl.taken = true
			continue
		case ".endif":
			if len(conds) == 0 {
				alert(lineno, pos.Col, "lone '.endif' with no matching '.if'.")
				return out, diags, true
			}
			conds = conds[:len(conds)-1]
			continue
		}
		if !active() {
			continue
		}
		switch kw {
		case ".diag", ".notice", ".warning", ".alert":
			if len(words) > 2 {
				alert(lineno, words[2].Col(), fmt.Sprintf("Unexpected argument '%s' for '%s'. Use quotes if the message should contain spaces.", words[2].Value, kw))
				continue
			}
			msg := ""
			if len(words) > 1 {
				msg = words[1].Value
			}
			sev := map[string]Severity{".diag": SevDiag, ".notice": SevNotice, ".warning": SevWarning, ".alert": SevAlert}[kw]
			diags = append(diags, Diag{Pos: pos, Sev: sev, Msg: fmt.Sprintf("'%s'.", msg)})
			continue
		}
		d := &Directive{Pos: pos, Name: kw, Args: words[1:]}
		if HAProxySections[kw] {
			d.HasBlock = true
			section = d
			// .SECTION is the section's name, or its kind when unnamed.
			secName = kw
			if len(d.Args) > 0 {
				secName = d.Args[0].Value
			}
			out = append(out, d)
			continue
		}
		if section == nil {
			out = append(out, d)
			continue
		}
		section.Body = append(section.Body, d)
	}
	if len(conds) > 0 {
		alert(conds[len(conds)-1].pos.Line, conds[len(conds)-1].pos.Col, "non-terminated '.if' block.")
		return out, diags, true
	}
	return out, diags, false
}

// Col is the word's 1-based column.
func (w Word) Col() int { return w.Pos.Col }
