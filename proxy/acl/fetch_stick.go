package acl

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"

	"halo/proxy/stick"
)

// Stick-table fetches and converters (configuration.txt §7.3.3
// "sc_*", "src_*", "table_*", §7.3.1 "in_table", "table_*"): they read
// the stick counters a stream tracks (Ctx.Stick), the entry of the
// client's address, or any key's entry in a named table.

// stickTable resolves a table argument: the named table (or the current
// proxy's when name is empty) against the runtime's tables, else the
// configuration's when only checking. It returns nil, nil when checking.
func stickTable(o *Options, name, kw string, argn int, conv bool) (*stick.Table, error) {
	if name == "" && o != nil && o.Proxy != nil {
		name = o.Proxy.Name
	}
	if o != nil && o.Tables != nil {
		if t := o.Tables.Table(name); t != nil {
			return t, nil
		}
	} else if o != nil && o.Config != nil {
		for _, sp := range o.Config.Tables {
			if sp.Name == name {
				return nil, nil
			}
		}
	}
	pxName := ""
	if o != nil && o.Proxy != nil {
		pxName = o.Proxy.Name
	}
	if conv {
		return nil, fmt.Errorf("unable to find table '%s' referenced in arg %d of conversion keyword '%s' in proxy '%s'", name, argn, kw, pxName)
	}
	return nil, fmt.Errorf("unable to find table '%s' referenced in arg %d of ACL keyword '%s' in proxy '%s'", name, argn, kw, pxName)
}

// stickKey converts a sample to a table key (HAProxy's smp_to_stkey):
// the sample is cast to the table's type, strings are cut to the key
// size, binary keys padded with zeros. ok is false when the cast fails.
func stickKey(c *Ctx, t *stick.Table, v Value) ([]byte, bool) {
	buf := c.scratchBuf()
	switch t.Spec.Type {
	case stick.KeyIP:
		switch v.Kind {
		case KIP:
			if v.IP.Is4In6() {
				v.IP = v.IP.Unmap()
			}
			if !v.IP.Is4() {
				return nil, false
			}
			a := v.IP.As4()
			buf = append(buf, a[:]...)
		case KInt, KBool:
			buf = binary.BigEndian.AppendUint32(buf, uint32(v.I))
		case KStr:
			a, err := netip.ParseAddr(string(v.B))
			if err != nil || !a.Is4() {
				return nil, false
			}
			b := a.As4()
			buf = append(buf, b[:]...)
		default:
			return nil, false
		}
	case stick.KeyIPv6:
		switch v.Kind {
		case KIP:
			a := v.IP.As16()
			buf = append(buf, a[:]...)
		case KStr:
			a, err := netip.ParseAddr(string(v.B))
			if err != nil {
				return nil, false
			}
			b := a.As16()
			buf = append(buf, b[:]...)
		default:
			return nil, false
		}
	case stick.KeyInteger:
		n, ok := v.asInt()
		if v.Kind == KIP {
			if !v.IP.Unmap().Is4() {
				return nil, false
			}
			a := v.IP.Unmap().As4()
			n, ok = int64(binary.BigEndian.Uint32(a[:])), true
		}
		if !ok {
			return nil, false
		}
		buf = binary.LittleEndian.AppendUint32(buf, uint32(n))
	case stick.KeyString:
		buf = v.AppendText(buf)
	case stick.KeyBinary:
		switch v.Kind {
		case KStr, KBin:
			buf = append(buf, v.B...)
		default:
			buf = append(buf, toBin(c, v).B...)
		}
		for len(buf) < t.KeySize() {
			buf = append(buf, 0)
		}
	}
	c.keepScratch(buf)
	return buf, true
}

// srcKey is the client address as a key of t.
func srcKey(c *Ctx, t *stick.Table) ([]byte, bool) {
	a := c.T.Src()
	if !a.IsValid() {
		return nil, false
	}
	return stickKey(c, t, Value{Kind: KIP, IP: a.Addr().Unmap()})
}

// scForm is how a counter fetch names its counter.
type scForm uint8

const (
	formSC  scForm = iota // sc_NAME(ctr[,table])
	formSCN               // scN_NAME([table])
	formSrc               // src_NAME([table])
)

// scRead is what a counter fetch does with the entry.
type scRead uint8

const (
	readValue  scRead = iota // a stored datum (rates over their period)
	readKBytes               // bytes_*_cnt in kilobytes
	readInc                  // inc_gpc*: increment, return the new value
	readClr                  // clr_gpc*: clear, return the previous value
	readTracked
	readTrackers
	readUpdtConn // src_updt_conn_cnt
)

// scFetch is one sc_/scN_/src_ fetch: its datum and whether it takes a
// gpc/gpt index first.
type scFetch struct {
	suffix  string
	dt      stick.DataType
	read    scRead
	indexed bool // takes an array index argument first (gpc, gpt, gpc_rate)
	legacy  int  // gpc0/gpc1/gpt0: the counter number, -1 otherwise
}

func stickSuffixes() []scFetch {
	v := func(s string, dt stick.DataType) scFetch { return scFetch{suffix: s, dt: dt, legacy: -1} }
	return []scFetch{
		v("bytes_in_rate", stick.BytesInRate), v("bytes_out_rate", stick.BytesOutRate),
		v("conn_cnt", stick.ConnCnt), v("conn_cur", stick.ConnCur), v("conn_rate", stick.ConnRate),
		v("gpc0_rate", stick.GPC0Rate), v("gpc1_rate", stick.GPC1Rate),
		v("http_err_cnt", stick.HTTPErrCnt), v("http_err_rate", stick.HTTPErrRate),
		v("http_fail_cnt", stick.HTTPFailCnt), v("http_fail_rate", stick.HTTPFailRate),
		v("http_req_cnt", stick.HTTPReqCnt), v("http_req_rate", stick.HTTPReqRate),
		v("sess_cnt", stick.SessCnt), v("sess_rate", stick.SessRate),
		{suffix: "kbytes_in", dt: stick.BytesInCnt, read: readKBytes, legacy: -1},
		{suffix: "kbytes_out", dt: stick.BytesOutCnt, read: readKBytes, legacy: -1},
		{suffix: "get_gpc0", dt: stick.GPC0, legacy: 0},
		{suffix: "get_gpc1", dt: stick.GPC1, legacy: 1},
		{suffix: "get_gpt0", dt: stick.GPT0, legacy: 0},
		{suffix: "inc_gpc0", dt: stick.GPC0, read: readInc, legacy: 0},
		{suffix: "inc_gpc1", dt: stick.GPC1, read: readInc, legacy: 1},
		{suffix: "clr_gpc0", dt: stick.GPC0, read: readClr, legacy: 0},
		{suffix: "clr_gpc1", dt: stick.GPC1, read: readClr, legacy: 1},
		{suffix: "trackers", read: readTrackers, legacy: -1},
		{suffix: "get_gpc", dt: stick.GPC, indexed: true, legacy: -1},
		{suffix: "get_gpt", dt: stick.GPT, indexed: true, legacy: -1},
		{suffix: "gpc_rate", dt: stick.GPCRate, indexed: true, legacy: -1},
		{suffix: "inc_gpc", dt: stick.GPC, read: readInc, indexed: true, legacy: -1},
		{suffix: "clr_gpc", dt: stick.GPC, read: readClr, indexed: true, legacy: -1},
	}
}

// stickFetches are every sc_*, sc0_* … sc2_*, src_* and table_cnt /
// table_avl fetch of HAProxy 2.6.
func stickFetches() []*fetchDef {
	var out []*fetchDef
	for _, s := range stickSuffixes() {
		s := s
		out = append(out, scFetchDef("sc_"+s.suffix, formSC, 0, s))
		if !s.indexed {
			for n := range stick.MaxCounters {
				out = append(out, scFetchDef("sc"+strconv.Itoa(n)+"_"+s.suffix, formSCN, n, s))
			}
		}
		if s.read != readTrackers {
			out = append(out, scFetchDef("src_"+s.suffix, formSrc, 0, s))
		}
	}
	tracked := scFetch{suffix: "tracked", read: readTracked, legacy: -1}
	out = append(out, scFetchDef("sc_tracked", formSC, 0, tracked))
	for n := range stick.MaxCounters {
		out = append(out, scFetchDef("sc"+strconv.Itoa(n)+"_tracked", formSCN, n, tracked))
	}
	// 2.6 also registers sc1_clr_gpc(idx[,table]), alone of its kind.
	out = append(out, scFetchDef("sc1_clr_gpc", formSCN, 1, scFetch{suffix: "clr_gpc", dt: stick.GPC, read: readClr, indexed: true, legacy: -1}))
	out = append(out, scFetchDef("src_updt_conn_cnt", formSrc, 0, scFetch{suffix: "updt_conn_cnt", dt: stick.ConnCnt, read: readUpdtConn, legacy: -1}))
	tableFetch := func(name string, fn func(t *stick.Table) int64) *fetchDef {
		return &fetchDef{name: name, out: KInt, maxArgs: 1,
			compile: func(f *fetch, o *Options) error {
				name := ""
				if len(f.args) > 0 {
					name = f.args[0]
				}
				t, err := stickTable(o, name, f.def.name, 1, false)
				f.ref = t
				return err
			},
			fn: single(func(c *Ctx, f *fetch) (Value, bool) {
				t, _ := f.ref.(*stick.Table)
				if t == nil {
					return Value{}, false
				}
				return intVal(fn(t)), true
			})}
	}
	out = append(out,
		tableFetch("table_cnt", func(t *stick.Table) int64 { return t.Used() }),
		tableFetch("table_avl", func(t *stick.Table) int64 { return t.Size() - t.Used() }),
	)
	return out
}

// scArgs are a counter fetch's compiled arguments.
type scArgs struct {
	form  scForm
	ctr   int
	idx   int
	alt   *stick.Table // sc_/scN_ with a table: look the tracked key up there
	table *stick.Table // src_: the table
	spec  scFetch
}

func scFetchDef(name string, form scForm, ctr int, s scFetch) *fetchDef {
	minArgs, maxArgs := 0, 1
	if form == formSC {
		minArgs, maxArgs = 1, 2
	}
	if s.indexed {
		minArgs++
		maxArgs++
	}
	out := KInt
	if s.read == readTracked {
		out = KBool
	}
	return &fetchDef{name: name, out: out, minArgs: minArgs, maxArgs: maxArgs,
		compile: func(f *fetch, o *Options) error {
			a := &scArgs{form: form, ctr: ctr, spec: s}
			args := f.args
			argn := 1
			if s.indexed {
				n, err := strconv.Atoi(args[0])
				if err != nil || n < 0 {
					return fmt.Errorf("invalid index '%s' in arg 1 of '%s'", args[0], name)
				}
				a.idx = n
				args = args[1:]
				argn++
			} else if s.legacy >= 0 {
				a.idx = s.legacy
			}
			if form == formSC {
				n, err := strconv.Atoi(args[0])
				if err != nil || n < 0 {
					return fmt.Errorf("invalid stick counter '%s' in arg %d of '%s'", args[0], argn, name)
				}
				a.ctr = n
				args = args[1:]
				argn++
			}
			tname := ""
			if len(args) > 0 {
				tname = args[0]
			}
			if form == formSrc || tname != "" {
				t, err := stickTable(o, tname, name, argn, false)
				if err != nil {
					return err
				}
				if form == formSrc {
					a.table = t
				} else {
					a.alt = t
				}
			}
			f.ref = a
			return nil
		},
		fn: single(scValue)}
}

// scValue runs a counter fetch.
func scValue(c *Ctx, f *fetch) (Value, bool) {
	a, _ := f.ref.(*scArgs)
	if a == nil {
		return Value{}, false
	}
	var t *stick.Table
	var r stick.Ref
	temp := false // r is a reference of ours to release
	switch a.form {
	case formSrc:
		t = a.table
		if t == nil {
			return Value{}, false
		}
		k, ok := srcKey(c, t)
		if !ok {
			return Value{}, false
		}
		if a.spec.read == readInc || a.spec.read == readClr || a.spec.read == readUpdtConn {
			r = t.Get(k) // these create the entry (smp_create_src_stkctr)
		} else {
			r = t.Lookup(k)
		}
		temp = true
	default:
		ctr := c.Stick.Get(a.ctr)
		if ctr == nil {
			if a.spec.read == readTracked {
				return boolVal(false), true
			}
			return Value{}, false
		}
		t, r = ctr.T, ctr.R
		if a.alt != nil {
			k := t.AppendRawKey(c.scratchBuf(), r)
			t, r = a.alt, a.alt.Lookup(k)
			temp = true
		}
	}
	if temp {
		defer t.Release(r)
	}
	if a.spec.read == readTracked {
		return boolVal(true), true
	}
	if a.spec.read == readTrackers {
		n := t.Trackers(r)
		if temp && r != 0 {
			n--
		}
		return intVal(n), true
	}
	if r == 0 {
		// no entry: zero, unless the table cannot hold the datum
		if a.spec.read != readTrackers && !storesFor(t, a.spec) {
			return Value{}, false
		}
		return intVal(0), true
	}
	switch a.spec.read {
	case readInc:
		v, ok := t.IncGPC(r, a.idx, a.spec.legacy >= 0)
		if !ok {
			return Value{}, false
		}
		return intVal(int64(v)), true
	case readClr:
		v, ok := t.ClrGPC(r, a.idx, a.spec.legacy >= 0)
		if !ok {
			return Value{}, false
		}
		return intVal(int64(v)), true
	case readUpdtConn:
		v, ok := t.IncConnCnt(r)
		if !ok {
			return Value{}, false
		}
		return intVal(int64(v)), true
	case readKBytes:
		v, ok := t.Value(r, a.spec.dt, 0)
		if !ok {
			return Value{}, false
		}
		return intVal(v >> 10), true
	}
	v, ok := t.Value(r, a.spec.dt, a.idx)
	if !ok {
		return Value{}, false
	}
	return intVal(v), true
}

// storesFor says whether t holds what the fetch reads (with the arrays
// standing in for gpc0/gpc1/gpt0).
func storesFor(t *stick.Table, s scFetch) bool {
	if t.Stores(s.dt) {
		return true
	}
	switch s.dt {
	case stick.GPC0, stick.GPC1:
		return t.Stores(stick.GPC)
	case stick.GPT0:
		return t.Stores(stick.GPT)
	case stick.GPC0Rate, stick.GPC1Rate:
		return t.Stores(stick.GPCRate)
	}
	return false
}

// stickConvs are in_table and the table_* converters: the input sample
// is a key looked up in the named table.
func stickConvs() []*convDef {
	var out []*convDef
	compileTable := func(indexed bool) func(cv *conv, o *Options) error {
		return func(cv *conv, o *Options) error {
			args := cv.args
			argn := 1
			if indexed {
				n, err := strconv.Atoi(args[0])
				if err != nil || n < 0 {
					return fmt.Errorf("invalid index '%s'", args[0])
				}
				cv.num = int64(n)
				args = args[1:]
				argn++
			}
			t, err := stickTable(o, args[0], cv.def.name, argn, true)
			cv.ref = t
			if len(args) > 1 {
				n, err := strconv.ParseInt(args[1], 10, 64)
				if err != nil {
					return fmt.Errorf("invalid default value '%s'", args[1])
				}
				cv.num2, cv.str = n, []byte{1}
			}
			return err
		}
	}
	lookup := func(c *Ctx, cv *conv, v Value) (*stick.Table, stick.Ref, bool) {
		t, _ := cv.ref.(*stick.Table)
		if t == nil {
			return nil, 0, false
		}
		k, ok := stickKey(c, t, v)
		if !ok {
			return nil, 0, false
		}
		return t, t.Lookup(k), true
	}
	out = append(out, &convDef{name: "in_table", minArgs: 1, maxArgs: 1, out: KBool, compile: compileTable(false),
		fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			t, r, ok := lookup(c, cv, v)
			if !ok {
				return Value{}, false
			}
			t.Release(r)
			return boolVal(r != 0), true
		}})
	for _, s := range stickSuffixes() {
		if s.read == readInc || s.read == readClr || (s.indexed && s.suffix != "get_gpc" && s.suffix != "get_gpt" && s.suffix != "gpc_rate") {
			continue
		}
		name := "table_" + s.suffix
		switch s.suffix {
		case "get_gpc0":
			name = "table_gpc0"
		case "get_gpc1":
			name = "table_gpc1"
		case "get_gpt0":
			name = "table_gpt0"
		case "get_gpc":
			name = "table_gpc"
		case "get_gpt":
			name = "table_gpt"
		}
		s := s
		minArgs, maxArgs := 1, 1
		if s.indexed {
			minArgs, maxArgs = 2, 2
		}
		out = append(out, &convDef{name: name, minArgs: minArgs, maxArgs: maxArgs, out: KInt, compile: compileTable(s.indexed),
			fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
				t, r, ok := lookup(c, cv, v)
				if !ok {
					return Value{}, false
				}
				defer t.Release(r)
				if s.read == readTrackers {
					return intVal(t.Trackers(r)), true
				}
				if r == 0 {
					return intVal(0), true
				}
				idx := int(cv.num)
				if !s.indexed && s.legacy >= 0 {
					idx = s.legacy
				}
				n, ok := t.Value(r, s.dt, idx)
				if !ok {
					return Value{}, false
				}
				if s.read == readKBytes {
					n >>= 10
				}
				return intVal(n), true
			}})
	}
	out = append(out, &convDef{name: "table_server_id", minArgs: 1, maxArgs: 1, out: KInt, compile: compileTable(false),
		fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			t, r, ok := lookup(c, cv, v)
			if !ok {
				return Value{}, false
			}
			defer t.Release(r)
			if r == 0 {
				return intVal(0), true
			}
			n, ok := t.Value(r, stick.ServerID, 0)
			if !ok {
				return Value{}, false
			}
			return intVal(n), true
		}})
	expiry := func(idle bool) convFn {
		return func(c *Ctx, cv *conv, v Value) (Value, bool) {
			t, r, ok := lookup(c, cv, v)
			if !ok {
				return Value{}, false
			}
			defer t.Release(r)
			if r == 0 {
				if len(cv.str) == 0 {
					return Value{}, false
				}
				return intVal(cv.num2), true
			}
			rem := int64(t.Remaining(r))
			if idle {
				return intVal(int64(t.ExpireMS()) - rem), true
			}
			return intVal(rem), true
		}
	}
	out = append(out,
		&convDef{name: "table_expire", minArgs: 1, maxArgs: 2, out: KInt, compile: compileTable(false), fn: expiry(false)},
		&convDef{name: "table_idle", minArgs: 1, maxArgs: 2, out: KInt, compile: compileTable(false), fn: expiry(true)},
	)
	return out
}

// StickKey converts a sample to a key of table t (for track-sc and stick
// rules); ok is false when the sample does not convert.
func StickKey(c *Ctx, t *stick.Table, v Value) ([]byte, bool) { return stickKey(c, t, v) }

// IntOf is a sample cast to an integer as HAProxy casts it (sc-set-gpt).
func IntOf(v Value) (int64, bool) {
	if v.Kind == KIP {
		if !v.IP.Unmap().Is4() {
			return 0, false
		}
		a := v.IP.Unmap().As4()
		return int64(binary.BigEndian.Uint32(a[:])), true
	}
	return v.asInt()
}
