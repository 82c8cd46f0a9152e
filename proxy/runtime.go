package proxy

import (
	"crypto/tls"
	"fmt"
	"halo/proxy/rawtcp"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
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
	global    chan struct{} // global maxconn slots (nil: unlimited)

	mu        sync.Mutex
	listeners []*listener
	stopping  atomic.Bool
	conns     sync.WaitGroup
	live      map[net.Conn]*connState
	done      chan struct{}
	stopOnce  sync.Once
	// Parked connection workers (listener.go) and their handoff channel.
	jobs        chan connJob
	idleWorkers atomic.Int32
}

// Frontend is the runtime side of a proxy that accepts connections.
type Frontend struct {
	Proxy    *Proxy
	Counters Counters
	rt       *Runtime
	slots    chan struct{} // per-frontend maxconn (nil: unlimited)
}

// Backend is the runtime side of a proxy with servers.
type Backend struct {
	Proxy    *Proxy
	Servers  []*ServerState
	Counters Counters
	Picker   Picker
	rt       *Runtime
	// states owns the servers' status and weight: the Picker when it
	// implements ServerStates, else the engine's own table.
	states ServerStates
}

// ServerState is one server's runtime state. Its status and weight have
// one owner, the backend's ServerStates (serverstate.go): the accessors
// below read from it and the setters go to it.
type ServerState struct {
	Server   *Server
	Backend  *Backend
	Counters Counters
	idx      int // position in Backend.Servers

	idleMu sync.Mutex
	idle   []*serverConn

	tlsOnce sync.Once
	tlsConf *tls.Config
	tlsErr  error
}

// Index is the server's position in its backend's Servers.
func (s *ServerState) Index() int { return s.idx }

// Name returns "backend/server".
func (s *ServerState) Name() string { return s.Backend.Proxy.Name + "/" + s.Server.Name }

// Addr returns the address to connect to; port 0 means the port the
// client connected to (server line without a port).
func (s *ServerState) Addr(dst netip.AddrPort) netip.AddrPort {
	port := uint16(s.Server.Port)
	if port == 0 {
		port = dst.Port()
	}
	return netip.AddrPortFrom(s.Server.Addr, port)
}

// New builds the runtime state of cfg with the given modules (see doc.go).
// It does not open sockets.
func New(cfg *Config, modules ...Module) (*Runtime, error) {
	rt := &Runtime{
		Cfg:      cfg,
		modules:  modules,
		backends: map[*Proxy]*Backend{},
		byName:   map[string]*Backend{},
		live:     map[net.Conn]*connState{},
		done:     make(chan struct{}),
		jobs:     make(chan connJob),
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
	if cfg.Global.Maxconn > 0 {
		rt.global = make(chan struct{}, cfg.Global.Maxconn)
	}
	for _, p := range cfg.Proxies {
		if p.Disabled {
			continue
		}
		if p.Cap&CapBE != 0 {
			b := &Backend{Proxy: p, rt: rt}
			for _, s := range p.Servers {
				ss := &ServerState{Server: s, Backend: b, idx: len(b.Servers)}
				b.Servers = append(b.Servers, ss)
			}
			rt.Backends = append(rt.Backends, b)
			rt.backends[p] = b
			rt.byName[p.Name] = b
		}
		if p.Cap&CapFE != 0 {
			f := &Frontend{Proxy: p, rt: rt}
			if p.Maxconn > 0 {
				f.slots = make(chan struct{}, p.Maxconn)
			}
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
			b.states = newLocalStates(b.Servers)
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
	for _, m := range rt.modules {
		if m.Init != nil {
			if err := m.Init(rt); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
		}
	}
	// nbthread: HAProxy runs that many threads; here it bounds the Go
	// scheduler's processors (without it, one per CPU, as both do).
	// Fewer processors also mean fewer thread hand-offs per connection.
	if n := rt.Cfg.Global.Nbthread; n > 0 {
		runtime.GOMAXPROCS(n)
	}
	for _, b := range rt.Backends {
		for _, s := range b.Servers {
			if s.Server.SSL {
				if _, err := s.tlsClientConfig(); err != nil {
					return &StartError{Msg: fmt.Sprintf("Proxy '%s', server '%s': %v", b.Proxy.Name, s.Server.Name, err)}
				}
			}
		}
	}
	go rt.reapIdle()
	for _, f := range rt.Frontends {
		for i := range f.Proxy.Binds {
			b := &f.Proxy.Binds[i]
			ln, err := listen(b, f.Proxy)
			if err != nil {
				rt.closeListeners()
				return &StartError{Msg: fmt.Sprintf("Starting %s %s: cannot bind socket (%v) [%s]",
					capName(f.Proxy), f.Proxy.Name, err, bindString(b))}
			}
			l := &listener{ln: ln, fe: f, bind: b}
			if b.SSL {
				if l.tls, err = newTLSBind(b, f.Proxy.Mode); err != nil {
					ln.Close()
					rt.closeListeners()
					return &StartError{Msg: fmt.Sprintf("Proxy '%s': %v", f.Proxy.Name, err)}
				}
			}
			if b.Maxconn > 0 {
				l.slots = make(chan struct{}, b.Maxconn)
			}
			// Plain HTTP clients get raw sockets (see proxy/rawtcp); TLS
			// and mode tcp keep *net.TCPConn (crypto/tls, splice).
			if tl, ok := ln.(*net.TCPListener); ok && l.tls == nil && f.Proxy.Mode == ModeHTTP {
				if raw, err := rawtcp.NewListener(tl); err == nil {
					l.ln, l.raw = raw, raw
				}
			}
			rt.listeners = append(rt.listeners, l)
		}
	}
	for _, l := range rt.listeners {
		go rt.acceptLoop(l)
	}
	return nil
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

// SoftStop stops listening and lets established connections finish
// (SIGUSR1); Done is closed when the last one ends. Idle keep-alive client
// connections are closed at their next request boundary.
func (rt *Runtime) SoftStop() {
	rt.stopping.Store(true)
	rt.closeListeners()
	rt.mu.Lock()
	for c, st := range rt.live {
		// Close connections idle between requests; busy ones notice
		// rt.stopping when their transaction ends.
		if st.idle.Load() {
			c.Close()
		}
	}
	rt.mu.Unlock()
	go func() {
		rt.conns.Wait()
		rt.finish()
	}()
}

// HardStop closes every listener and connection at once (SIGTERM).
func (rt *Runtime) HardStop() {
	rt.stopping.Store(true)
	rt.closeListeners()
	rt.mu.Lock()
	for c := range rt.live {
		c.Close()
	}
	rt.mu.Unlock()
	rt.finish()
}

func (rt *Runtime) finish() {
	rt.stopOnce.Do(func() {
		for _, m := range rt.modules {
			if m.Stop != nil {
				m.Stop()
			}
		}
		for _, b := range rt.Backends {
			for _, s := range b.Servers {
				s.closeIdle()
			}
		}
		close(rt.done)
	})
}

func (rt *Runtime) closeListeners() {
	rt.mu.Lock()
	ls := rt.listeners
	rt.listeners = nil
	rt.mu.Unlock()
	for _, l := range ls {
		l.ln.Close()
	}
}

// connState is what a soft stop needs to know about a live connection.
type connState struct {
	idle atomic.Bool // between two HTTP requests
}

func (rt *Runtime) track(c net.Conn, st *connState) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.stopping.Load() && len(rt.listeners) == 0 {
		// Accepted just before the listener closed: still serve it on a
		// soft stop, refuse on a hard stop (done already closed).
		select {
		case <-rt.done:
			return false
		default:
		}
	}
	rt.live[c] = st
	rt.conns.Add(1)
	return true
}

func (rt *Runtime) untrack(c net.Conn) {
	rt.mu.Lock()
	delete(rt.live, c)
	rt.mu.Unlock()
	rt.conns.Done()
}

// reapIdle closes server connections idle for longer than HAProxy's
// default pool-purge-delay (5 s).
func (rt *Runtime) reapIdle() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-rt.done:
			return
		case now := <-t.C:
			for _, b := range rt.Backends {
				for _, s := range b.Servers {
					s.purgeIdle(now.Add(-5 * time.Second))
				}
			}
		}
	}
}
