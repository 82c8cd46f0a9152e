package h2

import (
	"crypto/tls"
	"time"

	"halo/proxy/evloop"
)

// Server is the server side of an HTTP/2 connection on its event loop.
// Each stream whose request head is complete runs its Handler in a task
// of the loop; the stream is done when the handler returns (an
// unanswered stream is then reset).
type Server struct {
	driver
}

// Handler serves one stream (in a task of the connection's loop).
type Handler func(s *Stream)

// ServerConfig is what Start needs besides the socket.
type ServerConfig struct {
	Settings Settings
	Limits   Limits
	Pool     Pool
	Handler  Handler
	// OnEnd runs once the socket is closed and every stream's handler
	// has returned.
	OnEnd func()
}

// Start serves ec (in clear; or under TLS: tc over tt, whose handshake
// is done) on its loop; pre holds bytes already read from the client
// (the preface, when whoever read it chose HTTP/2). On the loop.
func (sv *Server) Start(ec *evloop.Conn, tc *tls.Conn, tt *Transport, cfg *ServerConfig, pre []byte) {
	sv.Conn.init(false, cfg.Settings, cfg.Limits, ec.Loop())
	sv.setup(ec, tc, tt, cfg.Pool)
	sv.handler = cfg.Handler
	sv.onOpen = sv.opened
	sv.onEnd = cfg.OnEnd
	sv.writeSettings()
	if len(pre) > 0 {
		sv.rbuf = sv.getBuf()
		sv.rw = copy(sv.rbuf, pre)
		sv.process()
	}
	// Bytes may wait already (in the socket, or decrypted in crypto/tls's
	// buffers with no new event to come): look now.
	sv.read()
}

func (sv *Server) opened(s *Stream) { sv.pend = append(sv.pend, s) }

// Shutdown sends GOAWAY (a soft stop): open streams finish, then the
// connection closes.
func (sv *Server) Shutdown() {
	if sv.state != stateLive {
		return
	}
	sv.Conn.Shutdown()
	sv.arm()
}

// Client is the client side of an HTTP/2 connection to a server on an
// event loop: tasks of that loop open streams on it (StartRequest).
type Client struct {
	driver
	idleSince time.Time
}

// ClientConfig is what a Client needs besides the socket.
type ClientConfig struct {
	Settings Settings
	Limits   Limits
	Pool     Pool
	OnEnd    func()
}

// Start sends the preface and SETTINGS on ec (tc over tt under TLS) and
// serves the connection on its loop. On the loop.
func (cl *Client) Start(ec *evloop.Conn, tc *tls.Conn, tt *Transport, cfg *ClientConfig) {
	cl.Conn.init(true, cfg.Settings, cfg.Limits, ec.Loop())
	cl.setup(ec, tc, tt, cfg.Pool)
	cl.onEnd = cfg.OnEnd
	cl.out = append(cl.out, Preface...)
	cl.writeSettings()
	cl.idleSince = ec.Loop().Now()
	cl.read()
}

// WaitSettled waits (in a task) for the server's first SETTINGS (its
// stream limit above all), at most timeout; false if the connection
// failed or the time ran out.
func (cl *Client) WaitSettled(timeout time.Duration) bool {
	for !cl.settled && cl.Err == nil {
		if !cl.ready.WaitTimeout(cl.loop, timeout) {
			return false
		}
	}
	return cl.settled && cl.Err == nil
}

// Close ends the connection (GOAWAY NO_ERROR, then FIN).
func (cl *Client) Close() {
	if cl.state != stateLive {
		return
	}
	cl.Conn.Shutdown()
	cl.driver.close()
}
