package balance

import "sort"

// keyTree is an ordered multiset of (key, server) entries with the ordering
// of HAProxy's eb32 trees: ascending keys, and entries with equal keys kept
// in insertion order (an insert goes after its duplicates). The round-robin
// and leastconn sequences depend on that tie order, so it is reproduced
// exactly. Backends hold few servers, so a sorted slice beats a tree here.
type keyTree struct {
	e []treeEntry
}

type treeEntry struct {
	key uint32
	srv *Server
	occ int // consistent hash: which occurrence of the server this is
}

func (t *keyTree) len() int { return len(t.e) }

// insert adds an entry after every entry with the same key.
func (t *keyTree) insert(key uint32, s *Server, occ int) {
	i := sort.Search(len(t.e), func(i int) bool { return t.e[i].key > key })
	t.e = append(t.e, treeEntry{})
	copy(t.e[i+1:], t.e[i:])
	t.e[i] = treeEntry{key: key, srv: s, occ: occ}
}

// removeKey deletes the entry of server s with occurrence occ and key key,
// if present (a binary search narrows the scan).
func (t *keyTree) removeKey(key uint32, s *Server, occ int) bool {
	i := sort.Search(len(t.e), func(i int) bool { return t.e[i].key >= key })
	for ; i < len(t.e) && t.e[i].key == key; i++ {
		if t.e[i].srv == s && t.e[i].occ == occ {
			t.e = append(t.e[:i], t.e[i+1:]...)
			return true
		}
	}
	return false
}

func (t *keyTree) first() *treeEntry {
	if len(t.e) == 0 {
		return nil
	}
	return &t.e[0]
}

// lookupGE returns the index of the first entry with key >= k, or -1.
func (t *keyTree) lookupGE(k uint32) int {
	i := sort.Search(len(t.e), func(i int) bool { return t.e[i].key >= k })
	if i == len(t.e) {
		return -1
	}
	return i
}

// index returns the position of server s occurrence occ, or -1.
func (t *keyTree) index(key uint32, s *Server, occ int) int {
	i := sort.Search(len(t.e), func(i int) bool { return t.e[i].key >= key })
	for ; i < len(t.e) && t.e[i].key == key; i++ {
		if t.e[i].srv == s && t.e[i].occ == occ {
			return i
		}
	}
	return -1
}
