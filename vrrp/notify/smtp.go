package notify

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"halo/vrrp"
)

// AlertText is keepalived's alert for an instance state (vrrp_smtp.c):
// subject "[router_id] VRRP Instance NAME - Entering MASTER state".
func AlertText(routerID string, e Event) (subject, body string) {
	var what string
	switch e.State {
	case vrrp.StateMaster:
		what, body = "Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="
	case vrrp.StateBackup:
		what, body = "Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="
	case vrrp.StateFault:
		what, body = "Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="
	case vrrp.StateStop:
		what, body = "Stopping", "=> VRRP Instance stopping <="
	default:
		return "", ""
	}
	return fmt.Sprintf("[%s] VRRP Instance %s - %s", routerID, e.Name, what), body
}

// ServerAddr is smtp_server as host:port (port 25 when not given).
func ServerAddr(s string) string {
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s
	}
	if f := strings.Fields(s); len(f) == 2 {
		return net.JoinHostPort(f[0], f[1])
	}
	return net.JoinHostPort(strings.Trim(s, "[]"), "25")
}

// Send delivers one alert to every notification_email over plain SMTP
// (keepalived speaks HELO, no TLS, no AUTH). The error says which step failed,
// in keepalived's wording.
func Send(ctx context.Context, g *vrrp.Global, subject, body string) error {
	addr := ServerAddr(g.SMTPServer)
	to := g.SMTPConnectTimeout
	if to <= 0 {
		to = 30 * time.Second
	}
	d := net.Dialer{Timeout: to}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return alertErr("Timeout opening connection to remote SMTP server %s.", addr)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(to))
	r := bufio.NewReader(c)
	expect := func(cmd string, code int) error {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return alertErr("Error reading data from remote SMTP server %s.", addr)
			}
			if len(line) < 4 {
				return alertErr("Error processing %s cmd on SMTP server %s. SMTP status code = %d", cmd, addr, 0)
			}
			if line[3] == '-' {
				continue
			}
			got, _ := strconv.Atoi(line[:3])
			if got != code {
				return alertErr("Error processing %s cmd on SMTP server %s. SMTP status code = %d", cmd, addr, got)
			}
			return nil
		}
	}
	send := func(s string) error {
		if _, err := c.Write([]byte(s)); err != nil {
			return alertErr("Cannot send data to remote SMTP server %s.", addr)
		}
		return nil
	}
	step := func(cmd, line string, code int) error {
		if err := send(line); err != nil {
			return err
		}
		return expect(cmd, code)
	}
	if err := expect("CONNECTION", 220); err != nil {
		return err
	}
	helo, _ := os.Hostname()
	if helo == "" {
		helo = "localhost"
	}
	if err := step("HELO", "HELO "+helo+"\r\n", 250); err != nil {
		return err
	}
	if err := step("MAIL", "MAIL FROM:<"+g.NotificationEmailFrom+">\r\n", 250); err != nil {
		return err
	}
	for _, rcpt := range g.NotificationEmail {
		if err := step("RCPT", "RCPT TO:<"+rcpt+">\r\n", 250); err != nil {
			return err
		}
	}
	if err := step("DATA", "DATA\r\n", 354); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Date: %s\r\nFrom: %s\r\nSubject: %s\r\nX-Mailer: Keepalived\r\n", time.Now().Format(time.RFC1123Z), g.NotificationEmailFrom, subject)
	fmt.Fprintf(&b, "To: %s\r\n\r\n", strings.Join(g.NotificationEmail, ", "))
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, ".") { // RFC 5321 §4.5.2 dot-stuffing
			l = "." + l
		}
		b.WriteString(l + "\r\n")
	}
	b.WriteString(".\r\n")
	if err := step("BODY", b.String(), 250); err != nil {
		return err
	}
	_ = step("QUIT", "QUIT\r\n", 221)
	return nil
}

// alertErr keeps keepalived's own wording (capitalised, full stop) for the
// log line an SMTP failure produces.
type alertError string

func (e alertError) Error() string { return string(e) }

func alertErr(format string, args ...any) error { return alertError(fmt.Sprintf(format, args...)) }
