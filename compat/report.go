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

// Diagnostic is a message about the configuration: a syntax or semantic
// error (SevAlert), a warning, or a notice. Msg is in halo's words; the
// command renders it in the original tool's format.
type Diagnostic struct {
	Pos parser.Pos
	Sev parser.Severity
	Msg string
	// Form is how the original tool prefixes the position, when it
	// differs from the language's usual one (haproxy: "parsing [f:l] : ").
	// haproxy uses "bare" ("[f:l] : ") for server address problems and
	// "tight" ("parsing [f:l]: ") for its line reader's messages, "none"
	// when the message names its place itself.
	Form string
	// Late: found by the whole-configuration checks that run after every
	// file was read (haproxy's check_config_validity()).
	Late bool
	// Class is a tool-specific category (keepalived: the config_err_t
	// level, see parser.KaUnknownKeyword…); empty when it has none.
	Class string
	// NonFatal marks an alert the original tool prints as [ALERT] without
	// rejecting the configuration (haproxy's ERR_ALERT without ERR_FATAL).
	NonFatal bool
	// Rejects marks a warning the original tool prints as [WARNING] yet
	// counts as an error of its file (haproxy's ha_warning() with
	// ERR_ABORT: a cache section's total-max-size out of range).
	Rejects bool
	// Hint is halo's extra help ("did you mean …?"), printed after Msg.
	Hint string
	// Halo marks halo's own compatibility note (a keyword accepted but
	// not, or only partly, executed) or refusal (one it does not run): a
	// finding of the migration report, not a message of the original
	// tool, so it never changes that tool's exit semantics (zero-warning
	// ignores the notes).
	Halo bool
	// Closing marks haproxy's closing summary ("Error(s) found in
	// configuration file", "Fatal errors found in configuration."): the
	// check's verdict, not one of its reasons.
	Closing bool
}

// Report is everything loading a configuration says besides the typed
// config: diagnostics for -c/-t, and findings for the migration report.
//
// The loaders have these shapes (one per language):
//
//	func LoadHAProxy(paths []string, opt HAProxyOptions) (*proxy.Config, *Report)
//	func LoadKeepalived(path string, opt KeepalivedOptions) (*vrrp.Config, *Report)
//
// The config is nil when Fatal() is true.
type Report struct {
	Lang     parser.Lang
	Files    []string
	Diags    []Diagnostic
	Findings []Finding
	Summary  Summary
	// Aborted: reading stopped at an error the original tool aborts on
	// (haproxy's ERR_ABORT), so no whole-configuration checks ran.
	Aborted bool
	// Check is the verdict of the original tool's check mode on this
	// load, when the load was that check (cmd/halo: `halo haproxy -c`,
	// `halo keepalived -t` and `halo compat` share it); nil otherwise.
	Check *CheckVerdict
}

// CheckVerdict is what `haproxy -c` / `keepalived -t` conclude.
type CheckVerdict struct {
	Tool string // "haproxy -c", "keepalived -t"
	Exit int    // its exit status
	// Reason says why it fails when no diagnostic does (haproxy's "no
	// listener" exit 2); empty otherwise.
	Reason string
}

// Failing reports whether d is one of the reasons the original tool's
// check refuses the configuration: an error for haproxy, a message of an
// error class for keepalived (whose -t exit status comes from the worst
// class seen). halo's own refusals are findings, not among them.
func (r *Report) Failing(d Diagnostic) bool {
	if d.Halo || d.Closing {
		return false
	}
	if r.Lang == parser.LangKeepalived && d.Class != "" {
		return d.Class == ClassExitConfig || kaClassRank[d.Class] > 0
	}
	return d.Rejecting()
}

// Rejecting reports whether d alone makes the check refuse the
// configuration (an alert that is not NonFatal, or a Rejects warning).
func (d Diagnostic) Rejecting() bool {
	return d.Sev == parser.SevAlert && !d.NonFatal || d.Rejects
}

// Fatal reports whether some diagnostic rejects the configuration.
func (r *Report) Fatal() bool {
	for _, d := range r.Diags {
		if d.Rejecting() {
			return true
		}
	}
	return false
}
