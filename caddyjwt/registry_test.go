package caddyjwt

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/caddyserver/certmagic"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/internal/jwttest"
)

// TestRegistrySharedStorage shows two gateway instances on one storage: a key registered on one
// is in the other's memory after its next background reload, and a reload never serves keys
// older than a write made while it ran.
func TestRegistrySharedStorage(t *testing.T) {
	storage := &certmagic.FileStorage{Path: t.TempDir()}
	a, b := new(Registry), new(Registry)
	a.init(storage)
	b.init(storage)
	ctx := context.Background()
	for _, r := range []*Registry{a, b} {
		if err := r.reload(ctx); err != nil {
			t.Fatal(err)
		}
	}
	srcB, err := b.Source("bank-a")
	if err != nil {
		t.Fatal(err)
	}
	s := jwttest.NewEC(t, "ES256")
	body, _ := json.Marshal(s.JWK(t, false))
	rk, err := parseRegistration(body, "", "bank-a")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.update(ctx, "bank-a", func(e []registeredKey) ([]registeredKey, error) { return append(e, rk), nil }); err != nil {
		t.Fatal(err)
	}
	if set, _ := srcB.Keys(); set.Len() != 0 {
		t.Fatal("instance b saw the key before reloading")
	}
	if err := b.reload(ctx); err != nil {
		t.Fatal(err)
	}
	if set, _ := srcB.Keys(); set.Len() != 1 {
		t.Fatalf("instance b has %d keys after reload, want 1", set.Len())
	}
	srcA, _ := a.Source("bank-a")
	if set, _ := srcA.Keys(); set == nil {
		t.Fatal("instance a holds no keys")
	} else if _, ok := set.Lookup(s.KID); !ok {
		t.Fatal("instance a does not hold the key it registered")
	}
}

func TestRegistryUnavailableUntilLoaded(t *testing.T) {
	r := new(Registry)
	r.init(&certmagic.FileStorage{Path: t.TempDir()})
	src, err := r.Source("bank-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Keys(); err == nil {
		t.Fatal("Keys() before the first load succeeded, want unavailable")
	}
	if _, err := r.Source("../etc"); err == nil {
		t.Fatal("a counterparty name with a path was accepted")
	}
}

// listFails is a storage whose listing fails, as a shared storage may while it is unreachable.
type listFails struct{ *certmagic.FileStorage }

func (listFails) List(context.Context, string, bool) ([]string, error) {
	return nil, errors.New("storage unreachable")
}

// While the registered keys could not be loaded, a registration for one counterparty must not make
// the others look loaded with no keys: their tokens stay 503 (keys unavailable), not 401.
func TestRegistryRegistrationBeforeFirstLoadKeepsOthersUnavailable(t *testing.T) {
	r := new(Registry)
	r.init(listFails{&certmagic.FileStorage{Path: t.TempDir()}})
	if err := r.reload(context.Background()); err == nil {
		t.Fatal("reload with a failing storage succeeded")
	}
	s := jwttest.NewEC(t, "ES256")
	body, _ := json.Marshal(s.JWK(t, false))
	rk, err := parseRegistration(body, "", "bank-a")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.update(context.Background(), "bank-a", func(e []registeredKey) ([]registeredKey, error) { return append(e, rk), nil }); err != nil {
		t.Fatal(err)
	}
	other, _ := r.Source("bank-b")
	set, err := other.Keys()
	if _, ok := errors.AsType[*keys.UnavailableError](err); !ok {
		t.Fatalf("bank-b's keys after bank-a registered: %d keys, error %v; want keys unavailable", set.Len(), err)
	}
}
