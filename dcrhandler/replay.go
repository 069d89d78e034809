package dcrhandler

import (
	"sync"
	"time"
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
