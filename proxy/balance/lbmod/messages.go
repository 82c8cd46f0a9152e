package lbmod

import (
	"fmt"

	"halo/proxy/balance"
	"halo/proxy/health"
)

// The messages HAProxy 2.6.12 prints (stderr warning) and logs when the
// runtime API changes a server's state, worded and leveled as recorded on
// this box: syslog notice, alert where noted.

func serverKind(backup bool) string {
	if backup {
		return "Backup Server"
	}
	return "Server"
}

func onBackup(t balance.Transition) string {
	if t.RunningOnBackup() {
		return " Running on backup."
	}
	return ""
}

// left is the tail of a message for a server that stopped taking traffic.
func left(t balance.Transition) string {
	return fmt.Sprintf("%d active and %d backup servers left.%s %d sessions active, %d requeued, %d remaining in queue.",
		t.Active, t.Backup, onBackup(t), t.SessActive, t.Requeued, t.Queued)
}

// online is the tail of a message for a server that (still) takes traffic.
func online(t balance.Transition) string {
	return fmt.Sprintf("%d active and %d backup servers online.%s %d sessions requeued, %d total in queue.",
		t.Active, t.Backup, onBackup(t), t.Requeued, t.Queued)
}

// event builds the message for server srv of proxy px; alert raises its
// syslog level to alert (stderr stays a warning).
func event(px, srv string, backup, alert bool, format string, a ...any) health.Event {
	sev := health.SevNotice
	if alert {
		sev = health.SevAlert
	}
	return health.Event{Proxy: px, Severity: sev,
		Msg: fmt.Sprintf("%s %s/%s ", serverKind(backup), px, srv) + fmt.Sprintf(format, a...)}
}

// upOrDown is how HAProxy names the operational state in these messages.
func upOrDown(st balance.State) string {
	if st == balance.StateStopped {
		return "DOWN"
	}
	return "UP"
}
