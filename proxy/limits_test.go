package proxy

import (
	"fmt"
	"testing"
)

// TestFdBudget: the global maxconn and maxsock HAProxy 2.6.12 reported in
// `show info` on this box for the same configurations and descriptor
// limits (one frontend, one stats socket, nbthread set).
func TestFdBudget(t *testing.T) {
	cfgWith := func(nbthread, binds, checks, maxconn int) *Config {
		fe := &Proxy{Name: "fe", Cap: CapFE}
		for i := 0; i < binds; i++ {
			fe.Binds = append(fe.Binds, Bind{})
		}
		be := &Proxy{Name: "be", Cap: CapBE}
		for i := 0; i < checks; i++ {
			be.Servers = append(be.Servers, &Server{Name: fmt.Sprint("s", i), Check: true})
		}
		be.Servers = append(be.Servers, &Server{Name: "nocheck"})
		return &Config{Global: Global{Nbthread: nbthread, Maxconn: maxconn, StatsSockets: []StatsSocket{{}}}, Proxies: []*Proxy{fe, be}}
	}
	for _, tc := range []struct {
		name                     string
		limit                    int
		nbthread, binds, checks  int
		maxconn                  int
		wantMaxconn, wantMaxsock int
	}{
		{"ulimit 20000, 2 threads, 1 check", 20000, 2, 1, 1, 0, 9985, 19999},
		{"one thread", 20000, 1, 1, 1, 0, 9987, 20000},
		{"no check", 20000, 2, 1, 0, 0, 9986, 20000},
		{"ten checks", 20000, 2, 1, 10, 0, 9981, 20000},
		{"five binds", 20000, 2, 5, 1, 0, 9983, 19999},
		{"ulimit 1024", 1024, 2, 1, 1, 0, 497, 1023},
		{"ulimit 4096", 4096, 2, 1, 1, 0, 2033, 4095},
		{"maxconn set", 4096, 2, 1, 0, 3000, 3000, 6028},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mc, ms := fdBudget(cfgWith(tc.nbthread, tc.binds, tc.checks, tc.maxconn), tc.limit)
			if mc != tc.wantMaxconn || ms != tc.wantMaxsock {
				t.Errorf("maxconn %d maxsock %d, haproxy: %d %d", mc, ms, tc.wantMaxconn, tc.wantMaxsock)
			}
		})
	}
}
