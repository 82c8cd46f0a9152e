// Package transport carries VRRP messages: raw IP protocol 112 sockets on
// one interface, multicast (RFC 3768 §5.2.2 / RFC 5798 §5.1.1.2: group
// 224.0.0.18 or ff02::12, TTL/hop limit 255, no loopback) or unicast to
// unicast_peer addresses with unicast_ttl. It moves bytes only; encoding and
// the TTL rule belong to the caller, which gets the received TTL here.
//
// An auth_type AH instance speaks IP protocol 51 instead, with whole IPv4
// packets both ways (IP_HDRINCL): the AH checksum covers the IP header,
// so the caller builds it and reads it.
package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Proto is VRRP's IP protocol number; ProtoAH is IPsec AH's.
const (
	Proto   = 112
	ProtoAH = 51
)

// Options says where one VRRP instance speaks.
type Options struct {
	Iface      string
	V6         bool
	Group      netip.Addr   // multicast group; used when Peers is empty
	Src        netip.Addr   // source address of every sent message
	Peers      []netip.Addr // unicast_peer: unicast mode when set
	UnicastTTL int          // default 255
	// AH: IPv4 only, protocol 51, whole packets (header included) in
	// Packet.Payload and to SendTo.
	AH bool
}

// Packet is one received message. Payload aliases the caller's buffer.
type Packet struct {
	Src, Dst netip.Addr
	TTL      int // IPv4 TTL or IPv6 hop limit; -1 when the kernel did not say
	// Payload is the VRRP message, or for an AH conn the whole IPv4 packet.
	Payload []byte
}

// Conn is an open VRRP socket on one interface.
type Conn struct {
	o     Options
	ifi   *net.Interface
	c     net.PacketConn
	p4    *ipv4.PacketConn
	p6    *ipv6.PacketConn
	dests []netip.Addr
	cm4   *ipv4.ControlMessage
	cm6   *ipv6.ControlMessage
	zone  string
}

// Open opens and configures the socket; the error names what failed.
func Open(o Options) (*Conn, error) {
	ifi, err := net.InterfaceByName(o.Iface)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", o.Iface, err)
	}
	if o.UnicastTTL == 0 {
		o.UnicastTTL = 255
	}
	network, laddr := "ip4:112", "0.0.0.0"
	if o.V6 {
		network, laddr = "ip6:112", "::"
	}
	if o.AH {
		if o.V6 {
			return nil, errors.New("IPsec AH authentication is for VRRPv2 over IPv4 only")
		}
		network = "ip4:51"
	}
	c, err := net.ListenPacket(network, laddr)
	if err != nil {
		return nil, fmt.Errorf("VRRP socket: %w", err)
	}
	t := &Conn{o: o, ifi: ifi, c: c, zone: strconv.Itoa(ifi.Index)}
	if err := bindToDevice(c, o.Iface); err != nil {
		c.Close()
		return nil, err
	}
	if len(o.Peers) > 0 {
		t.dests = append(t.dests, o.Peers...)
	} else {
		if !o.Group.IsValid() || !o.Group.IsMulticast() {
			c.Close()
			return nil, fmt.Errorf("multicast group %v is not a multicast address", o.Group)
		}
		t.dests = []netip.Addr{o.Group}
	}
	if err := t.setup(); err != nil {
		c.Close()
		return nil, err
	}
	return t, nil
}

func (t *Conn) setup() error {
	o := t.o
	group := &net.IPAddr{IP: o.Group.AsSlice()}
	if !o.V6 {
		p := ipv4.NewPacketConn(t.c)
		t.p4 = p
		if err := p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true); err != nil {
			return fmt.Errorf("VRRP socket control messages: %w", err)
		}
		_ = p.SetTOS(0xc0) // keepalived marks adverts Internetwork Control
		if o.AH {
			// The caller writes the IP header (TTL, TOS, ID included).
			if err := setHdrIncl(t.c); err != nil {
				return err
			}
		}
		if len(o.Peers) > 0 {
			if err := p.SetTTL(o.UnicastTTL); err != nil {
				return err
			}
		} else {
			if err := p.JoinGroup(t.ifi, group); err != nil {
				return fmt.Errorf("join %s on %s: %w", o.Group, o.Iface, err)
			}
			if err := p.SetMulticastInterface(t.ifi); err != nil {
				return err
			}
			if err := p.SetMulticastTTL(255); err != nil {
				return err
			}
			if err := p.SetMulticastLoopback(false); err != nil {
				return err
			}
		}
		t.cm4 = &ipv4.ControlMessage{IfIndex: t.ifi.Index}
		if o.Src.IsValid() {
			t.cm4.Src = o.Src.AsSlice()
		}
		return nil
	}
	p := ipv6.NewPacketConn(t.c)
	t.p6 = p
	if err := p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true); err != nil {
		return fmt.Errorf("VRRP socket control messages: %w", err)
	}
	// The kernel computes and verifies the VRRPv3 checksum (offset 6) over
	// the IPv6 pseudo-header, as RFC 5798 §5.2.8 defines it.
	if err := p.SetChecksum(true, 6); err != nil {
		return fmt.Errorf("VRRP socket checksum: %w", err)
	}
	_ = p.SetTrafficClass(0xc0)
	if len(o.Peers) > 0 {
		if err := p.SetHopLimit(o.UnicastTTL); err != nil {
			return err
		}
	} else {
		if err := p.JoinGroup(t.ifi, group); err != nil {
			return fmt.Errorf("join %s on %s: %w", o.Group, o.Iface, err)
		}
		if err := p.SetMulticastInterface(t.ifi); err != nil {
			return err
		}
		if err := p.SetMulticastHopLimit(255); err != nil {
			return err
		}
		if err := p.SetMulticastLoopback(false); err != nil {
			return err
		}
	}
	t.cm6 = &ipv6.ControlMessage{IfIndex: t.ifi.Index}
	if o.Src.IsValid() {
		t.cm6.Src = o.Src.AsSlice()
	}
	return nil
}

// setHdrIncl makes the socket send whole IPv4 packets.
func setHdrIncl(c net.PacketConn) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return errors.New("VRRP socket: no raw access")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_HDRINCL, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("VRRP socket IP_HDRINCL: %w", serr)
	}
	return nil
}

func bindToDevice(c net.PacketConn, dev string) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return errors.New("VRRP socket: no raw access")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, dev)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("bind VRRP socket to %s: %w", dev, serr)
	}
	return nil
}

// Dests are the addresses every advert goes to: the group, or each peer.
func (t *Conn) Dests() []netip.Addr { return t.dests }

// Src is the configured source address (may be invalid: the kernel picks).
func (t *Conn) Src() netip.Addr { return t.o.Src }

// Unicast reports whether the conn speaks to unicast peers.
func (t *Conn) Unicast() bool { return len(t.o.Peers) > 0 }

// SendTo sends one VRRP message to dst (one of Dests); for an AH conn msg
// is the whole IPv4 packet.
func (t *Conn) SendTo(msg []byte, dst netip.Addr) error {
	a := &net.IPAddr{IP: dst.AsSlice()}
	var err error
	if t.o.AH {
		_, err = t.c.WriteTo(msg, a)
		return err
	}
	if t.p4 != nil {
		_, err = t.p4.WriteTo(msg, t.cm4, a)
	} else {
		if dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() {
			a.Zone = t.zone // numeric: no interface lookup per send
		}
		_, err = t.p6.WriteTo(msg, t.cm6, a)
	}
	return err
}

// Recv blocks for the next message that belongs to this conn: multicast
// mode takes only the group, unicast mode only unicast destinations.
// It returns an error once Close was called.
func (t *Conn) Recv(buf []byte) (Packet, error) {
	for {
		var (
			n   int
			src net.Addr
			err error
			pk  = Packet{TTL: -1}
		)
		if t.o.AH {
			// A raw IPv4 socket's read(2) keeps the IP header, which is
			// all that is needed: source, destination, TTL.
			n, err = t.c.(*net.IPConn).Read(buf)
			if err != nil {
				return Packet{}, err
			}
			if n < 20 {
				continue
			}
			pk.Src = netip.AddrFrom4([4]byte(buf[12:16]))
			pk.Dst = netip.AddrFrom4([4]byte(buf[16:20]))
			pk.TTL = int(buf[8])
		} else if t.p4 != nil {
			var cm *ipv4.ControlMessage
			n, cm, src, err = t.p4.ReadFrom(buf)
			if cm != nil {
				pk.TTL = cm.TTL
				pk.Dst, _ = netip.AddrFromSlice(cm.Dst)
				pk.Dst = pk.Dst.Unmap()
			}
		} else {
			var cm *ipv6.ControlMessage
			n, cm, src, err = t.p6.ReadFrom(buf)
			if cm != nil {
				pk.TTL = cm.HopLimit
				pk.Dst, _ = netip.AddrFromSlice(cm.Dst)
			}
		}
		if err != nil {
			return Packet{}, err
		}
		if ia, ok := src.(*net.IPAddr); ok && !t.o.AH {
			pk.Src, _ = netip.AddrFromSlice(ia.IP)
			pk.Src = pk.Src.Unmap()
		}
		if pk.Dst.IsValid() {
			if t.Unicast() == pk.Dst.IsMulticast() {
				continue
			}
			if !t.Unicast() && pk.Dst != t.o.Group {
				continue
			}
		}
		pk.Payload = buf[:n]
		return pk, nil
	}
}

// Close unblocks Recv and releases the socket.
func (t *Conn) Close() error { return t.c.Close() }
