// Package notify tells the outside world about VRRP state changes the way
// keepalived does: notify_master/backup/fault/stop scripts, the generic
// `notify` script (with TYPE NAME STATE PRIORITY appended), notify_fifo
// lines, and SMTP alerts.
package notify

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"

	"halo/vrrp"
	"halo/vrrp/track"
)

// Event is one state change of an instance or a sync group.
type Event struct {
	Group    bool   // a vrrp_sync_group rather than an instance
	Name     string // instance or group name
	State    vrrp.State
	Priority int
}

func (e Event) kind() string {
	if e.Group {
		return "GROUP"
	}
	return "INSTANCE"
}

// Scripts are the notify_* commands of one instance or sync group.
type Scripts struct {
	Master, Backup, Fault, Stop, Any string
	SMTPAlert                        bool
}

// InstanceScripts picks an instance's notify commands.
func InstanceScripts(in *vrrp.Instance) Scripts {
	return Scripts{Master: in.NotifyMaster, Backup: in.NotifyBackup, Fault: in.NotifyFault, Stop: in.NotifyStop, Any: in.Notify, SMTPAlert: in.SMTPAlert}
}

// GroupScripts picks a sync group's notify commands.
func GroupScripts(g *vrrp.SyncGroup) Scripts {
	return Scripts{Master: g.NotifyMaster, Backup: g.NotifyBackup, Fault: g.NotifyFault, Stop: g.NotifyStop, Any: g.Notify, SMTPAlert: g.SMTPAlert}
}

// Notifier delivers events. It is safe for concurrent use; deliveries run in
// the background (keepalived does not wait for notify scripts either) and
// Wait blocks until they are done.
type Notifier struct {
	Global *vrrp.Global
	Cred   track.Cred
	Logf   func(format string, args ...any)

	mu   sync.Mutex
	fifo *os.File
	wg   sync.WaitGroup
	ctx  context.Context
}

// New opens the notify FIFO (creating it when missing) and starts the FIFO
// script, if configured.
func New(ctx context.Context, g *vrrp.Global, cred track.Cred, logf func(string, ...any)) (*Notifier, error) {
	n := &Notifier{Global: g, Cred: cred, Logf: logf, ctx: ctx}
	if g.NotifyFIFO != "" {
		f, err := OpenFIFO(g.NotifyFIFO)
		if err != nil {
			return nil, err
		}
		n.fifo = f
		if g.NotifyFIFOScript != "" {
			argv := append(track.SplitCommand(g.NotifyFIFOScript), g.NotifyFIFO)
			n.wg.Go(func() { track.Run(ctx, argv, cred, 0) })
		}
	}
	return n, nil
}

// OpenFIFO creates path as a FIFO when absent and opens it read-write so
// writes never block or fail for want of a reader (as keepalived does).
func OpenFIFO(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if os.IsNotExist(err) {
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			return nil, fmt.Errorf("notify fifo %s: %w", path, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("notify fifo %s: %w", path, err)
	} else if st.Mode()&os.ModeNamedPipe == 0 {
		return nil, fmt.Errorf("notify fifo %s exists and is not a FIFO", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("notify fifo %s: %w", path, err)
	}
	return f, nil
}

// FIFOLine is the line keepalived writes: TYPE "NAME" STATE PRIORITY.
func FIFOLine(e Event) string {
	return fmt.Sprintf("%s \"%s\" %s %d\n", e.kind(), e.Name, e.State, e.Priority)
}

// Notify delivers e: the state's own script, the generic one, the FIFO
// line and (when enabled) an SMTP alert.
func (n *Notifier) Notify(e Event, s Scripts) {
	var cmd string
	switch e.State {
	case vrrp.StateMaster:
		cmd = s.Master
	case vrrp.StateBackup:
		cmd = s.Backup
	case vrrp.StateFault:
		cmd = s.Fault
	case vrrp.StateStop:
		cmd = s.Stop
	}
	if cmd != "" {
		n.run(track.SplitCommand(cmd))
	}
	if s.Any != "" {
		argv := append(track.SplitCommand(s.Any), e.kind(), e.Name, e.State.String(), strconv.Itoa(e.Priority))
		n.run(argv)
	}
	n.mu.Lock()
	if n.fifo != nil {
		if _, err := n.fifo.WriteString(FIFOLine(e)); err != nil && n.Logf != nil {
			n.Logf("Write to notify fifo %s failed - %v", n.Global.NotifyFIFO, err)
		}
	}
	n.mu.Unlock()
	if !e.Group && (s.SMTPAlert || n.Global.SMTPAlert) && n.Global.SMTPServer != "" && len(n.Global.NotificationEmail) > 0 {
		subj, body := AlertText(n.Global.RouterID, e)
		if subj != "" {
			n.wg.Go(func() {
				if err := Send(n.ctx, n.Global, subj, body); err != nil && n.Logf != nil {
					n.Logf("%v", err)
				}
			})
		}
	}
}

func (n *Notifier) run(argv []string) {
	if len(argv) == 0 {
		return
	}
	n.wg.Go(func() {
		r := track.Run(context.WithoutCancel(n.ctx), argv, n.Cred, 0)
		if r.Err != nil && n.Logf != nil {
			n.Logf("Failed to exec notify script %s: %v", argv[0], r.Err)
		}
	})
}

// Wait blocks until every started delivery is finished.
func (n *Notifier) Wait() { n.wg.Wait() }

// Close waits for deliveries and closes the FIFO.
func (n *Notifier) Close() {
	n.mu.Lock()
	if n.fifo != nil {
		n.fifo.Close()
		n.fifo = nil
	}
	n.mu.Unlock()
}
