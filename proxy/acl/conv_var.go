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
			conds, err := ParseSetVarConds(cv.args[1:])
			cv.num = int64(conds)
			return err
		}, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			c.Vars.SetIf(cv.args[0], v, SetVarConds(cv.num))
			return v, true
		}},
		{name: "unset-var", minArgs: 1, maxArgs: 1, out: KStr, compile: varArg, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			c.Vars.Unset(cv.args[0])
			return v, true
		}},
	}
}

var setVarConds = [...]string{"ifexists", "ifnotexists", "ifempty", "ifnotempty", "ifset", "ifnotset", "ifgt", "iflt"}

// SetVarConds are the conditions of set-var (configuration.txt §7.3.1
// "set-var"), one bit per word of setVarConds.
type SetVarConds uint8

// ParseSetVarConds reads set-var's condition words.
func ParseSetVarConds(words []string) (SetVarConds, error) {
	var c SetVarConds
	for _, w := range words {
		found := false
		for i, n := range setVarConds {
			if strings.EqualFold(w, n) {
				c |= 1 << i
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown condition '%s' (expects ifexists, ifnotexists, ifempty, ifnotempty, ifset, ifnotset, ifgt or iflt)", w)
		}
	}
	return c, nil
}

// SetIf sets the variable when every condition holds.
func (vs *Vars) SetIf(name string, val Value, conds SetVarConds) {
	if conds == 0 || vs.setVarAllowed(name, val, conds) {
		vs.Set(name, val)
	}
}

// setVarAllowed checks set-var's conditions against the variable's state
// and the input.
func (vs *Vars) setVarAllowed(name string, in Value, conds SetVarConds) bool {
	old, set := vs.Get(name)
	// proc variables are created while the configuration is read, so
	// they always exist (configuration.txt §7.3.1 "set-var").
	exists := set || vs.known(name) || isProc(name)
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
	vs = vs.scope(name)
	for i, n := range vs.names {
		if n == name && vs.seen[i] {
			return true
		}
	}
	return false
}
