package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
)

// A raw HTTP/1.0 server: the digest is the MD5 of the body after the
// headers (what `wget -O - | md5sum` gives), and keepalived's own genhash,
// when installed, prints the same.
func TestGenhash(t *testing.T) {
	body := "hello from a real server\n"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var seen bytes.Buffer
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 1024)
			n, _ := c.Read(buf)
			seen.Reset()
			seen.Write(buf[:n])
			fmt.Fprintf(c, "HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			c.Close()
		}
	}()
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	sum := md5.Sum([]byte(body))
	want := hex.EncodeToString(sum[:]) + "\n"
	var out, errb bytes.Buffer
	if code := genhashRun([]string{"-s", "127.0.0.1", "-p", port, "-u", "/x"}, "genhash", &out, &errb); code != 0 || out.String() != want {
		t.Fatalf("exit %d, out %q, want %q (stderr %q)", code, out.String(), want, errb.String())
	}
	if got := seen.String(); got != "GET /x HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:"+port+"\r\n\r\n" {
		t.Errorf("request %q", got)
	}
	if k, err := exec.LookPath("keepalived"); err == nil {
		o, _ := exec.Command(k, "--genhash", "-s", "127.0.0.1", "-p", port, "-u", "/x").Output()
		if string(o) != want {
			t.Errorf("keepalived genhash %q, halo %q", o, want)
		}
	}
	out.Reset()
	if code := genhashRun([]string{"-s", "127.0.0.1", "-u", "/"}, "genhash", &out, &errb); code != 1 || !strings.HasPrefix(errb.String(), "Usage: genhash COMMAND") {
		t.Errorf("missing port: exit %d, stderr %q", code, errb.String())
	}
	l.Close()
	out.Reset()
	if code := genhashRun([]string{"-s", "127.0.0.1", "-p", port, "-u", "/"}, "genhash", &out, &errb); code != 0 || out.String() != "Connection failed\n" {
		t.Errorf("refused: exit %d, out %q", code, out.String())
	}
}
