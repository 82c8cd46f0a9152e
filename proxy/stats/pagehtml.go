package stats

import (
	"bytes"
	_ "embed"
	"fmt"
	"html"
	"os"
	"strconv"
	"strings"
	"time"

	"halo/proxy"
)

// pageCSS is the style sheet of HAProxy 2.6's stats page (light and
// dark color schemes), served as it is so the page looks the same.
//
//go:embed assets/page.css
var pageCSS string

// u2h prints a counter as HAProxy's page does (ulltoh_r): the digit
// before each group of three, counted from the right, is alone in a
// letter-spaced span (124067 is "12<span class="rls">4</span>067", seen
// as "124 067"); "0" for an empty field.
func u2h(v string) string {
	if v == "" {
		return "0"
	}
	if len(v) <= 3 {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if k := len(v) - 1 - i; k >= 3 && k%3 == 0 {
			b.WriteString(`<span class="rls">` + v[i:i+1] + `</span>`)
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// lim2a prints a limit (LIM2A): def when unset or zero.
func lim2a(v, def string) string {
	if v == "" || v == "0" {
		return def
	}
	return v
}

// atoi reads a numeric field, 0 when empty.
func atoi(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// humanTime prints seconds as HAProxy's human_time: at most two units
// ("3s", "1m30s", "2h5m", "4d3h"), "?" for a negative age.
func humanTime(t int64) string {
	if t < 0 {
		return "?"
	}
	const minute, hour, day = 60, 3600, 86400
	var b strings.Builder
	n := 2
	if t >= day {
		fmt.Fprintf(&b, "%dd", t/day)
		n--
	}
	if n > 0 && t%day/hour != 0 {
		fmt.Fprintf(&b, "%dh", t%day/hour)
		n--
	}
	if n > 0 && t%hour/minute != 0 {
		fmt.Fprintf(&b, "%dm", t%hour/minute)
		n--
	}
	if (n > 0 && t%minute != 0) || t == 0 {
		fmt.Fprintf(&b, "%ds", t%minute)
	}
	return b.String()
}

func pct(a, b int64) int64 {
	if b == 0 {
		return 0
	}
	return 100 * a / b
}

// capName is proxy_cap_str as 2.6 prints it.
func capName(p *proxy.Proxy) string {
	switch {
	case p.Cap&proxy.CapFE != 0 && p.Cap&proxy.CapBE != 0:
		return "proxy"
	case p.Cap&proxy.CapFE != 0:
		return "frontend"
	case p.Cap&proxy.CapBE != 0:
		return "backend"
	}
	return "-"
}

// node is the node name the page shows: `stats show-node NAME`, else
// the global `node`, else the host name.
func (p *Page) node() string {
	if p.cfg.ShowNode != "" && p.cfg.ShowNode != "-" {
		return p.cfg.ShowNode
	}
	if n := p.st.rt.Cfg.Global.Node; n != "" {
		return n
	}
	return hostname()
}

// html renders HAProxy 2.6's page: the head and style, the process
// block with the legend, display options and external links, the
// admin outcome, then one table per proxy.
func (p *Page) html(o pageOpts, admin bool) []byte {
	var b bytes.Buffer
	w := b.WriteString
	shNode := p.cfg.ShowNode != ""
	onNode := ""
	if shNode {
		onNode = " on " + p.node()
	}
	w("<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\"\n\"http://www.w3.org/TR/html4/loose.dtd\">\n")
	w("<html><head><title>Statistics Report for HAProxy" + onNode + "</title>\n")
	w("<link rel=\"icon\" href=\"data:,\">\n<meta http-equiv=\"content-type\" content=\"text/html; charset=iso-8859-1\">\n")
	w("<style type=\"text/css\"><!--\n")
	w(pageCSS)
	w("-->\n</style></head>\n")
	p.htmlInfo(&b, o, onNode)
	for _, px := range p.st.rt.Cfg.Proxies {
		if p.shown(px, o) {
			p.htmlProxy(&b, px, p.proxyRows(px, o), admin)
		}
	}
	w("</body></html>\n")
	return b.Bytes()
}

func (p *Page) htmlInfo(b *bytes.Buffer, o pageOpts, onNode string) {
	w := b.WriteString
	st := p.st
	g := st.rt.Cfg.Global
	version := ""
	if !p.cfg.HideVersion {
		version = " version " + st.Version + ", released " + st.Release
	}
	desc := ""
	if p.cfg.ShowDescOn {
		d := p.cfg.ShowDesc
		if d == "" {
			d = g.Description
		}
		if d != "" {
			desc = ": " + d
		}
	}
	pid := os.Getpid()
	up := int64(time.Since(st.start) / time.Second)
	pi := st.processInfo()
	memmax := "unlimited"
	if pi.memmaxMB > 0 {
		memmax = strconv.FormatInt(pi.memmaxMB, 10) + " MB"
	}
	bps := float64(pi.outBytesRate) * 8 * 1538 / 1448 // Ethernet framing, as HAProxy estimates
	unit, div := byte('k'), 1000.0
	switch {
	case bps >= 1e9:
		unit, div = 'G', 1e9
	case bps >= 1e6:
		unit, div = 'M', 1e6
	}
	fmt.Fprintf(b, "<body><h1><a href=\"http://www.haproxy.org/\" style=\"text-decoration: none;\">HAProxy%s</a></h1>\n"+
		"<h2>Statistics Report for pid %d%s%s</h2>\n"+
		"<hr width=\"100%%\" class=\"hr\">\n"+
		"<h3>&gt; General process information</h3>\n"+
		"<table border=0><tr><td align=\"left\" nowrap width=\"1%%\">\n"+
		"<p><b>pid = </b> %d (process #1, nbproc = 1, nbthread = %d)<br>\n"+
		"<b>uptime = </b> %dd %dh%02dm%02ds<br>\n"+
		"<b>system limits:</b> memmax = %s; ulimit-n = %d<br>\n"+
		"<b>maxsock = </b> %d; <b>maxconn = </b> %d; <b>maxpipes = </b> %d<br>\n"+
		"current conns = %d; current pipes = %d/%d; conn rate = %d/sec; bit rate = %.3f %cbps<br>\n"+
		"Running tasks: %d/%d; idle = %d %%<br>\n"+
		"</td><td align=\"center\" nowrap>\n",
		version, pid, onNode, desc, pid, pi.nbthread, up/86400, up%86400/3600, up%3600/60, up%60,
		memmax, pi.ulimitN, pi.maxsock, pi.maxconn, pi.maxpipes,
		pi.curConns, 0, 0, pi.connRate, bps/div, unit, pi.runQueue, pi.tasks, pi.idlePct)
	w("<table class=\"lgd\"><tr>\n" +
		"<td class=\"active_up\">&nbsp;</td><td class=\"noborder\">active UP </td><td class=\"backup_up\">&nbsp;</td><td class=\"noborder\">backup UP </td></tr><tr>\n" +
		"<td class=\"active_going_down\"></td><td class=\"noborder\">active UP, going down </td><td class=\"backup_going_down\"></td><td class=\"noborder\">backup UP, going down </td></tr><tr>\n" +
		"<td class=\"active_going_up\"></td><td class=\"noborder\">active DOWN, going up </td><td class=\"backup_going_up\"></td><td class=\"noborder\">backup DOWN, going up </td></tr><tr>\n" +
		"<td class=\"active_down\"></td><td class=\"noborder\">active or backup DOWN &nbsp;</td><td class=\"active_no_check\"></td><td class=\"noborder\">not checked </td></tr><tr>\n" +
		"<td class=\"maintain\"></td><td class=\"noborder\" colspan=\"3\">active or backup DOWN for maintenance (MAINT) &nbsp;</td></tr><tr>\n" +
		"<td class=\"active_draining\"></td><td class=\"noborder\" colspan=\"3\">active or backup SOFT STOPPED for maintenance &nbsp;</td></tr></table>\n" +
		"Note: \"NOLB\"/\"DRAIN\" = UP with load-balancing disabled.</td>" +
		"<td align=\"left\" valign=\"top\" nowrap width=\"1%\"><b>Display option:</b><ul style=\"margin-top: 0.25em;\">")
	uri := string(p.uri)
	fmt.Fprintf(b, "<li><form method=\"GET\">Scope : <input value=\"%s\" name=\"scope\" size=\"8\" maxlength=\"%d\" tabindex=\"1\"/></form>\n", o.scope, scopeMax)
	if o.up {
		w("<li><a href=\"" + uri + o.suffix(false, o.noRefresh) + "\">Show all servers</a><br>\n")
	} else {
		w("<li><a href=\"" + uri + o.suffix(true, o.noRefresh) + "\">Hide 'DOWN' servers</a><br>\n")
	}
	if p.cfg.Refresh > 0 {
		if o.noRefresh {
			w("<li><a href=\"" + uri + o.suffix(o.up, false) + "\">Enable refresh</a><br>\n")
		} else {
			w("<li><a href=\"" + uri + o.suffix(o.up, true) + "\">Disable refresh</a><br>\n")
		}
	}
	w("<li><a href=\"" + uri + o.suffix(o.up, o.noRefresh) + "\">Refresh now</a><br>\n")
	noref := ""
	if p.cfg.Refresh > 0 {
		noref = ";norefresh"
	}
	w("<li><a href=\"" + uri + ";csv" + noref + o.scopeText() + "\">CSV export</a><br>\n")
	w("<li><a href=\"" + uri + ";json" + noref + o.scopeText() + "\">JSON export</a> (<a href=\"" + uri + ";json-schema\">schema</a>)<br>\n")
	w("</ul></td><td align=\"left\" valign=\"top\" nowrap width=\"1%\"><b>External resources:</b><ul style=\"margin-top: 0.25em;\">\n" +
		"<li><a href=\"http://www.haproxy.org/\">Primary site</a><br>\n" +
		"<li><a href=\"http://www.haproxy.org/#down\">Updates (v2.6)</a><br>\n" +
		"<li><a href=\"http://www.haproxy.org/#docs\">Online manual</a><br>\n" +
		"</ul></td></tr></table>\n")
	if o.st != "" {
		class, msg := "active_no_check", "Unexpected result."
		switch o.st {
		case "DONE":
			class, msg = "active_up", "Action processed successfully."
		case "NONE":
			class, msg = "active_going_down", "Nothing has changed."
		case "PART":
			class, msg = "active_going_down", "Action partially processed.<br>Some server names are probably unknown or ambiguous (duplicated names in the backend)."
		case "ERRP":
			class, msg = "active_down", "Action not processed because of invalid parameters.<ul>"+
				"<li>The action is maybe unknown.</li>"+
				"<li>Invalid key parameter (empty or too long).</li>"+
				"<li>The backend name is probably unknown or ambiguous (duplicated names).</li>"+
				"<li>Some server names are probably unknown or ambiguous (duplicated names in the backend).</li></ul>"
		case "EXCD":
			class, msg = "active_down", "<b>Action not processed : the buffer couldn't store all the data.<br>You should retry with less servers at a time.</b>"
		case "DENY":
			class, msg = "active_down", "<b>Action denied.</b>"
		case "IVAL":
			class, msg = "active_down", "<b>Invalid requests (unsupported method or chunked encoded request).</b>"
		}
		fmt.Fprintf(b, "<p><div class=%s><a class=lfsb href=\"%s%s\" title=\"Remove this message\">[X]</a> %s</div>\n<p>\n",
			class, uri, o.suffix(o.up, o.noRefresh), msg)
	}
}

// htmlProxy renders one proxy's two header tables, its rows and, when
// the admin form applies, the action list.
func (p *Page) htmlProxy(b *bytes.Buffer, px *proxy.Proxy, rows []Row, admin bool) {
	w := b.WriteString
	lg := p.cfg.ShowLegends
	be := p.st.rt.Backend(px)
	form := admin && be != nil && len(be.Servers()) > 0
	if form {
		w("<form method=\"post\">")
	}
	name := px.Name
	w("<table class=\"tbl\" width=\"100%\">\n<tr class=\"titre\"><th class=\"pxname\" width=\"10%\">")
	w("<a name=\"" + name + "\"></a>")
	if lg {
		w("<u>")
	}
	w("<a class=px href=\"#" + name + "\">" + name + "</a>")
	if lg {
		fmt.Fprintf(b, "<div class=tips>cap: %s, mode: %s, id: %d</div></u>", capName(px), modeName(px), px.ID)
	}
	class := "empty"
	if px.Description != "" {
		class = "desc"
	}
	w("</th><th class=\"" + class + "\" width=\"90%\">" + px.Description + "</th></tr>\n</table>\n")
	w("<table class=\"tbl\" width=\"100%\">\n<tr class=\"titre\">")
	if admin {
		if form {
			fmt.Fprintf(b, "<th rowspan=2 width=1><input type=\"checkbox\" onclick=\"for(c in document.getElementsByClassName('%s-checkbox')) document.getElementsByClassName('%s-checkbox').item(c).checked = this.checked\"></th>", name, name)
		} else {
			w("<th rowspan=2></th>")
		}
	}
	w("<th rowspan=2></th><th colspan=3>Queue</th><th colspan=3>Session rate</th><th colspan=6>Sessions</th>" +
		"<th colspan=2>Bytes</th><th colspan=2>Denied</th><th colspan=3>Errors</th><th colspan=2>Warnings</th><th colspan=9>Server</th></tr>\n" +
		"<tr class=\"titre\"><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th>" +
		"<th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th><th>In</th><th>Out</th><th>Req</th><th>Resp</th><th>Req</th><th>Conn</th>" +
		"<th>Resp</th><th>Retr</th><th>Redis</th><th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th><th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th>" +
		"<th>Thrtle</th>\n</tr>")
	for _, r := range rows {
		switch r.Get("type") {
		case "0":
			p.htmlFrontend(b, r, admin)
		case "2":
			p.htmlServer(b, r, admin)
		case "1":
			p.htmlBackend(b, r, admin)
		}
	}
	w("</table>")
	if form {
		w("Choose the action to perform on the checked servers : <select name=action><option value=\"\"></option>")
		for _, a := range adminActions {
			w("<option value=\"" + a.value + "\">" + a.label + "</option>")
		}
		fmt.Fprintf(b, "</select><input type=\"hidden\" name=\"b\" value=\"#%d\">&nbsp;<input type=\"submit\" value=\"Apply\"></form>", px.ID)
	}
	w("<p>\n")
}

func det(label, v string) string { return "<tr><th>" + label + "</th><td>" + v + "</td></tr>" }

func detPct(label, v string, pc int64) string {
	return "<tr><th>" + label + "</th><td>" + v + "</td><td>(" + strconv.FormatInt(pc, 10) + "%)</td></tr>"
}

// bytesOut is the Out cell with its compression tooltip (underlined only
// when compression saw traffic).
func bytesOut(r Row) string {
	cin, cout, byp, bout := atoi(r.Get("comp_in")), atoi(r.Get("comp_out")), atoi(r.Get("comp_byp")), atoi(r.Get("bout"))
	u, ue := "", ""
	if cin != 0 || byp != 0 {
		u, ue = "<u>", "</u>"
	}
	saved := strconv.FormatInt(cin-cout, 10)
	return "<td>" + u + u2h(r.Get("bout")) + "<div class=tips><table class=det>" +
		det("Response bytes in:", u2h(r.Get("bout"))) +
		det("Compression in:", u2h(r.Get("comp_in"))) +
		detPct("Compression out:", u2h(r.Get("comp_out")), pct(cout, cin)) +
		det("Compression bypass:", u2h(r.Get("comp_byp"))) +
		detPct("Total bytes saved:", u2h(saved), pct(cin-cout, bout)) +
		"</table></div>" + ue + "</td>"
}

// httpResponses are the per-status lines of the session tooltips.
func httpResponses(r Row, withPct bool, comp bool) string {
	var s strings.Builder
	req := atoi(r.Get("req_tot"))
	for i, n := range []string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"} {
		label := "- HTTP " + n + " responses:"
		if n == "other" {
			label = "- other responses:"
		}
		v := r.Get("hrsp_" + n)
		if withPct {
			s.WriteString(detPct(label, u2h(v), pct(atoi(v), req)))
		} else {
			s.WriteString(det(label, u2h(v)))
		}
		if i == 1 && comp {
			s.WriteString(detPct("&nbsp;&nbsp;Compressed 2xx:", u2h(r.Get("comp_rsp")), pct(atoi(r.Get("comp_rsp")), atoi(r.Get("hrsp_2xx")))))
		}
	}
	return s.String()
}

// times is the "Max / Avg over last 1024 success. conn." part of the
// session tooltips of servers and backends.
func times(r Row, http bool) string {
	s := "<tr><th colspan=3>Max / Avg over last 1024 success. conn.</th></tr>" +
		"<tr><th>- Queue time:</th><td>" + u2h(r.Get("qtime_max")) + " / " + u2h(r.Get("qtime")) + "</td><td>ms</td></tr>" +
		"<tr><th>- Connect time:</th><td>" + u2h(r.Get("ctime_max")) + " / " + u2h(r.Get("ctime")) + "</td><td>ms</td></tr>"
	if http {
		s += "<tr><th>- Responses time:</th><td>" + u2h(r.Get("rtime_max")) + " / " + u2h(r.Get("rtime")) + "</td><td>ms</td></tr>"
	}
	return s + "<tr><th>- Total time:</th><td>" + u2h(r.Get("ttime_max")) + " / " + u2h(r.Get("ttime")) + "</td><td>ms</td></tr>"
}

func (p *Page) htmlFrontend(b *bytes.Buffer, r Row, admin bool) {
	w := b.WriteString
	px := r.Get("pxname")
	http := r.Get("mode") == "http"
	w("<tr class=\"frontend\">")
	if admin {
		w("<td></td>")
	}
	w("<td class=ac><a name=\"" + px + "/Frontend\"></a><a class=lfsb href=\"#" + px + "/Frontend\">Frontend</a></td><td colspan=3></td>")
	w("<td><u>" + u2h(r.Get("rate")) + "<div class=tips><table class=det>" +
		det("Current connection rate:", u2h(r.Get("conn_rate"))+"/s") + det("Current session rate:", u2h(r.Get("rate"))+"/s"))
	if http {
		w(det("Current request rate:", u2h(r.Get("req_rate"))+"/s"))
	}
	w("</table></div></u></td><td><u>" + u2h(r.Get("rate_max")) + "<div class=tips><table class=det>" +
		det("Max connection rate:", u2h(r.Get("conn_rate_max"))+"/s") + det("Max session rate:", u2h(r.Get("rate_max"))+"/s"))
	if http {
		w(det("Max request rate:", u2h(r.Get("req_rate_max"))+"/s"))
	}
	w("</table></div></u></td><td>" + lim2a(r.Get("rate_lim"), "-") + "</td>")
	w("<td>" + u2h(r.Get("scur")) + "</td><td>" + u2h(r.Get("smax")) + "</td><td>" + u2h(r.Get("slim")) + "</td>")
	w("<td><u>" + u2h(r.Get("stot")) + "<div class=tips><table class=det>" +
		det("Cum. connections:", u2h(r.Get("conn_tot"))) + det("Cum. sessions:", u2h(r.Get("stot"))))
	if http {
		w(det("Cum. HTTP requests:", u2h(r.Get("req_tot"))))
		w(httpResponses(r, false, true))
		w(det("Intercepted requests:", u2h(r.Get("intercepted"))) + det("Cache lookups:", u2h(r.Get("cache_lookups"))) +
			detPct("Cache hits:", u2h(r.Get("cache_hits")), pct(atoi(r.Get("cache_hits")), atoi(r.Get("cache_lookups")))) +
			det("Failed hdr rewrites:", u2h(r.Get("wrew"))) + det("Internal errors:", u2h(r.Get("eint"))))
	}
	w("</table></div></u></td><td></td><td></td><td>" + u2h(r.Get("bin")) + "</td>" + bytesOut(r))
	w("<td>" + u2h(r.Get("dreq")) + "</td><td>" + u2h(r.Get("dresp")) + "</td><td>" + u2h(r.Get("ereq")) + "</td><td></td><td></td>" +
		"<td></td><td></td><td class=ac>" + r.Get("status") + "</td><td class=ac colspan=8></td></tr>")
}

// serverStyle is the row color class of a server (its status, then its
// check's health for the going-up/down shades).
func serverStyle(r Row) string {
	st := r.Get("status")
	style := ""
	switch {
	case st == "DOWN" || st == "DOWN (agent)":
		style = "down"
	case strings.HasPrefix(st, "DOWN "):
		style = "going_up"
	case st == "DRAIN":
		style = "draining"
	case strings.HasPrefix(st, "NOLB "):
		style = "going_down"
	case st == "NOLB":
		style = "nolb"
	case st == "no check":
		style = "no_check"
	case r.Get("chkfail") == "" || atoi(r.Get("check_health")) == atoi(r.Get("check_rise"))+atoi(r.Get("check_fall"))-1:
		style = "up"
		if atoi(r.Get("weight")) == 0 {
			style = "draining"
		}
	default:
		style = "going_down"
	}
	if strings.HasPrefix(st, "MAINT") {
		return "maintain"
	}
	if r.Get("bck") == "1" {
		return "backup_" + style
	}
	return "active_" + style
}

// addrTip is the address part of a server's or listener's tooltip.
func addrTip(addr string) string {
	switch {
	case addr == "":
		return ""
	case addr[0] >= '0' && addr[0] <= '9':
		return "IPv4: " + addr + ", "
	case addr[0] == '[':
		return "IPv6: " + addr + ", "
	}
	return addr + ", "
}

func (p *Page) htmlServer(b *bytes.Buffer, r Row, admin bool) {
	w := b.WriteString
	px, sv := r.Get("pxname"), r.Get("svname")
	http := r.Get("mode") == "http"
	status := r.Get("status")
	w("<tr class=\"" + serverStyle(r) + "\">")
	if admin {
		w("<td><input class='" + px + "-checkbox' type=\"checkbox\" name=\"s\" value=\"" + sv + "\"></td>")
	}
	w("<td class=ac><a name=\"" + px + "/" + sv + "\"></a>")
	if p.cfg.ShowLegends {
		w("<u>")
	}
	w("<a class=lfsb href=\"#" + px + "/" + sv + "\">" + sv + "</a>")
	if p.cfg.ShowLegends {
		w("<div class=tips>" + addrTip(r.Get("addr")) + "id: " + r.Get("sid"))
		if c := r.Get("cookie"); c != "" {
			w(", cookie: '" + html.EscapeString(c) + "'")
		}
		w("</div></u>")
	}
	w("</td><td>" + u2h(r.Get("qcur")) + "</td><td>" + u2h(r.Get("qmax")) + "</td><td>" + lim2a(r.Get("qlimit"), "-") + "</td>")
	w("<td>" + u2h(r.Get("rate")) + "</td><td>" + u2h(r.Get("rate_max")) + "</td><td></td>")
	ilim := "-"
	if v := r.Get("src_ilim"); v != "" {
		ilim = u2h(v)
	}
	w("<td><u>" + u2h(r.Get("scur")) + "<div class=tips><table class=det>" +
		det("Current active connections:", u2h(r.Get("scur"))) +
		det("Current used connections:", u2h(r.Get("used_conn_cur"))) +
		det("Current idle connections:", u2h(r.Get("srv_icur"))) +
		det("- unsafe:", u2h(r.Get("idle_conn_cur"))) +
		det("- safe:", u2h(r.Get("safe_conn_cur"))) +
		det("Estimated need of connections:", u2h(r.Get("need_conn_est"))) +
		det("Active connections limit:", lim2a(r.Get("slim"), "-")) +
		det("Idle connections limit:", ilim) +
		"</table></div></u></td><td>" + u2h(r.Get("smax")) + "</td><td>" + lim2a(r.Get("slim"), "-") + "</td>")
	w("<td><u>" + u2h(r.Get("stot")) + "<div class=tips><table class=det>" + det("Cum. sessions:", u2h(r.Get("stot"))))
	if http {
		conn, reuse := atoi(r.Get("connect")), atoi(r.Get("reuse"))
		w(det("New connections:", u2h(r.Get("connect"))) + detPct("Reused connections:", u2h(r.Get("reuse")), pct(reuse, conn+reuse)) +
			det("Cum. HTTP requests:", u2h(r.Get("req_tot"))) + httpResponses(r, true, false) +
			det("Failed hdr rewrites:", u2h(r.Get("wrew"))) + det("Internal error:", u2h(r.Get("eint"))))
	}
	w(times(r, http))
	w("</table></div></u></td><td>" + u2h(r.Get("lbtot")) + "</td><td>" + humanTime(atoi(r.Get("lastsess"))) + "</td>")
	w("<td>" + u2h(r.Get("bin")) + "</td><td>" + u2h(r.Get("bout")) + "</td><td></td><td>" + u2h(r.Get("dresp")) + "</td>" +
		"<td></td><td>" + u2h(r.Get("econ")) + "</td>")
	w("<td><u>" + u2h(r.Get("eresp")) + "<div class=tips>Connection resets during transfers: " + itoa(r.Get("cli_abrt")) +
		" client, " + itoa(r.Get("srv_abrt")) + " server</div></u></td><td>" + itoa(r.Get("wretr")) + "</td><td>" + itoa(r.Get("wredis")) + "</td>")
	// status and last change
	w("<td class=ac>")
	lastchg := humanTime(atoi(r.Get("lastchg")))
	health := uint32(atoi(r.Get("check_health")))
	switch {
	case strings.HasPrefix(status, "MAINT"):
		w(lastchg + " MAINT")
	case status == "no check":
		w("<i>no check</i>")
	default:
		w(lastchg + " " + status)
		if strings.HasPrefix(status, "DOWN") {
			if health != 0 {
				w(" &uarr;")
			}
		} else if health < uint32(atoi(r.Get("check_rise")))+uint32(atoi(r.Get("check_fall")))-1 {
			// unsigned as in HAProxy: a server without its own check
			// (tracking another) always shows the arrow
			w(" &darr;")
		}
	}
	switch {
	case strings.HasPrefix(status, "DOWN") && r.Get("agent_status") != "" && atoi(r.Get("agent_health")) == 0:
		w(lastCheck(r.Get("agent_status"), r.Get("agent_code"), r.Get("agent_duration"), r.Get("agent_desc"), r.Get("last_agt")))
	case r.Get("check_status") != "":
		w(lastCheck(r.Get("check_status"), r.Get("check_code"), r.Get("check_duration"), r.Get("check_desc"), r.Get("last_chk")))
	default:
		w("</td><td>")
	}
	bck := r.Get("bck") == "1"
	act, bk := "Y", "-"
	if bck {
		act, bk = "-", "Y"
	}
	w("</td><td class=ac>" + itoa(r.Get("weight")) + "/" + itoa(r.Get("uweight")) + "</td><td class=ac>" + act + "</td><td class=ac>" + bk + "</td>")
	switch {
	case status == "MAINT (resolution)":
		w("<td class=ac colspan=3>resolution</td>")
	case r.Get("chkfail") != "":
		w("<td><u>" + itoa(r.Get("chkfail")))
		tip := "Failed Health Checks"
		if h := r.Get("hanafail"); h != "" {
			w("/" + h)
			tip += "/Health Analyses"
		}
		w("<div class=tips>" + tip + "</div></u></td><td>" + itoa(r.Get("chkdown")) + "</td><td>" + humanTime(atoi(r.Get("downtime"))) + "</td>")
	case status != "MAINT" && r.Get("tracked") != "":
		t := r.Get("tracked")
		w("<td class=ac colspan=3><a class=lfsb href=\"#" + t + "\">via " + t + "</a></td>")
	default:
		w("<td colspan=3></td>")
	}
	if t := r.Get("throttle"); t != "" {
		w("<td class=ac>" + t + " %</td>\n")
	} else {
		w("<td class=ac>-</td>")
	}
	w("</tr>\n")
}

// lastCheck is the LastChk cell: " L7OK/200 in 5ms" with the check's
// description and last output in the tooltip.
func lastCheck(status, code, dur, desc, info string) string {
	s := "</td><td class=ac><u> " + status
	if code != "" {
		s += "/" + code
	}
	if dur != "" {
		s += " in " + dur + "ms"
	}
	s += "<div class=tips>" + desc
	if info != "" {
		s += ": " + html.EscapeString(info)
	}
	return s + "</div></u>"
}

func itoa(v string) string {
	if v == "" {
		return "0"
	}
	return v
}

func (p *Page) htmlBackend(b *bytes.Buffer, r Row, admin bool) {
	w := b.WriteString
	px := r.Get("pxname")
	http := r.Get("mode") == "http"
	lg := p.cfg.ShowLegends
	w("<tr class=\"backend\">")
	if admin {
		w("<td></td>")
	}
	w("<td class=ac>")
	if lg {
		w("<u>")
	}
	w("<a name=\"" + px + "/Backend\"></a><a class=lfsb href=\"#" + px + "/Backend\">Backend</a>")
	if lg {
		w("<div class=tips>balancing: " + r.Get("algo"))
		if c := r.Get("cookie"); c != "" {
			w(", cookie: '" + html.EscapeString(c) + "'")
		}
		w("</div></u>")
	}
	w("</td><td>" + u2h(r.Get("qcur")) + "</td><td>" + u2h(r.Get("qmax")) + "</td><td></td>")
	w("<td>" + u2h(r.Get("rate")) + "</td><td>" + u2h(r.Get("rate_max")) + "</td><td></td>")
	w("<td>" + u2h(r.Get("scur")) + "</td><td>" + u2h(r.Get("smax")) + "</td><td>" + u2h(r.Get("slim")) + "</td>")
	w("<td><u>" + u2h(r.Get("stot")) + "<div class=tips><table class=det>" + det("Cum. sessions:", u2h(r.Get("stot"))))
	if http {
		conn, reuse := atoi(r.Get("connect")), atoi(r.Get("reuse"))
		w(det("New connections:", u2h(r.Get("connect"))) + detPct("Reused connections:", u2h(r.Get("reuse")), pct(reuse, conn+reuse)) +
			det("Cum. HTTP requests:", u2h(r.Get("req_tot"))) + httpResponses(r, false, true) +
			det("Cache lookups:", u2h(r.Get("cache_lookups"))) +
			detPct("Cache hits:", u2h(r.Get("cache_hits")), pct(atoi(r.Get("cache_hits")), atoi(r.Get("cache_lookups")))) +
			det("Failed hdr rewrites:", u2h(r.Get("wrew"))) + det("Internal errors:", u2h(r.Get("eint"))))
	}
	w(times(r, http))
	w("</table></div></u></td><td>" + u2h(r.Get("lbtot")) + "</td><td>" + humanTime(atoi(r.Get("lastsess"))) + "</td>")
	w("<td>" + u2h(r.Get("bin")) + "</td>" + bytesOut(r))
	w("<td>" + u2h(r.Get("dreq")) + "</td><td>" + u2h(r.Get("dresp")) + "</td><td></td><td>" + u2h(r.Get("econ")) + "</td>")
	w("<td><u>" + u2h(r.Get("eresp")) + "<div class=tips>Connection resets during transfers: " + itoa(r.Get("cli_abrt")) +
		" client, " + itoa(r.Get("srv_abrt")) + " server</div></u></td><td>" + itoa(r.Get("wretr")) + "</td><td>" + itoa(r.Get("wredis")) + "</td>")
	status := r.Get("status")
	if status == "DOWN" {
		status = "<font color=\"red\"><b>DOWN</b></font>"
	}
	w("<td class=ac>" + humanTime(atoi(r.Get("lastchg"))) + " " + status + "</td><td class=ac>&nbsp;</td><td class=ac>" +
		itoa(r.Get("weight")) + "/" + itoa(r.Get("uweight")) + "</td><td class=ac>" + itoa(r.Get("act")) + "</td><td class=ac>" + itoa(r.Get("bck")) + "</td>")
	down := "&nbsp;"
	if v := r.Get("downtime"); v != "" {
		down = humanTime(atoi(v))
	}
	w("<td class=ac>&nbsp;</td><td>" + itoa(r.Get("chkdown")) + "</td><td>" + down + "</td><td></td></tr>")
}
