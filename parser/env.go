package parser

import (
	"os"
	"strconv"
)

// Env answers environment lookups during parsing. HAProxy expands "$VAR",
// "${VAR}", "${VAR-default}" and "${VAR[*]}" inside double quotes
// (configuration.txt 2.3), plus the pseudo-variables .FILE, .LINE and
// .SECTION.
type Env interface {
	Lookup(name string) (string, bool)
}

// OSEnv reads the process environment.
type OSEnv struct{}

// Lookup implements Env.
func (OSEnv) Lookup(name string) (string, bool) { return os.LookupEnv(name) }

// MapEnv is an Env backed by a map (tests, fuzzing).
type MapEnv map[string]string

// Lookup implements Env.
func (m MapEnv) Lookup(name string) (string, bool) {
	v, ok := m[name]
	return v, ok
}

// pseudoVar resolves HAProxy's dot-variables; unknown ones expand to "".
func pseudoVar(name, file string, line int, section string) string {
	switch name {
	case ".FILE":
		return file
	case ".LINE":
		return strconv.Itoa(line)
	case ".SECTION":
		return section
	}
	return ""
}
