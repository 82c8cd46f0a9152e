package main

import (
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestTCPKeepAlive: `option tcpka` (here from defaults) turns SO_KEEPALIVE
// on for both sides of a listen section, with the clitcpka-*/srvtcpka-*
// timers on their side; a proxy without it leaves both sides without
// keep-alive. HAProxy 2.6.12 on the same configuration (ss -tnoe):
// "timer:(keepalive,32sec,0)" on its client socket (clitcpka-idle 33),
// "timer:(keepalive,40sec,0)" on its server socket (srvtcpka-idle 41s),
// no timer on the other proxy's sockets.
func TestTCPKeepAlive(t *testing.T) {
	srv, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	feKA, feNo := freeAddr(t), freeAddr(t)
	cfg := `defaults
    mode tcp
    timeout client 30s
    timeout server 30s
    timeout connect 1s
    option tcpka
listen ka
    bind ` + feKA + `
    clitcpka-idle 33
    clitcpka-intvl 7s
    clitcpka-cnt 4
    srvtcpka-idle 41s
    server s ` + srv.Addr().String() + `
defaults
    mode tcp
    timeout client 30s
    timeout server 30s
    timeout connect 1s
listen noka
    bind ` + feNo + `
    server s ` + srv.Addr().String() + `
`
	runEngine(t, cfg)
	type want struct {
		on               bool
		idle, intvl, cnt int // 0: not checked (the system's value)
	}
	for _, tc := range []struct {
		name     string
		fe       string
		cli, srv want
	}{
		{"tcpka", feKA, want{true, 33, 7, 4}, want{true, 41, 0, 0}},
		{"none", feNo, want{false, 0, 0, 0}, want{false, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", tc.fe)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var sc net.Conn
			select {
			case sc = <-accepted:
			case <-time.After(5 * time.Second):
				t.Fatal("no server connection")
			}
			defer sc.Close()
			// halo's client-side socket has the client as peer, its
			// server-side socket the server's accepted peer as local.
			cliFD := ownSocket(t, c.RemoteAddr().String(), c.LocalAddr().String())
			srvFD := ownSocket(t, sc.RemoteAddr().String(), sc.LocalAddr().String())
			for _, side := range []struct {
				name string
				fd   int
				w    want
			}{{"client side", cliFD, tc.cli}, {"server side", srvFD, tc.srv}} {
				on, _ := unix.GetsockoptInt(side.fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
				if (on != 0) != side.w.on {
					t.Errorf("%s: SO_KEEPALIVE %d, want %v", side.name, on, side.w.on)
				}
				for _, o := range []struct {
					name string
					opt  int
					want int
				}{{"TCP_KEEPIDLE", unix.TCP_KEEPIDLE, side.w.idle}, {"TCP_KEEPINTVL", unix.TCP_KEEPINTVL, side.w.intvl}, {"TCP_KEEPCNT", unix.TCP_KEEPCNT, side.w.cnt}} {
					if o.want == 0 {
						continue
					}
					if v, _ := unix.GetsockoptInt(side.fd, unix.IPPROTO_TCP, o.opt); v != o.want {
						t.Errorf("%s: %s %d, want %d", side.name, o.name, v, o.want)
					}
				}
			}
		})
	}
}

// ownSocket finds this process's TCP socket with the given local and peer
// addresses (halo runs in the test's process).
func ownSocket(t *testing.T, local, peer string) int {
	t.Helper()
	l, p := netip.MustParseAddrPort(local), netip.MustParseAddrPort(peer)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			fd, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if target, _ := os.Readlink("/proc/self/fd/" + e.Name()); !strings.HasPrefix(target, "socket:") {
				continue
			}
			if sockAddr(unix.Getsockname(fd)) == l && sockAddr(unix.Getpeername(fd)) == p {
				return fd
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no socket %s -> %s in this process", local, peer)
	return -1
}

func sockAddr(sa unix.Sockaddr, err error) netip.AddrPort {
	if v, ok := sa.(*unix.SockaddrInet4); ok && err == nil {
		return netip.AddrPortFrom(netip.AddrFrom4(v.Addr), uint16(v.Port))
	}
	return netip.AddrPort{}
}
