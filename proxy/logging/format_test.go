package logging_test

import (
	"bufio"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"halo/proxy/acl"
	"halo/proxy/acl/acltest"
	"halo/proxy/logging"
)

func at(s string) time.Time {
	t, err := time.Parse("02/Jan/2006:15:04:05.000", s)
	if err != nil {
		panic(err)
	}
	return t
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func term(s string) (t [4]byte) { copy(t[:], s); return }

func readGolden(t *testing.T) map[string]string {
	f, err := os.Open("testdata/oracle.golden")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, val, _ := strings.Cut(line, "\t")
		out[name] = val
	}
	return out
}

func TestOracleLines(t *testing.T) {
	golden := readGolden(t)
	ctx := &acl.Ctx{}
	txn := acltest.New("GET /lf/a?q=1")
	ctx.Reset(txn)
	ctx.Vars.Set("txn.v", acl.Value{Kind: acl.KStr, B: []byte("hello")})
	tests := []struct {
		name   string
		format string
		e      logging.Entry
	}{
		{"httplog return", logging.HTTPLog, logging.Entry{Client: ap("127.0.0.1:60538"), Accept: at("25/Nov/2026:16:45:31.809"),
			FrontendName: "fe", TR: 0, Tw: -1, Tc: -1, Tr: -1, Ta: 0, Status: 200, BytesOut: 73, Term: term("LR--"),
			ActConn: 1, FeConn: 1, RequestLine: []byte("GET /ret HTTP/1.1")}},
		{"httplog 503", logging.HTTPLog, logging.Entry{Client: ap("127.0.0.1:60552"), Accept: at("25/Nov/2026:16:45:31.817"),
			FrontendName: "fe", BackendName: "app", TR: 0, Tw: -1, Tc: -1, Tr: -1, Ta: 0, Status: 503, BytesOut: 217, Term: term("SCNN"),
			ActConn: 1, FeConn: 1, RequestLine: []byte("GET /x HTTP/1.1")}},
		{"httplog stats", logging.HTTPLog, logging.Entry{Client: ap("127.0.0.1:60558"), Accept: at("25/Nov/2026:16:45:31.825"),
			FrontendName: "fe", ServerName: "<STATS>", Status: 200, BytesOut: 19701, Term: term("LR--"),
			ActConn: 1, FeConn: 1, RequestLine: []byte("GET /stats HTTP/1.1")}},
		{"clf return", logging.CLFLog, logging.Entry{Client: ap("127.0.0.1:45362"), Accept: at("25/Nov/2026:16:52:45.559"),
			FrontendName: "fe3", TR: 0, Tw: -1, Tc: -1, Tr: -1, Ta: 0, Status: 200, BytesOut: 73, Term: term("LR--"),
			ActConn: 1, FeConn: 1, RequestLine: []byte("GET /r HTTP/1.1"),
			ReqCaptures: [][]byte{[]byte("127.0.0.1:23005"), []byte("curl/")}, ResCaptures: [][]byte{nil}}},
		{"clf retries", logging.CLFLog, logging.Entry{Client: ap("127.0.0.1:45370"), Accept: at("25/Nov/2026:16:52:45.566"),
			FrontendName: "fe3", BackendName: "be", ServerName: "s", TR: 0, Tw: 0, Tc: -1, Tr: -1, Ta: 3005, Status: 503, BytesOut: 217,
			Term: term("SC--"), ActConn: 1, FeConn: 1, Retries: 3, RequestLine: []byte("GET /x?y HTTP/1.1"),
			ReqCaptures: [][]byte{[]byte("127.0.0.1:23005"), []byte("Mozil")}, ResCaptures: [][]byte{nil}}},
		{"tcplog", logging.TCPLog, logging.Entry{Client: ap("127.0.0.1:38520"), Accept: at("25/Nov/2026:16:52:48.579"),
			FrontendName: "fe2", BackendName: "be", ServerName: "s", Tw: 0, Tc: -1, Tt: 3004, BytesOut: 217, Term: term("SC"),
			ActConn: 1, FeConn: 1, Retries: 3}},
		{"custom", `A=%[var(txn.nope)] B=%{+Q}[src] C=%{+Q}[var(txn.nope)]  D=%CC %hr|%hs| E=%{+Q}r %HQ %H F=%{+X}ci %{+Q}ft %[src]%% V=%[var(txn.v)] %Tl %T %trl`,
			logging.Entry{Ctx: ctx, Client: ap("127.0.0.1:40000"), Accept: at("25/Nov/2026:16:52:29.100"), FrontendName: "fe",
				RequestLine: []byte("GET /lf/a?q=1 HTTP/1.1"), Hostname: "vm"}},
	}
	time.Local = time.UTC // the oracle ran in UTC; %Tl/%trl print local time
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := logging.Compile(tc.format, logging.CtxLog, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := string(f.Append(nil, &tc.e))
			if want := golden[tc.name]; got != want {
				t.Errorf("\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestActionContext(t *testing.T) {
	// http-request return lf-string as HAProxy 2.6 renders it: spaces kept,
	// absent samples empty, +Q ignored on samples.
	ctx := &acl.Ctx{}
	ctx.Reset(acltest.New("GET /lf/a?q=1"))
	f, err := logging.Compile(`a=%[req.hdr(nope)] b=%[path]  c=%{+Q}[path] e=%ci f=%{+Q}ci %% g=%[path,upper]x`, logging.CtxAction, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := string(f.Append(nil, &logging.Entry{Ctx: ctx, Client: ap("127.0.0.1:1")}))
	want := `a= b=/lf/a  c=/lf/a e=127.0.0.1 f="127.0.0.1" % g=/LF/Ax`
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ name, format, want string }{
		{"unknown var", "%zz", "no such format variable 'zz'"},
		{"bad flag", "%{+Z}r", "unexpected flag '+Z'"},
		{"unclosed expr", "%[path", "missing ']'"},
		{"bad fetch", "%[nope]", "unknown fetch method 'nope'"},
		{"truncated", "abc %", "truncated line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := logging.Compile(tc.format, logging.CtxLog, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSyslogHeader(t *testing.T) {
	now := time.Date(2026, 11, 5, 16, 45, 31, 809e6, time.UTC)
	tests := []struct{ name, format, host, want string }{
		{"rfc3164", "", "", "<134>Nov  5 16:45:31 haproxy[11459]: "},
		{"rfc3164 host", "rfc3164", "vm", "<134>Nov  5 16:45:31 vm haproxy[11459]: "},
		{"rfc5424", "rfc5424", "", "<134>1 2026-11-05T16:45:31.809000+00:00 - haproxy 11459 - - "},
		{"raw", "raw", "", ""},
		{"short", "short", "", "<6>"},
		{"priority", "priority", "", "<134>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(logging.AppendHeader(nil, tc.format, 16, logging.LevelInfo, now, tc.host, "haproxy", 11459))
			if got != tc.want {
				t.Errorf("got %q want %q", got, tc.want)
			}
		})
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{logging.HTTPLog, logging.TCPLog, logging.CLFLog, "%{+Q,-X}o %[src,lower] %%", "%{", "%[a[b]]"} {
		f.Add(s)
	}
	e := &logging.Entry{RequestLine: []byte("GET / HTTP/1.1"), ReqCaptures: [][]byte{[]byte("x")}}
	f.Fuzz(func(t *testing.T, s string) {
		fm, err := logging.Compile(s, logging.CtxLog, &acl.Options{ReadFile: func(string) ([]byte, error) { return nil, nil }})
		if err != nil {
			return
		}
		ctx := &acl.Ctx{}
		ctx.Reset(acltest.New("GET /"))
		e.Ctx = ctx
		fm.Append(nil, e)
	})
}

// The unique-id-format example of configuration.txt §4.2.
func TestUniqueIDExample(t *testing.T) {
	f, err := logging.Compile(`%{+X}o %ci:%cp_%fi:%fp_%Ts_%rt:%pid`, logging.CtxLog, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &logging.Entry{Client: ap("127.0.0.1:33430"), Frontend: ap("127.0.0.30:8080"),
		Accept: time.Unix(0x4F7B0A69, 0), ReqCounter: 3, PID: 0x790A}
	if got, want := string(f.Append(nil, e)), "7F000001:8296_7F00001E:1F90_4F7B0A69_0003:790A"; got != want {
		t.Errorf("got %s want %s", got, want)
	}
}
