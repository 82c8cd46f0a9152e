package speaker

import (
	"halo/vrrp"
	"halo/vrrp/netif"
)

// static_ipaddress, static_routes and static_rules are set while the
// process runs, whatever the instances do: added at start (addresses,
// routes, rules), removed at stop (rules, routes, addresses), as keepalived
// does (vrrp_daemon.c). A reload removes what the new configuration dropped
// and adds what it brought (adding is idempotent).

// staticDev is the interface of a static address or route that names none:
// keepalived's default_interface.
func staticDev(cfg *vrrp.Config, dev string) string {
	if dev != "" {
		return dev
	}
	if cfg.Global.DefaultInterface != "" {
		return cfg.Global.DefaultInterface
	}
	return "eth0"
}

func (s *Speaker) addStatics() {
	cfg := s.cfg
	for _, v := range cfg.StaticIPs {
		if err := netif.AddVIP(staticDev(cfg, v.Dev), v); err != nil {
			s.logf("static address: %v", err)
		}
	}
	for _, r := range cfg.StaticRoutes {
		if err := netif.AddRoute(r, staticDev(cfg, r.Dev)); err != nil {
			s.logf("static route: %v", err)
		}
	}
	for _, r := range cfg.StaticRules {
		if err := netif.AddRule(r); err != nil {
			s.logf("static rule: %v", err)
		}
	}
}

// removeStatics removes the static entries of cfg that keep does not have
// (keep nil: all of them).
func (s *Speaker) removeStatics(cfg, keep *vrrp.Config) {
	for _, r := range cfg.StaticRules {
		if keep == nil || !hasRule(keep.StaticRules, r) {
			_ = netif.DelRule(r)
		}
	}
	for _, r := range cfg.StaticRoutes {
		if keep == nil || !hasRoute(keep.StaticRoutes, r) {
			_ = netif.DelRoute(r, staticDev(cfg, r.Dev))
		}
	}
	for _, v := range cfg.StaticIPs {
		if keep == nil || !hasVIP(keep.StaticIPs, v) {
			_ = netif.DelVIP(staticDev(cfg, v.Dev), v)
		}
	}
}

func hasRule(list []vrrp.Rule, r vrrp.Rule) bool {
	for _, x := range list {
		if x == r {
			return true
		}
	}
	return false
}

func hasRoute(list []vrrp.Route, r vrrp.Route) bool {
	for _, x := range list {
		if x == r {
			return true
		}
	}
	return false
}
