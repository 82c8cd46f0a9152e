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
	Dropped  atomic.Int64
	now      func() time.Time
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

// Open connects every target. Unix sockets and UDP are datagram sockets,
// "stdout"/"stderr" write to the process's descriptors.
func Open(ts []proxy.LogTarget, tag string) (*Logger, error) {
	l := &Logger{Tag: tag, PID: os.Getpid(), now: time.Now}
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
			tg.maxLen = 1024
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
func (l *Logger) Send(level int, msg []byte) {
	if l == nil {
		return
	}
	now := l.now()
	bp := linePool.Get().(*[]byte)
	defer linePool.Put(bp)
	for _, t := range l.Targets {
		if level > t.level {
			continue
		}
		lv := level
		if lv < t.minLevel {
			lv = t.minLevel
		}
		line := AppendHeader((*bp)[:0], t.format, t.facility, lv, now, l.Hostname, l.Tag, l.PID)
		line = append(line, msg...)
		*bp = line
		if len(line) > t.maxLen {
			line = line[:t.maxLen]
		}
		if !t.write(line) {
			l.Dropped.Add(1)
		}
	}
}

// write sends one line. The lock also covers re-opening a unix socket
// that was missing at start (/dev/log appearing later).
func (t *Target) write(line []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.file != nil {
		_, err := t.file.Write(append(line, '\n'))
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
		if format == "timed" {
			dst = append(dst, '<')
			dst = strconv.AppendInt(dst, int64(pri), 10)
			dst = append(dst, '>')
			return append(rfc3164Date(dst, now), ' ')
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
		return append(dst, " - - "...)
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
