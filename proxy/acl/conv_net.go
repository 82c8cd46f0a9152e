package acl

import (
	"fmt"
	"net/netip"
	"strconv"
)

// netConvs are the address converters (configuration.txt §7.3.1).
func netConvs() []*convDef {
	return []*convDef{
		// ipmask(mask4[,mask6]): the masks are prefix lengths or
		// addresses (any bit pattern for IPv6). IPv4-mapped addresses
		// are IPv4; without mask6 an IPv6 address does not convert.
		{name: "ipmask", minArgs: 1, maxArgs: 2, out: KIP, compile: func(cv *conv, o *Options) error {
			m4, err := parseMask(cv.args[0], false)
			if err != nil {
				return err
			}
			cv.ref = m4
			if len(cv.args) > 1 && cv.args[1] != "" {
				m6, err := parseMask(cv.args[1], true)
				if err != nil {
					return err
				}
				cv.str = m6.AsSlice()
			}
			return nil
		}, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			ip, ok := v.asIP()
			if !ok {
				return Value{}, false
			}
			ip = ip.Unmap()
			if ip.Is4() {
				return Value{Kind: KIP, IP: andAddr(ip, cv.ref.(netip.Addr).AsSlice())}, true
			}
			if cv.str == nil {
				return Value{}, false
			}
			return Value{Kind: KIP, IP: andAddr(ip, cv.str)}, true
		}},
	}
}

// parseMask reads a prefix length or a mask written as an address.
func parseMask(s string, v6 bool) (netip.Addr, error) {
	bits := 32
	if v6 {
		bits = 128
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > bits {
			return netip.Addr{}, fmt.Errorf("invalid mask '%s'", s)
		}
		b := make([]byte, bits/8)
		for i := 0; i < n; i++ {
			b[i/8] |= 0x80 >> (i % 8)
		}
		a, _ := netip.AddrFromSlice(b)
		return a, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Is4() == v6 {
		return netip.Addr{}, fmt.Errorf("invalid mask '%s'", s)
	}
	return a, nil
}

func andAddr(a netip.Addr, mask []byte) netip.Addr {
	b := a.AsSlice()
	for i := range b {
		b[i] &= mask[i]
	}
	r, _ := netip.AddrFromSlice(b)
	return r
}
