package check

import (
	"fmt"
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
	styleGeneric style = iota // tcp_epilog: TCP, SMTP, UDP, PING, DNS
	styleHTTP                 // http epilog: per URL, failed URL re-checked
	styleMisc                 // misc_check_child_thread: delay from the start
	styleFile                 // FILE_CHECK: value-driven
)

// State is a checker's schedule state: keepalived's is_up, has_run,
// retry_it and, for HTTP, the URL iterator and the failed URL.
type State struct {
	cfg   *Config
	style style
	name  string // FMT_CHK: [ip]:proto:port
	rsIP  string // MISC_CHECK's [ip]

	IsUp, HasRun bool
	RetryIt      int
	urlIt        int
	failedURL    int
	reported     bool // MISC initial_state_reported
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
			st.Logs = append(st.Logs, fmt.Sprintf(successLine(s.cfg.Kind), s.name))
			st.Report = s.report(true)
		case !o.OK && (s.IsUp || !s.HasRun):
			label := kindLabel(s.cfg.Kind)
			if s.cfg.Retry > 0 && s.HasRun {
				st.Logs = append(st.Logs, fmt.Sprintf("%s on service %s failed after %d retries.", label, s.name, s.cfg.Retry))
			} else {
				st.Logs = append(st.Logs, fmt.Sprintf("%s on service %s failed.", label, s.name))
			}
			st.Report = s.report(false)
		}
	} else {
		st.Delay = s.cfg.DelayBeforeRetry
		s.RetryIt++
	}
	s.HasRun = true
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
// started; a down checker does not count retries.
func (s *State) applyMisc(o Outcome) Step {
	st := Step{FromStart: true}
	ok := !o.TimedOut && o.Signal == 0 && (o.Exit == 0 || (s.cfg.MiscDynamic && o.Exit >= 2 && o.Exit <= 255))
	path := joinArgv(s.cfg.MiscPath)
	if ok {
		if s.cfg.MiscDynamic && o.Exit != 0 {
			st.Report.Weight, st.Report.HasWeight = o.Exit-2, true
		}
		if !s.IsUp || !s.reported {
			st.Logs = append(st.Logs, fmt.Sprintf("Misc check to [%s] for [%s] succeeded.", s.rsIP, path))
			r := s.report(true)
			r.Weight, r.HasWeight = st.Report.Weight, st.Report.HasWeight
			st.Report = r
			s.reported = true
		}
		s.RetryIt = 0
	} else if s.IsUp {
		if s.RetryIt < s.cfg.Retry {
			s.RetryIt++
		} else {
			switch {
			case o.TimedOut:
				st.Logs = append(st.Logs, fmt.Sprintf("Misc check to [%s] for [%s] timed out.", s.rsIP, path))
			case o.Signal != 0:
				st.Logs = append(st.Logs, fmt.Sprintf("Misc check to [%s] for [%s] failed (due to signal %d).", s.rsIP, path, o.Signal))
			default:
				st.Logs = append(st.Logs, fmt.Sprintf("Misc check to [%s] for [%s] failed (exited with status %d).", s.rsIP, path, o.Exit))
			}
			st.Report = s.report(false)
			s.reported = true
			s.RetryIt = 0
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
	if o.OK != s.IsUp || !s.HasRun {
		if o.OK {
			st.Logs = append(st.Logs, fmt.Sprintf("FILE_CHECK %s for %s is up", s.cfg.FilePath, s.name))
		} else {
			st.Logs = append(st.Logs, fmt.Sprintf("FILE_CHECK %s for %s is down", s.cfg.FilePath, s.name))
		}
		st.Report = s.report(o.OK)
	}
	if o.HasWeight {
		st.Report.Weight, st.Report.HasWeight = o.Weight, true
	}
	s.HasRun = true
	return st
}

// successLine is the line a connection checker logs when the server comes
// up (or its first check passes).
func successLine(kind string) string {
	switch kind {
	case "SMTP_CHECK":
		return "Remote SMTP server %s succeed on service."
	case "DNS_CHECK":
		return "DNS_CHECK (%s) succeed."
	case "UDP_CHECK":
		return "UDP connection to %s success."
	case "PING_CHECK":
		return "ICMP connection to %s success."
	}
	return "TCP connection to %s success."
}

// kindLabel is the checker's name in its failure summary.
func kindLabel(kind string) string {
	switch kind {
	case "SMTP_CHECK":
		return "SMTP_CHECK"
	case "DNS_CHECK":
		return "DNS_CHECK"
	case "UDP_CHECK":
		return "UDP_CHECK"
	case "PING_CHECK":
		return "PING_CHECK"
	}
	return "TCP_CHECK"
}

func joinArgv(a []string) string {
	out := ""
	for i, w := range a {
		if i > 0 {
			out += " "
		}
		out += w
	}
	return out
}
