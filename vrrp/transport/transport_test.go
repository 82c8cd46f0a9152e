package transport

import (
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"halo/vrrp/internal/nstest"
)

func recvOne(t *testing.T, c *Conn) Packet {
	t.Helper()
	type res struct {
		p   Packet
		err error
	}
	ch := make(chan res, 1)
	go func() {
		buf := make([]byte, 1500)
		p, err := c.Recv(buf)
		ch <- res{p, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.p
	case <-time.After(3 * time.Second):
		c.Close()
		t.Fatal("nothing received")
	}
	return Packet{}
}

// sendUntil sends every 100 ms (5 times at most) in the background until
// the returned function is called, which waits for the sender to finish:
// nothing of it outlives the test (a late t.Log panics the test binary).
func sendUntil(t *testing.T, send func() error) (stop func()) {
	t.Helper()
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for i := 0; i < 5; i++ {
			if err := send(); err != nil {
				t.Log(err)
			}
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func TestMulticastAndUnicast(t *testing.T) {
	lab := nstest.NewLab(t, "tp", 2, 221)
	src1 := netip.MustParseAddr(lab.Net + ".1")
	src2 := netip.MustParseAddr(lab.Net + ".2")
	group := netip.MustParseAddr("224.0.0.18")
	tests := []struct {
		name    string
		o1, o2  Options
		wantDst netip.Addr
		wantTTL int
	}{
		{name: "multicast", o1: Options{Iface: "eth0", Group: group, Src: src1}, o2: Options{Iface: "eth0", Group: group, Src: src2}, wantDst: group, wantTTL: 255},
		{name: "unicast ttl", o1: Options{Iface: "eth0", Src: src1, Peers: []netip.Addr{src2}, UnicastTTL: 7}, o2: Options{Iface: "eth0", Src: src2, Peers: []netip.Addr{src1}}, wantDst: src2, wantTTL: 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c1, c2 *Conn
			var err error
			nstest.In(t, lab.Nodes[0], func() { c1, err = Open(tc.o1) })
			if err != nil {
				t.Fatal(err)
			}
			defer c1.Close()
			nstest.In(t, lab.Nodes[1], func() { c2, err = Open(tc.o2) })
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			msg := []byte{0x21, 51, 150, 1, 1, 1, 0, 0, 10, 78, 221, 100, 0, 0, 0, 0, 0, 0, 0, 0}
			defer sendUntil(t, func() error { return c1.SendTo(msg, c1.Dests()[0]) })()
			p := recvOne(t, c2)
			if p.Src != src1 || p.Dst != tc.wantDst || p.TTL != tc.wantTTL || string(p.Payload) != string(msg) {
				t.Fatalf("got src %v dst %v ttl %d payload %x", p.Src, p.Dst, p.TTL, p.Payload)
			}
		})
	}
}

func TestIPv6Multicast(t *testing.T) {
	lab := nstest.NewLab(t, "t6", 2, 222)
	for i, ns := range lab.Nodes {
		ll := []string{"fe80::a1/64", "fe80::a2/64"}[i]
		if out, err := exec.Command("ip", "-n", ns, "addr", "add", ll, "dev", "eth0", "nodad").CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	group := netip.MustParseAddr("ff02::12")
	var c1, c2 *Conn
	var err error
	nstest.In(t, lab.Nodes[0], func() {
		c1, err = Open(Options{Iface: "eth0", V6: true, Group: group, Src: netip.MustParseAddr("fe80::a1")})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	nstest.In(t, lab.Nodes[1], func() {
		c2, err = Open(Options{Iface: "eth0", V6: true, Group: group, Src: netip.MustParseAddr("fe80::a2")})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	// VRRPv3 over IPv6, one address; the kernel fills the checksum.
	msg := make([]byte, 8+16)
	msg[0], msg[1], msg[2], msg[3], msg[4], msg[5] = 0x31, 51, 150, 1, 0, 100
	copy(msg[8:], netip.MustParseAddr("2001:db8::100").AsSlice())
	defer sendUntil(t, func() error { return c1.SendTo(msg, group) })()
	p := recvOne(t, c2)
	if p.Src != netip.MustParseAddr("fe80::a1") || p.Dst != group || p.TTL != 255 {
		t.Fatalf("got src %v dst %v hop limit %d", p.Src, p.Dst, p.TTL)
	}
	if p.Payload[6] == 0 && p.Payload[7] == 0 {
		t.Fatal("checksum not filled in by the kernel")
	}
}

// TestAHWholePackets: an AH conn sends the IPv4 header it is given
// (IP_HDRINCL: identification, TTL, TOS kept) and reads whole packets, in
// multicast and unicast.
func TestAHWholePackets(t *testing.T) {
	lab := nstest.NewLab(t, "ah", 2, 223)
	src1 := netip.MustParseAddr(lab.Net + ".1")
	src2 := netip.MustParseAddr(lab.Net + ".2")
	group := netip.MustParseAddr("224.0.0.18")
	for _, tc := range []struct {
		name   string
		o1, o2 Options
		dst    netip.Addr
	}{
		{name: "multicast", o1: Options{Iface: "eth0", Group: group, Src: src1, AH: true}, o2: Options{Iface: "eth0", Group: group, Src: src2, AH: true}, dst: group},
		{name: "unicast", o1: Options{Iface: "eth0", Src: src1, Peers: []netip.Addr{src2}, AH: true}, o2: Options{Iface: "eth0", Src: src2, Peers: []netip.Addr{src1}, AH: true}, dst: src2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c1, c2 *Conn
			var err error
			nstest.In(t, lab.Nodes[0], func() { c1, err = Open(tc.o1) })
			if err != nil {
				t.Fatal(err)
			}
			defer c1.Close()
			nstest.In(t, lab.Nodes[1], func() { c2, err = Open(tc.o2) })
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			// IPv4 (id 0x1234, TTL 200) + 24-byte AH + 20-byte VRRPv2: the
			// bytes are not checked here, only carried.
			pkt := make([]byte, 20+24+20)
			pkt[0], pkt[1], pkt[3], pkt[4], pkt[5], pkt[8], pkt[9] = 0x45, 0xc0, byte(len(pkt)), 0x12, 0x34, 200, ProtoAH
			copy(pkt[12:], src1.AsSlice())
			copy(pkt[16:], tc.dst.AsSlice())
			pkt[20], pkt[21] = Proto, 4
			defer sendUntil(t, func() error { return c1.SendTo(pkt, c1.Dests()[0]) })()
			p := recvOne(t, c2)
			if p.Src != src1 || p.Dst != tc.dst || p.TTL != 200 || len(p.Payload) != len(pkt) ||
				p.Payload[4] != 0x12 || p.Payload[5] != 0x34 || p.Payload[1] != 0xc0 || string(p.Payload[20:]) != string(pkt[20:]) {
				t.Fatalf("got src %v dst %v ttl %d packet %x", p.Src, p.Dst, p.TTL, p.Payload)
			}
		})
	}
}
