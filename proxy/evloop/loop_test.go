package evloop

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testGroup starts a group of n loops, stopped at the end of the test
// with a check that no task or goroutine is left behind.
func testGroup(t *testing.T, n int) *Group {
	t.Helper()
	before := runtime.NumGoroutine()
	g, err := NewGroup(n)
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	t.Cleanup(func() {
		g.Stop()
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines left (before %d):\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
	})
	return g
}

// onLoop runs fn on l and waits for it.
func onLoop(l *Loop, fn func()) {
	done := make(chan struct{})
	l.Post(func() { fn(); close(done) })
	<-done
}

// acceptFunc is an Acceptor without limits.
type acceptFunc func(l *Loop, fd int, remote netip.AddrPort)

func (acceptFunc) Admit() bool                                          { return true }
func (acceptFunc) Unadmit()                                             {}
func (f acceptFunc) Accepted(l *Loop, fd int, _, remote netip.AddrPort) { f(l, fd, remote) }

// listenFd opens a listening socket on 127.0.0.1:0.
func listenFd(t *testing.T) (int, string) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return fd, ln.Addr().String()
}

// serve starts a listener whose connections run fn in a task.
func serve(t *testing.T, g *Group, fn func(c *Conn)) string {
	t.Helper()
	fd, addr := listenFd(t)
	ln, err := g.Listen(fd, acceptFunc(func(l *Loop, fd int, remote netip.AddrPort) {
		c, err := l.Register(fd, netip.AddrPort{}, remote)
		if err != nil {
			unix.Close(fd)
			return
		}
		l.Go(func() { fn(c) })
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); <-ln.Gone() })
	return addr
}

func echo(c *Conn) {
	defer c.Close()
	buf := make([]byte, 1024)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

// TestEchoManyConnections: many clients on two loops, each sending
// random-sized messages and checking the echo, including writes larger
// than the socket buffers (the task waits for room).
func TestEchoManyConnections(t *testing.T) {
	g := testGroup(t, 2)
	addr := serve(t, g, echo)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			size := 1 + i*997
			if i%16 == 0 {
				size = 4 << 20
			}
			msg := bytes.Repeat([]byte{byte(i)}, size)
			go c.Write(msg)
			got := make([]byte, size)
			c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.ReadFull(c, got); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, msg) {
				errs <- errors.New("echo differs")
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestReadDeadline: a read with nothing to read fails with
// os.ErrDeadlineExceeded at the deadline, not much later; the connection
// stays usable.
func TestReadDeadline(t *testing.T) {
	g := testGroup(t, 1)
	got := make(chan error, 2)
	took := make(chan time.Duration, 2)
	addr := serve(t, g, func(c *Conn) {
		defer c.Close()
		start := time.Now()
		c.SetReadTimeout(100 * time.Millisecond)
		_, err := c.Read(make([]byte, 10))
		took <- time.Since(start)
		got <- err
		c.SetReadTimeout(0)
		_, err = c.Read(make([]byte, 10))
		got <- err
	})
	cl, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := <-got; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v, want deadline exceeded", err)
	}
	if d := <-took; d < 95*time.Millisecond || d > 2*time.Second {
		t.Fatalf("timeout after %v, want 100ms", d)
	}
	cl.Write([]byte("x"))
	if err := <-got; err != nil {
		t.Fatalf("read after timeout: %v", err)
	}
}

// parker parks its connection and counts what its handler sees; a read
// event starts a task that reads one message and parks again.
type parker struct {
	mu     sync.Mutex
	events []Event
	reads  []string
}

func (p *parker) Ready(c *Conn, ev Event) {
	p.mu.Lock()
	p.events = append(p.events, ev)
	p.mu.Unlock()
	if ev&EvTimeout != 0 {
		c.Write([]byte("timeout\n")) // a handler may write without waiting
		c.Close()
		return
	}
	if ev&EvRead == 0 {
		return // writable: nothing to send
	}
	c.Unpark()
	c.Loop().Go(func() {
		buf := make([]byte, 100)
		c.SetNonblock(true)
		n, err := c.Read(buf)
		c.SetNonblock(false)
		if err == io.EOF {
			c.Close()
			return
		}
		if err != nil && err != ErrWouldBlock {
			c.Close()
			return
		}
		p.mu.Lock()
		p.reads = append(p.reads, string(buf[:n]))
		p.mu.Unlock()
		c.Write(buf[:n])
		c.Park(p, c.Loop().Deadline(200*time.Millisecond))
	})
}

// TestParkedConnection: a parked connection holds no task; data wakes its
// handler; the park deadline gives EvTimeout.
func TestParkedConnection(t *testing.T) {
	g := testGroup(t, 1)
	p := &parker{}
	fd, addr := listenFd(t)
	var conns atomic.Int32
	ln, err := g.Listen(fd, acceptFunc(func(l *Loop, fd int, remote netip.AddrPort) {
		c, err := l.Register(fd, netip.AddrPort{}, remote)
		if err != nil {
			unix.Close(fd)
			return
		}
		conns.Add(1)
		c.Park(p, l.Deadline(200*time.Millisecond))
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ln.Close(); <-ln.Gone() }()
	cl, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	buf := make([]byte, 100)
	for _, msg := range []string{"one", "two"} {
		time.Sleep(50 * time.Millisecond)
		// Parked and idle: no task is busy for it.
		l := g.Loop(0)
		var busy int
		onLoop(l, func() { busy = l.ntasks - len(l.idle) })
		if busy != 0 {
			t.Fatalf("%d tasks busy for a parked connection", busy)
		}
		cl.Write([]byte(msg))
		cl.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := cl.Read(buf)
		if err != nil || string(buf[:n]) != msg {
			t.Fatalf("echo %q %v", buf[:n], err)
		}
	}
	start := time.Now()
	n, err := cl.Read(buf)
	if err != nil || string(buf[:n]) != "timeout\n" {
		t.Fatalf("after the deadline: %q %v", buf[:n], err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("timed out after %v, want 200ms", d)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reads) != 2 || p.reads[0] != "one" || p.events[len(p.events)-1] != EvTimeout {
		t.Fatalf("reads %q events %v", p.reads, p.events)
	}
}

// TestCloseAsyncWakesReader: closing from another goroutine ends a task
// waiting on the connection with net.ErrClosed.
func TestCloseAsyncWakesReader(t *testing.T) {
	g := testGroup(t, 1)
	conns := make(chan *Conn, 1)
	res := make(chan error, 1)
	addr := serve(t, g, func(c *Conn) {
		conns <- c
		_, err := c.Read(make([]byte, 10))
		res <- err
	})
	cl, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c := <-conns
	time.Sleep(20 * time.Millisecond)
	c.CloseAsync()
	select {
	case err := <-res:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read: %v, want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("reader not woken by close")
	}
}

// TestDial: connect from a task (success and write/read through it),
// refused, and a timeout against a listener whose backlog is full.
func TestDial(t *testing.T) {
	g := testGroup(t, 1)
	l := g.Loop(0)
	origin, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer origin.Close()
	go func() {
		c, err := origin.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	dst := netip.MustParseAddrPort(origin.Addr().String())
	type result struct {
		got string
		err error
	}
	res := make(chan result, 1)
	l.Post(func() {
		l.Go(func() {
			c, err := l.Dial(dst, time.Second)
			if err != nil {
				res <- result{err: err}
				return
			}
			defer c.Close()
			if c.Local().Port() == 0 {
				res <- result{err: errors.New("no local address")}
				return
			}
			c.Write([]byte("hello"))
			buf := make([]byte, 5)
			_, err = io.ReadFull(c, buf)
			res <- result{string(buf), err}
		})
	})
	if r := <-res; r.err != nil || r.got != "hello" {
		t.Fatalf("dial and echo: %q %v", r.got, r.err)
	}
	// Refused: a port nobody listens on.
	free, _ := net.Listen("tcp4", "127.0.0.1:0")
	refused := netip.MustParseAddrPort(free.Addr().String())
	free.Close()
	l.Post(func() {
		l.Go(func() {
			_, err := l.Dial(refused, time.Second)
			res <- result{err: err}
		})
	})
	if r := <-res; !errors.Is(r.err, unix.ECONNREFUSED) {
		t.Fatalf("dial to a closed port: %v, want ECONNREFUSED", r.err)
	}
}

// TestSleepYieldOffload: a sleeping task lets others run; an offloaded
// function runs off the loop while it keeps serving.
func TestSleepYieldOffload(t *testing.T) {
	g := testGroup(t, 1)
	l := g.Loop(0)
	var order []string
	var mu sync.Mutex
	add := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	done := make(chan struct{}, 3)
	release := make(chan struct{})
	l.Post(func() {
		l.Go(func() {
			add("a1")
			l.Sleep(50 * time.Millisecond)
			add("a2")
			done <- struct{}{}
		})
		l.Go(func() {
			add("b1")
			l.Offload(func() { <-release }) // blocks off the loop
			add("b3")
			done <- struct{}{}
		})
		l.Go(func() {
			add("c1")
			l.Yield()
			add("c2")
			done <- struct{}{}
		})
	})
	<-done
	<-done // a and c finish while b's offloaded function blocks
	close(release)
	<-done
	mu.Lock()
	defer mu.Unlock()
	want := "a1 b1 c1 c2 a2 b3"
	if got := join(order); got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
}

func join(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	return b.String()
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"test"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLSOverConn: crypto/tls runs over a Conn in a task; in non-blocking
// mode a read that would wait returns ErrWouldBlock and the tls.Conn stays
// usable (the next read gets the data), which is how a TLS session parks.
func TestTLSOverConn(t *testing.T) {
	g := testGroup(t, 1)
	cert := selfSigned(t)
	conf := &tls.Config{Certificates: []tls.Certificate{cert}}
	res := make(chan string, 4)
	addr := serve(t, g, func(c *Conn) {
		defer c.Close()
		tc := tls.Server(c, conf)
		if err := tc.Handshake(); err != nil {
			res <- "handshake: " + err.Error()
			return
		}
		buf := make([]byte, 100)
		c.SetNonblock(true)
		_, err := tc.Read(buf)
		c.SetNonblock(false)
		if err != ErrWouldBlock {
			res <- "try-read: " + errString(err)
			return
		}
		res <- "parked"
		n, err := tc.Read(buf)
		if err != nil {
			res <- "read: " + err.Error()
			return
		}
		tc.Write(buf[:n])
		res <- string(buf[:n])
	})
	cl, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if r := <-res; r != "parked" {
		t.Fatal(r)
	}
	cl.Write([]byte("ping"))
	if r := <-res; r != "ping" {
		t.Fatal(r)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(cl, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q %v", buf, err)
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// countAcceptor admits max connections at a time.
type countAcceptor struct {
	n, max atomic.Int32
	ln     *Listener
	conns  chan *Conn
}

func (a *countAcceptor) Admit() bool {
	for {
		n := a.n.Load()
		if n >= a.max.Load() {
			return false
		}
		if a.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}
func (a *countAcceptor) Unadmit() { a.n.Add(-1) }
func (a *countAcceptor) Accepted(l *Loop, fd int, _, remote netip.AddrPort) {
	c, err := l.Register(fd, netip.AddrPort{}, remote)
	if err != nil {
		unix.Close(fd)
		a.Unadmit()
		return
	}
	a.conns <- c
}
func (a *countAcceptor) release() {
	a.n.Add(-1)
	if a.ln.Paused() {
		a.ln.Resume()
	}
}

// TestListenerPauses: with no slot free the listener stops accepting and
// connections wait in the backlog; a freed slot resumes it.
func TestListenerPauses(t *testing.T) {
	g := testGroup(t, 2)
	a := &countAcceptor{conns: make(chan *Conn, 10)}
	a.max.Store(1)
	fd, addr := listenFd(t)
	ln, err := g.Listen(fd, a)
	if err != nil {
		t.Fatal(err)
	}
	a.ln = ln
	defer func() { ln.Close(); <-ln.Gone() }()
	c1, _ := net.Dial("tcp", addr)
	defer c1.Close()
	first := <-a.conns
	c2, _ := net.Dial("tcp", addr) // completes in the backlog
	defer c2.Close()
	select {
	case <-a.conns:
		t.Fatal("accepted over the limit")
	case <-time.After(100 * time.Millisecond):
	}
	first.CloseAsync()
	a.release()
	select {
	case c := <-a.conns:
		c.CloseAsync()
	case <-time.After(2 * time.Second):
		t.Fatal("listener not resumed")
	}
}

// TestTunnelSplice: a tunnel between an accepted client and a dialed
// origin moves a large body both ways, passes on each side's half-close,
// and reports the bytes; a silent tunnel times out.
func TestTunnelSplice(t *testing.T) {
	g := testGroup(t, 1)
	l := g.Loop(0)
	// Origin: reads everything, then answers with as many bytes and
	// closes.
	origin, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer origin.Close()
	go func() {
		for {
			c, err := origin.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				n, _ := io.Copy(io.Discard, c)
				c.Write(bytes.Repeat([]byte("r"), int(n)))
			}()
		}
	}()
	dst := netip.MustParseAddrPort(origin.Addr().String())
	type result struct {
		ab, ba int64
		cause  byte
	}
	res := make(chan result, 2)
	idle := make(chan time.Duration, 2)
	addr := serve(t, g, func(c *Conn) {
		o, err := l.Dial(dst, time.Second)
		if err != nil {
			c.Close()
			return
		}
		tu := &Tunnel{A: c, B: o, IdleA: <-idle, IdleB: time.Minute, PreA: []byte("pre:"),
			End: func(tu *Tunnel, ab, ba int64, cause byte) {
				tu.A.Close()
				tu.B.Close()
				res <- result{ab, ba, cause}
			}}
		tu.Start()
	})
	idle <- time.Minute
	cl, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("q"), 3<<20)
	go func() {
		cl.Write(body)
		cl.(*net.TCPConn).CloseWrite()
	}()
	cl.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(cl)
	cl.Close()
	if err != nil || len(got) != len(body)+4 {
		t.Fatalf("read back %d bytes, %v; want %d", len(got), err, len(body)+4)
	}
	if r := <-res; r.ab != int64(len(body)+4) || r.ba != int64(len(body)+4) || r.cause != 0 {
		t.Fatalf("tunnel result %+v", r)
	}
	// Inactivity: nothing moves, the tunnel ends with 'a' after IdleA.
	idle <- 100 * time.Millisecond
	cl, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	select {
	case r := <-res:
		if r.cause != 'a' {
			t.Fatalf("idle tunnel ended with %q", r.cause)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("idle tunnel did not time out")
	}
}

// TestCond: tasks wait for a condition another task signals; a bounded
// wait times out.
func TestCond(t *testing.T) {
	g := testGroup(t, 1)
	l := g.Loop(0)
	var c Cond
	got := make(chan string, 4)
	l.Post(func() {
		l.Go(func() { c.Wait(l); got <- "a" })
		l.Go(func() { c.Wait(l); got <- "b" })
		l.Go(func() {
			if c.WaitTimeout(l, 50*time.Millisecond) {
				got <- "c woken"
			} else {
				got <- "c timeout"
			}
		})
	})
	if r := <-got; r != "c timeout" {
		t.Fatalf("first result %q, want the bounded wait to time out", r)
	}
	l.Post(func() {
		l.Go(func() {
			if n := c.Waiting(); n != 2 {
				got <- fmt.Sprintf("%d waiting", n)
			}
			c.Signal(l)
			l.Yield()
			c.Broadcast(l)
		})
	})
	if a, b := <-got, <-got; a != "a" || b != "b" {
		t.Fatalf("woken %q then %q, want a then b", a, b)
	}
}

// TestSplice: Loop.Splice moves exactly n bytes (what follows stays in
// the source), everything until the end of stream (n < 0), reports a
// source that ends early (io.ErrUnexpectedEOF) and a destination that
// does not read (its write deadline).
func TestSplice(t *testing.T) {
	g := testGroup(t, 1)
	l := g.Loop(0)
	const size = 3 << 20
	payload := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	// Origin: sends what the first line asks for ("<bytes> <close>"),
	// then "tail" unless it closes.
	origin, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer origin.Close()
	go func() {
		for {
			c, err := origin.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var n int
				var closeAfter bool
				// Read exactly the line: unread bytes would make the
				// close a reset.
				var line []byte
				for b := make([]byte, 1); len(line) == 0 || line[len(line)-1] != '\n'; {
					if _, err := c.Read(b); err != nil {
						return
					}
					line = append(line, b[0])
				}
				fmt.Sscan(string(line), &n, &closeAfter)
				for n > len(payload) { // the stalled client's case
					if _, err := c.Write(payload); err != nil {
						return
					}
					n -= len(payload)
				}
				c.Write(payload[:n])
				if !closeAfter {
					c.Write([]byte("tail"))
					io.Copy(io.Discard, c)
				}
			}()
		}
	}()
	dst := netip.MustParseAddrPort(origin.Addr().String())
	type result struct {
		moved      int64
		rerr, werr error
		rest       string
	}
	type job struct {
		ask string
		n   int64
		wto time.Duration
	}
	jobs := make(chan job, 1)
	res := make(chan result, 1)
	addr := serve(t, g, func(c *Conn) {
		defer c.Close()
		j := <-jobs
		o, err := l.Dial(dst, time.Second)
		if err != nil {
			res <- result{rerr: err}
			return
		}
		defer o.Close()
		o.Write([]byte(j.ask))
		var r result
		r.moved, r.rerr, r.werr = l.Splice(c, o, j.n, 5*time.Second, j.wto)
		if r.rerr == nil && r.werr == nil && j.n >= 0 {
			// What follows the n bytes is still in the source.
			o.SetReadTimeout(5 * time.Second)
			var b [4]byte
			k, _ := io.ReadFull(o, b[:])
			r.rest = string(b[:k])
		}
		res <- r
	})
	run := func(j job, read bool) ([]byte, result) {
		t.Helper()
		jobs <- j
		cl, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var got []byte
		if read {
			cl.SetReadDeadline(time.Now().Add(20 * time.Second))
			got, _ = io.ReadAll(cl)
		}
		return got, <-res
	}
	got, r := run(job{ask: fmt.Sprintf("%d false\n", size), n: size}, true)
	if !bytes.Equal(got, payload) || r.moved != size || r.rerr != nil || r.werr != nil || r.rest != "tail" {
		t.Fatalf("exact n: got %d bytes (equal %v), %+v", len(got), bytes.Equal(got, payload), r)
	}
	got, r = run(job{ask: fmt.Sprintf("%d true\n", size), n: -1}, true)
	if !bytes.Equal(got, payload) || r.moved != size || r.rerr != nil || r.werr != nil {
		t.Fatalf("until close: got %d bytes, %+v %v", len(got), r, r.rerr)
	}
	got, r = run(job{ask: "1000 true\n", n: 5000}, true)
	if len(got) != 1000 || r.moved != 1000 || r.rerr != io.ErrUnexpectedEOF || r.werr != nil {
		t.Fatalf("short source: got %d bytes, %+v", len(got), r)
	}
	// The client never reads: its socket fills up and the write deadline
	// ends the splice.
	_, r = run(job{ask: fmt.Sprintf("%d false\n", 16*size), n: 16 * size, wto: 200 * time.Millisecond}, false)
	if !errors.Is(r.werr, os.ErrDeadlineExceeded) || r.rerr != nil || r.moved >= 16*size {
		t.Fatalf("stalled client: %+v", r)
	}
}

// TestAcceptSpread: a burst of connections (a load generator starting)
// is spread over the loops by their load, whichever loop the kernel
// wakes: the kernel alone gave one loop 62 of 64.
func TestAcceptSpread(t *testing.T) {
	g := testGroup(t, 2)
	var per [2]atomic.Int32
	var wrong atomic.Int32
	fd, addr := listenFd(t)
	ln, err := g.Listen(fd, acceptFunc(func(l *Loop, fd int, remote netip.AddrPort) {
		if g.Loop(l.ID()) != l || l.Current() != nil {
			wrong.Add(1)
		}
		per[l.ID()].Add(1)
		c, err := l.Register(fd, netip.AddrPort{}, remote)
		if err != nil {
			unix.Close(fd)
			return
		}
		l.Go(func() { echo(c) })
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ln.Close(); <-ln.Gone() }()
	const n = 64
	var cs []net.Conn
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	// Every connection is served (an echo through each proves it).
	for i, c := range cs {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		msg := []byte(fmt.Sprintf("conn %d", i))
		c.Write(msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("conn %d: echo %q, %v", i, got, err)
		}
	}
	a, b := per[0].Load(), per[1].Load()
	if a+b != n || a-b > 4 || b-a > 4 || wrong.Load() != 0 {
		t.Fatalf("connections per loop: %d and %d (want %d in all, at most 4 apart); %d accepted off their loop", a, b, n, wrong.Load())
	}
}
