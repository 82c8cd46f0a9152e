package compat

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"halo/parser"
	"halo/proxy"
)

// resolvers sections (configuration.txt §5.3.2) and the server keywords
// that use them (resolvers, resolve-prefer, resolve-opts, resolve-net,
// init-addr).

func (c *hctx) openResolvers(d *parser.Directive) bool {
	if len(d.Args) == 0 || d.Args[0].Value == "" {
		c.rep.Alertf(d.Pos, "missing name for resolvers section.")
		c.abort = true
		return false
	}
	name := d.Args[0].Value
	for _, r := range c.cfg.Resolvers {
		if r.Name == name {
			c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevAlert, Form: "none",
				Msg: fmt.Sprintf("Parsing [%s:%d]: resolvers '%s' has same name as another resolvers (declared at %s:%d).", d.Pos.File, d.Pos.Line, name, r.File, r.Line)})
			c.rep.Alertf(d.Pos, "out of memory.")
			c.abort = true
			return false
		}
	}
	c.resolvers = &proxy.Resolvers{Name: name, File: d.Pos.File, Line: d.Pos.Line, Retries: 3,
		TimeoutResolve: time.Second, TimeoutRetry: time.Second,
		HoldNX: 30 * time.Second, HoldOther: 30 * time.Second, HoldRefused: 30 * time.Second,
		HoldTimeout: 30 * time.Second, HoldValid: 10 * time.Second, PayloadSize: 512}
	c.nsPos = map[string]parser.Pos{}
	c.cfg.Resolvers = append(c.cfg.Resolvers, c.resolvers)
	c.openOther(d)
	c.rep.Record(d.Pos, "resolvers", "resolvers", Supported, "")
	return true
}

var resolversTable = NewTable("resolvers", []hrow{
	row("nameserver", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if len(a) < 2 {
			return fmt.Errorf("'nameserver' expects <name> and <addr>[:<port>] as arguments.")
		}
		name := a[0].Value
		if p, dup := c.nsPos[name]; dup {
			c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevAlert, Form: "none",
				Msg: fmt.Sprintf("Parsing [%s:%d]: nameserver '%s' has same name as another nameserver (declared at %s:%d).", d.Pos.File, d.Pos.Line, name, p.File, p.Line)})
			return nil
		}
		addr, err := c.expandAddr(a[1].Value)
		if err != nil {
			return fmt.Errorf("'nameserver %s' : %s", name, err)
		}
		hp, err := parseAddr(addr, false)
		if err != nil {
			return fmt.Errorf("'nameserver %s' : %s", name, err)
		}
		if !hp.hasPort {
			return fmt.Errorf("'nameserver %s' : missing port specification in '%s'", name, addr)
		}
		if !hp.isIP || !hp.addr.IsValid() {
			return fmt.Errorf("'nameserver %s' : invalid address: '%s' in '%s'\n", name, hp.host, addr)
		}
		network := "udp"
		switch hp.family {
		case "tcp", "tcp4", "tcp6":
			network = "tcp"
		}
		c.nsPos[name] = d.Pos
		c.resolvers.Nameservers = append(c.resolvers.Nameservers, proxy.Nameserver{Name: name, Addr: netip.AddrPortFrom(hp.addr, uint16(hp.portLo)), Network: network})
		return nil
	}),
	row("parse-resolv-conf", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		data, err := c.opt.ReadFile("/etc/resolv.conf")
		if err != nil {
			return fmt.Errorf("failed to open /etc/resolv.conf.")
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 2 || f[0] != "nameserver" {
				continue
			}
			ip, err := netip.ParseAddr(f[1])
			if err != nil {
				continue
			}
			// named as HAProxy names them: after their address
			c.resolvers.Nameservers = append(c.resolvers.Nameservers, proxy.Nameserver{Name: f[1], Addr: netip.AddrPortFrom(ip.Unmap(), 53), Network: "udp"})
		}
		return nil
	}),
	row("accepted_payload_size", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if len(a) == 0 {
			return fmt.Errorf("'accepted_payload_size' expects <nb> as argument.")
		}
		n := atol(a[0].Value)
		if n < 12 || n > 65535 {
			return fmt.Errorf("'accepted_payload_size' must be between 12 and 65535 inclusive (was %s).", a[0].Value)
		}
		c.resolvers.PayloadSize = n
		return nil
	}),
	row("hold", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if len(a) < 2 {
			return fmt.Errorf("'hold' expects an <event> and a <time> as arguments.\n<event> can be either 'valid', 'nx', 'refused', 'timeout', or 'other'")
		}
		r := c.resolvers
		dst := map[string]*time.Duration{"nx": &r.HoldNX, "other": &r.HoldOther, "refused": &r.HoldRefused,
			"timeout": &r.HoldTimeout, "valid": &r.HoldValid, "obsolete": &r.HoldObsolete}[a[0].Value]
		if dst == nil {
			return fmt.Errorf("'hold' unknown <event>: '%s', expects either 'nx', 'timeout', 'valid', 'obsolete' or 'other'.", a[0].Value)
		}
		t, bad, err := parseHATime(a[1].Value, time.Millisecond)
		if err != nil {
			return formError{"tight", fmt.Errorf("unexpected character '%c' in argument to <hold>.", bad)}
		}
		*dst = t
		return nil
	}),
	row("resolve_retries", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if len(a) == 0 {
			return fmt.Errorf("'resolve_retries' expects <nb> as argument.")
		}
		c.resolvers.Retries = atol(a[0].Value)
		return nil
	}),
	row("timeout", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if len(a) == 0 {
			return fmt.Errorf("'timeout' expects 'retry' or 'resolve' and <time> as arguments.")
		}
		r := c.resolvers
		var dst *time.Duration
		switch a[0].Value {
		case "resolve":
			dst = &r.TimeoutResolve
		case "retry":
			dst = &r.TimeoutRetry
		default:
			return fmt.Errorf("'timeout' expects 'retry' or 'resolve' and <time> as arguments got '%s'.", a[0].Value)
		}
		if len(a) < 2 {
			return fmt.Errorf("'timeout %s' expects <time> as argument.", a[0].Value)
		}
		t, bad, err := parseHATime(a[1].Value, time.Millisecond)
		if err != nil {
			return formError{"tight", fmt.Errorf("unexpected character '%c' in argument to <timeout %s>.", bad, a[0].Value)}
		}
		*dst = t
		return nil
	}),
})

// checkResolvers is the part of check_config_validity() about resolvers:
// a section without nameservers is warned about, a server naming an
// unknown section is an error.
func (c *hctx) checkResolvers() {
	for _, r := range c.cfg.Resolvers {
		if len(r.Nameservers) == 0 {
			c.rep.Warnf(parser.Pos{}, "resolvers '%s' [%s:%d] has no nameservers configured!", r.Name, r.File, r.Line)
		}
	}
	for _, st := range c.proxies {
		for _, srv := range st.p.Servers {
			if srv.Resolvers == "" {
				continue
			}
			found := false
			for _, r := range c.cfg.Resolvers {
				found = found || r.Name == srv.Resolvers
			}
			if !found {
				c.rep.Alertf(parser.Pos{}, "%s '%s', server '%s': unable to find required resolvers '%s'", kindWord(st), st.p.Name, srv.Name, srv.Resolvers)
			}
		}
	}
}

// resolveParam applies a server's resolve-* keyword.
func resolveParam(srv *proxy.Server, k, v, title string) error {
	switch k {
	case "resolve-prefer":
		if v != "ipv4" && v != "ipv6" {
			return fmt.Errorf("%s : 'resolve-prefer' expects either ipv4 or ipv6 as argument..", title)
		}
		srv.ResolvePrefer = v
	case "resolve-opts":
		for _, o := range strings.Split(v, ",") {
			switch o {
			case "allow-dup-ip":
				srv.ResolveOpts.AllowDupIP = true
			case "ignore-weight":
				srv.ResolveOpts.IgnoreWeight = true
			case "prevent-dup-ip":
				srv.ResolveOpts.PreventDupIP = true
			default:
				return fmt.Errorf("%s : 'resolve-opts' : unknown resolve-opts option '%s', supported methods are 'allow-dup-ip', 'ignore-weight', and 'prevent-dup-ip'..", title, o)
			}
		}
	case "resolve-net":
		srv.ResolveNets = nil
		for _, n := range strings.Split(v, ",") {
			p, err := netip.ParsePrefix(n)
			if err != nil {
				return fmt.Errorf("%s : 'resolve-net' invalid network '%s'..", title, n)
			}
			srv.ResolveNets = append(srv.ResolveNets, p.Masked())
		}
	}
	return nil
}

// initAddr resolves a server's address at start-up with its init-addr
// methods, in order (srv_iterate_initaddr): "last" (a server-state file,
// which halo does not load), "libc", "none" (start without an address, in
// maintenance until DNS gives one) or a fixed IP. A server with resolvers
// ends with "none" by default. failed reports an error that stops the
// start.
func (c *hctx) initAddr(st *pstate, srv *proxy.Server, ex *serverExtra) (failed bool) {
	pos := parser.Pos{File: st.pos.File, Line: srv.Line}
	title := fmt.Sprintf("'server %s/%s'", st.p.Name, srv.Name)
	host := srv.Host
	methods := "last,libc"
	if ex != nil && ex.initAddr != "" {
		methods = ex.initAddr
	} else if srv.Resolvers != "" {
		methods = "last,libc,none"
	}
	if c.opt.IgnoreResolveErrors {
		methods += ",none" // -dr
	}
	if srv.Resolvers != "" && !validHostname(host) {
		c.bare(parser.SevAlert, pos, fmt.Sprintf("%s : Can't create DNS resolution for server '%s'", title, srv.Name))
		return true
	}
	libcFailed := false
	for _, m := range strings.Split(methods, ",") {
		switch m {
		case "last":
			continue
		case "libc":
			if srv.Resolvers != "" && strings.HasPrefix(host, "_") {
				continue // a SRV label: only DNS gives it addresses
			}
			a, err := c.resolve(host)
			if err == nil {
				srv.Addr = a
				return false
			}
			libcFailed = true
		case "none":
			if libcFailed {
				c.bare(parser.SevWarning, pos, fmt.Sprintf("%s : could not resolve address '%s', disabling server.", title, host))
			}
			srv.Resolved = false
			return false
		default:
			ip, err := netip.ParseAddr(m)
			if err != nil {
				continue
			}
			if libcFailed {
				c.bare(parser.SevWarning, pos, fmt.Sprintf("%s : could not resolve address '%s', falling back to configured address.", title, host))
			}
			srv.Addr = ip.Unmap()
			return false
		}
	}
	if libcFailed {
		c.bare(parser.SevAlert, pos, fmt.Sprintf("%s : could not resolve address '%s'.", title, host))
	} else {
		c.bare(parser.SevAlert, pos, fmt.Sprintf("%s : no method found to resolve address '%s'.", title, host))
	}
	return true
}
