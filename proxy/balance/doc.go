// Package balance picks a backend server for each connection the way
// HAProxy 2.6 does, and keeps the per-server load-balancing state that the
// health checks, the stats page and the runtime API act on.
//
// One Backend per `backend`/`listen` section. The engine calls Take before
// connecting to a server and Release when the stream leaves it:
//
//	s, err := be.Take(ctx, &req, prev) // prev: server to avoid on redispatch, or nil
//	if err != nil { /* ErrNoServer, ErrQueueFull, ErrQueueTimeout → 503 */ }
//	defer be.Release(s)
//
// Take may block while the request waits in a queue (server `maxconn`,
// `timeout queue`). The algorithms reproduce HAProxy's sequences exactly:
// roundrobin is lb_fwrr (two trees, positions, the same tie order), static-rr
// and map-based hashing build the same server map (lb_map), consistent
// hashing places the same tree nodes (lb_chash), leastconn and first follow
// lb_fwlc and lb_fas, and the hash functions are HAProxy's (sdbm default).
//
// Server state follows HAProxy's split between the operational state
// (stopped/starting/running/stopping, driven by health checks) and admin
// flags (maintenance and drain, from `disabled` or the runtime API). A server
// takes load-balanced traffic only when it is running or starting, not in
// maintenance or drain, and its effective weight is above zero.
package balance
