package cache

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"hash/crc32"
	"strconv"
	"time"

	"halo/proxy"
	"halo/proxy/http1"
)

// HTTP's caching rules as HAProxy 2.6 applies them (http_ana.c's
// http_check_request/response_for_cacheability, cache.c).

// headerItems calls fn with each comma-separated item of the headers named
// name (trimmed; commas in quoted strings do not split), as HAProxy's
// http_find_header walks values; fn returns false to stop.
func headerItems(m *http1.Message, name string, fn func(v []byte) bool) {
	for i := range m.Headers {
		h := &m.Headers[i]
		if !http1.EqualFold(h.Name, name) {
			continue
		}
		v := h.Value
		for {
			item, rest := nextItem(v)
			if !fn(item) {
				return
			}
			if rest == nil {
				break
			}
			v = rest
		}
	}
}

func nextItem(v []byte) (item, rest []byte) {
	quoted := false
	i := 0
	for ; i < len(v); i++ {
		c := v[i]
		if c == '"' {
			quoted = !quoted
		} else if c == '\\' && quoted && i+1 < len(v) {
			i++
		} else if c == ',' && !quoted {
			break
		}
	}
	item = bytes.Trim(v[:i], " \t")
	if i < len(v) {
		return item, v[i+1:]
	}
	return item, nil
}

// hasPrefixFold is istmatchi: v starts with p, case-insensitively.
func hasPrefixFold(v []byte, p string) bool {
	return len(v) >= len(p) && http1.EqualFold(v[:len(p)], p)
}

// requestFlags is http_check_request_for_cacheability plus cache-use's
// own rules: Ignore when the request may neither use nor fill a cache,
// NotCacheable when its response must not be stored.
func requestFlags(tx *proxy.Txn) {
	req := tx.Req
	tc := &tx.Cache
	meth := req.Method
	safe := http1.EqualFold(meth, "GET") || http1.EqualFold(meth, "HEAD") ||
		http1.EqualFold(meth, "OPTIONS") || http1.EqualFold(meth, "TRACE")
	if !safe {
		tc.NotCacheable = true
	}
	if !req.Is11() || !(http1.EqualFold(meth, "GET") || http1.EqualFold(meth, "HEAD")) {
		tc.Ignore = true
	}
	if tc.NotCacheable && tc.Ignore {
		return
	}
	pragma := false
	if v, ok := req.Get("pragma"); ok && http1.EqualFold(v, "no-cache") {
		pragma = true
	}
	if _, ok := req.Get("authorization"); ok {
		tc.NotCacheable, tc.Ignore = true, true
	}
	cc := false
	headerItems(req, "cache-control", func(v []byte) bool {
		cc = true
		switch {
		case hasPrefixFold(v, "max-age"), hasPrefixFold(v, "no-cache"),
			hasPrefixFold(v, "max-stale"), hasPrefixFold(v, "min-fresh"):
			tc.Ignore = true
		case hasPrefixFold(v, "no-store"):
			tc.NotCacheable = true
		}
		return true
	})
	if !cc && pragma {
		tc.Ignore = true
	}
}

// responseCacheable is http_check_response_for_cacheability: false when
// the response says it must not be stored, or has neither an explicit
// lifetime nor a validator (RFC 7234 §3).
func responseCacheable(resp *http1.Message, tx *proxy.Txn) bool {
	if v, ok := resp.Get("pragma"); ok && http1.EqualFold(v, "no-cache") {
		return false
	}
	cacheable := !tx.Cache.NotCacheable
	cook := true
	fresh := false
	headerItems(resp, "cache-control", func(v []byte) bool {
		switch {
		case http1.EqualFold(v, "public"):
			cacheable, cook = true, true
		case http1.EqualFold(v, "private"), http1.EqualFold(v, "no-cache"), http1.EqualFold(v, "no-store"),
			http1.EqualFold(v, "max-age=0"), http1.EqualFold(v, "s-maxage=0"):
			cacheable, cook = false, false
		case hasPrefixFold(v, `no-cache="set-cookie`):
			cook = false
		case hasPrefixFold(v, "s-maxage"), hasPrefixFold(v, "max-age"):
			fresh = true
		}
		return true
	})
	if !fresh {
		_, fresh = resp.Get("expires")
	}
	if !fresh {
		_, etag := resp.Get("etag")
		_, lm := resp.Get("last-modified")
		if !etag && !lm {
			return false
		}
	}
	return cacheable && cook
}

// primaryKey is sha1_hosturi: the SHA-1 of the absolute URI, or of
// "https://" + Host + the URI when it is in origin form, so HTTP/1 and
// HTTP/2 requests share entries. False without a Host to build it.
func primaryKey(req *http1.Message, dst *[20]byte, scratch []byte) ([]byte, bool) {
	uri := req.URI
	if len(uri) == 0 {
		return scratch, false
	}
	b := scratch[:0]
	if uri[0] == '/' || uri[0] == '*' || !bytes.Contains(uri, []byte("://")) {
		host, ok := req.Get("host")
		if !ok {
			return scratch, false
		}
		b = append(b, "https://"...)
		b = append(b, host...)
	}
	b = append(b, uri...)
	*dst = sha1.Sum(b)
	return b, true
}

// Vary support (cache.c's vary_information): the headers a response may
// vary on and keep being cached, each a part of the 8-byte secondary key.
const (
	varyAcceptEncoding = 1 << 0
	varyReferer        = 1 << 1
	varyAll            = varyAcceptEncoding | varyReferer
)

// Content codings a variant's accept-encoding part knows (the IANA
// registry's and RFC 7231's), one bit each.
const (
	encGzip = 1 << iota
	encDeflate
	encBr
	encCompress
	encAES128GCM
	encExi
	encPack200Gzip
	encZstd
	encIdentity
	encStar
	encOther
)

var encodings = []struct {
	name string
	bit  uint32
}{
	{"aes128gcm", encAES128GCM}, {"br", encBr}, {"compress", encCompress}, {"deflate", encDeflate},
	{"exi", encExi}, {"gzip", encGzip}, {"identity", encIdentity}, {"pack200-gzip", encPack200Gzip},
	{"x-gzip", encGzip}, {"x-compress", encCompress}, {"zstd", encZstd},
}

// parseEncoding is parse_encoding_value: a known coding's bit (matched on
// the name's first letter, then its prefix, as HAProxy does; 0 when the
// rest does not match) and whether its weight is exactly "q=0"; ok is
// false for an unknown coding or a malformed weight.
func parseEncoding(v []byte) (bit uint32, nullWeight, ok bool) {
	if len(v) == 0 {
		return 0, false, false
	}
	rest := v[1:]
	switch v[0] {
	case '*':
		bit = encStar
	case 'a', 'b', 'c', 'd', 'e', 'g', 'i', 'p', 'x', 'z':
		for _, e := range encodings {
			if e.name[0] == v[0] && bytes.HasPrefix(rest, []byte(e.name[1:])) {
				bit, rest = e.bit, rest[len(e.name)-1:]
				break
			}
		}
	default:
		return 0, false, false
	}
	if bit == 0 {
		return 0, false, true
	}
	rest = bytes.TrimLeft(rest, " \t")
	if len(rest) > 0 {
		if rest[0] != ';' {
			return 0, false, false
		}
		rest = bytes.TrimLeft(rest[1:], " \t")
		nullWeight = string(rest) == "q=0"
	}
	return bit, nullWeight, true
}

// acceptEncodingBits is accept_encoding_normalizer: the codings the
// request accepts; ok is false with more than 16 values (not used then).
func acceptEncodingBits(req *http1.Message, lower []byte) (uint32, bool) {
	bits := uint32(encIdentity)
	deny := ^uint32(0)
	count := 0
	over := false
	for i := range req.Headers {
		h := &req.Headers[i]
		if !http1.EqualFold(h.Name, "accept-encoding") {
			continue
		}
		v := h.Value
		for {
			if count == 16 {
				over = true
				break
			}
			count++
			item, rest := nextItem(v)
			if len(item) > 0 {
				lower = append(lower[:0], item...)
				for j, c := range lower {
					if 'A' <= c && c <= 'Z' {
						lower[j] = c + 'a' - 'A'
					}
				}
				if bit, null, ok := parseEncoding(lower); ok {
					if null {
						deny &^= bit
					} else {
						bits |= bit
					}
				} else {
					bits |= encOther
				}
			}
			if rest == nil {
				break
			}
			v = rest
		}
		if over {
			break
		}
	}
	if bits&encStar != 0 {
		bits = ^uint32(0)
	}
	bits &= deny
	if count == 0 {
		bits = ^uint32(0)
	}
	if count == 16 || over {
		return 0, false
	}
	return bits, true
}

// secondaryKey builds the request's variant key for the Vary headers in
// sig (the parts of the others are zero); false when it cannot be built.
func secondaryKey(req *http1.Message, sig uint32, dst *[8]byte, scratch []byte) bool {
	*dst = [8]byte{}
	if sig&varyAcceptEncoding != 0 {
		bits, ok := acceptEncodingBits(req, scratch)
		if !ok {
			return false
		}
		binary.LittleEndian.PutUint32(dst[0:4], bits)
	}
	if sig&varyReferer != 0 {
		if v, ok := req.Get("referer"); ok {
			binary.LittleEndian.PutUint32(dst[4:8], crc32.ChecksumIEEE(v))
		}
	}
	return true
}

// secondaryMatch compares a stored variant's key with a request's: the
// stored response's codings must all be accepted; the referers equal.
func secondaryMatch(ref, req [8]byte) bool {
	rb := binary.LittleEndian.Uint32(ref[0:4])
	nb := binary.LittleEndian.Uint32(req[0:4])
	if rb&encOther != 0 || rb&nb != rb {
		return false
	}
	return string(ref[4:8]) == string(req[4:8])
}

// varySignature is http_check_vary_header: the Vary headers of resp as
// bits; ok is false when it varies on a header the cache cannot handle.
func varySignature(resp *http1.Message) (sig uint32, ok bool) {
	ok = true
	headerItems(resp, "vary", func(v []byte) bool {
		switch {
		case http1.EqualFold(v, "accept-encoding"):
			sig |= varyAcceptEncoding
		case http1.EqualFold(v, "referer"):
			sig |= varyReferer
		default:
			ok = false
			return false
		}
		return true
	})
	return sig, ok
}

// responseEncodingBits is set_secondary_key_encoding: the stored
// variant's accept-encoding part is the response's own coding; ok is
// false for a coding the cache does not know.
func responseEncodingBits(resp *http1.Message) (uint32, bool) {
	var bits uint32
	ok := true
	headerItems(resp, "content-encoding", func(v []byte) bool {
		bit, _, good := parseEncoding(v)
		if !good {
			ok = false
			return false
		}
		bits |= bit
		return true
	})
	if bits == 0 {
		bits = encIdentity
	}
	return bits, ok
}

// maxAge is http_calc_maxage: the entry's lifetime (bounded by the
// cache's max-age) and the response's own (0 when it states none); -1
// for a malformed max-age.
func maxAge(resp *http1.Message, cacheMax, now int64) (effective, own int64) {
	smax, max := int64(-1), int64(-1)
	bad := false
	for i := range resp.Headers {
		h := &resp.Headers[i]
		if bad || !http1.EqualFold(h.Name, "cache-control") {
			continue
		}
		for v := h.Value; len(v) > 0 && !bad; {
			var item []byte
			item, v = nextItem(v)
			if n, found, good := directive(item, "s-maxage"); found {
				smax, bad = n, !good
			}
			if n, found, good := directive(item, "max-age"); found && !bad {
				max, bad = n, !good
			}
		}
	}
	if bad {
		return -1, 0
	}
	expires := int64(-1)
	if max == -1 && smax == -1 {
		if v, ok := resp.Get("expires"); ok {
			expires = 0
			if t, ok := parseHTTPDate(v); ok && t >= now {
				expires = t - now
			}
		}
	}
	switch {
	case smax > 0:
		return min(smax, cacheMax), smax
	case max > 0:
		return min(max, cacheMax), max
	case expires >= 0:
		return min(expires, cacheMax), expires
	}
	return cacheMax, 0
}

// directive reads "name=value" (name case-insensitive, the value a number,
// maybe quoted); good is false when the value does not start with digits.
func directive(item []byte, name string) (n int64, found, good bool) {
	if !hasPrefixFold(item, name) || len(item) <= len(name) || item[len(name)] != '=' {
		return 0, false, false
	}
	v := item[len(name)+1:]
	if len(v) > 0 && v[0] == '"' {
		v = v[1:]
	}
	neg := false
	if len(v) > 0 && (v[0] == '-' || v[0] == '+') {
		neg = v[0] == '-'
		v = v[1:]
	}
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		n = n*10 + int64(v[i]-'0')
		i++
	}
	if i == 0 || neg && n > 0 {
		return 0, true, false
	}
	return n, true, true
}

// parseHTTPDate reads the three HTTP date formats (RFC 7231 §7.1.1.1).
func parseHTTPDate(v []byte) (int64, bool) {
	s := string(v)
	for _, layout := range []string{time.RFC1123, "Monday, 02-Jan-06 15:04:05 MST", time.ANSIC} {
		if t, err := time.Parse(layout, s); err == nil {
			if layout != time.ANSIC && t.Location().String() != "GMT" && t.Location() != time.UTC {
				continue
			}
			return t.Unix(), true
		}
	}
	return 0, false
}

// lastModified is the date an If-Modified-Since is compared with: the
// Last-Modified header, else Date, else now.
func lastModified(resp *http1.Message, now int64) int64 {
	if v, ok := resp.Get("last-modified"); ok {
		if t, ok := parseHTTPDate(v); ok && t != 0 {
			return t
		}
	}
	if v, ok := resp.Get("date"); ok {
		if t, ok := parseHTTPDate(v); ok && t != 0 {
			return t
		}
	}
	return now
}

type etagKind int

const (
	etagInvalid etagKind = iota
	etagStrong
	etagWeak
)

func etagType(v []byte) etagKind {
	switch {
	case len(v) < 2 || v[len(v)-1] != '"':
		return etagInvalid
	case v[0] == '"':
		return etagStrong
	case len(v) >= 3 && string(v[:3]) == `W/"`:
		return etagWeak
	}
	return etagInvalid
}

// etagsMatch is the weak comparison (RFC 7232 §2.3.2).
func etagsMatch(a, b []byte) bool {
	ta, tb := etagType(a), etagType(b)
	if ta == etagInvalid || tb == etagInvalid {
		return false
	}
	if ta == etagWeak {
		a = a[2:]
	}
	if tb == etagWeak {
		b = b[2:]
	}
	return bytes.Equal(a, b)
}

// notModified is should_send_notmodified_response: an If-None-Match that
// matches the entry's ETag (or is "*"), else, without If-None-Match, an
// If-Modified-Since not older than its date.
func notModified(req *http1.Message, e *entry) bool {
	found, match := false, false
	headerItems(req, "if-none-match", func(v []byte) bool {
		found = true
		if string(v) == "*" {
			match = true
			return false
		}
		if len(e.etag) == 0 {
			return false
		}
		if etagsMatch(e.etag, v) {
			match = true
			return false
		}
		return true
	})
	if match || found {
		return match
	}
	if v, ok := req.Get("if-modified-since"); ok {
		if t, ok := parseHTTPDate(v); ok {
			return e.lastMod <= t
		}
	}
	return false
}

// ageValue reads an Age header as cache-store does: a positive integer
// (ok is false for anything else, 0 included).
func ageValue(v []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return min(n, maxEntryAge), true
}
