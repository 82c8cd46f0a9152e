package balance

// fwlc is `balance leastconn` (lb_fwlc.c): servers sorted by
// (in-flight+1)×4096/weight, 0 when idle; a server only moves when its key
// changes, so idle servers keep the order in which they became idle.
type fwlc struct {
	b        *Backend
	act, bck keyTree
}

func (l *fwlc) tree(s *Server) *keyTree {
	if s.Backup {
		return &l.bck
	}
	return &l.act
}

func (l *fwlc) init() {
	b := l.b
	b.initDynamicWeights()
	for _, s := range b.servers {
		if s.curUsable() {
			l.queue(s, s.curEweight)
		}
	}
}

func lcKey(s *Server, ew int) uint32 {
	inflight := s.served + len(s.queue)
	if inflight == 0 {
		return 0
	}
	if ew == 0 {
		ew = 1
	}
	return uint32((inflight + 1) * ewghtMax / ew)
}

func (l *fwlc) queue(s *Server, ew int) {
	s.lbKey = lcKey(s, ew)
	t := l.tree(s)
	t.insert(s.lbKey, s, 0)
	s.lbTree, s.inTree = t, true
}

func (l *fwlc) dequeue(s *Server) {
	if s.inTree {
		s.lbTree.removeKey(s.lbKey, s, 0)
		s.inTree = false
	}
}

func (l *fwlc) up(s *Server) { l.queue(s, s.nextEwght) }

func (l *fwlc) down(s *Server) {
	l.dequeue(s)
	s.lbTree = nil
}

func (l *fwlc) reweight(s *Server) {
	l.dequeue(s)
	l.queue(s, s.nextEwght)
}

// taken is fwlc_srv_reposition.
func (l *fwlc) taken(s *Server) {
	if !s.inTree {
		return
	}
	if k := lcKey(s, s.curEweight); k != s.lbKey {
		l.dequeue(s)
		l.queue(s, s.curEweight)
	}
}

func (l *fwlc) next(avoid *Server) *Server {
	b := l.b
	var t *keyTree
	switch {
	case b.srvAct > 0:
		t = &l.act
	case b.fbck != nil:
		return b.fbck
	case b.srvBck > 0:
		t = &l.bck
	default:
		return nil
	}
	now := b.now()
	var avoided *Server
	for i := range t.e {
		s := t.e[i].srv
		if s.maxconn == 0 || s.served+len(s.queue) < s.dynMaxconn(now)+s.maxqueue {
			if s != avoid {
				return s
			}
			avoided = s
		}
	}
	return avoided
}

func (l *fwlc) hash(uint32, *Server) *Server { return nil }

// fas is `balance first` (lb_fas.c): the first server by id that has a free
// slot, so servers fill up one after the other.
type fas struct {
	b        *Backend
	act, bck keyTree
}

func (f *fas) tree(s *Server) *keyTree {
	if s.Backup {
		return &f.bck
	}
	return &f.act
}

func (f *fas) init() {
	b := f.b
	b.initDynamicWeights()
	for _, s := range b.servers {
		if s.curUsable() {
			f.up(s)
		}
	}
}

func (f *fas) up(s *Server) {
	t := f.tree(s)
	s.lbKey = uint32(s.ID)
	t.insert(s.lbKey, s, 0)
	s.lbTree, s.inTree = t, true
}

func (f *fas) down(s *Server) {
	if s.inTree {
		s.lbTree.removeKey(s.lbKey, s, 0)
		s.inTree = false
	}
	s.lbTree = nil
}

func (f *fas) reweight(*Server)             {}
func (f *fas) taken(*Server)                {}
func (f *fas) hash(uint32, *Server) *Server { return nil }

func (f *fas) next(avoid *Server) *Server {
	b := f.b
	var t *keyTree
	switch {
	case b.srvAct > 0:
		t = &f.act
	case b.fbck != nil:
		return b.fbck
	case b.srvBck > 0:
		t = &f.bck
	default:
		return nil
	}
	now := b.now()
	var avoided *Server
	for i := range t.e {
		s := t.e[i].srv
		if s.maxconn == 0 || (len(s.queue) == 0 && s.served < s.dynMaxconn(now)) {
			if s != avoid {
				return s
			}
			avoided = s
		}
	}
	return avoided
}
