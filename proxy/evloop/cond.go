package evloop

import "time"

// Cond is a condition tasks of one loop wait for (a flow-control window,
// a slot, a stream's data), signalled by the loop itself: a handler or
// another task of the loop. All of it runs on the loop: no lock.
type Cond struct {
	waiters []*Task
}

// Wait parks the running task until Signal or Broadcast.
func (c *Cond) Wait(l *Loop) {
	t := l.mustTask()
	c.waiters = append(c.waiters, t)
	t.park()
}

// WaitTimeout is Wait bounded by d (d <= 0: Wait); false if d passed
// first.
func (c *Cond) WaitTimeout(l *Loop, d time.Duration) bool {
	if d <= 0 {
		c.Wait(l)
		return true
	}
	t := l.mustTask()
	c.waiters = append(c.waiters, t)
	t.cond = c
	l.wheel.add(&t.tm, l.now+int64(d))
	why := t.park()
	t.cond = nil
	if why == wakeTimeout {
		c.remove(t)
		return false
	}
	return true
}

// Signal resumes the longest waiting task, if any (after the running one
// yields).
func (c *Cond) Signal(l *Loop) {
	if len(c.waiters) == 0 {
		return
	}
	t := c.waiters[0]
	copy(c.waiters, c.waiters[1:])
	c.waiters[len(c.waiters)-1] = nil
	c.waiters = c.waiters[:len(c.waiters)-1]
	l.wheel.del(&t.tm)
	l.queue(t, wakeReady)
}

// Broadcast resumes every waiting task.
func (c *Cond) Broadcast(l *Loop) {
	for len(c.waiters) > 0 {
		c.Signal(l)
	}
}

// Waiting is the number of tasks waiting.
func (c *Cond) Waiting() int { return len(c.waiters) }

func (c *Cond) remove(t *Task) {
	for i, w := range c.waiters {
		if w == t {
			copy(c.waiters[i:], c.waiters[i+1:])
			c.waiters[len(c.waiters)-1] = nil
			c.waiters = c.waiters[:len(c.waiters)-1]
			return
		}
	}
}
