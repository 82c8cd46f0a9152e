package stats

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"halo/proxy"
)

// Server is the runtime API on the `stats socket` listeners.
type Server struct {
	Stats     *Stats
	lns       []net.Listener
	wg        sync.WaitGroup
	timeout   time.Duration
	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	closed    bool
	maxLine   int
	Malformed int64 // lines too long to be a command
}

// Listen opens every `stats socket` of the global section.
func Listen(st *Stats, socks []proxy.StatsSocket, timeout time.Duration) (*Server, error) {
	if timeout <= 0 {
		timeout = 10 * time.Second // stats timeout default
	}
	srv := &Server{Stats: st, timeout: timeout, conns: map[net.Conn]struct{}{}, maxLine: 16384}
	for _, sk := range socks {
		ln, err := listenSocket(sk)
		if err != nil {
			srv.Close()
			return nil, err
		}
		srv.lns = append(srv.lns, ln)
		lvl := ParseLevel(sk.Level)
		srv.wg.Add(1)
		go srv.accept(ln, lvl)
	}
	return srv, nil
}

func listenSocket(sk proxy.StatsSocket) (net.Listener, error) {
	p := sk.Path
	for _, pre := range []string{"ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"} {
		if strings.HasPrefix(p, pre) {
			return net.Listen("tcp", strings.TrimPrefix(p, pre))
		}
	}
	if fd, ok := strings.CutPrefix(p, "fd@"); ok {
		// An inherited listening socket (VTest hands the CLI over so).
		n, err := strconv.Atoi(fd)
		if err != nil {
			return nil, fmt.Errorf("invalid file descriptor '%s'", fd)
		}
		f := os.NewFile(uintptr(n), p)
		ln, err := net.FileListener(f)
		f.Close()
		return ln, err
	}
	if name, ok := strings.CutPrefix(p, "abns@"); ok {
		return net.Listen("unix", "@"+name)
	}
	p = strings.TrimPrefix(p, "unix@")
	if !strings.HasPrefix(p, "/") && strings.Contains(p, ":") {
		return net.Listen("tcp", p)
	}
	// A stale socket from a previous run is replaced, as HAProxy does.
	if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(p)
	}
	ln, err := net.Listen("unix", p)
	if err != nil {
		return nil, fmt.Errorf("cannot bind UNIX socket (%v) [%s]", errors.Unwrap(err), p)
	}
	if sk.UID != 0 || sk.GID != 0 {
		// Before the process drops to its global user, as HAProxy does,
		// so that user's clients may still connect.
		uid, gid := sk.UID, sk.GID
		if uid == 0 {
			uid = -1
		}
		if gid == 0 {
			gid = -1
		}
		_ = os.Lchown(p, uid, gid)
	}
	if sk.Mode != 0 {
		_ = os.Chmod(p, os.FileMode(sk.Mode))
	}
	return ln, nil
}

func (srv *Server) accept(ln net.Listener, lvl Level) {
	defer srv.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		srv.mu.Lock()
		if srv.closed {
			srv.mu.Unlock()
			c.Close()
			return
		}
		srv.conns[c] = struct{}{}
		srv.mu.Unlock()
		srv.wg.Add(1)
		go srv.serve(c, lvl)
	}
}

// serve handles one CLI connection: without "prompt" one line of
// commands then close; in interactive mode a prompt after each answer.
func (srv *Server) serve(c net.Conn, lvl Level) {
	defer srv.wg.Done()
	defer func() {
		srv.mu.Lock()
		delete(srv.conns, c)
		srv.mu.Unlock()
		c.Close()
	}()
	sess := &Session{Level: lvl}
	r := bufio.NewReaderSize(c, 4096)
	for {
		_ = c.SetReadDeadline(time.Now().Add(srv.timeout))
		line, err := readLine(r, srv.maxLine)
		if err != nil && line == "" {
			return
		}
		sess.Payload = ""
		if l, ok := strings.CutSuffix(strings.TrimRight(line, "\r\n"), "<<"); ok {
			// A payload follows, up to an empty line.
			var p strings.Builder
			for {
				pl, perr := readLine(r, srv.maxLine)
				pl = strings.TrimRight(pl, "\r\n")
				if pl == "" || perr != nil {
					p.WriteString(pl)
					break
				}
				p.WriteString(pl + "\n")
			}
			line, sess.Payload = l, p.String()
		}
		out := srv.Stats.Execute(line, sess)
		if sess.Interactive && !sess.Quit {
			out += "> "
		}
		_ = c.SetWriteDeadline(time.Now().Add(srv.timeout))
		if _, werr := c.Write([]byte(out)); werr != nil {
			return
		}
		if !sess.Interactive || sess.Quit || err != nil {
			return
		}
	}
}

// readLine reads up to '\n' (a last line without one counts), refusing
// lines longer than max.
func readLine(r *bufio.Reader, max int) (string, error) {
	var b strings.Builder
	for {
		frag, err := r.ReadSlice('\n')
		if b.Len()+len(frag) > max {
			return "", errors.New("line too long")
		}
		b.Write(frag)
		if err == bufio.ErrBufferFull {
			continue
		}
		return strings.TrimRight(b.String(), "\r\n"), err
	}
}

// Close stops listening, closes open CLI connections and waits for them.
func (srv *Server) Close() {
	srv.mu.Lock()
	srv.closed = true
	for c := range srv.conns {
		c.Close()
	}
	srv.mu.Unlock()
	for _, ln := range srv.lns {
		ln.Close() // net removes a unix socket's file on Close
	}
	srv.wg.Wait()
}
