package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var recordStatsPage = flag.Bool("record-statspage", false, "record testdata/haproxy/statspage/*.golden with /usr/sbin/haproxy")

// The stats page against HAProxy 2.6.12: one configuration (a frontend,
// a backend with servers in every state, a tcp listen, the stats listen
// with legends, node, description, refresh and admin), the same traffic
// and admin POST, then the page in each view. The pages are compared
// with every number masked (rates, times, byte counts and pids differ by
// nature, the markup and the words must not); -record-statspage writes
// what /usr/sbin/haproxy served.

const statsPageDir = "../../testdata/haproxy/statspage"

func statsPageConfig(fe, tcp, st, up1, up2, dead int) string {
	return fmt.Sprintf(`global
  node node-a
  description process description
defaults
  mode http
  timeout client 5s
  timeout server 5s
  timeout connect 1s
frontend fe
  bind 127.0.0.1:%[1]d
  description the front door
  default_backend be
backend be
  cookie SRV insert
  option httpchk GET /
  server s1 127.0.0.1:%[4]d check inter 200ms cookie c1 maxconn 10 weight 50
  server s2 127.0.0.1:%[5]d check inter 200ms cookie c2
  server s3 127.0.0.1:%[5]d track be/s2
  server s4 [::1]:%[5]d backup
  server s5 127.0.0.1:%[6]d check inter 200ms
  server s6 127.0.0.1:%[5]d disabled
listen tcpx
  mode tcp
  bind 127.0.0.1:%[2]d
  balance leastconn
  server t1 127.0.0.1:%[4]d check inter 200ms disabled
  server t2 127.0.0.1:%[6]d check inter 200ms
listen stats
  bind 127.0.0.1:%[3]d
  stats enable
  stats uri /st
  stats show-legends
  stats show-node
  stats show-desc
  stats refresh 5s
  stats admin if TRUE
`, fe, tcp, st, up1, up2, dead)
}

// statsPageViews are the pages compared, by golden file name.
var statsPageViews = []struct{ name, uri string }{
	{"page", "/st"},
	{"up-norefresh", "/st;up;norefresh"},
	{"scope", "/st?scope=tc"},
	{"done", "/st;st=DONE"},
	{"errp", "/st;st=ERRP;norefresh"},
}

var (
	numRE   = regexp.MustCompile(`[0-9]+`)
	rlsRE   = regexp.MustCompile(`<span class="rls">([0-9]+)</span>`)
	tagRE   = regexp.MustCompile(`(<tr|<td|<th|<li|<table|<div)`)
	verRE   = regexp.MustCompile(`HAProxy version [^<]*</a>`)
	checkRE = regexp.MustCompile(`<u> \* `)
	// The bit rate's unit follows the measured rate (bps, kbps, Mbps),
	// which depends on timing, not on the page's layout.
	bpsRE = regexp.MustCompile(`N(\.N)? [kMGT]?bps`)
)

// maskPage turns a page into lines (one per element) with every number
// replaced by N, the version string and check-in-progress marks removed.
func maskPage(s string) string {
	s = verRE.ReplaceAllString(s, "HAProxy version VERSION</a>")
	s = rlsRE.ReplaceAllString(s, "$1")
	s = checkRE.ReplaceAllString(s, "<u> ")
	s = numRE.ReplaceAllString(s, "N")
	s = bpsRE.ReplaceAllString(s, "RATE")
	return tagRE.ReplaceAllString(s, "\n$1")
}

// statsPageRun drives one process (halo or haproxy) listening on the
// configuration's ports: waits for the checks to settle, sends traffic
// and the admin POST, then returns each view masked, and the POST's
// answer.
func statsPageRun(t *testing.T, fe, tcp, st int) map[string]string {
	t.Helper()
	base := fmt.Sprintf("http://127.0.0.1:%d", st)
	cl := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	get := func(uri string) (*http.Response, string) {
		resp, err := cl.Get(base + uri)
		if err != nil {
			t.Fatalf("GET %s: %v", uri, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	// the checks settle: s1 and s2 checked UP, s5 and t2 DOWN
	settled := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		_, csv := get("/st;csv;norefresh")
		if strings.Contains(csv, "be,s1,") && regexp.MustCompile(`\nbe,s1,[^\n]*,UP,[^\n]*L7OK`).MatchString(csv) &&
			regexp.MustCompile(`\nbe,s2,[^\n]*,UP,[^\n]*L7OK`).MatchString(csv) &&
			regexp.MustCompile(`\nbe,s5,[^\n]*,DOWN,`).MatchString(csv) && regexp.MustCompile(`\ntcpx,t2,[^\n]*,DOWN,`).MatchString(csv) {
			settled = true
			break
		}
	}
	if !settled {
		_, csv := get("/st;csv;norefresh")
		t.Fatalf("checks did not settle:\n%s", csv)
	}
	for range 3 {
		resp, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d/", fe))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	out := map[string]string{}
	// the admin form: drain s2 (its tracker follows) and an unknown
	// server, the backend named by the form's "#<id>"
	_, page := get("/st")
	id := regexp.MustCompile(`name="b" value="#([0-9]+)"`).FindStringSubmatch(page)
	if id == nil {
		t.Fatal("no admin form on the page")
	}
	resp, err := cl.Post(base+"/st;norefresh", "application/x-www-form-urlencoded", strings.NewReader("s=s2&s=nosuch&action=drain&b=%23"+id[1]))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	out["post"] = fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
	resp, err = cl.Post(base+"/st", "application/x-www-form-urlencoded", strings.NewReader("s=s5&action=bogus&b=be"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	out["post"] += fmt.Sprintf("\n%d %s", resp.StatusCode, resp.Header.Get("Location"))
	resp, err = cl.Post(base+"/st?scope=b", "application/x-www-form-urlencoded", strings.NewReader("s=s1&action=&b=be"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	out["post"] += fmt.Sprintf("\n%d %s", resp.StatusCode, resp.Header.Get("Location"))
	time.Sleep(300 * time.Millisecond) // the tracker follows
	for _, v := range statsPageViews {
		resp, body := get(v.uri)
		var h strings.Builder
		fmt.Fprintf(&h, "%d %s refresh=%q\n", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Refresh"))
		out[v.name] = h.String() + maskPage(body)
	}
	// the exports: the CSV's rows and columns, valid JSON
	_, csv := get("/st;csv;norefresh")
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(csv), "\n") {
		f := strings.Split(l, ",")
		rows = append(rows, strings.Join(f[:2], ",")+" "+fmt.Sprint(len(f)))
	}
	out["csv"] = strings.Join(rows, "\n")
	_, js := get("/st;json;norefresh")
	var parsed [][]map[string]any
	if err := json.Unmarshal([]byte(js), &parsed); err != nil {
		t.Fatalf("json export: %v", err)
	}
	var objs []string
	for _, r := range parsed {
		objs = append(objs, fmt.Sprintf("%v %d", r[0]["objType"], len(r)))
	}
	out["json"] = strings.Join(objs, "\n")
	_, schema := get("/st;json-schema")
	out["schema"] = schema
	return out
}

// statsPageOrigins starts the two HTTP servers of the configuration.
func statsPageOrigins(t *testing.T) (int, int) {
	t.Helper()
	ports := [2]int{}
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					br := bufio.NewReader(c)
					for {
						c.SetDeadline(time.Now().Add(5 * time.Second))
						req, err := http.ReadRequest(br)
						if err != nil {
							return
						}
						io.Copy(io.Discard, req.Body)
						io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
					}
				}()
			}
		}()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1]
}

func TestStatsPageAsHAProxy(t *testing.T) {
	up1, up2 := statsPageOrigins(t)
	dead := freePort(t)
	if *recordStatsPage {
		recordHAProxyStatsPage(t, up1, up2, dead)
	}
	fe, tcp, st := freePort(t), freePort(t), freePort(t)
	runEngine(t, statsPageConfig(fe, tcp, st, up1, up2, dead))
	got := statsPageRun(t, fe, tcp, st)
	for name, g := range got {
		want, err := os.ReadFile(filepath.Join(statsPageDir, name+".golden"))
		if err != nil {
			t.Fatalf("%s: %v (record with -record-statspage)", name, err)
		}
		if g != string(want) {
			t.Errorf("%s differs from haproxy 2.6.12's:\n%s", name, lineDiff(string(want), g))
		}
	}
}

// lineDiff lists the lines that differ, with their numbers.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < max(len(w), len(g)) && n < 20; i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n  haproxy %s\n  halo    %s\n", i+1, a, c)
			n++
		}
	}
	return b.String()
}

// recordHAProxyStatsPage runs /usr/sbin/haproxy on the configuration
// and writes what statsPageRun sees.
func recordHAProxyStatsPage(t *testing.T, up1, up2, dead int) {
	fe, tcp, st := freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "stats.cfg")
	os.WriteFile(cfg, []byte(statsPageConfig(fe, tcp, st, up1, up2, dead)), 0o644)
	cmd := exec.Command("/usr/sbin/haproxy", "-db", "-f", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for range 50 {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", st)); err == nil {
			c.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	os.MkdirAll(statsPageDir, 0o755)
	for name, v := range statsPageRun(t, fe, tcp, st) {
		if err := os.WriteFile(filepath.Join(statsPageDir, name+".golden"), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStatsPageRequests: what HAProxy 2.6.12 answered on this box to the
// same requests: stats http-request rules (deny, auth with the stats
// realm), stats auth, a POST without admin rights (303 to ;st=DENY),
// HEAD without a body, and methods the page does not serve going to the
// backend (no server: 503).
func TestStatsPageRequests(t *testing.T) {
	a, b := freePort(t), freePort(t)
	runEngine(t, fmt.Sprintf(`
defaults
  mode http
  timeout client 5s
  timeout server 5s
  timeout connect 1s
listen auth
  bind 127.0.0.1:%d
  stats enable
  stats uri /s
  stats auth u:p
listen rules
  bind 127.0.0.1:%d
  stats enable
  stats uri /s
  stats http-request deny if { path_end d }
  stats http-request auth if { path_end x }
  stats http-request allow
`, a, b))
	cl := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	for _, tc := range []struct {
		name, method, url, user string
		body                    string
		want                    string // status and the header that matters
	}{
		{"auth needed", "GET", fmt.Sprintf("http://127.0.0.1:%d/s", a), "", "", `401 Basic realm="HAProxy Statistics"`},
		{"auth given", "GET", fmt.Sprintf("http://127.0.0.1:%d/s", a), "u:p", "", "200 text/html"},
		{"auth wrong", "GET", fmt.Sprintf("http://127.0.0.1:%d/s", a), "u:x", "", `401 Basic realm="HAProxy Statistics"`},
		{"head", "HEAD", fmt.Sprintf("http://127.0.0.1:%d/s", a), "u:p", "", "200 text/html"},
		{"post without admin", "POST", fmt.Sprintf("http://127.0.0.1:%d/s;up", a), "u:p", "s=x&action=maint&b=auth", "303 /s;st=DENY;up"},
		{"put goes to the backend", "PUT", fmt.Sprintf("http://127.0.0.1:%d/s", a), "u:p", "", "503 text/html"},
		{"rule deny", "GET", fmt.Sprintf("http://127.0.0.1:%d/s;d", b), "", "", "403 text/html"},
		{"rule auth", "GET", fmt.Sprintf("http://127.0.0.1:%d/sx", b), "", "", `401 Basic realm="HAProxy Statistics"`},
		{"rule allow", "GET", fmt.Sprintf("http://127.0.0.1:%d/s", b), "", "", "200 text/html"},
		{"csv", "GET", fmt.Sprintf("http://127.0.0.1:%d/s;csv", b), "", "", "200 text/plain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if tc.user != "" {
				u, p, _ := strings.Cut(tc.user, ":")
				req.SetBasicAuth(u, p)
			}
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			h := resp.Header.Get("Content-Type")
			switch resp.StatusCode {
			case 401:
				h = resp.Header.Get("Www-Authenticate")
			case 303:
				h = resp.Header.Get("Location")
			}
			if got := fmt.Sprintf("%d %s", resp.StatusCode, h); got != tc.want {
				t.Errorf("%s %s: %s, want %s", tc.method, tc.url, got, tc.want)
			}
			if tc.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD answered with a body")
			}
		})
	}
}
