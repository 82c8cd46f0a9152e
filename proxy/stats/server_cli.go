package stats

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"halo/proxy"
)

// Dynamic servers: `add server` and `del server` (management.txt §9.3),
// answered in HAProxy 2.6's words (some of its answers end with a single
// newline, as 2.6.12's do).

func serverCommands() []command {
	return []command{
		{[]string{"add", "server"}, "add server <bk>/<srv>", "create a new server", LevelAdmin, cmdAddServer},
		{[]string{"del", "server"}, "del server <bk>/<srv>", "remove a dynamically added server", LevelAdmin, cmdDelServer},
		{[]string{"shutdown", "sessions", "server"}, "shutdown sessions server <bk>/<srv>", "kill sessions on a server", LevelAdmin, cmdShutdownSessions},
		{[]string{"show", "version"}, "show version", "show version of the current process", LevelUser, func(s *Stats, sess *Session, args []string) string {
			return s.Version + "\n\n"
		}},
		{[]string{"show", "env"}, "show env [var]", "dump environment variables known to the process", LevelOperator, cmdShowEnv},
	}
}

// cmdShutdownSessions closes every connection to the server, in use or
// idle (ServerState.ShutdownSessions).
func cmdShutdownSessions(s *Stats, sess *Session, args []string) string {
	if len(args) < 1 {
		return "Require 'backend/server'.\n\n"
	}
	ss, msg := s.findServer(args[0])
	if ss == nil {
		return msg
	}
	ss.ShutdownSessions()
	return "\n"
}

// cmdShowEnv prints the process environment, or one variable.
func cmdShowEnv(s *Stats, sess *Session, args []string) string {
	if len(args) > 0 {
		v, ok := os.LookupEnv(args[0])
		if !ok {
			return "Variable not found\n\n"
		}
		return args[0] + "=" + v + "\n\n"
	}
	return strings.Join(os.Environ(), "\n") + "\n\n"
}

// findBackend resolves a backend name or #id.
func (s *Stats) findBackend(name string) *proxy.Backend {
	for _, b := range s.rt.Backends {
		if b.Proxy.Name == name || (strings.HasPrefix(name, "#") && "#"+strconv.Itoa(b.Proxy.ID) == name) {
			return b
		}
	}
	return nil
}

// dynKeywords are the `server` keywords 2.6 accepts on `add server` (its
// list in management.txt) that halo does not apply to a server created
// at run time yet: refused with a clear answer rather than ignored.
var dynKeywords = map[string]bool{
	"agent-addr": true, "agent-check": true, "agent-inter": true, "agent-port": true, "agent-send": true,
	"allow-0rtt": true, "alpn": true, "addr": true, "ca-file": true, "check": true, "check-alpn": true,
	"check-proto": true, "check-send-proxy": true, "check-sni": true, "check-ssl": true,
	"check-via-socks4": true, "ciphers": true, "ciphersuites": true, "crl-file": true, "crt": true,
	"downinter": true, "error-limit": true, "fall": true, "fastinter": true, "inter": true,
	"no-ssl-reuse": true, "no-tls-tickets": true, "npn": true, "observe": true, "on-error": true,
	"on-marked-down": true, "on-marked-up": true, "pool-low-conn": true, "pool-max-conn": true,
	"pool-purge-delay": true, "port": true, "proxy-v2-options": true, "rise": true,
	"send-proxy-v2-ssl": true, "send-proxy-v2-ssl-cn": true, "sni": true, "source": true,
	"ssl-max-ver": true, "ssl-min-ver": true, "tfo": true, "tls-tickets": true, "track": true,
	"usesrc": true, "verifyhost": true, "ws": true,
}

// cfgOnly are `server` keywords of the configuration that 2.6 refuses on
// `add server` ("'cookie' option is not accepted for dynamic server").
var cfgOnly = map[string]bool{
	"cookie": true, "init-addr": true, "resolvers": true, "resolve-prefer": true, "resolve-net": true,
	"resolve-opts": true, "redir": true, "namespace": true, "max-reuse": true, "non-stick": true,
	"check-reuse-pool": true, "set-proxy-v2-tlv-fmt": true, "stick": true,
}

func cmdAddServer(s *Stats, sess *Session, args []string) string {
	if len(args) == 0 {
		return "Require 'backend/server'.\n"
	}
	bk, name, ok := strings.Cut(args[0], "/")
	if !ok || bk == "" || name == "" {
		return "Require 'backend/server'.\n"
	}
	be := s.findBackend(bk)
	if be == nil {
		return "No such backend.\n"
	}
	if len(args) < 2 {
		return "'server' expects <name> and <addr>[:<port>] as arguments.\n\n"
	}
	srv, msg := newDynServer(be, name, args[1], args[2:])
	if srv == nil {
		return msg
	}
	if srv.Proto == "h2" && be.Proxy.Mode != proxy.ModeHTTP {
		return "MUX protocol is not usable for server.\n\n"
	}
	if _, err := be.AddServer(srv); err != nil {
		if errors.Is(err, proxy.ErrNotDynamicLB) {
			return err.Error() + "\n"
		}
		return err.Error() + "\n\n"
	}
	return "New server registered.\n\n"
}

// newDynServer builds a server from `add server` arguments, with the
// configuration's defaults (not the backend's default-server, as in
// HAProxy).
func newDynServer(be *proxy.Backend, name, addr string, kw []string) (*proxy.Server, string) {
	srv := &proxy.Server{Name: name, Weight: 1, Inter: 2 * time.Second, Rise: 2, Fall: 3, Resolved: true}
	srv.FastInter, srv.DownInter = srv.Inter, srv.Inter
	if err := setDynAddr(srv, addr); err != nil {
		return nil, err.Error() + "\n\n"
	}
	for i := 0; i < len(kw); i++ {
		k, v := kw[i], ""
		if i+1 < len(kw) {
			v = kw[i+1]
		}
		num := func(lo, hi int) (int, bool) {
			n, err := strconv.Atoi(v)
			i++
			return n, err == nil && n >= lo && n <= hi
		}
		switch k {
		case "weight":
			n, ok := num(0, 256)
			if !ok {
				return nil, fmt.Sprintf("weight of server %s is not within 0 and 256 (%s)..\n\n", name, v)
			}
			srv.Weight = n
		case "maxconn", "maxqueue", "minconn":
			n, ok := num(0, 1<<31-1)
			if !ok {
				return nil, fmt.Sprintf("'%s' expects an integer argument.\n\n", k)
			}
			*map[string]*int{"maxconn": &srv.Maxconn, "maxqueue": &srv.Maxqueue, "minconn": &srv.Minconn}[k] = n
		case "id":
			n, ok := num(1, 1<<31-1)
			if !ok {
				return nil, "'id' expects a positive integer argument.\n\n"
			}
			for _, o := range be.Servers() {
				if o.Server.ID == n {
					// 2.6.12's words, file and line of a server made here included
					return nil, fmt.Sprintf("'id' : custom id %d already used at (null):0 ('server %s').\n\n", n, o.Server.Name)
				}
			}
			srv.ID, srv.IDForced = n, true
		case "slowstart":
			d, err := time.ParseDuration(durationUnit(v))
			i++
			if err != nil || d < 0 {
				return nil, fmt.Sprintf("'slowstart' expects a positive delay (%s).\n\n", v)
			}
			srv.Slowstart = d
		case "backup":
			srv.Backup = true
		case "disabled":
			srv.Disabled = true
		case "enabled":
			srv.Disabled = false
		case "send-proxy":
			srv.SendProxy = true
		case "send-proxy-v2":
			srv.SendProxyV2 = true
		case "proto":
			if v != "h2" && v != "h1" {
				return nil, fmt.Sprintf("'proto' : unknown MUX protocol '%s'.\n\n", v)
			}
			i++
			srv.Proto = v
		default:
			switch {
			case cfgOnly[k]:
				return nil, fmt.Sprintf("'%s' option is not accepted for dynamic server\n\n", k)
			case dynKeywords[k] || strings.HasPrefix(k, "force-") || strings.HasPrefix(k, "no-") ||
				k == "ssl" || k == "verify":
				return nil, fmt.Sprintf("'%s' is not supported on dynamic servers by halo yet.\n\n", k)
			}
			return nil, fmt.Sprintf("unknown keyword '%s'.\n\n", k)
		}
	}
	if srv.ID == 0 {
		id := 1
		for _, o := range be.Servers() {
			id = max(id, o.Server.ID+1)
		}
		srv.ID = id
	}
	return srv, ""
}

// durationUnit gives a bare number HAProxy's default unit, milliseconds.
func durationUnit(v string) string {
	if v != "" && v[len(v)-1] >= '0' && v[len(v)-1] <= '9' {
		return v + "ms"
	}
	return v
}

// setDynAddr reads ADDR[:PORT]: an IP address, unix@PATH or /PATH, or a
// host name, which a dynamic server does not resolve (init-addr none: it
// stays unresolved, as HAProxy 2.6's).
func setDynAddr(srv *proxy.Server, a string) error {
	srv.Host = a
	switch {
	case strings.HasPrefix(a, "unix@"):
		srv.Path = a[len("unix@"):]
		return nil
	case strings.HasPrefix(a, "/"):
		srv.Path = a
		return nil
	case strings.HasPrefix(a, "abns@"):
		srv.Path = "@" + a[len("abns@"):]
		return nil
	}
	host, port := a, ""
	if ap, err := netip.ParseAddrPort(a); err == nil {
		srv.Addr, srv.Port = ap.Addr().Unmap(), int(ap.Port())
		return nil
	}
	if ip, err := netip.ParseAddr(strings.Trim(a, "[]")); err == nil {
		srv.Addr = ip.Unmap()
		return nil
	}
	if i := strings.LastIndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i+1:]
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("invalid address: '%s'", a)
		}
		srv.Port = n
	}
	if host == "" {
		return fmt.Errorf("invalid address: '%s'", a)
	}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		srv.Addr = ip.Unmap()
		return nil
	}
	srv.Resolved = false // a name: no resolution at run time (init-addr none)
	return nil
}

func cmdDelServer(s *Stats, sess *Session, args []string) string {
	if len(args) == 0 {
		return "Require 'backend/server'.\n"
	}
	bk, name, ok := strings.Cut(args[0], "/")
	if !ok || bk == "" || name == "" {
		return "Require 'backend/server'.\n"
	}
	be := s.findBackend(bk)
	if be == nil {
		return "No such backend.\n"
	}
	ss := be.Server(name)
	if ss == nil {
		return "No such server.\n"
	}
	if err := be.DelServer(ss); err != nil {
		return err.Error() + "\n"
	}
	return "Server deleted.\n"
}

// setServerAddr is `set server B/S addr IP [port P]`: the address for the
// connections opened from now on, answered as HAProxy 2.6's
// srv_update_addr_port (each part says what changed; a bad port still
// lets the address change).
func setServerAddr(ss *proxy.ServerState, args []string) string {
	const by = " by 'stats socket command'\n\n"
	if len(args) == 0 {
		return "set server <b>/<s> addr requires an address and optionally a port.\n\n"
	}
	a, err := netip.ParseAddr(args[0])
	if err != nil {
		return "Invalid addr '" + args[0] + "'" + by
	}
	a = a.Unmap()
	old, port := ss.CurrentAddr()
	var msg string
	if old == a {
		msg = "no need to change the addr"
	} else {
		msg = fmt.Sprintf("IP changed from '%s' to '%s'", addrText(old), a)
	}
	if len(args) > 1 && args[1] == "port" {
		v := ""
		if len(args) > 2 {
			v = args[2]
		}
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 0 || n > 65535 || v[0] == '+' || v[0] == '-':
			// port maps (+N/-N) are not applied by halo
			msg += fmt.Sprintf(", problem converting port '%s' to an int", v)
		case n == port:
			msg += ", no need to change the port"
		default:
			msg += fmt.Sprintf(", port changed from '%d' to '%d'", port, n)
			port = n
		}
	}
	ss.SetAddr(a, port, ss.FQDN(), "stats socket command")
	return msg + by
}

// addrText prints an address as HAProxy does, "(none)" for none.
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return "(none)"
	}
	return a.String()
}
