// Package l4 is halo's userspace LVS data path, for hosts whose kernel has
// no IPVS (containers, this machine): each lb_kind NAT virtual service is a
// socket on the virtual address (bound with IP_FREEBIND, so it can listen
// before VRRP brings the address up) and a forwarder to the real servers,
// scheduled by package sched with the kernel's algorithms, weights,
// thresholds and persistence.
//
// TCP is forwarded by a lean splice(2) loop between the two sockets
// (io.Copy between *net.TCPConn); proxy/'s mode tcp tunnel is not used
// because it is bound to HAProxy's transaction, logging and timeout
// semantics (and unexported), none of which IPVS has. UDP keeps one
// upstream socket per client, expired after the UDP timeout (300s, or
// lvs_timeouts udp), or schedules every datagram with ops.
//
// What differs from IPVS, said at -t and in the log: the real server sees
// this host's address as the source (a proxy, not a packet rewriter), so
// DR and TUN services are proxied the same way; fwmark services and SCTP
// need the kernel and are not served.
package l4

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"halo/lvs"
	"halo/lvs/sched"
)

// Path is the userspace data path.
type Path struct {
	Logf       func(format string, args ...any)
	UDPTimeout time.Duration // default 300s
	// DialTimeout bounds the connection to a real server (IPVS has none;
	// the client's own SYN retries do that job).
	DialTimeout time.Duration

	mu       sync.Mutex
	services map[string]*service
}

var _ lvs.DataPath = (*Path)(nil)

// New returns an empty userspace data path.
func New(logf func(string, ...any)) *Path {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Path{Logf: logf, UDPTimeout: 300 * time.Second, DialTimeout: 5 * time.Second, services: map[string]*service{}}
}

// Name says which data path runs.
func (p *Path) Name() string { return "userspace" }

type service struct {
	p   *Path
	cfg lvs.Service // the address and protocol: fixed for the socket's life
	// sp is what EditService may change under running connections: the
	// scheduler and the persistence settings.
	sp    atomic.Pointer[schedParams]
	dests atomic.Pointer[[]*sched.Dest]
	ctx   context.Context
	stop  context.CancelFunc
	ln    *net.TCPListener
	uc    *net.UDPConn
	wg    sync.WaitGroup

	pmu     sync.Mutex
	persist map[netip.Addr]*persistEntry
	flows   sync.Map // client AddrPort → *udpFlow
}

type schedParams struct {
	sched   sched.Scheduler
	timeout uint32
	netmask netip.Addr
	flags   uint32
}

type persistEntry struct {
	d       *sched.Dest
	expires time.Time
}

func key(s *lvs.Service) string { return s.String() }

// AddService opens the virtual service's socket and starts serving it.
func (p *Path) AddService(s *lvs.Service) error {
	if s.FWMark != 0 {
		return fmt.Errorf("fwmark services need the kernel's IPVS (a packet mark is invisible to a userspace proxy): %s is not served", s)
	}
	if s.Proto == lvs.ProtoSCTP {
		return fmt.Errorf("SCTP services need the kernel's IPVS: %s is not served", s)
	}
	sc, err := sched.New(s.Sched, s.Flags)
	if err != nil {
		return err
	}
	if s.Method != lvs.NAT {
		p.Logf("WARNING: virtual server %s uses %s forwarding, which needs the kernel's IPVS; halo proxies it in userspace as NAT (the real servers see this host as the client and reply through it)", s, s.Method)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sv := &service{p: p, cfg: *s, ctx: ctx, stop: cancel, persist: map[netip.Addr]*persistEntry{}}
	sv.sp.Store(&schedParams{sched: sc, timeout: s.Timeout, netmask: s.Netmask, flags: s.Flags})
	empty := []*sched.Dest{}
	sv.dests.Store(&empty)
	lc := net.ListenConfig{Control: freebind}
	switch s.Proto {
	case lvs.ProtoUDP:
		c, err := lc.ListenPacket(ctx, "udp", s.Addr.String())
		if err != nil {
			cancel()
			return err
		}
		sv.uc = c.(*net.UDPConn)
		sv.wg.Add(1)
		go sv.serveUDP()
	default:
		l, err := lc.Listen(ctx, "tcp", s.Addr.String())
		if err != nil {
			cancel()
			return err
		}
		sv.ln = l.(*net.TCPListener)
		sv.wg.Add(1)
		go sv.serveTCP()
	}
	p.mu.Lock()
	if old := p.services[key(s)]; old != nil {
		old.close()
	}
	p.services[key(s)] = sv
	p.mu.Unlock()
	return nil
}

// freebind lets the service listen on a virtual address VRRP has not
// brought up yet (IP_FREEBIND, as the kernel's IPVS needs no local
// address either), and reuse it across restarts.
func freebind(network, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		if network == "tcp6" || network == "udp6" {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_IPV6, 78 /* IPV6_FREEBIND */, 1)
			if serr != nil {
				serr = nil // older kernels: IP_FREEBIND covers v6 sockets too
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_IP, syscall.IP_FREEBIND, 1)
			}
			return
		}
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_IP, syscall.IP_FREEBIND, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

func (p *Path) get(s *lvs.Service) (*service, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sv := p.services[key(s)]
	if sv == nil {
		return nil, fmt.Errorf("no service %s", s)
	}
	return sv, nil
}

// DelService stops serving and closes the socket; connections in flight
// are closed too, as IPVS drops a deleted service's connections.
func (p *Path) DelService(s *lvs.Service) error {
	p.mu.Lock()
	sv := p.services[key(s)]
	delete(p.services, key(s))
	p.mu.Unlock()
	if sv == nil {
		return fmt.Errorf("no service %s", s)
	}
	sv.close()
	return nil
}

func (sv *service) close() {
	sv.stop()
	if sv.ln != nil {
		sv.ln.Close()
	}
	if sv.uc != nil {
		sv.uc.Close()
	}
	sv.wg.Wait()
}

// EditService changes the scheduler and persistence of a running service;
// its socket, real servers and connections stay, as with ipvsadm -E. A
// changed persistence forgets the clients' servers (IPVS keeps its
// templates until they expire; a proxy has no other handle on them).
func (p *Path) EditService(s *lvs.Service) error {
	sv, err := p.get(s)
	if err != nil {
		return err
	}
	sc, err := sched.New(s.Sched, s.Flags)
	if err != nil {
		return err
	}
	old := sv.sp.Load()
	sv.sp.Store(&schedParams{sched: sc, timeout: s.Timeout, netmask: s.Netmask, flags: s.Flags})
	if old.timeout != s.Timeout || old.netmask != s.Netmask {
		sv.pmu.Lock()
		clear(sv.persist)
		sv.pmu.Unlock()
	}
	return nil
}

// AddDest puts a real server in the service.
func (p *Path) AddDest(s *lvs.Service, d lvs.Dest) error {
	sv, err := p.get(s)
	if err != nil {
		return err
	}
	sv.pmu.Lock()
	defer sv.pmu.Unlock()
	cur := *sv.dests.Load()
	for _, x := range cur {
		if x.Addr == d.Addr {
			return errors.New("destination already exists")
		}
	}
	nd := sched.NewDest(d.Addr, d.Weight)
	nd.UThreshold, nd.LThreshold = int32(d.UThreshold), int32(d.LThreshold)
	next := append(append([]*sched.Dest(nil), cur...), nd)
	sv.dests.Store(&next)
	return nil
}

// EditDest changes a real server's weight (0: no new connections).
func (p *Path) EditDest(s *lvs.Service, d lvs.Dest) error {
	sv, err := p.get(s)
	if err != nil {
		return err
	}
	for _, x := range *sv.dests.Load() {
		if x.Addr == d.Addr {
			x.SetWeight(d.Weight)
			return nil
		}
	}
	return errors.New("no such destination")
}

// DelDest removes a real server; its connections in flight go on, as
// with IPVS.
func (p *Path) DelDest(s *lvs.Service, d lvs.Dest) error {
	sv, err := p.get(s)
	if err != nil {
		return err
	}
	sv.pmu.Lock()
	defer sv.pmu.Unlock()
	cur := *sv.dests.Load()
	next := make([]*sched.Dest, 0, len(cur))
	found := false
	for _, x := range cur {
		if x.Addr == d.Addr {
			found = true
			continue
		}
		next = append(next, x)
	}
	if !found {
		return errors.New("no such destination")
	}
	sv.dests.Store(&next)
	return nil
}

// Flush removes every service.
func (p *Path) Flush() error {
	p.mu.Lock()
	all := p.services
	p.services = map[string]*service{}
	p.mu.Unlock()
	for _, sv := range all {
		sv.close()
	}
	return nil
}

// Close is Flush.
func (p *Path) Close() error { return p.Flush() }

// Dests lists a service's real servers and weights (tests, dumps).
func (p *Path) Dests(s *lvs.Service) map[netip.AddrPort]int {
	sv, err := p.get(s)
	if err != nil {
		return nil
	}
	out := map[netip.AddrPort]int{}
	for _, d := range *sv.dests.Load() {
		out[d.Addr] = int(d.Weight())
	}
	return out
}

// pick chooses the real server for a new connection from src, honouring
// persistence (persistence_timeout, persistence_granularity): a client
// (masked) keeps its server while the entry lives, even at weight 0, as
// IPVS's templates do; a removed server is chosen again.
func (sv *service) pick(src netip.AddrPort) *sched.Dest {
	ds := *sv.dests.Load()
	dst := sv.cfg.Addr
	sp := sv.sp.Load()
	if sp.timeout == 0 {
		return sp.sched.Pick(ds, src, dst)
	}
	k := persistKey(sp.netmask, src.Addr())
	now := time.Now()
	ttl := time.Duration(sp.timeout) * time.Second
	sv.pmu.Lock()
	defer sv.pmu.Unlock()
	if e := sv.persist[k]; e != nil && now.Before(e.expires) {
		for _, d := range ds {
			if d == e.d {
				e.expires = now.Add(ttl)
				return d
			}
		}
	}
	d := sp.sched.Pick(ds, src, dst)
	if d != nil {
		sv.persist[k] = &persistEntry{d: d, expires: now.Add(ttl)}
		if len(sv.persist) > 4096 {
			for k, e := range sv.persist {
				if now.After(e.expires) {
					delete(sv.persist, k)
				}
			}
		}
	}
	return d
}

// persistKey masks the client address with persistence_granularity.
func persistKey(m, a netip.Addr) netip.Addr {
	if !m.IsValid() {
		return a
	}
	if a.Is4() && m.Is4() {
		ab, mb := a.As4(), m.As4()
		for i := range ab {
			ab[i] &= mb[i]
		}
		return netip.AddrFrom4(ab)
	}
	return a
}

// ---- TCP ----

func (sv *service) serveTCP() {
	defer sv.wg.Done()
	for {
		c, err := sv.ln.AcceptTCP()
		if err != nil {
			if sv.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and friends
			continue
		}
		sv.wg.Add(1)
		go sv.forwardTCP(c)
	}
}

func (sv *service) forwardTCP(c *net.TCPConn) {
	defer sv.wg.Done()
	src, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	d := sv.pick(src)
	if d == nil {
		// no real server: IPVS drops the SYN; a proxy can only reset
		_ = c.SetLinger(0)
		c.Close()
		return
	}
	d.Active.Add(1)
	defer d.Active.Add(-1)
	dl := net.Dialer{Timeout: sv.p.DialTimeout}
	uc, err := dl.DialContext(sv.ctx, "tcp", d.Addr.String())
	if err != nil {
		_ = c.SetLinger(0)
		c.Close()
		return
	}
	u := uc.(*net.TCPConn)
	done := make(chan struct{})
	go func() {
		splice(u, c)
		close(done)
	}()
	stop := context.AfterFunc(sv.ctx, func() { c.Close(); u.Close() })
	splice(c, u)
	<-done
	stop()
	c.Close()
	u.Close()
}

// splice copies src to dst until EOF (io.Copy between two *net.TCPConn
// is splice(2) on Linux), then half-closes dst so the other side sees the
// end while its own direction goes on.
func splice(dst, src *net.TCPConn) {
	if _, err := io.Copy(dst, src); err != nil {
		// a reset on one side ends both, as the kernel would
		_ = dst.SetLinger(0)
		dst.Close()
		src.Close()
		return
	}
	_ = dst.CloseWrite()
}

// ---- UDP ----

type udpFlow struct {
	up   *net.UDPConn
	d    *sched.Dest
	last atomic.Int64
}

func (sv *service) serveUDP() {
	defer sv.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, src, err := sv.uc.ReadFromUDPAddrPort(buf)
		ops := sv.sp.Load().flags&lvs.FlagOnePacket != 0
		if err != nil {
			if sv.ctx.Err() != nil {
				sv.flows.Range(func(k, v any) bool { v.(*udpFlow).up.Close(); return true })
				return
			}
			continue
		}
		var f *udpFlow
		if v, ok := sv.flows.Load(src); ok && !ops {
			f = v.(*udpFlow)
		} else {
			d := sv.pick(src)
			if d == nil {
				continue
			}
			up, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(d.Addr))
			if err != nil {
				continue
			}
			f = &udpFlow{up: up, d: d}
			d.Inactive.Add(1)
			if !ops {
				sv.flows.Store(src, f)
			}
			sv.wg.Add(1)
			go sv.udpReplies(src, f, ops)
		}
		f.last.Store(time.Now().UnixNano())
		_, _ = f.up.Write(buf[:n])
	}
}

// udpReplies sends the real server's datagrams back to the client from
// the virtual address until the flow is idle for the UDP timeout (one
// reply window with ops).
func (sv *service) udpReplies(client netip.AddrPort, f *udpFlow, ops bool) {
	defer sv.wg.Done()
	defer func() {
		f.up.Close()
		f.d.Inactive.Add(-1)
		sv.flows.CompareAndDelete(client, f)
	}()
	buf := make([]byte, 65535)
	to := sv.p.UDPTimeout
	for {
		_ = f.up.SetReadDeadline(time.Now().Add(to))
		n, err := f.up.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !ops && time.Since(time.Unix(0, f.last.Load())) < to && sv.ctx.Err() == nil {
				continue
			}
			return
		}
		f.last.Store(time.Now().UnixNano())
		if _, err := sv.uc.WriteToUDPAddrPort(buf[:n], client); err != nil {
			return
		}
	}
}
