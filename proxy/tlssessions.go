package proxy

import (
	"crypto/rand"
	"crypto/tls"
	"sync"
	"time"
)

// sessionCache keeps TLS sessions on the server side for binds with
// no-tls-tickets. HAProxy then resumes through OpenSSL's session cache
// (session IDs in TLS 1.2, stateful tickets in TLS 1.3; tune.ssl.cachesize
// entries, tune.ssl.lifetime). crypto/tls has no session IDs, so the client
// receives a ticket that is only the entry's name: the state stays here
// as HAProxy's does, and a client that cannot resume gets a full
// handshake as with HAProxy.
type sessionCache struct {
	mu       sync.Mutex
	entries  map[[16]byte]cachedSession
	order    [][16]byte // insertion order, for eviction when full
	size     int
	lifetime time.Duration
}

type cachedSession struct {
	state   []byte
	expires time.Time
}

// HAProxy's defaults for tune.ssl.cachesize and tune.ssl.lifetime.
const (
	defaultSSLCacheSize = 20000
	defaultSSLLifetime  = 300 * time.Second
)

func newSessionCache(size int, lifetime time.Duration) *sessionCache {
	if size <= 0 {
		size = defaultSSLCacheSize
	}
	if lifetime <= 0 {
		lifetime = defaultSSLLifetime
	}
	return &sessionCache{entries: map[[16]byte]cachedSession{}, size: size, lifetime: lifetime}
}

// wrap stores a session and names it (tls.Config.WrapSession).
func (c *sessionCache) wrap(_ tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	state, err := ss.Bytes()
	if err != nil {
		return nil, err
	}
	var id [16]byte
	rand.Read(id[:])
	now := time.Now()
	c.mu.Lock()
	for len(c.order) > 0 && (len(c.entries) >= c.size || !c.entries[c.order[0]].expires.After(now)) {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
	c.entries[id] = cachedSession{state: state, expires: now.Add(c.lifetime)}
	c.order = append(c.order, id)
	c.mu.Unlock()
	return id[:], nil
}

// unwrap finds a named session (tls.Config.UnwrapSession); an unknown or
// expired name means a full handshake.
func (c *sessionCache) unwrap(name []byte, _ tls.ConnectionState) (*tls.SessionState, error) {
	if len(name) != 16 {
		return nil, nil
	}
	c.mu.Lock()
	e, ok := c.entries[[16]byte(name)]
	c.mu.Unlock()
	if !ok || !e.expires.After(time.Now()) {
		return nil, nil
	}
	ss, err := tls.ParseSessionState(e.state)
	if err != nil {
		return nil, nil
	}
	return ss, nil
}

// newTicketKey is a bind's session ticket key when tls-ticket-keys gives
// none: one per bind, so that every certificate of the bind (and the
// configurations rebuilt by "commit ssl cert") accept its tickets, as
// with OpenSSL's key per bind context.
func newTicketKey() [][32]byte {
	var k [32]byte
	rand.Read(k[:])
	return [][32]byte{k}
}
