package h2

import "golang.org/x/net/http2"

// The frame layer (RFC 9113 §4, §6): a frame is read only once it is
// whole in the connection's buffer, so parsing is a look at nine bytes
// and a slice, with no allocation; writing appends to the connection's
// output buffer. (x/net's Framer allocates a value per frame read and
// needs an io.Reader that can block; the event loop has neither.)

const (
	frameData         uint8 = 0x0
	frameHeaders      uint8 = 0x1
	framePriority     uint8 = 0x2
	frameRSTStream    uint8 = 0x3
	frameSettings     uint8 = 0x4
	framePushPromise  uint8 = 0x5
	framePing         uint8 = 0x6
	frameGoAway       uint8 = 0x7
	frameWindowUpdate uint8 = 0x8
	frameContinuation uint8 = 0x9

	flagEndStream  uint8 = 0x1
	flagAck        uint8 = 0x1
	flagEndHeaders uint8 = 0x4
	flagPadded     uint8 = 0x8
	flagPriority   uint8 = 0x20

	frameHeaderLen = 9
)

// Setting identifiers (RFC 9113 §6.5.2).
const (
	settingHeaderTableSize      = uint16(http2.SettingHeaderTableSize)
	settingEnablePush           = uint16(http2.SettingEnablePush)
	settingMaxConcurrentStreams = uint16(http2.SettingMaxConcurrentStreams)
	settingInitialWindowSize    = uint16(http2.SettingInitialWindowSize)
	settingMaxFrameSize         = uint16(http2.SettingMaxFrameSize)
	settingMaxHeaderListSize    = uint16(http2.SettingMaxHeaderListSize)
)

// frameHeader is a frame's nine-byte header.
type frameHeader struct {
	length uint32
	typ    uint8
	flags  uint8
	id     uint32
}

func parseFrameHeader(b []byte) frameHeader {
	return frameHeader{
		length: uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:    b[3],
		flags:  b[4],
		id:     be32(b[5:]) & (1<<31 - 1),
	}
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func appendFrameHeader(dst []byte, length int, typ, flags uint8, id uint32) []byte {
	return append(dst, byte(length>>16), byte(length>>8), byte(length), typ, flags,
		byte(id>>24)&0x7f, byte(id>>16), byte(id>>8), byte(id))
}

func append32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func appendRST(dst []byte, id uint32, code http2.ErrCode) []byte {
	dst = appendFrameHeader(dst, 4, frameRSTStream, 0, id)
	return append32(dst, uint32(code))
}

func appendWindowUpdate(dst []byte, id uint32, inc uint32) []byte {
	dst = appendFrameHeader(dst, 4, frameWindowUpdate, 0, id)
	return append32(dst, inc&(1<<31-1))
}

func appendGoAway(dst []byte, last uint32, code http2.ErrCode) []byte {
	dst = appendFrameHeader(dst, 8, frameGoAway, 0, 0)
	dst = append32(dst, last&(1<<31-1))
	return append32(dst, uint32(code))
}

func appendPing(dst []byte, ack bool, data []byte) []byte {
	var fl uint8
	if ack {
		fl = flagAck
	}
	dst = appendFrameHeader(dst, 8, framePing, fl, 0)
	return append(dst, data[:8]...)
}

func appendSetting(dst []byte, id uint16, v uint32) []byte {
	dst = append(dst, byte(id>>8), byte(id))
	return append32(dst, v)
}

// appendData appends DATA frames carrying p, each at most maxFrame
// bytes; end sets END_STREAM on the last (an empty p with end is one
// empty frame).
func appendData(dst []byte, id uint32, p []byte, end bool, maxFrame int) []byte {
	for {
		n := len(p)
		if n > maxFrame {
			n = maxFrame
		}
		var fl uint8
		if end && n == len(p) {
			fl = flagEndStream
		}
		dst = appendFrameHeader(dst, n, frameData, fl, id)
		dst = append(dst, p[:n]...)
		p = p[n:]
		if len(p) == 0 {
			return dst
		}
	}
}

// appendHeaderBlock appends a header block as a HEADERS frame and as
// many CONTINUATION frames as maxFrame makes necessary.
func appendHeaderBlock(dst []byte, id uint32, block []byte, end bool, maxFrame int) []byte {
	typ := frameHeaders
	var fl uint8
	if end {
		fl = flagEndStream
	}
	for {
		n := len(block)
		if n > maxFrame {
			n = maxFrame
		}
		f := fl
		if n == len(block) {
			f |= flagEndHeaders
		}
		dst = appendFrameHeader(dst, n, typ, f, id)
		dst = append(dst, block[:n]...)
		block = block[n:]
		if len(block) == 0 {
			return dst
		}
		typ, fl = frameContinuation, 0
	}
}
