// Package evloop is halo's connection layer: epoll event loops over raw
// non-blocking sockets, as HAProxy's threads run them, with blocking-style
// code for whatever has to wait.
//
// # Loops
//
// A Group holds one Loop per nbthread (GOMAXPROCS follows it). A Loop owns
// an epoll set (edge-triggered), the Conns registered with it, a timer
// wheel and a pool of Tasks; all of that is touched only on the loop's
// goroutine, so none of it needs a lock. A Loop waits for events in Go's
// network poller, on the epoll descriptor itself: no thread blocks in
// epoll_wait, so the scheduler never hands a processor off around it.
// Other goroutines reach a loop only through Loop.Post.
//
// # Connections
//
// A Conn is a registered socket (Loop.Register or Adopt for accepted
// ones, Loop.Dial/DialInto/DialUnix for outgoing ones; Adopt and DialInto
// fill a Conn embedded in the caller's pooled object, so a connection
// costs no allocation). A Conn is always in one of two states:
//
//   - parked: no task owns it; its Handler (Conn.Park) is told of its
//     events (EvRead, EvWrite) and of its park deadline (EvTimeout), on
//     the loop. A handler must not block: it reads or writes what it can
//     without waiting, or starts a task. An idle keep-alive client, a
//     client whose request head is still coming, a server connection in
//     an idle pool and a splice tunnel are parked: they hold no goroutine
//     and no buffer.
//   - owned by a task (after Conn.Unpark, or from its start): the task
//     uses the Conn as a net.Conn. Read and Write wait by yielding the
//     task (Conn.wait) until the loop sees the socket ready, the deadline
//     passes (os.ErrDeadlineExceeded) or the Conn is closed
//     (net.ErrClosed). SetNonblock makes them return ErrWouldBlock
//     instead (a net.Error timeout, so crypto/tls stays usable after it):
//     that is how a task tries a read before parking.
//
// Readiness is edge-triggered and remembered per direction: a short read
// or write means the socket is drained or full, so the next one waits for
// the kernel's event instead of costing an EAGAIN system call. Deadlines
// (SetReadTimeout, SetReadDeadline…) cost two integer writes; the wheel
// arms a timer only when an operation has to wait.
//
// # Tasks
//
// Loop.Go runs a function as a Task: a coroutine (iter.Pull) that the loop
// resumes on the events it waits for and that yields back when it must
// wait, so blocking-style code (an HTTP transaction, a TLS handshake)
// runs with no goroutine of its own while it waits and with no scheduler
// hand-off when it resumes (a coroutine switch costs tens of
// nanoseconds). Finished tasks wait in a bounded pool for their next job.
// A task can also Sleep, Yield, or Offload a function that may really
// block (a queue for a server slot) to a goroutine while the loop goes on;
// the function may only use the loop's Conns in blocking mode
// (SetBlocking).
//
// # The rest
//
// Listener serves a listening socket on every loop (EPOLLEXCLUSIVE), asks
// its Acceptor to Admit each connection (maxconn: a refusal pauses the
// listener until Resume, so connections wait in the kernel's backlog) and
// hands it to Accepted on the loop with the fewest connections (the one
// that took it, or another one it is passed to). Tunnel moves bytes both
// ways between two Conns of a loop with splice(2), driven by their events,
// with half-close and inactivity timeouts. Timers (Loop.AddTimer) are
// intrusive wheel nodes embedded in what they time.
//
// # Plugging a protocol in (HTTP/2, for instance)
//
// A multiplexed connection is one Conn and many transactions: its reader
// is a handler or a task that parks the Conn whenever no frame is
// pending, and each stream runs as a Task on the same loop (Loop.Go),
// which writes through the connection's frame writer and waits on
// whatever the stream needs (a server Conn of the same loop, a flow
// control window signalled by the reader through Loop.Go or a queued
// resume). Everything then stays on one goroutine at a time: no locks
// between the connection and its streams.
package evloop
