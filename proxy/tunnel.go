package proxy

import (
	"errors"
	"io"
	"net"
	"time"

	"halo/proxy/evloop"
)

// tunnel copies client↔server until both directions are done (mode tcp,
// and HTTP after 101 Switching Protocols). Between two plain sockets it is
// an evloop.Tunnel (splice, driven by events, no task); with TLS on either
// side crypto/tls needs the bytes, so two tasks copy them through a buffer
// each. end gets the bytes client→server, server→client and the
// termination cause ('c' client timeout, 's' server timeout, 'C'/'S'
// abort, 'K' killed by a stop, 0 normal); the callee closes both sides.
type tunnel struct {
	cli, srv     net.Conn
	cliEC, srvEC *evloop.Conn
	cpre, spre   []byte // bytes already read from the client/server
	// Inactivity timeouts while reading from the client/server, and
	// their replacements once the other direction ended (fin).
	cliTO, srvTO, cliFin, srvFin time.Duration
	end                          func(in, out int64, cause byte)

	sp *evloop.Tunnel // splice tunnel
	ls *loopState     // the loop's engine state (copy buffers)

	// copy tunnel (TLS)
	pumps   int
	n       [2]int64
	idle    [2]time.Duration
	last    time.Time
	cause   byte
	aborted bool
}

func (t *tunnel) start() {
	if t.cli == net.Conn(t.cliEC) && t.srv == net.Conn(t.srvEC) {
		t.sp = &evloop.Tunnel{A: t.cliEC, B: t.srvEC,
			IdleA: t.cliTO, IdleB: t.srvTO, FinA: t.cliFin, FinB: t.srvFin,
			PreA: t.cpre, PreB: t.spre, End: t.spliceEnd}
		t.sp.Start()
		return
	}
	l := t.cliEC.Loop()
	t.idle = [2]time.Duration{t.cliTO, t.srvTO}
	t.last = l.Now()
	t.pumps = 2
	l.Go(func() { t.pump(0) })
	l.Go(func() { t.pump(1) })
}

func (t *tunnel) spliceEnd(_ *evloop.Tunnel, ab, ba int64, cause byte) {
	switch cause {
	case 'a':
		cause = 'c'
	case 'b':
		cause = 's'
	case 'A':
		cause = 'C'
	case 'B':
		cause = 'S'
	}
	t.end(ab, ba, cause)
}

// abort ends the tunnel at once (a hard stop).
func (t *tunnel) abort() {
	if t.sp != nil {
		t.sp.Abort('K')
		return
	}
	t.fail('K')
}

// fail ends both directions of a copy tunnel: closing the sockets wakes
// the pumps.
func (t *tunnel) fail(cause byte) {
	if t.aborted {
		return
	}
	t.aborted = true
	t.cause = cause
	t.cliEC.Close()
	t.srvEC.Close()
}

// pump copies one direction of a copy tunnel (0: client→server), in a
// task.
func (t *tunnel) pump(dir int) {
	src, dst, srcEC, pre := t.cli, t.srv, t.cliEC, t.cpre
	fin := t.srvFin
	if dir == 1 {
		src, dst, srcEC, pre = t.srv, t.cli, t.srvEC, t.spre
		fin = t.cliFin
	}
	l := srcEC.Loop()
	defer func() {
		t.pumps--
		if t.pumps == 0 {
			t.end(t.n[0], t.n[1], t.cause)
		}
	}()
	if len(pre) > 0 {
		n, err := dst.Write(pre)
		t.n[dir] += int64(n)
		if err != nil {
			t.fail(abortCause(dir))
			return
		}
	}
	ls := t.ls
	buf := ls.bigs.get()
	defer ls.bigs.put(buf)
	for {
		idle := t.idle[dir]
		srcEC.SetReadTimeout(idle)
		n, err := src.Read(buf)
		if n > 0 {
			t.last = l.Now()
			w, werr := dst.Write(buf[:n])
			t.n[dir] += int64(w)
			if werr != nil {
				t.fail(abortCause(dir))
				return
			}
			continue
		}
		switch {
		case err == nil:
			continue
		case t.aborted:
			return
		case isEOF(err):
			// Clean end: pass on the half-close and bound the other
			// direction by its fin timeout.
			closeWrite(dst)
			if fin > 0 {
				t.idle[1-dir] = fin
			}
			return
		case isTimeout(err) && idle > 0:
			if l.Now().Sub(t.last) < idle {
				continue // the other direction was active
			}
			t.fail(timeoutCause(dir))
			return
		default:
			t.fail(abortCause(dir))
			return
		}
	}
}

// abortCause is the termination cause of an error in direction dir
// (0: client→server): HAProxy's 'C' (client side) or 'S' (server side).
func abortCause(dir int) byte {
	if dir == 0 {
		return 'C'
	}
	return 'S'
}

// timeoutCause is the cause of an inactivity timeout while reading in
// direction dir.
func timeoutCause(dir int) byte {
	if dir == 0 {
		return 'c'
	}
	return 's'
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }
