package balance

import (
	"math/rand/v2"
	"time"
)

// chash is HAProxy's consistent-hash tree (lb_chash.c), used by
// `hash-type consistent` and by `balance random`. Each server owns
// weight×16 points at full_hash(id×4096 + n); a key goes to the closest
// point, so removing a server only moves the keys it held.
type chash struct {
	b        *Backend
	act, bck keyTree
	// last visited node, for round robin over the tree
	lastSet bool
	lastKey uint32
	lastSrv *Server
	lastOcc int
}

func (c *chash) tree(s *Server) *keyTree {
	if s.Backup {
		return &c.bck
	}
	return &c.act
}

func (c *chash) init() {
	b := c.b
	b.initDynamicWeights()
	for _, s := range b.servers {
		c.grow(s, s.uweight*weightScale)
		s.nodesNow = 0
		if s.curUsable() {
			c.adjust(s)
		}
	}
}

func (c *chash) grow(s *Server, n int) {
	for j := len(s.nodeKeys); j < n; j++ {
		s.nodeKeys = append(s.nodeKeys, FullHash(uint32(s.ID*ewghtRange+j)))
	}
}

// removeNode takes occurrence n of s out of its tree, moving the round
// robin cursor off it first (chash_skip_node).
func (c *chash) removeNode(s *Server, n int) {
	t := c.tree(s)
	if c.lastSet && c.lastSrv == s && c.lastOcc == n {
		i := t.index(s.nodeKeys[n], s, n)
		c.lastSet = false
		if i >= 0 && t.len() > 1 {
			j := (i + 1) % t.len()
			e := t.e[j]
			c.lastSet, c.lastKey, c.lastSrv, c.lastOcc = true, e.key, e.srv, e.occ
		}
	}
	t.removeKey(s.nodeKeys[n], s, n)
}

// adjust is chash_queue_dequeue_srv: s appears as many times as its
// next effective weight says.
func (c *chash) adjust(s *Server) {
	for s.nodesNow > s.nextEwght {
		s.nodesNow--
		c.removeNode(s, s.nodesNow)
	}
	if len(s.nodeKeys) < s.nextEwght {
		c.grow(s, s.nextEwght)
	}
	t := c.tree(s)
	for s.nodesNow < s.nextEwght {
		t.insert(s.nodeKeys[s.nodesNow], s, s.nodesNow)
		s.nodesNow++
	}
}

func (c *chash) up(s *Server)       { c.adjust(s) }
func (c *chash) reweight(s *Server) { c.adjust(s) }
func (c *chash) taken(*Server)      {}

func (c *chash) down(s *Server) {
	for s.nodesNow > 0 {
		s.nodesNow--
		c.removeNode(s, s.nodesNow)
	}
}

func (c *chash) root() (*keyTree, *Server, bool) {
	b := c.b
	switch {
	case b.srvAct > 0:
		return &c.act, nil, true
	case b.fbck != nil:
		return nil, b.fbck, false
	case b.srvBck > 0:
		return &c.bck, nil, true
	}
	return nil, nil, false
}

// hash is chash_get_server_hash: the closest node to h (the previous one on
// a tie), then onwards if it is the server to avoid.
func (c *chash) hash(h uint32, avoid *Server) *Server {
	t, fb, ok := c.root()
	if !ok {
		return fb
	}
	if t.len() == 0 {
		return nil
	}
	ni := t.lookupGE(h)
	if ni < 0 {
		ni = 0
	}
	pi := ni - 1
	if pi < 0 {
		pi = t.len() - 1
	}
	dp := h - t.e[pi].key
	dn := t.e[ni].key - h
	i := ni
	if dp <= dn {
		i = pi
	}
	loop := 0
	for t.e[i].srv == avoid {
		i++
		if i == t.len() {
			i = 0
			loop++
			if loop > 1 {
				break
			}
		}
	}
	return t.e[i].srv
}

// next is chash_get_next_server: round robin over the tree's nodes,
// skipping saturated servers.
func (c *chash) next(avoid *Server) *Server {
	t, fb, ok := c.root()
	if !ok {
		return fb
	}
	if t.len() == 0 {
		c.lastSet = false
		return nil
	}
	now := c.b.now()
	start := -1
	if c.lastSet {
		start = t.index(c.lastKey, c.lastSrv, c.lastOcc)
	}
	i := start
	var avoided *Server
	avoidedIdx := -1
	for n := 0; n < t.len(); n++ {
		i++
		if i >= t.len() {
			i = 0
		}
		s := t.e[i].srv
		if s.hasRoom(now) {
			if s != avoid {
				c.setLast(t, i)
				return s
			}
			if avoided == nil {
				avoided, avoidedIdx = s, i
			}
		}
	}
	if avoided != nil {
		c.setLast(t, avoidedIdx)
	} else {
		c.setLast(t, i)
	}
	return avoided
}

func (c *chash) setLast(t *keyTree, i int) {
	e := t.e[i]
	c.lastSet, c.lastKey, c.lastSrv, c.lastOcc = true, e.key, e.srv, e.occ
}

// random is get_server_rnd: draw N random points and keep the least loaded
// server relative to its weight; a saturated pick goes to the queue.
func (c *chash) random(avoid *Server, now time.Time) *Server {
	var curr *Server
	for d := c.b.cfg.RandomDraws; d > 0; d-- {
		prev := curr
		curr = c.hash(rand.Uint32(), avoid)
		if curr == nil {
			break
		}
		if prev != nil && prev != curr && curr.served*prev.curEweight > prev.served*curr.curEweight {
			curr = prev
		}
	}
	if curr != nil && (len(curr.queue) > 0 || (curr.maxconn > 0 && curr.served >= curr.dynMaxconn(now))) {
		return nil
	}
	return curr
}
