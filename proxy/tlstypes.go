package proxy

import "crypto/tls"

// TLSParams are the protocol settings a bind line, a crt-list line or a
// server line resolve to (ssl-default-bind-*/ssl-default-server-*
// applied), in crypto/tls's terms. compat resolves the OpenSSL names
// (package tlsconf).
type TLSParams struct {
	MinVersion, MaxVersion uint16
	// CipherSuites are the TLS <= 1.2 suites `ciphers` selects that Go
	// implements; never empty when TLS 1.2 or lower is enabled.
	CipherSuites []uint16
	Curves       []tls.CurveID // nil: Go's defaults
	ALPN         []string
	NoTickets    bool // no-tls-tickets
}

// BindTLS is the TLS side of a `bind … ssl` line.
type BindTLS struct {
	TLSParams
	// CrtListLine resolves the [options] of a crt-list line over the
	// bind's own, for lines `add ssl crt-list` adds at run time (compat
	// knows the keywords); loaded tells whether a CA or CRL file is one
	// the configuration loaded (the only ones usable then, as in HAProxy).
	CrtListLine func(opts []string, loaded func(path string) bool) (*BindTLS, error)
	// Certs are the certificates in load order (crt, crt directories,
	// crt-list lines); the first is the default one.
	Certs     []CertEntry
	StrictSNI bool
	// Verify is the client certificate policy: "none" (default),
	// "optional" or "required".
	Verify  string
	CAFile  string // PEM CA certificates trusted for client certificates
	CRLFile string // PEM or DER CRLs checked for the whole chain
	// CAIgnoreErr and CrtIgnoreErr are the X509_V_ERR codes ca-ignore-err
	// and crt-ignore-err tolerate at depth > 0 and depth 0; the *All
	// flags are their `all` form.
	CAIgnoreErr, CrtIgnoreErr       []int
	CAIgnoreAll, CrtIgnoreAll       bool
	NoCANames                       bool
	PreferClientCiphers             bool // not executable: Go orders suites itself
	CAVerifyFile                    string
	GenerateCertificates, Allow0RTT bool
	// TicketKeys is the tls-ticket-keys file: base64 keys, one a line;
	// the first encrypts, all decrypt.
	TicketKeys string
}

// CertEntry is one certificate of a bind: a PEM file (certificate chain
// and key, or key in FILE.key; FILE.ocsp stapled; FILE.issuer read),
// with the SNI filters and options of its crt-list line.
type CertEntry struct {
	Path string
	// SNI are the crt-list filters: names, "*.domain" wildcards and
	// "!name" exclusions. Empty: the certificate's own names (CN, SANs).
	SNI []string
	// Opts are the crt-list line's [options] merged over the bind's;
	// nil: the bind's own.
	Opts *BindTLS
	Line int // crt-list line, 0 for crt
	// List is the crt-list file the line comes from as the bind names it
	// ("" for crt), OptText the line's [options] as written: the runtime
	// API shows and edits crt-lists by them.
	List    string
	OptText []string
}

// ServerTLS is the TLS side of a `server … ssl` line.
type ServerTLS struct {
	TLSParams
	Verify     string // "none" or "required" (ssl-server-verify default)
	CAFile     string
	CRLFile    string
	Crt        string // client certificate presented to the server
	SNI        string // constant SNI (the sni expression, when constant)
	VerifyHost string
	NoReuse    bool // no-ssl-reuse: no session resumption
}

// ClientCertCheck is the outcome of verifying a client certificate, in
// OpenSSL's X509_V_* codes (0: ok): Verify is ssl_c_verify, CAErr and
// CrtErr the first error seen at depth > 0 and at depth 0 (ssl_c_ca_err,
// ssl_c_err), CAErrDepth ssl_c_ca_err_depth.
type ClientCertCheck struct {
	Verify, CAErr, CrtErr, CAErrDepth int
	// Used says the connection's session carried a client certificate.
	Used bool
}

// TLSConn is what the TLS handshake of a client connection established.
type TLSConn struct {
	State  tls.ConnectionState
	Client ClientCertCheck
}

func (t *TLSConn) state() *tls.ConnectionState {
	if t == nil {
		return nil
	}
	return &t.State
}

func (t *TLSConn) client() *ClientCertCheck {
	if t == nil {
		return nil
	}
	return &t.Client
}
