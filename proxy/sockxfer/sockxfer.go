// Package sockxfer hands listening sockets from one process to the next,
// in HAProxy 2.6's `_getsocks` format, so a reload never closes a
// listening socket: the new process accepts on the very socket (and
// accept queue) the old one had.
//
// The exchange (HAProxy's cli.c _getsocks and sock.c
// sock_get_old_sockets, read from the wire, not the code): the receiver
// sends "_getsocks\n"; the sender answers with the number of sockets as a
// native-endian int32, then batches of at most MaxBatch descriptors in
// SCM_RIGHTS messages whose data holds, per descriptor, a namespace name
// and an interface name (each a length byte then the bytes) and 4 zero
// bytes (listener options before HAProxy 2.3). The receiver acknowledges
// each message with an int32; the sender waits for that acknowledgement
// after each full batch. A sender with nothing to give (or not allowed
// to) closes without a count.
//
// Because the format is HAProxy's, `halo haproxy -x <socket>` takes the
// sockets of a running HAProxy (stats socket … expose-fd listeners), and
// HAProxy's -x takes halo's.
package sockxfer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// MaxBatch is how many descriptors one message carries (HAProxy's
// MAX_SEND_FD).
const MaxBatch = 253

// Command is what a receiver sends to ask for the sockets.
const Command = "_getsocks"

// Socket is one listening socket handed over, with what HAProxy sends
// beside it.
type Socket struct {
	FD        int
	Namespace string
	Interface string
}

// ErrFormat is a malformed transfer.
var ErrFormat = errors.New("sockxfer: inconsistent socket transfer")

// Send writes socks to the peer of rc (which already asked), as HAProxy's
// _getsocks does. The descriptors stay open in this process.
func Send(rc syscall.RawConn, socks []Socket) error {
	if len(socks) == 0 {
		return nil // HAProxy closes without a count
	}
	var cnt [4]byte
	binary.NativeEndian.PutUint32(cnt[:], uint32(len(socks)))
	if err := sendmsg(rc, cnt[:], nil); err != nil {
		return err
	}
	for start := 0; start < len(socks); start += MaxBatch {
		end := min(start+MaxBatch, len(socks))
		var data []byte
		fds := make([]int, 0, end-start)
		for _, s := range socks[start:end] {
			data = appendRecord(data, s)
			fds = append(fds, s.FD)
		}
		if err := sendmsg(rc, data, unix.UnixRights(fds...)); err != nil {
			return err
		}
		if end-start == MaxBatch {
			// HAProxy waits for the acknowledgement of each full batch.
			var ack [4]byte
			if err := readFull(rc, ack[:]); err != nil {
				return err
			}
		}
	}
	return nil
}

func appendRecord(dst []byte, s Socket) []byte {
	dst = append(dst, byte(len(s.Namespace)))
	dst = append(dst, s.Namespace...)
	dst = append(dst, byte(len(s.Interface)))
	dst = append(dst, s.Interface...)
	return append(dst, 0, 0, 0, 0)
}

// Receive asks the peer of rc for its sockets and reads them. An empty
// answer (the peer closed without a count) is no socket and an error, as
// HAProxy warns then.
func Receive(rc syscall.RawConn) ([]Socket, error) {
	if err := sendmsg(rc, []byte(Command+"\n"), nil); err != nil {
		return nil, err
	}
	var cnt [4]byte
	if err := readFull(rc, cnt[:]); err != nil {
		return nil, fmt.Errorf("failed to get the number of sockets to be transferred: %w", err)
	}
	n := int(int32(binary.NativeEndian.Uint32(cnt[:])))
	if n < 0 || n > 1<<16 {
		return nil, ErrFormat
	}
	var fds []int
	var data []byte
	buf := make([]byte, MaxBatch*(1+255+1+255+4))
	oob := make([]byte, unix.CmsgSpace(4*MaxBatch))
	closeAll := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	for len(fds) < n {
		m, oobn, err := recvmsg(rc, buf, oob)
		if err != nil {
			closeAll()
			return nil, err
		}
		if m == 0 && oobn == 0 {
			closeAll()
			return nil, fmt.Errorf("expected %d sockets, got %d", n, len(fds))
		}
		var ack [4]byte
		binary.NativeEndian.PutUint32(ack[:], uint32(len(fds)))
		_ = sendmsg(rc, ack[:], nil)
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			closeAll()
			return nil, err
		}
		for _, cm := range msgs {
			got, err := unix.ParseUnixRights(&cm)
			if err != nil {
				continue
			}
			for _, fd := range got {
				unix.CloseOnExec(fd)
			}
			fds = append(fds, got...)
		}
		data = append(data, buf[:m]...)
		if len(fds) > n {
			closeAll()
			return nil, fmt.Errorf("got too many sockets")
		}
	}
	socks, err := decodeRecords(data, fds)
	if err != nil {
		closeAll()
		return nil, err
	}
	return socks, nil
}

// decodeRecords pairs each descriptor with its record.
func decodeRecords(data []byte, fds []int) ([]Socket, error) {
	socks := make([]Socket, 0, len(fds))
	off := 0
	str := func() (string, error) {
		if off >= len(data) {
			return "", ErrFormat
		}
		l := int(data[off])
		off++
		if off+l > len(data) {
			return "", ErrFormat
		}
		s := string(data[off : off+l])
		off += l
		return s, nil
	}
	for _, fd := range fds {
		ns, err := str()
		if err != nil {
			return nil, err
		}
		iface, err := str()
		if err != nil {
			return nil, err
		}
		if off+4 > len(data) {
			return nil, ErrFormat
		}
		off += 4
		socks = append(socks, Socket{FD: fd, Namespace: ns, Interface: iface})
	}
	return socks, nil
}

// Fetch connects to a running process's unix socket (HAProxy's -x: its
// stats socket with `expose-fd listeners`) and takes its listening
// sockets.
func Fetch(path string, timeout time.Duration) ([]Socket, error) {
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return nil, fmt.Errorf("Failed to connect to the old process socket '%s'", path)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	rc, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return nil, err
	}
	return Receive(rc)
}

func sendmsg(rc syscall.RawConn, p, oob []byte) error {
	var serr error
	err := rc.Write(func(fd uintptr) bool {
		for {
			serr = unix.Sendmsg(int(fd), p, oob, nil, 0)
			if serr != unix.EINTR {
				return serr != unix.EAGAIN
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

func recvmsg(rc syscall.RawConn, p, oob []byte) (n, oobn int, err error) {
	var rerr error
	cerr := rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), p, oob, unix.MSG_CMSG_CLOEXEC)
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	if cerr != nil {
		return 0, 0, cerr
	}
	return n, oobn, rerr
}

func readFull(rc syscall.RawConn, p []byte) error {
	for done := 0; done < len(p); {
		n, _, err := recvmsg(rc, p[done:], nil)
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("connection closed")
		}
		done += n
	}
	return nil
}
