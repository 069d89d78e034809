package keys

import (
	"context"
	"fmt"
	"time"
)

// Source provides the current keys of one issuer or key location.
//
// Keys must not do network or disk I/O: it is called on every request. A source that has no
// usable keys (never fetched yet, or stale beyond its bound) returns an *UnavailableError.
type Source interface {
	// Keys returns the current key set, or an *UnavailableError when there is none to use.
	Keys() (*Set, error)
}

// MissHandler is implemented by sources that can look again when a token names a kid they do not
// hold, such as a JWKS cache after a key rotation. KeysAfterMiss may trigger a rate-limited,
// de-duplicated refresh; it returns the key set to retry with (possibly the same one) and must
// return by the time ctx is done.
type MissHandler interface {
	// KeysAfterMiss returns the key set to retry with after a token named the kid
	// unverifiedKID, which the current set does not hold.
	KeysAfterMiss(ctx context.Context, unverifiedKID string) (*Set, error)
}

// UnavailableError reports that a source has no keys it may use right now. A new token cannot
// help the client; retrying after RetryAfter may.
type UnavailableError struct {
	// Origin is the key location, such as a JWKS URL.
	Origin string

	// RetryAfter is when a retry may succeed; at least one second.
	RetryAfter time.Duration

	// Err is why, such as the last fetch error.
	Err error
}

// Error names the key location and the cause.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("keys from %s unavailable: %v", e.Origin, e.Err)
}

// Unwrap returns the cause, Err.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Static is a Source whose keys never change, such as keys loaded from files at provision time.
type Static struct {
	set *Set
}

// NewStatic returns a Source that always returns the given keys.
func NewStatic(ks ...Key) *Static {
	return &Static{set: NewSet(ks...)}
}

// Keys returns the static key set; it never fails.
func (s *Static) Keys() (*Set, error) {
	return s.set, nil
}
