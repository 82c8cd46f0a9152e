package stats_test

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"halo/proxy"
	"halo/proxy/sockxfer"
	"halo/proxy/stats"

	"golang.org/x/sys/unix"
)

func listenCLI(t *testing.T, rt *proxy.Runtime, sk proxy.StatsSocket) string {
	t.Helper()
	sk.Path = t.TempDir() + "/sock"
	if sk.Level == "" {
		sk.Level = "admin"
	}
	srv, err := stats.Listen(stats.New(rt, nil), []proxy.StatsSocket{sk}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return sk.Path
}

func cli(t *testing.T, path, in string) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, in)
	out, _ := io.ReadAll(c)
	return string(out)
}

// Several commands sent at once on a non-interactive connection are all
// answered, on separate lines or ';'-separated, as HAProxy 2.6 does.
func TestSocketSeveralCommands(t *testing.T) {
	path := listenCLI(t, runtime(t), proxy.StatsSocket{})
	for _, in := range []string{
		"get weight btcp/t2\nget weight btcp/t2\n",
		"get weight btcp/t2;get weight btcp/t2\n",
		"set server btcp/t9 state ready\nget weight btcp/t2\n", // an error does not end it
		"get weight btcp/t2\n\nget weight btcp/t2\n",           // nor an empty line
	} {
		out := cli(t, path, in)
		if strings.Count(out, "5 (initial 5)\n") != 2-strings.Count(in, "t9") {
			t.Errorf("%q: got %q", in, out)
		}
	}
}

// HAProxy serves 10 CLI connections at once (stats maxconn, or the
// socket's maxconn); more wait in the backlog until one ends.
func TestSocketMaxconn(t *testing.T) {
	path := listenCLI(t, runtime(t), proxy.StatsSocket{Maxconn: 2})
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "prompt\n")
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond)
	third, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	io.WriteString(third, "get weight btcp/t2\n")
	third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := third.Read(make([]byte, 64)); err == nil {
		t.Fatalf("a third connection was served over maxconn 2 (%d bytes)", n)
	}
	held[0].Close()
	third.SetReadDeadline(time.Now().Add(3 * time.Second))
	out, _ := io.ReadAll(third)
	if string(out) != "5 (initial 5)\n\n" {
		t.Fatalf("once a slot freed: %q", out)
	}
}

// `_getsocks` on a socket with expose-fd listeners hands the frontends'
// listening sockets over in HAProxy's format; without it, nothing.
func TestSocketGetsocks(t *testing.T) {
	fe := &proxy.Proxy{Name: "fe", Cap: proxy.CapFE, Mode: proxy.ModeHTTP,
		Binds: []proxy.Bind{{Network: "tcp", Addr: netip.MustParseAddrPort("127.0.0.1:0")}}}
	rt, err := proxy.New(&proxy.Config{Proxies: []*proxy.Proxy{fe}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.HardStop)
	exposed := listenCLI(t, rt, proxy.StatsSocket{ExposeFD: true})
	socks, err := sockxfer.Fetch(exposed, 3*time.Second)
	if err != nil || len(socks) != 1 {
		t.Fatalf("got %v, %v", socks, err)
	}
	defer unix.Close(socks[0].FD)
	if acc, err := unix.GetsockoptInt(socks[0].FD, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || acc != 1 {
		t.Fatalf("not a listening socket: %v", err)
	}
	sa, _ := unix.Getsockname(socks[0].FD)
	if a, ok := sa.(*unix.SockaddrInet4); !ok || a.Addr != [4]byte{127, 0, 0, 1} {
		t.Fatalf("socket bound to %v", sa)
	}
	plain := listenCLI(t, rt, proxy.StatsSocket{})
	if socks, err := sockxfer.Fetch(plain, 3*time.Second); err == nil || len(socks) != 0 {
		t.Fatalf("a socket without expose-fd gave %v", socks)
	}
}
