// Package h2 is halo's HTTP/2 (RFC 9113), both sides, on the event loop
// (package evloop): Conn is the connection's state machine (frames,
// streams, flow control, settings; header blocks decoded by x/net's
// hpack, never net/http), Server and Client drive it over a socket (in
// clear or under crypto/tls) on its loop. Each stream's work runs as a
// task of that loop: no goroutine per stream or per connection, no lock.
//
// Every resource a peer can make the connection spend is bounded
// (Limits): concurrent streams, header list size and CONTINUATION
// frames, HPACK table size, buffered DATA (the advertised windows),
// streams reset by the client (rapid reset, CVE-2023-44487), SETTINGS,
// PING and empty frames that need work but carry nothing, and a peer that
// stops reading (zero window) runs into the write timeout.
package h2

import (
	"time"
)

// Settings are the values a side announces (tune.h2.*).
type Settings struct {
	HeaderTableSize      uint32 // tune.h2.header-table-size, default 4096
	InitialWindowSize    uint32 // tune.h2.initial-window-size, default 65535
	MaxConcurrentStreams uint32 // tune.h2.max-concurrent-streams, default 100
	MaxFrameSize         uint32 // tune.h2.max-frame-size, default 16384
	MaxHeaderListSize    uint32 // bound of a decoded header block (tune.bufsize)
}

// DefaultSettings are HAProxy 2.6's defaults.
func DefaultSettings() Settings {
	return Settings{HeaderTableSize: 4096, InitialWindowSize: 65535, MaxConcurrentStreams: 100,
		MaxFrameSize: 16384, MaxHeaderListSize: 16384}
}

func (s *Settings) fill() {
	d := DefaultSettings()
	if s.HeaderTableSize == 0 {
		s.HeaderTableSize = d.HeaderTableSize
	}
	if s.InitialWindowSize == 0 {
		s.InitialWindowSize = d.InitialWindowSize
	}
	if s.MaxConcurrentStreams == 0 {
		s.MaxConcurrentStreams = d.MaxConcurrentStreams
	}
	if s.MaxFrameSize < 16384 {
		s.MaxFrameSize = 16384
	}
	if s.MaxFrameSize > 1<<24-1 {
		s.MaxFrameSize = 1<<24 - 1
	}
	if s.MaxHeaderListSize == 0 {
		s.MaxHeaderListSize = d.MaxHeaderListSize
	}
}

// Limits bound what a peer can make a connection do.
type Limits struct {
	// ResetsPerSecond is how many streams the peer may reset (or have
	// refused) per second, sustained, before the connection is closed
	// with ENHANCE_YOUR_CALM (rapid reset); Burst is the bucket size.
	ResetsPerSecond, ResetBurst int
	// ControlPerSecond bounds SETTINGS and PING frames (each needs an
	// answer) and frames that carry nothing (empty DATA without
	// END_STREAM, zero WINDOW_UPDATE-free PRIORITY storms).
	ControlPerSecond, ControlBurst int
	// IdleTimeout closes a connection without streams (timeout
	// http-keep-alive, else client); ReadTimeout is the inactivity limit
	// while streams are open (timeout client); WriteTimeout bounds a
	// write, and a peer keeping a window at zero (timeout client too).
	IdleTimeout, ReadTimeout, WriteTimeout time.Duration
	// PrefaceTimeout bounds the time to the client's preface and first
	// SETTINGS (timeout http-request, else client).
	PrefaceTimeout time.Duration
}

// DefaultLimits are generous for browsers and tight for abuse.
func DefaultLimits() Limits {
	return Limits{ResetsPerSecond: 100, ResetBurst: 400, ControlPerSecond: 200, ControlBurst: 1000,
		IdleTimeout: 60 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second,
		PrefaceTimeout: 10 * time.Second}
}

// bucket is a token bucket counting events per second.
type bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func newBucket(rate, burst int) bucket {
	return bucket{rate: float64(rate), burst: float64(burst), tokens: float64(burst)}
}

// take spends one token; false when the peer is over its budget.
func (b *bucket) take(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	if !b.last.IsZero() {
		b.tokens += now.Sub(b.last).Seconds() * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
