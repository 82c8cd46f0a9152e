package health

import (
	"testing"
	"time"

	"halo/proxy"
)

func httpCheck(rules ...proxy.CheckRule) *proxy.HealthCheck {
	for i := range rules {
		rules[i].Index = i
		if rules[i].Action == proxy.CheckExpect && rules[i].Expect.MinRecv == 0 {
			rules[i].Expect.MinRecv = -1
		}
	}
	return &proxy.HealthCheck{Type: proxy.CheckHTTP, Rules: rules}
}

func optionHTTPChk(meth, uri, ver string) proxy.CheckRule {
	return proxy.CheckRule{Action: proxy.CheckSendHTTP, FromOption: true, Method: meth, URI: uri, Version: ver}
}

// Requests as haproxy 2.6.12 sent them (captured on a raw listener) and
// its verdicts on answers.
func TestHTTPCheck(t *testing.T) {
	ok := "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	tests := []struct {
		name   string
		answer string
		hc     *proxy.HealthCheck
		state  string // send-state header value
		status Status
		code   int
		info   string
		sent   string
	}{
		{"option httpchk", ok, httpCheck(optionHTTPChk("", "", "")), "",
			StatusL7OK, 200, "", "OPTIONS / HTTP/1.0\r\n\r\n"},
		{"option httpchk GET /health", ok, httpCheck(optionHTTPChk("GET", "/health", "")), "",
			StatusL7OK, 200, "", "GET /health HTTP/1.0\r\n\r\n"},
		{"HTTP/1.1 with a header", ok, httpCheck(proxy.CheckRule{Action: proxy.CheckSendHTTP, Method: "HEAD", URI: "/x", Version: "HTTP/1.1", Headers: [][2]string{{"Host", "foo"}}}), "",
			StatusL7OK, 200, "", "HEAD /x HTTP/1.1\r\nhost: foo\r\nconnection: close\r\n\r\n"},
		{"body", ok, httpCheck(proxy.CheckRule{Action: proxy.CheckSendHTTP, Method: "POST", URI: "/x", Version: "HTTP/1.1", Headers: [][2]string{{"Host", "a"}}, Body: "hello", HasBody: true}), "",
			StatusL7OK, 200, "", "POST /x HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello"},
		{"HTTP/1.0 body", ok, httpCheck(proxy.CheckRule{Action: proxy.CheckSendHTTP, Method: "POST", URI: "/y", Body: "hi", HasBody: true}), "",
			StatusL7OK, 200, "", "POST /y HTTP/1.0\r\ncontent-length: 2\r\n\r\nhi"},
		{"a header formatting to nothing is left out", ok, httpCheck(proxy.CheckRule{Action: proxy.CheckSendHTTP, Headers: [][2]string{{"X-A", "%[var(check.none)]"}, {"X-B", "b"}}}), "",
			StatusL7OK, 200, "", "OPTIONS / HTTP/1.0\r\nx-b: b\r\n\r\n"},
		{"send-state", ok, httpCheck(optionHTTPChk("", "", "")), "UP; address=127.0.0.1",
			StatusL7OK, 200, "", "OPTIONS / HTTP/1.0\r\nx-haproxy-server-state: UP; address=127.0.0.1\r\n\r\n"},
		{"default expect: 5xx fails with the reason", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", httpCheck(optionHTTPChk("", "", "")), "",
			StatusL7Sts, 503, "Service Unavailable", ""},
		{"expect status range", "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", httpCheck(optionHTTPChk("", "", ""), expectRule("status", "200-599", false)), "",
			StatusL7OK, 500, "", ""},
		{"expect ! status", "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", httpCheck(optionHTTPChk("", "", ""), expectRule("status", "500", true)), "",
			StatusL7Sts, 500, "Oops", ""},
		{"expect rstatus", ok, httpCheck(optionHTTPChk("", "", ""), expectRule("rstatus", "^2", false)), "",
			StatusL7OK, 200, "", ""},
		{"expect string", ok, httpCheck(optionHTTPChk("", "", ""), expectRule("string", "ell", false)), "",
			StatusL7OK, 200, "", ""},
		{"expect string miss", ok, httpCheck(optionHTTPChk("", "", ""), expectRule("string", "nomatch", false)), "",
			StatusL7Rsp, 200, "HTTP content check did not match", ""},
		{"expect ! string", ok, httpCheck(optionHTTPChk("", "", ""), expectRule("string", "ell", true)), "",
			StatusL7Rsp, 200, "HTTP check matched unwanted content", ""},
		{"expect string without a body", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", httpCheck(optionHTTPChk("", "", ""), expectRule("string", "x", false)), "",
			StatusL7Rsp, 200, "HTTP content check could not find a response body", ""},
		{"chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", httpCheck(optionHTTPChk("", "", ""), expectRule("rstring", "^hello$", false)), "",
			StatusL7OK, 200, "", ""},
		{"body until close", "HTTP/1.0 200 OK\r\n\r\nall of it", httpCheck(optionHTTPChk("", "", ""), expectRule("string", "of it", false)), "",
			StatusL7OK, 200, "", ""},
		{"not HTTP", "SSH-2.0-x\r\n", httpCheck(optionHTTPChk("", "", "")), "",
			StatusL7Rsp, 0, "", ""},
		{"hdr name", "HTTP/1.1 202 Accepted\r\nX-Test1: true, next value\r\nContent-Length: 0\r\n\r\n",
			httpCheck(optionHTTPChk("", "", ""), proxy.CheckRule{Action: proxy.CheckExpect, Expect: proxy.CheckMatch{Type: "hdr", NameMatch: "str", Name: "x-test1"}}), "",
			StatusL7OK, 202, "", ""},
		{"hdr value matches one of the comma-separated values", "HTTP/1.1 200 OK\r\nX-Test2: true, begin-value\r\nContent-Length: 0\r\n\r\n",
			httpCheck(optionHTTPChk("", "", ""), proxy.CheckRule{Action: proxy.CheckExpect, Expect: proxy.CheckMatch{Type: "hdr", NameMatch: "beg", Name: "X-TEST", HasValue: true, ValueMatch: "beg", Value: "begin-"}}), "",
			StatusL7OK, 200, "", ""},
		{"fhdr compares the whole value", "HTTP/1.1 200 OK\r\nX-Test2: true, begin-value\r\nContent-Length: 0\r\n\r\n",
			httpCheck(optionHTTPChk("", "", ""), proxy.CheckRule{Action: proxy.CheckExpect, Expect: proxy.CheckMatch{Type: "hdr", Full: true, NameMatch: "str", Name: "x-test2", HasValue: true, ValueMatch: "str", Value: "true"}}), "",
			StatusL7Sts, 200, "OK", ""},
		{"hdr value-lf from a variable set from the answer", "HTTP/1.1 200 OK\r\nX-Hdr-Name: x-test1\r\nX-Test1: yes\r\nContent-Length: 0\r\n\r\n",
			httpCheck(optionHTTPChk("", "", ""), expectRule("status", "200", false),
				proxy.CheckRule{Action: proxy.CheckSetVar, Var: "check.h", Expr: "res.fhdr(x-hdr-name)"},
				proxy.CheckRule{Action: proxy.CheckExpect, Expect: proxy.CheckMatch{Type: "hdr", NameMatch: "str", NameLF: true, Name: "%[var(check.h)]"}}), "",
			StatusL7OK, 200, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &peer{answer: []byte(tc.answer)}
			addr := startPeer(t, p)
			env := &Env{Proxy: "be", Server: "srv"}
			if tc.state != "" {
				tc.hc.SendState = true
				env.StateHeader = func() string { return tc.state }
			}
			r := runCheck(t, tc.hc, addr, env)
			if r.Status != tc.status || r.Code != tc.code || r.Info != tc.info {
				t.Fatalf("got %s/%d/%q want %s/%d/%q", r.Status.Code(), r.Code, r.Info, tc.status.Code(), tc.code, tc.info)
			}
			if tc.sent != "" {
				time.Sleep(150 * time.Millisecond)
				if got := string(p.received()); got != tc.sent {
					t.Fatalf("server got %q want %q", got, tc.sent)
				}
			}
		})
	}
}

// http-check disable-on-404: a 404 passes conditionally for a server that
// is not down, and fails for a down one.
func TestDisableOn404(t *testing.T) {
	answer := []byte("HTTP/1.0 404 Not Found\r\n\r\n")
	for _, down := range []bool{false, true} {
		addr := startPeer(t, &peer{answer: answer})
		hc := httpCheck(optionHTTPChk("", "", ""))
		hc.DisableOn404 = true
		env := &Env{Proxy: "a", Server: "r", Stopped: func() bool { return down }}
		r := runCheck(t, hc, addr, env)
		want := StatusL7OKC
		if down {
			want = StatusL7Sts
		}
		if r.Status != want || r.Code != 404 {
			t.Fatalf("down=%v: got %s/%d", down, r.Status.Code(), r.Code)
		}
	}
}

func TestHTTP11(t *testing.T) {
	for v, want := range map[string]bool{"HTTP/1.0": false, "HTTP/1.1": true, "HTTP/2": true, "HTTP/2.0": true, "HTTP/0.9": false, "foo": false} {
		if http11(v) != want {
			t.Errorf("%s: %v", v, !want)
		}
	}
}
