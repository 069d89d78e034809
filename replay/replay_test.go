package replay_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/replay"
)

func bareContext(t *testing.T) caddy.Context {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	return ctx
}

func value(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func open(t *testing.T, scope string, maxEntries int) (replay.Store, func()) {
	t.Helper()
	st, release, err := replay.Open(bareContext(t), scope, maxEntries)
	if err != nil {
		t.Fatalf("Open(%q, %d): %v", scope, maxEntries, err)
	}
	t.Cleanup(release)
	return st, release
}

// TestOneScopeFillingUpDoesNotAffectAnother: a tenant that fills its own scope gets ErrFull; the
// other scope still takes fresh values and still refuses its replays.
func TestOneScopeFillingUpDoesNotAffectAnother(t *testing.T) {
	ctx := context.Background()
	flooded, _ := open(t, "test/flooded-"+t.Name(), 5)
	other, _ := open(t, "test/other-"+t.Name(), 5)
	until := time.Now().Add(time.Minute)
	if err := other.Claim(ctx, value("other-1"), until); err != nil {
		t.Fatalf("claim in the other scope: %v", err)
	}
	for n := range 5 {
		if err := flooded.Claim(ctx, value(fmt.Sprint("flood-", n)), until); err != nil {
			t.Fatalf("flood claim %d: %v", n, err)
		}
	}
	if err := flooded.Claim(ctx, value("flood-6"), until); !errors.Is(err, replay.ErrFull) {
		t.Fatalf("claim in the full scope: error = %v, want ErrFull", err)
	}
	if err := other.Claim(ctx, value("other-2"), until); err != nil {
		t.Fatalf("claim in the other scope after the flood: %v (one scope must not exhaust another)", err)
	}
	if err := other.Claim(ctx, value("other-1"), until); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("replay in the other scope: error = %v, want ErrReplayed", err)
	}
	// The same value in another scope is another value.
	if err := other.Claim(ctx, value("flood-0"), until); err != nil {
		t.Fatalf("a value of the flooded scope claimed in the other scope: %v", err)
	}
}

// TestMemoryScopeSurvivesReload: a reloaded config opens the scope before the old config releases
// it; values claimed before the reload are still refused after it.
func TestMemoryScopeSurvivesReload(t *testing.T) {
	ctx := context.Background()
	scope := "test/" + t.Name()
	before, releaseBefore := open(t, scope, 0)
	if err := before.Claim(ctx, value("v"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	after, _ := open(t, scope, 0) // the new config
	releaseBefore()               // the old config is cleaned up after the new one started
	releaseBefore()               // releasing twice does nothing
	if err := after.Claim(ctx, value("v"), time.Now().Add(time.Minute)); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("claim after the reload: error = %v, want ErrReplayed", err)
	}
}

// TestMemoryScopeForgottenWhenNoConfigUsesIt: the last release drops the scope's values.
func TestMemoryScopeForgottenWhenNoConfigUsesIt(t *testing.T) {
	ctx := context.Background()
	scope := "test/" + t.Name()
	st, release := open(t, scope, 0)
	if err := st.Claim(ctx, value("v"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	release()
	again, _ := open(t, scope, 0)
	if err := again.Claim(ctx, value("v"), time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("claim in a scope opened anew: %v", err)
	}
}

func TestOpenRefusesBadArguments(t *testing.T) {
	if _, _, err := replay.Open(bareContext(t), "", 0); err == nil {
		t.Error("Open with an empty scope succeeded")
	}
	if _, _, err := replay.Open(bareContext(t), "x", -1); err == nil {
		t.Error("Open with negative max entries succeeded")
	}
}
