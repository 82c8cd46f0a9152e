package health

import (
	"context"
	"net"
	"testing"
	"time"
)

// tcpServer runs a loopback server: it writes banner on accept, answers
// the first read with reply (if any), then closes unless hold is set.
func tcpServer(t *testing.T, banner, reply string, hold bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if banner != "" {
					c.Write([]byte(banner))
				}
				c.SetReadDeadline(time.Now().Add(time.Second))
				b := make([]byte, 512)
				if n, _ := c.Read(b); n > 0 && reply != "" {
					c.Write([]byte(reply))
				}
				if hold {
					time.Sleep(time.Second)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// Each expectation below is what haproxy 2.6.12 logged for the same rules
// against the same kind of server.
func TestTCPCheck(t *testing.T) {
	pong := tcpServer(t, "", "+PONG\r\n", false)
	banner := tcpServer(t, "220 hello\r\n", "", false)
	silent := tcpServer(t, "", "", true)
	dead := deadAddr(t)
	_, deadPort, _ := net.SplitHostPort(dead)
	_, bannerPort, _ := net.SplitHostPort(banner)
	tests := []struct {
		name   string
		addr   string
		rules  [][]string
		redis  bool
		status Status
		info   string
	}{
		{"send/expect string ok", pong, [][]string{{"send", "PING\r\n"}, {"expect", "string", "+PONG"}}, false, StatusL7OK, "(tcp-check)"},
		{"expect string mismatch", pong, [][]string{{"send", "PING\r\n"}, {"expect", "string", "NOPE"}}, false, StatusL7Rsp, "TCPCHK did not match content 'NOPE' at step 2"},
		{"expect rstring mismatch", pong, [][]string{{"send", "PING\r\n"}, {"expect", "rstring", "^-ERR"}}, false, StatusL7Rsp, "TCPCHK did not match content (regex) at step 2"},
		{"binary ok", pong, [][]string{{"send-binary", "50494e470d0a"}, {"expect", "binary", "2b504f4e47"}}, false, StatusL7OK, "(tcp-check)"},
		{"binary mismatch", pong, [][]string{{"send-binary", "50494e470d0a"}, {"expect", "binary", "00ff"}}, false, StatusL7Rsp, "TCPCHK did not match content (binary) at step 2"},
		{"banner ok", banner, [][]string{{"expect", "rstring", "^2[0-9]+"}}, false, StatusL7OK, "(tcp-check)"},
		{"negated match", banner, [][]string{{"expect", "!", "string", "220"}}, false, StatusL7Rsp, "TCPCHK matched unwanted content '220' at step 1"},
		{"negated rstring", banner, [][]string{{"expect", "!", "rstring", "^22"}}, false, StatusL7Rsp, "TCPCHK matched unwanted content (regex) at step 1"},
		{"timeout", silent, [][]string{{"expect", "string", "nothing-comes"}}, false, StatusL7Tout, " at step 1 of tcp-check (expect string 'nothing-comes')"},
		{"refused implicit", dead, [][]string{{"expect", "string", "x"}}, false, StatusL4Con, "Connection refused at initial connection step of tcp-check"},
		{"refused explicit", dead, [][]string{{"connect"}, {"expect", "string", "x"}}, false, StatusL4Con, "Connection refused at step 1 of tcp-check (connect)"},
		{"refused explicit port", banner, [][]string{{"connect", "port", deadPort}}, false, StatusL4Con, "Connection refused at step 1 of tcp-check (connect port " + deadPort + ")"},
		{"second connect", dead, [][]string{{"connect", "port", bannerPort}, {"expect", "string", "220"}}, false, StatusL7OK, "(tcp-check)"},
		{"redis ok", pong, nil, true, StatusL7OK, "Redis server is ok"},
		{"redis refused", dead, nil, true, StatusL4Con, "Connection refused"},
		{"redis wrong answer", banner, nil, true, StatusL7Sts, "220 hello"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var chk *TCPCheck
			if tc.redis {
				chk = RedisCheck()
			} else {
				var err error
				if chk, err = CompileTCPCheck(tc.rules); err != nil {
					t.Fatal(err)
				}
			}
			p := Probe{Addr: tc.addr, TCP: chk, ConnectTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond}
			r := p.Run(context.Background())
			if r.Status != tc.status || r.Info != tc.info {
				t.Fatalf("got %s %q, want %s %q", r.Status.Code(), r.Info, tc.status.Code(), tc.info)
			}
		})
	}
	if _, err := CompileTCPCheck([][]string{{"send-binary", "zz"}}); err == nil {
		t.Fatal("bad hex accepted")
	}
}

// FuzzCompileTCPCheck: any rule words compile or fail cleanly, and a
// compiled script's steps can be matched against arbitrary input.
func FuzzCompileTCPCheck(f *testing.F) {
	f.Add("expect", "!", "rstring", "^2[0-9]+", []byte("220 ok"))
	f.Add("send-binary", "50494e47", "", "", []byte{})
	f.Add("connect", "port", "99999", "", []byte("x"))
	f.Fuzz(func(t *testing.T, a, b, c, d string, in []byte) {
		tc, err := CompileTCPCheck([][]string{{a, b, c, d}, {a, b}, {a}})
		if err != nil {
			return
		}
		for i := range tc.Steps {
			st := &tc.Steps[i]
			if st.Kind == StepExpect {
				st.match(in)
				st.failInfo(i + 1)
				tc.failed(st, i+1, in)
			}
		}
	})
}
