package compat

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"halo/parser"
	"halo/proxy"
)

// Filters, compression and cache sections (configuration.txt §4.2
// "compression", "filter", §6 "Cache", §9 "Supported filters"), read and
// checked as HAProxy 2.6 does.

// filterDecl is one filter of a proxy while its section is read, in the
// order HAProxy's filter_configs list holds them.
type filterDecl struct {
	name     string // cache, compression, trace, spoe, opentracing, fcgi-app
	cache    string // a cache filter's cache section
	implicit bool   // implied by a cache-use/cache-store rule
	pos      parser.Pos
}

// knownFilters are the filters HAProxy 2.6 registers (its `-vv` list), in
// the order its "unknown keyword" message lists them.
var knownFilters = []struct{ tag, name string }{
	{"CACHE", "cache"}, {"COMP", "compression"}, {"FCGI", "fcgi-app"},
	{"  OT", "opentracing"}, {"SPOE", "spoe"}, {"TRACE", "trace"},
}

// decodeCompMaxLevel is `tune.comp.maxlevel <1..9>`.
func decodeCompMaxLevel(c *hctx, d *parser.Directive, a []parser.Word) error {
	n := 0
	if len(a) > 0 {
		n = atol(a[0].Value)
	}
	if n < 1 || n > 9 {
		return fmt.Errorf("'tune.comp.maxlevel' expects a numeric value between 1 and 9")
	}
	c.cfg.Global.CompMaxLevel = n
	return nil
}

// decodeCompression is `compression algo <name>…`, `compression type
// <mime>…` and `compression offload`. Algorithms and types are pushed at
// the head of lists a proxy shares with its defaults section, so a proxy's
// own come first and the inherited ones follow (the last algorithm
// declared is the one `Accept-Encoding: *` gets).
func decodeCompression(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) == 0 {
		return fmt.Errorf("'compression' expects 'algo', 'type' or 'offload'")
	}
	p := c.cur.p
	cp := proxy.Compression{}
	if p.Compression != nil {
		cp = *p.Compression
	}
	switch a[0].Value {
	case "algo":
		if len(a) < 2 {
			return fmt.Errorf("'compression' expects <algorithm>.")
		}
		for _, w := range a[1:] {
			switch w.Value {
			case "identity", "gzip", "deflate", "raw-deflate":
			default:
				return fmt.Errorf("'compression' : '%s' is not a supported algorithm.", w.Value)
			}
			cp.Algos = append([]string{w.Value}, cp.Algos...)
		}
	case "type":
		if len(a) < 2 {
			return fmt.Errorf("'compression' expects <type>.")
		}
		for _, w := range a[1:] {
			cp.Types = append([]string{w.Value}, cp.Types...)
		}
	case "offload":
		if c.cur.kind == "defaults" {
			c.rep.Warnf(d.Pos, "'compression' : 'offload' ignored in 'defaults' section.")
			return nil
		}
		cp.Offload = true
	default:
		return fmt.Errorf("'compression' expects 'algo', 'type' or 'offload'")
	}
	p.Compression = &cp
	return nil
}

// decodeFilter is `filter <name> [param*]`.
func decodeFilter(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) == 0 {
		return fmt.Errorf("'filter' expects a filter name.")
	}
	if c.cur.kind == "defaults" {
		return fmt.Errorf("parsing [%s:%d] : filter is not allowed in a 'default' section.", d.Pos.File, d.Pos.Line)
	}
	name := a[0].Value
	st := c.cur
	switch name {
	case "cache":
		if len(a) < 2 {
			return fmt.Errorf("'filter' : 'cache : expects a <name> argument'")
		}
		if len(a) > 2 {
			return fmt.Errorf("'filter cache' : unknown keyword '%s'.", a[2].Value)
		}
		cache := a[1].Value
		for i, f := range st.filters {
			if f.name != "cache" || f.cache != cache {
				continue
			}
			if !f.implicit {
				return fmt.Errorf("'filter' : '%s: multiple explicit declarations of the cache filter '%s''", st.p.Name, cache)
			}
			// The explicit line replaces the filter a rule implied.
			st.filters = append(st.filters[:i], st.filters[i+1:]...)
			break
		}
		st.filters = append(st.filters, filterDecl{name: "cache", cache: cache, pos: d.Pos})
	case "compression":
		if len(a) > 1 {
			return fmt.Errorf("'filter compression' : unknown keyword '%s'.", a[1].Value)
		}
		for _, f := range st.filters {
			if f.name == "compression" {
				return fmt.Errorf("'filter' : '%s: Proxy supports only one compression filter\n'", st.p.Name)
			}
		}
		st.filters = append(st.filters, filterDecl{name: "compression", pos: d.Pos})
	case "trace":
		// A debugging filter: messages on stderr, data forwarded as is.
		c.lower(Ignored, "the trace filter's debug messages are not printed")
		st.filters = append(st.filters, filterDecl{name: name, pos: d.Pos})
	case "spoe", "opentracing", "fcgi-app":
		c.lower(Unsupported, "the "+name+" filter is not implemented")
		st.filters = append(st.filters, filterDecl{name: name, pos: d.Pos})
	default:
		var b strings.Builder
		fmt.Fprintf(&b, "'filter' : unknown keyword '%s'. Registered keywords :", name)
		for _, f := range knownFilters {
			fmt.Fprintf(&b, "\n    [%s] %s", f.tag, f.name)
		}
		return fmt.Errorf("%s", b.String())
	}
	return nil
}

// cacheRule checks an `http-request cache-use` / `http-response
// cache-store` rule and, when no filter of the proxy uses its cache yet,
// implies one (HAProxy's parse_cache_rule).
func (c *hctx) cacheRule(act string, args []parser.Word) error {
	if act != "cache-use" && act != "cache-store" {
		return nil
	}
	kind := "http-request"
	if act == "cache-store" {
		kind = "http-response"
	}
	if len(args) == 0 {
		c.abort = true
		return fmt.Errorf("error detected in %s '%s' while parsing '%s %s' rule : expects a cache name.", c.cur.kind, c.cur.p.Name, kind, act)
	}
	if len(args) > 1 {
		// The name is the action's only word: the rule parser reads
		// what follows as the condition.
		c.abort = true
		return formError{"tight", fmt.Errorf("'%s %s' expects either 'if' or 'unless' followed by a condition but found '%s'.", kind, act, args[1].Value)}
	}
	name := args[0].Value
	for _, f := range c.cur.filters {
		if f.name == "cache" && f.cache == name {
			return nil
		}
	}
	c.cur.filters = append(c.cur.filters, filterDecl{name: "cache", cache: name, implicit: true, pos: c.d.Pos})
	return nil
}

// finishFilters resolves a proxy's filter list once every section is read
// (HAProxy's check_implicit_http_comp_flt and cache_store_check): the
// compression filter `compression` implies goes last, and a cache filter
// must name a cache section and come before any compression filter.
func (c *hctx) finishFilters(st *pstate) {
	p := st.p
	nopos := parser.Pos{}
	fl := st.filters
	hasComp := false
	for _, f := range fl {
		if f.name == "compression" {
			hasComp = true
		}
	}
	if p.Compression != nil && !hasComp {
		ok := true
		for _, f := range fl {
			if f.name != "cache" && f.name != "fcgi-app" {
				c.rep.Alertf(nopos, "config: %s '%s': require an explicit filter declaration to use HTTP compression", kindWord(st), p.Name)
				ok = false
				break
			}
		}
		if ok {
			fl = append(fl, filterDecl{name: "compression", implicit: true})
		}
	}
	for i, f := range fl {
		if f.name != "cache" {
			continue
		}
		if c.cacheSection(f.cache) == nil {
			c.rep.Alertf(nopos, "config: %s '%s': unable to find the cache '%s' referenced by the filter 'cache'.", kindWord(st), p.Name, f.cache)
			continue
		}
		for j, g := range fl {
			if j < i && g.name == "compression" {
				c.rep.Alertf(nopos, "config: %s '%s': unable to enable the compression filter before the cache '%s'.", kindWord(st), p.Name, f.cache)
				break
			}
			if f.implicit && g.name != "cache" && g.name != "compression" && g.name != "fcgi-app" {
				c.rep.Alertf(nopos, "config: %s '%s': require an explicit filter declaration to use the cache '%s'.", kindWord(st), p.Name, f.cache)
				break
			}
		}
	}
	p.Filters = p.Filters[:0]
	for _, f := range fl {
		if f.name != "cache" && f.name != "compression" {
			continue // trace: nothing to run; the others were refused
		}
		line := 0
		if !f.implicit {
			line = f.pos.Line
		}
		p.Filters = append(p.Filters, proxy.FilterConf{Name: f.name, Cache: f.cache, Implicit: f.implicit, Line: line})
	}
}

func (c *hctx) cacheSection(name string) *proxy.CacheSection {
	for _, cs := range c.cfg.Caches {
		if cs.Name == name {
			return cs
		}
	}
	return nil
}

// openCache starts a `cache <name>` section.
func (c *hctx) openCache(d *parser.Directive) bool {
	if len(d.Args) == 0 {
		c.rep.Alertf(d.Pos, "'cache' expects a <name> argument")
		c.abort = true
		return false
	}
	if len(d.Args) > 1 {
		c.rep.Alertf(d.Pos, "'cache' cannot handle unexpected argument '%s'.", d.Args[1].Value)
		c.abort = true
		return false
	}
	name := d.Args[0].Value
	if len(name) > 32 {
		name = name[:32]
		c.tightWarn(d.Pos, "cache name is limited to 32 characters, truncate to '%s'.", name)
	}
	if c.cacheSection(name) != nil {
		c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevAlert, Form: "tight",
			Msg: fmt.Sprintf("Duplicate cache name '%s'.", name)})
		c.abort = true
		return false
	}
	c.cache = &proxy.CacheSection{Name: name, MaxAge: 60 * time.Second, MaxSecondaryEntries: 10, Line: d.Pos.Line}
	c.rep.Record(d.Pos, "cache", "cache", Supported, "")
	return true
}

// closeCache ends a cache section: its size is mandatory and bounds its
// objects' (cfg_post_parse_section_cache).
func (c *hctx) closeCache(sec *parser.Directive) {
	cs := c.cache
	c.cache = nil
	if cs == nil || c.abort {
		return
	}
	// Found when the section ends: HAProxy names no line, but counts the
	// error against the file; placed at the section's last line so it
	// comes after that line's own messages, as HAProxy prints them.
	pos := c.secPos
	if n := len(sec.Body); n > 0 {
		pos = sec.Body[n-1].Pos
	}
	alert := func(format string, a ...any) {
		c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: pos, Sev: parser.SevAlert, Form: "none", Msg: fmt.Sprintf(format, a...)})
	}
	if cs.TotalMaxSize <= 0 {
		alert("Size not specified for cache '%s'", cs.Name)
		return
	}
	if cs.MaxObjectSize == 0 {
		cs.MaxObjectSize = cs.TotalMaxSize >> 8
	} else if cs.MaxObjectSize > cs.TotalMaxSize/2 {
		alert("\"max-object-size\" is limited to an half of \"total-max-size\" => %d", cs.TotalMaxSize/2)
		return
	}
	c.cfg.Caches = append(c.cfg.Caches, cs)
}

// cacheAbort is HAProxy's cache-section error that stops reading the file
// (ERR_ABORT): haproxy prints it as a warning, yet counts it as an error
// of the file (Diagnostic.Rejects).
func (c *hctx) cacheAbort(format string, a ...any) error {
	c.abort = true
	c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: c.d.Pos, Sev: parser.SevWarning, Form: "tight", Rejects: true, Msg: fmt.Sprintf(format, a...)})
	return nil
}

// cacheArgs applies alertif_too_many_args(1): one value at most.
func (c *hctx) cacheArgs(d *parser.Directive, a []parser.Word) error {
	if len(a) > 1 {
		c.abort = true
		return fmt.Errorf("'%s' cannot handle unexpected argument '%s'.", d.Name, a[1].Value)
	}
	return nil
}

// strtoul reads C's strtoul(): leading blanks, a sign (a minus negates
// the value, modulo 2^64), digits; ok is false when no digit was read or
// something follows them.
func strtoul(s string) (uint64, bool) {
	t := strings.TrimLeft(s, " \t")
	neg := strings.HasPrefix(t, "-")
	if neg || strings.HasPrefix(t, "+") {
		t = t[1:]
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 || i != len(t) {
		return 0, false
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return math.MaxUint64, true
	}
	if neg {
		n = -n
	}
	return n, true
}

var cacheTable = NewTable("cache", []hrow{
	row("total-max-size", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if err := c.cacheArgs(d, a); err != nil {
			return err
		}
		v := ""
		if len(a) > 0 {
			v = a[0].Value
		}
		n, ok := strtoul(v)
		if !ok {
			return c.cacheAbort("total-max-size wrong value '%s'", v)
		}
		if n > math.MaxUint32>>20 {
			return c.cacheAbort("\"total-max-size\" (%s) must not be greater than %d", v, math.MaxUint32>>20)
		}
		c.cache.TotalMaxSize = int64(n) << 20
		return nil
	}),
	row("max-object-size", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if err := c.cacheArgs(d, a); err != nil {
			return err
		}
		v := ""
		if len(a) > 0 {
			v = a[0].Value
		}
		if v == "" {
			c.tightWarn(d.Pos, "'%s' expects a maximum file size parameter in bytes.", d.Name)
		}
		n, ok := strtoul(v)
		if !ok {
			return c.cacheAbort("max-object-size wrong value '%s'", v)
		}
		c.cache.MaxObjectSize = int64(uint32(n))
		return nil
	}),
	row("max-age", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if err := c.cacheArgs(d, a); err != nil {
			return err
		}
		v := ""
		if len(a) > 0 {
			v = a[0].Value
		}
		if v == "" {
			c.tightWarn(d.Pos, "'%s' expects an age parameter in seconds.", d.Name)
		}
		// atoi(), stored unsigned: a negative age is a huge one.
		n := int64(uint32(int32(atol(v))))
		c.cache.MaxAge = time.Duration(n) * time.Second
		return nil
	}),
	row("process-vary", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if err := c.cacheArgs(d, a); err != nil {
			return err
		}
		v := ""
		if len(a) > 0 {
			v = a[0].Value
		}
		switch v {
		case "on":
			c.cache.ProcessVary = true
		case "off":
			c.cache.ProcessVary = false
		default:
			c.tightWarn(d.Pos, "'%s' expects \"on\" or \"off\" (enable or disable vary processing).", d.Name)
		}
		return nil
	}),
	row("max-secondary-entries", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if err := c.cacheArgs(d, a); err != nil {
			return err
		}
		v := ""
		if len(a) > 0 {
			v = a[0].Value
		}
		if v == "" {
			c.tightWarn(d.Pos, "'%s' expects a strictly positive number.", d.Name)
		}
		n, ok := strtoul(v)
		if !ok || uint32(n) == 0 {
			return c.cacheAbort("max-secondary-entries wrong value '%s'", v)
		}
		c.cache.MaxSecondaryEntries = int(uint32(n))
		return nil
	}),
})
