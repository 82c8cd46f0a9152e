package check

import (
	"strings"
	"testing"
	"time"
)

// The lines and alert bodies of each checker as keepalived 2.2.7 prints
// them (its format strings: check_smtp.c, check_dns.c, check_udp.c,
// check_ping.c, check_misc.c; track_file.c logs nothing for FILE_CHECK
// without -D). Each case runs a sequence of outcomes through a checker
// with retry 1 and logs every line and alert.
func TestCheckerWording(t *testing.T) {
	fail := func(r string) Outcome { return Outcome{Reason: r} }
	ok := Outcome{OK: true}
	for _, tc := range []struct {
		kind   string
		logAll bool
		seq    []Outcome
		want   []string
	}{
		{"SMTP_CHECK", false, []Outcome{ok, fail("Bad greeting banner from server [10.0.0.1]:25"), fail("Bad greeting banner from server [10.0.0.1]:25"), ok}, []string{
			"Remote SMTP server [10.0.0.1]:tcp:25 succeed on service.",
			"SMTP_CHECK Bad greeting banner from server [10.0.0.1]:25",
			"ALERT => CHECK failed on service : Bad greeting banner from server [10.0.0.1]:25 <=",
			"Remote SMTP server [10.0.0.1]:tcp:25 succeed on service.",
			"ALERT => CHECK succeed on service <=",
		}},
		{"SMTP_CHECK", true, []Outcome{ok, fail("Read timeout from server [10.0.0.1]:25"), fail("Read timeout from server [10.0.0.1]:25")}, []string{
			"Remote SMTP server [10.0.0.1]:tcp:25 succeed on service.",
			"SMTP_CHECK Read timeout from server [10.0.0.1]:25",
			"SMTP_CHECK Read timeout from server [10.0.0.1]:25",
			"ALERT => CHECK failed on service : Read timeout from server [10.0.0.1]:25 <=",
		}},
		{"DNS_CHECK", false, []Outcome{ok, fail("read timeout from socket"), fail("read timeout from socket"), ok}, []string{
			"DNS_CHECK ([10.0.0.1]:tcp:25) read timeout from socket after 1 retries",
			"ALERT => DNS_CHECK: failed on service <=",
			"ALERT => DNS_CHECK: succeed on service <=",
		}},
		{"DNS_CHECK", true, []Outcome{ok, fail("read error occurred. (rcode = 2)"), fail("read error occurred. (rcode = 2)")}, []string{
			"DNS_CHECK ([10.0.0.1]:tcp:25) read error occurred. (rcode = 2)",
			"DNS_CHECK ([10.0.0.1]:tcp:25) read error occurred. (rcode = 2) after 1 retries",
			"ALERT => DNS_CHECK: failed on service <=",
		}},
		{"UDP_CHECK", true, []Outcome{ok, fail("UDP check to %s reply data mismatch."), fail("UDP connection to %s failed."), fail("UDP connection to %s failed."), ok}, []string{
			"UDP connection to [10.0.0.1]:tcp:25 success.",
			"UDP check to [10.0.0.1]:tcp:25 reply data mismatch.",
			"UDP connection to [10.0.0.1]:tcp:25 failed.",
			"UDP_CHECK on service [10.0.0.1]:tcp:25 failed after 1 retries.",
			"ALERT => UDP CHECK failed on service <=",
			"UDP connection to [10.0.0.1]:tcp:25 success.",
			"ALERT => UDP CHECK succeed on service <=",
		}},
		{"PING_CHECK", true, []Outcome{ok, fail("ICMP connection to address %s timeout."), fail("ICMP connection to %s of %s failed.")}, []string{
			"ICMP connection to [10.0.0.1]:tcp:25 success.",
			"ICMP connection to address [10.0.0.1]:tcp:25 timeout.",
			"ICMP connection to [10.0.0.1]:tcp:25 of [192.0.2.1]:tcp:25 failed.",
			"ICMP CHECK on service [10.0.0.1]:tcp:25 of [192.0.2.1]:tcp:25 failed after 1 retries.",
			"ALERT => ICMP CHECK failed on service <=",
		}},
		{"MISC_CHECK", true, []Outcome{{Exit: 0}, {Exit: 3}, {Exit: 3}, {Exit: 0}}, []string{
			"Misc check for [[10.0.0.1]:tcp:25 VS [192.0.2.1]:tcp:25] by [/bin/check] succeeded.",
			"Misc check for [[10.0.0.1]:tcp:25 VS [192.0.2.1]:tcp:25] by [/bin/check] failed after 1 retries (exited with status 3).",
			"Misc check for [[10.0.0.1]:tcp:25 VS [192.0.2.1]:tcp:25] by [/bin/check] failed after 1 retries (exited with status 3).",
			"ALERT => MISC CHECK failed on service <=",
			"Misc check for [[10.0.0.1]:tcp:25 VS [192.0.2.1]:tcp:25] by [/bin/check] succeeded.",
			"ALERT => MISC CHECK succeeded on service <=",
		}},
		{"FILE_CHECK", false, []Outcome{{OK: true}, {}, {OK: true}}, []string{
			"ALERT ", "ALERT ",
		}},
		{"TCP_CHECK", false, []Outcome{ok, fail("TCP connection to %s timeout."), fail("TCP connection to %s timeout.")}, []string{
			"TCP connection to [10.0.0.1]:tcp:25 success.",
			"TCP_CHECK on service [10.0.0.1]:tcp:25 failed after 1 retries.",
			"ALERT => TCP CHECK failed on service <=",
		}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			cfg := &Config{Kind: tc.kind, Retry: 1, DelayLoop: time.Second, DelayBeforeRetry: time.Second, LogAllFailures: tc.logAll,
				MiscPath: []string{"/bin/check", "arg"}}
			st := NewState(cfg, "[10.0.0.1]:tcp:25", "10.0.0.1")
			st.VS = "[192.0.2.1]:tcp:25"
			var got []string
			for _, o := range tc.seq {
				s := st.Apply(o)
				got = append(got, s.Logs...)
				if s.Report.Up || s.Report.Down {
					got = append(got, "ALERT "+s.Report.Alert)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestSMTPStatus(t *testing.T) {
	for l, want := range map[string]int{"220 mx ready\r": 220, "250": 250, "220-first line": -1, "220\r": -1, "22 x": -1, "abc def": -1} {
		if got := SMTPStatus(l); got != want {
			t.Errorf("SMTPStatus(%q) = %d, want %d", l, got, want)
		}
	}
}
