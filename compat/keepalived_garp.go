package compat

import (
	"time"

	"halo/parser"
	"halo/vrrp"
)

// vrrp_min_garp and garp_group: how many gratuitous ARPs / unsolicited NAs
// a new MASTER sends, and how far apart on a given interface.

func garpGlobalRows() []kaRow {
	extra := func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
		if d.Name == "vrrp_vmac_garp_intvl" {
			c.errf(d.Pos, parser.KaDeprecated, "Keyword \"vrrp_vmac_garp_intvl\" is deprecated - please use \"vrrp_garp_extra_if\"")
		}
		g := &c.cfg.Global
		var delay uint64
		for _, a := range d.Args {
			if a.Value == "all" {
				g.GARPExtraIfAll = true
				continue
			}
			v, ok := c.unsigned(d.Pos, a.Value, 1, 86400)
			if !ok {
				c.errf(d.Pos, parser.KaGeneralError, "%s '%s' invalid - ignoring", d.Name, a.Value)
				return nil
			}
			delay = v
		}
		if delay == 0 {
			c.errf(d.Pos, parser.KaGeneralError, "%s specified without time - ignoring", d.Name)
			return nil
		}
		g.GARPExtraIf = time.Duration(delay) * time.Second
		return nil
	}
	return []kaRow{
		{"vrrp_garp_extra_if", kaNoBlock, extra},
		{"vrrp_vmac_garp_intvl", kaNoBlock, extra},
		{"vrrp_min_garp", kaNoBlock, func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			v, ok := kaTrueFalse(d)
			if !ok {
				c.errf(d.Pos, parser.KaGeneralError, "Invalid value for vrrp_min_garp specified")
				return nil
			}
			if !v {
				return nil
			}
			// one GARP/NA, no second burst, no refresh; what was set
			// explicitly before (a value other than the default) stays
			g := &c.cfg.Global
			if g.GARPMasterRepeat == 5 {
				g.GARPMasterRepeat = 1
			}
			if g.GARPMasterRefreshRepeat == 1 {
				g.GARPMasterRefreshRepeat = 0
			}
			if g.GARPMasterDelay == 5*time.Second {
				g.GARPMasterDelay = 0
			}
			return nil
		}},
	}
}

// garpGroupRows decode a garp_group block into c.garpGroup.
func garpGroupRows() []kaRow {
	gg := func(f func(c *kaCtx, g *vrrp.GARPGroup, d *parser.Directive)) kaDec {
		return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if c.garpGroup != nil {
				f(c, c.garpGroup, d)
			}
			return nil
		}
	}
	// a bad number is reported by the number reader alone; the interval
	// then counts as given (zero), as keepalived counts it
	interval := func(set func(g *vrrp.GARPGroup, t time.Duration)) kaDec {
		return gg(func(c *kaCtx, g *vrrp.GARPGroup, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				t, _ := c.timer(d.Pos, v, 0, 4294.967295)
				set(g, t)
			}
		})
	}
	return []kaRow{
		{"garp_interval", kaNoBlock, interval(func(g *vrrp.GARPGroup, t time.Duration) { g.GARPInterval, g.GARPSet = t, true })},
		{"gna_interval", kaNoBlock, interval(func(g *vrrp.GARPGroup, t time.Duration) { g.GNAInterval, g.GNASet = t, true })},
		{"interface", kaNoBlock, gg(func(c *kaCtx, g *vrrp.GARPGroup, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				g.Interfaces = append(g.Interfaces, v)
			}
		})},
		{"interfaces", kaValueBlock, gg(func(c *kaCtx, g *vrrp.GARPGroup, d *parser.Directive) {
			for _, l := range d.Body {
				g.Interfaces = append(g.Interfaces, l.Name)
				for _, a := range l.Args {
					g.Interfaces = append(g.Interfaces, a.Value)
				}
			}
		})},
	}
}

func decGarpGroup(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
	g := &vrrp.GARPGroup{}
	c.garpGroup = g
	c.walk(kaGarpGroup, d)
	c.garpGroup = nil
	if len(g.Interfaces) == 0 {
		return nil // keepalived drops it without a word
	}
	if !g.GARPSet && !g.GNASet {
		end := d.End
		if end.Line == 0 {
			end = d.Pos
		}
		c.errf(end, parser.KaGeneralError, "garp group %d does not have any delay set - removing", len(c.cfg.Global.GARPGroups))
		return nil
	}
	c.cfg.Global.GARPGroups = append(c.cfg.Global.GARPGroups, g)
	return nil
}

// noneIfZero marks a GARP delay written as 0 (or made 0 by vrrp_min_garp)
// as "none" for the runtime, where 0 means its default.
func noneIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// garpExtraIf is an instance's garp_extra_if [all] N (0 turns the global
// default off) and its deprecated name vmac_garp_intvl.
func garpExtraIf(c *kaCtx, in *vrrp.Instance, d *parser.Directive) {
	if d.Name == "vmac_garp_intvl" {
		c.errf(d.Pos, parser.KaDeprecated, "Keyword \"vmac_garp_intvl\" is deprecated - please use \"garp_extra_if\"")
	}
	delay := int64(-1)
	for _, a := range d.Args {
		if a.Value == "all" {
			in.GARPExtraIfAll = true
			continue
		}
		v, ok := c.unsigned(d.Pos, a.Value, 0, 86400)
		if !ok {
			c.errf(d.Pos, parser.KaGeneralError, "(%s): %s '%s' invalid - ignoring", in.Name, d.Name, a.Value)
			return
		}
		delay = int64(v)
	}
	if delay < 0 {
		c.errf(d.Pos, parser.KaGeneralError, "(%s): %s specified without time - ignoring", in.Name, d.Name)
		return
	}
	in.GARPExtraIf, c.im.garpExtraSet = time.Duration(delay)*time.Second, true
}
