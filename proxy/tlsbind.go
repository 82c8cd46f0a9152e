package proxy

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"halo/proxy/tlsrsa"
)

// tlsBind is the TLS side of one `bind … ssl` listener. Its certificates
// and per-name configurations live in an immutable tlsBindState swapped
// atomically, so `commit ssl cert` can replace a certificate while
// handshakes run.
type tlsBind struct {
	bind   *Bind
	mode   Mode
	delExt bool // ssl-load-extra-del-ext
	conf   *BindTLS
	base   *tls.Config // handed to tls.Server; selects from state
	state  atomic.Pointer[tlsBindState]
	// ticketKey encrypts the bind's session tickets; sessions holds them
	// instead under no-tls-tickets (tlssessions.go).
	ticketKey [][32]byte
	sessions  *sessionCache
	// lists are the crt-list files the bind loads (tlscrtlist.go).
	lists []string
	read  fileReader // CA and CRL files
}

// tlsBindState is what a ClientHello is matched against.
type tlsBindState struct {
	bind  *tlsBind
	certs []*loadedCert // load order; certs[0] is the default certificate
	exact map[string]*tls.Config
	wild  map[string]*tls.Config // keyed by the domain after "*."
	def   *tls.Config
	// excluded are the names crt-list "!name" filters take away from a
	// wildcard's configuration.
	excluded map[string][]*tls.Config
	// verifiers check client certificates per configuration (binds and
	// crt-list lines with verify optional|required).
	verifiers map[*tls.Config]*clientVerifier
}

// loadedCert is a certificate file as loaded, with the options it is
// served with.
type loadedCert struct {
	entry *CertEntry
	path  string
	cert  tls.Certificate
	leaf  *x509.Certificate
	opts  *BindTLS
}

// defaultBindTLS is the BindTLS of a bind built without compat (tests):
// its certificates and ALPN, HAProxy 2.6's default ssl-min-ver TLSv1.2.
func defaultBindTLS(b *Bind) *BindTLS {
	t := &BindTLS{TLSParams: TLSParams{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13, ALPN: b.ALPN}}
	for _, c := range b.Certs {
		t.Certs = append(t.Certs, CertEntry{Path: c})
	}
	return t
}

// newTLSBind loads a bind's certificates and builds its configurations.
// Errors use HAProxy's wording where it has one.
func newTLSBind(b *Bind, mode Mode, delExt bool, read fileReader) (*tlsBind, error) {
	conf := b.TLS
	if conf == nil {
		conf = defaultBindTLS(b)
	}
	t := &tlsBind{bind: b, conf: conf, mode: mode, delExt: delExt, read: read, ticketKey: newTicketKey(),
		sessions: newSessionCache(defaultSSLCacheSize, defaultSSLLifetime)}
	for _, e := range conf.Certs {
		if e.List != "" && !slices.Contains(t.lists, e.List) {
			t.lists = append(t.lists, e.List)
		}
	}
	st, err := t.load(mode, nil)
	if err != nil {
		return nil, err
	}
	t.state.Store(st)
	t.base = &tls.Config{
		GetConfigForClient: t.forClient,
		// Unused once GetConfigForClient answers, but crypto/tls wants a
		// certificate source on a server config.
		Certificates: []tls.Certificate{st.certs[0].cert},
		MinVersion:   conf.MinVersion,
		MaxVersion:   conf.MaxVersion,
	}
	return t, nil
}

// load reads every certificate of the bind (replacing those named in
// repl) and indexes them by server name.
func (t *tlsBind) load(mode Mode, repl map[string]tls.Certificate) (*tlsBindState, error) {
	return t.loadConf(t.conf, repl)
}

// loadConf is load for a bind's edited settings (the runtime API's
// crt-list commands).
func (t *tlsBind) loadConf(conf *BindTLS, repl map[string]tls.Certificate) (*tlsBindState, error) {
	mode := t.mode
	st := &tlsBindState{bind: t, exact: map[string]*tls.Config{}, wild: map[string]*tls.Config{}, verifiers: map[*tls.Config]*clientVerifier{}}
	for i := range conf.Certs {
		e := &conf.Certs[i]
		files, err := certFiles(e.Path)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			c, ok := repl[f]
			if !ok {
				if c, err = loadCertFile(f, t.delExt); err != nil {
					return nil, err
				}
			}
			opts := e.Opts
			if opts == nil {
				opts = conf
			}
			st.certs = append(st.certs, &loadedCert{entry: e, path: f, cert: c, leaf: c.Leaf, opts: opts})
		}
	}
	if len(st.certs) == 0 {
		return nil, fmt.Errorf("no SSL certificate specified for bind '%s'", bindString(t.bind))
	}
	// Names: crt-list filters when given, else the certificate's CN and
	// DNS SANs. A name served by several certificates (RSA and ECDSA)
	// offers all of them; crypto/tls picks the first the client supports.
	byName := map[string][]*loadedCert{}
	exclByName := map[string][]*loadedCert{}
	var order []string
	add := func(name string, c *loadedCert) {
		name = strings.ToLower(name)
		if _, ok := byName[name]; !ok {
			order = append(order, name)
		}
		byName[name] = append(byName[name], c)
	}
	for _, c := range st.certs {
		var names, excl []string
		if len(c.entry.SNI) > 0 {
			for _, f := range c.entry.SNI {
				if strings.HasPrefix(f, "!") {
					excl = append(excl, strings.ToLower(f[1:]))
				} else {
					names = append(names, f)
				}
			}
		}
		if len(names) == 0 {
			names = append(names, c.leaf.DNSNames...)
			if cn := c.leaf.Subject.CommonName; cn != "" && !slices.Contains(names, cn) {
				names = append(names, cn)
			}
		}
		for _, n := range names {
			if !slices.Contains(excl, strings.ToLower(n)) {
				add(n, c)
			}
		}
		for _, x := range excl {
			exclByName[x] = append(exclByName[x], c)
		}
	}
	for _, name := range order {
		conf, err := st.serveConfig(byName[name], mode)
		if err != nil {
			return nil, err
		}
		if d, ok := strings.CutPrefix(name, "*."); ok {
			st.wild[d] = conf
		} else {
			st.exact[name] = conf
		}
	}
	confOf := map[*loadedCert][]*tls.Config{}
	for _, name := range order {
		conf := st.exact[name]
		if d, ok := strings.CutPrefix(name, "*."); ok {
			conf = st.wild[d]
		}
		for _, lc := range byName[name] {
			confOf[lc] = append(confOf[lc], conf)
		}
	}
	st.excluded = map[string][]*tls.Config{}
	for name, lcs := range exclByName {
		for _, lc := range lcs {
			st.excluded[name] = append(st.excluded[name], confOf[lc]...)
		}
	}
	def, err := st.serveConfig(st.certs[:1], mode)
	if err != nil {
		return nil, err
	}
	st.def = def
	return st, nil
}

// forClient chooses the configuration for a ClientHello as HAProxy's SNI
// callback does: the exact name, else the wildcard of its parent domain,
// else the default certificate, or a failed handshake under strict-sni.
func (t *tlsBind) forClient(h *tls.ClientHelloInfo) (*tls.Config, error) {
	if c := t.state.Load().lookup(h.ServerName); c != nil {
		return c, nil
	}
	if t.conf.StrictSNI {
		return nil, errStrictSNI
	}
	return t.state.Load().def, nil
}

func (st *tlsBindState) lookup(sni string) *tls.Config {
	if sni == "" {
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(sni, "."))
	if c := st.exact[name]; c != nil {
		return c
	}
	if _, dom, ok := strings.Cut(name, "."); ok {
		if c := st.wild[dom]; c != nil && !slices.Contains(st.excluded[name], c) {
			return c
		}
	}
	return nil
}

// clientCheck is the client certificate check of an established
// connection, for the ssl_c_* fetches: the handshake's own verification
// (VerifyConnection) passed or tolerated every error; this run records
// the codes.
func (t *tlsBind) clientCheck(cs *tls.ConnectionState) ClientCertCheck {
	if len(cs.PeerCertificates) == 0 {
		return ClientCertCheck{}
	}
	st := t.state.Load()
	c := st.lookup(cs.ServerName)
	if c == nil {
		c = st.def
	}
	v := st.verifiers[c]
	if v == nil {
		return ClientCertCheck{Used: true}
	}
	r, _ := v.check(cs.PeerCertificates)
	return r
}

var errStrictSNI = errors.New("strict-sni: no certificate for the requested server name")

// serveConfig is the crypto/tls configuration for a set of certificates
// served under one name with the options of the first.
func (st *tlsBindState) serveConfig(certs []*loadedCert, mode Mode) (*tls.Config, error) {
	o := certs[0].opts
	c := &tls.Config{
		MinVersion:       o.MinVersion,
		MaxVersion:       o.MaxVersion,
		CipherSuites:     o.CipherSuites,
		CurvePreferences: o.Curves,
	}
	for _, lc := range certs {
		c.Certificates = append(c.Certificates, lc.cert)
	}
	switch {
	case o.NoTickets:
		c.WrapSession, c.UnwrapSession = st.bind.sessions.wrap, st.bind.sessions.unwrap
	case o.TicketKeys != "":
		keys, err := ticketKeys(o.TicketKeys)
		if err != nil {
			return nil, err
		}
		c.SetSessionTicketKeys(keys)
	default:
		c.SetSessionTicketKeys(st.bind.ticketKey)
	}
	for _, p := range o.ALPN {
		// mode http serves h2 and http/1.x; another protocol is not
		// announced, so clients fall back instead of failing. mode tcp
		// announces the list as configured.
		if mode == ModeHTTP && p != "h2" && p != "http/1.1" && p != "http/1.0" {
			continue
		}
		c.NextProtos = append(c.NextProtos, p)
	}
	if o.Verify == "optional" || o.Verify == "required" {
		v, err := newClientVerifier(o, st.bind.read)
		if err != nil {
			return nil, err
		}
		c.ClientAuth = tls.RequestClientCert
		if o.Verify == "required" {
			c.ClientAuth = tls.RequireAnyClientCert
		}
		if v.names != nil && !o.NoCANames {
			// The CA names sent in the CertificateRequest (no-ca-names
			// sends none), as OpenSSL does from ca-file.
			c.ClientCAs = v.names
		}
		st.verifiers[c] = v
		curves := o.Curves
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if err := checkPeerCurve(&cs, curves); err != nil {
				return err
			}
			if _, fatal := v.check(cs.PeerCertificates); fatal != nil {
				return fatal
			}
			return nil
		}
	}
	return c, nil
}

// certFiles expands a crt argument: the file itself, or a directory's
// certificate files in name order (companion files skipped).
func certFiles(crt string) ([]string, error) {
	st, err := os.Stat(crt)
	if err != nil {
		return nil, fmt.Errorf("unable to stat SSL certificate from file '%s' : %v", crt, err)
	}
	if !st.IsDir() {
		return []string{crt}, nil
	}
	ents, err := os.ReadDir(crt)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") {
			continue
		}
		switch filepath.Ext(n) {
		case ".key", ".ocsp", ".issuer", ".sctl", ".crt-list":
			continue
		}
		files = append(files, filepath.Join(crt, n))
	}
	slices.Sort(files)
	return files, nil
}

// loadCertFile loads a PEM certificate as HAProxy does with its companion
// files: FILE.key when the PEM has no key, FILE.ocsp (a DER OCSP
// response) stapled, FILE.sctl (a TLS SignedCertificateTimestampList)
// sent, FILE.issuer appended to the chain when the PEM has no
// intermediate (HAProxy uses it to check the OCSP response).
func loadCertFile(path string, delExt bool) (tls.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("unable to load SSL certificate from file '%s': %v", path, err)
	}
	return parseCertPEM(path, data, delExt)
}

// parseCertPEM loads a certificate file's content; the key is in it, or
// in FILE.key (with ssl-load-extra-del-ext, FILE without its extension
// then .key: cert.crt's key is cert.key).
func parseCertPEM(path string, data []byte, delExt bool) (tls.Certificate, error) {
	c, err := tls.X509KeyPair(data, data)
	if err != nil {
		keyPath := path + ".key"
		if delExt {
			if ext := filepath.Ext(path); ext != "" {
				keyPath = strings.TrimSuffix(path, ext) + ".key"
			}
		}
		if key, kerr := os.ReadFile(keyPath); kerr == nil {
			c, err = tls.X509KeyPair(data, key)
		}
	}
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("unable to load SSL certificate from PEM file '%s': %v", path, err)
	}
	fastSigner(&c)
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("unable to load SSL certificate from PEM file '%s': %v", path, err)
		}
	}
	if ocsp, err := os.ReadFile(path + ".ocsp"); err == nil && len(ocsp) > 0 {
		c.OCSPStaple = ocsp
	}
	if sctl, err := os.ReadFile(path + ".sctl"); err == nil {
		scts, err := parseSCTList(sctl)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("'%s.sctl' : %v", path, err)
		}
		c.SignedCertificateTimestamps = scts
	}
	if len(c.Certificate) == 1 {
		if iss, err := os.ReadFile(path + ".issuer"); err == nil {
			if der := firstCertDER(iss); der != nil {
				c.Certificate = append(c.Certificate, der)
			}
		}
	}
	return c, nil
}

// parseSCTList splits a TLS-encoded SignedCertificateTimestampList
// (RFC 6962 §3.3: a 2-byte length, then 2-byte-length-prefixed SCTs).
func parseSCTList(b []byte) ([][]byte, error) {
	if len(b) < 2 || int(binary.BigEndian.Uint16(b)) != len(b)-2 {
		return nil, errors.New("invalid SCT list")
	}
	var out [][]byte
	for b = b[2:]; len(b) > 0; {
		if len(b) < 2 {
			return nil, errors.New("invalid SCT list")
		}
		n := int(binary.BigEndian.Uint16(b))
		if n == 0 || len(b) < 2+n {
			return nil, errors.New("invalid SCT list")
		}
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	return out, nil
}

// ticketKeys reads a tls-ticket-keys file (base64 keys of 48 or 80 bytes,
// one a line, the first one encrypting) into crypto/tls's 32-byte keys:
// each is the SHA-256 of a file key, so every halo process reading the
// same file resumes the others' sessions.
func ticketKeys(path string) ([][32]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("unable to load tls-ticket-keys file '%s': %v", path, err)
	}
	var keys [][32]byte
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(l)
		if err != nil || (len(k) != 48 && len(k) != 80) {
			return nil, fmt.Errorf("'%s' : wrong sized key at line %d", path, i+1)
		}
		keys = append(keys, sha256.Sum256(k))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("'%s' : no key found", path)
	}
	return keys, nil
}

// fastSigner gives an RSA-2048 certificate tlsrsa's signer where the CPU
// has AVX-512 IFMA: a full handshake's private-key operation, most of its
// cost, runs about twice as fast as crypto/rsa's (still constant-time,
// and checked with the public key).
func fastSigner(c *tls.Certificate) {
	if k, ok := c.PrivateKey.(*rsa.PrivateKey); ok {
		if fk, ok := tlsrsa.New(k); ok {
			c.PrivateKey = fk
		}
	}
}

// loadedKey is a certificate's key as it was loaded (to export it).
func loadedKey(k crypto.PrivateKey) crypto.PrivateKey {
	if fk, ok := k.(*tlsrsa.Key); ok {
		return fk.PrivateKey()
	}
	return k
}
