package acl

import (
	"fmt"
	"net/netip"

	"halo/proxy"

	"golang.org/x/sys/unix"
)

// l4Fetches are the fetches about the client connection's addresses
// (configuration.txt §7.3.3). halo does not execute set-src/set-dst, so
// the connection's addresses (after a PROXY header, as HAProxy) are also
// the stream's: src and fc_src are the same.
func l4Fetches() []*fetchDef {
	src := func(c *Ctx) netip.AddrPort { return c.T.Src() }
	dst := func(c *Ctx) netip.AddrPort { return c.T.Dst() }
	return []*fetchDef{
		{name: "src", out: KIP, fn: addrFetch(src)},
		{name: "fc_src", out: KIP, fn: addrFetch(src)},
		{name: "dst", out: KIP, fn: addrFetch(dst)},
		{name: "fc_dst", out: KIP, fn: addrFetch(dst)},
		{name: "src_port", out: KInt, fn: portFetch(src)},
		{name: "fc_src_port", out: KInt, fn: portFetch(src)},
		{name: "dst_port", out: KInt, fn: portFetch(dst)},
		{name: "fc_dst_port", out: KInt, fn: portFetch(dst)},
		{name: "src_is_local", out: KBool, fn: localFetch(src)},
		{name: "fc_src_is_local", out: KBool, fn: localFetch(src)},
		{name: "dst_is_local", out: KBool, fn: localFetch(dst)},
		{name: "fc_dst_is_local", out: KBool, fn: localFetch(dst)},
		{name: "so_id", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			if tx == nil || tx.Bind == nil {
				return Value{}, false
			}
			return intVal(int64(tx.Bind.ID)), true
		})},
		{name: "so_name", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			if tx == nil || tx.Bind == nil || tx.Bind.Name == "" {
				return Value{}, false
			}
			return Value{Kind: KStr, B: strBytes(tx.Bind.Name)}, true
		})},
		// With accept-proxy a connection without a PROXY header is
		// refused, so every accepted one received it.
		{name: "fc_rcvd_proxy", out: KBool, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			if tx == nil || tx.Bind == nil {
				return Value{}, false
			}
			return boolVal(tx.Bind.AcceptProxy), true
		})},
		// fc_err is 0 on every connection a transaction runs on; the
		// error log line of a failed handshake carries its code.
		{name: "fc_err", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			if tx == nil {
				return Value{}, false
			}
			return intVal(int64(tx.ConnErr)), true
		})},
		{name: "fc_err_str", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			if tx == nil {
				return Value{}, false
			}
			return Value{Kind: KStr, B: strBytes(proxy.ConnErrString(tx.ConnErr))}, true
		})},
		{name: "ssl_fc_err", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			if tx == nil || !tx.SSL {
				return Value{}, false
			}
			return intVal(int64(tx.SSLErr)), true
		})},
		{name: "ssl_fc_err_str", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			if tx == nil || !tx.SSL || tx.SSLErr == 0 {
				return Value{}, false
			}
			return Value{Kind: KStr, B: strBytes(proxy.SSLErrString(tx.SSLErr))}, true
		})},
		// A server connection exists only once its handshake succeeded.
		{name: "ssl_bc_err", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			if tx == nil || tx.ServerTLS == nil {
				return Value{}, false
			}
			return intVal(0), true
		})},
		{name: "ssl_bc_err_str", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			return Value{}, false
		})},
		{name: "fc_rtt", out: KInt, maxArgs: 1, compile: compileTimeUnit, fn: tcpInfo(func(ti *unix.TCPInfo) uint32 { return ti.Rtt })},
		{name: "fc_rttvar", out: KInt, maxArgs: 1, compile: compileTimeUnit, fn: tcpInfo(func(ti *unix.TCPInfo) uint32 { return ti.Rttvar })},
		{name: "fc_unacked", out: KInt, maxArgs: 1, fn: tcpInfo(func(ti *unix.TCPInfo) uint32 { return ti.Unacked })},
		{name: "fc_sacked", out: KInt, maxArgs: 1, fn: tcpInfo(func(ti *unix.TCPInfo) uint32 { return ti.Sacked })},
		{name: "fc_retrans", out: KInt, maxArgs: 1, fn: tcpInfo(func(ti *unix.TCPInfo) uint32 { return ti.Retrans })},
		{name: "fc_fackets", out: KInt, maxArgs: 1, fn: tcpInfo(func(ti *unix.TCPInfo) uint32 { return ti.Fackets })},
		{name: "fc_lost", out: KInt, maxArgs: 1, fn: tcpInfo(func(ti *unix.TCPInfo) uint32 { return ti.Lost })},
		{name: "fc_reordering", out: KInt, maxArgs: 1, fn: tcpInfo(func(ti *unix.TCPInfo) uint32 { return ti.Reordering })},
		// halo's client connections speak HTTP/1 on the wire.
		{name: "fc_http_major", out: KInt, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			if c.T.Method() == nil {
				return Value{}, false
			}
			return intVal(1), true
		})},
	}
}

func addrFetch(get func(c *Ctx) netip.AddrPort) fetchFn {
	return single(func(c *Ctx, f *fetch) (Value, bool) {
		a := get(c)
		if !a.IsValid() {
			return Value{}, false
		}
		return Value{Kind: KIP, IP: a.Addr().Unmap()}, true
	})
}

func portFetch(get func(c *Ctx) netip.AddrPort) fetchFn {
	return single(func(c *Ctx, f *fetch) (Value, bool) {
		a := get(c)
		if !a.IsValid() {
			return Value{}, false
		}
		return intVal(int64(a.Port())), true
	})
}

// localFetch is src_is_local / dst_is_local: whether the address belongs
// to this host, found as HAProxy's addr_is_local does, by binding a socket
// to it (an address that is not local cannot be bound).
func localFetch(get func(c *Ctx) netip.AddrPort) fetchFn {
	return single(func(c *Ctx, f *fetch) (Value, bool) {
		a := get(c)
		if !a.IsValid() {
			// UNIX sockets carry no address and are local.
			return boolVal(true), true
		}
		return boolVal(addrIsLocal(a.Addr().Unmap())), true
	})
}

func addrIsLocal(a netip.Addr) bool {
	if a.IsLoopback() {
		return true
	}
	family := unix.AF_INET
	var sa unix.Sockaddr = &unix.SockaddrInet4{Addr: a.As4()}
	if a.Is6() {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Addr: a.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.Bind(fd, sa) == nil
}

// compileTimeUnit reads fc_rtt's unit: "ms" (default) or "us".
func compileTimeUnit(f *fetch, o *Options) error {
	f.num = 1000
	if len(f.args) > 0 {
		switch f.args[0] {
		case "", "ms":
		case "us":
			f.num = 1
		default:
			return fmt.Errorf("unknown unit '%s': expects 'ms' or 'us'", f.args[0])
		}
	}
	return nil
}

// tcpInfo is a fetch of the kernel's TCP_INFO about the client socket;
// it fails when there is none (not TCP, or unknown), as HAProxy's.
// Times are microseconds, divided by f.num (1000 for ms).
func tcpInfo(get func(ti *unix.TCPInfo) uint32) fetchFn {
	return single(func(c *Ctx, f *fetch) (Value, bool) {
		tx := c.engine()
		if tx == nil || tx.Conn == nil || tx.Conn.FD <= 0 {
			return Value{}, false
		}
		ti, err := unix.GetsockoptTCPInfo(tx.Conn.FD, unix.SOL_TCP, unix.TCP_INFO)
		if err != nil {
			return Value{}, false
		}
		v := int64(get(ti))
		if f.num > 1 {
			v /= f.num
		}
		return intVal(v), true
	})
}
