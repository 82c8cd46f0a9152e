package evloop

import (
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Splice moves n bytes (n < 0: until src's end of stream) from src to
// dst through a pipe, inside the kernel (splice(2)), from the running
// task, waiting on either side as needed: a large HTTP body no filter
// looks at never visits user space. Each wait is bounded by srcTimeout or
// dstTimeout (0: none). It returns the bytes delivered to dst and the
// error of the side that failed: rerr reading src (io.ErrUnexpectedEOF
// when it ended before n bytes), werr writing dst.
func (l *Loop) Splice(dst, src *Conn, n int64, srcTimeout, dstTimeout time.Duration) (moved int64, rerr, werr error) {
	p, err := l.getPipe()
	if err != nil {
		return 0, os.NewSyscallError("pipe2", err), nil
	}
	inPipe := 0
	defer func() {
		if inPipe > 0 {
			l.closePipe(&p) // bytes left inside: not reusable
		} else {
			l.putPipe(&p)
		}
	}()
	for {
		if inPipe == 0 {
			if n >= 0 && moved == n {
				return moved, nil, nil
			}
			want := spliceChunk
			if n >= 0 && n-moved < int64(want) {
				want = int(n - moved)
			}
			if src.closed {
				return moved, errClosed(), nil
			}
			k, err := unix.Splice(src.fd, nil, p.w, nil, want, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			switch {
			case err == unix.EAGAIN:
				if !src.hup {
					src.rready = false
				}
				src.SetReadTimeout(srcTimeout)
				if err := src.WaitRead(); err != nil {
					return moved, err, nil
				}
				continue
			case err != nil:
				return moved, os.NewSyscallError("splice", err), nil
			case k == 0:
				if n >= 0 {
					return moved, io.ErrUnexpectedEOF, nil
				}
				return moved, nil, nil
			}
			inPipe = int(k)
		}
		if dst.closed {
			return moved, nil, errClosed()
		}
		k, err := unix.Splice(p.r, nil, dst.fd, nil, inPipe, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		switch {
		case err == unix.EAGAIN:
			dst.wready = false
			dst.SetWriteTimeout(dstTimeout)
			if err := dst.WaitWrite(); err != nil {
				return moved, nil, err
			}
			continue
		case err != nil:
			return moved, nil, os.NewSyscallError("splice", err)
		}
		inPipe -= int(k)
		moved += k
	}
}
