package stats_test

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"halo/proxy"
	"halo/proxy/http1"
	"halo/proxy/stats"
)

// config mirrors the one `show stat` was recorded with from HAProxy 2.6.12
// (testdata/show_stat_admin.golden):
//
//	global: maxconn 500, stats socket … level admin
//	frontend ftcp (tcp) -> backend btcp: leastconn, t1 check inter 500ms,
//	  t2 backup weight 5
//	listen lhttp (http): h1 maxconn 10, h2 disabled
func config() *proxy.Config {
	ip := netip.MustParseAddr("127.0.0.1")
	btcp := &proxy.Proxy{Name: "btcp", ID: 3, Cap: proxy.CapBE, Mode: proxy.ModeTCP,
		Balance: proxy.Balance{Algo: proxy.BalanceLeastConn},
		Servers: []*proxy.Server{
			{Name: "t1", ID: 1, Addr: ip, Port: 23022, Weight: 1, Check: true, Rise: 2, Fall: 3, Resolved: true},
			{Name: "t2", ID: 2, Addr: ip, Port: 23023, Weight: 5, Backup: true, Rise: 2, Fall: 3, Resolved: true},
		}}
	ftcp := &proxy.Proxy{Name: "ftcp", ID: 2, Cap: proxy.CapFE, Mode: proxy.ModeTCP, DefaultBackend: btcp}
	lhttp := &proxy.Proxy{Name: "lhttp", ID: 4, Cap: proxy.CapFE | proxy.CapBE, Mode: proxy.ModeHTTP,
		Servers: []*proxy.Server{
			{Name: "h1", ID: 1, Addr: ip, Port: 23025, Weight: 1, Maxconn: 10, Rise: 2, Fall: 3, Resolved: true},
			{Name: "h2", ID: 2, Addr: ip, Port: 23026, Weight: 1, Disabled: true, Rise: 2, Fall: 3, Resolved: true},
		}}
	return &proxy.Config{Global: proxy.Global{Maxconn: 500}, Proxies: []*proxy.Proxy{ftcp, btcp, lhttp}}
}

func runtime(t *testing.T) *proxy.Runtime {
	rt, err := proxy.New(config())
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// volatile columns depend on when the snapshot was taken.
var volatile = map[string]bool{"lastchg": true, "downtime": true}

func TestShowStatMatchesHAProxy(t *testing.T) {
	checks := func(s *proxy.ServerState) (stats.CheckState, bool) {
		if s.Server.Name != "t1" {
			return stats.CheckState{}, false
		}
		return stats.CheckState{Enabled: true, Status: "L4OK", Desc: "Layer4 check passed", Health: 4, Rise: 2, Fall: 3, Failed: 1, Downs: 1}, true
	}
	st := stats.New(runtime(t), checks)
	got := string(stats.AppendCSV(nil, st.Rows(stats.Filter{IID: -1, Types: 7, SID: -1, Admin: true})))
	wantB, err := os.ReadFile("testdata/show_stat_admin.golden")
	if err != nil {
		t.Fatal(err)
	}
	want := string(wantB)
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	if len(gl) != len(wl) {
		t.Fatalf("got %d lines, want %d:\n%s", len(gl), len(wl), got)
	}
	if gl[0] != wl[0] {
		t.Fatalf("header differs:\n got %s\nwant %s", gl[0], wl[0])
	}
	for i := 1; i < len(wl); i++ {
		gf, wf := strings.Split(gl[i], ","), strings.Split(wl[i], ",")
		if len(gf) != len(wf) {
			t.Errorf("line %d: %d fields, want %d", i, len(gf), len(wf))
			continue
		}
		for j := range wf {
			if j < len(stats.Fields) && volatile[stats.Fields[j]] {
				if (gf[j] == "") != (wf[j] == "") {
					t.Errorf("%s/%s %s: presence differs: got %q want %q", wf[0], wf[1], stats.Fields[j], gf[j], wf[j])
				}
				continue
			}
			if gf[j] != wf[j] {
				name := "?"
				if j < len(stats.Fields) {
					name = stats.Fields[j]
				}
				t.Errorf("%s/%s %s: got %q want %q", wf[0], wf[1], name, gf[j], wf[j])
			}
		}
	}
}

func TestCLI(t *testing.T) {
	rt := runtime(t)
	st := stats.New(rt, nil)
	admin := &stats.Session{Level: stats.LevelAdmin}
	fc := &rt.Frontends[0].Counters
	fc.TotConns.Store(7)
	fc.MaxConns.Store(5)
	if got := st.Execute("clear counters all", &stats.Session{Level: stats.LevelOperator}); got != "Permission denied\n\n" {
		t.Errorf("operator clear counters all: %q", got)
	}
	st.Execute("clear counters", &stats.Session{Level: stats.LevelOperator})
	if fc.MaxConns.Load() != 0 || fc.TotConns.Load() != 7 {
		t.Errorf("clear counters: max %d tot %d", fc.MaxConns.Load(), fc.TotConns.Load())
	}
	tests := []struct {
		name, cmd, want string
	}{
		{"get weight", "get weight btcp/t2", "5 (initial 5)\n\n"},
		{"bad state", "set server btcp/t2 state foo", "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n"},
		{"no such server", "set server btcp/t9 state ready", "No such server.\n\n"},
		{"no such backend", "set server nob/t9 state ready", "No such backend.\n\n"},
		{"weight range", "set server btcp/t2 weight 300", "Absolute weight can only be between 0 and 256 inclusive.\n\n"},
		{"weight percent", "set server btcp/t2 weight 50%", "\n"},
		{"weight after", "get weight btcp/t2", "2 (initial 5)\n\n"},
		{"maint", "set server btcp/t1 state maint", "\n"},
		{"disable", "disable server lhttp/h1", "\n"},
		{"show backend", "show backend", "# name\nbtcp\nlhttp\n\n"},
		{"clear counters", "clear counters", "\n"},
		{"clear counters all", "clear counters all", "\n"},
		{"two commands", "get weight btcp/t1; get weight lhttp/h1", "1 (initial 1)\n\n1 (initial 1)\n\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := st.Execute(tc.cmd, admin); got != tc.want {
				t.Errorf("got %q want %q", got, tc.want)
			}
		})
	}
	if fc.TotConns.Load() != 0 {
		t.Errorf("clear counters all left stot %d", fc.TotConns.Load())
	}
	if s := rt.BackendByName("btcp").Servers()[0].Status(); s != proxy.SrvMaint {
		t.Errorf("t1 status %v, want MAINT", s)
	}
	state := st.Execute("show servers state btcp", admin)
	lines := strings.Split(state, "\n")
	if lines[0] != "1" || !strings.HasPrefix(lines[1], "# be_id be_name srv_id") ||
		!strings.HasPrefix(lines[2], "3 btcp 1 t1 127.0.0.1 0 1 1 1 ") || !strings.HasPrefix(lines[3], "3 btcp 2 t2 127.0.0.1 2 0 2 5 ") {
		t.Errorf("show servers state:\n%s", state)
	}
	user := &stats.Session{Level: stats.LevelUser}
	if got := st.Execute("set server btcp/t1 state ready", user); got != "Permission denied\n\n" {
		t.Errorf("user level must not set servers: %q", got)
	}
	got := st.Execute("show foo", admin)
	if !strings.HasPrefix(got, "Unknown command, but maybe one of the following ones is a better match:\n") ||
		!strings.Contains(got, "\n  show info [desc|json|typed|float]*      : report information about the running process\n") ||
		!strings.HasSuffix(got, "  quit                                    : disconnect\n\n") {
		t.Errorf("unknown command answer: %q", got)
	}
	if typed := st.Execute("show info typed", admin); !strings.HasPrefix(typed, "0.Name.1:POS:str:HAProxy\n1.Version.1:POS:str:") ||
		!strings.Contains(typed, "\n15.Maxconn.1:CLP:u32:500\n") {
		t.Errorf("show info typed:\n%s", typed)
	}
	info := st.Execute("show info", admin)
	for _, k := range []string{"Name: HAProxy\n", "Version: ", "Maxconn: 500\n", "Uptime_sec: ", "Tainted: 0\n"} {
		if !strings.Contains(info, k) {
			t.Errorf("show info lacks %q", k)
		}
	}
}

func FuzzExecute(f *testing.F) {
	for _, s := range []string{"show stat", "show stat 2 -1 -1", "set server a/b weight 5%", "help", "x\\;y;show info", "show servers state ;; quit"} {
		f.Add(s)
	}
	cfg := config()
	rt, err := proxy.New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	st := stats.New(rt, nil)
	f.Fuzz(func(t *testing.T, line string) {
		st.Execute(line, &stats.Session{Level: stats.LevelAdmin})
	})
}

func TestRatesAndTimers(t *testing.T) {
	rt := runtime(t)
	st := stats.New(rt, nil)
	fe := rt.Frontends[1] // lhttp
	be := rt.BackendByName("lhttp")
	for _, rtime := range []time.Duration{100, 200, 300} {
		st.Connection(fe)
		tx := &proxy.Txn{Frontend: fe, Backend: be, Server: be.Servers()[0], Req: &http1.Message{},
			Tw: 0, Tc: time.Millisecond, Tr: rtime * time.Millisecond, Ta: (rtime + 10) * time.Millisecond, Tt: -1}
		st.Logged(tx)
	}
	rows := st.Rows(stats.Filter{IID: 4, Types: 7, SID: -1})
	get := func(sv, f string) string {
		for _, r := range rows {
			if r.Get("svname") == sv {
				return r.Get(f)
			}
		}
		return "?"
	}
	for _, c := range []struct{ sv, f, want string }{
		{"FRONTEND", "rate", "3"}, {"FRONTEND", "conn_rate_max", "3"}, {"FRONTEND", "req_rate", "3"},
		{"h1", "rtime", "200"}, {"h1", "rtime_max", "300"}, {"h1", "ctime", "1"}, {"h1", "ttime", "210"},
		{"BACKEND", "rate", "3"}, {"BACKEND", "qtime", "0"},
	} {
		if got := get(c.sv, c.f); got != c.want {
			t.Errorf("%s %s = %s, want %s", c.sv, c.f, got, c.want)
		}
	}
}

// `show stat typed` for the golden configuration: the same fields with
// the same positions and "origin nature scope:type" as HAProxy 2.6.12
// printed (testdata/show_stat_typed.golden, recorded with t1 failing its
// check); values are the CSV's, tested above.
func TestShowStatTypedMatchesHAProxy(t *testing.T) {
	checks := func(s *proxy.ServerState) (stats.CheckState, bool) {
		if s.Server.Name != "t1" {
			return stats.CheckState{}, false
		}
		return stats.CheckState{Enabled: true, Status: "L4CON", Desc: "Layer4 connection problem", Info: "Connection refused"}, true
	}
	st := stats.New(runtime(t), checks)
	got := strings.Split(st.Execute("show stat typed", &stats.Session{Level: stats.LevelAdmin}), "\n")
	wantB, err := os.ReadFile("testdata/show_stat_typed.golden")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(string(wantB), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if j := strings.LastIndexByte(w, ':'); j >= 0 {
			w = w[:j]
		}
		if j := strings.LastIndexByte(g, ':'); j >= 0 {
			g = g[:j]
		}
		if w != g {
			t.Errorf("line %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

// The interactive CLI over the socket, as HAProxy 2.6.12 answers it:
// "prompt" then a command then "quit" gives "\n> 5 (initial 5)\n\n> ".
func TestSocketPrompt(t *testing.T) {
	rt := runtime(t)
	path := t.TempDir() + "/sock"
	srv, err := stats.Listen(stats.New(rt, nil), []proxy.StatsSocket{{Path: path, Level: "admin"}}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, "prompt\n")
	time.Sleep(50 * time.Millisecond)
	io.WriteString(c, "get weight btcp/t2\n")
	time.Sleep(50 * time.Millisecond)
	io.WriteString(c, "quit\n")
	out, _ := io.ReadAll(c)
	if string(out) != "\n> 5 (initial 5)\n\n> " {
		t.Errorf("got %q", out)
	}
	// non-interactive: one command, then the connection closes
	c2, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c2, "set server btcp/t9 state ready\n")
	out, _ = io.ReadAll(c2)
	if string(out) != "No such server.\n\n" {
		t.Errorf("got %q", out)
	}
}

// A listen section serving only the stats page has no servers: HAProxy
// shows its BACKEND row UP with an empty downtime (monitoring alerts on a
// DOWN backend).
func TestStatsOnlyListenIsUp(t *testing.T) {
	st := &proxy.Proxy{Name: "stats", ID: 1, Cap: proxy.CapFE | proxy.CapBE, Mode: proxy.ModeHTTP,
		Stats: &proxy.StatsPage{URI: "/stats"}}
	rt, err := proxy.New(&proxy.Config{Proxies: []*proxy.Proxy{st}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range stats.New(rt, nil).Rows(stats.Filter{IID: -1, Types: 7, SID: -1}) {
		if r.Get("svname") != "BACKEND" {
			continue
		}
		if r.Get("status") != "UP" || r.Get("downtime") != "" || r.Get("act") != "0" {
			t.Errorf("BACKEND status %q downtime %q act %q, haproxy: UP, empty, 0", r.Get("status"), r.Get("downtime"), r.Get("act"))
		}
		return
	}
	t.Fatal("no BACKEND row")
}

// The operational and administrative states are shown apart, as HAProxy
// 2.6.12 showed them on this box after `disable server be/s1`, `set
// server be/s2 state drain` on a server failing its checks, `set server
// be/s3 health stopping`, with s4 `disabled` in the configuration:
// show servers state's srv_op_state, srv_admin_state and srv_check_state,
// show stat's status (a drained server that is down is DOWN, checks are
// paused and not shown in maintenance) and the backend's act count.
func TestServerStateColumns(t *testing.T) {
	ip := netip.MustParseAddr("127.0.0.1")
	srv := func(name string, id int, check, disabled bool) *proxy.Server {
		return &proxy.Server{Name: name, ID: id, Addr: ip, Port: 13011, Weight: 1, Check: check, Disabled: disabled, Rise: 2, Fall: 3, Resolved: true}
	}
	be := &proxy.Proxy{Name: "be", ID: 3, Cap: proxy.CapBE, Mode: proxy.ModeHTTP, Servers: []*proxy.Server{
		srv("s1", 1, true, false), srv("s2", 2, true, false), srv("s3", 3, false, false), srv("s4", 4, true, true), srv("s5", 5, true, false)}}
	rt, err := proxy.New(&proxy.Config{Proxies: []*proxy.Proxy{be}})
	if err != nil {
		t.Fatal(err)
	}
	ss := rt.Backends[0].Servers()
	ss[0].SetAdmin(proxy.AdminMaint)
	ss[1].SetHealth(proxy.SrvDown)
	ss[1].SetAdmin(proxy.AdminDrain)
	ss[2].SetHealth(proxy.SrvNoLB)
	checks := func(s *proxy.ServerState) (stats.CheckState, bool) {
		if !s.Server.Check {
			return stats.CheckState{}, false
		}
		if s.Server.Name == "s2" {
			return stats.CheckState{Enabled: true, Status: "L4CON", Desc: "Layer4 connection problem"}, true
		}
		return stats.CheckState{Enabled: true, Status: "L4OK", Desc: "Layer4 check passed", Health: 4}, true
	}
	st := stats.New(rt, checks)
	out := st.Execute("show servers state", &stats.Session{Level: stats.LevelAdmin})
	want := map[string]string{"s1": "0 1 14", "s2": "0 8 6", "s3": "3 0 0", "s4": "0 5 14", "s5": "2 0 6"}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 14 || f[0] == "#" {
			continue
		}
		if got := f[5] + " " + f[6] + " " + f[13]; got != want[f[3]] {
			t.Errorf("%s: op/admin/check state %q, haproxy %q", f[3], got, want[f[3]])
		}
	}
	status := map[string]string{"s1": "MAINT", "s2": "DOWN", "s3": "NOLB", "s4": "MAINT", "s5": "UP", "BACKEND": "UP"}
	for _, r := range st.Rows(stats.Filter{IID: -1, Types: 7, SID: -1}) {
		sv := r.Get("svname")
		if r.Get("status") != status[sv] {
			t.Errorf("%s: status %q, haproxy %q", sv, r.Get("status"), status[sv])
		}
		if (sv == "s1" || sv == "s4") && r.Get("check_status") != "" {
			t.Errorf("%s in maintenance shows check_status %q", sv, r.Get("check_status"))
		}
		if sv == "BACKEND" && r.Get("act") != "1" {
			t.Errorf("BACKEND act %q, haproxy 1 (only s5 takes traffic)", r.Get("act"))
		}
	}
}

// On SIGHUP HAProxy 2.6.12 dumped these lines on this box for a frontend
// and a backend whose s1 is drained, s2 down, s3 up, s4 `disabled`, s5
// up (its internal GLOBAL and <HTTPCLIENT> proxies aside).
func TestSIGHUPDump(t *testing.T) {
	ip := netip.MustParseAddr("127.0.0.1")
	var srvs []*proxy.Server
	for i := 1; i <= 5; i++ {
		srvs = append(srvs, &proxy.Server{Name: fmt.Sprint("s", i), ID: i, Addr: ip, Port: 13011, Weight: 1, Resolved: true, Disabled: i == 4})
	}
	be := &proxy.Proxy{Name: "be", Cap: proxy.CapBE, Mode: proxy.ModeHTTP, Servers: srvs}
	fe := &proxy.Proxy{Name: "fe", Cap: proxy.CapFE, Mode: proxy.ModeHTTP, DefaultBackend: be}
	rt, err := proxy.New(&proxy.Config{Proxies: []*proxy.Proxy{fe, be}})
	if err != nil {
		t.Fatal(err)
	}
	ss := rt.Backends[0].Servers()
	ss[0].SetAdmin(proxy.AdminDrain)
	ss[1].SetHealth(proxy.SrvDown)
	var got []string
	for _, d := range stats.SIGHUPDump(rt) {
		got = append(got, d.Lines...)
	}
	want := []string{
		"SIGHUP: Proxy fe has no servers. Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 0+0.",
		"SIGHUP: Server be/s1 is UP. Conn: 0 act, 0 pend, 0 tot.",
		"SIGHUP: Server be/s2 is DOWN. Conn: 0 act, 0 pend, 0 tot.",
		"SIGHUP: Server be/s3 is UP. Conn: 0 act, 0 pend, 0 tot.",
		"SIGHUP: Server be/s4 is DOWN. Conn: 0 act, 0 pend, 0 tot.",
		"SIGHUP: Server be/s5 is UP. Conn: 0 act, 0 pend, 0 tot.",
		"SIGHUP: Proxy be has 2 active servers and 0 backup servers available. Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 0+0.",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant (haproxy)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
