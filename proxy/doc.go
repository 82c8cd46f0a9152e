// Package proxy is the HAProxy runtime: it executes a Config. It never sees
// the configuration's syntax; package compat builds the Config.
//
// # Data path
//
// New(cfg, modules...) builds the runtime state (Frontends, Backends,
// ServerState per server, atomic Counters); Start opens the listeners
// (SO_REUSEPORT, backlog, v6only; global/frontend/bind maxconn taken
// before accept(), so excess connections wait in the kernel backlog;
// accept-proxy reads a PROXY v1/v2 header; `ssl crt` terminates TLS with
// crypto/tls, SNI choosing among the certificates) and serves every
// connection on the event loops (see Connections below). SoftStop (SIGUSR1) stops listening and
// lets in-flight work finish: every answer from then on says "connection:
// close", and an idle keep-alive connection is never closed under its
// client (which may be sending a request): its next request is answered
// with "connection: close", or its keep-alive timeout ends it
// (hard-stop-after bounds the wait). HardStop (SIGTERM) closes all. A
// reload hands the listening sockets to the new process (handover.go:
// ExportSockets / InheritSockets, HAProxy's `_getsocks` format in
// sockxfer), so connections waiting to be accepted are never reset.
// Once Start returns (listeners, stats sockets with their owners, log
// sockets and files all open), cmd/halo applies Chroot and SetIDs
// (identity.go): chroot, clear supplementary groups, setgid, setuid, in
// HAProxy's order; a -W master keeps its identity, its workers drop.
// Server connections may use `send-proxy` (v1) and `ssl` (crypto/tls,
// certificate checked with `verify required`).
//
//   - mode tcp (tcpmode.go): with tcp-request inspect-delay, content
//     rules whose payload fetches (req.ssl_sni, req.ssl_hello_type,
//     req.ssl_alpn, req.len, req.payload) lack bytes wait for more
//     (Txn.MorePayload, until the delay expires, tune.bufsize is full or
//     the client closes); those bytes are then forwarded unchanged.
//     Then backend choice, connect with retries and
//     redispatch, then a tunnel (tunnel.go): between two plain sockets an
//     evloop.Tunnel moves the bytes with splice(2), driven by events (no
//     task, no buffer, a half-closed tunnel costs its state only); with
//     TLS on a side two tasks copy through a buffer each. Half-close and
//     the client/server/tunnel/client-fin/server-fin timeouts apply.
//
//   - mode http (http.go): the HTTP/1.1 engine over pooled tune.bufsize
//     buffers and package http1 (strict parser refusing what HAProxy
//     2.6.12 refuses, one chunked-body machine that validates and
//     re-frames, head serializer); testdata/recorded holds the smuggling
//     and framing shapes with HAProxy's recorded answers. Header names are lower-cased and their order kept, as
//     HAProxy 2.6's HTX does; bodies stream (content-length, chunked, until
//     close; chunked bodies are re-framed as HAProxy forwards them: hex
//     sizes without extensions, CRLF, lower-case trailer names);
//     100-continue, 1xx, Upgrade tunnels; HAProxy's connection
//     modes and Connection header rules; server connection reuse
//     (http-reuse safe/never/aggressive/always, idle pools purged after
//     5 s); HAProxy's exact error pages (errorpages.go, or the proxy's
//     ErrorFiles). Large non-chunked response bodies move through a
//     borrowed 64 KiB buffer. A 101 Switching Protocols hands the
//     connection to a tunnel, as mode tcp.
//
//   - HTTP/2 (h2serve.go, package h2): `bind … ssl … alpn h2` and
//     `bind … proto h2` connections run package h2's server (x/net's
//     Framer and hpack; flow control, stream states, RFC 9113 §8.2
//     validation, bounded resets and control frames) off the loop
//     (Loop.Offload). Each stream becomes an HTTP/1.1 transaction of an
//     ordinary session on the connection's loop through a socket pair, so
//     rules, ACLs, logs, counters and error pages are HTTP/1.1's; the
//     response is turned back into HEADERS/DATA (chunked → DATA,
//     trailers, connection-specific headers dropped). Soft stop sends
//     GOAWAY. TLS settings (tlsbind.go, tlsverify.go, tlsserver.go) come
//     resolved from compat through package tlsconf (OpenSSL cipher
//     strings, suites, curves, versions as HAProxy computes them).
//
// # Connections (proxy/evloop)
//
// Every client and server connection lives on an event loop (package
// evloop; one loop per nbthread, GOMAXPROCS follows): a raw non-blocking
// socket in an edge-triggered epoll set, with timers on the loop's wheel
// instead of a runtime timer per connection. A connection holds a
// goroutine only while a transaction runs on it, as an evloop task (a
// coroutine the loop resumes on events), and a buffer only while a task
// needs one: HAProxy's model, where buffers are allocated on demand.
//
//   - accept (listener.go): each loop polls every listening socket
//     (EPOLLEXCLUSIVE); Admit takes the bind, frontend and global maxconn
//     slots first, and a full limit pauses the listener (connections wait
//     in the kernel's backlog) until a slot frees. A plain HTTP
//     connection starts parked (no task); accept-proxy, TLS and mode tcp
//     start a setup task (clientSetup: PROXY header, Connection hooks,
//     handshake).
//   - an HTTP session (session.go) is parked while it waits for a request
//     head: no task, no buffer, a partial head in a buffer of its own
//     size class; timeout http-request / http-keep-alive is the park
//     deadline. Readiness starts a task running serve: it reads the
//     request, runs transaction() (http.go, blocking-style code: every
//     wait yields the task), logs, goes on with pipelined requests, and
//     parks again when a read would wait. The semantics (framing, rules,
//     Connection handling, errors) are in the transaction functions; the
//     lifecycle is session.go's.
//   - server connections (server.go) are dialled from the task, on its
//     loop; idle ones stay parked on that loop, attached to their session
//     or in the server's idle pool for the loop (which keeps what the last
//     period needed, as HAProxy's est_need_conns), and are closed if the
//     server speaks or closes meanwhile.
//   - each loop has its engine state (loopState): its live client
//     connections (stops reach them through the loop), its server
//     connections (ShutdownSessions), free lists of buffers, sessions,
//     server connections and transactions (pools.go: no allocation per
//     request, checked by cmd/halo's TestRequestPathAllocs), and a timer
//     that purges idle pools and trims the free lists once a second;
//     after a burst the runtime returns its free memory (memtrim.go).
//   - nothing on a loop may block: the Picker's wait for a server slot
//     (servers with maxconn) runs off the loop (Loop.Offload), and the
//     retry turn-around is a loop sleep. A module that must block (a
//     lookup over the network) calls Txn.Offload.
//   - HTTP/2 plugs in at the same level: one Conn per connection, a task
//     per stream on the connection's loop (see package evloop).
//
// # Hook points (Module, hooks.go)
//
// Other packages extend the engine with a Module; cmd/halo assembles them
// in one function (cmd/halo/engine.go: haproxyEngine), which also hands
// each module what it needs from the others.
//
//  1. Backend selection: Module.NewPicker(b) returns the backend's Picker.
//     Pick(k *PickKey) gets the hashing inputs (k.Src, k.Dst, k.Req for
//     URI / url_param / hdr(name), k.Exclude for redispatch, k.Deadline for
//     maxconn queueing) and returns a usable *ServerState or ErrNoServer /
//     ErrQueueTimeout (both answered 503). Persistence (cookie, stick
//     tables) sets tx.Server in a Request hook; the engine then calls
//     Take(tx.Server, k) instead of Pick, so that server's maxconn and
//     queue apply too (HAProxy's SF_DIRECT streams). Each successful Pick
//     or Take is paired with one Release when the transaction is done
//     with the server; the picker owns ServerState.Counters.CurConns, the
//     engine counts TotConns and the rest. A Picker that implements
//     ServerStates (serverstate.go) owns its servers' status and weight:
//     the runtime API and stats page change them through ServerState's
//     SetAdmin/SetHealth/SetWeight, health checks inside the owner. The
//     built-in RoundRobin, with the engine's own state table, is the
//     fallback.
//  2. Request: Module.Request(tx, px) after the request head is parsed,
//     first for the frontend, then for the chosen backend (if another
//     proxy). tx.Req (*http1.Message) gives zero-allocation access to
//     Method, URI, Path(), Query(), Major/Minor, headers by name
//     (Get/Count, case-insensitive) and AddHeader/SetHeader/DelHeader,
//     SetURI/SetMethod; tx.Src, tx.Dst, tx.SSL. The frontend stage applies
//     use_backend by setting tx.Backend (Runtime.BackendByName for dynamic
//     names); when it stays nil the engine uses default_backend. Returning
//     Replied after tx.SetReply(raw, close) answers without a server
//     (deny, return, redirect, stats page); Reject closes silently. In TCP
//     mode the hook runs once per connection with tx.Req == nil.
//     Module.Connection(cc) and Disconnect(cc) frame a client connection
//     (tcp-request connection/session rules; session stick counters kept
//     in cc.State; each Txn of it has tx.Conn).
//  3. Response: Module.Response(tx, px) after the server's response head
//     is parsed, backend first then frontend: tx.Resp has the same
//     accessors (http-response rules, cookie insertion); Replied replaces
//     the server's answer.
//  4. Log: Module.Log(tx) when a transaction ends: tx.ReqLine, Status,
//     BytesIn/BytesOut, timers Th/Ti/TR/Tw/Tc/Tr/Ta/Tt (-1 when not
//     reached), Term (termination state, e.g. "--", "CD", "sH", "SC"),
//     Retries, ActConn/FeConn/BeConn/SrvConn, queues, Frontend/Backend/
//     Server names; tx.Refused when the engine answered a request head
//     itself (400/408/422) before any Request hook.
//  5. Counters: Frontend.Counters, Backend.Counters, ServerState.Counters
//     (atomic) for the stats page and CSV; Runtime.Frontends/Backends list
//     them in configuration order. Module.Init(rt) runs before listening
//     (start health checks, stats sockets), Module.Stop at the end.
//
// The Txn passed to hooks is reused between transactions: never keep it.
package proxy
