package h2

// The HPACK encoder (RFC 7541) as HAProxy's hpack-enc.c writes header
// blocks: names the static table knows are sent by index, every value as
// a literal "without indexing", no Huffman coding, no dynamic table. Such
// a block costs no state on either side (nothing to evict, nothing a
// peer's table size setting can break), and encoding it is a copy: no
// allocation, no table lookup beyond a switch.

// staticName returns the static table index of a header name (RFC 7541
// Appendix A; the first entry of a name), 0 if it has none.
func staticName(name []byte) int {
	switch string(name) {
	case ":authority":
		return 1
	case ":method":
		return 2
	case ":path":
		return 4
	case ":scheme":
		return 6
	case ":status":
		return 8
	case "accept-charset":
		return 15
	case "accept-encoding":
		return 16
	case "accept-language":
		return 17
	case "accept-ranges":
		return 18
	case "accept":
		return 19
	case "access-control-allow-origin":
		return 20
	case "age":
		return 21
	case "allow":
		return 22
	case "authorization":
		return 23
	case "cache-control":
		return 24
	case "content-disposition":
		return 25
	case "content-encoding":
		return 26
	case "content-language":
		return 27
	case "content-length":
		return 28
	case "content-location":
		return 29
	case "content-range":
		return 30
	case "content-type":
		return 31
	case "cookie":
		return 32
	case "date":
		return 33
	case "etag":
		return 34
	case "expect":
		return 35
	case "expires":
		return 36
	case "from":
		return 37
	case "host":
		return 38
	case "if-match":
		return 39
	case "if-modified-since":
		return 40
	case "if-none-match":
		return 41
	case "if-range":
		return 42
	case "if-unmodified-since":
		return 43
	case "last-modified":
		return 44
	case "link":
		return 45
	case "location":
		return 46
	case "max-forwards":
		return 47
	case "proxy-authenticate":
		return 48
	case "proxy-authorization":
		return 49
	case "range":
		return 50
	case "referer":
		return 51
	case "refresh":
		return 52
	case "retry-after":
		return 53
	case "server":
		return 54
	case "set-cookie":
		return 55
	case "strict-transport-security":
		return 56
	case "transfer-encoding":
		return 57
	case "user-agent":
		return 58
	case "vary":
		return 59
	case "via":
		return 60
	case "www-authenticate":
		return 61
	}
	return 0
}

// appendInt appends i with an n-bit prefix whose other bits are first's.
func appendInt(dst []byte, first byte, n uint, i uint64) []byte {
	max := uint64(1)<<n - 1
	if i < max {
		return append(dst, first|byte(i))
	}
	dst = append(dst, first|byte(max))
	i -= max
	for i >= 128 {
		dst = append(dst, byte(i&0x7f)|0x80)
		i >>= 7
	}
	return append(dst, byte(i))
}

func appendString(dst, s []byte) []byte {
	dst = appendInt(dst, 0, 7, uint64(len(s)))
	return append(dst, s...)
}

// appendField appends one field as a literal without indexing.
func appendField(dst, name, value []byte) []byte {
	if idx := staticName(name); idx > 0 {
		dst = appendInt(dst, 0, 4, uint64(idx))
	} else {
		dst = append(dst, 0)
		dst = appendString(dst, name)
	}
	return appendString(dst, value)
}

// appendStatus appends :status, by full index for the seven statuses
// the static table holds.
func appendStatus(dst []byte, status int) []byte {
	switch status {
	case 200:
		return append(dst, 0x88)
	case 204:
		return append(dst, 0x89)
	case 206:
		return append(dst, 0x8a)
	case 304:
		return append(dst, 0x8b)
	case 400:
		return append(dst, 0x8c)
	case 404:
		return append(dst, 0x8d)
	case 500:
		return append(dst, 0x8e)
	}
	if status < 100 || status > 999 {
		status = 500
	}
	d := [3]byte{byte('0' + status/100), byte('0' + status/10%10), byte('0' + status%10)}
	dst = appendInt(dst, 0, 4, 8)
	return appendString(dst, d[:])
}

// appendMethod appends :method (GET and POST by full index).
func appendMethod(dst, m []byte) []byte {
	switch string(m) {
	case "GET":
		return append(dst, 0x82)
	case "POST":
		return append(dst, 0x83)
	}
	dst = appendInt(dst, 0, 4, 2)
	return appendString(dst, m)
}

// appendScheme appends :scheme (http and https by full index).
func appendScheme(dst, s []byte) []byte {
	switch string(s) {
	case "http":
		return append(dst, 0x86)
	case "https":
		return append(dst, 0x87)
	}
	dst = appendInt(dst, 0, 4, 6)
	return appendString(dst, s)
}

// appendPath appends :path ("/" by full index).
func appendPath(dst, p []byte) []byte {
	if string(p) == "/" {
		return append(dst, 0x84)
	}
	dst = appendInt(dst, 0, 4, 4)
	return appendString(dst, p)
}
