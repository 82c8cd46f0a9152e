package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Status is a check result code, as HAProxy's stats and logs name them.
type Status int

const (
	StatusUnknown Status = iota
	StatusSockErr        // SOCKERR: Socket error
	StatusL4OK           // Layer4 check passed
	StatusL4Tout         // Layer4 timeout
	StatusL4Con          // Layer4 connection problem
	StatusL7Tout         // Layer7 timeout
	StatusL7Rsp          // Layer7 invalid response
	StatusL7OK           // Layer7 check passed
	StatusL7Sts          // Layer7 wrong status
	StatusL7OKC          // Layer7 check conditionally passed (disable-on-404)
	StatusL6OK           // Layer6 check passed (TLS handshake)
	StatusL6Tout         // Layer6 timeout
	StatusL6Rsp          // Layer6 invalid response
)

var statusNames = map[Status][2]string{
	StatusUnknown: {"UNK", "Unknown"},
	StatusSockErr: {"SOCKERR", "Socket error"},
	StatusL4OK:    {"L4OK", "Layer4 check passed"},
	StatusL4Tout:  {"L4TOUT", "Layer4 timeout"},
	StatusL4Con:   {"L4CON", "Layer4 connection problem"},
	StatusL7Tout:  {"L7TOUT", "Layer7 timeout"},
	StatusL7Rsp:   {"L7RSP", "Layer7 invalid response"},
	StatusL7OK:    {"L7OK", "Layer7 check passed"},
	StatusL7Sts:   {"L7STS", "Layer7 wrong status"},
	StatusL7OKC:   {"L7OKC", "Layer7 check conditionally passed"},
	StatusL6OK:    {"L6OK", "Layer6 check passed"},
	StatusL6Tout:  {"L6TOUT", "Layer6 timeout"},
	StatusL6Rsp:   {"L6RSP", "Layer6 invalid response"},
}

// Code is the short name shown in the stats page ("L4CON").
func (s Status) Code() string { return statusNames[s][0] }

// Description is the reason text of the logs ("Layer4 connection problem").
func (s Status) Description() string { return statusNames[s][1] }

// Passed reports whether the status is a success (a conditional pass
// included: the server stays up but is stopping).
func (s Status) Passed() bool {
	return s == StatusL4OK || s == StatusL6OK || s == StatusL7OK || s == StatusL7OKC
}

// hasCode: HAProxy prints ", code: N" for statuses past L57DATA.
func (s Status) hasCode() bool { return s == StatusL7OK || s == StatusL7Sts || s == StatusL7OKC }

// Result is one check's outcome.
type Result struct {
	Status   Status
	Code     int    // HTTP status
	Info     string // "Connection refused", the HTTP reason, …
	Duration time.Duration
}

// ExpectKind is the kind of `http-check expect`.
type ExpectKind int

const (
	ExpectStatus  ExpectKind = iota // status <codes>: "200", "200-399", "200,301"
	ExpectRStatus                   // rstatus <regex>
	ExpectString                    // string <text> in the body
	ExpectRString                   // rstring <regex> on the body
)

// Expect is one compiled `http-check expect` rule.
type Expect struct {
	Kind   ExpectKind
	Negate bool
	Text   string
	Re     *regexp.Regexp
	ranges [][2]int
}

// CompileExpect compiles `http-check expect [!] KIND PATTERN`.
func CompileExpect(kind string, negate bool, pattern string) (Expect, error) {
	e := Expect{Negate: negate, Text: pattern}
	switch kind {
	case "status":
		e.Kind = ExpectStatus
		for _, part := range strings.Split(pattern, ",") {
			lo, hi, found := strings.Cut(part, "-")
			a, err := strconv.Atoi(strings.TrimSpace(lo))
			if err != nil {
				return e, errors.New("http-check expect status: invalid status code '" + part + "'")
			}
			b := a
			if found {
				if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
					return e, errors.New("http-check expect status: invalid status range '" + part + "'")
				}
			}
			e.ranges = append(e.ranges, [2]int{a, b})
		}
	case "rstatus", "rstring":
		re, err := regexp.Compile(pattern)
		if err != nil {
			return e, errors.New("http-check expect " + kind + ": " + err.Error())
		}
		e.Re = re
		e.Kind = ExpectRStatus
		if kind == "rstring" {
			e.Kind = ExpectRString
		}
	case "string":
		e.Kind = ExpectString
	default:
		return e, errors.New("http-check expect: unsupported kind '" + kind + "'")
	}
	return e, nil
}

func (e *Expect) needsBody() bool { return e.Kind == ExpectString || e.Kind == ExpectRString }

// Probe is what one check does.
type Probe struct {
	Addr    string // host:port to connect to
	Request []byte // HTTP check request; nil for a TCP connect check
	Expect  []Expect
	// TCP, when set, runs a tcp-check script instead (Request is unused).
	TCP *TCPCheck
	// TLS, when set, runs the check over TLS (a server with `ssl`): a
	// plain connect check then passes at layer 6, once the handshake is done.
	TLS *tls.Config
	// DisableOn404 is `http-check disable-on-404`: a 404 answer passes
	// conditionally and puts the server in the stopping (NOLB) state.
	DisableOn404 bool
	// ConnectTimeout bounds the connection; Timeout bounds the whole check
	// (HAProxy: inter, or timeout connect then timeout check).
	ConnectTimeout time.Duration
	ReadTimeout    time.Duration
	MaxBody        int // tune.chksize, default 16384
}

// Run performs one check.
func (p *Probe) Run(ctx context.Context) Result {
	start := time.Now()
	r := p.run(ctx)
	r.Duration = time.Since(start)
	return r
}

func (p *Probe) run(ctx context.Context) Result {
	if p.TCP != nil {
		return p.runTCP(ctx)
	}
	d := net.Dialer{Timeout: p.ConnectTimeout}
	conn, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		return l4Error(err)
	}
	defer conn.Close()
	if p.ReadTimeout > 0 {
		conn.SetDeadline(time.Now().Add(p.ReadTimeout))
	}
	if p.TLS != nil {
		tc := tls.Client(conn, p.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return Result{Status: StatusL6Tout}
			}
			return Result{Status: StatusL6Rsp, Info: "SSL handshake failure"}
		}
		conn = tc
		if p.Request == nil {
			return Result{Status: StatusL6OK}
		}
	}
	if p.Request == nil {
		return Result{Status: StatusL4OK}
	}
	if _, err := conn.Write(p.Request); err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return Result{Status: StatusSockErr, Info: errnoText(errno)}
		}
		return Result{Status: StatusL7Rsp, Info: "Write error"}
	}
	max := p.MaxBody
	if max <= 0 {
		max = 16384
	}
	buf := make([]byte, 0, 1024)
	needBody := false
	for _, e := range p.Expect {
		needBody = needBody || e.needsBody()
	}
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= max {
				break
			}
			nb := make([]byte, len(buf), min(2*cap(buf), max))
			copy(nb, buf)
			buf = nb
		}
		n, err := conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if complete(buf, needBody) {
			break
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return Result{Status: StatusL7Tout}
			}
			var errno syscall.Errno
			if len(buf) == 0 && errors.As(err, &errno) {
				// e.g. a TLS server resetting a plain request.
				return Result{Status: StatusSockErr, Info: errnoText(errno)}
			}
			break // EOF: judge what we have
		}
	}
	return p.judge(buf)
}

// complete reports whether enough of the response arrived to decide.
func complete(buf []byte, needBody bool) bool {
	h := bytes.Index(buf, []byte("\r\n\r\n"))
	if !needBody {
		return bytes.IndexByte(buf, '\n') >= 0
	}
	if h < 0 {
		return false
	}
	// With a Content-Length we know when the body is complete; otherwise
	// read until the server closes (HTTP/1.0 checks close).
	head := strings.ToLower(string(buf[:h]))
	if i := strings.Index(head, "\ncontent-length:"); i >= 0 {
		v := head[i+len("\ncontent-length:"):]
		if j := strings.IndexByte(v, '\r'); j >= 0 {
			v = v[:j]
		}
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			return len(buf)-(h+4) >= n
		}
	}
	return false
}

// judge parses the status line and applies the expect rules (HAProxy's
// default without rules: 2xx and 3xx pass).
func (p *Probe) judge(buf []byte) Result {
	line := buf
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	} else if len(buf) == 0 {
		return Result{Status: StatusL7Rsp, Info: "Empty response"}
	}
	line = bytes.TrimRight(line, "\r")
	if !bytes.HasPrefix(line, []byte("HTTP/")) || len(line) < 12 || line[8] != ' ' {
		return Result{Status: StatusL7Rsp, Info: "Invalid HTTP response"}
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return Result{Status: StatusL7Rsp, Info: "Invalid HTTP response"}
	}
	reason := ""
	if len(line) > 13 {
		reason = string(line[13:])
	}
	var body []byte
	if h := bytes.Index(buf, []byte("\r\n\r\n")); h >= 0 {
		body = buf[h+4:]
	}
	if code == 404 && p.DisableOn404 {
		return Result{Status: StatusL7OKC, Code: code}
	}
	// A passed check carries no info text (haproxy 2.6: "Layer7 check
	// passed, code: 200, check duration: 2ms").
	if len(p.Expect) == 0 {
		if code >= 200 && code < 400 {
			return Result{Status: StatusL7OK, Code: code}
		}
		return Result{Status: StatusL7Sts, Code: code, Info: reason}
	}
	for i := range p.Expect {
		e := &p.Expect[i]
		var match bool
		switch e.Kind {
		case ExpectStatus:
			for _, r := range e.ranges {
				match = match || (code >= r[0] && code <= r[1])
			}
		case ExpectRStatus:
			match = e.Re.MatchString(strconv.Itoa(code))
		case ExpectString:
			match = bytes.Contains(body, []byte(e.Text))
		case ExpectRString:
			match = e.Re.Match(body)
		}
		if match == e.Negate {
			if e.Kind == ExpectString || e.Kind == ExpectRString {
				return Result{Status: StatusL7Rsp, Code: code, Info: "HTTP content check did not match"}
			}
			return Result{Status: StatusL7Sts, Code: code, Info: reason}
		}
	}
	return Result{Status: StatusL7OK, Code: code}
}

// l4Error maps a connect failure to HAProxy's L4 statuses and errno text.
func l4Error(err error) Result {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Result{Status: StatusL4Tout}
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return Result{Status: StatusL4Con, Info: errnoText(errno)}
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return Result{Status: StatusL4Con, Info: se.Err.Error()}
	}
	return Result{Status: StatusSockErr, Info: err.Error()}
}

// errnoText is strerror(3) as glibc words it (Go's texts are lowercase).
func errnoText(e syscall.Errno) string {
	s := e.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// DescriptionOf returns the description of a status short code ("L4CON"
// → "Layer4 connection problem"), "" when unknown.
func DescriptionOf(code string) string {
	for _, v := range statusNames {
		if v[0] == code {
			return v[1]
		}
	}
	return ""
}
