package check

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"time"
)

// FetchRequest is one GET as HTTP_GET/SSL_GET (and genhash) send it.
type FetchRequest struct {
	Dst      netip.AddrPort
	Dialer   *net.Dialer
	TLS      bool
	TLSFiles TLSFiles
	SNI      bool
	Path     string
	Host     string // virtualhost; "" = the address and port
	Protocol string // "1.0", "1.0C", "1.1"
	Timeout  time.Duration
	Digest   bool           // compute the MD5 of the body
	Regex    *regexp.Regexp // matched against the body
	RegexMin int
	RegexMax int
	KeepBody bool // genhash -v
}

// FetchResult is what the server sent.
type FetchResult struct {
	Status        int
	ContentLength int64 // -1 when the server sent none
	RxBytes       int64
	Digest        [md5.Size]byte
	RegexMatched  bool
	Header, Body  []byte // with KeepBody
	Elapsed       time.Duration
}

// RequestText is check_http.c's request_template.
func RequestText(r *FetchRequest) string {
	minor, conn := 0, ""
	switch r.Protocol {
	case "1.1":
		minor, conn = 1, "Connection: close\r\n"
	case "1.0C", "1.0c":
		conn = "Connection: close\r\n"
	}
	host := r.Host
	if host == "" {
		a := r.Dst.Addr()
		if a.Is6() && !a.Is4In6() {
			host = fmt.Sprintf("[%s]:%d", a, r.Dst.Port())
		} else {
			host = fmt.Sprintf("%s:%d", a.Unmap(), r.Dst.Port())
		}
	}
	return fmt.Sprintf("GET %s HTTP/1.%d\r\nUser-Agent: KeepAliveClient\r\n%sHost: %s\r\n\r\n", r.Path, minor, conn, host)
}

// Fetch performs the request. On failure it returns keepalived's reason
// ("Timeout connecting", "HTTP status code error to" is left to the
// caller, which knows what the URL expects).
func Fetch(ctx context.Context, r *FetchRequest) (res FetchResult, reason string) {
	start := time.Now()
	res.ContentLength = -1
	d := r.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	d.Timeout = r.Timeout
	raw, err := d.DialContext(ctx, "tcp", r.Dst.String())
	if err != nil {
		if isTimeout(err) {
			return res, "Timeout connecting"
		}
		return res, "Error connecting"
	}
	defer raw.Close()
	var c net.Conn = raw
	if r.TLS {
		cfg, err := tlsConfig(r)
		if err != nil {
			return res, "SSL handshake/communication error connecting to"
		}
		tc := tls.Client(raw, cfg)
		_ = tc.SetDeadline(time.Now().Add(r.Timeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			if isTimeout(err) {
				return res, "Timeout connecting"
			}
			return res, "SSL handshake/communication error connecting to"
		}
		c = tc
	}
	_ = c.SetWriteDeadline(time.Now().Add(r.Timeout))
	if _, err := io.WriteString(c, RequestText(r)); err != nil {
		if isTimeout(err) {
			return res, "Timeout WEB write"
		}
		return res, "Cannot send get request to"
	}
	h := md5.New()
	var head bytes.Buffer
	var body []byte
	extracted := false
	buf := make([]byte, 16384)
	for {
		_ = c.SetReadDeadline(time.Now().Add(r.Timeout))
		n, err := c.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if !extracted {
				head.Write(chunk)
				if i := bytes.Index(head.Bytes(), []byte("\r\n\r\n")); i >= 0 {
					extracted = true
					hb := head.Bytes()
					res.Status = statusCode(hb[:i])
					res.ContentLength = contentLength(hb[:i])
					if r.KeepBody {
						res.Header = append([]byte(nil), hb[:i+4]...)
					}
					chunk = append([]byte(nil), hb[i+4:]...)
				} else {
					chunk = nil
				}
			}
			if extracted && len(chunk) > 0 {
				take := chunk
				if res.ContentLength >= 0 {
					left := res.ContentLength - res.RxBytes
					if left < 0 {
						left = 0
					}
					if int64(len(take)) > left {
						take = take[:left]
					}
				}
				h.Write(take)
				res.RxBytes += int64(len(chunk))
				if (r.Regex != nil || r.KeepBody) && len(body) < 1<<20 {
					body = append(body, chunk...)
				}
			}
		}
		if err != nil {
			if err == io.EOF || (r.TLS && !isTimeout(err) && extracted) {
				break
			}
			if isTimeout(err) {
				if extracted {
					return res, "Timeout HTTP read"
				}
				return res, "Timeout WEB read"
			}
			return res, "Read error with"
		}
	}
	res.Elapsed = time.Since(start)
	if !extracted {
		return res, "Read, no data received from "
	}
	copy(res.Digest[:], h.Sum(nil))
	if r.Regex != nil {
		lo, hi := r.RegexMin, len(body)
		if lo > len(body) {
			lo = len(body)
		}
		loc := r.Regex.FindIndex(body[lo:hi])
		res.RegexMatched = loc != nil && (r.RegexMax == 0 || lo+loc[0] < r.RegexMax)
	}
	if r.KeepBody {
		res.Body = body
	}
	return res, ""
}

func tlsConfig(r *FetchRequest) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: true} // keepalived does not verify the real server's certificate
	if r.SNI && r.Host != "" {
		cfg.ServerName = r.Host
	}
	if r.TLSFiles.Certificate != "" {
		key := r.TLSFiles.Key
		if key == "" {
			key = r.TLSFiles.Certificate
		}
		cert, err := tls.LoadX509KeyPair(r.TLSFiles.Certificate, key)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if r.TLSFiles.CA != "" {
		pem, err := os.ReadFile(r.TLSFiles.CA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// statusCode reads "HTTP/1.x NNN" (0 when absent).
func statusCode(h []byte) int {
	sp := bytes.IndexByte(h, ' ')
	if sp < 0 || !bytes.HasPrefix(h, []byte("HTTP/")) {
		return 0
	}
	rest := h[sp+1:]
	if len(rest) < 3 {
		return 0
	}
	n, err := strconv.Atoi(string(rest[:3]))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// contentLength reads the Content-Length header (-1 when absent).
func contentLength(h []byte) int64 {
	for _, line := range bytes.Split(h, []byte("\r\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(k), []byte("Content-Length")) {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err == nil && n >= 0 {
				return n
			}
		}
	}
	return -1
}

// httpProber checks the URL the schedule points at.
type httpProber struct {
	cfg   *Config
	regex []*regexp.Regexp
}

func (p *httpProber) Probe(ctx context.Context, step int) Outcome {
	if p.regex == nil {
		p.regex = make([]*regexp.Regexp, len(p.cfg.URLs))
		for i, u := range p.cfg.URLs {
			if u.Regex != "" {
				p.regex[i], _ = regexp.Compile(u.Regex)
			}
		}
	}
	if step >= len(p.cfg.URLs) {
		return Outcome{OK: true}
	}
	u := &p.cfg.URLs[step]
	host := u.VirtualHost
	if host == "" {
		host = p.cfg.VirtualHost
	}
	req := &FetchRequest{
		Dst: p.cfg.Dst, Dialer: Dialer(p.cfg), TLS: p.cfg.Kind == "SSL_GET", TLSFiles: p.cfg.TLS,
		SNI: p.cfg.EnableSNI, Path: u.Path, Host: host, Protocol: p.cfg.HTTPProtocol,
		Timeout: p.cfg.ConnectTimeout, Digest: u.Digest != nil, Regex: p.regex[step],
		RegexMin: u.RegexMin, RegexMax: u.RegexMax,
	}
	res, reason := Fetch(ctx, req)
	if reason != "" {
		return Outcome{Reason: reason}
	}
	if !u.StatusOK(res.Status) {
		return Outcome{Reason: "HTTP status code error to"}
	}
	what := "HTTP status code"
	if u.Digest != nil {
		if !bytes.Equal(u.Digest, res.Digest[:]) {
			return Outcome{Reason: "MD5 digest error to"}
		}
		what = "MD5 digest"
	}
	if req.Regex != nil {
		if res.RegexMatched == u.RegexNo {
			return Outcome{Reason: "Regex match failed"}
		}
		what = "Regex match"
	}
	return Outcome{OK: true, Success: what}
}
