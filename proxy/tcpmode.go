package proxy

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"
)

// serveTCP runs one mode-tcp connection: choose a backend and a server,
// connect (retries, redispatch), then copy both ways until both sides
// have closed (half-close is propagated) or a timeout fires.
func (rt *Runtime) serveTCP(fe *Frontend, c net.Conn, src, dst netip.AddrPort, tlsState *TLSConn) {
	defer c.Close()
	tx := &Txn{}
	tx.reset()
	tx.Frontend, tx.Src, tx.Dst = fe, src, dst
	tx.TLS, tx.SSL, tx.ClientCert = tlsState.state(), tlsState != nil, tlsState.client()
	tx.AcceptAt = time.Now()
	tx.ReqAt = tx.AcceptAt
	tx.Th, tx.Ti, tx.TR = 0, 0, 0
	defer rt.logTxn(tx)
	if d := inspectDelay(fe.Proxy); d > 0 {
		// tcp-request content rules may wait for the client's first
		// bytes (MorePayload); they are forwarded to the server below.
		tx.payConn, tx.payUntil, tx.payMax = c, tx.AcceptAt.Add(d), rt.bufsize
	}

	if v := rt.runRequest(tx, fe.Proxy); v != Continue {
		tx.setTerm('P', 'R')
		return
	}
	be := rt.chooseBackend(tx)
	if be == nil {
		tx.setTerm('P', 'R')
		return
	}
	if be.Proxy != fe.Proxy {
		if v := rt.runRequest(tx, be.Proxy); v != Continue {
			tx.setTerm('P', 'R')
			return
		}
	}
	be.Counters.connOpen()
	defer tx.leaveBackend(be)
	key := PickKey{Src: src, Dst: dst, Txn: tx}
	sc, err := rt.connect(tx, &key)
	if err != nil {
		return
	}
	srv := tx.Server
	defer func() {
		sc.close()
		tx.SrvConn = srv.Counters.CurConns.Load()
		tx.released = true
		be.Picker.Release(srv)
	}()
	cliTO := pick(fe.Proxy.Timeouts.Tunnel, fe.Proxy.Timeouts.Client)
	srvTO := pick(be.Proxy.Timeouts.Tunnel, be.Proxy.Timeouts.Server)
	if be.Proxy.Timeouts.Tunnel > 0 {
		cliTO = be.Proxy.Timeouts.Tunnel
	}
	cliFin := pick(fe.Proxy.Timeouts.ClientFin, cliTO)
	srvFin := pick(be.Proxy.Timeouts.ServerFin, srvTO)
	in, out, cause := rt.tunnel(c, sc.c, tx.Payload, nil, cliTO, srvTO, cliFin, srvFin)
	tx.BytesIn, tx.BytesOut = in, out
	fe.Counters.BytesIn.Add(in)
	fe.Counters.BytesOut.Add(out)
	be.Counters.BytesIn.Add(in)
	be.Counters.BytesOut.Add(out)
	srv.Counters.BytesIn.Add(in)
	srv.Counters.BytesOut.Add(out)
	if cause != 0 {
		tx.setTerm(cause, 'D')
	}
	tx.Ta = time.Since(tx.ReqAt)
	tx.Tt = tx.Ta
}

// inspectDelay is the proxy's tcp-request inspect-delay (0 when unset).
func inspectDelay(px *Proxy) time.Duration {
	var d time.Duration
	for _, r := range px.TCPRequest {
		if r.Stage == "inspect-delay" && len(r.Args) > 0 {
			if v, err := time.ParseDuration(r.Args[0]); err == nil {
				d = v
			}
		}
	}
	return d
}

// PayloadState returns the client bytes read so far and whether no more
// will be read (always final outside mode tcp with inspect-delay).
func (tx *Txn) PayloadState() ([]byte, bool) {
	return tx.Payload, tx.PayloadFinal || tx.payConn == nil
}

// MorePayload waits for more of the client's first bytes, until
// tcp-request inspect-delay expires, the buffer (tune.bufsize) is full or
// the client closes; the bytes are kept in tx.Payload and forwarded to the
// server unchanged. It reports whether anything changed (more bytes, or
// the data became final), i.e. whether rules are worth evaluating again.
func (tx *Txn) MorePayload() bool {
	if tx.payConn == nil || tx.PayloadFinal {
		return false
	}
	if tx.Payload == nil {
		tx.Payload = make([]byte, 0, tx.payMax)
	}
	if len(tx.Payload) >= tx.payMax || !time.Now().Before(tx.payUntil) {
		tx.PayloadFinal = true
		return true
	}
	_ = tx.payConn.SetReadDeadline(tx.payUntil)
	n, err := tx.payConn.Read(tx.Payload[len(tx.Payload):tx.payMax])
	_ = tx.payConn.SetReadDeadline(time.Time{})
	tx.Payload = tx.Payload[:len(tx.Payload)+n]
	if err != nil {
		// Timeout (the delay expired), end of stream or an error: the
		// rules decide on what arrived.
		tx.PayloadFinal = true
	}
	return true
}

func pick(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}

// tunnel copies client↔server until both directions are done. cpre/spre
// are bytes already read from the client/server to send first. It returns
// bytes client→server, server→client, and the termination cause ('c'
// client timeout, 's' server timeout, 'C'/'S' abort, 0 normal).
func (rt *Runtime) tunnel(cli, srv net.Conn, cpre, spre []byte, cliTO, srvTO, cliFin, srvFin time.Duration) (in, out int64, cause byte) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	type res struct {
		n     int64
		err   error
		toSrv bool
	}
	ch := make(chan res, 2)
	var cliIdle, srvIdle atomic.Int64
	cliIdle.Store(int64(cliTO))
	srvIdle.Store(int64(srvTO))
	go func() {
		n, err := pipe(srv, cli, cpre, &cliIdle, &last)
		ch <- res{n, err, true}
	}()
	go func() {
		n, err := pipe(cli, srv, spre, &srvIdle, &last)
		ch <- res{n, err, false}
	}()
	for i := 0; i < 2; i++ {
		r := <-ch
		if r.toSrv {
			in = r.n
		} else {
			out = r.n
		}
		if r.err != nil {
			// An error or timeout on one side ends both.
			if cause == 0 {
				switch {
				case isTimeout(r.err) && r.toSrv:
					cause = 'c'
				case isTimeout(r.err):
					cause = 's'
				case r.toSrv:
					cause = 'C'
				default:
					cause = 'S'
				}
			}
			cli.Close()
			srv.Close()
			continue
		}
		// Clean EOF: propagate the half-close, and bound the other
		// direction by the fin timeout.
		if r.toSrv {
			closeWrite(srv)
			if srvFin > 0 {
				srvIdle.Store(int64(srvFin))
				_ = srv.SetReadDeadline(deadline(srvFin))
			}
		} else {
			closeWrite(cli)
			if cliFin > 0 {
				cliIdle.Store(int64(cliFin))
				_ = cli.SetReadDeadline(deadline(cliFin))
			}
		}
	}
	return in, out, cause
}

func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		c.Close()
	}
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// pipeChunk bounds one splice call so the idle deadline can be refreshed.
const pipeChunk = 1 << 20

// pipe copies src to dst until EOF (nil error) or an error. idle is the
// inactivity timeout: a read that waits idle with no traffic in either
// direction (last) fails with os.ErrDeadlineExceeded. io.CopyN between
// *net.TCPConn uses splice(2) on Linux (the LimitedReader is supported).
func pipe(dst, src net.Conn, pre []byte, idleTO *atomic.Int64, last *atomic.Int64) (int64, error) {
	var total int64
	if len(pre) > 0 {
		n, err := dst.Write(pre)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	// io.CopyBuffer takes the splice path between two *net.TCPConn and
	// uses buf only otherwise (raw sockets of mode http tunnels, TLS).
	var buf []byte
	if _, ok := dst.(io.ReaderFrom); !ok {
		buf = getBuf(32 << 10)
		defer putBuf(buf)
	}
	for {
		idle := time.Duration(idleTO.Load())
		if idle > 0 {
			_ = src.SetReadDeadline(time.Now().Add(idle))
		}
		n, err := io.CopyBuffer(dst, io.LimitReader(src, pipeChunk), buf)
		if n < pipeChunk && err == nil {
			err = io.EOF // as io.CopyN: a short copy means src ended
		}
		total += n
		if n > 0 {
			last.Store(time.Now().UnixNano())
		}
		switch {
		case err == nil:
			continue
		case err == io.EOF:
			return total, nil
		case isTimeout(err) && idle > 0:
			if n > 0 || time.Since(time.Unix(0, last.Load())) < idle {
				continue // the other direction was active
			}
			return total, err
		default:
			return total, err
		}
	}
}
