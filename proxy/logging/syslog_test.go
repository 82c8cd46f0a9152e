package logging_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"halo/proxy"
	"halo/proxy/logging"
)

func TestUDPTarget(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	addr := pc.LocalAddr().String()
	l, err := logging.Open([]proxy.LogTarget{
		{Address: addr, Facility: "local0"},
		{Address: "udp@" + addr, Facility: "local1", Level: "err"},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Send(logging.LevelInfo, []byte("hello"))
	pc.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 2048)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := string(buf[:n])
	if !strings.HasPrefix(got, "<134>") || !strings.HasSuffix(got, "]: hello\n") || !strings.Contains(got, " haproxy[") {
		t.Errorf("got %q", got)
	}
	// the err-level target must not have sent the info line
	pc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := pc.ReadFrom(buf); err == nil {
		t.Errorf("unexpected second datagram %q", buf[:n])
	}
}

func TestValidateTarget(t *testing.T) {
	tests := []struct {
		name string
		t    proxy.LogTarget
		want string
	}{
		{"ok", proxy.LogTarget{Address: "/dev/log", Facility: "local0", Level: "notice"}, ""},
		{"bad facility", proxy.LogTarget{Address: "/dev/log", Facility: "local9"}, "unknown log facility 'local9'"},
		{"bad level", proxy.LogTarget{Address: "/dev/log", Facility: "local0", Level: "loud"}, "unknown optional log level 'loud'"},
		{"bad format", proxy.LogTarget{Address: "/dev/log", Facility: "local0", Format: "xml"}, "unknown log format 'xml'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := logging.ValidateTarget(tc.t)
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSendDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	l, err := logging.Open([]proxy.LogTarget{{Address: pc.LocalAddr().String(), Facility: "local0"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	msg := []byte(`127.0.0.1:1 [25/Nov/2026:16:45:31.809] fe be/s 0/0/0/1/1 200 76 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`)
	l.Send(logging.LevelInfo, msg)
	if n := testing.AllocsPerRun(100, func() { l.Send(logging.LevelInfo, msg) }); n != 0 {
		t.Errorf("Send allocates %v times per line", n)
	}
}
