package proxy

import "sync/atomic"

// RoundRobin is the engine's built-in picker: weighted round robin over the
// usable active servers, or the usable backup servers (first one, or all
// with `option allbackups`) when no active server is usable. proxy/balance
// replaces it with HAProxy's full algorithms; this one keeps the engine
// usable on its own. It does not queue: a full server is skipped.
type RoundRobin struct {
	b    *Backend
	next atomic.Uint64
}

var _ Picker = (*RoundRobin)(nil)

// NewRoundRobin returns the built-in picker for b.
func NewRoundRobin(b *Backend) *RoundRobin { return &RoundRobin{b: b} }

// Pick implements Picker.
func (r *RoundRobin) Pick(k *PickKey) (*ServerState, error) {
	if s := r.pick(k, false); s != nil {
		return s, nil
	}
	if s := r.pick(k, true); s != nil {
		return s, nil
	}
	return nil, ErrNoServer
}

func (r *RoundRobin) pick(k *PickKey, backup bool) *ServerState {
	srv := r.b.Servers()
	total := 0
	for _, s := range srv {
		if s.Server.Backup == backup && r.ok(s, k) {
			total += s.Weight()
		}
	}
	if total == 0 {
		// Every usable server excluded (redispatch with one server): allow
		// the excluded one rather than fail.
		if k.Exclude != nil && k.Exclude.Server.Backup == backup && k.Exclude.Usable() && k.Exclude.Weight() > 0 {
			k.Exclude.Counters.CurConns.Add(1)
			return k.Exclude
		}
		return nil
	}
	if backup && !r.b.Proxy.AllBackups {
		for _, s := range srv {
			if s.Server.Backup && r.ok(s, k) {
				s.Counters.CurConns.Add(1)
				return s
			}
		}
	}
	n := int(r.next.Add(1)-1) % total
	for _, s := range srv {
		if s.Server.Backup != backup || !r.ok(s, k) {
			continue
		}
		if n -= s.Weight(); n < 0 {
			s.Counters.CurConns.Add(1)
			return s
		}
	}
	return nil
}

func (r *RoundRobin) ok(s *ServerState, k *PickKey) bool {
	if !s.Usable() || s.Weight() <= 0 || s == k.Exclude {
		return false
	}
	if mc := s.Server.Maxconn; mc > 0 && s.Counters.CurConns.Load() >= int64(mc) {
		return false
	}
	return true
}

// Take implements Picker: the built-in picker does not queue, a server
// chosen by persistence is only counted.
func (r *RoundRobin) Take(s *ServerState, k *PickKey) (*ServerState, error) {
	s.Counters.CurConns.Add(1)
	return s, nil
}

// Release implements Picker.
func (r *RoundRobin) Release(s *ServerState) { s.Counters.CurConns.Add(-1) }
