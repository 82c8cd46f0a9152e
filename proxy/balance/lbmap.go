package balance

// lbMap is HAProxy's map-based lookup (lb_map.c), used by static-rr and by
// the hashing algorithms with `hash-type map-based`: a table of tot_weight
// slots filled so that each server appears as often as its weight, spread
// evenly, earlier servers first on ties. Weights are static: a change is
// only taken into account when it moves a server in or out of the map.
type lbMap struct {
	b      *Backend
	srv    []*Server
	rrIdx  int
	recalc bool
}

func (m *lbMap) init() {
	b := m.b
	// Weights are divided by their GCD to keep the table small.
	g := 0
	for _, s := range b.servers {
		if s.uweight == 0 {
			continue
		}
		if g == 0 {
			g = s.uweight
			continue
		}
		a, c := g, s.uweight
		for c != 0 {
			a, c = c, a%c
		}
		g = a
	}
	if g == 0 {
		g = 1
	}
	b.wmult, b.wdiv = g, 1
	now := b.now()
	for _, s := range b.servers {
		s.nextEwght = b.weightOf(s, now)
		s.commit()
	}
	b.recount()
	m.recalcMap()
}

func (m *lbMap) up(*Server)       { m.recalc = true }
func (m *lbMap) down(*Server)     { m.recalc = true }
func (m *lbMap) reweight(*Server) { m.recalc = true }
func (m *lbMap) taken(*Server)    {}

// recalcMap is recalc_server_map.
func (m *lbMap) recalcMap() {
	b := m.b
	m.recalc = false
	if b.totUsed == 0 {
		m.srv = m.srv[:0]
		return
	}
	tot := b.totWt
	backup := b.srvAct == 0
	for _, s := range b.servers {
		s.wscore = 0
	}
	if cap(m.srv) < tot {
		m.srv = make([]*Server, tot)
	}
	m.srv = m.srv[:tot]
	for o := 0; o < tot; o++ {
		var best *Server
		max := 0
		for _, cur := range b.servers {
			if cur.Backup != backup || !usable(cur.nextState, cur.nextAdmin, cur.nextEwght) {
				continue
			}
			if tot == 1 {
				best = cur
				break
			}
			cur.wscore += cur.nextEwght
			v := (cur.wscore + tot) / tot
			if best == nil || v > max {
				max, best = v, cur
			}
		}
		m.srv[o] = best
		best.wscore -= tot
	}
}

func (m *lbMap) next(avoid *Server) *Server {
	b := m.b
	if b.totWt == 0 {
		return nil
	}
	if m.recalc {
		m.recalcMap()
	}
	if m.rrIdx < 0 || m.rrIdx >= b.totWt {
		m.rrIdx = 0
	}
	now := b.now()
	newidx := m.rrIdx
	var avoided *Server
	avoididx := 0
	for {
		s := m.srv[newidx]
		newidx++
		if s.hasRoom(now) {
			if s != avoid {
				m.rrIdx = newidx
				return s
			}
			avoided, avoididx = s, newidx
		}
		if newidx == b.totWt {
			newidx = 0
		}
		if newidx == m.rrIdx {
			break
		}
	}
	if avoided != nil {
		m.rrIdx = avoididx
	}
	return avoided
}

// hash is map_get_server_hash; map-based hashing does not avoid servers.
func (m *lbMap) hash(h uint32, _ *Server) *Server {
	b := m.b
	if b.totWt == 0 {
		return nil
	}
	if m.recalc {
		m.recalcMap()
	}
	return m.srv[h%uint32(b.totWt)]
}
