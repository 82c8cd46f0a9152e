package proxy

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// tlsConfig builds the server TLS configuration of a `bind … ssl crt …`
// line. Each crt is a PEM file holding the certificate chain and its key
// (HAProxy's format; a separate FILE.key is used when the PEM has no key),
// or a directory of such files. The first certificate is the default; the
// others are chosen by SNI (crypto/tls picks the first certificate whose
// names match the ClientHello, else the first one).
func tlsConfig(b *Bind) (*tls.Config, error) {
	var certs []tls.Certificate
	for _, crt := range b.Certs {
		st, err := os.Stat(crt)
		if err != nil {
			return nil, fmt.Errorf("unable to stat SSL certificate from file '%s' : %v", crt, err)
		}
		files := []string{crt}
		if st.IsDir() {
			ents, err := os.ReadDir(crt)
			if err != nil {
				return nil, err
			}
			files = files[:0]
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
		}
		for _, f := range files {
			c, err := loadPEM(f)
			if err != nil {
				return nil, err
			}
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no SSL certificate specified for bind '%s'", bindString(b))
	}
	conf := &tls.Config{
		Certificates: certs,
		MinVersion:   tls.VersionTLS12, // HAProxy 2.6's default ssl-min-ver
	}
	// Only HTTP/1.1 is spoken: offer the ALPN protocols we can serve.
	for _, p := range b.ALPN {
		if p == "http/1.1" || p == "http/1.0" {
			conf.NextProtos = append(conf.NextProtos, p)
		}
	}
	return conf, nil
}

func loadPEM(path string) (tls.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("unable to load SSL certificate from file '%s': %v", path, err)
	}
	c, err := tls.X509KeyPair(data, data)
	if err != nil {
		if key, kerr := os.ReadFile(path + ".key"); kerr == nil {
			c, err = tls.X509KeyPair(data, key)
		}
	}
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("unable to load SSL certificate from PEM file '%s': %v", path, err)
	}
	return c, nil
}
