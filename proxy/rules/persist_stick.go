package rules

import (
	"fmt"
	"strconv"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/stick"
)

// Persistence by stick tables (configuration.txt §4.2 "stick match",
// "stick on", "stick store-request", "stick store-response"; HAProxy's
// process_sticking_rules and process_store_rules): a backend looks the
// request's key up to send it to the server stored for it, and records
// the server that answered.

// stickRule is a compiled stick rule.
type stickRule struct {
	match, store, response bool
	expr                   *acl.Expr
	table                  *stick.Table // nil when only checking
	cond                   *acl.Cond
}

// maxStores is how many keys a stream stores at most (HAProxy's
// s->store[8]).
const maxStores = 8

// pendingStore is a key waiting for the server the stream goes to.
type pendingStore struct {
	t   *stick.Table
	key []byte
}

func compileStickRules(p *proxy.Proxy, env *Env) ([]stickRule, error) {
	var out []stickRule
	for _, r := range p.StickRules {
		cond, err := env.ACL.Cond(r.Cond)
		if err != nil {
			return nil, fmt.Errorf("stick rule (line %d): %w", r.Line, err)
		}
		e, err := acl.ParseExpr(r.Expr, env.Opts)
		if err != nil {
			return nil, fmt.Errorf("stick rule (line %d): %w", r.Line, err)
		}
		sr := stickRule{match: r.Match, store: r.Store, response: r.Response, expr: e, cond: cond}
		if o := env.Opts; o != nil && o.Tables != nil {
			if sr.table = o.Tables.Table(r.Table); sr.table == nil {
				return nil, fmt.Errorf("unable to find stick-table '%s'", r.Table)
			}
		}
		out = append(out, sr)
	}
	return out, nil
}

// storing says a store for t is pending already (only the first store
// rule of each table applies).
func (st *txnState) storing(t *stick.Table) bool {
	for i := 0; i < st.nstores; i++ {
		if st.stores[i].t == t {
			return true
		}
	}
	return false
}

func (st *txnState) addStore(t *stick.Table, key []byte) {
	if st.nstores >= maxStores {
		return
	}
	s := &st.stores[st.nstores]
	s.t, s.key = t, append(s.key[:0], key...)
	st.nstores++
}

// stickRequest runs the request-side stick rules of backend be: a match
// that finds a usable server (or any with option persist) assigns it,
// unless a server is assigned already; stores wait for the response.
func (l *L7) stickRequest(tx *proxy.Txn, be *proxy.Backend, rules []stickRule, st *txnState) {
	for i := range rules {
		r := &rules[i]
		if r.response || r.table == nil {
			continue
		}
		if r.store && st.storing(r.table) {
			continue // only the first store rule of a table applies
		}
		if !r.cond.Eval(&st.Ctx) {
			continue
		}
		v, ok := r.expr.Eval(&st.Ctx)
		if !ok {
			continue
		}
		key, ok := acl.StickKey(&st.Ctx, r.table, v)
		if !ok {
			continue
		}
		if r.match {
			if ref := r.table.Lookup(key); ref != 0 {
				if tx.Server == nil {
					if s := stuckServer(be, r.table, ref, st.forcePrst); s != nil {
						tx.Server = s
						st.direct = true
					}
				}
				r.table.Touch(ref)
				r.table.Release(ref)
			}
		}
		if r.store && !st.storing(r.table) {
			st.addStore(r.table, key)
		}
	}
}

// stuckServer is the server an entry names: by server_key (its name or
// address, per the table's srvkey) when stored, else by server_id. A
// down server is only taken with option persist or force-persist.
func stuckServer(be *proxy.Backend, t *stick.Table, ref stick.Ref, force bool) *proxy.ServerState {
	id, key := t.Server(ref)
	var found *proxy.ServerState
	if key != "" {
		for _, s := range be.Servers() {
			if t.Spec.SrvKey == stick.SrvKeyAddr {
				if serverAddrKey(s.Server) == key {
					found = s
					break
				}
			} else if s.Server.Name == key {
				found = s
				break
			}
		}
	}
	if found == nil {
		for _, s := range be.Servers() {
			if int32(s.Server.ID) == id {
				found = s
				break
			}
		}
	}
	if found == nil {
		return nil
	}
	if stoppedServer(found) && !be.Proxy.Persist && !force {
		return nil
	}
	return found
}

// serverAddrKey is a server's address as srvkey addr stores it.
func serverAddrKey(s *proxy.Server) string {
	if s.Path != "" {
		return s.Path
	}
	return s.Addr.String() + ":" + strconv.Itoa(s.Port)
}

// stickResponse runs the store-response rules of backend be, then
// records every pending key with the server that answered.
func (l *L7) stickResponse(tx *proxy.Txn, rules []stickRule, st *txnState) {
	for i := range rules {
		r := &rules[i]
		if !r.response || r.table == nil || st.storing(r.table) {
			continue
		}
		if !r.cond.Eval(&st.Ctx) {
			continue
		}
		v, ok := r.expr.Eval(&st.Ctx)
		if !ok {
			continue
		}
		if key, ok := acl.StickKey(&st.Ctx, r.table, v); ok {
			st.addStore(r.table, key)
		}
	}
	if tx.Server == nil {
		return
	}
	if tx.Server.Server.NonStick {
		// HAProxy drops the pending stores of a non-stick server.
		st.nstores = 0
		return
	}
	for i := 0; i < st.nstores; i++ {
		s := &st.stores[i]
		ref := s.t.Get(s.key)
		if ref == 0 {
			continue
		}
		key := ""
		if s.t.Stores(stick.ServerKey) {
			if s.t.Spec.SrvKey == stick.SrvKeyAddr {
				key = serverAddrKey(tx.Server.Server)
			} else {
				key = tx.Server.Server.Name
			}
		}
		s.t.StoreServer(ref, int32(tx.Server.Server.ID), key)
		s.t.Release(ref)
	}
	st.nstores = 0
}
