package acl

import (
	"fmt"
	"sort"

	"halo/proxy"
)

// Registry is the vocabulary the runtime executes: every sample fetch,
// converter, ACL keyword and predefined ACL (configuration.txt §7). It is
// the only list of them: the configuration loader (package compat) asks it
// whether a name is executed, and compiling reads it, so the migration
// report, `-c` and the runtime cannot disagree.
//
// Each file that implements fetches or converters contributes them as a
// table returned by a function (httpFetches in fetch_http.go, hashConvs in
// conv_hash.go, …); NewRegistry lists those tables. A new family (TLS,
// stick tables) is a new file with its table and one line in NewRegistry.
// A Registry never changes once built, so one may be shared freely.
type Registry struct {
	fetches map[string]*fetchDef
	convs   map[string]*convDef
	aclKws  map[string]aclKeyword
	predef  map[string]predefined
}

// fetchTables and convTables list every family of the runtime's
// vocabulary, each implemented in its own file.
func fetchTables() [][]*fetchDef {
	return [][]*fetchDef{
		internalFetches(),   // fetch_internal.go: constants, environment, variables, process
		proxyFetches(),      // fetch_proxy.go: frontend, backend, server identities and state
		l4Fetches(),         // fetch_l4.go: addresses, ports, sockets, connections
		httpFetches(),       // fetch_http.go: the HTTP request and response
		payloadFetches(),    // hello.go: the client's first bytes (mode tcp)
		resPayloadFetches(), // hello.go: the server's first bytes (mode tcp)
		rdpFetches(),        // rdp.go: the RDP cookie of the client's first bytes
		sslFetches(),        // fetch_ssl.go: the client's TLS connection and SNI
		sslCertFetches(),    // ssl.go: the TLS session and the client certificate
		authFetches(),       // fetch_auth.go: http_auth and userlists
		stickFetches(),      // fetch_stick.go: stick counters, src_*, table_cnt/avl
		filterFetches(),     // fetch_filters.go: res.cache_hit/name, res.comp/comp_algo
	}
}

func convTables() [][]*convDef {
	return [][]*convDef{
		stringConvs(),    // conv_string.go: case, trimming, words, fields, regsub, …
		arithConvs(),     // conv_arith.go: integer arithmetic and booleans
		encodeConvs(),    // conv_encode.go: hex, base64, url, json, …
		hashConvs(),      // conv_hash.go: hashes, digests, hmac
		timeConvs(),      // conv_time.go: ltime, utime, http_date
		netConvs(),       // conv_net.go: ipmask
		jsonConvs(),      // conv_json.go: json_query, jwt_header_query, jwt_payload_query
		jwtVerifyConvs(), // conv_jwt.go: jwt_verify
		proxyConvs(),     // conv_proxy.go: nbsrv, srv_queue, capture-req/res
		binaryConvs(),    // conv_binary.go: aes_gcm_dec, protobuf, ungrpc
		fixConvs(),       // conv_binary.go: fix_is_valid, fix_tag_value
		mqttConvs(),      // conv_mqtt.go: mqtt_is_valid, mqtt_field_value
		debugConvs(),     // conv_debug.go: debug
		mapConvs(),       // map.go: map_* lookups
		varConvs(),       // conv_var.go: set-var, unset-var
		stickConvs(),     // fetch_stick.go: in_table, table_*
	}
}

// NewRegistry builds the runtime's vocabulary. A name registered twice is
// a programming error and panics (the tests build a registry).
func NewRegistry() *Registry {
	r := &Registry{
		fetches: map[string]*fetchDef{},
		convs:   map[string]*convDef{},
		aclKws:  map[string]aclKeyword{},
		predef:  map[string]predefined{},
	}
	for _, tab := range fetchTables() {
		for _, d := range tab {
			for _, n := range append([]string{d.name}, d.aliases...) {
				if r.fetches[n] != nil {
					panic("acl: fetch " + n + " registered twice")
				}
				r.fetches[n] = d
			}
		}
	}
	for _, tab := range convTables() {
		for _, d := range tab {
			if r.convs[d.name] != nil {
				panic("acl: converter " + d.name + " registered twice")
			}
			r.convs[d.name] = d
		}
	}
	for _, k := range aclKeywords() {
		if r.fetches[k.fetch] != nil { // keywords of fetches halo runs
			r.aclKws[k.name] = k
		}
	}
	for _, p := range predefinedACLs() {
		r.predef[p.name] = p
	}
	return r
}

// registry returns the registry compiling uses: o.Registry, or a fresh
// one when the caller set none (tests; the runtime and the loader pass
// theirs).
func (o *Options) registry() *Registry {
	if o != nil && o.Registry != nil {
		return o.Registry
	}
	return NewRegistry()
}

// withRegistry returns o, or a copy of it with a registry when it has
// none, so one compilation builds at most one.
func (o *Options) withRegistry() *Options {
	if o != nil && o.Registry != nil {
		return o
	}
	var c Options
	if o != nil {
		c = *o
	}
	c.Registry = NewRegistry()
	return &c
}

// FetchInfo describes a registered sample fetch.
type FetchInfo struct {
	Name string
	// Out is the sample type it returns.
	Out Kind
	// MinArgs and MaxArgs bound its arguments.
	MinArgs, MaxArgs int
	// Match is the matching method of an ACL on it without -m.
	Match string
	// Note is empty when it runs as HAProxy's does, else what differs
	// (the loader reports it as partly executed).
	Note string
}

// ConverterInfo describes a registered converter.
type ConverterInfo struct {
	Name             string
	MinArgs, MaxArgs int
	Out              Kind
	Note             string
}

// Fetch describes the fetch called name, if the runtime executes it.
func (r *Registry) Fetch(name string) (FetchInfo, bool) {
	d := r.fetches[name]
	if d == nil {
		return FetchInfo{}, false
	}
	return FetchInfo{Name: name, Out: d.out, MinArgs: d.minArgs, MaxArgs: d.maxArgs,
		Match: matchKindName(d.defaultMatch()), Note: d.note}, true
}

// Converter describes the converter called name, if the runtime executes
// it.
func (r *Registry) Converter(name string) (ConverterInfo, bool) {
	d := r.convs[name]
	if d == nil {
		return ConverterInfo{}, false
	}
	return ConverterInfo{Name: name, MinArgs: d.minArgs, MaxArgs: d.maxArgs, Out: d.out, Note: d.note}, true
}

// ACLKeyword resolves an ACL keyword such as path_beg or hdr_sub to the
// fetch and the matching method it stands for (configuration.txt §7.3).
func (r *Registry) ACLKeyword(name string) (fetch, match string, ok bool) {
	k, ok := r.aclKws[name]
	if !ok {
		return "", "", false
	}
	return k.fetch, matchKindName(k.match), true
}

// Fetches returns the names of every registered fetch, sorted.
func (r *Registry) Fetches() []string { return sortedNames(r.fetches) }

// Converters returns the names of every registered converter, sorted.
func (r *Registry) Converters() []string { return sortedNames(r.convs) }

// ACLKeywords returns the names of every ACL keyword, sorted.
func (r *Registry) ACLKeywords() []string { return sortedNames(r.aclKws) }

// PredefinedACLs returns the names of HAProxy's predefined ACLs, sorted.
func (r *Registry) PredefinedACLs() []string { return sortedNames(r.predef) }

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Predefined returns HAProxy's predefined ACL called name
// (configuration.txt §7.4) as a criterion the compiler reads like any
// other.
func (r *Registry) Predefined(name string) (*proxy.ACL, bool) {
	p, ok := r.predef[name]
	if !ok {
		return nil, false
	}
	cr := &proxy.Criterion{Fetch: p.fetch, FetchArgs: p.args, Values: p.values}
	if k, ok := r.aclKws[p.fetch]; ok {
		cr.Fetch, cr.Match = k.fetch, matchKindName(k.match)
	} else if d := r.fetches[p.fetch]; d != nil {
		cr.Match = matchKindName(d.defaultMatch())
	}
	if p.match != mAuto {
		cr.Match = matchKindName(p.match)
	}
	return &proxy.ACL{Name: name, Criteria: []*proxy.Criterion{cr}}, true
}

// aclKeyword is an ACL keyword standing for a fetch and a matching method.
type aclKeyword struct {
	name  string
	fetch string
	match matchKind
}

// aclKeywords are HAProxy 2.6's ACL keywords that are not plain fetch
// names: a fetch with its matching method in the name (configuration.txt
// §7.3.x, "ACL derivatives"). The fetch names themselves are keywords too.
func aclKeywords() []aclKeyword {
	var out []aclKeyword
	// prefix alone matches as a string; prefix_beg … prefix_sub with
	// the method its suffix names.
	derive := func(prefix, fetch string) {
		out = append(out, aclKeyword{name: prefix, fetch: fetch, match: mStr})
		for _, m := range []matchKind{mBeg, mDir, mDom, mEnd, mLen, mReg, mSub} {
			out = append(out, aclKeyword{name: prefix + "_" + matchKindName(m), fetch: fetch, match: m})
		}
	}
	derive("base", "base")
	derive("cook", "req.cook")
	derive("hdr", "req.hdr")
	derive("path", "path")
	derive("url", "url")
	derive("urlp", "urlp")
	derive("scook", "res.cook")
	derive("shdr", "res.hdr")
	out = append(out,
		aclKeyword{"http_auth_group", "http_auth_group", mStr},
		aclKeyword{"method", "method", mStr},
		aclKeyword{"payload", "req.payload", mBin},
		aclKeyword{"payload_lv", "req.payload_lv", mBin},
		aclKeyword{"req.ssl_ver", "req.ssl_ver", mInt},
		aclKeyword{"req_rdp_cookie", "req.rdp_cookie", mStr},
		aclKeyword{"req_rdp_cookie_cnt", "req.rdp_cookie_cnt", mInt},
		aclKeyword{"req_ssl_sni", "req.ssl_sni", mStr},
		aclKeyword{"req_ssl_ver", "req.ssl_ver", mInt},
		aclKeyword{"req_ver", "req.ver", mStr},
		aclKeyword{"resp_ver", "res.ver", mStr},
		aclKeyword{"ssl_fc_sni_end", "ssl_fc_sni", mEnd},
		aclKeyword{"ssl_fc_sni_reg", "ssl_fc_sni", mReg},
	)
	return out
}

// predefined is one of HAProxy's predefined ACLs: a fetch, its arguments,
// an optional matching method and the patterns.
type predefined struct {
	name   string
	fetch  string
	args   []string
	match  matchKind
	values []string
}

// predefinedACLs are HAProxy 2.6's predefined ACLs (configuration.txt
// §7.4; checked against 2.6.12: LOCALHOST matches ::1 too, and there is
// no HTTP_3.0).
func predefinedACLs() []predefined {
	return []predefined{
		{name: "FALSE", fetch: "always_false"},
		{name: "HTTP", fetch: "req.proto_http"},
		{name: "HTTP_1.0", fetch: "req.ver", values: []string{"1.0"}},
		{name: "HTTP_1.1", fetch: "req.ver", values: []string{"1.1"}},
		{name: "HTTP_2.0", fetch: "req.ver", values: []string{"2.0"}},
		{name: "HTTP_CONTENT", fetch: "req.hdr_val", args: []string{"content-length"}, values: []string{"gt", "0"}},
		{name: "HTTP_URL_ABS", fetch: "url", match: mReg, values: []string{"^[^/:]*://"}},
		{name: "HTTP_URL_SLASH", fetch: "url", match: mBeg, values: []string{"/"}},
		{name: "HTTP_URL_STAR", fetch: "url", values: []string{"*"}},
		{name: "LOCALHOST", fetch: "src", values: []string{"127.0.0.1/8", "::1"}},
		{name: "METH_CONNECT", fetch: "method", values: []string{"CONNECT"}},
		{name: "METH_DELETE", fetch: "method", values: []string{"DELETE"}},
		{name: "METH_GET", fetch: "method", values: []string{"GET", "HEAD"}},
		{name: "METH_HEAD", fetch: "method", values: []string{"HEAD"}},
		{name: "METH_OPTIONS", fetch: "method", values: []string{"OPTIONS"}},
		{name: "METH_POST", fetch: "method", values: []string{"POST"}},
		{name: "METH_PUT", fetch: "method", values: []string{"PUT"}},
		{name: "METH_TRACE", fetch: "method", values: []string{"TRACE"}},
		{name: "RDP_COOKIE", fetch: "req.rdp_cookie_cnt", values: []string{"gt", "0"}},
		{name: "REQ_CONTENT", fetch: "req.len", values: []string{"gt", "0"}},
		{name: "TRUE", fetch: "always_true"},
		{name: "WAIT_END", fetch: "wait_end"},
	}
}

// matchKindName is the -m word of a matching method.
func matchKindName(m matchKind) string {
	for n, k := range matchNames {
		if k == m {
			return n
		}
	}
	return ""
}

// lookupFetch finds a fetch by name, or reports why it cannot run.
func (r *Registry) lookupFetch(name string) (*fetchDef, error) {
	if d := r.fetches[name]; d != nil {
		return d, nil
	}
	return nil, fmt.Errorf("unknown fetch method '%s'", name)
}
