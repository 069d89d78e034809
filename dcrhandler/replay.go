package dcrhandler

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/caddyserver/caddy/v2"

	replaystore "github.com/obgate/obgate/replay"
)

// replayCache is the handler's scope of the configured single-use store (the replay_store global
// option: memory by default, Redis for a cluster). It remembers the jti of accepted request JWTs
// until their exp (RFC 7519 §4.1.7), so a captured registration request cannot be played again
// while it is valid, on this instance or, with Redis, on any other.
type replayCache struct {
	store replaystore.Store
}

// acquireReplayCache opens the store scope of a client store scope (h.store.prefix, so handlers
// that share registrations share their jtis), bounded to maxEntries live jtis in memory (0: the
// default, 100000), and returns the function that gives it back. The memory scope survives config
// reloads.
func acquireReplayCache(ctx caddy.Context, scope string, maxEntries int) (*replayCache, func(), error) {
	if maxEntries < 0 {
		return nil, nil, errors.New("replay_max_entries: must not be negative")
	}
	st, release, err := replaystore.Open(ctx, "dcr/"+scope, maxEntries)
	if err != nil {
		return nil, nil, err
	}
	return &replayCache{store: st}, release, nil
}

// replayKey is the store id of a request's jti: a SHA-256 of the issuer and the jti, so that an
// entry costs the same whatever the length of the request's values.
func replayKey(issuer, jti string) [32]byte {
	return sha256.Sum256([]byte(issuer + "\x00" + jti))
}

// claimJTI records the request JWT's jti until its exp (plus leeway). exp has been verified to be
// a number in the future; a lifetime the store cannot hold (more than replay.MaxLifetime ahead,
// such as 1e19, which would wrap to the past as an int64) is refused: a request that could be
// replayed once the store forgot it must not register.
func (h *Handler) claimJTI(ctx context.Context, issuer, jti string, exp any) error {
	now := h.clock()
	remaining, ok := remainingLifetime(exp, now)
	if !ok {
		return badMetadata("exp: must be a NumericDate in the future")
	}
	remaining += h.leeway()
	if remaining > replaystore.MaxLifetime {
		return badMetadata(fmt.Sprintf("exp: at most %v ahead (a request JWT is used once, within its lifetime)", replaystore.MaxLifetime))
	}
	// The store keeps its own clock: what it is given is the remaining lifetime by ours.
	err := h.replay.store.Claim(ctx, replayKey(issuer, jti), time.Now().Add(remaining))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, replaystore.ErrReplayed):
		return badMetadata("jti: this request JWT was already used")
	case errors.Is(err, replaystore.ErrLifetime):
		return badMetadata("exp: must be a NumericDate in the future")
	case errors.Is(err, replaystore.ErrFull):
		return unavailable("too many registrations in flight", replaystore.RetryAfter(err), err)
	}
	// Unavailable, or an error we do not know: the store cannot tell, so the request is refused.
	return unavailable("replay protection is temporarily unavailable", replaystore.RetryAfter(err), err)
}

// remainingLifetime is exp (a JSON number of seconds since the epoch) minus now, computed without
// overflow: a value beyond what a time.Duration holds is reported as the largest one. ok is false
// when exp is not a finite number or not after now.
func remainingLifetime(exp any, now time.Time) (time.Duration, bool) {
	f, ok := jsonFloat(exp)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	secs := f - float64(now.UnixNano())/1e9
	if secs <= 0 {
		return 0, false
	}
	if secs >= float64(math.MaxInt64)/float64(time.Second) {
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(secs * float64(time.Second)), true
}
