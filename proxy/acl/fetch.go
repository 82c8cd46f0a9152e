package acl

import (
	"fmt"
	"os"
	"unsafe"

	"halo/proxy"
	"halo/proxy/stick"
)

// Options carries what compiling needs from the rest of the configuration.
type Options struct {
	// Registry is the vocabulary to compile against; nil builds one
	// (NewRegistry) per call, which only tests should rely on.
	Registry *Registry
	// Config is the configuration being compiled: fetches naming a proxy
	// or a server (nbsrv, be_conn, srv_id …) check the name against it.
	// nil refuses such names.
	Config *proxy.Config
	// Runtime resolves those names to live state; nil when only checking
	// the configuration (the fetches then compile and never run).
	Runtime *proxy.Runtime
	// Proxy is the proxy whose rules are being compiled: a server named
	// without its backend (srv_conn(s1)) belongs to it.
	Proxy *proxy.Proxy
	// Userlists serves http_auth(); nil means none (Config.Userlists is
	// used when this is nil).
	Userlists map[string]*proxy.Userlist
	// ReadFile reads -f pattern files and map files (default os.ReadFile).
	ReadFile func(path string) ([]byte, error)
	// Tables are the runtime's stick tables (table arguments of sc_*,
	// src_*, table_* resolve to them); nil when only checking, when the
	// names are checked against Config.Tables.
	Tables *stick.Set
	// Refs collects the pattern and map files (and inline patterns) as
	// runtime references the runtime API edits (patref.go); nil when
	// only checking the configuration.
	Refs *PatRefs
	// CfgFile names the configuration in the references' descriptions.
	CfgFile string
}

func (o *Options) cfgFile() string {
	if o == nil {
		return ""
	}
	return o.CfgFile
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

// fetchDef is one sample fetch of the registry: its name (and the other
// names HAProxy gives it), its output type and arguments, how its
// arguments are compiled, and the function that fetches.
type fetchDef struct {
	name    string
	aliases []string
	out     Kind
	minArgs int
	maxArgs int
	// match is the matching method of an ACL on the fetch without -m;
	// mAuto derives it from out as HAProxy does.
	match matchKind
	// note, when set, says how the fetch differs from HAProxy's.
	note string
	// compile checks and resolves the arguments once (nil: none to do).
	compile func(f *fetch, o *Options) error
	fn      fetchFn
}

func (d *fetchDef) defaultMatch() matchKind {
	if d.match != mAuto {
		return d.match
	}
	return kindMatch(d.out)
}

// kindMatch is the matching method HAProxy uses for a sample type.
func kindMatch(k Kind) matchKind {
	switch k {
	case KInt:
		return mInt
	case KBool:
		return mBool
	case KIP:
		return mIP
	case KBin:
		return mBin
	}
	return mStr
}

// fetch is a fetch with its compiled arguments.
type fetch struct {
	def   *fetchDef
	args  []string
	name  []byte // lowercased header/cookie/param name
	occ   int    // hdr occurrence; 0 = all (ACL) or last (sample)
	multi bool   // ACL context: iterate every value
	// num and num2 are integer arguments (offsets, lengths, bits).
	num, num2 int64
	// ref is what compile resolved (a userlist, a backend, a server …).
	ref any
	// str is a compiled string argument or result (rule file name …).
	str []byte
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

// single adapts a single-valued fetch function.
func single(fn func(c *Ctx, f *fetch) (Value, bool)) fetchFn {
	return func(c *Ctx, f *fetch, st *int) (Value, bool) {
		if !once(st) {
			return Value{}, false
		}
		return fn(c, f)
	}
}

func intVal(n int64) Value { return Value{Kind: KInt, I: n} }

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

func newFetch(name string, args []string, o *Options, multi bool) (*fetch, error) {
	d, err := o.registry().lookupFetch(name)
	if err != nil {
		return nil, err
	}
	if len(args) < d.minArgs {
		return nil, fmt.Errorf("fetch method '%s' expects at least %d argument(s)", name, d.minArgs)
	}
	if len(args) > d.maxArgs {
		return nil, fmt.Errorf("fetch method '%s' accepts at most %d argument(s)", name, d.maxArgs)
	}
	f := &fetch{def: d, args: args, multi: multi}
	if d.compile != nil {
		if err := d.compile(f, o); err != nil {
			return nil, fmt.Errorf("fetch method '%s': %w", name, err)
		}
	}
	return f, nil
}
