package main

import (
	"bufio"
	"fmt"
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
)

// Stick table conformance: each testdata/stick/*.case is a configuration
// and a sequence of requests and runtime API commands; NAME.golden is
// what HAProxy 2.6.12 answered (status of each request, the server that
// served it, the CLI output with entry addresses and expiry times
// normalized). The test replays the case against halo and compares.
//
// Record (only when adding or changing a case):
//
//	HALO_RECORD_STICK=1 go test ./cmd/halo -run TestStickTableConformance
//
// Case format: "config:" then the configuration, with ${FE} (the
// frontend's port), ${BE1}..${BE3} (origin servers answering with their
// name in X-Srv, or ?status=NNN; closing at once on ?close, after 2 of
// 10 body bytes on ?short; chunked on ?chunked; answering after ?sleep=MS), ${DOWN} (a port
// nothing listens on) and ${SOCK} (the stats socket), then "steps:" then
// one step a line:
//
//	req [METHOD] PATH [src=IP] [hdr=Name:value]... [repeat=N] [conn=LABEL]
//	raw [src=IP] "BYTES"
//	cli COMMAND
//	sleep MS
//	# comment
type stickCase struct {
	name   string
	config string
	steps  []string
}

func loadStickCases(t *testing.T) []stickCase {
	t.Helper()
	files, err := filepath.Glob("testdata/stick/*.case")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	var out []stickCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		ci := strings.Index(s, "config:\n")
		si := strings.Index(s, "\nsteps:\n")
		if ci < 0 || si < 0 {
			t.Fatalf("%s: needs config: and steps:", f)
		}
		c := stickCase{name: strings.TrimSuffix(filepath.Base(f), ".case"), config: s[ci+8 : si+1]}
		for _, l := range strings.Split(s[si+8:], "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				c.steps = append(c.steps, l)
			}
		}
		out = append(out, c)
	}
	return out
}

// stickOrigin is an HTTP/1.1 origin answering 200 with X-Srv: its name
// (or the status asked by ?status=N).
func stickOrigin(t *testing.T, name string) string {
	t.Helper()
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
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					status := 200
					if i := strings.Index(line, "status="); i >= 0 {
						status, _ = strconv.Atoi(line[i+7 : i+10])
					}
					if strings.Contains(line, "?close") {
						return
					}
					short := strings.Contains(line, "?short")
					if i := strings.Index(line, "sleep="); i >= 0 {
						ms, _ := strconv.Atoi(strings.Fields(line[i+6:])[0])
						time.Sleep(time.Duration(ms) * time.Millisecond)
					}
					for {
						h, err := br.ReadString('\n')
						if err != nil {
							return
						}
						if h == "\r\n" {
							break
						}
					}
					if strings.Contains(line, "?chunked") {
						fmt.Fprintf(c, "HTTP/1.1 %d X\r\nX-Srv: %s\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3\r\nabc\r\n0\r\n\r\n", status, name)
						continue
					}
					if short {
						// a body shorter than announced, then the close
						fmt.Fprintf(c, "HTTP/1.1 %d X\r\nX-Srv: %s\r\nContent-Length: 10\r\n\r\nok", status, name)
						return
					}
					fmt.Fprintf(c, "HTTP/1.1 %d X\r\nX-Srv: %s\r\nContent-Length: 2\r\n\r\nok", status, name)
				}
			}()
		}
	}()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

var (
	reAddr = regexp.MustCompile(`(?m)^0x[0-9a-f]+:`)
	reExp  = regexp.MustCompile(`exp=[1-9][0-9]*`)
)

// normCLI hides what differs between runs: entry addresses and the time
// left before expiry.
func normCLI(s string) string {
	s = reAddr.ReplaceAllString(s, "0x?:")
	return reExp.ReplaceAllString(s, "exp=N")
}

// runStickCase plays c's steps against a proxy listening on fe with its
// stats socket at sock, and returns the transcript.
func runStickCase(t *testing.T, c stickCase, fe, sock string) string {
	var out strings.Builder
	conns := map[string]*bufio.ReadWriter{}
	for _, step := range c.steps {
		w := strings.Fields(step)
		switch w[0] {
		case "sleep":
			ms, _ := strconv.Atoi(w[1])
			time.Sleep(time.Duration(ms) * time.Millisecond)
		case "cli":
			// the stream of the last answer ends (and releases its
			// counters) just after the answer: let it
			time.Sleep(50 * time.Millisecond)
			cmd := strings.TrimSpace(strings.TrimPrefix(step, "cli"))
			fmt.Fprintf(&out, "> %s\n%s", cmd, normCLI(cliCommand(t, sock, cmd)))
		case "raw":
			// raw [src=IP] "BYTES": one connection sends BYTES (a Go
			// string literal) and reads the answer
			rest := strings.TrimSpace(strings.TrimPrefix(step, "raw"))
			d := net.Dialer{Timeout: 2 * time.Second}
			if strings.HasPrefix(rest, "src=") {
				src, r, _ := strings.Cut(rest[4:], " ")
				d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
				rest = strings.TrimSpace(r)
			}
			data, err := strconv.Unquote(rest)
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			nc, err := d.Dial("tcp", "127.0.0.1:"+fe)
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.WriteString(nc, data)
			rw := bufio.NewReadWriter(bufio.NewReader(nc), bufio.NewWriter(nc))
			fmt.Fprintf(&out, "> %s\n%s\n", step, readStickResponse(rw))
			nc.Close()
		case "req":
			method, path := "GET", ""
			src, label := "", ""
			repeat := 1
			var hdrs []string
			for _, a := range w[1:] {
				switch {
				case strings.HasPrefix(a, "src="):
					src = a[4:]
				case strings.HasPrefix(a, "hdr="):
					hdrs = append(hdrs, strings.Replace(a[4:], ":", ": ", 1))
				case strings.HasPrefix(a, "repeat="):
					repeat, _ = strconv.Atoi(a[7:])
				case strings.HasPrefix(a, "conn="):
					label = a[5:]
				case strings.HasPrefix(a, "/"):
					path = a
				default:
					method = a
				}
			}
			var res []string
			for range repeat {
				rw := conns[label]
				if rw == nil {
					d := net.Dialer{Timeout: 2 * time.Second}
					if src != "" {
						d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
					}
					nc, err := d.Dial("tcp", "127.0.0.1:"+fe)
					if err != nil {
						t.Fatalf("%s: %v", step, err)
					}
					_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
					defer nc.Close()
					rw = bufio.NewReadWriter(bufio.NewReader(nc), bufio.NewWriter(nc))
					if label != "" {
						conns[label] = rw
					}
				}
				connHdr := "close"
				if label != "" {
					connHdr = "keep-alive"
				}
				fmt.Fprintf(rw, "%s %s HTTP/1.1\r\nHost: test\r\nConnection: %s\r\n", method, path, connHdr)
				for _, h := range hdrs {
					fmt.Fprintf(rw, "%s\r\n", h)
				}
				fmt.Fprintf(rw, "\r\n")
				rw.Flush()
				res = append(res, readStickResponse(rw))
			}
			fmt.Fprintf(&out, "> %s\n%s\n", step, strings.Join(res, " "))
		default:
			t.Fatalf("unknown step %q", step)
		}
	}
	return out.String()
}

// readStickResponse reads one response: "STATUS" or "STATUS/SERVER".
func readStickResponse(rw *bufio.ReadWriter) string {
	line, err := rw.ReadString('\n')
	if err != nil {
		return "closed"
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return "bad"
	}
	res := f[1]
	n := 0
	text := false
	for {
		h, err := rw.ReadString('\n')
		if err != nil || h == "\r\n" {
			break
		}
		k, v, _ := strings.Cut(strings.TrimSpace(h), ":")
		switch strings.ToLower(k) {
		case "x-srv":
			res += "/" + strings.TrimSpace(v)
		case "content-length":
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		case "content-type":
			text = strings.TrimSpace(v) == "text/plain"
		}
	}
	if text {
		// a local answer showing sample values: keep them
		b := make([]byte, n)
		_, _ = io.ReadFull(rw, b)
		return res + "[" + string(b) + "]"
	}
	_, _ = io.CopyN(io.Discard, rw, int64(n))
	return res
}

// cliCommand sends one command to a stats socket and returns the answer.
func cliCommand(t *testing.T, sock, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		t.Fatalf("stats socket: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "%s\n", cmd)
	b, _ := io.ReadAll(c)
	return string(b)
}

func expandStickConfig(t *testing.T, cfg string) (string, string, string) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "stats.sock")
	fe := stickPort(t)
	r := strings.NewReplacer("${FE}", fe, "${SOCK}", sock, "${DOWN}", stickPort(t),
		"${BE1}", stickOrigin(t, "s1"), "${BE2}", stickOrigin(t, "s2"), "${BE3}", stickOrigin(t, "s3"))
	return r.Replace(cfg), fe, sock
}

func stickPort(t *testing.T) string {
	_, p, _ := net.SplitHostPort(freeAddr(t))
	return p
}

// waitListen waits until something listens on port, reading the kernel's
// socket table rather than connecting (a probe would be tracked).
func waitListen(t *testing.T, port string) {
	t.Helper()
	n, _ := strconv.Atoi(port)
	want := fmt.Sprintf(":%04X ", n)
	for range 200 {
		b, _ := os.ReadFile("/proc/net/tcp")
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) > 3 && strings.HasSuffix(f[1]+" ", want) && f[3] == "0A" {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", port)
}

func TestStickTableConformance(t *testing.T) {
	record := os.Getenv("HALO_RECORD_STICK") != ""
	for _, c := range loadStickCases(t) {
		t.Run(c.name, func(t *testing.T) {
			cfg, fe, sock := expandStickConfig(t, c.config)
			golden := filepath.Join("testdata/stick", c.name+".golden")
			if record {
				path := filepath.Join(t.TempDir(), "haproxy.cfg")
				if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command("/usr/sbin/haproxy", "-db", "-f", path)
				cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
				waitListen(t, fe)
				got := runStickCase(t, c, fe, sock)
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			runEngine(t, cfg)
			waitListen(t, fe)
			got := runStickCase(t, c, fe, sock)
			if got != string(want) {
				t.Errorf("transcript differs from HAProxy 2.6.12's (%s)\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}
