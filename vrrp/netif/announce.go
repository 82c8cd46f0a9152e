package netif

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// GARPFrame builds keepalived's gratuitous ARP for ip from mac: an Ethernet
// broadcast ARP request whose sender and target IP are both ip and whose
// target hardware address is the broadcast address (byte for byte what
// keepalived 2.2.7 sends, see ../shared/netlab/vectors/priority0-and-garp.pcap).
func GARPFrame(mac net.HardwareAddr, ip netip.Addr) []byte {
	b := make([]byte, 42)
	for i := 0; i < 6; i++ {
		b[i] = 0xff
	}
	copy(b[6:12], mac)
	binary.BigEndian.PutUint16(b[12:], unix.ETH_P_ARP)
	binary.BigEndian.PutUint16(b[14:], 1) // hardware: Ethernet
	binary.BigEndian.PutUint16(b[16:], unix.ETH_P_IP)
	b[18], b[19] = 6, 4
	binary.BigEndian.PutUint16(b[20:], 1) // ARP request
	copy(b[22:28], mac)
	ip4 := ip.As4()
	copy(b[28:32], ip4[:])
	for i := 32; i < 38; i++ {
		b[i] = 0xff
	}
	copy(b[38:42], ip4[:])
	return b
}

// SendGARP sends count gratuitous ARPs for ip on dev.
func SendGARP(dev string, ip netip.Addr, count int) error {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return err
	}
	if len(ifi.HardwareAddr) != 6 {
		return fmt.Errorf("interface %s has no Ethernet address", dev)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ARP)))
	if err != nil {
		return fmt.Errorf("gratuitous ARP socket: %w", err)
	}
	defer unix.Close(fd)
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: ifi.Index, Halen: 6}
	for i := range 6 {
		sa.Addr[i] = 0xff
	}
	frame := GARPFrame(ifi.HardwareAddr, ip)
	for range count {
		if err := unix.Sendto(fd, frame, 0, sa); err != nil {
			return fmt.Errorf("gratuitous ARP on %s: %w", dev, err)
		}
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// NAMessage builds an unsolicited neighbour advertisement (RFC 4861 §7.2.6)
// for target with the Override flag and a target link-layer address option.
// The checksum is left zero: the kernel fills it on raw ICMPv6 sockets.
func NAMessage(mac net.HardwareAddr, target netip.Addr) []byte {
	b := make([]byte, 32)
	b[0] = 136  // neighbour advertisement
	b[4] = 0x20 // Override
	t := target.As16()
	copy(b[8:24], t[:])
	b[24], b[25] = 2, 1 // option: target link-layer address, 8 bytes
	copy(b[26:32], mac)
	return b
}

// SendNA sends count unsolicited neighbour advertisements for ip on dev to
// all-nodes, hop limit 255 as RFC 4861 requires.
func SendNA(dev string, ip netip.Addr, count int) error {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return err
	}
	c, err := net.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return fmt.Errorf("neighbour advertisement socket: %w", err)
	}
	defer c.Close()
	p := ipv6.NewPacketConn(c)
	if err := p.SetMulticastHopLimit(255); err != nil {
		return err
	}
	if err := p.SetMulticastInterface(ifi); err != nil {
		return err
	}
	cm := &ipv6.ControlMessage{IfIndex: ifi.Index, HopLimit: 255}
	dst := &net.IPAddr{IP: net.IPv6linklocalallnodes, Zone: strconv.Itoa(ifi.Index)}
	msg := NAMessage(ifi.HardwareAddr, ip)
	for range count {
		if _, err := p.WriteTo(msg, cm, dst); err != nil {
			return fmt.Errorf("neighbour advertisement on %s: %w", dev, err)
		}
	}
	return nil
}
