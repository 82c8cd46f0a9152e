package acl

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Pattern references (HAProxy's pat_ref): every pattern file an ACL reads
// with -f, every map file a map converter reads, and each ACL term's own
// inline patterns, numbered in the order the configuration uses them. The
// runtime API (`show|add|del|set|clear|prepare|commit map|acl`) edits
// them; each edit rebuilds the compiled sets that use the reference and
// swaps them in atomically (an ACL or map being evaluated keeps the set
// it loaded), so traffic never sees a half-applied change.

// PatRefs is a runtime's pattern references.
type PatRefs struct {
	mu   sync.Mutex
	refs []*PatRef
	seq  atomic.Uint64 // entry identities
}

// NewPatRefs returns an empty set.
func NewPatRefs() *PatRefs { return &PatRefs{} }

// PatRef is one reference.
type PatRef struct {
	ID    int
	File  string // "" for an ACL term's inline patterns
	IsMap bool
	Desc  string // what `show acl|map` says of it
	// ICase: the ACL using it matches ignoring case (get acl's "case=").
	ICase bool
	set   *PatRefs

	mu      sync.Mutex
	curVer  uint
	nextVer uint
	entries []*PatEntry
	users   []func(from *PatRef, keys, vals []string) error
}

// PatEntry is one pattern (maps: key and value).
type PatEntry struct {
	Addr     uint64 // its identity, `#<ref>` on the CLI
	Key, Val string
	ver      uint
}

// Refs lists the references, acls or maps, by ID.
func (s *PatRefs) Refs(maps bool) []*PatRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*PatRef
	for _, r := range s.refs {
		if r.IsMap == maps {
			out = append(out, r)
		}
	}
	return out
}

// Lookup finds a reference by "#<id>" or file name.
func (s *PatRefs) Lookup(name string, maps bool) *PatRef {
	for _, r := range s.Refs(maps) {
		if (strings.HasPrefix(name, "#") && name[1:] == strconv.Itoa(r.ID)) || (r.File != "" && r.File == name) {
			return r
		}
	}
	return nil
}

func (s *PatRefs) newEntry(key, val string, ver uint) *PatEntry {
	// addresses as HAProxy prints its entries' pointers
	return &PatEntry{Addr: 0x55d000000000 + s.seq.Add(1)*0x50, Key: key, Val: val, ver: ver}
}

// ref returns the file's reference (shared by every user of the file),
// made with entries when new.
func (s *PatRefs) ref(file string, isMap bool, desc string, keys, vals []string) *PatRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	if file != "" {
		for _, r := range s.refs {
			if r.File == file && r.IsMap == isMap {
				return r
			}
		}
	}
	r := &PatRef{ID: len(s.refs), File: file, IsMap: isMap, Desc: desc, set: s}
	for i, k := range keys {
		v := ""
		if vals != nil {
			v = vals[i]
		}
		r.entries = append(r.entries, s.newEntry(k, v, 0))
	}
	s.refs = append(s.refs, r)
	return r
}

// use registers a rebuild of a compiled set from the reference's
// current entries.
func (r *PatRef) use(fn func(from *PatRef, keys, vals []string) error) {
	r.mu.Lock()
	r.users = append(r.users, fn)
	r.mu.Unlock()
}

// Versions returns the current and the last prepared version.
func (r *PatRef) Versions() (cur, next uint) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.curVer, r.nextVer
}

// Entries returns the entries of version ver (the current one when
// cur).
func (r *PatRef) Entries(ver uint, cur bool) []PatEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur {
		ver = r.curVer
	}
	var out []PatEntry
	for _, e := range r.entries {
		if e.ver == ver {
			out = append(out, *e)
		}
	}
	return out
}

// Count is the number of entries of the current version.
func (r *PatRef) Count() int { return len(r.Entries(0, true)) }

// CheckVersion reports whether ver may be edited: the current version or
// one prepared since.
func (r *PatRef) CheckVersion(ver uint) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inRange(ver)
}

func (r *PatRef) inRange(ver uint) bool {
	return ver == r.curVer || (ver > r.curVer && ver <= r.nextVer)
}

// Add appends an entry to version ver (current: cur), after checking that
// every user accepts it.
func (r *PatRef) Add(ver uint, cur bool, key, val string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur {
		ver = r.curVer
	}
	r.entries = append(r.entries, r.set.newEntry(key, val, ver))
	if ver != r.curVer {
		return nil
	}
	if err := r.rebuild(); err != nil {
		r.entries = r.entries[:len(r.entries)-1]
		_ = r.rebuild()
		return err
	}
	return nil
}

// matches reports whether e is what id names: "#<addr>" or a key.
func (e *PatEntry) matches(id string) bool {
	if strings.HasPrefix(id, "#") {
		n, err := strconv.ParseUint(strings.TrimPrefix(id[1:], "0x"), 16, 64)
		return err == nil && n == e.Addr
	}
	return e.Key == id
}

// Del removes the current version's entries that id names; false when
// none does.
func (r *PatRef) Del(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.entries[:0:0]
	found := false
	for _, e := range r.entries {
		if e.ver == r.curVer && e.matches(id) {
			found = true
			continue
		}
		kept = append(kept, e)
	}
	if !found {
		return false
	}
	r.entries = kept
	_ = r.rebuild()
	return true
}

// Set changes the value of the current version's entries that id names;
// false when none does.
func (r *PatRef) Set(id, val string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var changed []*PatEntry
	var old []string
	for _, e := range r.entries {
		if e.ver == r.curVer && e.matches(id) {
			changed = append(changed, e)
			old = append(old, e.Val)
			e.Val = val
		}
	}
	if len(changed) == 0 {
		return false, nil
	}
	if err := r.rebuild(); err != nil {
		for i, e := range changed {
			e.Val = old[i]
		}
		_ = r.rebuild()
		return true, err
	}
	return true, nil
}

// Clear removes every entry of version ver (current: cur).
func (r *PatRef) Clear(ver uint, cur bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur {
		ver = r.curVer
	}
	kept := r.entries[:0:0]
	for _, e := range r.entries {
		if e.ver != ver {
			kept = append(kept, e)
		}
	}
	r.entries = kept
	if ver == r.curVer {
		_ = r.rebuild()
	}
}

// Prepare opens a new version and returns its number.
func (r *PatRef) Prepare() uint {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextVer++
	return r.nextVer
}

// Commit makes version ver the current one: older versions' entries go,
// and the users switch to ver's entries at once.
func (r *PatRef) Commit(ver uint) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.inRange(ver) {
		return fmt.Errorf("Version number out of range.")
	}
	prev, prevEntries := r.curVer, r.entries
	r.curVer = ver
	kept := r.entries[:0:0]
	for _, e := range r.entries {
		if e.ver >= ver {
			kept = append(kept, e)
		}
	}
	r.entries = kept
	if err := r.rebuild(); err != nil {
		r.curVer, r.entries = prev, prevEntries
		_ = r.rebuild()
		return err
	}
	return nil
}

// rebuild recompiles every user from the current entries (r.mu held).
func (r *PatRef) rebuild() error {
	var keys, vals []string
	for _, e := range r.entries {
		if e.ver == r.curVer {
			keys = append(keys, e.Key)
			vals = append(vals, e.Val)
		}
	}
	for _, u := range r.users {
		if err := u(r, keys, vals); err != nil {
			return err
		}
	}
	return nil
}

// currentKeys returns the current version's keys (r.mu not held).
func (r *PatRef) currentKeys() []string {
	var out []string
	for _, e := range r.Entries(0, true) {
		out = append(out, e.Key)
	}
	return out
}
