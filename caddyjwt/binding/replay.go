package binding

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/replay/backend"
)

// ReplayStore claims single-use values: the first claim of id before until succeeds, a later one
// fails with backend.ErrReplayed; any other error means the store cannot tell, and the request is
// refused. It is the one method of replay.Store (and of the stores in replay/backend), so the
// binding engine takes the gateway's configured store without depending on Caddy.
type ReplayStore interface {
	Claim(ctx context.Context, id [sha256.Size]byte, until time.Time) error
}

// claim records a verified signed request in the replay store. A signature seen before within its
// lifetime is ReasonReplayed; a lifetime the store cannot hold is ReasonLifetimeTooLong (a
// signature valid for longer than the store remembers anything could otherwise be replayed after
// the store forgets it); a store that cannot tell (full of live values, unreachable) is
// ReasonReplayUnavailable, a 503: never a pass.
func (b *Binder) claim(ctx context.Context, id [sha256.Size]byte, expires time.Time) error {
	now := b.clock()
	until := expires
	if until.IsZero() {
		until = now.Add(b.window)
	}
	if until.Sub(now) > backend.MaxLifetime {
		return verify.Reject(verify.ReasonLifetimeTooLong, nil)
	}
	err := b.replay.Claim(ctx, id, until)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, backend.ErrReplayed):
		return verify.Reject(verify.ReasonReplayed, nil)
	case errors.Is(err, backend.ErrLifetime):
		if !now.Before(until) {
			return verify.Reject(verify.ReasonExpired, err)
		}
		return verify.Reject(verify.ReasonLifetimeTooLong, err)
	}
	// Full, unavailable or an error the engine does not know: the store cannot tell whether the
	// request is a replay, so it is refused (503 with Retry-After).
	return verify.Reject(verify.ReasonReplayUnavailable, storeError{err})
}

// storeError carries a store failure and the delay the store suggests before a retry.
type storeError struct{ err error }

func (e storeError) Error() string             { return "replay store: " + e.err.Error() }
func (e storeError) Unwrap() error             { return e.err }
func (e storeError) RetryAfter() time.Duration { return backend.RetryAfter(e.err) }
