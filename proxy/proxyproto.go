package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// PROXY protocol (haproxy.org/download/2.6/doc/proxy-protocol.txt):
// `bind … accept-proxy` reads a v1 or v2 header before anything else and
// takes the client and destination addresses from it; `server … send-proxy`
// writes a v1 header on each new server connection.

var errProxyHeader = errors.New("invalid PROXY protocol header")

var v2sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// readProxyHeader reads exactly one PROXY header from c (byte by byte for
// v1 so nothing after it is consumed) and returns the addresses it
// carries; for LOCAL/UNKNOWN it returns ok=false and the caller keeps the
// socket's addresses.
func readProxyHeader(c net.Conn, timeout time.Duration) (src, dst netip.AddrPort, ok bool, err error) {
	_ = c.SetReadDeadline(deadline(pick(timeout, 10*time.Second)))
	defer c.SetReadDeadline(time.Time{})
	return parseProxyHeader(c)
}

// parseProxyHeader reads one PROXY header from r.
func parseProxyHeader(c io.Reader) (src, dst netip.AddrPort, ok bool, err error) {
	var hdr [16]byte
	if _, err = io.ReadFull(c, hdr[:5]); err != nil {
		return
	}
	if string(hdr[:5]) == "PROXY" {
		return readProxyV1(c)
	}
	if !bytes.Equal(hdr[:5], v2sig[:5]) {
		return src, dst, false, errProxyHeader
	}
	if _, err = io.ReadFull(c, hdr[5:16]); err != nil {
		return
	}
	if !bytes.Equal(hdr[:12], v2sig) || hdr[12]>>4 != 2 {
		return src, dst, false, errProxyHeader
	}
	n := int(binary.BigEndian.Uint16(hdr[14:16]))
	body := make([]byte, n)
	if _, err = io.ReadFull(c, body); err != nil {
		return
	}
	if hdr[12]&0x0f == 0 { // LOCAL: health check from the proxy itself
		return src, dst, false, nil
	}
	switch hdr[13] >> 4 {
	case 1: // AF_INET
		if n < 12 {
			return src, dst, false, errProxyHeader
		}
		s, d := netip.AddrFrom4([4]byte(body[0:4])), netip.AddrFrom4([4]byte(body[4:8]))
		return netip.AddrPortFrom(s, binary.BigEndian.Uint16(body[8:10])),
			netip.AddrPortFrom(d, binary.BigEndian.Uint16(body[10:12])), true, nil
	case 2: // AF_INET6
		if n < 36 {
			return src, dst, false, errProxyHeader
		}
		s, d := netip.AddrFrom16([16]byte(body[0:16])).Unmap(), netip.AddrFrom16([16]byte(body[16:32])).Unmap()
		return netip.AddrPortFrom(s, binary.BigEndian.Uint16(body[32:34])),
			netip.AddrPortFrom(d, binary.BigEndian.Uint16(body[34:36])), true, nil
	}
	return src, dst, false, nil
}

func readProxyV1(c io.Reader) (src, dst netip.AddrPort, ok bool, err error) {
	// "PROXY" already read; the line is at most 107 bytes.
	line := make([]byte, 0, 108)
	var b [1]byte
	for {
		if _, err = io.ReadFull(c, b[:]); err != nil {
			return
		}
		line = append(line, b[0])
		if b[0] == '\n' {
			break
		}
		if len(line) > 102 {
			return src, dst, false, errProxyHeader
		}
	}
	if !bytes.HasSuffix(line, []byte("\r\n")) || len(line) < 2 || line[0] != ' ' {
		return src, dst, false, errProxyHeader
	}
	f := bytes.Fields(line[:len(line)-2])
	if len(f) >= 1 && string(f[0]) == "UNKNOWN" {
		return src, dst, false, nil
	}
	if len(f) != 5 || (string(f[0]) != "TCP4" && string(f[0]) != "TCP6") {
		return src, dst, false, errProxyHeader
	}
	sa, e1 := netip.ParseAddr(string(f[1]))
	da, e2 := netip.ParseAddr(string(f[2]))
	sp, e3 := strconv.ParseUint(string(f[3]), 10, 16)
	dp, e4 := strconv.ParseUint(string(f[4]), 10, 16)
	if e1 != nil || e2 != nil || e3 != nil || e4 != nil {
		return src, dst, false, errProxyHeader
	}
	return netip.AddrPortFrom(sa, uint16(sp)), netip.AddrPortFrom(da, uint16(dp)), true, nil
}

// appendProxyV1 appends the v1 header for a connection from src to dst.
func appendProxyV1(b []byte, src, dst netip.AddrPort) []byte {
	if !src.IsValid() || !dst.IsValid() || src.Addr().Is4() != dst.Addr().Is4() {
		return append(b, "PROXY UNKNOWN\r\n"...)
	}
	b = append(b, "PROXY TCP"...)
	if src.Addr().Is4() {
		b = append(b, '4')
	} else {
		b = append(b, '6')
	}
	b = append(b, ' ')
	b = src.Addr().AppendTo(b)
	b = append(b, ' ')
	b = dst.Addr().AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(src.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(dst.Port()), 10)
	return append(b, '\r', '\n')
}

// appendProxyV2 appends the binary v2 header (PROXY command, TCP over
// IPv4 or IPv6; LOCAL when the addresses are unknown or mixed).
func appendProxyV2(b []byte, src, dst netip.AddrPort) []byte {
	b = append(b, v2sig...)
	if !src.IsValid() || !dst.IsValid() || src.Addr().Is4() != dst.Addr().Is4() {
		return append(b, 0x20, 0x00, 0, 0) // LOCAL, UNSPEC, no address
	}
	if src.Addr().Is4() {
		b = append(b, 0x21, 0x11, 0, 12)
		s4, d4 := src.Addr().As4(), dst.Addr().As4()
		b = append(b, s4[:]...)
		b = append(b, d4[:]...)
	} else {
		b = append(b, 0x21, 0x21, 0, 36)
		s16, d16 := src.Addr().As16(), dst.Addr().As16()
		b = append(b, s16[:]...)
		b = append(b, d16[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}
