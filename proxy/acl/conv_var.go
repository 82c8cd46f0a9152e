package acl

import (
	"fmt"
	"strings"
)

// varConvs store the sample in a variable or remove one, passing the
// sample on unchanged (configuration.txt §7.3.1 set-var, unset-var).
func varConvs() []*convDef {
	return []*convDef{
		{name: "set-var", minArgs: 1, maxArgs: 5, out: KStr, compile: func(cv *conv, o *Options) error {
			if err := CheckVarName(cv.args[0]); err != nil {
				return err
			}
			for _, cond := range cv.args[1:] {
				i := setVarCond(cond)
				if i < 0 {
					return fmt.Errorf("unknown condition '%s'", cond)
				}
				cv.num |= 1 << i
			}
			return nil
		}, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			if cv.num == 0 || c.Vars.setVarAllowed(cv.args[0], v, cv.num) {
				c.Vars.Set(cv.args[0], v)
			}
			return v, true
		}},
		{name: "unset-var", minArgs: 1, maxArgs: 1, out: KStr, compile: varArg, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			c.Vars.Unset(cv.args[0])
			return v, true
		}},
	}
}

var setVarConds = [...]string{"ifexists", "ifnotexists", "ifempty", "ifnotempty", "ifset", "ifnotset", "ifgt", "iflt"}

func setVarCond(s string) int {
	for i, n := range setVarConds {
		if strings.EqualFold(s, n) {
			return i
		}
	}
	return -1
}

// setVarAllowed checks the set-var converter's conditions (bits of
// setVarConds) against the variable's state and the input.
func (vs *Vars) setVarAllowed(name string, in Value, conds int64) bool {
	old, set := vs.Get(name)
	exists := set || vs.known(name)
	empty := (in.Kind == KStr || in.Kind == KBin) && len(in.B) == 0
	for i := range setVarConds {
		if conds&(1<<i) == 0 {
			continue
		}
		var ok bool
		switch i {
		case 0:
			ok = exists
		case 1:
			ok = !exists
		case 2:
			ok = empty
		case 3:
			ok = !empty
		case 4:
			ok = set
		case 5:
			ok = !set
		case 6, 7:
			ok = true // only integers compare
			if set && old.Kind == KInt && in.Kind == KInt {
				if i == 6 {
					ok = old.I > in.I
				} else {
					ok = old.I < in.I
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// known reports whether a variable was ever set in this transaction, even
// if unset since.
func (vs *Vars) known(name string) bool {
	for i, n := range vs.names {
		if n == name && vs.seen[i] {
			return true
		}
	}
	return false
}
