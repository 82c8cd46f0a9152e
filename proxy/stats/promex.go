package stats

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"halo/proxy/acl"
)

type promMetric struct {
	scope, name, typ, help, src string
}

// Prometheus is HAProxy's prometheus-exporter service (`http-request
// use-service prometheus-exporter`), rendered from the same rows as the
// CSV. Only "scope" filtering of the query string is supported.
type Prometheus struct{ st *Stats }

// NewPrometheus returns the exporter of st.
func NewPrometheus(st *Stats) *Prometheus { return &Prometheus{st: st} }

var serverStates = []string{"DOWN", "UP", "MAINT", "DRAIN", "NOLB"}
var checkStates = []string{"HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7TOUT",
	"L7RSP", "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK"}

// scopes parses ?scope=… (README of HAProxy's promex): none given means all.
func scopes(query []byte) map[string]bool {
	all := map[string]bool{"process": true, "frontend": true, "backend": true, "server": true, "sticktable": true}
	if len(query) == 0 {
		return all
	}
	var sel map[string]bool
	for _, kv := range bytes.Split(query, []byte("&")) {
		k, v, _ := bytes.Cut(kv, []byte("="))
		if string(k) != "scope" {
			continue
		}
		if sel == nil {
			sel = map[string]bool{}
		}
		switch string(v) {
		case "":
			sel = map[string]bool{}
		case "*":
			for s := range all {
				sel[s] = true
			}
		case "global":
			sel["process"] = true
		default:
			sel[string(v)] = true
		}
	}
	if sel == nil {
		return all
	}
	return sel
}

// Serve answers a scrape with the full raw HTTP response.
func (p *Prometheus) Serve(dst []byte, ctx *acl.Ctx) []byte {
	body := p.Render(ctx.T.Query())
	dst = append(dst, "HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}

// Render writes the metrics in HAProxy's order: every metric groups all
// objects of its scope.
func (p *Prometheus) Render(query []byte) []byte {
	sel := scopes(query)
	rows := p.st.Rows(Filter{IID: -1, Types: 7, SID: -1, Admin: true})
	info := map[string]string{}
	for _, f := range p.st.infoFields() {
		info[f.k] = fmt.Sprint(f.v)
	}
	var b bytes.Buffer
	for _, m := range promMetrics {
		if !sel[m.scope] {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.typ)
		if m.scope == "process" {
			if m.src == "@build_info" {
				fmt.Fprintf(&b, "%s{version=\"%s\"} 1\n", m.name, p.st.Version)
			} else if v, ok := info[m.src]; ok {
				fmt.Fprintf(&b, "%s %s\n", m.name, v)
			}
			continue
		}
		typ := map[string]string{"frontend": "0", "backend": "1", "server": "2"}[m.scope]
		for _, r := range rows {
			if r.Get("type") != typ {
				continue
			}
			labels := `proxy="` + promEscape(r.Get("pxname")) + `"`
			if typ == "2" {
				labels += `,server="` + promEscape(r.Get("svname")) + `"`
			}
			p.writeRow(&b, m, r, labels)
		}
	}
	if sel["sticktable"] {
		p.renderStickTables(&b) // promex_stick.go
	}
	return b.Bytes()
}

func promEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func (p *Prometheus) writeRow(b *bytes.Buffer, m promMetric, r Row, labels string) {
	switch m.src {
	case "@status":
		st := r.Get("status")
		states := serverStates
		if r.Get("type") != "2" {
			states = []string{"DOWN", "UP"}
			if st == "OPEN" {
				st = "UP"
			}
		}
		if st == "no check" || strings.HasPrefix(st, "UP ") {
			st = "UP"
		} else if strings.HasPrefix(st, "DOWN ") {
			st = "DOWN"
		}
		for _, s := range states {
			fmt.Fprintf(b, "%s{%s,state=\"%s\"} %d\n", m.name, labels, s, b2i(s == st))
		}
	case "@hrsp":
		if r.Get("hrsp_1xx") == "" {
			return
		}
		for _, c := range []string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"} {
			fmt.Fprintf(b, "%s{%s,code=\"%s\"} %s\n", m.name, labels, c, r.Get("hrsp_"+c))
		}
	case "@check_status":
		cs := r.Get("check_status")
		if cs == "" {
			return
		}
		for _, s := range checkStates {
			fmt.Fprintf(b, "%s{%s,state=\"%s\"} %d\n", m.name, labels, s, b2i(s == cs))
		}
	case "@agg_server_status", "@agg_check_status":
		counts := map[string]int{}
		px := r.Get("pxname")
		for _, sr := range p.st.Rows(Filter{IID: -1, Types: 4, SID: -1, Name: px}) {
			if m.src == "@agg_check_status" {
				counts[sr.Get("check_status")]++
				continue
			}
			st := sr.Get("status")
			switch {
			case st == "no check" || strings.HasPrefix(st, "UP"):
				st = "UP"
			case strings.HasPrefix(st, "DOWN"):
				st = "DOWN"
			}
			counts[st]++
		}
		states := serverStates
		if m.src == "@agg_check_status" {
			states = checkStates
		}
		for _, s := range states {
			fmt.Fprintf(b, "%s{%s,state=\"%s\"} %d\n", m.name, labels, s, counts[s])
		}
	default:
		col, ms := strings.CutSuffix(m.src, "/ms")
		v := r.Get(col)
		if strings.HasPrefix(col, "check_") && r.Get("check_status") == "" {
			return
		}
		switch {
		case v == "":
			v = "NaN"
		case ms:
			n, _ := strconv.ParseFloat(v, 64)
			v = strconv.FormatFloat(n/1000, 'f', 6, 64)
		}
		fmt.Fprintf(b, "%s{%s} %s\n", m.name, labels, v)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
