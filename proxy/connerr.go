package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
)

// HAProxy's connection error codes (enum co_err_code, fc_err) that halo's
// client connections can end with, and their texts (fc_err_str, the
// default error log line).
const (
	ConnErrNone         = 0
	ConnErrSSLEmpty     = 24 // closed during the handshake
	ConnErrSSLAbort     = 25 // socket error during the handshake
	ConnErrSSLTimeout   = 26
	ConnErrSSLHandshake = 34
)

var connErrText = map[int]string{
	ConnErrNone:         "Success",
	ConnErrSSLEmpty:     "Connection closed during SSL handshake",
	ConnErrSSLAbort:     "Connection error during SSL handshake",
	ConnErrSSLTimeout:   "Timeout during SSL handshake",
	ConnErrSSLHandshake: "SSL handshake failure",
}

// ConnErrString is fc_err_str.
func ConnErrString(code int) string { return connErrText[code] }

// OpenSSL 3's packed error codes (ERR_PACK(ERR_LIB_SSL, 0, reason)) and
// reason strings for the handshake failures crypto/tls reports, so that
// ssl_fc_err and ssl_fc_err_str read as HAProxy's do.
const sslLib = 20 << 23

var sslReasons = map[uint32]string{
	sslLib | 156:  "http request",
	sslLib | 258:  "unsupported protocol",
	sslLib | 193:  "no shared cipher",
	sslLib | 267:  "wrong version number",
	sslLib | 1040: "sslv3 alert handshake failure",
	sslLib | 1048: "tlsv1 alert unknown ca",
	sslLib | 1042: "sslv3 alert bad certificate",
	sslLib | 1116: "tlsv13 alert certificate required",
	sslLib | 199:  "peer did not return a certificate",
	sslLib | 134:  "certificate verify failed",
	sslLib | 101:  "no suitable key share",
	sslLib | 378:  "wrong curve",
	sslLib | 1:    "handshake failure",
}

// SSLErrString is ssl_fc_err_str: "error:0A0000C1:SSL routines::no shared
// cipher".
func SSLErrString(code uint32) string {
	r, ok := sslReasons[code]
	if !ok {
		return ""
	}
	const hex = "0123456789ABCDEF"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = hex[code&15]
		code >>= 4
	}
	return "error:" + string(b[:]) + ":SSL routines::" + r
}

// handshakeError classifies a failed server-side TLS handshake as HAProxy
// reports it: closed before any byte (io.EOF at the first record) is an
// empty handshake, a socket error an aborted one, anything else a
// handshake failure with OpenSSL's reason.
func handshakeError(err error) (int, uint32) {
	var ne interface{ Timeout() bool }
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return ConnErrSSLTimeout, 0
	case err == io.EOF || errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
		return ConnErrSSLEmpty, 0
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return ConnErrSSLAbort, 0
	case errors.Is(err, io.ErrUnexpectedEOF):
		return ConnErrSSLHandshake, 0
	}
	if errors.Is(err, errWrongCurve) {
		return ConnErrSSLHandshake, sslLib | 378
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		// OpenSSL recognizes a plain HTTP request on a TLS port
		if h := string(rh.RecordHeader[:]); strings.HasPrefix(h, "GET ") || strings.HasPrefix(h, "POST") ||
			strings.HasPrefix(h, "HEAD") || strings.HasPrefix(h, "PUT ") {
			return ConnErrSSLHandshake, sslLib | 156
		}
		return ConnErrSSLHandshake, sslLib | 267
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unsupported versions") || strings.Contains(msg, "protocol version"):
		return ConnErrSSLHandshake, sslLib | 258
	case strings.Contains(msg, "no cipher suite supported"):
		return ConnErrSSLHandshake, sslLib | 193
	case strings.Contains(msg, "no ECDHE curve") || strings.Contains(msg, "key share"):
		return ConnErrSSLHandshake, sslLib | 101
	case strings.Contains(msg, "client didn't provide a certificate"):
		return ConnErrSSLHandshake, sslLib | 199
	case strings.Contains(msg, "certificate") && (strings.Contains(msg, "verif") || strings.Contains(msg, "unknown authority")):
		return ConnErrSSLHandshake, sslLib | 134
	}
	return ConnErrSSLHandshake, 0
}

// errWrongCurve: in TLS 1.2 OpenSSL refuses a peer certificate whose EC
// key is on a curve the `curves`/`ecdhe` list leaves out; crypto/tls does
// not check it (checkPeerCurve does).
var errWrongCurve = errors.New("tls: the peer's certificate key is on a curve the configuration does not allow")

func checkPeerCurve(cs *tls.ConnectionState, curves []tls.CurveID) error {
	if len(curves) == 0 || cs.Version > tls.VersionTLS12 || len(cs.PeerCertificates) == 0 {
		return nil
	}
	k, ok := cs.PeerCertificates[0].PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil
	}
	var id tls.CurveID
	switch k.Curve {
	case elliptic.P256():
		id = tls.CurveP256
	case elliptic.P384():
		id = tls.CurveP384
	case elliptic.P521():
		id = tls.CurveP521
	default:
		return nil
	}
	if slices.Contains(curves, id) {
		return nil
	}
	return errWrongCurve
}
