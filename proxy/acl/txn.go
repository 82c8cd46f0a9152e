// Package acl compiles HAProxy ACLs and conditions (configuration.txt §7)
// once per configuration and evaluates them over a transaction view without
// allocating.
//
// The runtime (package proxy) hands every evaluation a Ctx whose Txn is its
// zero-copy view of the current request (and response, once there is one).
package acl

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"halo/proxy"
	"halo/proxy/stick"
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

// ResPayloadTxn is implemented by views that can show the server's first
// bytes (mode tcp with tcp-response content rules), as PayloadTxn does the
// client's.
type ResPayloadTxn interface {
	ResPayload() (b []byte, final bool)
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
	// Response is set while response rules run: direction-dependent
	// fetches (cookie) then read the response.
	Response bool
	// Runtime is the running engine (nil when only checking): fetches
	// about proxies and servers read it.
	Runtime *proxy.Runtime
	// LastRuleFile and LastRuleLine locate the last final rule that
	// matched (last_rule_file, last_rule_line); "" and 0 before one.
	LastRuleFile string
	LastRuleLine int
	// Stick is the stream's stick counters (sc_* fetches, track-sc and
	// sc-* actions); nil when the runtime tracks none.
	Stick *stick.Tracking

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
	c.Response = false
	c.LastRuleFile, c.LastRuleLine = "", 0
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

// Vars holds a transaction's variables (set-var / var(), configuration.txt
// §7.3.2 "var"). Names are kept with their scope prefix ("txn.foo").
// Values keep their sample type and are copied in, so the store owns its
// memory and is reused across transactions. proc.* variables live in Proc,
// shared by every transaction of the process.
type Vars struct {
	// Proc is the process-wide store; nil keeps proc.* variables with the
	// transaction's.
	Proc *ProcVars
	// Sess is the client connection's store of sess.* variables, which
	// every transaction of the connection sees; nil keeps them with the
	// transaction's.
	Sess *Vars

	names []string
	vals  []Value
	used  []bool // set now
	seen  []bool // set at some point of this transaction
}

// ProcVars is the store of proc.* variables. The runtime makes one per
// process (rules.L7) and shares it. A Set stores a fresh copy, so a value
// handed out by Get is never changed.
type ProcVars struct {
	mu sync.RWMutex
	m  map[string]Value
}

// NewProcVars returns an empty store.
func NewProcVars() *ProcVars { return &ProcVars{m: map[string]Value{}} }

// Reset forgets every variable, keeping the storage.
func (v *Vars) Reset() {
	for i := range v.used {
		v.used[i], v.seen[i] = false, false
	}
	v.Sess = nil
}

// CheckVarName checks a variable name as HAProxy does: a scope (proc,
// sess, txn, req, res, check), a dot, then letters, digits, '.' and '_'.
func CheckVarName(n string) error {
	for _, p := range []string{"proc.", "sess.", "txn.", "req.", "res.", "check."} {
		if strings.HasPrefix(n, p) && len(n) > len(p) {
			for _, ch := range n[len(p):] {
				if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_') {
					return fmt.Errorf("invalid variable name '%s': only 'a-z', 'A-Z', '0-9', '.' and '_' are allowed", n)
				}
			}
			return nil
		}
	}
	return fmt.Errorf("invalid variable name '%s'. A variable name must be start by its scope. The scope can be 'proc', 'sess', 'txn', 'req', 'res' or 'check'", n)
}

func isProc(name string) bool { return strings.HasPrefix(name, "proc.") }

// scope returns where name lives: the session's store for sess.* when
// there is one, else v.
func (v *Vars) scope(name string) *Vars {
	if v.Sess != nil && strings.HasPrefix(name, "sess.") {
		return v.Sess
	}
	return v
}

// Get returns a variable's value. Its bytes stay valid until the variable
// is set again.
func (v *Vars) Get(name string) (Value, bool) {
	v = v.scope(name)
	if v.Proc != nil && isProc(name) {
		v.Proc.mu.RLock()
		defer v.Proc.mu.RUnlock()
		val, ok := v.Proc.m[name]
		return val, ok
	}
	for i, n := range v.names {
		if v.used[i] && n == name {
			return v.vals[i], true
		}
	}
	return Value{}, false
}

// Set stores a copy of val under name.
func (v *Vars) Set(name string, val Value) {
	v = v.scope(name)
	if v.Proc != nil && isProc(name) {
		val.B = append([]byte(nil), val.B...)
		v.Proc.mu.Lock()
		v.Proc.m[name] = val
		v.Proc.mu.Unlock()
		return
	}
	free := -1
	for i, n := range v.names {
		if n == name {
			v.store(i, val)
			return
		}
		if !v.seen[i] && free < 0 {
			free = i
		}
	}
	if free >= 0 {
		v.names[free] = name
		v.store(free, val)
		return
	}
	v.names = append(v.names, name)
	v.vals = append(v.vals, Value{})
	v.used = append(v.used, false)
	v.seen = append(v.seen, false)
	v.store(len(v.names)-1, val)
}

func (v *Vars) store(i int, val Value) {
	b := v.vals[i].B
	if val.Kind == KStr || val.Kind == KBin {
		b = append(b[:0], val.B...)
	}
	val.B = b
	v.vals[i] = val
	v.used[i], v.seen[i] = true, true
}

// Unset removes a variable.
func (v *Vars) Unset(name string) {
	v = v.scope(name)
	if v.Proc != nil && isProc(name) {
		v.Proc.mu.Lock()
		delete(v.Proc.m, name)
		v.Proc.mu.Unlock()
		return
	}
	for i, n := range v.names {
		if n == name {
			v.used[i] = false
		}
	}
}
