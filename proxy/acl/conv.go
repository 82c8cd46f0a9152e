package acl

import (
	"encoding/binary"
	"fmt"
	"regexp"
)

type convFn func(c *Ctx, cv *conv, v Value) (Value, bool)

// convDef is one converter of the registry: its name, arguments, output
// type, how its arguments are compiled and the function that converts.
type convDef struct {
	name             string
	minArgs, maxArgs int
	// in is KBin for converters reading binary input: integers then
	// enter as 8 big-endian bytes and addresses as 4 or 16 bytes, as
	// HAProxy's casts do; other inputs are read as text.
	in  Kind
	out Kind
	// note, when set, says how the converter differs from HAProxy's.
	note    string
	compile func(cv *conv, o *Options) error
	fn      convFn
}

// conv is a converter with its compiled arguments.
type conv struct {
	def  *convDef
	args []string
	n    int
	sep  []byte
	re   *regexp.Regexp
	repl []byte
	m    *Map
	// num and num2 are integer arguments; str a compiled string argument;
	// ref whatever else compile resolved.
	num, num2 int64
	str       []byte
	ref       any
}

// toStr returns the textual form of v, using scratch space when needed.
func toStr(c *Ctx, v Value) []byte {
	if v.Kind == KStr || v.Kind == KBin {
		return v.B
	}
	buf := v.AppendText(c.scratchBuf())
	c.keepScratch(buf)
	return buf
}

func strVal(b []byte) Value { return Value{Kind: KStr, B: b} }

// apply runs the converter on v, cast to its input type first.
func (cv *conv) apply(c *Ctx, v Value) (Value, bool) {
	if cv.def.in == KBin {
		v = toBin(c, v)
	}
	return cv.def.fn(c, cv, v)
}

// toBin is HAProxy's cast to binary: integers and booleans as 8
// big-endian bytes, addresses as their 4 or 16 bytes.
func toBin(c *Ctx, v Value) Value {
	switch v.Kind {
	case KInt, KBool:
		buf := binary.BigEndian.AppendUint64(c.scratchBuf(), uint64(v.I))
		c.keepScratch(buf)
		return Value{Kind: KBin, B: buf}
	case KIP:
		buf := append(c.scratchBuf(), v.IP.AsSlice()...)
		c.keepScratch(buf)
		return Value{Kind: KBin, B: buf}
	}
	return v
}

func newConv(name string, args []string, o *Options) (*conv, error) {
	d := o.registry().convs[name]
	if d == nil {
		return nil, fmt.Errorf("unknown converter '%s'", name)
	}
	if len(args) < d.minArgs || len(args) > d.maxArgs {
		return nil, fmt.Errorf("converter '%s' expects %d to %d argument(s)", name, d.minArgs, d.maxArgs)
	}
	cv := &conv{def: d, args: args}
	if d.compile != nil {
		if err := d.compile(cv, o); err != nil {
			return nil, fmt.Errorf("converter '%s': %w", name, err)
		}
	}
	return cv, nil
}
