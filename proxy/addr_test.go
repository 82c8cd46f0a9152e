package proxy

import (
	"bufio"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestInheritedListenerAndUnixServers: a frontend on an inherited
// listening socket (bind "fd@N", as systemd and VTest hand them over)
// forwards to servers on a UNIX socket path and on an abstract socket
// (unix@PATH, abns@NAME).
func TestInheritedListenerAndUnixServers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "srv.sock")
	abns := "@halo-test-" + filepath.Base(dir)
	for _, p := range []string{path, abns} {
		ln, err := net.Listen("unix", p)
		if err != nil {
			t.Fatal(err)
		}
		b := &backend{ln: ln, name: p}
		b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Backend", strings.TrimPrefix(filepath.Base(p), "@"))
			w.Write([]byte("ok"))
		})}
		go b.srv.Serve(ln)
		t.Cleanup(func() { b.srv.Close() })
	}

	// The "inherited" socket: a listener whose descriptor number the
	// configuration names, as a parent process would pass it.
	pre, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pre.Close()
	f, err := pre.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	addr := pre.Addr().String()

	cfg := httpConfig(
		&Server{Name: "path", Path: path, Weight: 1, Resolved: true},
		&Server{Name: "abns", Path: abns, Weight: 1, Resolved: true},
	)
	cfg.Proxies[0].Binds = []Bind{{Network: "fd", FD: fd}}
	rt, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	defer rt.HardStop()
	pre.Close() // only halo's duplicate listens now

	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := roundTrip(t, c, bufio.NewReader(c), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.Close()
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		seen[resp.Header.Get("X-Backend")] = true
	}
	if !seen["srv.sock"] || !seen[strings.TrimPrefix(abns, "@")] {
		t.Fatalf("round robin over both unix servers: saw %v", seen)
	}
}

// TestInheritedListenerRefusesNonListening: fd@N naming a descriptor that
// is not a listening socket fails the start with a message naming it.
func TestInheritedListenerRefusesNonListening(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	if _, err := inheritedListener(fds[0]); err == nil || !strings.Contains(err.Error(), "not a listening socket") {
		t.Fatalf("got %v", err)
	}
}
