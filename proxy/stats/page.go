package stats

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"halo/proxy"
	"halo/proxy/acl"
)

// Page is one proxy's `stats uri` page.
type Page struct {
	st    *Stats
	cfg   *proxy.StatsPage
	uri   []byte
	realm string
	auth  map[string]string // "user:pass" -> user
	admin *acl.Cond
}

// NewPage compiles a proxy's stats page settings.
func NewPage(st *Stats, px *proxy.Proxy, cp *acl.Compiler) (*Page, error) {
	c := px.Stats
	p := &Page{st: st, cfg: c, uri: []byte(c.URI), realm: c.Realm}
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

// Match reports whether the request URI starts with the stats URI (HAProxy
// matches it as a prefix, so options like ";csv" may follow).
func (p *Page) Match(t acl.Txn) bool { return bytes.HasPrefix(t.URI(), p.uri) }

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

// Serve answers a stats request: 401 without valid credentials, else the
// CSV (";csv") or HTML page.
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
	opts := string(t.URI()[len(p.uri):])
	admin := p.admin != nil && p.admin.Eval(ctx)
	if string(t.Method()) == "POST" {
		return p.post(dst, t, admin)
	}
	csv := strings.Contains(opts, ";csv")
	refresh := p.cfg.Refresh > 0 && !strings.Contains(opts, ";norefresh")
	f := AllRows
	f.Admin = p.cfg.ShowLegends
	rows := p.st.Rows(f)
	var body []byte
	ctype := "text/html"
	if csv {
		ctype = "text/plain"
		body = AppendCSV(nil, rows)
	} else {
		st := ""
		if i := strings.Index(opts, ";st="); i >= 0 {
			st = opts[i+4:]
			if j := strings.IndexByte(st, ';'); j >= 0 {
				st = st[:j]
			}
		}
		body = p.html(rows, admin, strings.Contains(opts, ";up"), st)
	}
	dst = append(dst, "HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: "...)
	dst = append(dst, ctype...)
	dst = append(dst, "\r\n"...)
	if refresh {
		dst = append(dst, "refresh: "...)
		dst = strconv.AppendInt(dst, int64(p.cfg.Refresh/time.Second), 10)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "content-length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}

const pageStyle = `body { font-family: arial, helvetica, sans-serif; font-size: 12px; font-weight: normal; color: black; background: white;}
th,td { font-size: 10px;}
h1 { font-size: x-large; margin-bottom: 0.5em;}
h2 { font-family: helvetica, arial; font-size: x-large; font-weight: bold; font-style: italic; color: #6020a0; margin-top: 0em; margin-bottom: 0em;}
h3 { font-family: helvetica, arial; font-size: 16px; font-weight: bold; color: #b00040; background: #e8e8d0; margin-top: 0em; margin-bottom: 0em;}
.titre	{background: #20D0D0;color: #000000; font-weight: bold; text-align: center;}
.frontend	{background: #e8e8d0;}
.backend	{background: #e8e8d0;}
.active_down		{background: #ff9090;}
.active_up		{background: #c0ffc0;}
.active_nolb		{background: #20a0ff;}
.active_draining		{background: #20a0FF;}
.active_no_check		{background: #e0e0e0;}
.backup_down		{background: #ff9090;}
.backup_up		{background: #b0d0ff;}
.backup_no_check		{background: #e0e0e0;}
.maintain	{background: #c07820;}
table.tbl { border-collapse: collapse; border-style: none;}
table.tbl td { text-align: right; border-width: 1px 1px 1px 1px; border-style: solid solid solid solid; padding: 2px 3px; border-color: gray; white-space: nowrap;}
table.tbl th { border-width: 1px; border-style: solid solid solid solid; border-color: gray;}
table.tbl th.pxname { background: #b00040; color: #ffff40; font-weight: bold; border-style: solid solid none solid; padding: 2px 3px; white-space: nowrap;}
table.tbl th.empty { border-style: none; empty-cells: hide; background: white;}
table.lgd { border-collapse: collapse; border-width: 1px; border-style: none none none solid; border-color: black;}
table.lgd td { border-width: 1px; border-style: solid solid solid solid; border-color: gray; padding: 2px;}
table.lgd td.noborder { border-style: none; padding: 2px; white-space: nowrap;}
`

func rowClass(r Row) string {
	st := r.Get("status")
	prefix := "active_"
	if r.Get("bck") == "1" && r.Get("type") == "2" {
		prefix = "backup_"
	}
	switch {
	case st == "MAINT":
		return "maintain"
	case st == "no check":
		return prefix + "no_check"
	case strings.HasPrefix(st, "DOWN"):
		return prefix + "down"
	case st == "DRAIN":
		return "active_draining"
	case st == "NOLB":
		return prefix + "nolb"
	}
	return prefix + "up"
}

// html renders the page: process information, then one table per proxy
// with HAProxy's column groups.
// adminActions are the stats page's server actions (HAProxy's
// "Choose an action" list) that halo applies.
var adminActions = []struct{ value, label string }{
	{"ready", "Set state to READY"}, {"drain", "Set state to DRAIN"}, {"maint", "Set state to MAINT"},
	{"hrunn", "Health: force UP"}, {"hnolb", "Health: force NOLB"}, {"hdown", "Health: force DOWN"},
	{"shutdown", "Kill Sessions"},
}

// bodyReader is implemented by transaction views that expose the request
// body already received.
type bodyReader interface{ ReqBody() ([]byte, bool) }

// post applies an admin form (s=SERVER…&action=A&b=#IID) and redirects
// back with the outcome, as HAProxy answers: 303 to URI;st=DONE|NONE|
// ERRP|DENY.
func (p *Page) post(dst []byte, t acl.Txn, admin bool) []byte {
	st := "DENY"
	if admin {
		st = p.apply(t)
	}
	dst = append(dst, "HTTP/1.1 303 See Other\r\ncache-control: no-cache\r\ncontent-type: text/plain\r\ncontent-length: 0\r\nlocation: "...)
	dst = append(dst, p.uri...)
	dst = append(dst, ";st="...)
	dst = append(dst, st...)
	return append(dst, "\r\n\r\n"...)
}

func (p *Page) apply(t acl.Txn) string {
	br, ok := t.(bodyReader)
	if !ok {
		return "ERRP"
	}
	body, full := br.ReqBody()
	if !full {
		return "ERRP"
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "ERRP"
	}
	servers, action, b := form["s"], form.Get("action"), form.Get("b")
	if len(servers) == 0 {
		return "NONE"
	}
	var be *proxy.Backend
	for _, x := range p.st.rt.Backends {
		if "#"+strconv.Itoa(x.Proxy.ID) == b || x.Proxy.Name == b {
			be = x
		}
	}
	known := false
	for _, a := range adminActions {
		known = known || a.value == action
	}
	if be == nil || !known {
		return "ERRP"
	}
	var todo []*proxy.ServerState
	for _, name := range servers {
		var found *proxy.ServerState
		for _, ss := range be.Servers {
			if ss.Server.Name == name {
				found = ss
			}
		}
		if found == nil {
			return "ERRP"
		}
		todo = append(todo, found)
	}
	for _, ss := range todo {
		switch action {
		case "ready":
			ss.SetAdmin(proxy.AdminReady)
		case "drain":
			ss.SetAdmin(proxy.AdminDrain)
		case "maint":
			ss.SetAdmin(proxy.AdminMaint)
		case "hrunn":
			ss.SetHealth(proxy.SrvUp)
		case "hnolb":
			ss.SetHealth(proxy.SrvNoLB)
		case "hdown":
			ss.SetHealth(proxy.SrvDown)
		case "shutdown":
			ss.ShutdownSessions()
		}
	}
	return "DONE"
}

var statusMessages = map[string][2]string{
	"DONE": {"active_up", "Action processed successfully."},
	"NONE": {"active_going_up", "Nothing has changed."},
	"ERRP": {"active_down", "Action not processed because of invalid parameters."},
	"DENY": {"active_down", "Action denied."},
}

func (p *Page) html(rows []Row, admin, upOnly bool, status string) []byte {
	var b bytes.Buffer
	host, _ := os.Hostname()
	if p.cfg.ShowNode != "" {
		host = p.cfg.ShowNode
	}
	b.WriteString("<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\"\n\"http://www.w3.org/TR/html4/loose.dtd\">\n")
	b.WriteString("<html><head><title>Statistics Report for HAProxy")
	if p.cfg.ShowNode != "" {
		b.WriteString(" on " + html.EscapeString(host))
	}
	b.WriteString("</title>\n<link rel=\"icon\" href=\"data:,\">\n<meta http-equiv=\"content-type\" content=\"text/html; charset=iso-8859-1\">\n<style type=\"text/css\"><!--\n")
	b.WriteString(pageStyle)
	b.WriteString("--></style></head>\n<body><h1><a href=\"http://www.haproxy.org/\" style=\"text-decoration: none;\">HAProxy")
	if !p.cfg.HideVersion {
		b.WriteString(" version " + html.EscapeString(p.st.Version) + ", released " + html.EscapeString(p.st.Release))
	}
	b.WriteString("</a></h1>\n<h2>Statistics Report for pid " + strconv.Itoa(os.Getpid()))
	if p.cfg.ShowNode != "" {
		b.WriteString(" on " + html.EscapeString(host))
	}
	b.WriteString("</h2>\n<hr width=\"100%\" class=\"hr\">\n<h3>&gt; General process information</h3>\n")
	up := time.Since(p.st.start)
	secs := int64(up / time.Second)
	conns, reqs, _ := p.st.totals()
	fmt.Fprintf(&b, "<table border=0><tr><td align=\"left\" nowrap width=\"1%%\"><p><b>pid = </b> %d (process #1, nbproc = 1)<br>\n<b>uptime = </b> %dd %dh%02dm%02ds<br>\n<b>maxconn = </b> %d<br>\n<b>current conns = </b> %d; <b>cumulated conns = </b> %d; <b>cumulated reqs = </b> %d<br>\n</td></tr></table>\n",
		os.Getpid(), secs/86400, secs/3600%24, secs/60%60, secs%60, p.st.rt.Cfg.Global.Maxconn, p.st.rt.ActConn.Load(), conns, reqs)
	if m, ok := statusMessages[status]; ok {
		fmt.Fprintf(&b, "<p><div class=%s><a class=lfsb href=\"%s\" title=\"Remove this message\">[X]</a> %s</div>\n",
			m[0], html.EscapeString(string(p.uri)), m[1])
	}
	b.WriteString("<table class=\"lgd\"><tr><td class=\"active_up\">&nbsp;</td><td class=\"noborder\">active UP </td><td class=\"backup_up\">&nbsp;</td><td class=\"noborder\">backup UP </td></tr>\n<tr><td class=\"active_down\">&nbsp;</td><td class=\"noborder\">active or backup DOWN &nbsp;</td><td class=\"maintain\">&nbsp;</td><td class=\"noborder\">active or backup DOWN for maintenance (MAINT) &nbsp;</td></tr>\n<tr><td class=\"active_draining\">&nbsp;</td><td class=\"noborder\">active or backup SOFT STOPPED for maintenance &nbsp;</td></tr></table>\n")
	b.WriteString("<ul><li><a href=\"" + html.EscapeString(string(p.uri)) + ";csv\">CSV export</a><br>\n</ul>\n")
	var cur, curIID string
	open, servers := false, false
	closeTable := func() {
		b.WriteString("</table>\n")
		if admin && servers {
			b.WriteString("Choose the action to perform on the checked servers : <select name=action><option value=\"\"></option>")
			for _, a := range adminActions {
				fmt.Fprintf(&b, "<option value=\"%s\">%s</option>", a.value, a.label)
			}
			fmt.Fprintf(&b, "</select><input type=\"hidden\" name=\"b\" value=\"#%s\"><input type=\"submit\" value=\"Apply\"></form>\n", curIID)
		}
		b.WriteString("<p>\n")
	}
	for _, r := range rows {
		px := r.Get("pxname")
		if px != cur {
			if open {
				closeTable()
			}
			cur, curIID, open = px, r.Get("iid"), true
			servers = false
			for _, o := range rows {
				servers = servers || (o.Get("pxname") == px && o.Get("type") == "2")
			}
			if admin && servers {
				b.WriteString("<form method=\"post\">")
			}
			b.WriteString("<table class=\"tbl\" width=\"100%\">\n<tr class=\"titre\"><th class=\"pxname\" width=\"10%\"><a name=\"" + html.EscapeString(px) + "\"></a><a class=px href=\"#" + html.EscapeString(px) + "\">" + html.EscapeString(px) + "</a></th><th class=\"empty\" width=\"90%\"></th></tr>\n</table>\n")
			b.WriteString("<table class=\"tbl\" width=\"100%\">\n<tr class=\"titre\"><th rowspan=2></th><th colspan=3>Queue</th><th colspan=3>Session rate</th><th colspan=6>Sessions</th><th colspan=2>Bytes</th><th colspan=2>Denied</th><th colspan=3>Errors</th><th colspan=2>Warnings</th><th colspan=9>Server</th></tr>\n")
			b.WriteString("<tr class=\"titre\"><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th><th>In</th><th>Out</th><th>Req</th><th>Resp</th><th>Req</th><th>Conn</th><th>Resp</th><th>Retr</th><th>Redis</th><th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th><th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th><th>Thrtle</th></tr>\n")
		}
		typ := r.Get("type")
		if upOnly && typ == "2" && !strings.HasPrefix(r.Get("status"), "UP") && r.Get("status") != "no check" {
			continue
		}
		class := "frontend"
		name := "Frontend"
		switch typ {
		case "1":
			class, name = "backend", "Backend"
		case "2":
			class, name = rowClass(r), r.Get("svname")
		}
		b.WriteString("<tr class=\"" + class + "\"><td class=ac>")
		if admin && typ == "2" {
			b.WriteString("<input type=\"checkbox\" name=\"s\" value=\"" + html.EscapeString(name) + "\">")
		}
		b.WriteString(html.EscapeString(name) + "</td>")
		cells := []string{"qcur", "qmax", "qlimit", "rate", "rate_max", "rate_lim", "scur", "smax", "slim", "stot", "lbtot", "lastsess",
			"bin", "bout", "dreq", "dresp", "ereq", "econ", "eresp", "wretr", "wredis", "status", "check_status", "weight", "act", "bck",
			"chkfail", "chkdown", "downtime", "throttle"}
		for _, c := range cells {
			v := r.Get(c)
			if c == "act" || c == "bck" {
				if typ == "2" {
					if v == "1" {
						v = "Y"
					} else {
						v = "-"
					}
				}
			}
			if c == "lastsess" && v == "-1" {
				v = ""
			}
			b.WriteString("<td>" + html.EscapeString(v) + "</td>")
		}
		b.WriteString("</tr>\n")
	}
	if open {
		closeTable()
	}
	b.WriteString("</body></html>\n")
	return b.Bytes()
}
