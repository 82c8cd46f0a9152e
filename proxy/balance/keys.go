package balance

import (
	"bytes"
	"net/netip"
)

// SourceHash is get_server_sh's key: the IPv4 address as one big-endian
// word, or the XOR of the four words of an IPv6 address.
func SourceHash(a netip.Addr) uint32 {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	b := a.As16()
	var h uint32
	for l := 0; l < 16; l += 4 {
		h ^= uint32(b[l])<<24 | uint32(b[l+1])<<16 | uint32(b[l+2])<<8 | uint32(b[l+3])
	}
	return h
}

// URIKey returns the part of the request target `balance uri` hashes
// (get_server_uh): up to the '?' unless whole, at most len bytes, and up to
// the depth-th '/' after the first one.
func URIKey(uri []byte, whole, pathOnly bool, maxLen, depth int) []byte {
	if pathOnly {
		uri = pathOf(uri)
	}
	if maxLen > 0 && len(uri) > maxLen {
		uri = uri[:maxLen]
	}
	stop := 0 // HAProxy stores depth+1: the position of the ending '/'
	if depth > 0 {
		stop = depth + 1
	}
	slashes := 0
	for i, c := range uri {
		if c == '/' {
			slashes++
			if slashes == stop {
				return uri[:i]
			}
		} else if c == '?' && !whole {
			return uri[:i]
		}
	}
	return uri
}

// pathOf is http_get_path: the path (and query) of an absolute-form target.
func pathOf(uri []byte) []byte {
	if len(uri) > 0 && uri[0] == '/' {
		return uri
	}
	i := bytes.Index(uri, []byte("://"))
	if i < 0 {
		return uri
	}
	rest := uri[i+3:]
	j := bytes.IndexByte(rest, '/')
	if j < 0 {
		return nil
	}
	return rest[j:]
}

// urlParamValue finds NAME=value in the query string (get_server_ph):
// parameters are '&'-separated, the name matched case-sensitively.
func urlParamValue(uri []byte, name string) ([]byte, bool) {
	q := bytes.IndexByte(uri, '?')
	if q < 0 {
		return nil, false
	}
	return paramValue(uri[q+1:], name, false)
}

// bodyParamValue is get_server_ph_post: the same search in a urlencoded
// body, which is given up on the first non-token byte.
func bodyParamValue(body []byte, name string) ([]byte, bool) {
	return paramValue(body, name, true)
}

func paramValue(params []byte, name string, body bool) ([]byte, bool) {
	plen := len(name)
	for len(params) > plen {
		if params[plen] == '=' && string(params[:plen]) == name {
			v := params[plen+1:]
			end := 0
			for end < len(v) && v[end] != '&' {
				if body && !isToken(v[end]) {
					if v[end] == ' ' || v[end] == '\t' || v[end] == '\r' || v[end] == '\n' {
						break
					}
					return nil, false
				}
				end++
			}
			return v[:end], true
		}
		i := bytes.IndexByte(params, '&')
		if i < 0 {
			return nil, false
		}
		params = params[i+1:]
	}
	return nil, false
}

func isToken(c byte) bool {
	if c <= 32 || c >= 127 {
		return false
	}
	switch c {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
		return false
	}
	return true
}

// firstValue is the first comma-separated value of a header, trimmed, as
// http_find_header returns it.
func firstValue(v []byte) []byte {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return bytes.Trim(v, " \t")
}

// domainOnly keeps the part of a host name `hdr(host) use_domain_only`
// hashes: the label before the last dot ("www.example.com" → "example").
func domainOnly(v []byte) []byte {
	end := len(v)
	dohash := false
	p := len(v)
	l := len(v)
	for l > 0 {
		if dohash {
			if v[p-1] == '.' {
				break
			}
		} else if p < len(v) && v[p] == '.' {
			end = p
			dohash = true
		}
		p--
		l--
	}
	if !dohash {
		return v[p:end]
	}
	return v[p:end]
}
