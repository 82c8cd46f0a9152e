package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"halo/proxy/rawtcp"

	"golang.org/x/sys/unix"
)

// The request path allocates nothing per request (per connection in
// mode http with `Connection: close`): each lbbench scenario's
// configuration runs in the engine as `halo haproxy` assembles it, and
// testing.AllocsPerRun counts the mallocs of whole requests through it.
// The client and the origin server are written with raw system calls and
// fixed buffers so that every allocation counted is the proxy's.

// rawOrigin is an HTTP/1.1 origin on raw non-blocking sockets driven by
// its own epoll set, answering every request head with resp (keep-alive).
type rawOrigin struct {
	lfd, epfd int
	addr      netip.AddrPort
	resp      []byte
	conns     []originConn // by descriptor
	events    [64]unix.EpollEvent
	quit      int // eventfd
	done      chan struct{}
	reqs      atomic.Int64 // request heads answered
}

type originConn struct {
	open bool
	in   [2048]byte
	n    int
	out  int // bytes of resp still to send for the current answers
	sent int
	owed int // answers not yet started
}

func newRawOrigin(t *testing.T, resp []byte) *rawOrigin {
	t.Helper()
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 4096); err != nil {
		t.Fatal(err)
	}
	o := &rawOrigin{lfd: lfd, addr: rawtcp.LocalAddr(lfd), resp: resp, conns: make([]originConn, 8192), done: make(chan struct{})}
	o.epfd, _ = unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	o.quit, _ = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	unix.EpollCtl(o.epfd, unix.EPOLL_CTL_ADD, lfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)})
	unix.EpollCtl(o.epfd, unix.EPOLL_CTL_ADD, o.quit, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(o.quit)})
	go o.run()
	t.Cleanup(func() {
		unix.Write(o.quit, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		<-o.done
	})
	return o
}

func (o *rawOrigin) run() {
	defer close(o.done)
	defer func() {
		for fd := range o.conns {
			if o.conns[fd].open {
				rawtcp.Close(fd)
			}
		}
		unix.Close(o.lfd)
		unix.Close(o.epfd)
		unix.Close(o.quit)
	}()
	var rsa unix.RawSockaddrAny
	for {
		n, err := unix.EpollWait(o.epfd, o.events[:], -1)
		if err != nil {
			continue
		}
		for _, e := range o.events[:n] {
			fd := int(e.Fd)
			switch fd {
			case o.quit:
				return
			case o.lfd:
				for {
					nfd, err := rawtcp.Accept(o.lfd, &rsa)
					if err != nil {
						break
					}
					if nfd >= len(o.conns) {
						rawtcp.Close(nfd)
						continue
					}
					o.conns[nfd] = originConn{open: true}
					unix.EpollCtl(o.epfd, unix.EPOLL_CTL_ADD, nfd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLET, Fd: int32(nfd)})
					o.serve(nfd)
				}
			default:
				o.serve(fd)
			}
		}
	}
}

// serve reads what came, counts complete request heads and sends the
// answers owed until the socket is full.
func (o *rawOrigin) serve(fd int) {
	c := &o.conns[fd]
	if !c.open {
		return
	}
	for {
		n, err := rawtcp.Recv(fd, c.in[c.n:])
		if err == unix.EAGAIN {
			break
		}
		if err != nil || n == 0 {
			rawtcp.Close(fd)
			c.open = false
			return
		}
		c.n += n
		for {
			i := bytes.Index(c.in[:c.n], []byte("\r\n\r\n"))
			if i < 0 {
				break
			}
			c.owed++
			o.reqs.Add(1)
			c.n = copy(c.in[:], c.in[i+4:c.n])
		}
	}
	for c.owed > 0 || c.sent < c.out {
		if c.sent == c.out {
			c.owed--
			c.out, c.sent = len(o.resp), 0
		}
		n, err := rawtcp.Send(fd, o.resp[c.sent:c.out])
		if err != nil {
			return // EAGAIN: the next EPOLLOUT goes on
		}
		c.sent += n
	}
}

// rawClient speaks to the proxy over blocking raw sockets.
type rawClient struct {
	addr  unix.SockaddrInet4
	fd    int
	req   []byte
	buf   []byte
	close bool // the request says Connection: close: a new socket each time
}

func newRawClient(t *testing.T, addr string, req string, bodyMax int) *rawClient {
	t.Helper()
	ap := netip.MustParseAddrPort(addr)
	return &rawClient{addr: unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}, fd: -1,
		req: []byte(req), buf: make([]byte, bodyMax+4096), close: strings.Contains(req, "Connection: close")}
}

// do sends the request and reads the whole answer; it returns the status
// and the body length.
func (c *rawClient) do() (int, int, error) {
	if c.fd < 0 {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return 0, 0, err
		}
		// Reset on close: no TIME_WAIT pile-up over thousands of runs.
		l := unix.Linger{Onoff: 1}
		unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &l)
		tv := unix.Timeval{Sec: 5}
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		if err := unix.Connect(fd, &c.addr); err != nil {
			unix.Close(fd)
			return 0, 0, err
		}
		c.fd = fd
	}
	if _, err := unix.Write(c.fd, c.req); err != nil {
		return 0, 0, c.fail(err)
	}
	n, head, status, clen := 0, -1, 0, -1
	for {
		k, err := unix.Read(c.fd, c.buf[n:])
		if err != nil {
			return 0, 0, c.fail(err)
		}
		if k == 0 {
			if head >= 0 && clen < 0 {
				break // delimited by the close
			}
			return 0, 0, c.fail(fmt.Errorf("closed after %d bytes: %q", n, c.buf[:min(n, 200)]))
		}
		n += k
		if head < 0 {
			i := bytes.Index(c.buf[:n], []byte("\r\n\r\n"))
			if i < 0 {
				continue
			}
			head = i + 4
			status, clen = parseHead(c.buf[:head])
		}
		if clen >= 0 && n-head >= clen {
			break
		}
		if clen == chunkedLen && bytes.HasSuffix(c.buf[head:n], []byte("\r\n0\r\n\r\n")) {
			break // a chunked answer (its size: the framed body's)
		}
	}
	if c.close {
		unix.Close(c.fd)
		c.fd = -1
	}
	if clen < 0 {
		clen = n - head
	}
	return status, clen, nil
}

func (c *rawClient) fail(err error) error {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
	return err
}

func (c *rawClient) closeConn() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}

// chunkedLen is parseHead's length of a chunked response.
const chunkedLen = -2

// parseHead returns the status and Content-Length (-1: none, chunkedLen:
// chunked) of a response head, without allocating.
func parseHead(h []byte) (status, clen int) {
	clen = -1
	if len(h) > 12 {
		status = int(h[9]-'0')*100 + int(h[10]-'0')*10 + int(h[11]-'0')
	}
	for len(h) > 0 {
		i := bytes.IndexByte(h, '\n')
		if i < 0 {
			break
		}
		line := h[:i]
		h = h[i+1:]
		const cl = "content-length:"
		const te = "transfer-encoding: chunked"
		if len(line) >= len(te) && asciiEqualFold(line[:len(te)], te) {
			clen = chunkedLen
		}
		if len(line) > len(cl) && asciiEqualFold(line[:len(cl)], cl) {
			v := bytes.TrimSpace(line[len(cl):])
			clen = 0
			for _, d := range v {
				clen = clen*10 + int(d-'0')
			}
		}
	}
	return status, clen
}

func asciiEqualFold(b []byte, s string) bool {
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func originResponse(body int) []byte {
	r := "HTTP/1.1 200 OK\r\nServer: origin\r\nContent-Type: application/octet-stream\r\nContent-Length: " + strconv.Itoa(body) + "\r\n\r\n"
	return append([]byte(r), bytes.Repeat([]byte("x"), body)...)
}

// TestRequestPathAllocs runs each lbbench scenario's configuration and
// counts allocations per request (AllocsPerRun over the whole exchange:
// client, proxy and origin; the first two allocate nothing).
func TestRequestPathAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	small := newRawOrigin(t, originResponse(100))
	large := newRawOrigin(t, originResponse(64<<10))
	huge := newRawOrigin(t, originResponse(1<<20))
	// a response the cache keeps (it has a lifetime); the origin answers
	// only the first request of the cache-hit case
	cacheable := newRawOrigin(t, bytes.Replace(originResponse(100), []byte("Server: origin\r\n"), []byte("Cache-Control: max-age=600\r\n"), 1))
	acl := func(o *rawOrigin) string {
		var b strings.Builder
		b.WriteString("frontend fe\n    bind BIND\n")
		for i := 1; i <= 20; i++ {
			if i%2 == 1 {
				fmt.Fprintf(&b, "    acl r%02d hdr_beg(host) -i svc%02d.\n", i, i)
			} else {
				fmt.Fprintf(&b, "    acl r%02d path_beg /app%02d/\n", i, i)
			}
		}
		for i := 1; i <= 20; i++ {
			fmt.Fprintf(&b, "    use_backend be_%02d if r%02d\n", i, i)
		}
		b.WriteString("    default_backend be_wrong\n")
		for i := 1; i <= 19; i++ {
			fmt.Fprintf(&b, "backend be_%02d\n    server wrong 127.0.0.1:1\n", i)
		}
		fmt.Fprintf(&b, "backend be_20\n    server web1 %s\n", o.addr)
		b.WriteString("backend be_wrong\n    server wrong 127.0.0.1:1\n")
		return b.String()
	}
	defaults := "global\n    maxconn 4096\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n"
	web := func(o *rawOrigin) string {
		return "frontend fe\n    bind BIND\n    default_backend be\nbackend be\n    balance roundrobin\n    server web1 " + o.addr.String() + "\n    server web2 " + o.addr.String() + "\n"
	}
	get := "GET /small.bin HTTP/1.1\r\nHost: bench.local\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"
	cases := []struct {
		name   string
		cfg    string
		req    string
		body   int
		allocs float64 // allowed per request
	}{
		{"http-keepalive", defaults + web(small), get, 100, 0},
		{"http-close", defaults + web(small), strings.Replace(get, "\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1), 100, 0},
		{"http-acl", defaults + acl(small), "GET /app20/small.bin HTTP/1.1\r\nHost: svc20.bench.local\r\n\r\n", 100, 0},
		{"http-large", defaults + web(large), get, 64 << 10, 0},
		// The filters (filter.go): compressed responses (the coders are
		// pooled) and cache hits (answered from memory). A body of -1 is
		// not checked (compressed, its size varies).
		{"http-large-gzip", defaults + strings.Replace(web(large), "backend be\n", "backend be\n    compression algo gzip\n", 1),
			strings.Replace(get, "\r\n\r\n", "\r\nAccept-Encoding: gzip\r\n\r\n", 1), -1, 0},
		{"cache-hit", defaults + strings.Replace(web(cacheable), "backend be\n", "backend be\n    http-request cache-use c\n    http-response cache-store c\n", 1) +
			"cache c\n    total-max-size 4\n    max-age 240\n", get, 100, 0},
		{"tcp-stream", strings.Replace(defaults, "mode http", "mode tcp", 1) +
			"listen tcp\n    bind BIND\n    server web1 " + huge.addr.String() + "\n", get, 1 << 20, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := freeAddr(t)
			runEngine(t, strings.ReplaceAll(tc.cfg, "BIND", addr))
			c := newRawClient(t, addr, tc.req, max(tc.body, 128<<10))
			defer c.closeConn()
			var err error
			run := func() {
				status, n, e := c.do()
				if e == nil && (status != 200 || n != tc.body && tc.body >= 0) {
					e = fmt.Errorf("status %d, body %d bytes, want 200 and %d", status, n, tc.body)
				}
				if e != nil && err == nil {
					err = e
				}
			}
			// Warm up: pools, the loops' tables, idle server connections.
			for i := 0; i < 200; i++ {
				run()
			}
			runtime.GC()
			if f := os.Getenv("HALO_ALLOCS_PROFILE"); f != "" {
				runtime.MemProfileRate = 1
				defer func() {
					runtime.GC()
					out, _ := os.Create(f + "." + tc.name)
					pprof.Lookup("allocs").WriteTo(out, 0)
					out.Close()
					runtime.MemProfileRate = 512 * 1024
				}()
			}
			got := testing.AllocsPerRun(500, run)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%.0f allocations per request", got)
			if tc.name == "cache-hit" && cacheable.reqs.Load() != 1 {
				t.Errorf("the origin answered %d requests, want 1 (then cache hits)", cacheable.reqs.Load())
			}
			if got > tc.allocs {
				t.Errorf("%.0f allocations per request, want at most %.0f", got, tc.allocs)
			}
		})
	}
}
