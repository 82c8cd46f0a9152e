package compat

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"halo/parser"
	"halo/vrrp"
)

// ---- vrrp_script ----

func decScriptBlock(c *kaCtx, d *parser.Directive, args []parser.Word) error {
	name, ok := c.arg(d, 0)
	if !ok {
		return nil
	}
	sc := &vrrp.Script{Name: name, Line: d.Pos.Line, Interval: time.Second, Rise: 1, Fall: 1}
	sm := &kaScriptMeta{pos: d.Pos}
	c.script, c.sm = sc, sm
	nScripts := len(c.scripts)
	c.walk(kaScript, d)
	c.script, c.sm = nil, nil
	if c.stop {
		return nil
	}
	end := d.End
	if end.Line == 0 {
		end = d.Pos
	}
	if sc.Command == "" {
		c.errf(end, parser.KaGeneralError, "No script set for vrrp_script %s - removing", name)
		return nil
	}
	if sc.Timeout == 0 {
		sc.Timeout = sc.Interval
	}
	// the script's user applies to the script use recorded by "script"
	for i := nScripts; i < len(c.scripts); i++ {
		if sc.User != "" {
			c.scripts[i].user, c.scripts[i].hasUser = sc.User, true
			c.scripts[i].pos = sm.userPos
		}
		if !c.scripts[i].hasUser {
			// keepalived sets the default user when the block ends
			c.scripts[i].pos = end
		}
	}
	c.cfg.Scripts[name] = sc
	c.scriptMeta[name] = sm
	return nil
}

func scriptRows() []kaRow {
	s := func(f func(c *kaCtx, sc *vrrp.Script, d *parser.Directive)) kaDec {
		return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if c.script != nil {
				f(c, c.script, d)
			}
			return nil
		}
	}
	return []kaRow{
		{"script", kaNoBlock, s(func(c *kaCtx, sc *vrrp.Script, d *parser.Directive) {
			if _, ok := c.arg(d, 0); !ok {
				return
			}
			sc.Command = scriptCmd(d.Args)
			c.scripts = append(c.scripts, kaScriptUse{pos: d.Pos, cmdPos: d.Pos, cmd: sc.Command, track: sc.Name})
		})},
		{"interval", kaNoBlock, s(func(c *kaCtx, sc *vrrp.Script, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				t, ok := c.timer(d.Pos, v, 0, 4294)
				switch {
				case !ok:
					c.errf(d.Pos, parser.KaGeneralError, "(%s): vrrp script interval '%s' must be between 1 and 4294 - ignoring", sc.Name, v)
				case t == 0:
					c.errf(d.Pos, parser.KaGeneralError, "(%s): vrrp script interval must be greater than 0, setting to 1", sc.Name)
					sc.Interval = time.Second
				default:
					sc.Interval = t
				}
			}
		})},
		{"timeout", kaNoBlock, s(func(c *kaCtx, sc *vrrp.Script, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				t, ok := c.timer(d.Pos, v, 0, 4294)
				switch {
				case !ok:
					c.errf(d.Pos, parser.KaGeneralError, "(%s): vrrp script timeout '%s' invalid - ignoring", sc.Name, v)
				case t == 0:
					c.errf(d.Pos, parser.KaGeneralError, "(%s): vrrp script timeout must be greater than 0, setting to 1", sc.Name)
					sc.Timeout = time.Second
				default:
					sc.Timeout = t
				}
			}
		})},
		{"weight", kaNoBlock, s(func(c *kaCtx, sc *vrrp.Script, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				if n, ok := c.integer(d.Pos, v, -253, 253); ok {
					sc.Weight = int(n)
				} else {
					c.errf(d.Pos, parser.KaGeneralError, "vrrp_script %s weight %s must be in [-253, 253]", sc.Name, v)
				}
				if len(d.Args) > 1 && d.Args[1].Value == "reverse" {
					sc.Reverse = true
				}
			}
		})},
		{"rise", kaNoBlock, s(func(c *kaCtx, sc *vrrp.Script, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				n, ok := c.unsigned(d.Pos, v, 1, 0x7fffffff)
				if !ok {
					c.errf(d.Pos, parser.KaGeneralError, "(%s): vrrp script rise value '%s' invalid, defaulting to 1", sc.Name, v)
					n = 1
				}
				sc.Rise = int(n)
			}
		})},
		{"fall", kaNoBlock, s(func(c *kaCtx, sc *vrrp.Script, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				n, ok := c.unsigned(d.Pos, v, 1, 0x7fffffff)
				if !ok {
					c.errf(d.Pos, parser.KaGeneralError, "(%s): vrrp script fall value '%s' invalid, defaulting to 1", sc.Name, v)
					n = 1
				}
				sc.Fall = int(n)
			}
		})},
		{"user", kaNoBlock, s(func(c *kaCtx, sc *vrrp.Script, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				sc.User = v
				if len(d.Args) > 1 {
					sc.Group = d.Args[1].Value
				}
				c.sm.userSet = true
				c.sm.userPos = d.Pos
			}
		})},
		{"init_fail", kaNoBlock, s(func(c *kaCtx, sc *vrrp.Script, d *parser.Directive) { sc.InitFail = true })},
	}
}

// ---- vrrp_instance ----

func decInstanceBlock(c *kaCtx, d *parser.Directive, args []parser.Word) error {
	if len(d.Args) == 0 {
		c.errf(d.Pos, parser.KaGeneralError, "vrrp_instance must have a name")
		return nil
	}
	name := d.Args[0].Value
	if c.instSeen[name] {
		// keepalived skips the whole block
		c.errf(d.Pos, parser.KaGeneralError, "vrrp instance %s already defined", name)
		return nil
	}
	c.instSeen[name] = true
	in := &vrrp.Instance{Name: name, Line: d.Pos.Line, InitialState: vrrp.StateBackup, Priority: 100,
		AdvertInt: time.Second, Accept: true}
	m := &kaInstMeta{pos: d.Pos, trackScriptPos: map[string]parser.Pos{}}
	c.inst, c.im = in, m
	c.walk(kaInstance, d)
	c.inst, c.im = nil, nil
	if c.cfg.Global.Strict && !m.acceptSet {
		in.Accept = false
	}
	c.cfg.Instances = append(c.cfg.Instances, in)
	c.instMeta[in] = m
	return nil
}

func instanceRows() []kaRow {
	i := func(f func(c *kaCtx, in *vrrp.Instance, d *parser.Directive)) kaDec {
		return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if c.inst != nil {
				f(c, c.inst, d)
			}
			return nil
		}
	}
	notify := func(set func(in *vrrp.Instance, cmd string)) kaDec {
		return i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			if _, ok := c.arg(d, 0); ok {
				set(in, c.addScript(d, d.Args, ""))
			}
		})
	}
	garpUns := func(hi uint64, set func(in *vrrp.Instance, m *kaInstMeta, v int)) kaDec {
		return i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					c.errf(d.Pos, parser.KaInvalidNumber, "invalid number '%s'", v)
				}
				if err != nil || n > hi {
					c.errf(d.Pos, parser.KaGeneralError, "(%s): %s '%s' invalid - ignoring", in.Name, d.Name, v)
					return
				}
				set(in, c.im, int(n))
			}
		})
	}
	return append([]kaRow{
		{"state", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			v, ok := c.arg(d, 0)
			if !ok {
				return
			}
			switch v {
			case "MASTER":
				in.InitialState = vrrp.StateMaster
				c.im.stateMaster = true
			case "BACKUP":
				in.InitialState = vrrp.StateBackup
				c.im.stateMaster = false
			default:
				c.errf(d.Pos, parser.KaGeneralError, "(%s) unknown state '%s', defaulting to BACKUP", in.Name, v)
			}
		})},
		{"interface", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				in.Interface = v
				c.im.ifacePos = d.Pos
				if c.ifaces != nil && !c.ifaces[v] {
					c.errf(d.Pos, parser.KaGeneralError, "WARNING - interface %s for vrrp_instance %s doesn't exist", v, in.Name)
					c.markBadIf(d.Pos)
				}
			}
		})},
		{"virtual_router_id", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			v, ok := c.arg(d, 0)
			if !ok {
				return
			}
			n, ok := c.unsigned(d.Pos, v, 1, 255)
			if !ok {
				c.errf(d.Pos, parser.KaGeneralError, "(%s): VRID '%s' not valid - must be between 1 & 255", in.Name, v)
				return
			}
			in.VRID = int(n)
			c.im.vridSet = true
		})},
		{"priority", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			v, ok := c.arg(d, 0)
			if !ok {
				return
			}
			n, ok := c.unsigned(d.Pos, v, 1, 255)
			if !ok {
				c.errf(d.Pos, parser.KaGeneralError, "(%s) Priority not valid! must be between 1 & 255. Using default 100", in.Name)
				return
			}
			in.Priority = int(n)
		})},
		{"advert_int", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			v, ok := c.arg(d, 0)
			if !ok {
				return
			}
			t, ok := c.timer(d.Pos, v, 0.01, 255)
			if !ok {
				c.errf(d.Pos, parser.KaGeneralError, "(%s) Advert interval (%s) not valid! Must be > 0 - ignoring", in.Name, v)
				return
			}
			in.AdvertInt = t.Round(10 * time.Millisecond)
		})},
		{"version", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				if n, ok := c.unsigned(d.Pos, v, 2, 3); ok {
					in.Version = int(n)
				} else {
					c.errf(d.Pos, parser.KaGeneralError, "(%s): Version must be either 2 or 3", in.Name)
				}
			}
		})},
		{"nopreempt", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) { in.NoPreempt = true })},
		{"preempt", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) { in.NoPreempt = false })},
		{"preempt_delay", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				t, ok := c.timer(d.Pos, v, 0, 1000)
				if !ok {
					c.errf(d.Pos, parser.KaGeneralError, "(%s) Preempt_delay not valid! must be between 0-1000", in.Name)
					return
				}
				in.PreemptDelay = t
			}
		})},
		{"authentication", kaSubBlock, walkBlock(&kaAuth)},
		{"virtual_ipaddress", kaValueBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			// sized once: a ~SEQ can list a million addresses
			in.VIPs = slices.Grow(in.VIPs, len(d.Body))
			for _, l := range d.Body {
				v, ok := c.parseVIP(l)
				if !ok {
					continue
				}
				// the first address sets the instance's family
				fam := 4
				if v.Prefix.Addr().Is6() {
					fam = 6
				}
				if in.Family == 0 {
					in.Family = fam
				} else if in.Family != fam {
					c.errf(l.Pos, parser.KaGeneralError, "(%s): address family must match VRRP instance [%s] - ignoring", in.Name, l.Name)
					continue
				}
				in.VIPs = append(in.VIPs, v)
			}
		})},
		{"virtual_ipaddress_excluded", kaValueBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			for _, l := range d.Body {
				if v, ok := c.parseVIP(l); ok {
					in.ExcludedVIPs = append(in.ExcludedVIPs, v)
				}
			}
		})},
		{"virtual_routes", kaValueBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			for _, l := range d.Body {
				if r, ok := c.parseRoute(l); ok {
					if r.Dev == "" && !r.NoTrack && c.opt.HostChecks {
						c.errf(l.Pos, parser.KaGeneralError, "Warning - cannot track route %s with no interface specified, not tracking", r.Written)
					}
					in.Routes = append(in.Routes, r.Route)
				}
			}
		})},
		{"virtual_rules", kaValueBlock, decVirtualRules},
		{"unicast_peer", kaValueBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			c.im.unicastKw = true
			for _, l := range d.Body {
				a, err := kaAddr(l.Name)
				if err != nil {
					c.errf(l.Pos, parser.KaGeneralError, "Configuration error: VRRP instance[%s] malformed unicast peer address[%s]. Skipping...", in.Name, l.Name)
					continue
				}
				in.UnicastPeers = append(in.UnicastPeers, a)
			}
		})},
		{"unicast_src_ip", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				c.im.unicastKw = true
				a, err := kaAddr(v)
				if err != nil {
					c.errf(d.Pos, parser.KaGeneralError, "Configuration error: VRRP instance[%s] malformed src address[%s]. Skipping...", in.Name, v)
					return
				}
				in.UnicastSrcIP = a
			}
		})},
		{"mcast_src_ip", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				a, err := kaAddr(v)
				if err != nil {
					c.errf(d.Pos, parser.KaGeneralError, "(%s) Configuration error: VRRP instance[%s] got invalid source IP %s - ignoring", in.Name, in.Name, v)
					return
				}
				in.McastSrcIP = a
			}
		})},
		{"unicast_ttl", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				if n, ok := c.unsigned(d.Pos, v, 0, 255); ok {
					in.UnicastTTL = int(n)
					c.im.ttlSet = true
				}
			}
		})},
		{"track_script", kaValueBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			for _, l := range d.Body {
				if _, dup := c.im.trackScriptPos[l.Name]; dup {
					c.errf(l.Pos, parser.KaGeneralError, "(%s) duplicate track_script %s - ignoring", in.Name, l.Name)
					continue
				}
				t, ok := c.trackRef(l, func(w string) string {
					return "(" + in.Name + ") track script " + l.Name + ": weight must be between [-253..253] inclusive, ignoring..."
				})
				c.im.trackScriptPos[l.Name] = l.Pos
				if ok {
					in.TrackScripts = append(in.TrackScripts, t)
				}
			}
		})},
		{"track_interface", kaValueBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			for _, l := range d.Body {
				if c.ifaces != nil && !c.ifaces[l.Name] {
					c.errf(l.Pos, parser.KaGeneralError, "(%s) tracked interface %s doesn't exist", in.Name, l.Name)
					c.markBadIf(l.Pos)
				}
				t, ok := c.trackRef(l, func(w string) string {
					return "(" + in.Name + ") weight " + w + " for " + l.Name + " must be between [-253..253] inclusive. Ignoring..."
				})
				if ok {
					in.TrackInterfaces = append(in.TrackInterfaces, t)
				}
			}
		})},
		{"track_file", kaValueBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			for _, l := range d.Body {
				t, ok := c.trackRef(l, func(w string) string {
					return "(" + in.Name + ") track file " + l.Name + ": weight must be between [-253..253] inclusive, ignoring..."
				})
				if ok {
					in.TrackFiles = append(in.TrackFiles, t)
				}
			}
		})},
		{"track_process", kaValueBlock, decInstanceTrackProcess},
		{"track_bfd", kaValueBlock, skip},
		{"dont_track_primary", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) { in.DontTrackPrimary = true })},
		{"notify_master", kaNoBlock, notify(func(in *vrrp.Instance, s string) { in.NotifyMaster = s })},
		{"notify_backup", kaNoBlock, notify(func(in *vrrp.Instance, s string) { in.NotifyBackup = s })},
		{"notify_fault", kaNoBlock, notify(func(in *vrrp.Instance, s string) { in.NotifyFault = s })},
		{"notify_stop", kaNoBlock, notify(func(in *vrrp.Instance, s string) { in.NotifyStop = s })},
		{"notify", kaNoBlock, notify(func(in *vrrp.Instance, s string) { in.Notify = s })},
		{"notify_deleted", kaNoBlock, skip},
		{"notify_master_rx_lower_pri", kaNoBlock, notify(func(in *vrrp.Instance, s string) {})},
		{"notify_priority_changes", kaNoBlock, skip},
		{"smtp_alert", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			in.SMTPAlert = true
			if len(d.Args) > 0 {
				switch d.Args[0].Value {
				case "true", "on", "yes":
				case "false", "off", "no":
					in.SMTPAlert = false
				default:
					c.errf(d.Pos, parser.KaGeneralError, "Invalid vrrp_instance smtp_alert parameter %s", d.Args[0].Value)
				}
			}
		})},
		{"garp_master_delay", kaNoBlock, garpUns(0xffffffff, func(in *vrrp.Instance, m *kaInstMeta, v int) {
			in.GARPMasterDelay, m.garpDelaySet = time.Duration(v)*time.Second, true
		})},
		{"garp_master_repeat", kaNoBlock, garpUns(255, func(in *vrrp.Instance, m *kaInstMeta, v int) {
			in.GARPMasterRepeat, m.garpRepSet = v, true
		})},
		{"garp_master_refresh", kaNoBlock, garpUns(0xffffffff, func(in *vrrp.Instance, m *kaInstMeta, v int) {
			in.GARPMasterRefresh, m.garpRefSet = time.Duration(v)*time.Second, true
		})},
		{"garp_master_refresh_repeat", kaNoBlock, garpUns(255, func(in *vrrp.Instance, m *kaInstMeta, v int) {
			in.GARPMasterRefreshRepeat, m.garpRefRepSet = v, true
		})},
		{"garp_interval", kaNoBlock, skip},
		{"gna_interval", kaNoBlock, skip},
		{"garp_extra_if", kaNoBlock, i(garpExtraIf)},
		{"vmac_garp_intvl", kaNoBlock, i(garpExtraIf)},
		{"accept", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) { in.Accept, c.im.acceptSet = true, true })},
		{"no_accept", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) { in.Accept, c.im.acceptSet = false, true })},
		{"use_vmac", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			in.UseVMAC = "vrrp." // keepalived names it vrrp.<VRID> when no name is given
			if len(d.Args) > 0 {
				in.UseVMAC = d.Args[0].Value
			}
		})},
		{"vmac_xmit_base", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) { in.VMACXmitBase = true })},
		{"use_vmac_addr", kaNoBlock, skip},
		{"use_ipvlan", kaNoBlock, skip},
		{"native_ipv6", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			in.Family = 6
			c.im.nativeIPv6 = true
		})},
		{"debug", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			if len(d.Args) > 0 {
				if n, ok := c.unsigned(d.Pos, d.Args[0].Value, 0, 4); ok {
					in.Debug = int(n)
				}
			}
		})},
		{"strict_mode", kaNoBlock, skip},
		{"skip_check_adv_addr", kaNoBlock, skip},
		{"check_unicast_src", kaNoBlock, skip},
		{"lvs_sync_daemon_interface", kaNoBlock, i(func(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
			c.errf(d.Pos, parser.KaDeprecated, "(%s) Specifying lvs_sync_daemon_interface against a vrrp is deprecated.", in.Name)
			c.errf(d.Pos, parser.KaDeprecated, "%sPlease use global lvs_sync_daemon", strings.Repeat(" ", len(in.Name)+4))
		})},
		{"kernel_rx_buf_size", kaNoBlock, skip},
		{"promote_secondaries", kaNoBlock, skip},
		{"linkbeat_use_polling", kaNoBlock, skip},
		{"unicast_fault_no_peer", kaNoBlock, skip},
		{"old_unicast_checksum", kaNoBlock, skip},
		{"vrf", kaNoBlock, skip},
		{"track_src_ip", kaNoBlock, skip},
		{"mcast_dst_ip", kaNoBlock, skip},
	}, lowerPrioInstanceRows()...)
}

func decAuthType(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
	v, ok := c.arg(d, 0)
	if !ok || c.inst == nil {
		return nil
	}
	switch v {
	case "PASS":
		c.inst.AuthType = "PASS"
	case "AH":
		c.inst.AuthType = "AH"
	default:
		c.errf(d.Pos, parser.KaGeneralError, "(%s) unknown authentication type '%s'", c.inst.Name, v)
	}
	return nil
}

func decAuthPass(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
	v, ok := c.arg(d, 0)
	if !ok || c.inst == nil {
		return nil
	}
	if len(v) > 8 {
		c.errf(d.Pos, parser.KaGeneralError, "Truncating auth_pass to %d characters", 8)
		v = v[:8]
	}
	c.inst.AuthPass = v
	return nil
}

// ---- vrrp_sync_group ----

func decSyncGroupBlock(c *kaCtx, d *parser.Directive, args []parser.Word) error {
	name, ok := c.arg(d, 0)
	if !ok {
		return nil
	}
	g := &vrrp.SyncGroup{Name: name}
	c.sg = g
	c.walk(kaSyncGroup, d)
	c.sg = nil
	c.cfg.SyncGroups = append(c.cfg.SyncGroups, g)
	c.sgMeta[g] = d.Pos
	return nil
}

func syncGroupRows() []kaRow {
	s := func(f func(c *kaCtx, g *vrrp.SyncGroup, d *parser.Directive)) kaDec {
		return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if c.sg != nil {
				f(c, c.sg, d)
			}
			return nil
		}
	}
	notify := func(set func(g *vrrp.SyncGroup, cmd string)) kaDec {
		return s(func(c *kaCtx, g *vrrp.SyncGroup, d *parser.Directive) {
			if _, ok := c.arg(d, 0); ok {
				set(g, c.addScript(d, d.Args, ""))
			}
		})
	}
	return []kaRow{
		{"group", kaValueBlock, s(func(c *kaCtx, g *vrrp.SyncGroup, d *parser.Directive) {
			for _, l := range d.Body {
				g.Instances = append(g.Instances, l.Name)
				for _, a := range l.Args {
					g.Instances = append(g.Instances, a.Value)
				}
			}
		})},
		{"notify_master", kaNoBlock, notify(func(g *vrrp.SyncGroup, s string) { g.NotifyMaster = s })},
		{"notify_backup", kaNoBlock, notify(func(g *vrrp.SyncGroup, s string) { g.NotifyBackup = s })},
		{"notify_fault", kaNoBlock, notify(func(g *vrrp.SyncGroup, s string) { g.NotifyFault = s })},
		{"notify_stop", kaNoBlock, notify(func(g *vrrp.SyncGroup, s string) { g.NotifyStop = s })},
		{"notify", kaNoBlock, notify(func(g *vrrp.SyncGroup, s string) { g.Notify = s })},
		{"smtp_alert", kaNoBlock, s(func(c *kaCtx, g *vrrp.SyncGroup, d *parser.Directive) {
			g.SMTPAlert = true
			if len(d.Args) > 0 {
				switch v := d.Args[0].Value; v {
				case "true", "on", "yes":
				case "false", "off", "no":
					g.SMTPAlert = false
				default:
					c.errf(d.Pos, parser.KaGeneralError, "Invalid vrrp_group smtp_alert parameter %s", v)
				}
			}
		})},
		{"global_tracking", kaNoBlock, s(func(c *kaCtx, g *vrrp.SyncGroup, d *parser.Directive) { c.sgTrackWeight[g] = true })},
		{"sync_group_tracking_weight", kaNoBlock, s(func(c *kaCtx, g *vrrp.SyncGroup, d *parser.Directive) { c.sgTrackWeight[g] = true })},
		{"notify_priority_changes", kaNoBlock, skip},
		{"track_script", kaValueBlock, s(func(c *kaCtx, g *vrrp.SyncGroup, d *parser.Directive) {
			for _, l := range d.Body {
				t, ok := c.trackRef(l, func(w string) string {
					return "(" + g.Name + ") track script " + l.Name + ": weight must be between [-253..253] inclusive, ignoring..."
				})
				if ok {
					g.TrackScripts = append(g.TrackScripts, t)
				}
			}
		})},
		{"track_interface", kaValueBlock, s(func(c *kaCtx, g *vrrp.SyncGroup, d *parser.Directive) {
			for _, l := range d.Body {
				if c.ifaces != nil && !c.ifaces[l.Name] {
					c.errf(l.Pos, parser.KaGeneralError, "(%s) tracked interface %s doesn't exist", g.Name, l.Name)
					c.markBadIf(l.Pos)
				}
				t, ok := c.trackRef(l, func(w string) string {
					return "(" + g.Name + ") weight " + w + " for " + l.Name + " must be between [-253..253] inclusive. Ignoring..."
				})
				if ok {
					g.TrackInterfaces = append(g.TrackInterfaces, t)
				}
			}
		})},
		{"track_file", kaValueBlock, s(func(c *kaCtx, g *vrrp.SyncGroup, d *parser.Directive) {
			for _, l := range d.Body {
				t, ok := c.trackRef(l, func(w string) string {
					return "(" + g.Name + ") track file " + l.Name + ": weight must be between [-253..253] inclusive, ignoring..."
				})
				if ok {
					g.TrackFiles = append(g.TrackFiles, t)
				}
			}
		})},
		{"track_process", kaValueBlock, s(func(c *kaCtx, g *vrrp.SyncGroup, d *parser.Directive) {
			for _, l := range d.Body {
				t, ok := c.trackRef(l, func(w string) string {
					return "(" + g.Name + ") weight for track process " + l.Name + " must be in [-254..254] inclusive. Ignoring..."
				})
				if ok {
					c.sgProcPos[g] = append(c.sgProcPos[g], l.Pos)
					g.TrackProcesses = append(g.TrackProcesses, t)
				}
			}
		})},
		{"track_bfd", kaValueBlock, skip},
	}
}

// ---- vrrp_track_file / track_file ----

func decTrackFileBlock(c *kaCtx, d *parser.Directive, args []parser.Word) error {
	name, ok := c.arg(d, 0)
	if !ok {
		return nil
	}
	tf := &vrrp.TrackFile{Name: name, Weight: 1}
	c.tf = tf
	c.walk(kaTrackFile, d)
	c.tf = nil
	if tf.Path == "" {
		c.errf(d.Pos, parser.KaGeneralError, "No file set for track_file %s - removing", name)
		return nil
	}
	c.cfg.TrackFiles[name] = tf
	return nil
}

// ---- static_ipaddress / static_routes ----

func decStaticIPs(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
	for _, l := range d.Body {
		if v, ok := c.parseVIP(l); ok {
			c.cfg.StaticIPs = append(c.cfg.StaticIPs, v)
		}
	}
	return nil
}

// kaAddr reads an address keepalived accepts where one address is
// expected: a trailing /prefix is ignored, as inet_stosockaddr does.
func kaAddr(s string) (netip.Addr, error) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	return netip.ParseAddr(s)
}

func decStaticRoutes(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
	for _, l := range d.Body {
		if r, ok := c.parseRoute(l); ok {
			if r.Dev == "" && !r.NoTrack && c.opt.HostChecks {
				c.errf(l.Pos, parser.KaGeneralError, "Warning - cannot track route %s with no interface specified, not tracking", r.Written)
			}
			c.cfg.StaticRoutes = append(c.cfg.StaticRoutes, r.Route)
		}
	}
	return nil
}
