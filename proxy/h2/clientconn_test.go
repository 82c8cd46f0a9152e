package h2

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestClientAgainstServer runs ClientConn against Conn: concurrent
// streams, bodies in both directions, trailers, a refused stream.
func TestClientAgainstServer(t *testing.T) {
	l := testLoop(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ec := adopt(t, l, sc)
	handler := func(s *Stream) {
		var body []byte
		buf := make([]byte, 4096)
		for {
			n, err := s.Read(buf, 5*time.Second)
			body = append(body, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
		if string(s.Head.Path()) == "/trailers" {
			s.StartHead(200)
			if s.EndHead(false) != nil {
				return
			}
			_, _ = s.Write([]byte("data"), 5*time.Second)
			s.StartTrailers()
			s.HeadFieldString("x-t", strings.ToUpper(string(body)))
			_ = s.EndHead(true)
			return
		}
		s.StartHead(200)
		s.HeadFieldString("x-len", string(rune('0'+len(body)%10)))
		if s.EndHead(false) != nil {
			return
		}
		_, _ = s.WriteEnd(append([]byte(string(s.Head.Method())+" "+string(s.Head.Path())+" "), body...), 5*time.Second)
	}
	onLoop(l, func() {
		sv := &Server{}
		sv.Start(ec, nil, nil, &ServerConfig{Settings: Settings{MaxConcurrentStreams: 8}, Limits: testLimits(), Handler: handler}, nil)
	})
	cc, err := NewClientConn(nc, Settings{}, testLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var wg sync.WaitGroup
	errs := make(chan string, 32)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := strings.Repeat("b", i*5000)
			var cs *ClientStream
			var err error
			for try := 0; try < 50; try++ {
				if cs, err = cc.Request("POST", "http", "x", "/p", nil, true); err != ErrRefused {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err != nil {
				errs <- err.Error()
				return
			}
			if _, err := cs.Write([]byte(body)); err != nil {
				errs <- err.Error()
				return
			}
			_ = cs.CloseBody(nil)
			h, err := cs.Response(5 * time.Second)
			if err != nil || h.Status != 200 {
				errs <- "response: " + err.Error()
				return
			}
			var got []byte
			buf := make([]byte, 4096)
			for {
				n, err := cs.Read(buf, 5*time.Second)
				got = append(got, buf[:n]...)
				if err != nil {
					break
				}
			}
			if string(got) != "POST /p "+body {
				errs <- "body mismatch"
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	cs, err := cc.Request("POST", "https", "x", "/trailers", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = cs.Write([]byte("abc"))
	_ = cs.CloseBody([]HeaderField{{"x-req", "1"}})
	if h, err := cs.Response(5 * time.Second); err != nil || h.Status != 200 {
		t.Fatalf("%v %v", h, err)
	}
	b, _ := io.ReadAll(readerFunc(func(p []byte) (int, error) { return cs.Read(p, 5*time.Second) }))
	if string(b) != "data" || len(cs.Trailer()) != 1 || cs.Trailer()[0].Value != "ABC" {
		t.Fatalf("body %q trailers %v", b, cs.Trailer())
	}
	cs2, _ := cc.Request("GET", "http", "x", "/", nil, false)
	cs2.Reset(http2.ErrCodeCancel)
	if idle, _ := cc.Idle(); !idle {
		t.Fatal("a reset stream is still open")
	}
}

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
