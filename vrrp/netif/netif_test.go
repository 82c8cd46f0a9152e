package netif

import (
	"bytes"
	"encoding/hex"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"halo/vrrp"
	"halo/vrrp/internal/nstest"
)

// The first gratuitous ARP of ../shared/netlab/vectors/priority0-and-garp.pcap,
// sent by keepalived 2.2.7 for 10.77.0.100 from ae:3d:2d:f2:2e:7c.
const keepalivedGARP = "ffffffffffffae3d2df22e7c08060001080006040001ae3d2df22e7c0a4d0064ffffffffffff0a4d0064"

func TestGARPFrameMatchesKeepalived(t *testing.T) {
	mac, _ := net.ParseMAC("ae:3d:2d:f2:2e:7c")
	got := GARPFrame(mac, netip.MustParseAddr("10.77.0.100"))
	want, _ := hex.DecodeString(keepalivedGARP)
	if !bytes.Equal(got, want) {
		t.Fatalf("GARP frame\n got %x\nwant %x", got, want)
	}
}

func TestNAMessage(t *testing.T) {
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	m := NAMessage(mac, netip.MustParseAddr("2001:db8::100"))
	if m[0] != 136 || m[4] != 0x20 || m[24] != 2 || m[25] != 1 {
		t.Fatalf("bad NA header %x", m)
	}
	if netip.AddrFrom16([16]byte(m[8:24])) != netip.MustParseAddr("2001:db8::100") || !bytes.Equal(m[26:32], mac) {
		t.Fatalf("bad NA target/option %x", m)
	}
}

func TestScope(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
		err  bool
	}{
		{name: "default", in: "", want: 0},
		{name: "host", in: "host", want: 254},
		{name: "link", in: "link", want: 253},
		{name: "site", in: "site", want: 200},
		{name: "number", in: "10", want: 10},
		{name: "bad", in: "planet", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Scope(tc.in)
			if (err != nil) != tc.err || (!tc.err && got != tc.want) {
				t.Fatalf("Scope(%q) = %d, %v", tc.in, got, err)
			}
		})
	}
}

func TestVIPAddRemove(t *testing.T) {
	lab := nstest.NewLab(t, "vi", 2, 201)
	vips := []vrrp.VIP{
		{Prefix: netip.MustParsePrefix("10.78.201.100/24")},
		{Prefix: netip.MustParsePrefix("10.78.201.101/32"), Label: "eth0:vip", Scope: "host"},
		{Prefix: netip.MustParsePrefix("192.0.2.7/24"), Broadcast: netip.MustParseAddr("192.0.2.255")},
	}
	route := vrrp.Route{Dst: netip.MustParsePrefix("198.51.100.0/24"), Via: netip.MustParseAddr("10.78.201.2")}
	nstest.In(t, lab.Nodes[0], func() {
		for _, v := range vips {
			if err := AddVIP("eth0", v); err != nil {
				t.Fatal(err)
			}
			if err := AddVIP("eth0", v); err != nil { // idempotent
				t.Fatalf("second add: %v", err)
			}
		}
		if err := AddRoute(route, "eth0"); err != nil {
			t.Fatal(err)
		}
		for _, v := range vips {
			ok, err := HasAddr("eth0", v.Prefix.Addr())
			if err != nil || !ok {
				t.Fatalf("%s not on eth0 (%v)", v.Prefix, err)
			}
		}
		src, err := PrimaryAddr("eth0", false, []netip.Addr{vips[0].Prefix.Addr(), vips[1].Prefix.Addr(), vips[2].Prefix.Addr()})
		if err != nil || src != netip.MustParseAddr("10.78.201.1") {
			t.Fatalf("primary address %v, %v", src, err)
		}
	})
	out := lab.Addrs(t, 1, "eth0")
	for _, want := range []string{"10.78.201.100/24", "10.78.201.101/32 scope host eth0:vip", "192.0.2.7/24 brd 192.0.2.255"} {
		if !strings.Contains(out, want) {
			t.Errorf("ip addr lacks %q:\n%s", want, out)
		}
	}
	rt, _ := exec.Command("ip", "-n", lab.Nodes[0], "route", "show", "198.51.100.0/24").CombinedOutput()
	if !strings.Contains(string(rt), "via 10.78.201.2 dev eth0") {
		t.Errorf("route missing: %s", rt)
	}
	nstest.In(t, lab.Nodes[0], func() {
		for _, v := range vips {
			if err := DelVIP("eth0", v); err != nil {
				t.Fatal(err)
			}
			if err := DelVIP("eth0", v); err != nil {
				t.Fatalf("second delete: %v", err)
			}
		}
		if err := DelRoute(route, "eth0"); err != nil {
			t.Fatal(err)
		}
		if err := DelRoute(route, "eth0"); err != nil {
			t.Fatalf("second route delete: %v", err)
		}
	})
	out = lab.Addrs(t, 1, "eth0")
	if strings.Count(out, "inet ") != 1 {
		t.Errorf("VIPs left behind:\n%s", out)
	}
}

func TestGARPOnTheWire(t *testing.T) {
	lab := nstest.NewLab(t, "ga", 2, 202)
	var fd int
	nstest.In(t, lab.Nodes[1], func() {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ARP)))
		if err != nil {
			t.Fatal(err)
		}
	})
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(3 * time.Second))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	var mac net.HardwareAddr
	// A fresh veth pair can drop the first frames while the link comes up:
	// send a burst every 100 ms until the receiver has seen one whole burst.
	stop := make(chan struct{})
	defer close(stop)
	sendErr := make(chan error, 1)
	nstest.In(t, lab.Nodes[0], func() {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		mac = ifi.HardwareAddr
	})
	go func() {
		nstest.In(t, lab.Nodes[0], func() {
			for {
				if err := SendGARP("eth0", netip.MustParseAddr("10.78.202.100"), 3); err != nil {
					sendErr <- err
					return
				}
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
	}()
	want := GARPFrame(mac, netip.MustParseAddr("10.78.202.100"))
	got := 0
	buf := make([]byte, 1500)
	for got < 3 {
		select {
		case err := <-sendErr:
			t.Fatal(err)
		default:
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			t.Fatalf("received %d gratuitous ARPs: %v", got, err)
		}
		if bytes.Equal(buf[:n], want) || (n > len(want) && bytes.Equal(buf[:len(want)], want)) {
			got++
		}
	}
}
