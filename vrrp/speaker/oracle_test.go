package speaker

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"halo/vrrp"
	"halo/vrrp/internal/nstest"
	"halo/vrrp/packet"
)

// The tests in this file run real Keepalived 2.2.7 (the oracle) beside
// halo's speaker on one segment and compare what they do.

// kaNode is a real keepalived in a lab node. It runs in its own mount
// namespace whose /tmp is the node's directory, so its SIGUSR1/SIGUSR2
// dumps (/tmp/keepalived.*) do not collide with anyone's.
type kaNode struct {
	cmd *exec.Cmd
	dir string
	out *syncBuf
}

func needKeepalived(t *testing.T) {
	t.Helper()
	nstest.Root(t)
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Fatal("keepalived not installed (.ci/run installs it): the oracle of this test")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatal("unshare (util-linux) not installed")
	}
}

func startKeepalived(t *testing.T, ns, conf string) *kaNode {
	t.Helper()
	k := &kaNode{dir: t.TempDir(), out: &syncBuf{}}
	if err := os.WriteFile(filepath.Join(k.dir, "keepalived.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// Inside, /tmp is k.dir: every path is given as seen from there.
	k.cmd = exec.Command("ip", "netns", "exec", ns, "unshare", "-m", "sh", "-c",
		"mount --bind "+k.dir+" /tmp && exec keepalived -n -l -D -f /tmp/keepalived.conf -p /tmp/ka.pid -r /tmp/vrrp.pid -c /tmp/chk.pid")
	k.cmd.Stdout, k.cmd.Stderr = k.out, k.out
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.stop()
		if t.Failed() {
			t.Logf("keepalived in %s:\n%s", ns, k.out.String())
		}
	})
	return k
}

// vrrpPid is keepalived's VRRP child, the process that answers SIGUSR2.
func (k *kaNode) vrrpPid(t *testing.T) int {
	t.Helper()
	for t0 := time.Now(); time.Since(t0) < 5*time.Second; time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(k.dir, "vrrp.pid"))
		var pid int
		if err == nil {
			if _, err := fmt.Sscan(string(b), &pid); err == nil && pid > 0 {
				return pid
			}
		}
	}
	t.Fatal("keepalived wrote no vrrp.pid")
	return 0
}

func (k *kaNode) stop() {
	if k.cmd.ProcessState == nil {
		_ = k.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = k.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = k.cmd.Process.Kill()
			<-done
		}
	}
}

// readDump waits for a dump file and returns it.
func readDump(t *testing.T, path string) string {
	t.Helper()
	for t0 := time.Now(); time.Since(t0) < 3*time.Second; time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			time.Sleep(50 * time.Millisecond) // written at once, but be sure it is whole
			b, _ = os.ReadFile(path)
			return string(b)
		}
	}
	t.Fatalf("no %s", path)
	return ""
}

// kaConf is the keepalived.conf equivalent of labConfig's instance.
func kaConf(router string, prio int, auth, vip string, extra string) string {
	a := ""
	if auth != "" {
		a = fmt.Sprintf("  authentication {\n    auth_type %s\n    auth_pass secret12\n  }\n", auth)
	}
	return fmt.Sprintf(`global_defs {
  router_id %s
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority %d
  advert_int 1
%s%s  virtual_ipaddress {
    %s
  }
}
`, router, prio, a, extra, vip)
}

var kaStamp = regexp.MustCompile(`^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: `)

// packetLines are the log lines about received packets, without
// keepalived's timestamps, in order.
func packetLines(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		l = kaStamp.ReplaceAllString(l, "")
		if strings.HasPrefix(l, "VRRP sockpool:") {
			continue // keepalived's socket list
		}
		for _, w := range []string{"packet", "TTL", "version", "auth", "passwd", "interval", "ip number", "not present",
			"checksum", "IPSEC", "priority 0", "icast"} {
			if strings.Contains(l, w) && !strings.Contains(l, "sent 0 priority") {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

// injector sends hand-made IPv4 packets onto a lab node's eth0.
type injector struct {
	fd  int
	id  uint16
	src netip.Addr
	seq uint32
}

func newInjector(t *testing.T, ns string, src netip.Addr) *injector {
	t.Helper()
	in := &injector{src: src, id: 1000}
	var err error
	nstest.In(t, ns, func() {
		in.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		if err == nil {
			err = unix.SetsockoptString(in.fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, "eth0")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(in.fd) })
	return in
}

// badCase builds one packet: the VRRP message (already edited) behind an
// IPv4 header (and an AH header signed with key when ah).
type badCase struct {
	name string
	edit func(c *pktSpec)
}

type pktSpec struct {
	ver, typ, prio, naddr, auth, intv uint8
	addrs                             []netip.Addr
	pass                              string
	v3layout                          bool // no auth bytes
	extra, cut                        int
	ttl                               uint8
	badSum                            bool
	ah                                bool
	ahNext                            uint8
	seq                               uint32
	spi                               []byte
	badICV                            bool
}

func (in *injector) build(s pktSpec, vip netip.Addr) []byte {
	v := []byte{s.ver<<4 | s.typ, 51, s.prio, s.naddr, s.auth, s.intv, 0, 0}
	for _, a := range s.addrs {
		x := a.As4()
		v = append(v, x[:]...)
	}
	if !s.v3layout {
		pw := packet.PassData(s.pass)
		if s.ah {
			pw = [8]byte{}
		}
		v = append(v, pw[:]...)
	}
	cs := ipSum(v)
	if s.badSum {
		cs ^= 0x1234
	}
	binary.BigEndian.PutUint16(v[6:], cs)
	v = append(v, make([]byte, s.extra)...)
	v = v[:len(v)-s.cut]
	proto := byte(packet.Protocol)
	var ah []byte
	if s.ah {
		proto = packet.ProtocolAH
		next := s.ahNext
		if next == 0 {
			next = packet.Protocol
		}
		ah = make([]byte, packet.AHLen)
		ah[0], ah[1] = next, 4
		sa := in.src.As4()
		copy(ah[4:8], sa[:])
		if s.spi != nil {
			copy(ah[4:8], s.spi)
		}
		seq := s.seq
		if seq == 0 {
			in.seq++
			seq = in.seq
		}
		binary.BigEndian.PutUint32(ah[8:], seq)
	}
	ttl := s.ttl
	if ttl == 0 {
		ttl = 255
	}
	in.id++
	ip := make([]byte, 20, 20+len(ah)+len(v))
	ip[0], ip[1], ip[8], ip[9] = 0x45, 0xc0, ttl, proto
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(ah)+len(v)))
	binary.BigEndian.PutUint16(ip[4:], in.id)
	sa, da := in.src.As4(), packet.Group4.As4()
	copy(ip[12:], sa[:])
	copy(ip[16:], da[:])
	pkt := append(append(ip, ah...), v...)
	if s.ah {
		// ICV computed independently of the codec: HMAC-MD5-96 keyed with
		// the padded password over the packet, mutable fields zeroed.
		tmp := append([]byte(nil), pkt...)
		tmp[1], tmp[6], tmp[7], tmp[10], tmp[11] = 0, 0, 0, 0, 0
		key := packet.PassData(s.pass)
		m := hmac.New(md5.New, key[:])
		m.Write(tmp)
		icv := m.Sum(nil)[:12]
		if s.badICV {
			icv[0] ^= 1
		}
		copy(pkt[32:44], icv)
	}
	binary.BigEndian.PutUint16(pkt[10:], ipSum(pkt[:20]))
	return pkt
}

func ipSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

func (in *injector) send(t *testing.T, pkt []byte) {
	t.Helper()
	if err := unix.Sendto(in.fd, pkt, 0, &unix.SockaddrInet4{Addr: packet.Group4.As4()}); err != nil {
		t.Fatal(err)
	}
}

// badCases are the bad adverts Keepalived counts and words in its own way;
// each is sent between two good higher-priority adverts, so the nodes under
// test stay BACKUP.
func badCases(other netip.Addr) []badCase {
	return []badCase{
		{"too short", func(c *pktSpec) { c.cut = 4 }},
		{"too long", func(c *pktSpec) { c.extra = 4 }},
		{"too short for a header", func(c *pktSpec) { c.cut = 16 }},
		{"ttl 64", func(c *pktSpec) { c.ttl = 64 }},
		{"version 5", func(c *pktSpec) { c.ver = 5 }},
		{"version 3 layout", func(c *pktSpec) { c.ver, c.v3layout, c.auth, c.intv = 3, true, 0, 100 }},
		{"version 5 v3 layout", func(c *pktSpec) { c.ver, c.v3layout, c.auth, c.intv = 5, true, 0, 100 }},
		{"type 2", func(c *pktSpec) { c.typ = 2 }},
		{"auth type 7", func(c *pktSpec) { c.auth = 7 }},
		{"auth type none", func(c *pktSpec) { c.auth, c.pass = 0, "" }},
		{"auth type AH in a plain advert", func(c *pktSpec) { c.auth = packet.AuthAH }},
		{"wrong password", func(c *pktSpec) { c.pass = "wrong!!!" }},
		{"interval 2", func(c *pktSpec) { c.intv = 2 }},
		{"two addresses", func(c *pktSpec) { c.naddr, c.addrs = 2, append(c.addrs, other) }},
		{"other address", func(c *pktSpec) { c.addrs = []netip.Addr{other} }},
		{"bad checksum", func(c *pktSpec) { c.badSum = true }},
		{"priority 0", func(c *pktSpec) { c.prio = 0 }},
		{"VRID of another router", func(c *pktSpec) {}}, // see below
		{"AH advert to a PASS instance", func(c *pktSpec) { c.ah, c.auth = true, packet.AuthAH }},
	}
}

// ahCases are the same for an auth_type AH instance, plus AH's own.
func ahCases(other netip.Addr) []badCase {
	return []badCase{
		{"too short", func(c *pktSpec) { c.cut = 4 }},
		{"too long", func(c *pktSpec) { c.extra = 4 }},
		{"ttl 64", func(c *pktSpec) { c.ttl = 64 }},
		{"version 5", func(c *pktSpec) { c.ver = 5 }},
		{"type 2", func(c *pktSpec) { c.typ = 2 }},
		{"auth type 7", func(c *pktSpec) { c.auth = 7 }},
		{"auth type PASS inside AH", func(c *pktSpec) { c.auth = packet.AuthPass }},
		{"interval 2", func(c *pktSpec) { c.intv = 2 }},
		{"two addresses", func(c *pktSpec) { c.naddr, c.addrs = 2, append(c.addrs, other) }},
		{"other address", func(c *pktSpec) { c.addrs = []netip.Addr{other} }},
		{"bad checksum", func(c *pktSpec) { c.badSum = true }},
		{"bad ICV", func(c *pktSpec) { c.badICV = true }},
		{"wrong key", func(c *pktSpec) { c.pass = "secret13" }},
		{"SPI not the source", func(c *pktSpec) { c.spi = []byte{1, 2, 3, 4} }},
		{"replayed sequence number", func(c *pktSpec) { c.seq = 1 }},
		{"AH for another protocol", func(c *pktSpec) { c.ahNext = 6 }},
		{"plain advert to an AH instance", func(c *pktSpec) { c.ah, c.auth, c.pass = false, packet.AuthAH, "" }},
		{"priority 0", func(c *pktSpec) { c.prio = 0 }},
	}
}

// TestBadPacketsAsKeepalived feeds the same bad adverts to Keepalived
// 2.2.7 and to halo side by side, then compares their SIGUSR2 statistics
// (the whole dump) and the log lines they wrote about the packets.
func TestBadPacketsAsKeepalived(t *testing.T) {
	needKeepalived(t)
	for _, auth := range []string{"PASS", "AH"} {
		t.Run(auth, func(t *testing.T) {
			lab := nstest.NewLab(t, "bp", 3, 217)
			vip := netip.MustParseAddr(lab.Net + ".100")
			other := netip.MustParseAddr(lab.Net + ".99")
			ka := startKeepalived(t, lab.Nodes[0], kaConf("node1", 100, auth, vip.String()+"/24", ""))
			dumpDir := t.TempDir()
			t.Setenv(envDumpDir, dumpDir)
			h := startNode(t, lab.Nodes[1], labConfig(lab, 2, 100, func(in *vrrp.Instance) { in.AuthType = auth }))
			inj := newInjector(t, lab.Nodes[2], netip.MustParseAddr(lab.Net+".3"))
			good := func() pktSpec {
				return pktSpec{ver: 2, typ: 1, prio: 200, naddr: 1, auth: packet.AuthPass, intv: 1,
					addrs: []netip.Addr{vip}, pass: "secret12", ah: auth == "AH"}
			}
			if auth == "AH" {
				g := good
				good = func() pktSpec { s := g(); s.auth = packet.AuthAH; return s }
			}
			time.Sleep(1500 * time.Millisecond) // both up and BACKUP
			cases := badCases(other)
			if auth == "AH" {
				cases = ahCases(other)
			}
			inj.send(t, inj.build(good(), vip))
			for _, c := range cases {
				s := good()
				c.edit(&s)
				pkt := inj.build(s, vip)
				if c.name == "VRID of another router" {
					pkt[21] = 52
					binary.BigEndian.PutUint16(pkt[26:], 0)
					binary.BigEndian.PutUint16(pkt[26:], ipSum(pkt[20:]))
				}
				inj.send(t, pkt)
				time.Sleep(60 * time.Millisecond)
				inj.send(t, inj.build(good(), vip))
				time.Sleep(60 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			kpid := ka.vrrpPid(t)
			if err := syscall.Kill(kpid, syscall.SIGUSR2); err != nil {
				t.Fatal(err)
			}
			if err := h.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
				t.Fatal(err)
			}
			kaStats := readDump(t, filepath.Join(ka.dir, "keepalived.stats"))
			haloStats := readDump(t, filepath.Join(dumpDir, "keepalived.stats"))
			if kaStats != haloStats {
				t.Errorf("SIGUSR2 statistics differ\nkeepalived:\n%s\nhalo:\n%s", kaStats, haloStats)
			}
			kl, hl := packetLines(ka.out.String()), packetLines(h.out.String())
			if strings.Join(kl, "\n") != strings.Join(hl, "\n") {
				t.Errorf("packet log lines differ\nkeepalived:\n%s\nhalo:\n%s", strings.Join(kl, "\n"), strings.Join(hl, "\n"))
			}
			t.Logf("%d cases; keepalived logged %d packet lines", len(cases), len(kl))
		})
	}
}

// TestAHInteropKeepalived: auth_type AH between halo and Keepalived 2.2.7,
// both ways. Each side must accept the other's adverts (a backup that
// refused them would take over after the master down interval, and log
// an IPSEC-AH line), follow the other's priority-0 advert at SIGTERM, and
// be preempted by it when it returns.
func TestAHInteropKeepalived(t *testing.T) {
	needKeepalived(t)
	for _, tc := range []struct {
		name    string
		haloPri int
		kaPri   int
	}{
		{name: "keepalived master, halo backup", haloPri: 100, kaPri: 150},
		{name: "halo master, keepalived backup", haloPri: 150, kaPri: 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab := nstest.NewLab(t, "ai", 2, 218)
			vip := lab.Net + ".100/24"
			conf := kaConf("node1", tc.kaPri, "AH", vip, "")
			ka := startKeepalived(t, lab.Nodes[0], conf)
			h := startNode(t, lab.Nodes[1], labConfig(lab, 2, tc.haloPri, func(in *vrrp.Instance) { in.AuthType = "AH" }))
			master, backup := "1", "2"
			if tc.haloPri > tc.kaPri {
				master, backup = "2", "1"
			}
			waitHolders(t, lab, master, 10*time.Second)
			// Five seconds is more than a master down interval (3.6 s):
			// a backup refusing the master's adverts would hold the VIP too.
			for t0 := time.Now(); time.Since(t0) < 5*time.Second; time.Sleep(100 * time.Millisecond) {
				if got := holders(t, lab); got != master {
					t.Fatalf("holders %q while node %s is master", got, master)
				}
			}
			// The master steps down with a priority-0 AH advert.
			t0 := time.Now()
			if master == "1" {
				ka.stop()
			} else if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			waitHolders(t, lab, backup, 5*time.Second)
			if fo := time.Since(t0); fo > 2500*time.Millisecond {
				t.Errorf("failover after SIGTERM took %v: the priority-0 AH advert was not taken", fo)
			}
			// It comes back and preempts: the sequence numbers carry on.
			if master == "1" {
				ka = startKeepalived(t, lab.Nodes[0], conf)
			} else {
				_ = h.cmd.Wait()
				h = startNode(t, lab.Nodes[1], labConfig(lab, 2, tc.haloPri, func(in *vrrp.Instance) { in.AuthType = "AH" }))
			}
			waitHolders(t, lab, master, 10*time.Second)
			time.Sleep(1500 * time.Millisecond)
			if got := holders(t, lab); got != master {
				t.Fatalf("holders %q after the preemption", got)
			}
			kaLog, haloLog := ka.out.String(), h.out.String()
			for _, l := range []string{kaLog, haloLog} {
				if strings.Contains(l, "IPSEC") || strings.Contains(l, "auth") {
					t.Errorf("authentication complaints:\n%s", l)
				}
			}
			if master == "1" {
				// keepalived, back as BACKUP, saw halo's adverts and judged them
				if !strings.Contains(kaLog, "(VI_1) received lower priority (100) advert from "+lab.Net+".2 - discarding") {
					t.Errorf("keepalived never took halo's AH advert:\n%s", kaLog)
				}
			} else if !strings.Contains(kaLog, "(VI_1) Backup received priority 0 advertisement") {
				t.Errorf("keepalived never took halo's priority-0 AH advert:\n%s", kaLog)
			}
		})
	}
}
