package proxy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The runtime API's crt-list and certificate store commands (management.txt
// §9.3: show/add/del ssl crt-list, new/del ssl cert). A crt-list is the set
// of CertEntry lines that came from one file; every bind loading that file
// holds its own copy of the lines, and an edit applies to each of them and
// swaps the bind's certificate state at once (tlsBind's atomic state).

// crtListName is a crt-list name as HAProxy looks it up: trailing slashes
// do not count.
func crtListName(s string) string {
	for len(s) > 1 && strings.HasSuffix(s, "/") {
		s = s[:len(s)-1]
	}
	return s
}

// crtListBinds are the binds loading list.
func (rt *Runtime) crtListBinds(list string) []*tlsBind {
	var out []*tlsBind
	for _, t := range rt.tlsBinds {
		if slices.ContainsFunc(t.conf.Certs, func(e CertEntry) bool { return e.List == list }) || slices.Contains(t.lists, list) {
			out = append(out, t)
		}
	}
	return out
}

// crtLists names every crt-list the binds load, in configuration order.
func (rt *Runtime) crtLists() []string {
	var out []string
	for _, t := range rt.tlsBinds {
		for _, l := range t.lists {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	return out
}

// ShowCrtList is `show ssl crt-list [-n] [<list>]`.
func (rt *Runtime) ShowCrtList(args []string) string {
	rt.certs.mu.Lock()
	defer rt.certs.mu.Unlock()
	numbers := false
	if len(args) > 0 && args[0] == "-n" {
		numbers, args = true, args[1:]
	}
	var b strings.Builder
	if len(args) == 0 {
		for _, l := range rt.crtLists() {
			b.WriteString(l + "\n")
		}
		b.WriteString("\n")
		return b.String()
	}
	list := crtListName(args[0])
	binds := rt.crtListBinds(list)
	if len(binds) == 0 {
		return "didn't find the specified filename\n"
	}
	b.WriteString("# " + list + "\n")
	for _, e := range binds[0].conf.Certs {
		if e.List != list {
			continue
		}
		b.WriteString(e.Path)
		if numbers {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		if len(e.OptText) > 0 {
			b.WriteString(" [" + strings.Join(e.OptText, " ") + "]")
		}
		for _, f := range e.SNI {
			b.WriteString(" " + f)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	return b.String()
}

// storeExists: a certificate file the binds loaded or a store created by
// `new ssl cert` (committed or still empty).
func (rt *Runtime) storeExists(path string) bool {
	if _, ok := rt.certs.committed[path]; ok || rt.certs.empty[path] {
		return true
	}
	return slices.Contains(rt.SSLCertFiles(), path)
}

// NewSSLCert is `new ssl cert <file>`: an empty certificate store that
// `set ssl cert` fills and `add ssl crt-list` then serves.
func (rt *Runtime) NewSSLCert(path string) string {
	rt.certs.mu.Lock()
	defer rt.certs.mu.Unlock()
	if rt.storeExists(path) {
		return fmt.Sprintf("Certificate '%s' already exists!\n", path)
	}
	if rt.certs.empty == nil {
		rt.certs.empty = map[string]bool{}
	}
	rt.certs.empty[path] = true
	return fmt.Sprintf("New empty certificate store '%s'!\n", path)
}

// DelSSLCert is `del ssl cert <file>`: only a store no bind serves.
func (rt *Runtime) DelSSLCert(path string) string {
	rt.certs.mu.Lock()
	defer rt.certs.mu.Unlock()
	if t := rt.certs.txn; t != nil && t.path == path {
		return fmt.Sprintf("Can't remove the certificate: certificate '%s' is being modified!\n", path)
	}
	if !rt.storeExists(path) {
		return fmt.Sprintf("Can't remove the certificate: certificate '%s' doesn't exist!\n", path)
	}
	if slices.Contains(rt.SSLCertFiles(), path) {
		// (HAProxy ends this one with two empty lines)
		return fmt.Sprintf("Can't remove the certificate: certificate '%s' in use, can't be deleted!\n\n\n", path)
	}
	delete(rt.certs.committed, path)
	delete(rt.certs.empty, path)
	return fmt.Sprintf("Certificate '%s' deleted!\n", path)
}

// AddCrtList is `add ssl crt-list <list> <line>`: `<cert> [[options]]
// [filters]` where cert is a known store.
func (rt *Runtime) AddCrtList(listArg, line string) string {
	rt.certs.mu.Lock()
	defer rt.certs.mu.Unlock()
	const fail = "Can't edit the crt-list: "
	list := crtListName(listArg)
	binds := rt.crtListBinds(list)
	if len(binds) == 0 {
		return fail + fmt.Sprintf("crt-list '%s' does not exist!\n", list)
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return fail + "empty line\n"
	}
	path, rest := f[0], f[1:]
	var opts []string
	if len(rest) > 0 && strings.HasPrefix(rest[0], "[") {
		closed := false
		for len(rest) > 0 && !closed {
			w := strings.TrimPrefix(rest[0], "[")
			rest = rest[1:]
			if strings.HasSuffix(w, "]") {
				w, closed = strings.TrimSuffix(w, "]"), true
			}
			if w != "" {
				opts = append(opts, w)
			}
		}
		if !closed {
			return fail + "parsing [CLI:1]: missing ']'\n"
		}
	}
	if !rt.storeExists(path) || rt.certs.empty[path] {
		return fail + fmt.Sprintf("certificate '%s' does not exist!\n", path)
	}
	loaded := rt.caLoaded
	next := 0
	for _, e := range binds[0].conf.Certs {
		if e.List == list {
			next = max(next, e.Line)
		}
	}
	var edits []certEdit
	for _, t := range binds {
		e := CertEntry{Path: path, SNI: rest, Line: next + 1, List: list, OptText: opts}
		if len(opts) > 0 {
			if t.conf.CrtListLine == nil {
				return fail + "options are not supported on this bind\n"
			}
			o, err := t.conf.CrtListLine(opts, loaded)
			if err != nil {
				return fail + err.Error() + "\n"
			}
			e.Opts = o
		}
		nc := *t.conf
		nc.Certs = append(slices.Clone(t.conf.Certs), e)
		edits = append(edits, certEdit{t, &nc})
	}
	if msg := rt.applyCertEdits(edits); msg != "" {
		return fail + msg
	}
	return fmt.Sprintf("Inserting certificate '%s' in crt-list '%s'.\nSuccess!\n", path, list)
}

// DelCrtList is `del ssl crt-list <list> <cert[:line]>`.
func (rt *Runtime) DelCrtList(listArg, spec string) string {
	rt.certs.mu.Lock()
	defer rt.certs.mu.Unlock()
	const fail = "Can't delete the entry: "
	list := crtListName(listArg)
	binds := rt.crtListBinds(list)
	if len(binds) == 0 {
		return fail + fmt.Sprintf("crt-list '%s' does not exist!\n", list)
	}
	path, lineNo := spec, -1
	if i := strings.LastIndexByte(spec, ':'); i >= 0 {
		if n, err := strconv.Atoi(spec[i+1:]); err == nil {
			path, lineNo = spec[:i], n
		}
	}
	if !rt.storeExists(path) {
		return fail + fmt.Sprintf("certificate '%s' does not exist!\n", path)
	}
	match := func(e CertEntry) bool { return e.List == list && e.Path == path && (lineNo < 0 || e.Line == lineNo) }
	n := 0
	for _, e := range binds[0].conf.Certs {
		if match(e) {
			n++
		}
	}
	switch {
	case n == 0 && lineNo >= 0:
		var lines []string
		for _, e := range binds[0].conf.Certs {
			if e.List == list && e.Path == path {
				lines = append(lines, strconv.Itoa(e.Line))
			}
		}
		if len(lines) > 0 {
			return fail + fmt.Sprintf("found a certificate '%s' but the line number is incorrect, please specify a correct line number preceded by colons (%s)!\n", path, strings.Join(lines, ", "))
		}
		fallthrough
	case n == 0:
		return fail + fmt.Sprintf("certificate '%s' not found in crt-list '%s'!\n", path, list)
	case n > 1:
		var lines []string
		for _, e := range binds[0].conf.Certs {
			if match(e) {
				lines = append(lines, strconv.Itoa(e.Line))
			}
		}
		return fail + fmt.Sprintf("found the certificate '%s' in several entries, please specify a line number preceded by colons (%s)!\n", path, strings.Join(lines, ", "))
	}
	var users []string
	for _, t := range binds {
		if !t.conf.StrictSNI && len(t.conf.Certs) > 0 && match(t.conf.Certs[0]) {
			users = append(users, "  "+bindString(t.bind)+"\n")
		}
	}
	if len(users) > 0 {
		return fail + fmt.Sprintf("certificate '%s' cannot be deleted, it is used as default certificate by the following frontends:\n%s", path, strings.Join(users, ""))
	}
	var edits []certEdit
	for _, t := range binds {
		nc := *t.conf
		nc.Certs = slices.DeleteFunc(slices.Clone(t.conf.Certs), match)
		edits = append(edits, certEdit{t, &nc})
	}
	if msg := rt.applyCertEdits(edits); msg != "" {
		return fail + msg
	}
	return fmt.Sprintf("Entry '%s' deleted in crtlist '%s'!\n", path, list)
}

// certEdit is a bind's edited TLS settings.
type certEdit struct {
	t    *tlsBind
	conf *BindTLS
}

// applyCertEdits loads each bind's new certificate set, then swaps them
// all in: either every bind takes the edit or none does.
func (rt *Runtime) applyCertEdits(edits []certEdit) string {
	states := make([]*tlsBindState, len(edits))
	for i, e := range edits {
		st, err := e.t.loadConf(e.conf, rt.certs.committed)
		if err != nil {
			return err.Error() + "\n"
		}
		states[i] = st
	}
	for i, e := range edits {
		e.t.conf = e.conf
		e.t.state.Store(states[i])
	}
	return ""
}
