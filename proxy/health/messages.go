package health

import (
	"fmt"
	"os"
	"strings"
	"time"

	"halo/proxy"
	"halo/proxy/balance"
)

// Severity is a syslog severity, for the send_log side of a message.
type Severity int

const (
	SevEmerg  Severity = 0
	SevAlert  Severity = 1
	SevNotice Severity = 5
)

// Event is one state-change message. HAProxy prints it on stderr as a
// warning or alert ("[WARNING]  (pid) : …") and sends it to the proxy's
// log targets with Severity.
type Event struct {
	Proxy    string
	Alert    bool // stderr prefix [ALERT] rather than [WARNING]
	Severity Severity
	Msg      string // the full line, without the trailing newline
}

// Sink receives state-change events. StderrSink is the default.
type Sink func(Event)

// StderrSink writes events the way `haproxy -db` does on stderr.
func StderrSink(e Event) {
	lvl := "[WARNING]"
	if e.Alert {
		lvl = "[ALERT]"
	}
	fmt.Fprintf(os.Stderr, "%-11s(%d) : %s\n", lvl, os.Getpid(), e.Msg)
}

func serverKind(backup bool) string {
	if backup {
		return "Backup Server"
	}
	return "Server"
}

// asciiEncode escapes an info text as HAProxy's chunk_asciiencode does
// with '"' as the quote: non-printable bytes, '<', '>' and '"' become
// <XX>.
func asciiEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"' {
			fmt.Fprintf(&b, "<%02X>", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// reason renders a check result as HAProxy's srv_append_status does:
// ", reason: …, code: N, info: "…", check duration: Nms". A negative
// duration (health analysis) is not printed.
func reason(r Result) string {
	var b strings.Builder
	b.WriteString(", reason: ")
	b.WriteString(r.Status.Description())
	if r.Status.HasCode() {
		fmt.Fprintf(&b, ", code: %d", r.Code)
	}
	if r.Info != "" {
		b.WriteString(", info: \"" + asciiEncode(r.Info) + "\"")
	}
	if r.Duration >= 0 {
		fmt.Fprintf(&b, ", check duration: %dms", r.Duration/time.Millisecond)
	}
	return b.String()
}

func onBackup(t balance.Transition) string {
	if t.RunningOnBackup() {
		return " Running on backup."
	}
	return ""
}

// Why is what a state-change message says after "is DOWN"/"is UP": the
// check result that caused it, or the tracked server it follows, or
// nothing (log-health-checks already logged the result).
type Why struct {
	Result *Result
	Via    string // "backend/server" of a tracked server
}

func (w Why) String() string {
	switch {
	case w.Result != nil:
		return reason(*w.Result)
	case w.Via != "":
		return " via " + w.Via
	}
	return ""
}

// DownMessage is HAProxy's message for a server going DOWN.
func DownMessage(proxy, server string, backup bool, w Why, t balance.Transition) string {
	return fmt.Sprintf("%s %s/%s is DOWN%s. %d active and %d backup servers left.%s %d sessions active, %d requeued, %d remaining in queue.",
		serverKind(backup), proxy, server, w, t.Active, t.Backup, onBackup(t), t.SessActive, t.Requeued, t.Queued)
}

// UpMessage is HAProxy's message for a server going UP.
func UpMessage(proxy, server string, backup bool, w Why, t balance.Transition) string {
	return fmt.Sprintf("%s %s/%s is UP%s. %d active and %d backup servers online.%s %d sessions requeued, %d total in queue.",
		serverKind(backup), proxy, server, w, t.Active, t.Backup, onBackup(t), t.Requeued, t.Queued)
}

// StoppingMessage is HAProxy's message when `http-check disable-on-404`
// puts a server in the stopping state.
func StoppingMessage(proxy, server string, backup bool, w Why, t balance.Transition) string {
	return fmt.Sprintf("%s %s/%s is stopping%s. %d active and %d backup servers online.%s %d sessions requeued, %d total in queue.",
		serverKind(backup), proxy, server, w, t.Active, t.Backup, onBackup(t), t.Requeued, t.Queued)
}

// NoServerMessage is the alert when a backend loses its last server;
// kind is ProxyKind's word.
func NoServerMessage(kind, proxy string) string {
	return kind + " '" + proxy + "' has no server available!"
}

// ProxyKind is how HAProxy names a proxy in its messages
// (proxy_type_str): "proxy" for a listen section, else "backend".
func ProxyKind(px *proxy.Proxy) string {
	if px != nil && px.Cap&proxy.CapFE != 0 {
		return "proxy"
	}
	return "backend"
}

const noServerTail = "' has no server available!"

// SyslogText is the text sent to log targets for an event: HAProxy quotes
// the backend name on stderr only.
func SyslogText(e Event) string {
	if e.Alert && e.Severity == SevEmerg && strings.HasSuffix(e.Msg, noServerTail) {
		kind, _, _ := strings.Cut(e.Msg, " '")
		return kind + " " + e.Proxy + " has no server available!"
	}
	return e.Msg
}
