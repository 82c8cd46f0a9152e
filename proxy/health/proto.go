package health

import (
	"bytes"
	"encoding/binary"
	"strings"
	"time"
)

// The protocol checks are rule lists on the same engine, as HAProxy
// writes them in src/tcpcheck.c: a send and one or more expect rules,
// some with a custom expect function. Where HAProxy builds a message with
// a log-format string over res.payload, the rule carries the equivalent
// function.

func (rs *Ruleset) with(p Proto, rules ...*rule) *Ruleset {
	rs.Proto, rs.rules = p, rules
	rs.finish()
	return rs
}

// payloadText is "%[res.payload(off,0)]": the input from off on.
func payloadText(off int) func(r *run) string {
	return func(r *run) string {
		if off >= len(r.in) {
			return ""
		}
		return string(r.in[off:])
	}
}

// firstLine is "%[res.payload(off,0),ltrim(' '),cut_crlf]" (trim says
// whether leading spaces are removed).
func firstLine(off int, trim bool) func(r *run) string {
	return func(r *run) string {
		s := payloadText(off)(r)
		if trim {
			s = strings.TrimLeft(s, " ")
		}
		if i := strings.IndexAny(s, "\r\n"); i >= 0 {
			s = s[:i]
		}
		return s
	}
}

func constText(s string) func(r *run) string { return func(*run) string { return s } }

// payloadCode is the status-code expression res.payload(0,3).
func payloadCode(r *run) (int, bool) {
	if len(r.in) < 3 {
		return 0, false
	}
	return leadingInt(r.in[:3])
}

func redisRuleset(rs *Ruleset) *Ruleset {
	return rs.with(ProtoRedis,
		&rule{kind: actSend, index: 0, data: []byte("*1\r\n$4\r\nPING\r\n")},
		&rule{kind: actExpect, index: 1, exp: expString, pattern: []byte("+PONG\r\n"), minRecv: -1,
			errStatus: StatusL7Sts, onErrorFn: firstLine(0, false), onSuccessFn: constText("Redis server is ok")},
	)
}

// sslv3Hello is the SSLv3 CLIENT HELLO of option ssl-hello-chk (RFC 2246
// A.3/A.4): the current time, a fixed random, and 39 common ciphers.
func sslv3Hello(now time.Time) []byte {
	b := []byte{0x16, 0x03, 0x00, 0x00, 0x79, 0x01, 0x00, 0x00, 0x75, 0x03, 0x00}
	b = binary.BigEndian.AppendUint32(b, uint32(now.Unix()))
	b = append(b, "HAPROXYSSLCHK\nHAPROXYSSLCHK\n"...)
	b = append(b, 0x00, 0x00, 0x4e)
	for c := 0x01; c <= 0x1b; c++ {
		b = append(b, 0x00, byte(c))
	}
	for c := 0x2f; c <= 0x3a; c++ {
		b = append(b, 0x00, byte(c))
	}
	return append(b, 0x01, 0x00)
}

func sslHelloRuleset(rs *Ruleset) *Ruleset {
	re, _ := compileRegex("^1[56]")
	return rs.with(ProtoSSL3,
		&rule{kind: actSend, index: 0, send: sendFunc, sendFn: func(*run) []byte { return sslv3Hello(time.Now()) }},
		&rule{kind: actExpect, index: 1, exp: expBinaryRegex, re: re, minRecv: 5,
			okStatus: StatusL6OK, errStatus: StatusL6Rsp, toutSt: StatusL6Tout},
	)
}

func smtpRuleset(rs *Ruleset, hello string) *Ruleset {
	if hello == "" {
		hello = "HELO localhost"
	}
	greet, _ := compileRegex("^[0-9]{3}[ \r]")
	ok, _ := compileRegex("^2[0-9]{2}[ \r]")
	// the whole (maybe multi-line) answer to HELO/EHLO, waited for
	helo, _ := compileRegex("^(2[0-9]{2}-[^\r]*\r\n)*2[0-9]{2}[ \r]")
	quit, _ := compileRegex("^2[0-9]{2}[- \r]")
	return rs.with(ProtoSMTP,
		&rule{kind: actConnect, index: 0, def: true, linger: true},
		&rule{kind: actExpect, index: 1, exp: expStringRegex, re: greet, minRecv: 4,
			errStatus: StatusL7Rsp, onErrorFn: firstLine(0, false)},
		&rule{kind: actExpect, index: 2, exp: expStringRegex, re: ok, minRecv: 4,
			errStatus: StatusL7Sts, onErrorFn: firstLine(4, true), statusFn: payloadCode},
		&rule{kind: actSend, index: 3, data: []byte(hello + "\r\n")},
		&rule{kind: actExpect, index: 4, exp: expStringRegex, re: helo, minRecv: -1,
			errStatus: StatusL7Sts, onErrorFn: firstLine(4, true), statusFn: payloadCode},
		// HAProxy 2.6.12 ends the dialogue (smtp.case, captured)
		&rule{kind: actSend, index: 5, data: []byte("QUIT\r\n")},
		&rule{kind: actExpect, index: 6, exp: expStringRegex, re: quit, minRecv: 4,
			errStatus: StatusL7Sts, onErrorFn: firstLine(4, true), onSuccessFn: firstLine(4, true), statusFn: payloadCode},
	)
}

func pgsqlRuleset(rs *Ruleset, user string) *Ruleset {
	req := binary.BigEndian.AppendUint32(nil, uint32(15+len(user)))
	req = append(req, 0x00, 0x03, 0x00, 0x00)
	req = append(req, "user\x00"...)
	req = append(req, user...)
	req = append(req, 0x00, 0x00)
	notE, _ := compileRegex("^E")
	auth, _ := compileRegex("^52000000(08|0A|0C)000000(00|02|03|04|05|06)")
	return rs.with(ProtoPgSQL,
		&rule{kind: actConnect, index: 0, def: true, linger: true},
		&rule{kind: actSend, index: 1, data: req},
		&rule{kind: actExpect, index: 2, exp: expStringRegex, re: notE, inverse: true, minRecv: 5,
			errStatus: StatusL7Rsp, onErrorFn: payloadText(6)},
		&rule{kind: actExpect, index: 3, exp: expBinaryRegex, re: auth, minRecv: 9,
			errStatus: StatusL7Sts, onSuccessFn: constText("PostgreSQL server is ok"), onErrorFn: constText("PostgreSQL unknown error")},
	)
}

// mysqlRequest is the client authentication packet then COM_QUIT: the
// pre-4.1 or 4.1 handshake response for user.
func mysqlRequest(user string, pre41 bool) []byte {
	plen := len(user) + 7
	if !pre41 {
		plen += 27
	}
	b := []byte{byte(plen), byte(plen >> 8), byte(plen >> 16), 1}
	if pre41 {
		b = append(b, 0x00, 0x80, 0x00, 0x00, 0x01)
	} else {
		b = append(b, 0x00, 0x82, 0x00, 0x00, 0x00, 0x80, 0x00, 0x01, 0x21)
		b = append(b, make([]byte, 23)...)
	}
	b = append(b, user...)
	return append(b, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01)
}

func mysqlRuleset(rs *Ruleset, user string, pre41 bool) *Ruleset {
	rules := []*rule{{kind: actConnect, index: 0, def: true, linger: true}}
	if user != "" {
		rules = append(rules, &rule{kind: actSend, index: 1, data: mysqlRequest(user, pre41)})
	}
	rules = append(rules, &rule{kind: actExpect, index: len(rules), exp: expCustom, minRecv: -1, custom: mysqlInitialHandshake})
	if user != "" {
		rules = append(rules, &rule{kind: actExpect, index: len(rules), exp: expCustom, minRecv: -1, custom: mysqlOK})
	}
	return rs.with(ProtoMySQL, rules...)
}

func mysqlInitialHandshake(r *run, ru *rule, lastRead bool) evalRet {
	return mysqlPacket(r, ru, 0, lastRead)
}

func mysqlOK(r *run, ru *rule, lastRead bool) evalRet {
	if len(r.in) < 3 {
		return mysqlPacket(r, ru, 0, lastRead)
	}
	hslen := 4 + int(r.in[0]) + int(r.in[1])<<8 + int(r.in[2])<<16
	return mysqlPacket(r, ru, hslen, lastRead)
}

// mysqlPacket validates the MySQL packet at off: an error packet (0xff)
// fails with its code and message; the last rule passes with the
// server version of the greeting as info.
func mysqlPacket(r *run, ru *rule, off int, lastRead bool) evalRet {
	in := r.in
	if len(in) < off+4 {
		if !lastRead {
			return evalWait
		}
		return r.expectFailed(ru, StatusL7Rsp, false, "")
	}
	plen := int(in[off]) | int(in[off+1])<<8 | int(in[off+2])<<16
	if len(in) < off+plen+4 {
		if !lastRead {
			return evalWait
		}
		return r.expectFailed(ru, StatusL7Rsp, false, "")
	}
	if len(in) > off+4 && in[off+4] == 0xff {
		code := 0
		if len(in) > off+6 {
			code = int(in[off+5]) | int(in[off+6])<<8
		}
		desc := ""
		if len(in) > off+7 {
			desc = string(in[off+7:])
		}
		msg := r.errorMessage(ru, false, desc)
		r.code = code
		r.set(StatusL7Sts, msg)
		return evalStop
	}
	if r.nextAfter(ru) != nil {
		return evalContinue
	}
	st := StatusL7OK
	if ru.okStatus != StatusUnknown {
		st = ru.okStatus
	}
	ver := ""
	if len(in) > 5 {
		ver = string(in[5:])
	}
	r.set(st, ver)
	return evalStop
}

// nextAfter is the rule after ru in the ruleset, or nil.
func (r *run) nextAfter(ru *rule) *rule {
	for i, x := range r.rs.rules {
		if x == ru {
			for _, y := range r.rs.rules[i+1:] {
				if y.kind != actSetVar && y.kind != actUnsetVar {
					return y
				}
			}
			return nil
		}
	}
	return nil
}

func ldapRuleset(rs *Ruleset) *Ruleset {
	req, _ := parseBinary("300C020101600702010304008000")
	seq, _ := compileRegex("^30")
	return rs.with(ProtoLDAP,
		&rule{kind: actSend, index: 0, data: req},
		&rule{kind: actExpect, index: 1, exp: expBinaryRegex, re: seq, minRecv: 14, onErrorFn: constText("Not LDAPv3 protocol")},
		&rule{kind: actExpect, index: 2, exp: expCustom, minRecv: -1, custom: ldapBindResponse},
	)
}

// ldapBindResponse checks an LDAPv3 bindResponse (RFC 4511 §4.2.2):
// messageID 1, then the resultCode, which must be 0.
func ldapBindResponse(r *run, ru *rule, lastRead bool) evalRet {
	in := r.in
	at := func(i int) byte {
		if i < len(in) {
			return in[i]
		}
		return 0
	}
	msglen := 0
	if at(1)&0x80 != 0 {
		msglen = int(at(1) & 0x7f)
	}
	if msglen > 2 || !bytes.Equal(sliceAt(in, 2+msglen, 4), []byte{0x02, 0x01, 0x01, 0x61}) {
		return r.expectFailed(ru, StatusL7Rsp, false, "Not LDAPv3 protocol")
	}
	if at(msglen+6)&0x80 != 0 {
		msglen += int(at(msglen+6) & 0x7f)
	}
	if msglen > 4 || !bytes.Equal(sliceAt(in, 7+msglen, 2), []byte{0x0a, 0x01}) {
		return r.expectFailed(ru, StatusL7Rsp, false, "Not LDAPv3 protocol")
	}
	if code := int(at(msglen + 9)); code != 0 {
		msg := r.errorMessage(ru, false, "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9")
		r.code = code
		r.set(StatusL7Sts, msg)
		return evalStop
	}
	st := StatusL7OK
	if ru.okStatus != StatusUnknown {
		st = ru.okStatus
	}
	r.set(st, "Success")
	return evalStop
}

func sliceAt(b []byte, off, n int) []byte {
	if off < 0 || off+n > len(b) {
		return nil
	}
	return b[off : off+n]
}

func spopRuleset(rs *Ruleset) *Ruleset {
	return rs.with(ProtoSPOP,
		&rule{kind: actSend, index: 0, data: spopHello()},
		&rule{kind: actExpect, index: 1, exp: expCustom, minRecv: 4, custom: spopAgentHello},
	)
}

// SPOP (doc/SPOE.txt §3): frame types, data types, flags.
const (
	spoeHAProxyHello = 1
	spoeAgentHello   = 101
	spoeAgentDiscon  = 102
	spoeFin          = 1
	spoeTypeBool     = 1
	spoeTypeInt32    = 2
	spoeTypeUint32   = 3
	spoeTypeInt64    = 4
	spoeTypeUint64   = 5
	spoeTypeStr      = 8
	spoeTypeBin      = 9
	spoeFlagTrue     = 0x10
	spoeMaxFrameSize = 16380
	spoeMinFrameSize = 256
)

// spoeErrors are the SPOE status codes' texts (spoe_frm_err_reasons).
var spoeErrors = []string{
	"normal", "I/O error", "a timeout occurred", "frame is too big", "invalid frame received",
	"version value not found", "max-frame-size value not found", "capabilities value not found",
	"unsupported version", "max-frame-size too big or too small", "fragmentation not supported",
	"invalid interlaced frames", "frame-id not found", "resource allocation error", "an unknown error occurred",
}

const (
	spoeErrInvalid      = 4
	spoeErrNoVsn        = 5
	spoeErrNoFrameSize  = 6
	spoeErrBadVsn       = 8
	spoeErrBadFrameSize = 9
	spoeErrFragment     = 10
	spoeErrUnknown      = 14
)

func spoeVarint(b []byte, v uint64) []byte {
	if v < 240 {
		return append(b, byte(v))
	}
	b = append(b, byte(v)|240)
	v = (v - 240) >> 4
	for v >= 128 {
		b = append(b, byte(v)|128)
		v = (v - 128) >> 7
	}
	return append(b, byte(v))
}

func spoeReadVarint(b []byte, p *int) (uint64, bool) {
	if *p >= len(b) {
		return 0, false
	}
	v := uint64(b[*p])
	*p++
	if v < 240 {
		return v, true
	}
	shift := uint(4)
	for {
		if *p >= len(b) || shift > 57 {
			return 0, false
		}
		c := uint64(b[*p])
		*p++
		v += c << shift
		shift += 7
		if c < 128 {
			return v, true
		}
	}
}

func spoeString(b []byte, s string) []byte {
	return append(spoeVarint(b, uint64(len(s))), s...)
}

// spopHello is the HAPROXY-HELLO frame of option spop-check, with the
// "healthcheck" item, behind its 4-byte length.
func spopHello() []byte {
	f := []byte{spoeHAProxyHello, 0, 0, 0, spoeFin, 0, 0}
	f = spoeString(f, "supported-versions")
	f = append(f, spoeTypeStr)
	f = spoeString(f, "2.0")
	f = spoeString(f, "max-frame-size")
	f = append(f, spoeTypeUint32)
	f = spoeVarint(f, spoeMaxFrameSize)
	f = spoeString(f, "capabilities")
	f = append(f, spoeTypeStr)
	f = spoeString(f, "")
	f = spoeString(f, "healthcheck")
	f = append(f, spoeTypeBool|spoeFlagTrue)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(f))), f...)
}

// spopAgentHello checks the agent's answer to the hello frame.
func spopAgentHello(r *run, ru *rule, lastRead bool) evalRet {
	if len(r.in) < 4 {
		// Only when the server closed early: no frame length at all.
		return r.expectFailed(ru, StatusL7Rsp, false, spoeErrors[spoeErrInvalid])
	}
	size := int(binary.BigEndian.Uint32(r.in[:4]))
	if !lastRead && len(r.in) < 4+size {
		return evalWait
	}
	frame := r.in[4:]
	if len(frame) > size {
		frame = frame[:size]
	}
	if code := spoeCheckHello(frame); code >= 0 {
		if code >= len(spoeErrors) {
			code = spoeErrUnknown
		}
		return r.expectFailed(ru, StatusL7Rsp, false, spoeErrors[code])
	}
	st := StatusL7OK
	if ru.okStatus != StatusUnknown {
		st = ru.okStatus
	}
	r.set(st, "SPOA server is ok")
	return evalStop
}

// spoeCheckHello returns -1 for a valid AGENT-HELLO frame, the SPOE error
// code otherwise (or the code an AGENT-DISCONNECT frame carries).
func spoeCheckHello(f []byte) int {
	if len(f) == 0 || (f[0] != spoeAgentHello && f[0] != spoeAgentDiscon) {
		return spoeErrInvalid
	}
	disc := f[0] == spoeAgentDiscon
	if len(f) < 7 {
		return spoeErrInvalid
	}
	if binary.BigEndian.Uint32(f[1:5])&spoeFin == 0 {
		return spoeErrFragment
	}
	if f[5] != 0 || f[6] != 0 {
		return spoeErrInvalid
	}
	p := 7
	vsn, maxFrame := false, false
	status := spoeErrUnknown
	for p < len(f) {
		kl, ok := spoeReadVarint(f, &p)
		if !ok || kl == 0 || kl > uint64(len(f)-p) {
			return spoeErrInvalid
		}
		key := string(f[p : p+int(kl)])
		p += int(kl)
		if p >= len(f) {
			return spoeErrInvalid
		}
		typ := f[p] & 0x0f
		p++
		switch {
		case !disc && strings.HasPrefix(key, "version"):
			if typ != spoeTypeStr {
				return spoeErrInvalid
			}
			n, ok := spoeReadVarint(f, &p)
			if !ok || n > uint64(len(f)-p) {
				return spoeErrInvalid
			}
			v := strings.TrimSpace(string(f[p : p+int(n)]))
			p += int(n)
			if v != "2.0" && !spoeVersion2(v) {
				return spoeErrBadVsn
			}
			vsn = true
		case !disc && strings.HasPrefix(key, "max-frame-size"):
			if typ != spoeTypeInt32 && typ != spoeTypeInt64 && typ != spoeTypeUint32 && typ != spoeTypeUint64 {
				return spoeErrInvalid
			}
			n, ok := spoeReadVarint(f, &p)
			if !ok {
				return spoeErrInvalid
			}
			if n < spoeMinFrameSize || n > spoeMaxFrameSize {
				return spoeErrBadFrameSize
			}
			maxFrame = true
		case disc && strings.HasPrefix(key, "status-code"):
			n, ok := spoeReadVarint(f, &p)
			if !ok {
				return spoeErrInvalid
			}
			status = int(n)
		default:
			if !spoeSkip(f, &p, typ) {
				return spoeErrInvalid
			}
		}
	}
	switch {
	case disc:
		return status
	case !vsn:
		return spoeErrNoVsn
	case !maxFrame:
		return spoeErrNoFrameSize
	}
	return -1
}

// spoeVersion2 accepts "2.0" written with a longer minor ("2.00").
func spoeVersion2(v string) bool {
	maj, min, ok := strings.Cut(v, ".")
	if !ok || maj != "2" || min == "" {
		return false
	}
	for _, c := range min {
		if c != '0' {
			return false
		}
	}
	return len(min) <= 3
}

func spoeSkip(f []byte, p *int, typ byte) bool {
	switch typ {
	case 0, spoeTypeBool:
		return true
	case spoeTypeInt32, spoeTypeUint32, spoeTypeInt64, spoeTypeUint64:
		_, ok := spoeReadVarint(f, p)
		return ok
	case 6:
		*p += 4
	case 7:
		*p += 16
	case spoeTypeStr, spoeTypeBin:
		n, ok := spoeReadVarint(f, p)
		if !ok || n > uint64(len(f)-*p) {
			return false
		}
		*p += int(n)
	default:
		return false
	}
	return *p <= len(f)
}

func agentRuleset() *Ruleset {
	rs := &Ruleset{}
	return rs.with(ProtoAgent,
		&rule{kind: actSend, index: 0, send: sendFunc, sendFn: func(r *run) []byte {
			v, ok := r.actx.Vars.Get("check.agent_string")
			if !ok {
				return nil
			}
			return v.AppendText(nil)
		}},
		&rule{kind: actExpect, index: 1, exp: expCustom, minRecv: -1, custom: agentReply},
	)
}

// AgentReply is what an agent's answer asks for (configuration.txt
// agent-check): a health word, an administrative state, a weight and a
// maxconn, each the last of its kind on the line.
type AgentReply struct {
	Health   string // "up", "down", "stopped", "fail" or ""
	Admin    string // "ready", "drain", "maint" or ""
	Weight   string // "75%" (the word as written) or ""
	Maxconn  string // the value after "maxconn:" or ""
	Err      string // the first word not understood
	Comment  string // text after '#'
	complete bool
}

// ParseAgentReply parses an agent's line: words separated by spaces, tabs
// or commas, up to the first CR or LF, an optional '#' starting a
// description. ok is false when no line end arrived.
func ParseAgentReply(b []byte) (AgentReply, bool) {
	var a AgentReply
	end := bytes.IndexAny(b, "\r\n")
	if end < 0 {
		return a, false
	}
	if z := bytes.IndexByte(b[:end], 0); z >= 0 {
		end = z
	}
	line := string(b[:end])
	i := 0
	for i < len(line) {
		c := line[i]
		if c == ' ' || c == '\t' || c == ',' {
			i++
			continue
		}
		if c == '#' {
			i++
			for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
				i++
			}
			a.Comment = line[i:]
			break
		}
		j := i + 1
		for j < len(line) && line[j] != ' ' && line[j] != '\t' && line[j] != ',' {
			j++
		}
		w := line[i:j]
		lw := strings.ToLower(w)
		switch {
		case lw == "up" || lw == "down" || lw == "stopped" || lw == "fail":
			a.Health = w
		case lw == "ready" || lw == "drain" || lw == "maint":
			a.Admin = w
		case w[0] >= '0' && w[0] <= '9' && strings.Contains(w, "%"):
			a.Weight = w
		case strings.HasPrefix(lw, "maxconn:"):
			a.Maxconn = w[len("maxconn:"):]
		default:
			if a.Err == "" {
				a.Err = w
			}
		}
		i = j
	}
	a.Comment = strings.TrimLeft(a.Comment, " \n")
	a.complete = true
	return a, true
}

// agentReply is the agent check's expect function: it records the reply
// for the checker to apply and sets the agent's status.
func agentReply(r *run, ru *rule, lastRead bool) evalRet {
	a, ok := ParseAgentReply(r.in)
	if !ok {
		if !lastRead {
			return evalWait
		}
		r.agentIncomplete = true
		r.set(r.env.PrevStatus, "Ignoring incomplete line from agent")
		return evalStop
	}
	r.agent = &a
	st := StatusChecked
	switch strings.ToLower(a.Health) {
	case "up":
		st = StatusL7OK
	case "down", "stopped", "fail":
		st = StatusL7Sts
	}
	// The weight and maxconn warnings are known only once applied: the
	// checker completes the message (see Checker.applyAgent).
	r.set(st, "")
	return evalStop
}
