package authserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/obgate/obgate/authserver/signing"
)

// flakyStorage is a storage in memory that can be switched to fail every call.
type flakyStorage struct {
	mu   sync.Mutex
	data map[string][]byte
	fail bool
}

var errDown = errors.New("storage down")

func (s *flakyStorage) Load(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return nil, errDown
	}
	v, ok := s.data[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	return v, nil
}

func (s *flakyStorage) Store(_ context.Context, key string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errDown
	}
	s.data[key] = v
	return nil
}

func (s *flakyStorage) Lock(context.Context, string) error   { return nil }
func (s *flakyStorage) Unlock(context.Context, string) error { return nil }

// TestStartWithStorageDown: keys read at provision keep a start going when the storage fails at
// start; without any keys, start fails.
func TestStartWithStorageDown(t *testing.T) {
	s := &flakyStorage{data: map[string][]byte{}}
	first, err := signing.NewManager(s, signing.Options{Name: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}

	loaded, _ := signing.NewManager(s, signing.Options{Name: "main"})
	if err := loaded.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.fail = true
	r := newRunner(loaded, zap.NewNop())
	if err := r.start(); err != nil {
		t.Fatalf("start with keys read at provision and the storage down: %v", err)
	}
	if err := r.Destruct(); err != nil {
		t.Fatal(err)
	}

	empty, _ := signing.NewManager(s, signing.Options{Name: "main"})
	if err := newRunner(empty, zap.NewNop()).start(); !errors.Is(err, errDown) {
		t.Fatalf("start without keys and the storage down: %v, want the storage error", err)
	}
}
