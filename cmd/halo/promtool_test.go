package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// promtoolKnown are the lint findings HAProxy 2.6.12's own exporter gets
// from promtool 2.42 on this box (its metric names, which halo keeps so
// dashboards and alerts keep working): nothing else is allowed.
var promtoolKnown = map[string]bool{
	`haproxy_process_failed_resolutions counter metrics should have "_total" suffix`: true,
}

// TestPrometheusPromtool runs `promtool check metrics` (Debian package
// prometheus, not installed by .ci/run: it is large, so the test runs
// where it is installed) on halo's exporter output after some traffic:
// the exposition must parse, and lint only what HAProxy's own output
// gets.
func TestPrometheusPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian package prometheus): the exporter output is not linted")
	}
	up1, _ := statsPageOrigins(t)
	fe := freePort(t)
	runEngine(t, fmt.Sprintf(`
defaults
  mode http
  timeout client 5s
  timeout server 5s
  timeout connect 1s
frontend fe
  bind 127.0.0.1:%d
  http-request use-service prometheus-exporter if { path /metrics }
  default_backend be
backend be
  option httpchk GET /
  server s1 127.0.0.1:%d check inter 200ms
  server s2 127.0.0.1:%d check inter 200ms
  server s3 127.0.0.1:%d disabled
`, fe, up1, freePort(t), up1))
	time.Sleep(700 * time.Millisecond) // the checks run
	for _, p := range []string{"/", "/x", "/"} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", fe, p))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for _, scope := range []string{"", "?scope=server", "?scope=frontend&scope=backend"} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics%s", fe, scope))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(body, []byte("haproxy_")) {
			t.Fatalf("%s: no metrics:\n%s", scope, body)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 3) {
			t.Fatalf("%s: promtool: %v\n%s", scope, err, out) // 1: the exposition does not parse
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" && !promtoolKnown[l] {
				t.Errorf("%s: promtool: %s", scope, l)
			}
		}
	}
}
