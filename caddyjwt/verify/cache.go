package verify

import (
	"crypto/sha256"
	"sync"
	"time"
)

// CacheTTL bounds how long a verified token is remembered, whatever its exp says.
const CacheTTL = 5 * time.Minute

// verifiedCache remembers tokens whose signature verified, keyed by the SHA-256 of the whole
// token, so that a client presenting the same token again costs a hash and map lookups instead
// of a signature check (about 70 µs for ES256). Only the signature check is skipped: on every
// hit the key that verified must still be held by the issuer's sources (a key dropped by a JWKS
// refresh or deleted from the registry ends the entry) and the claims are checked again at the
// current time. Tokens that fail are never remembered, so the cache holds only what valid
// tokens put there; it is bounded by size and by CacheTTL.
type verifiedCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]*verifiedEntry
	max     int
}

// verifiedEntry is what a verified token said, and which key verified it.
type verifiedEntry struct {
	issuer     *issuer
	keyID      string
	thumbprint string
	alg        string
	claims     map[string]any // shared by every Result served from this entry: read-only
	until      time.Time
}

func newVerifiedCache(size int) *verifiedCache {
	return &verifiedCache{entries: make(map[[sha256.Size]byte]*verifiedEntry, size), max: size}
}

// get returns the live entry for sum, dropping it when it has outlived CacheTTL.
func (c *verifiedCache) get(sum [sha256.Size]byte, now time.Time) *verifiedEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[sum]
	if e != nil && now.After(e.until) {
		delete(c.entries, sum)
		return nil
	}
	return e
}

// put remembers a verified token, evicting an arbitrary entry when full (Go's map order is
// random, so no client can aim the eviction).
func (c *verifiedCache) put(sum [sha256.Size]byte, e *verifiedEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[sum]; !ok && len(c.entries) >= c.max {
		for victim := range c.entries {
			delete(c.entries, victim)
			break
		}
	}
	c.entries[sum] = e
}

// drop forgets a token.
func (c *verifiedCache) drop(sum [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, sum)
}

// len is the number of remembered tokens.
func (c *verifiedCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// keyStillHeld reports whether one of the issuer's sources still holds the key that verified the
// token. A source that cannot answer right now does not count: the token then takes the full
// path, which gives the same answer as an uncached verification would (503 or another key).
func (e *verifiedEntry) keyStillHeld() bool {
	for _, src := range e.issuer.sources {
		set, err := src.Keys()
		if err != nil {
			continue
		}
		if k, ok := set.Lookup(e.keyID); ok && k.Thumbprint == e.thumbprint && k.Allows(e.alg) {
			return true
		}
	}
	return false
}
