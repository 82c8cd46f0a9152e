package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// TestTLSRequestPathAllocs is TestRequestPathAllocs for lbbench's
// tls-keepalive scenario (bind ... ssl crt, keep-alive HTTPS clients),
// with an RSA and an ECDSA certificate. Once the handshake is done, the
// only allocations left are crypto/tls's own: each read that has to go to
// the socket allocates its atLeastReader (crypto/tls conn.go,
// readFromUntil), once in the client and twice in the proxy per request
// (the request, then the read that finds the socket empty before the
// connection parks). Anything the proxy adds shows up above those 3.
func TestTLSRequestPathAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	small := newRawOrigin(t, originResponse(100))
	get := []byte("GET /small.bin HTTP/1.1\r\nHost: bench.local\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")
	for _, ec := range []bool{false, true} {
		name := "rsa"
		if ec {
			name = "ec"
		}
		t.Run("tls-keepalive-"+name, func(t *testing.T) {
			pem := writeTestCert(t, t.TempDir(), "site.pem", ec)
			addr := freeAddr(t)
			runEngine(t, "global\n    maxconn 4096\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n"+
				"frontend fe\n    bind "+addr+" ssl crt "+pem+"\n    default_backend be\nbackend be\n    balance roundrobin\n"+
				"    server web1 "+small.addr.String()+"\n    server web2 "+small.addr.String()+"\n")
			c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "halo.test"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Minute))
			buf := make([]byte, 8192)
			do := func() error {
				if _, err := c.Write(get); err != nil {
					return err
				}
				n, head, status, clen := 0, -1, 0, -1
				for head < 0 || n-head < clen {
					k, err := c.Read(buf[n:])
					if err != nil {
						return err
					}
					n += k
					if head < 0 {
						if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 {
							head = i + 4
							if status, clen = parseHead(buf[:head]); status != 200 || clen != 100 {
								return fmt.Errorf("status %d, content-length %d: %q", status, clen, buf[:head])
							}
						}
					}
				}
				if n-head != clen {
					return io.ErrUnexpectedEOF
				}
				return nil
			}
			var failed error
			run := func() {
				if err := do(); err != nil && failed == nil {
					failed = err
				}
			}
			for i := 0; i < 200; i++ {
				run()
			}
			runtime.GC()
			if f := os.Getenv("HALO_ALLOCS_PROFILE"); f != "" {
				runtime.MemProfileRate = 1
				defer func() {
					runtime.GC()
					out, _ := os.Create(f + "." + t.Name()[strings.LastIndexByte(t.Name(), '/')+1:])
					pprof.Lookup("allocs").WriteTo(out, 0)
					out.Close()
					runtime.MemProfileRate = 512 * 1024
				}()
			}
			got := testing.AllocsPerRun(500, run)
			if failed != nil {
				t.Fatal(failed)
			}
			t.Logf("%.0f allocations per request", got)
			if got > 3 {
				t.Errorf("%.0f allocations per request, want at most 3 (crypto/tls's reads)", got)
			}
		})
	}
}
