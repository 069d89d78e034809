package dcrhandler

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// defaultReplayEntries bounds the jti replay cache.
const defaultReplayEntries = 100_000

// replayCache remembers the jti of accepted request JWTs until their exp (RFC 7519 §4.1.7), so a
// captured registration request cannot be played again while it is valid. It lives in memory and
// is bounded: when it is full of live entries, new requests are refused (fail closed) rather than
// old entries forgotten early. It is safe for concurrent use.
type replayCache struct {
	max int

	mu   sync.Mutex
	seen map[string]time.Time // key -> expiry
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: make(map[string]time.Time)}
}

// Destruct implements caddy.Destructor; the cache holds nothing to release.
func (c *replayCache) Destruct() error { return nil }

// replayPool shares one replay cache per client store scope (h.store.prefix) across the handlers
// of the process, so that a config reload, which provisions new handlers, does not forget the
// jtis accepted before it.
var replayPool = caddy.NewUsagePool()

// acquireReplayCache returns the replay cache of a client store scope and the function that gives
// it back.
func acquireReplayCache(scope string) (*replayCache, func()) {
	v, _, _ := replayPool.LoadOrNew(scope, func() (caddy.Destructor, error) {
		return newReplayCache(defaultReplayEntries), nil
	})
	var once sync.Once
	return v.(*replayCache), func() { once.Do(func() { _, _ = replayPool.Delete(scope) }) }
}

// replayKey is the cache key of a request's jti: a SHA-256 of the issuer and the jti, so that an
// entry costs the same whatever the length of the request's values.
func replayKey(issuer, jti string) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + jti))
	return string(sum[:])
}

// replayResult is the outcome of remembering one jti.
type replayResult int

const (
	replayFresh replayResult = iota // first time seen; now remembered
	replaySeen                      // seen before and still within its lifetime
	replayFull                      // the cache is full of live entries
)

// remember records key until exp and reports whether it was fresh.
func (c *replayCache) remember(key string, exp, now time.Time) replayResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until, ok := c.seen[key]; ok && now.Before(until) {
		return replaySeen
	}
	if len(c.seen) >= c.max {
		for k, until := range c.seen { // bounded by c.max
			if !now.Before(until) {
				delete(c.seen, k)
			}
		}
		if len(c.seen) >= c.max {
			return replayFull
		}
	}
	c.seen[key] = exp
	return replayFresh
}
