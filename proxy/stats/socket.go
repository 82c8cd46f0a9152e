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
	"syscall"
	"time"

	"halo/proxy"
	"halo/proxy/sockxfer"
)

// Server is the runtime API on the `stats socket` listeners.
type Server struct {
	Stats     *Stats
	lns       []net.Listener
	files     []unixFile // unix socket files to remove on Close
	wg        sync.WaitGroup
	timeout   time.Duration
	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	closed    bool
	done      chan struct{}
	global    chan struct{} // `stats maxconn`, shared by every socket
	maxLine   int
	Malformed int64 // lines too long to be a command
}

// DefaultMaxconn is HAProxy's `stats maxconn` default: CLI connections
// served at once; more wait in the socket's backlog.
const DefaultMaxconn = 10

type unixFile struct {
	path string
	fi   os.FileInfo
}

// Listen opens every `stats socket` of the global section.
func Listen(st *Stats, socks []proxy.StatsSocket, timeout time.Duration) (*Server, error) {
	if timeout <= 0 {
		timeout = 10 * time.Second // stats timeout default
	}
	maxconn := DefaultMaxconn
	if st != nil && st.rt != nil && st.rt.Cfg.Global.StatsMaxconn > 0 {
		maxconn = st.rt.Cfg.Global.StatsMaxconn
	}
	srv := &Server{Stats: st, timeout: timeout, conns: map[net.Conn]struct{}{}, maxLine: 16384,
		done: make(chan struct{}), global: make(chan struct{}, maxconn)}
	for _, sk := range socks {
		ln, err := listenSocket(sk)
		if err != nil {
			srv.Close()
			return nil, err
		}
		srv.lns = append(srv.lns, ln)
		if ul, ok := ln.(*net.UnixListener); ok {
			// A reload's new process binds the path anew: the old one
			// must not remove the new one's file when it closes.
			ul.SetUnlinkOnClose(false)
			if p := ul.Addr().String(); !strings.HasPrefix(p, "@") {
				if fi, err := os.Stat(p); err == nil {
					srv.files = append(srv.files, unixFile{p, fi})
				}
			}
		}
		var per chan struct{}
		if sk.Maxconn > 0 {
			per = make(chan struct{}, sk.Maxconn)
		}
		srv.wg.Add(1)
		go srv.accept(ln, listenerOpts{level: ParseLevel(sk.Level), exposeFD: sk.ExposeFD, slots: per})
	}
	return srv, nil
}

type listenerOpts struct {
	level    Level
	exposeFD bool
	slots    chan struct{} // the socket's own maxconn (nil: none)
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

// accept serves a socket's connections, at most `stats maxconn` (and the
// socket's maxconn) at once as HAProxy does: a slot is taken before each
// accept, so connections over the limit wait in the kernel's backlog.
func (srv *Server) accept(ln net.Listener, o listenerOpts) {
	defer srv.wg.Done()
	for {
		if !srv.take(o.slots) {
			return
		}
		if !srv.take(srv.global) {
			srv.put(o.slots)
			return
		}
		c, err := ln.Accept()
		if err != nil {
			srv.put(srv.global)
			srv.put(o.slots)
			return
		}
		srv.mu.Lock()
		if srv.closed {
			srv.mu.Unlock()
			c.Close()
			srv.put(srv.global)
			srv.put(o.slots)
			return
		}
		srv.conns[c] = struct{}{}
		srv.mu.Unlock()
		srv.wg.Add(1)
		go func() {
			defer srv.put(o.slots)
			defer srv.put(srv.global)
			srv.serve(c, o)
		}()
	}
}

func (srv *Server) take(ch chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case ch <- struct{}{}:
		return true
	case <-srv.done:
		return false
	}
}

func (srv *Server) put(ch chan struct{}) {
	if ch != nil {
		<-ch
	}
}

// serve handles one CLI connection. Without "prompt" it answers every
// command already sent (lines, or ';'-separated) and closes once nothing
// more is waiting, as HAProxy does; in interactive mode it prompts after
// each answer. `_getsocks` on a socket with `expose-fd listeners` hands
// the listening sockets over (a reload's new process asks for them).
func (srv *Server) serve(c net.Conn, o listenerOpts) {
	defer srv.wg.Done()
	defer func() {
		srv.mu.Lock()
		delete(srv.conns, c)
		srv.mu.Unlock()
		c.Close()
	}()
	sess := &Session{Level: o.level}
	r := bufio.NewReaderSize(c, 16384)
	for {
		to := srv.timeout
		if sess.Timeout > 0 { // set timeout cli
			to = sess.Timeout
		}
		_ = c.SetReadDeadline(time.Now().Add(to))
		line, err := readLine(r, srv.maxLine)
		if err != nil && line == "" {
			return
		}
		if line == sockxfer.Command {
			if o.exposeFD {
				srv.getsocks(c)
			}
			return // HAProxy ends the session either way
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
		if sess.Quit || err != nil || (!sess.Interactive && r.Buffered() == 0) {
			return
		}
	}
}

// getsocks sends duplicates of the runtime's listening sockets.
func (srv *Server) getsocks(c net.Conn) {
	uc, ok := c.(*net.UnixConn)
	if !ok || srv.Stats == nil || srv.Stats.rt == nil {
		return
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return
	}
	socks := srv.Stats.rt.ExportSockets()
	_ = c.SetDeadline(time.Now().Add(srv.timeout))
	_ = sockxfer.Send(rc, socks)
	for _, s := range socks {
		_ = syscall.Close(s.FD)
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
	if !srv.closed {
		close(srv.done)
	}
	srv.closed = true
	for c := range srv.conns {
		c.Close()
	}
	srv.mu.Unlock()
	for _, ln := range srv.lns {
		ln.Close()
	}
	for _, f := range srv.files {
		// Only the file of our own socket: after a reload the path may
		// be the new process's.
		if fi, err := os.Stat(f.path); err == nil && os.SameFile(fi, f.fi) {
			_ = os.Remove(f.path)
		}
	}
	srv.wg.Wait()
}
