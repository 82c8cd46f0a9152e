package proxy

import (
	"net/netip"
)

// StickRule is a `stick match|on|store-request|store-response PATTERN
// [table NAME] [if|unless COND]` line of a backend (configuration.txt
// §4.2 "stick").
type StickRule struct {
	// Match: look the key up to choose a server; Store: record the server
	// the request went to (stick on does both).
	Match, Store bool
	// Response: a store-response rule (the pattern reads the response).
	Response bool
	Expr     string // sample expression
	Table    string // table name; "" is the backend's own table
	Cond     *Cond
	Line     int
}

// PeersSection is a `peers NAME` section: the processes sharing stick
// tables with HAProxy's peers protocol.
type PeersSection struct {
	Name     string
	File     string
	Line     int
	Disabled bool
	// Local is this process's name in the section (-L, localpeer, else
	// the host name); Peers holds every peer, the local one included, in
	// configuration order.
	Local string
	Peers []*Peer
	// Binds are the addresses the local peer listens on (its `peer` line's
	// address, or the section's `bind` lines).
	Binds []Bind
	// Tables lists the stick tables synchronized through this section
	// (`table` lines here, `peers NAME` on stick-table lines).
	Tables []string
}

// Peer is one `peer NAME ADDR:PORT` or `server NAME [ADDR:PORT]` line.
type Peer struct {
	Name  string
	Addr  netip.AddrPort // zero for the local peer declared by `server NAME`
	Local bool
	Line  int
	// SSL: the connection to this peer is TLS (`ssl`), with the client
	// certificate Crt (`crt`, a PEM file) and the server's certificate
	// checked against CAFile (`ca-file`) unless VerifyNone (`verify
	// none`).
	SSL        bool
	Crt        string
	CAFile     string
	VerifyNone bool
}
