package acl

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
)

// Map is a loaded map file (configuration.txt §7.3.1 "map"): one
// "key value" pair per line, '#' comments, first match wins.
type Map struct {
	match matchKind
	keys  [][]byte
	vals  [][]byte
	exact map[string][]byte
	res   []*regexp.Regexp
	ips   []netip.Prefix
	ints  []int64
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
	m := &Map{match: mStr}
	switch kind {
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
	}
	if m.match == mStr {
		m.exact = make(map[string][]byte, len(keys))
		for i := len(keys) - 1; i >= 0; i-- { // first occurrence wins
			m.exact[keys[i]] = m.vals[i]
		}
	}
	return m, nil
}

// Lookup returns the value of the first key matching v.
func (m *Map) Lookup(c *Ctx, v Value) ([]byte, bool) {
	switch m.match {
	case mIP:
		ip, ok := v.asIP()
		if !ok {
			return nil, false
		}
		for i, p := range m.ips {
			if p.Contains(ip.Unmap()) {
				return m.vals[i], true
			}
		}
		return nil, false
	case mInt:
		n, ok := v.asInt()
		if !ok {
			return nil, false
		}
		for i, k := range m.ints {
			if k == n {
				return m.vals[i], true
			}
		}
		return nil, false
	}
	s := toStr(c, v)
	switch m.match {
	case mStr:
		r, ok := m.exact[string(s)]
		return r, ok
	case mReg:
		for i, re := range m.res {
			if re.Match(s) {
				return m.vals[i], true
			}
		}
		return nil, false
	}
	for i, k := range m.keys {
		if matchStr(m.match, s, k) {
			return m.vals[i], true
		}
	}
	return nil, false
}
