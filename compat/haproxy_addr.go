package compat

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"halo/parser"
	"halo/proxy"
)

// hostPort is one parsed address of a bind or server line.
type hostPort struct {
	family   string // "", "ipv4", "ipv6", "unix", "abns", "fd", "sockpair", "udp"…
	host     string // as written, may be a name
	addr     netip.Addr
	isIP     bool
	portLo   int
	portHi   int
	hasPort  bool
	offset   bool // server "+N"/"-N" port
	path     string
	original string
}

// parseAddr implements the part of haproxy's str2sa_range() that bind and
// server lines use. what is the message prefix ("'bind'", "'server be/s1'").
func parseAddr(s string, allowRange bool) (hostPort, error) {
	hp := hostPort{original: s}
	rest := s
	if i := strings.Index(rest, "@"); i > 0 {
		fam := rest[:i]
		switch fam {
		case "ipv4", "ipv6", "unix", "abns", "fd", "sockpair", "udp", "udp4", "udp6", "tcp", "tcp4", "tcp6", "uxst", "uxdg", "quic4", "quic6":
			hp.family = fam
			rest = rest[i+1:]
		default:
			return hp, fmt.Errorf("unknown address family '%s' in '%s'", fam, s)
		}
	}
	if hp.family == "unix" || hp.family == "abns" || hp.family == "uxst" || hp.family == "uxdg" || (hp.family == "" && strings.HasPrefix(rest, "/")) {
		if hp.family == "" {
			hp.family = "unix"
		}
		hp.path = rest
		return hp, nil
	}
	if hp.family == "fd" || hp.family == "sockpair" {
		hp.path = rest
		return hp, nil
	}
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return hp, fmt.Errorf("invalid address: '%s' in '%s'", rest, s)
		}
		host = rest[1:end]
		after := rest[end+1:]
		if strings.HasPrefix(after, ":") {
			port = after[1:]
			hp.hasPort = true
		} else if after != "" {
			return hp, fmt.Errorf("invalid address: '%s' in '%s'", rest, s)
		}
	} else if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		host, port = rest[:i], rest[i+1:]
		hp.hasPort = true
	}
	if hp.hasPort && port == "" && !allowRange {
		// a server's port is optional: "ADDR:" is the client's port
		hp.hasPort = false
	}
	if hp.hasPort {
		if port == "" {
			return hp, fmt.Errorf("missing port specification in '%s'", s)
		}
		lo, hi := port, port
		if strings.HasPrefix(port, "+") || strings.HasPrefix(port, "-") {
			hp.offset = true
			lo, hi = port[1:], port[1:]
		} else if j := strings.IndexByte(port, '-'); j >= 0 {
			lo, hi = port[:j], port[j+1:]
			if !allowRange {
				return hp, fmt.Errorf("port range not permitted here in '%s'", s)
			}
		}
		if strings.HasPrefix(port, "$") {
			// An unexpanded "$VAR" (outside double quotes): haproxy
			// reports the port as missing.
			return hp, fmt.Errorf("missing port specification in '%s'", s)
		}
		for _, part := range []string{lo, hi} {
			for k := 0; k < len(part); k++ {
				if part[k] < '0' || part[k] > '9' {
					return hp, fmt.Errorf("invalid character '%c' in port number '%s' in '%s'", part[k], port, s)
				}
			}
			if part == "" {
				return hp, fmt.Errorf("invalid port '%s'", port)
			}
		}
		hp.portLo, _ = strconv.Atoi(lo)
		hp.portHi, _ = strconv.Atoi(hi)
		if hp.offset {
			if port[0] == '-' {
				hp.portLo, hp.portHi = -hp.portLo, -hp.portHi
			}
		} else {
			if hp.portLo < 1 || hp.portLo > 65535 || hp.portHi > 65535 {
				return hp, fmt.Errorf("invalid port '%s'", port)
			}
			if hp.portHi < hp.portLo {
				return hp, fmt.Errorf("invalid port range '%s'", port)
			}
		}
	}
	hp.host = host
	switch host {
	case "", "*":
		hp.isIP = true
		if hp.family == "ipv6" {
			hp.addr = netip.IPv6Unspecified()
		} else if hp.family == "ipv4" || hp.family == "" {
			hp.addr = netip.IPv4Unspecified()
		}
		if host == "" && hp.family == "" {
			hp.addr = netip.Addr{}
		}
	default:
		if a, err := netip.ParseAddr(host); err == nil {
			hp.addr, hp.isIP = a.Unmap(), true
		}
	}
	return hp, nil
}

// bindParams lists the bind keywords of haproxy 2.6 and how many values
// they take (from `haproxy -dKcfg`).
var bindParams = map[string]int{
	"accept-netscaler-cip": 1, "accept-proxy": 0, "backlog": 1, "defer-accept": 0, "expose-fd": 1,
	"gid": 1, "group": 1, "id": 1, "interface": 1, "level": 1, "maxconn": 1, "mode": 1, "mss": 1,
	"name": 1, "namespace": 1, "nice": 1, "process": 1, "proto": 1, "severity-output": 1,
	"shards": 1, "tcp-ut": 1, "tfo": 0, "thread": 1, "transparent": 0, "uid": 1, "user": 1,
	"v4v6": 0, "v6only": 0, "ssl": 0, "allow-0rtt": 0, "alpn": 1, "ca-file": 1, "ca-ignore-err": 1,
	"ca-sign-file": 1, "ca-sign-pass": 1, "ca-verify-file": 1, "ciphers": 1, "ciphersuites": 1,
	"crl-file": 1, "crt": 1, "crt-ignore-err": 1, "crt-list": 1, "curves": 1, "ecdhe": 1,
	"force-sslv3": 0, "force-tlsv10": 0, "force-tlsv11": 0, "force-tlsv12": 0, "force-tlsv13": 0,
	"generate-certificates": 0, "no-ca-names": 0, "no-sslv3": 0, "no-tls-tickets": 0,
	"no-tlsv10": 0, "no-tlsv11": 0, "no-tlsv12": 0, "no-tlsv13": 0, "npn": 1,
	"prefer-client-ciphers": 0, "ssl-max-ver": 1, "ssl-min-ver": 1, "strict-sni": 0,
	"tls-ticket-keys": 1, "verify": 1, "quic-cc-algo": 1,
}

func decodeBind(c *hctx, d *parser.Directive, a []parser.Word) error {
	if c.cur.kind == "defaults" {
		return fmt.Errorf("'bind' not allowed in 'defaults' section.")
	}
	if !c.needCap(d, capFE, "bind") {
		return nil
	}
	if len(a) == 0 || a[0].Value == "" {
		return fmt.Errorf("'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.")
	}
	var binds []proxy.Bind
	for _, part := range strings.Split(a[0].Value, ",") {
		part, err := c.expandAddr(part)
		if err != nil {
			return fmt.Errorf("'bind' : %s", err)
		}
		hp, err := parseAddr(part, true)
		if err != nil {
			return fmt.Errorf("'bind' : %s", err)
		}
		if hp.path != "" {
			b, err := pathBind(hp)
			if err != nil {
				return fmt.Errorf("'bind' : %s", err)
			}
			b.Line = d.Pos.Line
			binds = append(binds, b)
			continue
		}
		if !hp.hasPort {
			return fmt.Errorf("'bind' : missing port specification in '%s'", part)
		}
		addr := hp.addr
		if !hp.isIP {
			ip, err := c.resolve(hp.host)
			if err != nil {
				return fmt.Errorf("'bind' : invalid address: '%s' in '%s'", hp.host, part)
			}
			addr = ip
		}
		network := "tcp"
		switch {
		case hp.family == "ipv4" || hp.family == "tcp4" || (addr.IsValid() && addr.Is4()):
			network = "tcp4"
		case hp.family == "ipv6" || hp.family == "tcp6" || (addr.IsValid() && addr.Is6()):
			network = "tcp6"
		}
		if strings.HasPrefix(hp.family, "udp") || strings.HasPrefix(hp.family, "quic") {
			c.lower(Unsupported, "halo has no QUIC/UDP listeners")
		}
		for port := hp.portLo; port <= hp.portHi; port++ {
			binds = append(binds, proxy.Bind{Addr: netip.AddrPortFrom(addr, uint16(port)), Network: network, Line: d.Pos.Line})
		}
	}
	// Parameters apply to every address of the line.
	var proto proxy.Bind
	title := fmt.Sprintf("'bind %s' in section '%s'", a[0].Value, c.cur.kind)
	var crts []string
	var crtList []crtListEntry
	sslo := c.ssl.bind // ssl-default-bind-* first, the line's own keywords over them
	for i := 1; i < len(a); i++ {
		k := a[i].Value
		n, ok := bindParams[k]
		if !ok {
			msg := fmt.Sprintf("%s: unknown keyword '%s'", title, k)
			if s := Suggest(k, sortedKeys(bindParams)); s != "" {
				msg += fmt.Sprintf("; did you mean '%s' maybe ?", s)
			}
			return fmt.Errorf("%s", msg)
		}
		v := ""
		if n > 0 {
			if i+1 >= len(a) {
				return fmt.Errorf("%s : '%s' : missing value", title, k)
			}
			v = a[i+1].Value
			i++
		}
		if st, note := bindParamStatus(k); st != Supported {
			c.lowerPart(k, st, note)
		}
		if handled, err := c.setBindSSL(&sslo, k, v); handled {
			if err != nil {
				return fmt.Errorf("%s : %v", title, err)
			}
			if k == "alpn" {
				proto.ALPN = sslo.alpn
				if c.cur.p.Mode == proxy.ModeHTTP && slices.ContainsFunc(sslo.alpn, func(p string) bool { return p != "h2" && p != "http/1.1" && p != "http/1.0" }) {
					c.lowerPart(k, Partial, "only h2, http/1.1 and http/1.0 are announced in mode http")
				}
			}
			continue
		}
		switch k {
		case "ssl":
			proto.SSL = true
		case "crt":
			path := v
			if c.crtBase != "" && !strings.HasPrefix(path, "/") {
				path = basePath(c.crtBase, path)
			}
			if err := c.checkCert(path); err != nil {
				return fmt.Errorf("%s : %s", title, err)
			}
			crts = append(crts, path)
		case "crt-list":
			// HAProxy 2.6 opens a crt-list by its name as given: crt-base
			// applies to the certificates inside, not to the list.
			path := v
			data, err := c.opt.ReadFile(path)
			if err != nil {
				return fmt.Errorf("%s : 'crt-list' : cannot open file '%s' : No such file or directory", title, path)
			}
			entries, err := c.parseCrtList(path, data)
			if err != nil {
				return fmt.Errorf("%s : %v", title, err)
			}
			for _, e := range entries {
				if err := c.checkCert(e.path); err != nil {
					return fmt.Errorf("%s : %s", title, err)
				}
			}
			crtList = append(crtList, entries...)
		case "proto":
			switch v {
			case "h2", "h1":
				if v == "h2" {
					proto.Proto = v
				}
			case "quic", "fcgi":
				c.lowerPart(k, Unsupported, "the '"+v+"' multiplexer is not implemented")
			default:
				return fmt.Errorf("%s : 'proto' :  unknown MUX protocol '%s'", title, v)
			}
		case "accept-proxy":
			proto.AcceptProxy = true
		case "name":
			proto.Name = v
		case "id":
			proto.ID = atol(v)
		case "process":
			c.rep.Warnf(d.Pos, "%s : '%s %s' on 'bind' lines is deprecated and will be removed in 2.7.", title, k, v)
		case "maxconn":
			proto.Maxconn = atol(v)
		case "backlog":
			proto.Backlog = atol(v)
		case "v4v6":
			proto.V4V6 = true
		case "v6only":
			proto.V6Only = true
		}
	}
	if proto.SSL && len(crts) == 0 && len(crtList) == 0 {
		// haproxy refuses this once the whole configuration is read; the
		// bind line is the place to say it.
		return fmt.Errorf("%s : no certificate specified for bind '%s' (use 'crt' or 'crt-list').", title, a[0].Value)
	}
	var btls *proxy.BindTLS
	if proto.SSL {
		var err error
		if btls, err = c.bindTLS(d, &sslo, a[0].Value, crtList, crts); err != nil {
			c.rep.Alertf(parser.Pos{}, "%v", err)
			return nil
		}
		for _, e := range crtList {
			crts = append(crts, e.path)
		}
	}
	for i := range binds {
		b := &binds[i]
		b.TLS = btls
		b.SSL, b.Certs, b.ALPN, b.AcceptProxy = proto.SSL, crts, proto.ALPN, proto.AcceptProxy
		b.Name, b.Maxconn, b.Backlog, b.V4V6, b.V6Only = proto.Name, proto.Maxconn, proto.Backlog, proto.V4V6, proto.V6Only
		b.Proto = proto.Proto
		if i == 0 {
			b.ID = proto.ID // an explicit id names the line's first socket
		}
	}
	if !proto.SSL && len(crts) > 0 {
		// crt without ssl: haproxy loads it but serves clear text.
		for i := range binds {
			binds[i].Certs = nil
		}
	}
	c.cur.p.Binds = append(c.cur.p.Binds, binds...)
	return nil
}

// pathBind is a bind on a UNIX socket (unix@PATH, /PATH, abns@NAME) or an
// inherited listening socket (fd@N).
func pathBind(hp hostPort) (proxy.Bind, error) {
	switch hp.family {
	case "fd":
		n, err := strconv.Atoi(hp.path)
		if err != nil || n < 0 {
			return proxy.Bind{}, fmt.Errorf("invalid file descriptor '%s' in '%s'", hp.path, hp.original)
		}
		return proxy.Bind{Network: "fd", FD: n}, nil
	case "sockpair":
		return proxy.Bind{}, fmt.Errorf("sockpair@ listeners are not supported by halo ('%s')", hp.original)
	}
	return proxy.Bind{Network: "unix", Path: socketPath(hp)}, nil
}

// socketPath is the path Go's net package takes for a UNIX socket address:
// an abstract-namespace socket (abns@NAME) is "@NAME".
func socketPath(hp hostPort) string {
	if hp.family == "abns" {
		return "@" + hp.path
	}
	return hp.path
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkCert checks a `crt` argument as haproxy loads it: a PEM file with a
// certificate and a private key (or a sibling .key file), or a directory
// of such files.
func (c *hctx) checkCert(path string) error {
	st, err := c.opt.Stat(path)
	if err != nil {
		return fmt.Errorf("unable to stat SSL certificate from file '%s' : No such file or directory.", path)
	}
	if !st.IsDir() {
		return c.checkPEM(path)
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return fmt.Errorf("unable to scan directory '%s' : %s.", path, err)
	}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || strings.HasSuffix(n, ".key") || strings.HasSuffix(n, ".ocsp") || strings.HasSuffix(n, ".issuer") || strings.HasSuffix(n, ".sctl") || strings.HasPrefix(n, ".") {
			continue
		}
		if err := c.checkPEM(filepath.Join(path, n)); err != nil {
			return err
		}
	}
	return nil
}

// pemHasCert says whether data holds a certificate that parses.
func pemHasCert(data []byte) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if b.Type == "CERTIFICATE" || b.Type == "TRUSTED CERTIFICATE" {
			_, err := x509.ParseCertificate(b.Bytes)
			return err == nil || b.Type == "TRUSTED CERTIFICATE"
		}
	}
}

func (c *hctx) checkPEM(path string) error {
	data, err := c.opt.ReadFile(path)
	if err != nil {
		return fmt.Errorf("unable to stat SSL certificate from file '%s' : No such file or directory.", path)
	}
	if !pemHasCert(data) {
		// HAProxy 2.6.12 (ssl_sock_load_pem_into_ckch)
		return fmt.Errorf("unable to load certificate from file '%s'.", path)
	}
	if !bytes.Contains(data, []byte("PRIVATE KEY-----")) {
		keyPath := path + ".key"
		if c.cfg.Global.SSLLoadExtraDelExt && filepath.Ext(path) != "" {
			keyPath = strings.TrimSuffix(path, filepath.Ext(path)) + ".key"
		}
		if kd, err := c.opt.ReadFile(keyPath); err != nil || !bytes.Contains(kd, []byte("PRIVATE KEY-----")) {
			return fmt.Errorf("No Private Key found in '%s'.", keyPath)
		}
	}
	return nil
}

// serverParams lists the server/default-server keywords of haproxy 2.6
// and how many values they take (from `haproxy -dKcfg`).
var serverParams = map[string]int{
	"addr": 1, "agent-addr": 1, "agent-check": 0, "agent-inter": 1, "agent-port": 1, "agent-send": 1,
	"allow-0rtt": 0, "alpn": 1, "backup": 0, "ca-file": 1, "check": 0, "check-alpn": 1, "check-proto": 1,
	"check-send-proxy": 0, "check-sni": 1, "check-ssl": 0, "check-via-socks4": 0, "ciphers": 1,
	"ciphersuites": 1, "cookie": 1, "crl-file": 1, "crt": 1, "disabled": 0, "downinter": 1, "enabled": 0,
	"error-limit": 1, "fall": 1, "fastinter": 1, "force-sslv3": 0, "force-tlsv10": 0, "force-tlsv11": 0,
	"force-tlsv12": 0, "force-tlsv13": 0, "id": 1, "init-addr": 1, "inter": 1, "log-proto": 1,
	"max-reuse": 1, "maxconn": 1, "maxqueue": 1, "minconn": 1, "namespace": 1, "no-agent-check": 0,
	"no-backup": 0, "no-check": 0, "no-check-send-proxy": 0, "no-check-ssl": 0, "no-send-proxy": 0,
	"no-send-proxy-v2": 0, "no-send-proxy-v2-ssl": 0, "no-send-proxy-v2-ssl-cn": 0, "no-ssl": 0,
	"no-ssl-reuse": 0, "no-sslv3": 0, "no-tfo": 0, "no-tls-tickets": 0, "no-tlsv10": 0, "no-tlsv11": 0,
	"no-tlsv12": 0, "no-tlsv13": 0, "non-stick": 0, "npn": 1, "observe": 1, "on-error": 1,
	"on-marked-down": 1, "on-marked-up": 1, "pool-low-conn": 1, "pool-max-conn": 1,
	"pool-purge-delay": 1, "port": 1, "proto": 1, "proxy-v2-options": 1, "redir": 1, "resolve-net": 1,
	"resolve-opts": 1, "resolve-prefer": 1, "resolvers": 1, "rise": 1, "send-proxy": 0,
	"send-proxy-v2": 0, "send-proxy-v2-ssl": 0, "send-proxy-v2-ssl-cn": 0, "slowstart": 1, "sni": 1,
	"socks4": 1, "source": -1, "ssl": 0, "ssl-max-ver": 1, "ssl-min-ver": 1, "ssl-reuse": 0,
	"stick": 0, "tcp-ut": 1, "tfo": 0, "tls-tickets": 0, "track": 1, "usesrc": 0, "verify": 1,
	"verifyhost": 1, "weight": 1, "ws": 1,
}

// serverExtra is what a server line carries besides proxy.Server and is
// only needed during loading.
type serverExtra struct {
	initAddr  string
	resolvers string
	track     string // track [<proxy>/]<server>
	caFile    string
	crt       string
	ssl       sslOpts    // TLS keywords of the line (haproxy_ssl.go)
	id        int        // explicit `id`, 0 when none
	idPos     parser.Pos // where the explicit id was given
}

func defaultServer() *proxy.Server {
	return &proxy.Server{Weight: 1, Inter: 2 * time.Second, Rise: 2, Fall: 3, Resolved: true}
}

func decodeDefaultServer(c *hctx, d *parser.Directive, a []parser.Word) error {
	if !c.mustCap(d, capBE, "default-server") {
		return nil
	}
	if c.cur.defServer == nil {
		c.cur.defServer = defaultServer()
	}
	return c.serverParams(d, c.cur.defServer, &c.cur.defExtra, "default-server", a)
}

func decodeServer(c *hctx, d *parser.Directive, a []parser.Word) error {
	if err := decodeServerLine(c, d, a); err != nil {
		if _, ok := err.(formError); ok {
			return err
		}
		return formError{"bare", err}
	}
	return nil
}

func decodeServerLine(c *hctx, d *parser.Directive, a []parser.Word) error {
	if c.cur.kind == "defaults" {
		return fmt.Errorf("'server' not allowed in 'defaults' section.")
	}
	if !c.mustCap(d, capBE, "server") {
		return nil
	}
	if len(a) < 2 {
		return fmt.Errorf("'server' expects <name> and <addr>[:<port>] as arguments.")
	}
	return c.addServer(d, a[0].Value, a[1].Value, a[2:])
}

// decodeServerTemplate is `server-template <prefix> <num|range> <fqdn>[:<port>] [params]`.
func decodeServerTemplate(c *hctx, d *parser.Directive, a []parser.Word) error {
	if c.cur.kind == "defaults" {
		return fmt.Errorf("'server-template' not allowed in 'defaults' section.")
	}
	if !c.mustCap(d, capBE, "server-template") {
		return nil
	}
	if len(a) < 3 {
		return fmt.Errorf("'server-template' expects <prefix> <nb | range> <addr>[:<port>] as arguments.")
	}
	lo, hi := 1, 0
	if l, h, ok := strings.Cut(a[1].Value, "-"); ok {
		lo, hi = atol(l), atol(h)
	} else {
		hi = atol(a[1].Value)
	}
	if hi < lo || lo < 1 {
		return fmt.Errorf("'server-template' : invalid range '%s'.", a[1].Value)
	}
	for i := lo; i <= hi; i++ {
		if err := c.addServer(d, fmt.Sprintf("%s%d", a[0].Value, i), a[2].Value, a[3:]); err != nil {
			return err
		}
	}
	return nil
}

func (c *hctx) addServer(d *parser.Directive, name, addr string, params []parser.Word) error {
	p := c.cur.p
	title := fmt.Sprintf("'server %s/%s'", p.Name, name)
	if line, dup := c.cur.servers[name]; dup {
		// haproxy finds duplicates once the file is read.
		c.cur.dupServers = append(c.cur.dupServers, dupServer{name: name, first: line, pos: d.Pos})
	}
	var srv *proxy.Server
	if c.cur.defServer != nil {
		s := *c.cur.defServer
		srv = &s
	} else {
		srv = defaultServer()
	}
	srv.Name, srv.Line = name, d.Pos.Line
	addr, err := c.expandAddr(addr)
	if err != nil {
		return fmt.Errorf("%s : %s", title, err)
	}
	hp, err := parseAddr(addr, false)
	if err != nil {
		return fmt.Errorf("%s : %s", title, err)
	}
	if hp.path != "" {
		switch hp.family {
		case "unix", "abns":
			srv.Host, srv.Path = addr, socketPath(hp)
		default:
			// fd@ and sockpair@ name descriptors of a listener's
			// process; haproxy accepts sockpair@ for servers only.
			c.lower(Unsupported, "servers on "+hp.family+"@ addresses are not supported by halo")
			srv.Host = addr
		}
	} else {
		srv.Host = hp.host
		if hp.isIP {
			srv.Addr = hp.addr
			if hp.host == "" && !srv.Addr.IsValid() {
				// no address (an empty variable): INADDR_ANY, as
				// HAProxy reads it
				srv.Addr = netip.IPv4Unspecified()
			}
		}
		if hp.hasPort {
			srv.Port = hp.portLo
			if hp.offset {
				c.lower(Partial, "port offsets (+N/-N) are not applied by halo")
				srv.Port = 0
			}
		}
	}
	ex := c.cur.defExtra
	if err := c.serverParams(d, srv, &ex, title, params); err != nil {
		return err
	}
	if srv.Resolvers != "" && strings.HasPrefix(srv.Host, "_") {
		// a SRV label: its records give the server its target and port
		// (configuration.txt §5.3.1)
		srv.SRV = srv.Host
	}
	if srv.Check && ex.track != "" {
		return fmt.Errorf("%s : unable to enable checks and tracking at the same time!", title)
	}
	if err := checkAgentPort(srv, title); err != nil {
		return err
	}
	c.srvExtra[srv] = &ex
	if srv.SSL {
		o := c.ssl.server.overlay(&ex.ssl)
		if _, notes, _, err := c.resolveTLS(&o, true); err == nil {
			for _, n := range notes {
				c.lower(Partial, n)
			}
		}
	}
	if _, seen := c.cur.servers[name]; !seen {
		c.cur.servers[name] = d.Pos.Line
	}
	p.Servers = append(p.Servers, srv)
	return nil
}

// serverParams applies server keywords to srv.
func (c *hctx) serverParams(d *parser.Directive, srv *proxy.Server, ex *serverExtra, title string, a []parser.Word) error {
	for i := 0; i < len(a); i++ {
		k := a[i].Value
		n, ok := serverParams[k]
		if !ok {
			msg := fmt.Sprintf("%s : unknown keyword '%s'.", title, k)
			if s := Suggest(k, sortedKeys(serverParams)); s != "" {
				msg = fmt.Sprintf("%s : unknown keyword '%s'; did you mean '%s' maybe ?", title, k, s)
			}
			return fmt.Errorf("%s", msg)
		}
		v := ""
		if n == -1 {
			// source <addr>[:<port>] [usesrc …] [interface …]: the rest.
			i = len(a)
			c.lowerPart("source", Ignored, "the source address is not applied by halo")
			continue
		}
		if n > 0 {
			if i+1 >= len(a) {
				return fmt.Errorf("%s : '%s' expects an argument.", title, k)
			}
			v = a[i+1].Value
			i++
		}
		if st, note := serverParamStatus(k); st != Supported {
			c.lowerPart(k, st, note)
		}
		if handled, err := c.setServerSSL(&ex.ssl, k, v); handled {
			if err != nil {
				return fmt.Errorf("%s : %v", title, err)
			}
			continue
		}
		name := strings.TrimPrefix(title, "'server ")
		name = strings.TrimSuffix(name[strings.LastIndex(name, "/")+1:], "'")
		timeParam := func() (time.Duration, error) {
			t, bad, err := parseHATime(v, time.Millisecond)
			if err != nil {
				if bad != 0 {
					return 0, fmt.Errorf("%s : unexpected character '%c' in '%s' argument of server %s.", title, bad, k, name)
				}
				return 0, fmt.Errorf("%s : '%s' expects a positive delay in milliseconds.", title, k)
			}
			if t == 0 {
				return 0, fmt.Errorf("%s : '%s' has to be > 0.", title, k)
			}
			return t, nil
		}
		if handled, err := c.checkServerParam(srv, k, v, title, name); handled {
			if err != nil {
				return err
			}
			continue
		}
		switch k {
		case "proto":
			switch v {
			case "h2":
				srv.Proto = v
			case "h1":
				srv.Proto = ""
			case "fcgi", "quic":
				c.lowerPart(k, Unsupported, "the '"+v+"' multiplexer is not implemented")
			default:
				return fmt.Errorf("%s : 'proto' :  unknown MUX protocol '%s'.", title, v)
			}
		case "check":
			srv.Check = true
		case "no-check":
			srv.Check = false
		case "inter", "fastinter", "downinter":
			t, err := timeParam()
			if err != nil {
				return err
			}
			switch k {
			case "inter":
				srv.Inter = t
			case "fastinter":
				srv.FastInter = t
			default:
				srv.DownInter = t
			}
		case "rise", "fall":
			nv := atol(v)
			if nv <= 0 {
				return fmt.Errorf("%s : '%s' has to be > 0.", title, k)
			}
			if k == "rise" {
				srv.Rise = nv
			} else {
				srv.Fall = nv
			}
		case "weight":
			w, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%s : invalid weight '%s'.", title, v)
			}
			if w < 0 || w > 256 {
				return fmt.Errorf("%s : weight of server %s is not within 0 and 256 (%d).", title, name, w)
			}
			srv.Weight = w
		case "backup":
			srv.Backup = true
		case "no-backup":
			srv.Backup = false
		case "non-stick":
			srv.NonStick = true
		case "stick":
			srv.NonStick = false
		case "disabled":
			srv.Disabled = true
		case "enabled":
			srv.Disabled = false
		case "maxconn":
			srv.Maxconn = atol(v)
		case "maxqueue":
			srv.Maxqueue = atol(v)
		case "minconn":
			srv.Minconn = atol(v)
		case "slowstart":
			t, bad, err := parseHATime(v, time.Millisecond)
			if err != nil {
				if bad != 0 {
					return fmt.Errorf("%s : unexpected character '%c' in 'slowstart' argument of server %s.", title, bad, name)
				}
				return fmt.Errorf("%s : 'slowstart' expects a positive delay in milliseconds.", title)
			}
			srv.Slowstart = t
		case "cookie":
			srv.Cookie = v
		case "send-proxy":
			srv.SendProxy = true
		case "send-proxy-v2":
			srv.SendProxyV2 = true
		case "no-send-proxy":
			srv.SendProxy = false
		case "no-send-proxy-v2":
			srv.SendProxyV2 = false
		case "ssl":
			srv.SSL = true
		case "no-ssl":
			srv.SSL = false
		case "verify":
			if v != "none" && v != "required" {
				return fmt.Errorf("%s : verify method '%s' unknown. Supported methods are 'none' and 'required'.", title, v)
			}
			srv.Verify = v
		case "on-marked-down":
			if v != "shutdown-sessions" {
				return fmt.Errorf("%s : 'on-marked-down' expects 'shutdown-sessions' but got '%s'.", title, v)
			}
			srv.OnMarkedDown = v
		case "on-marked-up":
			if v != "shutdown-backup-sessions" {
				return fmt.Errorf("%s : 'on-marked-up' expects 'shutdown-backup-sessions' but got '%s'.", title, v)
			}
			srv.OnMarkedUp = v
		case "id":
			idv, ok := strictInt(v)
			if !ok || idv <= 0 {
				return fmt.Errorf("%s : custom id has to be > 0.", title)
			}
			ex.id, ex.idPos = int(idv), d.Pos
		case "init-addr":
			for _, m := range strings.Split(v, ",") {
				switch m {
				case "last", "libc", "none":
				default:
					if _, err := netip.ParseAddr(m); err != nil {
						return fmt.Errorf("%s : 'init-addr' : unknown init-addr method '%s'.", title, m)
					}
				}
			}
			ex.initAddr = v
		case "resolvers":
			ex.resolvers, srv.Resolvers = v, v
		case "resolve-prefer", "resolve-opts", "resolve-net":
			if err := resolveParam(srv, k, v, title); err != nil {
				return err
			}
		case "track":
			ex.track = v
		case "crt":
			path := v
			if c.crtBase != "" && !strings.HasPrefix(path, "/") {
				path = basePath(c.crtBase, path)
			}
			ex.crt, ex.ssl.crt = path, path
		case "ca-file", "crl-file":
			path := v
			if c.caBase != "" && !strings.HasPrefix(path, "/") {
				path = basePath(c.caBase, path)
			}
			if _, err := c.opt.Stat(path); err != nil {
				if k == "ca-file" {
					c.rep.Alertf(parser.Pos{}, "'ca-file' : unable to load %s.", path)
					return fmt.Errorf("%s : Couldn't open the ca-file '%s' (No such file or directory).", title, path)
				}
				return fmt.Errorf("%s : unable to load %s file '%s'.", title, strings.TrimSuffix(k, "-file"), path)
			}
			if k == "ca-file" {
				ex.caFile, ex.ssl.caFile = path, path
			} else {
				ex.ssl.crlFile = path
			}
		}
	}
	return nil
}
