package evloop

import (
	"iter"
	"time"
)

// A Task runs blocking-style code (a transaction handler, a TLS
// handshake) on a loop without a goroutine of its own while it waits: it
// is a coroutine (iter.Pull) that the loop resumes when what it waits for
// is ready, and that yields back to the loop when it must wait. A switch
// costs a few tens of nanoseconds and never goes through the scheduler:
// no run queue, no thread wake-up. Finished tasks wait in a bounded pool
// for their next job, so a task's goroutine and grown stack are reused.
type Task struct {
	l     *Loop
	next  func() (struct{}, bool)
	stop  func()
	yield func(struct{}) bool
	fn    func()
	why   wake
	tm    Timer // Sleep, Cond.WaitTimeout
	cond  *Cond // the condition a WaitTimeout is on
}

type wake uint8

const (
	wakeReady wake = iota
	wakeTimeout
	wakeClosed
)

// maxIdleTasks bounds the pool of parked coroutines per loop.
const maxIdleTasks = 256

// Go runs fn in a task on the loop. Called on the loop itself (a handler),
// fn starts at once and Go returns when it first waits or ends; called
// from a task, fn starts after the caller waits or ends. Only on the loop.
func (l *Loop) Go(fn func()) {
	var t *Task
	if n := len(l.idle); n > 0 {
		t = l.idle[n-1]
		l.idle[n-1] = nil
		l.idle = l.idle[:n-1]
	} else {
		t = &Task{l: l}
		t.tm.h = t
		t.next, t.stop = iter.Pull(t.body)
		l.ntasks++
	}
	t.fn = fn
	l.resume(t, wakeReady)
}

func (t *Task) body(yield func(struct{}) bool) {
	t.yield = yield
	l := t.l
	for {
		fn := t.fn
		t.fn = nil
		fn()
		if len(l.idle) >= maxIdleTasks || l.stopping {
			l.ntasks--
			return
		}
		l.idle = append(l.idle, t)
		if !yield(struct{}{}) {
			l.ntasks--
			return
		}
	}
}

// resume continues t (now if the loop itself is running, else after the
// running task yields).
func (l *Loop) resume(t *Task, why wake) {
	t.why = why
	if l.cur != nil {
		l.runq = append(l.runq, t)
		return
	}
	l.cur = t
	t.next()
	l.cur = nil
}

// queue resumes t after the current event, even from the loop itself.
func (l *Loop) queue(t *Task, why wake) {
	t.why = why
	l.runq = append(l.runq, t)
}

func (l *Loop) runQueued() {
	for len(l.runq) > 0 || len(l.pend) > 0 {
		if len(l.pend) > 0 {
			p := l.pend
			l.pend = l.pend2[:0]
			for i, c := range p {
				p[i] = nil
				if c.h != nil && !c.closed && c.rready && c.rtask == nil && c.wtask == nil {
					c.h.Ready(c, EvRead)
				}
			}
			l.pend2 = p[:0]
		}
		if len(l.runq) > 0 {
			q := l.runq
			l.runq = l.runq2[:0]
			for i, t := range q {
				q[i] = nil
				l.cur = t
				t.next()
				l.cur = nil
			}
			l.runq2 = q[:0]
		}
	}
}

// park yields the running task to the loop until a waker resumes it.
func (t *Task) park() wake {
	t.yield(struct{}{})
	return t.why
}

// Current is the task running on l (nil when the loop itself runs). Only
// on the loop.
func (l *Loop) Current() *Task { return l.cur }

// Expire implements TimerHandler (Sleep).
func (t *Task) Expire(*Timer) { t.l.resume(t, wakeTimeout) }

// Sleep waits d in the running task (the loop serves others meanwhile).
func (l *Loop) Sleep(d time.Duration) {
	t := l.mustTask()
	if d <= 0 {
		return
	}
	l.wheel.add(&t.tm, l.now+int64(d))
	t.park()
}

// Yield lets the loop serve other events before the running task goes on.
func (l *Loop) Yield() {
	t := l.mustTask()
	l.queue(t, wakeReady)
	t.park()
}

// Offload runs fn on a goroutine of its own while the running task waits,
// for work that may block (a queue for a server slot, a lock held for
// long): the loop serves its other connections meanwhile. fn must not use
// the loop's connections unless they are in blocking mode (SetBlocking).
func (l *Loop) Offload(fn func()) {
	t := l.mustTask()
	resume := func() { l.resume(t, wakeReady) }
	go func() {
		fn()
		l.Post(resume)
	}()
	t.park()
}

func (l *Loop) mustTask() *Task {
	t := l.cur
	if t == nil {
		panic("evloop: blocking call outside a task")
	}
	return t
}
