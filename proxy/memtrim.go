package proxy

import (
	"runtime/debug"
	"sync/atomic"
	"time"
)

// After a burst of connections (a slowloris wave, a spike of clients)
// ends, the memory it used is garbage, or spare in the loops' free lists
// (trimmed within two seconds, pools.go). Go returns freed memory to the
// system only after a collection, and collects only when the heap grows
// again: a process that goes quiet after a burst would keep its peak
// resident set for minutes. So once the client connections have stayed
// below half of their peak for a few seconds, the runtime collects and
// returns its free memory at once (debug.FreeOSMemory), at most every few
// seconds: HAProxy's pools are likewise flushed to the system when they
// are no longer used.

const (
	trimMinPeak = 64              // bursts smaller than this are not worth a collection
	trimQuiet   = 3 * time.Second // how long connections stay below half the peak first
	trimEvery   = 5 * time.Second // at most one forced collection per period
)

type memTrim struct {
	peak    int64     // most client connections since the last trim
	lowFrom time.Time // when connections fell below half the peak (zero: not below)
	last    time.Time // last forced collection
	running atomic.Bool
}

// tick runs once a second on loop 0 with the number of client
// connections.
func (m *memTrim) tick(now time.Time, conns int64) {
	if conns > m.peak {
		m.peak = conns
	}
	if m.peak < trimMinPeak || conns > m.peak/2 {
		m.lowFrom = time.Time{}
		return
	}
	if m.lowFrom.IsZero() {
		m.lowFrom = now
	}
	if now.Sub(m.lowFrom) < trimQuiet || now.Sub(m.last) < trimEvery || m.running.Load() {
		return
	}
	m.last, m.peak, m.lowFrom = now, conns, time.Time{}
	m.running.Store(true)
	// Off the loop: a forced collection stops the world briefly and the
	// scavenging takes a moment.
	go func() {
		debug.FreeOSMemory()
		m.running.Store(false)
	}()
}
