package compat

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"time"

	"halo/parser"
	"halo/vrrp"
)

// Block kinds of keepalived keywords: whether a keyword takes a { } block
// of sub-keywords, a block of data lines (virtual_ipaddress), or none.
const (
	kaNoBlock = iota
	kaSubBlock
	kaValueBlock
	kaOptBlock // a block is allowed but not required
)

// kaSection is one keepalived block kind: its keyword table and which of
// its keywords open blocks.
type kaSection struct {
	name   string
	tab    *Table[*kaCtx]
	blocks map[string]int
	// lvs marks the LVS side: one notice for the whole block, not one per
	// line, since none of it runs.
	lvs bool
}

type kaDec = func(c *kaCtx, d *parser.Directive, args []parser.Word) error

// kaRow is a keyword as declared in the tables below; its status and note
// come from keepalivedStatus (keepalived_status.go), the one place where
// statuses are kept.
type kaRow struct {
	name  string
	block int
	dec   kaDec
}

func newKaSection(name string, lvs bool, rows []kaRow) *kaSection {
	s := &kaSection{name: name, blocks: map[string]int{}, lvs: lvs}
	kws := make([]Keyword[*kaCtx], 0, len(rows))
	for _, r := range rows {
		st, ok := keepalivedStatus[name+" "+r.name]
		if !ok {
			st = kaStatus{Unsupported, "halo has no status for this keyword"}
			kaMissingStatus = append(kaMissingStatus, name+" "+r.name)
		}
		kws = append(kws, Keyword[*kaCtx]{Name: r.name, Status: st.s, Note: st.note, Decode: r.dec})
		s.blocks[r.name] = r.block
	}
	s.tab = NewTable(name, kws)
	kaSections = append(kaSections, s)
	return s
}

// kaSections lists every section, for the report and the tests.
var kaSections []*kaSection

// kaMissingStatus collects rows without a status entry (a test keeps it
// empty).
var kaMissingStatus []string

// kaWhereElse names the block where a keyword unknown in s would be valid,
// so "garp_master_delay in global_defs" gets a pointer to vrrp_instance.
func kaWhereElse(s *kaSection, name string) string {
	for _, o := range kaSections {
		if o != s && o.tab.Get(name) != nil {
			return o.name
		}
	}
	return ""
}

// kaSuggestElsewhere finds a close keyword in another section, for a word
// read at the wrong level (often after a stray '}').
func kaSuggestElsewhere(s *kaSection, name string) (string, string) {
	for _, o := range kaSections {
		if o == s || o.lvs != s.lvs && s != kaTop {
			continue
		}
		if sug := o.tab.Suggest(name); sug != "" {
			return sug, o.name
		}
	}
	return "", ""
}

// walkBlock decodes a directive's block against section s.
func walkBlock(s **kaSection) kaDec {
	return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
		c.walk(*s, d)
		return nil
	}
}

func skip(*kaCtx, *parser.Directive, []parser.Word) error { return nil }

var (
	kaTop, kaGlobal, kaScript, kaInstance, kaAuth, kaSyncGroup, kaTrackFile *kaSection
	kaVS, kaRS, kaChecker, kaHTTPChecker, kaURL, kaSMTPHost                 *kaSection
	kaBFD, kaGarpGroup, kaTrackProcess, kaStaticTrackGroup, kaSSL           *kaSection
)

func init() {
	kaGlobal = newKaSection("global_defs", false, globalRows())
	kaScript = newKaSection("vrrp_script", false, scriptRows())
	kaAuth = newKaSection("authentication", false, []kaRow{
		{"auth_type", kaNoBlock, decAuthType},
		{"auth_pass", kaNoBlock, decAuthPass},
	})
	kaInstance = newKaSection("vrrp_instance", false, instanceRows())
	kaSyncGroup = newKaSection("vrrp_sync_group", false, syncGroupRows())
	kaTrackFile = newKaSection("vrrp_track_file", false, []kaRow{
		{"file", kaNoBlock, func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if v, ok := c.arg(d, 0); ok && c.tf != nil {
				c.tf.Path = v
			}
			return nil
		}},
		{"weight", kaNoBlock, func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if v, ok := c.arg(d, 0); ok && c.tf != nil {
				n, err := strconv.Atoi(v)
				if err != nil || n < -254 || n > 254 {
					c.errf(d.Pos, parser.KaGeneralError, "Weight (%s) for track_file %s must be between [-254..254] inclusive. Ignoring...", v, c.tf.Name)
					return nil
				}
				c.tf.Weight = n
			}
			return nil
		}},
		{"init_file", kaNoBlock, func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if c.tf != nil {
				c.tf.InitFile = true
				if len(d.Args) > 0 {
					if n, ok := c.integer(d.Pos, d.Args[0].Value, -254, 254); ok {
						c.tf.InitValue = int(n)
					}
				}
			}
			return nil
		}},
	})
	kaTrackProcess = newKaSection("vrrp_track_process", false, trackProcessRows())
	kaGarpGroup = newKaSection("garp_group", false, garpGroupRows())
	kaBFD = newKaSection("bfd_instance", false, rowsSkip(kaNoBlock,
		"source_ip", "neighbor_ip", "min_rx", "min_tx", "idle_tx", "multiplier", "passive", "ttl", "hoplimit", "max_hops", "weight", "vrrp", "checker"))
	kaStaticTrackGroup = newKaSection("track_group", false, []kaRow{
		{"group", kaValueBlock, skip},
	})

	initLVSSections()

	kaTop = newKaSection("keepalived", false, topRows())
}

// rowsSkip declares keywords that are accepted and not decoded further.
func rowsSkip(block int, names ...string) []kaRow {
	out := make([]kaRow, len(names))
	for i, n := range names {
		out[i] = kaRow{n, block, skip}
	}
	return out
}

func topRows() []kaRow {
	rows := []kaRow{
		{"global_defs", kaSubBlock, walkBlock(&kaGlobal)},
		{"vrrp_script", kaSubBlock, decScriptBlock},
		{"vrrp_instance", kaSubBlock, decInstanceBlock},
		{"vrrp_sync_group", kaSubBlock, decSyncGroupBlock},
		{"vrrp_track_file", kaSubBlock, decTrackFileBlock},
		{"track_file", kaSubBlock, decTrackFileBlock},
		{"vrrp_track_process", kaSubBlock, decTrackProcessBlock},
		{"garp_group", kaSubBlock, decGarpGroup},
		{"bfd_instance", kaSubBlock, walkBlock(&kaBFD)},
		{"track_group", kaSubBlock, walkBlock(&kaStaticTrackGroup)},
		{"interface_up_down_delays", kaValueBlock, skip},
		{"SSL", kaSubBlock, walkBlock(&kaSSL)},
		{"static_ipaddress", kaValueBlock, decStaticIPs},
		{"static_routes", kaValueBlock, decStaticRoutes},
		{"static_rules", kaValueBlock, decStaticRules},
		{"linkbeat_interfaces", kaValueBlock, skip},
		{"virtual_server", kaSubBlock, decVirtualServer},
		{"virtual_server_group", kaValueBlock, decVSGroup},
	}
	rows = append(rows, rowsSkip(kaNoBlock, "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets",
		"instance", "use_pid_dir", "linkbeat_use_polling", "child_wait_time")...)
	return rows
}

// ---- global_defs ----

func globalRows() []kaRow {
	g := func(f func(c *kaCtx, g *vrrp.Global, d *parser.Directive)) kaDec {
		return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			f(c, &c.cfg.Global, d)
			return nil
		}
	}
	str := func(set func(g *vrrp.Global, v string)) kaDec {
		return g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				set(g, v)
			}
		})
	}
	// garp reads an unsigned count or time; a bad one is "invalid number"
	// followed by the keyword's own complaint (msg).
	garp := func(set func(g *vrrp.Global, v int), msg string) kaDec {
		return g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				n, ok := c.unsigned(d.Pos, v, 0, 0xffffffff)
				if !ok {
					c.errf(d.Pos, parser.KaGeneralError, msg, v)
					return
				}
				set(g, int(n))
			}
		})
	}
	rows := []kaRow{
		{"router_id", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			if len(d.Args) == 0 {
				c.errf(d.Pos, parser.KaGeneralError, "routerid name missing - ignoring")
				return
			}
			g.RouterID = d.Args[0].Value
		})},
		{"notification_email", kaValueBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			n := 0
			for _, l := range d.Body {
				g.NotificationEmail = append(g.NotificationEmail, l.Name)
				n++
				for _, a := range l.Args {
					g.NotificationEmail = append(g.NotificationEmail, a.Value)
				}
			}
			if n == 0 {
				pos := d.End
				if pos.Line == 0 {
					pos = d.Pos
				}
				c.errf(pos, parser.KaGeneralError, "Warning - empty notification_email block")
			}
		})},
		{"notification_email_from", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			if len(d.Args) == 0 {
				c.errf(d.Pos, parser.KaGeneralError, "emailfrom missing - ignoring")
				return
			}
			g.NotificationEmailFrom = d.Args[0].Value
		})},
		{"smtp_server", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			v, ok := c.arg(d, 0)
			if !ok {
				return
			}
			port := "25"
			if len(d.Args) > 1 {
				port = d.Args[1].Value
				if _, ok := c.unsigned(d.Pos, port, 1, 65535); !ok {
					c.errf(d.Pos, parser.KaGeneralError, "Invalid smtp server %s %s", v, port)
					return
				}
			}
			if _, err := netip.ParseAddr(v); err != nil && !c.resolvable(v) {
				c.errf(d.Pos, parser.KaGeneralError, "Invalid smtp server %s %s", v, port)
				return
			}
			g.SMTPServer = net.JoinHostPort(v, port)
		})},
		{"smtp_helo_name", kaNoBlock, skip},
		{"smtp_connect_timeout", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			v, ok := c.arg(d, 0)
			if !ok {
				return
			}
			t, ok := c.timer(d.Pos, v, 0, 4294)
			switch {
			case !ok:
				c.errf(d.Pos, parser.KaGeneralError, "smtp_connect_timeout '%s' must be in [0, 4294] - ignoring", v)
			case t == 0:
				c.errf(d.Pos, parser.KaGeneralError, "smtp_conect_timeout must be greater than 0, setting to 1") // sic
				g.SMTPConnectTimeout = time.Second
			default:
				g.SMTPConnectTimeout = t
			}
		})},
		{"smtp_alert", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) { g.SMTPAlert = c.globalBool(d) })},
		{"smtp_alert_vrrp", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) { g.SMTPAlert = c.globalBool(d) })},
		{"vrrp_mcast_group4", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				a, err := netip.ParseAddr(v)
				if err != nil || !a.Is4() {
					c.errf(d.Pos, parser.KaGeneralError, "vrrp_mcast_group4 '%s' is invalid", v)
					return
				}
				if !a.IsMulticast() {
					c.errf(d.Pos, parser.KaGeneralError, "vrrp_mcast_group4 [%s] is not multicast. Skipping", v)
					return
				}
				g.McastGroup4 = a
			}
		})},
		{"vrrp_mcast_group6", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				a, err := netip.ParseAddr(v)
				if err != nil || !a.Is6() {
					c.errf(d.Pos, parser.KaGeneralError, "vrrp_mcast_group6 '%s' is invalid", v)
					return
				}
				if !a.IsMulticast() {
					c.errf(d.Pos, parser.KaGeneralError, "vrrp_mcast_group6 [%s] is not multicast. Skipping", v)
					return
				}
				g.McastGroup6 = a
			}
		})},
		{"script_user", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			if len(d.Args) == 0 {
				c.errf(d.Pos, parser.KaGeneralError, "No script username specified")
				return
			}
			g.ScriptUser = d.Args[0].Value
			if len(d.Args) > 1 {
				g.ScriptGroup = d.Args[1].Value
			}
			c.global.scriptUserSet = true
			c.global.scriptUserPos = d.Pos
		})},
		{"enable_script_security", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) { g.EnableScriptSecurity = true })},
		{"vrrp_garp_master_delay", kaNoBlock, garp(func(g *vrrp.Global, v int) { g.GARPMasterDelay = time.Duration(v) * time.Second }, "vrrp_garp_master_delay '%s' invalid - ignoring")},
		{"vrrp_garp_master_repeat", kaNoBlock, garp(func(g *vrrp.Global, v int) { g.GARPMasterRepeat = v }, "vrrp_garp_master_repeat '%s' invalid - ignoring")},
		{"vrrp_garp_master_refresh", kaNoBlock, garp(func(g *vrrp.Global, v int) { g.GARPMasterRefresh = time.Duration(v) * time.Second }, "Invalid vrrp_garp_master_refresh '%s' - ignoring")},
		{"vrrp_garp_master_refresh_repeat", kaNoBlock, garp(func(g *vrrp.Global, v int) { g.GARPMasterRefreshRepeat = v }, "Invalid vrrp_garp_master_refresh_repeat '%s' - ignoring")},
		{"vrrp_garp_interval", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				if t, ok := c.timer(d.Pos, v, 0.000001, 4294.967295); ok {
					g.GARPInterval = t
				} else {
					c.errf(d.Pos, parser.KaGeneralError, "vrrp_garp_interval '%s' is invalid", v)
				}
			}
		})},
		{"vrrp_gna_interval", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				if t, ok := c.timer(d.Pos, v, 0.000001, 4294.967295); ok {
					g.GNAInterval = t
				} else {
					c.errf(d.Pos, parser.KaGeneralError, "vrrp_gna_interval '%s' is invalid", v)
				}
			}
		})},
		{"vrrp_version", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				n, ok := c.unsigned(d.Pos, v, 2, 3)
				if !ok {
					c.errf(d.Pos, parser.KaGeneralError, "VRRP Error: Version must be either 2 or 3")
					return
				}
				g.Version = int(n)
			}
		})},
		{"vrrp_strict", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) { g.Strict = true })},
		{"vrrp_skip_check_adv_addr", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			// keepalived 2.2.7 takes the keyword alone as "on" and ignores
			// what follows it
			g.SkipCheckAdvAddr = len(d.Args) == 0 || !kaIsFalse(d.Args[0].Value)
		})},
		{"vrrp_notify_fifo", kaNoBlock, str(func(g *vrrp.Global, v string) { g.NotifyFIFO = v })},
		{"vrrp_notify_fifo_script", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			g.NotifyFIFOScript = c.addScript(d, d.Args, "")
		})},
		{"notify_fifo", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			if len(d.Args) > 0 {
				g.NotifyFIFO = d.Args[0].Value
				c.lv().g.genericFIFO = d.Args[0].Value
			}
		})},
		{"notify_fifo_script", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			g.NotifyFIFOScript = c.addScript(d, d.Args, "")
			c.lv().g.genericFIFOScript = c.lvsScript(d)
		})},
		{"dynamic_interfaces", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) { g.DynamicInterfaces = true })},
		{"max_auto_priority", kaNoBlock, g(func(c *kaCtx, g *vrrp.Global, d *parser.Directive) {
			g.MaxAutoPriority = 99
			if len(d.Args) > 0 {
				v := d.Args[0].Value
				if n, ok := c.integer(d.Pos, v, -1, 99); ok {
					g.MaxAutoPriority = int(n)
				} else {
					c.errf(d.Pos, parser.KaGeneralError, "max_auto_priority '%s' must be in [0, 99] (or -1 to disable) - ignoring", v)
					g.MaxAutoPriority = 0
				}
			}
		})},
		{"startup_script", kaNoBlock, func(c *kaCtx, d *parser.Directive, a []parser.Word) error { c.addScript(d, a, ""); return nil }},
		{"shutdown_script", kaNoBlock, func(c *kaCtx, d *parser.Directive, a []parser.Word) error { c.addScript(d, a, ""); return nil }},
	}
	for _, n := range []string{
		"tmp_config_directory", "config_save_dir", "process_names", "process_name", "vrrp_process_name",
		"checker_process_name", "bfd_process_name", "startup_script_timeout", "shutdown_script_timeout",
		"net_namespace", "net_namespace_ipvs", "namespace_with_ipsets", "instance", "use_pid_dir",
		"linkbeat_use_polling", "child_wait_time", "umask", "random_seed", "reload_check_config", "reload_time_file",
		"reload_repeat", "reload_file", "include_check", "data_use_instance", "dbus_service_name", "enable_dbus",
		"snmp_socket", "enable_snmp_vrrp", "enable_snmp_checker", "enable_snmp_rfc", "enable_snmp_rfcv2",
		"enable_snmp_rfcv3", "enable_traps", "enable_snmp_keepalived",
		"vrrp_priority", "vrrp_no_swap", "vrrp_cpu_affinity", "vrrp_rt_priority", "vrrp_rlimit_rttime",
		"checker_priority", "checker_no_swap", "checker_cpu_affinity", "checker_rt_priority", "checker_rlimit_rttime",
		"bfd_priority", "bfd_no_swap", "bfd_cpu_affinity", "bfd_rt_priority", "bfd_rlimit_rttime",
		"vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs",
		"vrrp_netlink_monitor_rcv_bufs_force", "lvs_netlink_cmd_rcv_bufs", "lvs_netlink_cmd_rcv_bufs_force",
		"lvs_netlink_monitor_rcv_bufs", "lvs_netlink_monitor_rcv_bufs_force", "process_monitor_rcv_bufs",
		"process_monitor_rcv_bufs_force", "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier", "vrrp_startup_delay",
		"min_auto_priority_delay",
		"disable_local_igmp",
		"vrrp_check_unicast_src", "vrrp_notify_priority_changes",
		"fifo_write_vrrp_states_on_reload", "vrrp_ipsets", "nftables_priority",
		"nftables_ifindex", "nftables_counters", "vmac_prefix", "vmac_addr_prefix", "no_email_faults",
		"log_unknown_vrids",
		"nftables_ipvs", "nftables_ipvs_priority", "nftables_ipvs_start_fwmark",
	} {
		rows = append(rows, kaRow{n, kaNoBlock, skip})
	}
	rows = append(rows, lowerPrioGlobalRows()...)
	rows = append(rows, garpGlobalRows()...)
	rows = append(rows, staticGlobalRows()...)
	rows = append(rows, firewallGlobalRows()...)
	return append(rows, lvsGlobalRows()...)
}

// resolvable reports whether keepalived would accept host as smtp_server:
// it resolves the name at load time. Without host checks (halo compat on
// another machine) any well-formed name passes.
func (c *kaCtx) resolvable(host string) bool {
	if !kaHostname(host) {
		return false
	}
	if !c.opt.HostChecks {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	return err == nil && len(addrs) > 0
}

// kaHostname reports whether s looks like a host name smtp_server accepts.
func kaHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}
