// Package acltest provides a simple in-memory transaction for tests of
// the layer-7 packages (acl, rules, logging, stats).
package acltest

import (
	"bytes"
	"net/netip"
	"strings"

	"halo/proxy/acl"
)

// Headers is a slice-backed acl.HeaderList.
type Headers struct{ KV [][2][]byte }

func (h *Headers) Len() int                      { return len(h.KV) }
func (h *Headers) At(i int) (name, value []byte) { return h.KV[i][0], h.KV[i][1] }
func (h *Headers) Add(name, value []byte) {
	h.KV = append(h.KV, [2][]byte{append([]byte(nil), name...), append([]byte(nil), value...)})
}
func (h *Headers) Set(i int, value []byte) { h.KV[i][1] = append([]byte(nil), value...) }
func (h *Headers) Del(i int)               { h.KV = append(h.KV[:i], h.KV[i+1:]...) }

// Get returns the values of every header called name, in order.
func (h *Headers) Get(name string) []string {
	var out []string
	for _, kv := range h.KV {
		if strings.EqualFold(string(kv[0]), name) {
			out = append(out, string(kv[1]))
		}
	}
	return out
}

// Txn is a mutable transaction implementing acl.Txn and rules.Txn.
type Txn struct {
	Meth, U, Ver []byte
	Req, Res     Headers
	HasRes       bool
	Code         int
	Source, Dest netip.AddrPort
	TLS          bool
	ServerName   []byte
}

var _ acl.Txn = (*Txn)(nil)

// New builds a request from "METHOD URI" and "Name: value" header lines.
func New(reqLine string, hdrs ...string) *Txn {
	f := strings.Fields(reqLine)
	t := &Txn{Meth: []byte(f[0]), U: []byte(f[1]), Ver: []byte("HTTP/1.1"),
		Source: netip.MustParseAddrPort("127.0.0.1:40000"),
		Dest:   netip.MustParseAddrPort("127.0.0.1:8080")}
	if len(f) > 2 {
		t.Ver = []byte(f[2])
	}
	for _, h := range hdrs {
		k, v, _ := strings.Cut(h, ":")
		t.Req.Add([]byte(k), []byte(strings.TrimSpace(v)))
	}
	return t
}

func (t *Txn) Method() []byte  { return t.Meth }
func (t *Txn) URI() []byte     { return t.U }
func (t *Txn) Version() []byte { return t.Ver }
func (t *Txn) Path() []byte {
	if i := bytes.IndexByte(t.U, '?'); i >= 0 {
		return t.U[:i]
	}
	return t.U
}
func (t *Txn) Query() []byte {
	if i := bytes.IndexByte(t.U, '?'); i >= 0 {
		return t.U[i+1:]
	}
	return nil
}
func (t *Txn) ReqHeaders() acl.HeaderList { return &t.Req }
func (t *Txn) ResHeaders() acl.HeaderList {
	if !t.HasRes {
		return nil
	}
	return &t.Res
}
func (t *Txn) Status() int                       { return t.Code }
func (t *Txn) Src() netip.AddrPort               { return t.Source }
func (t *Txn) Dst() netip.AddrPort               { return t.Dest }
func (t *Txn) SSL() bool                         { return t.TLS }
func (t *Txn) SNI() []byte                       { return t.ServerName }
func (t *Txn) SetMethod(m []byte)                { t.Meth = append([]byte(nil), m...) }
func (t *Txn) SetURI(u []byte)                   { t.U = append([]byte(nil), u...) }
func (t *Txn) SetStatus(code int, reason []byte) { t.Code = code }
func (t *Txn) SetPath(p []byte) {
	q := t.Query()
	u := append([]byte(nil), p...)
	if q != nil {
		u = append(append(u, '?'), q...)
	}
	t.U = u
}
func (t *Txn) SetQuery(q []byte) {
	u := append([]byte(nil), t.Path()...)
	if len(q) > 0 {
		u = append(append(u, '?'), q...)
	}
	t.U = u
}
