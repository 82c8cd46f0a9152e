package compat

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"halo/parser"
	"halo/proxy"
)

// parseHATime parses an haproxy time value (configuration.txt 2.5): an
// integer followed by an optional unit us, ms, s, m, h or d; defUnit is the
// unit of a bare number. It returns the offending character on error.
func parseHATime(s string, defUnit time.Duration) (time.Duration, byte, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		if s == "" {
			return 0, 0, fmt.Errorf("empty")
		}
		return 0, s[0], fmt.Errorf("unexpected character")
	}
	n, err := strconv.ParseUint(s[:i], 10, 63)
	if err != nil {
		return 0, 0, fmt.Errorf("overflow")
	}
	unit := defUnit
	switch s[i:] {
	case "":
	case "us":
		unit = time.Microsecond
	case "ms":
		unit = time.Millisecond
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		return 0, s[i], fmt.Errorf("unexpected character")
	}
	if n > uint64(math.MaxInt64/int64(unit)) {
		return 0, 0, fmt.Errorf("overflow")
	}
	d := time.Duration(n) * unit
	if d > 2147483647*time.Millisecond {
		return 0, 0, fmt.Errorf("overflow")
	}
	return d, 0, nil
}

// timeArg decodes a time argument of keyword kw in haproxy's wording.
func timeArg(kw string, args []parser.Word, i int) (time.Duration, error) {
	if i >= len(args) || args[i].Value == "" {
		return 0, fmt.Errorf("'%s' expects an integer value (in milliseconds)", kw)
	}
	d, bad, err := parseHATime(args[i].Value, time.Millisecond)
	if err != nil {
		if bad != 0 {
			return 0, fmt.Errorf("unexpected character '%c' in '%s'", bad, kw)
		}
		return 0, fmt.Errorf("timer overflow in argument '%s' to '%s' (maximum value is 2147483647 ms or ~24.8 days)", args[i].Value, kw)
	}
	return d, nil
}

// atol is C's atol(): leading blanks, optional sign, digits, the rest
// ignored; haproxy uses it for many integer keywords, so "abc" is 0.
func atol(s string) int {
	s = strings.TrimLeft(s, " \t")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n < math.MaxInt32 {
			n = n*10 + int(s[i]-'0')
		}
	}
	if neg {
		return -n
	}
	return n
}

// strictInt parses a whole-word integer.
func strictInt(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func values(args []parser.Word) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

var logFacilities = map[string]bool{
	"kern": true, "user": true, "mail": true, "daemon": true, "auth": true, "syslog": true,
	"lpr": true, "news": true, "uucp": true, "cron": true, "auth2": true, "ftp": true,
	"ntp": true, "audit": true, "alert": true, "cron2": true,
	"local0": true, "local1": true, "local2": true, "local3": true,
	"local4": true, "local5": true, "local6": true, "local7": true,
}

var logLevels = map[string]bool{
	"emerg": true, "alert": true, "crit": true, "err": true,
	"warning": true, "notice": true, "info": true, "debug": true,
}

var logFormats = map[string]bool{
	"local": true, "rfc3164": true, "rfc5424": true, "priority": true,
	"short": true, "timed": true, "iso": true, "raw": true,
}

// parseLogTarget decodes `log <target> [len N] [format F] [sample R:S]
// <facility> [<level> [<minlevel>]]` (configuration.txt 3.1 "log").
func parseLogTarget(args []parser.Word) (proxy.LogTarget, error) {
	var lt proxy.LogTarget
	if len(args) == 0 {
		return lt, fmt.Errorf("'log' expects either <address[:port]> and <facility> or 'global' as arguments.")
	}
	lt.Address = args[0].Value
	rest := args[1:]
	for len(rest) > 0 {
		switch rest[0].Value {
		case "len":
			if len(rest) < 2 {
				return lt, fmt.Errorf("log : missing length after 'len'")
			}
			n, ok := strictInt(rest[1].Value)
			if !ok || n < 80 || n > 65535 {
				return lt, fmt.Errorf("log : invalid log length '%s', must be between 80 and 65535", rest[1].Value)
			}
			lt.Len = n
			rest = rest[2:]
			continue
		case "format":
			if len(rest) < 2 || !logFormats[rest[1].Value] {
				v := ""
				if len(rest) > 1 {
					v = rest[1].Value
				}
				return lt, fmt.Errorf("log : unknown log format '%s'", v)
			}
			lt.Format = rest[1].Value
			rest = rest[2:]
			continue
		case "sample":
			if len(rest) < 2 {
				return lt, fmt.Errorf("log : Missing sample size")
			}
			rgs, size, err := parseLogSample(rest[1].Value)
			if err != nil {
				return lt, err
			}
			lt.Sample, lt.SampleSize = rgs, size
			rest = rest[2:]
			continue
		}
		break
	}
	if len(rest) == 0 {
		return lt, fmt.Errorf("log : expects <address> and <facility>  as arguments")
	}
	if !logFacilities[rest[0].Value] {
		return lt, fmt.Errorf("log : unknown log facility '%s'", rest[0].Value)
	}
	lt.Facility = rest[0].Value
	if len(rest) > 1 {
		if !logLevels[rest[1].Value] {
			return lt, fmt.Errorf("log : unknown optional log level '%s'", rest[1].Value)
		}
		lt.Level = rest[1].Value
	}
	if len(rest) > 2 {
		if !logLevels[rest[2].Value] {
			return lt, fmt.Errorf("log : unknown optional minimum log level '%s'", rest[2].Value)
		}
		lt.MinLevel = rest[2].Value
	}
	if len(rest) > 3 {
		return lt, fmt.Errorf("log : cannot handle unexpected argument '%s'", rest[3].Value)
	}
	return lt, nil
}

// parseLogSample decodes `sample <ranges>:<size>` as HAProxy 2.6 does:
// comma-separated "low[-high]" ranges from 1, sorted and not
// overlapping, within a size of at least the highest bound.
func parseLogSample(v string) ([]proxy.SampleRange, int, error) {
	rs, size, ok := strings.Cut(v, ":")
	if !ok {
		return nil, 0, fmt.Errorf("log : Missing sample size")
	}
	var rgs []proxy.SampleRange
	for p := rs; p != ""; {
		num := func(s string) (int, string) {
			i := 0
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			if i == 0 {
				return -1, s
			}
			n, _ := strconv.Atoi(s[:i])
			return n, s[i:]
		}
		low, after := num(p)
		high := low
		if strings.HasPrefix(after, "-") {
			high, after = num(after[1:])
		}
		if low < 1 || high < low || (after != "" && after[0] != ',') {
			return nil, 0, fmt.Errorf("log : wrong sample range '%s'", p)
		}
		rgs = append(rgs, proxy.SampleRange{Low: low, High: high})
		p = strings.TrimPrefix(after, ",")
		if after != "" && p == "" {
			return nil, 0, fmt.Errorf("log : wrong sample range '%s'", after)
		}
	}
	if len(rgs) == 0 {
		return nil, 0, fmt.Errorf("log : no sampling ranges given")
	}
	n, err := strconv.Atoi(size)
	if err != nil || n <= 0 {
		return nil, 0, fmt.Errorf("log : wrong sample size '%s' for sample range '%s'", size, rs)
	}
	sort.Slice(rgs, func(i, j int) bool { return rgs[i].Low < rgs[j].Low })
	for i := 1; i < len(rgs); i++ {
		if rgs[i].Low <= rgs[i-1].High {
			return nil, 0, fmt.Errorf("log : ranges are overlapping")
		}
	}
	if top := rgs[len(rgs)-1].High; n < top {
		return nil, 0, fmt.Errorf("log : sample size %d should be greater or equal to %d the maximum of the high ranges limits", n, top)
	}
	return rgs, n, nil
}
