package compat

import (
	"time"

	"halo/parser"
	"halo/vrrp"
)

// What a MASTER does when it hears a lower- or higher-priority advert
// (lower_prio_no_advert, higher_prio_send_advert, garp_lower_prio_*) and
// how many adverts make the master down timer (down_timer_adverts), with
// their vrrp_* global defaults. Keepalived resolves them per instance once
// everything is read (vrrp_complete_instance): the instance's own value,
// else strict mode's, else the global one, else (GARPs) the global
// vrrp_garp_master_* values; strict mode resets what it forbids, saying so.

// kaLowerPrio holds the global values and whether each was given.
type kaLowerPrio struct {
	noAdvert, sendAdvert       bool
	noAdvertSet, sendAdvertSet bool
	garpDelay                  time.Duration
	garpRep                    int
	garpDelaySet, garpRepSet   bool
	downAdverts                int
}

// kaInstLowerPrio is the same for one instance.
type kaInstLowerPrio = kaLowerPrio

// kaTrueFalse reads keepalived's check_true_false: no argument is true.
func kaTrueFalse(d *parser.Directive) (v, ok bool) {
	if len(d.Args) == 0 {
		return true, true
	}
	switch d.Args[0].Value {
	case "true", "on", "yes":
		return true, true
	case "false", "off", "no":
		return false, true
	}
	return false, false
}

func lowerPrioGlobalRows() []kaRow {
	lp := func(f func(c *kaCtx, lp *kaLowerPrio, d *parser.Directive)) kaDec {
		return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			f(c, &c.globalLP, d)
			return nil
		}
	}
	return []kaRow{
		{"vrrp_lower_prio_no_advert", kaNoBlock, lp(func(c *kaCtx, lp *kaLowerPrio, d *parser.Directive) {
			v, ok := kaTrueFalse(d)
			if !ok {
				c.errf(d.Pos, parser.KaGeneralError, "Invalid value for vrrp_lower_prio_no_advert specified")
				return
			}
			lp.noAdvert, lp.noAdvertSet = v, true
		})},
		{"vrrp_higher_prio_send_advert", kaNoBlock, lp(func(c *kaCtx, lp *kaLowerPrio, d *parser.Directive) {
			v, ok := kaTrueFalse(d)
			if !ok {
				c.errf(d.Pos, parser.KaGeneralError, "Invalid value for vrrp_higher_prio_send_advert specified")
				return
			}
			lp.sendAdvert, lp.sendAdvertSet = v, true
		})},
		{"vrrp_garp_lower_prio_delay", kaNoBlock, lp(func(c *kaCtx, lp *kaLowerPrio, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				n, ok := c.unsigned(d.Pos, v, 0, 0xffffffff/100)
				if !ok {
					c.errf(d.Pos, parser.KaGeneralError, "vrrp_garp_lower_prio_delay '%s' invalid - ignoring", v)
					return
				}
				lp.garpDelay, lp.garpDelaySet = time.Duration(n)*time.Second, true
			}
		})},
		{"vrrp_garp_lower_prio_repeat", kaNoBlock, lp(func(c *kaCtx, lp *kaLowerPrio, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				n, ok := c.unsigned(d.Pos, v, 0, 0x7fffffff)
				if !ok {
					c.errf(d.Pos, parser.KaGeneralError, "Invalid vrrp_garp_lower_prio_repeat '%s'", v)
					return
				}
				lp.garpRep, lp.garpRepSet = int(n), true
			}
		})},
		{"vrrp_down_timer_adverts", kaNoBlock, lp(func(c *kaCtx, lp *kaLowerPrio, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				n, ok := c.unsigned(d.Pos, v, 1, 100)
				if !ok {
					c.errf(d.Pos, parser.KaGeneralError, "Invalid vrrp_down_timer_adverts [1:100] '%s'", v)
					return
				}
				lp.downAdverts = int(n)
			}
		})},
	}
}

func lowerPrioInstanceRows() []kaRow {
	lp := func(f func(c *kaCtx, in *vrrp.Instance, lp *kaLowerPrio, d *parser.Directive)) kaDec {
		return func(c *kaCtx, d *parser.Directive, _ []parser.Word) error {
			if c.inst != nil {
				f(c, c.inst, &c.im.lp, d)
			}
			return nil
		}
	}
	return []kaRow{
		{"lower_prio_no_advert", kaNoBlock, lp(func(c *kaCtx, in *vrrp.Instance, lp *kaLowerPrio, d *parser.Directive) {
			v, ok := kaTrueFalse(d)
			if !ok {
				c.errf(d.Pos, parser.KaGeneralError, "(%s) invalid lower_prio_no_advert %s specified", in.Name, d.Args[0].Value)
				return
			}
			lp.noAdvert, lp.noAdvertSet = v, true
		})},
		{"higher_prio_send_advert", kaNoBlock, lp(func(c *kaCtx, in *vrrp.Instance, lp *kaLowerPrio, d *parser.Directive) {
			v, ok := kaTrueFalse(d)
			if !ok {
				c.errf(d.Pos, parser.KaGeneralError, "(%s) invalid higher_prio_send_advert %s specified", in.Name, d.Args[0].Value)
				return
			}
			lp.sendAdvert, lp.sendAdvertSet = v, true
		})},
		{"garp_lower_prio_delay", kaNoBlock, lp(func(c *kaCtx, in *vrrp.Instance, lp *kaLowerPrio, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				n, ok := c.unsigned(d.Pos, v, 0, 0xffffffff/100)
				if !ok {
					c.errf(d.Pos, parser.KaGeneralError, "(%s): garp_lower_prio_delay '%s' invalid - ignoring", in.Name, v)
					return
				}
				lp.garpDelay, lp.garpDelaySet = time.Duration(n)*time.Second, true
			}
		})},
		{"garp_lower_prio_repeat", kaNoBlock, lp(func(c *kaCtx, in *vrrp.Instance, lp *kaLowerPrio, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				n, ok := c.unsigned(d.Pos, v, 0, 0x7fffffff)
				if !ok {
					c.errf(d.Pos, parser.KaGeneralError, "(%s): Invalid garp_lower_prio_repeat '%s'", in.Name, v)
					return
				}
				lp.garpRep, lp.garpRepSet = int(n), true
			}
		})},
		{"down_timer_adverts", kaNoBlock, lp(func(c *kaCtx, in *vrrp.Instance, lp *kaLowerPrio, d *parser.Directive) {
			if v, ok := c.arg(d, 0); ok {
				n, ok := c.unsigned(d.Pos, v, 1, 100)
				if !ok {
					c.errf(d.Pos, parser.KaGeneralError, "(%s): Invalid down_timer_adverts [1:100] '%s'", in.Name, v)
					return
				}
				lp.downAdverts = int(n)
			}
		})},
	}
}

// resolveLowerPrio sets an instance's final values (vrrp_complete_instance).
// say reports keepalived's complaints; the GARP values use -1 for "none",
// which the runtime passes on (0 would mean its default).
func (c *kaCtx) resolveLowerPrio(in *vrrp.Instance, m *kaInstMeta, say func(pos parser.Pos, class, format string, a ...any)) {
	g, gl, il := &c.cfg.Global, &c.globalLP, &m.lp
	strict := g.Strict
	rep := g.GARPMasterRepeat
	if gl.garpRepSet {
		rep = gl.garpRep
	}
	switch {
	case !il.garpRepSet && strict:
		rep = 0
	case il.garpRepSet && strict && il.garpRep != 0:
		say(m.pos, parser.KaGeneralError, "(%s) Strict mode requires no repeat garps. resetting", in.Name)
		rep = 0
	case il.garpRepSet:
		rep = il.garpRep
	}
	delay := g.GARPMasterDelay
	if gl.garpDelaySet {
		delay = gl.garpDelay
	}
	switch {
	case !il.garpDelaySet && strict:
		delay = 0
	case il.garpDelaySet && strict && il.garpDelay != 0:
		say(m.pos, parser.KaGeneralError, "(%s) Strict mode requires no repeat garp delay. resetting", in.Name)
		delay = 0
	case il.garpDelaySet:
		delay = il.garpDelay
	}
	in.GARPLowerPrioRepeat, in.GARPLowerPrioDelay = rep, delay
	if rep == 0 {
		in.GARPLowerPrioRepeat = -1
	}
	if delay == 0 {
		in.GARPLowerPrioDelay = -1
	}
	switch {
	case !il.noAdvertSet:
		in.LowerPrioNoAdvert = strict || gl.noAdvert
	case strict && !il.noAdvert:
		say(m.pos, parser.KaGeneralError, "(%s) Strict mode requires no lower priority advert. resetting", in.Name)
		in.LowerPrioNoAdvert = true
	default:
		in.LowerPrioNoAdvert = il.noAdvert
	}
	switch {
	case !il.sendAdvertSet:
		in.HigherPrioSendAdvert = !strict && gl.sendAdvert
	case strict && il.sendAdvert:
		say(m.pos, parser.KaGeneralError, "(%s) strict mode requires higher_prio_send_advert to be clear. resetting", in.Name)
		in.HigherPrioSendAdvert = false
	default:
		in.HigherPrioSendAdvert = il.sendAdvert
	}
	in.DownTimerAdverts = il.downAdverts
	if in.DownTimerAdverts == 0 {
		in.DownTimerAdverts = gl.downAdverts
	}
}
