package compat

import (
	"fmt"
	"strings"

	"halo/parser"
	"halo/proxy"
)

// MasterSocket reads the argument of haproxy's `-S <bind>[,<opt>,<value>…]`
// (management.txt §9.4): the master CLI's address and the bind options a
// `stats socket` takes (mode, uid, gid, user, group, level…), separated by
// commas. The master CLI's level is admin unless the options say
// otherwise.
func MasterSocket(spec string) (proxy.StatsSocket, error) {
	parts := strings.Split(spec, ",")
	words := make([]parser.Word, len(parts))
	level := false
	for i, p := range parts {
		words[i] = parser.Word{Value: p}
		if p == "level" {
			level = true
		}
	}
	c := &hctx{cfg: &proxy.Config{}, rep: &Report{}}
	if err := decodeStatsSocket(c, &parser.Directive{Name: "stats socket"}, words); err != nil {
		return proxy.StatsSocket{}, err
	}
	sk := c.cfg.Global.StatsSockets[0]
	if !level {
		sk.Level = "admin"
	}
	return sk, nil
}

// decodeMworkerMaxReloads is `mworker-max-reloads <n>`: HAProxy warns
// (and ignores the line) on a missing or negative number.
func decodeMworkerMaxReloads(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) == 0 || a[0].Value == "" {
		c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevWarning, Msg: "(null)parsing [" + fmt.Sprintf("%s:%d", d.Pos.File, d.Pos.Line) + "] : 'mworker-max-reloads' expects an integer argument.\n"})
		return nil
	}
	n := atol(a[0].Value)
	if n < 0 {
		c.rep.Diags = append(c.rep.Diags, Diagnostic{Pos: d.Pos, Sev: parser.SevWarning, Msg: "(null)parsing [" + fmt.Sprintf("%s:%d", d.Pos.File, d.Pos.Line) + "] 'mworker-max-reloads' : invalid value " + a[0].Value + ", must be >= 0"})
		return nil
	}
	c.cfg.Global.MworkerMaxReloads = n
	return nil
}
