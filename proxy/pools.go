package proxy

// Each event loop keeps its own free lists of what a transaction borrows
// (buffers, transaction state, sessions): taking and giving back is a
// slice operation, with no lock, no atomic and no allocation (a sync.Pool
// boxes a slice header on every Put). Everything on a loop runs on its
// goroutine, so the lists need no synchronisation.
//
// Lists are trimmed once a second (loopState.trim) to what was needed in
// that second: a burst's buffers (a slowloris wave, a spike of large
// bodies) go back to the garbage collector, and from there to the system.

// freeList is a loop's cache of reusable values of one kind.
type freeList[T any] struct {
	free []T
	low  int // fewest values free since the last trim
	max  int // bound on free values
	make func() T
}

func (f *freeList[T]) get() T {
	n := len(f.free)
	if n == 0 {
		f.low = 0
		return f.make()
	}
	v := f.free[n-1]
	var zero T
	f.free[n-1] = zero
	f.free = f.free[:n-1]
	if n-1 < f.low {
		f.low = n - 1
	}
	return v
}

func (f *freeList[T]) put(v T) {
	if len(f.free) < f.max {
		f.free = append(f.free, v)
	}
}

// trim lets go of the values that stayed unused since the last trim.
func (f *freeList[T]) trim() {
	keep := len(f.free) - f.low
	var zero T
	for i := keep; i < len(f.free); i++ {
		f.free[i] = zero
	}
	f.free = f.free[:keep]
	if keep == 0 {
		f.free = nil // the backing array too
	}
	f.low = keep
}

// bufList is a freeList of byte buffers of one size.
type bufList struct {
	freeList[[]byte]
	size int
}

func newBufList(size, max int) *bufList {
	b := &bufList{size: size}
	b.max = max
	b.make = func() []byte { return make([]byte, size) }
	return b
}

// put keeps b if it is of the list's size.
func (b *bufList) put(buf []byte) {
	if cap(buf) == b.size {
		b.freeList.put(buf[:b.size])
	}
}

// partClasses are the sizes of partial request heads' buffers: 256 B
// doubling up to 32 KiB (a head never exceeds tune.bufsize).
const partClasses = 8

func partClass(n int) int {
	c := 0
	for size := 256; size < n && c < partClasses-1; size <<= 1 {
		c++
	}
	return c
}

// getPart returns an empty buffer with room for n bytes.
func (ls *loopState) getPart(n int) []byte {
	c := partClass(n)
	if 256<<c < n {
		return make([]byte, 0, n)
	}
	return ls.parts[c].get()[:0]
}

func (ls *loopState) putPart(b []byte) {
	if b == nil {
		return
	}
	c := partClass(cap(b))
	if 256<<c == cap(b) {
		ls.parts[c].put(b[:cap(b)])
	}
}

// initPools sets up the loop's free lists (bufsize: tune.bufsize).
func (ls *loopState) initPools(bufsize int) {
	ls.bufs = newBufList(bufsize, 256)
	ls.bigs = newBufList(bodyBufSize, 64)
	for c := range ls.parts {
		ls.parts[c] = newBufList(256<<c, 256)
	}
	ls.works.max = 256
	ls.works.make = newWork
	ls.servers.max = 1024
	ls.servers.make = func() *serverConn { return new(serverConn) }
	ls.sessions.max = 1024
	ls.sessions.make = func() *session {
		s := new(session)
		s.serveFn = s.serve
		return s
	}
}

// trim trims every free list of the loop (once a second).
func (ls *loopState) trim() {
	ls.bufs.trim()
	ls.bigs.trim()
	for _, p := range ls.parts {
		p.trim()
	}
	ls.works.trim()
	ls.sessions.trim()
	ls.servers.trim()
}
