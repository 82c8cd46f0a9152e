package sockxfer

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// serveOnce answers one "_getsocks" on a unix socket at path.
func serveOnce(t *testing.T, path string, socks []Socket) <-chan error {
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != Command+"\n" {
			done <- err
			return
		}
		rc, _ := c.(*net.UnixConn).SyscallConn()
		done <- Send(rc, socks)
	}()
	return done
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{1, MaxBatch, MaxBatch + 1, 2*MaxBatch + 7} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			var socks []Socket
			for i := 0; i < n; i++ {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				w.Close()
				fd, _ := unix.Dup(int(r.Fd()))
				r.Close()
				s := Socket{FD: fd}
				if i%3 == 0 {
					s.Interface = "eth" + strconv.Itoa(i)
				}
				if i%5 == 0 {
					s.Namespace = "ns" + strconv.Itoa(i)
				}
				socks = append(socks, s)
			}
			defer func() {
				for _, s := range socks {
					unix.Close(s.FD)
				}
			}()
			path := filepath.Join(t.TempDir(), "s.sock")
			done := serveOnce(t, path, socks)
			got, err := Fetch(path, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if len(got) != n {
				t.Fatalf("got %d sockets, want %d", len(got), n)
			}
			for i, s := range got {
				if s.Interface != socks[i].Interface || s.Namespace != socks[i].Namespace {
					t.Fatalf("socket %d: %+v, want %+v", i, s, socks[i])
				}
				if _, err := unix.FcntlInt(uintptr(s.FD), unix.F_GETFD, 0); err != nil {
					t.Fatalf("socket %d: descriptor %d not open: %v", i, s.FD, err)
				}
				unix.Close(s.FD)
			}
		})
	}
}

// A process that has nothing to give closes without a count: an error,
// no socket.
func TestNothingToGive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	done := serveOnce(t, path, nil)
	if got, err := Fetch(path, 2*time.Second); err == nil || len(got) != 0 {
		t.Fatalf("got %v, %v", got, err)
	}
	<-done
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0}, uint8(1))
	f.Add([]byte{2, 'n', 's', 3, 'e', 't', 'h', 0, 0, 0, 0}, uint8(1))
	f.Add([]byte{0, 4, 'l', 'o', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, n uint8) {
		fds := make([]int, n)
		socks, err := decodeRecords(data, fds)
		if err != nil {
			return
		}
		if len(socks) != int(n) {
			t.Fatalf("%d records for %d descriptors", len(socks), n)
		}
		// Re-encoding gives back a prefix of the input.
		var enc []byte
		for _, s := range socks {
			enc = appendRecord(enc, s)
		}
		if len(enc) > len(data) {
			t.Fatalf("re-encoded %d bytes from %d", len(enc), len(data))
		}
	})
}
