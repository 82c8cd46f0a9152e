package compat

import (
	"fmt"
	"strings"
)

// expandAddr is HAProxy's env_expand, which str2sa_range applies to every
// address (bind, server, peer): "$VAR" and "${VAR}" become the variable's
// value, an unset one nothing, wherever they are in the word. An address
// that expands to nothing is refused as HAProxy refuses it.
func (c *hctx) expandAddr(s string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i + 1
		var name string
		if s[j] == '{' {
			end := strings.IndexByte(s[j:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				break
			}
			name = s[j+1 : j+end]
			j += end + 1
		} else {
			k := j
			for k < len(s) && (s[k] == '_' || s[k] >= '0' && s[k] <= '9' || s[k] >= 'a' && s[k] <= 'z' || s[k] >= 'A' && s[k] <= 'Z') {
				k++
			}
			name = s[j:k]
			j = k
		}
		if v, ok := c.opt.Env.Lookup(name); ok {
			b.WriteString(v)
		}
		i = j
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("'%s' resolves to an empty address (environment variable missing?)", s)
	}
	return b.String(), nil
}
