package proxy

import (
	"errors"
	"io"

	"halo/proxy/http1"
)

// Observation is the outcome of one exchange with a server, what a
// server's `observe layer4|layer7` watches (HAProxy's HANA statuses, fed
// to health_adjust).
type Observation int

// The outcomes, in HAProxy's order.
const (
	ObsL4OK            Observation = iota + 1 // the connection was established
	ObsL4Err                                  // a connection attempt failed
	ObsHTTPOK                                 // a valid response (not 5xx, or 501/505)
	ObsHTTPSts                                // a 5xx response
	ObsHTTPHdrRsp                             // an invalid response head
	ObsHTTPRsp                                // an invalid response
	ObsHTTPReadError                          // a read error before the response
	ObsHTTPReadTimeout                        // no response within timeout server
	ObsHTTPBrokenPipe                         // the server closed before answering
)

// Observer is implemented by pickers whose servers' checks watch the
// traffic (observe, on-error, error-limit).
type Observer interface {
	Observe(s *ServerState, o Observation)
}

// observe reports o for s when s observes its traffic.
func observe(s *ServerState, o Observation) {
	if s == nil || s.Server.Observe == "" {
		return
	}
	if ob, ok := s.Backend.Picker.(Observer); ok {
		ob.Observe(s, o)
	}
}

// statusObservation classifies a response status
// (http_wait_for_response).
func statusObservation(st int) Observation {
	if st >= 100 && (st < 500 || st == 501 || st == 505) {
		return ObsHTTPOK
	}
	return ObsHTTPSts
}

// observeReadError reports a response head that did not come.
func observeReadError(s *ServerState, err error) {
	switch {
	case isTimeout(err):
		observe(s, ObsHTTPReadTimeout)
	case errors.Is(err, errServerGone) || errors.Is(err, io.EOF):
		observe(s, ObsHTTPBrokenPipe)
	case errors.Is(err, http1.ErrBadResponse) || errors.Is(err, http1.ErrTooLarge) ||
		errors.Is(err, http1.ErrTooMany) || errors.Is(err, http1.ErrUnprocessable):
		observe(s, ObsHTTPHdrRsp)
	default:
		observe(s, ObsHTTPReadError)
	}
}
