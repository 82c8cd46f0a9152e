package rules

import (
	"halo/proxy"
	"halo/proxy/http1"
)

// request is the transaction's HTTP request: the parsed head in mode
// http; in mode tcp, an HTTP/1 request head found in the client's first
// bytes (tcp-request inspect-delay), as HAProxy's HTTP fetches parse the
// buffer in a TCP stream. Those bytes are parsed in a copy, since the
// parser lower-cases header names in place and the server must get them
// unchanged. While the head is incomplete and more bytes may come, the
// fetch asking says its result may still change (the rule waits).
func (v *view) request() *http1.Message {
	if v.tx.Req != nil || v.tx.Frontend == nil || v.tx.Frontend.Proxy.Mode == proxy.ModeHTTP {
		return v.tx.Req
	}
	b, final := v.tx.PayloadState()
	if len(b) != v.payLen {
		v.payBuf = append(v.payBuf[:0], b...)
		if v.pay.Headers == nil {
			v.pay.Headers = make([]http1.Header, 0, 16)
		}
		v.pay.Reset()
		v.payOK = http1.ParseRequest(&v.pay, v.payBuf, len(v.payBuf)) == nil
		v.payLen = len(b)
	}
	if !v.payOK {
		if !final && v.st != nil {
			v.st.Ctx.MayChange = true
		}
		return nil
	}
	return &v.pay
}
