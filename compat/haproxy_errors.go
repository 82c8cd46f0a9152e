package compat

import (
	"fmt"
	"slices"
	"strings"

	"halo/parser"
	"halo/proxy"
)

// Error pages (configuration.txt §4.2 errorfile, errorfiles, errorloc,
// http-error; §3.8 http-errors). HAProxy keeps a proxy's error directives
// as a list, the defaults section's first, and resolves them in that
// order once every section is read: each overrides the earlier ones for
// its statuses, so "errorfiles S" followed by "errorfile 400 F" serves F
// for 400 and S's pages for the rest, and the other way round S wins.

// errorfileCodes are the statuses haproxy 2.6 can serve from an errorfile.
var errorfileCodes = map[int]bool{200: true, 400: true, 401: true, 403: true, 404: true, 405: true,
	407: true, 408: true, 410: true, 413: true, 425: true, 429: true, 500: true, 501: true,
	502: true, 503: true, 504: true}

// httpReasons are the reason phrases of the statuses haproxy can answer.
var httpReasons = map[int]string{200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 407: "Proxy Authentication Required", 408: "Request Time-out",
	410: "Gone", 413: "Payload Too Large", 425: "Too Early", 429: "Too Many Requests",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
	504: "Gateway Time-out"}

// errEntry is one error directive of a proxy, resolved in order at the end.
type errEntry struct {
	code    int          // the status it sets (0: every status of section)
	raw     []byte       // a static page (empty: close without an answer)
	reply   *proxy.Reply // an http-error page built per transaction
	reset   bool         // http-error … default-errorfiles: back to the inherited page
	section string       // errorfiles NAME [codes], http-error … errorfiles NAME
	codes   []int        // errorfiles' status filter
	pos     parser.Pos
}

func (c *hctx) addErr(e errEntry) {
	c.cur.errs = append(c.cur.errs, e)
}

func decodeErrorfile(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) < 2 {
		return fmt.Errorf("%s : <code> and <file> expected", d.Name)
	}
	code, ok := strictInt(a[0].Value)
	if !ok || !errorfileCodes[code] {
		return fmt.Errorf("%s : status code '%s' not handled.", d.Name, a[0].Value)
	}
	data, err := c.opt.ReadFile(a[1].Value)
	if err != nil {
		return fmt.Errorf("%s : error opening file '%s'.", d.Name, a[1].Value)
	}
	// An empty file is an empty message: HAProxy then closes the
	// connection without an answer (`errorfile 408 /dev/null`, the
	// manual's work-around for browsers' pre-connections).
	if data == nil {
		data = []byte{}
	}
	if c.httpErrors != nil {
		c.httpErrors[code] = data
		return nil
	}
	c.addErr(errEntry{code: code, raw: data, pos: d.Pos})
	return nil
}

func decodeErrorfiles(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) == 0 {
		return fmt.Errorf("%s : expects <name> as argument.", d.Name)
	}
	e := errEntry{section: a[0].Value, pos: d.Pos}
	for _, w := range a[1:] {
		n, ok := strictInt(w.Value)
		if !ok {
			return fmt.Errorf("%s : invalid status code '%s'", d.Name, w.Value)
		}
		e.codes = append(e.codes, n)
	}
	c.addErr(e)
	return nil
}

func decodeErrorloc(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) < 2 {
		return fmt.Errorf("%s : <code> and <url> expected", d.Name)
	}
	code, ok := strictInt(a[0].Value)
	if !ok || !errorfileCodes[code] {
		return fmt.Errorf("%s : status code '%s' not handled.", d.Name, a[0].Value)
	}
	status := 302
	if d.Name == "errorloc303" {
		status = 303
	}
	reason := map[int]string{302: "Found", 303: "See Other"}[status]
	resp := fmt.Sprintf("HTTP/1.1 %d %s\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: %s\r\nConnection: close\r\n\r\n", status, reason, a[1].Value)
	c.addErr(errEntry{code: code, raw: []byte(resp), pos: d.Pos})
	return nil
}

// httpReply is HAProxy's http reply (parse_http_reply), shared by
// http-error and the return, deny and tarpit actions:
// [status N] [content-type T] [default-errorfiles | errorfile F |
// errorfiles NAME | file F | lf-file F | string S | lf-string S]
// [hdr NAME FMT]*.
type httpReply struct {
	status  int
	ctype   string
	kind    string // the payload keyword ("" when none)
	arg     string // its argument
	data    []byte // the file read by errorfile, file, lf-file
	hdrs    [][2]string
	next    int      // index of the first word not read
	warns   []string // HAProxy's warnings about ignored arguments
	hdrsCut bool     // hdr arguments ignored (errorfile payloads)
}

// parseHTTPReply reads a reply from a[i:], stopping at the first word it
// does not know (the caller says whether that is an error). statusKw are
// the keywords that set the status ("status", plus "deny_status" for
// deny and tarpit). Errors are worded as HAProxy's, without its prefix.
func (c *hctx) parseHTTPReply(a []parser.Word, i, status int, statusKw ...string) (*httpReply, error) {
	r := &httpReply{status: status}
	for ; i < len(a); i++ {
		k := a[i].Value
		arg := func(what string) (string, error) {
			if i+1 >= len(a) || a[i+1].Value == "" {
				return "", fmt.Errorf("'%s' expects %s as argument", k, what)
			}
			i++
			return a[i].Value, nil
		}
		switch {
		case slices.Contains(statusKw, k):
			v, err := arg("<status_code>")
			if err != nil {
				return nil, err
			}
			n := atol(v)
			if n < 200 || n > 599 {
				return nil, fmt.Errorf("Unexpected status code '%d'", n)
			}
			r.status = n
		case k == "content-type":
			v, err := arg("<ctype>")
			if err != nil {
				return nil, err
			}
			r.ctype = v
		case k == "default-errorfiles" || k == "errorfile" || k == "errorfiles" || k == "file" || k == "lf-file" || k == "string" || k == "lf-string":
			if r.kind != "" {
				return nil, fmt.Errorf("unexpected '%s' argument, '%s' already defined", k, r.kind)
			}
			r.kind = k
			what := map[string]string{"errorfile": "<fmt>", "errorfiles": "<name>", "file": "<file>", "lf-file": "<file>", "string": "<str>", "lf-string": "<fmt>"}[k]
			if k == "default-errorfiles" {
				continue
			}
			v, err := arg(what)
			if err != nil {
				return nil, err
			}
			r.arg = v
			switch k {
			case "errorfile", "file", "lf-file":
				data, err := c.opt.ReadFile(v)
				if err != nil {
					if k == "errorfile" {
						return nil, fmt.Errorf("error opening file '%s'.", v)
					}
					return nil, fmt.Errorf("error opening file '%s'", v)
				}
				r.data = data
			}
		case k == "hdr":
			if i+2 >= len(a) || a[i+1].Value == "" || a[i+2].Value == "" {
				return nil, fmt.Errorf("'hdr' expects <name> and <value> as arguments")
			}
			name := a[i+1].Value
			switch strings.ToLower(name) {
			case "content-length", "transfer-encoding", "content-type":
				r.warns = append(r.warns, fmt.Sprintf("header '%s' always ignored by the http reply.", name))
			default:
				r.hdrs = append(r.hdrs, [2]string{name, a[i+2].Value})
			}
			i += 2
		default:
			r.next = i
			return r, c.finishReply(r)
		}
	}
	r.next = i
	return r, c.finishReply(r)
}

// finishReply applies HAProxy's checks once a reply's words are read.
func (c *hctx) finishReply(r *httpReply) error {
	switch r.kind {
	case "", "default-errorfiles", "errorfile", "errorfiles":
		if r.ctype != "" {
			if r.kind == "" {
				r.warns = append(r.warns, fmt.Sprintf("content-type '%s' ignored by the http reply because neither errorfile nor payload defined.", r.ctype))
			} else {
				r.warns = append(r.warns, fmt.Sprintf("content-type '%s' ignored by the http reply when used with an erorrfile.", r.ctype))
			}
			r.ctype = ""
		}
		if r.kind != "" && len(r.hdrs) > 0 {
			r.warns = append(r.warns, "hdr parameters ignored by the http reply when used with an erorrfile.")
			r.hdrs, r.hdrsCut = nil, true
		}
	case "file", "lf-file":
		if len(r.data) == 0 {
			if r.ctype != "" {
				r.warns = append(r.warns, fmt.Sprintf("content-type '%s' ignored by the http reply when used with an empty payload.", r.ctype))
				r.ctype = ""
			}
		} else if r.ctype == "" {
			return fmt.Errorf("a content type must be defined when non-empty payload is configured")
		}
	case "string":
		if r.ctype == "" {
			return fmt.Errorf("a content type must be defined when non-empty payload is configured")
		}
	case "lf-string":
		if r.ctype == "" {
			return fmt.Errorf("a content type must be defined with a log-format payload")
		}
	}
	if (r.kind == "default-errorfiles" || r.kind == "errorfile" || r.kind == "errorfiles") && !errorfileCodes[r.status] {
		return fmt.Errorf("status code '%d' not handled by default with '%s' argument.", r.status, r.kind)
	}
	return nil
}

// decodeHTTPError is `http-error status <code> …`: the reply replaces the
// proxy's error page for that status.
func decodeHTTPError(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) == 0 {
		return fmt.Errorf("http-error : expects at least a <status> as arguments.\n")
	}
	r, err := c.parseHTTPReply(a, 0, 0, "status")
	if err != nil {
		return fmt.Errorf("http-error : %v", err)
	}
	if r.status == 0 {
		return fmt.Errorf("http-error : expects at least a <status> as arguments.\n")
	}
	if r.next < len(a) {
		return fmt.Errorf("http-error : unknown keyword '%s'.", a[r.next].Value)
	}
	if !errorfileCodes[r.status] {
		return fmt.Errorf("http-error: status code '%d' not handled.", r.status)
	}
	for _, w := range r.warns {
		c.rep.Warnf(d.Pos, "%s", w)
	}
	e := errEntry{code: r.status, pos: d.Pos}
	switch r.kind {
	case "default-errorfiles":
		e.reset = true
	case "errorfile":
		e.raw = r.data
		if e.raw == nil {
			e.raw = []byte{}
		}
	case "errorfiles":
		e.section = r.arg
		e.codes = []int{r.status}
	case "lf-file", "lf-string":
		body := r.arg
		if r.kind == "lf-file" {
			body = string(r.data)
		}
		if msg := c.checkLogFormat(body); msg != "" {
			return fmt.Errorf("http-error : %s", strings.TrimSuffix(msg, "."))
		}
		e.reply = &proxy.Reply{Status: r.status, ContentType: r.ctype, Body: body, BodyLF: true, Headers: r.hdrs}
	default:
		body := r.arg
		if r.kind == "file" {
			body = string(r.data)
		}
		if len(r.hdrs) > 0 {
			e.reply = &proxy.Reply{Status: r.status, ContentType: r.ctype, Body: body, Headers: r.hdrs}
		} else {
			e.raw = []byte(staticReply(r.status, r.ctype, body))
		}
	}
	if e.reply != nil {
		for _, h := range e.reply.Headers {
			if msg := c.checkLogFormat(h[1]); msg != "" {
				return fmt.Errorf("http-error : %s", strings.TrimSuffix(msg, "."))
			}
		}
	}
	c.addErr(e)
	return nil
}

// staticReply is an http reply without log-format parts, as HAProxy
// builds it: status line, content-length, content-type when the payload
// is not empty, the payload.
func staticReply(status int, ctype, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\ncontent-length: %d\r\n", status, httpReasons[status], len(body))
	if ctype != "" && body != "" {
		fmt.Fprintf(&b, "content-type: %s\r\n", ctype)
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

// resolveErrors turns a proxy's error directives into its pages, in
// order (proxy_check_errors).
func (c *hctx) resolveErrors(st *pstate) {
	p := st.p
	p.ErrorFiles, p.ErrorReplies = nil, nil
	set := func(code int, raw []byte, r *proxy.Reply) {
		delete(p.ErrorFiles, code)
		delete(p.ErrorReplies, code)
		switch {
		case r != nil:
			if p.ErrorReplies == nil {
				p.ErrorReplies = map[int]*proxy.Reply{}
			}
			p.ErrorReplies[code] = r
		case raw != nil:
			if p.ErrorFiles == nil {
				p.ErrorFiles = map[int][]byte{}
			}
			p.ErrorFiles[code] = raw
		}
	}
	for _, e := range st.replyRefs {
		sec, ok := c.cfg.HTTPErrors[e.section]
		if !ok {
			c.rep.Alertf(parser.Pos{}, "Proxy '%s': unknown http-errors section '%s' referenced by an http reply .", p.Name, e.section)
		} else if _, ok := sec[e.code]; !ok {
			c.rep.Warnf(parser.Pos{}, "Proxy '%s': status '%d' referenced by an http reply not declared in http-errors section '%s'.", p.Name, e.code, e.section)
		}
	}
	for _, e := range st.errs {
		switch {
		case e.section != "":
			sec, ok := c.cfg.HTTPErrors[e.section]
			if !ok {
				c.rep.Alertf(parser.Pos{}, "proxy '%s': unknown http-errors section '%s' (at %s:%d).", p.Name, e.section, e.pos.File, e.pos.Line)
				continue
			}
			if e.code != 0 {
				// http-error … errorfiles NAME: that section's page, else
				// the proxy's own
				set(e.code, sec[e.code], nil)
				continue
			}
			for code, body := range sec {
				if len(e.codes) > 0 && !containsInt(e.codes, code) {
					continue
				}
				set(code, body, nil)
			}
		case e.reset:
			set(e.code, nil, nil)
		default:
			set(e.code, e.raw, e.reply)
		}
	}
}
