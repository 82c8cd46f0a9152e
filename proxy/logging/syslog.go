package logging

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"halo/proxy"
)

// Syslog severities (RFC 5424 §6.2.1), as HAProxy names them.
var levels = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// Severity values used by the runtime.
const (
	LevelEmerg = iota
	LevelAlert
	LevelCrit
	LevelErr
	LevelWarning
	LevelNotice
	LevelInfo
	LevelDebug
)

var facilities = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// Target is one open `log` destination.
type Target struct {
	Address  string
	facility int
	level    int // highest severity value sent
	minLevel int // more severe messages are capped to this one
	format   string
	maxLen   int
	// sample keeps the lines whose number, counted from 1 and cycling
	// over sampleSize, falls in one of the ranges (`log … sample`).
	sample     []proxy.SampleRange
	sampleSize uint64
	sampleN    atomic.Uint64

	mu   sync.Mutex
	conn net.Conn
	file *os.File
}

// Logger sends log lines to a proxy's targets. It is safe for concurrent
// use; a send that fails is counted in Dropped and never blocks traffic.
type Logger struct {
	Targets  []*Target
	Tag      string // "haproxy" unless `log-tag`
	Hostname string // set with log-send-hostname
	PID      int
	// MaxLine is HAProxy's global.max_syslog_len: the largest `len` of
	// every log target of the configuration (1024 by default). A log
	// line is built in that many bytes, its terminating NUL included,
	// so a line is at most MaxLine-1 bytes long before any header.
	MaxLine int
	Dropped atomic.Int64
	now     func() time.Time
}

// DefaultLen is a log target's line length without `len`.
const DefaultLen = 1024

// MaxLine is the line budget of a configuration's logs (see
// Logger.MaxLine): the largest length of its log targets.
func MaxLine(cfg *proxy.Config) int {
	n := 0
	grow := func(ts []proxy.LogTarget) {
		for _, t := range ts {
			l := t.Len
			if l <= 0 {
				l = DefaultLen
			}
			n = max(n, l)
		}
	}
	grow(cfg.Global.Logs)
	for _, p := range cfg.Proxies {
		grow(p.Logs)
	}
	if n == 0 {
		n = DefaultLen
	}
	return n
}

// ValidateTarget checks one `log` line's values and returns the error
// HAProxy would print.
func ValidateTarget(t proxy.LogTarget) error {
	fac := t.Facility
	if fac == "" {
		return fmt.Errorf("log: missing facility")
	}
	if indexOf(facilities, fac) < 0 {
		return fmt.Errorf("unknown log facility '%s'", fac)
	}
	for _, l := range []string{t.Level, t.MinLevel} {
		if l != "" && indexOf(levels, l) < 0 {
			return fmt.Errorf("unknown optional log level '%s'", l)
		}
	}
	switch t.Format {
	case "", "rfc3164", "rfc5424", "raw", "short", "priority", "timed", "iso", "local":
	default:
		return fmt.Errorf("unknown log format '%s'", t.Format)
	}
	return nil
}

// OpenFor opens px's log targets as HAProxy sends px's lines: the
// proxy's `log-tag` (else the global one), the global
// `log-send-hostname`, the configuration's line budget.
func OpenFor(cfg *proxy.Config, px *proxy.Proxy) (*Logger, error) {
	tag := px.LogTag
	if tag == "" {
		tag = cfg.Global.LogTag
	}
	l, err := Open(px.Logs, tag)
	if err != nil {
		return nil, err
	}
	l.Hostname = cfg.Global.LogSendHostname
	l.MaxLine = MaxLine(cfg)
	return l, nil
}

// Open connects every target. Unix sockets and UDP are datagram sockets,
// "stdout"/"stderr" write to the process's descriptors.
func Open(ts []proxy.LogTarget, tag string) (*Logger, error) {
	l := &Logger{Tag: tag, PID: os.Getpid(), MaxLine: DefaultLen, now: time.Now}
	if l.Tag == "" {
		l.Tag = "haproxy"
	}
	for _, t := range ts {
		if err := ValidateTarget(t); err != nil {
			return nil, err
		}
		tg := &Target{Address: t.Address, facility: indexOf(facilities, t.Facility),
			level: LevelDebug, minLevel: LevelEmerg, format: t.Format, maxLen: t.Len}
		if t.Level != "" {
			tg.level = indexOf(levels, t.Level)
		}
		if t.MinLevel != "" {
			tg.minLevel = indexOf(levels, t.MinLevel)
		}
		if tg.maxLen <= 0 {
			tg.maxLen = DefaultLen
		}
		if t.SampleSize > 0 {
			tg.sample, tg.sampleSize = t.Sample, uint64(t.SampleSize)
		}
		if err := tg.open(); err != nil {
			return nil, err
		}
		l.Targets = append(l.Targets, tg)
	}
	return l, nil
}

func (t *Target) open() error {
	a := t.Address
	switch {
	case a == "stdout":
		t.file = os.Stdout
		return nil
	case a == "stderr":
		t.file = os.Stderr
		return nil
	case strings.HasPrefix(a, "/") || strings.HasPrefix(a, "unix@"):
		path := strings.TrimPrefix(a, "unix@")
		c, err := net.Dial("unixgram", path)
		if err != nil {
			// HAProxy keeps running when /dev/log is absent (e.g. in a
			// container); lines are dropped and counted until it appears.
			return nil
		}
		t.conn = c
		return nil
	}
	addr := strings.TrimPrefix(strings.TrimPrefix(a, "udp@"), "udp4@")
	addr = strings.TrimPrefix(addr, "udp6@")
	if strings.HasPrefix(addr, "ipv4@") || strings.HasPrefix(addr, "ipv6@") {
		addr = addr[5:]
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(strings.Trim(addr, "[]"), "514")
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		return fmt.Errorf("log: cannot use address '%s': %v", a, err)
	}
	t.conn = c
	return nil
}

// Close closes network targets.
func (l *Logger) Close() {
	for _, t := range l.Targets {
		if t.conn != nil {
			t.conn.Close()
		}
	}
}

// linePool holds the buffers log lines are assembled in (a log line per
// request must not allocate).
var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// Send emits msg at severity level to every target whose level admits it.
func (l *Logger) Send(level int, msg []byte) { l.SendSD(level, nil, msg) }

// SendSD is Send with RFC 5424 structured data (`log-format-sd`): the
// rfc5424 targets put it in their header's STRUCTURED-DATA field, the
// other formats leave it out.
func (l *Logger) SendSD(level int, sd, msg []byte) {
	if l == nil {
		return
	}
	now := l.now()
	if l.MaxLine > 0 && len(msg) > l.MaxLine-1 {
		msg = msg[:l.MaxLine-1]
	}
	bp := linePool.Get().(*[]byte)
	defer linePool.Put(bp)
	for _, t := range l.Targets {
		if level > t.level || !t.sampled() {
			continue
		}
		lv := level
		if lv < t.minLevel {
			lv = t.minLevel
		}
		line := appendHeader((*bp)[:0], t.format, t.facility, lv, now, l.Hostname, l.Tag, l.PID, sd)
		line = append(line, msg...)
		if len(line) > t.maxLen {
			line = line[:t.maxLen]
		}
		// Every line ends with a LF, on datagram sockets too: HAProxy
		// sends it after the (truncated) line.
		line = append(line, '\n')
		*bp = line
		if !t.write(line) {
			l.Dropped.Add(1)
		}
	}
}

// sampled reports whether this line is one the target's sample keeps.
func (t *Target) sampled() bool {
	if t.sampleSize == 0 {
		return true
	}
	n := (t.sampleN.Add(1)-1)%t.sampleSize + 1
	for _, r := range t.sample {
		if uint64(r.Low) <= n && n <= uint64(r.High) {
			return true
		}
	}
	return false
}

// write sends one line. The lock also covers re-opening a unix socket
// that was missing at start (/dev/log appearing later).
func (t *Target) write(line []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.file != nil {
		_, err := t.file.Write(line)
		return err == nil
	}
	if t.conn == nil {
		if t.open() != nil || t.conn == nil {
			return false
		}
	}
	t.conn.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := t.conn.Write(line)
	return err == nil
}

// AppendHeader writes the syslog header of one line in the given format
// (configuration.txt §4.2 "log ... format").
func AppendHeader(dst []byte, format string, facility, level int, now time.Time, host, tag string, pid int) []byte {
	return appendHeader(dst, format, facility, level, now, host, tag, pid, nil)
}

func appendHeader(dst []byte, format string, facility, level int, now time.Time, host, tag string, pid int, sd []byte) []byte {
	pri := facility*8 + level
	switch format {
	case "raw":
		return dst
	case "short":
		dst = append(dst, '<')
		dst = strconv.AppendInt(dst, int64(level), 10)
		return append(dst, '>')
	case "priority":
		dst = append(dst, '<')
		dst = strconv.AppendInt(dst, int64(pri), 10)
		return append(dst, '>')
	case "timed", "iso":
		// timed is short's "<level>" then the ISO date; iso the date
		// alone (what HAProxy 2.6.12 sends).
		if format == "timed" {
			dst = append(dst, '<')
			dst = strconv.AppendInt(dst, int64(level), 10)
			dst = append(dst, '>')
		}
		return append(now.AppendFormat(dst, "2006-01-02T15:04:05.000000-07:00"), ' ')
	case "rfc5424":
		dst = append(dst, '<')
		dst = strconv.AppendInt(dst, int64(pri), 10)
		dst = append(dst, ">1 "...)
		dst = now.AppendFormat(dst, "2006-01-02T15:04:05.000000-07:00")
		dst = append(dst, ' ')
		if host == "" {
			dst = append(dst, '-')
		} else {
			dst = append(dst, host...)
		}
		dst = append(dst, ' ')
		dst = append(dst, tag...)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(pid), 10)
		if len(sd) == 0 {
			return append(dst, " - - "...)
		}
		dst = append(dst, " - "...)
		dst = append(dst, sd...)
		return append(dst, ' ')
	}
	// rfc3164: "<PRI>Mmm dd hh:mm:ss [host ]tag[pid]: "
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(pri), 10)
	dst = append(dst, '>')
	dst = rfc3164Date(dst, now)
	dst = append(dst, ' ')
	if host != "" {
		dst = append(dst, host...)
		dst = append(dst, ' ')
	}
	dst = append(dst, tag...)
	dst = append(dst, '[')
	dst = strconv.AppendInt(dst, int64(pid), 10)
	return append(dst, "]: "...)
}

func rfc3164Date(dst []byte, t time.Time) []byte {
	m := t.Month()
	dst = append(dst, monthNames[(m-1)*3:m*3]...)
	dst = append(dst, ' ')
	d := t.Day()
	if d < 10 {
		dst = append(dst, ' ', byte('0'+d))
	} else {
		dst = append2(dst, d)
	}
	dst = append(dst, ' ')
	dst = append2(dst, t.Hour())
	dst = append(dst, ':')
	dst = append2(dst, t.Minute())
	dst = append(dst, ':')
	return append2(dst, t.Second())
}
