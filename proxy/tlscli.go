package proxy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// The runtime API's certificate commands (management.txt §9.3: show ssl
// cert, set ssl cert, commit ssl cert, abort ssl cert): one transaction at
// a time replaces a certificate file's certificate and/or key; commit
// swaps every bind using the file to the new certificate at once
// (tlsBind's atomic state), handshakes in flight keep the old one.

// certTxn is the pending `set ssl cert` transaction.
type certTxn struct {
	path      string
	cert, key []byte // PEM blocks set so far (nil: the file's)
}

type certStore struct {
	mu  sync.Mutex
	txn *certTxn
	// committed replaces a file's content for later loads (a commit is
	// not written to disk, as in HAProxy).
	committed map[string]tls.Certificate
	// empty are the stores `new ssl cert` created and no commit filled.
	empty map[string]bool
}

// SSLCertFiles lists the certificate files the binds loaded and those
// servers present (crt).
func (rt *Runtime) SSLCertFiles() []string {
	var out []string
	for _, t := range rt.tlsBinds {
		for _, c := range t.state.Load().certs {
			if !slices.Contains(out, c.path) {
				out = append(out, c.path)
			}
		}
	}
	for _, s := range rt.sslServers() {
		if p := s.Server.TLS.Crt; !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// sslServers are the servers presenting a certificate (ssl … crt).
func (rt *Runtime) sslServers() []*ServerState {
	var out []*ServerState
	for _, b := range rt.Backends {
		for _, s := range b.Servers() {
			if s.Server.SSL && s.Server.TLS != nil && s.Server.TLS.Crt != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// findCert resolves a CLI path to a loaded certificate file: the file
// itself, or for a key the certificate it completes (FILE.key, or with
// ssl-load-extra-del-ext FILE.crt's FILE.key).
func (rt *Runtime) findCert(path string) (file string, isKey bool) {
	files := rt.SSLCertFiles()
	if slices.Contains(files, path) || rt.storeExists(path) {
		return path, false
	}
	if base, ok := strings.CutSuffix(path, ".key"); ok {
		for _, f := range files {
			if f == base || strings.TrimSuffix(f, ".crt") == base || strings.TrimSuffix(f, ".pem") == base {
				return f, true
			}
		}
	}
	return "", false
}

// SetSSLCert is `set ssl cert <file> <payload>`.
func (rt *Runtime) SetSSLCert(path string, payload []byte) string {
	rt.certs.mu.Lock()
	defer rt.certs.mu.Unlock()
	file, isKey := rt.findCert(path)
	if file == "" {
		return fmt.Sprintf("Can't replace a certificate which is not referenced by the configuration!\nCan't update %s!\n", path)
	}
	t := rt.certs.txn
	if t != nil && t.path != file {
		return fmt.Sprintf("The ongoing transaction is about '%s' but you are trying to set '%s'\n", t.path, path)
	}
	var certPEM, keyPEM []byte
	for rest := payload; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			certPEM = append(certPEM, pem.EncodeToMemory(b)...)
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			keyPEM = append(keyPEM, pem.EncodeToMemory(b)...)
		}
	}
	if isKey && keyPEM == nil || !isKey && certPEM == nil && keyPEM == nil {
		return fmt.Sprintf("unable to load certificate from file '%s'.\nCan't update %s!\n", path, path)
	}
	created := t == nil
	if t == nil {
		t = &certTxn{path: file}
		rt.certs.txn = t
	}
	if certPEM != nil {
		t.cert = certPEM
	}
	if keyPEM != nil {
		t.key = keyPEM
	}
	if created {
		return fmt.Sprintf("Transaction created for certificate %s!\n", path)
	}
	return fmt.Sprintf("Transaction updated for certificate %s!\n", path)
}

// AbortSSLCert is `abort ssl cert <file>`.
func (rt *Runtime) AbortSSLCert(path string) string {
	rt.certs.mu.Lock()
	defer rt.certs.mu.Unlock()
	if rt.certs.txn == nil || rt.certs.txn.path != path {
		return "No ongoing transaction!\n"
	}
	rt.certs.txn = nil
	return fmt.Sprintf("Transaction aborted for certificate '%s'!\n", path)
}

// CommitSSLCert is `commit ssl cert <file>`.
func (rt *Runtime) CommitSSLCert(path string) string {
	rt.certs.mu.Lock()
	defer rt.certs.mu.Unlock()
	t := rt.certs.txn
	if t == nil {
		return fmt.Sprintf("No ongoing transaction! !\nCan't commit %s!\n", path)
	}
	if t.path != path {
		return fmt.Sprintf("The ongoing transaction is about '%s' but you are trying to set '%s'\n", t.path, path)
	}
	cur := rt.currentCert(path)
	certPEM, keyPEM := t.cert, t.key
	if certPEM == nil && cur != nil {
		certPEM = certChainPEM(cur)
	}
	if keyPEM == nil && cur != nil {
		der, err := x509.MarshalPKCS8PrivateKey(loadedKey(cur.PrivateKey))
		if err == nil {
			keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		}
	}
	out := fmt.Sprintf("Committing %s", path)
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err == nil {
		fastSigner(&c)
	}
	if err == nil && c.Leaf == nil {
		c.Leaf, err = x509.ParseCertificate(c.Certificate[0])
	}
	if err != nil {
		return out + fmt.Sprintf("\nFailed!\nunable to load the certificate: %v\n", err)
	}
	if rt.certs.committed == nil {
		rt.certs.committed = map[string]tls.Certificate{}
	}
	rt.certs.committed[path] = c
	delete(rt.certs.empty, path)
	for _, tb := range rt.tlsBinds {
		st := tb.state.Load()
		uses := false
		for _, lc := range st.certs {
			uses = uses || lc.path == path
		}
		if !uses {
			continue
		}
		nst, err := tb.load(tb.mode, rt.certs.committed)
		if err != nil {
			return out + fmt.Sprintf("\nFailed!\n%v\n", err)
		}
		tb.state.Store(nst)
	}
	for _, s := range rt.sslServers() {
		if s.Server.TLS.Crt != path {
			continue
		}
		conf, err := serverTLSConfig(s.Server, s.Backend.Proxy.Mode, rt.readTLSFile)
		if err != nil {
			return out + fmt.Sprintf("\nFailed!\n%v\n", err)
		}
		// a fresh session cache: a resumed session would still carry
		// the old certificate
		conf.Certificates = []tls.Certificate{c}
		s.tlsCommitted.Store(conf)
	}
	rt.certs.txn = nil
	return out + "\nSuccess!\n"
}

func (rt *Runtime) currentCert(path string) *tls.Certificate {
	for _, t := range rt.tlsBinds {
		for _, c := range t.state.Load().certs {
			if c.path == path {
				cert := c.cert
				return &cert
			}
		}
	}
	if c, ok := rt.certs.committed[path]; ok {
		return &c
	}
	for _, s := range rt.sslServers() {
		if s.Server.TLS.Crt == path {
			if c, err := loadCertFile(path, false); err == nil {
				return &c
			}
		}
	}
	return nil
}

func certChainPEM(c *tls.Certificate) []byte {
	var out []byte
	for _, der := range c.Certificate {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out
}

// ShowSSLCert is `show ssl cert [<file>|*<file>]`.
func (rt *Runtime) ShowSSLCert(arg string) string {
	rt.certs.mu.Lock()
	t := rt.certs.txn
	rt.certs.mu.Unlock()
	if arg == "" {
		var b strings.Builder
		if t != nil {
			b.WriteString("# transaction\n*" + t.path + "\n")
		}
		b.WriteString("# filename\n")
		// every store, used or not, sorted as HAProxy's tree lists them
		files := rt.SSLCertFiles()
		rt.certs.mu.Lock()
		files = append(files, rt.unusedStores(files)...)
		rt.certs.mu.Unlock()
		slices.Sort(files)
		for _, f := range files {
			b.WriteString(f + "\n")
		}
		b.WriteString("\n")
		return b.String()
	}
	var cert *tls.Certificate
	path := arg
	if p, ok := strings.CutPrefix(arg, "*"); ok {
		path = p
		if t == nil || t.path != p {
			return "No ongoing transaction!\n"
		}
		cur := rt.currentCert(p)
		certPEM := t.cert
		if certPEM == nil && cur != nil {
			certPEM = certChainPEM(cur)
		}
		var c tls.Certificate
		for rest := certPEM; ; {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			c.Certificate = append(c.Certificate, blk.Bytes)
		}
		cert = &c
	} else {
		rt.certs.mu.Lock()
		cert = rt.currentCert(path)
		empty := rt.certs.empty[path]
		rt.certs.mu.Unlock()
		if empty {
			return fmt.Sprintf("Filename: %s\nStatus: Empty\nOCSP Response Key: \n\n", arg)
		}
	}
	if cert == nil || len(cert.Certificate) == 0 {
		return "Can't display a certificate which is not referenced by the configuration!\n"
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return "Can't display the certificate!\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Filename: %s\n", arg)
	status := "Used"
	if strings.HasPrefix(arg, "*") || !slices.Contains(rt.SSLCertFiles(), path) {
		status = "Unused"
	}
	fmt.Fprintf(&b, "Status: %s\n", status)
	writeCertDetails(&b, leaf, false)
	for _, der := range cert.Certificate[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil {
			fmt.Fprintf(&b, "Chain Subject: %s\n", onelineDN(ic.RawSubject))
			fmt.Fprintf(&b, "Chain Issuer: %s\n", onelineDN(ic.RawIssuer))
		}
	}
	// halo staples no OCSP response; HAProxy prints the line empty then
	b.WriteString("OCSP Response Key: \n\n")
	return b.String()
}

// writeCertDetails prints a certificate's lines as HAProxy's show ssl
// cert and show ssl ca-file do; the CA files' always have a Subject
// Alternative Name line, empty when there is none.
func writeCertDetails(b *strings.Builder, c *x509.Certificate, emptySAN bool) {
	fmt.Fprintf(b, "Serial: %X\n", c.SerialNumber.Bytes())
	fmt.Fprintf(b, "notBefore: %s\n", c.NotBefore.UTC().Format("Jan _2 15:04:05 2006 GMT"))
	fmt.Fprintf(b, "notAfter: %s\n", c.NotAfter.UTC().Format("Jan _2 15:04:05 2006 GMT"))
	if len(c.DNSNames) > 0 || emptySAN {
		var sans []string
		for _, n := range c.DNSNames {
			sans = append(sans, "DNS:"+n)
		}
		fmt.Fprintf(b, "Subject Alternative Name: %s\n", strings.Join(sans, ", "))
	}
	fmt.Fprintf(b, "Algorithm: %s\n", keyAlgorithm(c))
	sum := sha1.Sum(c.Raw)
	fmt.Fprintf(b, "SHA1 FingerPrint: %X\n", sum[:])
	fmt.Fprintf(b, "Subject: %s\n", onelineDN(c.RawSubject))
	fmt.Fprintf(b, "Issuer: %s\n", onelineDN(c.RawIssuer))
}

// keyAlgorithm is HAProxy's "RSA2048", "EC256", "ED25519".
func keyAlgorithm(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return fmt.Sprintf("EC%d", k.Curve.Params().BitSize)
	case ed25519.PublicKey:
		return "ED25519"
	}
	return "Unknown"
}

// onelineDN is OpenSSL's one-line distinguished name ("/C=FR/CN=x").
func onelineDN(raw []byte) string {
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(raw, &seq); err != nil {
		return ""
	}
	var b bytes.Buffer
	for _, rdn := range seq {
		for _, a := range rdn {
			name := a.Type.String()
			if n, ok := oidShort[name]; ok {
				name = n
			}
			fmt.Fprintf(&b, "/%s=%v", name, a.Value)
		}
	}
	return b.String()
}

var oidShort = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
	"1.2.840.113549.1.9.1": "emailAddress", "0.9.2342.19200300.100.1.25": "DC",
}

// unusedStores are the stores created by `new ssl cert` that no bind
// serves, sorted as HAProxy's tree lists them.
func (rt *Runtime) unusedStores(used []string) []string {
	var out []string
	for p := range rt.certs.empty {
		out = append(out, p)
	}
	for p := range rt.certs.committed {
		if !slices.Contains(used, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
