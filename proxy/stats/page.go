package stats

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"halo/proxy"
	"halo/proxy/acl"
)

// Page is one proxy's `stats uri` page (configuration.txt §4.2 "stats
// enable" and its friends; management.txt §9 for what it shows): the HTML
// report, its CSV, typed and JSON exports and the admin form's POST.
type Page struct {
	st    *Stats
	px    *proxy.Proxy // the proxy serving the page: `stats scope .`
	cfg   *proxy.StatsPage
	uri   []byte
	realm string
	auth  map[string]string // "user:pass" -> user
	admin *acl.Cond
}

// NewPage compiles a proxy's stats page settings.
func NewPage(st *Stats, px *proxy.Proxy, cp *acl.Compiler) (*Page, error) {
	c := px.Stats
	p := &Page{st: st, px: px, cfg: c, uri: []byte(c.URI), realm: c.Realm}
	if len(p.uri) == 0 {
		p.uri = []byte("/haproxy?stats")
	}
	if p.realm == "" {
		p.realm = "HAProxy Statistics"
	}
	if len(c.Auth) > 0 {
		p.auth = map[string]string{}
		for _, ua := range c.Auth {
			p.auth[ua[0]+":"+ua[1]] = ua[0]
		}
	}
	if c.Admin != nil {
		cond, err := cp.Cond(c.Admin)
		if err != nil {
			return nil, fmt.Errorf("stats admin: %w", err)
		}
		p.admin = cond
	}
	return p, nil
}

// Match reports whether the request is for the stats page: a GET, HEAD
// or POST whose URI starts with the stats URI (HAProxy matches it as a
// prefix, so options like ";csv" may follow; other methods go to the
// backend as any request).
func (p *Page) Match(t acl.Txn) bool {
	switch string(t.Method()) {
	case "GET", "HEAD", "POST":
		return bytes.HasPrefix(t.URI(), p.uri)
	}
	return false
}

var authHdr = []byte("authorization")

func (p *Page) authorized(t acl.Txn) bool {
	if p.auth == nil {
		return true
	}
	hl := t.ReqHeaders()
	if hl == nil {
		return false
	}
	for i := 0; i < hl.Len(); i++ {
		k, v := hl.At(i)
		if !bytes.EqualFold(k, authHdr) || len(v) < 6 || !bytes.EqualFold(v[:6], []byte("basic ")) {
			continue
		}
		dec, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(v[6:])))
		if err != nil {
			return false
		}
		_, ok := p.auth[string(dec)]
		return ok
	}
	return false
}

// Output formats of the page.
const (
	fmtHTML = iota
	fmtCSV
	fmtTyped
	fmtJSON
	fmtSchema
)

// pageOpts is what the URI after the stats prefix asks for. HAProxy
// looks for each option anywhere in that part: ";up" (hide DOWN and
// MAINT servers), ";no-maint", ";norefresh" (only when a refresh is
// configured), ";csv", ";typed", ";json", ";json-schema" (the last one
// found in this order wins), ";st=CODE" (the outcome of an admin POST)
// and "scope=TEXT" (proxies whose name holds TEXT).
type pageOpts struct {
	up, noMaint, noRefresh bool
	format                 int
	st                     string // "" or a status code
	scope                  string
}

// statusCodes are the admin outcomes a ";st=" may name (stat_status_codes).
var statusCodes = []string{"DONE", "NONE", "PART", "ERRP", "EXCD", "DENY", "IVAL", "UNKN"}

// scopeMax is STAT_SCOPE_TXT_MAXLEN.
const scopeMax = 20

// findAt returns where pat starts in s when s holds at least need bytes
// from there (HAProxy's "h <= end - N" loops), or -1.
func findAt(s, pat string, need int) int {
	for i := 0; i+need <= len(s); i++ {
		if strings.HasPrefix(s[i:], pat) {
			return i
		}
	}
	return -1
}

func (p *Page) parseOpts(rest string) pageOpts {
	var o pageOpts
	o.up = findAt(rest, ";up", 3) >= 0
	o.noMaint = findAt(rest, ";no-maint", 9) >= 0
	if p.cfg.Refresh > 0 {
		o.noRefresh = findAt(rest, ";norefresh", 10) >= 0
	}
	if findAt(rest, ";csv", 4) >= 0 {
		o.format = fmtCSV
	}
	if findAt(rest, ";typed", 6) >= 0 {
		o.format = fmtTyped
	}
	if findAt(rest, ";json", 5) >= 0 {
		o.format = fmtJSON
	}
	if findAt(rest, ";json-schema", 12) >= 0 {
		o.format = fmtSchema
	}
	if i := findAt(rest, ";st=", 8); i >= 0 {
		o.st = "UNKN"
		code := rest[i+4 : i+8]
		for _, c := range statusCodes {
			if c == code {
				o.st = c
			}
		}
	}
	if i := findAt(rest, "scope=", 8); i >= 0 {
		v := rest[i+6:]
		if j := strings.IndexAny(v, ";& "); j >= 0 {
			v = v[:j]
		}
		if len(v) > scopeMax {
			v = v[:scopeMax]
		}
		for _, c := range []byte(v) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-_:", c) >= 0) {
				v = "" // a bad character clears the scope
				break
			}
		}
		o.scope = v
	}
	return o
}

// suffix is what the page's links and redirects carry over: ";up",
// ";norefresh" and the scope.
func (o pageOpts) suffix(up, noRefresh bool) string {
	s := ""
	if up {
		s += ";up"
	}
	if noRefresh {
		s += ";norefresh"
	}
	return s + o.scopeText()
}

func (o pageOpts) scopeText() string {
	if o.scope == "" {
		return ""
	}
	return "?scope=" + o.scope
}

// Serve answers a stats request: 401 without valid credentials, the
// admin form's redirect for a POST, else the page in the format asked.
func (p *Page) Serve(dst []byte, ctx *acl.Ctx) []byte {
	t := ctx.T
	if !p.authorized(t) {
		page := proxy.DefaultErrorPage(401)
		end := bytes.Index(page, []byte("\r\n\r\n"))
		dst = append(dst, page[:end+2]...)
		dst = append(dst, "www-authenticate: Basic realm=\""...)
		dst = append(dst, p.realm...)
		dst = append(dst, "\"\r\n"...)
		return append(dst, page[end+2:]...)
	}
	// The stats applet is the backend's session: HAProxy dates the
	// backend's last session when it starts one (be_set_sess_last).
	if be := p.st.rt.Backend(p.px); be != nil {
		be.Counters.LastSess.Store(time.Now().Unix())
	}
	o := p.parseOpts(string(t.URI()[len(p.uri):]))
	admin := p.admin != nil && p.admin.Eval(ctx)
	if string(t.Method()) == "POST" {
		st := "DENY"
		if admin {
			st = p.apply(t)
		}
		return p.redirect(dst, o, st)
	}
	var body []byte
	ctype := "text/html"
	switch o.format {
	case fmtCSV:
		ctype = "text/plain"
		body = AppendCSV(nil, p.rows(o))
		body = body[:len(body)-1] // no blank line ends it, unlike `show stat`
	case fmtTyped:
		ctype = "text/plain"
		body = AppendTyped(nil, p.rows(o))
		body = body[:len(body)-1]
	case fmtJSON:
		ctype = "application/json"
		body = AppendJSON(nil, p.rows(o))
	case fmtSchema:
		ctype = "application/json"
		body = []byte(SchemaJSON())
	default:
		body = p.html(o, admin)
	}
	dst = append(dst, "HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: "...)
	dst = append(dst, ctype...)
	dst = append(dst, "\r\n"...)
	if p.cfg.Refresh > 0 && !o.noRefresh {
		dst = append(dst, "refresh: "...)
		dst = strconv.AppendInt(dst, int64(p.cfg.Refresh/time.Second), 10)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "content-length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	if string(t.Method()) == "HEAD" {
		return dst
	}
	return append(dst, body...)
}

// redirect answers an admin POST as HAProxy does: 303 to the page with
// the outcome in ";st=", so that reloading the page does not post again.
func (p *Page) redirect(dst []byte, o pageOpts, st string) []byte {
	dst = append(dst, "HTTP/1.1 303 See Other\r\ncache-control: no-cache\r\ncontent-type: text/plain\r\ncontent-length: 0\r\nlocation: "...)
	dst = append(dst, p.uri...)
	dst = append(dst, ";st="...)
	dst = append(dst, st...)
	dst = append(dst, o.suffix(o.up, o.noRefresh)...)
	return append(dst, "\r\n\r\n"...)
}

// shown reports whether a proxy is on the page: listed by `stats scope`
// (if any; "." is the page's own proxy) and holding the scope text of
// the request (case-insensitive), as stats_dump_proxy_to_buffer selects.
func (p *Page) shown(px *proxy.Proxy, o pageOpts) bool {
	if px.Disabled || px.Cap&(proxy.CapFE|proxy.CapBE) == 0 {
		return false
	}
	if o.scope != "" && !strings.Contains(strings.ToLower(px.Name), strings.ToLower(o.scope)) {
		return false
	}
	if len(p.cfg.Scope) == 0 {
		return true
	}
	for _, s := range p.cfg.Scope {
		if s == px.Name || (s == "." && px == p.px) {
			return true
		}
	}
	return false
}

// proxyRows are one proxy's rows as the page shows them (servers hidden
// by ";up" and ";no-maint" left out).
func (p *Page) proxyRows(px *proxy.Proxy, o pageOpts) []Row {
	f := AllRows
	f.IID = px.ID
	f.Admin = p.cfg.ShowLegends
	return FilterServers(p.st.Rows(f), o.up, o.noMaint)
}

// rows are the rows of every proxy shown, for the exports.
func (p *Page) rows(o pageOpts) []Row {
	var out []Row
	for _, px := range p.st.rt.Cfg.Proxies {
		if p.shown(px, o) {
			out = append(out, p.proxyRows(px, o)...)
		}
	}
	return out
}

// FilterServers drops the server rows `show stat up|no-maint` and the
// page's ";up" and ";no-maint" hide: with up, servers in maintenance and
// servers DOWN without a check on their way up; with noMaint, servers in
// maintenance.
func FilterServers(rows []Row, up, noMaint bool) []Row {
	if !up && !noMaint {
		return rows
	}
	// With either filter, a backend's status tells how many of its
	// servers run: "UP (2/3)" (stats_fill_be_stats).
	type count struct{ up, all int }
	counts := map[string]*count{}
	for _, r := range rows {
		if r.Get("type") != "2" {
			continue
		}
		c := counts[r.Get("pxname")]
		if c == nil {
			c = &count{}
			counts[r.Get("pxname")] = c
		}
		c.all++
		if st := r.Get("status"); !strings.HasPrefix(st, "MAINT") && !strings.HasPrefix(st, "DOWN") {
			c.up++
		}
	}
	out := rows[:0]
	for _, r := range rows {
		if r.Get("type") == "1" {
			c := counts[r.Get("pxname")]
			if c == nil {
				c = &count{}
			}
			r.set("status", fmt.Sprintf("%s (%d/%d)", r.Get("status"), c.up, c.all))
		}
		if r.Get("type") == "2" {
			st := r.Get("status")
			maint := strings.HasPrefix(st, "MAINT")
			if maint && (up || noMaint) {
				continue
			}
			if up && (st == "DOWN" || st == "DOWN (agent)") {
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// adminActions are the stats page's server actions (HAProxy's "Choose
// the action" list), in the page's order.
var adminActions = []struct{ value, label string }{
	{"ready", "Set state to READY"}, {"drain", "Set state to DRAIN"}, {"maint", "Set state to MAINT"},
	{"dhlth", "Health: disable checks"}, {"ehlth", "Health: enable checks"},
	{"hrunn", "Health: force UP"}, {"hnolb", "Health: force NOLB"}, {"hdown", "Health: force DOWN"},
	{"dagent", "Agent: disable checks"}, {"eagent", "Agent: enable checks"},
	{"arunn", "Agent: force UP"}, {"adown", "Agent: force DOWN"},
	{"shutdown", "Kill Sessions"},
}

// adminForm is a parsed admin POST: the backend ("#<id>" or a name),
// the action and the servers named.
type adminForm struct {
	backend, action string
	servers         []string
	bad             bool // an unknown action
}

// parseAdminForm reads the form as HAProxy does, from the last parameter
// back (the backend and the action end the form): the first backend and
// action seen from the end count; a parameter that does not decode ends
// the reading.
func parseAdminForm(body string) adminForm {
	var f adminForm
	params := strings.Split(body, "&")
	for i := len(params) - 1; i >= 0; i-- {
		k, v, _ := strings.Cut(params[i], "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			break
		}
		switch {
		case k == "b" && f.backend == "":
			f.backend = v
		case k == "action" && f.action == "":
			known := legacyActions[v]
			for _, a := range adminActions {
				known = known || a.value == v
			}
			if !known {
				f.bad = true
				return f
			}
			f.action = v
		case k == "s":
			f.servers = append(f.servers, v)
		}
	}
	return f
}

// legacyActions are the older form values HAProxy still accepts.
var legacyActions = map[string]bool{"disable": true, "enable": true, "stop": true, "start": true}

// bodyReader is implemented by transaction views that expose the request
// body already received.
type bodyReader interface{ ReqBody() ([]byte, bool) }

// apply runs an admin form (b=BACKEND&s=SERVER…&action=A) and returns
// the outcome HAProxy reports: DONE when every named server was changed,
// PART when some were, ERRP for an unknown backend or action or when
// none could be changed, NONE when no server was named.
func (p *Page) apply(t acl.Txn) string {
	br, ok := t.(bodyReader)
	if !ok {
		return "ERRP"
	}
	body, full := br.ReqBody()
	if !full {
		return "EXCD"
	}
	f := parseAdminForm(string(body))
	if f.bad {
		return "ERRP"
	}
	var be *proxy.Backend
	if f.backend != "" {
		if be = p.backendByName(f.backend); be == nil {
			return "ERRP"
		}
	}
	if be == nil || f.action == "" {
		return "NONE" // no server is looked at without both
	}
	servers := f.servers
	total, altered := 0, 0
	for _, name := range servers {
		var ss *proxy.ServerState
		for _, x := range be.Servers() {
			if x.Server.Name == name {
				ss = x
				break
			}
		}
		if ss == nil {
			total++ // unknown server: counted, not changed
			continue
		}
		if p.act(ss, f.action) {
			total++
			altered++
		}
	}
	switch {
	case total == 0:
		return "NONE"
	case altered == 0:
		return "ERRP"
	case altered == total:
		return "DONE"
	}
	return "PART"
}

// act applies one action to a server; false when the action does not
// apply to it (HAProxy then neither counts nor changes the server).
func (p *Page) act(ss *proxy.ServerState, action string) bool {
	tracked := ss.Server.TrackServer != ""
	switch action {
	case "ready":
		ss.SetAdmin(proxy.AdminReady)
	case "drain":
		ss.SetAdmin(proxy.AdminDrain)
	case "maint":
		ss.SetAdmin(proxy.AdminMaint)
	case "disable":
		if ss.Status() == proxy.SrvMaint {
			return false
		}
		ss.SetAdmin(proxy.AdminMaint)
	case "enable":
		if ss.Status() != proxy.SrvMaint {
			return false
		}
		ss.SetAdmin(proxy.AdminReady)
	case "stop":
		if ss.Status() == proxy.SrvDrain {
			return false
		}
		ss.SetAdmin(proxy.AdminDrain)
	case "start":
		if ss.Status() != proxy.SrvDrain {
			return false
		}
		ss.SetAdmin(proxy.AdminReady)
	case "hrunn", "hnolb", "hdown":
		if tracked {
			return false
		}
		ss.SetHealth(map[string]proxy.ServerStatus{"hrunn": proxy.SrvUp, "hnolb": proxy.SrvNoLB, "hdown": proxy.SrvDown}[action])
	case "dhlth", "ehlth", "dagent", "eagent", "arunn", "adown":
		sw := p.st.checkSwitch
		if sw == nil {
			return false
		}
		return sw(ss, action)
	case "shutdown":
		if ss.Backend.Proxy.Disabled {
			return false
		}
		ss.ShutdownSessions()
	default:
		return false
	}
	return true
}

func (p *Page) backendByName(v string) *proxy.Backend {
	for _, x := range p.st.rt.Backends {
		if "#"+strconv.Itoa(x.Proxy.ID) == v || x.Proxy.Name == v {
			return x
		}
	}
	return nil
}

// hostname is the default node name (HAProxy's global.node).
func hostname() string {
	h, _ := os.Hostname()
	return h
}
