package stick

import "sync"

// Dict interns the server keys (names or addresses) that entries store as
// server_key, as HAProxy's server_key_dict: an entry keeps a small id.
type Dict struct {
	mu   sync.RWMutex
	ids  map[string]uint32
	strs []string
}

// NewDict returns an empty dictionary.
func NewDict() *Dict { return &Dict{ids: map[string]uint32{}} }

// Intern returns s's id (never 0).
func (d *Dict) Intern(s string) uint32 {
	d.mu.RLock()
	id, ok := d.ids[s]
	d.mu.RUnlock()
	if ok {
		return id
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, ok := d.ids[s]; ok {
		return id
	}
	d.strs = append(d.strs, s)
	id = uint32(len(d.strs))
	d.ids[s] = id
	return id
}

// Lookup returns the string of id ("" for 0 or unknown).
func (d *Dict) Lookup(id uint32) string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if id == 0 || int(id) > len(d.strs) {
		return ""
	}
	return d.strs[id-1]
}

// Set is every stick table of a configuration, by name.
type Set struct {
	Clock  *Clock
	Dict   *Dict
	tables []*Table
	byName map[string]*Table
}

// NewSet builds the tables of specs (in configuration order) on clock.
func NewSet(specs []*Spec, clock *Clock) *Set {
	s := &Set{Clock: clock, Dict: NewDict(), byName: map[string]*Table{}}
	for i, sp := range specs {
		t := NewTable(sp, clock, s.Dict)
		t.ID = i + 1
		s.tables = append(s.tables, t)
		s.byName[sp.Name] = t
	}
	return s
}

// Table returns the table called name, nil if none.
func (s *Set) Table(name string) *Table {
	if s == nil {
		return nil
	}
	return s.byName[name]
}

// Tables returns the tables in configuration order.
func (s *Set) Tables() []*Table {
	if s == nil {
		return nil
	}
	return s.tables
}

// Start runs every table's expiry.
func (s *Set) Start() {
	for _, t := range s.Tables() {
		t.Start()
	}
}

// Stop ends every table's expiry.
func (s *Set) Stop() {
	for _, t := range s.Tables() {
		t.Stop()
	}
}
