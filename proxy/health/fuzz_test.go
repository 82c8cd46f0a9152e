package health

import (
	"testing"

	"halo/proxy"
	"halo/proxy/acl"
)

// FuzzAnswers feeds arbitrary server answers to every expect of every
// protocol check and to the HTTP response parser: each must reach a
// verdict (continue, wait or a status) without panicking.
func FuzzAnswers(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), true)
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"), false)
	f.Add(unhex("4A0000000A382E302E3139000A0000006F3C025E"), true)
	f.Add(unhex("300c0201016107 0a0100 0400 0400"), true)
	f.Add(unhex("00000036 65 00000001 0000 0776657273696F6E 0803322E30"), true)
	f.Add([]byte("75%,maxconn:30,maint,down # x\n"), false)
	f.Add([]byte("220 mail\r\n"), true)
	f.Add([]byte{}, true)
	rulesets := []*Ruleset{
		redisRuleset(&Ruleset{}), sslHelloRuleset(&Ruleset{}), smtpRuleset(&Ruleset{}, ""),
		pgsqlRuleset(&Ruleset{}, "u"), mysqlRuleset(&Ruleset{}, "u", false), mysqlRuleset(&Ruleset{}, "", false),
		ldapRuleset(&Ruleset{}), spopRuleset(&Ruleset{}), agentRuleset(),
	}
	hc := &proxy.HealthCheck{Type: proxy.CheckHTTP, Rules: []proxy.CheckRule{
		{Action: proxy.CheckSendHTTP, FromOption: true},
		{Action: proxy.CheckExpect, Index: 1, Expect: proxy.CheckMatch{Type: "hdr", NameMatch: "beg", Name: "x", HasValue: true, ValueMatch: "sub", Value: "y", MinRecv: -1}},
		{Action: proxy.CheckExpect, Index: 2, Expect: proxy.CheckMatch{Type: "rstring", Pattern: "a+b", MinRecv: -1}},
	}}
	httpRS, err := Compile(hc, &acl.Options{})
	if err != nil {
		f.Fatal(err)
	}
	rulesets = append(rulesets, httpRS)
	f.Fuzz(func(t *testing.T, in []byte, lastRead bool) {
		for _, rs := range rulesets {
			for _, ru := range rs.rules {
				if ru.kind != actExpect {
					continue
				}
				r := &run{rs: rs, env: &Env{}, in: append([]byte(nil), in...)}
				r.actx.T = &r.txn
				r.txn.r = r
				r.entry.Ctx = &r.actx
				r.eos = lastRead
				if rs.Proto == ProtoHTTP {
					r.expectHTTP(ru, lastRead)
				} else {
					r.expect(ru, lastRead)
				}
				if r.done && len(r.desc) >= descLen {
					t.Fatalf("info too long: %d", len(r.desc))
				}
			}
		}
		parseResponse(in, lastRead)
		ParseAgentReply(in)
		spoeCheckHello(in)
	})
}
