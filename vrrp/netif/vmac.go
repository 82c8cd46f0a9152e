package netif

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/vishvananda/netlink"
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
// virtual MAC). An interface of that name left by a crash is replaced.
func CreateVMAC(name, base string, vrid uint8, v6 bool) error {
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
	if err == nil {
		err = netlink.LinkSetUp(l)
	}
	if err != nil {
		return fmt.Errorf("set VMAC %s up: %w", name, err)
	}
	return nil
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
