// Package parser reads haproxy.cfg and keepalived.conf into one plain-Go AST.
//
// It knows syntax only: quoting, escapes, environment expansion, haproxy's
// .if/.endif blocks, keepalived's include/$MACRO/@conditional lines. Meaning
// (which keywords exist, what their arguments are) belongs to package compat.
// Participle grammar types never leave this package.
package parser

import "fmt"

// Lang says which configuration language a File was read as.
type Lang int

const (
	LangHAProxy Lang = iota + 1
	LangKeepalived
)

func (l Lang) String() string {
	switch l {
	case LangHAProxy:
		return "haproxy"
	case LangKeepalived:
		return "keepalived"
	}
	return "unknown"
}

// Pos is a place in a configuration file. Line and Col are 1-based.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	if p.Col > 0 {
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Word is one argument as the original tool sees it after unquoting,
// unescaping and environment/macro expansion.
type Word struct {
	Pos    Pos
	Value  string // the word as the tool uses it
	Raw    string // the bytes as written, quotes included
	Quoted bool   // some part of it was quoted
}

// Directive is one configuration line (haproxy) or statement (keepalived).
//
// A haproxy section ("frontend web") is a Directive whose Body holds the
// section's lines; a keepalived block ("vrrp_instance R1 { … }") is a
// Directive whose Body holds the block's statements. HasBlock tells a
// keepalived block with an empty body from a plain statement.
type Directive struct {
	Pos      Pos
	Name     string
	Args     []Word
	Body     []*Directive
	HasBlock bool
	// End is where a keepalived block's closing '}' is (zero when the
	// file ended first).
	End Pos
}

// ArgValues returns the values of d's arguments.
func (d *Directive) ArgValues() []string {
	out := make([]string, len(d.Args))
	for i, a := range d.Args {
		out[i] = a.Value
	}
	return out
}

// File is everything read for one invocation: all -f files, includes
// resolved, conditional blocks applied.
type File struct {
	Lang       Lang
	Paths      []string // files read, in order
	Directives []*Directive
	// Aborted: reading stopped at an error the original tool does not
	// continue after (haproxy: a broken .if/.elif/.else/.endif structure).
	Aborted bool
}

// Severity of a Diag.
type Severity int

const (
	SevNotice Severity = iota
	SevWarning
	SevAlert // a fatal error: the configuration is rejected
)

// SevDiag is a haproxy .diag message: shown only in diagnostic mode (-dD).
const SevDiag Severity = -1

// Diag is a message produced while reading a configuration: a syntax
// error, or a .diag/.notice/.warning/.alert directive.
type Diag struct {
	Pos Pos
	Sev Severity
	Msg string
	// Class is a tool-specific category; for keepalived it is the
	// config_err_t level (KaUnknownKeyword, …) that decides -t's exit
	// status. Empty for plain log lines.
	Class string
}

func (d Diag) Error() string { return d.Pos.String() + ": " + d.Msg }
