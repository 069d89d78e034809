package signing_test

import (
	"context"
	"fmt"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/obgate/obgate/authserver/signing"
	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
)

// memStorage is a Storage in memory whose locks exclude across managers, like a shared storage
// does across instances. It counts writes.
type memStorage struct {
	mu     sync.Mutex
	data   map[string][]byte
	locks  map[string]chan struct{}
	stores int
}

func newMemStorage() *memStorage {
	return &memStorage{data: map[string][]byte{}, locks: map[string]chan struct{}{}}
}

func (s *memStorage) Load(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	return append([]byte(nil), v...), nil
}

func (s *memStorage) Store(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = append([]byte(nil), value...)
	s.stores++
	return nil
}

func (s *memStorage) Lock(ctx context.Context, name string) error {
	for {
		s.mu.Lock()
		ch, held := s.locks[name]
		if !held {
			s.locks[name] = make(chan struct{})
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *memStorage) Unlock(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, held := s.locks[name]
	if !held {
		return fmt.Errorf("lock %s not held", name)
	}
	delete(s.locks, name)
	close(ch)
	return nil
}

func (s *memStorage) writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stores
}

// fakeClock is a settable clock shared by managers and verifiers.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const testIssuer = "https://as.example"

// newManager makes a manager on s with small, test-sized durations.
func newManager(t testing.TB, s signing.Storage, clock *fakeClock, alg string) *signing.Manager {
	t.Helper()
	m, err := signing.NewManager(s, signing.Options{
		Name:             "main",
		Algorithm:        alg,
		RotateEvery:      time.Hour,
		JWKSMaxAge:       time.Minute,
		RefreshInterval:  10 * time.Second,
		MaxTokenLifetime: 10 * time.Minute,
		Clock:            clock.Now,
	})
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	return m
}

// verifierFor verifies tokens of testIssuer with src's keys, at clock's time.
func verifierFor(t testing.TB, src keys.Source, clock *fakeClock) *verify.Verifier {
	t.Helper()
	v, err := verify.New(verify.Policy{
		Issuers:  []verify.Issuer{{Name: testIssuer, Sources: []keys.Source{src}}},
		Audience: []string{"api"},
		Clock:    clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// claimsAt are the claims of a token issued at now for 5 minutes.
func claimsAt(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer, "aud": "api", "sub": "client-1",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
}
