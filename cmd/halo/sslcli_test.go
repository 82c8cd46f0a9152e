package main

import (
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"halo/internal/wirecase"
)

var systemCARE = regexp.MustCompile(`@system-ca - [0-9]+`)

var recordSSLCLI = flag.Bool("record-sslcli", false, "record testdata/sslcli/answers.golden from /usr/sbin/haproxy")

// sslCLIScript drives the certificate store and crt-list commands: a new
// store filled and committed, crt-list lines added with and without
// options and filters, refused edits (unknown list, certificate, keyword,
// a CA file the configuration did not load), deletions by line.
var sslCLIScript = []string{
	"show ssl cert",
	"show ssl cert DIR/site.pem",
	"show ssl crt-list",
	"show ssl crt-list -n DIR/sites.crt-list",
	"new ssl cert DIR/local.pem",
	"new ssl cert DIR/local.pem",
	"show ssl cert DIR/local.pem",
	"set ssl cert DIR/local.pem <<\nLOCALPEM",
	"show ssl cert",
	"commit ssl cert DIR/local.pem",
	"show ssl cert DIR/local.pem",
	"add ssl crt-list DIR/sites.crt-list/ <<\nDIR/local.pem [verify none] localhost !www.test1.com\n",
	"add ssl crt-list DIR/sites.crt-list// DIR/local.pem",
	"add ssl crt-list DIR/nope.crt-list DIR/local.pem",
	"add ssl crt-list DIR/sites.crt-list DIR/nope.pem",
	"add ssl crt-list DIR/sites.crt-list <<\nDIR/local.pem [ca-file DIR/site.pem] localhost\n",
	"add ssl crt-list DIR/sites.crt-list <<\nDIR/local.pem [bogus-opt] localhost\n",
	"show ssl crt-list -n DIR/sites.crt-list",
	"show ssl crt-list DIR/nope.crt-list",
	"del ssl crt-list DIR/sites.crt-list DIR/local.pem",
	"del ssl crt-list DIR/sites.crt-list DIR/local.pem:5",
	"del ssl crt-list DIR/sites.crt-list DIR/site.pem:1",
	"del ssl crt-list DIR/sites.crt-list DIR/nope.pem",
	"del ssl crt-list DIR/nope.crt-list DIR/local.pem",
	"show ssl crt-list -n DIR/sites.crt-list",
	"del ssl cert DIR/local.pem",
	"new ssl cert DIR/spare.pem",
	"del ssl cert DIR/spare.pem",
	"del ssl cert DIR/site.pem",
	"abort ssl cert DIR/site.pem",
	"commit ssl cert DIR/site.pem",
	"new ssl cert",
	"add ssl crt-list",
	"show ssl ca-file",
	"show ssl ca-file DIR/ca1.crt",
	"show ssl ca-file DIR/ca1.crt:1",
	"set ssl ca-file DIR/ca1.crt <<\nCA1PEMCA2PEM",
	"set ssl ca-file DIR/ca1.crt <<\nCA1PEMCA2PEM",
	"show ssl ca-file",
	"show ssl ca-file *DIR/ca1.crt",
	"abort ssl ca-file DIR/ca1.crt",
	"commit ssl ca-file DIR/ca1.crt",
	"set ssl ca-file DIR/ca1.crt <<\nCA1PEMCA2PEM",
	"commit ssl ca-file DIR/ca1.crt",
	"show ssl ca-file",
	"show ssl ca-file DIR/ca1.crt:2",
	"show ssl ca-file DIR/ca1.crt:5",
	"new ssl ca-file DIR/new.crt",
	"new ssl ca-file DIR/new.crt",
	"del ssl ca-file DIR/new.crt",
	"set ssl ca-file DIR/nope.crt <<\nCA1PEM",
	"commit ssl ca-file DIR/nope.crt",
	"show ssl crl-file",
	"show ssl crl-file DIR/ca1.crl",
	"new ssl crl-file DIR/n.crl",
	"set ssl crl-file DIR/n.crl <<\nCRL1PEM",
	"commit ssl crl-file DIR/n.crl",
	"show ssl crl-file",
	"show ssl crl-file DIR/n.crl",
	"del ssl crl-file DIR/n.crl",
}

// TestSSLCrtListCLI replays sslCLIScript against halo and compares the
// answers with HAProxy 2.6.12's (recorded with -record-sslcli).
func TestSSLCrtListCLI(t *testing.T) {
	bin := haloBinary(t)
	args := []string{"haproxy", "-db", "-f"}
	if *recordSSLCLI {
		bin, args = "/usr/sbin/haproxy", []string{"-db", "-f"}
	}
	dir := t.TempDir()
	for _, f := range []string{"site.pem", "local.pem", "sites.crt-list", "ca1.crt", "ca2.crt", "ca1.crl"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/sslcli", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	port := wirecase.ClaimPort(t)
	sock := filepath.Join(dir, "admin.sock")
	cfg := filepath.Join(dir, "h.cfg")
	if err := os.WriteFile(cfg, []byte(`global
    crt-base `+dir+`
    stats socket `+sock+` level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:`+strconv.Itoa(port)+` ssl strict-sni crt-list `+dir+`/sites.crt-list ca-file `+dir+`/ca1.crt verify optional crl-file `+dir+`/ca1.crl
    http-request return status 200
backend be
    server s1 127.0.0.1:1 ssl verify required ca-file `+dir+`/ca2.crt
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, exited := startLogged(t, append(append([]string{bin}, args...), cfg)...)
	if err := wirecase.WaitListening(port, exited); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	local, _ := os.ReadFile(filepath.Join(dir, "local.pem"))
	ca1, _ := os.ReadFile(filepath.Join(dir, "ca1.crt"))
	ca2, _ := os.ReadFile(filepath.Join(dir, "ca2.crt"))
	crl1, _ := os.ReadFile(filepath.Join(dir, "ca1.crl"))
	var got strings.Builder
	for _, line := range sslCLIScript {
		in := strings.NewReplacer("LOCALPEM", string(local), "CA1PEM", string(ca1), "CA2PEM", string(ca2), "CRL1PEM", string(crl1)).Replace(line)
		in = strings.ReplaceAll(in, "DIR", dir)
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		_, _ = io.WriteString(c, in+"\n")
		b, _ := io.ReadAll(c)
		c.Close()
		got.WriteString("$ " + strings.SplitN(line, "\n", 2)[0] + "\n")
		// the system's CA count depends on the installed ca-certificates
		ans := systemCARE.ReplaceAllString(strings.ReplaceAll(string(b), dir, "DIR"), "@system-ca - N")
		got.WriteString(ans)
	}
	golden := "../../testdata/sslcli/answers.golden"
	if *recordSSLCLI {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("answers differ from HAProxy 2.6.12's:\n%s", lineDiff(string(want), got.String()))
	}
}

// startLogged runs a proxy (halo or the real haproxy) in its own process
// group with its output collected, stopped (SIGTERM, then SIGKILL to the
// group) when the test ends.
func startLogged(t *testing.T, argv ...string) (*lockedLog, chan struct{}) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &lockedLog{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	return out, exited
}
