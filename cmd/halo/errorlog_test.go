package main

import (
	"crypto/tls"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"halo/internal/wirecase"
)

var recordErrorLog = flag.Bool("record-errorlog", false, "record testdata/haproxy/errorlog.golden from /usr/sbin/haproxy")

// TestConnErrorLogAsHAProxy fails TLS handshakes in the ways clients do
// (plain HTTP on a TLS port, an old protocol, no shared cipher, closing at
// once, saying nothing until the timeout) against a frontend with
// error-log-format and one with HAProxy's short line, and compares the log
// lines with HAProxy 2.6.12's (recorded with -record-errorlog).
func TestConnErrorLogAsHAProxy(t *testing.T) {
	bin, args := haloBinary(t), []string{"haproxy", "-db", "-f"}
	if *recordErrorLog {
		bin, args = "/usr/sbin/haproxy", []string{"-db", "-f"}
	}
	dir := t.TempDir()
	pem, err := os.ReadFile("../../testdata/sslcli/site.pem")
	if err != nil {
		t.Fatal(err)
	}
	crt := filepath.Join(dir, "site.pem")
	if err := os.WriteFile(crt, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	pa, pb := wirecase.ClaimPort(t), wirecase.ClaimPort(t)
	cfg := filepath.Join(dir, "h.cfg")
	if err := os.WriteFile(cfg, []byte(`global
    log stdout format raw local0
defaults
    mode http
    option httpslog
    log global
    timeout connect 5s
    timeout client 1s
    timeout server 5s
listen a
    error-log-format "E fc_err=%[fc_err] str=%[fc_err_str] sslerr=%[ssl_fc_err,hex] sslstr=%{+Q}[ssl_fc_err_str] ft=%ft b=%b s=%s ST=%ST"
    bind 127.0.0.1:`+strconv.Itoa(pa)+` ssl crt `+crt+` ciphers ECDHE-RSA-AES128-GCM-SHA256 ssl-min-ver TLSv1.2
    http-request return status 200
listen b
    bind 127.0.0.1:`+strconv.Itoa(pb)+` ssl crt `+crt+` ssl-min-ver TLSv1.2 name mybind
    http-request return status 200
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, exited := startLogged(t, append(append([]string{bin}, args...), cfg)...)
	for _, p := range []int{pa, pb} {
		if err := wirecase.WaitListening(p, exited); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
	}
	// WaitListening's own connections log first: wait for both lines,
	// left out of the comparison.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if o := out.String(); strings.Contains(o, "E fc_err") && strings.Contains(o, "b/mybind") {
			break
		}
	}
	skip := len(out.String()) // WaitListening's lines, in either order
	probes := []func(addr string){
		func(addr string) { // plain HTTP on a TLS port
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "GET / HTTP/1.1\r\n\r\n")
			c.SetDeadline(time.Now().Add(3 * time.Second))
			io.ReadAll(c)
			c.Close()
		},
		func(addr string) { // TLS 1.1 only
			c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
			if err == nil {
				c.Close()
			}
		},
		func(addr string) { // a cipher the bind does not offer
			c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}})
			if err == nil {
				c.Close()
			}
		},
		func(addr string) { // closed at once
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		},
		func(addr string) { // silent until timeout client
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(3 * time.Second))
			io.ReadAll(c)
			c.Close()
		},
	}
	for _, p := range []int{pa, pb} {
		for _, probe := range probes {
			probe("127.0.0.1:" + strconv.Itoa(p))
			time.Sleep(50 * time.Millisecond) // one line at a time, in order
		}
	}
	time.Sleep(300 * time.Millisecond)
	var lines []string
	mask := regexp.MustCompile(`127\.0\.0\.1:[0-9]+ \[[^]]+\]`)
	for _, l := range strings.Split(out.String()[skip:], "\n") {
		if strings.HasPrefix(l, "E ") || strings.Contains(l, "] b/") {
			lines = append(lines, mask.ReplaceAllString(l, "ADDR [DATE]"))
		}
	}
	got := strings.Join(lines, "\n") + "\n"
	golden := "../../testdata/haproxy/errorlog.golden"
	if *recordErrorLog {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("error log lines differ from HAProxy 2.6.12's:\n%s\nall output:\n%s", lineDiff(string(want), got), out.String())
	}
}
