package evloop

import (
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Group is the set of loops of a runtime: one per nbthread.
type Group struct {
	loops []*Loop
	wg    sync.WaitGroup
	next  atomic.Uint32
}

// NewGroup creates n loops (n <= 0: one per GOMAXPROCS). Start runs them.
func NewGroup(n int) (*Group, error) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	g := &Group{}
	for i := 0; i < n; i++ {
		l, err := newLoop(g, i)
		if err != nil {
			for _, l := range g.loops {
				l.closeFds()
			}
			return nil, err
		}
		g.loops = append(g.loops, l)
	}
	return g, nil
}

// Len is the number of loops.
func (g *Group) Len() int { return len(g.loops) }

// Loop returns loop i.
func (g *Group) Loop(i int) *Loop { return g.loops[i] }

// Any returns a loop, in turn (work that has no loop of its own).
func (g *Group) Any() *Loop {
	return g.loops[int(g.next.Add(1))%len(g.loops)]
}

// SetCPUs binds loop i to the CPUs listed (cpu-map), before Start: its
// goroutine keeps one OS thread, whose affinity is set to those of the
// CPUs the process may use (none of them: the loop stays unbound).
func (g *Group) SetCPUs(i int, cpus []int) { g.loops[i].cpus = cpus }

// Start runs every loop on its own goroutine.
func (g *Group) Start() {
	for _, l := range g.loops {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			l.run()
		}()
	}
}

// Stop asks every loop to close its connections (their tasks see
// net.ErrClosed), waits for every task to end, and releases the loops.
func (g *Group) Stop() {
	for _, l := range g.loops {
		l.Post(func() { l.stopping = true })
	}
	g.wg.Wait()
}

// Loop is one event loop: an epoll instance, the connections registered
// with it, a timer wheel and a pool of tasks. Everything a loop owns is
// touched only on its goroutine (and by its tasks, which run on it); other
// goroutines reach it through Post.
type Loop struct {
	g    *Group
	id   int
	epfd int
	evfd int // eventfd: Post wakes epoll_wait through it

	pollFile *os.File        // epfd in Go's poller
	pollRC   syscall.RawConn // its raw access
	pollFn   func(uintptr) bool
	pollDL   time.Time // read deadline armed on pollFile
	polled   int
	events   []unix.EpollEvent
	conns    []*Conn // by descriptor
	gen      uint32
	nconns   int
	// load is nconns plus the connections handed off to the loop and
	// not registered yet: what an accepting loop compares (lightest).
	load atomic.Int32

	base time.Time // monotonic origin of now
	now  int64     // nanoseconds since base, updated once per iteration
	nowT time.Time

	wheel wheel

	pend   []*Conn // parked with readiness already known: tell their handler
	pend2  []*Conn
	cur    *Task   // the task running now (nil: the loop itself)
	runq   []*Task // tasks to resume after the current event
	runq2  []*Task
	idle   []*Task // parked coroutines, ready for the next job
	ntasks int     // tasks alive (running, waiting or idle)

	mu       sync.Mutex
	inbox    []func()
	inbox2   []func()
	hand     []handoff // accepted connections other loops handed over
	hand2    []handoff
	wakeSent atomic.Bool
	dead     bool // exited: Post runs functions itself

	pipes []pipe // spare splice pipes (tunnels)

	cpus []int // cpu-map: the CPUs the loop's thread is bound to

	stopping bool
	// Callbacks run once per iteration after the events (engine
	// housekeeping: paused listeners, idle server purges).
	tick []func()
}

func newLoop(g *Group, id int) (*Loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, err
	}
	l := &Loop{g: g, id: id, epfd: epfd, evfd: evfd, events: make([]unix.EpollEvent, 256), base: time.Now()}
	// The epoll descriptor joins Go's poller (see poll); the File owns it.
	l.pollFile = os.NewFile(uintptr(epfd), "epoll")
	rc, err := l.pollFile.SyscallConn()
	if err != nil {
		l.pollFile.Close()
		unix.Close(evfd)
		return nil, err
	}
	l.pollRC = rc
	l.pollFn = l.tryPoll
	l.updateNow()
	l.wheel.init(l.now)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(evfd), Pad: 0}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		l.closeFds()
		return nil, err
	}
	return l, nil
}

func (l *Loop) closeFds() {
	if l.pollFile != nil {
		l.pollFile.Close()
	} else {
		unix.Close(l.epfd)
	}
	unix.Close(l.evfd)
}

// ID is the loop's index in its group.
func (l *Loop) ID() int { return l.id }

// Group returns the loop's group.
func (l *Loop) Group() *Group { return l.g }

func (l *Loop) updateNow() {
	l.nowT = time.Now()
	l.now = int64(l.nowT.Sub(l.base))
}

// Now is the loop's clock, read once per iteration (as HAProxy's now_ms):
// cheap, and monotonic. Only on the loop.
func (l *Loop) Now() time.Time { return l.nowT }

// Mono converts t to the loop's monotonic nanoseconds (zero t: 0).
func (l *Loop) Mono(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	m := int64(t.Sub(l.base))
	if m <= 0 {
		m = 1
	}
	return m
}

// Deadline is now + d in loop nanoseconds (d <= 0: 0, none).
func (l *Loop) Deadline(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return l.now + int64(d)
}

// Post runs fn on the loop's goroutine soon. Safe from any goroutine.
func (l *Loop) Post(fn func()) {
	l.mu.Lock()
	if l.dead {
		// The loop has exited: nothing else touches its state.
		l.mu.Unlock()
		fn()
		return
	}
	l.inbox = append(l.inbox, fn)
	l.mu.Unlock()
	l.wake()
}

// wake makes the loop drain its inbox soon.
func (l *Loop) wake() {
	if l.wakeSent.CompareAndSwap(false, true) {
		var one = [8]byte{1}
		unix.Write(l.evfd, one[:])
	}
}

// handoff is an accepted connection on its way to the loop that serves it.
type handoff struct {
	ln     *Listener
	fd     int
	remote netip.AddrPort
}

// lightest is the loop an accepted connection goes to: the one with the
// fewest connections, unless l (the accepting loop) has at most one more
// (a hand-off costs a wake-up of the other loop).
func (g *Group) lightest(l *Loop) *Loop {
	best, min := l, l.load.Load()-1
	for _, o := range g.loops {
		if v := o.load.Load(); v < min {
			best, min = o, v
		}
	}
	return best
}

// handoff queues an accepted connection for the loop (from another
// loop): it joins the loop's load at once, so that the rest of a burst
// spreads, and its Acceptor gets it on this loop. False if the loop has
// exited.
func (l *Loop) handoff(ln *Listener, fd int, remote netip.AddrPort) bool {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return false
	}
	l.hand = append(l.hand, handoff{ln: ln, fd: fd, remote: remote})
	l.load.Add(1)
	l.mu.Unlock()
	l.wake()
	return true
}

// OnTick registers fn to run on the loop once per iteration, after the
// events (only on the loop).
func (l *Loop) OnTick(fn func()) { l.tick = append(l.tick, fn) }

func (l *Loop) drainInbox() {
	var buf [8]byte
	unix.Read(l.evfd, buf[:])
	l.wakeSent.Store(false)
	l.mu.Lock()
	in := l.inbox
	l.inbox = l.inbox2[:0]
	l.inbox2 = nil
	hand := l.hand
	l.hand = l.hand2[:0]
	l.hand2 = nil
	l.mu.Unlock()
	for i := range hand {
		h := &hand[i]
		l.load.Add(-1) // Accepted registers it
		h.ln.a.Accepted(l, h.fd, h.ln.local, h.remote)
		*h = handoff{}
	}
	for i, fn := range in {
		fn()
		in[i] = nil
	}
	l.mu.Lock()
	if l.inbox2 == nil {
		l.inbox2 = in[:0]
	}
	if l.hand2 == nil {
		l.hand2 = hand[:0]
	}
	l.mu.Unlock()
}

// register adds fd to the loop's epoll set (edge-triggered, both
// directions and the peer's half-close) and table.
func (l *Loop) register(c *Conn, events uint32) error {
	fd := c.fd
	for fd >= len(l.conns) {
		n := 2 * len(l.conns)
		if n < 64 {
			n = 64
		}
		nc := make([]*Conn, n)
		copy(nc, l.conns)
		l.conns = nc
	}
	l.gen++
	if l.gen == 0 {
		l.gen = 1
	}
	c.gen = l.gen
	ev := unix.EpollEvent{Events: events, Fd: int32(fd), Pad: int32(c.gen)}
	if err := epollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return err
	}
	l.conns[fd] = c
	l.nconns++
	l.load.Add(1)
	return nil
}

func epollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// Conns is the number of descriptors registered with the loop.
func (l *Loop) Conns() int { return l.nconns }

// Tasks is the number of tasks alive on the loop (running, waiting or
// parked in the pool).
func (l *Loop) Tasks() int { return l.ntasks }

// Busy is the number of tasks running or waiting (not in the pool).
func (l *Loop) Busy() int { return l.ntasks - len(l.idle) }

func (l *Loop) run() {
	defer l.finish()
	if len(l.cpus) > 0 {
		bindThread(l.cpus)
	}
	for {
		if l.wakeSent.Load() {
			l.drainInbox()
		}
		l.runQueued()
		for _, fn := range l.tick {
			fn()
		}
		l.runQueued()
		if l.stopping {
			l.closeAll()
			l.runQueued()
			if l.ntasks == len(l.idle) && l.nconns == 0 && len(l.runq) == 0 {
				return
			}
		}
		n := l.poll()
		l.updateNow()
		for i := 0; i < n; i++ {
			e := &l.events[i]
			fd := int(e.Fd)
			if fd == l.evfd && e.Pad == 0 {
				l.drainInbox()
				continue
			}
			if fd >= len(l.conns) {
				continue
			}
			c := l.conns[fd]
			if c == nil || c.gen != uint32(e.Pad) {
				continue // closed (and maybe reused) since the event was queued
			}
			c.event(e.Events)
			l.runQueued()
		}
		if n == len(l.events) && len(l.events) < 4096 {
			l.events = make([]unix.EpollEvent, 2*len(l.events))
		}
		l.wheel.advance(l.now, fireTimer)
		l.runQueued()
	}
}

func fireTimer(t *Timer) { t.h.Expire(t) }

// poll returns the next batch of events, waiting for them when there is
// nothing else to do. The wait is in Go's network poller, on the epoll
// descriptor itself (an epoll set is readable when it has events): the
// loop goroutine parks like any other, and no thread sits in a blocking
// epoll_wait, which would make the scheduler hand its processor off and
// its monitor wake every 20 µs to do so. Timers bound the wait through
// the descriptor's read deadline.
func (l *Loop) poll() int {
	if len(l.runq) > 0 || len(l.pend) > 0 || l.wakeSent.Load() {
		return l.epollNow()
	}
	var dl time.Time
	if when, ok := l.wheel.next(); ok {
		dl = l.base.Add(time.Duration(when))
	}
	if l.stopping {
		if limit := l.nowT.Add(10 * time.Millisecond); dl.IsZero() || dl.After(limit) {
			dl = limit // tasks still unwinding (offloaded work)
		}
	}
	if !dl.Equal(l.pollDL) {
		l.pollDL = dl
		l.pollFile.SetReadDeadline(dl)
	}
	l.polled = 0
	err := l.pollRC.Read(l.pollFn)
	if err != nil {
		// The deadline (a timer is due) or the loop's end.
		l.pollDL = time.Time{}
		l.pollFile.SetReadDeadline(time.Time{})
		return 0
	}
	return l.polled
}

// tryPoll is the poller's callback: epoll_wait without waiting.
func (l *Loop) tryPoll(uintptr) bool {
	l.polled = l.epollNow()
	return l.polled > 0
}

func (l *Loop) epollNow() int {
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			panic("evloop: epoll_wait: " + e.Error())
		}
		return int(r)
	}
}

// closeAll closes every connection (stopping): their tasks unwind with
// net.ErrClosed.
func (l *Loop) closeAll() {
	for _, c := range l.conns {
		if c != nil {
			c.Close()
		}
	}
}

func (l *Loop) finish() {
	for _, t := range l.idle {
		t.stop()
	}
	l.idle = nil
	for i := range l.pipes {
		l.closePipe(&l.pipes[i])
	}
	l.pipes = nil
	l.closeFds()
	l.mu.Lock()
	l.dead = true
	in := l.inbox
	l.inbox = nil
	hand := l.hand
	l.hand = nil
	l.mu.Unlock()
	for _, h := range hand {
		// Handed over as the loop stopped: nobody serves it.
		unix.Close(h.fd)
		h.ln.a.Unadmit()
	}
	for _, fn := range in {
		fn()
	}
}

// bindThread locks the calling goroutine to its OS thread and binds the
// thread to the CPUs listed that the process may use. The tasks the loop
// resumes are coroutines: they run on the same thread.
func bindThread(cpus []int) {
	var allowed, set unix.CPUSet
	if unix.SchedGetaffinity(0, &allowed) != nil {
		return
	}
	for _, c := range cpus {
		if allowed.IsSet(c) {
			set.Set(c)
		}
	}
	if set.Count() == 0 {
		return // HAProxy: an empty intersection binds nothing
	}
	runtime.LockOSThread()
	_ = unix.SchedSetaffinity(0, &set)
}

// BindProcess binds every thread of the process to the CPUs listed that
// it may use (threads created later inherit it).
func BindProcess(cpus []int) error {
	var allowed, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		return err
	}
	for _, c := range cpus {
		if allowed.IsSet(c) {
			set.Set(c)
		}
	}
	if set.Count() == 0 {
		return nil
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			_ = unix.SchedSetaffinity(tid, &set)
		}
	}
	return nil
}
