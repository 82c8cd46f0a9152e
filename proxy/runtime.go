package proxy

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"halo/proxy/evloop"
	"halo/proxy/sockxfer"

	"golang.org/x/sys/unix"
)

// Runtime executes a Config: it owns the listeners, the per-proxy and
// per-server state, and the connections.
type Runtime struct {
	Cfg *Config
	// Frontends are the proxies that accept connections (frontend, listen),
	// Backends those with servers (backend, listen), in config order.
	Frontends []*Frontend
	Backends  []*Backend

	modules  []Module
	backends map[*Proxy]*Backend
	byName   map[string]*Backend

	// Maxsock is the number of descriptors the process needs: two per
	// connection up to the global maxconn, and those kept aside (fdBudget).
	Maxsock int

	bufsize   int
	headLimit int
	// ActConn counts every client connection of the process (actconn).
	ActConn atomic.Int64
	// Idle server connections (attached to sessions or pooled) and their
	// budget: HAProxy's tune.pool-high-fd-ratio, 25 % of the descriptors.
	idleConns atomic.Int64
	idleMax   int64
	global    *slots // global maxconn (nil: unlimited)

	// The event loops (nbthread) serving every connection, and the
	// engine's state on each.
	group *evloop.Group
	loops []*loopState

	mu          sync.Mutex
	listeners   []*listener
	tlsBinds    []*tlsBind        // every ssl bind, for the certificate commands
	certs       certStore         // tlscli.go
	cas         caStore           // tlscafile.go
	inherited   []sockxfer.Socket // a previous process's sockets (handover.go)
	stopping    atomic.Bool
	hardStopped atomic.Bool
	started     atomic.Bool  // the loops run
	pauseHint   atomic.Bool  // a listener may be paused at maxconn
	nconns      atomic.Int64 // accepted client connections not yet ended
	done        chan struct{}
	stopOnce    sync.Once
	drainOnce   sync.Once
	memTrim     memTrim // returns memory after bursts (memtrim.go)
}

// Frontend is the runtime side of a proxy that accepts connections.
type Frontend struct {
	Proxy    *Proxy
	Counters Counters
	rt       *Runtime
	slots    *slots   // per-frontend maxconn (nil: unlimited)
	filters  []Filter // the proxy's filters (filter.go)
	// defaultBackend: default_backend, else the proxy itself for a
	// listen section (resolved once: no map lookup per request).
	defaultBackend *Backend
}

// Backend is the runtime side of a proxy with servers.
type Backend struct {
	Proxy *Proxy
	// servers is the list Servers returns; `add server` and `del
	// server` (dynamic.go) replace it, so readers never lock.
	servers  atomic.Pointer[[]*ServerState]
	slots    int        // ServerState.idx values handed out (never reused)
	dynMu    sync.Mutex // orders AddServer and DelServer
	Counters Counters
	Picker   Picker
	rt       *Runtime
	// states owns the servers' status and weight: the Picker when it
	// implements ServerStates, else the engine's own table.
	states ServerStates
	// mayQueue: a server has maxconn, so Pick may wait for a slot (then
	// off the event loop).
	mayQueue atomic.Bool
	filters  []Filter // the proxy's filters (filter.go)
}

// ServerState is one server's runtime state. Its status and weight have
// one owner, the backend's ServerStates (serverstate.go): the accessors
// below read from it and the setters go to it.
type ServerState struct {
	Server   *Server
	Backend  *Backend
	Counters Counters
	idx      int // slot in the backend's ServerStates tables (position in Servers until a `del server`)

	// Idle connections, per event loop (server.go).
	pools []idlePool

	tlsOnce sync.Once
	tlsConf *tls.Config
	tlsErr  error
	// tlsCommitted replaces tlsConf once `commit ssl cert` changed the
	// server's certificate (tlscli.go).
	tlsCommitted atomic.Pointer[tls.Config]
	h2pool       *h2Pool // HTTP/2 connections to the server (h2client.go)

	// cur is the address set at run time (DNS resolution, SRV records,
	// the runtime API) through the state owner (ApplyAddr); nil: the
	// configured one.
	cur atomic.Pointer[srvAddr]
}

// srvAddr is a server's address and port at run time (fqdn: the name it
// resolves, SRV targets change it).
type srvAddr struct {
	addr netip.Addr
	port int
	fqdn string
}

// Index is the server's position in its backend's Servers.
func (s *ServerState) Index() int { return s.idx }

// Name returns "backend/server".
func (s *ServerState) Name() string { return s.Backend.Proxy.Name + "/" + s.Server.Name }

// Addr returns the address to connect to; port 0 means the port the
// client connected to (server line without a port).
func (s *ServerState) Addr(dst netip.AddrPort) netip.AddrPort {
	a, p := s.CurrentAddr()
	port := uint16(p)
	if port == 0 {
		port = dst.Port()
	}
	return netip.AddrPortFrom(a, port)
}

// CurrentAddr is the server's address and port now: the configured ones
// until DNS or the runtime API changed them. An invalid address means
// the server has none (init-addr none, not resolved yet).
func (s *ServerState) CurrentAddr() (netip.Addr, int) {
	if c := s.cur.Load(); c != nil {
		return c.addr, c.port
	}
	return s.Server.Addr, s.Server.Port
}

// FQDN is the name the server resolves now ("" when none): its host
// name, or the target its SRV record gave it.
func (s *ServerState) FQDN() string {
	if c := s.cur.Load(); c != nil {
		return c.fqdn
	}
	if s.Server.Resolvers != "" && s.Server.SRV == "" {
		return s.Server.Host
	}
	return ""
}

// AddrChanged reports whether the address was ever set at run time.
func (s *ServerState) AddrChanged() bool { return s.cur.Load() != nil }

// SetAddr asks the state owner to change the server's address (see
// ServerStates.SetAddr).
func (s *ServerState) SetAddr(a netip.Addr, port int, fqdn, by string) {
	s.Backend.states.SetAddr(s.idx, a, port, fqdn, by)
}

// ApplyAddr is for the state owner: it makes the server's address a
// (port, fqdn) for the connections opened from now on; the idle ones to
// the old address are closed.
func (s *ServerState) ApplyAddr(a netip.Addr, port int, fqdn string) {
	old := s.cur.Swap(&srvAddr{addr: a, port: port, fqdn: fqdn})
	if old == nil || old.addr != a || old.port != port {
		s.closeIdle()
	}
}

// New builds the runtime state of cfg with the given modules (see doc.go).
// It does not open sockets.
func New(cfg *Config, modules ...Module) (*Runtime, error) {
	rt := &Runtime{
		Cfg:      cfg,
		modules:  modules,
		backends: map[*Proxy]*Backend{},
		byName:   map[string]*Backend{},
		done:     make(chan struct{}),
	}
	rt.bufsize = cfg.Global.TuneBufsize
	if rt.bufsize <= 0 {
		rt.bufsize = 16384
	}
	maxrw := cfg.Global.TuneMaxrewrite
	if maxrw <= 0 {
		maxrw = 1024
		if maxrw > rt.bufsize/2 {
			maxrw = rt.bufsize / 2
		}
	}
	rt.headLimit = rt.bufsize - maxrw
	rt.idleMax = 1024
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur/4 > 1024 {
		rt.idleMax = int64(rl.Cur / 4)
	}
	// Without `maxconn`, HAProxy derives it from the descriptor limit;
	// the connections then wait in the kernel backlog beyond it.
	if lim := fdLimit(); lim > 0 || cfg.Global.Maxconn > 0 {
		cfg.Global.Maxconn, rt.Maxsock = fdBudget(cfg, lim)
	}
	rt.global = newSlots(cfg.Global.Maxconn)
	for _, p := range cfg.Proxies {
		if p.Disabled {
			continue
		}
		if p.Cap&CapBE != 0 {
			b := &Backend{Proxy: p, rt: rt}
			var list []*ServerState
			for _, s := range p.Servers {
				ss := &ServerState{Server: s, Backend: b, idx: len(list)}
				if ss.h2Mode() {
					ss.h2pool = &h2Pool{}
				}
				if s.Maxconn > 0 {
					b.mayQueue.Store(true)
				}
				list = append(list, ss)
			}
			b.servers.Store(&list)
			b.slots = len(list)
			rt.Backends = append(rt.Backends, b)
			rt.backends[p] = b
			rt.byName[p.Name] = b
		}
		if p.Cap&CapFE != 0 {
			f := &Frontend{Proxy: p, rt: rt, slots: newSlots(p.Maxconn)}
			rt.Frontends = append(rt.Frontends, f)
		}
	}
	for _, b := range rt.Backends {
		for i := len(modules) - 1; i >= 0 && b.Picker == nil; i-- {
			if modules[i].NewPicker != nil {
				b.Picker = modules[i].NewPicker(b)
			}
		}
		if b.Picker == nil {
			b.Picker = NewRoundRobin(b)
		}
		if o, ok := b.Picker.(ServerStates); ok {
			b.states = o
		} else {
			b.states = newLocalStates(b.Servers())
		}
	}
	// Filters (filter.go): one set per proxy, shared by its two sides.
	for _, f := range rt.Frontends {
		fs, err := rt.buildFilters(f.Proxy)
		if err != nil {
			return nil, err
		}
		f.filters = fs
		if b := rt.backends[f.Proxy]; b != nil {
			b.filters = fs
		}
	}
	for _, b := range rt.Backends {
		if b.Proxy.Cap&CapFE == 0 {
			fs, err := rt.buildFilters(b.Proxy)
			if err != nil {
				return nil, err
			}
			b.filters = fs
		}
	}
	for _, f := range rt.Frontends {
		if p := f.Proxy.DefaultBackend; p != nil {
			f.defaultBackend = rt.backends[p]
		} else if f.Proxy.Cap&CapBE != 0 {
			f.defaultBackend = rt.backends[f.Proxy]
		}
	}
	// The event loops exist from here (what modules start in Init may
	// post to them); Start runs them.
	n := cfg.Global.Nbthread
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	g, err := evloop.NewGroup(n)
	if err != nil {
		return nil, fmt.Errorf("cannot create the event loops: %w", err)
	}
	rt.group = g
	for i := 0; i < g.Len(); i++ {
		ls := &loopState{l: g.Loop(i)}
		ls.initPools(rt.bufsize)
		rt.loops = append(rt.loops, ls)
	}
	for _, b := range rt.Backends {
		for _, s := range b.Servers() {
			s.pools = make([]idlePool, g.Len())
		}
	}
	return rt, nil
}

// Check runs every module's Check hook on cfg: what the runtime would
// refuse to start with, found without starting it.
func Check(cfg *Config, modules ...Module) error {
	for _, m := range modules {
		if m.Check == nil {
			continue
		}
		if err := m.Check(cfg); err != nil {
			return err
		}
	}
	return nil
}

// Backend returns the runtime backend of p (nil if p has no backend side).
func (rt *Runtime) Backend(p *Proxy) *Backend { return rt.backends[p] }

// BackendByName returns the backend named name (dynamic use_backend).
func (rt *Runtime) BackendByName(name string) *Backend { return rt.byName[name] }

// Start runs the modules' Init hooks, then opens every listener and starts
// accepting. On error nothing is left open.
func (rt *Runtime) Start() error {
	// Certificates load first: the runtime API (a module's stats socket)
	// may show them as soon as it answers.
	tlsOf := map[*Bind]*tlsBind{}
	for _, f := range rt.Frontends {
		for i := range f.Proxy.Binds {
			b := &f.Proxy.Binds[i]
			if !b.SSL {
				continue
			}
			t, err := newTLSBind(b, f.Proxy.Mode, rt.Cfg.Global.SSLLoadExtraDelExt, rt.readTLSFile)
			if err != nil {
				return &StartError{Msg: fmt.Sprintf("Proxy '%s': %v", f.Proxy.Name, err)}
			}
			tlsOf[b] = t
			rt.tlsBinds = append(rt.tlsBinds, t)
		}
	}
	for _, m := range rt.modules {
		if m.Init != nil {
			if err := m.Init(rt); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
		}
	}
	// nbthread: HAProxy runs that many threads; halo runs that many
	// event loops and as many scheduler processors (GOMAXPROCS follows).
	// Without it, one per CPU, as both do.
	if n := rt.Cfg.Global.Nbthread; n > 0 {
		runtime.GOMAXPROCS(n)
	}
	for _, b := range rt.Backends {
		for _, s := range b.Servers() {
			if s.Server.SSL {
				if _, err := s.tlsClientConfig(); err != nil {
					return &StartError{Msg: fmt.Sprintf("Proxy '%s', server '%s': %v", b.Proxy.Name, s.Server.Name, err)}
				}
			}
		}
	}
	g := rt.group
	rt.applyCPUMap()
	g.Start()
	rt.started.Store(true)
	for _, ls := range rt.loops {
		ls.l.Post(ls.startPurge(rt))
	}
	// Every socket is bound before any is served, as HAProxy does: a
	// connection accepted on one listener may go to another's address
	// (a server on this process's own unix socket).
	type bound struct {
		ln net.Listener
		l  *listener
	}
	var all []bound
	for _, f := range rt.Frontends {
		for i := range f.Proxy.Binds {
			b := &f.Proxy.Binds[i]
			ln, ok := rt.takeInherited(b) // a reload: the old process's socket
			var err error
			if !ok {
				ln, err = listen(b, f.Proxy)
			}
			if err != nil {
				for _, x := range all {
					x.ln.Close()
				}
				rt.closeListeners()
				rt.stopLoops()
				return &StartError{Msg: fmt.Sprintf("Starting %s %s: cannot bind socket (%v) [%s]",
					capName(f.Proxy), f.Proxy.Name, err, bindString(b))}
			}
			l := &listener{rt: rt, fe: f, bind: b, slots: newSlots(b.Maxconn)}
			l.tls = tlsOf[b]
			all = append(all, bound{ln, l})
		}
	}
	for k, x := range all {
		ln, l, f, b := x.ln, x.l, x.l.fe, x.l.bind
		el, err := rt.serve(ln, l)
		if err != nil {
			for _, y := range all[k:] {
				y.ln.Close()
			}
			rt.closeListeners()
			rt.stopLoops()
			return &StartError{Msg: fmt.Sprintf("Starting %s %s: cannot bind socket (%v) [%s]",
				capName(f.Proxy), f.Proxy.Name, err, bindString(b))}
		}
		rt.mu.Lock()
		l.el = el
		rt.listeners = append(rt.listeners, l)
		rt.mu.Unlock()
	}
	rt.closeInherited()
	return nil
}

// serve hands a listening socket to the event loops: they accept on it
// from now on. ln is closed (the loops keep a duplicate of its socket).
func (rt *Runtime) serve(ln net.Listener, l *listener) (*evloop.Listener, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("%T has no socket", ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.Dup(int(s)) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	unix.CloseOnExec(fd)
	// Go's listener is not accepting: closing it leaves the duplicate
	// listening (a unix socket path stays too).
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
	}
	ln.Close()
	el, err := rt.group.Listen(fd, l)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return el, nil
}

// stopLoops stops the event loops (not from one of them).
func (rt *Runtime) stopLoops() {
	if rt.group != nil {
		rt.group.Stop()
	}
}

// resumeListeners resumes listeners paused at maxconn, once a slot frees.
// A listener pauses after Admit said no, which leaves the hint; the loop
// that paused it checks again after pausing, so a slot freed in between
// is not missed.
func (rt *Runtime) resumeListeners() {
	if !rt.pauseHint.Load() {
		return
	}
	rt.pauseHint.Store(false)
	rt.mu.Lock()
	ls := rt.listeners
	rt.mu.Unlock()
	for _, l := range ls {
		if l.el != nil && l.el.Paused() {
			l.el.Resume()
		}
	}
}

// StartError is a start-up failure worded as HAProxy's alert.
type StartError struct{ Msg string }

func (e *StartError) Error() string { return e.Msg }

func capName(p *Proxy) string {
	switch p.Cap {
	case CapFE:
		return "frontend"
	case CapBE:
		return "backend"
	}
	return "proxy"
}

// Done is closed when the runtime has stopped.
func (rt *Runtime) Done() <-chan struct{} { return rt.done }

// Stopping reports whether a soft or hard stop has begun (the stopping
// sample fetch).
func (rt *Runtime) Stopping() bool { return rt.stopping.Load() }

// HardStopped reports a hard stop (SIGTERM): a soft stop's work (the
// peers' lesson to the new process) is skipped.
func (rt *Runtime) HardStopped() bool { return rt.hardStopped.Load() }

// SoftStop stops listening and lets established connections finish
// (SIGUSR1); Done is closed when the last one ends. An idle keep-alive
// client connection ends after its next answer ("connection: close") or
// at its keep-alive timeout, never under a request in flight.
func (rt *Runtime) SoftStop() {
	rt.stopping.Store(true)
	rt.closeListeners()
	rt.stopConns(false)
	if rt.nconns.Load() == 0 {
		rt.drained()
	}
}

// HardStop closes every listener and connection at once (SIGTERM).
func (rt *Runtime) HardStop() {
	rt.stopping.Store(true)
	rt.hardStopped.Store(true)
	rt.closeListeners()
	rt.stopConns(true)
	rt.finish()
}

// stopConns stops the connections of every loop and waits until each
// loop has done it.
func (rt *Runtime) stopConns(hard bool) {
	if !rt.started.Load() {
		return
	}
	var wg sync.WaitGroup
	for _, ls := range rt.loops {
		wg.Add(1)
		ls.l.Post(func() {
			ls.stopAll(hard)
			wg.Done()
		})
	}
	wg.Wait()
}

// drained is called once the last connection of a soft stop has ended
// (maybe on a loop: the stop itself runs on its own goroutine).
func (rt *Runtime) drained() {
	rt.drainOnce.Do(func() { go rt.finish() })
}

func (rt *Runtime) finish() {
	rt.stopOnce.Do(func() {
		for _, m := range rt.modules {
			if m.Stop != nil {
				m.Stop()
			}
		}
		for _, b := range rt.Backends {
			for _, s := range b.Servers() {
				s.closeIdle()
			}
		}
		// The loops close what is left (idle server connections) and
		// wait for their tasks to unwind.
		rt.stopLoops()
		close(rt.done)
	})
}

func (rt *Runtime) closeListeners() {
	rt.mu.Lock()
	ls := rt.listeners
	rt.listeners = nil
	rt.mu.Unlock()
	for _, l := range ls {
		if l.el != nil {
			l.el.Close()
			<-l.el.Gone()
		}
	}
}

// startPurge returns the loop's periodic purge of idle server
// connections older than HAProxy's default pool-purge-delay (5 s).
func (ls *loopState) startPurge(rt *Runtime) func() {
	return func() {
		ls.purge = purgeTimer{ls: ls, rt: rt}
		ls.purge.arm()
	}
}

type purgeTimer struct {
	evloop.Timer
	ls    *loopState
	rt    *Runtime
	ticks int
}

func (p *purgeTimer) arm() { p.ls.l.AddTimer(&p.Timer, p, time.Second) }

// Expire purges the loop's idle server connections and trims its free
// lists.
func (p *purgeTimer) Expire(*evloop.Timer) {
	p.ls.trim()
	p.ticks++
	if p.ls.l.ID() == 0 {
		p.rt.memTrim.tick(p.ls.l.Now(), p.rt.nconns.Load())
	}
	before := p.ls.l.Now().Add(-5 * time.Second)
	for _, b := range p.rt.Backends {
		for _, s := range b.Servers() {
			s.purgeIdleOn(p.ls.l, before)
			if p.ls.l.ID() == 0 {
				s.h2Purge(before)
			}
			if p.ticks%5 == 0 {
				s.pool(p.ls.l).estimate()
			}
		}
	}
	p.arm()
}

// applyCPUMap binds loop i to the CPUs cpu-map gives thread i+1; when
// every loop is bound, the process's other threads (Go's garbage
// collector, timers, offloaded work) are bound to their union, as all of
// HAProxy's threads would be.
func (rt *Runtime) applyCPUMap() {
	m := rt.Cfg.Global.CPUMap
	all := rt.group.Len() > 0
	var union []int
	seen := map[int]bool{}
	for i := 0; i < rt.group.Len(); i++ {
		if i >= len(m) || len(m[i]) == 0 {
			all = false
			continue
		}
		rt.group.SetCPUs(i, m[i])
		for _, c := range m[i] {
			if !seen[c] {
				seen[c] = true
				union = append(union, c)
			}
		}
	}
	if all {
		_ = evloop.BindProcess(union)
	}
}
