package health

import (
	"fmt"
	"os"
	"strings"
	"time"

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
	Msg      string // without trailing period handling: the full line, no newline
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

// reason renders ", reason: …, code: N, info: "…", check duration: Nms".
func reason(r Result) string {
	var b strings.Builder
	b.WriteString(", reason: ")
	b.WriteString(r.Status.Description())
	if r.Status.hasCode() {
		fmt.Fprintf(&b, ", code: %d", r.Code)
	}
	if r.Info != "" {
		fmt.Fprintf(&b, ", info: \"%s\"", r.Info)
	}
	fmt.Fprintf(&b, ", check duration: %dms", r.Duration/time.Millisecond)
	return b.String()
}

func onBackup(t balance.Transition) string {
	if t.RunningOnBackup() {
		return " Running on backup."
	}
	return ""
}

// DownMessage is HAProxy's message for a server marked DOWN by its checks.
func DownMessage(proxy, server string, backup bool, r Result, t balance.Transition) string {
	return fmt.Sprintf("%s %s/%s is DOWN%s. %d active and %d backup servers left.%s %d sessions active, %d requeued, %d remaining in queue.",
		serverKind(backup), proxy, server, reason(r), t.Active, t.Backup, onBackup(t), t.SessActive, t.Requeued, t.Queued)
}

// UpMessage is HAProxy's message for a server marked UP by its checks.
func UpMessage(proxy, server string, backup bool, r Result, t balance.Transition) string {
	return fmt.Sprintf("%s %s/%s is UP%s. %d active and %d backup servers online.%s %d sessions requeued, %d total in queue.",
		serverKind(backup), proxy, server, reason(r), t.Active, t.Backup, onBackup(t), t.Requeued, t.Queued)
}

// StoppingMessage is HAProxy's message when `http-check disable-on-404`
// puts a server in the stopping state.
func StoppingMessage(proxy, server string, backup bool, r Result, t balance.Transition) string {
	return fmt.Sprintf("%s %s/%s is stopping%s. %d active and %d backup servers online.%s %d sessions requeued, %d total in queue.",
		serverKind(backup), proxy, server, reason(r), t.Active, t.Backup, onBackup(t), t.Requeued, t.Queued)
}

// NoServerMessage is the alert when a backend loses its last server.
func NoServerMessage(proxy string) string {
	return "backend '" + proxy + "' has no server available!"
}

// noServerLog is the syslog form of NoServerMessage (no quotes there).
func noServerLog(proxy string) string {
	return "backend " + proxy + " has no server available!"
}

// Report sends the events for a transition t of server srv the way HAProxy
// does: the change itself (stderr warning, syslog alert when down, notice
// when up), then the backend alert when it was the last server. The stderr
// and syslog texts differ only for the backend alert, so Event.Msg carries
// the stderr text and SyslogText derives the other.
func Report(sink Sink, proxy, server string, backup, up bool, r Result, t balance.Transition) {
	if sink == nil {
		sink = StderrSink
	}
	if up {
		sink(Event{Proxy: proxy, Severity: SevNotice, Msg: UpMessage(proxy, server, backup, r, t)})
	} else {
		sink(Event{Proxy: proxy, Severity: SevAlert, Msg: DownMessage(proxy, server, backup, r, t)})
	}
	if t.BackendDown {
		sink(Event{Proxy: proxy, Alert: true, Severity: SevEmerg, Msg: NoServerMessage(proxy)})
	}
}

// SyslogText is the text sent to log targets for an event: HAProxy quotes
// the backend name on stderr only.
func SyslogText(e Event) string {
	if e.Alert && e.Severity == SevEmerg && strings.HasPrefix(e.Msg, "backend '") {
		return noServerLog(e.Proxy)
	}
	return e.Msg
}
