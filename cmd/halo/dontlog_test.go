package main

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDontLogNormal: option dontlog-normal logs only the transactions
// HAProxy counts as errors (an error termination other than a local one,
// retries, redispatch, an HTTP status of 500 or more); option
// log-separate-errors logs those at level err (<131> for local0) unless
// set-log-level chose a level. The wanted lines are what HAProxy 2.6.12
// sent on the same configuration and requests.
func TestDontLogNormal(t *testing.T) {
	// the origin: 500 for /500, 200 for /ok, a close without answer
	// otherwise (502 SH)
	srv, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				switch {
				case strings.Contains(line, " /500 "):
					fmt.Fprint(c, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")
				case strings.Contains(line, " /ok "):
					fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
				}
			}()
		}
	}()
	logc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer logc.Close()
	fes := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	cfg := `defaults
    mode http
    timeout client 2s
    timeout server 2s
    timeout connect 1s
    log ` + logc.LocalAddr().String() + ` local0
    log-format "%ft %ST %b/%s %tsc %rc"
frontend quiet
    bind ` + fes[0] + `
    option dontlog-normal
    use_backend none if { path /none }
    default_backend be
frontend sep
    bind ` + fes[1] + `
    option log-separate-errors
    use_backend none if { path /none }
    default_backend be
frontend both
    bind ` + fes[2] + `
    option dontlog-normal
    option log-separate-errors
    http-request set-log-level notice if { path /lvl }
    use_backend none if { path /none }
    default_backend be
backend be
    http-request return status 200 if { path / }
    http-request return status 404 if { path /404 }
    server s ` + srv.Addr().String() + `
backend none
`
	runEngine(t, cfg)
	for _, fe := range fes {
		for _, p := range []string{"/", "/404", "/ok", "/500", "/none", "/lvl"} {
			httpGetBody(fe, p)
		}
	}
	want := []string{
		"<134> quiet 500 be/s ---- 0",
		"<134> quiet 503 none/<NOSRV> SC-- 0",
		"<134> quiet 502 be/s SH-- 0",
		"<134> sep 200 be/<NOSRV> LR-- 0",
		"<134> sep 404 be/<NOSRV> LR-- 0",
		"<134> sep 200 be/s ---- 0",
		"<131> sep 500 be/s ---- 0",
		"<131> sep 503 none/<NOSRV> SC-- 0",
		"<131> sep 502 be/s SH-- 0",
		"<131> both 500 be/s ---- 0",
		"<131> both 503 none/<NOSRV> SC-- 0",
		"<133> both 502 be/s SH-- 0",
	}
	head := regexp.MustCompile(`^(<\d+>).*?: `)
	var got []string
	buf := make([]byte, 4096)
	for len(got) < len(want)+1 {
		logc.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := logc.ReadFrom(buf)
		if err != nil {
			break // no more lines: one too many is what the +1 catches
		}
		got = append(got, head.ReplaceAllString(strings.TrimRight(string(buf[:n]), "\n"), "$1 "))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("log lines:\n%s\nwant (haproxy 2.6.12):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
