package acl

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"halo/proxy"
)

// Options carries what compiling needs from the rest of the configuration.
type Options struct {
	// NbSrv resolves nbsrv(BACKEND) to a function returning the number of
	// usable servers; nil means nbsrv() is refused at compile time.
	NbSrv func(backend string) (func() int, error)
	// Userlists serves http_auth(); nil means none.
	Userlists map[string]*proxy.Userlist
	// ReadFile reads -f pattern files and map files (default os.ReadFile).
	ReadFile func(path string) ([]byte, error)
}

func (o *Options) readFile(p string) ([]byte, error) {
	if o != nil && o.ReadFile != nil {
		return o.ReadFile(p)
	}
	return os.ReadFile(p)
}

// fetchFn returns one value. st is iteration state, 0 on the first call;
// a multi-valued fetch in ACL mode sets *st so the next call returns the
// next value, and returns ok=false when exhausted. Single-valued fetches
// set *st = -1.
type fetchFn func(c *Ctx, f *fetch, st *int) (Value, bool)

type fetchDef struct {
	name    string
	out     Kind
	minArgs int
	maxArgs int
	match   matchKind // default matcher when used as an ACL criterion
	fn      fetchFn
}

// fetch is a fetch with its compiled arguments.
type fetch struct {
	def    *fetchDef
	args   []string
	name   []byte // lowercased header/cookie/param name
	occ    int    // hdr occurrence; 0 = all (ACL) or last (sample)
	multi  bool   // ACL context: iterate every value
	nbsrv  func() int
	ul     *proxy.Userlist
	groups map[string][]string // http_auth_group: user -> groups
	off    int                 // req.payload offset
	size   int                 // req.payload length (0: to the end)
}

var fetchDefs = map[string]*fetchDef{}

func def(d *fetchDef, aliases ...string) {
	fetchDefs[d.name] = d
	for _, a := range aliases {
		fetchDefs[a] = d
	}
}

func once(st *int) bool {
	if *st != 0 {
		return false
	}
	*st = -1
	return true
}

func strOnce(b []byte, st *int) (Value, bool) {
	if !once(st) || b == nil {
		return Value{}, false
	}
	return Value{Kind: KStr, B: b}, true
}

func init() {
	def(&fetchDef{name: "method", out: KStr, match: mStr, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return strOnce(c.T.Method(), st)
	}})
	def(&fetchDef{name: "path", out: KStr, match: mStr, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return strOnce(c.T.Path(), st)
	}})
	def(&fetchDef{name: "url", out: KStr, match: mStr, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return strOnce(c.T.URI(), st)
	}}, "req.url")
	def(&fetchDef{name: "pathq", out: KStr, match: mStr, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		p := c.T.Path()
		if q := c.T.Query(); q != nil && p != nil {
			// path and query are contiguous in an origin-form URI.
			u := c.T.URI()
			if i := bytes.Index(u, p); i >= 0 {
				return strOnce(u[i:], st)
			}
		}
		return strOnce(p, st)
	}})
	def(&fetchDef{name: "query", out: KStr, match: mStr, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return strOnce(c.T.Query(), st)
	}})
	def(&fetchDef{name: "req.ver", out: KStr, match: mStr, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		v := c.T.Version()
		if bytes.HasPrefix(v, []byte("HTTP/")) {
			v = v[5:]
		}
		return strOnce(v, st)
	}}, "req_ver")
	def(&fetchDef{name: "base", out: KStr, match: mStr, fn: fetchBase})
	def(&fetchDef{name: "hdr", out: KStr, match: mStr, maxArgs: 2, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return hdrFetch(c, f, c.T.ReqHeaders(), true, st)
	}}, "req.hdr")
	def(&fetchDef{name: "req.fhdr", out: KStr, match: mStr, minArgs: 1, maxArgs: 2, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return hdrFetch(c, f, c.T.ReqHeaders(), false, st)
	}})
	def(&fetchDef{name: "hdr_cnt", out: KInt, match: mInt, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		return Value{Kind: KInt, I: int64(hdrCount(c.T.ReqHeaders(), f.name))}, true
	}}, "req.hdr_cnt")
	def(&fetchDef{name: "hdr_val", out: KInt, match: mInt, minArgs: 1, maxArgs: 2, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		v, ok := hdrFetch(c, f, c.T.ReqHeaders(), true, st)
		if !ok {
			return v, false
		}
		n, _ := v.asInt()
		return Value{Kind: KInt, I: n}, true
	}}, "req.hdr_val")
	def(&fetchDef{name: "hdr_ip", out: KIP, match: mIP, minArgs: 1, maxArgs: 2, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		for {
			v, ok := hdrFetch(c, f, c.T.ReqHeaders(), true, st)
			if !ok {
				return v, false
			}
			if ip, ok := v.asIP(); ok {
				return Value{Kind: KIP, IP: ip}, true
			}
		}
	}}, "req.hdr_ip")
	def(&fetchDef{name: "res.hdr", out: KStr, match: mStr, maxArgs: 2, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return hdrFetch(c, f, c.T.ResHeaders(), true, st)
	}}, "shdr")
	def(&fetchDef{name: "res.fhdr", out: KStr, match: mStr, minArgs: 1, maxArgs: 2, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return hdrFetch(c, f, c.T.ResHeaders(), false, st)
	}})
	def(&fetchDef{name: "res.hdr_cnt", out: KInt, match: mInt, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		return Value{Kind: KInt, I: int64(hdrCount(c.T.ResHeaders(), f.name))}, true
	}}, "shdr_cnt")
	def(&fetchDef{name: "status", out: KInt, match: mInt, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) || c.T.Status() == 0 {
			return Value{}, false
		}
		return Value{Kind: KInt, I: int64(c.T.Status())}, true
	}}, "res.status")
	def(&fetchDef{name: "src", out: KIP, match: mIP, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		return Value{Kind: KIP, IP: c.T.Src().Addr().Unmap()}, true
	}})
	def(&fetchDef{name: "dst", out: KIP, match: mIP, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		return Value{Kind: KIP, IP: c.T.Dst().Addr().Unmap()}, true
	}})
	def(&fetchDef{name: "src_port", out: KInt, match: mInt, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		return Value{Kind: KInt, I: int64(c.T.Src().Port())}, true
	}})
	def(&fetchDef{name: "dst_port", out: KInt, match: mInt, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		return Value{Kind: KInt, I: int64(c.T.Dst().Port())}, true
	}})
	def(&fetchDef{name: "ssl_fc", out: KBool, match: mBool, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		return boolVal(c.T.SSL()), true
	}})
	def(&fetchDef{name: "ssl_fc_sni", out: KStr, match: mStr, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return strOnce(c.T.SNI(), st)
	}})
	def(&fetchDef{name: "ssl_fc_has_sni", out: KBool, match: mBool, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		return boolVal(len(c.T.SNI()) > 0), true
	}})
	def(&fetchDef{name: "urlp", out: KStr, match: mStr, maxArgs: 2, fn: fetchURLParam}, "url_param")
	def(&fetchDef{name: "urlp_val", out: KInt, match: mInt, maxArgs: 2, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		v, ok := fetchURLParam(c, f, st)
		if !ok {
			return v, false
		}
		n, _ := v.asInt()
		return Value{Kind: KInt, I: n}, true
	}})
	def(&fetchDef{name: "cook", out: KStr, match: mStr, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return cookieFetch(c, f, st)
	}}, "req.cook")
	def(&fetchDef{name: "cook_cnt", out: KInt, match: mInt, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		n := 0
		g := &fetch{name: f.name, multi: true}
		s := 0
		for {
			if _, ok := cookieFetch(c, g, &s); !ok {
				break
			}
			n++
		}
		return Value{Kind: KInt, I: int64(n)}, true
	}}, "req.cook_cnt")
	def(&fetchDef{name: "cook_val", out: KInt, match: mInt, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		v, ok := cookieFetch(c, f, st)
		if !ok {
			return v, false
		}
		n, _ := v.asInt()
		return Value{Kind: KInt, I: n}, true
	}}, "req.cook_val")
	def(&fetchDef{name: "nbsrv", out: KInt, match: mInt, minArgs: 1, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		return Value{Kind: KInt, I: int64(f.nbsrv())}, true
	}})
	def(&fetchDef{name: "always_true", out: KBool, match: mBool, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return boolVal(true), once(st)
	}})
	def(&fetchDef{name: "req.proto_http", out: KBool, match: mBool, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return boolVal(c.T.Method() != nil), once(st)
	}}, "req_proto_http")
	def(&fetchDef{name: "wait_end", out: KBool, match: mBool, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		// rules run once the request head is complete: nothing to wait for
		return boolVal(true), once(st)
	}})
	def(&fetchDef{name: "unique-id", out: KStr, match: mStr, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if len(c.UniqueID) == 0 {
			return Value{}, false
		}
		return strOnce(c.UniqueID, st)
	}})
	for i, n := range []string{"capture.req.method", "capture.req.uri", "capture.req.ver"} {
		part := i
		def(&fetchDef{name: n, out: KStr, match: mStr, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			m, u, v := splitReqLine(c.ReqLine)
			b := [3][]byte{m, u, v}[part]
			if part == 2 && bytes.HasPrefix(b, []byte("HTTP/")) {
				b = b[5:]
			}
			if b == nil {
				return Value{}, false
			}
			return strOnce(b, st)
		}})
	}
	def(&fetchDef{name: "uuid", out: KStr, match: mStr, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		var u [16]byte
		if _, err := rand.Read(u[:]); err != nil {
			return Value{}, false
		}
		u[6] = u[6]&0x0f | 0x40 // version 4
		u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
		buf := c.scratchBuf()
		for i, b := range u {
			if i == 4 || i == 6 || i == 8 || i == 10 {
				buf = append(buf, '-')
			}
			buf = append(buf, "0123456789abcdef"[b>>4], "0123456789abcdef"[b&15])
		}
		c.keepScratch(buf)
		return Value{Kind: KStr, B: buf}, true
	}})
	def(&fetchDef{name: "env", out: KStr, match: mStr, minArgs: 1, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		v, ok := os.LookupEnv(f.args[0])
		if !ok {
			return Value{}, false
		}
		return strOnce(strBytes(v), st)
	}})
	def(&fetchDef{name: "hostname", out: KStr, match: mStr, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return strOnce(strBytes(hostname), st)
	}})
	def(&fetchDef{name: "date", out: KInt, match: mInt, maxArgs: 2, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		n := time.Now().Unix()
		if len(f.args) > 0 && f.args[0] != "" {
			off, _ := strconv.ParseInt(f.args[0], 10, 64)
			n += off
		}
		return Value{Kind: KInt, I: n}, once(st)
	}})
	def(&fetchDef{name: "rand", out: KInt, match: mInt, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		n := int64(mrand.Uint32())
		if len(f.args) > 0 {
			if r, err := strconv.ParseInt(f.args[0], 10, 64); err == nil && r > 0 {
				n = n * r >> 32
			}
		}
		return Value{Kind: KInt, I: n}, once(st)
	}})
	def(&fetchDef{name: "always_false", out: KBool, match: mBool, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return boolVal(false), once(st)
	}})
	def(&fetchDef{name: "var", out: KStr, match: mStr, minArgs: 1, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		b, ok := c.Vars.Get(f.args[0])
		return Value{Kind: KStr, B: b}, ok
	}})
	def(&fetchDef{name: "str", out: KStr, match: mStr, minArgs: 1, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return strOnce(f.name, st)
	}})
	def(&fetchDef{name: "int", out: KInt, match: mInt, minArgs: 1, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		n, _ := strconv.ParseInt(f.args[0], 10, 64)
		return Value{Kind: KInt, I: n}, once(st)
	}})
	def(&fetchDef{name: "be_name", out: KStr, match: mStr, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if c.Backend == "" {
			return Value{}, false
		}
		return strOnce(strBytes(c.Backend), st)
	}})
	def(&fetchDef{name: "fe_name", out: KStr, match: mStr, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		return strOnce(strBytes(c.Frontend), st)
	}})
	def(&fetchDef{name: "http_auth", out: KBool, match: mBool, minArgs: 1, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		_, ok := checkAuth(c, f.ul)
		return boolVal(ok), true
	}})
	def(&fetchDef{name: "http_auth_group", out: KStr, match: mStr, minArgs: 1, maxArgs: 1, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
		// As an ACL it matches the user's groups against the patterns
		// (HAProxy's pat_match_auth); as a sample it is the user name.
		if *st < 0 {
			return Value{}, false
		}
		if !f.multi {
			*st = -1
			user, ok := checkAuth(c, f.ul)
			return Value{Kind: KStr, B: user}, ok
		}
		user, ok := checkAuth(c, f.ul)
		if !ok {
			*st = -1
			return Value{}, false
		}
		gs := f.groups[string(user)]
		if *st >= len(gs) {
			*st = -1
			return Value{}, false
		}
		*st++
		return Value{Kind: KStr, B: strBytes(gs[*st-1])}, true
	}})
}

var hostname, _ = os.Hostname()

// splitReqLine splits "METHOD URI VERSION".
func splitReqLine(r []byte) (m, u, v []byte) {
	i := bytes.IndexByte(r, ' ')
	if i < 0 {
		return r, nil, nil
	}
	m, rest := r[:i], r[i+1:]
	j := bytes.LastIndexByte(rest, ' ')
	if j < 0 {
		return m, rest, nil
	}
	return m, rest[:j], rest[j+1:]
}

// userGroups maps each user of a userlist to its groups: those on its
// `user` line, then the `group` lines listing it (sorted by name).
func userGroups(ul *proxy.Userlist) map[string][]string {
	out := map[string][]string{}
	for name, u := range ul.Users {
		out[name] = append(out[name], u.Groups...)
	}
	names := make([]string, 0, len(ul.Groups))
	for g := range ul.Groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		for _, m := range ul.Groups[g] {
			out[m] = append(out[m], g)
		}
	}
	return out
}

func boolVal(b bool) Value {
	if b {
		return Value{Kind: KBool, I: 1}
	}
	return Value{Kind: KBool}
}

// strBytes views a string as bytes for read-only use, without copying.
func strBytes(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// stickFetch reports stick-table counter fetches (sc_*, scN_*, src_*,
// table_*).
func stickFetch(name string) bool {
	for _, p := range []string{"sc_", "sc0_", "sc1_", "sc2_", "src_", "table_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// payloadFetches read the raw first bytes of the connection and are not
// implemented (req.ssl_sni, req.ssl_alpn, req.ssl_hello_type, req.len and
// req.payload are: hello.go; req.rdp_cookie and req.rdp_cookie_cnt:
// rdp.go).
var payloadFetches = map[string]bool{
	"req.ssl_ver": true, "req_ssl_ver": true, "req.ssl_ec_ext": true, "req.ssl_st_ext": true,
	"req.payload_lv": true, "payload_lv": true,
	"rep_ssl_hello_type": true, "res.ssl_hello_type": true,
	"res.payload": true, "res.payload_lv": true, "res.len": true,
}

func newFetch(name string, args []string, o *Options, multi bool) (*fetch, error) {
	d := fetchDefs[name]
	if d == nil && stickFetch(name) {
		// Stick tables are not implemented; the configuration loader
		// reports these ACLs as never matching, and so they behave.
		d = &fetchDef{name: name, out: KInt, match: mInt, maxArgs: 8, fn: func(c *Ctx, f *fetch, st *int) (Value, bool) {
			*st = -1
			return Value{}, false
		}}
	}
	if d == nil && payloadFetches[name] {
		return nil, fmt.Errorf("fetch method '%s' reads the raw connection payload, which halo does not inspect", name)
	}
	if d == nil {
		return nil, fmt.Errorf("unknown fetch method '%s'", name)
	}
	if len(args) < d.minArgs {
		return nil, fmt.Errorf("fetch method '%s' expects at least %d argument(s)", name, d.minArgs)
	}
	if len(args) > d.maxArgs {
		return nil, fmt.Errorf("fetch method '%s' accepts at most %d argument(s)", name, d.maxArgs)
	}
	f := &fetch{def: d, args: args, multi: multi}
	if len(args) > 0 {
		switch d.name {
		case "hdr", "req.fhdr", "hdr_cnt", "hdr_val", "hdr_ip", "res.hdr", "res.fhdr", "res.hdr_cnt":
			f.name = []byte(strings.ToLower(args[0]))
		default:
			f.name = []byte(args[0])
		}
		if len(args) > 1 {
			n, err := strconv.Atoi(args[1])
			if err != nil {
				return nil, fmt.Errorf("fetch method '%s': invalid occurrence '%s'", name, args[1])
			}
			f.occ = n
		}
	}
	switch d.name {
	case "req.payload":
		off, err1 := strconv.Atoi(args[0])
		n, err2 := strconv.Atoi(args[1])
		if err1 != nil || err2 != nil || off < 0 || n < 0 {
			return nil, fmt.Errorf("fetch method '%s': invalid offset or length", name)
		}
		f.off, f.size = off, n
	case "nbsrv":
		if o == nil || o.NbSrv == nil {
			return nil, fmt.Errorf("nbsrv: no such backend '%s'", args[0])
		}
		fn, err := o.NbSrv(args[0])
		if err != nil {
			return nil, err
		}
		f.nbsrv = fn
	case "http_auth", "http_auth_group":
		var ul *proxy.Userlist
		if o != nil {
			ul = o.Userlists[args[0]]
		}
		if ul == nil {
			return nil, fmt.Errorf("fetch method '%s': unable to find userlist '%s'", name, args[0])
		}
		f.ul = ul
		f.groups = userGroups(ul)
	}
	return f, nil
}

func eqFold(a, lowerB []byte) bool {
	if len(a) != len(lowerB) {
		return false
	}
	for i := range a {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lowerB[i] {
			return false
		}
	}
	return true
}

func hdrCount(hl HeaderList, name []byte) int {
	if hl == nil {
		return 0
	}
	n := 0
	for i := 0; i < hl.Len(); i++ {
		k, v := hl.At(i)
		if name == nil || eqFold(k, name) {
			if name == nil {
				n++
				continue
			}
			for off := 0; off >= 0; {
				_, off = nextValue(v, off)
				n++
			}
		}
	}
	return n
}

// nextValue returns the comma-delimited value of v starting at off
// (trimmed), and the offset of the next one or -1. Commas inside quoted
// strings do not split.
func nextValue(v []byte, off int) ([]byte, int) {
	i := off
	var quote bool
	for i < len(v) {
		c := v[i]
		if c == '"' {
			quote = !quote
		} else if c == '\\' && quote && i+1 < len(v) {
			i++
		} else if c == ',' && !quote {
			return bytes.TrimSpace(v[off:i]), i + 1
		}
		i++
	}
	return bytes.TrimSpace(v[off:]), -1
}

// hdrFetch implements hdr()/req.fhdr(): in ACL mode every value in order;
// otherwise the occurrence asked for (default: the last one).
func hdrFetch(c *Ctx, f *fetch, hl HeaderList, split bool, st *int) (Value, bool) {
	return hdrValue(hl, f.name, f.occ, f.multi, split, st)
}

func hdrValue(hl HeaderList, name []byte, occ int, multi, split bool, st *int) (Value, bool) {
	if hl == nil || *st < 0 {
		return Value{}, false
	}
	if multi && occ == 0 {
		// state: header index << 20 | offset within the value + 1
		idx, off := *st>>20, *st&(1<<20-1)
		for ; idx < hl.Len(); idx, off = idx+1, 0 {
			k, v := hl.At(idx)
			if name != nil && !eqFold(k, name) {
				continue
			}
			if !split {
				*st = (idx + 1) << 20
				return Value{Kind: KStr, B: v}, true
			}
			if off > 0 || off == 0 {
				start := 0
				if off > 0 {
					start = off - 1
				}
				val, next := nextValue(v, start)
				if next < 0 {
					*st = (idx + 1) << 20
				} else {
					*st = idx<<20 | (next + 1)
				}
				return Value{Kind: KStr, B: val}, true
			}
		}
		*st = -1
		return Value{}, false
	}
	*st = -1
	if occ == 0 {
		occ = -1
	}
	if occ > 0 {
		n := 0
		for i := 0; i < hl.Len(); i++ {
			k, v := hl.At(i)
			if name != nil && !eqFold(k, name) {
				continue
			}
			if !split {
				n++
				if n == occ {
					return Value{Kind: KStr, B: v}, true
				}
				continue
			}
			for off := 0; off >= 0; {
				var val []byte
				val, off = nextValue(v, off)
				n++
				if n == occ {
					return Value{Kind: KStr, B: val}, true
				}
			}
		}
		return Value{}, false
	}
	total := hdrCountSplit(hl, name, split)
	want := total + occ + 1 // occ -1 = last
	if want < 1 {
		return Value{}, false
	}
	s := 0
	return hdrValue(hl, name, want, false, split, &s)
}

func hdrCountSplit(hl HeaderList, name []byte, split bool) int {
	if split {
		return hdrCount(hl, name)
	}
	n := 0
	for i := 0; i < hl.Len(); i++ {
		k, _ := hl.At(i)
		if name == nil || eqFold(k, name) {
			n++
		}
	}
	return n
}

var hostName = []byte("host")

// fetchBase is `base`: the Host header value followed by the path.
func fetchBase(c *Ctx, f *fetch, st *int) (Value, bool) {
	if !once(st) {
		return Value{}, false
	}
	s := 0
	h, ok := hdrValue(c.T.ReqHeaders(), hostName, -1, false, false, &s)
	if !ok || len(h.B) == 0 {
		p := c.T.Path()
		return Value{Kind: KStr, B: p}, p != nil
	}
	buf := c.scratchBuf()
	buf = append(buf, h.B...)
	buf = append(buf, c.T.Path()...)
	c.keepScratch(buf)
	return Value{Kind: KStr, B: buf}, true
}

// fetchURLParam is urlp(name[,delim]): the value of the first (or in ACL
// mode each) query parameter called name; without a name, every value.
func fetchURLParam(c *Ctx, f *fetch, st *int) (Value, bool) {
	q := c.T.Query()
	if *st < 0 || q == nil {
		return Value{}, false
	}
	delim := byte('&')
	if len(f.args) > 1 && f.args[1] != "" {
		delim = f.args[1][0]
	}
	i := *st
	for i < len(q) {
		end := bytes.IndexByte(q[i:], delim)
		var seg []byte
		if end < 0 {
			seg = q[i:]
			end = len(q)
		} else {
			seg = q[i : i+end]
			end = i + end + 1
		}
		i = end
		k, v := seg, []byte(nil)
		if eq := bytes.IndexByte(seg, '='); eq >= 0 {
			k, v = seg[:eq], seg[eq+1:]
		} else {
			v = seg[len(seg):]
		}
		if len(f.name) == 0 || bytes.Equal(k, f.name) {
			if f.multi && i < len(q) {
				*st = i
			} else {
				*st = -1
			}
			return Value{Kind: KStr, B: v}, true
		}
	}
	*st = -1
	return Value{}, false
}

var cookieName = []byte("cookie")

// cookieFetch is cook(name): values of cookie name from every Cookie
// header. Non-ACL use returns the first one (HAProxy's req.cook).
func cookieFetch(c *Ctx, f *fetch, st *int) (Value, bool) {
	hl := c.T.ReqHeaders()
	if hl == nil || *st < 0 {
		return Value{}, false
	}
	idx, off := *st>>20, *st&(1<<20-1)
	for ; idx < hl.Len(); idx, off = idx+1, 0 {
		k, v := hl.At(idx)
		if !eqFold(k, cookieName) {
			continue
		}
		for off < len(v) {
			end := bytes.IndexByte(v[off:], ';')
			var seg []byte
			next := len(v)
			if end < 0 {
				seg = v[off:]
			} else {
				seg = v[off : off+end]
				next = off + end + 1
			}
			off = next
			seg = bytes.TrimSpace(seg)
			eq := bytes.IndexByte(seg, '=')
			if eq < 0 {
				continue
			}
			if len(f.name) == 0 || bytes.Equal(seg[:eq], f.name) {
				if f.multi {
					*st = idx<<20 | off
				} else {
					*st = -1
				}
				return Value{Kind: KStr, B: seg[eq+1:]}, true
			}
		}
	}
	*st = -1
	return Value{}, false
}

var authName = []byte("authorization")

// checkAuth validates Basic credentials against a userlist and returns
// the user name. Only clear-text (insecure-password) and passwords whose
// hash scheme crypt.go understands are accepted.
func checkAuth(c *Ctx, ul *proxy.Userlist) ([]byte, bool) {
	s := 0
	h, ok := hdrValue(c.T.ReqHeaders(), authName, -1, false, false, &s)
	if !ok || len(h.B) < 6 || !eqFold(h.B[:6], []byte("basic ")) {
		return nil, false
	}
	enc := bytes.TrimSpace(h.B[6:])
	buf := c.scratchBuf()
	n := base64.StdEncoding.DecodedLen(len(enc))
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	m, err := base64.StdEncoding.Decode(buf, enc)
	c.keepScratch(buf)
	if err != nil {
		return nil, false
	}
	cred := buf[:m]
	colon := bytes.IndexByte(cred, ':')
	if colon < 0 {
		return nil, false
	}
	user, pass := cred[:colon], cred[colon+1:]
	u, found := ul.Users[string(user)]
	if !found {
		return nil, false
	}
	if u.Insecure {
		return user, string(pass) == u.Password
	}
	return user, checkCrypt(u.Password, pass)
}
