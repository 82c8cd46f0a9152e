package stats

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"halo/proxy"
)

// TestRuntimeAPITable keeps testdata/runtime-api.tsv (the status of every
// command of HAProxy 2.6's runtime API) true: every command HAProxy
// 2.6.12 lists (testdata/help-2.6.12.txt) has a row; a command done in
// halo is registered and a missing one is not (nor answered by a shorter
// registered command); every registered command has a row; a missing
// `set server` option is refused by halo's set server.
func TestRuntimeAPITable(t *testing.T) {
	b, err := os.ReadFile("testdata/runtime-api.tsv")
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ cmd, status, note string }
	rows := map[string]row{}
	counts := map[string]int{}
	for i, l := range strings.Split(string(b), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			t.Fatalf("runtime-api.tsv:%d: want 3 tab-separated fields: %q", i+1, l)
		}
		switch f[1] {
		case "golden", "regtest", "done", "untested", "expert", "missing":
		default:
			t.Fatalf("runtime-api.tsv:%d: unknown status %q", i+1, f[1])
		}
		if _, dup := rows[f[0]]; dup {
			t.Fatalf("runtime-api.tsv:%d: %q listed twice", i+1, f[0])
		}
		rows[f[0]] = row{f[0], f[1], f[2]}
		counts[f[1]]++
	}

	// HAProxy's own list
	help, err := os.ReadFile("testdata/help-2.6.12.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(help), "\n") {
		if !strings.HasPrefix(l, "  ") || len(l) < 42 {
			continue
		}
		var words []string
		for _, w := range strings.Fields(l[2:42]) {
			if strings.ContainsAny(w[:1], "[<{(*@") {
				break
			}
			words = append(words, w)
		}
		if slices.Equal(words, []string{"new", "ssl", "crlfile"}) {
			words[2] = "crl-file" // 2.6.12's help misspells the keyword
		}
		if _, ok := rows[strings.Join(words, " ")]; !ok {
			t.Errorf("HAProxy 2.6.12's %q has no row in runtime-api.tsv", strings.Join(words, " "))
		}
	}

	registered := func(words []string) (exact, prefix bool) {
		for _, c := range commands {
			if len(c.words) <= len(words) && slices.Equal(c.words, words[:len(c.words)]) {
				prefix = true
				exact = exact || len(c.words) == len(words)
			}
		}
		return
	}
	rt, err := proxy.New(&proxy.Config{Proxies: []*proxy.Proxy{{Name: "be", Cap: proxy.CapBE, Mode: proxy.ModeHTTP,
		Servers: []*proxy.Server{{Name: "s1", ID: 1, Weight: 1, Addr: netip.MustParseAddr("127.0.0.1"), Port: 9, Resolved: true}}}}})
	if err != nil {
		t.Fatal(err)
	}
	st := New(rt, nil)
	for _, r := range rows {
		done := r.status != "missing" && r.status != "expert"
		if cmd, opt, ok := strings.Cut(r.cmd, ":"); ok {
			if cmd != "set server" {
				t.Errorf("%q: only set server options are written CMD:OPTION", r.cmd)
				continue
			}
			ans := st.Execute("set server be/s1 "+opt, &Session{Level: LevelAdmin})
			refused := ans == "'set server <srv> "+opt+"' is not supported by halo.\n\n"
			if done == refused {
				t.Errorf("%q is %s in runtime-api.tsv but set server answers %q", r.cmd, r.status, ans)
			}
			continue
		}
		exact, prefix := registered(strings.Fields(r.cmd))
		switch {
		case done && !exact:
			t.Errorf("%q is %s in runtime-api.tsv but not registered", r.cmd, r.status)
		case !done && prefix:
			t.Errorf("%q is %s in runtime-api.tsv but halo answers it", r.cmd, r.status)
		}
	}
	for _, c := range commands {
		if r, ok := rows[strings.Join(c.words, " ")]; !ok || r.status == "missing" || r.status == "expert" {
			t.Errorf("registered command %q has no row marked done in runtime-api.tsv", strings.Join(c.words, " "))
		}
	}
	t.Logf("runtime API of HAProxy 2.6: %d rows: %d golden, %d regtest, %d done, %d untested, %d expert-only, %d missing",
		len(rows), counts["golden"], counts["regtest"], counts["done"], counts["untested"], counts["expert"], counts["missing"])
}
