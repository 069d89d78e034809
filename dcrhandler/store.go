package dcrhandler

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"strings"
	"sync"

	"github.com/caddyserver/certmagic"
)

// clientRecord is what the handler keeps per registered client: one storage key per client,
// written atomically with Storage.Store. The registration access token is stored only as its
// SHA-256 hash.
type clientRecord struct {
	ClientID          string         `json:"client_id"`
	IssuedAt          int64          `json:"client_id_issued_at"`
	TokenSHA256       string         `json:"registration_access_token_sha256"`
	SoftwareID        string         `json:"software_id,omitempty"`
	SoftwareStatement string         `json:"software_statement,omitempty"`
	Metadata          map[string]any `json:"metadata"`
	UpdatedAt         int64          `json:"updated_at"`

	// ClientSecretSHA256 is the SHA-256 (hex) of the client_secret issued to a client whose
	// token_endpoint_auth_method needs one (clientauth.go); "" when none was issued.
	ClientSecretSHA256 string `json:"client_secret_sha256,omitempty"`

	// damaged is set when a stored member could not be read back (a record written by an older
	// version, or altered in storage): the record can still be authenticated, replaced (PUT)
	// and deleted, but not read.
	damaged bool
}

// softwareIndex is the record of which client holds a software_id under cdr.
type softwareIndex struct {
	ClientID string `json:"client_id"`
}

// errNotFound reports a client that is not (or no longer) stored.
var errNotFound = errors.New("client not found")

// errSoftwareRegistered reports a second registration of a software_id under cdr.
var errSoftwareRegistered = errors.New("software_id already registered")

// clientStore keeps client records under prefix in a certmagic.Storage (Caddy's configured
// storage: the file system by default, a shared module in a cluster).
type clientStore struct {
	storage certmagic.Storage
	prefix  string // "obgate/dcr/<scope>"

	// softwareStripes and clientStripes serialise work on one software_id, or one client, inside
	// this process, so that the storage lock (which polls when contended) is only ever contended
	// across instances. Lock order: client, then software.
	softwareStripes [64]sync.Mutex
	clientStripes   [64]sync.Mutex
}

func newClientStore(s certmagic.Storage, scope string) *clientStore {
	return &clientStore{storage: s, prefix: "obgate/dcr/" + scope}
}

func (s *clientStore) clientKey(id string) string { return s.prefix + "/clients/" + id + ".json" }

func (s *clientStore) softwareKey(softwareID string) string {
	return s.prefix + "/software/" + hashHex(softwareID) + ".json"
}

func (s *clientStore) softwareLock(softwareID string) string {
	return s.prefix + "/software/" + hashHex(softwareID)
}

// load reads a client record; errNotFound when there is none.
func (s *clientStore) load(ctx context.Context, id string) (*clientRecord, error) {
	data, err := s.storage.Load(ctx, s.clientKey(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load client: %w", err)
	}
	rec, err := decodeRecord(id, data)
	if err != nil {
		return nil, fmt.Errorf("client record %s: %w", id, err)
	}
	return rec, nil
}

// errUnreadable reports a client record without a readable registration access token hash: no
// request can prove it owns the record.
var errUnreadable = errors.New("the record has no readable registration access token hash")

// decodeRecord reads a stored record member by member, so that one member that no longer
// decodes does not lock its owner out: only the token hash must be readable (else
// errUnreadable); any other member that fails marks the record damaged. Numbers decode as
// json.Number, kept as written (numbers.go).
func decodeRecord(id string, data []byte) (*clientRecord, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return nil, errors.Join(errUnreadable, err)
	}
	rec := &clientRecord{ClientID: id}
	if json.Unmarshal(members["registration_access_token_sha256"], &rec.TokenSHA256) != nil || rec.TokenSHA256 == "" {
		return nil, errUnreadable
	}
	decode := func(name string, into any) {
		raw, ok := members[name]
		if !ok {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if dec.Decode(into) != nil {
			rec.damaged = true
		}
	}
	var storedID string
	decode("client_id", &storedID)
	if storedID != "" && storedID != id {
		rec.damaged = true
	}
	decode("client_id_issued_at", &rec.IssuedAt)
	decode("software_id", &rec.SoftwareID)
	decode("software_statement", &rec.SoftwareStatement)
	decode("metadata", &rec.Metadata)
	decode("updated_at", &rec.UpdatedAt)
	decode("client_secret_sha256", &rec.ClientSecretSHA256)
	if _, ok := members["metadata"]; !ok {
		rec.damaged = true
	}
	return rec, nil
}

// save writes a client record atomically.
func (s *clientStore) save(ctx context.Context, rec *clientRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := s.storage.Store(ctx, s.clientKey(rec.ClientID), data); err != nil {
		return fmt.Errorf("store client: %w", err)
	}
	return nil
}

// create stores a new client. With unique set (cdr), it holds the storage lock of the record's
// software_id, refuses when a live client already holds it (errSoftwareRegistered), and writes
// the index before the client record, so a crash in between leaves at worst a stale index that
// the next registration overwrites.
func (s *clientStore) create(ctx context.Context, rec *clientRecord, unique bool) error {
	if !unique {
		return s.save(ctx, rec)
	}
	// A fast refusal without the lock: most duplicates never wait for it.
	if held, err := s.softwareHeld(ctx, rec.SoftwareID); err != nil {
		return err
	} else if held {
		return errSoftwareRegistered
	}
	mu := &s.softwareStripes[stripe(rec.SoftwareID)]
	mu.Lock()
	defer mu.Unlock()
	lock := s.softwareLock(rec.SoftwareID)
	if err := s.storage.Lock(ctx, lock); err != nil {
		return fmt.Errorf("lock software_id: %w", err)
	}
	defer func() { _ = s.storage.Unlock(context.WithoutCancel(ctx), lock) }()
	if held, err := s.softwareHeld(ctx, rec.SoftwareID); err != nil {
		return err
	} else if held {
		return errSoftwareRegistered
	}
	// The index first: an instance that dies between the two writes leaves a stale index (the
	// client it names does not exist, so softwareHeld ignores it and the next registration
	// overwrites it), never a client record that no index holds, which would let the software
	// register a second client.
	idx, _ := json.Marshal(softwareIndex{ClientID: rec.ClientID})
	if err := s.storage.Store(ctx, s.softwareKey(rec.SoftwareID), idx); err != nil {
		return fmt.Errorf("store software index: %w", err)
	}
	if err := s.save(ctx, rec); err != nil {
		_ = s.storage.Delete(context.WithoutCancel(ctx), s.softwareKey(rec.SoftwareID))
		return err
	}
	return nil
}

// softwareHeld reports whether the software_id's index names a client that still exists.
func (s *clientStore) softwareHeld(ctx context.Context, softwareID string) (bool, error) {
	data, err := s.storage.Load(ctx, s.softwareKey(softwareID))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load software index: %w", err)
	}
	var idx softwareIndex
	if json.Unmarshal(data, &idx) != nil || idx.ClientID == "" {
		return false, nil // unreadable index: the client record decides
	}
	_, err = s.load(ctx, idx.ClientID)
	if errors.Is(err, errNotFound) || errors.Is(err, errUnreadable) {
		// A stale index (client deleted), or a record nobody can authenticate to: neither is a
		// registration that holds the software_id. A damaged but authenticable record holds it
		// until its owner deletes it.
		return false, nil
	}
	return err == nil, err
}

// remove deletes a client record and, when it holds its software_id's index, the index too
// (under the software lock), so the software may register again.
func (s *clientStore) remove(ctx context.Context, rec *clientRecord, unique bool) error {
	if err := s.storage.Delete(ctx, s.clientKey(rec.ClientID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete client: %w", err)
	}
	if !unique || rec.SoftwareID == "" {
		return nil
	}
	mu := &s.softwareStripes[stripe(rec.SoftwareID)]
	mu.Lock()
	defer mu.Unlock()
	lock := s.softwareLock(rec.SoftwareID)
	if err := s.storage.Lock(ctx, lock); err != nil {
		return nil // the client is gone; a stale index is harmless (softwareHeld checks the client)
	}
	defer func() { _ = s.storage.Unlock(context.WithoutCancel(ctx), lock) }()
	data, err := s.storage.Load(ctx, s.softwareKey(rec.SoftwareID))
	if err != nil {
		return nil
	}
	var idx softwareIndex
	if json.Unmarshal(data, &idx) == nil && idx.ClientID == rec.ClientID {
		_ = s.storage.Delete(ctx, s.softwareKey(rec.SoftwareID))
	}
	return nil
}

// newSecret returns n random bytes, base64url without padding.
func newSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// tokenHash is the stored form of a registration access token.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// tokenMatches compares a presented token with a stored hash in constant time.
func tokenMatches(presented, storedHash string) bool {
	want, err := hex.DecodeString(storedHash)
	if err != nil || len(want) != sha256.Size {
		return false
	}
	got := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

// validClientID reports whether a path segment can be a client ID this handler issued
// (base64url of 16 bytes); anything else is never looked up in storage.
func validClientID(id string) bool {
	if len(id) != 22 {
		return false
	}
	return strings.IndexFunc(id, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_')
	}) < 0
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

func stripe(s string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return int(h.Sum32() % 64)
}

// storageScope turns the handler's identity (its first audience) into a storage path segment.
func storageScope(audience []string) string {
	if len(audience) == 0 {
		return "default"
	}
	return "aud-" + hashHex(audience[0])[:16]
}

// withClientLock runs fn holding the storage lock of one client, so that an update and a delete
// of the same client (possibly on two instances) cannot interleave and resurrect a deleted client.
func (s *clientStore) withClientLock(ctx context.Context, id string, fn func() error) error {
	mu := &s.clientStripes[stripe(id)]
	mu.Lock()
	defer mu.Unlock()
	lock := s.prefix + "/clients/" + id
	if err := s.storage.Lock(ctx, lock); err != nil {
		return fmt.Errorf("lock client: %w", err)
	}
	defer func() { _ = s.storage.Unlock(context.WithoutCancel(ctx), lock) }()
	return fn()
}
