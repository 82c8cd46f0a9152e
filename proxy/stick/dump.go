package stick

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// What `show table`, `clear table` and `set table` need from a table
// (management.txt §9.3), written as HAProxy 2.6 prints it.

// AppendHead appends the table's header line:
// "# table: NAME, type: TYPE, size:N, used:M".
func (t *Table) AppendHead(dst []byte) []byte {
	dst = append(dst, "# table: "...)
	dst = append(dst, t.Spec.Name...)
	dst = append(dst, ", type: "...)
	dst = append(dst, t.Spec.Type.String()...)
	dst = append(dst, ", size:"...)
	dst = strconv.AppendInt(dst, t.size, 10)
	dst = append(dst, ", used:"...)
	dst = strconv.AppendInt(dst, t.Used(), 10)
	return append(dst, '\n')
}

// AppendKey appends a stored key as HAProxy prints it.
func (t *Table) AppendKey(dst, k []byte) []byte {
	switch t.Spec.Type {
	case KeyIP:
		return netip.AddrFrom4([4]byte(k[:4])).AppendTo(dst)
	case KeyIPv6:
		return netip.AddrFrom16([16]byte(k[:16])).AppendTo(dst)
	case KeyInteger:
		return strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(k)), 10)
	case KeyString:
		return append(dst, k[:t.keyLen(k)]...)
	}
	return appendBinary(dst, k)
}

// appendBinary is HAProxy's dump_binary: printable bytes as they are,
// others as \xHH.
func appendBinary(dst, b []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range b {
		if c >= 0x20 && c < 0x7f && c != '\\' {
			dst = append(dst, c)
		} else {
			dst = append(dst, '\\', 'x', hex[c>>4], hex[c&15])
		}
	}
	return dst
}

// addr is the entry's address as `show table` prints it: HAProxy prints
// the C pointer; halo prints an address unique to the entry.
func (t *Table) addr(r Ref) uint64 {
	return 0x550000000000 + uint64(t.ID)<<40 + uint64(r.shard())<<34 + uint64(r.idx())*uint64(t.stride*4+t.keySize)
}

// AppendEntry appends one entry's line: address, key, use (references
// held by streams), exp (ms left) and every stored data, in data type
// order.
func (t *Table) AppendEntry(dst []byte, r Ref, extraRefs int) []byte {
	s, rec := t.lockRef(r)
	defer s.mu.Unlock()
	now := t.clock.Now()
	dst = append(dst, "0x"...)
	dst = strconv.AppendUint(dst, t.addr(r), 16)
	dst = append(dst, ": key="...)
	dst = t.AppendKey(dst, s.key(t, r.idx()))
	dst = append(dst, " use="...)
	dst = strconv.AppendInt(dst, int64(rec[hRef]&refMask)-int64(extraRefs), 10)
	dst = append(dst, " exp="...)
	exp := uint32(0)
	if t.expire != 0 {
		exp = tickRemain(now, rec[hExp])
	}
	dst = strconv.AppendUint(dst, uint64(exp), 10)
	for d := DataType(0); d < NumDataTypes; d++ {
		if t.off[d] < 0 {
			continue
		}
		info := &dataTypes[d]
		if info.array {
			// gpc_rate's element 3 is "gpc3_rate(P)"
			pfx, sfx, _ := strings.Cut(info.name, "_")
			if sfx != "" {
				sfx = "_" + sfx
			}
			for n := 0; n < int(t.nelem[d]); n++ {
				dst = append(dst, ' ')
				dst = append(dst, pfx...)
				dst = strconv.AppendInt(dst, int64(n), 10)
				dst = append(dst, sfx...)
				dst = t.appendValue(dst, rec, d, n, now)
			}
			continue
		}
		dst = append(dst, ' ')
		dst = append(dst, info.name...)
		dst = t.appendValue(dst, rec, d, 0, now)
	}
	return append(dst, '\n')
}

func (t *Table) appendValue(dst []byte, rec []uint32, d DataType, n int, now uint32) []byte {
	w := t.data(rec, d, n)
	switch dataTypes[d].std {
	case stdFreq:
		dst = append(dst, '(')
		dst = strconv.AppendUint(dst, uint64(t.period[d]), 10)
		dst = append(dst, ")="...)
		return strconv.AppendUint(dst, uint64(freqRead(w, now, t.period[d])), 10)
	case stdSInt:
		dst = append(dst, '=')
		return strconv.AppendInt(dst, int64(int32(w[0])), 10)
	case stdULL:
		dst = append(dst, '=')
		return strconv.AppendUint(dst, getULL(w), 10)
	case stdDict:
		dst = append(dst, '=')
		if w[0] != 0 && t.dict != nil {
			return append(dst, t.dict.Lookup(w[0])...)
		}
		return append(dst, '-') // no dictionary entry
	}
	dst = append(dst, '=')
	return strconv.AppendUint(dst, uint64(w[0]), 10)
}

// Op is a comparison of a `show table … data.TYPE OP VALUE` filter.
type Op uint8

const (
	OpEq Op = iota
	OpNe
	OpLe
	OpGe
	OpLt
	OpGt
)

// ParseOp reads eq, ne, le, ge, lt or gt.
func ParseOp(s string) (Op, bool) {
	for i, n := range []string{"eq", "ne", "le", "ge", "lt", "gt"} {
		if s == n {
			return Op(i), true
		}
	}
	return 0, false
}

// Filter keeps entries whose stored Type compares with Value.
type Filter struct {
	Type  DataType
	Op    Op
	Value int64
}

// match is HAProxy's test, which only skips an entry when it fails.
func (f Filter) match(v int64) bool {
	switch {
	case v < f.Value:
		return f.Op == OpNe || f.Op == OpLt || f.Op == OpLe
	case v == f.Value:
		return f.Op == OpEq || f.Op == OpLe || f.Op == OpGe
	}
	return f.Op == OpNe || f.Op == OpGt || f.Op == OpGe
}

// Entries returns a reference to every live entry that passes the
// filters, in HAProxy's dump order (the key tree: keys compared as
// bytes). The caller releases each.
func (t *Table) Entries(filters []Filter) []Ref {
	t.Purge()
	now := t.clock.Now()
	var out []Ref
	for si := range t.shards {
		s := &t.shards[si]
		s.mu.Lock()
		for i := uint32(1); i <= s.n; i++ {
			rec := s.rec(t, i)
			if rec[hRef]&fUsed == 0 || t.expired(rec, now) {
				continue
			}
			ok := true
			for _, f := range filters {
				v, _ := t.valueLocked(rec, f.Type, 0, now)
				if !f.match(v) {
					ok = false
					break
				}
			}
			if ok {
				rec[hRef]++
				out = append(out, mkRef(si, i))
			}
		}
		s.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Ref) int {
		return bytes.Compare(t.keyOf(a), t.keyOf(b))
	})
	return out
}

// keyOf returns the stored key of a referenced entry (stable while
// referenced: keys never change in place).
func (t *Table) keyOf(r Ref) []byte { return t.shards[r.shard()].key(t, r.idx()) }

// Key returns a copy of a referenced entry's key in table format.
func (t *Table) Key(r Ref) []byte {
	k := t.keyOf(r)
	return append([]byte(nil), k[:t.keyLen(k)]...)
}

// Kill removes a referenced entry if the caller's reference is the only
// one (clear table); otherwise it only drops that reference and reports
// false.
func (t *Table) Kill(r Ref) bool {
	s, rec := t.lockRef(r)
	defer s.mu.Unlock()
	if rec[hRef]&refMask > 1 {
		rec[hRef]--
		return false
	}
	s.remove(t, r.idx())
	return true
}

// ErrInvalidKey is the CLI's "Invalid key".
var ErrInvalidKey = errors.New("Invalid key")

// ParseCLIKey reads a key given on the CLI (`… key K`) as HAProxy's
// table_process_entry_per_key: an IPv4 address (anything else reads as
// 0.0.0.0), an IPv6 address, an unsigned 32-bit decimal integer (trailing
// characters ignored) or a string. Binary tables take no CLI key.
func (t *Table) ParseCLIKey(s string) ([]byte, error) {
	switch t.Spec.Type {
	case KeyIP:
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return make([]byte, 4), nil
		}
		b := a.As4()
		return b[:], nil
	case KeyIPv6:
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return nil, ErrInvalidKey
		}
		b := a.As16()
		return b[:], nil
	case KeyInteger:
		v, ok := strtoul(s)
		if !ok || v > 0xffffffff {
			return nil, ErrInvalidKey
		}
		return binary.LittleEndian.AppendUint32(nil, uint32(v)), nil
	case KeyString:
		return []byte(s), nil
	}
	return nil, errBinaryKey
}

var errBinaryKey = errors.New("binary")

// IsBinaryKeyErr says ParseCLIKey refused a key because the table is of
// type binary (the CLI then names its action).
func IsBinaryKeyErr(err error) bool { return err == errBinaryKey }

// strtoul reads like C's strtoul(s, &end, 10) with HAProxy's checks: at
// least one digit after optional spaces and sign; a negative number wraps
// (and is then too large).
func strtoul(s string) (uint64, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var v uint64
	over := false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if v > (1<<64-1-d)/10 {
			over = true
		}
		v = v*10 + d
		i++
	}
	if i == start {
		return 0, false
	}
	if over {
		return 1<<64 - 1, true
	}
	if neg {
		v = -v
	}
	return v, true
}

// ParseLL reads a whole decimal integer with an optional sign (HAProxy's
// strl2llrc); false on anything else.
func ParseLL(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// strl2llrc does not check overflow; keep what fits
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return v, true
		}
		return 0, false
	}
	return v, true
}

// SetData stores value in stored type d of a referenced entry as `set
// table … data.TYPE VALUE` does (a rate restarts with value events in the
// current period; an array's first element). The caller checked that d
// is stored.
func (t *Table) SetData(r Ref, d DataType, value int64) {
	s, rec := t.lockRef(r)
	defer s.mu.Unlock()
	w := t.data(rec, d, 0)
	if w == nil {
		return
	}
	switch dataTypes[d].std {
	case stdSInt, stdUInt:
		w[0] = uint32(value)
	case stdULL:
		setULL(w, uint64(value))
	case stdFreq:
		w[0] = t.clock.Now() &^ 1
		w[2] = 0
		w[1] = uint32(value)
	}
}
