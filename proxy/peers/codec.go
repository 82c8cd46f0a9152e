package peers

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The wire format of HAProxy's peers protocol (doc/peers-v2.0.txt, and
// the 2.1 revision HAProxy 2.6 speaks: timed updates, heartbeats, data
// type parameters in table definitions).

// Protocol version: 2.1; a peer answering 502 to it is spoken to in 2.0.
const (
	protoName   = "HAProxyS"
	majorVer    = 2
	minorVer    = 1
	dwngrdMinor = 0
)

// Handshake status codes.
const (
	statusSuccess    = 200
	statusTryAgain   = 300
	statusErrProto   = 501
	statusErrVersion = 502
	statusErrHost    = 503
	statusErrPeer    = 504
)

// Message classes and types.
const (
	classControl = 0
	classError   = 1
	classStkt    = 10
	classReserve = 255

	ctrlResyncReq      = 0
	ctrlResyncFinished = 1
	ctrlResyncPartial  = 2
	ctrlResyncConfirm  = 3
	ctrlHeartbeat      = 4

	errProto     = 0
	errSizeLimit = 1

	stktUpdate                = 0x80
	stktIncUpdate             = 0x81
	stktDefine                = 0x82
	stktSwitch                = 0x83
	stktAck                   = 0x84
	stktUpdateTimed           = 0x85
	stktIncUpdateTimed        = 0x86
	stktHasData               = 0x80 // types from 128 carry a length and data
	maxMsgLen                 = 16384
	encLengthMax              = 5
	enc2BytesMin       uint64 = 0xf0
)

// Network key types (peer_net_key_type).
const (
	netKeySInt = 2
	netKeyIPv4 = 4
	netKeyIPv6 = 5
	netKeyStr  = 6
	netKeyBin  = 7
)

// appendVarint is HAProxy's intencode: values under 240 in one byte, else
// the low 4 bits with the 0xf0 mark then 7 bits a byte, the high bit
// saying more follow.
func appendVarint(dst []byte, v uint64) []byte {
	if v < enc2BytesMin {
		return append(dst, byte(v))
	}
	dst = append(dst, byte(v)|byte(enc2BytesMin))
	v = (v - enc2BytesMin) >> 4
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v = (v - 0x80) >> 7
	}
	return append(dst, byte(v))
}

// ErrTruncated is a message or varint cut short.
var ErrTruncated = errors.New("peers: truncated")

// readVarint is HAProxy's intdecode over b; it returns the value and the
// bytes used.
func readVarint(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, ErrTruncated
	}
	v := uint64(b[0])
	n := 1
	if v < enc2BytesMin {
		return v, n, nil
	}
	shift := uint(4)
	for {
		if n >= len(b) {
			return 0, 0, ErrTruncated
		}
		if shift > 63 {
			return 0, 0, errors.New("peers: varint too long")
		}
		c := b[n]
		v += uint64(c) << shift
		shift += 7
		n++
		if c < 0x80 {
			return v, n, nil
		}
	}
}

// Message is one message of an established session.
type Message struct {
	Class, Type byte
	// Data is the body of a stick-table message (types >= 128); it
	// points into the reader's buffer until the next ReadMessage.
	Data []byte
}

// readMessage reads one message: two header bytes, then for types of 128
// and more a varint length and that many bytes.
func readMessage(r *bufio.Reader, buf []byte) (Message, []byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Message{}, buf, err
	}
	m := Message{Class: hdr[0], Type: hdr[1]}
	if m.Type&stktHasData == 0 {
		return m, buf, nil
	}
	var lb [encLengthMax]byte
	var n uint64
	for i := 0; ; i++ {
		if i >= encLengthMax {
			return m, buf, errors.New("peers: message length too long")
		}
		c, err := r.ReadByte()
		if err != nil {
			return m, buf, err
		}
		lb[i] = c
		v, _, err := readVarint(lb[:i+1])
		if err == nil {
			n = v
			break
		}
	}
	if n > maxMsgLen {
		return m, buf, errSizeLimitMsg
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return m, buf, err
	}
	m.Data = buf
	return m, buf, nil
}

var errSizeLimitMsg = errors.New("peers: message over the size limit")

// appendMessage frames a stick-table message: class, type, varint
// length, data.
func appendMessage(dst []byte, class, typ byte, data []byte) []byte {
	dst = append(dst, class, typ)
	if typ&stktHasData != 0 {
		dst = appendVarint(dst, uint64(len(data)))
		dst = append(dst, data...)
	}
	return dst
}

// hello is the client's first message: the protocol and version, the
// name of the peer it thinks it talks to, then its own name, pid and
// relative pid.
type hello struct {
	Major, Minor int
	Remote       string // the name the client expects the server to have
	Local        string // the client's name
	Pid          int
}

func (h hello) appendTo(dst []byte) []byte {
	return fmt.Appendf(dst, "%s %d.%d\n%s\n%s %d %d\n", protoName, h.Major, h.Minor, h.Remote, h.Local, h.Pid, 1)
}

// readLine reads one line (a trailing \r is dropped), at most 1 KiB.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			return "", err
		}
		if c == '\n' {
			break
		}
		b = append(b, c)
		if len(b) > 1024 {
			return "", errors.New("peers: line too long")
		}
	}
	return strings.TrimSuffix(string(b), "\r"), nil
}

// readHello reads and checks a client's hello as a server: the status to
// answer (200 on success) and the client's name.
func readHello(r *bufio.Reader, local string) (h hello, status int, err error) {
	l, err := readLine(r)
	if err != nil {
		return h, 0, err
	}
	rest, ok := strings.CutPrefix(l, protoName+" ")
	if !ok {
		return h, statusErrProto, nil
	}
	maj, min, ok := strings.Cut(rest, ".")
	h.Major, err = strconv.Atoi(maj)
	if !ok || err != nil {
		return h, statusErrVersion, nil
	}
	h.Minor, err = strconv.Atoi(min)
	if err != nil || h.Major != majorVer || h.Minor > minorVer {
		return h, statusErrVersion, nil
	}
	if h.Remote, err = readLine(r); err != nil {
		return h, 0, err
	}
	if h.Remote != local {
		return h, statusErrHost, nil
	}
	l, err = readLine(r)
	if err != nil {
		return h, 0, err
	}
	name, pid, ok := strings.Cut(l, " ")
	if !ok {
		return h, statusErrProto, nil
	}
	h.Local = name
	h.Pid, _ = strconv.Atoi(strings.Fields(pid + " ")[0])
	return h, statusSuccess, nil
}
