package compat

// The LVS half of keepalived.conf: virtual_server_group, virtual_server,
// real_server, the checkers, SSL and the LVS keywords of global_defs,
// decoded into lvs.Config (package lvs runs it). keepalived -t's own
// messages for these blocks are kept as they were; defaults are resolved
// the way check_data.c's validate_check_config does (virtual server →
// real server → checker).

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"halo/lvs"
	"halo/lvs/check"
	"halo/parser"
	"halo/vrrp"
)

// kaLVS is the LVS side of one LoadKeepalived call.
type kaLVS struct {
	cfg *lvs.Config
	vs  *kaVSDraft
	rs  *kaRSDraft
	ck  *kaCkDraft
	url *check.URL
	ssl check.TLSFiles
	vss []*kaVSDraft
	g   kaLVSGlobal
}

type kaLVSGlobal struct {
	smtpAlertChecker *bool
	logAllFailures   bool
	smtpHelo         string
	// notify_fifo (not vrrp_notify_fifo) and its script: the checkers
	// write to it too
	genericFIFO       string
	genericFIFOScript *lvs.Script
}

// kaTiming is the timing keywords at one level; nil = not set there.
type kaTiming struct {
	delayLoop, dbr, warmup, connTO *time.Duration
	retry                          *int
	alpha, inhibit, smtpAlert      *bool
	virtualhost                    string
}

type kaVSDraft struct {
	v         *lvs.VirtualServer
	pos       parser.Pos
	t         kaTiming
	methodSet bool
	rss       []*kaRSDraft
	sorryInh  bool
	sorryMeth *lvs.Method
	persist   bool
}

type kaRSDraft struct {
	r         *lvs.RealServer
	t         kaTiming
	methodSet bool
	checkers  []*kaCkDraft
}

type kaCkDraft struct {
	c         *check.Config
	t         kaTiming
	connIP    netip.Addr
	connPort  uint16
	trackFile string
	userSet   bool
	user      string
	pos       parser.Pos
}

func (c *kaCtx) lv() *kaLVS {
	if c.lvsState == nil {
		c.lvsState = &kaLVS{cfg: &lvs.Config{Groups: map[string]*lvs.Group{}}}
	}
	return c.lvsState
}

// initLVSSections builds the LVS keyword tables (called from init in
// keepalived_tables.go, in the same order as before).
func initLVSSections() {
	kaSSL = newKaSection("SSL", true, []kaRow{
		{"password", kaNoBlock, sslStr(func(t *check.TLSFiles, v string) { t.Password = v })},
		{"ca", kaNoBlock, sslStr(func(t *check.TLSFiles, v string) { t.CA = v })},
		{"certificate", kaNoBlock, sslStr(func(t *check.TLSFiles, v string) { t.Certificate = v })},
		{"key", kaNoBlock, sslStr(func(t *check.TLSFiles, v string) { t.Key = v })},
	})
	kaURL = newKaSection("url", true, urlRows())
	kaSMTPHost = newKaSection("host", true, connRows(false))
	common := append(connRows(true), timingRows()...)
	kaChecker = newKaSection("checker", true, append(append(common, checkerRows()...),
		kaRow{"host", kaSubBlock, decSMTPHost}))
	kaHTTPChecker = newKaSection("HTTP_GET", true, append(common, httpRows()...))
	rsRows := append(rsTimingRows(), rsRowsOwn()...)
	for _, k := range check.Kinds() {
		sec := &kaChecker
		if k.Name == "HTTP_GET" || k.Name == "SSL_GET" {
			sec = &kaHTTPChecker
		}
		rsRows = append(rsRows, kaRow{k.Name, kaSubBlock, decChecker(k, sec)})
	}
	rsRows = append(rsRows, kaRow{"BFD_CHECK", kaSubBlock, walkBlock(&kaChecker)})
	kaRS = newKaSection("real_server", true, rsRows)
	kaVS = newKaSection("virtual_server", true, vsRows())
}

// ---- virtual_server_group ----

func decVSGroup(c *kaCtx, d *parser.Directive, args []parser.Word) error {
	name, ok := c.arg(d, 0)
	if !ok {
		return nil
	}
	g := &lvs.Group{Name: name}
	for _, l := range d.Body {
		if l.Name == "fwmark" {
			if len(l.Args) == 0 {
				continue
			}
			n, err := strconv.ParseUint(l.Args[0].Value, 10, 32)
			if err != nil {
				continue
			}
			e := lvs.GroupEntry{FWMark: uint32(n)}
			if len(l.Args) > 1 {
				switch l.Args[1].Value {
				case "inet":
					e.Family = 4
				case "inet6":
					e.Family = 6
				}
			}
			g.Entries = append(g.Entries, e)
			continue
		}
		e, ok := parseVSGRange(l.Name)
		if !ok {
			c.errf(l.Pos, parser.KaGeneralError, "Invalid virtual server group IP address %s - skipping", l.Name)
			continue
		}
		if len(l.Args) > 0 {
			p, err := strconv.ParseUint(l.Args[0].Value, 10, 16)
			if err == nil {
				e.Port = uint16(p)
			}
		}
		g.Entries = append(g.Entries, e)
	}
	c.lv().cfg.Groups[name] = g
	return nil
}

// parseVSGRange reads A, A-B (last octet/hextet), A-FULLADDR or A/N.
func parseVSGRange(s string) (lvs.GroupEntry, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		p = p.Masked()
		first := p.Addr()
		last := first
		for a := first; p.Contains(a); a = a.Next() {
			last = a
		}
		return lvs.GroupEntry{First: first, Last: last}, true
	}
	lo, hi, rng := strings.Cut(s, "-")
	a, err := netip.ParseAddr(lo)
	if err != nil {
		return lvs.GroupEntry{}, false
	}
	if !rng {
		return lvs.GroupEntry{First: a, Last: a}, true
	}
	if b, err := netip.ParseAddr(hi); err == nil {
		return lvs.GroupEntry{First: a, Last: b}, b.Compare(a) >= 0
	}
	base := 10
	if a.Is6() {
		base = 16
	}
	n, err := strconv.ParseUint(hi, base, 16)
	if err != nil {
		return lvs.GroupEntry{}, false
	}
	b := a.AsSlice()
	if a.Is4() {
		if n > 255 || byte(n) < b[3] {
			return lvs.GroupEntry{}, false
		}
		b[3] = byte(n)
	} else {
		cur := uint64(b[14])<<8 | uint64(b[15])
		if n < cur {
			return lvs.GroupEntry{}, false
		}
		b[14], b[15] = byte(n>>8), byte(n)
	}
	last, _ := netip.AddrFromSlice(b)
	return lvs.GroupEntry{First: a, Last: last}, true
}

// ---- virtual_server ----

// kaVServer is what the LVS checks keepalived makes at -t need to know
// about the virtual_server being read.
type kaVServer struct {
	addr, port  string
	fwmark      bool
	method      string
	protocol    string
	realServers int
}

func decVirtualServer(c *kaCtx, d *parser.Directive, args []parser.Word) error {
	if len(args) == 0 {
		c.arg(d, 0)
		return nil
	}
	vs := &kaVServer{addr: args[0].Value}
	if len(args) > 1 {
		vs.port = args[1].Value
	}
	draft := &kaVSDraft{v: &lvs.VirtualServer{Where: fmt.Sprintf("%s:%d", d.Pos.File, d.Pos.Line), Quorum: 1}, pos: d.Pos}
	switch args[0].Value {
	case "group":
		draft.v.Group = vs.port
	case "fwmark":
		vs.fwmark = true
		n, _ := strconv.ParseUint(vs.port, 10, 32)
		draft.v.FWMark = uint32(n)
	default:
		a, err := netip.ParseAddr(args[0].Value)
		if err != nil {
			c.errf(d.Pos, parser.KaGeneralError, "Invalid virtual server IP address/port %s/%s - skipping", args[0].Value, vs.port)
			return nil
		}
		port := uint64(0)
		if vs.port != "" {
			port, _ = strconv.ParseUint(vs.port, 10, 16)
		}
		draft.v.Addr = netip.AddrPortFrom(a, uint16(port))
		draft.v.Family = 4
		if a.Is6() && !a.Is4In6() {
			draft.v.Family = 6
		}
		for i := 2; i+1 < len(args); i++ {
			if args[i].Value == "dev" && c.ifaces != nil && !c.ifaces[args[i+1].Value] {
				c.errf(d.Pos, parser.KaGeneralError, "WARNING - interface %s for ip address %s doesn't exist", args[i+1].Value, vs.addr)
				c.markBadIf(d.Pos)
			}
		}
	}
	prev, prevDraft := c.vs, c.lv().vs
	c.vs = vs
	c.lv().vs = draft
	c.walk(kaVS, d)
	c.vs, c.lv().vs = prev, prevDraft
	if c.stop {
		return nil
	}
	// keepalived's checks on a complete virtual server (check_parser.c)
	if vs.realServers == 0 && args[0].Value != "group" {
		name := "FWM " + vs.port
		if !vs.fwmark {
			proto := vs.protocol
			if proto == "" {
				proto = "none"
			}
			name = fmt.Sprintf("[%s]:%s:%s", vs.addr, proto, vs.port)
		}
		c.errf(d.Pos, parser.KaGeneralError, "Virtual server %s has no real servers - ignoring", name)
		return nil
	}
	switch {
	case vs.fwmark:
		if vs.protocol != "" {
			c.errf(d.Pos, parser.KaWarning, "Warning: Virtual server FWM %s: protocol specified for fwmark - protocol will be ignored", vs.port)
			draft.v.Proto = lvs.ProtoNone
		}
	case vs.protocol == "" && args[0].Value != "group":
		c.errf(d.Pos, parser.KaWarning, "Virtual server [%s]:none:%s: no protocol set - defaulting to UDP", vs.addr, vs.port)
		vs.protocol = "udp"
		draft.v.Proto = lvs.ProtoUDP
	case vs.protocol == "":
		draft.v.Proto = lvs.ProtoUDP
	}
	if vs.method == "" && !vs.fwmark && args[0].Value != "group" {
		c.errf(d.Pos, parser.KaWarning, "Virtual server [%s]:%s:%s: no forwarding method set, setting default NAT", vs.addr, vs.protocol, vs.port)
	}
	c.lv().vss = append(c.lv().vss, draft)
	return nil
}

func vsRows() []kaRow {
	vsD := func(f func(c *kaCtx, v *kaVSDraft, d *parser.Directive)) kaDec {
		return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if v := c.lv().vs; v != nil {
				f(c, v, d)
			}
			return nil
		}
	}
	flag := func(bit uint32) kaDec {
		return vsD(func(c *kaCtx, v *kaVSDraft, d *parser.Directive) { v.v.Flags |= bit })
	}
	rows := []kaRow{
		{"lb_kind", kaNoBlock, decVSMethod}, {"lvs_method", kaNoBlock, decVSMethod},
		{"protocol", kaNoBlock, decVSProtocol}, {"quorum", kaNoBlock, decVSQuorum},
		{"lb_algo", kaNoBlock, decVSSched}, {"lvs_sched", kaNoBlock, decVSSched},
		{"persistence_timeout", kaNoBlock, vsD(func(c *kaCtx, v *kaVSDraft, d *parser.Directive) {
			v.persist = true
			v.v.PersistenceTimeout = 360 * time.Second
			if len(d.Args) > 0 {
				if n, ok := c.unsigned(d.Pos, d.Args[0].Value, 1, 0xffffffff); ok {
					v.v.PersistenceTimeout = time.Duration(n) * time.Second
				}
			}
		})},
		{"persistence_granularity", kaNoBlock, vsD(func(c *kaCtx, v *kaVSDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				if a, err := netip.ParseAddr(d.Args[0].Value); err == nil {
					v.v.PersistenceMask = a
				} else if n, err := strconv.Atoi(d.Args[0].Value); err == nil && n >= 0 && n <= 128 {
					if n <= 32 {
						p := netip.PrefixFrom(netip.IPv4Unspecified(), n)
						v.v.PersistenceMask = maskOf(p)
					}
				}
			}
		})},
		{"persistence_engine", kaNoBlock, vsD(func(c *kaCtx, v *kaVSDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				v.v.PersistenceEngine = d.Args[0].Value
			}
		})},
		{"virtualhost", kaNoBlock, vsD(func(c *kaCtx, v *kaVSDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				v.t.virtualhost = d.Args[0].Value
			}
		})},
		{"sorry_server", kaNoBlock, vsD(func(c *kaCtx, v *kaVSDraft, d *parser.Directive) {
			if len(d.Args) == 0 {
				return
			}
			a, err := netip.ParseAddr(d.Args[0].Value)
			if err != nil {
				c.errf(d.Pos, parser.KaGeneralError, "Invalid sorry server IP address %s - skipping", d.Args[0].Value)
				return
			}
			port := uint64(0)
			if len(d.Args) > 1 {
				port, _ = strconv.ParseUint(d.Args[1].Value, 10, 16)
			}
			v.v.Sorry = &lvs.RealServer{Addr: netip.AddrPortFrom(a, uint16(port)), Weight: 1}
		})},
		{"sorry_server_inhibit", kaNoBlock, vsD(func(c *kaCtx, v *kaVSDraft, d *parser.Directive) {
			v.sorryInh = len(d.Args) == 0 || !kaIsFalse(d.Args[0].Value)
		})},
		{"sorry_server_lvs_method", kaNoBlock, vsD(func(c *kaCtx, v *kaVSDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				if m, ok := parseMethod(d.Args[0].Value); ok {
					v.sorryMeth = &m
					c.methodNote(d, m)
				}
			}
		})},
		{"quorum_up", kaNoBlock, vsD(func(c *kaCtx, v *kaVSDraft, d *parser.Directive) { v.v.QuorumUp = c.lvsScript(d) })},
		{"quorum_down", kaNoBlock, vsD(func(c *kaCtx, v *kaVSDraft, d *parser.Directive) { v.v.QuorumDown = c.lvsScript(d) })},
		{"hysteresis", kaNoBlock, vsD(func(c *kaCtx, v *kaVSDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				if n, ok := c.unsigned(d.Pos, d.Args[0].Value, 0, 0xffffffff); ok {
					v.v.Hysteresis = int(n)
				}
			}
		})},
		{"omega", kaNoBlock, vsD(func(c *kaCtx, v *kaVSDraft, d *parser.Directive) { v.v.Omega = true })},
		{"ha_suspend", kaNoBlock, vsD(func(c *kaCtx, v *kaVSDraft, d *parser.Directive) { v.v.HASuspend = true })},
		{"ops", kaNoBlock, flag(lvs.FlagOnePacket)},
		{"flag-1", kaNoBlock, flag(lvs.FlagSched1)}, {"flag-2", kaNoBlock, flag(lvs.FlagSched2)},
		{"flag-3", kaNoBlock, flag(lvs.FlagSched3)}, {"sh-fallback", kaNoBlock, flag(lvs.FlagSched1)},
		{"sh-port", kaNoBlock, flag(lvs.FlagSched2)}, {"mh-fallback", kaNoBlock, flag(lvs.FlagSched1)},
		{"mh-port", kaNoBlock, flag(lvs.FlagSched2)}, {"hash", kaNoBlock, flag(lvs.FlagHashed)},
		{"ip_family", kaNoBlock, vsD(func(c *kaCtx, v *kaVSDraft, d *parser.Directive) {
			if len(d.Args) > 0 && d.Args[0].Value == "inet6" {
				v.v.Family = 6
			} else if len(d.Args) > 0 {
				v.v.Family = 4
			}
		})},
		{"smtp_alert", kaNoBlock, vsD(func(c *kaCtx, v *kaVSDraft, d *parser.Directive) { v.t.smtpAlert = boolPtr(d) })},
		{"notify_up", kaNoBlock, skip}, {"notify_down", kaNoBlock, skip},
		{"tunnel_encap", kaNoBlock, skip}, {"snmp_name", kaNoBlock, skip},
	}
	rows = append(rows, levelTimingRows(func(c *kaCtx) *kaTiming {
		if v := c.lv().vs; v != nil {
			return &v.t
		}
		return nil
	})...)
	rows = append(rows, kaRow{"real_server", kaSubBlock, decRealServer})
	return rows
}

// maskOf turns a prefix length into a netmask address.
func maskOf(p netip.Prefix) netip.Addr {
	var b [4]byte
	for i := 0; i < p.Bits(); i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(b)
}

func boolPtr(d *parser.Directive) *bool {
	v := len(d.Args) == 0 || !kaIsFalse(d.Args[0].Value)
	return &v
}

func parseMethod(s string) (lvs.Method, bool) {
	switch s {
	case "NAT":
		return lvs.NAT, true
	case "DR":
		return lvs.DR, true
	case "TUN":
		return lvs.TUN, true
	}
	return 0, false
}

// methodNote says, at -t, what DR/TUN become without the kernel's IPVS.
func (c *kaCtx) methodNote(d *parser.Directive, m lvs.Method) {
	if m == lvs.NAT {
		return
	}
	c.r.Diags = append(c.r.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevNotice,
		Msg: fmt.Sprintf("'%s %s' is partial: %s forwarding needs the kernel's IPVS; where it is missing, halo proxies the service in userspace as NAT (the real servers see this host as the client)", d.Name, m, m)})
}

func decVSMethod(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
	v, ok := c.arg(d, 0)
	if !ok || c.vs == nil {
		return nil
	}
	m, good := parseMethod(v)
	if !good {
		c.errf(d.Pos, parser.KaGeneralError, "PARSER : unknown [%s] routing method for virtual server.", v)
		return nil
	}
	c.vs.method = v
	if dr := c.lv().vs; dr != nil {
		dr.v.Method, dr.methodSet = m, true
	}
	c.methodNote(d, m)
	return nil
}

func decVSProtocol(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
	v, ok := c.arg(d, 0)
	if !ok || c.vs == nil {
		return nil
	}
	switch v {
	case "TCP", "UDP", "SCTP":
		c.vs.protocol = strings.ToLower(v)
		if dr := c.lv().vs; dr != nil {
			dr.v.Proto = map[string]lvs.Proto{"TCP": lvs.ProtoTCP, "UDP": lvs.ProtoUDP, "SCTP": lvs.ProtoSCTP}[v]
		}
		if v == "SCTP" {
			c.r.Diags = append(c.r.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevNotice,
				Msg: "'protocol SCTP' is partial: SCTP services need the kernel's IPVS; halo's userspace path does not serve them"})
		}
	default:
		c.errf(d.Pos, parser.KaGeneralError, "Unknown protocol %s - ignoring", v)
	}
	return nil
}

func decVSQuorum(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
	v, ok := c.arg(d, 0)
	if !ok {
		return nil
	}
	n, good := c.unsigned(d.Pos, v, 1, 0xffffffff)
	if !good {
		c.errf(d.Pos, parser.KaGeneralError, "Quorum %s must be in [1, %d]. Setting to 1.", v, uint64(0xffffffff))
		n = 1
	}
	if dr := c.lv().vs; dr != nil {
		dr.v.Quorum = int(n)
	}
	return nil
}

func decVSSched(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
	v, ok := c.arg(d, 0)
	dr := c.lv().vs
	if !ok || dr == nil {
		return nil
	}
	for _, s := range lvs.Schedulers() {
		if s == v {
			dr.v.Sched = v
			return nil
		}
	}
	// keepalived hands the name to the kernel, which refuses it at run
	c.r.Diags = append(c.r.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevNotice,
		Msg: fmt.Sprintf("'%s %s': halo knows no scheduler %s; the virtual server is not run", d.Name, v, v)})
	dr.v.Sched = v
	return nil
}

// levelTimingRows are the timing keywords a virtual server, a real
// server and a checker share, writing the level's kaTiming.
func levelTimingRows(at func(c *kaCtx) *kaTiming) []kaRow {
	tm := func(set func(t *kaTiming, v time.Duration), lo float64) kaDec {
		return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			t := at(c)
			v, ok := c.arg(d, 0)
			if !ok || t == nil {
				return nil
			}
			if dur, ok := c.timer(d.Pos, v, lo, 4294967); ok {
				set(t, dur)
			}
			return nil
		}
	}
	return []kaRow{
		{"delay_loop", kaNoBlock, tm(func(t *kaTiming, v time.Duration) { t.delayLoop = &v }, 0.000001)},
		{"delay_before_retry", kaNoBlock, tm(func(t *kaTiming, v time.Duration) { t.dbr = &v }, 0)},
		{"warmup", kaNoBlock, tm(func(t *kaTiming, v time.Duration) { t.warmup = &v }, 0)},
		{"connect_timeout", kaNoBlock, tm(func(t *kaTiming, v time.Duration) { t.connTO = &v }, 0.000001)},
		{"retry", kaNoBlock, func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			t := at(c)
			v, ok := c.arg(d, 0)
			if !ok || t == nil {
				return nil
			}
			if n, ok := c.unsigned(d.Pos, v, 0, 0xffffffff); ok {
				r := int(n)
				t.retry = &r
			}
			return nil
		}},
		{"alpha", kaNoBlock, func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if t := at(c); t != nil {
				t.alpha = boolPtr(d)
			}
			return nil
		}},
		{"inhibit_on_failure", kaNoBlock, func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if t := at(c); t != nil {
				t.inhibit = boolPtr(d)
			}
			return nil
		}},
	}
}

// ---- real_server ----

func decRealServer(c *kaCtx, d *parser.Directive, args []parser.Word) error {
	if c.vs != nil {
		c.vs.realServers++
	}
	vd := c.lv().vs
	var rd *kaRSDraft
	if vd != nil && len(args) > 0 {
		if a, err := netip.ParseAddr(args[0].Value); err == nil {
			port := uint64(0)
			if len(args) > 1 {
				port, _ = strconv.ParseUint(args[1].Value, 10, 16)
			}
			rd = &kaRSDraft{r: &lvs.RealServer{Addr: netip.AddrPortFrom(a, uint16(port)), Weight: 1}}
			vd.rss = append(vd.rss, rd)
		} else {
			c.errf(d.Pos, parser.KaGeneralError, "Invalid real server ip address %s - skipping", args[0].Value)
		}
	}
	prev := c.lv().rs
	c.lv().rs = rd
	c.walk(kaRS, d)
	c.lv().rs = prev
	return nil
}

func rsTimingRows() []kaRow {
	return levelTimingRows(func(c *kaCtx) *kaTiming {
		if r := c.lv().rs; r != nil {
			return &r.t
		}
		return nil
	})
}

func rsRowsOwn() []kaRow {
	rsD := func(f func(c *kaCtx, r *kaRSDraft, d *parser.Directive)) kaDec {
		return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if r := c.lv().rs; r != nil {
				f(c, r, d)
			}
			return nil
		}
	}
	u32 := func(set func(r *lvs.RealServer, v uint32)) kaDec {
		return rsD(func(c *kaCtx, r *kaRSDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				if n, ok := c.unsigned(d.Pos, d.Args[0].Value, 0, 0xffffffff); ok {
					set(r.r, uint32(n))
				}
			}
		})
	}
	method := rsD(func(c *kaCtx, r *kaRSDraft, d *parser.Directive) {
		if len(d.Args) > 0 {
			if m, ok := parseMethod(d.Args[0].Value); ok {
				r.r.Method, r.methodSet = m, true
				c.methodNote(d, m)
			}
		}
	})
	return []kaRow{
		{"weight", kaNoBlock, rsD(func(c *kaCtx, r *kaRSDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				if n, ok := c.integer(d.Pos, d.Args[0].Value, -2147483648, 2147483647); ok {
					r.r.Weight = int(n)
				}
			}
		})},
		{"notify_up", kaNoBlock, rsD(func(c *kaCtx, r *kaRSDraft, d *parser.Directive) { r.r.NotifyUp = c.lvsScript(d) })},
		{"notify_down", kaNoBlock, rsD(func(c *kaCtx, r *kaRSDraft, d *parser.Directive) { r.r.NotifyDown = c.lvsScript(d) })},
		{"uthreshold", kaNoBlock, u32(func(r *lvs.RealServer, v uint32) { r.UThreshold = v })},
		{"lthreshold", kaNoBlock, u32(func(r *lvs.RealServer, v uint32) { r.LThreshold = v })},
		{"smtp_alert", kaNoBlock, rsD(func(c *kaCtx, r *kaRSDraft, d *parser.Directive) { r.t.smtpAlert = boolPtr(d) })},
		{"virtualhost", kaNoBlock, rsD(func(c *kaCtx, r *kaRSDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				r.t.virtualhost = d.Args[0].Value
			}
		})},
		{"lvs_method", kaNoBlock, method}, {"lb_kind", kaNoBlock, method},
		{"tunnel_encap", kaNoBlock, skip}, {"tunnel_nocsum", kaNoBlock, skip}, {"tunnel_csum", kaNoBlock, skip},
		{"tunnel_remcsum", kaNoBlock, skip}, {"snmp_name", kaNoBlock, skip},
	}
}

// lvsScript reads notify_up/notify_down/quorum_up/quorum_down:
// "CMD [user [group]]".
func (c *kaCtx) lvsScript(d *parser.Directive) *lvs.Script {
	if len(d.Args) == 0 {
		return nil
	}
	cmd := d.Args[0].Value
	argv, err := parser.SplitScript(cmd)
	if err != nil || len(argv) == 0 {
		return nil
	}
	s := &lvs.Script{Cmd: cmd, Argv: argv}
	if len(d.Args) > 1 {
		if uid, gid, ok := c.lookupUser(d.Args[1].Value); ok {
			s.UID, s.GID = uint32(uid), uint32(gid)
		}
	} else if c.global.uid > 0 {
		s.UID, s.GID = uint32(c.global.uid), uint32(c.global.gid)
	}
	return s
}

// ---- checkers ----

func decChecker(k check.Kind, sec **kaSection) kaDec {
	return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
		r := c.lv().rs
		var ck *kaCkDraft
		if r != nil {
			ck = &kaCkDraft{c: &check.Config{Kind: k.Name}, pos: d.Pos}
			r.checkers = append(r.checkers, ck)
		}
		prev := c.lv().ck
		c.lv().ck = ck
		c.walk(*sec, d)
		c.lv().ck = prev
		if ck != nil && (k.Name == "HTTP_GET" || k.Name == "SSL_GET") && len(ck.c.URLs) == 0 {
			// keepalived drops it ("has no urls specified - ignoring")
			r.checkers = r.checkers[:len(r.checkers)-1]
		}
		return nil
	}
}

func ckD(f func(c *kaCtx, k *kaCkDraft, d *parser.Directive)) kaDec {
	return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
		if k := c.lv().ck; k != nil {
			f(c, k, d)
		}
		return nil
	}
}

// connRows are the connection keywords; inHost says they belong to an
// SMTP host block rather than the checker itself.
func connRows(timing bool) []kaRow {
	addr := func(set func(k *kaCkDraft, a netip.Addr)) kaDec {
		return ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				if a, err := netip.ParseAddr(d.Args[0].Value); err == nil {
					set(k, a)
				}
			}
		})
	}
	port := func(set func(k *kaCkDraft, p uint16)) kaDec {
		return ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				if n, err := strconv.ParseUint(d.Args[0].Value, 10, 16); err == nil && n > 0 {
					set(k, uint16(n))
				}
			}
		})
	}
	rows := []kaRow{
		{"connect_ip", kaNoBlock, addr(func(k *kaCkDraft, a netip.Addr) { k.connIP = a })},
		{"connect_port", kaNoBlock, port(func(k *kaCkDraft, p uint16) { k.connPort = p })},
		{"bindto", kaNoBlock, addr(func(k *kaCkDraft, a netip.Addr) { k.c.BindAddr = a })},
		{"bind_port", kaNoBlock, port(func(k *kaCkDraft, p uint16) { k.c.BindPort = p })},
		{"bind_if", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				k.c.BindIf = d.Args[0].Value
			}
		})},
		{"fwmark", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				if n, err := strconv.ParseUint(d.Args[0].Value, 10, 32); err == nil {
					k.c.FWMark = uint32(n)
				}
			}
		})},
	}
	if !timing {
		rows = append(rows, levelTimingRows(func(c *kaCtx) *kaTiming {
			if k := c.lv().ck; k != nil {
				return &k.t
			}
			return nil
		})[3]) // connect_timeout
	}
	return rows
}

func timingRows() []kaRow {
	rows := levelTimingRows(func(c *kaCtx) *kaTiming {
		if k := c.lv().ck; k != nil {
			return &k.t
		}
		return nil
	})
	out := rows[:0:0]
	for _, r := range rows {
		if r.name != "inhibit_on_failure" {
			out = append(out, r)
		}
	}
	return append(out,
		kaRow{"log_all_failures", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) { k.c.LogAllFailures = *boolPtr(d) })},
		kaRow{"source_ip", kaNoBlock, skip})
}

func checkerRows() []kaRow {
	return []kaRow{
		{"misc_path", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				argv, err := parser.SplitScript(d.Args[0].Value)
				if err == nil {
					k.c.MiscPath = argv
				}
			}
		})},
		{"misc_timeout", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				if t, ok := c.timer(d.Pos, d.Args[0].Value, 0, 4294967); ok {
					k.c.MiscTimeout = t
				}
			}
		})},
		{"misc_dynamic", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) { k.c.MiscDynamic = *boolPtr(d) })},
		{"user", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				k.userSet, k.user = true, d.Args[0].Value
				if uid, gid, ok := c.lookupUser(d.Args[0].Value); ok {
					k.c.UID, k.c.GID = uint32(uid), uint32(gid)
				}
			}
		})},
		{"helo_name", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				k.c.HeloName = d.Args[0].Value
			}
		})},
		{"type", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				k.c.DNSType = strings.ToUpper(d.Args[0].Value)
			}
		})},
		{"name", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				k.c.DNSName = d.Args[0].Value
			}
		})},
		{"payload", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if n, _, err := check.ParseHexPayload(wordsOf(d.Args), false); err == nil {
				k.c.Payload = check.NibblesToBytes(n)
			}
		})},
		{"require_reply", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			k.c.RequireReply = true
			if n, m, err := check.ParseHexPayload(wordsOf(d.Args), true); err == nil {
				k.c.ReplyPattern, k.c.ReplyMask = n, m
			}
		})},
		{"min_reply_length", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				k.c.MinReplyLength, _ = strconv.Atoi(d.Args[0].Value)
			}
		})},
		{"max_reply_length", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				k.c.MaxReplyLength, _ = strconv.Atoi(d.Args[0].Value)
			}
		})},
		{"track_file", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				k.trackFile = d.Args[0].Value
			}
		})},
		{"weight", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				k.c.FileWeight, _ = strconv.Atoi(d.Args[0].Value)
				k.c.FileReverse = len(d.Args) > 1 && d.Args[1].Value == "reverse"
			}
		})},
		{"dynamic", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) { k.c.FileDynamic = *boolPtr(d) })},
	}
}

func wordsOf(ws []parser.Word) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Value
	}
	return out
}

// decSMTPHost is an SMTP_CHECK host block: one more SMTP checker with
// the block's connection settings.
func decSMTPHost(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
	parent, r := c.lv().ck, c.lv().rs
	var ck *kaCkDraft
	if parent != nil && r != nil {
		cp := *parent.c
		ck = &kaCkDraft{c: &cp, t: parent.t, pos: d.Pos}
		r.checkers = append(r.checkers, ck)
	}
	c.lv().ck = ck
	c.walk(kaSMTPHost, d)
	c.lv().ck = parent
	return nil
}

func httpRows() []kaRow {
	return []kaRow{
		{"virtualhost", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
			if len(d.Args) > 0 {
				k.t.virtualhost = d.Args[0].Value
			}
		})},
		{"enable_sni", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) { k.c.EnableSNI = *boolPtr(d) })},
		{"fast_recovery", kaNoBlock, ckD(func(c *kaCtx, k *kaCkDraft, d *parser.Directive) { k.c.FastRecovery = *boolPtr(d) })},
		{"tls_compliant", kaNoBlock, skip},
		{"protocol", kaNoBlock, ckD(httpProto)}, {"http_protocol", kaNoBlock, ckD(httpProto)},
		{"url", kaSubBlock, func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			k := c.lv().ck
			var u *check.URL
			if k != nil {
				k.c.URLs = append(k.c.URLs, check.URL{})
				u = &k.c.URLs[len(k.c.URLs)-1]
			}
			prev := c.lv().url
			c.lv().url = u
			c.walk(kaURL, d)
			c.lv().url = prev
			if k != nil && u.Path == "" {
				k.c.URLs = k.c.URLs[:len(k.c.URLs)-1]
			}
			return nil
		}},
		{"nb_get_retry", kaNoBlock, func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			c.errf(d.Pos, parser.KaDeprecated, "nb_get_retry is deprecated - please use 'retry'")
			if k := c.lv().ck; k != nil && len(d.Args) > 0 {
				if n, err := strconv.Atoi(d.Args[0].Value); err == nil && n >= 0 {
					k.t.retry = &n
				}
			}
			return nil
		}},
	}
}

func httpProto(c *kaCtx, k *kaCkDraft, d *parser.Directive) {
	if len(d.Args) > 0 {
		switch d.Args[0].Value {
		case "1.0", "1.1", "1.0C":
			k.c.HTTPProtocol = d.Args[0].Value
		case "1.0c":
			k.c.HTTPProtocol = "1.0C"
		}
	}
}

func urlRows() []kaRow {
	uD := func(f func(c *kaCtx, u *check.URL, d *parser.Directive)) kaDec {
		return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if u := c.lv().url; u != nil {
				f(c, u, d)
			}
			return nil
		}
	}
	off := func(set func(u *check.URL, n int)) kaDec {
		return uD(func(c *kaCtx, u *check.URL, d *parser.Directive) {
			if len(d.Args) > 0 {
				if n, err := strconv.Atoi(d.Args[0].Value); err == nil && n >= 0 {
					set(u, n)
				}
			}
		})
	}
	return []kaRow{
		{"path", kaNoBlock, uD(func(c *kaCtx, u *check.URL, d *parser.Directive) {
			if len(d.Args) > 0 {
				u.Path = d.Args[0].Value
			}
		})},
		{"digest", kaNoBlock, uD(func(c *kaCtx, u *check.URL, d *parser.Directive) {
			if len(d.Args) == 0 {
				return
			}
			b, err := hex.DecodeString(d.Args[0].Value)
			if err != nil || len(b) != 16 {
				c.r.Diags = append(c.r.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevNotice,
					Msg: fmt.Sprintf("digest '%s' is not 32 hex digits: the url is checked without it", d.Args[0].Value)})
				return
			}
			u.Digest = b
		})},
		{"status_code", kaNoBlock, uD(func(c *kaCtx, u *check.URL, d *parser.Directive) {
			for _, a := range d.Args {
				lo, hi, rng := strings.Cut(a.Value, "-")
				l, err1 := strconv.Atoi(lo)
				h := l
				var err2 error
				if rng {
					h, err2 = strconv.Atoi(hi)
				}
				if err1 != nil || err2 != nil || l < 100 || h > 999 || l > h {
					continue
				}
				u.StatusCodes = append(u.StatusCodes, [2]int{l, h})
			}
		})},
		{"virtualhost", kaNoBlock, uD(func(c *kaCtx, u *check.URL, d *parser.Directive) {
			if len(d.Args) > 0 {
				u.VirtualHost = d.Args[0].Value
			}
		})},
		{"regex", kaNoBlock, uD(func(c *kaCtx, u *check.URL, d *parser.Directive) {
			if len(d.Args) > 0 {
				u.Regex = d.Args[0].Value
			}
		})},
		{"regex_no_match", kaNoBlock, uD(func(c *kaCtx, u *check.URL, d *parser.Directive) { u.RegexNo = true })},
		{"regex_options", kaNoBlock, uD(func(c *kaCtx, u *check.URL, d *parser.Directive) {
			for _, a := range d.Args {
				switch a.Value {
				case "caseless":
					u.Regex = "(?i)" + u.Regex
				case "multiline":
					u.Regex = "(?m)" + u.Regex
				case "dotall":
					u.Regex = "(?s)" + u.Regex
				case "ungreedy":
					u.Regex = "(?U)" + u.Regex
				}
			}
		})},
		{"regex_stack", kaNoBlock, skip},
		{"regex_min_offset", kaNoBlock, off(func(u *check.URL, n int) { u.RegexMin = n })},
		{"regex_max_offset", kaNoBlock, off(func(u *check.URL, n int) { u.RegexMax = n + 1 })},
	}
}

func sslStr(set func(t *check.TLSFiles, v string)) kaDec {
	return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
		if len(d.Args) > 0 {
			set(&c.lv().ssl, d.Args[0].Value)
		}
		return nil
	}
}

// ---- global_defs ----

func lvsGlobalRows() []kaRow {
	g := func(f func(c *kaCtx, g *lvs.Global, d *parser.Directive)) kaDec {
		return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			f(c, &c.lv().cfg.Global, d)
			return nil
		}
	}
	secs := func(s string) time.Duration {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	return []kaRow{
		{"lvs_flush", kaNoBlock, g(func(c *kaCtx, g *lvs.Global, d *parser.Directive) { g.Flush = true })},
		{"lvs_flush_on_stop", kaNoBlock, g(func(c *kaCtx, g *lvs.Global, d *parser.Directive) {
			g.FlushOnStop = lvs.FlushOnStopFull
			if len(d.Args) > 0 && d.Args[0].Value == "VS" {
				g.FlushOnStop = lvs.FlushOnStopVS
			}
		})},
		{"lvs_timeouts", kaNoBlock, g(func(c *kaCtx, g *lvs.Global, d *parser.Directive) {
			for i := 0; i+1 < len(d.Args); i += 2 {
				switch d.Args[i].Value {
				case "tcp":
					g.TimeoutTCP = secs(d.Args[i+1].Value)
				case "tcpfin":
					g.TimeoutTCPFin = secs(d.Args[i+1].Value)
				case "udp":
					g.TimeoutUDP = secs(d.Args[i+1].Value)
				}
			}
		})},
		{"lvs_sync_daemon", kaNoBlock, g(func(c *kaCtx, g *lvs.Global, d *parser.Directive) {
			if len(d.Args) == 0 {
				return
			}
			sd := &lvs.SyncDaemon{Interface: d.Args[0].Value}
			for i := 1; i < len(d.Args); i++ {
				next := ""
				if i+1 < len(d.Args) {
					next = d.Args[i+1].Value
				}
				switch d.Args[i].Value {
				case "inst":
					sd.Instance = next
					i++
				case "id":
					n, _ := strconv.ParseUint(next, 10, 8)
					sd.SyncID = uint8(n)
					i++
				case "maxlen":
					n, _ := strconv.ParseUint(next, 10, 16)
					sd.MaxLen = uint16(n)
					i++
				case "port":
					n, _ := strconv.ParseUint(next, 10, 16)
					sd.Port = uint16(n)
					i++
				case "ttl":
					n, _ := strconv.ParseUint(next, 10, 8)
					sd.TTL = uint8(n)
					i++
				case "group":
					sd.Group, _ = netip.ParseAddr(next)
					i++
				default:
					if i == 1 {
						sd.Instance = d.Args[i].Value // "inst" may be omitted
					}
				}
			}
			g.SyncDaemon = sd
		})},
		{"lvs_notify_fifo", kaNoBlock, g(func(c *kaCtx, g *lvs.Global, d *parser.Directive) {
			if len(d.Args) > 0 {
				g.NotifyFIFO = d.Args[0].Value
			}
		})},
		{"lvs_notify_fifo_script", kaNoBlock, g(func(c *kaCtx, g *lvs.Global, d *parser.Directive) {
			g.NotifyFIFOScript = c.lvsScript(d)
		})},
		{"checker_log_all_failures", kaNoBlock, func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			c.lv().g.logAllFailures = c.globalBool(d)
			return nil
		}},
		{"rs_init_notifies", kaNoBlock, g(func(c *kaCtx, g *lvs.Global, d *parser.Directive) { g.RSInitNotifies = true })},
		{"no_checker_emails", kaNoBlock, g(func(c *kaCtx, g *lvs.Global, d *parser.Directive) { g.NoCheckerMails = true })},
		{"smtp_alert_checker", kaNoBlock, func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			v := c.globalBool(d)
			c.lv().g.smtpAlertChecker = &v
			return nil
		}},
	}
}

// ---- resolution ----

// LoadKeepalivedLVS is LoadKeepalived, also returning the LVS side (nil
// when the configuration has no virtual server).
func LoadKeepalivedLVS(path string, opt KeepalivedOptions) (*vrrp.Config, *lvs.Config, *Report) {
	c, r := loadKeepalived(path, opt)
	if r.Fatal() {
		return nil, nil, r
	}
	return c.cfg, c.finishLVS(), r
}

// finishLVS resolves defaults (validate_check_config) and builds the
// runnable virtual servers.
func (c *kaCtx) finishLVS() *lvs.Config {
	if c.lvsState == nil || len(c.lvsState.vss) == 0 {
		return nil
	}
	l := c.lvsState
	out := l.cfg
	g := &c.cfg.Global
	out.Global.RouterID = g.RouterID
	out.Global.GenericFIFO = l.g.genericFIFO
	out.Global.GenericFIFOScript = l.g.genericFIFOScript
	if out.Global.NotifyFIFO == "" {
		out.Global.NotifyFIFOScript = nil // keepalived runs no script without its FIFO
	}
	vsAlert, rsAlert := false, true
	switch {
	case l.g.smtpAlertChecker != nil:
		vsAlert, rsAlert = *l.g.smtpAlertChecker, *l.g.smtpAlertChecker
	case g.SMTPAlert:
		vsAlert, rsAlert = true, true
	}
	out.Global.SMTPAlert = vsAlert
	for _, vd := range l.vss {
		v := vd.v
		if v.Group != "" && out.Groups[v.Group] == nil {
			continue // keepalived: the group does not exist; nothing to run
		}
		if v.Sched == "" {
			v.Sched = "wlc" // IPVS_DEF_SCHED
		}
		if v.Family == 0 {
			v.Family = 4
		}
		v.SMTPAlert = pick(vd.t.smtpAlert, vsAlert)
		v.Alpha = pick(vd.t.alpha, false)
		v.VirtualHost = vd.t.virtualhost
		vsLoop := pickDur(vd.t.delayLoop, 60*time.Second)
		vsTO := pickDur(vd.t.connTO, 5*time.Second)
		if vd.persist && v.PersistenceTimeout == 0 {
			v.PersistenceTimeout = 360 * time.Second
		}
		if v.FWMark == 0 && v.Group == "" && v.Addr.Port() == 0 && v.PersistenceTimeout == 0 {
			v.PersistenceTimeout = 360 * time.Second // zero port only valid for persistent services
		}
		seen := map[netip.AddrPort]bool{}
		weightSum := 0
		for _, rd := range vd.rss {
			r := rd.r
			if seen[r.Addr] {
				continue // duplicated real server: keepalived removes the second
			}
			seen[r.Addr] = true
			if !rd.methodSet {
				r.Method = v.Method
			}
			if r.Addr.Port() == 0 && v.FWMark == 0 {
				r.Addr = netip.AddrPortFrom(r.Addr.Addr(), v.Addr.Port())
			} else if r.Method != lvs.NAT && v.FWMark == 0 && v.Group == "" && r.Addr.Port() != v.Addr.Port() {
				r.Addr = netip.AddrPortFrom(r.Addr.Addr(), v.Addr.Port())
			}
			r.Inhibit = pick(rd.t.inhibit, pick(vd.t.inhibit, false))
			r.Alpha = pick(rd.t.alpha, v.Alpha)
			r.SMTPAlert = pick(rd.t.smtpAlert, rsAlert)
			r.VirtualHost = rd.t.virtualhost
			rsLoop := pickDur(rd.t.delayLoop, vsLoop)
			rsTO := pickDur(rd.t.connTO, vsTO)
			for _, kd := range rd.checkers {
				k, _ := check.KindByName(kd.c.Kind)
				cc := kd.c
				cc.DelayLoop = pickDur(kd.t.delayLoop, rsLoop)
				cc.ConnectTimeout = pickDur(kd.t.connTO, rsTO)
				cc.Retry = pickInt(kd.t.retry, pickInt(rd.t.retry, pickInt(vd.t.retry, k.DefaultRetry)))
				dbr := pickDurP(kd.t.dbr, pickDurP(rd.t.dbr, vd.t.dbr))
				switch {
				case dbr != nil:
					cc.DelayBeforeRetry = *dbr
				case k.DefaultDelayBeforeRetry > 0:
					cc.DelayBeforeRetry = k.DefaultDelayBeforeRetry
				default:
					cc.DelayBeforeRetry = cc.DelayLoop
				}
				cc.Warmup = pickDur(kd.t.warmup, pickDur(rd.t.warmup, pickDur(vd.t.warmup, cc.DelayLoop)))
				cc.Alpha = pick(kd.t.alpha, r.Alpha)
				cc.LogAllFailures = cc.LogAllFailures || l.g.logAllFailures
				dst := r.Addr
				if kd.connIP.IsValid() {
					dst = netip.AddrPortFrom(kd.connIP, dst.Port())
				}
				if kd.connPort != 0 {
					dst = netip.AddrPortFrom(dst.Addr(), kd.connPort)
				}
				cc.Dst = dst
				cc.VirtualHost = kd.t.virtualhost
				if cc.VirtualHost == "" {
					cc.VirtualHost = r.VirtualHost
				}
				if cc.VirtualHost == "" {
					cc.VirtualHost = v.VirtualHost
				}
				cc.TLS = l.ssl
				if cc.Kind == "MISC_CHECK" && !kd.userSet && c.global.uid > 0 {
					cc.UID, cc.GID = uint32(c.global.uid), uint32(c.global.gid)
				}
				if cc.Kind == "SMTP_CHECK" && cc.HeloName == "" {
					cc.HeloName = l.g.smtpHelo
				}
				if cc.Kind == "DNS_CHECK" {
					if cc.DNSType == "" {
						cc.DNSType = "SOA"
					}
					if cc.DNSName == "" {
						cc.DNSName = "."
					}
				}
				if cc.Kind == "FILE_CHECK" {
					tf := c.cfg.TrackFiles[kd.trackFile]
					if tf == nil {
						continue
					}
					cc.FilePath = tf.Path
					cc.DelayLoop = time.Second // halo polls the file (keepalived uses inotify)
				}
				if cc.Kind == "MISC_CHECK" && len(cc.MiscPath) == 0 {
					continue
				}
				r.Checkers = append(r.Checkers, cc)
			}
			v.RealServers = append(v.RealServers, r)
			weightSum += max(r.Weight, 0)
		}
		if len(v.RealServers) == 0 {
			continue
		}
		if s := v.Sorry; s != nil {
			s.Inhibit = vd.sorryInh
			s.Method = v.Method
			if vd.sorryMeth != nil {
				s.Method = *vd.sorryMeth
			}
			if s.Addr.Port() == 0 && v.FWMark == 0 {
				s.Addr = netip.AddrPortFrom(s.Addr.Addr(), v.Addr.Port())
			}
		}
		if v.Quorum > weightSum {
			v.Quorum = weightSum
		}
		if v.Hysteresis >= v.Quorum && v.Quorum > 0 {
			v.Hysteresis = v.Quorum - 1
		}
		if v.Hysteresis < 0 {
			v.Hysteresis = 0
		}
		out.VirtualServers = append(out.VirtualServers, v)
	}
	return out
}

func pick(p *bool, def bool) bool {
	if p != nil {
		return *p
	}
	return def
}

func pickInt(p *int, def int) int {
	if p != nil {
		return *p
	}
	return def
}

func pickDur(p *time.Duration, def time.Duration) time.Duration {
	if p != nil {
		return *p
	}
	return def
}

func pickDurP(a, b *time.Duration) *time.Duration {
	if a != nil {
		return a
	}
	return b
}

// lvsStatuses is the status of every LVS keyword (called from
// buildKeepalivedStatus): what the lvs runtime executes, and what the
// userspace path cannot do.
func lvsStatuses(set func(section string, s Status, note string, names ...string)) {
	const (
		kernelOnly = "needs the kernel's IPVS; halo's userspace path proxies without it"
		tuning     = "accepted; halo does not need it"
	)
	set("keepalived", Supported, "", "virtual_server", "virtual_server_group", "SSL")
	set("global_defs", Supported, "", "lvs_flush", "lvs_flush_on_stop", "lvs_notify_fifo", "checker_log_all_failures",
		"rs_init_notifies", "smtp_alert_checker", "no_checker_emails", "lvs_notify_fifo_script")
	set("global_defs", Partial, "the IPVS connection sync daemon runs only on the kernel's IPVS (there is no connection table to sync on the userspace path)", "lvs_sync_daemon")
	set("global_defs", Partial, "IPVS connection timeouts: set in the kernel with IPVS; on the userspace path only the udp timeout applies", "lvs_timeouts")
	set("global_defs", Ignored, tuning, "nftables_ipvs", "nftables_ipvs_priority", "nftables_ipvs_start_fwmark")
	set("vrrp_instance", Ignored, "the sync daemon interface comes from global_defs lvs_sync_daemon", "lvs_sync_daemon_interface")

	set("SSL", Supported, "", "password", "ca", "certificate", "key")
	set("url", Supported, "", "path", "digest", "status_code", "virtualhost", "regex_no_match", "regex_min_offset", "regex_max_offset")
	set("url", Partial, "Go's RE2 syntax: PCRE-only constructs (backreferences, lookaround) do not compile and the url then fails", "regex")
	set("url", Partial, "caseless, multiline, dotall, ungreedy are applied; other PCRE2 options are not", "regex_options")
	set("url", Ignored, "no PCRE JIT stack in halo", "regex_stack")
	set("host", Supported, "", "connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "connect_timeout", "fwmark")
	common := []string{"connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "connect_timeout", "fwmark",
		"warmup", "retry", "delay_before_retry", "delay_loop", "alpha", "log_all_failures"}
	set("checker", Supported, "", common...)
	set("checker", Ignored, tuning, "source_ip")
	set("checker", Supported, "", "misc_path", "misc_timeout", "misc_dynamic", "user", "helo_name", "type", "name",
		"payload", "require_reply", "min_reply_length", "max_reply_length", "track_file", "weight", "dynamic", "host")
	set("HTTP_GET", Supported, "", common...)
	set("HTTP_GET", Supported, "", "virtualhost", "enable_sni", "fast_recovery", "protocol", "http_protocol", "nb_get_retry", "url")
	set("HTTP_GET", Ignored, tuning, "tls_compliant", "source_ip")
	rsNames := []string{"weight", "inhibit_on_failure", "notify_up", "notify_down", "uthreshold", "lthreshold",
		"smtp_alert", "alpha", "retry", "delay_before_retry", "warmup", "connect_timeout", "delay_loop", "virtualhost"}
	for _, k := range check.Kinds() {
		rsNames = append(rsNames, k.Name)
	}
	set("real_server", Supported, "", rsNames...)
	set("real_server", Partial, "DR/TUN "+kernelOnly+" as NAT", "lvs_method", "lb_kind")
	set("real_server", Unsupported, "no BFD in halo", "BFD_CHECK")
	set("real_server", Ignored, tuning, "tunnel_encap", "tunnel_nocsum", "tunnel_csum", "tunnel_remcsum", "snmp_name")
	set("virtual_server", Supported, "", "delay_loop", "lb_algo", "lvs_sched", "protocol", "persistence_timeout",
		"persistence_granularity", "virtualhost", "sorry_server", "sorry_server_inhibit", "quorum", "quorum_up",
		"quorum_down", "hysteresis", "alpha", "omega", "ha_suspend", "retry", "delay_before_retry", "warmup",
		"connect_timeout", "inhibit_on_failure", "smtp_alert", "ip_family", "ops", "real_server",
		"flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port", "mh-fallback", "hash")
	set("virtual_server", Partial, "DR/TUN "+kernelOnly+" as NAT", "lb_kind", "lvs_method", "sorry_server_lvs_method")
	set("virtual_server", Partial, "the sip persistence engine needs the kernel's IPVS", "persistence_engine")
	set("virtual_server", Ignored, tuning, "notify_up", "notify_down", "tunnel_encap", "snmp_name")
}

// KeepalivedLVSFinding says whether a finding belongs to keepalived's
// checker side (what -P leaves out and -C keeps).
func KeepalivedLVSFinding(fi Finding) bool {
	switch fi.Section {
	case "virtual_server", "virtual_server_group", "real_server", "HTTP_GET", "checker", "url", "host", "SSL":
		return true
	case "keepalived":
		return fi.Keyword == "virtual_server" || fi.Keyword == "virtual_server_group" || fi.Keyword == "SSL"
	case "global_defs":
		return strings.HasPrefix(fi.Keyword, "lvs_") || strings.HasPrefix(fi.Keyword, "checker_") ||
			strings.HasPrefix(fi.Keyword, "nftables_ipvs") || fi.Keyword == "rs_init_notifies" ||
			fi.Keyword == "no_checker_emails" || fi.Keyword == "smtp_alert_checker" || fi.Keyword == "net_namespace_ipvs"
	}
	return false
}
