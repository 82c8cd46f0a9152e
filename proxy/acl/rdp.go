package acl

import "bytes"

// RDPCookie reads the cookie of an RDP connection request, as HAProxy's
// rdp_cookie fetch does: after the TPKT and X.224 headers (11 bytes)
// comes a line "Cookie: NAME=VALUE\r\n" (the word and the name compared
// without case, spaces allowed after the colon). name empty matches any
// cookie. short reports that the bytes end before the answer is known, so
// more data may still bring a cookie (HAProxy's SMP_F_MAY_CHANGE).
func RDPCookie(b []byte, name string) (val []byte, ok, short bool) {
	const hdr = 11 // TPKT (4) + X.224 connection request (7)
	if len(b) <= hdr {
		return nil, false, true
	}
	d := b[hdr:]
	if len(d) <= 7 {
		return nil, false, true
	}
	if !bytes.EqualFold(d[:7], []byte("Cookie:")) {
		return nil, false, false
	}
	d = d[7:]
	for len(d) > 0 && d[0] == ' ' {
		d = d[1:]
	}
	if name != "" {
		if len(d) <= len(name) {
			return nil, false, true
		}
		if d[len(name)] != '=' || !bytes.EqualFold(d[:len(name)], []byte(name)) {
			return nil, false, false
		}
		d = d[len(name)+1:]
	} else {
		i := bytes.IndexAny(d, "=\r\n")
		switch {
		case i < 0:
			return nil, false, true
		case d[i] != '=':
			return nil, false, false
		}
		d = d[i+1:]
	}
	end := bytes.IndexByte(d, '\r')
	if end < 0 || end+1 >= len(d) {
		return nil, false, true
	}
	if d[end+1] != '\n' {
		return nil, false, false
	}
	return d[:end], true, false
}

// rdpFetches read the RDP cookie of the client's first bytes (mode tcp).
func rdpFetches() []*fetchDef {
	return []*fetchDef{{name: "req.rdp_cookie", aliases: []string{"rdp_cookie"}, out: KStr, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		b, final := c.payload()
		v, ok, short := RDPCookie(b, rdpName(f))
		if short {
			c.payloadMiss(final)
		}
		return Value{Kind: KStr, B: v}, ok
	}},
		// The count is 0 or 1, and only known once the cookie is complete or
		// cannot come (tcp-request content ... if RDP_COOKIE waits for it).
		{name: "req.rdp_cookie_cnt", aliases: []string{"rdp_cookie_cnt"}, out: KInt, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			if !once(st) {
				return Value{}, false
			}
			b, final := c.payload()
			_, ok, short := RDPCookie(b, rdpName(f))
			if short {
				c.payloadMiss(final)
				if !final {
					return Value{}, false
				}
			}
			n := int64(0)
			if ok {
				n = 1
			}
			return Value{Kind: KInt, I: n}, true
		}},
	}
}

func rdpName(f *fetch) string {
	if len(f.args) > 0 {
		return f.args[0]
	}
	return ""
}
