package check

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"halo/vrrp/track"
)

// NewProber returns the client for cfg's kind.
func NewProber(cfg *Config) (Prober, error) {
	switch cfg.Kind {
	case "TCP_CHECK":
		return tcpProber{cfg}, nil
	case "HTTP_GET", "SSL_GET":
		return &httpProber{cfg: cfg}, nil
	case "MISC_CHECK":
		return miscProber{cfg}, nil
	case "SMTP_CHECK":
		return smtpProber{cfg}, nil
	case "DNS_CHECK":
		return dnsProber{cfg}, nil
	case "UDP_CHECK":
		return udpProber{cfg}, nil
	case "PING_CHECK":
		return pingProber{cfg}, nil
	case "FILE_CHECK":
		return fileProber{cfg}, nil
	}
	return nil, fmt.Errorf("unknown checker %s", cfg.Kind)
}

// Dialer is the connection a checker opens: bindto/bind_port as the
// local address, bind_if as SO_BINDTODEVICE, fwmark as SO_MARK.
func Dialer(cfg *Config) *net.Dialer {
	d := &net.Dialer{Timeout: cfg.ConnectTimeout}
	if cfg.BindAddr.IsValid() || cfg.BindPort != 0 {
		ip := cfg.BindAddr
		if !ip.IsValid() {
			if cfg.Dst.Addr().Is6() {
				ip = netip.IPv6Unspecified()
			} else {
				ip = netip.IPv4Unspecified()
			}
		}
		ap := netip.AddrPortFrom(ip, cfg.BindPort)
		d.LocalAddr = &net.TCPAddr{IP: ap.Addr().AsSlice(), Port: int(ap.Port()), Zone: ap.Addr().Zone()}
	}
	if cfg.BindIf != "" || cfg.FWMark != 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				if cfg.FWMark != 0 {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK, int(cfg.FWMark))
				}
				if serr == nil && cfg.BindIf != "" {
					serr = syscall.BindToDevice(int(fd), cfg.BindIf)
				}
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	return d
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)
}

// ---- TCP_CHECK ----

type tcpProber struct{ cfg *Config }

func (p tcpProber) Probe(ctx context.Context, _ int) Outcome {
	c, err := Dialer(p.cfg).DialContext(ctx, "tcp", p.cfg.Dst.String())
	if err != nil {
		if isTimeout(err) {
			return Outcome{Reason: "TCP connection to %s timeout."}
		}
		return Outcome{Reason: "TCP connection to %s failed."}
	}
	c.Close()
	return Outcome{OK: true}
}

// ---- MISC_CHECK ----

type miscProber struct{ cfg *Config }

func (p miscProber) Probe(ctx context.Context, _ int) Outcome {
	to := p.cfg.MiscTimeout
	if to <= 0 {
		to = p.cfg.DelayLoop
	}
	r := track.Run(ctx, p.cfg.MiscPath, track.Cred{UID: p.cfg.UID, GID: p.cfg.GID}, to)
	switch {
	case r.Err != nil:
		// keepalived's child exits 0 when the script cannot be run
		// ("script errors aren't server errors") only for system()
		// failures; a missing program is exit 127 from the shell.
		return Outcome{Exit: 127}
	case r.TimedOut:
		return Outcome{TimedOut: true}
	case r.Signaled:
		return Outcome{Signal: r.Signal}
	}
	return Outcome{OK: r.Status == 0, Exit: r.Status}
}

// ---- SMTP_CHECK ----

type smtpProber struct{ cfg *Config }

// DefaultHelo is SMTP_CHECK's HELO name when none is configured.
const DefaultHelo = "smtpchecker.keepalived.org"

// Probe speaks what check_smtp.c does: the banner must start "220 ", the
// HELO answer "250 " (three digits, then a space or the end of the line:
// a continuation line "220-" fails as in keepalived), then QUIT and any
// line back. The reasons are keepalived's, naming the server as [ip]:port.
func (p smtpProber) Probe(ctx context.Context, _ int) Outcome {
	host := fmt.Sprintf("[%s]:%d", p.cfg.Dst.Addr().Unmap(), p.cfg.Dst.Port())
	fail := func(f string) Outcome { return Outcome{Reason: fmt.Sprintf(f, host)} }
	c, err := Dialer(p.cfg).DialContext(ctx, "tcp", p.cfg.Dst.String())
	if err != nil {
		switch {
		case isTimeout(err):
			return fail("Connection timeout to server %s")
		case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
			return fail("Could not connect to server %s")
		}
		return fail("Error connecting to server %s")
	}
	defer c.Close()
	r := bufio.NewReader(c)
	line := func() (string, Outcome, bool) {
		_ = c.SetReadDeadline(time.Now().Add(p.cfg.ConnectTimeout))
		l, err := r.ReadString('\n')
		if err != nil {
			if isTimeout(err) {
				return "", fail("Read timeout from server %s"), false
			}
			return "", fail("Read failure from server %s"), false
		}
		return strings.TrimSuffix(l, "\n"), Outcome{}, true
	}
	put := func(l string) (Outcome, bool) {
		_ = c.SetWriteDeadline(time.Now().Add(p.cfg.ConnectTimeout))
		if _, err := io.WriteString(c, l); err != nil {
			if isTimeout(err) {
				return fail("Write timeout to server %s"), false
			}
			return fail("Write failure to server %s"), false
		}
		return Outcome{}, true
	}
	helo := p.cfg.HeloName
	if helo == "" {
		helo = DefaultHelo
	}
	l, o, ok := line()
	if !ok {
		return o
	}
	if SMTPStatus(l) != 220 {
		return fail("Bad greeting banner from server %s")
	}
	if o, ok := put("HELO " + helo + "\r\n"); !ok {
		return o
	}
	if l, o, ok = line(); !ok {
		return o
	}
	if SMTPStatus(l) != 250 {
		return fail("Bad HELO response from server %s")
	}
	if o, ok := put("QUIT\r\n"); !ok {
		return o
	}
	if _, o, ok = line(); !ok {
		return o
	}
	return Outcome{OK: true}
}

// SMTPStatus is smtp_get_status: a line's three-digit code followed by a
// space or nothing, else -1.
func SMTPStatus(l string) int {
	if len(l) < 3 || (len(l) > 3 && l[3] != ' ') {
		return -1
	}
	n, err := strconv.Atoi(l[:3])
	if err != nil || l[0] == '+' || l[0] == '-' {
		return -1
	}
	return n
}

// ---- DNS_CHECK ----

type dnsProber struct{ cfg *Config }

// DNSTypes are the query types DNS_CHECK sends.
var DNSTypes = map[string]uint16{"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}

// Probe sends one query over UDP and wants a reply with the same id, the
// response bit and no error (check_dns.c).
func (p dnsProber) Probe(ctx context.Context, _ int) Outcome {
	qtype := DNSTypes[p.cfg.DNSType]
	if qtype == 0 {
		qtype = DNSTypes["SOA"]
	}
	var idb [2]byte
	_, _ = rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	q := dnsQuery(id, p.cfg.DNSName, qtype)
	d := Dialer(p.cfg)
	d.LocalAddr = udpLocal(d.LocalAddr)
	c, err := d.DialContext(ctx, "udp", p.cfg.Dst.String())
	if err != nil {
		if errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) {
			return Outcome{Reason: fmt.Sprintf("network unreachable for [%s]:%d", p.cfg.Dst.Addr().Unmap(), p.cfg.Dst.Port())}
		}
		return Outcome{Reason: "connection error."}
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(p.cfg.ConnectTimeout))
	if n, err := c.Write(q); err != nil {
		if isTimeout(err) {
			return Outcome{Reason: "write timeout to socket."}
		}
		return Outcome{Reason: "failed to write socket."}
	} else if n != len(q) {
		return Outcome{Reason: "failed to write all of the datagram."}
	}
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if isTimeout(err) {
				return Outcome{Reason: "read timeout from socket"}
			}
			var errno syscall.Errno
			if errors.As(err, &errno) {
				return Outcome{Reason: fmt.Sprintf("failed to read socket; errno %d (%s)", int(errno), errno.Error())}
			}
			return Outcome{Reason: "connection error."}
		}
		if n < 12 || binary.BigEndian.Uint16(buf) != id {
			continue // not ours: keep waiting, as keepalived does
		}
		flags := binary.BigEndian.Uint16(buf[2:])
		if flags&0x8000 == 0 {
			continue // a query, not an answer: keepalived waits on
		}
		if rc := flags & 0xf; rc != 0 {
			return Outcome{Reason: fmt.Sprintf("read error occurred. (rcode = %d)", rc)}
		}
		return Outcome{OK: true}
	}
}

func dnsQuery(id uint16, name string, qtype uint16) []byte {
	b := make([]byte, 12, 512)
	binary.BigEndian.PutUint16(b, id)
	binary.BigEndian.PutUint16(b[2:], 0x0100) // RD
	binary.BigEndian.PutUint16(b[4:], 1)
	for _, l := range strings.Split(strings.Trim(name, "."), ".") {
		if l == "" {
			continue
		}
		if len(l) > 63 {
			l = l[:63]
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, qtype)
	b = binary.BigEndian.AppendUint16(b, 1)
	return b
}

func udpLocal(a net.Addr) net.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		return &net.UDPAddr{IP: t.IP, Port: t.Port, Zone: t.Zone}
	}
	return a
}

// ---- UDP_CHECK ----

// udpFailed is check_udp.c's line for a datagram refused (ICMP port
// unreachable) or unanswered when a reply is required.
const udpFailed = "UDP connection to %s failed."

type udpProber struct{ cfg *Config }

// Probe sends the payload (random when none) and, when require_reply is
// set, wants a reply of the right length matching the pattern; otherwise
// only an ICMP error (port unreachable) is a failure (check_udp.c).
func (p udpProber) Probe(ctx context.Context, _ int) Outcome {
	d := Dialer(p.cfg)
	d.LocalAddr = udpLocal(d.LocalAddr)
	c, err := d.DialContext(ctx, "udp", p.cfg.Dst.String())
	if err != nil {
		return Outcome{Reason: udpFailed}
	}
	defer c.Close()
	payload := p.cfg.Payload
	if len(payload) == 0 {
		payload = make([]byte, 16)
		_, _ = rand.Read(payload)
	}
	_ = c.SetDeadline(time.Now().Add(p.cfg.ConnectTimeout))
	if _, err := c.Write(payload); err != nil {
		return Outcome{Reason: udpFailed}
	}
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	if err != nil {
		if isTimeout(err) && !p.cfg.RequireReply {
			return Outcome{OK: true}
		}
		return Outcome{Reason: udpFailed}
	}
	if p.cfg.RequireReply && !UDPReplyMatches(p.cfg, buf[:n]) {
		return Outcome{Reason: "UDP check to %s reply data mismatch."}
	}
	return Outcome{OK: true}
}

// UDPReplyMatches applies min/max_reply_length and the require_reply
// pattern (nibbles, X = any) up to the shorter of pattern and reply.
func UDPReplyMatches(cfg *Config, reply []byte) bool {
	maxLen := cfg.MaxReplyLength
	if maxLen == 0 {
		maxLen = 255
	}
	if len(reply) < cfg.MinReplyLength || len(reply) > maxLen {
		return false
	}
	for i := 0; i < len(cfg.ReplyPattern) && i/2 < len(reply); i++ {
		if cfg.ReplyMask[i] == 0 {
			continue
		}
		b := reply[i/2]
		nib := b >> 4
		if i%2 == 1 {
			nib = b & 0xf
		}
		if nib != cfg.ReplyPattern[i] {
			return false
		}
	}
	return true
}

// ---- PING_CHECK ----

// pingFailed is check_ping.c's line for an echo that failed otherwise
// than by timing out: the checker, then the virtual server.
const pingFailed = "ICMP connection to %s of %s failed."

type pingProber struct{ cfg *Config }

// Probe sends one ICMP echo request and waits connect_timeout for the
// matching reply.
func (p pingProber) Probe(ctx context.Context, _ int) Outcome {
	dst := p.cfg.Dst.Addr()
	network, proto := "ip4:icmp", 1
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if dst.Is6() && !dst.Is4In6() {
		network, proto, typ = "ip6:ipv6-icmp", 58, ipv6.ICMPTypeEchoRequest
	}
	local := ""
	if p.cfg.BindAddr.IsValid() {
		local = p.cfg.BindAddr.String()
	}
	c, err := icmp.ListenPacket(network, local)
	if err != nil {
		return Outcome{Reason: pingFailed}
	}
	defer c.Close()
	var idb [4]byte
	_, _ = rand.Read(idb[:])
	id, seq := int(binary.BigEndian.Uint16(idb[:])), int(binary.BigEndian.Uint16(idb[2:]))
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("halo keepalived PING_CHECK")}}
	wb, _ := msg.Marshal(nil)
	_ = c.SetDeadline(time.Now().Add(p.cfg.ConnectTimeout))
	if _, err := c.WriteTo(wb, &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}); err != nil {
		return Outcome{Reason: pingFailed}
	}
	rb := make([]byte, 1500)
	for {
		n, peer, err := c.ReadFrom(rb)
		if err != nil {
			if isTimeout(err) {
				return Outcome{Reason: "ICMP connection to address %s timeout."}
			}
			return Outcome{Reason: pingFailed}
		}
		if ctx.Err() != nil {
			return Outcome{}
		}
		pa, _ := netip.ParseAddr(strings.Split(peer.String(), "%")[0])
		if pa.Unmap() != dst.Unmap() {
			continue
		}
		m, err := icmp.ParseMessage(proto, rb[:n])
		if err != nil {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == seq &&
			(m.Type == ipv4.ICMPTypeEchoReply || m.Type == ipv6.ICMPTypeEchoReply) {
			return Outcome{OK: true}
		}
	}
}

// ---- FILE_CHECK ----

type fileProber struct{ cfg *Config }

// Probe reads the tracked file (a missing or garbled file reads 0).
func (p fileProber) Probe(context.Context, int) Outcome {
	v := track.ReadValue(p.cfg.FilePath)
	return FileOutcome(p.cfg, v)
}

// FileOutcome is what a tracked value means (track_file.c): with a
// weight, value × weight (negated when reversed) at or below -254 fails
// and a dynamic checker passes it on as a weight; without one, any
// non-zero value fails.
func FileOutcome(cfg *Config, v int) Outcome {
	if cfg.FileWeight == 0 {
		return Outcome{OK: v == 0}
	}
	w := v * cfg.FileWeight
	if cfg.FileReverse {
		w = -w
	}
	o := Outcome{OK: w > -254}
	if cfg.FileDynamic {
		o.Weight, o.HasWeight = w, true
	}
	return o
}

// ParseHexPayload reads UDP_CHECK's free-format hex strings ("Ab12f 3 456"
// is AB 12 0F 03 45 06): each word is read as pairs of hex digits, a word
// of odd length gets a leading 0. X/x (pattern only) is a nibble that is
// not compared: mask holds 0 there.
func ParseHexPayload(words []string, allowX bool) (nibbles, mask []byte, err error) {
	for _, w := range words {
		if len(w)%2 == 1 {
			w = "0" + w
		}
		for _, r := range w {
			switch {
			case allowX && (r == 'x' || r == 'X'):
				nibbles, mask = append(nibbles, 0), append(mask, 0)
			default:
				v, perr := strconv.ParseUint(string(r), 16, 8)
				if perr != nil {
					return nil, nil, fmt.Errorf("invalid hex digit %q", r)
				}
				nibbles, mask = append(nibbles, byte(v)), append(mask, 1)
			}
		}
	}
	return nibbles, mask, nil
}

// NibblesToBytes packs nibble values into bytes.
func NibblesToBytes(n []byte) []byte {
	out := make([]byte, 0, len(n)/2)
	for i := 0; i+1 < len(n); i += 2 {
		out = append(out, n[i]<<4|n[i+1])
	}
	return bytes.Clone(out)
}
