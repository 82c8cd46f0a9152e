package acl

import (
	"fmt"
	"math"
	"strconv"
)

// arithConvs are the integer converters (configuration.txt §7.3.1): the
// operand of add, sub, mul, div, mod, and, or and xor is a number or a
// variable name. Results saturate at the 64-bit limits as HAProxy's do.
func arithConvs() []*convDef {
	op := func(name string, f func(a, b int64) int64) *convDef {
		return &convDef{name: name, minArgs: 1, maxArgs: 1, out: KInt, compile: compileOperand, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			a, ok := v.asInt()
			if !ok {
				return Value{}, false
			}
			b, ok := cv.operand(c)
			if !ok {
				return Value{}, false
			}
			return intVal(f(a, b)), true
		}}
	}
	unary := func(name string, out Kind, f func(a int64) Value) *convDef {
		return &convDef{name: name, out: out, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			a, ok := v.asInt()
			if !ok {
				return Value{}, false
			}
			return f(a), true
		}}
	}
	return []*convDef{
		op("add", arithAdd),
		op("sub", func(a, b int64) int64 {
			if b == math.MinInt64 {
				// -b does not exist: add MaxInt64, then one more
				return arithAdd(arithAdd(a, math.MaxInt64), 1)
			}
			return arithAdd(a, -b)
		}),
		op("mul", arithMul),
		op("div", func(a, b int64) int64 {
			if b == 0 || (b == -1 && a == math.MinInt64) {
				return math.MaxInt64
			}
			return a / b
		}),
		op("mod", func(a, b int64) int64 {
			if b == 0 || b == -1 {
				return 0
			}
			return a % b
		}),
		op("and", func(a, b int64) int64 { return a & b }),
		op("or", func(a, b int64) int64 { return a | b }),
		op("xor", func(a, b int64) int64 { return a ^ b }),
		unary("neg", KInt, func(a int64) Value {
			if a == math.MinInt64 {
				return intVal(math.MaxInt64)
			}
			return intVal(-a)
		}),
		unary("cpl", KInt, func(a int64) Value { return intVal(^a) }),
		unary("bool", KBool, func(a int64) Value { return boolVal(a != 0) }),
		unary("not", KBool, func(a int64) Value { return boolVal(a == 0) }),
		unary("odd", KBool, func(a int64) Value { return boolVal(a&1 != 0) }),
		unary("even", KBool, func(a int64) Value { return boolVal(a&1 == 0) }),
	}
}

func arithAdd(a, b int64) int64 {
	if (a ^ b) >= 0 { // same signs: may overflow
		if a < 0 {
			if math.MinInt64-a > b {
				return math.MinInt64
			}
		} else if math.MaxInt64-a < b {
			return math.MaxInt64
		}
	}
	return a + b
}

func arithMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	c := a * b
	if c/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		if (a > 0) == (b > 0) {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return c
}

// compileOperand reads an arithmetic operand: an integer, or the name of
// a variable read at each evaluation.
func compileOperand(cv *conv, o *Options) error {
	a := cv.args[0]
	if n, err := strconv.ParseInt(a, 10, 64); err == nil {
		cv.num = n
		return nil
	}
	if err := CheckVarName(a); err != nil {
		return fmt.Errorf("expects an integer or a variable name, got '%s'", a)
	}
	cv.str = []byte(a)
	return nil
}

func (cv *conv) operand(c *Ctx) (int64, bool) {
	if cv.str == nil {
		return cv.num, true
	}
	v, ok := c.Vars.Get(cv.args[0])
	if !ok {
		return 0, false
	}
	return v.asInt()
}
