package main

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
)

// HALO_PPROF=127.0.0.1:PORT serves Go's profiles (CPU, heap, allocations,
// goroutines) on that address: the way to see where a running proxy spends
// its time. Off unless set; never on a public address by default.
func servePprof() {
	addr := os.Getenv("HALO_PPROF")
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		if err := http.ListenAndServe(addr, mux); err != nil {
			fmt.Fprintf(os.Stderr, "halo: HALO_PPROF %s: %v\n", addr, err)
		}
	}()
}
