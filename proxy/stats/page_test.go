package stats

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"halo/proxy"
)

func TestU2H(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "0"}, {"7", "7"}, {"999", "999"}, {"1000", `<span class="rls">1</span>000`},
		{"1320", `<span class="rls">1</span>320`},
		// HAProxy 2.6.12's page: 124067 bytes out, 41264 bytes out
		{"124067", `12<span class="rls">4</span>067`},
		{"41264", `4<span class="rls">1</span>264`},
		{"1234567", `<span class="rls">1</span>23<span class="rls">4</span>567`},
	} {
		if got := u2h(tc.in); got != tc.want {
			t.Errorf("u2h(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHumanTime(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{-1, "?"}, {0, "0s"}, {7, "7s"}, {60, "1m"}, {90, "1m30s"}, {570, "9m30s"}, {3600, "1h"},
		{3661, "1h1m"}, {86400, "1d"}, {90061, "1d1h"}, {86401, "1d1s"},
	} {
		if got := humanTime(tc.in); got != tc.want {
			t.Errorf("humanTime(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPageOptions(t *testing.T) {
	p := &Page{cfg: &proxy.StatsPage{Refresh: 5 * time.Second}}
	noRefresh := &Page{cfg: &proxy.StatsPage{}}
	for _, tc := range []struct {
		name string
		p    *Page
		rest string
		want pageOpts
	}{
		{"empty", p, "", pageOpts{}},
		{"up norefresh", p, ";up;norefresh", pageOpts{up: true, noRefresh: true}},
		{"norefresh without refresh", noRefresh, ";norefresh", pageOpts{}},
		{"csv", p, ";csv", pageOpts{format: fmtCSV}},
		{"json wins over csv", p, ";csv;json", pageOpts{format: fmtJSON}},
		{"schema", p, ";json-schema", pageOpts{format: fmtSchema}},
		{"typed", p, ";typed", pageOpts{format: fmtTyped}},
		{"status", p, ";st=DONE", pageOpts{st: "DONE"}},
		{"unknown status", p, ";st=ABCD", pageOpts{st: "UNKN"}},
		{"short status", p, ";st=DON", pageOpts{}},
		{"scope", p, "?scope=be;up", pageOpts{scope: "be", up: true}},
		{"scope too long", p, "?scope=abcdefghijklmnopqrstuvwxyz", pageOpts{scope: "abcdefghijklmnopqrst"}},
		{"scope bad char", p, "?scope=a<b", pageOpts{}},
		{"no-maint", p, ";no-maint", pageOpts{noMaint: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.parseOpts(tc.rest); got != tc.want {
				t.Errorf("parseOpts(%q) = %+v, want %+v", tc.rest, got, tc.want)
			}
		})
	}
}

func row(kv ...string) Row {
	r := newRow()
	for i := 0; i+1 < len(kv); i += 2 {
		r.set(kv[i], kv[i+1])
	}
	return r
}

// ";up" hides servers in maintenance and DOWN ones not going up, and
// the backend then tells how many of its servers run, as HAProxy's
// "UP (2/4)".
func TestFilterServers(t *testing.T) {
	mk := func() []Row {
		return []Row{
			row("pxname", "be", "svname", "a", "type", "2", "status", "UP"),
			row("pxname", "be", "svname", "b", "type", "2", "status", "DOWN"),
			row("pxname", "be", "svname", "c", "type", "2", "status", "DOWN 1/2"),
			row("pxname", "be", "svname", "d", "type", "2", "status", "MAINT"),
			row("pxname", "be", "svname", "e", "type", "2", "status", "DRAIN"),
			row("pxname", "be", "svname", "BACKEND", "type", "1", "status", "UP"),
		}
	}
	names := func(rows []Row) string {
		var s []string
		for _, r := range rows {
			s = append(s, r.Get("svname")+"="+r.Get("status"))
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		name        string
		up, noMaint bool
		want        string
	}{
		{"none", false, false, "a=UP b=DOWN c=DOWN 1/2 d=MAINT e=DRAIN BACKEND=UP"},
		{"up", true, false, "a=UP c=DOWN 1/2 e=DRAIN BACKEND=UP (2/5)"},
		{"no-maint", false, true, "a=UP b=DOWN c=DOWN 1/2 e=DRAIN BACKEND=UP (2/5)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(FilterServers(mk(), tc.up, tc.noMaint)); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// The JSON export is valid JSON holding the typed fields, an empty
// string field (a check's silent last output) included.
func TestAppendJSON(t *testing.T) {
	r := row("pxname", "be", "svname", "s1", "type", "2", "iid", "3", "sid", "1", "status", `UP "x"`, "scur", "0")
	r.setStr("last_chk", "")
	var got [][]map[string]any
	if err := json.Unmarshal(AppendJSON(nil, []Row{r}), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d rows", len(got))
	}
	fields := map[string]any{}
	for _, f := range got[0] {
		if f["objType"] != "Server" || f["proxyId"] != 3.0 || f["id"] != 1.0 {
			t.Errorf("field %v", f)
		}
		fields[f["field"].(map[string]any)["name"].(string)] = f["value"].(map[string]any)["value"]
	}
	if fields["status"] != `UP "x"` || fields["last_chk"] != "" || fields["scur"] != 0.0 {
		t.Errorf("fields %v", fields)
	}
	if csv := string(AppendCSV(nil, []Row{r})); strings.Contains(csv, emptyField) {
		t.Errorf("the CSV shows the empty-field mark: %q", csv)
	}
}

func TestParseAdminForm(t *testing.T) {
	for _, tc := range []struct {
		body, want string
	}{
		{"s=s1&s=s2&action=drain&b=%233", "b=#3 a=drain s=[s2 s1] bad=false"},
		{"s=s1&action=&b=be", "b=be a= s=[] bad=true"},
		{"s=s1&action=bogus&b=be", "b=be a= s=[] bad=true"},
		{"action=maint&b=be&b=other", "b=other a=maint s=[] bad=false"},
		{"s=a%20b&action=stop&b=be", "b=be a=stop s=[a b] bad=false"},
		{"s=x&s=%zz&action=ready&b=be", "b=be a=ready s=[] bad=false"},
	} {
		f := parseAdminForm(tc.body)
		if got := fmt.Sprintf("b=%s a=%s s=%v bad=%v", f.backend, f.action, f.servers, f.bad); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.body, got, tc.want)
		}
	}
}

func FuzzPageRequest(f *testing.F) {
	for _, s := range []string{";up;norefresh", "?scope=be;csv", ";st=DONE", ";json-schema", "s=a&action=drain&b=%233"} {
		f.Add(s)
	}
	p := &Page{cfg: &proxy.StatsPage{Refresh: time.Second}}
	f.Fuzz(func(t *testing.T, s string) {
		o := p.parseOpts(s)
		if len(o.scope) > scopeMax || strings.ContainsAny(o.scope, "<>\"&") {
			t.Fatalf("scope %q", o.scope)
		}
		parseAdminForm(s)
	})
}
