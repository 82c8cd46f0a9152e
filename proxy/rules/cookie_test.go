package rules_test

import (
	"strings"
	"testing"

	"halo/proxy"
	"halo/proxy/acl/acltest"
	"halo/proxy/rules"
)

type srv struct {
	cookie string
	up     bool
}

func (s srv) CookieValue() string { return s.cookie }
func (s srv) Persistable() bool   { return s.up }

func hdrs(h *acltest.Headers) string {
	var out []string
	for _, kv := range h.KV {
		out = append(out, string(kv[0])+": "+string(kv[1]))
	}
	return strings.Join(out, "|")
}

// Behaviour recorded from HAProxy 2.6.12 (conformance cases 010, 011).
func TestCookieInsertIndirectNocache(t *testing.T) {
	ck := rules.NewCookie(&proxy.CookieConfig{Name: "SRV", Mode: "insert", Indirect: true, NoCache: true})
	servers := []rules.ServerRef{srv{"s1", true}, srv{"s2", true}}
	tests := []struct {
		name       string
		cookie     string
		resHdrs    []string
		wantIdx    int
		wantSeen   string // request headers the server sees
		chosen     string // server cookie used for the response
		wantResHdr string
		wantTsc    string
	}{
		{"no cookie: inserted", "", nil, -1, "host: h", "s1", "set-cookie: SRV=s1; path=/", "NI"},
		{"sticks, stripped", "SRV=s2", nil, 1, "host: h", "s2", "", "VN"},
		{"between others", "a=1; SRV=s1; b=2", nil, 0, "host: h|cookie: a=1; b=2", "s1", "", "VN"},
		{"unknown value: re-set", "SRV=nosuch", nil, -1, "host: h", "s1", "set-cookie: SRV=s1; path=/", "II"},
		{"cacheable made private", "", []string{"Cache-Control: public, max-age=60"}, -1, "host: h", "s2",
			"Cache-Control: public, max-age=60|set-cookie: SRV=s2; path=/|cache-control: private", "NI"},
		{"cookie present: left cacheable", "SRV=s1", []string{"Cache-Control: public, max-age=60"}, 0, "host: h", "s1",
			"Cache-Control: public, max-age=60", "VN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := []string{"host: h"}
			if tc.cookie != "" {
				h = append(h, "cookie: "+tc.cookie)
			}
			txn := acltest.New("GET /", h...)
			st := &rules.State{}
			st.Reset(txn)
			if got := ck.Request(txn.ReqHeaders(), servers, rules.CookieRunning, st); got != tc.wantIdx {
				t.Errorf("server index %d, want %d", got, tc.wantIdx)
			}
			if got := hdrs(&txn.Req); got != tc.wantSeen {
				t.Errorf("server sees %q, want %q", got, tc.wantSeen)
			}
			txn.HasRes = true
			for _, rh := range tc.resHdrs {
				k, v, _ := strings.Cut(rh, ": ")
				txn.Res.Add([]byte(k), []byte(v))
			}
			ck.Response(txn.ResHeaders(), tc.chosen, st)
			if got := hdrs(&txn.Res); got != tc.wantResHdr {
				t.Errorf("response %q, want %q", got, tc.wantResHdr)
			}
			if got := string([]byte{st.CookieReq, st.CookieRes}); got != tc.wantTsc {
				t.Errorf("tsc %q want %q", got, tc.wantTsc)
			}
		})
	}
}

func TestCookiePrefix(t *testing.T) {
	ck := rules.NewCookie(&proxy.CookieConfig{Name: "JSESSIONID", Mode: "prefix", NoCache: true})
	servers := []rules.ServerRef{srv{"s1", true}, srv{"s2", true}}
	tests := []struct {
		name, cookie string
		wantIdx      int
		wantSeen     string
	}{
		{"prefixed s2", "JSESSIONID=s2~xyz789", 1, "cookie: JSESSIONID=xyz789"},
		{"among others", "theme=dark; JSESSIONID=s1~abc123; lang=en", 0, "cookie: theme=dark; JSESSIONID=abc123; lang=en"},
		{"unprefixed passes", "JSESSIONID=plain", -1, "cookie: JSESSIONID=plain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			txn := acltest.New("GET /", "cookie: "+tc.cookie)
			st := &rules.State{}
			st.Reset(txn)
			if got := ck.Request(txn.ReqHeaders(), servers, rules.CookieRunning, st); got != tc.wantIdx {
				t.Errorf("index %d want %d", got, tc.wantIdx)
			}
			if got := hdrs(&txn.Req); got != tc.wantSeen {
				t.Errorf("seen %q want %q", got, tc.wantSeen)
			}
		})
	}
	txn := acltest.New("GET /login")
	txn.HasRes = true
	txn.Res.Add([]byte("Set-Cookie"), []byte("JSESSIONID=abc123; Path=/"))
	st := &rules.State{}
	st.Reset(txn)
	ck.Request(txn.ReqHeaders(), servers, rules.CookieRunning, st)
	ck.Response(txn.ResHeaders(), "s1", st)
	if got := hdrs(&txn.Res); got != "Set-Cookie: JSESSIONID=s1~abc123; Path=/" {
		t.Errorf("response %q", got)
	}
}

func TestCookieRewriteAndDown(t *testing.T) {
	ck := rules.NewCookie(&proxy.CookieConfig{Name: "SRV", Mode: "rewrite"})
	servers := []rules.ServerRef{srv{"s1", false}, srv{"s2", true}}
	txn := acltest.New("GET /", "cookie: SRV=s1")
	st := &rules.State{}
	st.Reset(txn)
	if got := ck.Request(txn.ReqHeaders(), servers, rules.CookieRunning, st); got != -1 || st.CookieReq != 'D' {
		t.Errorf("down server must not be persisted to: %d %c", got, st.CookieReq)
	}
	txn.HasRes = true
	txn.Res.Add([]byte("set-cookie"), []byte("SRV=whatever; Path=/app"))
	ck.Response(txn.ResHeaders(), "s2", st)
	if got := hdrs(&txn.Res); got != "set-cookie: SRV=s2; Path=/app" {
		t.Errorf("rewrite: %q", got)
	}
}

// FuzzCookie feeds arbitrary Cookie and Set-Cookie values (client and
// server input) through every persistence mode.
func FuzzCookie(f *testing.F) {
	f.Add("a=1; SRV=s1; b=2", "SRV=x; Path=/")
	f.Add("JSESSIONID=s2~xyz; ;;=;", "JSESSIONID=abc")
	f.Add("SRV=s1|a|b", "")
	servers := []rules.ServerRef{srv{"s1", true}, srv{"s2", false}}
	f.Fuzz(func(t *testing.T, cookie, setCookie string) {
		for _, mode := range []string{"insert", "prefix", "rewrite"} {
			ck := rules.NewCookie(&proxy.CookieConfig{Name: map[string]string{"prefix": "JSESSIONID"}[mode] + "SRV", Mode: mode, Indirect: true, NoCache: true})
			txn := acltest.New("GET /", "Cookie: "+cookie)
			st := &rules.State{}
			st.Reset(txn)
			ck.Request(txn.ReqHeaders(), servers, rules.CookieRunning, st)
			txn.HasRes = true
			txn.Res.Add([]byte("Set-Cookie"), []byte(setCookie))
			ck.Response(txn.ResHeaders(), "s1", st)
		}
	})
}
