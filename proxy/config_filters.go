package proxy

import "time"

// Compression is a proxy's `compression algo|type|offload` lines
// (configuration.txt §4.2 "compression").
type Compression struct {
	// Algos are the algorithms in HAProxy's preference order: the last
	// one declared first (its list grows at the head), which is the one
	// an `Accept-Encoding: *` gets. Names: identity, gzip, deflate,
	// raw-deflate.
	Algos []string
	// Types are the `compression type` MIME prefixes (nil: any type).
	Types []string
	// Offload removes Accept-Encoding from requests when the client
	// accepts a configured algorithm.
	Offload bool
}

// FilterConf is one filter of a proxy (configuration.txt §9), in the
// order HAProxy evaluates them: `filter` lines as written, a cache filter
// implied by `http-request cache-use` / `http-response cache-store` where
// no `filter cache` names that cache, then the compression filter implied
// by `compression` lines where no `filter compression` is written.
type FilterConf struct {
	// Name is the filter's name: "cache" or "compression".
	Name string
	// Cache is the cache section of a cache filter.
	Cache string
	// Implicit says no `filter` line declared it.
	Implicit bool
	Line     int
}

// CacheSection is a `cache` section (configuration.txt §6.2.1).
type CacheSection struct {
	Name string
	// TotalMaxSize is total-max-size in bytes (MB × 1048576).
	TotalMaxSize int64
	// MaxObjectSize is max-object-size in bytes (default: a 256th of the
	// total size).
	MaxObjectSize int64
	// MaxAge bounds the freshness lifetime of an entry (default 60 s).
	MaxAge time.Duration
	// ProcessVary is `process-vary on`: responses varying on
	// accept-encoding and referer are stored per variant.
	ProcessVary bool
	// MaxSecondaryEntries bounds the variants of one URL (default 10).
	MaxSecondaryEntries int
	Line                int
}
