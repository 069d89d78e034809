package signing

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// Storage is the part of a key-value store the manager needs; Caddy's storage (certmagic.Storage)
// has these methods. Load must report a missing key with an error that wraps fs.ErrNotExist.
// Lock must exclude every other holder of the same name on the same storage, across processes.
type Storage interface {
	// Load returns the value stored under key.
	Load(ctx context.Context, key string) ([]byte, error)
	// Store writes value under key, atomically.
	Store(ctx context.Context, key string, value []byte) error
	// Lock takes the named lock, waiting while another holder has it.
	Lock(ctx context.Context, name string) error
	// Unlock releases the named lock.
	Unlock(ctx context.Context, name string) error
}

// storagePrefix is where key sets live in the storage: one document per signer name.
const storagePrefix = "obgate/jwt_signer/"

// StorageKey is the storage key of the named signer's key set.
func StorageKey(name string) string { return storagePrefix + name + ".json" }

// lockName is the storage lock taken for every change of the named signer's key set.
func lockName(name string) string { return storagePrefix + name }

// storedSet is the key set as stored. It holds private keys: the storage must be protected like
// the one holding TLS private keys (it is the same one in Caddy).
type storedSet struct {
	Version int         `json:"version"`
	Keys    []storedKey `json:"keys"`
}

type storedKey struct {
	KeyID      string    `json:"kid"`
	Algorithm  string    `json:"alg"`
	PKCS8      []byte    `json:"pkcs8"`
	Created    time.Time `json:"created"`
	ActiveFrom time.Time `json:"active_from,omitzero"`
	RetireAt   time.Time `json:"retire_at,omitzero"`
	RemoveAt   time.Time `json:"remove_at,omitzero"`
}

const storedVersion = 1

// loadSet reads the key set; a set that does not exist yet is nil without error.
func loadSet(ctx context.Context, s Storage, name string) ([]*signingKey, error) {
	data, err := s.Load(ctx, StorageKey(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading key set %s: %w", StorageKey(name), err)
	}
	ks, err := decodeSet(data)
	if err != nil {
		return nil, fmt.Errorf("key set %s: %w", StorageKey(name), err)
	}
	return ks, nil
}

func storeSet(ctx context.Context, s Storage, name string, ks []*signingKey) error {
	data, err := encodeSet(ks)
	if err != nil {
		return err
	}
	if err := s.Store(ctx, StorageKey(name), data); err != nil {
		return fmt.Errorf("storing key set %s: %w", StorageKey(name), err)
	}
	return nil
}

func encodeSet(ks []*signingKey) ([]byte, error) {
	doc := storedSet{Version: storedVersion, Keys: make([]storedKey, 0, len(ks))}
	for _, k := range ks {
		doc.Keys = append(doc.Keys, storedKey{
			KeyID: k.kid, Algorithm: k.alg, PKCS8: k.der, Created: k.created,
			ActiveFrom: k.activeFrom, RetireAt: k.retireAt, RemoveAt: k.removeAt,
		})
	}
	return json.Marshal(doc)
}

// decodeSet parses a stored set, checking each key against its recorded kid and algorithm, so a
// damaged document is an error rather than a set that signs with the wrong key.
func decodeSet(data []byte) ([]*signingKey, error) {
	var doc storedSet
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a key set: %w", err)
	}
	if doc.Version != storedVersion {
		return nil, fmt.Errorf("unsupported key set version %d", doc.Version)
	}
	out := make([]*signingKey, 0, len(doc.Keys))
	for i, sk := range doc.Keys {
		raw, err := x509.ParsePKCS8PrivateKey(sk.PKCS8)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		priv, ok := raw.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("key %d: unsupported key type %T", i, raw)
		}
		k, err := newSigningKey(priv, sk.PKCS8, sk.Algorithm, sk.Created)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if k.kid != sk.KeyID {
			return nil, fmt.Errorf("key %d: kid %q is not the key's thumbprint", i, sk.KeyID)
		}
		k.activeFrom, k.retireAt, k.removeAt = sk.ActiveFrom, sk.RetireAt, sk.RemoveAt
		out = append(out, k)
	}
	return out, nil
}
