package health

import "time"

// Status is a check status, HAProxy's HCHK_STATUS_*: its short name is
// what `show stat` prints in check_status/agent_status, its description
// the "reason" of the logs and check_desc/agent_desc. This table is the
// only one in halo; the stats and the logs read it.
type Status int

// The statuses in HAProxy's order: statuses from StatusL57Data on carry an
// L7 code in the logs (", code: N"), statuses from StatusChecked on are
// finished checks (a duration is shown).
const (
	StatusUnknown  Status = iota // UNK: Unknown
	StatusIni                    // INI: Initializing (no check ran yet)
	StatusStart                  // a check is starting (never shown)
	StatusChecked                // CHECKED: No status change (agent without a health word)
	StatusHana                   // HANA: Health analyze (observe: too many errors)
	StatusSockErr                // SOCKERR: Socket error
	StatusL4OK                   // L4OK: Layer4 check passed
	StatusL4Tout                 // L4TOUT: Layer4 timeout
	StatusL4Con                  // L4CON: Layer4 connection problem
	StatusL6OK                   // L6OK: Layer6 check passed
	StatusL6Tout                 // L6TOUT: Layer6 timeout
	StatusL6Rsp                  // L6RSP: Layer6 invalid response
	StatusL7Tout                 // L7TOUT: Layer7 timeout
	StatusL7Rsp                  // L7RSP: Layer7 invalid response
	StatusL57Data                // boundary: statuses from here on have a code
	StatusL7OK                   // L7OK: Layer7 check passed
	StatusL7OKC                  // L7OKC: Layer7 check conditionally passed
	StatusL7Sts                  // L7STS: Layer7 wrong status
	StatusProcErr                // PROCERR: External check error
	StatusProcTout               // PROCTOUT: External check timeout
	StatusProcOK                 // PROCOK: External check passed
	statusCount
)

// Outcome is what a finished check means for the server (CHK_RES_*).
type Outcome int

const (
	OutcomeUnknown  Outcome = iota // no result yet
	OutcomeNeutral                 // no change (agent without a health word)
	OutcomeFailed                  // counts as a failure
	OutcomePassed                  // counts as a success
	OutcomeCondPass                // success, server to be put in the stopping state
)

var statusTable = [statusCount]struct {
	outcome     Outcome
	code, descr string
}{
	StatusUnknown:  {OutcomeUnknown, "UNK", "Unknown"},
	StatusIni:      {OutcomeUnknown, "INI", "Initializing"},
	StatusStart:    {OutcomeUnknown, "", ""},
	StatusChecked:  {OutcomeNeutral, "CHECKED", "No status change"},
	StatusHana:     {OutcomeFailed, "HANA", "Health analyze"},
	StatusSockErr:  {OutcomeFailed, "SOCKERR", "Socket error"},
	StatusL4OK:     {OutcomePassed, "L4OK", "Layer4 check passed"},
	StatusL4Tout:   {OutcomeFailed, "L4TOUT", "Layer4 timeout"},
	StatusL4Con:    {OutcomeFailed, "L4CON", "Layer4 connection problem"},
	StatusL6OK:     {OutcomePassed, "L6OK", "Layer6 check passed"},
	StatusL6Tout:   {OutcomeFailed, "L6TOUT", "Layer6 timeout"},
	StatusL6Rsp:    {OutcomeFailed, "L6RSP", "Layer6 invalid response"},
	StatusL7Tout:   {OutcomeFailed, "L7TOUT", "Layer7 timeout"},
	StatusL7Rsp:    {OutcomeFailed, "L7RSP", "Layer7 invalid response"},
	StatusL57Data:  {OutcomeUnknown, "", ""},
	StatusL7OK:     {OutcomePassed, "L7OK", "Layer7 check passed"},
	StatusL7OKC:    {OutcomeCondPass, "L7OKC", "Layer7 check conditionally passed"},
	StatusL7Sts:    {OutcomeFailed, "L7STS", "Layer7 wrong status"},
	StatusProcErr:  {OutcomeFailed, "PROCERR", "External check error"},
	StatusProcTout: {OutcomeFailed, "PROCTOUT", "External check timeout"},
	StatusProcOK:   {OutcomePassed, "PROCOK", "External check passed"},
}

// Code is the short name ("L4CON"); UNK for statuses without one, as
// HAProxy's get_check_status_info.
func (s Status) Code() string {
	if s >= 0 && s < statusCount && statusTable[s].code != "" {
		return statusTable[s].code
	}
	return "UNK"
}

// Description is the long name ("Layer4 connection problem"), "Unknown"
// for statuses without one.
func (s Status) Description() string {
	if s >= 0 && s < statusCount && statusTable[s].descr != "" {
		return statusTable[s].descr
	}
	return "Unknown"
}

// Outcome is the status's meaning for the server.
func (s Status) Outcome() Outcome {
	if s >= 0 && s < statusCount {
		return statusTable[s].outcome
	}
	return OutcomeUnknown
}

// Passed reports a success, a conditional one included.
func (s Status) Passed() bool {
	o := s.Outcome()
	return o == OutcomePassed || o == OutcomeCondPass
}

// HasCode reports whether logs print ", code: N" after the reason.
func (s Status) HasCode() bool { return s >= StatusL57Data }

// Finished reports whether the status is the result of a finished check
// (show stat prints its duration).
func (s Status) Finished() bool { return s >= StatusChecked }

// DescriptionOf returns the description of a status short name ("L4CON"
// → "Layer4 connection problem"), "" when unknown.
func DescriptionOf(code string) string {
	for _, v := range statusTable {
		if v.code != "" && v.code == code {
			return v.descr
		}
	}
	return ""
}

// Result is one check's outcome: the status, the L7 code (HTTP status,
// MySQL/LDAP error code, status-code expression), the info text (HAProxy's
// check->desc) and the duration.
type Result struct {
	Status   Status
	Code     int
	Info     string
	Duration time.Duration
}
