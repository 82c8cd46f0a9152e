package stats_test

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"halo/proxy"
	"halo/proxy/stats"
)

// metricKeys returns "name{labels}" for each sample line and the HELP/TYPE
// lines as they are.
func metricKeys(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(l, "\r")
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "#") {
			out = append(out, l)
			continue
		}
		k := l[:strings.LastIndexByte(l, ' ')]
		if strings.HasPrefix(k, "haproxy_process_build_info{") {
			k = "haproxy_process_build_info{version=VERSION}"
		}
		out = append(out, k)
	}
	return out
}

// The exporter's families, HELP/TYPE text and label sets match HAProxy
// 2.6.12's prometheus-exporter (testdata/promex.golden) for the same
// configuration: fe (http, use-service) -> app (s1 check, s2).
func TestPrometheusMatchesHAProxy(t *testing.T) {
	ip := netip.MustParseAddr("127.0.0.1")
	app := &proxy.Proxy{Name: "app", ID: 2, Cap: proxy.CapBE, Mode: proxy.ModeHTTP, Servers: []*proxy.Server{
		{Name: "s1", ID: 1, Addr: ip, Port: 23042, Weight: 1, Check: true, Rise: 2, Fall: 3, Resolved: true},
		{Name: "s2", ID: 2, Addr: ip, Port: 23043, Weight: 1, Rise: 2, Fall: 3, Resolved: true},
	}}
	fe := &proxy.Proxy{Name: "fe", ID: 1, Cap: proxy.CapFE, Mode: proxy.ModeHTTP, DefaultBackend: app}
	rt, err := proxy.New(&proxy.Config{Global: proxy.Global{Maxconn: 500}, Proxies: []*proxy.Proxy{fe, app}})
	if err != nil {
		t.Fatal(err)
	}
	checks := func(s *proxy.ServerState) (stats.CheckState, bool) {
		if !s.Server.Check {
			return stats.CheckState{}, false
		}
		return stats.CheckState{Enabled: true, Status: "L4CON", Desc: "Layer4 connection problem"}, true
	}
	rt.BackendByName("app").Servers()[0].SetHealth(proxy.SrvDown)
	got := metricKeys(string(stats.NewPrometheus(stats.New(rt, checks)).Render(nil)))
	wantB, err := os.ReadFile("testdata/promex.golden")
	if err != nil {
		t.Fatal(err)
	}
	want := metricKeys(string(wantB))
	gi := map[string]bool{}
	for _, g := range got {
		gi[g] = true
	}
	wi := map[string]bool{}
	missing := 0
	for _, w := range want {
		wi[w] = true
		if !gi[w] && !strings.Contains(w, "zlib_memory") {
			t.Errorf("missing: %s", w)
			missing++
		}
	}
	for _, g := range got {
		if !wi[g] {
			t.Errorf("extra: %s", g)
		}
	}
}
