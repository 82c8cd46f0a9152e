// Package acl compiles HAProxy ACLs and conditions (configuration.txt §7)
// once per configuration and evaluates them over a transaction view without
// allocating.
//
// The runtime (package proxy) hands every evaluation a Ctx whose Txn is its
// zero-copy view of the current request (and response, once there is one).
package acl

import (
	"net/netip"
	"strings"
	"sync"
)

// HeaderList is an ordered, case-preserving header block. Indices are
// stable until the next Add or Del. Returned slices stay valid until the
// list is mutated.
type HeaderList interface {
	Len() int
	At(i int) (name, value []byte)
	Add(name, value []byte)
	Set(i int, value []byte) // replace the value of header i
	Del(i int)               // remove header i; later headers shift down
}

// Txn is the runtime's view of one transaction that sample fetches read.
// Every []byte stays valid until the transaction is next mutated.
type Txn interface {
	Method() []byte
	URI() []byte   // as on the request line
	Path() []byte  // URI without the query string
	Query() []byte // after '?', nil when there is none
	Version() []byte
	ReqHeaders() HeaderList
	// ResHeaders is nil before a response exists.
	ResHeaders() HeaderList
	Status() int // response status, 0 before a response
	Src() netip.AddrPort
	Dst() netip.AddrPort
	SSL() bool
	SNI() []byte // TLS server name sent by the client, nil without TLS/SNI
}

// PayloadTxn is implemented by views that can show the client's first
// bytes (mode tcp with tcp-request inspect-delay): b is what arrived so far
// and final says no more will be waited for (delay expired, buffer full,
// client closed, or no inspection at all).
type PayloadTxn interface {
	Payload() (b []byte, final bool)
}

// Ctx is the per-transaction evaluation state. The runtime keeps one per
// connection and calls Reset between transactions, so evaluation reuses
// its buffers.
type Ctx struct {
	T    Txn
	Vars Vars
	// Backend is the name of the backend chosen so far ("" before
	// use_backend); the be_name fetch reads it.
	Backend  string
	Frontend string
	// ReqLine is the request line as received (capture.req.*); UniqueID
	// the transaction's unique-id-format value (unique-id).
	ReqLine  []byte
	UniqueID []byte
	// MayChange is set by payload fetches whose result may change once
	// more of the client's bytes arrive (HAProxy's SMP_F_MAY_CHANGE).
	MayChange bool

	st      int       // fetch iteration state
	scratch [4][]byte // converter buffers; see scratchBuf
	sidx    int
}

// Reset prepares the context for a new transaction on the same connection.
func (c *Ctx) Reset(t Txn) {
	c.T = t
	c.Vars.Reset()
	c.Backend = ""
	c.ReqLine = nil
	c.UniqueID = c.UniqueID[:0]
	c.sidx = 0
}

// scratchBuf hands out one of a few rotating buffers so a converter chain
// can read its input while writing its output without allocating.
func (c *Ctx) scratchBuf() []byte {
	c.sidx = (c.sidx + 1) % len(c.scratch)
	return c.scratch[c.sidx][:0]
}

func (c *Ctx) keepScratch(b []byte) {
	if cap(b) > cap(c.scratch[c.sidx]) {
		c.scratch[c.sidx] = b[:0]
	}
}

// Vars holds transaction-scoped variables (set-var / var()). Names are
// kept with their scope prefix ("txn.foo"). Values are copied in, so the
// store owns its memory and is reused across transactions.
type Vars struct {
	names []string
	vals  [][]byte
	used  []bool
}

// Reset forgets every variable, keeping the storage.
func (v *Vars) Reset() {
	for i := range v.used {
		v.used[i] = false
	}
}

// procVars hold proc.* variables, shared by every transaction. A Set
// stores a fresh copy, so a value handed out by Get is never changed.
var procVars struct {
	sync.RWMutex
	m map[string][]byte
}

// Get returns a variable's value.
func (v *Vars) Get(name string) ([]byte, bool) {
	if strings.HasPrefix(name, "proc.") {
		procVars.RLock()
		defer procVars.RUnlock()
		b, ok := procVars.m[name]
		return b, ok
	}
	for i, n := range v.names {
		if v.used[i] && n == name {
			return v.vals[i], true
		}
	}
	return nil, false
}

// Set stores a copy of val under name.
func (v *Vars) Set(name string, val []byte) {
	if strings.HasPrefix(name, "proc.") {
		procVars.Lock()
		if procVars.m == nil {
			procVars.m = map[string][]byte{}
		}
		procVars.m[name] = append([]byte(nil), val...)
		procVars.Unlock()
		return
	}
	free := -1
	for i, n := range v.names {
		if n == name {
			v.vals[i] = append(v.vals[i][:0], val...)
			v.used[i] = true
			return
		}
		if !v.used[i] && free < 0 {
			free = i
		}
	}
	if free >= 0 {
		v.names[free] = name
		v.vals[free] = append(v.vals[free][:0], val...)
		v.used[free] = true
		return
	}
	v.names = append(v.names, name)
	v.vals = append(v.vals, append([]byte(nil), val...))
	v.used = append(v.used, true)
}

// Unset removes a variable.
func (v *Vars) Unset(name string) {
	if strings.HasPrefix(name, "proc.") {
		procVars.Lock()
		delete(procVars.m, name)
		procVars.Unlock()
		return
	}
	for i, n := range v.names {
		if n == name {
			v.used[i] = false
		}
	}
}
