package lvs

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"halo/lvs/check"
)

// recorder is a DataPath that writes down every call, ipvsadm-style.
type recorder struct{ ops []string }

func (r *recorder) Name() string { return "recorder" }
func (r *recorder) AddService(s *Service) error {
	r.ops = append(r.ops, "-A "+s.String())
	return nil
}
func (r *recorder) DelService(s *Service) error {
	r.ops = append(r.ops, "-D "+s.String())
	return nil
}
func (r *recorder) EditService(s *Service) error {
	r.ops = append(r.ops, "-E "+s.String()+" "+s.Sched)
	return nil
}
func (r *recorder) AddDest(s *Service, d Dest) error {
	r.ops = append(r.ops, fmt.Sprintf("-a %s %s w%d", s, d.Addr, d.Weight))
	return nil
}
func (r *recorder) EditDest(s *Service, d Dest) error {
	r.ops = append(r.ops, fmt.Sprintf("-e %s %s w%d", s, d.Addr, d.Weight))
	return nil
}
func (r *recorder) DelDest(s *Service, d Dest) error {
	r.ops = append(r.ops, fmt.Sprintf("-d %s %s", s, d.Addr))
	return nil
}
func (r *recorder) Flush() error { r.ops = append(r.ops, "-C"); return nil }
func (r *recorder) Close() error { return nil }

func (r *recorder) take() string {
	s := strings.Join(r.ops, "; ")
	r.ops = nil
	return s
}

func rs(addr string, w int, inhibit bool) *RealServer {
	ap := netip.MustParseAddrPort(addr)
	return &RealServer{Addr: ap, Weight: w, Inhibit: inhibit,
		NotifyUp: &Script{Cmd: "up " + addr}, NotifyDown: &Script{Cmd: "down " + addr},
		Checkers: []*check.Config{{Kind: "TCP_CHECK", Dst: ap, Retry: 1}}}
}

type harness struct {
	t       *testing.T
	m       *Manager
	dp      *recorder
	scripts []string
	logs    []string
}

func newHarness(t *testing.T, vs *VirtualServer, g Global) *harness {
	h := &harness{t: t, dp: &recorder{}}
	cfg := &Config{Global: g, VirtualServers: []*VirtualServer{vs}}
	h.m = NewManager(cfg, h.dp, Hooks{
		Logf:      func(f string, a ...any) { h.logs = append(h.logs, fmt.Sprintf(f, a...)) },
		RunScript: func(s *Script) { h.scripts = append(h.scripts, s.Cmd) },
	})
	h.m.mu.Lock()
	h.m.initVS(h.m.vss[0])
	h.m.mu.Unlock()
	return h
}

func (h *harness) down(i int) { h.rep(i, check.Report{Down: true}) }
func (h *harness) up(i int)   { h.rep(i, check.Report{Up: true}) }
func (h *harness) rep(i int, r check.Report) {
	vs := h.m.vss[0]
	rs := vs.rss[i]
	h.m.report(vs, rs, rs.checkers[0], r)
}

func (h *harness) expect(what, wantOps string, wantScripts ...string) {
	h.t.Helper()
	if got := h.dp.take(); got != wantOps {
		h.t.Errorf("%s: ops\n got %q\nwant %q", what, got, wantOps)
	}
	if strings.Join(h.scripts, "|") != strings.Join(wantScripts, "|") {
		h.t.Errorf("%s: scripts %q, want %q", what, h.scripts, wantScripts)
	}
	h.scripts = nil
}

func TestManagerPool(t *testing.T) {
	vs := &VirtualServer{Addr: netip.MustParseAddrPort("192.0.2.10:80"), Proto: ProtoTCP, Sched: "wrr", Quorum: 1,
		RealServers: []*RealServer{rs("10.0.0.1:80", 2, false), rs("10.0.0.2:80", 1, true)}}
	h := newHarness(t, vs, Global{})
	h.expect("start", "-A [192.0.2.10]:tcp:80; -a [192.0.2.10]:tcp:80 10.0.0.1:80 w2; -a [192.0.2.10]:tcp:80 10.0.0.2:80 w1")
	h.down(0)
	h.expect("rs1 down", "-d [192.0.2.10]:tcp:80 10.0.0.1:80", "down 10.0.0.1:80")
	h.down(1)
	h.expect("inhibited rs2 down: weight 0", "-e [192.0.2.10]:tcp:80 10.0.0.2:80 w0", "down 10.0.0.2:80")
	h.up(1)
	h.expect("rs2 back", "-e [192.0.2.10]:tcp:80 10.0.0.2:80 w1", "up 10.0.0.2:80")
	h.up(0)
	h.expect("rs1 back", "-a [192.0.2.10]:tcp:80 10.0.0.1:80 w2", "up 10.0.0.1:80")
	// a misc_dynamic weight (exit 7 → weight 5)
	h.rep(0, check.Report{HasWeight: true, Weight: 5})
	h.expect("dynamic weight", "-e [192.0.2.10]:tcp:80 10.0.0.1:80 w5")
	want := "Changing weight from 2 to 5 for active service [10.0.0.1]:tcp:80 of VS [192.0.2.10]:tcp:80"
	if !contains(h.logs, want) {
		t.Errorf("logs %q lack %q", h.logs, want)
	}
	h.m.Stop()
	h.expect("stop", "-d [192.0.2.10]:tcp:80 10.0.0.1:80; -d [192.0.2.10]:tcp:80 10.0.0.2:80; -D [192.0.2.10]:tcp:80")
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// The sorry server takes the pool when the quorum is lost and gives it
// back when it is gained; quorum_up/quorum_down run.
func TestManagerQuorumSorry(t *testing.T) {
	vs := &VirtualServer{Addr: netip.MustParseAddrPort("192.0.2.10:80"), Proto: ProtoTCP, Sched: "rr", Quorum: 2, Hysteresis: 0,
		QuorumUp: &Script{Cmd: "qup"}, QuorumDown: &Script{Cmd: "qdown"},
		Sorry:       &RealServer{Addr: netip.MustParseAddrPort("10.0.0.9:80"), Weight: 1},
		RealServers: []*RealServer{rs("10.0.0.1:80", 1, false), rs("10.0.0.2:80", 1, false)}}
	h := newHarness(t, vs, Global{})
	h.expect("start", "-A [192.0.2.10]:tcp:80; -a [192.0.2.10]:tcp:80 10.0.0.1:80 w1; -a [192.0.2.10]:tcp:80 10.0.0.2:80 w1")
	h.down(0)
	h.expect("quorum lost", "-d [192.0.2.10]:tcp:80 10.0.0.1:80; -d [192.0.2.10]:tcp:80 10.0.0.2:80; -a [192.0.2.10]:tcp:80 10.0.0.9:80 w1",
		"down 10.0.0.1:80", "qdown")
	if !contains(h.logs, "Lost quorum 2-0=2 > 1 for VS [192.0.2.10]:tcp:80") || !contains(h.logs, "Adding sorry server [10.0.0.9]:tcp:80 to VS [192.0.2.10]:tcp:80") {
		t.Errorf("logs %q", h.logs)
	}
	h.down(1)
	h.expect("second down while sorry holds the pool", "", "down 10.0.0.2:80")
	h.up(0)
	h.expect("one back: still below quorum", "", "up 10.0.0.1:80")
	h.up(1)
	h.expect("quorum gained", "-d [192.0.2.10]:tcp:80 10.0.0.9:80; -a [192.0.2.10]:tcp:80 10.0.0.1:80 w1; -a [192.0.2.10]:tcp:80 10.0.0.2:80 w1",
		"up 10.0.0.2:80", "qup")
	if !contains(h.logs, "Gained quorum 2+0=2 <= 2 for VS [192.0.2.10]:tcp:80") {
		t.Errorf("logs %q", h.logs)
	}
}

// alpha: real servers start outside the pool; with a sorry server the
// VS starts with quorum down and the sorry server in.
func TestManagerAlpha(t *testing.T) {
	r := rs("10.0.0.1:80", 1, false)
	r.Checkers[0].Alpha = true
	vs := &VirtualServer{Addr: netip.MustParseAddrPort("192.0.2.10:80"), Proto: ProtoTCP, Sched: "rr", Quorum: 1, Alpha: true,
		Sorry: &RealServer{Addr: netip.MustParseAddrPort("10.0.0.9:80"), Weight: 1}, RealServers: []*RealServer{r}}
	h := newHarness(t, vs, Global{})
	h.expect("start", "-A [192.0.2.10]:tcp:80; -a [192.0.2.10]:tcp:80 10.0.0.9:80 w1")
	h.up(0)
	h.expect("first success", "-d [192.0.2.10]:tcp:80 10.0.0.9:80; -a [192.0.2.10]:tcp:80 10.0.0.1:80 w1", "up 10.0.0.1:80")
}

// A checker's SMTP alert: its subject says what the real server is now,
// its body what the checker found; no_checker_emails keeps only the
// alerts of a real server that changed state.
func TestCheckerAlerts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		noMails  bool
		wantSent []string
	}{
		{"every checker change", false, []string{
			"[r1] Realserver [10.0.0.1]:tcp:80 of virtual server [192.0.2.10]:tcp:80 - DOWN|=> TCP CHECK failed on service <=",
			"[r1] Realserver [10.0.0.1]:tcp:80 of virtual server [192.0.2.10]:tcp:80 - DOWN|=> CHECK failed on service : Bad HELO response from server [10.0.0.1]:25 <=",
			"[r1] Realserver [10.0.0.1]:tcp:80 of virtual server [192.0.2.10]:tcp:80 - DOWN|=> TCP CHECK succeed on service <=",
			"[r1] Realserver [10.0.0.1]:tcp:80 of virtual server [192.0.2.10]:tcp:80 - UP|=> CHECK succeed on service <=",
		}},
		{"no_checker_emails", true, []string{
			"[r1] Realserver [10.0.0.1]:tcp:80 of virtual server [192.0.2.10]:tcp:80 - DOWN|=> TCP CHECK failed on service <=",
			"[r1] Realserver [10.0.0.1]:tcp:80 of virtual server [192.0.2.10]:tcp:80 - UP|=> CHECK succeed on service <=",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rs("10.0.0.1:80", 1, false)
			r.SMTPAlert = true
			r.Checkers = append(r.Checkers, &check.Config{Kind: "SMTP_CHECK", Dst: netip.MustParseAddrPort("10.0.0.1:25")})
			vs := &VirtualServer{Addr: netip.MustParseAddrPort("192.0.2.10:80"), Proto: ProtoTCP, Sched: "rr", RealServers: []*RealServer{r}}
			var sent []string
			h := &harness{t: t, dp: &recorder{}}
			h.m = NewManager(&Config{Global: Global{RouterID: "r1", NoCheckerMails: tc.noMails}, VirtualServers: []*VirtualServer{vs}}, h.dp, Hooks{
				Alert: func(s, b string) { sent = append(sent, s+"|"+b) }})
			h.m.mu.Lock()
			h.m.initVS(h.m.vss[0])
			h.m.mu.Unlock()
			rsSt := h.m.vss[0].rss[0]
			// the TCP checker fails, then the SMTP one: the server went
			// down with the first
			tcp, smtp := check.NewState(r.Checkers[0], "x", ""), check.NewState(r.Checkers[1], "x", "")
			step := func(st *check.State, c int, o check.Outcome) {
				s := st.Apply(o)
				h.m.report(h.m.vss[0], rsSt, rsSt.checkers[c], s.Report)
			}
			step(tcp, 0, check.Outcome{OK: true})
			step(smtp, 1, check.Outcome{OK: true})
			step(tcp, 0, check.Outcome{Reason: "TCP connection to %s failed."})
			step(tcp, 0, check.Outcome{Reason: "TCP connection to %s failed."})
			step(smtp, 1, check.Outcome{Reason: "Bad HELO response from server [10.0.0.1]:25"})
			step(tcp, 0, check.Outcome{OK: true})
			step(smtp, 1, check.Outcome{OK: true})
			if strings.Join(sent, "\n") != strings.Join(tc.wantSent, "\n") {
				t.Errorf("alerts\n%s\nwant\n%s", strings.Join(sent, "\n"), strings.Join(tc.wantSent, "\n"))
			}
		})
	}
}

// lvs_notify_fifo_script starts with the FIFO's name as its last argument;
// the FIFO (made when missing) gets the RS/VS lines.
func TestNotifyFIFOScript(t *testing.T) {
	dir := t.TempDir()
	fifo := dir + "/lvs.fifo"
	var ran [][]string
	r := rs("10.0.0.1:80", 1, false)
	vs := &VirtualServer{Addr: netip.MustParseAddrPort("192.0.2.10:80"), Proto: ProtoTCP, Sched: "rr", RealServers: []*RealServer{r}}
	m := NewManager(&Config{Global: Global{NotifyFIFO: fifo, NotifyFIFOScript: &Script{Cmd: "/bin/reader", Argv: []string{"/bin/reader", "-x"}}},
		VirtualServers: []*VirtualServer{vs}}, &recorder{}, Hooks{
		RunScript: func(s *Script) { ran = append(ran, s.Argv) },
		NewProber: func(*check.Config) (check.Prober, error) { return &countingProber{}, nil },
	})
	ctx, cancel := context.WithCancel(context.Background())
	m.Start(ctx)
	if len(ran) != 1 || strings.Join(ran[0], " ") != "/bin/reader -x "+fifo {
		t.Fatalf("fifo script ran as %q", ran)
	}
	m.report(m.vss[0], m.vss[0].rss[0], m.vss[0].rss[0].checkers[0], check.Report{Down: true})
	f, err := os.Open(fifo)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 200)
	n, _ := f.Read(buf)
	if got := string(buf[:n]); got != "RS [10.0.0.1]:tcp:80 [192.0.2.10]:tcp:80 DOWN\nVS [192.0.2.10]:tcp:80 DOWN\n" {
		t.Errorf("fifo line %q", got)
	}
	cancel()
	m.Stop()
}
