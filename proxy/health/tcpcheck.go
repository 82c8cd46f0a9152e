package health

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// StepKind is the kind of one tcp-check rule.
type StepKind int

const (
	StepConnect StepKind = iota // tcp-check connect [port N]
	StepSend                    // tcp-check send / send-binary
	StepExpect                  // tcp-check expect [!] string|rstring|binary PATTERN
)

// ExpectBinary is `tcp-check expect binary HEX`.
const ExpectBinary ExpectKind = 100

// TCPStep is one compiled tcp-check rule.
type TCPStep struct {
	Kind   StepKind
	Port   int
	Data   []byte
	Expect Expect
	bin    []byte // binary pattern
	desc   string // as HAProxy names the step in its messages
}

// TCPCheck is a compiled `option tcp-check` rule set (or a built-in check
// expressed as one, like `option redis-check`).
type TCPCheck struct {
	Steps  []TCPStep
	OKInfo string // info of a passed check: "(tcp-check)", "Redis server is ok"
	// builtin: HAProxy names no step in connection errors, and a failed
	// expect reports L7STS with the answer's first line (redis-check).
	builtin bool
}

// CompileTCPCheck compiles `tcp-check` rules, each given as its words
// after "tcp-check" (e.g. ["expect", "!", "string", "220"]). Comments and
// variables are ignored; an unknown rule is an error.
func CompileTCPCheck(rules [][]string) (*TCPCheck, error) {
	tc := &TCPCheck{OKInfo: "(tcp-check)"}
	for _, r := range rules {
		if len(r) == 0 {
			continue
		}
		var st TCPStep
		switch r[0] {
		case "comment", "set-var", "unset-var":
			continue
		case "connect":
			st.Kind = StepConnect
			st.desc = "connect"
			for i := 1; i+1 < len(r); i++ {
				if r[i] == "port" {
					n, err := strconv.Atoi(r[i+1])
					if err != nil || n <= 0 || n > 65535 {
						return nil, errors.New("tcp-check connect: invalid port '" + r[i+1] + "'")
					}
					st.Port = n
					st.desc = "connect port " + r[i+1]
				}
			}
		case "send", "send-lf":
			if len(r) < 2 {
				return nil, errors.New("tcp-check send: missing data")
			}
			st.Kind, st.Data, st.desc = StepSend, []byte(r[1]), "send"
		case "send-binary", "send-binary-lf":
			if len(r) < 2 {
				return nil, errors.New("tcp-check send-binary: missing data")
			}
			b, err := hex.DecodeString(r[1])
			if err != nil {
				return nil, errors.New("tcp-check send-binary: invalid hex string '" + r[1] + "'")
			}
			st.Kind, st.Data, st.desc = StepSend, b, "send"
		case "expect":
			e, desc, bin, err := compileTCPExpect(r[1:])
			if err != nil {
				return nil, err
			}
			st.Kind, st.Expect, st.desc, st.bin = StepExpect, e, desc, bin
		default:
			return nil, errors.New("tcp-check: unsupported rule '" + r[0] + "'")
		}
		tc.Steps = append(tc.Steps, st)
	}
	return tc, nil
}

// tcpExpectOptions take one value and come before the match keyword.
var tcpExpectOptions = map[string]bool{"min-recv": true, "ok-status": true, "error-status": true, "tout-status": true,
	"on-success": true, "on-error": true, "status-code": true, "comment": true}

func compileTCPExpect(a []string) (Expect, string, []byte, error) {
	i := 0
	for i < len(a) && tcpExpectOptions[a[i]] {
		i += 2
	}
	neg := false
	if i < len(a) && a[i] == "!" {
		neg = true
		i++
	}
	if i >= len(a) {
		return Expect{}, "", nil, errors.New("tcp-check expect: missing match type")
	}
	kind := a[i]
	if strings.HasPrefix(kind, "!") {
		neg, kind = true, kind[1:]
	}
	if i+1 >= len(a) {
		return Expect{}, "", nil, errors.New("tcp-check expect " + kind + ": missing pattern")
	}
	pat := a[i+1]
	desc := "expect " + kind + " '" + pat + "'"
	switch kind {
	case "string", "string-lf":
		return Expect{Kind: ExpectString, Negate: neg, Text: pat}, "expect string '" + pat + "'", nil, nil
	case "rstring":
		re, err := regexp.Compile(pat)
		if err != nil {
			return Expect{}, "", nil, errors.New("tcp-check expect rstring: " + err.Error())
		}
		return Expect{Kind: ExpectRString, Negate: neg, Text: pat, Re: re}, desc, nil, nil
	case "binary", "binary-lf":
		b, err := hex.DecodeString(pat)
		if err != nil {
			return Expect{}, "", nil, errors.New("tcp-check expect binary: invalid hex string '" + pat + "'")
		}
		return Expect{Kind: ExpectBinary, Negate: neg, Text: pat}, "expect binary '" + pat + "'", b, nil
	}
	return Expect{}, "", nil, errors.New("tcp-check expect: unsupported match type '" + kind + "'")
}

// RedisCheck is `option redis-check`: PING, expect +PONG.
func RedisCheck() *TCPCheck {
	return &TCPCheck{
		Steps: []TCPStep{
			{Kind: StepSend, Data: []byte("*1\r\n$4\r\nPING\r\n"), desc: "send"},
			{Kind: StepExpect, Expect: Expect{Kind: ExpectString, Text: "+PONG"}, desc: "expect string '+PONG'"},
		},
		OKInfo: "Redis server is ok", builtin: true,
	}
}

func (st *TCPStep) match(buf []byte) bool {
	switch st.Expect.Kind {
	case ExpectString:
		return bytes.Contains(buf, []byte(st.Expect.Text))
	case ExpectRString:
		return st.Expect.Re.Match(buf)
	case ExpectBinary:
		return bytes.Contains(buf, st.bin)
	}
	return false
}

// failInfo is HAProxy's text for a failed expect.
func (st *TCPStep) failInfo(n int) string {
	what := "'" + st.Expect.Text + "'"
	switch st.Expect.Kind {
	case ExpectRString:
		what = "(regex)"
	case ExpectBinary:
		what = "(binary)"
	}
	if st.Expect.Negate {
		return "TCPCHK matched unwanted content " + what + " at step " + strconv.Itoa(n)
	}
	return "TCPCHK did not match content " + what + " at step " + strconv.Itoa(n)
}

// runTCP plays a tcp-check script. Messages follow haproxy 2.6.12:
// "Connection refused at initial connection step of tcp-check",
// "... at step 1 of tcp-check (connect port 22082)", "TCPCHK did not match
// content 'NOPE' at step 2", " at step 1 of tcp-check (expect string 'x')"
// for a timeout, and "(tcp-check)" with L7OK code 0 when all steps pass.
func (p *Probe) runTCP(ctx context.Context) Result {
	tc := p.TCP
	deadline := time.Now().Add(p.ReadTimeout)
	host, _, _ := net.SplitHostPort(p.Addr)
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	dial := func(addr string) error {
		if conn != nil {
			conn.Close()
		}
		d := net.Dialer{Timeout: p.ConnectTimeout}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		conn = c
		conn.SetDeadline(deadline)
		return nil
	}
	if len(tc.Steps) == 0 || tc.Steps[0].Kind != StepConnect {
		if err := dial(p.Addr); err != nil {
			r := l4Error(err)
			if !tc.builtin {
				r.Info += " at initial connection step of tcp-check"
			}
			return r
		}
	}
	buf := make([]byte, 0, 1024)
	max := p.MaxBody
	if max <= 0 {
		max = 16384
	}
	for i := range tc.Steps {
		st := &tc.Steps[i]
		n := i + 1
		switch st.Kind {
		case StepConnect:
			addr := p.Addr
			if st.Port > 0 {
				addr = net.JoinHostPort(host, strconv.Itoa(st.Port))
			}
			if err := dial(addr); err != nil {
				r := l4Error(err)
				r.Info += " at step " + strconv.Itoa(n) + " of tcp-check (" + st.desc + ")"
				return r
			}
			buf = buf[:0]
		case StepSend:
			if _, err := conn.Write(st.Data); err != nil {
				return Result{Status: StatusL7Rsp, Info: "Write error at step " + strconv.Itoa(n) + " of tcp-check (send)"}
			}
		case StepExpect:
			for {
				m := st.match(buf)
				if m == st.Expect.Negate && m {
					return Result{Status: StatusL7Rsp, Info: st.failInfo(n)}
				}
				if m && !st.Expect.Negate {
					break
				}
				if len(buf) >= max {
					return tc.failed(st, n, buf)
				}
				if len(buf) == cap(buf) {
					nb := make([]byte, len(buf), min(2*cap(buf), max))
					copy(nb, buf)
					buf = nb
				}
				k, err := conn.Read(buf[len(buf):cap(buf)])
				buf = buf[:len(buf)+k]
				if err != nil && k == 0 {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						return Result{Status: StatusL7Tout, Info: " at step " + strconv.Itoa(n) + " of tcp-check (" + st.desc + ")"}
					}
					if st.Expect.Negate && !st.match(buf) {
						break // the connection ended without the unwanted content
					}
					if st.match(buf) != st.Expect.Negate {
						break
					}
					return tc.failed(st, n, buf)
				}
			}
			buf = buf[:0]
		}
	}
	return Result{Status: StatusL7OK, Info: tc.OKInfo}
}

func (tc *TCPCheck) failed(st *TCPStep, n int, buf []byte) Result {
	if tc.builtin {
		line := buf
		if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
			line = line[:i]
		}
		return Result{Status: StatusL7Sts, Info: string(line)}
	}
	return Result{Status: StatusL7Rsp, Info: st.failInfo(n)}
}
