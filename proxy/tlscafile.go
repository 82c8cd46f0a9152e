package proxy

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The runtime API's CA and CRL file commands (management.txt §9.3: new,
// set, commit, abort, del, show ssl ca-file|crl-file). A committed file
// replaces what the binds and servers naming it read (readTLSFile): their
// TLS configurations are rebuilt and swapped at once, handshakes in
// flight keep the old ones.

type caKind int

const (
	caFile caKind = iota
	crlFile
)

func (k caKind) word() string { return [...]string{"CA", "CRL"}[k] }

// caStore holds the runtime's versions of CA and CRL files (content nil:
// created by `new` and still empty) and the one pending transaction.
type caStore struct {
	mu    sync.RWMutex // files; readTLSFile runs under the CLI's lock too
	files [2]map[string][]byte
	txn   *caTxn
}

type caTxn struct {
	kind caKind
	path string
	data []byte
}

// readTLSFile reads a CA or CRL file as the runtime API left it.
func (rt *Runtime) readTLSFile(path string) ([]byte, error) {
	rt.cas.mu.RLock()
	for _, m := range rt.cas.files {
		if d, ok := m[path]; ok {
			rt.cas.mu.RUnlock()
			if d == nil {
				return nil, fmt.Errorf("empty file")
			}
			return d, nil
		}
	}
	rt.cas.mu.RUnlock()
	return os.ReadFile(path)
}

// configuredCAFiles are the files of kind k the binds (with their
// crt-list lines) and servers name; usedCA those the binds name.
func (rt *Runtime) configuredCAFiles(k caKind) (all []string, used map[string]bool) {
	used = map[string]bool{}
	add := func(p string, bind bool) {
		if p == "" {
			return
		}
		if !slices.Contains(all, p) {
			all = append(all, p)
		}
		if bind {
			used[p] = true
		}
	}
	for _, t := range rt.tlsBinds {
		confs := []*BindTLS{t.conf}
		for _, e := range t.conf.Certs {
			if e.Opts != nil {
				confs = append(confs, e.Opts)
			}
		}
		for _, c := range confs {
			// HAProxy 2.6 counts a file as used by the certificates of
			// `crt`, not by those of crt-list lines (seen on 2.6.12)
			bound := c == t.conf && slices.ContainsFunc(t.conf.Certs, func(e CertEntry) bool { return e.List == "" })
			if k == caFile {
				add(c.CAFile, bound)
				add(c.CAVerifyFile, bound)
			} else {
				add(c.CRLFile, bound)
			}
		}
	}
	for _, b := range rt.Backends {
		for _, s := range b.Servers() {
			if t := s.Server.TLS; s.Server.SSL && t != nil {
				if k == caFile {
					add(t.CAFile, false)
				} else {
					add(t.CRLFile, false)
				}
			}
		}
	}
	return all, used
}

// caExists: configured, or created by `new ssl ca-file|crl-file`.
func (rt *Runtime) caExists(k caKind, path string) bool {
	rt.cas.mu.RLock()
	_, ok := rt.cas.files[k][path]
	rt.cas.mu.RUnlock()
	if ok {
		return true
	}
	all, _ := rt.configuredCAFiles(k)
	return slices.Contains(all, path)
}

// caLoaded tells compat's crt-list line resolver whether a CA or CRL file
// is one the runtime holds (only those can be named at run time).
func (rt *Runtime) caLoaded(path string) bool {
	return rt.caExists(caFile, path) || rt.caExists(crlFile, path)
}

// NewCAFile is `new ssl ca-file|crl-file <file>`.
func (rt *Runtime) NewCAFile(crl bool, path string) string {
	k := kindOf(crl)
	rt.certs.mu.Lock()
	defer rt.certs.mu.Unlock()
	if rt.caExists(k, path) {
		return fmt.Sprintf("%s file '%s' already exists!\n", k.word(), path)
	}
	rt.cas.mu.Lock()
	if rt.cas.files[k] == nil {
		rt.cas.files[k] = map[string][]byte{}
	}
	rt.cas.files[k][path] = nil
	rt.cas.mu.Unlock()
	return fmt.Sprintf("New %s file created '%s'!\n", k.word(), path)
}

func kindOf(crl bool) caKind {
	if crl {
		return crlFile
	}
	return caFile
}

// SetCAFile is `set ssl ca-file|crl-file <file> <payload>`.
func (rt *Runtime) SetCAFile(crl bool, path string, payload []byte) string {
	k := kindOf(crl)
	rt.certs.mu.Lock()
	defer rt.certs.mu.Unlock()
	if !rt.caExists(k, path) {
		return fmt.Sprintf("Can't replace a %s file which is not referenced by the configuration!\nCan't update %s!\n", k.word(), path)
	}
	if t := rt.cas.txn; t != nil && (t.path != path || t.kind != k) {
		return fmt.Sprintf("The ongoing transaction is about '%s' but you are trying to set '%s'\nCan't update %s!\n", t.path, path, path)
	}
	if _, err := parseCAData(k, payload); err != nil {
		return fmt.Sprintf("Invalid payload\nCan't update %s!\n", path)
	}
	verb := "updated"
	if rt.cas.txn == nil {
		verb = "created"
	}
	rt.cas.txn = &caTxn{kind: k, path: path, data: payload}
	return fmt.Sprintf("transaction %s for %s %s!\n", verb, k.word(), path)
}

// AbortCAFile is `abort ssl ca-file|crl-file <file>`.
func (rt *Runtime) AbortCAFile(crl bool, path string) string {
	rt.certs.mu.Lock()
	defer rt.certs.mu.Unlock()
	if t := rt.cas.txn; t == nil || t.path != path || t.kind != kindOf(crl) {
		return "No ongoing transaction!\n"
	}
	rt.cas.txn = nil
	return fmt.Sprintf("Transaction aborted for certificate '%s'!\n", path)
}

// CommitCAFile is `commit ssl ca-file|crl-file <file>`: every bind and
// server naming the file rebuilds its TLS configuration with it.
func (rt *Runtime) CommitCAFile(crl bool, path string) string {
	k := kindOf(crl)
	rt.certs.mu.Lock()
	defer rt.certs.mu.Unlock()
	t := rt.cas.txn
	if t == nil || t.path != path || t.kind != k {
		return fmt.Sprintf("No ongoing transaction! !\nCan't commit %s!\n", path)
	}
	rt.cas.mu.Lock()
	old, had := rt.cas.files[k][path]
	if rt.cas.files[k] == nil {
		rt.cas.files[k] = map[string][]byte{}
	}
	rt.cas.files[k][path] = t.data
	rt.cas.mu.Unlock()
	out := "Committing " + path
	if msg := rt.reloadTLSFor(path); msg != "" {
		rt.cas.mu.Lock()
		if had {
			rt.cas.files[k][path] = old
		} else {
			delete(rt.cas.files[k], path)
		}
		rt.cas.mu.Unlock()
		return out + "\nFailed!\n" + msg
	}
	rt.cas.txn = nil
	return out + "\nSuccess!\n"
}

// reloadTLSFor rebuilds the binds and servers that read path.
func (rt *Runtime) reloadTLSFor(path string) string {
	uses := func(c *BindTLS) bool {
		return c != nil && (c.CAFile == path || c.CAVerifyFile == path || c.CRLFile == path)
	}
	var edits []certEdit
	for _, t := range rt.tlsBinds {
		use := uses(t.conf)
		for _, e := range t.conf.Certs {
			use = use || uses(e.Opts)
		}
		if use {
			edits = append(edits, certEdit{t, t.conf})
		}
	}
	if msg := rt.applyCertEdits(edits); msg != "" {
		return msg
	}
	for _, b := range rt.Backends {
		for _, s := range b.Servers() {
			if tt := s.Server.TLS; !s.Server.SSL || tt == nil || (tt.CAFile != path && tt.CRLFile != path) {
				continue
			}
			conf, err := serverTLSConfig(s.Server, b.Proxy.Mode, rt.readTLSFile)
			if err != nil {
				return err.Error() + "\n"
			}
			if cur := s.tlsCommitted.Load(); cur != nil {
				conf.Certificates = cur.Certificates // a committed client certificate stays
			}
			s.tlsCommitted.Store(conf)
		}
	}
	return ""
}

// DelCAFile is `del ssl ca-file|crl-file <file>`.
func (rt *Runtime) DelCAFile(crl bool, path string) string {
	k := kindOf(crl)
	rt.certs.mu.Lock()
	defer rt.certs.mu.Unlock()
	if t := rt.cas.txn; t != nil && t.path == path && t.kind == k {
		return fmt.Sprintf("Can't delete the %s file: '%s' is being modified!\n", k.word(), path)
	}
	rt.cas.mu.Lock()
	_, ok := rt.cas.files[k][path]
	rt.cas.mu.Unlock()
	all, used := rt.configuredCAFiles(k)
	if !ok && !slices.Contains(all, path) {
		return fmt.Sprintf("%s file '%s' doesn't exist!\n", k.word(), path)
	}
	if used[path] {
		return fmt.Sprintf("Can't remove the %s file: '%s' is in use!\n", k.word(), path)
	}
	rt.cas.mu.Lock()
	delete(rt.cas.files[k], path)
	rt.cas.mu.Unlock()
	return fmt.Sprintf("%s file '%s' deleted!\n", k.word(), path)
}

// parseCAData reads a CA file's certificates or a CRL file's lists.
func parseCAData(k caKind, data []byte) ([]*x509.Certificate, error) {
	if k == crlFile {
		if _, err := parseCRLs(data); err != nil {
			return nil, err
		}
		return nil, nil
	}
	var out []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no certificate")
	}
	return out, nil
}

// ShowCAFile is `show ssl ca-file|crl-file [<file>[:<index>]]`.
func (rt *Runtime) ShowCAFile(crl bool, arg string) string {
	k := kindOf(crl)
	rt.certs.mu.Lock()
	defer rt.certs.mu.Unlock()
	all, used := rt.configuredCAFiles(k)
	rt.cas.mu.RLock()
	for p := range rt.cas.files[k] {
		if !slices.Contains(all, p) {
			all = append(all, p)
		}
	}
	rt.cas.mu.RUnlock()
	slices.Sort(all)
	count := func(data []byte) string {
		if k == crlFile {
			return ""
		}
		certs, _ := parseCAData(k, data)
		return fmt.Sprintf(" - %d certificate(s)", len(certs))
	}
	var b strings.Builder
	if arg == "" {
		if t := rt.cas.txn; t != nil && t.kind == k {
			b.WriteString("# transaction\n*" + t.path + count(t.data) + "\n")
		}
		b.WriteString("# filename\n")
		for _, p := range all {
			data, _ := rt.readTLSFile(p)
			b.WriteString(p + count(data) + "\n")
		}
		if k == caFile {
			// OpenSSL's default directory, which HAProxy loads as @system-ca
			fmt.Fprintf(&b, "@system-ca - %d certificate(s)\n", systemCACount())
		}
		b.WriteString("\n")
		return b.String()
	}
	path, index := arg, 0
	if i := strings.LastIndexByte(arg, ':'); i >= 0 {
		if n, err := strconv.Atoi(arg[i+1:]); err == nil {
			path, index = arg[:i], n
		}
	}
	var data []byte
	status := "Unused"
	if p, ok := strings.CutPrefix(path, "*"); ok {
		t := rt.cas.txn
		if t == nil || t.kind != k || t.path != p {
			return "No ongoing transaction!\n"
		}
		data = t.data
	} else {
		if !slices.Contains(all, path) {
			return fmt.Sprintf("Can't display a %s file which is not referenced by the configuration!\n", k.word())
		}
		data, _ = rt.readTLSFile(path)
		if used[path] {
			status = "Used"
		}
	}
	if data == nil {
		return "" // an empty store shows nothing
	}
	fmt.Fprintf(&b, "Filename: %s\nStatus: %s\n \n", path, status)
	if k == crlFile {
		lists, _ := parseCRLText(data)
		for i, l := range lists {
			if index == 0 || index == i+1 {
				fmt.Fprintf(&b, "Certificate Revocation List #%d:\n%s", i+1, l)
			}
		}
		b.WriteString("\n")
		return b.String()
	}
	certs, _ := parseCAData(k, data)
	for i, c := range certs {
		if index != 0 && index != i+1 {
			continue
		}
		if i > 0 && index == 0 {
			b.WriteString(" \n")
		}
		fmt.Fprintf(&b, "Certificate #%d:\n", i+1)
		writeCertDetails(&b, c, true)
	}
	if index > len(certs) {
		return "" // HAProxy answers nothing for an index past the end
	}
	b.WriteString("\n")
	return b.String()
}

// parseCRLText describes each CRL of a file as OpenSSL prints it.
func parseCRLText(data []byte) ([]string, error) {
	var ders [][]byte
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "X509 CRL" {
			ders = append(ders, b.Bytes)
		}
	}
	if len(ders) == 0 {
		ders = append(ders, data)
	}
	var out []string
	for _, der := range ders {
		var b strings.Builder
		const date = "Jan _2 15:04:05 2006 GMT"
		if l, err := x509.ParseRevocationList(der); err == nil {
			b.WriteString("Version 2\n")
			fmt.Fprintf(&b, "Signature Algorithm: %s\n", opensslSigName(l.SignatureAlgorithm))
			fmt.Fprintf(&b, "Issuer: %s\n", onelineDN(l.RawIssuer))
			fmt.Fprintf(&b, "Last Update: %s\n", l.ThisUpdate.UTC().Format(date))
			fmt.Fprintf(&b, "Next Update: %s\n", l.NextUpdate.UTC().Format(date))
			b.WriteString("Revoked Certificates:\n")
			for _, r := range l.RevokedCertificateEntries {
				fmt.Fprintf(&b, "    Serial Number: %X\n", r.SerialNumber.Bytes())
				fmt.Fprintf(&b, "        Revocation Date: %s\n", r.RevocationTime.UTC().Format(date))
			}
		} else {
			//lint:ignore SA1019 x509.ParseCRL is the standard library's only parser of v1 CRLs, which OpenSSL still issues
			cl, err := x509.ParseCRL(der)
			if err != nil {
				return out, err
			}
			t := cl.TBSCertList
			fmt.Fprintf(&b, "Version %d\n", t.Version+1)
			fmt.Fprintf(&b, "Signature Algorithm: %s\n", opensslSigOID(cl.SignatureAlgorithm.Algorithm.String()))
			rawIssuer, _ := asn1.Marshal(t.Issuer)
			fmt.Fprintf(&b, "Issuer: %s\n", onelineDN(rawIssuer))
			fmt.Fprintf(&b, "Last Update: %s\n", t.ThisUpdate.UTC().Format(date))
			fmt.Fprintf(&b, "Next Update: %s\n", t.NextUpdate.UTC().Format(date))
			b.WriteString("Revoked Certificates:\n")
			for _, r := range t.RevokedCertificates {
				fmt.Fprintf(&b, "    Serial Number: %02X\n", r.SerialNumber.Bytes())
				fmt.Fprintf(&b, "        Revocation Date: %s\n", r.RevocationTime.UTC().Format(date))
			}
		}
		out = append(out, b.String())
	}
	return out, nil
}

// opensslSigOID names a v1 CRL's signature algorithm.
func opensslSigOID(oid string) string {
	return opensslSigName(sigAlgoOf(asn1OID(oid)))
}

// opensslSigName is OpenSSL's long name of a signature algorithm.
func opensslSigName(a x509.SignatureAlgorithm) string {
	switch a {
	case x509.SHA1WithRSA:
		return "sha1WithRSAEncryption"
	case x509.SHA256WithRSA:
		return "sha256WithRSAEncryption"
	case x509.SHA384WithRSA:
		return "sha384WithRSAEncryption"
	case x509.SHA512WithRSA:
		return "sha512WithRSAEncryption"
	case x509.ECDSAWithSHA256:
		return "ecdsa-with-SHA256"
	case x509.ECDSAWithSHA384:
		return "ecdsa-with-SHA384"
	}
	return a.String()
}

func asn1OID(s string) asn1.ObjectIdentifier {
	var oid asn1.ObjectIdentifier
	for _, p := range strings.Split(s, ".") {
		n, _ := strconv.Atoi(p)
		oid = append(oid, n)
	}
	return oid
}

// systemCACount counts the distinct certificates of OpenSSL's default
// certificate directory.
func systemCACount() int {
	seen := map[string]bool{}
	for _, dir := range []string{"/usr/lib/ssl/certs", "/etc/ssl/certs"} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			data, err := os.ReadFile(dir + "/" + e.Name())
			if err != nil {
				continue
			}
			for rest := data; ; {
				var b *pem.Block
				b, rest = pem.Decode(rest)
				if b == nil {
					break
				}
				if b.Type == "CERTIFICATE" {
					seen[string(b.Bytes)] = true
				}
			}
		}
		if len(seen) > 0 {
			break
		}
	}
	return len(seen)
}
