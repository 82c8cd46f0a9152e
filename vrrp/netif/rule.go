package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"halo/vrrp"
)

// Rule actions (linux/fib_rules.h FR_ACT_*), the rtmsg type of a rule.
var ruleActions = map[string]uint8{
	"table": unix.FR_ACT_TO_TBL, "goto": unix.FR_ACT_GOTO, "nop": unix.FR_ACT_NOP,
	"blackhole": unix.FR_ACT_BLACKHOLE, "unreachable": unix.FR_ACT_UNREACHABLE, "prohibit": unix.FR_ACT_PROHIBIT,
}

func prefixNet(p netip.Prefix) *net.IPNet {
	if !p.IsValid() {
		return nil
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func toRule(r vrrp.Rule) (*netlink.Rule, error) {
	act, ok := ruleActions[r.Action]
	if !ok {
		return nil, fmt.Errorf("rule action %q is not installed by halo", r.Action)
	}
	nr := netlink.NewRule()
	nr.Family = netlink.FAMILY_V4
	if r.Family == 6 {
		nr.Family = netlink.FAMILY_V6
	}
	nr.Priority = r.Priority
	nr.Type = act
	if r.Action == "table" {
		nr.Table = r.Table
	} else {
		nr.Table = -1
	}
	if r.Action == "goto" {
		nr.Goto = r.Goto
	}
	nr.Src, nr.Dst = prefixNet(r.From), prefixNet(r.To)
	nr.Invert = r.Invert
	nr.Tos = uint(r.TOS)
	nr.Mark = r.FwMark
	if r.HasFwMask {
		m := r.FwMask
		nr.Mask = &m
	}
	nr.IifName, nr.OifName = r.IIF, r.OIF
	if r.Realms != 0 {
		nr.Flow = int(r.Realms)
	}
	nr.SuppressPrefixlen = r.SuppressPrefixLen
	if r.HasSuppressIfGroup {
		nr.SuppressIfgroup = r.SuppressIfGroup
	}
	if r.HasUIDRange {
		nr.UIDRange = netlink.NewRuleUIDRange(r.UIDStart, r.UIDEnd)
	}
	if r.IPProto >= 0 {
		nr.IPProto = r.IPProto
	}
	if r.SPort != [2]uint16{} {
		nr.Sport = netlink.NewRulePortRange(r.SPort[0], r.SPort[1])
	}
	if r.DPort != [2]uint16{} {
		nr.Dport = netlink.NewRulePortRange(r.DPort[0], r.DPort[1])
	}
	if r.HasProtocol {
		nr.Protocol = r.Protocol
	}
	return nr, nil
}

// AddRule installs a virtual_rules / static_rules entry; one already there
// is fine.
func AddRule(r vrrp.Rule) error {
	nr, err := toRule(r)
	if err != nil {
		return err
	}
	if err := netlink.RuleAdd(nr); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("add rule %s: %w", RuleString(r), err)
	}
	return nil
}

// DelRule removes a rule; one already gone is fine.
func DelRule(r vrrp.Rule) error {
	nr, err := toRule(r)
	if err != nil {
		return err
	}
	if err := netlink.RuleDel(nr); err != nil && !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("delete rule %s: %w", RuleString(r), err)
	}
	return nil
}

// RuleString renders a rule for log lines, in `ip rule` words.
func RuleString(r vrrp.Rule) string {
	s := fmt.Sprintf("pref %d", r.Priority)
	if r.Invert {
		s += " not"
	}
	if r.From.IsValid() {
		s += " from " + r.From.String()
	}
	if r.To.IsValid() {
		s += " to " + r.To.String()
	}
	switch r.Action {
	case "table":
		s += fmt.Sprintf(" table %d", r.Table)
	case "goto":
		s += fmt.Sprintf(" goto %d", r.Goto)
	default:
		s += " " + r.Action
	}
	return s
}
