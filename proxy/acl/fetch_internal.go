package acl

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"time"

	"halo/proxy"
)

// internalFetches are the fetches of configuration.txt §7.3.2 that read
// constants, the environment, variables and the process, usable anywhere.
func internalFetches() []*fetchDef {
	host, _ := os.Hostname()
	return []*fetchDef{
		{name: "always_false", out: KBool, fn: single(func(c *Ctx, f *fetch) (Value, bool) { return boolVal(false), true })},
		{name: "always_true", out: KBool, fn: single(func(c *Ctx, f *fetch) (Value, bool) { return boolVal(true), true })},
		// Constants: str, int, bool, bin, ipv4, ipv6, meth. str() with an
		// empty argument is the empty string.
		{name: "str", out: KStr, maxArgs: 1, compile: func(f *fetch, o *Options) error {
			f.str = []byte{}
			if len(f.args) > 0 {
				f.str = []byte(f.args[0])
			}
			return nil
		}, fn: single(func(c *Ctx, f *fetch) (Value, bool) { return Value{Kind: KStr, B: f.str}, true })},
		{name: "meth", out: KStr, minArgs: 1, maxArgs: 1, compile: func(f *fetch, o *Options) error {
			f.str = []byte(f.args[0])
			return nil
		}, fn: single(func(c *Ctx, f *fetch) (Value, bool) { return Value{Kind: KStr, B: f.str}, true })},
		{name: "int", out: KInt, minArgs: 1, maxArgs: 1, compile: func(f *fetch, o *Options) error {
			n, err := strconv.ParseInt(f.args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("expects an integer, got '%s'", f.args[0])
			}
			f.num = n
			return nil
		}, fn: single(func(c *Ctx, f *fetch) (Value, bool) { return intVal(f.num), true })},
		{name: "bool", out: KBool, minArgs: 1, maxArgs: 1, compile: func(f *fetch, o *Options) error {
			switch f.args[0] {
			case "true", "1":
				f.num = 1
			case "false", "0":
			default:
				return fmt.Errorf("Expects 'true', 'false', '0' or '1'")
			}
			return nil
		}, fn: single(func(c *Ctx, f *fetch) (Value, bool) { return boolVal(f.num != 0), true })},
		{name: "bin", out: KBin, minArgs: 1, maxArgs: 1, compile: func(f *fetch, o *Options) error {
			b, err := hex.DecodeString(f.args[0])
			if err != nil {
				return fmt.Errorf("invalid hexadecimal string '%s'", f.args[0])
			}
			f.str = b
			return nil
		}, fn: single(func(c *Ctx, f *fetch) (Value, bool) { return Value{Kind: KBin, B: f.str}, true })},
		{name: "ipv4", out: KIP, minArgs: 1, maxArgs: 1, compile: compileAddr(true), fn: fetchRefAddr},
		{name: "ipv6", out: KIP, minArgs: 1, maxArgs: 1, compile: compileAddr(false), fn: fetchRefAddr},

		{name: "env", out: KStr, minArgs: 1, maxArgs: 1, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			v, ok := os.LookupEnv(f.args[0])
			if !ok {
				return Value{}, false
			}
			return Value{Kind: KStr, B: strBytes(v)}, true
		})},
		{name: "hostname", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			return Value{Kind: KStr, B: strBytes(host)}, true
		})},
		// date([offset],[unit]): seconds since the epoch plus offset, or
		// milliseconds / microseconds with unit ms / us.
		{name: "date", out: KInt, maxArgs: 2, compile: compileDate, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			now := c.now()
			var n int64
			switch f.num2 {
			case 1000:
				n = now.UnixMilli()
			case 1000000:
				n = now.UnixMicro()
			default:
				n = now.Unix()
			}
			return intVal(n + f.num), true
		})},
		{name: "date_us", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			return intVal(int64(c.now().Nanosecond() / 1000)), true
		})},
		{name: "rand", out: KInt, maxArgs: 1, compile: func(f *fetch, o *Options) error {
			if len(f.args) > 0 {
				n, err := strconv.ParseUint(f.args[0], 10, 32)
				if err != nil {
					return fmt.Errorf("expects a positive integer range, got '%s'", f.args[0])
				}
				f.num = int64(n)
			}
			return nil
		}, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			n := int64(mrand.Uint32())
			if f.num > 0 {
				n = n * f.num >> 32
			}
			return intVal(n), true
		})},
		{name: "uuid", out: KStr, maxArgs: 1, compile: func(f *fetch, o *Options) error {
			if len(f.args) > 0 && f.args[0] != "4" {
				return fmt.Errorf("Unsupported UUID version: '%s'", f.args[0])
			}
			return nil
		}, fn: single(fetchUUID)},
		{name: "var", out: KStr, minArgs: 1, maxArgs: 2, compile: func(f *fetch, o *Options) error {
			if err := CheckVarName(f.args[0]); err != nil {
				return err
			}
			if len(f.args) > 1 {
				f.str = []byte(f.args[1])
			}
			return nil
		}, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			if v, ok := c.Vars.Get(f.args[0]); ok {
				return v, true
			}
			if len(f.args) > 1 {
				return Value{Kind: KStr, B: f.str}, true
			}
			return Value{}, false
		})},
		// A single process: HAProxy 2.6 also always answers 1.
		{name: "nbproc", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) { return intVal(1), true })},
		{name: "proc", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) { return intVal(1), true })},
		{name: "thread", out: KInt, note: "halo does not pin connections to threads: always 0",
			fn: single(func(c *Ctx, f *fetch) (Value, bool) { return intVal(0), true })},
		{name: "stopping", out: KBool, compile: func(f *fetch, o *Options) error {
			if o != nil && o.Runtime != nil {
				f.ref = o.Runtime
			}
			return nil
		}, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			rt, _ := f.ref.(*proxy.Runtime)
			return boolVal(rt != nil && rt.Stopping()), true
		})},
		// The last final rule that matched (allow, deny, return, redirect
		// …) of the http-request / http-response lists.
		{name: "last_rule_file", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			if c.LastRuleLine == 0 {
				return Value{}, false
			}
			return Value{Kind: KStr, B: strBytes(c.LastRuleFile)}, true
		})},
		{name: "last_rule_line", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			if c.LastRuleLine == 0 {
				return Value{}, false
			}
			return intVal(int64(c.LastRuleLine)), true
		})},
		{name: "wait_end", out: KBool, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			// rules run once the request head is complete: nothing to wait for
			return boolVal(true), true
		})},
	}
}

func compileAddr(v4 bool) func(f *fetch, o *Options) error {
	return func(f *fetch, o *Options) error {
		a, err := netip.ParseAddr(f.args[0])
		if err != nil || a.Is4() != v4 {
			if v4 {
				return fmt.Errorf("invalid IPv4 address '%s'", f.args[0])
			}
			return fmt.Errorf("invalid IPv6 address '%s'", f.args[0])
		}
		f.ref = a
		return nil
	}
}

func fetchRefAddr(c *Ctx, f *fetch, st *int) (Value, bool) {
	if !once(st) {
		return Value{}, false
	}
	return Value{Kind: KIP, IP: f.ref.(netip.Addr)}, true
}

func compileDate(f *fetch, o *Options) error {
	if len(f.args) > 0 && f.args[0] != "" {
		n, err := strconv.ParseInt(f.args[0], 10, 64)
		if err != nil {
			return fmt.Errorf("expects an integer offset, got '%s'", f.args[0])
		}
		f.num = n
	}
	f.num2 = 1
	if len(f.args) > 1 {
		switch f.args[1] {
		case "s":
		case "ms":
			f.num2 = 1000
		case "us":
			f.num2 = 1000000
		default:
			return fmt.Errorf("unexpected unit '%s': expects 's', 'ms' or 'us'", f.args[1])
		}
	}
	return nil
}

func fetchUUID(c *Ctx, f *fetch) (Value, bool) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return Value{}, false
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	buf := c.scratchBuf()
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf = append(buf, '-')
		}
		buf = append(buf, "0123456789abcdef"[b>>4], "0123456789abcdef"[b&15])
	}
	c.keepScratch(buf)
	return Value{Kind: KStr, B: buf}, true
}

// now is the date the date fetches read.
func (c *Ctx) now() time.Time { return time.Now() }
