package verify_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
)

// swappableSource is a key source whose keys a test replaces, as a JWKS refresh or a registry
// deletion would; unavailable makes it answer like a JWKS cache past its staleness bound.
type swappableSource struct {
	set         atomic.Pointer[keys.Set]
	unavailable atomic.Bool
}

func (s *swappableSource) Keys() (*keys.Set, error) {
	if s.unavailable.Load() {
		return nil, &keys.UnavailableError{Origin: "test", RetryAfter: time.Second, Err: errors.New("down")}
	}
	return s.set.Load(), nil
}

// cachedVerifier trusts issuer A with the swappable source and a clock the test moves.
func cachedVerifier(t *testing.T, src *swappableSource, clock *atomic.Pointer[time.Time]) *verify.Verifier {
	t.Helper()
	v, err := verify.New(verify.Policy{
		Issuers:   []verify.Issuer{{Name: issA, Sources: []keys.Source{src}}},
		Audience:  []string{audience},
		Clock:     func() time.Time { return *clock.Load() },
		CacheSize: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifiedCache(t *testing.T) {
	f := keyFixture(t)
	ctx := context.Background()
	setup := func(t *testing.T) (*verify.Verifier, *swappableSource, *atomic.Pointer[time.Time], []byte) {
		src := new(swappableSource)
		src.set.Store(keys.NewSet(f.keyEC, f.keyA))
		clock := new(atomic.Pointer[time.Time])
		start := now
		clock.Store(&start)
		v := cachedVerifier(t, src, clock)
		tok := []byte(f.ecA.Token(t, claimsFor(issA), nil))
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("first Verify() error = %v", err)
		}
		return v, src, clock, tok
	}
	advance := func(clock *atomic.Pointer[time.Time], d time.Duration) {
		later := clock.Load().Add(d)
		clock.Store(&later)
	}

	t.Run("a token presented again verifies with the same result", func(t *testing.T) {
		v, _, _, tok := setup(t)
		res, err := v.Verify(ctx, tok)
		if err != nil || res.Issuer != issA || res.KeyID != f.keyEC.ID || res.Algorithm != "ES256" || res.Claims["sub"] != "alice" {
			t.Fatalf("second Verify() = %+v, %v; want issuer A, kid %s, ES256, sub alice", res, err, f.keyEC.ID)
		}
	})
	t.Run("a remembered token still expires", func(t *testing.T) {
		v, _, clock, tok := setup(t)
		advance(clock, 2*time.Hour)
		if _, err := v.Verify(ctx, tok); verify.ReasonOf(err) != verify.ReasonExpired {
			t.Fatalf("Verify() after exp: error = %v, want %v", err, verify.ReasonExpired)
		}
	})
	t.Run("a remembered token is rejected once its key is gone", func(t *testing.T) {
		v, src, _, tok := setup(t)
		src.set.Store(keys.NewSet(f.keyA)) // the EC key was rotated out
		if _, err := v.Verify(ctx, tok); verify.ReasonOf(err) != verify.ReasonUnknownKey {
			t.Fatalf("Verify() after the key was removed: error = %v, want %v", err, verify.ReasonUnknownKey)
		}
	})
	t.Run("a remembered token gets 503 while the keys are unavailable", func(t *testing.T) {
		v, src, _, tok := setup(t)
		src.unavailable.Store(true)
		if _, err := v.Verify(ctx, tok); verify.ReasonOf(err) != verify.ReasonKeysUnavailable {
			t.Fatalf("Verify() with keys unavailable: error = %v, want %v", err, verify.ReasonKeysUnavailable)
		}
	})
	t.Run("a key replaced under the same kid is not trusted from memory", func(t *testing.T) {
		v, src, _, tok := setup(t)
		impostor := keyOf(t, f.attackerEC)
		impostor.ID = f.keyEC.ID
		src.set.Store(keys.NewSet(impostor, f.keyA))
		if _, err := v.Verify(ctx, tok); verify.ReasonOf(err) != verify.ReasonBadSignature {
			t.Fatalf("Verify() with another key under the kid: error = %v, want %v", err, verify.ReasonBadSignature)
		}
	})
	t.Run("a changed token is not a hit", func(t *testing.T) {
		v, _, _, tok := setup(t)
		tampered := append([]byte(nil), tok...)
		tampered[len(tampered)-2] ^= 1
		if _, err := v.Verify(ctx, tampered); verify.ReasonOf(err) == 0 || err == nil {
			t.Fatalf("Verify() of a tampered token: error = %v, want a rejection", err)
		}
	})
	t.Run("remembering ends after CacheTTL and the token verifies again from scratch", func(t *testing.T) {
		v, src, clock, tok := setup(t)
		advance(clock, verify.CacheTTL+time.Second)
		src.set.Store(keys.NewSet(f.keyA)) // proves the full path ran: the key is gone
		if _, err := v.Verify(ctx, tok); verify.ReasonOf(err) != verify.ReasonUnknownKey {
			t.Fatalf("Verify() after CacheTTL: error = %v, want %v", err, verify.ReasonUnknownKey)
		}
	})
}

func TestNewRejectsNegativeCacheSize(t *testing.T) {
	f := keyFixture(t)
	p := basePolicy(f)
	p.CacheSize = -1
	if _, err := verify.New(p); err == nil {
		t.Fatal("verify.New() with a negative cache size succeeded, want an error")
	}
}
