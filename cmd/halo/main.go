// Command halo is one multi-call binary that replaces HAProxy and
// Keepalived. Invoked as `halo haproxy …` / `halo keepalived …`, or through
// symlinks named haproxy / keepalived, it behaves as that tool.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Version is set by the Makefile through -ldflags.
var Version = "dev"

// tools maps a sub-command (or the name the binary was invoked as) to its
// entry point. Each returns the process exit code.
var tools = map[string]func(args []string) int{
	"haproxy":    haproxyMain,
	"keepalived": keepalivedMain,
	"compat":     compatMain,
	"demo":       demoMain,
	"genhash":    genhashMain,
}

func main() {
	servePprof()
	os.Exit(run(os.Args))
}

func run(argv []string) int {
	self := filepath.Base(argv[0])
	if fn, ok := tools[self]; ok && self != "halo" {
		return fn(argv[1:])
	}
	if len(argv) < 2 {
		usage()
		return 2
	}
	name := argv[1]
	if name == "version" || name == "--version" || name == "-v" {
		fmt.Printf("halo %s\n", Version)
		return 0
	}
	if name == "help" || name == "-h" || name == "--help" {
		usage()
		return 0
	}
	fn, ok := tools[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "halo: unknown command %q\n", name)
		usage()
		return 2
	}
	return fn(argv[2:])
}

func usage() {
	names := make([]string, 0, len(tools))
	for n := range tools {
		names = append(names, n)
	}
	fmt.Fprintf(os.Stderr, "usage: halo COMMAND [ARGS…]\ncommands: %s, version\n", strings.Join(sortStrings(names), ", "))
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}
