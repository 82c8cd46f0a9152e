// Package compat gives configuration keywords their meaning: one table per
// section kind maps each keyword to a status and a decoder that fills the
// typed configs the runtimes define (proxy.Config, vrrp.Config). The same
// tables drive `-c`/`-t` diagnostics and the migration report, so the two
// cannot disagree.
package compat

import "halo/parser"

// Status says how far halo executes a keyword.
type Status int

const (
	Supported   Status = iota // the runtime executes it as the original does
	Partial                   // executed, with differences stated in the note
	Ignored                   // parsed and accepted, does nothing in halo (warned at -c)
	Unsupported               // rejected at -c: running without it would change behaviour
)

func (s Status) String() string {
	switch s {
	case Supported:
		return "supported"
	case Partial:
		return "partial"
	case Ignored:
		return "ignored"
	case Unsupported:
		return "unsupported"
	}
	return "unknown"
}

// MarshalText makes Status print as its name in --json reports.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Finding is one line of the migration report: a directive that is not
// plainly supported, where it is, and what differs.
type Finding struct {
	Pos     parser.Pos `json:"-"`
	File    string     `json:"file"`
	Line    int        `json:"line"`
	Section string     `json:"section"`
	Keyword string     `json:"keyword"`
	Status  Status     `json:"status"`
	Note    string     `json:"note"`
}

// Summary counts directives by status.
type Summary struct {
	Supported   int `json:"supported"`
	Partial     int `json:"partial"`
	Ignored     int `json:"ignored"`
	Unsupported int `json:"unsupported"`
}

// Add counts one directive of status s.
func (sm *Summary) Add(s Status) {
	switch s {
	case Supported:
		sm.Supported++
	case Partial:
		sm.Partial++
	case Ignored:
		sm.Ignored++
	case Unsupported:
		sm.Unsupported++
	}
}
