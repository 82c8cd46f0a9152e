package compat

import (
	"fmt"
	"os"
	"strings"

	"halo/parser"
	"halo/proxy"
)

func modeWord(m proxy.Mode) string {
	if m == proxy.ModeHTTP {
		return "http"
	}
	return "tcp"
}

// kindWord is haproxy's proxy_type_str(): "proxy" for a listen section.
func kindWord(s *pstate) string {
	if s.kind == "listen" {
		return "proxy"
	}
	return s.kind
}

// postCheck is haproxy's check_config_validity(): references between
// sections, server addresses and the warnings that need the whole file.
func (c *hctx) postCheck() {
	findBackend := func(name string) *pstate {
		for _, st := range c.byName[name] {
			if st.p.Cap&capBE != 0 {
				return st
			}
		}
		return nil
	}
	nopos := parser.Pos{}
	c.assignProxyIDs()
	for _, st := range c.proxies {
		p := st.p
		c.assignServerIDs(st)
		assignBindIDs(st.p)
		c.finishChecks(st)
		c.finishFilters(st) // haproxy_filters.go
		c.checkProtoFits(st)
		for _, ds := range st.dupServers {
			c.rep.Alertf(ds.pos, "%s '%s', another server named '%s' was already defined at line %d, please use distinct names.", st.kind, p.Name, ds.name, ds.first)
		}
		// default_backend (checked in every proxy, as haproxy does).
		if st.defBackend != "" {
			if st.defBackend == p.Name && p.Cap&capBE != 0 {
				c.rep.Alertf(nopos, "Proxy '%s': loop detected for default_backend: '%s'.", p.Name, st.defBackend)
			} else if be := findBackend(st.defBackend); be == nil {
				c.rep.Alertf(nopos, "Proxy '%s': unable to find required default_backend: '%s'.", p.Name, st.defBackend)
			} else if p.Cap&capFE != 0 {
				if p.Mode == proxy.ModeHTTP && be.p.Mode != proxy.ModeHTTP {
					c.rep.Alertf(nopos, "%s %s '%s' (%s:%d) tries to use incompatible %s %s '%s' (%s:%d) as its default backend (see 'mode').",
						modeWord(p.Mode), kindWord(st), p.Name, st.pos.File, st.pos.Line, modeWord(be.p.Mode), kindWord(be), be.p.Name, be.pos.File, be.pos.Line)
				}
				p.DefaultBackend = be.p
			}
		}
		for _, ub := range st.useBackends {
			if strings.Contains(ub.name, "%[") {
				p.UseBackends = append(p.UseBackends, proxy.UseBackend{Dynamic: ub.name, Cond: ub.cond, Line: ub.pos.Line})
				continue
			}
			be := findBackend(ub.name)
			if be == nil {
				c.rep.Alertf(nopos, "Proxy '%s': unable to find required use_backend: '%s'.", p.Name, ub.name)
				continue
			}
			if p.Mode == proxy.ModeHTTP && be.p.Mode != proxy.ModeHTTP {
				c.rep.Alertf(nopos, "%s %s '%s' (%s:%d) tries to use incompatible %s %s '%s' (%s:%d) in a 'use_backend' rule (see 'mode').",
					modeWord(p.Mode), kindWord(st), p.Name, st.pos.File, st.pos.Line, modeWord(be.p.Mode), kindWord(be), be.p.Name, be.pos.File, be.pos.Line)
			}
			p.UseBackends = append(p.UseBackends, proxy.UseBackend{Backend: be.p, Cond: ub.cond, Line: ub.pos.Line})
		}
		c.resolveUseServers(st)
		c.resolveErrors(st)
		if p.Mode != proxy.ModeHTTP {
			if st.forwardfor && p.Forwardfor.Enabled {
				c.rep.Warnf(nopos, "'option forwardfor' ignored for %s '%s' as it requires HTTP mode.", kindWord(st), p.Name)
				p.Forwardfor.Enabled = false
			}
			if st.httpLog.Line > 0 && p.Cap&capFE != 0 && (p.LogFormat == "httplog" || p.LogFormat == "httpslog" || p.LogFormat == "clf") {
				c.rep.Warnf(st.httpLog, "'option httplog' not usable with %s '%s' (needs 'mode http'). Falling back to 'option tcplog'.", kindWord(st), p.Name)
				p.LogFormat = "tcplog"
			}
		}
		// Timeouts haproxy wants set (configuration.txt 4.2 "timeout").
		to := p.Timeouts
		if p.Mode == proxy.ModeHTTP || p.Mode == proxy.ModeTCP {
			missing := (p.Cap&capFE != 0 && to.Client == 0) || (p.Cap&capBE != 0 && (to.Connect == 0 || to.Server == 0))
			if missing && !p.Disabled {
				c.rep.Warnf(nopos, "missing timeouts for %s '%s'.\n   | While not properly invalid, you will certainly encounter various problems\n   | with such a configuration. To fix this, please ensure that all following\n   | timeouts are set to a non-zero value: 'client', 'connect', 'server'.", kindWord(st), p.Name)
			}
		}
		// Logs: `log global` copies the global targets.
		if st.logGlobal {
			p.Logs = append(append([]proxy.LogTarget(nil), c.cfg.Global.Logs...), p.Logs...)
		}
		if p.Cap&capFE != 0 && (p.LogFormat != "" || p.LogFormatSD != "") && len(p.Logs) == 0 {
			c.rep.Warnf(nopos, "log format ignored for %s '%s' since it has no log address.", kindWord(st), p.Name)
		}
		c.httpOnly(st)
		c.serverTLS(st)
	}
	// A peers section must name this process (-L, localpeer, default
	// the host name).
	local := c.localPeer()
	if local == "" {
		local, _ = os.Hostname()
	}
	for _, name := range sortedKeys(c.peers) {
		found := false
		for _, p := range c.peers[name] {
			if p == local {
				found = true
			}
		}
		if !found {
			c.rep.Warnf(nopos, "Removing incomplete section 'peers %s' (no peer named '%s').", name, local)
		}
	}
	c.checkStick()
	c.checkResolvers()
	if c.rep.Fatal() {
		return
	}
	if c.stateFile != "" {
		if _, err := c.opt.Stat(c.stateFile); err != nil {
			c.rep.Warnf(nopos, "config: Can't open global server state file '%s': No such file or directory", c.stateFile)
		}
	}
	// Addresses are resolved once the configuration is known valid, as
	// haproxy's srv_init_addr() does after check_config_validity().
	failed := false
	for _, st := range c.proxies {
		if c.resolveServers(st) {
			failed = true
		}
	}
	if failed {
		c.rep.Alertf(parser.Pos{}, "%s", AddrInitFailed)
	}
}

// assignProxyIDs numbers the proxies as haproxy 2.6 does (their `iid` in
// show stat, be_id/fe_id): an explicit `id` is kept; the others take the
// first free id from a candidate that starts at 1 and advances past every
// proxy in declaration order. A `stats socket` makes haproxy add its
// hidden GLOBAL proxy first, which advances the candidate without taking
// an id: measured on haproxy 2.6.12, the first proxy is 2 with a stats
// socket and 1 without, and still 2 when a later proxy takes `id 1`.
func (c *hctx) assignProxyIDs() {
	used := map[int]bool{}
	for _, st := range c.proxies {
		if st.explicitID {
			used[st.p.ID] = true
		}
	}
	next := 1
	if len(c.cfg.Global.StatsSockets) > 0 {
		next++
	}
	for _, st := range c.proxies {
		if !st.explicitID {
			for used[next] {
				next++
			}
			st.p.ID = next
			used[next] = true
		}
		next++
	}
}

// assignServerIDs numbers a proxy's servers as haproxy does: explicit
// `id`s first (a reused one is an error), then the others in declaration
// order, each the first free id from a candidate that advances by one per
// server. Consistent hashing and
// leastconn tie-breaks depend on these ids.
func (c *hctx) assignServerIDs(st *pstate) {
	used := map[int]*proxy.Server{}
	explicit := func(srv *proxy.Server) *serverExtra {
		if ex := c.srvExtra[srv]; ex != nil && ex.id != 0 {
			return ex
		}
		return nil
	}
	for _, srv := range st.p.Servers {
		ex := explicit(srv)
		if ex == nil {
			continue
		}
		if prev, taken := used[ex.id]; taken {
			pex := c.srvExtra[prev]
			c.bare(parser.SevAlert, ex.idPos, fmt.Sprintf("'server %s/%s' : 'id' : custom id %d already used at %s:%d ('server %s').",
				st.p.Name, srv.Name, ex.id, pex.idPos.File, pex.idPos.Line, prev.Name))
			continue
		}
		used[ex.id] = srv
		srv.ID, srv.IDForced = ex.id, true
	}
	// The candidate advances past every server, explicit or not (haproxy
	// 2.6.12: ids 2,1,4,7 for `s1`, `s2 id 1`, `s3`, `s4 id 7`).
	next := 1
	for _, srv := range st.p.Servers {
		if explicit(srv) == nil {
			for used[next] != nil {
				next++
			}
			srv.ID = next
			used[next] = srv
		}
		next++
	}
}

// assignBindIDs numbers a proxy's listeners as haproxy does (so_id):
// explicit ids kept, the others the first free id from a candidate that
// advances by one per listener, as for servers.
func assignBindIDs(p *proxy.Proxy) {
	used := map[int]bool{}
	for _, b := range p.Binds {
		if b.ID != 0 {
			used[b.ID] = true
		}
	}
	next := 1
	for i := range p.Binds {
		if p.Binds[i].ID == 0 {
			for used[next] {
				next++
			}
			p.Binds[i].ID = next
			used[next] = true
		}
		next++
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// resolveServers resolves server host names as haproxy's init-addr
// (default "last,libc") does at start-up.
// AddrInitFailed is the last alert when server addresses could not be
// resolved; haproxy then stops without its "Fatal errors" summary.
const AddrInitFailed = "Failed to initialize server(s) addr."

func (c *hctx) resolveServers(st *pstate) (failed bool) {
	for _, srv := range st.p.Servers {
		if srv.Addr.IsValid() || strings.HasPrefix(srv.Host, "/") || strings.Contains(srv.Host, "@") {
			continue
		}
		if c.initAddr(st, srv, c.srvExtra[srv]) {
			failed = true
		}
	}
	return failed
}

// bare adds a diagnostic in haproxy's "[file:line] : msg" form.
func (c *hctx) bare(sev parser.Severity, pos parser.Pos, msg string) {
	c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: pos, Sev: sev, Msg: msg, Form: "bare"})
}

// validHostname reports whether s can be sent to a DNS resolver.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch == '.' {
			// haproxy's resolv_str_to_dn_label refuses an empty label
			// ("..internal", a leading dot: unset $VARs in a template)
			if label == 0 {
				return false
			}
			label = 0
			continue
		}
		if !(isAlnumByte(ch) || ch == '-' || ch == '_') {
			return false
		}
		if label++; label > 63 {
			return false
		}
	}
	return true
}

// httpOnly is the part of haproxy's check_config_validity() that drops,
// with a warning each, what a TCP-mode proxy cannot do; the runtime then
// never sees it, as haproxy never runs it.
func (c *hctx) httpOnly(st *pstate) {
	p := st.p
	nopos := parser.Pos{}
	kw := kindWord(st)
	if p.Stats != nil && len(p.Stats.HTTPRequest) > 0 && (len(p.Stats.Auth) > 0 || p.Stats.Realm != "") {
		c.rep.Alertf(nopos, "proxy '%s': stats 'auth'/'realm' and 'http-request' can't be used at the same time.", p.Name)
	}
	if p.Mode == proxy.ModeHTTP {
		c.checkTracks(st)
		return
	}
	if p.Cap&capBE != 0 {
		if p.Cookie != nil {
			c.rep.Warnf(nopos, "cookie will be ignored for %s '%s' (needs 'mode http').", kw, p.Name)
			p.Cookie = nil
		}
		switch p.Balance.Algo {
		case proxy.BalanceURI, proxy.BalanceURLParam, proxy.BalanceHdr:
			c.rep.Warnf(nopos, "Layer 7 hash not possible for %s '%s' (needs 'mode http'). Falling back to round robin.", kw, p.Name)
			p.Balance.Algo = proxy.BalanceRoundRobin
		}
	}
	c.checkTracks(st)
	if p.Stats != nil && p.Cap&capFE != 0 {
		c.rep.Warnf(nopos, "'stats' statement ignored for %s '%s' as it requires HTTP mode.", kw, p.Name)
		p.Stats = nil
	}
	if len(p.HTTPRequest) > 0 {
		c.rep.Warnf(nopos, "'http-request' rules ignored for %s '%s' as they require HTTP mode.", kw, p.Name)
		p.HTTPRequest = nil
	}
	if len(p.HTTPResponse) > 0 {
		c.rep.Warnf(nopos, "'http-response' rules ignored for %s '%s' as they require HTTP mode.", kw, p.Name)
		p.HTTPResponse = nil
	}
	if len(p.HTTPAfterResponse) > 0 {
		c.rep.Warnf(nopos, "'http-after-response' rules ignored for %s '%s' as they require HTTP mode.", kw, p.Name)
		p.HTTPAfterResponse = nil
	}
	if len(p.Redirects) > 0 {
		c.rep.Warnf(nopos, "'redirect' rules ignored for %s '%s' as they require HTTP mode.", kw, p.Name)
		p.Redirects = nil
	}
	for _, srv := range p.Servers {
		if srv.Cookie != "" && p.Cap&capBE != 0 {
			c.rep.Warnf(nopos, "%s '%s' : ignoring cookie for server '%s' as HTTP mode is disabled.", kw, p.Name, srv.Name)
			srv.Cookie = ""
		}
	}
}

// checkTracks resolves `track [proxy/]server` references.
func (c *hctx) checkTracks(st *pstate) {
	for _, srv := range st.p.Servers {
		ex := c.srvExtra[srv]
		if ex == nil || ex.track == "" {
			continue
		}
		pos := parser.Pos{File: st.pos.File, Line: srv.Line}
		title := fmt.Sprintf("'server %s/%s'", st.p.Name, srv.Name)
		pxName, sName, ok := strings.Cut(ex.track, "/")
		target := st
		if !ok {
			sName = pxName
		} else {
			target = nil
			for _, cand := range c.byName[pxName] {
				if cand.p.Cap&capBE != 0 {
					target = cand
				}
			}
			if target == nil {
				c.bare(parser.SevAlert, pos, fmt.Sprintf("%s : unable to find required proxy '%s' for tracking.", title, pxName))
				continue
			}
		}
		if _, found := target.servers[sName]; !found {
			c.bare(parser.SevAlert, pos, fmt.Sprintf("%s : unable to find required server '%s' for tracking.", title, sName))
			continue
		}
		c.linkTrack(st, srv, target, sName, pos, title)
	}
}

// serverTLS checks TLS server lines as haproxy prepares their contexts: the
// client certificate must exist, and verification needs a CA file unless
// it is turned off ("verify none", or global ssl-server-verify none).
func (c *hctx) serverTLS(st *pstate) {
	for _, srv := range st.p.Servers {
		if !srv.SSL {
			continue
		}
		ex := c.srvExtra[srv]
		pos := parser.Pos{File: st.pos.File, Line: srv.Line}
		title := fmt.Sprintf("'server %s/%s'", st.p.Name, srv.Name)
		if ex != nil && ex.crt != "" {
			if err := c.checkCert(ex.crt); err != nil {
				c.bare(parser.SevAlert, pos, fmt.Sprintf("%s : %v", title, err))
				continue
			}
		}
		verify := srv.Verify
		if verify == "" {
			verify = "required"
			if c.sslServerVerify == "none" {
				verify = "none"
			}
		}
		// The runtime verifies only on an explicit "required": say what
		// haproxy's default means.
		srv.Verify = verify
		if ex == nil {
			ex = &serverExtra{}
		}
		if err := c.resolveServerTLS(srv, ex, title); err != nil {
			c.bare(parser.SevAlert, pos, err.Error())
			continue
		}
		if verify == "required" && (ex == nil || ex.caFile == "") {
			c.bare(parser.SevAlert, pos, fmt.Sprintf("%s : verify is enabled by default but no CA file specified. If you're running on a LAN where you're certain to trust the server's certificate, please set an explicit 'verify none' statement on the 'server' line, or use 'ssl-server-verify none' in the global section to disable server-side verifications by default.", title))
		}
	}
}

// resolveUseServers finds the servers use-server rules name (HAProxy's
// check_config_validity): a name holding a '%' is a log-format resolved
// per request; a plain name must be one of the proxy's servers.
func (c *hctx) resolveUseServers(st *pstate) {
	p := st.p
	for _, us := range st.useServers {
		if strings.Contains(us.name, "%") {
			if msg := c.checkLogFormat(us.name); msg != "" {
				c.rep.Alertf(parser.Pos{}, "Parsing [%s:%d]; use-server rule failed to parse log-format '%s' : %s", us.pos.File, us.pos.Line, us.name, msg)
				continue
			}
			if p.Cap&capBE != 0 {
				p.UseServers = append(p.UseServers, proxy.UseServer{Dynamic: us.name, Cond: us.cond, Line: us.pos.Line})
			}
			continue
		}
		var target *proxy.Server
		for _, s := range p.Servers {
			if s.Name == us.name {
				target = s
				break
			}
		}
		if target == nil {
			c.rep.Alertf(parser.Pos{}, "%s '%s' : unable to find server '%s' referenced in a 'use-server' rule.", kindWord(st), p.Name, us.name)
			continue
		}
		p.UseServers = append(p.UseServers, proxy.UseServer{Server: target, Cond: us.cond, Line: us.pos.Line})
	}
}
