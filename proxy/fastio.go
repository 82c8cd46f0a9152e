package proxy

import (
	"net"
	"time"

	"halo/proxy/evloop"
)

// fastConn is how the HTTP engine reads and times a connection: reads
// and writes go through c (the socket, or crypto/tls over it), timeouts
// are set on the socket under it, where they cost two integer writes (the
// loop's timer wheel arms them only when a read or write has to wait).
type fastConn struct {
	c  net.Conn
	ec *evloop.Conn
	h2 *h2StreamConn // instead of ec: an HTTP/2 stream (h2serve.go)
}

func (f *fastConn) init(c net.Conn, ec *evloop.Conn) { f.c, f.ec, f.h2 = c, ec, nil }

// Read reads into p.
func (f *fastConn) Read(p []byte) (int, error) { return f.c.Read(p) }

// Write writes p.
func (f *fastConn) Write(p []byte) (int, error) { return f.c.Write(p) }

// readTimeout arms an inactivity timeout for the next reads (0: none).
func (f *fastConn) readTimeout(timeout time.Duration) {
	if f.h2 != nil {
		f.h2.rto = timeout
		return
	}
	f.ec.SetReadTimeout(timeout)
}

// writeTimeout arms the timeout for the next writes (0: none).
func (f *fastConn) writeTimeout(timeout time.Duration) {
	if f.h2 != nil {
		f.h2.wto = timeout
		return
	}
	f.ec.SetWriteTimeout(timeout)
}
