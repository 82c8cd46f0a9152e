package acl

import (
	"fmt"
	"strconv"
)

// TLS ClientHello parsing for the payload fetches req.ssl_sni,
// req.ssl_alpn and req.ssl_hello_type, following HAProxy's
// smp_fetch_ssl_hello_* (src/payload.c): the hello must sit in the first
// record of the client's first bytes; every length is bounds-checked.

// helloResult says whether a buffer holds what a fetch needs.
type helloResult uint8

const (
	helloOK    helloResult = iota
	helloShort             // more bytes may still make it a hello
	helloNot               // not a (usable) ClientHello: definitive
)

// clientHello is a parsed ClientHello; the slices point into the buffer.
type clientHello struct {
	sni  []byte // host_name of the server_name extension, nil without
	alpn []byte // the ALPN extension's protocol_name_list, nil without
	// ecExt: the supported_groups (elliptic curves) extension is there;
	// ticket: 0 no session_ticket extension, 1 an empty one, 2 a ticket.
	ecExt  bool
	ticket int64
}

func be16(b []byte) int { return int(b[0])<<8 | int(b[1]) }

// parseHello parses the ClientHello at the start of b; values are only
// given with helloOK.
func parseHello(b []byte) (clientHello, helloResult) {
	h, r := walkHello(b)
	if r != helloOK {
		return clientHello{}, r
	}
	return h, r
}

func walkHello(b []byte) (clientHello, helloResult) {
	var h clientHello
	if len(b) < 5 {
		return h, helloShort
	}
	if b[0] != 0x16 || b[1] < 0x03 { // handshake record, SSLv3+
		return h, helloNot
	}
	recLen := be16(b[3:])
	if recLen < 4 {
		return h, helloNot
	}
	rec := b[5:]
	if len(rec) > recLen {
		rec = rec[:recLen]
	}
	if len(rec) < 1 {
		return h, helloShort
	}
	if rec[0] != 0x01 { // client_hello
		return h, helloNot
	}
	if len(rec) < 4 {
		return h, helloShort
	}
	hsLen := int(rec[1])<<16 | be16(rec[2:])
	if 4+hsLen > recLen {
		return h, helloNot // fragmented over several records: not handled, as in HAProxy
	}
	if len(rec) < 4+hsLen {
		return h, helloShort
	}
	m := rec[4 : 4+hsLen]
	// client_version(2) random(32) session_id<0..32>
	if len(m) < 35 || m[0] < 0x03 {
		return h, helloNot
	}
	sid := int(m[34])
	if sid > 32 || len(m) < 35+sid+2 {
		return h, helloNot
	}
	m = m[35+sid:]
	cs := be16(m)
	if cs < 2 || len(m) < 2+cs+1 {
		return h, helloNot
	}
	m = m[2+cs:]
	comp := int(m[0])
	if comp < 1 || len(m) < 1+comp {
		return h, helloNot
	}
	m = m[1+comp:]
	if len(m) < 2 {
		return h, helloOK // no extensions at all
	}
	extLen := be16(m)
	if extLen > len(m)-2 {
		return h, helloNot
	}
	ext := m[2 : 2+extLen]
	for len(ext) >= 4 {
		typ, l := be16(ext), be16(ext[2:])
		if l > len(ext)-4 {
			return h, helloNot
		}
		body := ext[4 : 4+l]
		switch typ {
		case 0: // server_name: list<2> of {type(1) name<2>}
			if len(body) < 2 || be16(body) != len(body)-2 {
				return h, helloNot
			}
			for list := body[2:]; len(list) >= 3; {
				nl := be16(list[1:])
				if nl > len(list)-3 {
					return h, helloNot
				}
				if list[0] == 0 && h.sni == nil {
					h.sni = list[3 : 3+nl]
				}
				list = list[3+nl:]
			}
		case 10: // supported_groups, formerly elliptic_curves (RFC 4492)
			h.ecExt = true
		case 35: // session_ticket (RFC 5077)
			h.ticket = 1
			if l > 0 {
				h.ticket = 2
			}
		case 16: // ALPN: protocol_name_list<2>
			if len(body) < 2 || be16(body) != len(body)-2 {
				return h, helloNot
			}
			h.alpn = body[2:]
		}
		ext = ext[4+l:]
	}
	return h, helloOK
}

// nextALPN returns the protocol name at *pos in an ALPN list and advances
// *pos; ok is false at the end or on a malformed entry.
func nextALPN(list []byte, pos *int) ([]byte, bool) {
	p := *pos
	if p >= len(list) {
		return nil, false
	}
	n := int(list[p])
	if n == 0 || p+1+n > len(list) {
		return nil, false
	}
	*pos = p + 1 + n
	return list[p+1 : p+1+n], true
}

// helloType is req.ssl_hello_type: the handshake type of the first
// record (HAProxy accepts any SSLv3+ record type 0x14-0x17 here).
func helloType(b []byte) (int64, helloResult) {
	if len(b) == 0 {
		return 0, helloShort
	}
	if !(b[0] >= 0x14 && b[0] <= 0x17) {
		return 0, helloNot
	}
	if len(b) < 9 {
		return 0, helloShort
	}
	if int(b[1])<<16|int(b[2])<<8 < 0x030000 || be16(b[3:]) < 4 {
		return 0, helloNot
	}
	hsLen := int(b[6])<<16 | be16(b[7:])
	if len(b) < 9+hsLen && len(b) < 5+be16(b[3:]) {
		return 0, helloShort // not a full fragment yet
	}
	return int64(b[5]), helloOK
}

// payload returns the transaction's buffered client bytes; without a
// payload view there is nothing and nothing will come.
func (c *Ctx) payload() ([]byte, bool) {
	if p, ok := c.T.(PayloadTxn); ok {
		return p.Payload()
	}
	return nil, true
}

// payloadMiss records that a fetch lacked bytes that may still arrive.
func (c *Ctx) payloadMiss(final bool) {
	if !final {
		c.MayChange = true
	}
}

// payloadSlice is payload(offset,length) of b: from offset, length bytes
// (0: the rest of the buffer, which may still grow).
func payloadSlice(c *Ctx, f *fetch, b []byte, final bool) (Value, bool) {
	off, n := int(f.num), int(f.num2)
	if n == 0 {
		c.payloadMiss(final)
		if off > len(b) {
			return Value{}, false
		}
		return Value{Kind: KBin, B: b[off:]}, true
	}
	if off+n > len(b) {
		c.payloadMiss(final)
		return Value{}, false
	}
	return Value{Kind: KBin, B: b[off : off+n]}, true
}

// resPayload returns the server's first bytes buffered for tcp-response
// content rules; without them there is nothing and nothing will come.
func (c *Ctx) resPayload() ([]byte, bool) {
	if p, ok := c.T.(ResPayloadTxn); ok {
		return p.ResPayload()
	}
	return nil, true
}

// resPayloadFetches read the server's first bytes in mode tcp while
// tcp-response content rules inspect them (configuration.txt §7.3.5);
// in mode http nothing is buffered there (res.len is 0, as HAProxy's).
func resPayloadFetches() []*fetchDef {
	return []*fetchDef{
		{name: "res.len", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			b, final := c.resPayload()
			c.payloadMiss(final)
			return intVal(int64(len(b))), true
		})},
		{name: "res.payload", out: KBin, minArgs: 2, maxArgs: 2, compile: payloadArgs, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			b, final := c.resPayload()
			return payloadSlice(c, f, b, final)
		})},
		{name: "res.ssl_hello_type", aliases: []string{"rep_ssl_hello_type"}, out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			b, final := c.resPayload()
			t, r := helloType(b)
			if r == helloShort {
				c.payloadMiss(final)
			}
			return intVal(t), r == helloOK
		})},
	}
}

// payloadFetches read the client's first bytes in mode tcp
// (configuration.txt §7.3.5).
func payloadFetches() []*fetchDef {
	return []*fetchDef{
		{name: "req.len", aliases: []string{"req_len"}, out: KInt, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			if !once(st) {
				return Value{}, false
			}
			if c.T.Method() != nil {
				return intVal(int64(headSize(c))), true
			}
			b, final := c.payload()
			c.payloadMiss(final)
			return Value{Kind: KInt, I: int64(len(b))}, true
		}},
		{name: "req.payload", aliases: []string{"payload"}, out: KBin, minArgs: 2, maxArgs: 2, compile: payloadArgs, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			b, final := c.payload()
			return payloadSlice(c, f, b, final)
		})},
		{name: "req.ssl_hello_type", aliases: []string{"req_ssl_hello_type"}, out: KInt, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			if !once(st) {
				return Value{}, false
			}
			b, final := c.payload()
			t, r := helloType(b)
			if r == helloShort {
				c.payloadMiss(final)
			}
			return Value{Kind: KInt, I: t}, r == helloOK
		}},
		{name: "req.ssl_sni", aliases: []string{"req_ssl_sni"}, out: KStr, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			if !once(st) {
				return Value{}, false
			}
			b, final := c.payload()
			h, r := parseHello(b)
			if r == helloShort {
				c.payloadMiss(final)
			}
			if r != helloOK || h.sni == nil {
				return Value{}, false
			}
			return Value{Kind: KStr, B: h.sni}, true
		}},
		{name: "req.ssl_ver", aliases: []string{"req_ssl_ver"}, out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			b, final := c.payload()
			v, r := sslVersion(b, 0)
			if r == helloShort {
				c.payloadMiss(final)
			}
			return intVal(v), r == helloOK
		})},
		{name: "req.ssl_ec_ext", out: KBool, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			b, final := c.payload()
			h, r := parseHello(b)
			if r == helloShort {
				c.payloadMiss(final)
			}
			return boolVal(h.ecExt), r == helloOK
		})},
		{name: "req.ssl_st_ext", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			b, final := c.payload()
			h, r := parseHello(b)
			if r == helloShort {
				c.payloadMiss(final)
			}
			return intVal(h.ticket), r == helloOK
		})},
		// payload_lv(offset,length[,offset2]): a block whose size is the
		// big-endian integer of length bytes at offset, starting after it,
		// at offset2, or at +/-offset2 from there.
		{name: "req.payload_lv", aliases: []string{"payload_lv"}, out: KBin, minArgs: 2, maxArgs: 3, compile: payloadLVArgs, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			b, final := c.payload()
			off, n := int(f.num), int(f.num2)
			if off+n > len(b) {
				c.payloadMiss(final)
				return Value{}, false
			}
			size := 0
			for _, ch := range b[off : off+n] {
				size = size<<8 | int(ch)
			}
			start := off + n
			if f.ref != nil {
				rel := f.ref.([2]int)
				if rel[1] != 0 {
					start += rel[0]
				} else {
					start = rel[0]
				}
			}
			if size == 0 || start < 0 || size > 1<<20 {
				return Value{}, false
			}
			if start+size > len(b) {
				c.payloadMiss(final)
				return Value{}, false
			}
			return Value{Kind: KBin, B: b[start : start+size]}, true
		})},
		// req.ssl_alpn gives each protocol the client offers in ACL mode (any
		// may match), the first one as a sample.
		{name: "req.ssl_alpn", out: KStr, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			if *st < 0 {
				return Value{}, false
			}
			b, final := c.payload()
			h, r := parseHello(b)
			if r == helloShort {
				c.payloadMiss(final)
			}
			if r != helloOK {
				*st = -1
				return Value{}, false
			}
			pos := *st
			p, ok := nextALPN(h.alpn, &pos)
			if !ok {
				*st = -1
				return Value{}, false
			}
			if f.multi {
				*st = pos
			} else {
				*st = -1
			}
			return Value{Kind: KStr, B: p}, true
		}},
	}
}

// headSize is req.len in mode http: the size of the request in HAProxy's
// internal (HTX) form, what its request buffer holds: 21 bytes of start
// line and end-of-headers blocks, the start line's three words, each
// header's name and value, and the body bytes already there (checked
// against HAProxy 2.6.12: its regression test's request counts 67, the
// samples golden's 222).
func headSize(c *Ctx) int {
	n := 21 + len(c.T.Method()) + len(c.T.URI()) + len(c.T.Version())
	if hl := c.T.ReqHeaders(); hl != nil {
		for i := 0; i < hl.Len(); i++ {
			k, v := hl.At(i)
			if eqFold(k, []byte("connection")) {
				// HTX keeps it without its close and keep-alive
				// tokens, and drops it when nothing else is left.
				if l := cleanConnLen(v); l > 0 {
					n += len(k) + l
				}
				continue
			}
			n += len(k) + len(v)
		}
	}
	if b, _, ok := c.reqBody(); ok {
		n += len(b)
	}
	return n
}

// cleanConnLen is the length of a Connection value without its close and
// keep-alive tokens, the others joined by ", ".
func cleanConnLen(v []byte) int {
	n, kept := 0, 0
	for off := 0; off >= 0; {
		var tok []byte
		tok, off = nextValue(v, off)
		if len(tok) == 0 || eqFold(tok, []byte("close")) || eqFold(tok, []byte("keep-alive")) {
			continue
		}
		if kept > 0 {
			n += 2
		}
		n += len(tok)
		kept++
	}
	return n
}

// sslVersion is req.ssl_ver: the version the client's hello asks for,
// major << 16 | minor (TLS 1.2 is 0x30003), from an SSLv3+ record or an
// SSLv2-compatible hello, once the whole message is there (HAProxy's
// smp_fetch_req_ssl_ver).
func sslVersion(b []byte, bufsize int) (int64, helloResult) {
	if len(b) == 0 {
		return 0, helloShort
	}
	var version int64
	var msgLen int
	d := b
	if (d[0] >= 0x14 && d[0] <= 0x17) || d[0] == 0xff {
		if len(d) < 11 {
			return 0, helloShort
		}
		version = int64(d[1])<<16 | int64(d[2])
		msgLen = be16(d[3:])
		if version < 0x30000 || msgLen < 6 || msgLen > 1<<14+2048 {
			return 0, helloNot
		}
		d = d[5:]
		version = int64(d[4])<<16 | int64(d[5]) // the hello's, not the record's
	} else {
		var rlen, plen int
		if d[0]&0x80 != 0 {
			if len(d) < 3 {
				return 0, helloShort
			}
			rlen = int(d[0]&0x7f)<<8 | int(d[1])
			d = d[2:]
		} else {
			if len(d) < 4 {
				return 0, helloShort
			}
			rlen, plen = int(d[0]&0x3f)<<8|int(d[1]), int(d[2])
			d = d[3:]
		}
		if d[0] != 0x01 {
			return 0, helloNot
		}
		d = d[1:]
		if len(d) < 8 {
			return 0, helloShort
		}
		version = int64(d[0])<<16 | int64(d[1])
		cilen, silen, chlen := be16(d[2:]), be16(d[4:]), be16(d[6:])
		d = d[8:]
		if cilen%3 != 0 || (silen != 0 && silen != 16) || chlen < 16 || chlen > 32 || rlen != 9+cilen+silen+chlen {
			return 0, helloNot
		}
		msgLen = cilen + silen + chlen + plen
	}
	if bufsize > 0 && msgLen > bufsize-(len(b)-len(d)) {
		msgLen = bufsize - (len(b) - len(d))
	}
	if len(d) < msgLen {
		return 0, helloShort
	}
	return version, helloOK
}

// payloadLVArgs compiles (offset,length[,offset2]) of payload_lv.
func payloadLVArgs(f *fetch, o *Options) error {
	off, err1 := strconv.Atoi(f.args[0])
	n, err2 := strconv.Atoi(f.args[1])
	if err1 != nil || err2 != nil || off < 0 || n <= 0 || n > 4 {
		return fmt.Errorf("invalid offset or length")
	}
	f.num, f.num2 = int64(off), int64(n)
	if len(f.args) > 2 && f.args[2] != "" {
		a := f.args[2]
		rel := a[0] == '+' || a[0] == '-'
		v, err := strconv.Atoi(a)
		if err != nil {
			return fmt.Errorf("invalid offset '%s'", a)
		}
		r := 0
		if rel {
			r = 1
		}
		f.ref = [2]int{v, r}
	}
	return nil
}

// payloadArgs compiles (offset,length) of req.payload.
func payloadArgs(f *fetch, o *Options) error {
	off, err1 := strconv.Atoi(f.args[0])
	n, err2 := strconv.Atoi(f.args[1])
	if err1 != nil || err2 != nil || off < 0 || n < 0 {
		return fmt.Errorf("invalid offset or length")
	}
	f.num, f.num2 = int64(off), int64(n)
	return nil
}
