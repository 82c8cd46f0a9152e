package compat

import (
	"fmt"
	"strconv"
	"strings"

	"halo/parser"
)

// cpu-map [auto:]<process-set>[/<thread-set>] <cpu-set>... (HAProxy 2.6,
// configuration.txt 3.1): each thread of the set is bound to the CPUs, or
// with auto: to one CPU each, in order. A lone number is a process set
// (halo has one process: only sets containing 1 apply), "1" meaning
// "1/all". Later lines replace earlier ones where they overlap. The
// result, thread by thread, is Global.CPUMap. Messages and limits are
// haproxy 2.6.12's (sets 1 to 64, CPUs 0 to 1023, ranges either way).

const (
	cpuMapUsage = "cpu-map expects a process number  ('all', 'odd', 'even', a number from 1 to 64 or a range),  followed by a list of CPU ranges with numbers from 0 to 63."
	maxCPUs     = 1024
)

func decodeCPUMap(c *hctx, d *parser.Directive, a []parser.Word) error {
	if len(a) < 2 {
		return fmt.Errorf("%s", cpuMapUsage)
	}
	spec := a[0].Value
	auto := strings.HasPrefix(spec, "auto:")
	spec = strings.TrimPrefix(spec, "auto:")
	pset, tset, hasThreads := strings.Cut(spec, "/")
	procs, err := cpuMapSet(pset)
	if err != nil {
		return err
	}
	threads := ^uint64(0)
	if hasThreads {
		if threads, err = cpuMapSet(tset); err != nil {
			return err
		}
	}
	var cpus [maxCPUs / 64]uint64
	for _, w := range a[1:] {
		for _, part := range strings.Split(w.Value, ",") {
			lo, hi, err := cpuRange(part)
			if err != nil {
				return err
			}
			for i := lo; i <= hi; i++ {
				cpus[i/64] |= 1 << (i % 64)
			}
		}
	}
	if procs&1 == 0 {
		return nil // another process's mapping: halo runs one
	}
	var list []int
	for i := 0; i < maxCPUs; i++ {
		if cpus[i/64]&(1<<(i%64)) != 0 {
			list = append(list, i)
		}
	}
	if c.cfg.Global.CPUMap == nil {
		c.cfg.Global.CPUMap = make([][]int, 64)
	}
	next := 0
	for t := 0; t < 64; t++ {
		if threads&(1<<t) == 0 {
			continue
		}
		if !auto {
			c.cfg.Global.CPUMap[t] = list
			continue
		}
		// auto: the next thread gets the next CPU, lowest first.
		if next >= len(list) {
			break
		}
		c.cfg.Global.CPUMap[t] = list[next : next+1]
		next++
	}
	return nil
}

// cpuMapSet parses a process or thread set (numbers 1 to 64) into a mask
// with bit n-1 for n.
func cpuMapSet(s string) (uint64, error) {
	switch s {
	case "all":
		return ^uint64(0), nil
	case "odd":
		return 0x5555555555555555, nil
	case "even":
		return 0xaaaaaaaaaaaaaaaa, nil
	}
	lo, hi, ok := numRange(s, 64)
	if !ok {
		return 0, fmt.Errorf("cpu-map : '%s' is not a valid number/range.", s)
	}
	if lo < 1 || hi > 64 {
		return 0, fmt.Errorf("cpu-map : '%s' is not a valid number/range. It supports numbers from 1 to 64.\n", s)
	}
	var m uint64
	for i := lo; i <= hi; i++ {
		m |= 1 << (i - 1)
	}
	return m, nil
}

// cpuRange parses a CPU number or range (0 to 1023).
func cpuRange(s string) (int, int, error) {
	lo, hi, ok := numRange(s, maxCPUs-1)
	if !ok {
		return 0, 0, fmt.Errorf("cpu-map : '%s' is not a CPU range.", s)
	}
	if hi >= maxCPUs {
		return 0, 0, fmt.Errorf("cpu-map : supports CPU numbers from 0 to %d.", maxCPUs-1)
	}
	return lo, hi, nil
}

// numRange parses N, N-M or N- (open: up to open) in either order.
func numRange(s string, open int) (lo, hi int, ok bool) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err := strconv.Atoi(a)
	if err != nil || lo < 0 {
		return 0, 0, false
	}
	hi = lo
	if isRange {
		hi = open
		if b != "" {
			if hi, err = strconv.Atoi(b); err != nil || hi < 0 {
				return 0, 0, false
			}
		}
	}
	if hi < lo {
		lo, hi = hi, lo
	}
	return lo, hi, true
}
