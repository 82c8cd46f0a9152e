package evloop

import (
	"time"

	"halo/proxy/rawtcp"

	"golang.org/x/sys/unix"
)

// Tunnel moves bytes both ways between two connections of one loop with
// splice(2), driven by their events: no task, no goroutine, no user-space
// buffer; the bytes go socket → pipe → socket inside the kernel. A
// half-closed tunnel (one direction ended) costs only its state here.
// Each direction ends at its source's end of stream, which is passed on
// (shutdown of the destination's sending side); the tunnel ends when both
// have, or at the first error or inactivity timeout (then both sockets are
// closed). End runs on the loop when it is over; the caller closes the
// connections.
type Tunnel struct {
	A, B *Conn
	// IdleA/IdleB bound inactivity while reading from A/B (0: none): the
	// tunnel times out when neither direction moved for that long.
	// FinA/FinB replace IdleA/IdleB once the other direction ended
	// (timeout client-fin / server-fin).
	IdleA, IdleB, FinA, FinB time.Duration
	// PreA/PreB are bytes already read from A/B, sent first.
	PreA, PreB []byte
	// End is told the bytes moved A→B and B→A and how it ended:
	// 0 both sides closed cleanly, 'a'/'b' inactivity while reading from
	// A/B, 'A'/'B' an error in the direction from A/from B.
	End func(t *Tunnel, ab, ba int64, cause byte)

	dir   [2]pump
	idle  [2]time.Duration
	last  int64 // loop time of the last progress
	tm    Timer
	ended bool
}

type pump struct {
	src, dst *Conn
	pre      []byte
	p        pipe
	inPipe   int
	n        int64
	eof      bool // the source ended
	done     bool // the end was passed on
}

type pipe struct{ r, w int }

// spliceChunk is what one splice asks for (a pipe holds 64 KiB).
const spliceChunk = 64 << 10

// Start begins moving bytes (on the loop of A and B, which must be the
// same). The connections must have no task waiting on them; the tunnel
// parks them with itself as their handler.
func (t *Tunnel) Start() {
	l := t.A.l
	t.dir[0] = pump{src: t.A, dst: t.B, pre: t.PreA, p: pipe{-1, -1}}
	t.dir[1] = pump{src: t.B, dst: t.A, pre: t.PreB, p: pipe{-1, -1}}
	t.idle = [2]time.Duration{t.IdleA, t.IdleB}
	t.last = l.now
	t.tm.h = t
	t.A.Park(t, 0)
	t.B.Park(t, 0)
	t.armTimer()
	// Events that came before the handlers were set are not repeated.
	t.progress()
}

// Ready implements Handler for both connections.
func (t *Tunnel) Ready(c *Conn, ev Event) { t.progress() }

func (t *Tunnel) progress() {
	if t.ended {
		return
	}
	for i := range t.dir {
		d := &t.dir[i]
		if d.done {
			continue
		}
		moved, err := d.step(t.A.l)
		if moved {
			t.last = t.A.l.now
		}
		if err != nil {
			t.finish(byte('A' + i))
			return
		}
		if d.done {
			// Half-closed: the other direction is now bounded by the
			// fin timeout of its source.
			o := 1 - i
			fin := t.FinB
			if o == 0 {
				fin = t.FinA
			}
			if fin > 0 {
				t.idle[o] = fin
				t.last = t.A.l.now
				t.armTimer()
			}
		}
	}
	if t.dir[0].done && t.dir[1].done {
		t.finish(0)
	}
}

// step moves what it can; moved reports progress.
func (d *pump) step(l *Loop) (moved bool, err error) {
	for {
		if len(d.pre) > 0 {
			if !d.dst.wready {
				return moved, nil
			}
			n, err := rawtcp.Send(d.dst.fd, d.pre)
			if err == unix.EAGAIN {
				d.dst.wready = false
				return moved, nil
			}
			if err != nil {
				return moved, err
			}
			d.pre = d.pre[n:]
			d.n += int64(n)
			moved = true
			continue
		}
		if d.inPipe > 0 {
			if !d.dst.wready {
				return moved, nil
			}
			n, err := unix.Splice(d.p.r, nil, d.dst.fd, nil, d.inPipe, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			if err == unix.EAGAIN {
				d.dst.wready = false
				return moved, nil
			}
			if err != nil {
				return moved, err
			}
			d.inPipe -= int(n)
			d.n += n
			moved = true
			continue
		}
		if d.eof {
			d.dst.CloseWrite()
			d.done = true
			l.putPipe(&d.p)
			return moved, nil
		}
		if !d.src.rready {
			return moved, nil
		}
		if d.p.r < 0 {
			if d.p, err = l.getPipe(); err != nil {
				return moved, err
			}
		}
		n, err := unix.Splice(d.src.fd, nil, d.p.w, nil, spliceChunk, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		if err == unix.EAGAIN {
			if !d.src.hup {
				d.src.rready = false
			}
			return moved, nil
		}
		if err != nil {
			return moved, err
		}
		if n == 0 {
			d.eof = true
			moved = true
			continue
		}
		d.inPipe += int(n)
		moved = true
	}
}

// armTimer sets the timer to the earliest inactivity expiry.
func (t *Tunnel) armTimer() {
	l := t.A.l
	var min time.Duration
	for i := range t.dir {
		if !t.dir[i].done && t.idle[i] > 0 && (min == 0 || t.idle[i] < min) {
			min = t.idle[i]
		}
	}
	if min == 0 {
		l.wheel.del(&t.tm)
		return
	}
	l.wheel.add(&t.tm, t.last+int64(min))
}

// Expire checks inactivity: progress since the timer was armed moves it
// (re-arming lazily instead of on every splice).
func (t *Tunnel) Expire(*Timer) {
	if t.ended {
		return
	}
	now := t.A.l.now
	for i := range t.dir {
		if !t.dir[i].done && t.idle[i] > 0 && now-t.last >= int64(t.idle[i]) {
			t.finish(byte('a' + i))
			return
		}
	}
	t.armTimer()
}

// Abort ends the tunnel now with cause (on its loop); End is told.
func (t *Tunnel) Abort(cause byte) { t.finish(cause) }

func (t *Tunnel) finish(cause byte) {
	if t.ended {
		return
	}
	t.ended = true
	l := t.A.l
	l.wheel.del(&t.tm)
	for i := range t.dir {
		d := &t.dir[i]
		if d.inPipe > 0 {
			l.closePipe(&d.p) // bytes left inside: not reusable
		} else {
			l.putPipe(&d.p)
		}
	}
	t.A.Unpark()
	t.B.Unpark()
	if t.End != nil {
		t.End(t, t.dir[0].n, t.dir[1].n, cause)
	}
}

// maxIdlePipes bounds each loop's spare pipes.
const maxIdlePipes = 64

func (l *Loop) getPipe() (pipe, error) {
	if n := len(l.pipes); n > 0 {
		p := l.pipes[n-1]
		l.pipes = l.pipes[:n-1]
		return p, nil
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return pipe{-1, -1}, err
	}
	return pipe{fds[0], fds[1]}, nil
}

// putPipe keeps an empty pipe for reuse.
func (l *Loop) putPipe(p *pipe) {
	if p.r < 0 {
		return
	}
	if len(l.pipes) < maxIdlePipes && !l.stopping {
		l.pipes = append(l.pipes, *p)
	} else {
		unix.Close(p.r)
		unix.Close(p.w)
	}
	*p = pipe{-1, -1}
}

func (l *Loop) closePipe(p *pipe) {
	if p.r >= 0 {
		unix.Close(p.r)
		unix.Close(p.w)
	}
	*p = pipe{-1, -1}
}
