//go:build race

package proxy

// raceEnabled: the race detector's shadow memory multiplies every
// allocation's footprint, so memory figures measured under -race say
// nothing about the proxy's own.
const raceEnabled = true
