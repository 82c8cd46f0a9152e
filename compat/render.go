package compat

import (
	"encoding/json"
	"fmt"
	"io"

	"halo/parser"
)

// RenderText writes the migration report: one line per finding
// ("file:line: [section] keyword: status: note"), the fatal diagnostics, then
// the summary line. It is the same for both languages.
func RenderText(w io.Writer, r *Report) error {
	for _, f := range r.Findings {
		sec := ""
		if f.Section != "" {
			sec = " [" + f.Section + "]"
		}
		note := ""
		if f.Note != "" {
			note = ": " + f.Note
		}
		if _, err := fmt.Fprintf(w, "%s:%d:%s %s: %s%s\n", f.File, f.Line, sec, f.Keyword, f.Status, note); err != nil {
			return err
		}
	}
	for _, d := range r.Diags {
		if !r.Failing(d) {
			// Only errors belong here, and halo's own refusals are
			// already findings.
			continue
		}
		loc := ""
		if d.Pos.File != "" {
			loc = d.Pos.String() + ": "
		}
		kind := "error"
		if d.Sev != parser.SevAlert {
			kind = "warning" // keepalived -t fails on warning classes too
		}
		if _, err := fmt.Fprintf(w, "%s%s: %s\n", loc, kind, d.Msg); err != nil {
			return err
		}
	}
	s := r.Summary
	_, err := fmt.Fprintf(w, "%s: %d supported, %d partial, %d ignored, %d unsupported%s\n",
		r.Lang, s.Supported, s.Partial, s.Ignored, s.Unsupported, verdict(r))
	return err
}

func verdict(r *Report) string {
	switch {
	case r.Check != nil && r.Check.Exit != 0:
		why := ""
		if r.Check.Reason != "" {
			why = ": " + r.Check.Reason
		}
		return fmt.Sprintf(" (configuration rejected: %s exits %d%s)", r.Check.Tool, r.Check.Exit, why)
	case r.Fatal():
		return " (configuration rejected)"
	case r.Summary.Unsupported > 0:
		return " (behaviour would change)"
	}
	return ""
}

// jsonReport is the --json shape: stable field names, diagnostics flattened.
type jsonReport struct {
	Lang     string     `json:"lang"`
	Files    []string   `json:"files"`
	Findings []Finding  `json:"findings"`
	Errors   []jsonDiag `json:"errors"`
	Summary  Summary    `json:"summary"`
	OK       bool       `json:"ok"`
}

type jsonDiag struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col,omitempty"`
	Message string `json:"message"`
}

// RenderJSON writes the report as one JSON object (see jsonReport).
func RenderJSON(w io.Writer, r *Report) error {
	jr := jsonReport{Lang: r.Lang.String(), Files: r.Files, Findings: r.Findings, Summary: r.Summary, OK: r.ExitCode() == 0}
	if jr.Files == nil {
		jr.Files = []string{}
	}
	if jr.Findings == nil {
		jr.Findings = []Finding{}
	}
	jr.Errors = []jsonDiag{}
	for _, d := range r.Diags {
		if r.Failing(d) {
			jr.Errors = append(jr.Errors, jsonDiag{File: d.Pos.File, Line: d.Pos.Line, Col: d.Pos.Col, Message: d.Msg})
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jr)
}

// ExitCode is the migration report's exit status: 0 when halo runs the
// configuration as the original would, 1 when something unsupported would
// change behaviour or the configuration is rejected.
func (r *Report) ExitCode() int {
	if r.Fatal() || r.Summary.Unsupported > 0 || (r.Check != nil && r.Check.Exit != 0) {
		return 1
	}
	return 0
}
