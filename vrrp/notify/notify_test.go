package notify

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"halo/vrrp"
	"halo/vrrp/track"
)

// smtpSink is a tiny SMTP server on loopback that records one message.
type smtpSink struct {
	ln   net.Listener
	msgs chan string
}

func newSMTPSink(t *testing.T) *smtpSink {
	t.Helper()
	var ln net.Listener
	var err error
	for port := 24025; port < 24100; port++ { // this helper's port range
		if ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{ln: ln, msgs: make(chan string, 4)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpSink) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	var transcript strings.Builder
	reply := func(l string) { _, _ = c.Write([]byte(l + "\r\n")) }
	reply("220 sink ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		transcript.WriteString(line)
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "HELO"), strings.HasPrefix(cmd, "MAIL FROM"), strings.HasPrefix(cmd, "RCPT TO"):
			reply("250 ok")
		case cmd == "DATA":
			reply("354 go ahead")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				transcript.WriteString(l)
				if l == ".\r\n" {
					break
				}
			}
			reply("250 queued")
		case cmd == "QUIT":
			reply("221 bye")
			s.msgs <- transcript.String()
			return
		default:
			reply("500 what")
		}
	}
}

func TestSMTPAlert(t *testing.T) {
	sink := newSMTPSink(t)
	g := &vrrp.Global{RouterID: "lb1", SMTPServer: sink.ln.Addr().String(), SMTPConnectTimeout: 2 * time.Second,
		NotificationEmail: []string{"ops@example.com", "noc@example.com"}, NotificationEmailFrom: "keepalived@lb1.example.com"}
	n, err := New(context.Background(), g, track.Cred{}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	n.Notify(Event{Name: "R1", State: vrrp.StateMaster, Priority: 100}, Scripts{SMTPAlert: true})
	n.Wait()
	var msg string
	select {
	case msg = <-sink.msgs:
	case <-time.After(3 * time.Second):
		t.Fatal("no mail arrived")
	}
	for _, want := range []string{
		"MAIL FROM:<keepalived@lb1.example.com>\r\n",
		"RCPT TO:<ops@example.com>\r\n", "RCPT TO:<noc@example.com>\r\n",
		"Subject: [lb1] VRRP Instance R1 - Entering MASTER state\r\n",
		"X-Mailer: Keepalived\r\n",
		"To: ops@example.com, noc@example.com\r\n",
		"\r\n=> VRRP Instance is now owning VRRP VIPs <=\r\n.\r\n",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("mail lacks %q:\n%s", want, msg)
		}
	}
}

func TestSMTPServerAddr(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "host only", in: "10.0.0.1", want: "10.0.0.1:25"},
		{name: "host and port", in: "10.0.0.1 2525", want: "10.0.0.1:2525"},
		{name: "host:port", in: "127.0.0.1:24025", want: "127.0.0.1:24025"},
		{name: "ipv6", in: "2001:db8::1", want: "[2001:db8::1]:25"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ServerAddr(tc.in); got != tc.want {
				t.Fatalf("ServerAddr(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSMTPRefusedIsReported(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	g := &vrrp.Global{SMTPServer: addr, SMTPConnectTimeout: time.Second, NotificationEmail: []string{"a@b"}}
	err = Send(context.Background(), g, "s", "b")
	if err == nil || !strings.Contains(err.Error(), "remote SMTP server "+addr) {
		t.Fatalf("error %v", err)
	}
}

func TestScriptsAndFIFO(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	script := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	g := &vrrp.Global{NotifyFIFO: fifo}
	n, err := New(context.Background(), g, track.Cred{}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	rd, err := os.OpenFile(fifo, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	s := Scripts{Master: script + " master-arg", Any: script}
	n.Notify(Event{Name: "VI_1", State: vrrp.StateMaster, Priority: 150}, s)
	n.Wait()
	b, _ := os.ReadFile(out)
	got := string(b)
	for _, want := range []string{"master-arg\n", "INSTANCE VI_1 MASTER 150\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("script output lacks %q: %q", want, got)
		}
	}
	line, err := bufio.NewReader(rd).ReadString('\n')
	if err != nil || line != "INSTANCE \"VI_1\" MASTER 150\n" {
		t.Fatalf("fifo line %q, %v", line, err)
	}
}

func TestAlertText(t *testing.T) {
	tests := []struct {
		name       string
		st         vrrp.State
		subj, body string
	}{
		{name: "master", st: vrrp.StateMaster, subj: "[r] VRRP Instance V - Entering MASTER state", body: "=> VRRP Instance is now owning VRRP VIPs <="},
		{name: "backup", st: vrrp.StateBackup, subj: "[r] VRRP Instance V - Entering BACKUP state", body: "=> VRRP Instance is no longer owning VRRP VIPs <="},
		{name: "fault", st: vrrp.StateFault, subj: "[r] VRRP Instance V - Entering FAULT state", body: "=> VRRP Instance is no longer owning VRRP VIPs <="},
		{name: "stop", st: vrrp.StateStop, subj: "[r] VRRP Instance V - Stopping", body: "=> VRRP Instance stopping <="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, b := AlertText("r", Event{Name: "V", State: tc.st})
			if s != tc.subj || b != tc.body {
				t.Fatalf("got %q / %q", s, b)
			}
		})
	}
}
