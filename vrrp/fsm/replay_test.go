package fsm

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKeepalivedReplay plays, on the simulated LAN, scenarios that were run
// with real Keepalived 2.2.7 in network namespaces (netlab scenarios, and
// hand-made labs whose configs are in testdata/keepalived/*.conf), and compares
// every router's instance log lines, in order, with what Keepalived logged
// (-D; lines starting with "(" or "VRRP_Group(", see testdata/keepalived/).
func TestKeepalivedReplay(t *testing.T) {
	vip := func(a string) []VIP { return []VIP{{Addr: netip.MustParseAddr(a)}} }
	lab := func(node int, mod func(*Config)) []Config {
		c := labConfig(node)
		if mod != nil {
			mod(&c)
		}
		return []Config{c}
	}
	syncCfg := func(node int) ([]Config, []GroupConfig) {
		prio := 200 - 50*node
		a := Config{Name: "VI_1", VRID: 51, Priority: prio, AdvertInt: time.Second, Interface: "eth0",
			GARPDelay: 5 * time.Second, VIPs: vip("10.77.0.100"), Trackers: []Tracker{{Kind: TrackScript, Name: "chk"}}}
		b := Config{Name: "VI_2", VRID: 52, Priority: prio, AdvertInt: time.Second, Interface: "eth0",
			GARPDelay: 5 * time.Second, VIPs: vip("10.77.0.101")}
		return []Config{a, b}, []GroupConfig{{Name: "G1", Members: []string{"VI_1", "VI_2"}}}
	}
	// inst is a lab instance: VRID 51, VIP 10.77.0.100 on eth0.
	one := func(c Config) []Config { return []Config{c} }
	inst := func(prio int, st State, adv time.Duration, version int) Config {
		return Config{Name: "VI_1", VRID: 51, Version: version, Priority: prio, AdvertInt: adv, InitialState: st,
			Interface: "eth0", GARPDelay: 5 * time.Second, VIPs: vip("10.77.0.100")}
	}
	type step struct {
		at   time.Duration
		node int
		do   func(l *lan, r *router)
	}
	script := func(name string, ok bool) func(*lan, *router) {
		return func(l *lan, r *router) { l.apply(r, r.e.Script(l.now, name, ok)) }
	}
	stop := func(l *lan, r *router) { l.stop(r) }
	start := func(l *lan, r *router) {
		if !r.up && r.e.started {
			l.t.Fatal("start twice")
		}
		l.start(r)
	}
	tests := []struct {
		name  string
		cfg   func(node int) ([]Config, []GroupConfig)
		steps []step
	}{
		{name: "sigterm", cfg: func(n int) ([]Config, []GroupConfig) { return lab(n, nil), nil },
			steps: []step{{0, 1, start}, {0, 2, start}, {5 * time.Second, 1, stop}, {6 * time.Second, 2, stop}}},
		{name: "track", cfg: func(n int) ([]Config, []GroupConfig) {
			return lab(n, func(c *Config) { c.Trackers = []Tracker{{Kind: TrackScript, Name: "chk_health", Weight: -60}} }), nil
		}, steps: []step{{0, 1, start}, {0, 2, start}, {1, 1, script("chk_health", true)}, {1, 2, script("chk_health", true)},
			{7500 * time.Millisecond, 1, script("chk_health", false)}, {13 * time.Second, 1, stop}, {13 * time.Second, 2, stop}}},
		{name: "preempt-delay", cfg: func(n int) ([]Config, []GroupConfig) {
			return lab(n, func(c *Config) { c.PreemptDelay = 2 * time.Second }), nil
		}, steps: []step{{0, 1, start}, {0, 2, start}, {5 * time.Second, 1, stop},
			{7 * time.Second, 1, func(l *lan, r *router) {
				cfgs, _ := syncNone(lab(1, func(c *Config) { c.PreemptDelay = 2 * time.Second }))
				l.restart(r, cfgs, nil)
			}},
			{10600 * time.Millisecond, 1, stop}, {11500 * time.Millisecond, 2, stop}}},
		{name: "splitheal", cfg: func(n int) ([]Config, []GroupConfig) { return lab(n, nil), nil },
			steps: []step{{0, 1, start}, {0, 2, start},
				{6 * time.Second, 2, func(l *lan, r *router) { l.cut[r] = true }},
				{12 * time.Second, 2, func(l *lan, r *router) { l.cut[r] = false }},
				{15 * time.Second, 1, stop}, {17 * time.Second, 2, stop}}},
		{name: "v3iv", cfg: func(n int) ([]Config, []GroupConfig) {
			if n == 1 {
				return one(inst(150, Backup, time.Second, 3)), nil
			}
			return one(inst(100, Backup, 2*time.Second, 3)), nil
		}, steps: []step{{0, 1, start}, {0, 2, start}, {8 * time.Second, 1, stop}, {14 * time.Second, 2, stop}}},
		{name: "ifdown", cfg: func(n int) ([]Config, []GroupConfig) { return lab(n, nil), nil },
			steps: []step{{0, 1, start}, {0, 2, start},
				{6 * time.Second, 1, func(l *lan, r *router) { l.cut[r] = true; l.apply(r, r.e.Interface(l.now, "eth0", false)) }},
				{12500 * time.Millisecond, 1, func(l *lan, r *router) { l.cut[r] = false; l.apply(r, r.e.Interface(l.now, "eth0", true)) }},
				{18 * time.Second, 1, stop}, {18*time.Second + 300*time.Millisecond, 2, stop}}},
		{name: "owner", cfg: func(n int) ([]Config, []GroupConfig) {
			if n == 1 {
				return one(inst(255, Backup, time.Second, 2)), nil
			}
			c := inst(100, Master, time.Second, 2)
			c.NoPreempt = true
			return one(c), nil
		}, steps: []step{{0, 2, start}, {5 * time.Second, 1, start}, {9 * time.Second, 1, stop}, {12 * time.Second, 2, stop}}},
		{name: "owner2", cfg: func(n int) ([]Config, []GroupConfig) {
			if n == 1 {
				c := inst(255, Master, time.Second, 2)
				c.NoPreempt, c.PreemptDelay = true, 3*time.Second
				return one(c), nil
			}
			return one(inst(100, Backup, time.Second, 2)), nil
		}, steps: []step{{0, 2, start}, {5 * time.Second, 1, start}, {9 * time.Second, 1, stop}, {12 * time.Second, 2, stop}}},
		{name: "nopreempt", cfg: func(n int) ([]Config, []GroupConfig) {
			c := inst(200-50*n, Backup, time.Second, 2)
			c.NoPreempt = n == 1
			return one(c), nil
		}, steps: []step{{0, 1, start}, {0, 2, start}, {5 * time.Second, 1, stop},
			{7 * time.Second, 1, func(l *lan, r *router) {
				c := inst(150, Backup, time.Second, 2)
				c.NoPreempt = true
				l.restart(r, one(c), nil)
			}},
			{13 * time.Second, 1, stop}, {13500 * time.Millisecond, 2, stop}}},
		{name: "reload", cfg: func(n int) ([]Config, []GroupConfig) { return one(inst(200-50*n, Backup, time.Second, 2)), nil },
			steps: []step{{0, 1, start}, {0, 2, start},
				{6 * time.Second, 1, func(l *lan, r *router) { l.reload(r, one(inst(150, Backup, time.Second, 2)), nil) }},
				{6 * time.Second, 2, func(l *lan, r *router) { l.reload(r, one(inst(100, Backup, time.Second, 2)), nil) }},
				{9500 * time.Millisecond, 1, func(l *lan, r *router) { l.reload(r, one(inst(90, Backup, time.Second, 2)), nil) }},
				{16 * time.Second, 1, stop}, {16 * time.Second, 2, stop}}},
		{name: "evip", cfg: func(n int) ([]Config, []GroupConfig) {
			c := inst(100, Backup, time.Second, 2)
			c.Name, c.VRID = "VI_"+string(rune('0'+n)), uint8(50+n)
			c.VIPs = []VIP{{Addr: netip.MustParseAddr("10.77.0.10" + string(rune('0'+n)))},
				{Addr: netip.MustParseAddr("10.77.0.11" + string(rune('0'+n))), Excluded: true},
				{Addr: netip.MustParseAddr("fd00::11" + string(rune('0'+n))), Excluded: true}}
			return one(c), nil
		}, steps: []step{{0, 1, start}, {0, 2, start}, {5 * time.Second, 1, stop}, {5 * time.Second, 2, stop}}},
		{name: "syncwait", cfg: func(n int) ([]Config, []GroupConfig) {
			v2 := inst(100, Backup, time.Second, 2)
			v2.Name, v2.VRID, v2.VIPs = "VI_2", 52, vip("10.77.0.101")
			if n == 2 {
				v2.Priority, v2.InitialState = 150, Master
				return one(v2), nil
			}
			return []Config{inst(100, Backup, time.Second, 2), v2}, []GroupConfig{{Name: "G1", Members: []string{"VI_1", "VI_2"}}}
		}, steps: []step{{0, 2, start}, {4 * time.Second, 1, start}, {13 * time.Second, 2, stop}, {17 * time.Second, 1, stop}}},
		{name: "initfault", cfg: func(n int) ([]Config, []GroupConfig) {
			c := inst(100, Backup, time.Second, 2)
			if n == 2 {
				c.Name, c.VRID, c.VIPs = "VI_2", 52, vip("10.77.0.102")
				return one(c), nil
			}
			c.Trackers = []Tracker{{Kind: TrackInterface, Name: "dum0"}, {Kind: TrackFile, Name: "tf"}}
			return one(c), nil
		}, steps: []step{
			{0, 1, func(l *lan, r *router) {
				l.apply(r, r.e.Interface(l.now, "dum0", false))
				l.apply(r, r.e.File(l.now, "tf", 5))
				l.start(r)
			}}, {0, 2, start},
			{3 * time.Second, 1, func(l *lan, r *router) { l.apply(r, r.e.Interface(l.now, "dum0", true)) }},
			{5 * time.Second, 1, func(l *lan, r *router) { l.apply(r, r.e.File(l.now, "tf", 0)) }},
			{7 * time.Second, 1, func(l *lan, r *router) { l.apply(r, r.e.File(l.now, "tf", 7)) }},
			{9 * time.Second, 1, func(l *lan, r *router) { l.apply(r, r.e.File(l.now, "tf", 0)) }},
			{11 * time.Second, 1, stop}, {11 * time.Second, 2, stop}}},
		{name: "refresh", cfg: func(n int) ([]Config, []GroupConfig) {
			c := inst(100, Backup, time.Second, 2)
			c.Name, c.VRID, c.VIPs = "VI_"+string(rune('0'+n)), uint8(50+n), vip("10.77.0.10"+string(rune('0'+n)))
			c.GARPDelay, c.GARPRefresh, c.GARPRefreshRepeat = 2*time.Second, 3*time.Second, 2
			return one(c), nil
		}, steps: []step{{0, 1, start}, {0, 2, start}, {14 * time.Second, 1, stop}, {14 * time.Second, 2, stop}}},
		{name: "syncinit", cfg: func(n int) ([]Config, []GroupConfig) {
			if n == 2 {
				c := inst(100, Backup, time.Second, 2)
				c.Name, c.VRID, c.VIPs = "VI_3", 53, vip("10.77.0.103")
				return one(c), nil
			}
			a := inst(100, Backup, time.Second, 2)
			a.Trackers = []Tracker{{Kind: TrackInterface, Name: "dum0"}}
			b := inst(100, Backup, time.Second, 2)
			b.Name, b.VRID, b.VIPs = "VI_2", 52, vip("10.77.0.101")
			return []Config{a, b}, []GroupConfig{{Name: "G1", Members: []string{"VI_1", "VI_2"}}}
		}, steps: []step{
			{0, 1, func(l *lan, r *router) { l.apply(r, r.e.Interface(l.now, "dum0", false)); l.start(r) }}, {0, 2, start},
			{3 * time.Second, 1, func(l *lan, r *router) { l.apply(r, r.e.Interface(l.now, "dum0", true)) }},
			{8 * time.Second, 1, stop}, {8 * time.Second, 2, stop}}},
		{name: "syncgroup", cfg: syncCfg,
			steps: []step{{0, 1, start}, {0, 2, start}, {1, 1, script("chk", true)}, {1, 2, script("chk", true)},
				{6 * time.Second, 1, script("chk", false)}, {12 * time.Second, 1, script("chk", true)},
				{20 * time.Second, 1, stop}, {20*time.Second + time.Millisecond, 2, stop}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLAN(t)
			var rs []*router
			for n := 1; n <= 2; n++ {
				cfgs, groups := tc.cfg(n)
				rs = append(rs, l.add("n"+string(rune('0'+n)), "10.77.0."+string(rune('0'+n)), cfgs, groups))
			}
			for _, s := range tc.steps {
				l.run(s.at)
				s.do(l, rs[s.node-1])
			}
			l.run(l.elapsed() + 5*time.Second)
			for n, r := range rs {
				file := filepath.Join("testdata", "keepalived", tc.name+"-n"+string(rune('1'+n))+".log")
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				want := strings.Split(strings.TrimSpace(string(b)), "\n")
				got := r.logs(0)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s: halo logged\n\t%s\nkeepalived logged\n\t%s", r.name,
						strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
				}
			}
		})
	}
}

func syncNone(c []Config) ([]Config, []GroupConfig) { return c, nil }
