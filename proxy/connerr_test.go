package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
)

func TestHandshakeError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		ssl  string
	}{
		{io.EOF, ConnErrSSLEmpty, ""},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), ConnErrSSLTimeout, ""},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), ConnErrSSLAbort, ""},
		{io.ErrUnexpectedEOF, ConnErrSSLHandshake, ""},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake", RecordHeader: [5]byte{'G', 'E', 'T', ' ', '/'}}, ConnErrSSLHandshake, "error:0A00009C:SSL routines::http request"},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake", RecordHeader: [5]byte{0, 1, 2, 3, 4}}, ConnErrSSLHandshake, "error:0A00010B:SSL routines::wrong version number"},
		{errors.New("tls: client offered only unsupported versions: [302]"), ConnErrSSLHandshake, "error:0A000102:SSL routines::unsupported protocol"},
		{errors.New("tls: no cipher suite supported by both client and server"), ConnErrSSLHandshake, "error:0A0000C1:SSL routines::no shared cipher"},
		{errors.New("tls: something new"), ConnErrSSLHandshake, ""},
	} {
		code, ssl := handshakeError(tc.err)
		if code != tc.code || SSLErrString(ssl) != tc.ssl {
			t.Errorf("%v: got %d %q, want %d %q", tc.err, code, SSLErrString(ssl), tc.code, tc.ssl)
		}
	}
	if ConnErrString(0) != "Success" {
		t.Errorf("fc_err_str of no error: %q", ConnErrString(0))
	}
}

func TestCheckPeerCurve(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := &x509.Certificate{PublicKey: &p256.PublicKey}
	for _, tc := range []struct {
		version uint16
		curves  []tls.CurveID
		ok      bool
	}{
		{tls.VersionTLS12, nil, true},
		{tls.VersionTLS12, []tls.CurveID{tls.CurveP256, tls.CurveP384}, true},
		{tls.VersionTLS12, []tls.CurveID{tls.CurveP384}, false},
		{tls.VersionTLS12, []tls.CurveID{tls.CurveP521}, false},
		{tls.VersionTLS13, []tls.CurveID{tls.CurveP384}, true}, // 1.3 does not tie key curves to groups
	} {
		cs := &tls.ConnectionState{Version: tc.version, PeerCertificates: []*x509.Certificate{cert}}
		if err := checkPeerCurve(cs, tc.curves); (err == nil) != tc.ok {
			t.Errorf("version %x curves %v: %v", tc.version, tc.curves, err)
		}
	}
	if c, s := handshakeError(errWrongCurve); c != ConnErrSSLHandshake || SSLErrString(s) != "error:0A00017A:SSL routines::wrong curve" {
		t.Errorf("wrong curve: %d %q", c, SSLErrString(s))
	}
}
