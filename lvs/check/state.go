package check

import (
	"fmt"
	"strings"
	"time"
)

// Outcome is what one attempt of a checker found.
type Outcome struct {
	OK bool
	// Reason is the attempt's failure, in keepalived's words, used for the
	// per-attempt log line (log_all_failures) and the failure summary.
	Reason string
	// Success names what passed, for HTTP's "<what> success to …" line.
	Success string
	// Exit is MISC_CHECK's exit status; TimedOut and Signal say it was
	// killed instead.
	Exit     int
	TimedOut bool
	Signal   int
	// Weight is a dynamic weight (misc_dynamic exit status − 2, FILE_CHECK
	// value × weight); HasWeight says it is set.
	Weight    int
	HasWeight bool
}

// Report is what a step tells the real server: the checker went up or
// down (Up/Down), a first result that confirms the initial state (First),
// a dynamic weight.
type Report struct {
	Up, Down  bool
	First     bool // the first result, same as the initial state
	Weight    int
	HasWeight bool
	// ResetWeight: misc_dynamic's exit 0 gives the real server back its
	// configured weight.
	ResetWeight bool
	// Alert is the body of the SMTP alert keepalived sends for this
	// change ("=> TCP CHECK failed on service <="), when it sends one.
	Alert string
}

// Step is the outcome of applying one attempt: how long to wait before the
// next attempt, whether the delay counts from the attempt's start (MISC)
// or its end (all others), what to report and what to log.
type Step struct {
	Delay     time.Duration
	FromStart bool
	Report    Report
	Logs      []string
}

// style is how a kind's epilog schedules retries.
type style int

const (
	styleGeneric style = iota // tcp_epilog
	styleHTTP                 // http epilog: per URL, failed URL re-checked
	styleMisc                 // misc_check_child_thread: delay from the start
	styleFile                 // FILE_CHECK: value-driven
	styleUpRetry              // udp_epilog, icmp_epilog: retries only while up
	styleDNS                  // dns_final
	styleSMTP                 // smtp_final
)

// State is a checker's schedule state: keepalived's is_up, has_run,
// retry_it and, for HTTP, the URL iterator and the failed URL.
type State struct {
	cfg   *Config
	style style
	name  string // FMT_CHK: [ip]:proto:port
	rsIP  string // MISC_CHECK's [ip]
	// VS is the virtual server's name (FMT_VS), which PING_CHECK and
	// MISC_CHECK lines carry.
	VS string

	IsUp, HasRun bool
	RetryIt      int
	urlIt        int
	failedURL    int
	lastExit     int // MISC last_exit_code
}

// NewState is a checker's state at start (validate_check_config): up
// unless alpha, and one failure is enough to go down at first.
func NewState(cfg *Config, name, rsIP string) *State {
	s := &State{cfg: cfg, name: name, rsIP: rsIP, IsUp: !cfg.Alpha, failedURL: -1}
	switch cfg.Kind {
	case "HTTP_GET", "SSL_GET":
		s.style = styleHTTP
	case "MISC_CHECK":
		s.style = styleMisc
	case "FILE_CHECK":
		s.style = styleFile
	case "UDP_CHECK", "PING_CHECK":
		s.style = styleUpRetry
	case "DNS_CHECK":
		s.style = styleDNS
	case "SMTP_CHECK":
		s.style = styleSMTP
	}
	s.RetryIt = cfg.Retry
	return s
}

// URLIndex is the URL the next HTTP attempt fetches.
func (s *State) URLIndex() int { return s.urlIt }

// Apply folds one attempt's outcome into the state (keepalived's epilogs).
func (s *State) Apply(o Outcome) Step {
	switch s.style {
	case styleHTTP:
		return s.applyHTTP(o)
	case styleMisc:
		return s.applyMisc(o)
	case styleFile:
		return s.applyFile(o)
	case styleUpRetry:
		return s.applyUpRetry(o)
	case styleDNS:
		return s.applyDNS(o)
	case styleSMTP:
		return s.applySMTP(o)
	}
	return s.applyGeneric(o)
}

func (s *State) logAll() bool { return s.cfg.LogAllFailures }

// applyGeneric is tcp_epilog (check_tcp.c), which the other connection
// checkers share.
func (s *State) applyGeneric(o Outcome) Step {
	var st Step
	if !o.OK && s.IsUp && s.logAll() && o.Reason != "" {
		st.Logs = append(st.Logs, fmt.Sprintf(o.Reason, s.name))
	}
	if o.OK || s.RetryIt >= s.cfg.Retry {
		st.Delay = s.cfg.DelayLoop
		s.RetryIt = 0
		switch {
		case o.OK && (!s.IsUp || !s.HasRun):
			st.Logs = append(st.Logs, fmt.Sprintf("TCP connection to %s success.", s.name))
			st.Report = s.report(true)
			st.Report.Alert = "=> TCP CHECK succeed on service <="
		case !o.OK && (s.IsUp || !s.HasRun):
			if s.cfg.Retry > 0 && s.HasRun {
				st.Logs = append(st.Logs, fmt.Sprintf("TCP_CHECK on service %s failed after %d retries.", s.name, s.cfg.Retry))
			} else {
				st.Logs = append(st.Logs, fmt.Sprintf("TCP_CHECK on service %s failed.", s.name))
			}
			st.Report = s.report(false)
			st.Report.Alert = "=> TCP CHECK failed on service <="
		}
	} else {
		st.Delay = s.cfg.DelayBeforeRetry
		s.RetryIt++
	}
	s.HasRun = true
	return st
}

// applyUpRetry is udp_epilog / icmp_epilog (check_udp.c, check_ping.c):
// as tcp_epilog, but a checker that is down is not retried, it waits
// delay_loop between attempts.
func (s *State) applyUpRetry(o Outcome) Step {
	var st Step
	label, conn, vs := "UDP_CHECK", "UDP", ""
	if s.cfg.Kind == "PING_CHECK" {
		label, conn, vs = "ICMP CHECK", "ICMP", " of "+s.VS
	}
	if !o.OK && s.IsUp && s.logAll() && o.Reason != "" {
		st.Logs = append(st.Logs, s.reason(o.Reason))
	}
	st.Delay = s.cfg.DelayLoop
	switch {
	case o.OK || ((s.IsUp || !s.HasRun) && s.RetryIt >= s.cfg.Retry):
		s.RetryIt = 0
		switch {
		case o.OK && (!s.IsUp || !s.HasRun):
			st.Logs = append(st.Logs, fmt.Sprintf("%s connection to %s success.", conn, s.name))
			st.Report = s.report(true)
			st.Report.Alert = "=> " + conn + " CHECK succeed on service <="
		case !o.OK && (s.IsUp || !s.HasRun):
			if s.cfg.Retry > 0 && s.HasRun {
				st.Logs = append(st.Logs, fmt.Sprintf("%s on service %s%s failed after %d retries.", label, s.name, vs, s.cfg.Retry))
			} else {
				st.Logs = append(st.Logs, fmt.Sprintf("%s on service %s failed.", label, s.name))
			}
			st.Report = s.report(false)
			st.Report.Alert = "=> " + conn + " CHECK failed on service <="
		}
	case s.IsUp:
		st.Delay = s.cfg.DelayBeforeRetry
		s.RetryIt++
	}
	s.HasRun = true
	return st
}

// reason expands an attempt's failure line: %s is the checker, a second
// %s the virtual server.
func (s *State) reason(r string) string {
	switch strings.Count(r, "%s") {
	case 0:
		return r
	case 1:
		return fmt.Sprintf(r, s.name)
	}
	return fmt.Sprintf(r, s.name, s.VS)
}

// applyDNS is dns_final (check_dns.c): a failure is logged as
// "DNS_CHECK (checker) reason" when log_all_failures is set or the retries
// are spent, retried delay_before_retry later while up; a success logs
// nothing itself.
func (s *State) applyDNS(o Outcome) Step {
	var st Step
	if !o.OK {
		if s.IsUp || !s.HasRun {
			if o.Reason != "" && (s.logAll() || s.RetryIt >= s.cfg.Retry) {
				msg := o.Reason
				if s.HasRun && s.RetryIt >= s.cfg.Retry {
					msg += fmt.Sprintf(" after %d retries", s.cfg.Retry)
				}
				st.Logs = append(st.Logs, fmt.Sprintf("DNS_CHECK (%s) %s", s.name, msg))
			}
			if s.RetryIt < s.cfg.Retry {
				s.RetryIt++
				s.HasRun = true
				st.Delay = s.cfg.DelayBeforeRetry
				return st
			}
			st.Report = s.report(false)
			st.Report.Alert = "=> DNS_CHECK: failed on service <="
		}
	} else if !s.IsUp || !s.HasRun {
		st.Report = s.report(true)
		st.Report.Alert = "=> DNS_CHECK: succeed on service <="
	}
	s.HasRun = true
	s.RetryIt = 0
	st.Delay = s.cfg.DelayLoop
	return st
}

// applySMTP is smtp_final (check_smtp.c): a failure is logged as
// "SMTP_CHECK reason" when log_all_failures is set or the retries are
// spent, and retried delay_before_retry later (the count goes on while
// down, so a down checker waits delay_loop); the alert carries the
// reason. has_run is set by a success only, as keepalived does.
func (s *State) applySMTP(o Outcome) Step {
	var st Step
	if !o.OK {
		if (s.IsUp || !s.HasRun) && (s.logAll() || s.RetryIt >= s.cfg.Retry) && o.Reason != "" {
			st.Logs = append(st.Logs, "SMTP_CHECK "+o.Reason)
		}
		s.RetryIt++
		if s.RetryIt <= s.cfg.Retry {
			st.Delay = s.cfg.DelayBeforeRetry
			return st
		}
		if s.IsUp || !s.HasRun {
			st.Report = s.report(false)
			st.Report.Alert = "=> CHECK failed on service <="
			if o.Reason != "" {
				st.Report.Alert = "=> CHECK failed on service : " + o.Reason + " <="
			}
		}
		st.Delay = s.cfg.DelayLoop
		return st
	}
	s.RetryIt = 0
	if !s.IsUp || !s.HasRun {
		st.Logs = append(st.Logs, fmt.Sprintf("Remote SMTP server %s succeed on service.", s.name))
		st.Report = s.report(true)
		st.Report.Alert = "=> CHECK succeed on service <="
	}
	s.HasRun = true
	st.Delay = s.cfg.DelayLoop
	return st
}

// report records the new state and says whether it changed.
func (s *State) report(up bool) Report {
	r := Report{}
	if s.IsUp == up {
		if !s.HasRun {
			r.First = true
		}
	} else if up {
		r.Up = true
	} else {
		r.Down = true
	}
	s.IsUp = up
	return r
}

// applyHTTP is check_http.c's http_handle_response/timeout_epilog/epilog:
// the URLs are fetched one per delay_loop; a failed URL is retried
// (delay_before_retry) until retry is exhausted, then re-fetched every
// max(delay_before_retry, delay_loop) until it passes, and only a full
// pass over the URLs after that brings the server back up.
func (s *State) applyHTTP(o Outcome) Step {
	const (
		regNew = iota
		regRetry
		regFailed
	)
	var st Step
	method := regNew
	if !o.OK {
		if s.IsUp || !s.HasRun {
			if s.logAll() && o.Reason != "" {
				st.Logs = append(st.Logs, fmt.Sprintf("%s server %s.", o.Reason, s.name))
			}
			s.HasRun = true
			method = regRetry
		} else {
			method = regFailed
		}
	} else if !s.IsUp && o.Success != "" && s.urlIt < len(s.cfg.URLs) {
		st.Logs = append(st.Logs, fmt.Sprintf("%s success to %s url(%s)", o.Success, s.name, s.cfg.URLs[s.urlIt].Path))
	}
	n := len(s.cfg.URLs)
	switch method {
	case regNew:
		s.urlIt++
		s.RetryIt = 0
	case regRetry:
		s.RetryIt++
	}
	switch {
	case method == regNew && s.urlIt >= n && s.failedURL < 0:
		if !s.IsUp || !s.HasRun {
			st.Logs = append(st.Logs, fmt.Sprintf("Remote Web server %s succeed on service.", s.name))
			st.Report = s.report(true)
			st.Report.Alert = "=> CHECK succeed on service <="
			s.HasRun = true
		}
		s.urlIt, s.RetryIt = 0, 0
	case method == regRetry && s.RetryIt > s.cfg.Retry:
		if s.IsUp || !s.HasRun {
			if s.HasRun && s.cfg.Retry > 0 {
				st.Logs = append(st.Logs, fmt.Sprintf("HTTP_CHECK on service %s failed after %d retry.", s.name, s.RetryIt-1))
			} else {
				st.Logs = append(st.Logs, fmt.Sprintf("HTTP_CHECK on service %s failed.", s.name))
			}
			st.Report = s.report(false)
			st.Report.Alert = "=> CHECK failed on service : HTTP request failed <="
		}
		s.failedURL = s.urlIt
	case method == regNew && s.failedURL >= 0:
		s.failedURL, s.urlIt, s.RetryIt = -1, 0, 0
	}
	switch {
	case method == regNew:
		st.Delay = s.cfg.DelayLoop
		if !s.HasRun {
			s.RetryIt = s.cfg.Retry
		}
	case s.failedURL >= 0:
		st.Delay = max(s.cfg.DelayBeforeRetry, s.cfg.DelayLoop)
	default:
		st.Delay = s.cfg.DelayBeforeRetry
	}
	if s.cfg.FastRecovery && (!s.HasRun || (!s.IsUp && s.failedURL < 0)) {
		st.Delay = 0
	}
	return st
}

// applyMisc is misc_check_child_thread (check_misc.c): the next run is
// delay_loop (or delay_before_retry while retrying) after the last one
// started; a down checker does not count retries. The line names the
// script (its argv[0]) and says how it ended; with log_all_failures a
// failure being retried is logged too, without a state change.
func (s *State) applyMisc(o Outcome) Step {
	st := Step{FromStart: true}
	ok := !o.TimedOut && o.Signal == 0 && (o.Exit == 0 || (s.cfg.MiscDynamic && o.Exit >= 2 && o.Exit <= 255))
	exitType, reason, code, success, messageOnly := "", "", 0, false, false
	switch {
	case ok:
		if s.cfg.MiscDynamic && o.Exit != s.lastExit {
			if o.Exit >= 2 {
				st.Report.Weight, st.Report.HasWeight = o.Exit-2, true
			} else {
				st.Report.ResetWeight = true
			}
			s.lastExit = o.Exit
		}
		if !s.IsUp || !s.HasRun {
			exitType, success = "succeeded", true
		}
		s.RetryIt = 0
	case s.IsUp || !s.HasRun:
		switch {
		case o.TimedOut:
			exitType = "timed out"
		case o.Signal != 0:
			exitType, reason, code = "failed", "due to signal", o.Signal
		default:
			exitType, reason, code = "failed", "exited with status", o.Exit
		}
		if s.RetryIt < s.cfg.Retry {
			s.RetryIt++
			if s.logAll() {
				messageOnly = true
			} else {
				exitType = ""
			}
		} else {
			s.RetryIt = 0
			if !o.TimedOut && o.Signal == 0 {
				s.lastExit = o.Exit
			}
		}
	}
	if exitType != "" {
		after := ""
		if !success && s.cfg.Retry > 0 {
			after = fmt.Sprintf(" after %d retries", s.cfg.Retry)
		}
		script := ""
		if len(s.cfg.MiscPath) > 0 {
			script = s.cfg.MiscPath[0]
		}
		if reason != "" {
			st.Logs = append(st.Logs, fmt.Sprintf("Misc check for [%s VS %s] by [%s] %s%s (%s %d).", s.name, s.VS, script, exitType, after, reason, code))
		} else {
			st.Logs = append(st.Logs, fmt.Sprintf("Misc check for [%s VS %s] by [%s] %s%s.", s.name, s.VS, script, exitType, after))
		}
		if !messageOnly {
			r := s.report(success)
			r.Weight, r.HasWeight, r.ResetWeight = st.Report.Weight, st.Report.HasWeight, st.Report.ResetWeight
			r.Alert = "=> MISC CHECK " + exitType + " on service <="
			st.Report = r
		}
	}
	s.HasRun = true
	if s.RetryIt > 0 {
		st.Delay = s.cfg.DelayBeforeRetry
	} else {
		st.Delay = s.cfg.DelayLoop
	}
	return st
}

// applyFile is FILE_CHECK (track_file.c): the tracked value × weight
// (reversed when asked) at or below -254 is a failure; without a weight
// any non-zero value is. A dynamic checker passes the value on as a
// weight change.
func (s *State) applyFile(o Outcome) Step {
	st := Step{Delay: s.cfg.DelayLoop}
	// keepalived 2.2.7 logs nothing of its own here (the real server's
	// "Removing service" / "Adding service" lines say what happened) and
	// sends no checker alert for a tracked file
	if o.OK != s.IsUp || !s.HasRun {
		st.Report = s.report(o.OK)
	}
	if o.HasWeight {
		st.Report.Weight, st.Report.HasWeight = o.Weight, true
	}
	s.HasRun = true
	return st
}
