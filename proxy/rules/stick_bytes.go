package rules

import (
	"bytes"

	"halo/proxy"
	"halo/proxy/http1"
)

// HAProxy counts the bytes_in/bytes_out of tracked entries on the
// channels, which in HTTP mode hold HTX messages rather than HTTP/1
// text: a message counts a fixed 21 bytes for its start line and
// end-of-headers blocks, the start line's three words, each header's name
// and value (a Connection header left empty once its close and
// keep-alive tokens are taken out is dropped) and the body's data (for a
// chunked body its data, trailers' names and values and 1 for the end of
// trailers, without the framing) (recorded against HAProxy 2.6.12: a 27-byte "GET /x HTTP/1.1" with one
// header counts 38).
const htxMsgOverhead = 21

// htxHeadSize is the HTX size of a parsed head (before body).
func htxHeadSize(m *http1.Message, request bool) int64 {
	n := int64(htxMsgOverhead) + 8 // "HTTP/1.x"
	if request {
		n += int64(len(m.Method) + len(m.URI))
	} else {
		n += 3 + int64(len(m.Reason))
	}
	for _, h := range m.Headers {
		if bytes.EqualFold(h.Name, []byte("connection")) {
			n += http1.CleanConnLen(h.Value) + int64(len(h.Name))
			if http1.CleanConnLen(h.Value) == 0 {
				n -= int64(len(h.Name))
			}
			continue
		}
		n += int64(len(h.Name) + len(h.Value))
	}
	return n
}

// wireHeadLen is the size of a response head as HTTP/1 text (status line,
// headers, blank line), to tell a streamed body's bytes from the head's.
func wireHeadLen(m *http1.Message) int64 {
	n := int64(len("HTTP/1.1 200 ")+len(m.Reason)) + 2 + 2
	for _, h := range m.Headers {
		n += int64(len(h.Name)+len(h.Value)) + 4
	}
	return n
}

// replyHTXSize is the HTX size of a raw response halo answered itself
// (deny, return, redirect, error pages).
// m is scratch space.
func replyHTXSize(m *http1.Message, raw []byte) int64 {
	m.Reset()
	if err := http1.ParseResponse(m, raw, len(raw)); err != nil {
		return 0
	}
	return htxHeadSize(m, false) + int64(len(raw)-m.HeadLen)
}

// stickBytes returns what a finished stream counts as bytes in and out
// for its stick counters: HTX sizes in mode http, the bytes themselves in
// mode tcp.
func (st *txnState) stickBytes(tx *proxy.Txn) (in, out uint64) {
	bin, bout := max(tx.BytesIn, 0), max(tx.BytesOut, 0)
	if tx.Req == nil {
		return uint64(bin), uint64(bout)
	}
	// The engine counts a request's bytes in as its HTX holds them
	// already (the head's blocks, a chunked body without its framing).
	in = uint64(bin)
	switch {
	case tx.Reply != nil:
		out = uint64(replyHTXSize(&st.scratchMsg, tx.Reply))
	case tx.Resp != nil && st.outHead > 0:
		body := tx.Resp.ContentLength
		if body < 0 || body > bout {
			body = max(bout-wireHeadLen(tx.Resp), 0)
		}
		if tx.RespChunked > 0 {
			body = tx.RespChunked
		}
		if string(tx.Req.Method) == "HEAD" || tx.Resp.Status == 204 || tx.Resp.Status == 304 {
			body = 0
		}
		out = uint64(st.outHead + body)
	}
	return in, out
}
