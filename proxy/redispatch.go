package proxy

// HAProxy's stream_choose_redispatch (backend.c), the parts that decide
// when a failed connection goes to another server before the last retry,
// and whether the retry waits the turn-around delay first.

// rrSpread: the backend balances round-robin style (roundrobin, static-rr,
// random: HAProxy's BE_LB_KIND_RR) over more than one usable active server.
func rrSpread(be *Backend) bool {
	switch be.Proxy.Balance.Algo {
	case BalanceRoundRobin, BalanceStaticRR, BalanceRandom:
	default:
		return false
	}
	n := 0
	for _, s := range be.Servers() {
		if !s.Server.Backup && s.Usable() {
			if n++; n > 1 {
				return true
			}
		}
	}
	return false
}

// redispatchEarly: with `option redispatch`, a retry goes to another server
// at once when the server is no longer running, or when the server was not
// chosen by persistence and the backend spreads round-robin style.
func redispatchEarly(be *Backend, s *ServerState, direct bool) bool {
	return !s.Usable() || (!direct && rrSpread(be))
}
