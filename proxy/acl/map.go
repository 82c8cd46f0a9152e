package acl

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
)

// Map is a loaded map file (configuration.txt §7.3.1 "map"): one
// "key value" pair per line, '#' comments. Exact strings and addresses
// are looked up as in HAProxy's trees (an exact key; the longest prefix);
// other keys are tried in file order, the first match winning.
type Map struct {
	match    matchKind
	keys     [][]byte
	vals     [][]byte
	exactIdx map[string]int
	res      []*regexp.Regexp
	ips      []netip.Prefix
	ints     []int64
	// regm: map_regm substitutes the key's \N groups into the value.
	regm bool
	// out is the type of the values (map_*_int, map_*_ip); outv holds
	// them parsed.
	out  Kind
	outv []Value
	// live is the map as the runtime API last set it; nil: as loaded.
	live atomic.Pointer[Map]
}

// mapConvs are the map_<match>[_<output>] converters.
func mapConvs() []*convDef {
	var out []*convDef
	add := func(name string, outKind Kind) {
		out = append(out, &convDef{name: name, minArgs: 1, maxArgs: 2, out: outKind, compile: compileMap, fn: convMap})
	}
	add("map", KStr)
	add("map_regm", KStr)
	for _, m := range []string{"str", "beg", "sub", "dir", "dom", "end", "reg", "int", "ip"} {
		add("map_"+m, KStr)
		add("map_"+m+"_int", KInt)
		add("map_"+m+"_ip", KIP)
	}
	return out
}

func compileMap(cv *conv, o *Options) error {
	m, err := LoadMap(cv.args[0], cv.def.name, o)
	if err != nil {
		return err
	}
	cv.m = m
	if len(cv.args) > 1 {
		d, err := parseMapValue(cv.args[1], m.out)
		if err != nil {
			return fmt.Errorf("invalid default value '%s': %v", cv.args[1], err)
		}
		cv.ref = d
	}
	return nil
}

func convMap(c *Ctx, cv *conv, v Value) (Value, bool) {
	if r, ok := cv.m.lookupValue(c, v); ok {
		return r, true
	}
	if d, ok := cv.ref.(Value); ok {
		return d, true
	}
	return Value{}, false
}

// parseMapValue reads a map value (or default) of the map's output type.
func parseMapValue(s string, k Kind) (Value, error) {
	switch k {
	case KInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("'%s' is not an integer", s)
		}
		return intVal(n), nil
	case KIP:
		a, err := netip.ParseAddr(s)
		if err != nil {
			return Value{}, fmt.Errorf("'%s' is not an IP address", s)
		}
		return Value{Kind: KIP, IP: a.Unmap()}, nil
	}
	return strVal([]byte(s)), nil
}

// ParseMapFile splits a map file into keys and values. The value is the
// rest of the line after the first run of blanks.
func ParseMapFile(data []byte) (keys, vals []string) {
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.Trim(bytes.TrimRight(line, "\r"), " \t")
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		i := bytes.IndexAny(line, " \t")
		if i < 0 {
			keys = append(keys, string(line))
			vals = append(vals, "")
			continue
		}
		keys = append(keys, string(line[:i]))
		vals = append(vals, string(bytes.TrimLeft(line[i:], " \t")))
	}
	return keys, vals
}

// LoadMap reads and compiles a map file for the converter called kind.
func LoadMap(path, kind string, o *Options) (*Map, error) {
	data, err := o.readFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to load map file <%s>", path)
	}
	keys, vals := ParseMapFile(data)
	m, err := buildMap(keys, vals, kind, path)
	if err != nil {
		return nil, err
	}
	if o != nil && o.Refs != nil {
		r := o.Refs.ref(path, true, fmt.Sprintf("pattern loaded from file '%s' used by map at file '%s' line %d.", path, o.cfgFile(), 0), keys, vals)
		r.use(func(_ *PatRef, keys, vals []string) error {
			nm, err := buildMap(keys, vals, kind, path)
			if err != nil {
				return err
			}
			m.live.Store(nm)
			return nil
		})
	}
	return m, nil
}

// buildMap compiles a map's keys and values for the converter kind.
func buildMap(keys, vals []string, kind, path string) (*Map, error) {
	m := &Map{match: mStr, out: KStr}
	switch {
	case strings.HasSuffix(kind, "_int") && kind != "map_int":
		m.out = KInt
		kind = strings.TrimSuffix(kind, "_int")
	case strings.HasSuffix(kind, "_ip") && kind != "map_ip":
		m.out = KIP
		kind = strings.TrimSuffix(kind, "_ip")
	}
	switch kind {
	case "map_regm":
		m.match, m.regm = mReg, true
	case "map_beg":
		m.match = mBeg
	case "map_end":
		m.match = mEnd
	case "map_sub":
		m.match = mSub
	case "map_dir":
		m.match = mDir
	case "map_dom":
		m.match = mDom
	case "map_reg":
		m.match = mReg
	case "map_ip":
		m.match = mIP
	case "map_int":
		m.match = mInt
	}
	for i, k := range keys {
		switch m.match {
		case mReg:
			re, err := regexp.Compile(k)
			if err != nil {
				return nil, fmt.Errorf("map file <%s>: invalid regex '%s'", path, k)
			}
			m.res = append(m.res, re)
		case mIP:
			p, err := parsePrefix(k)
			if err != nil {
				return nil, fmt.Errorf("map file <%s>: %v", path, err)
			}
			m.ips = append(m.ips, p)
		case mInt:
			n, err := strconv.ParseInt(k, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("map file <%s>: '%s' is not a number", path, k)
			}
			m.ints = append(m.ints, n)
		}
		m.keys = append(m.keys, []byte(k))
		m.vals = append(m.vals, []byte(vals[i]))
		if m.out != KStr {
			ov, err := parseMapValue(vals[i], m.out)
			if err != nil {
				return nil, fmt.Errorf("map file <%s>: %v", path, err)
			}
			m.outv = append(m.outv, ov)
		}
	}
	if m.match == mStr {
		m.exactIdx = make(map[string]int, len(keys))
		for i := len(keys) - 1; i >= 0; i-- { // first occurrence wins
			m.exactIdx[keys[i]] = i
		}
	}
	return m, nil
}

// lookupValue returns the value of v's key, typed as the map's output.
func (m *Map) lookupValue(c *Ctx, v Value) (Value, bool) {
	if l := m.live.Load(); l != nil {
		m = l
	}
	i, ok := m.find(c, v)
	if !ok {
		return Value{}, false
	}
	if m.out != KStr {
		return m.outv[i], true
	}
	if m.regm {
		s := toStr(c, v)
		re := m.res[i]
		loc := re.FindSubmatchIndex(s)
		buf := re.Expand(c.scratchBuf(), []byte(regsubTemplate(string(m.vals[i]))), s, loc)
		c.keepScratch(buf)
		return strVal(buf), true
	}
	return strVal(m.vals[i]), true
}

// Lookup returns the value of v's key.
func (m *Map) Lookup(c *Ctx, v Value) ([]byte, bool) {
	if l := m.live.Load(); l != nil {
		m = l
	}
	i, ok := m.find(c, v)
	if !ok {
		return nil, false
	}
	return m.vals[i], true
}

// find returns the index of v's key: the exact key, the longest prefix
// holding an address, else the first key matching in file order.
func (m *Map) find(c *Ctx, v Value) (int, bool) {
	switch m.match {
	case mIP:
		ip, ok := v.asIP()
		if !ok {
			return 0, false
		}
		ip = ip.Unmap()
		best, bits := -1, -1
		for i, p := range m.ips {
			if p.Contains(ip) && p.Bits() > bits {
				best, bits = i, p.Bits()
			}
		}
		return best, best >= 0
	case mInt:
		n, ok := v.asInt()
		if !ok {
			return 0, false
		}
		for i, k := range m.ints {
			if k == n {
				return i, true
			}
		}
		return 0, false
	}
	s := toStr(c, v)
	switch m.match {
	case mStr:
		i, ok := m.exactIdx[string(s)]
		return i, ok
	case mReg:
		for i, re := range m.res {
			if re.Match(s) {
				return i, true
			}
		}
		return 0, false
	}
	for i, k := range m.keys {
		if matchStr(m.match, s, k) {
			return i, true
		}
	}
	return 0, false
}
