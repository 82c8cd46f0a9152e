package packet

import (
	"encoding/binary"
	"fmt"
	"os"
)

// readPcap returns the link-layer frames of a classic libpcap file
// (microsecond or nanosecond, either byte order) with Ethernet link type.
// Standard library only, enough for the captures in netlab/vectors.
func readPcap(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 24 {
		return nil, fmt.Errorf("%s: %d bytes, no pcap header", path, len(b))
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("%s: not a pcap file (magic %x)", path, b[:4])
	}
	if lt := bo.Uint32(b[20:]); lt != 1 {
		return nil, fmt.Errorf("%s: link type %d, want 1 (Ethernet)", path, lt)
	}
	var frames [][]byte
	for p := b[24:]; len(p) > 0; {
		if len(p) < 16 {
			return nil, fmt.Errorf("%s: truncated record header", path)
		}
		n := int(bo.Uint32(p[8:]))
		if len(p) < 16+n {
			return nil, fmt.Errorf("%s: truncated record", path)
		}
		frames = append(frames, p[16:16+n])
		p = p[16+n:]
	}
	return frames, nil
}

// ipv4VRRP returns the IPv4 packets carrying VRRP in Ethernet frames.
func ipv4VRRP(frames [][]byte) [][]byte {
	var out [][]byte
	for _, f := range frames {
		if len(f) < 14+20 || binary.BigEndian.Uint16(f[12:]) != 0x0800 {
			continue
		}
		ip := f[14:]
		if ip[9] != Protocol {
			continue
		}
		tot := int(binary.BigEndian.Uint16(ip[2:]))
		if tot > len(ip) {
			continue
		}
		out = append(out, ip[:tot]) // drop Ethernet padding
	}
	return out
}

// ipv6Packet is an IPv6 packet carrying VRRP, split as an IPv6 raw socket
// and its control messages would deliver it.
type ipv6Packet struct {
	src, dst [16]byte
	hopLimit int
	payload  []byte
}

// ipv6VRRP returns the IPv6 VRRP packets (no extension headers) in Ethernet frames.
func ipv6VRRP(frames [][]byte) []ipv6Packet {
	var out []ipv6Packet
	for _, f := range frames {
		if len(f) < 14+40 || binary.BigEndian.Uint16(f[12:]) != 0x86dd {
			continue
		}
		ip := f[14:]
		if ip[6] != Protocol {
			continue
		}
		n := int(binary.BigEndian.Uint16(ip[4:]))
		if 40+n > len(ip) {
			continue
		}
		out = append(out, ipv6Packet{src: [16]byte(ip[8:24]), dst: [16]byte(ip[24:40]), hopLimit: int(ip[7]), payload: ip[40 : 40+n]})
	}
	return out
}
