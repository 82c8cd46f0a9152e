// Package nstest builds throw-away network namespaces for the VRRP
// runtime's integration tests: one bridge namespace and N nodes on one L2
// segment, every name prefixed "hr" (or $HALO_NETNS_PREFIX, so that two
// checkouts tested at once on one host keep apart) so they never collide
// with other labs.
package nstest

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
)

// Root skips t unless the test runs as root (namespaces need it).
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip command")
	}
}

// Lab is one segment: Bridge namespace and Nodes namespaces, node i has
// eth0 with Net.i/24.
type Lab struct {
	Bridge string
	Nodes  []string
	Net    string // e.g. "10.78.3"
}

func ip(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// NewLab creates n nodes. tag keeps parallel test packages apart (2–3
// letters); the lab is removed when the test ends.
func NewLab(t testing.TB, tag string, n int, subnet int) *Lab {
	t.Helper()
	Root(t)
	prefix := os.Getenv("HALO_NETNS_PREFIX")
	if prefix == "" {
		prefix = "hr"
	}
	p := fmt.Sprintf("%s%s%d", prefix, tag, os.Getpid()%10000)
	l := &Lab{Bridge: p + "b", Net: fmt.Sprintf("10.78.%d", subnet)}
	cleanup := func() {
		for _, ns := range append([]string{l.Bridge}, l.Nodes...) {
			if out, _ := exec.Command("ip", "netns", "pids", ns).Output(); len(out) > 0 {
				for _, pid := range strings.Fields(string(out)) {
					_ = exec.Command("kill", "-9", pid).Run()
				}
			}
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
	}
	t.Cleanup(cleanup)
	ip(t, "netns", "add", l.Bridge)
	ip(t, "-n", l.Bridge, "link", "add", "br0", "type", "bridge")
	ip(t, "-n", l.Bridge, "link", "set", "br0", "up")
	for i := 1; i <= n; i++ {
		ns := fmt.Sprintf("%sn%d", p, i)
		l.Nodes = append(l.Nodes, ns)
		ip(t, "netns", "add", ns)
		ip(t, "-n", l.Bridge, "link", "add", fmt.Sprintf("p%d", i), "type", "veth", "peer", "name", "eth0", "netns", ns)
		ip(t, "-n", l.Bridge, "link", "set", fmt.Sprintf("p%d", i), "master", "br0", "up")
		ip(t, "-n", ns, "link", "set", "lo", "up")
		ip(t, "-n", ns, "addr", "add", fmt.Sprintf("%s.%d/24", l.Net, i), "dev", "eth0")
		ip(t, "-n", ns, "link", "set", "eth0", "up")
	}
	return l
}

// Addrs lists node i's (1-based) IPv4 addresses on dev.
func (l *Lab) Addrs(t testing.TB, i int, dev string) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", l.Nodes[i-1], "-4", "-o", "addr", "show", "dev", dev).CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr: %v: %s", err, out)
	}
	return string(out)
}

// In runs fn on a locked OS thread switched into namespace ns, so sockets
// and netlink calls made by fn belong to ns (sockets stay there after).
func In(t testing.TB, ns string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(err) // a thread stuck in the wrong namespace must not be reused
		}
	}()
	fn()
}
