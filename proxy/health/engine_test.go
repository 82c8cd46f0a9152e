package health

import (
	"context"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"halo/proxy"
	"halo/proxy/acl"
)

// peer is a scripted server: each connection reads what the check sends
// (until quiet for a moment, or until `want` bytes), then writes answer
// and closes (or holds the connection open when hold is set).
type peer struct {
	answer []byte
	want   int
	hold   time.Duration
	first  bool // answer before reading (a greeting)

	mu  sync.Mutex
	got [][]byte
}

func (p *peer) received() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.got) == 0 {
		return nil
	}
	return p.got[0]
}

func startPeer(t *testing.T, p *peer) netip.AddrPort {
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
			go p.serve(c)
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

func (p *peer) serve(c net.Conn) {
	defer c.Close()
	if p.first && len(p.answer) > 0 {
		c.Write(p.answer)
	}
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		wait := 100 * time.Millisecond
		if p.want > 0 && len(buf) >= p.want {
			break
		}
		c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil {
			break
		}
	}
	p.mu.Lock()
	p.got = append(p.got, buf)
	p.mu.Unlock()
	if !p.first && len(p.answer) > 0 {
		c.Write(p.answer)
	}
	if p.hold > 0 {
		time.Sleep(p.hold)
	}
}

func deadAddr(t *testing.T) netip.AddrPort {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	return a
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// tcpRules builds `option tcp-check` with rules written as HAProxy
// numbers them (comments count).
func tcpRules(rules ...proxy.CheckRule) *proxy.HealthCheck {
	for i := range rules {
		rules[i].Index = i
		if rules[i].Action == proxy.CheckExpect && rules[i].Expect.MinRecv == 0 {
			rules[i].Expect.MinRecv = -1
		}
	}
	return &proxy.HealthCheck{Type: proxy.CheckTCP, Rules: rules}
}

func expectRule(typ, pat string, neg bool) proxy.CheckRule {
	return proxy.CheckRule{Action: proxy.CheckExpect, Expect: proxy.CheckMatch{Type: typ, Pattern: pat, Negate: neg, MinRecv: -1}}
}

func runCheck(t *testing.T, hc *proxy.HealthCheck, addr netip.AddrPort, env *Env) Result {
	t.Helper()
	rs, err := Compile(hc, &acl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if env == nil {
		env = &Env{Proxy: "be", Server: "srv"}
	}
	return rs.Run(context.Background(), &Target{Addr: addr}, env, Timing{Connect: 500 * time.Millisecond, Read: 500 * time.Millisecond})
}

// The info texts below are haproxy 2.6.12's (regtests and captures).
func TestTCPCheck(t *testing.T) {
	send := func(s string) proxy.CheckRule { return proxy.CheckRule{Action: proxy.CheckSend, Data: s} }
	connect := func(port int) proxy.CheckRule { return proxy.CheckRule{Action: proxy.CheckConnect, Port: port} }
	tests := []struct {
		name   string
		peer   *peer
		dead   bool
		hc     func(a netip.AddrPort) *proxy.HealthCheck
		status Status
		code   int
		info   string
		sent   string
	}{
		{name: "plain connect", peer: &peer{}, hc: func(netip.AddrPort) *proxy.HealthCheck { return &proxy.HealthCheck{} },
			status: StatusL4OK},
		{name: "plain connect refused", dead: true, hc: func(netip.AddrPort) *proxy.HealthCheck { return &proxy.HealthCheck{} },
			status: StatusL4Con, info: "Connection refused"},
		{name: "option tcp-check without rules", peer: &peer{}, hc: func(netip.AddrPort) *proxy.HealthCheck { return tcpRules() },
			status: StatusL4OK},
		{name: "refused at the implicit connect", dead: true, hc: func(netip.AddrPort) *proxy.HealthCheck {
			return tcpRules(send("x"))
		}, status: StatusL4Con, info: "Connection refused at initial connection step of tcp-check"},
		{name: "refused at a connect port", peer: &peer{}, hc: func(a netip.AddrPort) *proxy.HealthCheck {
			d := deadAddr(t)
			return tcpRules(connect(int(a.Port())), connect(int(d.Port())))
		}, status: StatusL4Con, info: "Connection refused at step 2 of tcp-check (connect port PORT)"},
		{name: "explicit connect passes with (tcp-check)", peer: &peer{}, hc: func(a netip.AddrPort) *proxy.HealthCheck {
			return tcpRules(connect(0))
		}, status: StatusL4OK, info: "(tcp-check)"},
		{name: "send then expect string", peer: &peer{answer: []byte("+OK ready\r\n"), want: 4}, hc: func(netip.AddrPort) *proxy.HealthCheck {
			return tcpRules(send("PING"), expectRule("string", "+OK", false))
		}, status: StatusL7OK, info: "(tcp-check)", sent: "PING"},
		{name: "expect string mismatch", peer: &peer{answer: []byte("-ERR\r\n")}, hc: func(netip.AddrPort) *proxy.HealthCheck {
			return tcpRules(send("PING"), expectRule("string", "+OK", false))
		}, status: StatusL7Rsp, info: "TCPCHK did not match content '+OK' at step 2"},
		{name: "negated expect matched", peer: &peer{answer: []byte("error here"), first: true}, hc: func(netip.AddrPort) *proxy.HealthCheck {
			return tcpRules(expectRule("rstring", "^error", true))
		}, status: StatusL7Rsp, info: "TCPCHK matched unwanted content (regex) at step 1"},
		{name: "binary", peer: &peer{answer: unhex("0102030405"), first: true}, hc: func(netip.AddrPort) *proxy.HealthCheck {
			return tcpRules(expectRule("binary", "0304", false))
		}, status: StatusL7OK, info: "(tcp-check)"},
		{name: "binary mismatch", peer: &peer{answer: unhex("0102"), first: true}, hc: func(netip.AddrPort) *proxy.HealthCheck {
			return tcpRules(expectRule("binary", "0304", false))
		}, status: StatusL7Rsp, info: "TCPCHK did not match content (binary) at step 1"},
		{name: "rbinary on the hex dump", peer: &peer{answer: unhex("16030100"), first: true}, hc: func(netip.AddrPort) *proxy.HealthCheck {
			return tcpRules(expectRule("rbinary", "^1[56]03", false))
		}, status: StatusL7OK, info: "(tcp-check)"},
		{name: "send-binary", peer: &peer{answer: []byte("ok"), want: 3}, hc: func(netip.AddrPort) *proxy.HealthCheck {
			return tcpRules(proxy.CheckRule{Action: proxy.CheckSend, Data: "414243", Binary: true}, expectRule("string", "ok", false))
		}, status: StatusL7OK, info: "(tcp-check)", sent: "ABC"},
		{name: "timeout names the step and the comment", peer: &peer{hold: time.Second}, hc: func(netip.AddrPort) *proxy.HealthCheck {
			r := expectRule("string", "x", false)
			r.Comment = "greeting"
			return tcpRules(r)
		}, status: StatusL7Tout, info: " at step 1 of tcp-check (expect string 'x') comment: 'greeting'"},
		{name: "empty response", peer: &peer{}, hc: func(netip.AddrPort) *proxy.HealthCheck {
			return tcpRules(send("x"), expectRule("string", "y", false))
		}, status: StatusL7Rsp, info: "TCPCHK got an empty response at step 2"},
		{name: "error status and comment", peer: &peer{answer: []byte("no")}, hc: func(netip.AddrPort) *proxy.HealthCheck {
			r := expectRule("string", "yes", false)
			r.Expect.ErrorStatus = "L7STS"
			r.Comment = "answer"
			return tcpRules(send("q"), r)
		}, status: StatusL7Sts, info: "TCPCHK did not match content 'yes' at step 2 comment: answer"},
		{name: "on-error and on-success formats", peer: &peer{answer: []byte("fine")}, hc: func(netip.AddrPort) *proxy.HealthCheck {
			r := expectRule("string", "fine", false)
			r.Expect.OnSuccess = "all %[str(good)]"
			return tcpRules(send("q"), r)
		}, status: StatusL7OK, info: "all good"},
		{name: "ok-status", peer: &peer{answer: []byte("fine")}, hc: func(netip.AddrPort) *proxy.HealthCheck {
			r := expectRule("string", "fine", false)
			r.Expect.OKStatus = "L6OK"
			return tcpRules(send("q"), r)
		}, status: StatusL6OK, info: "(tcp-check)"},
		{name: "status-code", peer: &peer{answer: []byte("fine")}, hc: func(netip.AddrPort) *proxy.HealthCheck {
			r := expectRule("string", "fine", false)
			r.Expect.StatusCode = "int(250)"
			return tcpRules(send("q"), r)
		}, status: StatusL7OK, code: 250, info: "(tcp-check)"},
		{name: "send-lf with a variable", peer: &peer{answer: []byte("ok"), want: 5}, hc: func(netip.AddrPort) *proxy.HealthCheck {
			return tcpRules(proxy.CheckRule{Action: proxy.CheckSetVar, Var: "check.who", Expr: "str(world)"},
				proxy.CheckRule{Action: proxy.CheckSend, Data: "%[var(check.who)]", LF: true}, expectRule("string", "ok", false))
		}, status: StatusL7OK, info: "(tcp-check)", sent: "world"},
		{name: "min-recv makes a negated expect conclusive (regtest tcp-check_min-recv)", peer: &peer{answer: []byte("valid"), first: true, hold: 300 * time.Millisecond},
			hc: func(netip.AddrPort) *proxy.HealthCheck {
				r := expectRule("rstring", "^error", true)
				r.Expect.MinRecv = 5
				return tcpRules(proxy.CheckRule{Action: proxy.CheckConnect}, r, expectRule("string", "valid", false))
			}, status: StatusL7OK, info: "(tcp-check)"},
		{name: "without min-recv a negated expect waits for more", peer: &peer{answer: []byte("valid"), first: true, hold: time.Second},
			hc: func(netip.AddrPort) *proxy.HealthCheck {
				return tcpRules(proxy.CheckRule{Action: proxy.CheckConnect}, expectRule("rstring", "^error", true), expectRule("string", "valid", false))
			}, status: StatusL7Tout, info: " at step 2 of tcp-check (expect regex)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var addr netip.AddrPort
			if tc.dead {
				addr = deadAddr(t)
			} else {
				addr = startPeer(t, tc.peer)
			}
			hc := tc.hc(addr)
			r := runCheck(t, hc, addr, nil)
			info := tc.info
			for _, cr := range hc.Rules {
				if cr.Port != 0 && cr.Port != int(addr.Port()) {
					info = strings.ReplaceAll(info, "PORT", itoa(cr.Port))
				}
			}
			if r.Status != tc.status || r.Code != tc.code || r.Info != info {
				t.Fatalf("got %s/%d/%q want %s/%d/%q", r.Status.Code(), r.Code, r.Info, tc.status.Code(), tc.code, info)
			}
			if tc.sent != "" {
				time.Sleep(150 * time.Millisecond)
				if got := string(tc.peer.received()); got != tc.sent {
					t.Fatalf("server got %q want %q", got, tc.sent)
				}
			}
		})
	}
}
