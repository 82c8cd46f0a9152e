package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStatsCountersAsHAProxy checks three counters compared with HAProxy
// 2.6.12 on the same configuration and traffic (stats page screenshots
// side by side, then `show stat`): the bytes out of a response count its
// head as the server sent it, not the cookie `cookie … insert` added
// (52 per "HTTP/1.1 200 OK", content-length: 3, body "ok\n"); the stats
// page's own transactions are counted on the stats proxy's FRONTEND and
// BACKEND rows; a listen whose last server fails its check counts one
// DOWN transition on its BACKEND row (chkdown).
func TestStatsCountersAsHAProxy(t *testing.T) {
	up, _ := statsPageOrigins(t)
	fe, tcp, st := freePort(t), freePort(t), freePort(t)
	runEngine(t, fmt.Sprintf(`
defaults
  mode http
  timeout client 5s
  timeout server 5s
  timeout connect 1s
frontend fe
  bind 127.0.0.1:%d
  default_backend be
backend be
  cookie SRV insert
  server s1 127.0.0.1:%d cookie c1
listen tcpx
  mode tcp
  bind 127.0.0.1:%d
  server t1 127.0.0.1:%d check inter 100ms
listen stats
  bind 127.0.0.1:%d
  stats enable
  stats uri /st
`, fe, up, tcp, freePort(t), st))
	for range 3 {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", fe))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(resp.Header.Get("Set-Cookie"), "SRV=c1") {
			t.Fatalf("no cookie inserted: %v", resp.Header)
		}
	}
	rows := func() map[string][]string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/st;csv", st))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		r := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "# ")))
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, h := range recs[0] {
			col[h] = i
		}
		out := map[string][]string{}
		for _, rec := range recs[1:] {
			out[rec[0]+"/"+rec[1]] = []string{rec[col["bin"]], rec[col["bout"]], rec[col["chkdown"]], rec[col["status"]]}
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	var m map[string][]string
	for {
		m = rows()
		// (a transaction is counted once its response went out: the
		// client may read it first)
		if (m["tcpx/BACKEND"][3] == "DOWN" && m["fe/FRONTEND"][1] == "156") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	m = rows() // once more: the earlier page requests are counted now
	if got := m["fe/FRONTEND"][1]; got != "156" {
		t.Errorf("fe bytes out %s, want 156 (3 × 52: the inserted cookie is not counted)", got)
	}
	if got := m["be/s1"][1]; got != "156" {
		t.Errorf("be/s1 bytes out %s, want 156", got)
	}
	if got := m["tcpx/BACKEND"][2]; got != "1" {
		t.Errorf("tcpx BACKEND chkdown %s (status %s), want 1", got, m["tcpx/BACKEND"][3])
	}
	// the page requests before the last one were counted on both rows
	fr, br := m["stats/FRONTEND"], m["stats/BACKEND"]
	if fr[0] == "0" || fr[1] == "0" || fr[0] != br[0] || fr[1] != br[1] {
		t.Errorf("stats FRONTEND bytes %s/%s, BACKEND %s/%s: want the page's bytes on both", fr[0], fr[1], br[0], br[1])
	}
}
