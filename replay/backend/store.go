// Package backend holds obgate's single-use stores, without Caddy: an in-process Memory store and
// and, in package redisstore, a Redis store shared by every gateway instance that uses the same
// Redis.
//
// A store claims values: the first Claim of a value within its lifetime succeeds, every later
// Claim of it before that lifetime ends fails with ErrReplayed. The invariant every store keeps is
// that it never forgets a live value: when a store cannot remember one more value (Memory full of
// live values) or cannot tell (Redis down or slow), Claim fails (ErrFull, ErrUnavailable) and the
// caller refuses the request. Nothing here lets a possible replay through.
//
// Values are identified by a 32-byte hash the caller computes (SHA-256 of what the value is), so
// an entry costs the same whatever the size of the value, and nothing the client sent is stored.
package backend

import (
	"context"
	"errors"
	"time"
)

// Store claims single-use values. id is already a hash of the value (callers hash with SHA-256);
// until is when the value stops being acceptable, by the store's clock.
//
// Claim returns nil when the value was not claimed before and is now remembered until until;
// ErrReplayed when it was claimed before and is still live; ErrFull when a bounded store has no
// room for another live value; ErrUnavailable when the store cannot answer; ErrLifetime when until
// is not within (now, now+MaxLifetime]. Every error means: refuse the request.
type Store interface {
	Claim(ctx context.Context, id [32]byte, until time.Time) error
}

// The errors of Claim. Test them with errors.Is: stores wrap them with their cause.
var (
	// ErrReplayed means the value was already claimed and is still live.
	ErrReplayed = errors.New("the value was already used")

	// ErrFull means a bounded store has no room for another live value. It fails closed: the
	// caller answers 503 (or 429) with Retry-After; RetryAfter says when room is expected.
	ErrFull = errors.New("the single-use store is full of live values")

	// ErrUnavailable means the store cannot answer (Redis down, slow or refusing): 503 with
	// Retry-After.
	ErrUnavailable = errors.New("the single-use store is unavailable")

	// ErrLifetime means until is not in the future, or further ahead than MaxLifetime: the store
	// would have to remember the value longer than it keeps anything. Callers reject such
	// lifetimes before they claim (a value that lives too long is refused, never forgotten early).
	ErrLifetime = errors.New("the value's lifetime is out of bounds for the single-use store")
)

// MaxLifetime is the longest a store remembers a value. A value whose lifetime reaches further is
// refused (ErrLifetime), never clamped: clamping would forget a value that is still live. Callers
// bound the lifetimes they accept (request exp, signature exp) below it.
const MaxLifetime = 24 * time.Hour

// DefaultMaxEntries bounds a Memory store when no size is given.
const DefaultMaxEntries = 100_000

// defaultRetryAfter is the delay suggested for ErrUnavailable, and for errors that say nothing.
const defaultRetryAfter = time.Second

// RetryAfter is the delay to suggest to a client whose request failed with err: for ErrFull, the
// time until the oldest live value of the full store expires (at least one second); otherwise one
// second.
func RetryAfter(err error) time.Duration {
	if fe, ok := errors.AsType[*fullError](err); ok && fe.retry > defaultRetryAfter {
		return fe.retry
	}
	return defaultRetryAfter
}

// Lifetime is the time from now until until, or ErrLifetime when that is not within
// (0, MaxLifetime].
func Lifetime(now, until time.Time) (time.Duration, error) {
	ttl := until.Sub(now)
	if ttl <= 0 || ttl > MaxLifetime {
		return 0, ErrLifetime
	}
	return ttl, nil
}

// fullError is ErrFull with the time until room is expected.
type fullError struct{ retry time.Duration }

func (e *fullError) Error() string        { return ErrFull.Error() }
func (e *fullError) Is(target error) bool { return target == ErrFull }
