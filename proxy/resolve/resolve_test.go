package resolve

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"halo/proxy"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// The answer list keeps the order addresses first came in and drops one
// only once `hold obsolete` has passed since an answer last held it.
func TestRemember(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name     string
		obsolete time.Duration
		answers  [][]string // one answer per second
		want     []string   // the list after the last one
	}{
		{"first-seen order", 0, [][]string{{"10.0.0.2", "10.0.0.1"}, {"10.0.0.1", "10.0.0.2"}}, []string{"10.0.0.2", "10.0.0.1"}},
		{"gone with hold 0", 0, [][]string{{"10.0.0.1", "10.0.0.2"}, {"10.0.0.2"}}, []string{"10.0.0.2"}},
		{"kept within hold", 1500 * time.Millisecond, [][]string{{"10.0.0.1", "10.0.0.2"}, {"10.0.0.2"}}, []string{"10.0.0.1", "10.0.0.2"}},
		{"gone after hold", 1500 * time.Millisecond, [][]string{{"10.0.0.1", "10.0.0.2"}, {"10.0.0.2"}, {"10.0.0.2"}}, []string{"10.0.0.2"}},
		{"new ones at the end", time.Minute, [][]string{{"10.0.0.3"}, {"10.0.0.1", "10.0.0.3"}}, []string{"10.0.0.3", "10.0.0.1"}},
		{"empty answer", 0, [][]string{{"10.0.0.1"}, {}}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &resolution{sec: &section{cfg: &proxy.Resolvers{HoldObsolete: tc.obsolete}}}
			var got []netip.Addr
			for i, a := range tc.answers {
				got = r.remember(addrs(a...), t0.Add(time.Duration(i)*time.Second))
			}
			if !slices.Equal(got, addrs(tc.want...)) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// classify maps a nameserver's answer to HAProxy's resolution statuses.
func TestClassify(t *testing.T) {
	reply := func(rcode int, rrs ...string) *dns.Msg {
		m := new(dns.Msg)
		m.Rcode = rcode
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Fatal(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		return m
	}
	for _, tc := range []struct {
		name string
		m    *dns.Msg
		err  error
		qt   uint16
		want Status
	}{
		{"A answer", reply(dns.RcodeSuccess, "a.test. 1 IN A 10.0.0.1"), nil, dns.TypeA, StatusValid},
		{"no record of the type", reply(dns.RcodeSuccess, "a.test. 1 IN A 10.0.0.1"), nil, dns.TypeAAAA, StatusOther},
		{"empty NOERROR", reply(dns.RcodeSuccess), nil, dns.TypeA, StatusOther},
		{"NXDOMAIN", reply(dns.RcodeNameError), nil, dns.TypeA, StatusNX},
		{"REFUSED", reply(dns.RcodeRefused), nil, dns.TypeA, StatusRefused},
		{"SERVFAIL", reply(dns.RcodeServerFailure), nil, dns.TypeA, StatusOther},
		{"timeout", nil, timeoutErr{}, dns.TypeA, StatusTimeout},
		{"other error", nil, errors.New("connection refused"), dns.TypeA, StatusOther},
		{"SRV answer", reply(dns.RcodeSuccess, "_h._tcp.a.test. 1 IN SRV 0 256 80 b.test."), nil, dns.TypeSRV, StatusValid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.m, tc.err, tc.qt); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// addrsOf keeps the answer's order and only the type asked.
func TestAddrsOf(t *testing.T) {
	m := new(dns.Msg)
	for _, s := range []string{"a.test. 1 IN A 10.0.0.2", "a.test. 1 IN AAAA ::1", "a.test. 1 IN A 10.0.0.1", "a.test. 1 IN AAAA ::ffff:10.0.0.9"} {
		rr, _ := dns.NewRR(s)
		m.Answer = append(m.Answer, rr)
	}
	if got := addrsOf(m, dns.TypeA); !slices.Equal(got, addrs("10.0.0.2", "10.0.0.1")) {
		t.Errorf("A: %v", got)
	}
	if got := addrsOf(m, dns.TypeAAAA); !slices.Equal(got, addrs("::1", "10.0.0.9")) {
		t.Errorf("AAAA: %v", got)
	}
}
