package stats

import (
	"runtime"
	"syscall"
	"time"

	"halo/proxy"
)

// procInfo is the stats page's "General process information" block.
type procInfo struct {
	nbthread         int
	memmaxMB         int64
	ulimitN          uint64
	maxsock, maxconn int
	maxpipes         int
	curConns         int64
	connRate         uint32
	outBytesRate     uint32
	runQueue, tasks  int
	idlePct          int
}

// processInfo reads the process figures the page shows; they are the
// same ones `show info` reports.
func (s *Stats) processInfo() procInfo {
	g := s.rt.Cfg.Global
	nb := g.Nbthread
	if nb <= 0 {
		nb = runtime.GOMAXPROCS(0)
	}
	var rl syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	now := time.Now()
	conn, _ := s.m.conn.read(now)
	out, _ := s.m.out.read(now)
	return procInfo{
		nbthread: nb, ulimitN: rl.Cur, maxsock: s.rt.Maxsock, maxconn: g.Maxconn,
		curConns: s.rt.ActConn.Load(), connRate: conn, outBytesRate: out,
		tasks: runtime.NumGoroutine(), idlePct: 100,
	}
}

// CheckSwitch applies the stats page's check actions to a server:
// "dhlth"/"ehlth" disable or enable its health check, "dagent"/"eagent"
// its agent, "arunn"/"adown" force the agent's verdict. It reports
// whether the action applied (the server has such a check).
type CheckSwitch func(ss *proxy.ServerState, action string) bool
