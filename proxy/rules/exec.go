package rules

import (
	"bytes"
	"regexp"
	"strconv"
	"time"

	"halo/proxy/acl"
	"halo/proxy/logging"
)

// State is the layer-7 state of one transaction; the runtime keeps one per
// connection (pooled) and calls Reset per transaction.
type State struct {
	Ctx   acl.Ctx
	Entry logging.Entry // Entry.Ctx points at Ctx; lf evaluation reads it
	T     Txn

	ReqCaps [][]byte // the frontend's capture slots (nil: not captured)
	ResCaps [][]byte
	reqLens []int // each slot's length
	resLens []int

	// Cookie persistence: codes for %tsc (configuration.txt §8.5).
	CookieReq byte // N, I, D, V, E, O or '-'
	CookieRes byte // N, I, U, P, R, D or '-'
	// direct says persistence chose the server (a cookie, use-server or
	// stick match: HAProxy's SF_DIRECT), so no cookie is inserted;
	// ignorePrst is ignore-persist (SF_IGNORE_PRST): the cookies are left
	// unprocessed; forcePrst is force-persist (SF_FORCE_PRST): stopped
	// servers are taken too.
	direct, ignorePrst, forcePrst bool

	Stats bool // the stats page answered (logged as <STATS>)
	// LogLevel is the severity set by set-log-level: -1 silent, 0..7, or
	// 6 (info) by default.
	LogLevel int
	// LogLevelSet: a set-log-level rule chose LogLevel (it then wins
	// over option log-separate-errors).
	LogLevelSet bool

	out   []byte
	tmp   []byte
	val   []byte
	hbuf  []byte
	hvals [][]byte
	capb  [][]byte
}

// Reset prepares the state for a new transaction on t.
func (st *State) Reset(t Txn) {
	st.T = t
	st.Ctx.Reset(t)
	st.Entry = logging.Entry{Ctx: &st.Ctx}
	st.ReqCaps = st.ReqCaps[:0]
	st.ResCaps = st.ResCaps[:0]
	st.CookieReq, st.CookieRes = '-', '-'
	st.direct, st.ignorePrst, st.forcePrst = false, false, false
	st.Stats = false
	st.LogLevel, st.LogLevelSet = 6, false
}

// initCaptures gives the transaction the frontend's capture slots, all
// empty (logged empty until filled).
func (st *State) initCaptures(req, res []int) {
	st.reqLens, st.resLens = req, res
	st.ReqCaps = st.ReqCaps[:0]
	st.ResCaps = st.ResCaps[:0]
	for range req {
		st.ReqCaps = append(st.ReqCaps, nil)
	}
	for range res {
		st.ResCaps = append(st.ResCaps, nil)
	}
}

// capture stores a copy of v in capture slot i, truncated to the slot's
// length; i < 0 (a rule compiled without a slot) takes a new one of n
// bytes.
func (st *State) capture(res bool, i int, v []byte, n int) {
	caps, lens := &st.ReqCaps, st.reqLens
	if res {
		caps, lens = &st.ResCaps, st.resLens
	}
	if i < 0 {
		i = len(*caps)
		*caps = append(*caps, nil)
	} else if i >= len(*caps) {
		return // no such slot (the configuration loader refuses those)
	} else if i < len(lens) {
		n = lens[i]
	}
	if n > 0 && len(v) > n {
		v = v[:n]
	}
	k := i
	if res {
		k += len(st.ReqCaps)
	}
	for len(st.capb) <= k {
		st.capb = append(st.capb, nil)
	}
	st.capb[k] = append(st.capb[k][:0], v...)
	(*caps)[i] = st.capb[k]
}

// CaptureNone records an absent captured header (logged empty).
func (st *State) CaptureNone(res bool) {}

// Capture records a captured header value in slot i.
func (st *State) Capture(res bool, i int, v []byte, n int) { st.capture(res, i, v, n) }

// Run evaluates a rule list in order (configuration.txt §4.2: the first
// final action stops the list). response selects the headers changed.
func Run(rules []*Rule, st *State, response bool, errPage Errorer) Result {
	for _, r := range rules {
		if !r.cond.Eval(&st.Ctx) {
			continue
		}
		if r.kind.final() {
			st.Ctx.LastRuleFile, st.Ctx.LastRuleLine = r.file, r.line
		}
		switch r.kind {
		case kAllow:
			return Result{Outcome: Allow}
		case kDeny, kTarpit:
			raw := r.reply.render(st, errPage)
			return Result{Outcome: Reply, Reply: raw, Status: r.reply.status, Deny: true}
		case kReturn:
			raw := r.reply.render(st, errPage)
			return Result{Outcome: Reply, Reply: raw, Status: r.reply.status, Local: true}
		case kRedirect:
			out, ok := r.rdr.build(st.out[:0], st)
			if !ok {
				continue
			}
			st.out = out
			return Result{Outcome: Reply, Reply: out, Status: r.rdr.code, Local: true, Redirect: true}
		case kAuth:
			st.out = appendAuth(st.out[:0], errPage(401), r.realm)
			return Result{Outcome: Reply, Reply: st.out, Status: 401, Deny: true}
		case kSilentDrop:
			return Result{Outcome: Drop}
		case kService:
			st.out = r.svc.Serve(st.out[:0], &st.Ctx)
			return Result{Outcome: Reply, Reply: st.out, Status: 200, Local: true}
		default:
			st.apply(r, response)
		}
	}
	return Result{}
}

// appendAuth adds the WWW-Authenticate challenge to a 401 page.
func appendAuth(dst, page []byte, realm string) []byte {
	end := bytes.Index(page, []byte("\r\n\r\n"))
	if end < 0 {
		return append(dst, page...)
	}
	dst = append(dst, page[:end+2]...)
	dst = append(dst, "www-authenticate: Basic realm=\""...)
	dst = append(dst, realm...)
	dst = append(dst, "\"\r\n"...)
	return append(dst, page[end+2:]...)
}

// render builds a deny/return answer.
func (rp *reply) render(st *State, errPage Errorer) []byte {
	if rp.raw != nil {
		return rp.raw
	}
	if rp.errorPage {
		return errPage(rp.status)
	}
	body := rp.body
	if rp.bodyFmt != nil {
		st.val = rp.bodyFmt.Append(st.val[:0], &st.Entry)
		body = st.val
	}
	st.out = rp.build(st.out[:0], st, body)
	return st.out
}

// build renders the reply's head and body into dst: the hdr arguments
// whose values format to something (HAProxy adds no empty header), the
// content-length, the content-type when there is a payload.
func (rp *reply) build(dst []byte, st *State, body []byte) []byte {
	st.hbuf = st.hbuf[:0]
	st.hvals = st.hvals[:0]
	offs := [16]int{}
	var names [16]string
	n := 0
	for _, h := range rp.hdrs {
		if n == len(offs) {
			break
		}
		start := len(st.hbuf)
		st.hbuf = h.fmt.Append(st.hbuf, &st.Entry)
		if len(st.hbuf) == start {
			continue
		}
		offs[n] = start
		names[n] = h.name
		n++
	}
	for i := 0; i < n; i++ {
		end := len(st.hbuf)
		if i+1 < n {
			end = offs[i+1]
		}
		st.hvals = append(st.hvals, st.hbuf[offs[i]:end])
	}
	ctype := rp.contentType
	if len(body) == 0 {
		ctype = ""
	}
	return appendReply(dst, rp.status, names[:n], st.hvals, ctype, body, nil)
}

// headers returns the header list the rule changes.
func (st *State) headers(response bool) acl.HeaderList {
	if response {
		return st.T.ResHeaders()
	}
	return st.T.ReqHeaders()
}

func delHeaders(hl acl.HeaderList, name []byte) {
	for i := 0; i < hl.Len(); {
		k, _ := hl.At(i)
		if bytes.EqualFold(k, name) {
			hl.Del(i)
			continue
		}
		i++
	}
}

func (st *State) apply(r *Rule, response bool) {
	t := st.T
	switch r.kind {
	case kSetHeader, kAddHeader:
		hl := st.headers(response)
		if hl == nil {
			return
		}
		// Evaluate first: the value may read the header being replaced.
		st.val = r.fmt.Append(st.val[:0], &st.Entry)
		if r.kind == kSetHeader {
			delHeaders(hl, r.nameB)
		}
		hl.Add(r.nameB, st.val)
	case kDelHeader:
		hl := st.headers(response)
		if hl == nil {
			return
		}
		if r.delM == "" || r.delM == "str" {
			delHeaders(hl, r.nameB)
			return
		}
		for i := 0; i < hl.Len(); {
			k, _ := hl.At(i)
			lk := bytes.ToLower(k)
			var m bool
			switch r.delM {
			case "beg":
				m = bytes.HasPrefix(lk, r.nameB)
			case "end":
				m = bytes.HasSuffix(lk, r.nameB)
			case "sub":
				m = bytes.Contains(lk, r.nameB)
			case "reg":
				m = r.re.Match(k)
			}
			if m {
				hl.Del(i)
				continue
			}
			i++
		}
	case kReplaceHeader, kReplaceValue:
		hl := st.headers(response)
		if hl == nil {
			return
		}
		st.tmp = r.fmt.Append(st.tmp[:0], &st.Entry)
		tmpl := regsubTemplate(st.tmp)
		for i := 0; i < hl.Len(); i++ {
			k, v := hl.At(i)
			if !bytes.EqualFold(k, r.nameB) {
				continue
			}
			if r.kind == kReplaceHeader {
				if nv, ok := replaceFull(r.re, v, tmpl, st.val[:0]); ok {
					st.val = nv
					hl.Set(i, nv)
				}
				continue
			}
			// replace-value: each comma-separated value on its own.
			out := st.val[:0]
			changed := false
			off := 0
			for off <= len(v) {
				end := bytes.IndexByte(v[off:], ',')
				seg := v[off:]
				if end >= 0 {
					seg = v[off : off+end]
				}
				lead := len(seg) - len(bytes.TrimLeft(seg, " \t"))
				trail := len(seg) - len(bytes.TrimRight(seg, " \t"))
				core := seg[lead : len(seg)-trail]
				out = append(out, seg[:lead]...)
				if nv, ok := replaceFull(r.re, core, tmpl, nil); ok {
					out = append(out, nv...)
					changed = true
				} else {
					out = append(out, core...)
				}
				out = append(out, seg[len(seg)-trail:]...)
				if end < 0 {
					break
				}
				out = append(out, ',')
				off += end + 1
			}
			st.val = out
			if changed {
				hl.Set(i, out)
			}
		}
	case kSetPath, kSetPathQ, kSetQuery, kSetURI, kSetMethod:
		st.val = r.fmt.Append(st.val[:0], &st.Entry)
		switch r.kind {
		case kSetMethod:
			t.SetMethod(st.val)
		case kSetURI:
			t.SetURI(st.val)
		case kSetPath:
			st.tmp = append(st.tmp[:0], uriPrefix(t)...)
			st.tmp = append(st.tmp, st.val...)
			if q := t.Query(); q != nil {
				st.tmp = append(st.tmp, '?')
				st.tmp = append(st.tmp, q...)
			}
			t.SetURI(st.tmp)
		case kSetPathQ:
			st.tmp = append(append(st.tmp[:0], uriPrefix(t)...), st.val...)
			t.SetURI(st.tmp)
		case kSetQuery:
			u := t.URI()
			q := bytes.IndexByte(u, '?')
			if q < 0 {
				if len(st.val) == 0 {
					return
				}
				q = len(u)
			}
			st.tmp = append(append(append(st.tmp[:0], u[:q]...), '?'), st.val...)
			t.SetURI(st.tmp)
		}
	case kReplacePath, kReplacePathQ, kReplaceURI:
		st.tmp = r.fmt.Append(st.tmp[:0], &st.Entry)
		tmpl := regsubTemplate(st.tmp)
		u := t.URI()
		var subject []byte
		prefix := uriPrefix(t)
		switch r.kind {
		case kReplaceURI:
			subject, prefix = u, nil
		case kReplacePath:
			subject = t.Path()
		case kReplacePathQ:
			subject = u[len(prefix):]
		}
		nv, ok := replaceFull(r.re, subject, tmpl, nil)
		if !ok {
			return
		}
		out := append(append(st.val[:0], prefix...), nv...)
		if r.kind == kReplacePath {
			if q := t.Query(); q != nil {
				out = append(append(out, '?'), q...)
			}
		}
		st.val = out
		t.SetURI(out)
	case kSetVar:
		v, ok := r.expr.Eval(&st.Ctx)
		if !ok {
			return
		}
		st.Ctx.Vars.SetIf(r.name, v, r.conds) // the variable keeps the sample's type
	case kSetVarFmt:
		st.val = r.fmt.Append(st.val[:0], &st.Entry)
		st.Ctx.Vars.SetIf(r.name, acl.Value{Kind: acl.KStr, B: st.val}, r.conds)
	case kUnsetVar:
		st.Ctx.Vars.Unset(r.name)
	case kCapture:
		v, ok := r.expr.Eval(&st.Ctx)
		if !ok {
			return
		}
		st.val = v.AppendText(st.val[:0])
		st.capture(response, r.capID, st.val, r.capLen)
	case kSetStatus:
		t.SetStatus(r.status, r.reason)
	case kStick:
		r.stk.exec(&st.Ctx, st.T.Status())
	case kCacheUse, kCacheStore:
		runCache(r, st)
	case kSetLogLevel:
		st.LogLevel, st.LogLevelSet = r.status, true
	case kSetTimeout:
		setTimeout(r, st)
	}
}

// final reports whether an action ends its rule list (last_rule_file and
// last_rule_line name the last such rule that matched).
func (k kind) final() bool {
	switch k {
	case kAllow, kDeny, kTarpit, kReturn, kRedirect, kAuth, kSilentDrop, kService:
		return true
	}
	return false
}

// uriPrefix is the scheme://authority part of an absolute-form URI.
func uriPrefix(t Txn) []byte {
	u := t.URI()
	p := t.Path()
	if len(p) == 0 || len(u) == 0 || u[0] == '/' {
		return nil
	}
	if i := bytes.Index(u, p); i > 0 {
		return u[:i]
	}
	return nil
}

// replaceFull applies HAProxy's full-match replacement: the regex must
// match (anywhere, as regexec does) and the whole subject is replaced by
// the template with \N references expanded.
func replaceFull(re *regexp.Regexp, subject []byte, tmpl []byte, dst []byte) ([]byte, bool) {
	loc := re.FindSubmatchIndex(subject)
	if loc == nil {
		return nil, false
	}
	return re.Expand(dst, tmpl, subject, loc), true
}

// regsubTemplate converts \N back-references to Go's ${N} and escapes $.
func regsubTemplate(s []byte) []byte {
	if bytes.IndexByte(s, '\\') < 0 && bytes.IndexByte(s, '$') < 0 {
		return s
	}
	out := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			out = append(out, "${"...)
			out = strconv.AppendInt(out, int64(s[i+1]-'0'), 10)
			out = append(out, '}')
			i++
		case s[i] == '$':
			out = append(out, "$$"...)
		default:
			out = append(out, s[i])
		}
	}
	return out
}

// setTimeout runs set-timeout on the engine's stream: a time, or the
// sample's integer in milliseconds (a sample that is not a positive
// integer leaves the timeout alone, as HAProxy does).
func setTimeout(r *Rule, st *State) {
	e, ok := st.T.(acl.EngineTxn)
	if !ok {
		return
	}
	tx := e.Engine()
	if tx == nil {
		return
	}
	ms := int64(r.status)
	if r.expr != nil {
		v, ok := r.expr.Eval(&st.Ctx)
		if !ok {
			return
		}
		if ms, ok = v.Int(); !ok {
			return
		}
	}
	if ms <= 0 {
		return
	}
	d := time.Duration(ms) * time.Millisecond
	if r.name == "server" {
		tx.SrvTimeout = d
	} else {
		tx.TunTimeout = d
	}
}
