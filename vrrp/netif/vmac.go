package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// VMACAddr is the virtual router MAC address of RFC 3768 section 7.3 /
// RFC 5798 section 7.3: 00-00-5E-00-01-{VRID} (IPv4), 00-00-5E-00-02-{VRID}
// (IPv6).
func VMACAddr(vrid uint8, v6 bool) net.HardwareAddr {
	fam := byte(1)
	if v6 {
		fam = 2
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, fam, vrid}
}

// CreateVMAC makes keepalived's use_vmac interface: a macvlan in private
// mode on base, with the virtual router MAC, up. The base stops answering
// ARP for addresses it does not hold itself (arp_ignore 1) so that the
// VIPs, which live on the VMAC interface, are answered with the virtual
// MAC only; an IPv4 instance's VMAC has IPv6 off, so that a BACKUP's never
// speaks (neighbour or router solicitations would teach switches the
// virtual MAC). An interface of that name left by a crash is replaced; one
// of ours (same base and MAC, kept over a reload) is kept.
//
// An IPv6 instance's VMAC gets no link-local address derived from its MAC
// (RFC 5798 section 7.4: every router of the VRID has that MAC, so they
// would all claim the same address): the kernel's address generation is
// off on it, and ll, when valid, is given to it instead, as keepalived
// 2.2.7's set_link_local_address does (the configured source address,
// else the base interface's link-local one), so that adverts leave the
// VMAC from the router's own address. ll is invalid with vmac_xmit_base,
// whose adverts leave from the base interface.
func CreateVMAC(name, base string, vrid uint8, v6 bool, ll netip.Addr) error {
	parent, err := Link(base)
	if err != nil {
		return err
	}
	want := VMACAddr(vrid, v6)
	if old, err := netlink.LinkByName(name); err == nil {
		mv, ok := old.(*netlink.Macvlan)
		if !ok {
			return fmt.Errorf("VMAC interface name %s already exists as a non VMAC interface", name)
		}
		if mv.Attrs().ParentIndex == parent.Attrs().Index && mv.Attrs().HardwareAddr.String() == want.String() {
			// ours, kept over a reload (or left by a crash): keep it,
			// with the VIPs a MASTER has on it
			if v6 {
				if err := vmacIPv6(old, want, ll); err != nil {
					return err
				}
			}
			return netlink.LinkSetUp(old)
		}
		_ = netlink.LinkDel(old)
	}
	mv := &netlink.Macvlan{LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: parent.Attrs().Index,
		HardwareAddr: want}, Mode: netlink.MACVLAN_MODE_PRIVATE}
	if err := netlink.LinkAdd(mv); err != nil {
		return fmt.Errorf("create VMAC %s on %s: %w", name, base, err)
	}
	_ = sysctl("net/ipv4/conf/"+base+"/arp_ignore", "1")
	_ = sysctl("net/ipv4/conf/"+name+"/arp_ignore", "1")
	_ = sysctl("net/ipv4/conf/"+name+"/arp_filter", "1")
	if !v6 {
		_ = sysctl("net/ipv6/conf/"+name+"/disable_ipv6", "1")
	}
	l, err := netlink.LinkByName(name)
	if err == nil && v6 {
		// before it is up: no address is ever generated from the MAC
		err = vmacIPv6(l, want, netip.Addr{})
	}
	if err == nil {
		err = netlink.LinkSetUp(l)
	}
	if err == nil && v6 && ll.IsValid() {
		err = vmacIPv6(l, want, ll)
	}
	if err != nil {
		return fmt.Errorf("set VMAC %s up: %w", name, err)
	}
	return nil
}

// vmacIPv6 turns IPv6 on for an IPv6 instance's VMAC (in case
// disable_ipv6 is the default), stops link-local generation from the
// shared MAC and removes such an address already made, and adds ll/64.
// The address is the router's own (the base interface has it too), so it
// is added without duplicate address detection, which would only hold it
// tentative, unusable as a source, for a second.
func vmacIPv6(l netlink.Link, mac net.HardwareAddr, ll netip.Addr) error {
	_ = sysctl("net/ipv6/conf/"+l.Attrs().Name+"/disable_ipv6", "0")
	if err := netlink.LinkSetIP6AddrGenMode(l, nl.IN6_ADDR_GEN_MODE_NONE); err != nil {
		return fmt.Errorf("VMAC %s: cannot turn IPv6 address generation off: %w", l.Attrs().Name, err)
	}
	gen := EUI64LinkLocal(mac)
	_ = netlink.AddrDel(l, &netlink.Addr{IPNet: &net.IPNet{IP: gen.AsSlice(), Mask: net.CIDRMask(64, 128)}})
	if !ll.IsValid() {
		return nil
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: ll.AsSlice(), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD}
	if !ll.IsLinkLocalUnicast() {
		// a configured global source: no second route to its /64 through
		// the VMAC
		a.Flags |= unix.IFA_F_NOPREFIXROUTE
	}
	if err := netlink.AddrReplace(l, a); err != nil {
		return fmt.Errorf("VMAC %s: adding link-local address %s failed: %w", l.Attrs().Name, ll, err)
	}
	return nil
}

// EUI64LinkLocal is the link-local address the kernel derives from a MAC
// (modified EUI-64, RFC 4291 appendix A).
func EUI64LinkLocal(mac net.HardwareAddr) netip.Addr {
	var b [16]byte
	b[0], b[1] = 0xfe, 0x80
	if len(mac) == 6 {
		b[8], b[9], b[10] = mac[0]^0x02, mac[1], mac[2]
		b[11], b[12] = 0xff, 0xfe
		b[13], b[14], b[15] = mac[3], mac[4], mac[5]
	}
	return netip.AddrFrom16(b)
}

// DeleteVMAC removes a VMAC interface; one already gone is fine.
func DeleteVMAC(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, syscall.ENODEV) {
		return fmt.Errorf("delete VMAC %s: %w", name, err)
	}
	return nil
}

func sysctl(path, value string) error {
	return os.WriteFile("/proc/sys/"+path, []byte(value), 0o644)
}
