package balance

// fwrr is HAProxy's "fast weighted round robin" (lb_fwrr.c), reproduced
// step for step so that the sequence of servers is the one HAProxy produces:
// each group (active, backup) has an "init" tree of servers sorted by
// decreasing weight, a "current" tree sorted by next position, and a "next"
// tree for servers whose next position falls past the current window.

const (
	weightScale = 16  // BE_WEIGHT_SCALE
	uwghtRange  = 256 // SRV_UWGHT_RANGE
	ewghtMax    = 256 * weightScale
	ewghtRange  = 256 * weightScale
)

type fwrrGroup struct {
	curr       keyTree
	t0, t1     keyTree
	init, next *keyTree
	currPos    int
	currWeight int
	nextWeight int
}

type fwrr struct {
	b        *Backend
	act, bck fwrrGroup
	full     []*Server // scratch: saturated servers during one pick
}

func (f *fwrr) grp(s *Server) *fwrrGroup {
	if s.Backup {
		return &f.bck
	}
	return &f.act
}

func (f *fwrr) init() {
	b := f.b
	b.initDynamicWeights()
	for _, g := range []*fwrrGroup{&f.act, &f.bck} {
		w := b.totWact
		if g == &f.bck {
			w = b.totWbck
		}
		g.currPos, g.currWeight, g.nextWeight = w, w, w
		g.init, g.next = &g.t0, &g.t1
	}
	for _, s := range b.servers {
		if s.curUsable() {
			f.queueByWeight(f.grp(s).init, s)
		}
	}
}

func (f *fwrr) dequeue(s *Server) {
	if s.inTree {
		s.lbTree.removeKey(s.lbKey, s, 0)
		s.inTree = false
	}
}

func (f *fwrr) insert(t *keyTree, key uint32, s *Server) {
	s.lbKey = key
	t.insert(key, s, 0)
	s.lbTree = t
	s.inTree = true
}

// queueByWeight sorts heavy servers first for a smooth distribution.
func (f *fwrr) queueByWeight(t *keyTree, s *Server) {
	f.insert(t, uint32(ewghtMax-s.nextEwght), s)
}

// queueSrv places s by its next position: in the current tree, or in the
// next one if it falls outside the (theoretical new) window.
func (f *fwrr) queueSrv(s *Server) {
	g := f.grp(s)
	switch {
	case !s.willUsable():
		s.lbTree = nil
	case s.nextEwght <= 0 || s.npos >= 2*g.currWeight || s.npos >= g.currWeight+g.nextWeight:
		s.npos -= g.currWeight
		f.queueByWeight(g.next, s)
	default:
		key := uint32(uwghtRange*s.npos) + uint32(ewghtMax+s.rweight-s.nextEwght)/weightScale
		f.insert(&g.curr, key, s)
	}
}

// getSrv prepares s when it is extracted from its tree.
func (f *fwrr) getSrv(s *Server) {
	g := f.grp(s)
	switch s.lbTree {
	case g.init:
		s.npos, s.rweight = 0, 0
	case g.next:
		s.npos += g.currWeight
	case nil:
		s.npos = g.currPos
	}
}

func (g *fwrrGroup) switchTrees() {
	g.init, g.next = g.next, g.init
	g.currWeight = g.nextWeight
	g.currPos = g.currWeight
}

func (f *fwrr) fromGroup(g *fwrrGroup) *Server {
	var s1 *Server
	if e := g.curr.first(); e != nil {
		s1 = e.srv
		if s1.curEweight > 0 && s1.npos <= g.currPos {
			return s1
		}
	}
	// A hole, or nothing left: a server from the init tree may fill it.
	if e := g.init.first(); e != nil {
		s2 := e.srv
		if s2.curEweight > 0 {
			s2.npos, s2.rweight = 0, 0
			return s2
		}
	}
	return s1
}

func (g *fwrrGroup) updatePosition(s *Server) {
	ew := s.curEweight
	if ew == 0 {
		return
	}
	if s.npos == 0 {
		s.npos = g.currPos
	}
	s.lpos = s.npos
	s.npos += g.nextWeight / ew
	s.rweight += g.nextWeight % ew
	if s.rweight >= ew {
		s.rweight -= ew
		s.npos++
	}
}

func (f *fwrr) next(avoid *Server) *Server {
	b := f.b
	var g *fwrrGroup
	switch {
	case b.srvAct > 0:
		g = &f.act
	case b.fbck != nil:
		return b.fbck
	case b.srvBck > 0:
		g = &f.bck
	default:
		return nil
	}
	now := b.now()
	switched := false
	var avoided, srv *Server
	full := f.full[:0]
	for {
		if g.currWeight == 0 {
			g.currPos, g.currWeight = g.nextWeight, g.nextWeight
		}
		for {
			srv = f.fromGroup(g)
			if srv != nil {
				break
			}
			if switched {
				if avoided != nil {
					srv = avoided
					goto take
				}
				goto requeue
			}
			switched = true
			g.switchTrees()
		}
		g.updatePosition(srv)
		f.dequeue(srv)
		g.currPos++
		if srv.hasRoom(now) {
			if srv != avoid || avoided != nil {
				break
			}
			avoided = srv
		}
		full = append(full, srv)
	}
take:
	f.queueSrv(srv)
requeue:
	// HAProxy chains saturated servers LIFO; requeue them in that order.
	for i := len(full) - 1; i >= 0; i-- {
		x := full[i]
		if x == srv {
			continue
		}
		if switched {
			f.queueByWeight(g.init, x)
		} else {
			f.queueSrv(x)
		}
	}
	f.full = full[:0]
	return srv
}

func (f *fwrr) up(s *Server) {
	g := f.grp(s)
	g.nextWeight += s.nextEwght
	f.getSrv(s)
	s.npos = g.currPos + (g.nextWeight+g.currWeight-g.currPos)/s.nextEwght
	f.queueSrv(s)
}

func (f *fwrr) down(s *Server) {
	g := f.grp(s)
	g.nextWeight -= s.curEweight
	f.dequeue(s)
	s.lbTree = nil
}

func (f *fwrr) reweight(s *Server) {
	g := f.grp(s)
	g.nextWeight = g.nextWeight - s.curEweight + s.nextEwght
	switch {
	case s.lbTree == g.init:
		f.dequeue(s)
		f.queueByWeight(g.init, s)
	case s.lbTree == nil:
		f.dequeue(s)
		f.getSrv(s)
		s.npos = g.currPos + (g.nextWeight+g.currWeight-g.currPos)/s.nextEwght
		f.queueSrv(s)
	default:
		f.getSrv(s)
		if s.nextEwght > 0 {
			prevNext := s.npos
			step := g.nextWeight / s.nextEwght
			s.npos = s.lpos + step
			s.rweight = 0
			if s.npos > prevNext {
				s.npos = prevNext
			}
			if s.npos < g.currPos+2 {
				s.npos = g.currPos + step
			}
		} else {
			s.npos = g.currPos + g.currWeight
		}
		f.dequeue(s)
		f.queueSrv(s)
	}
}

func (f *fwrr) hash(uint32, *Server) *Server { return nil }
func (f *fwrr) taken(*Server)                {}
