package acl

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"

	"halo/proxy"
)

type matchKind uint8

const (
	// mAuto: no method given; the fetch's output type decides.
	mAuto matchKind = iota
	mFound
	mBool
	mInt
	mIP
	mStr
	mBeg
	mEnd
	mSub
	mReg
	mDir
	mDom
	mLen
	mBin
)

var matchNames = map[string]matchKind{
	"found": mFound, "bool": mBool, "int": mInt, "ip": mIP, "str": mStr,
	"beg": mBeg, "end": mEnd, "sub": mSub, "reg": mReg, "dir": mDir,
	"dom": mDom, "len": mLen, "bin": mBin,
}

type intRange struct{ lo, hi int64 }

// Criterion is a compiled fetch+matcher+patterns test.
type Criterion struct {
	f      *fetch
	convs  []*conv
	match  matchKind
	icase  bool
	strs   [][]byte            // str/beg/end/sub/dir/dom patterns (lowercased with -i)
	strSet map[string]struct{} // str with many patterns
	res    []*regexp.Regexp
	ints   []intRange
	ips    []netip.Prefix
	line   int
	// live holds the patterns as the runtime API last set them (a copy
	// of this criterion); nil: those compiled from the configuration.
	live atomic.Pointer[Criterion]
}

// ACL is a compiled named (or anonymous) ACL: its criteria OR together.
type ACL struct {
	Name     string
	criteria []*Criterion
}

// Cond is a compiled if/unless condition.
type Cond struct {
	unless bool
	or     [][]term
}

type term struct {
	neg bool
	acl *ACL
}

// Compiler compiles ACLs and conditions for one configuration, compiling
// each proxy.ACL once however many conditions use it.
type Compiler struct {
	Opts  *Options
	cache map[*proxy.ACL]*ACL
}

// NewCompiler returns a compiler using o (which may be nil).
func NewCompiler(o *Options) *Compiler {
	return &Compiler{Opts: o.withRegistry(), cache: map[*proxy.ACL]*ACL{}}
}

// Cond compiles a condition; nil compiles to nil (always true).
func (cp *Compiler) Cond(c *proxy.Cond) (*Cond, error) {
	if c == nil {
		return nil, nil
	}
	out := &Cond{unless: c.Unless}
	for _, and := range c.Or {
		var terms []term
		for _, t := range and {
			a, err := cp.ACL(t.ACL)
			if err != nil {
				return nil, err
			}
			terms = append(terms, term{neg: t.Neg, acl: a})
		}
		out.or = append(out.or, terms)
	}
	return out, nil
}

// ACL compiles one ACL (named, anonymous or built-in).
func (cp *Compiler) ACL(a *proxy.ACL) (*ACL, error) {
	if a == nil {
		return nil, fmt.Errorf("condition refers to a missing ACL")
	}
	if got, ok := cp.cache[a]; ok {
		return got, nil
	}
	out := &ACL{Name: a.Name}
	crits := a.Criteria
	if len(crits) == 0 {
		b, ok := cp.Opts.registry().Predefined(a.Name)
		if !ok {
			return nil, fmt.Errorf("no such ACL : '%s'", a.Name)
		}
		crits = b.Criteria
	}
	for _, c := range crits {
		cc, err := CompileCriterion(c, cp.Opts)
		if err != nil {
			if c.Line > 0 {
				return nil, fmt.Errorf("acl '%s' (line %d): %w", a.Name, c.Line, err)
			}
			return nil, fmt.Errorf("acl '%s': %w", a.Name, err)
		}
		out.criteria = append(out.criteria, cc)
	}
	cp.cache[a] = out
	return out, nil
}

// CompileCriterion compiles one acl line / anonymous ACL term.
func CompileCriterion(pc *proxy.Criterion, o *Options) (*Criterion, error) {
	o = o.withRegistry()
	name := pc.Fetch
	args := pc.FetchArgs
	convs := pc.Converters
	if i := strings.IndexByte(name, '('); i >= 0 || strings.IndexByte(name, ',') >= 0 {
		// the fetch was given as written: "hdr(host),lower"
		n, a, rest, err := splitCall(name)
		if err != nil {
			return nil, err
		}
		name, args = n, append(a, args...)
		for rest != "" {
			var cn string
			var ca []string
			cn, ca, rest, err = splitCall(rest[1:])
			if err != nil {
				return nil, err
			}
			convs = append([]string{callString(cn, ca)}, convs...)
		}
	}
	// An ACL keyword (path_beg, hdr_sub …) names a fetch and a method.
	match := mAuto
	kwName := name
	if k, ok := o.registry().aclKws[name]; ok {
		name, match = k.fetch, k.match
	}
	f, err := newFetch(name, args, o, true)
	if err != nil {
		return nil, err
	}
	c := &Criterion{f: f, line: pc.Line}
	if match == mAuto {
		match = f.def.defaultMatch()
	}
	for _, cs := range convs {
		cn, ca, rest, err := splitCall(cs)
		if err != nil {
			return nil, err
		}
		if rest != "" {
			return nil, fmt.Errorf("unexpected %q after converter", rest)
		}
		cv, err := newConv(cn, ca, o)
		if err != nil {
			return nil, err
		}
		c.convs = append(c.convs, cv)
	}
	// Flags: -i, -n, -m METHOD, -f FILE, -M, -u ID, --.
	var files []string
	fl := pc.Flags
	for i := 0; i < len(fl); i++ {
		switch fl[i] {
		case "-i":
			c.icase = true
		case "-n", "-M", "--":
		case "-m", "-f", "-u":
			if i+1 >= len(fl) {
				return nil, fmt.Errorf("'%s' expects an argument", fl[i])
			}
			switch fl[i] {
			case "-m":
				m, ok := matchNames[fl[i+1]]
				if !ok {
					return nil, fmt.Errorf("unknown matching method '%s'", fl[i+1])
				}
				match = m
			case "-f":
				files = append(files, fl[i+1])
			}
			i++
		default:
			if strings.HasPrefix(fl[i], "-m") && len(fl[i]) > 2 {
				m, ok := matchNames[fl[i][2:]]
				if !ok {
					return nil, fmt.Errorf("unknown matching method '%s'", fl[i][2:])
				}
				match = m
				continue
			}
			return nil, fmt.Errorf("unknown flag '%s'", fl[i])
		}
	}
	if pc.Match != "" {
		m, ok := matchNames[pc.Match]
		if !ok {
			return nil, fmt.Errorf("unknown matching method '%s'", pc.Match)
		}
		match = m
	}
	c.match = match
	vals := pc.Values
	var fileVals [][]string // each -f file's patterns, when read here
	for _, fn := range files {
		data, err := o.readFile(fn)
		if err != nil {
			// The configuration loader may have read the file already (its
			// patterns are then in Values, relative to its own directory).
			if len(pc.Values) > 0 {
				fileVals = append(fileVals, nil)
				continue
			}
			return nil, fmt.Errorf("failed to open pattern file <%s>", fn)
		}
		have := map[string]bool{}
		for _, v := range vals {
			have[v] = true
		}
		fv := ParsePatternFile(data)
		fileVals = append(fileVals, fv)
		for _, v := range fv {
			if !have[v] {
				vals = append(vals, v)
			}
		}
	}
	base := &Criterion{f: c.f, convs: c.convs, match: c.match, icase: c.icase, line: c.line} // before addPatterns changes the method (found→int, bin→str)
	if err := c.addPatterns(vals); err != nil {
		return nil, err
	}
	if o != nil && o.Refs != nil && (pc.Line > 0 || len(files) > 0) {
		c.register(o, pc, base, kwName, files, fileVals)
	}
	return c, nil
}

// register makes the criterion's patterns runtime references: one per
// -f file (shared with every other user of the file), one for the inline
// patterns; an edit of any of them rebuilds the criterion's patterns and
// swaps them in (Eval then uses the new set).
func (c *Criterion) register(o *Options, pc *proxy.Criterion, base *Criterion, fetchName string, files []string, fileVals [][]string) {
	inline := pc.Values
	nfile := 0
	for _, fv := range fileVals {
		nfile += len(fv)
	}
	// the configuration loader put the files' patterns first
	if nfile <= len(inline) && nfile > 0 {
		inline = inline[nfile:]
	}
	var refs []*PatRef
	for i, fn := range files {
		var fv []string
		if i < len(fileVals) {
			fv = fileVals[i]
		}
		r := o.Refs.ref(fn, false, fmt.Sprintf("pattern loaded from file '%s' used by acl at file '%s' line %d.", fn, o.cfgFile(), pc.Line), fv, nil)
		if c.icase {
			r.ICase = true
		}
		refs = append(refs, r)
	}
	anon := o.Refs.ref("", false, fmt.Sprintf("acl '%s' file '%s' line %d.", fetchName, o.cfgFile(), pc.Line), inline, nil)
	anon.ICase = c.icase
	refs = append(refs, anon)
	for _, r := range refs {
		r.use(func(from *PatRef, keys, _ []string) error {
			var all []string
			for _, x := range refs {
				if x == from {
					all = append(all, keys...)
				} else {
					all = append(all, x.currentKeys()...)
				}
			}
			nc := &Criterion{f: base.f, convs: base.convs, match: base.match, icase: base.icase, line: base.line}
			if err := nc.addPatterns(all); err != nil {
				return err
			}
			c.live.Store(nc)
			return nil
		})
	}
}

func callString(name string, args []string) string {
	if len(args) == 0 {
		return name
	}
	return name + "(" + strings.Join(args, ",") + ")"
}

// ParsePatternFile splits a -f file: one pattern per line, leading and
// trailing spaces removed, empty lines and lines starting with '#'
// ignored (configuration.txt §7.1, "-f").
func ParsePatternFile(data []byte) []string {
	var out []string
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimRight(line, "\r")
		line = bytes.Trim(line, " \t")
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		out = append(out, string(line))
	}
	return out
}

var intOps = map[string]int{"eq": 0, "ge": 1, "gt": 2, "le": 3, "lt": 4}

func (c *Criterion) addPatterns(vals []string) error {
	switch c.match {
	case mFound, mBool:
		if len(vals) > 0 && c.match == mFound {
			return fmt.Errorf("'-m found' takes no pattern")
		}
		// bool accepts no pattern; a pattern after a bool fetch turns the
		// test into an integer comparison (e.g. `ssl_fc 1`).
		if len(vals) > 0 {
			c.match = mInt
			return c.addPatterns(vals)
		}
	case mInt, mLen:
		for i := 0; i < len(vals); i++ {
			v := vals[i]
			if op, ok := intOps[v]; ok {
				if i+1 >= len(vals) {
					return fmt.Errorf("missing value after operator '%s'", v)
				}
				n, err := strconv.ParseInt(vals[i+1], 10, 64)
				if err != nil {
					return fmt.Errorf("'%s' is not a number", vals[i+1])
				}
				i++
				r := intRange{n, n}
				switch op {
				case 1:
					r.hi = 1<<63 - 1
				case 2:
					r.lo, r.hi = n+1, 1<<63-1
				case 3:
					r.lo = -1 << 63
				case 4:
					r.lo, r.hi = -1<<63, n-1
				}
				c.ints = append(c.ints, r)
				continue
			}
			r, err := parseIntRange(v)
			if err != nil {
				return err
			}
			c.ints = append(c.ints, r)
		}
	case mIP:
		for _, v := range vals {
			p, err := parsePrefix(v)
			if err != nil {
				return err
			}
			c.ips = append(c.ips, p)
		}
	case mBin:
		// binary patterns are written in hex; compare raw bytes.
		for _, v := range vals {
			b, err := hex.DecodeString(v)
			if err != nil {
				return fmt.Errorf("'%s' is not a valid hex string", v)
			}
			c.strs = append(c.strs, b)
		}
		c.match = mStr
		c.icase = false
	case mReg:
		for _, v := range vals {
			expr := v
			if c.icase {
				expr = "(?i)" + v
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return fmt.Errorf("regex '%s' is invalid: %v", v, err)
			}
			c.res = append(c.res, re)
		}
	default:
		for _, v := range vals {
			b := []byte(v)
			if c.icase {
				b = bytes.ToLower(b)
			}
			if c.match == mDir || c.match == mDom {
				b = trimDelims(b, c.match)
			}
			c.strs = append(c.strs, b)
		}
		if c.match == mStr && len(c.strs) > 4 {
			c.strSet = make(map[string]struct{}, len(c.strs))
			for _, s := range c.strs {
				c.strSet[string(s)] = struct{}{}
			}
		}
	}
	return nil
}

func parseIntRange(v string) (intRange, error) {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		r := intRange{-1 << 63, 1<<63 - 1}
		var err error
		if v[:i] != "" {
			if r.lo, err = strconv.ParseInt(v[:i], 10, 64); err != nil {
				return r, fmt.Errorf("'%s' is not a number or range", v)
			}
		}
		if v[i+1:] != "" {
			if r.hi, err = strconv.ParseInt(v[i+1:], 10, 64); err != nil {
				return r, fmt.Errorf("'%s' is not a number or range", v)
			}
		}
		return r, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return intRange{}, fmt.Errorf("'%s' is not a number", v)
	}
	return intRange{n, n}, nil
}

// parsePrefix accepts an address, address/len or IPv4 address/dotted mask.
func parsePrefix(v string) (netip.Prefix, error) {
	if i := strings.IndexByte(v, '/'); i >= 0 {
		a, err := netip.ParseAddr(v[:i])
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", v)
		}
		a = a.Unmap()
		bits, err := strconv.Atoi(v[i+1:])
		if err != nil {
			m, merr := netip.ParseAddr(v[i+1:])
			if merr != nil || !m.Is4() || !a.Is4() {
				return netip.Prefix{}, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", v)
			}
			bits = 0
			for _, b := range m.As4() {
				for k := 7; k >= 0; k-- {
					if b&(1<<k) != 0 {
						bits++
					}
				}
			}
		}
		p, err := a.Prefix(bits)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", v)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", v)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func trimDelims(b []byte, m matchKind) []byte {
	for len(b) > 0 && isDelim(b[0], m) {
		b = b[1:]
	}
	for len(b) > 0 && isDelim(b[len(b)-1], m) {
		b = b[:len(b)-1]
	}
	return b
}

func isDelim(c byte, m matchKind) bool {
	if c == '/' || c == '?' {
		return true
	}
	return m == mDom && (c == '.' || c == ':')
}

// Eval reports whether the condition holds; a nil condition always does.
func (c *Cond) Eval(ctx *Ctx) bool {
	if c == nil {
		return true
	}
	res := false
	for _, and := range c.or {
		ok := true
		for _, t := range and {
			if t.acl.Eval(ctx) == t.neg {
				ok = false
				break
			}
		}
		if ok {
			res = true
			break
		}
	}
	return res != c.unless
}

// EvalPartial is Eval for rules that may wait for more of the client's
// bytes (tcp-request content with inspect-delay): miss reports that the
// condition's own test failed while a payload fetch said its result may
// still change (HAProxy's ACL_TEST_MISS, checked before if/unless).
func (c *Cond) EvalPartial(ctx *Ctx) (ok, miss bool) {
	ctx.MayChange = false
	ok = c.Eval(ctx)
	if c == nil {
		return true, false
	}
	raw := ok != c.unless
	return ok, !raw && ctx.MayChange
}

// Eval reports whether any of the ACL's criteria matches.
func (a *ACL) Eval(ctx *Ctx) bool {
	for _, c := range a.criteria {
		if c.Eval(ctx) {
			return true
		}
	}
	return false
}

// Eval reports whether any value the fetch returns matches a pattern.
func (c *Criterion) Eval(ctx *Ctx) bool {
	if l := c.live.Load(); l != nil {
		c = l
	}
	// The iteration state lives in ctx: a local would escape through the
	// fetch function value and allocate.
	st := &ctx.st
	*st = 0
	for *st >= 0 {
		v, ok := c.f.def.fn(ctx, c.f, st)
		if !ok {
			return false
		}
		for _, cv := range c.convs {
			v, ok = cv.apply(ctx, v)
			if !ok {
				break
			}
		}
		if ok && c.matchValue(ctx, v) {
			return true
		}
	}
	return false
}

func (c *Criterion) matchValue(ctx *Ctx, v Value) bool {
	switch c.match {
	case mFound:
		return true
	case mBool:
		n, ok := v.asInt()
		if v.Kind == KStr {
			return len(v.B) > 0
		}
		return ok && n != 0
	case mInt:
		n, ok := v.asInt()
		if !ok {
			return false
		}
		return inRanges(c.ints, n)
	case mLen:
		var n int64
		if v.Kind == KStr {
			n = int64(len(v.B))
		} else {
			n = int64(len(v.AppendText(ctx.scratchBuf())))
		}
		return inRanges(c.ints, n)
	case mIP:
		ip, ok := v.asIP()
		if !ok {
			return false
		}
		ip = ip.Unmap()
		for _, p := range c.ips {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}
	var s []byte
	if v.Kind == KStr {
		s = v.B
	} else {
		s = v.AppendText(ctx.scratchBuf())
	}
	if c.match == mReg {
		for _, re := range c.res {
			if re.Match(s) {
				return true
			}
		}
		return false
	}
	if c.icase {
		buf := ctx.scratchBuf()
		for _, ch := range s {
			if 'A' <= ch && ch <= 'Z' {
				ch += 'a' - 'A'
			}
			buf = append(buf, ch)
		}
		ctx.keepScratch(buf)
		s = buf
	}
	if c.strSet != nil {
		_, ok := c.strSet[string(s)]
		return ok
	}
	for _, p := range c.strs {
		if matchStr(c.match, s, p) {
			return true
		}
	}
	return false
}

func inRanges(rs []intRange, n int64) bool {
	for _, r := range rs {
		if n >= r.lo && n <= r.hi {
			return true
		}
	}
	return false
}

func matchStr(m matchKind, s, p []byte) bool {
	switch m {
	case mStr:
		return bytes.Equal(s, p)
	case mBeg:
		return bytes.HasPrefix(s, p)
	case mEnd:
		return bytes.HasSuffix(s, p)
	case mSub:
		return bytes.Contains(s, p)
	case mDir, mDom:
		return matchWord(s, p, m)
	}
	return false
}

// matchWord finds p in s delimited on both sides by a delimiter or the
// ends of s (HAProxy's match_word: '/' and '?' for dir, plus '.' and ':'
// for dom).
func matchWord(s, p []byte, m matchKind) bool {
	if len(p) == 0 {
		return false
	}
	for i := 0; i+len(p) <= len(s); i++ {
		if i > 0 && !isDelim(s[i-1], m) {
			continue
		}
		if !bytes.Equal(s[i:i+len(p)], p) {
			continue
		}
		if j := i + len(p); j == len(s) || isDelim(s[j], m) {
			return true
		}
	}
	return false
}
