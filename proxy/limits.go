package proxy

import (
	"runtime"
	"syscall"
)

// fdBudget is HAProxy 2.6's global maxconn when the configuration sets
// none, and maxsock, the descriptors the process needs (show info's
// Maxconn and Maxsock). fdLimit is what the process may open: the larger
// of RLIMIT_NOFILE's soft and hard limits, as HAProxy raises the soft one.
//
// HAProxy keeps some descriptors aside (measured against haproxy 2.6.12:
// 20, plus one per listener, stats socket and health check, plus three
// per thread: its poller and wake-up pipe) and gives two to each
// connection (client and server side).
func fdBudget(cfg *Config, fdLimit int) (maxconn, maxsock int) {
	reserved := 20
	for _, p := range cfg.Proxies {
		if p.Disabled {
			continue
		}
		if p.Cap&CapFE != 0 {
			reserved += len(p.Binds)
		}
		if p.Cap&CapBE != 0 {
			for _, s := range p.Servers {
				if s.Check {
					reserved++
				}
			}
		}
	}
	reserved += len(cfg.Global.StatsSockets)
	nbthread := cfg.Global.Nbthread
	if nbthread <= 0 {
		nbthread = min(runtime.NumCPU(), 64) // HAProxy: one thread per CPU, MAX_THREADS 64
	}
	reserved += 3 * nbthread
	maxconn = cfg.Global.Maxconn
	if maxconn <= 0 {
		maxconn = max((fdLimit-reserved)/2, 1)
	}
	return maxconn, 2*maxconn + reserved
}

// fdLimit is the number of descriptors the process may open (see
// fdBudget), or 0 when unknown.
func fdLimit() int {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		return 0
	}
	n := max(rl.Cur, rl.Max)
	if n > 1<<30 {
		n = 1 << 30 // RLIM_INFINITY
	}
	return int(n)
}
