package compat

import (
	"crypto/tls"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"halo/parser"
	"halo/proxy"
	"halo/proxy/tlsconf"
)

// sslOpts are the TLS settings of a bind line, a crt-list line, a server
// line or an ssl-default-* statement, as written (OpenSSL names), until
// resolveBind/resolveServer turn them into crypto/tls terms.
type sslOpts struct {
	methods                                    tlsconf.Methods
	ciphers, ciphersuites, curves, ecdhe       string
	hasCiphers, hasSuites, hasCurves, hasEcdhe bool
	noTickets, preferClient, strictSNI         bool
	noCANames, allow0RTT, genCerts             bool
	alpn                                       []string
	hasALPN                                    bool
	npn                                        string
	verify                                     string
	caFile, caVerifyFile, crlFile              string
	caIgnore, crtIgnore                        []int
	caIgnoreAll, crtIgnoreAll                  bool
	ticketKeys                                 string
	// server side
	sni, verifyHost, crt string
	noReuse              bool
}

// sslGlobals are the global ssl-default-* statements.
type sslGlobals struct {
	bind, server sslOpts
	dhParams     bool // ssl-dh-param-file or tune.ssl.default-dh-param
}

// methodFlag maps no-*/force-* keywords to their version.
var methodFlag = map[string]int{
	"sslv3": tlsconf.SSLv3, "tlsv10": tlsconf.TLSv10, "tlsv11": tlsconf.TLSv11,
	"tlsv12": tlsconf.TLSv12, "tlsv13": tlsconf.TLSv13,
}

// setMethod applies ssl-min-ver/ssl-max-ver/no-*/force-*; done is false
// for any other keyword.
func (o *sslOpts) setMethod(k, v string) (done bool, err error) {
	switch k {
	case "ssl-min-ver", "ssl-max-ver":
		n, ok := tlsconf.ParseVersion(v)
		if !ok {
			return true, fmt.Errorf("'%s' : unknown ssl/tls version", v)
		}
		if k == "ssl-min-ver" {
			o.methods.Min = n
		} else {
			o.methods.Max = n
		}
		return true, nil
	}
	if ver, ok := strings.CutPrefix(k, "no-"); ok {
		if n, ok := methodFlag[ver]; ok {
			o.methods.Disabled |= 1 << n
			return true, nil
		}
	}
	if ver, ok := strings.CutPrefix(k, "force-"); ok {
		if n, ok := methodFlag[ver]; ok {
			o.methods.Min, o.methods.Max = n, n
			return true, nil
		}
	}
	return false, nil
}

// parseIgnoreErr reads ca-ignore-err/crt-ignore-err: `all` or a comma
// list of X509_V_ERR numbers (1..94, as OpenSSL 3.0 numbers them).
func parseIgnoreErr(k, v string) (ids []int, all bool, err error) {
	if v == "all" {
		return nil, true, nil
	}
	for _, p := range strings.Split(v, ",") {
		n, _ := strconv.Atoi(p)
		if n < 1 || n > 94 {
			return nil, false, fmt.Errorf("'%s' : ID '%d' out of range (1..94) in error IDs list '%s'", k, n, v)
		}
		ids = append(ids, n)
	}
	return ids, false, nil
}

// set applies one TLS keyword of a bind line or crt-list line (value v
// when it takes one); handled is false for keywords that are not TLS
// settings.
func (c *hctx) setBindSSL(o *sslOpts, k, v string) (handled bool, err error) {
	if done, err := o.setMethod(k, v); done {
		return true, err
	}
	switch k {
	case "ciphers":
		o.ciphers, o.hasCiphers = v, true
	case "ciphersuites":
		o.ciphersuites, o.hasSuites = v, true
	case "curves":
		o.curves, o.hasCurves = v, true
	case "ecdhe":
		o.ecdhe, o.hasEcdhe = v, true
	case "no-tls-tickets":
		o.noTickets = true
	case "prefer-client-ciphers":
		o.preferClient = true
	case "strict-sni":
		o.strictSNI = true
	case "no-ca-names":
		o.noCANames = true
	case "allow-0rtt":
		o.allow0RTT = true
	case "generate-certificates":
		o.genCerts = true
	case "alpn":
		o.alpn, o.hasALPN = strings.Split(v, ","), true
	case "npn":
		o.npn = v
	case "verify":
		if v != "none" && v != "optional" && v != "required" {
			return true, fmt.Errorf("'%s' : verify method '%s' unknown. Supported methods are 'none', 'optional' and 'required'.", k, v)
		}
		o.verify = v
	case "ca-file", "ca-verify-file", "crl-file":
		path := v
		if c.caBase != "" && !strings.HasPrefix(path, "/") {
			path = basePath(c.caBase, path)
		}
		if _, err := c.opt.Stat(path); err != nil {
			return true, fmt.Errorf("unable to load %s file '%s'.", strings.TrimSuffix(k, "-file"), path)
		}
		switch k {
		case "ca-file":
			o.caFile = path
		case "ca-verify-file":
			o.caVerifyFile = path
		default:
			o.crlFile = path
		}
	case "ca-ignore-err", "crt-ignore-err":
		ids, all, err := parseIgnoreErr(k, v)
		if err != nil {
			return true, err
		}
		if k == "ca-ignore-err" {
			o.caIgnore, o.caIgnoreAll = ids, all
		} else {
			o.crtIgnore, o.crtIgnoreAll = ids, all
		}
	case "tls-ticket-keys":
		if _, err := c.opt.Stat(v); err != nil {
			return true, fmt.Errorf("'%s' : unable to load file '%s'", k, v)
		}
		o.ticketKeys = v
	default:
		return false, nil
	}
	return true, nil
}

// bindSSLStatus says what halo does with a bind TLS keyword, given the
// resolved settings' differences (notes are added by resolveBind).
func bindSSLStatus(k string) (Status, string, bool) {
	switch k {
	case "ssl-min-ver", "ssl-max-ver", "no-sslv3", "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13",
		"force-sslv3", "force-tlsv10", "force-tlsv11", "force-tlsv12", "force-tlsv13", "no-tls-tickets",
		"strict-sni", "verify", "ca-file", "ca-verify-file", "crl-file", "ca-ignore-err", "crt-ignore-err",
		"no-ca-names", "ciphers", "ciphersuites", "curves", "ecdhe", "alpn":
		return Supported, "", true
	case "prefer-client-ciphers":
		return Partial, "crypto/tls applies its own suite preference (AES-GCM first on CPUs with AES instructions, else ChaCha20), whatever the order configured", true
	case "npn":
		return Partial, "NPN is not offered (crypto/tls has no NPN); ALPN is", true
	case "allow-0rtt":
		return Partial, "TLS 1.3 early data is refused (crypto/tls has no 0-RTT server); clients fall back to a full handshake", true
	case "tls-ticket-keys":
		return Partial, "session tickets are encrypted with keys derived from this file's (tickets are not interchangeable with HAProxy's)", true
	case "generate-certificates", "ca-sign-file", "ca-sign-pass":
		return Unsupported, "certificates are not generated on the fly", true
	case "proto":
		return Supported, "", true // h2 and h1; others refused in decodeBind
	}
	return 0, "", false
}

// serverSSLStatus says what halo does with a server TLS keyword.
func serverSSLStatus(k string) (Status, string, bool) {
	switch k {
	case "ssl-min-ver", "ssl-max-ver", "no-sslv3", "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13",
		"force-sslv3", "force-tlsv10", "force-tlsv11", "force-tlsv12", "force-tlsv13", "no-tls-tickets",
		"tls-tickets", "no-ssl-reuse", "ssl-reuse", "ca-file", "crl-file", "crt", "verifyhost", "ciphers",
		"ciphersuites":
		return Supported, "", true
	case "sni":
		return Partial, "only a constant value (str(NAME)) is sent as SNI; other expressions send none", true
	case "alpn":
		return Supported, "", true // h2, http/1.1 and http/1.0 in mode http
	case "proto":
		return Supported, "", true // h2 and h1; others refused in serverParams
	case "npn":
		return Partial, "NPN is not offered (crypto/tls has no NPN)", true
	case "allow-0rtt":
		return Partial, "no TLS 1.3 early data is sent (crypto/tls has no 0-RTT)", true
	}
	return 0, "", false
}

// resolve turns OpenSSL-named settings into crypto/tls parameters. what
// names the line in HAProxy's errors ("bind 'ADDR' at [FILE:LINE]" or
// "server"); notes say what differs from HAProxy (empty: nothing).
func (c *hctx) resolveTLS(o *sslOpts, server bool) (p proxy.TLSParams, notes []string, warn string, err error) {
	lo, hi, ignored, ok := o.methods.Range()
	if ignored {
		warn = "no-sslv3/no-tlsv1x are ignored"
	}
	if !ok {
		return p, nil, warn, fmt.Errorf("all SSL/TLS versions are disabled")
	}
	spec := "DEFAULT"
	if o.hasCiphers {
		spec = o.ciphers
	}
	sel, cerr := tlsconf.Ciphers(spec)
	if cerr != nil {
		return p, nil, warn, fmt.Errorf("unable to set SSL cipher list to '%s'", o.ciphers)
	}
	if lo < tlsconf.TLSv12 && sel.SecLevel != 0 {
		// OpenSSL 3 refuses TLS 1.0/1.1 handshakes at security level 1
		// and up (their SHA-1/MD5 signatures), so HAProxy on it serves
		// them only with "@SECLEVEL=0" in the cipher string.
		lo = tlsconf.TLSv12
		if hi < lo {
			notes = append(notes, "TLS 1.0/1.1 need @SECLEVEL=0 in the cipher string, as with OpenSSL 3: no version is left")
			hi = lo
		}
	}
	if o.hasSuites {
		ss, serr := tlsconf.Ciphersuites(o.ciphersuites)
		if serr != nil {
			return p, nil, warn, fmt.Errorf("unable to set TLS 1.3 cipher suites to '%s'", o.ciphersuites)
		}
		if !ss.Usable() && hi == tlsconf.TLSv13 {
			hi = tlsconf.TLSv12
		}
		if len(ss.GoExtra) > 0 && ss.Usable() {
			notes = append(notes, "TLS 1.3 suites cannot be restricted in crypto/tls: "+strings.Join(ss.GoExtra, ", ")+" also negotiable")
		}
		if len(ss.Lacking) > 0 {
			notes = append(notes, "crypto/tls lacks TLS 1.3 suites "+strings.Join(ss.Lacking, ", "))
		}
	}
	if lo <= tlsconf.TLSv12 && hi >= tlsconf.TLSv12 {
		if len(sel.Go) == 0 {
			if hi < tlsconf.TLSv13 {
				return p, nil, warn, fmt.Errorf("none of the ciphers '%s' selects is implemented by Go's crypto/tls (it lacks %s)", spec, strings.Join(sel.Lacking, ", "))
			}
			// Only TLS 1.3 is left to halo.
			lo = tlsconf.TLSv13
		}
		var lack []string
		for _, n := range sel.Lacking {
			if !slices.Contains(sel.LackingDH, n) || c.ssl.dhParams {
				lack = append(lack, n)
			}
		}
		// Said only for a cipher string the configuration chose: with
		// OpenSSL's DEFAULT, Go lacks ECDHE-*-AES256-SHA384 and
		// AES256-SHA256 on every TLS line (see proxy/tlsconf).
		if len(lack) > 0 && o.hasCiphers {
			notes = append(notes, "crypto/tls lacks the ciphers "+strings.Join(lack, ", "))
		}
		if len(sel.LackingDH) > 0 && c.ssl.dhParams {
			notes = append(notes, "no DHE key exchange (crypto/tls has none)")
		}
	}
	p.MinVersion, p.MaxVersion = goVersion(lo), goVersion(hi)
	if lo <= tlsconf.TLSv12 {
		p.CipherSuites = sel.Go
	}
	switch {
	case o.hasCurves:
		cs, err := tlsconf.Curves(o.curves)
		if err != nil {
			return p, nil, warn, fmt.Errorf("unable to set SSL curves list to '%s'", o.curves)
		}
		p.Curves = cs.Go
		if len(cs.Lacking) > 0 {
			notes = append(notes, "crypto/tls lacks the curves "+strings.Join(cs.Lacking, ", "))
		}
	case o.hasEcdhe:
		cs, err := tlsconf.Curves(o.ecdhe)
		if err != nil {
			return p, nil, warn, fmt.Errorf("unable to set elliptic named curve to '%s'", o.ecdhe)
		}
		p.Curves = cs.Go
	}
	p.NoTickets = o.noTickets
	p.ALPN = o.alpn
	return p, notes, warn, nil
}

func goVersion(v int) uint16 {
	return [...]uint16{0, 0x0300 /* SSLv3, never enabled */, tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13}[v]
}

// bindTLS builds the BindTLS of a bind line. title is the bind's
// "'bind ADDR' in section 'frontend'" prefix, addr the address as
// written, for HAProxy's wording of post-parse errors.
func (c *hctx) bindTLS(d *parser.Directive, o *sslOpts, addr string, entries []crtListEntry, crts []string) (*proxy.BindTLS, error) {
	where := fmt.Sprintf("for bind '%s' at [%s:%d]", addr, d.Pos.File, d.Pos.Line)
	// mk builds the bind's TLS settings; at run time (quiet) the
	// configuration's report is closed: no warning or note goes there.
	mk := func(o *sslOpts, quiet bool) (*proxy.BindTLS, error) {
		p, notes, warn, err := c.resolveTLS(o, false)
		if quiet {
			notes, warn = nil, ""
		}
		if warn != "" {
			c.rep.Warnf(parser.Pos{}, "Proxy '%s': %s %s. Use only 'ssl-min-ver' and 'ssl-max-ver' to fix.", c.cur.p.Name, warn, where)
		}
		if err != nil {
			return nil, fmt.Errorf("Proxy '%s': %s %s.", c.cur.p.Name, err, where)
		}
		for _, n := range notes {
			c.lower(Partial, n)
		}
		bt := &proxy.BindTLS{
			TLSParams: p, StrictSNI: o.strictSNI, Verify: o.verify, CAFile: o.caFile,
			CRLFile: o.crlFile, CAIgnoreErr: o.caIgnore, CrtIgnoreErr: o.crtIgnore,
			CAIgnoreAll: o.caIgnoreAll, CrtIgnoreAll: o.crtIgnoreAll, NoCANames: o.noCANames,
			PreferClientCiphers: o.preferClient, CAVerifyFile: o.caVerifyFile,
			GenerateCertificates: o.genCerts, Allow0RTT: o.allow0RTT, TicketKeys: o.ticketKeys,
		}
		if bt.Verify == "" {
			bt.Verify = "none"
		}
		if bt.Verify != "none" && bt.CAFile == "" && bt.CAVerifyFile == "" {
			return nil, fmt.Errorf("Proxy '%s': verify is enabled but no CA file specified %s.", c.cur.p.Name, where)
		}
		return bt, nil
	}
	bt, err := mk(o, false)
	if err != nil {
		return nil, err
	}
	for _, p := range crts {
		bt.Certs = append(bt.Certs, proxy.CertEntry{Path: p})
	}
	// lineOpts applies a crt-list line's [options] over the bind's.
	lineOpts := func(opts []string) (*sslOpts, error) {
		lo := *o
		for i := 0; i < len(opts); i++ {
			k, v := opts[i], ""
			if n := bindParams[k]; n > 0 && i+1 < len(opts) {
				v = opts[i+1]
				i++
			}
			if ok, err := c.setBindSSL(&lo, k, v); !ok || err != nil {
				if err == nil {
					err = fmt.Errorf("unknown ssl keyword %s", k)
				}
				return nil, err
			}
		}
		return &lo, nil
	}
	for _, e := range entries {
		ce := proxy.CertEntry{Path: e.path, SNI: e.sni, Line: e.line, List: e.list, OptText: e.opts}
		if len(e.opts) > 0 {
			lo, err := lineOpts(e.opts)
			if err != nil {
				return nil, fmt.Errorf("crt-list '%s' line %d : %v", e.list, e.line, err)
			}
			lt, err := mk(lo, false)
			if err != nil {
				return nil, err
			}
			ce.Opts = lt
		}
		bt.Certs = append(bt.Certs, ce)
	}
	// The runtime API's `add ssl crt-list` resolves its lines here, with
	// HAProxy's CLI wording.
	bt.CrtListLine = func(opts []string, loaded func(string) bool) (*proxy.BindTLS, error) {
		// A file the runtime holds (maybe created by `new ssl crl-file`)
		// need not exist on disk.
		stat := c.opt.Stat
		c.opt.Stat = func(p string) (os.FileInfo, error) {
			if loaded(p) {
				return nil, nil
			}
			return stat(p)
		}
		defer func() { c.opt.Stat = stat }()
		lo, err := lineOpts(opts)
		if err != nil {
			return nil, fmt.Errorf("parsing [CLI:1]: %v", err)
		}
		for _, f := range []struct{ kw, path string }{{"ca-file", lo.caFile}, {"ca-verify-file", lo.caVerifyFile}, {"crl-file", lo.crlFile}} {
			if f.path != "" && f.path != o.caFile && f.path != o.caVerifyFile && f.path != o.crlFile && !loaded(f.path) {
				return nil, fmt.Errorf("'%s' : unable to load %s", f.kw, f.path)
			}
		}
		return mk(lo, true)
	}
	return bt, nil
}

// crtListEntry is one line of a crt-list file.
type crtListEntry struct {
	list string
	line int
	path string
	opts []string // the [ … ] keywords and values
	sni  []string
}

// parseCrtList reads a crt-list file: `<crt> [\[<options> …\]] [[!]<sni> …]`
// per line, '#' comments and blank lines skipped.
func (c *hctx) parseCrtList(path string, data []byte) ([]crtListEntry, error) {
	var out []crtListEntry
	for i, l := range strings.Split(string(data), "\n") {
		if j := strings.IndexByte(l, '#'); j >= 0 {
			l = l[:j]
		}
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		e := crtListEntry{list: path, line: i + 1, path: f[0]}
		if c.crtBase != "" && !strings.HasPrefix(e.path, "/") {
			e.path = basePath(c.crtBase, e.path)
		}
		rest := f[1:]
		if len(rest) > 0 && strings.HasPrefix(rest[0], "[") {
			var opts []string
			closed := false
			for len(rest) > 0 && !closed {
				w := rest[0]
				rest = rest[1:]
				w = strings.TrimPrefix(w, "[")
				if strings.HasSuffix(w, "]") {
					w, closed = strings.TrimSuffix(w, "]"), true
				}
				if w != "" {
					opts = append(opts, w)
				}
			}
			if !closed {
				return nil, fmt.Errorf("crt-list '%s' line %d : missing ']'", path, i+1)
			}
			e.opts = opts
		}
		e.sni = rest
		out = append(out, e)
	}
	return out, nil
}

// serverTLS resolves a server's TLS settings (ssl-default-server-*
// applied).
func (c *hctx) resolveServerTLS(srv *proxy.Server, ex *serverExtra, title string) error {
	o := c.ssl.server.overlay(&ex.ssl)
	p, _, _, err := c.resolveTLS(&o, true)
	if err != nil {
		return fmt.Errorf("%s : %v.", title, err)
	}
	srv.TLS = &proxy.ServerTLS{
		TLSParams: p, Verify: srv.Verify, CAFile: o.caFile, CRLFile: o.crlFile, Crt: o.crt,
		SNI: o.sni, VerifyHost: o.verifyHost, NoReuse: o.noReuse,
	}
	return nil
}

// overlay returns g (global defaults) with the settings made in o.
func (g sslOpts) overlay(o *sslOpts) sslOpts {
	r := g
	if o.methods.Min != 0 || o.methods.Max != 0 {
		r.methods.Min, r.methods.Max = o.methods.Min, o.methods.Max
	}
	r.methods.Disabled |= o.methods.Disabled
	if o.hasCiphers {
		r.ciphers, r.hasCiphers = o.ciphers, true
	}
	if o.hasSuites {
		r.ciphersuites, r.hasSuites = o.ciphersuites, true
	}
	if o.hasALPN {
		r.alpn, r.hasALPN = o.alpn, true
	}
	r.noTickets = r.noTickets || o.noTickets
	r.noReuse, r.npn, r.sni, r.verifyHost, r.allow0RTT = o.noReuse, o.npn, o.sni, o.verifyHost, o.allow0RTT
	r.caFile, r.crlFile, r.crt = o.caFile, o.crlFile, o.crt
	return r
}

// setServerSSL applies one TLS keyword of a server or default-server line.
func (c *hctx) setServerSSL(o *sslOpts, k, v string) (handled bool, err error) {
	if done, err := o.setMethod(k, v); done {
		return true, err
	}
	switch k {
	case "ciphers":
		o.ciphers, o.hasCiphers = v, true
	case "ciphersuites":
		o.ciphersuites, o.hasSuites = v, true
	case "no-tls-tickets":
		o.noTickets = true
	case "tls-tickets":
		o.noTickets = false
	case "no-ssl-reuse":
		o.noReuse = true
	case "ssl-reuse":
		o.noReuse = false
	case "alpn":
		o.alpn, o.hasALPN = strings.Split(v, ","), true
	case "npn":
		o.npn = v
	case "sni":
		// Only a constant expression can be resolved without a
		// transaction: str(NAME).
		if n, ok := strings.CutPrefix(v, "str("); ok && strings.HasSuffix(n, ")") {
			o.sni = strings.TrimSuffix(n, ")")
		}
	case "verifyhost":
		o.verifyHost = v
	case "allow-0rtt":
		o.allow0RTT = true
	default:
		return false, nil
	}
	return true, nil
}

// sslGlobalRows are the global ssl-default-* statements.
func sslGlobalRows() []hrow {
	opts := func(server bool) func(c *hctx, d *parser.Directive, a []parser.Word) error {
		return func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("global statement '%s' expects at least one argument.", d.Name)
			}
			o := &c.ssl.bind
			if server {
				o = &c.ssl.server
			}
			for i := 0; i < len(a); i++ {
				k, v := a[i].Value, ""
				if k == "ssl-min-ver" || k == "ssl-max-ver" {
					if i+1 >= len(a) {
						return fmt.Errorf("'%s' : missing the version argument on global statement '%s'.", k, d.Name)
					}
					v = a[i+1].Value
					i++
				}
				if done, err := o.setMethod(k, v); done {
					if err != nil {
						return fmt.Errorf("%v on global statement '%s'.", err, d.Name)
					}
					continue
				}
				switch {
				case k == "no-tls-tickets":
					o.noTickets = true
				case k == "prefer-client-ciphers" && !server:
					o.preferClient = true
					c.lower(Partial, "prefer-client-ciphers: crypto/tls applies its own suite preference")
				case k == "strict-sni" && !server:
					o.strictSNI = true
				case k == "no-ca-names" && !server:
					o.noCANames = true
				default:
					return fmt.Errorf("unknown option '%s' on global statement '%s'.", k, d.Name)
				}
			}
			return nil
		}
	}
	str := func(set func(o *sslGlobals, v string)) func(c *hctx, d *parser.Directive, a []parser.Word) error {
		return func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("global statement '%s' expects a cipher suite as an argument.", d.Name)
			}
			set(&c.ssl, a[0].Value)
			// The string is checked where it applies (each ssl bind or
			// server), as HAProxy does; here only what Go lacks is said.
			if strings.HasSuffix(d.Name, "-ciphers") {
				if sel, err := tlsconf.Ciphers(a[0].Value); err == nil {
					var lack []string
					for _, n := range sel.Lacking {
						if !slices.Contains(sel.LackingDH, n) {
							lack = append(lack, n)
						}
					}
					if len(lack) > 0 {
						c.lower(Partial, "crypto/tls lacks the ciphers "+strings.Join(lack, ", "))
					}
					if len(sel.LackingDH) > 0 {
						c.lower(Partial, "no DHE key exchange (crypto/tls has none; HAProxy needs DH parameters for it)")
					}
				}
			}
			if strings.HasSuffix(d.Name, "-ciphersuites") {
				if ss, err := tlsconf.Ciphersuites(a[0].Value); err == nil && len(ss.GoExtra) > 0 && ss.Usable() {
					c.lower(Partial, "TLS 1.3 suites cannot be restricted in crypto/tls: "+strings.Join(ss.GoExtra, ", ")+" also negotiable")
				}
			}
			if d.Name == "ssl-default-bind-curves" {
				if cs, err := tlsconf.Curves(a[0].Value); err == nil && len(cs.Lacking) > 0 {
					c.lower(Partial, "crypto/tls lacks the curves "+strings.Join(cs.Lacking, ", "))
				}
			}
			return nil
		}
	}
	h2 := func(name string, lo, hi int64, dst func(g *proxy.Global) *uint32) hrow {
		return hrow{Name: name, Status: Supported, Decode: func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'%s' expects a numeric value.", name)
			}
			n, err := strconv.ParseInt(a[0].Value, 10, 64)
			if err != nil {
				n = int64(atol(a[0].Value)) // atoi semantics, as HAProxy
			}
			if hi > 0 && (n < lo || n > hi) {
				return fmt.Errorf("'%s' expects a numeric value between %d and %d.", name, lo, hi)
			}
			if hi == 0 && n <= 0 && lo > 0 {
				return fmt.Errorf("'%s' expects a positive numeric value.", name)
			}
			if n < 0 {
				n = 0
			}
			*dst(&c.cfg.Global) = uint32(n)
			return nil
		}}
	}
	return []hrow{
		h2("tune.h2.header-table-size", 4096, 65536, func(g *proxy.Global) *uint32 { return &g.H2HeaderTableSize }),
		h2("tune.h2.initial-window-size", 0, 0, func(g *proxy.Global) *uint32 { return &g.H2InitialWindowSize }),
		h2("tune.h2.max-concurrent-streams", 1, 0, func(g *proxy.Global) *uint32 { return &g.H2MaxConcurrentStreams }),
		h2("tune.h2.max-frame-size", 16384, 16777215, func(g *proxy.Global) *uint32 { return &g.H2MaxFrameSize }),
		{Name: "ssl-default-bind-options", Status: Supported, Decode: opts(false)},
		{Name: "ssl-default-server-options", Status: Supported, Decode: opts(true)},
		{Name: "ssl-default-bind-ciphers", Status: Supported, Decode: str(func(o *sslGlobals, v string) { o.bind.ciphers, o.bind.hasCiphers = v, true })},
		{Name: "ssl-default-server-ciphers", Status: Supported, Decode: str(func(o *sslGlobals, v string) { o.server.ciphers, o.server.hasCiphers = v, true })},
		{Name: "ssl-default-bind-ciphersuites", Status: Supported, Decode: str(func(o *sslGlobals, v string) { o.bind.ciphersuites, o.bind.hasSuites = v, true })},
		{Name: "ssl-default-server-ciphersuites", Status: Supported, Decode: str(func(o *sslGlobals, v string) { o.server.ciphersuites, o.server.hasSuites = v, true })},
		{Name: "ssl-default-bind-curves", Status: Supported, Decode: str(func(o *sslGlobals, v string) { o.bind.curves, o.bind.hasCurves = v, true })},
		{Name: "ssl-load-extra-del-ext", Status: Supported, Decode: func(c *hctx, d *parser.Directive, a []parser.Word) error {
			c.cfg.Global.SSLLoadExtraDelExt = true
			return nil
		}},
		{Name: "ssl-dh-param-file", Status: Partial, Note: "crypto/tls has no DHE key exchange: DHE ciphers are not negotiated", Decode: func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'%s' expects a file path as an argument.", d.Name)
			}
			c.ssl.dhParams = true
			return nil
		}},
		{Name: "tune.ssl.default-dh-param", Status: Partial, Note: "crypto/tls has no DHE key exchange: DHE ciphers are not negotiated", Decode: func(c *hctx, d *parser.Directive, a []parser.Word) error {
			if len(a) == 0 {
				return fmt.Errorf("'%s' expects an integer argument.", d.Name)
			}
			c.ssl.dhParams = true
			return nil
		}},
	}
}

// basePath puts a relative file name under crt-base or ca-base as HAProxy
// does ("%s/%s", no cleaning): the runtime API names files by this exact
// string ("show ssl cert //dir/x.pem").
func basePath(base, name string) string { return base + "/" + name }
