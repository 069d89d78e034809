package authserver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"

	"github.com/obgate/obgate/authserver/signing"
	"github.com/obgate/obgate/caddyjwt/keys"
)

func init() {
	caddy.RegisterModule(new(SignerApp))
}

// appID is the jwt_signer app's module ID.
const appID = "jwt_signer"

// startTimeout bounds the first load (and, at first start, the creation) of a key set.
const startTimeout = 30 * time.Second

// pool holds one running key set manager per signer name, storage and settings for the whole
// process, so that a config reload keeps the loaded keys and the refresh loop.
var pool = caddy.NewUsagePool()

// SignerApp is the jwt_signer app: named signing key sets (global option jwt_signer) that
// token_endpoint mints with, jwt_jwks publishes and jwt_auth (`issuer <iss> { signer <name> }`)
// verifies with.
//
// A generated key set lives in the storage Caddy is configured with, under
// obgate/jwt_signer/<name>.json, so every instance on one storage signs with the same keys. Keys
// are generated at the first start (never at `caddy validate`), rotated every rotate_every under
// the storage's lock, published jwks_max_age + refresh_interval + 1m before they sign, and kept
// published max_token_lifetime + 5m after they stop. Every instance reads the set again every
// refresh_interval, so a rotation made elsewhere arrives within that bound.
type SignerApp struct {
	// Signers are the named key sets.
	Signers map[string]*SignerConfig `json:"signers,omitempty"`

	managers map[string]*signing.Manager
	runners  map[string]*runner
	leases   []string
	logger   *zap.Logger
}

// SignerConfig is one named signing key set.
type SignerConfig struct {
	// Algorithm is the JWS alg of generated keys: ES256, PS256 (RSA, rsa_bits) or EdDSA.
	// Default: ES256, or with key, the key's own (P-256 ES256, RSA PS256, Ed25519 EdDSA).
	Algorithm string `json:"algorithm,omitempty"`

	// RotateEvery is how long each generated key signs before its successor. Default: 720h.
	RotateEvery caddy.Duration `json:"rotate_every,omitempty"`

	// Key is an operator-provided PEM private key (PKCS #8, SEC 1 or PKCS #1): it signs alone,
	// nothing is generated, stored or rotated. Placeholders are expanded once. Default: none.
	Key string `json:"key,omitempty"`

	// JWKSMaxAge is the Cache-Control max-age of jwt_jwks; a new key is published at least this
	// long (plus refresh_interval and 1m) before it signs. Default: 5m.
	JWKSMaxAge caddy.Duration `json:"jwks_max_age,omitempty"`

	// RefreshInterval is how often the key set is read again from storage. Default: 30s.
	RefreshInterval caddy.Duration `json:"refresh_interval,omitempty"`

	// MaxTokenLifetime is the longest lifetime (exp - now) of a token this signer signs; a retired
	// key stays published this long (plus 5m) after it stopped signing. Default: 24h.
	MaxTokenLifetime caddy.Duration `json:"max_token_lifetime,omitempty"`

	// RSABits is the modulus size of generated RSA keys (PS256), at least 2048. Default: 2048.
	RSABits int `json:"rsa_bits,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*SignerApp) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  appID,
		New: func() caddy.Module { return new(SignerApp) },
	}
}

// Provision checks every signer's settings and reads its key set from storage (read only: a set
// that does not exist yet is created by Start).
func (a *SignerApp) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.managers = make(map[string]*signing.Manager, len(a.Signers))
	a.runners = make(map[string]*runner, len(a.Signers))
	names := make([]string, 0, len(a.Signers))
	for name := range a.Signers {
		names = append(names, name)
	}
	slices.Sort(names) // errors name the first bad signer, whatever the map order
	for _, name := range names {
		r, key, err := a.lease(ctx, name, a.Signers[name])
		if err != nil {
			return fmt.Errorf("jwt_signer %q: %w", name, err)
		}
		a.managers[name], a.runners[name] = r.m, r
		if key != "" {
			a.leases = append(a.leases, key)
		}
	}
	return nil
}

// lease gets the pooled manager for one signer, creating it on first use.
func (a *SignerApp) lease(ctx caddy.Context, name string, sc *SignerConfig) (*runner, string, error) {
	if sc == nil {
		sc = new(SignerConfig)
	}
	if sc.Key != "" {
		// Not pooled: nothing outlives the config (no storage, no loop), and reading the file on
		// every config load picks up a replaced key.
		m, err := sc.manager(name, nil, a.logger)
		if err != nil {
			return nil, "", err
		}
		return newRunner(m, a.logger), "", nil
	}
	storage := ctx.Storage()
	key := poolKey(name, storage, sc)
	v, _, err := pool.LoadOrNew(key, func() (caddy.Destructor, error) {
		m, err := sc.manager(name, storage, a.logger)
		if err != nil {
			return nil, err
		}
		return newRunner(m, a.logger), nil
	})
	if err != nil {
		return nil, "", err
	}
	r := v.(*runner)
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r.m.Load(lctx); err != nil {
		a.logger.Warn("loading signing keys", zap.String("signer", name), zap.Error(err))
	}
	return r, key, nil
}

// poolKey identifies a manager: the signer's name, its storage and its settings.
func poolKey(name string, s certmagic.Storage, sc *SignerConfig) string {
	id := fmt.Sprintf("%T@%p", s, s)
	if str, ok := s.(fmt.Stringer); ok {
		id = fmt.Sprintf("%T:%s", s, str.String()) // FileStorage names its path: same path, same keys
	}
	return fmt.Sprintf("%s|%s|%s|%d|%d|%d|%d|%d", name, id, sc.Algorithm, sc.RotateEvery, sc.JWKSMaxAge,
		sc.RefreshInterval, sc.MaxTokenLifetime, sc.RSABits)
}

// manager builds the engine for one signer: an operator key, or a generated set in storage.
func (sc *SignerConfig) manager(name string, storage certmagic.Storage, logger *zap.Logger) (*signing.Manager, error) {
	if sc.Key != "" {
		if sc.RotateEvery != 0 || sc.RSABits != 0 || sc.RefreshInterval != 0 {
			return nil, errors.New("key: rotate_every, rsa_bits and refresh_interval do not apply to an operator key")
		}
		path := caddy.NewReplacer().ReplaceKnown(sc.Key, "")
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		priv, err := signing.ParsePrivateKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", path, err)
		}
		m, err := signing.NewStatic(priv, signing.StaticOptions{
			Algorithm: sc.Algorithm, JWKSMaxAge: time.Duration(sc.JWKSMaxAge),
			MaxTokenLifetime: time.Duration(sc.MaxTokenLifetime),
		})
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", path, err)
		}
		return m, nil
	}
	if storage == nil {
		return nil, errors.New("no storage configured")
	}
	return signing.NewManager(storage, signing.Options{
		Name:             name,
		Algorithm:        sc.Algorithm,
		RotateEvery:      time.Duration(sc.RotateEvery),
		JWKSMaxAge:       time.Duration(sc.JWKSMaxAge),
		RefreshInterval:  time.Duration(sc.RefreshInterval),
		MaxTokenLifetime: time.Duration(sc.MaxTokenLifetime),
		RSABits:          sc.RSABits,
		Logger:           logger.With(zap.String("signer", name)),
	})
}

// Start creates each key set that does not exist yet, applies the rotation schedule, and starts
// the background refresh (once per pooled manager: a reload keeps the running one).
func (a *SignerApp) Start() error {
	for _, name := range slices.Sorted(maps.Keys(a.runners)) {
		if err := a.runners[name].start(); err != nil {
			return fmt.Errorf("jwt_signer %q: %w", name, err)
		}
	}
	return nil
}

// Stop does nothing: the pooled managers run until the last config that uses them is cleaned up.
func (a *SignerApp) Stop() error { return nil }

// Cleanup releases this config's leases on the pooled managers.
func (a *SignerApp) Cleanup() error {
	for _, key := range a.leases {
		if _, err := pool.Delete(key); err != nil {
			a.logger.Error("releasing signing keys", zap.Error(err))
		}
	}
	a.leases = nil
	return nil
}

// manager returns the named signer's manager.
func (a *SignerApp) manager(name string) (*signing.Manager, error) {
	m, ok := a.managers[name]
	if !ok {
		return nil, fmt.Errorf("jwt_signer %q: no signer of that name is configured (global option jwt_signer %s { ... })", name, name)
	}
	return m, nil
}

// Keys returns the public keys of the named signer as a key source for verification: every
// published key (the signing key, its announced successor, retired keys whose tokens may still be
// live), following rotations. jwt_auth's `issuer <iss> { signer <name> }` uses it.
func (a *SignerApp) Keys(name string) (keys.Source, error) {
	return a.manager(name)
}

// runner owns a pooled manager's background refresh; it outlives the config that created it and
// captures no caddy.Context.
type runner struct {
	m      *signing.Manager
	logger *zap.Logger

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

func newRunner(m *signing.Manager, logger *zap.Logger) *runner {
	return &runner{m: m, logger: logger}
}

// start creates or loads the key set and starts the refresh loop, the first time only.
func (r *runner) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	err := r.m.Refresh(ctx)
	cancel()
	if err != nil {
		if _, kerr := r.m.Keys(); kerr != nil {
			return err // no keys at all: the config cannot sign, say so now
		}
		// Keys were read at provision: sign with them; the loop retries the schedule.
		r.logger.Warn("refreshing the signing key set at start; using the keys read at provision", zap.Error(err))
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done, r.started = cancel, make(chan struct{}), true
	go func() {
		defer close(r.done)
		r.m.Run(loopCtx)
	}()
	return nil
}

// Destruct stops the refresh loop and waits for it; the pool calls it when the last config that
// used the manager is cleaned up.
func (r *runner) Destruct() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		r.cancel()
		<-r.done
		r.started = false
	}
	return nil
}

// Interface guards
var (
	_ caddy.App          = (*SignerApp)(nil)
	_ caddy.Provisioner  = (*SignerApp)(nil)
	_ caddy.CleanerUpper = (*SignerApp)(nil)
	_ caddy.Destructor   = (*runner)(nil)
)
