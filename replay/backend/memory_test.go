package backend_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obgate/obgate/replay/backend"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newClock() *fakeClock { return &fakeClock{now: time.Unix(1_760_000_000, 0)} }

// id makes the n-th distinct value id.
func id(n int) [32]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	return sha256.Sum256(b[:])
}

// TestMemoryRefusesWhenFullInsteadOfForgetting is the replay-flush attack of issue 10: a signer
// fills the store with valid values to push out a captured one. The store must refuse the new
// values (ErrFull) and keep refusing the captured one (ErrReplayed) while it is live.
func TestMemoryRefusesWhenFullInsteadOfForgetting(t *testing.T) {
	clock := newClock()
	m := backend.NewMemory(0, clock.Now) // the default bound, 100 000
	ctx := context.Background()
	captured := id(-1)
	if err := m.Claim(ctx, captured, clock.Now().Add(10*time.Minute)); err != nil {
		t.Fatalf("first claim of the captured value: %v", err)
	}
	for n := range backend.DefaultMaxEntries - 1 {
		if err := m.Claim(ctx, id(n), clock.Now().Add(5*time.Minute)); err != nil {
			t.Fatalf("claim %d of a fresh value below the bound: %v", n, err)
		}
	}
	err := m.Claim(ctx, id(backend.DefaultMaxEntries), clock.Now().Add(5*time.Minute))
	if !errors.Is(err, backend.ErrFull) {
		t.Fatalf("claim beyond the bound: error = %v, want ErrFull", err)
	}
	if got := backend.RetryAfter(err); got != 5*time.Minute {
		t.Errorf("RetryAfter(full) = %v, want 5m (when the oldest live value expires)", got)
	}
	if err := m.Claim(ctx, captured, clock.Now().Add(10*time.Minute)); !errors.Is(err, backend.ErrReplayed) {
		t.Fatalf("the captured value after the flood: error = %v, want ErrReplayed (a live value must never be forgotten)", err)
	}
	// Once the flood's values expire, room comes back; the captured value is still remembered.
	clock.Advance(5 * time.Minute)
	if err := m.Claim(ctx, id(backend.DefaultMaxEntries), clock.Now().Add(time.Minute)); err != nil {
		t.Fatalf("claim after the flood expired: %v", err)
	}
	if err := m.Claim(ctx, captured, clock.Now().Add(5*time.Minute)); !errors.Is(err, backend.ErrReplayed) {
		t.Fatalf("the captured value after the flood expired: error = %v, want ErrReplayed", err)
	}
	if got := m.Len(); got != 2 {
		t.Errorf("Len() = %d after the flood expired, want 2 (expired values reclaimed)", got)
	}
}

func TestMemoryClaims(t *testing.T) {
	clock := newClock()
	ctx := context.Background()
	t.Run("fresh then replayed until expiry, then fresh again", func(t *testing.T) {
		m := backend.NewMemory(10, clock.Now)
		until := clock.Now().Add(time.Minute)
		if err := m.Claim(ctx, id(1), until); err != nil {
			t.Fatalf("first claim: %v", err)
		}
		if err := m.Claim(ctx, id(1), until); !errors.Is(err, backend.ErrReplayed) {
			t.Fatalf("second claim: error = %v, want ErrReplayed", err)
		}
		clock.Advance(time.Minute - time.Nanosecond)
		if err := m.Claim(ctx, id(1), until); !errors.Is(err, backend.ErrReplayed) {
			t.Fatalf("claim just before expiry: error = %v, want ErrReplayed", err)
		}
		clock.Advance(time.Nanosecond)
		if err := m.Claim(ctx, id(1), clock.Now().Add(time.Minute)); err != nil {
			t.Fatalf("claim after expiry: %v", err)
		}
	})
	t.Run("lifetimes out of bounds refused", func(t *testing.T) {
		m := backend.NewMemory(10, clock.Now)
		for name, until := range map[string]time.Time{
			"now":                   clock.Now(),
			"past":                  clock.Now().Add(-time.Hour),
			"beyond MaxLifetime":    clock.Now().Add(backend.MaxLifetime + time.Second),
			"far future":            time.Unix(1<<40, 0),
			"zero time (overflown)": {},
		} {
			if err := m.Claim(ctx, id(2), until); !errors.Is(err, backend.ErrLifetime) {
				t.Errorf("%s: error = %v, want ErrLifetime", name, err)
			}
		}
		if err := m.Claim(ctx, id(2), clock.Now().Add(backend.MaxLifetime)); err != nil {
			t.Errorf("exactly MaxLifetime: %v", err)
		}
	})
	t.Run("a smaller bound keeps what is held", func(t *testing.T) {
		m := backend.NewMemory(3, clock.Now)
		for n := range 3 {
			if err := m.Claim(ctx, id(10+n), clock.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		m.SetMax(1)
		for n := range 3 {
			if err := m.Claim(ctx, id(10+n), clock.Now().Add(time.Minute)); !errors.Is(err, backend.ErrReplayed) {
				t.Errorf("value %d after shrinking: error = %v, want ErrReplayed", n, err)
			}
		}
		if err := m.Claim(ctx, id(20), clock.Now().Add(time.Minute)); !errors.Is(err, backend.ErrFull) {
			t.Errorf("new value after shrinking: error = %v, want ErrFull", err)
		}
	})
}

// TestMemoryOneWinnerUnderConcurrency: of many concurrent claims of one value, exactly one wins.
func TestMemoryOneWinnerUnderConcurrency(t *testing.T) {
	m := backend.NewMemory(0, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 64 {
		wg.Go(func() {
			if m.Claim(context.Background(), id(7), time.Now().Add(time.Minute)) == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent claims of one value succeeded, want exactly 1", wins)
	}
}

// TestEngineDoesNotImportCaddy keeps the stores a library: no store imports Caddy, and the
// store interface (which engines such as caddyjwt/binding import) does not pull in the Redis
// client either.
func TestEngineDoesNotImportCaddy(t *testing.T) {
	for pkg, refused := range map[string][]string{
		".":            {"github.com/caddyserver/", "github.com/redis/"},
		"./redisstore": {"github.com/caddyserver/"},
	} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, prefix := range refused {
				if strings.HasPrefix(dep, prefix) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
