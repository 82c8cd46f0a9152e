package health

import (
	"strings"
	"sync"
	"testing"
	"time"

	"halo/proxy"
	"halo/proxy/balance"
)

type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) sink(ev Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) msgs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.all {
		out = append(out, ev.Msg)
	}
	return out
}

func backend(t *testing.T, names ...string) *balance.Backend {
	t.Helper()
	var sc []balance.ServerConfig
	for _, n := range names {
		sc = append(sc, balance.ServerConfig{Name: n, Weight: 1})
	}
	be, err := balance.New(balance.Config{Name: "app"}, sc)
	if err != nil {
		t.Fatal(err)
	}
	return be
}

func checkCfg(rise, fall int) *CheckConfig {
	return &CheckConfig{Rules: &Ruleset{}, Rise: rise, Fall: fall, Inter: time.Second}
}

// The health counter as HAProxy's set_server_check_status moves it: a
// server starts UP at health rise, so its first failure takes it down;
// once fully up it needs fall failures.
func TestHealthCounter(t *testing.T) {
	type step struct {
		pass   bool
		health int
		up     bool
	}
	tests := []struct {
		name       string
		rise, fall int
		steps      []step
	}{
		{"dead at start goes down on first failure", 2, 3, []step{{false, 0, false}, {false, 0, false}}},
		{"rise 2 needs two successes", 2, 3, []step{{false, 0, false}, {true, 1, false}, {true, 4, true}}},
		{"fully up needs fall failures", 2, 3, []step{{true, 4, true}, {false, 3, true}, {false, 2, true}, {false, 0, false}}},
		{"a success in between resets", 2, 3, []step{{true, 4, true}, {false, 3, true}, {true, 4, true}, {false, 3, true}}},
		{"rise 1 fall 2", 1, 2, []step{{false, 0, false}, {true, 2, true}, {false, 1, true}, {false, 0, false}}},
		{"rise 1 fall 1", 1, 1, []step{{true, 1, true}, {false, 0, false}, {true, 1, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := backend(t, "s1")
			var ev events
			sc := New(ServerConfig{Proxy: "app", Server: "s1", Check: checkCfg(tc.rise, tc.fall)}, be.Server("s1"), ev.sink)
			for i, s := range tc.steps {
				r := Result{Status: StatusL4Con, Info: "Connection refused"}
				if s.pass {
					r = Result{Status: StatusL4OK}
				}
				sc.check.apply(r, nil)
				up := be.Server("s1").Usable()
				if sc.check.health != s.health || up != s.up {
					t.Fatalf("step %d: health %d up %v, want %d %v (%v)", i, sc.check.health, up, s.health, s.up, ev.msgs())
				}
			}
		})
	}
}

// The messages are haproxy 2.6.12's, from its stderr.
func TestMessages(t *testing.T) {
	refused := Result{Status: StatusL4Con, Info: "Connection refused"}
	why := func(r Result) Why { return Why{Result: &r} }
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"down", DownMessage("nginx", "web1", false, why(refused), balance.Transition{Active: 1}),
			`Server nginx/web1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"down to backup", DownMessage("nginx", "web1", false, why(refused), balance.Transition{Backup: 1}),
			`Server nginx/web1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 1 backup servers left. Running on backup. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"backup down", DownMessage("nginx", "web2", true, why(refused), balance.Transition{}),
			`Backup Server nginx/web2 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"up", UpMessage("nginx", "web1", false, why(Result{Status: StatusL4OK}), balance.Transition{Active: 2}),
			`Server nginx/web1 is UP, reason: Layer4 check passed, check duration: 0ms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.`},
		{"L7 wrong status", DownMessage("nginx", "web1", false, why(Result{Status: StatusL7Sts, Code: 404, Info: "File not found", Duration: 3 * time.Millisecond}), balance.Transition{Active: 1}),
			`Server nginx/web1 is DOWN, reason: Layer7 wrong status, code: 404, info: "File not found", check duration: 3ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"tcp-check passed", UpMessage("be1", "srv1", false, why(Result{Status: StatusL7OK, Info: "(tcp-check)"}), balance.Transition{Active: 1}),
			`Server be1/srv1 is UP, reason: Layer7 check passed, code: 0, info: "(tcp-check)", check duration: 0ms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.`},
		{"log-health-checks: no reason", DownMessage("be1", "s1", false, Why{}, balance.Transition{}),
			`Server be1/s1 is DOWN. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"tracking", DownMessage("be2", "s1", false, Why{Via: "be1/s1"}, balance.Transition{}),
			`Server be2/s1 is DOWN via be1/s1. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"stopping", StoppingMessage("a", "r", false, why(Result{Status: StatusL7OKC, Code: 404}), balance.Transition{}),
			`Server a/r is stopping, reason: Layer7 check conditionally passed, code: 404, check duration: 0ms. 0 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.`},
		{"health analysis has no duration", DownMessage("a", "r", false, why(Result{Status: StatusHana, Info: "Detected 10 consecutive errors, last one was: L4 unsuccessful connection", Duration: -1}), balance.Transition{}),
			`Server a/r is DOWN, reason: Health analyze, info: "Detected 10 consecutive errors, last one was: L4 unsuccessful connection". 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"info escaped", DownMessage("a", "r", false, why(Result{Status: StatusL7Rsp, Info: "a\"b<c>\x01"}), balance.Transition{}),
			`Server a/r is DOWN, reason: Layer7 invalid response, info: "a<22>b<3C>c<3E><01>", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"no server", NoServerMessage("backend", "nginx"), `backend 'nginx' has no server available!`},
		// a listen section is a "proxy" in HAProxy 2.6.12's alert
		{"no server, listen", NoServerMessage(ProxyKind(&proxy.Proxy{Cap: proxy.CapFE | proxy.CapBE}), "tcpx"), `proxy 'tcpx' has no server available!`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", tc.got, tc.want)
			}
		})
	}
	if s := SyslogText(Event{Proxy: "nginx", Alert: true, Severity: SevEmerg, Msg: NoServerMessage("backend", "nginx")}); s != "backend nginx has no server available!" {
		t.Fatal(s)
	}
	if s := SyslogText(Event{Proxy: "tcpx", Alert: true, Severity: SevEmerg, Msg: NoServerMessage("proxy", "tcpx")}); s != "proxy tcpx has no server available!" {
		t.Fatal(s)
	}
}

// option log-health-checks logs each result that changes the status or
// the health (haproxy 2.6.12's lines, as the regtests expect them).
func TestLogHealthChecks(t *testing.T) {
	be := backend(t, "srv")
	var ev events
	sc := New(ServerConfig{Proxy: "be1", Server: "srv", LogHealthChecks: true, Check: checkCfg(1, 1)}, be.Server("srv"), ev.sink)
	sc.check.apply(Result{Status: StatusL7OK, Code: 200, Duration: 2 * time.Millisecond}, nil)
	sc.check.apply(Result{Status: StatusL7OK, Code: 200}, nil) // no change: not logged
	sc.check.apply(Result{Status: StatusL7Rsp, Info: "HTTP content check did not match"}, nil)
	want := []string{
		`Health check for server be1/srv succeeded, reason: Layer7 check passed, code: 200, check duration: 2ms, status: 1/1 UP.`,
		`Health check for server be1/srv failed, reason: Layer7 invalid response, info: "HTTP content check did not match", check duration: 0ms, status: 0/1 DOWN.`,
		`Server be1/srv is DOWN. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`,
		`backend 'be1' has no server available!`,
	}
	if got := ev.msgs(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Maintenance pauses the health check with its health at 0; leaving it
// restarts the check at health rise (srv_update_status).
func TestMaintenance(t *testing.T) {
	be := backend(t, "s1")
	srv := be.Server("s1")
	sc := New(ServerConfig{Proxy: "app", Server: "s1", Check: checkCfg(2, 3)}, srv, nil)
	sc.check.apply(Result{Status: StatusL4OK}, nil)
	if sc.check.health != 4 {
		t.Fatalf("health %d", sc.check.health)
	}
	srv.SetAdmin(balance.AdminForcedMaint, true)
	sc.AdminChanged()
	if cv, _ := sc.Views(); !cv.Paused || cv.Health != 0 {
		t.Fatalf("in maintenance: %+v", cv)
	}
	srv.SetAdmin(balance.AdminForcedMaint, false)
	sc.AdminChanged()
	if cv, _ := sc.Views(); cv.Paused || cv.Health != 2 {
		t.Fatalf("left maintenance: %+v", cv)
	}
}

// An agent's answer: the health word moves the health check, the admin
// word and weight apply to the server, and the agent's status says so.
func TestAgentReply(t *testing.T) {
	tests := []struct {
		line    string
		status  Status
		info    string
		weight  int
		admin   balance.Admin
		running bool
	}{
		{"up\n", StatusL7OK, "via agent : up", 100, 0, true},
		{"down # bye\n", StatusL7Sts, "via agent : down (bye)", 100, 0, false},
		{"75%\n", StatusChecked, "", 75, 0, true},
		{"drain\n", StatusChecked, "", 100, balance.AdminForcedDrain, true},
		{"maint\n", StatusChecked, "", 100, balance.AdminForcedMaint, true},
		{"fail # disk full\n", StatusL7Sts, "via agent : fail (disk full)", 100, 0, false},
		{"up foo\n", StatusL7OK, "via agent : up (foo)", 100, 0, true},
		{"bar 50%\n", StatusChecked, "agent reports an error : bar", 50, 0, true},
	}
	for _, tc := range tests {
		t.Run(strings.TrimSpace(tc.line), func(t *testing.T) {
			be, _ := balance.New(balance.Config{Name: "be1"}, []balance.ServerConfig{{Name: "s", Weight: 100}})
			srv := be.Server("s")
			var ev events
			cfg := ServerConfig{Proxy: "be1", Server: "s", IWeight: 100, Agent: checkCfg(1, 1)}
			var sc *ServerChecks
			cfg.SetAdmin = func(word string) { // as lbmod's runtime API path
				switch word {
				case "maint":
					srv.SetAdmin(balance.AdminForcedMaint, true)
				case "drain":
					srv.SetAdmin(balance.AdminForcedDrain, true)
				default:
					srv.SetAdmin(balance.AdminForcedMaint, false)
					srv.SetAdmin(balance.AdminForcedDrain, false)
				}
				sc.AdminChanged()
			}
			sc = New(cfg, srv, ev.sink)
			a, ok := ParseAgentReply([]byte(tc.line))
			if !ok {
				t.Fatal("incomplete")
			}
			st := StatusChecked
			switch strings.ToLower(a.Health) {
			case "up":
				st = StatusL7OK
			case "down", "stopped", "fail":
				st = StatusL7Sts
			}
			sc.agent.apply(Result{Status: st}, &a)
			av := view(sc.agent)
			stt := srv.Stats()
			if av.Status != tc.status.Code() || av.Info != tc.info || stt.UWeight != tc.weight ||
				stt.Admin&(balance.AdminForcedDrain|balance.AdminForcedMaint) != tc.admin || (stt.State != balance.StateStopped) != tc.running {
				t.Fatalf("agent %+v server %+v events %v", av, stt, ev.msgs())
			}
		})
	}
}

// A tracking server follows the tracked one, with "via".
func TestTrack(t *testing.T) {
	be1 := backend(t, "s1")
	be2, _ := balance.New(balance.Config{Name: "be2"}, []balance.ServerConfig{{Name: "t1", Weight: 1}})
	var ev events
	tracked := New(ServerConfig{Proxy: "app", Server: "s1", Check: checkCfg(1, 1)}, be1.Server("s1"), ev.sink)
	tracker := New(ServerConfig{Proxy: "be2", Server: "t1", TrackBackend: "app", TrackServer: "s1"}, be2.Server("t1"), ev.sink)
	var set Set
	set.Add(tracked)
	set.Add(tracker)
	if err := set.Link(); err != nil {
		t.Fatal(err)
	}
	tracked.check.apply(Result{Status: StatusL4Con, Info: "Connection refused"}, nil)
	if be2.Server("t1").Usable() {
		t.Fatal("tracker still up")
	}
	msgs := ev.msgs()
	if len(msgs) < 3 || msgs[2] != "Server be2/t1 is DOWN via app/s1. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue." {
		t.Fatalf("%q", msgs)
	}
	tracked.check.apply(Result{Status: StatusL4OK}, nil)
	if !be2.Server("t1").Usable() {
		t.Fatal("tracker not back")
	}
}

// observe layer4 + on-error mark-down: error-limit failed connections
// take the server down with a health analysis result.
func TestObserve(t *testing.T) {
	be := backend(t, "s1")
	var ev events
	sc := New(ServerConfig{Proxy: "app", Server: "s1", Observe: "layer4", OnError: "mark-down", ErrorLimit: 3, Check: checkCfg(2, 3)}, be.Server("s1"), ev.sink)
	sc.check.apply(Result{Status: StatusL4OK}, nil)
	for i := 0; i < 2; i++ {
		sc.Observe(ObsL4Err)
	}
	sc.Observe(ObsL4OK) // a success resets the count
	for i := 0; i < 3; i++ {
		sc.Observe(ObsL4Err)
	}
	if be.Server("s1").Usable() {
		t.Fatalf("still up: %v", ev.msgs())
	}
	msgs := ev.msgs()
	want := `Server app/s1 is DOWN, reason: Health analyze, info: "Detected 3 consecutive errors, last one was: L4 unsuccessful connection". 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`
	if len(msgs) == 0 || msgs[0] != want {
		t.Fatalf("%q", msgs)
	}
}

// The first checks are spread as HAProxy's start_checks spreads them.
func TestStartDelays(t *testing.T) {
	mk := func(inter time.Duration) *Check {
		sc := New(ServerConfig{Check: &CheckConfig{Rules: &Ruleset{}, Rise: 1, Fall: 1, Inter: inter}}, backend(t, "s").Server("s"), nil)
		return sc.check
	}
	var s Set
	got := s.startDelays([]*Check{mk(time.Second), mk(2 * time.Second)})
	if got[0] != 0 || got[1] != time.Second {
		t.Fatalf("got %v", got)
	}
	got = s.startDelays([]*Check{mk(200 * time.Millisecond), mk(200 * time.Millisecond)})
	if got[0] != 0 || got[1] != 100*time.Millisecond {
		t.Fatalf("sub-second: %v", got)
	}
	s.MaxSpread = 500 * time.Millisecond
	got = s.startDelays([]*Check{mk(4 * time.Second), mk(4 * time.Second)})
	if got[1] != 250*time.Millisecond {
		t.Fatalf("max-spread-checks: %v", got)
	}
}

// Check timeouts as measured on haproxy 2.6.12 against a server that
// accepts and never answers (connect, check, inter → check duration).
func TestTimeouts(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name                  string
		connect, check, inter time.Duration
		want                  time.Duration
	}{
		{"no timeout check: inter", time.Second, 0, 3 * time.Second, 3 * time.Second},
		{"no timeout check, short inter", time.Second, 0, 500 * ms, 500 * ms},
		{"check 200ms inter 500ms", time.Second, 200 * ms, 500 * ms, 500 * ms},
		{"check 200ms inter 3s", time.Second, 200 * ms, 3 * time.Second, time.Second},
		{"check 300ms inter 3s connect 5s", 5 * time.Second, 300 * ms, 3 * time.Second, time.Second},
		{"check 3s inter 1s", 2 * time.Second, 3 * time.Second, time.Second, 3 * time.Second},
		{"check 2s inter 1s connect 300ms", 300 * ms, 2 * time.Second, time.Second, 2 * time.Second},
		{"check 300ms no connect inter 500ms", 0, 300 * ms, 500 * ms, 500 * ms},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, r := Timeouts(tc.inter, tc.connect, tc.check); r != tc.want {
				t.Fatalf("got %v want %v", r, tc.want)
			}
		})
	}
}

func TestStatusTable(t *testing.T) {
	for s := StatusUnknown; s < statusCount; s++ {
		if s == StatusStart || s == StatusL57Data {
			continue
		}
		if DescriptionOf(s.Code()) != s.Description() {
			t.Errorf("%d: %q %q", s, s.Code(), s.Description())
		}
	}
	if StatusL7OK.HasCode() != true || StatusL4Con.HasCode() || !StatusL7Sts.HasCode() {
		t.Fatal("HasCode")
	}
	if Status(99).Code() != "UNK" || Status(99).Description() != "Unknown" {
		t.Fatal("out of range")
	}
}
