package proxy

import (
	"net"
	"time"
)

// fastConn wraps a connection for the HTTP engine's deadlines. Resetting
// a deadline costs a runtime timer update, and the inactivity timeouts
// (seconds) do not need nanosecond precision, so a deadline is only pushed
// back when it moved by more than 1/16 of the timeout (at most 250 ms); a
// shorter one is always applied at once.
//
// (Skipping the speculative read(2) that usually returns EAGAIN is not
// possible through syscall.RawConn: RawRead resets the poller's pending
// readiness before calling back, so a skipped read can miss data.)
type fastConn struct {
	c        net.Conn
	rdl, wdl time.Time
}

func (f *fastConn) init(c net.Conn) { f.c = c }

// Read reads into p.
func (f *fastConn) Read(p []byte) (int, error) { return f.c.Read(p) }

// Write writes p.
func (f *fastConn) Write(p []byte) (int, error) { return f.c.Write(p) }

func slack(timeout time.Duration) time.Duration {
	s := timeout / 16
	if s > 250*time.Millisecond {
		s = 250 * time.Millisecond
	}
	return s
}

// readTimeout arms an inactivity timeout for the next reads (0: none).
func (f *fastConn) readTimeout(timeout time.Duration) {
	if timeout <= 0 {
		f.readDeadline(time.Time{})
		return
	}
	want := time.Now().Add(timeout)
	if f.rdl.IsZero() || want.Before(f.rdl) || want.Sub(f.rdl) > slack(timeout) {
		f.rdl = want
		_ = f.c.SetReadDeadline(want)
	}
}

// readDeadline sets an exact read deadline (zero: none).
func (f *fastConn) readDeadline(t time.Time) {
	if t.Equal(f.rdl) {
		return
	}
	f.rdl = t
	_ = f.c.SetReadDeadline(t)
}

// writeTimeout arms the timeout for the next writes (0: none).
func (f *fastConn) writeTimeout(timeout time.Duration) {
	if timeout <= 0 {
		if !f.wdl.IsZero() {
			f.wdl = time.Time{}
			_ = f.c.SetWriteDeadline(time.Time{})
		}
		return
	}
	want := time.Now().Add(timeout)
	if f.wdl.IsZero() || want.Before(f.wdl) || want.Sub(f.wdl) > slack(timeout) {
		f.wdl = want
		_ = f.c.SetWriteDeadline(want)
	}
}
