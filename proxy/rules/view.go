package rules

import (
	"crypto/tls"
	"net/netip"
	"unsafe"

	"halo/proxy"
	"halo/proxy/acl"
	"halo/proxy/http1"
)

// view adapts the engine's *proxy.Txn to Txn without allocating.
type view struct {
	tx  *proxy.Txn
	st  *State
	req hdrs
	res hdrs
	// In mode tcp the request fetches read an HTTP/1 request in the
	// client's first bytes (view_payload.go).
	pay    http1.Message
	payBuf []byte
	payLen int
	payOK  bool
}

var (
	_ Txn            = (*view)(nil)
	_ acl.EngineTxn  = (*view)(nil)
	_ acl.CaptureTxn = (*view)(nil)
	_ acl.BodyTxn    = (*view)(nil)
)

// Engine gives the fetches about the stream the engine's transaction.
func (v *view) Engine() *proxy.Txn { return v.tx }

// SetCapture fills capture slot i (the capture-req / capture-res
// converters).
func (v *view) SetCapture(res bool, i int, b []byte) bool {
	if v.st == nil {
		return false
	}
	caps := v.st.ReqCaps
	if res {
		caps = v.st.ResCaps
	}
	if i < 0 || i >= len(caps) {
		return false
	}
	v.st.capture(res, i, b, 0)
	return true
}

// Captured is the i-th captured request or response value.
func (v *view) Captured(res bool, i int) ([]byte, bool) {
	if v.st == nil {
		return nil, false
	}
	caps := v.st.ReqCaps
	if res {
		caps = v.st.ResCaps
	}
	if i < 0 || i >= len(caps) || caps[i] == nil {
		return nil, false
	}
	return caps[i], true
}

func (v *view) bind(tx *proxy.Txn) {
	v.tx = tx
	v.payLen, v.payOK = 0, false
	v.req.m = tx.Req
	v.res.m = tx.Resp
}

func (v *view) Method() []byte {
	m := v.request()
	if m == nil {
		return nil
	}
	return m.Method
}

func (v *view) URI() []byte {
	m := v.request()
	if m == nil {
		return nil
	}
	return m.URI
}

func (v *view) Path() []byte {
	m := v.request()
	if m == nil {
		return nil
	}
	return m.Path()
}

func (v *view) Query() []byte {
	m := v.request()
	if m == nil {
		return nil
	}
	return m.Query()
}

var versions = [][]byte{[]byte("HTTP/1.0"), []byte("HTTP/1.1")}

func (v *view) Version() []byte {
	m := v.request()
	if m == nil {
		return nil
	}
	if m.Major == 1 && m.Minor <= 1 {
		return versions[m.Minor]
	}
	return []byte(m.VersionString())
}

func (v *view) ReqHeaders() acl.HeaderList {
	m := v.request()
	if m == nil {
		return nil
	}
	v.req.m = m
	return &v.req
}

func (v *view) ResHeaders() acl.HeaderList {
	if v.tx.Resp == nil {
		return nil
	}
	v.res.m = v.tx.Resp
	return &v.res
}

func (v *view) Status() int {
	if v.tx.Resp == nil {
		return 0
	}
	return v.tx.Resp.Status
}

func (v *view) Src() netip.AddrPort { return v.tx.Src }
func (v *view) Dst() netip.AddrPort { return v.tx.Dst }
func (v *view) SSL() bool           { return v.tx.SSL }

// SNI is the server name the client sent in its TLS handshake.
func (v *view) SNI() []byte {
	if v.tx.TLS == nil || v.tx.TLS.ServerName == "" {
		return nil
	}
	s := v.tx.TLS.ServerName
	return unsafe.Slice(unsafe.StringData(s), len(s)) // read-only view, no copy
}

// TLSState and ClientCert serve the ssl_fc_* and ssl_c_* fetches.
func (v *view) TLSState() *tls.ConnectionState       { return v.tx.TLS }
func (v *view) ServerTLSState() *tls.ConnectionState { return v.tx.ServerTLS }
func (v *view) ClientCert() *proxy.ClientCertCheck   { return v.tx.ClientCert }

// ReqBody returns the request body bytes already received and whether
// that is the whole body (stats admin forms).
func (v *view) ReqBody() ([]byte, bool) { return v.tx.ReqBody, v.tx.ReqBodyFull }

func (v *view) SetMethod(m []byte) {
	if v.tx.Req != nil {
		v.tx.Req.SetMethod(m)
	}
}

func (v *view) SetURI(u []byte) {
	if v.tx.Req != nil {
		v.tx.Req.SetURI(u)
	}
}

func (v *view) SetStatus(code int, reason []byte) {
	m := v.tx.Resp
	if m == nil {
		return
	}
	m.Status = code
	if reason == nil {
		reason = []byte(Reason(code))
	}
	m.Reason = arena(m, reason)
}

// hdrs adapts an http1.Message's header slice to acl.HeaderList.
type hdrs struct{ m *http1.Message }

func (h *hdrs) Len() int                      { return len(h.m.Headers) }
func (h *hdrs) At(i int) (name, value []byte) { return h.m.Headers[i].Name, h.m.Headers[i].Value }
func (h *hdrs) Add(name, value []byte)        { h.m.AddHeaderBytes(name, value) }
func (h *hdrs) Set(i int, value []byte)       { h.m.Headers[i].Value = arena(h.m, value) }
func (h *hdrs) Del(i int) {
	hs := h.m.Headers
	copy(hs[i:], hs[i+1:])
	h.m.Headers = hs[:len(hs)-1]
}

// arena copies b into the message's arena (the engine's storage for
// rewritten bytes), so it outlives our scratch buffers.
func arena(m *http1.Message, b []byte) []byte {
	start := len(m.Arena)
	m.Arena = append(m.Arena, b...)
	return m.Arena[start:len(m.Arena):len(m.Arena)]
}

// Payload shows the client's first bytes to the payload fetches (mode tcp
// with tcp-request inspect-delay).
func (v *view) Payload() ([]byte, bool) { return v.tx.PayloadState() }

// ResPayload shows the server's first bytes to the res.payload fetches
// (mode tcp with tcp-response content rules).
func (v *view) ResPayload() ([]byte, bool) { return v.tx.ResPayloadState() }
