// Package sched is the IPVS schedulers (net/netfilter/ipvs/ip_vs_*.c) for
// halo's userspace LVS path: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, mh,
// sed, nq, fo, ovf, twos, choosing among the same destinations with the
// same weights and connection counts the kernel would use. Pick does not
// allocate: it runs once per new connection.
package sched

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Dest is one real server as the scheduler sees it.
type Dest struct {
	Addr       netip.AddrPort
	weight     atomic.Int32
	Active     atomic.Int32 // established connections (ActiveConn)
	Inactive   atomic.Int32 // other connections (InActConn; UDP flows)
	UThreshold int32        // 0 = none
	LThreshold int32
	overloaded atomic.Bool
}

// NewDest returns a destination with a weight.
func NewDest(a netip.AddrPort, w int) *Dest {
	d := &Dest{Addr: a}
	d.weight.Store(int32(w))
	return d
}

// Weight is the current weight; 0 takes no new connections.
func (d *Dest) Weight() int32 { return d.weight.Load() }

// SetWeight changes the weight (a checker's result, misc_dynamic).
func (d *Dest) SetWeight(w int) { d.weight.Store(int32(w)) }

// Conns is IPVS's overhead counter: active×256 + inactive.
func (d *Dest) overhead() int64 { return int64(d.Active.Load())<<8 + int64(d.Inactive.Load()) }

// Available reports whether d takes new connections: a weight above 0
// and under its upper threshold (uthreshold; it comes back below
// lthreshold, or below 3/4 of uthreshold when no lower one is set).
func (d *Dest) Available() bool {
	if d.weight.Load() <= 0 {
		return false
	}
	if d.UThreshold == 0 {
		return true
	}
	n := d.Active.Load() + d.Inactive.Load()
	if d.overloaded.Load() {
		lo := d.LThreshold
		if lo == 0 {
			lo = d.UThreshold * 3 / 4
		}
		if n < lo {
			d.overloaded.Store(false)
			return true
		}
		return false
	}
	if n >= d.UThreshold {
		d.overloaded.Store(true)
		return false
	}
	return true
}

// Scheduler chooses a destination for a new connection from src to dst
// (nil: none available).
type Scheduler interface {
	Pick(ds []*Dest, src, dst netip.AddrPort) *Dest
}

// Flags the sh and mh schedulers read (ipvsadm -b).
const (
	FlagFallback = 0x0008 // sh-fallback / mh-fallback (flag-1)
	FlagPort     = 0x0010 // sh-port / mh-port (flag-2)
)

// New returns the named scheduler.
func New(name string, flags uint32) (Scheduler, error) {
	switch name {
	case "rr":
		return &rr{}, nil
	case "wrr":
		return &wrr{}, nil
	case "lc":
		return lc{}, nil
	case "wlc":
		return wlc{}, nil
	case "sed":
		return sed{}, nil
	case "nq":
		return nq{}, nil
	case "lblc":
		return &lblc{table: map[netip.Addr]*Dest{}}, nil
	case "lblcr":
		return &lblcr{table: map[netip.Addr][]*Dest{}}, nil
	case "dh":
		return dh{}, nil
	case "sh":
		return sh{flags: flags}, nil
	case "mh":
		return &mh{flags: flags}, nil
	case "fo":
		return fo{}, nil
	case "ovf":
		return ovf{}, nil
	case "twos":
		return twos{}, nil
	}
	return nil, fmt.Errorf("unknown scheduler %q", name)
}

// rr: the next available destination after the last one chosen.
type rr struct{ next atomic.Uint32 }

func (s *rr) Pick(ds []*Dest, _, _ netip.AddrPort) *Dest {
	n := len(ds)
	if n == 0 {
		return nil
	}
	start := int(s.next.Add(1)-1) % n
	for i := 0; i < n; i++ {
		d := ds[(start+i)%n]
		if d.Available() {
			s.next.Store(uint32((start + i + 1) % n))
			return d
		}
	}
	return nil
}

// wrr is ip_vs_wrr.c: cycle the destinations, lowering the current weight
// by the gcd of the weights each full cycle, choosing those at or above it.
type wrr struct {
	mu sync.Mutex
	i  int
	cw int32
}

func gcd(a, b int32) int32 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (s *wrr) Pick(ds []*Dest, _, _ netip.AddrPort) *Dest {
	var g, mw int32
	for _, d := range ds {
		if w := d.Weight(); w > 0 {
			g = gcd(w, g)
			mw = max(mw, w)
		}
	}
	if mw == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(ds)
	for tries := 0; tries < 2*n*int(mw/g+1); tries++ {
		s.i = (s.i + 1) % n
		if s.i == 0 {
			s.cw -= g
			if s.cw <= 0 {
				s.cw = mw
			}
		}
		d := ds[s.i]
		if d.Weight() >= s.cw && d.Available() {
			return d
		}
	}
	return nil
}

// lc: the fewest connections (overhead), weight > 0.
type lc struct{}

func (lc) Pick(ds []*Dest, _, _ netip.AddrPort) *Dest {
	var best *Dest
	var bo int64
	for _, d := range ds {
		if !d.Available() {
			continue
		}
		if o := d.overhead(); best == nil || o < bo {
			best, bo = d, o
		}
	}
	return best
}

// wlc: the lowest overhead/weight (compared by cross-multiplying).
type wlc struct{}

func (wlc) Pick(ds []*Dest, _, _ netip.AddrPort) *Dest {
	return leastRatio(ds, func(d *Dest) int64 { return d.overhead() })
}

func leastRatio(ds []*Dest, cost func(*Dest) int64) *Dest {
	var best *Dest
	var bc, bw int64
	for _, d := range ds {
		if !d.Available() {
			continue
		}
		c, w := cost(d), int64(d.Weight())
		if best == nil || c*bw < bc*w {
			best, bc, bw = d, c, w
		}
	}
	return best
}

// sed: shortest expected delay, (active+1)/weight.
type sed struct{}

func (sed) Pick(ds []*Dest, _, _ netip.AddrPort) *Dest {
	return leastRatio(ds, func(d *Dest) int64 { return int64(d.Active.Load()) + 1 })
}

// nq: an idle destination if there is one, else sed.
type nq struct{}

func (nq) Pick(ds []*Dest, src, dst netip.AddrPort) *Dest {
	for _, d := range ds {
		if d.Available() && d.Active.Load() == 0 {
			return d
		}
	}
	return sed{}.Pick(ds, src, dst)
}

// hashAddr hashes an address (and port) for dh/sh/lblc tables.
func hashAddr(a netip.Addr, port uint16) uint32 {
	h := fnv.New32a()
	b := a.As16()
	_, _ = h.Write(b[:])
	if port != 0 {
		_, _ = h.Write([]byte{byte(port >> 8), byte(port)})
	}
	return h.Sum32()
}

// weighted returns the i-th destination of the weight-expanded list
// (each destination appears weight times), as the sh/dh bucket tables;
// like ip_vs_sh_reassign, a server at weight 0 keeps one bucket, so its
// sources are refused (or fall back) rather than moved.
func weighted(ds []*Dest, i uint32) *Dest {
	var total uint32
	for _, d := range ds {
		total += uint32(max(d.Weight(), 1))
	}
	if total == 0 {
		return nil
	}
	i %= total
	for _, d := range ds {
		w := uint32(max(d.Weight(), 1))
		if i < w {
			return d
		}
		i -= w
	}
	return nil
}

// dh: destination hashing (the virtual address here: one server per VIP).
type dh struct{}

func (dh) Pick(ds []*Dest, _, dst netip.AddrPort) *Dest {
	d := weighted(ds, hashAddr(dst.Addr(), 0))
	if d == nil || !d.Available() {
		return nil
	}
	return d
}

// sh: source hashing; sh-port adds the source port, sh-fallback moves on
// to the next available destination instead of failing.
type sh struct{ flags uint32 }

func (s sh) Pick(ds []*Dest, src, _ netip.AddrPort) *Dest {
	var port uint16
	if s.flags&FlagPort != 0 {
		port = src.Port()
	}
	h := hashAddr(src.Addr(), port)
	d := weighted(ds, h)
	if d != nil && d.Available() {
		return d
	}
	if s.flags&FlagFallback == 0 {
		return nil
	}
	for i := uint32(1); i < 256; i++ {
		if d := weighted(ds, h+i); d != nil && d.Available() {
			return d
		}
	}
	return nil
}

// mh: Maglev hashing over the source (consistent when servers change).
type mh struct {
	flags uint32
	mu    sync.Mutex
	key   []*Dest
	w     []int32
	table []int
}

const mhSize = 251

func (s *mh) build(ds []*Dest) {
	n := len(ds)
	s.key = append(s.key[:0], ds...)
	s.w = s.w[:0]
	for _, d := range ds {
		s.w = append(s.w, d.Weight())
	}
	s.table = make([]int, mhSize)
	for i := range s.table {
		s.table[i] = -1
	}
	if n == 0 {
		return
	}
	offset, skip, next := make([]uint32, n), make([]uint32, n), make([]uint32, n)
	var mw int32
	for i, d := range ds {
		b := d.Addr.Addr().As16()
		h1, h2 := fnv.New32a(), fnv.New32()
		_, _ = h1.Write(b[:])
		_, _ = h2.Write(b[:])
		offset[i] = h1.Sum32() % mhSize
		skip[i] = h2.Sum32()%(mhSize-1) + 1
		mw = max(mw, d.Weight())
	}
	if mw <= 0 {
		return
	}
	filled := 0
	for round := int32(1); filled < mhSize; round++ {
		for i, d := range ds {
			if d.Weight() < ((round-1)%mw)+1 {
				continue
			}
			for {
				c := (offset[i] + next[i]*skip[i]) % mhSize
				next[i]++
				if s.table[c] < 0 {
					s.table[c] = i
					filled++
					break
				}
			}
			if filled >= mhSize {
				break
			}
		}
	}
}

func (s *mh) Pick(ds []*Dest, src, _ netip.AddrPort) *Dest {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := len(ds) != len(s.key)
	for i := 0; !changed && i < len(ds); i++ {
		changed = ds[i] != s.key[i] || ds[i].Weight() != s.w[i]
	}
	if changed {
		s.build(ds)
	}
	var port uint16
	if s.flags&FlagPort != 0 {
		port = src.Port()
	}
	h := hashAddr(src.Addr(), port)
	for i := uint32(0); i < mhSize; i++ {
		j := s.table[(h+i)%mhSize]
		if j >= 0 && ds[j].Available() {
			return ds[j]
		}
		if s.flags&FlagFallback == 0 {
			return nil
		}
	}
	return nil
}

// lblc: locality-based least connection, keyed by the destination
// address: keep the server chosen for it unless it is overloaded (more
// active connections than its weight while another has under half its
// weight), else choose by wlc.
type lblc struct {
	mu    sync.Mutex
	table map[netip.Addr]*Dest
}

func overloaded(d *Dest, ds []*Dest) bool {
	if d.Active.Load() <= d.Weight() {
		return false
	}
	for _, o := range ds {
		if o.Available() && o.Active.Load()*2 < o.Weight() {
			return true
		}
	}
	return false
}

func (s *lblc) Pick(ds []*Dest, src, dst netip.AddrPort) *Dest {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := dst.Addr()
	if d := s.table[k]; d != nil && d.Available() && !overloaded(d, ds) && contains(ds, d) {
		return d
	}
	d := wlc{}.Pick(ds, src, dst)
	if d != nil {
		s.table[k] = d
	}
	return d
}

func contains(ds []*Dest, d *Dest) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// lblcr: lblc with a set of servers per destination address; the set
// grows with the least-loaded server when all its members are overloaded.
type lblcr struct {
	mu    sync.Mutex
	table map[netip.Addr][]*Dest
}

func (s *lblcr) Pick(ds []*Dest, src, dst netip.AddrPort) *Dest {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := dst.Addr()
	set := s.table[k][:0:0]
	for _, d := range s.table[k] {
		if contains(ds, d) {
			set = append(set, d)
		}
	}
	best := wlc{}.Pick(set, src, dst)
	if best == nil || overloaded(best, ds) {
		if d := (wlc{}).Pick(ds, src, dst); d != nil {
			if !contains(set, d) {
				set = append(set, d)
			}
			best = d
		}
	}
	s.table[k] = set
	return best
}

// fo: weighted failover, the available server with the highest weight.
type fo struct{}

func (fo) Pick(ds []*Dest, _, _ netip.AddrPort) *Dest {
	var best *Dest
	for _, d := range ds {
		if d.Available() && (best == nil || d.Weight() > best.Weight()) {
			best = d
		}
	}
	return best
}

// ovf: overflow-connection, the highest-weight server whose active
// connections are below its weight.
type ovf struct{}

func (ovf) Pick(ds []*Dest, _, _ netip.AddrPort) *Dest {
	var best *Dest
	for _, d := range ds {
		if d.Available() && d.Active.Load() < d.Weight() && (best == nil || d.Weight() > best.Weight()) {
			best = d
		}
	}
	return best
}

// twos: weighted random twos choice: two servers drawn by weight, the one
// with the lower overhead/weight wins.
type twos struct{}

func (twos) Pick(ds []*Dest, _, _ netip.AddrPort) *Dest {
	var total uint32
	for _, d := range ds {
		if d.Available() {
			total += uint32(d.Weight())
		}
	}
	if total == 0 {
		return nil
	}
	draw := func() *Dest {
		r := rand.Uint32N(total)
		for _, d := range ds {
			if !d.Available() {
				continue
			}
			if r < uint32(d.Weight()) {
				return d
			}
			r -= uint32(d.Weight())
		}
		return nil
	}
	a, b := draw(), draw()
	if a == nil || b == nil {
		return a
	}
	if int64(b.Active.Load())*int64(a.Weight()) < int64(a.Active.Load())*int64(b.Weight()) {
		return b
	}
	return a
}
