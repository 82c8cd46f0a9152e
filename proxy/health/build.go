package health

import (
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"time"

	"halo/proxy"
)

// ForServer builds the check configuration of server s of backend px from
// the typed configuration: its health check (when s.Check) running rs,
// and its agent check.
func ForServer(g *proxy.Global, px *proxy.Proxy, s *proxy.Server, rs *Ruleset) ServerConfig {
	sc := ServerConfig{
		Proxy: px.Name, ProxyKind: ProxyKind(px), Server: s.Name, Backup: s.Backup,
		LogHealthChecks: px.LogHealthChecks,
		ShutdownOnDown:  s.OnMarkedDown == "shutdown-sessions",
		TrackBackend:    s.TrackBackend, TrackServer: s.TrackServer,
		Observe: s.Observe, OnError: s.OnError, ErrorLimit: s.ErrorLimit,
		IWeight: s.Weight, StateAddr: s.Addr.String(), StatePort: s.Port, Slowstart: s.Slowstart,
	}
	inter := s.Inter
	if inter <= 0 {
		inter = 2 * time.Second
	}
	bufsize := g.TuneBufsize
	if s.Check && rs != nil {
		addr := s.Addr
		if s.CheckAddr.IsValid() {
			addr = s.CheckAddr
		}
		port := s.CheckPort
		if port == 0 {
			port = s.CheckAddrPort
		}
		if port == 0 {
			port = s.Port
		}
		// Without a check port or address, checks use the traffic's
		// transport: TLS for `ssl` servers, the PROXY header for
		// send-proxy ones (HAProxy's init_srv_check).
		own := s.CheckPort == 0 && !s.CheckAddr.IsValid()
		tg := Target{
			Addr:         netip.AddrPortFrom(addr, uint16(port)),
			FollowServer: !s.CheckAddr.IsValid(), FollowPort: s.CheckPort == 0 && s.CheckAddrPort == 0,
			SNI: s.CheckSNI, ALPN: s.CheckALPN,
			SendProxy: s.CheckSendProxy || (own && (s.SendProxy || s.SendProxyV2)),
			ProxyV2:   s.SendProxyV2,
			// an HTTP check inherits the server's HTTP mux (init_srv_check)
			H2: s.CheckProto == "h2" || (s.CheckProto == "" && s.Proto == "h2" && rs.Proto == ProtoHTTP),
		}
		if s.CheckSSL || (own && s.SSL) {
			tg.TLS = checkTLS(s)
		}
		sc.Check = &CheckConfig{
			Rules: rs, Target: tg, Timing: timing(inter, px),
			Rise: s.Rise, Fall: s.Fall, Inter: inter, FastInter: s.FastInter, DownInter: s.DownInter,
			Bufsize: bufsize,
		}
	}
	if a := s.Agent; a != nil && a.Enabled {
		addr := s.Addr
		switch {
		case a.Addr.IsValid():
			addr = a.Addr
		case s.CheckAddr.IsValid():
			addr = s.CheckAddr
		}
		port := a.Port
		if port == 0 {
			port = s.CheckPort
		}
		ai := a.Inter
		if ai <= 0 {
			ai = inter
		}
		sc.Agent = &CheckConfig{
			Rules: agentRuleset(), Target: Target{Addr: netip.AddrPortFrom(addr, uint16(port))},
			Timing: timing(ai, px), Rise: 1, Fall: 1, Inter: ai,
			Send: a.Send, HasSend: a.HasSend, Bufsize: bufsize,
		}
	}
	return sc
}

func timing(inter time.Duration, px *proxy.Proxy) Timing {
	c, r := Timeouts(inter, px.Timeouts.Connect, px.Timeouts.Check)
	return Timing{Connect: c, Read: r, RefreshOnConnect: px.Timeouts.Check > 0}
}

// checkTLS is the TLS client of a server's checks: the certificate chain
// is verified with `verify required` (the name only with check-sni, as
// HAProxy checks no name without verifyhost), not with `verify none`.
func checkTLS(s *proxy.Server) *tls.Config {
	c := &tls.Config{InsecureSkipVerify: true}
	if s.Verify == "required" {
		c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			certs := make([]*x509.Certificate, 0, len(raw))
			for _, b := range raw {
				cert, err := x509.ParseCertificate(b)
				if err != nil {
					return err
				}
				certs = append(certs, cert)
			}
			if len(certs) == 0 {
				return x509.CertificateInvalidError{}
			}
			opts := x509.VerifyOptions{Intermediates: x509.NewCertPool(), DNSName: s.CheckSNI}
			for _, c := range certs[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := certs[0].Verify(opts)
			return err
		}
	}
	return c
}
