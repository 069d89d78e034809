package signing_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/obgate/obgate/authserver/signing"
	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
)

// The schedule of newManager: rotate every hour, publish lead 1m + 10s + 1m, tokens up to 10m.
const (
	testLead   = time.Minute + 10*time.Second + signing.ClockMargin
	testRotate = time.Hour
	testKeep   = 10*time.Minute + signing.RemovalMargin
)

func TestScheduledRotationPublishesBeforeSigningAndKeepsRetiredKeys(t *testing.T) {
	s, clock := newMemStorage(), newClock()
	m := newManager(t, s, clock, "ES256")
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	first, _ := m.KeyID()

	// Just before the successor is due to be announced, nothing changes.
	clock.Advance(testRotate - testLead - time.Second)
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := published(t, m); len(got) != 1 {
		t.Fatalf("published %v before the announcement time, want only the first key", got)
	}

	// At the announcement time the successor is published, but the first key still signs.
	clock.Advance(time.Second)
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := published(t, m); len(got) != 2 {
		t.Fatalf("published %v, want the first key and its successor", got)
	}
	clock.Advance(testLead - time.Second)
	if kid, _ := m.KeyID(); kid != first {
		t.Fatalf("the successor signs %v after it was published, before the lead %v passed", testLead-time.Second, testLead)
	}
	oldTok, err := m.Mint(t.Context(), "at+jwt", claimsAt(clock.Now()))
	if err != nil {
		t.Fatal(err)
	}

	// After the lead, the successor signs; the first key stays published for its last tokens.
	clock.Advance(time.Second)
	second, _ := m.KeyID()
	if second == first {
		t.Fatal("the successor does not sign after the lead")
	}
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(testKeep - time.Second)
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(published(t, m), first) {
		t.Fatal("the retired key left the set before its last token expired")
	}
	clock.Advance(-testKeep + time.Second + 5*time.Minute) // the old token's last valid moment
	if _, err := verifierFor(t, m, clock).Verify(t.Context(), []byte(oldTok)); err != nil {
		t.Fatalf("a token of the retired key, still valid, does not verify: %v", err)
	}
	clock.Advance(testKeep - 5*time.Minute)
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := published(t, m); slices.Contains(got, first) || len(got) != 1 {
		t.Fatalf("published %v after every token of the retired key expired, want only %s", got, second)
	}
}

func TestAlgorithmChangeRotatesWithALead(t *testing.T) {
	s, clock := newMemStorage(), newClock()
	if err := newManager(t, s, clock, "ES256").Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, s, clock, "EdDSA") // the config now says EdDSA
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if m.Algorithm() != "ES256" || len(published(t, m)) != 2 {
		t.Fatalf("Algorithm() %s with %d keys right after the change, want ES256 signing and EdDSA announced",
			m.Algorithm(), len(published(t, m)))
	}
	clock.Advance(testLead)
	if m.Algorithm() != "EdDSA" {
		t.Fatalf("Algorithm() %s after the lead, want EdDSA", m.Algorithm())
	}
}

func TestTwoInstancesNeverRotateAtOnce(t *testing.T) {
	s, clock := newMemStorage(), newClock()
	ms := make([]*signing.Manager, 4)
	for i := range ms {
		ms[i] = newManager(t, s, clock, "ES256")
	}
	if err := ms[0].Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(testRotate - testLead)
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(func() {
			if err := m.Refresh(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := ms[0].Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := published(t, ms[0])
	if len(want) != 2 {
		t.Fatalf("published %v after concurrent refreshes, want exactly one successor", want)
	}
	for i, m := range ms {
		if got := published(t, m); !slices.Equal(got, want) {
			t.Errorf("instance %d publishes %v, want %v", i, got, want)
		}
	}
	if s.writes() != 2 {
		t.Errorf("storage written %d times, want 2 (first key, one successor)", s.writes())
	}
}

// TestRotationUnderLoadAcrossInstances mints on one instance and verifies on another instance of
// the same storage, with refreshes at their interval, across a forced rotation and a scheduled
// one: not one verification may fail.
func TestRotationUnderLoadAcrossInstances(t *testing.T) {
	s, clock := newMemStorage(), newClock()
	signer := newManager(t, s, clock, "ES256")
	other := newManager(t, s, clock, "ES256") // the verifier's own instance
	if err := signer.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := other.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	v := verifierFor(t, other, clock)
	kids := map[string]bool{}
	var live [][]byte
	step := 10 * time.Second // the refresh interval
	for i := range 2 * int(testRotate/step) {
		if i == 20 {
			if err := signer.Rotate(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			tok, err := signer.Mint(t.Context(), "at+jwt", claimsAt(clock.Now()))
			if err != nil {
				t.Fatal(err)
			}
			live = append(live, []byte(tok))
		}
		// The newest tokens and the oldest live ones (issued up to 5 minutes ago) verify on the
		// other instance.
		live = live[max(0, len(live)-3*int(5*time.Minute/step)):]
		for _, tok := range append(slices.Clone(live[:min(3, len(live))]), live[max(0, len(live)-3):]...) {
			res, err := v.Verify(t.Context(), tok)
			if err != nil {
				t.Fatalf("step %d: a live token failed on the other instance: %v", i, err)
			}
			kids[res.KeyID] = true
		}
		clock.Advance(step)
		// The instances refresh in turn, as their loops would; the verifier's loop runs last.
		if err := signer.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := other.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if len(kids) < 3 {
		t.Errorf("tokens verified with %d keys, want at least 3 (first, forced, scheduled rotation)", len(kids))
	}
}

// TestConcurrentRotationWithRunningLoops runs both instances' refresh loops (in a synctest
// bubble: virtual time) while tokens are minted on one instance and verified on the other, and a
// rotation is forced: zero failed verifications.
func TestConcurrentRotationWithRunningLoops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemStorage()
		opts := signing.Options{Name: "main", RotateEvery: 10 * time.Minute, JWKSMaxAge: 20 * time.Second,
			RefreshInterval: 5 * time.Second, MaxTokenLifetime: time.Hour}
		signer, err := signing.NewManager(s, opts)
		if err != nil {
			t.Fatal(err)
		}
		other, _ := signing.NewManager(s, opts)
		if err := signer.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := other.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { signer.Run(ctx) })
		wg.Go(func() { other.Run(ctx) })
		v, err := verify.New(verify.Policy{
			Issuers:  []verify.Issuer{{Name: testIssuer, Sources: []keys.Source{other}}},
			Audience: []string{"api"},
		})
		if err != nil {
			t.Fatal(err)
		}
		kids := map[string]bool{}
		for n := range 2000 { // 2000 tokens, one per second of virtual time: a forced and a scheduled rotation
			tok, err := signer.Mint(t.Context(), "at+jwt", map[string]any{
				"iss": testIssuer, "aud": "api", "exp": time.Now().Add(time.Minute).Unix(),
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(t.Context(), []byte(tok))
			if err != nil {
				t.Fatalf("token %d failed on the other instance: %v", n, err)
			}
			kids[res.KeyID] = true
			if n == 100 {
				if err := signer.Rotate(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(time.Second)
		}
		cancel()
		wg.Wait()
		if len(kids) < 3 {
			t.Fatalf("tokens signed by %d keys, want at least 3 (first, forced, scheduled)", len(kids))
		}
	})
}

// TestUnknownKidReloadsTheStorage: an instance that has not refreshed since another one rotated
// still verifies a token of the new key, by reading the storage again on the unknown kid; a kid
// that is in no stored set is still unknown.
func TestUnknownKidReloadsTheStorage(t *testing.T) {
	s, clock := newMemStorage(), newClock()
	signer, stale := newManager(t, s, clock, "ES256"), newManager(t, s, clock, "ES256")
	if err := signer.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := stale.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := signer.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(testLead)
	tok, err := signer.Mint(t.Context(), "at+jwt", claimsAt(clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if len(published(t, stale)) != 1 {
		t.Fatal("the stale instance already holds the new key")
	}
	res, err := verifierFor(t, stale, clock).Verify(t.Context(), []byte(tok))
	if err != nil {
		t.Fatalf("a token of the rotated key failed on the instance that had not refreshed: %v", err)
	}
	if kid, _ := signer.KeyID(); res.KeyID != kid {
		t.Errorf("verified with %s, want the new key %s", res.KeyID, kid)
	}
	other := newManager(t, newMemStorage(), clock, "ES256") // a key set nobody here shares
	if err := other.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.Mint(t.Context(), "at+jwt", claimsAt(clock.Now()))
	if _, err := verifierFor(t, stale, clock).Verify(t.Context(), []byte(foreign)); verify.ReasonOf(err) != verify.ReasonUnknownKey {
		t.Fatalf("a token of a foreign key: %v, want unknown kid", err)
	}
}

// TestStaleInstanceStopsSigning: an instance that has not read the storage for longer than the
// publish lead may have missed a rotation, so it refuses to sign until a read succeeds again.
func TestStaleInstanceStopsSigning(t *testing.T) {
	s, clock := newMemStorage(), newClock()
	m := newManager(t, s, clock, "ES256")
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(testLead)
	if _, err := m.Mint(t.Context(), "at+jwt", claimsAt(clock.Now())); err != nil {
		t.Fatalf("Mint within the lead of the last read: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := m.Mint(t.Context(), "at+jwt", claimsAt(clock.Now())); !errors.Is(err, signing.ErrStale) {
		t.Fatalf("Mint past the lead of the last read: %v, want ErrStale", err)
	}
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Mint(t.Context(), "at+jwt", claimsAt(clock.Now())); err != nil {
		t.Fatalf("Mint after a fresh read: %v", err)
	}
}
