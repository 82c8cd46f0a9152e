package rules

import (
	"bytes"

	"halo/proxy"
	"halo/proxy/acl"
)

// Cookie is a backend's compiled `cookie` persistence (configuration.txt
// §4.2 "cookie"): insert, rewrite or prefix mode.
type Cookie struct {
	cfg   *proxy.CookieConfig
	name  []byte
	attrs []byte // "; domain=…; HttpOnly; Secure; attr" appended on insert
}

var cookieHdr = []byte("cookie")
var setCookieHdr = []byte("set-cookie")

// NewCookie compiles a backend's cookie configuration; nil stays nil.
func NewCookie(c *proxy.CookieConfig) *Cookie {
	if c == nil || c.Name == "" {
		return nil
	}
	ck := &Cookie{cfg: c, name: []byte(c.Name)}
	for _, d := range c.Domain {
		ck.attrs = append(ck.attrs, "; domain="+d...)
	}
	if c.HTTPOnly {
		ck.attrs = append(ck.attrs, "; HttpOnly"...)
	}
	if c.Secure {
		ck.attrs = append(ck.attrs, "; Secure"...)
	}
	for _, a := range c.Attrs {
		ck.attrs = append(ck.attrs, "; "+a...)
	}
	return ck
}

// ServerRef is a server as persistence sees it.
type ServerRef interface {
	CookieValue() string
	// Persistable reports whether the server takes a persistent request
	// (UP or DRAIN; not DOWN or MAINT).
	Persistable() bool
}

// CookieUse says what Request may do with the persistence cookie.
type CookieUse uint8

const (
	// CookieRunning takes the first running server the cookie names.
	CookieRunning CookieUse = iota
	// CookieAny takes a stopped one too (option persist, force-persist),
	// logged 'D'.
	CookieAny
	// CookieUnused chooses nothing: a use-server rule chose the server
	// already, or ignore-persist applies. The cookie is logged 'U' and
	// still stripped as its mode wants.
	CookieUnused
)

// Request looks for the persistence cookie in the request headers and
// returns the index of the server it names (or -1). In insert+indirect
// mode the cookie is removed from what the server sees; in prefix mode the
// "SRV~" prefix is removed. st records the cookie status for %tsc.
func (ck *Cookie) Request(hl acl.HeaderList, servers []ServerRef, use CookieUse, st *State) int {
	st.CookieReq = 'N'
	st.CookieRes = 'N'
	if hl == nil {
		return -1
	}
	found := -1
	for i := 0; i < hl.Len(); i++ {
		k, v := hl.At(i)
		if !bytes.EqualFold(k, cookieHdr) {
			continue
		}
		out := st.tmp[:0]
		changed := false
		n := 0
		for off := 0; off <= len(v); {
			end := bytes.IndexByte(v[off:], ';')
			segEnd := len(v)
			if end >= 0 {
				segEnd = off + end
			}
			pair := bytes.TrimSpace(v[off:segEnd])
			off = segEnd + 1
			keep := pair
			if eq := bytes.IndexByte(pair, '='); eq >= 0 && bytes.Equal(bytes.TrimSpace(pair[:eq]), ck.name) {
				val := bytes.TrimSpace(pair[eq+1:])
				id, rest := val, []byte(nil)
				ok := true
				if ck.cfg.Mode == "prefix" {
					tilde := bytes.IndexByte(val, '~')
					if tilde < 0 {
						ok = false
					} else {
						id, rest = val[:tilde], val[tilde+1:]
					}
				} else if bar := bytes.IndexByte(val, '|'); bar >= 0 {
					id = val[:bar] // insert with maxidle/maxlife dates
				}
				if ok {
					// The first server with that cookie which may take
					// the request: several may share one (HAProxy
					// dedicates backups this way).
					srv := -1
					if use == CookieUnused {
						st.CookieReq = 'U'
					} else {
						st.CookieReq = 'I'
						for si, s := range servers {
							if cv := s.CookieValue(); cv == "" || cv != string(id) {
								continue
							}
							up := s.Persistable()
							if up || use == CookieAny {
								srv, found = si, si
								st.direct = true
								st.CookieReq = 'V'
								if !up {
									st.CookieReq = 'D'
								}
								break
							}
							st.CookieReq = 'D'
							srv = si
						}
					}
					switch {
					case ck.cfg.Mode == "prefix" && srv >= 0:
						// Hand the server its own value: drop "SRV~".
						keep = append(append([]byte(nil), pair[:eq+1]...), rest...)
						changed = true
					case ck.cfg.Mode == "insert" && ck.cfg.Indirect:
						keep = nil
						changed = true
					}
				}
			}
			if len(keep) > 0 {
				if n > 0 {
					out = append(out, "; "...)
				}
				out = append(out, keep...)
				n++
			}
		}
		st.tmp = out
		if !changed {
			continue
		}
		if n == 0 {
			hl.Del(i)
			i--
			continue
		}
		hl.Set(i, out)
	}
	return found
}

// Response applies the cookie to the server's response: insert the
// server's cookie when the request did not carry a valid one (with
// nocache, make a cacheable answer private), or rewrite/prefix the
// cookie the server set.
func (ck *Cookie) Response(hl acl.HeaderList, server string, st *State) {
	if hl == nil || server == "" || st.ignorePrst {
		return // ignore-persist: the server's cookies are left alone
	}
	switch ck.cfg.Mode {
	case "insert", "":
		if st.direct {
			return // the server was chosen by persistence (SF_DIRECT)
		}
		if ck.cfg.Indirect {
			// The server's own cookie of that name is dropped: haproxy owns it.
			for i := 0; i < hl.Len(); i++ {
				k, v := hl.At(i)
				if bytes.EqualFold(k, setCookieHdr) && bytes.HasPrefix(v, ck.name) && len(v) > len(ck.name) && v[len(ck.name)] == '=' {
					hl.Del(i)
					i--
				}
			}
		}
		cacheable := responseCacheable(hl)
		val := append(append(append(st.val[:0], ck.name...), '='), server...)
		val = append(val, "; path=/"...)
		val = append(val, ck.attrs...)
		st.val = val
		hl.Add(setCookieHdr, val)
		st.CookieRes = 'I'
		if ck.cfg.NoCache && cacheable {
			hl.Add(cacheControl, []byte("private"))
		}
	case "rewrite", "prefix":
		for i := 0; i < hl.Len(); i++ {
			k, v := hl.At(i)
			if !bytes.EqualFold(k, setCookieHdr) || !bytes.HasPrefix(v, ck.name) || len(v) <= len(ck.name) || v[len(ck.name)] != '=' {
				continue
			}
			rest := v[len(ck.name)+1:]
			nv := append(append(st.val[:0], ck.name...), '=')
			nv = append(nv, server...)
			if ck.cfg.Mode == "prefix" {
				nv = append(nv, '~')
				nv = append(nv, rest...)
			} else if semi := bytes.IndexByte(rest, ';'); semi >= 0 {
				nv = append(nv, rest[semi:]...)
			}
			st.val = nv
			hl.Set(i, nv)
			st.CookieRes = 'R'
		}
	}
}

var cacheControl = []byte("cache-control")
var pragma = []byte("pragma")

// responseCacheable follows HAProxy's http_check_response_for_cacheability
// as 2.6 behaves: only an explicit "public" makes an answer cacheable;
// private, no-cache, no-store, max-age=0, s-maxage=0 or Pragma: no-cache
// make it not.
func responseCacheable(hl acl.HeaderList) bool {
	c := false
	for i := 0; i < hl.Len(); i++ {
		k, v := hl.At(i)
		if bytes.EqualFold(k, pragma) && bytes.EqualFold(bytes.TrimSpace(v), []byte("no-cache")) {
			return false
		}
		if !bytes.EqualFold(k, cacheControl) {
			continue
		}
		for _, part := range bytes.Split(v, []byte(",")) {
			p := bytes.TrimSpace(part)
			switch {
			case bytes.EqualFold(p, []byte("public")):
				c = true
			case bytes.EqualFold(p, []byte("private")), bytes.EqualFold(p, []byte("no-cache")),
				bytes.EqualFold(p, []byte("no-store")), bytes.EqualFold(p, []byte("max-age=0")),
				bytes.EqualFold(p, []byte("s-maxage=0")):
				c = false
			}
		}
	}
	return c
}
