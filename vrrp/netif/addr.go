// Package netif changes the host's interfaces for the VRRP runtime: it adds
// and removes virtual IP addresses and virtual routes through netlink, and
// announces a takeover with gratuitous ARP and unsolicited neighbour
// advertisements. It knows nothing about VRRP states.
package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"

	"github.com/vishvananda/netlink"

	"halo/vrrp"
)

// Scope turns a keepalived/iproute2 scope name (host, link, site, global,
// nowhere or a number) into the kernel's value.
func Scope(name string) (int, error) {
	switch name {
	case "", "global", "universe":
		return int(netlink.SCOPE_UNIVERSE), nil
	case "site":
		return int(netlink.SCOPE_SITE), nil
	case "link":
		return int(netlink.SCOPE_LINK), nil
	case "host":
		return int(netlink.SCOPE_HOST), nil
	case "nowhere":
		return int(netlink.SCOPE_NOWHERE), nil
	}
	n, err := strconv.Atoi(name)
	if err != nil || n < 0 || n > 255 {
		return 0, fmt.Errorf("unknown scope %q", name)
	}
	return n, nil
}

// Link finds an interface by name.
func Link(name string) (netlink.Link, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	return l, nil
}

// VIPDev is the interface a VIP lives on: its own `dev`, else the instance's.
func VIPDev(v vrrp.VIP, instanceIface string) string {
	if v.Dev != "" {
		return v.Dev
	}
	return instanceIface
}

func toAddr(v vrrp.VIP) (*netlink.Addr, error) {
	p := v.Prefix
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}, Label: v.Label}
	sc, err := Scope(v.Scope)
	if err != nil {
		return nil, err
	}
	a.Scope = sc
	if v.Broadcast.IsValid() {
		a.Broadcast = v.Broadcast.AsSlice()
	}
	if p.Addr().Is6() {
		// Keepalived adds IPv6 VIPs with IFA_F_NODAD so the address is
		// usable (and answerable by NA) at once instead of "tentative".
		a.Flags |= syscall.IFA_F_NODAD
	}
	return a, nil
}

// AddVIP puts v on the interface named dev. An address already present is
// not an error: after a reload or a crash it may still be there.
func AddVIP(dev string, v vrrp.VIP) error {
	l, err := Link(dev)
	if err != nil {
		return err
	}
	a, err := toAddr(v)
	if err != nil {
		return err
	}
	if err := netlink.AddrAdd(l, a); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("add %s to %s: %w", v.Prefix, dev, err)
	}
	return nil
}

// DelVIP removes v from dev. An address already gone is not an error.
func DelVIP(dev string, v vrrp.VIP) error {
	l, err := Link(dev)
	if err != nil {
		return err
	}
	a, err := toAddr(v)
	if err != nil {
		return err
	}
	if err := netlink.AddrDel(l, a); err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) && !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("delete %s from %s: %w", v.Prefix, dev, err)
	}
	return nil
}

// HasAddr reports whether the address ip is configured on dev.
func HasAddr(dev string, ip netip.Addr) (bool, error) {
	l, err := Link(dev)
	if err != nil {
		return false, err
	}
	fam := netlink.FAMILY_V4
	if ip.Is6() {
		fam = netlink.FAMILY_V6
	}
	list, err := netlink.AddrList(l, fam)
	if err != nil {
		return false, err
	}
	for _, a := range list {
		if x, ok := netip.AddrFromSlice(a.IP); ok && x.Unmap() == ip {
			return true, nil
		}
	}
	return false, nil
}

// PrimaryAddr is the first address of the family on dev, the source
// keepalived uses for adverts when no mcast_src_ip/unicast_src_ip is set. For
// IPv6 it is the link-local address (RFC 5798 §5.1.2.1). Addresses in
// exclude (the VIPs) are skipped so a VIP never becomes the source.
func PrimaryAddr(dev string, v6 bool, exclude []netip.Addr) (netip.Addr, error) {
	l, err := Link(dev)
	if err != nil {
		return netip.Addr{}, err
	}
	fam := netlink.FAMILY_V4
	if v6 {
		fam = netlink.FAMILY_V6
	}
	list, err := netlink.AddrList(l, fam)
	if err != nil {
		return netip.Addr{}, err
	}
next:
	for _, a := range list {
		x, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		x = x.Unmap()
		if v6 != x.Is6() || (v6 && !x.IsLinkLocalUnicast()) {
			continue
		}
		if a.Flags&(syscall.IFA_F_TENTATIVE|syscall.IFA_F_DADFAILED) != 0 {
			continue // not usable as a source yet (or ever)
		}
		for _, e := range exclude {
			if e == x {
				continue next
			}
		}
		return x, nil
	}
	return netip.Addr{}, fmt.Errorf("interface %s has no usable IPv%s address", dev, map[bool]string{false: "4", true: "6"}[v6])
}

func toRoute(r vrrp.Route, defIface string) (*netlink.Route, error) {
	rt := &netlink.Route{Priority: r.Metric, Table: r.Table}
	if r.Dst.IsValid() {
		rt.Dst = &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), r.Dst.Addr().BitLen())}
	}
	if r.Via.IsValid() {
		rt.Gw = r.Via.AsSlice()
	}
	if r.Src.IsValid() {
		rt.Src = r.Src.AsSlice()
	}
	if r.Blackhole {
		rt.Type = syscall.RTN_BLACKHOLE
	} else {
		dev := r.Dev
		if dev == "" && !r.Via.IsValid() {
			dev = defIface
		}
		if dev != "" {
			l, err := Link(dev)
			if err != nil {
				return nil, err
			}
			rt.LinkIndex = l.Attrs().Index
		}
	}
	if r.Scope != "" {
		sc, err := Scope(r.Scope)
		if err != nil {
			return nil, err
		}
		rt.Scope = netlink.Scope(sc)
	} else if !r.Via.IsValid() && !r.Blackhole {
		rt.Scope = netlink.SCOPE_LINK
	}
	return rt, nil
}

// AddRoute installs a virtual_routes entry; defIface is the instance's
// interface, used when the route names neither dev nor via.
func AddRoute(r vrrp.Route, defIface string) error {
	rt, err := toRoute(r, defIface)
	if err != nil {
		return err
	}
	if err := netlink.RouteReplace(rt); err != nil {
		return fmt.Errorf("add route %s: %w", r.Dst, err)
	}
	return nil
}

// DelRoute removes a virtual_routes entry; a route already gone is fine.
func DelRoute(r vrrp.Route, defIface string) error {
	rt, err := toRoute(r, defIface)
	if err != nil {
		return err
	}
	if err := netlink.RouteDel(rt); err != nil && !errors.Is(err, syscall.ESRCH) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("delete route %s: %w", r.Dst, err)
	}
	return nil
}

// LinkUp reports whether dev is administratively and operationally up
// (IFF_UP and IFF_RUNNING), what track_interface watches.
func LinkUp(dev string) (bool, error) {
	l, err := Link(dev)
	if err != nil {
		return false, err
	}
	f := l.Attrs().RawFlags
	return f&syscall.IFF_UP != 0 && f&syscall.IFF_RUNNING != 0, nil
}
