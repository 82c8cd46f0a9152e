package proxy

import "halo/proxy/rawtcp"

// Apply sets the keep-alive on a TCP socket, as HAProxy does at accept
// (frontend) or connect (backend); a failure leaves the connection as it
// is (HAProxy does not check either).
func (ka *TCPKeepAlive) Apply(fd int) {
	_ = rawtcp.SetKeepAlive(fd, ka.Idle, ka.Intvl, ka.Cnt)
}
