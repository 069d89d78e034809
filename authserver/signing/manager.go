package signing

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/obgate/obgate/caddyjwt/keys"
)

// ErrNotReady is returned by Mint and Keys before the key set was first loaded or created.
var ErrNotReady = errors.New("the signing keys are not loaded yet")

// missReloadInterval bounds how often a token naming an unknown kid makes the manager read the
// storage again.
const missReloadInterval = time.Second

// Manager holds one named signing key set. It is safe for concurrent use: Mint, Keys and JWKS read
// an immutable snapshot; Refresh, Rotate and Run replace it.
type Manager struct {
	name             string
	store            Storage // nil for an operator key
	sched            schedule
	refreshEvery     time.Duration
	jwksMaxAge       time.Duration
	maxTokenLifetime time.Duration
	clock            func() time.Time
	logger           *zap.Logger

	snap     atomic.Pointer[snapshot]
	changeMu sync.Mutex // one Refresh or Rotate at a time in this process
	missMu   sync.Mutex
	lastMiss time.Time
}

// snapshot is the key set as last loaded, with its public renderings.
type snapshot struct {
	keys     []*signingKey
	jwks     []byte
	set      *keys.Set
	loadedAt time.Time // when the set was last read from (or written to) the storage
}

// NewManager returns a manager for the generated, rotated key set opts.Name kept in store. It does
// no I/O: call Load (read only) or Refresh (creates the first key) before Mint.
func NewManager(store Storage, opts Options) (*Manager, error) {
	if store == nil {
		return nil, errors.New("no storage")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Manager{
		name:  o.Name,
		store: store,
		sched: schedule{
			algorithm: o.Algorithm, rsaBits: o.RSABits, rotateEvery: o.RotateEvery,
			publishLead: o.PublishLead, maxTokenLifetime: o.MaxTokenLifetime,
		},
		refreshEvery:     o.RefreshInterval,
		jwksMaxAge:       o.JWKSMaxAge,
		maxTokenLifetime: o.MaxTokenLifetime,
		clock:            o.Clock,
		logger:           o.Logger,
	}, nil
}

// NewStatic returns a manager that signs with one operator-provided key: nothing is generated,
// stored or rotated. It is ready at once.
func NewStatic(priv crypto.Signer, opts StaticOptions) (*Manager, error) {
	alg := opts.Algorithm
	if alg == "" {
		var err error
		if alg, err = defaultAlgorithm(priv); err != nil {
			return nil, err
		}
	}
	if opts.JWKSMaxAge < 0 || opts.MaxTokenLifetime < 0 {
		return nil, errors.New("durations must not be negative")
	}
	k, err := newSigningKey(priv, nil, alg, time.Time{})
	if err != nil {
		return nil, err
	}
	m := &Manager{
		jwksMaxAge:       opts.JWKSMaxAge,
		maxTokenLifetime: opts.MaxTokenLifetime,
		clock:            opts.Clock,
		logger:           zap.NewNop(),
	}
	if m.jwksMaxAge == 0 {
		m.jwksMaxAge = DefaultJWKSMaxAge
	}
	if m.maxTokenLifetime == 0 {
		m.maxTokenLifetime = DefaultMaxTokenLifetime
	}
	if m.clock == nil {
		m.clock = time.Now
	}
	if err := m.install([]*signingKey{k}); err != nil {
		return nil, err
	}
	return m, nil
}

// Static reports whether the manager signs with an operator key (no storage, no rotation).
func (m *Manager) Static() bool { return m.store == nil }

// Load reads the key set from storage without changing it; a set that does not exist yet leaves
// the manager not ready. Safe under `caddy validate`: it never writes.
func (m *Manager) Load(ctx context.Context) error {
	if m.store == nil {
		return nil
	}
	if !m.changeMu.TryLock() {
		return nil // a Refresh or Rotate is under way and installs what it reads
	}
	defer m.changeMu.Unlock()
	ks, err := loadSet(ctx, m.store, m.name)
	if err != nil || ks == nil {
		return err
	}
	return m.install(ks)
}

// Refresh reads the key set from storage and applies the rotation schedule: it creates the first
// key of a new set, publishes the successor of the signing key when its time is near, and drops
// retired keys whose last tokens have expired. Changes are made under the storage lock, after
// reading the set again, so that two instances never change it at once.
func (m *Manager) Refresh(ctx context.Context) error {
	return m.change(ctx, false)
}

// Rotate publishes a new key at once; it signs from PublishLead from now, and the current key is
// retired then. When a successor is already published, Rotate changes nothing.
func (m *Manager) Rotate(ctx context.Context) error {
	if m.store == nil {
		return errors.New("an operator key is not rotated")
	}
	return m.change(ctx, true)
}

// change is Refresh (force false) and Rotate (force true).
func (m *Manager) change(ctx context.Context, force bool) error {
	if m.store == nil {
		return nil
	}
	m.changeMu.Lock()
	defer m.changeMu.Unlock()
	ks, err := loadSet(ctx, m.store, m.name)
	if err != nil {
		return err
	}
	now := m.clock()
	if _, changed, err := m.sched.plan(ks, now, force, placeholder); err != nil || !changed {
		if ks != nil {
			if ierr := m.install(ks); ierr != nil {
				return ierr
			}
		}
		return err
	}
	if err := m.store.Lock(ctx, lockName(m.name)); err != nil {
		return fmt.Errorf("locking key set %s: %w", StorageKey(m.name), err)
	}
	defer func() {
		// The lock is released even when ctx ended: a left-over lock stalls every instance.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := m.store.Unlock(uctx, lockName(m.name)); err != nil {
			m.logger.Error("unlocking key set", zap.String("signer", m.name), zap.Error(err))
		}
	}()
	// Under the lock, read again: another instance may have changed the set meanwhile.
	if ks, err = loadSet(ctx, m.store, m.name); err != nil {
		return err
	}
	now = m.clock()
	next, changed, err := m.sched.plan(ks, now, force, generateKey)
	if err != nil {
		return err
	}
	if changed {
		if err := storeSet(ctx, m.store, m.name, next); err != nil {
			return err
		}
		m.logChange(ks, next)
	}
	return m.install(next)
}

func (m *Manager) logChange(before, after []*signingKey) {
	had := make(map[string]bool, len(before))
	for _, k := range before {
		had[k.kid] = true
	}
	for _, k := range after {
		if !had[k.kid] {
			m.logger.Info("signing key published", zap.String("signer", m.name), zap.String("kid", k.kid),
				zap.String("alg", k.alg), zap.Time("signs_from", k.activeFrom))
		}
		delete(had, k.kid)
	}
	for kid := range had {
		m.logger.Info("retired signing key removed", zap.String("signer", m.name), zap.String("kid", kid))
	}
}

// install renders ks and makes it the manager's snapshot.
func (m *Manager) install(ks []*signingKey) error {
	jwks, err := renderJWKS(ks)
	if err != nil {
		return err
	}
	pub, skipped, err := keys.ParseJWKs(jwks, "jwt_signer "+m.name, keys.JWKOptions{})
	if err != nil {
		return err
	}
	if len(skipped) > 0 {
		return skipped[0]
	}
	m.snap.Store(&snapshot{keys: ks, jwks: jwks, set: keys.NewSet(pub...), loadedAt: m.clock()})
	return nil
}

// Run refreshes the key set every refresh interval until ctx ends, so that rotations made by
// another instance arrive within one interval and the schedule is applied on time. Errors are
// logged; the last good set stays in use.
func (m *Manager) Run(ctx context.Context) {
	if m.store == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			m.logger.Error("key set refresh panicked", zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
		}
	}()
	t := time.NewTicker(m.refreshEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, m.refreshEvery)
			if err := m.Refresh(rctx); err != nil && ctx.Err() == nil {
				m.logger.Warn("refreshing the signing key set", zap.String("signer", m.name), zap.Error(err))
			}
			cancel()
		}
	}
}

// ErrStale is returned by Mint when the key set has not been read from storage for longer than
// PublishLead.
var ErrStale = errors.New("the signing key set has not been read from storage for too long")

// current returns the key that signs at now.
func (m *Manager) current(now time.Time) (*signingKey, error) {
	s := m.snap.Load()
	if s == nil {
		return nil, ErrNotReady
	}
	// An instance cut off from the storage may have missed a rotation made elsewhere: its key then
	// stops signing elsewhere and leaves the published set MaxTokenLifetime + RemovalMargin after
	// the successor took over, which is at least PublishLead after this instance's last read.
	// Signing only within PublishLead of that read keeps every token it signs verifiable until exp.
	if m.store != nil && now.Sub(s.loadedAt) > m.sched.publishLead {
		return nil, ErrStale
	}
	k := signingAt(s.keys, now)
	if k == nil {
		return nil, errors.New("no key of the set may sign yet")
	}
	return k, nil
}

// Algorithm is the JWS alg of the key that signs now; before the set is loaded, the configured
// algorithm.
func (m *Manager) Algorithm() string {
	if k, err := m.current(m.clock()); err == nil {
		return k.alg
	}
	return m.sched.algorithm
}

// KeyID is the kid of the key that signs now.
func (m *Manager) KeyID() (string, error) {
	k, err := m.current(m.clock())
	if err != nil {
		return "", err
	}
	return k.kid, nil
}

// JWKSMaxAge is how long verifiers may cache the JWK Set (the jwt_jwks Cache-Control max-age).
func (m *Manager) JWKSMaxAge() time.Duration { return m.jwksMaxAge }

// MaxTokenLifetime is the longest exp - now that Mint signs.
func (m *Manager) MaxTokenLifetime() time.Duration { return m.maxTokenLifetime }

// PublishLead is how long a new key is published before it signs (zero for an operator key).
func (m *Manager) PublishLead() time.Duration { return m.sched.publishLead }

// JWKS returns the public JWK Set (RFC 7517 §5) of every published key: the signing key, a
// successor that does not sign yet, and retired keys whose tokens may still be live. It never holds
// a private member. The caller must not modify the slice.
func (m *Manager) JWKS() ([]byte, error) {
	s := m.snap.Load()
	if s == nil {
		return nil, ErrNotReady
	}
	return s.jwks, nil
}

// Keys returns the published keys for verification (keys.Source). Before the set is loaded it
// reports *keys.UnavailableError.
func (m *Manager) Keys() (*keys.Set, error) {
	s := m.snap.Load()
	if s == nil {
		return nil, &keys.UnavailableError{Origin: "jwt_signer " + m.name, RetryAfter: time.Second, Err: ErrNotReady}
	}
	return s.set, nil
}

// KeysAfterMiss reads the key set from storage again when a token names a kid this manager does
// not hold (keys.MissHandler), at most once per second; concurrent misses share one read.
func (m *Manager) KeysAfterMiss(ctx context.Context, unverifiedKID string) (*keys.Set, error) {
	if m.store == nil {
		return m.Keys()
	}
	m.missMu.Lock()
	defer m.missMu.Unlock()
	if set, err := m.Keys(); err == nil {
		if _, ok := set.Lookup(unverifiedKID); ok {
			return set, nil // another miss just loaded it
		}
	}
	if now := m.clock(); now.Sub(m.lastMiss) >= missReloadInterval {
		m.lastMiss = now
		if err := m.Load(ctx); err != nil {
			m.logger.Warn("reloading the signing key set after an unknown kid", zap.String("signer", m.name), zap.Error(err))
		}
	}
	return m.Keys()
}

// Interface guards
var (
	_ keys.Source      = (*Manager)(nil)
	_ keys.MissHandler = (*Manager)(nil)
)
