package peers

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"halo/proxy"
	"halo/proxy/stick"
)

// Timers of HAProxy's peers (src/peers.c).
const (
	resyncTimeout    = 5 * time.Second // waiting for a lesson (local, then remote)
	reconnectTimeout = 5 * time.Second // silence before a session is dropped; retry delay
	heartbeatEvery   = 3 * time.Second
	connectTimeout   = time.Second
	maxUpdatesAtOnce = 200
)

// section runs one peers section: its listener, a session with each
// remote peer, and the resynchronisation of its tables at start.
type section struct {
	cfg    *proxy.PeersSection
	local  string
	tables []*shTable
	peers  []*peer // remote peers, and the local one (for reloads)
	self   *peer
	ln     net.Listener
	pid    int
	// maxUpdates: updates sent per pass (tune.peers.max-updates-at-once)
	maxUpdates int

	mu sync.Mutex
	// resync: where the tables' initial content comes from.
	resync      resyncState
	assigned    *peer // the peer teaching us, if any
	resyncUntil time.Time

	stopping bool
	done     chan struct{}
	ctx      context.Context // canceled when the section stops
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

type resyncState int

const (
	fromLocal  resyncState = iota // waiting for the old process (reload)
	fromRemote                    // asking a remote peer
	resynced
)

// shTable is a table shared in the section; id is its local id in
// table definition messages (1-based, in configuration order).
type shTable struct {
	t  *stick.Table
	id int
}

// peer is one `peer`/`server` line: where to reach it and what it
// acknowledged of our updates, kept across its sessions.
type peer struct {
	name  string
	addr  netip.AddrPort
	local bool
	tls   *tls.Config // client TLS (ssl), nil for plain TCP

	mu       sync.Mutex
	sess     *session
	acked    []uint32 // per table: the last update id the peer acknowledged
	notUp    bool     // it said it was not up to date itself (resync partial)
	nextConn time.Time
}

func newSection(ps *proxy.PeersSection, set *stick.Set, replaces bool) (*section, error) {
	s := &section{cfg: ps, local: ps.Local, pid: os.Getpid(), done: make(chan struct{}), maxUpdates: maxUpdatesAtOnce}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for i, name := range ps.Tables {
		t := set.Table(name)
		if t == nil {
			continue
		}
		s.tables = append(s.tables, &shTable{t: t, id: i + 1})
	}
	for _, p := range ps.Peers {
		pr := &peer{name: p.Name, addr: p.Addr, local: p.Local, acked: make([]uint32, len(s.tables))}
		if p.SSL {
			c, err := clientTLS(p)
			if err != nil {
				return nil, err
			}
			pr.tls = c
		}
		s.peers = append(s.peers, pr)
		if p.Local {
			s.self = pr
		}
	}
	// A reload waits for the old process's lesson first; a first start
	// asks the remote peers at once (HAProxy's nb_oldpids).
	s.resync = fromRemote
	if replaces {
		s.resync = fromLocal
	}
	s.resyncUntil = time.Now().Add(resyncTimeout)
	return s, nil
}

func clientTLS(p *proxy.Peer) (*tls.Config, error) {
	// HAProxy checks the peer's chain against the CA file, not its name
	// (no verifyhost on peer lines).
	c := &tls.Config{InsecureSkipVerify: true}
	if !p.VerifyNone {
		pem, err := os.ReadFile(p.CAFile)
		if err != nil {
			return nil, err
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("unable to load CA file '%s'", p.CAFile)
		}
		c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			var certs []*x509.Certificate
			for _, r := range raw {
				crt, err := x509.ParseCertificate(r)
				if err != nil {
					return err
				}
				certs = append(certs, crt)
			}
			if len(certs) == 0 {
				return fmt.Errorf("no certificate")
			}
			inter := x509.NewCertPool()
			for _, crt := range certs[1:] {
				inter.AddCert(crt)
			}
			_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	if p.Crt != "" {
		pem, err := os.ReadFile(p.Crt)
		if err != nil {
			return nil, err
		}
		cert, err := tls.X509KeyPair(pem, pem)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// start opens the section's listener and starts its sessions.
func (s *section) start() error {
	for _, st := range s.tables {
		st.t.SetOnChange(s.wakeAll)
	}
	// one listener per section: the local peer's address
	if len(s.cfg.Binds) > 0 {
		b := s.cfg.Binds[0]
		ln, err := listen(b)
		if err != nil {
			return err
		}
		if b.SSL && len(b.Certs) > 0 {
			pem, err := os.ReadFile(b.Certs[0])
			if err != nil {
				return err
			}
			cert, err := tls.X509KeyPair(pem, pem)
			if err != nil {
				return err
			}
			ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
		}
		s.ln = ln
		s.wg.Add(1)
		go s.acceptLoop(ln)
	}
	for _, p := range s.peers {
		if p.local || p.addr.Port() == 0 {
			continue // no address: only reachable by its own connections
		}
		s.wg.Add(1)
		go s.connectLoop(p)
	}
	s.wg.Add(1)
	go s.syncLoop()
	return nil
}

// listen opens a bind of the section (an address, or an inherited fd).
func listen(b proxy.Bind) (net.Listener, error) {
	if b.Network == "fd" {
		f := os.NewFile(uintptr(b.FD), "peers-fd@"+strconv.Itoa(b.FD))
		ln, err := net.FileListener(f)
		f.Close()
		return ln, err
	}
	lc := net.ListenConfig{Control: reuseport}
	return lc.Listen(context.Background(), "tcp", b.Addr.String())
}

// wakeAll wakes every session (a table changed locally).
func (s *section) wakeAll() {
	for _, p := range s.peers {
		p.mu.Lock()
		if p.sess != nil {
			p.sess.wake()
		}
		p.mu.Unlock()
	}
}

func (s *section) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go s.serveIncoming(c)
	}
}

// serveIncoming runs the server side of the handshake, then the session.
func (s *section) serveIncoming(c net.Conn) {
	defer context.AfterFunc(s.ctx, func() { c.Close() })()
	_ = c.SetDeadline(time.Now().Add(reconnectTimeout))
	r := bufio.NewReaderSize(c, 16<<10)
	h, status, err := readHello(r, s.local)
	if err != nil {
		c.Close()
		return
	}
	var p *peer
	if status == statusSuccess {
		for _, q := range s.peers {
			if q.name == h.Local {
				p = q
			}
		}
		if p == nil {
			status = statusErrPeer
		}
	}
	if status == statusSuccess {
		p.mu.Lock()
		if old := p.sess; old != nil {
			if p.local {
				// a lesson from the local peer is going on already
				status = statusTryAgain
			} else {
				// the peer reconnected: the new session wins, and our
				// own connection attempts wait a random moment so the
				// two sides do not keep killing each other's.
				old.kill()
				p.sess = nil
				p.nextConn = time.Now().Add(time.Duration(50+rand.IntN(2000)) * time.Millisecond)
			}
		}
		p.mu.Unlock()
	}
	if _, err := c.Write([]byte(strconv.Itoa(status) + "\n")); err != nil || status != statusSuccess {
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	sess := newSession(s, p, c, r, false, h.Minor == dwngrdMinor)
	if !p.attach(sess) {
		c.Close()
		return
	}
	sess.run()
}

// attach makes sess the peer's session unless another one took the slot.
func (p *peer) attach(sess *session) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sess != nil {
		return false
	}
	p.sess = sess
	return true
}

func (p *peer) detach(sess *session) {
	p.mu.Lock()
	if p.sess == sess {
		p.sess = nil
	}
	p.mu.Unlock()
}

// connectLoop keeps a session with a remote peer: it connects, and
// reconnects reconnectTimeout after a failure or the end of a session.
func (s *section) connectLoop(p *peer) {
	defer s.wg.Done()
	downgrade := false
	for {
		p.mu.Lock()
		busy := p.sess != nil
		wait := time.Until(p.nextConn)
		p.mu.Unlock()
		if busy || wait > 0 {
			if wait <= 0 || wait > 200*time.Millisecond {
				wait = 200 * time.Millisecond
			}
			select {
			case <-s.done:
				return
			case <-time.After(wait):
			}
			continue
		}
		ok, dg := s.connect(p, downgrade)
		downgrade = dg
		if !ok {
			p.mu.Lock()
			if p.nextConn.Before(time.Now()) {
				p.nextConn = time.Now().Add(reconnectTimeout)
			}
			p.mu.Unlock()
		}
	}
}

// connect runs one outgoing session to p; it returns when it ends. ok is
// false when no session was established; downgrade asks the next attempt
// to speak version 2.0 (the peer refused 2.1).
func (s *section) connect(p *peer, downgrade bool) (ok, nextDowngrade bool) {
	d := net.Dialer{Timeout: connectTimeout}
	c, err := d.DialContext(s.ctx, "tcp", p.addr.String())
	if err != nil {
		return false, downgrade
	}
	// a stop cuts the handshake short
	defer context.AfterFunc(s.ctx, func() { c.Close() })()
	if p.tls != nil {
		tc := tls.Client(c, p.tls)
		_ = tc.SetDeadline(time.Now().Add(reconnectTimeout))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return false, downgrade
		}
		c = tc
	}
	minor := minorVer
	if downgrade {
		minor = dwngrdMinor
	}
	h := hello{Major: majorVer, Minor: minor, Remote: p.name, Local: s.local, Pid: s.pid}
	_ = c.SetDeadline(time.Now().Add(reconnectTimeout))
	if _, err := c.Write(h.appendTo(nil)); err != nil {
		c.Close()
		return false, downgrade
	}
	r := bufio.NewReaderSize(c, 16<<10)
	line, err := readLine(r)
	if err != nil {
		c.Close()
		return false, downgrade
	}
	status, _ := strconv.Atoi(line)
	if status != statusSuccess {
		c.Close()
		return false, status == statusErrVersion
	}
	_ = c.SetDeadline(time.Time{})
	sess := newSession(s, p, c, r, true, downgrade)
	if !p.attach(sess) {
		c.Close()
		return false, downgrade
	}
	sess.run()
	return true, downgrade
}

// syncLoop runs the section's timers: the end of the resync waits, and
// the compaction of the tables' update logs.
func (s *section) syncLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	compactAt := time.Now()
	for {
		select {
		case <-s.done:
			return
		case <-tick.C:
		}
		s.mu.Lock()
		now := time.Now()
		switch s.resync {
		case fromLocal:
			if now.After(s.resyncUntil) && s.assigned == nil {
				s.resync = fromRemote
				s.resyncUntil = now.Add(resyncTimeout)
			}
		case fromRemote:
			if s.assigned == nil && (now.After(s.resyncUntil) || !s.hasRemote()) {
				s.resync = resynced
			}
		}
		wantLesson := s.resync == fromRemote && s.assigned == nil
		s.mu.Unlock()
		if wantLesson {
			s.assignTeacher()
		}
		if now.Sub(compactAt) > 10*time.Second {
			compactAt = now
			for _, st := range s.tables {
				st.t.CompactUpdates()
			}
		}
	}
}

func (s *section) hasRemote() bool {
	for _, p := range s.peers {
		if !p.local {
			return true
		}
	}
	return false
}

// assignTeacher asks a connected remote peer that may be up to date for
// a full resync.
func (s *section) assignTeacher() {
	for _, p := range s.peers {
		if p.local {
			continue
		}
		p.mu.Lock()
		sess, notUp := p.sess, p.notUp
		p.mu.Unlock()
		if sess == nil || notUp || !sess.established() {
			continue
		}
		s.mu.Lock()
		if s.assigned != nil || s.resync != fromRemote {
			s.mu.Unlock()
			return
		}
		s.assigned = p
		s.mu.Unlock()
		sess.requestLesson()
		return
	}
}

// lessonDone records the end of a lesson from p: finished (up to date)
// or partial.
func (s *section) lessonDone(p *peer, finished bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.assigned != p {
		return
	}
	s.assigned = nil
	if finished {
		s.resync = resynced
		return
	}
	if p.local {
		// partial lesson from the old process: wait for another one
		s.resyncUntil = time.Now().Add(resyncTimeout)
		return
	}
	p.mu.Lock()
	p.notUp = true
	p.mu.Unlock()
	s.resyncUntil = time.Now().Add(resyncTimeout)
}

// lessonAborted is a teaching session that ended before its end.
func (s *section) lessonAborted(p *peer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.assigned == p {
		s.assigned = nil
		s.resyncUntil = time.Now().Add(resyncTimeout)
	}
}

// upToDate says whether the section's tables are complete (a lesson
// ends with "finished" then, else "partial").
func (s *section) upToDate() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resync == resynced
}

// localLesson is a session from the local peer (the old process of a
// reload) that we accepted: it teaches us.
func (s *section) localLesson(p *peer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resync != fromLocal || s.assigned != nil {
		return false
	}
	s.assigned = p
	return true
}

// stop ends the sessions; with teach, the tables are first taught to the
// local peer (the new process of a reload), for at most resyncTimeout.
func (s *section) stop(teach bool) {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
	}
	select {
	case <-s.done:
	default:
		close(s.done)
		s.cancel()
	}
	for _, p := range s.peers {
		p.mu.Lock()
		if p.sess != nil {
			p.sess.kill()
		}
		p.mu.Unlock()
	}
	if teach && s.self != nil && len(s.cfg.Binds) > 0 {
		s.teachLocal()
	}
	s.wg.Wait()
}

// teachLocal connects to our own address, now the new process's, and
// pushes every entry (HAProxy's old process at soft stop).
func (s *section) teachLocal() {
	b := s.cfg.Binds[0]
	if b.Network == "fd" || !b.Addr.IsValid() {
		return
	}
	addr := b.Addr
	if addr.Addr().IsUnspecified() {
		addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), addr.Port())
	}
	deadline := time.Now().Add(resyncTimeout)
	for time.Now().Before(deadline) {
		p := &peer{name: s.local, addr: addr, local: true, acked: make([]uint32, len(s.tables)), tls: s.self.tls}
		ok := s.teachOnce(p, deadline)
		if ok {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (s *section) teachOnce(p *peer, deadline time.Time) bool {
	d := net.Dialer{Timeout: connectTimeout}
	c, err := d.Dial("tcp", p.addr.String())
	if err != nil {
		return false
	}
	if p.tls != nil {
		tc := tls.Client(c, p.tls)
		if err := tc.Handshake(); err != nil {
			c.Close()
			return false
		}
		c = tc
	}
	_ = c.SetDeadline(deadline)
	h := hello{Major: majorVer, Minor: minorVer, Remote: s.local, Local: s.local, Pid: s.pid}
	if _, err := c.Write(h.appendTo(nil)); err != nil {
		c.Close()
		return false
	}
	r := bufio.NewReaderSize(c, 16<<10)
	line, err := readLine(r)
	if err != nil || line != strconv.Itoa(statusSuccess) {
		c.Close()
		return false
	}
	sess := newSession(s, p, c, r, true, false)
	sess.teacher = true
	p.sess = sess
	sess.run()
	return sess.confirmed
}

// reuseport lets a reloaded process bind the peers address its old
// process still listens on (HAProxy's listeners do the same).
func reuseport(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		if serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		}
	})
	if err != nil {
		return err
	}
	return serr
}
