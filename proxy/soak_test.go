package proxy

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSoak drives mixed traffic through the engine for HALO_SOAK (a
// duration, e.g. 10m; 3 s by default so that `make test` runs it): HTTP
// keep-alive and close, TLS, chunked and large bodies, mode tcp tunnels,
// and clients that stall, reset and half-close. Well-behaved clients must
// never fail. Once the traffic stops and the timeouts have passed, every
// client connection must have ended (no session, task or server
// connection left in use on any loop); after a hard stop no descriptor
// and no goroutine may be left over.
func TestSoak(t *testing.T) {
	dur := 3 * time.Second
	if v := os.Getenv("HALO_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("HALO_SOAK=%q: %v", v, err)
		}
		dur = d
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	raiseNofile(16384)
	// Go's network poller opens its epoll and eventfd descriptors on
	// first use: make that happen before the count.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	fdsBefore := countFds(t)
	goroutinesBefore := runtime.NumGoroutine()

	origin := newSoakOrigin(t)
	srv := func(name string) *Server { return testServer(name, origin.addr()) }
	be := &Proxy{Name: "app", Cap: CapBE, Mode: ModeHTTP, Servers: []*Server{srv("s1"), srv("s2")}, Retries: 2,
		Timeouts: Timeouts{Connect: time.Second, Server: 3 * time.Second}}
	to := Timeouts{Client: 2 * time.Second, HTTPRequest: time.Second, HTTPKeepAlive: time.Second}
	fe := &Proxy{Name: "fe", Cap: CapFE, Mode: ModeHTTP, DefaultBackend: be, Binds: []Bind{{Network: "tcp"}}, Timeouts: to}
	// The TLS handshake must end within timeout http-request: on a busy
	// box one second is not always enough for a legitimate client.
	tlsTO := to
	tlsTO.HTTPRequest = 5 * time.Second
	fes := &Proxy{Name: "fes", Cap: CapFE, Mode: ModeHTTP, DefaultBackend: be,
		Binds: []Bind{{Network: "tcp", SSL: true, Certs: []string{writeSelfSigned(t)}}}, Timeouts: tlsTO}
	tcp := &Proxy{Name: "tcp", Cap: CapFE | CapBE, Mode: ModeTCP, Servers: []*Server{srv("t1")}, Retries: 2,
		Binds:    []Bind{{Network: "tcp"}},
		Timeouts: Timeouts{Connect: time.Second, Client: 2 * time.Second, Server: 2 * time.Second, ClientFin: time.Second}}
	cfg := &Config{Proxies: []*Proxy{fe, fes, tcp, be}}
	for _, p := range []*Proxy{fe, fes, tcp} {
		p.Binds[0].Addr = netipLoopback(freePort(t))
	}
	rt, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			rt.HardStop()
		}
	}()
	addrs := soakAddrs{http: fe.Binds[0].Addr.String(), https: fes.Binds[0].Addr.String(), tcp: tcp.Binds[0].Addr.String()}

	var failures atomic.Int64
	var firstFailure sync.Once
	fail := func(kind string, err error) {
		failures.Add(1)
		firstFailure.Do(func() { t.Errorf("%s: %v", kind, err) })
	}
	counts := make([]atomic.Int64, len(soakClients))
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for i, c := range soakClients {
		for w := 0; w < c.workers; w++ {
			wg.Add(1)
			go func(seed int64) {
				defer wg.Done()
				rng := rand.New(rand.NewSource(seed))
				for time.Now().Before(deadline) {
					if err := c.run(addrs, rng); err != nil {
						fail(c.name, err)
					}
					counts[i].Add(1)
				}
			}(int64(i*100 + w))
		}
	}
	wg.Wait()
	var summary []string
	for i, c := range soakClients {
		summary = append(summary, fmt.Sprintf("%s %d", c.name, counts[i].Load()))
	}
	t.Logf("%v of traffic: %s", dur, strings.Join(summary, ", "))

	// Every timeout (keep-alive, http-request, client, client-fin) has
	// passed: nothing may be left busy.
	quiet := time.Now().Add(10 * time.Second)
	for {
		conns, busy, live, used := soakState(rt)
		if conns == 0 && busy == 0 && live == 0 && used == 0 {
			break
		}
		if time.Now().After(quiet) {
			t.Fatalf("after the traffic: %d client connections, %d tasks busy, %d sessions live, %d server connections in use", conns, busy, live, used)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rt.HardStop()
	stopped = true
	<-rt.Done()
	origin.close()
	for _, c := range []*http.Client{soakHTTP, soakHTTPClose} {
		c.CloseIdleConnections()
	}
	settle := time.Now().Add(5 * time.Second)
	for {
		fds, g := countFds(t), runtime.NumGoroutine()
		if fds <= fdsBefore && g <= goroutinesBefore {
			break
		}
		if time.Now().After(settle) {
			buf := make([]byte, 1<<20)
			t.Fatalf("after the stop: %d descriptors (before: %d: %s), %d goroutines (before: %d)\n%s",
				fds, fdsBefore, fdNames(), g, goroutinesBefore, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type soakAddrs struct{ http, https, tcp string }

func netipLoopback(port int) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
}

// soakState counts, across the loops, the client connections not yet
// ended, busy tasks, live sessions and server connections in use.
func soakState(rt *Runtime) (conns int64, busy, live, used int) {
	conns = rt.nconns.Load()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ls := range rt.loops {
		wg.Add(1)
		ls.l.Post(func() {
			defer wg.Done()
			n := 0
			for _, sc := range ls.srv {
				if sc.inUse {
					n++
				}
			}
			mu.Lock()
			busy += ls.l.Busy()
			live += len(ls.live)
			used += n
			mu.Unlock()
		})
	}
	wg.Wait()
	return
}

func countFds(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// soakOrigin answers GET /small (100 bytes), GET /big (256 KiB), POST
// /echo (the body's length) and anything else through a tunnel in mode
// tcp (the same server).
type soakOrigin struct {
	b *backend
}

func newSoakOrigin(t *testing.T) *soakOrigin {
	big := strings.Repeat("b", 256<<10)
	small := strings.Repeat("s", 100)
	b := newBackend(t, "origin", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			io.WriteString(w, big)
		case "/echo":
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%d", n)
		default:
			io.WriteString(w, small)
		}
	})
	return &soakOrigin{b: b}
}

func (o *soakOrigin) addr() netip.AddrPort { return o.b.addr() }

func (o *soakOrigin) close() { o.b.srv.Close() }

type soakClient struct {
	name    string
	workers int
	run     func(a soakAddrs, rng *rand.Rand) error
}

var (
	// The keep-alive client drops an idle connection well before the
	// proxy's timeout http-keep-alive (1 s) does, as browsers do:
	// otherwise a request sent on it as the proxy closes it meets a reset
	// (TCP's own race, HAProxy's too), which a POST cannot retry.
	soakHTTP = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 8, IdleConnTimeout: 500 * time.Millisecond, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	soakHTTPClose = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
)

// get fetches url and checks the body's length.
func soakGet(c *http.Client, url string, want int) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || int(n) != want {
		return fmt.Errorf("GET %s: %d, %d bytes, want 200 and %d", url, resp.StatusCode, n, want)
	}
	return nil
}

func soakPost(c *http.Client, url string, n int, chunked bool) error {
	body := io.Reader(strings.NewReader(strings.Repeat("p", n)))
	if chunked {
		body = io.MultiReader(body) // no length known: chunked
	}
	req, _ := http.NewRequest("POST", url, body)
	if !chunked {
		req.ContentLength = int64(n)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != strconv.Itoa(n) {
		return fmt.Errorf("POST %d bytes (chunked %v): %d %q", n, chunked, resp.StatusCode, got)
	}
	return nil
}

func pick1[T any](rng *rand.Rand, v ...T) T { return v[rng.Intn(len(v))] }

var soakClients = []soakClient{
	{"keep-alive", 3, func(a soakAddrs, rng *rand.Rand) error {
		switch rng.Intn(4) {
		case 0:
			return soakGet(soakHTTP, "http://"+a.http+"/big", 256<<10)
		case 1:
			return soakPost(soakHTTP, "http://"+a.http+"/echo", rng.Intn(100000), rng.Intn(2) == 0)
		}
		return soakGet(soakHTTP, "http://"+a.http+"/small", 100)
	}},
	{"close", 2, func(a soakAddrs, rng *rand.Rand) error {
		if rng.Intn(4) == 0 {
			return soakGet(soakHTTPClose, "http://"+a.http+"/big", 256<<10)
		}
		return soakGet(soakHTTPClose, "http://"+a.http+"/small", 100)
	}},
	{"tls", 2, func(a soakAddrs, rng *rand.Rand) error {
		c := pick1(rng, soakHTTP, soakHTTPClose)
		if rng.Intn(3) == 0 {
			return soakPost(c, "https://"+a.https+"/echo", rng.Intn(50000), rng.Intn(2) == 0)
		}
		return soakGet(c, "https://"+a.https+"/small", 100)
	}},
	{"tunnel", 1, func(a soakAddrs, rng *rand.Rand) error {
		// An HTTP exchange through mode tcp, the client half-closing.
		c, err := net.DialTimeout("tcp", a.tcp, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /big HTTP/1.1\r\nHost: o\r\nConnection: close\r\n\r\n")
		c.(*net.TCPConn).CloseWrite()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		if n != 256<<10 {
			return fmt.Errorf("tunnel: %d bytes", n)
		}
		return nil
	}},
	{"stall", 2, func(a soakAddrs, rng *rand.Rand) error {
		// A head that never ends, or a body that stops: the proxy must
		// answer 408 or close within its timeouts, never hang.
		c, err := net.Dial("tcp", pick1(rng, a.http, a.tcp))
		if err != nil {
			return err
		}
		defer c.Close()
		if rng.Intn(2) == 0 {
			io.WriteString(c, "GET /small HTTP/1.1\r\nHost: o\r\nX-Slow: ")
		} else {
			io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: o\r\nContent-Length: 1000\r\n\r\nonly this")
		}
		c.SetReadDeadline(time.Now().Add(8 * time.Second))
		_, err = io.Copy(io.Discard, c)
		if err != nil && !isReset(err) {
			return fmt.Errorf("stalled client not let go: %v", err)
		}
		return nil
	}},
	{"reset", 2, func(a soakAddrs, rng *rand.Rand) error {
		// Gone with a reset: before the request, after it, or in the
		// middle of a large response.
		c, err := net.Dial("tcp", pick1(rng, a.http, a.https, a.tcp))
		if err != nil {
			return err
		}
		c.(*net.TCPConn).SetLinger(0)
		switch rng.Intn(3) {
		case 1:
			io.WriteString(c, "GET /big HTTP/1.1\r\nHost: o\r\n\r\n")
		case 2:
			io.WriteString(c, "GET /big HTTP/1.1\r\nHost: o\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			c.Read(make([]byte, 1000))
		}
		return c.Close()
	}},
	{"half-close", 1, func(a soakAddrs, rng *rand.Rand) error {
		c, err := net.Dial("tcp", a.http)
		if err != nil {
			return err
		}
		defer c.Close()
		io.WriteString(c, "GET /small HTTP/1.1\r\nHost: o\r\n\r\n")
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(8 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(string(b), "HTTP/1.1 200") {
			return fmt.Errorf("half-closed client got %q", b)
		}
		return nil
	}},
	{"slow-reader", 1, func(a soakAddrs, rng *rand.Rand) error {
		c, err := net.Dial("tcp", a.http)
		if err != nil {
			return err
		}
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(4096)
		io.WriteString(c, "GET /big HTTP/1.1\r\nHost: o\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 16<<10)
		total := 0
		for {
			n, err := c.Read(buf)
			total += n
			if err != nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if total < 256<<10 {
			return fmt.Errorf("slow reader got %d bytes", total)
		}
		return nil
	}},
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "broken pipe"))
}

// fdNames lists the process's descriptors (what a leak is).
func fdNames() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var names []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		names = append(names, e.Name()+"="+l)
	}
	return strings.Join(names, " ")
}
