package lvs

import (
	"context"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// ha_suspend: the checkers of a virtual server run only while its address
// is configured on this host (the VRRP instance that carries it is
// MASTER). keepalived's checker process follows the kernel's address
// events (update_checker_activity); so does the Manager: AddrEvent counts
// the matching addresses and activates or suspends the checkers when the
// count leaves or reaches zero.

// haSuspends says whether ha_suspend applies: keepalived clears it for a
// fwmark virtual server (no address to follow).
func haSuspends(vc *VirtualServer) bool { return vc.HASuspend && vc.FWMark == 0 }

// haMatches is addr_matches: the virtual server's address, or an address
// entry or range of its group (ranges vary the last byte of IPv4, the
// last 16 bits of IPv6).
func (m *Manager) haMatches(vc *VirtualServer, a netip.Addr) bool {
	a = a.Unmap()
	if vc.Group == "" {
		return vc.Addr.Addr().Unmap() == a
	}
	g := m.cfg.Groups[vc.Group]
	if g == nil {
		return false
	}
	for _, e := range g.Entries {
		if e.FWMark != 0 || !e.First.IsValid() {
			continue
		}
		first, last := e.First.Unmap(), e.Last.Unmap()
		if !last.IsValid() {
			last = first
		}
		if first.BitLen() != a.BitLen() {
			continue
		}
		if first.Compare(a) <= 0 && a.Compare(last) <= 0 {
			return true
		}
	}
	return false
}

// haCount is vs->ha_suspend_addr_count, from the addresses seen.
func (m *Manager) haCount(vc *VirtualServer) int {
	n := 0
	for a, k := range m.addrs {
		if m.haMatches(vc, a) {
			n += k
		}
	}
	return n
}

func usesHASuspend(cfg *Config) bool {
	for _, vc := range cfg.VirtualServers {
		if haSuspends(vc) {
			return true
		}
	}
	return false
}

// watchAddrs starts following the host's addresses when cfg has an
// ha_suspend virtual server (keepalived's using_ha_suspend) and nothing
// follows them yet. Called without m.mu: the present addresses are
// reported before it returns, through AddrEvent.
func (m *Manager) watchAddrs(ctx context.Context, cfg *Config) {
	m.mu.Lock()
	if m.watching || !usesHASuspend(cfg) {
		m.mu.Unlock()
		return
	}
	m.watching = true
	if m.addrs == nil {
		m.addrs = map[netip.Addr]int{}
	}
	m.mu.Unlock()
	if err := m.h.WatchAddrs(ctx, m.AddrEvent); err != nil {
		m.logf("ha_suspend: cannot follow the host's addresses (%v); the checkers of ha_suspend virtual servers stay active", err)
		m.mu.Lock()
		m.addrs = nil
		m.mu.Unlock()
	}
}

// AddrEvent is update_checker_activity: an address was added to (or
// removed from) an interface of this host.
func (m *Manager) AddrEvent(a netip.Addr, added bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.addrs == nil {
		return
	}
	a = a.Unmap()
	if added {
		m.addrs[a]++
	} else if m.addrs[a] > 0 {
		m.addrs[a]--
		if m.addrs[a] == 0 {
			delete(m.addrs, a)
		}
	}
	logged := false
	for _, vs := range m.vss {
		if haSuspends(vs.cfg) && m.haMatches(vs.cfg, a) {
			if !logged && m.h.LogDetail {
				// -D: the event that concerns an ha_suspend server, once
				verb := "removed"
				if added {
					verb = "added"
				}
				m.logf("Netlink reflector reports IP %s %s", a, verb)
			}
			logged = true
			m.haApply(vs)
		}
	}
}

// haApply activates the checkers of vs when one of its addresses is
// present, suspends them when none is (or activates them all when
// ha_suspend no longer applies), logging each change as keepalived does.
func (m *Manager) haApply(vs *vsState) {
	on := !haSuspends(vs.cfg) || m.addrs == nil || m.haCount(vs.cfg) > 0
	for _, rs := range vs.rss {
		for _, c := range rs.checkers {
			if c.stop == nil || c.stopped || c.enabled.Load() == on {
				continue // not started yet: startChecker decides
			}
			verb := "Suspend"
			if on {
				verb = "Activat"
			}
			m.logf("%sing healthchecker for service %s for VS %s", verb, Trio(rs.cfg.Addr, vs.cfg.Proto), vs.cfg.Name())
			c.enabled.Store(on)
		}
	}
}

// WatchAddrs follows the host's addresses through netlink (RTM_NEWADDR,
// RTM_DELADDR): every address present is reported before it returns, then
// each change until ctx ends. An address is reported once per interface
// that has it; a duplicate event (the dump racing the subscription) is
// dropped.
func WatchAddrs(ctx context.Context, ev func(a netip.Addr, added bool)) error {
	ch := make(chan netlink.AddrUpdate, 256)
	if err := netlink.AddrSubscribeWithOptions(ch, ctx.Done(), netlink.AddrSubscribeOptions{}); err != nil {
		return err
	}
	type key struct {
		idx int
		a   netip.Addr
	}
	seen := map[key]bool{}
	list, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return err
	}
	for _, x := range list {
		a, ok := netip.AddrFromSlice(x.IP)
		if !ok {
			continue
		}
		k := key{x.LinkIndex, a.Unmap()}
		if !seen[k] {
			seen[k] = true
			ev(k.a, true)
		}
	}
	go func() {
		for u := range ch {
			a, ok := netip.AddrFromSlice(u.LinkAddress.IP)
			if !ok {
				continue
			}
			k := key{u.LinkIndex, a.Unmap()}
			if u.NewAddr == seen[k] {
				continue
			}
			if u.NewAddr {
				seen[k] = true
			} else {
				delete(seen, k)
			}
			ev(k.a, u.NewAddr)
		}
	}()
	return nil
}
