package balance

import (
	"errors"
	"fmt"
	"slices"
)

// Errors of AddServer and DelServer.
var (
	ErrNotDynamic = errors.New("the backend's algorithm is not dynamic")
	ErrServerBusy = errors.New("the server still has connections or a queue")
)

// AddServer adds a server at run time (`add server`), in forced
// maintenance: `enable server` puts it in the algorithm's trees as any
// server leaving maintenance. Only the algorithms whose weights may
// change at run time take new servers, as in HAProxy (BE_LB_PROP_DYN).
// idx is the server's Index (the caller's slot). The server list is replaced, not appended to: Servers' callers read it
// without the lock.
func (b *Backend) AddServer(idx int, c ServerConfig) (*Server, error) {
	if c.Weight < 0 || c.Weight > 256 {
		return nil, fmt.Errorf("weight %d out of range 0..256", c.Weight)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.cfg.dynamic() {
		return nil, ErrNotDynamic
	}
	if _, ok := b.byName[c.Name]; ok {
		return nil, fmt.Errorf("server %s already exists", c.Name)
	}
	s := newServer(b, idx, c)
	if c.ID == 0 {
		// the next free ID: consistent hashing places nodes by it
		id := 1
		for _, x := range b.servers {
			id = max(id, x.ID+1)
		}
		s.ID = id
	}
	s.curAdmin, s.nextAdmin = AdminForcedMaint, AdminForcedMaint
	s.lastChange = b.now()
	s.nextEwght = b.weightOf(s, s.lastChange)
	s.commit()
	list := append(slices.Clip(b.servers), s)
	b.servers = list
	b.byName[s.Name] = s
	return s, nil
}

// DelServer removes s (`del server`): it must be out of the trees (in
// maintenance, checked by the caller) with nothing served or queued.
func (b *Backend) DelServer(s *Server) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.served > 0 || len(s.queue) > 0 {
		return ErrServerBusy
	}
	if s.curUsable() || s.willUsable() {
		b.lb.down(s)
	}
	b.servers = slices.DeleteFunc(slices.Clone(b.servers), func(x *Server) bool { return x == s })
	delete(b.byName, s.Name)
	b.recount()
	return nil
}
