package compat

import (
	"fmt"
	"strings"

	"halo/proxy"
	"halo/proxy/acl"
)

// The sample vocabulary (fetches, converters, ACL keywords, predefined
// ACLs) has one source of truth: the runtime's registry (acl.Registry).
// A name it registers is executed (partly, when it carries a note). The
// generated lists of haproxy_vocab.go only say what HAProxy 2.6 knows, to
// tell a name HAProxy would refuse (refused alike, with HAProxy's message)
// from one it accepts but halo does not execute (reported by name, and
// refused by -c with halo's reason, so a rule never silently changes
// meaning).

// notExecutedFetch says why a fetch HAProxy knows is not executed, and how
// that changes the directive using it.
func notExecutedFetch(name string) (Status, string) {
	switch {
	case strings.HasPrefix(name, "lua."):
		return Unsupported, "Lua fetches need Lua, which halo does not embed"
	case strings.HasPrefix(name, "ssl_"):
		return Unsupported, fmt.Sprintf("fetch '%s' is not executed by halo: its TLS session details are not available", name)
	}
	return Unsupported, fmt.Sprintf("fetch '%s' is not executed by halo", name)
}

// fetchStatus says how halo executes the fetch called name: from the
// runtime's registry, else as notExecutedFetch says.
func (c *hctx) fetchStatus(name string) (Status, string) {
	if fi, ok := c.reg.Fetch(name); ok {
		if fi.Note != "" {
			return Partial, fi.Note
		}
		return Supported, ""
	}
	return notExecutedFetch(name)
}

// convStatus says how halo executes the converter called name.
func (c *hctx) convStatus(name string) (Status, string) {
	if ci, ok := c.reg.Converter(name); ok {
		if ci.Note != "" {
			return Partial, ci.Note
		}
		return Supported, ""
	}
	return Unsupported, fmt.Sprintf("converter '%s' is not executed by halo", name)
}

// haproxyKnowsFetch reports whether HAProxy 2.6 accepts name as a fetch
// or an ACL keyword (Lua fetches exist once lua-load registered them).
func haproxyKnowsFetch(name string) bool {
	_, f := haproxyFetches[name]
	_, a := haproxyACLKeywords[name]
	return f || a || strings.HasPrefix(name, "lua.")
}

func haproxyKnowsConv(name string) bool {
	_, ok := haproxyConverters[name]
	return ok
}

// resolveCriterionFetch maps an ACL's first word (a fetch or an ACL
// keyword such as path_beg) to the fetch and its default matching
// method: the runtime's answer when it executes the name, HAProxy's
// signature otherwise. ok is false when HAProxy does not know the name.
func (c *hctx) resolveCriterionFetch(name string) (fetch, match string, ok bool) {
	if f, m, found := c.reg.ACLKeyword(name); found {
		return f, m, true
	}
	if fi, found := c.reg.Fetch(name); found {
		return name, fi.Match, true
	}
	if alias, found := haproxyACLKeywords[name]; found {
		fetch, match = alias[0], alias[1]
		if sig, found := haproxyFetches[alias[0]]; found && match == "" {
			match = matchFromType(sig)
		}
		return fetch, match, true
	}
	if sig, found := haproxyFetches[name]; found {
		return name, matchFromType(sig), true
	}
	return "", "", false
}

// convOutMatch is the matching method a converter's output implies.
func (c *hctx) convOutMatch(name string) string {
	if ci, ok := c.reg.Converter(name); ok {
		return kindMatch(ci.Out)
	}
	// haproxy -dKcnv prints "name(args): out => in".
	sig := haproxyConverters[name]
	out := strings.TrimSpace(sig[strings.Index(sig, ":")+1:])
	if i := strings.Index(out, " =>"); i >= 0 {
		out = out[:i]
	}
	return matchFromType(out)
}

func kindMatch(k acl.Kind) string {
	switch k {
	case acl.KInt:
		return "int"
	case acl.KBool:
		return "bool"
	case acl.KIP:
		return "ip"
	case acl.KBin:
		return "bin"
	}
	return "str"
}

// lowerForFetch lowers the directive's status when a criterion uses a
// fetch or converter the runtime does not execute.
func (c *hctx) lowerForFetch(cr *proxy.Criterion) {
	if st, note := c.fetchStatus(cr.Fetch); st != Supported {
		c.lowerPart(cr.Fetch, st, note)
	}
	for _, cv := range cr.Converters {
		cn, _, _ := splitFetch(cv)
		if st, note := c.convStatus(cn); st != Supported {
			c.lowerPart(cn, st, note)
		}
	}
}

// lowerForSample lowers the directive's status for the fetch and
// converters of a sample expression that HAProxy knows and halo does not
// execute; names HAProxy does not know are left to checkSample.
func (c *hctx) lowerForSample(expr string) {
	name, _, convs := splitFetch(expr)
	if haproxyKnowsFetch(name) {
		fetch := name
		if f, _, ok := c.resolveCriterionFetch(name); ok {
			fetch = f
		}
		if st, note := c.fetchStatus(fetch); st != Supported {
			// In a sample (not an ACL), a never-matching fetch leaves
			// the value empty: still not what HAProxy does.
			c.lowerPart(fetch, st, note)
		}
	}
	for _, cv := range convs {
		cn, _, _ := splitFetch(cv)
		if haproxyKnowsConv(cn) {
			if st, note := c.convStatus(cn); st != Supported {
				c.lowerPart(cn, st, note)
			}
		}
	}
}

// lowerForFormat applies lowerForSample to every %[expr] of a log-format
// string.
func (c *hctx) lowerForFormat(s string) {
	for {
		i := strings.Index(s, "%[")
		if i < 0 {
			return
		}
		rest := s[i+2:]
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return
		}
		c.lowerForSample(rest[:j])
		s = rest[j+1:]
	}
}

// predefinedACL returns HAProxy's predefined ACL called name, as the
// runtime defines it.
func (c *hctx) predefinedACL(name string) *proxy.ACL {
	a, ok := c.reg.Predefined(name)
	if !ok {
		return nil
	}
	return a
}

// fetchNeeds names what a fetch needs in HAProxy's "may not be reliably
// used here" error: its sample source, recognised by where it is valid
// (the generated table has the contexts, not the sources).
func fetchNeeds(name string, use uint32) string {
	switch use {
	case 0x0007fc:
		if strings.Contains(name, "body") {
			return "HTTP request body"
		}
		return "HTTP request headers"
	case 0x0bf800:
		if strings.Contains(name, "body") {
			return "HTTP response body"
		}
		return "HTTP response headers"
	case 0x0ffc00:
		return "server"
	case 0x0fffc0:
		return "backend"
	case 0x0ff800:
		return "server-side connection"
	}
	return "a context this rule does not have"
}
