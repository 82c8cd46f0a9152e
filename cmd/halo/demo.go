package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

const defaultDemoConfig = "testdata/quickstart/haproxy.cfg"

// demoMain is `halo demo`: tiny demo web servers on loopback plus the load
// balancer running the quick-start haproxy.cfg, for `make run`. The demo
// servers use net/http: they stand in for the user's applications and are
// not part of the proxy's data path.
func demoMain(args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	cfgPath := fs.String("f", defaultDemoConfig, "haproxy.cfg to run")
	ports := fs.String("backends", "8001,8002,8003", "comma-separated loopback ports of the demo web servers")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if _, err := os.Stat(*cfgPath); err != nil {
		fmt.Fprintf(os.Stderr, "halo demo: %v (run it from the source tree, or pass -f FILE)\n", err)
		return 1
	}
	for i, p := range strings.Split(*ports, ",") {
		port, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			fmt.Fprintf(os.Stderr, "halo demo: bad port %q\n", p)
			return 2
		}
		name := fmt.Sprintf("web%d", i+1)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			fmt.Fprintf(os.Stderr, "halo demo: demo server %s: %v\n", name, err)
			return 1
		}
		go http.Serve(ln, demoHandler(name, ln.Addr().String()))
	}
	fmt.Printf("halo demo: demo web servers on 127.0.0.1 ports %s\nhalo demo: load balancer running %s\n", *ports, *cfgPath)
	if *cfgPath == defaultDemoConfig {
		fmt.Print(`
  curl http://127.0.0.1:8080/              # answered by web1, web2, web3 in turn
  curl -i http://127.0.0.1:8080/hello      # see the headers halo adds (X-Forwarded-For)
  open http://127.0.0.1:8404/stats         # the stats page

One access log line per request follows (option httplog). Ctrl-C stops everything.
`)
	}
	return haproxyMain([]string{"-db", "-f", *cfgPath})
}

func demoHandler(name, addr string) http.Handler {
	var hits atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			fmt.Fprintln(w, "ok")
			return
		}
		n := hits.Add(1)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Served-By", name)
		fmt.Fprintf(w, "Hello from %s (%s), request #%d\n\n%s %s %s\n", name, addr, n, r.Method, r.RequestURI, r.Proto)
		for _, k := range []string{"Host", "User-Agent", "X-Forwarded-For"} {
			if v := r.Header.Get(k); v != "" {
				fmt.Fprintf(w, "%s: %s\n", k, v)
			}
		}
	})
}
