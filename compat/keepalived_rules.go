package compat

import (
	"fmt"
	"strconv"
	"strings"

	"halo/parser"
	"halo/vrrp"
)

// virtual_rules / static_rules: `ip rule` lines as keepalived 2.2 reads them
// (vrrp_iprule.c alloc_rule), in its order and words; a rule with an error
// is dropped, as keepalived drops it.

// kaRuleTypes are iproute2's route types; only three make a rule action.
var kaRuleTypes = map[string]string{
	"blackhole": "blackhole", "unreachable": "unreachable", "prohibit": "prohibit",
	"unicast": "", "local": "", "broadcast": "", "anycast": "", "multicast": "", "throw": "", "nat": "", "xresolve": "",
}

func (c *kaCtx) parseRule(l *parser.Directive) (vrrp.Rule, bool) {
	words := append([]string{l.Name}, l.ArgValues()...)
	r := vrrp.Rule{SuppressPrefixLen: -1, IPProto: -1}
	fail := func(format string, a ...any) (vrrp.Rule, bool) {
		c.errf(l.Pos, parser.KaGeneralError, format, a...)
		return r, false
	}
	setAction := func(a string) bool {
		if r.Action != "" {
			return false
		}
		r.Action = a
		return true
	}
	const more = "Cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable/l3mdev for rule"
	family, tableOption, hasPref := 0, false, false
	next := func(i *int) string {
		*i++
		if *i < len(words) {
			return words[*i]
		}
		return ""
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch w {
		case "inet6", "inet":
			f := 4
			if w == "inet6" {
				f = 6
			}
			if family != 0 && family != f {
				other := map[int]string{4: "IPv6", 6: "IPv4"}[f]
				return fail("%s specified for %s rule", w, other)
			}
			family = f
		case "from", "to":
			v := next(&i)
			p, err := parseKaPrefix(v)
			if v == "all" {
				continue
			}
			if err != nil {
				return fail("Invalid rule %s address %s", w, v)
			}
			f := 4
			if p.Addr().Is6() {
				f = 6
			}
			if family != 0 && family != f {
				return fail("rule specification has mixed IPv4 and IPv6")
			}
			family = f
			if w == "from" {
				r.From = p
			} else {
				r.To = p
			}
		case "table", "lookup":
			v := next(&i)
			t, err := strconv.Atoi(v)
			if err != nil {
				t = kaRouteTable(v)
				if t == 0 {
					return fail("Routing table %s not found for rule", v)
				}
			}
			if t == 0 {
				return fail("Table 0 is not valid")
			}
			r.Table = t
			if !setAction("table") {
				return fail("Cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable for rule")
			}
		case "not":
			r.Invert = true
		case "preference", "order", "priority":
			v := next(&i)
			n, err := strconv.ParseUint(v, 0, 32)
			if err != nil {
				return fail("Invalid rule preference %s specified", w)
			}
			r.Priority, hasPref = int(n), true
		case "tos", "dsfield":
			v := next(&i)
			n, err := strconv.ParseUint(v, 0, 8)
			if err != nil {
				return fail("TOS value %s is invalid", v)
			}
			r.TOS = uint8(n)
		case "fwmark":
			v := next(&i)
			mark, mask, hasMask := v, "", false
			if a, b, ok := strings.Cut(v, "/"); ok {
				mark, mask, hasMask = a, b, true
			}
			m, err := strconv.ParseUint(mark, 0, 32)
			var k uint64
			if err == nil && hasMask {
				k, err = strconv.ParseUint(mask, 0, 32)
			}
			if err != nil || strings.HasPrefix(mark, "-") {
				return fail("Invalid rule fwmark %s specified", v)
			}
			r.FwMark, r.FwMask, r.HasFwMask = uint32(m), uint32(k), hasMask
		case "realms":
			v := next(&i)
			n, err := strconv.ParseUint(v, 0, 32)
			if err != nil {
				return fail("invalid realms %s for rule", v)
			}
			r.Realms, tableOption = uint32(n), true
			if family == 6 {
				return fail("realms is only valid for IPv4")
			}
			family = 4
		case "suppress_prefixlength", "sup_pl":
			v := next(&i)
			n, err := strconv.ParseUint(v, 10, 31)
			if err != nil {
				return fail("Invalid suppress_prefixlength %s specified", w)
			}
			r.SuppressPrefixLen, tableOption = int(n), true
		case "suppress_ifgroup", "sup_group":
			v := next(&i)
			n, err := strconv.ParseUint(v, 0, 32)
			if err != nil {
				return fail("suppress_group %s is invalid", v)
			}
			r.SuppressIfGroup, r.HasSuppressIfGroup, tableOption = int(n), true, true
		case "dev", "iif", "oif":
			v := next(&i)
			if c.ifaces != nil && !c.ifaces[v] {
				c.markBadIf(l.Pos)
				return fail("WARNING - interface %s for rule doesn't exist", v)
			}
			if w == "oif" {
				r.OIF = v
			} else {
				r.IIF = v
			}
		case "tunnel-id":
			v := next(&i)
			if _, err := strconv.ParseUint(v, 0, 64); err != nil {
				return fail("Invalid tunnel-id %s specified", w)
			}
			return fail("halo does not install tunnel-id rules")
		case "uidrange":
			v := next(&i)
			var a, b uint32
			if n, _ := fmt.Sscanf(v, "%d-%d", &a, &b); n != 2 {
				return fail("Invalid uidrange %s specified", w)
			}
			r.UIDStart, r.UIDEnd, r.HasUIDRange = a, b, true
		case "l3mdev":
			if !setAction("l3mdev") {
				return fail("Cannot specify l3mdev with other action")
			}
		case "protocol":
			v := next(&i)
			if n, err := strconv.ParseUint(v, 0, 8); err != nil {
				c.errf(l.Pos, parser.KaGeneralError, "Invalid protocol %s", v)
			} else {
				r.Protocol, r.HasProtocol = uint8(n), true
			}
		case "ipproto":
			v := next(&i)
			n, ok := map[string]int{"tcp": 6, "udp": 17, "icmp": 1, "sctp": 132, "ipv6-icmp": 58, "icmpv6": 58}[v]
			if !ok {
				x, err := strconv.ParseUint(v, 0, 8)
				if err != nil {
					c.errf(l.Pos, parser.KaGeneralError, "Invalid ipproto %s", v)
					continue
				}
				n = int(x)
			}
			r.IPProto = n
		case "sport", "dport":
			v := next(&i)
			// keepalived 2.2.7 takes "a-b" only: a single port is
			// refused ("invalid dport range 80"), the rule kept
			var a, b uint16
			if n, _ := fmt.Sscanf(v, "%d-%d", &a, &b); n != 2 {
				c.errf(l.Pos, parser.KaGeneralError, "invalid %s range %s", w, v)
				continue
			}
			if w == "sport" {
				r.SPort = [2]uint16{a, b}
			} else {
				r.DPort = [2]uint16{a, b}
			}
		case "no_track":
			r.NoTrack = true
		default:
			if w == "type" {
				w = next(&i)
			}
			var action string
			switch t, known := kaRuleTypes[w]; {
			case w == "goto":
				v := next(&i)
				n, err := strconv.ParseUint(v, 10, 32)
				if err != nil {
					return fail("Invalid target %s specified", w)
				}
				r.Goto, action = int(n), "goto"
			case w == "nop":
				action = "nop"
			case known && t != "":
				action = t
			case known:
				return fail("Invalid rule action %s", w)
			default:
				return fail("Unknown rule option %s", w)
			}
			if !setAction(action) {
				return fail(more)
			}
		}
	}
	if r.Action == "goto" {
		if !hasPref {
			return fail("Invalid rule - goto target %d specified without preference", r.Goto)
		}
		if r.Priority >= r.Goto {
			return fail("Invalid rule - preference %d >= goto target %d", r.Priority, r.Goto)
		}
	}
	if r.Action == "" {
		return fail("No action specified for rule - ignoring")
	}
	if r.Action != "table" && tableOption {
		return fail("suppressor/realm specified for non table action - skipping")
	}
	if r.Action == "l3mdev" && r.Table != 0 {
		return fail("table cannot be specified for l3mdev rules")
	}
	if !r.NoTrack {
		// keepalived marks the rules it tracks as its own (RTPROT_KEEPALIVED)
		if r.HasProtocol && r.Protocol != vrrp.ProtoKeepalived {
			c.errf(l.Pos, parser.KaGeneralError, "Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED(%d), resetting protocol", vrrp.ProtoKeepalived)
		}
		r.Protocol, r.HasProtocol = vrrp.ProtoKeepalived, true
	}
	if family == 0 {
		family = 4
	}
	r.Family = family
	if !hasPref {
		r.Priority = c.rulePref[family]
		c.rulePref[family]--
		c.errf(l.Pos, parser.KaGeneralError, "Rule has no preference specified - setting to %d. This is probably not what you want.", r.Priority)
	}
	return r, true
}

func decVirtualRules(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
	for _, l := range d.Body {
		if r, ok := c.parseRule(l); ok && c.inst != nil {
			c.inst.Rules = append(c.inst.Rules, r)
		}
	}
	return nil
}

func decStaticRules(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
	for _, l := range d.Body {
		if r, ok := c.parseRule(l); ok {
			c.cfg.StaticRules = append(c.cfg.StaticRules, r)
		}
	}
	return nil
}

// staticGlobalRows: default_interface, where static entries without a dev go.
func staticGlobalRows() []kaRow {
	return []kaRow{
		{"default_interface", kaNoBlock, func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if v, ok := c.arg(d, 0); ok {
				c.cfg.Global.DefaultInterface = v // keepalived -t says nothing of a missing one
			}
			return nil
		}},
	}
}

// firewallGlobalRows: the nftables table no_accept uses. keepalived 2.2.7
// as built here has nftables only: vrrp_iptables says so and uses it.
func firewallGlobalRows() []kaRow {
	return []kaRow{
		{"nftables", kaNoBlock, func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if c.cfg.Global.NftablesTable != "" {
				c.errf(d.Pos, parser.KaGeneralError, "nftables already specified - ignoring")
				return nil
			}
			name := "keepalived"
			if len(d.Args) > 0 {
				name = d.Args[0].Value
				if len(name) >= 256 {
					c.errf(d.Pos, parser.KaGeneralError, "nftables table name too long - ignoring")
					return nil
				}
			}
			c.cfg.Global.NftablesTable = name
			return nil
		}},
		{"vrrp_iptables", kaNoBlock, func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			c.errf(d.Pos, parser.KaGeneralError, "iptables not supported, using nftables instead. Please replace 'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option")
			c.cfg.Global.NftablesTable = "keepalived"
			return nil
		}},
	}
}
