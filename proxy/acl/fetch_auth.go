package acl

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"halo/proxy"
)

// authFetches read the Authorization header and check credentials against
// userlists (configuration.txt §3.4 and §7.3.6 http_auth*).
func authFetches() []*fetchDef {
	return []*fetchDef{
		{name: "http_auth", out: KBool, minArgs: 1, maxArgs: 1, compile: compileUserlist, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			_, ok := checkAuth(c, f.ref.(*userlist).ul)
			return boolVal(ok), true
		})},
		{name: "http_auth_group", out: KStr, minArgs: 1, maxArgs: 1, compile: compileUserlist, fn: fetchAuthGroup},
		{name: "http_auth_type", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			scheme, _ := authHeader(c, authName)
			for _, s := range []string{"Basic", "Digest", "Bearer"} {
				if eqFold(scheme, []byte(strings.ToLower(s))) {
					return Value{Kind: KStr, B: strBytes(s)}, true
				}
			}
			return Value{}, false
		})},
		{name: "http_auth_user", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			user, _, ok := basicCreds(c)
			return Value{Kind: KStr, B: user}, ok
		})},
		{name: "http_auth_pass", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			_, pass, ok := basicCreds(c)
			return Value{Kind: KStr, B: pass}, ok
		})},
		{name: "http_auth_bearer", out: KStr, maxArgs: 1, compile: func(f *fetch, o *Options) error {
			f.name = authName
			if len(f.args) > 0 && f.args[0] != "" {
				f.name = []byte(strings.ToLower(f.args[0]))
			}
			return nil
		}, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			scheme, rest := authHeader(c, f.name)
			if !eqFold(scheme, []byte("bearer")) || len(rest) == 0 {
				return Value{}, false
			}
			return Value{Kind: KStr, B: rest}, true
		})},
	}
}

// userlist is a compiled userlist reference: the list and each user's
// groups.
type userlist struct {
	ul     *proxy.Userlist
	groups map[string][]string
}

func compileUserlist(f *fetch, o *Options) error {
	var ul *proxy.Userlist
	if o != nil {
		if o.Userlists != nil {
			ul = o.Userlists[f.args[0]]
		} else if o.Config != nil {
			ul = o.Config.Userlists[f.args[0]]
		}
	}
	if ul == nil {
		return fmt.Errorf("unable to find userlist '%s'", f.args[0])
	}
	f.ref = &userlist{ul: ul, groups: userGroups(ul)}
	return nil
}

// fetchAuthGroup is http_auth_group: as an ACL it matches the user's
// groups against the patterns (HAProxy's pat_match_auth); as a sample it
// is the user name.
func fetchAuthGroup(c *Ctx, f *fetch, st *int) (Value, bool) {
	if *st < 0 {
		return Value{}, false
	}
	ul := f.ref.(*userlist)
	user, ok := checkAuth(c, ul.ul)
	if !f.multi {
		*st = -1
		return Value{Kind: KStr, B: user}, ok
	}
	if !ok {
		*st = -1
		return Value{}, false
	}
	gs := ul.groups[string(user)]
	if *st >= len(gs) {
		*st = -1
		return Value{}, false
	}
	*st++
	return Value{Kind: KStr, B: strBytes(gs[*st-1])}, true
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

var authName = []byte("authorization")

// authHeader splits the last header called name into its scheme and the
// rest (trimmed).
func authHeader(c *Ctx, name []byte) (scheme, rest []byte) {
	s := 0
	h, ok := hdrValue(c.T.ReqHeaders(), name, -1, false, false, &s)
	if !ok {
		return nil, nil
	}
	v := bytes.TrimSpace(h.B)
	i := bytes.IndexAny(v, " \t")
	if i < 0 {
		return v, nil
	}
	return v[:i], bytes.TrimSpace(v[i+1:])
}

// basicCreds decodes Basic credentials into user and password.
func basicCreds(c *Ctx) (user, pass []byte, ok bool) {
	scheme, enc := authHeader(c, authName)
	if !eqFold(scheme, []byte("basic")) {
		return nil, nil, false
	}
	buf := c.scratchBuf()
	n := base64.StdEncoding.DecodedLen(len(enc))
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	m, err := base64.StdEncoding.Decode(buf, enc)
	c.keepScratch(buf)
	if err != nil {
		return nil, nil, false
	}
	cred := buf[:m]
	colon := bytes.IndexByte(cred, ':')
	if colon < 0 {
		return nil, nil, false
	}
	return cred[:colon], cred[colon+1:], true
}

// checkAuth validates Basic credentials against a userlist and returns
// the user name: clear-text (insecure-password) passwords compare as is,
// hashed ones go through crypt(3)'s schemes (crypt.go).
func checkAuth(c *Ctx, ul *proxy.Userlist) ([]byte, bool) {
	user, pass, ok := basicCreds(c)
	if !ok {
		return nil, false
	}
	u, found := ul.Users[string(user)]
	if !found {
		return nil, false
	}
	if u.Insecure {
		return user, string(pass) == u.Password
	}
	return user, checkCrypt(u.Password, pass)
}
