package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"golang.org/x/sys/unix"

	"halo/parser"
	"halo/proxy/stats"
)

// haproxyFeatureNames are the names in HAProxy 2.6's "Feature list"; each
// is printed + or - as halo has it (parser.DefaultCondEnv, which also
// answers .if feature(NAME)), so scripts reading the list see the truth.
var haproxyFeatureNames = []string{"51DEGREES", "ACCEPT4", "BACKTRACE", "CLOSEFROM", "CPU_AFFINITY", "CRYPT_H",
	"DEVICEATLAS", "DL", "ENGINE", "EPOLL", "EVPORTS", "GETADDRINFO", "KQUEUE", "LIBCRYPT", "LINUX_SPLICE",
	"LINUX_TPROXY", "LUA", "MEMORY_PROFILING", "NETFILTER", "NS", "OBSOLETE_LINKER", "OPENSSL", "OT", "PCRE",
	"PCRE2", "PCRE2_JIT", "PCRE_JIT", "POLL", "PRCTL", "PROCCTL", "PROMEX", "QUIC", "RT", "SLZ", "STATIC_PCRE",
	"STATIC_PCRE2", "SYSTEMD", "TFO", "THREAD", "THREAD_DUMP", "TPROXY", "WURFL", "ZLIB"}

// haproxyVersionText is `haproxy -v` (verbose: `-vv`): HAProxy's lines and
// sections, in its order (HAProxy's regtest runner and scripts read them:
// the version as the third word, "TARGET =", "Feature list :",
// "Available services :"), each saying what halo has.
func haproxyVersionText(w io.Writer, verbose bool) {
	fmt.Fprintf(w, "HAProxy version %s (halo %s) - https://haproxy.org/\n", haproxyVersion, Version)
	fmt.Fprintln(w, "Status: halo, a Go drop-in replacement for HAProxy 2.6 and Keepalived 2.2.")
	fmt.Fprintln(w, "Known bugs: what halo does not run as HAProxy does is listed by `halo compat --keywords`")
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		fmt.Fprintf(w, "Running on: %s %s %s %s\n", unix.ByteSliceToString(u.Sysname[:]), unix.ByteSliceToString(u.Release[:]),
			unix.ByteSliceToString(u.Version[:]), unix.ByteSliceToString(u.Machine[:]))
	}
	if !verbose {
		return
	}
	feats := parser.DefaultCondEnv().Features
	var list, opts []string
	for _, n := range haproxyFeatureNames {
		if feats[n] {
			list = append(list, "+"+n)
			opts = append(opts, "USE_"+n+"=1")
		} else {
			list = append(list, "-"+n)
		}
	}
	flags := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-trimpath" || s.Key == "-ldflags" || s.Key == "CGO_ENABLED" {
				flags += " " + s.Key + "=" + s.Value
			}
		}
	}
	fmt.Fprintf(w, "Build options :\n  TARGET  = linux-go\n  CPU     = %s\n  CC      = %s\n  CFLAGS  =%s\n  OPTIONS = %s\n  DEBUG   = \n\n",
		runtime.GOARCH, runtime.Version(), flags, strings.Join(opts, " "))
	fmt.Fprintf(w, "Feature list : %s\n\n", strings.Join(list, " "))
	fmt.Fprintf(w, "Default settings :\n  bufsize = 16384, maxrewrite = 1024, maxpollevents = 256\n\n")
	fmt.Fprintf(w, "Built with multi-threading support (MAX_THREADS=64, default=%d).\n", min(runtime.NumCPU(), 64))
	fmt.Fprintf(w, "Built with Go's crypto/tls (%s) instead of OpenSSL: TLSv1.0 TLSv1.1 TLSv1.2 TLSv1.3, SNI, ALPN.\n", runtime.Version())
	fmt.Fprintln(w, "Built with the Prometheus exporter as a service")
	fmt.Fprintln(w, "Regular expressions are Go's (RE2 syntax) instead of PCRE.")
	fmt.Fprintf(w, "Built with Go compiler version %s\n\n", strings.TrimPrefix(runtime.Version(), "go"))
	fmt.Fprintf(w, "Available polling systems :\n      epoll : pref=300,  test result OK\nTotal: 1 (1 usable), will use epoll.\n\n")
	fmt.Fprintln(w, "Available multiplexer protocols :")
	fmt.Fprintln(w, "(protocols marked as <default> cannot be specified using 'proto' keyword)")
	fmt.Fprintln(w, "         h2 : mode=HTTP  side=FE|BE  mux=H2    flags=HTX|HOL_RISK|NO_UPG")
	fmt.Fprintln(w, "  <default> : mode=HTTP  side=FE|BE  mux=H1    flags=HTX")
	fmt.Fprintln(w, "         h1 : mode=HTTP  side=FE|BE  mux=H1    flags=HTX|NO_UPG")
	fmt.Fprintln(w, "  <default> : mode=TCP   side=FE|BE  mux=PASS  flags=")
	fmt.Fprintln(w, "       none : mode=TCP   side=FE|BE  mux=PASS  flags=NO_UPG")
	fmt.Fprintf(w, "\nAvailable services : %s\n", strings.Join(stats.Services(), " "))
	fmt.Fprintln(w, "Available filters :")
}
