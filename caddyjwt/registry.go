package caddyjwt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/caddyjwt/keys"
)

func init() {
	caddy.RegisterModule(new(Registry))
}

// registryPrefix is where registered keys live in Caddy's storage: one JWK Set per counterparty.
const registryPrefix = "obgate/registry"

// DefaultRegistryRefresh is how often the registry reloads keys from storage.
const DefaultRegistryRefresh = 5 * time.Second

// counterpartyName is what a counterparty may be called: it is part of a storage key and a URL.
var counterpartyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Registry is the jwt_registry app: the keys registered at runtime for each counterparty (through
// the jwt_keys handler), and the named policies that jwt_check uses. It is loaded on demand by
// the modules that need it; configure it only to change the refresh interval.
//
// Keys persist in the storage Caddy is configured with (the file system by default, a shared
// storage module in a cluster), one JWK Set per counterparty, written atomically. The request path
// reads an in-memory copy only: jwt_keys updates it at once, and a background loop reloads it
// from storage every refresh_interval, so changes made on another instance arrive within seconds.
type Registry struct {
	// RefreshInterval is how often keys are reloaded from storage. Default: 5s.
	RefreshInterval caddy.Duration `json:"refresh_interval,omitempty"`

	storage certmagic.Storage
	sets    atomic.Pointer[map[string]*keys.Set] // nil until the first load succeeds
	writeMu sync.Mutex                           // serialises this process's writes and swaps
	gen     atomic.Uint64                        // bumped by every write, so a stale reload is dropped

	policyMu sync.RWMutex
	policies map[string]checkPolicy

	cancel context.CancelFunc
	done   chan struct{}
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (*Registry) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "jwt_registry",
		New: func() caddy.Module { return new(Registry) },
	}
}

// Provision loads the registered keys from storage, bounded by a short timeout; if that fails,
// registry keys are unavailable (503) until a background reload succeeds.
func (a *Registry) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.init(ctx.Storage())
	if a.RefreshInterval < 0 {
		return errors.New("refresh_interval: must not be negative")
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.reload(lctx); err != nil {
		a.logger.Warn("loading registered keys", zap.Error(err))
	}
	return nil
}

// init sets up the registry on a storage.
func (a *Registry) init(s certmagic.Storage) {
	a.storage = s
	a.policies = make(map[string]checkPolicy)
	if a.logger == nil {
		a.logger = zap.NewNop()
	}
}

// Start starts the background reload.
func (a *Registry) Start() error {
	every := time.Duration(a.RefreshInterval)
	if every == 0 {
		every = DefaultRegistryRefresh
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel, a.done = cancel, make(chan struct{})
	go a.refreshLoop(ctx, every)
	return nil
}

// Stop stops the background reload and waits for it.
func (a *Registry) Stop() error {
	if a.cancel != nil {
		a.cancel()
		<-a.done
	}
	return nil
}

func (a *Registry) refreshLoop(ctx context.Context, every time.Duration) {
	defer close(a.done)
	defer func() {
		if v := recover(); v != nil {
			a.logger.Error("registry reload panicked", zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
		}
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, every)
			if err := a.reload(rctx); err != nil && ctx.Err() == nil {
				a.logger.Warn("reloading registered keys", zap.Error(err))
			}
			cancel()
		}
	}
}

// reload reads every counterparty's keys from storage and swaps them in, unless a write happened
// meanwhile (the next reload picks that up).
func (a *Registry) reload(ctx context.Context) error {
	g := a.gen.Load()
	names, err := a.storage.List(ctx, registryPrefix, false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	m := make(map[string]*keys.Set, len(names))
	for _, name := range names {
		cp, ok := strings.CutSuffix(strings.TrimPrefix(name, registryPrefix+"/"), ".json")
		if !ok || !counterpartyName.MatchString(cp) {
			continue
		}
		entries, err := a.load(ctx, cp)
		if err != nil {
			return err
		}
		m[cp] = entriesSet(entries)
	}
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	if a.gen.Load() == g {
		a.sets.Store(&m)
	}
	return nil
}

// registeredKey is one stored key: its public JWK (with kid) and when it was registered.
type registeredKey struct {
	JWK          json.RawMessage `json:"jwk"`
	RegisteredAt time.Time       `json:"registered_at"`
	key          keys.Key
}

// storedDoc is the storage format of one counterparty.
type storedDoc struct {
	Keys []registeredKey `json:"keys"`
}

func storageKey(cp string) string { return registryPrefix + "/" + cp + ".json" }

// load reads one counterparty's keys from storage; a missing one has none. Keys that no longer
// pass the rules are skipped with a warning.
func (a *Registry) load(ctx context.Context, cp string) ([]registeredKey, error) {
	data, err := a.storage.Load(ctx, storageKey(cp))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc storedDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("counterparty %s: %w", cp, err)
	}
	out := doc.Keys[:0]
	for _, rk := range doc.Keys {
		ks, skipped, err := keys.ParseJWKs(rk.JWK, "registry "+cp, keys.JWKOptions{})
		if err != nil || len(skipped) > 0 || len(ks) != 1 {
			a.logger.Warn("skipping a stored key", zap.String("counterparty", cp), zap.Error(errors.Join(err, errors.Join(skipped...))))
			continue
		}
		rk.key = ks[0]
		out = append(out, rk)
	}
	return out, nil
}

func entriesSet(entries []registeredKey) *keys.Set {
	ks := make([]keys.Key, len(entries))
	for i, e := range entries {
		ks[i] = e.key
	}
	return keys.NewSet(ks...)
}

// update changes one counterparty's keys: under the storage's lock (so that gateway instances
// sharing a storage do not lose each other's writes), it reads the stored keys, applies change and
// stores the result atomically, then swaps the new keys into memory at once (or, while nothing
// could be loaded yet, leaves them to the next reload).
func (a *Registry) update(ctx context.Context, cp string, change func([]registeredKey) ([]registeredKey, error)) error {
	lock := "obgate-registry-" + cp
	if err := a.storage.Lock(ctx, lock); err != nil {
		return err
	}
	defer func() { _ = a.storage.Unlock(context.WithoutCancel(ctx), lock) }()
	current, err := a.load(ctx, cp)
	if err != nil {
		return err
	}
	next, err := change(slices.Clone(current))
	if err != nil {
		return err
	}
	data, err := json.Marshal(storedDoc{Keys: next})
	if err != nil {
		return err
	}
	if len(next) == 0 {
		err = a.storage.Delete(ctx, storageKey(cp))
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	} else {
		err = a.storage.Store(ctx, storageKey(cp), data)
	}
	if err != nil {
		return err
	}
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	a.gen.Add(1)
	old := a.sets.Load()
	if old == nil {
		// Nothing loaded yet: publishing this counterparty alone would make the others look
		// registered with no keys (401 instead of 503). The next reload brings in everything.
		return nil
	}
	m := make(map[string]*keys.Set, len(*old)+1)
	for k, v := range *old {
		m[k] = v
	}
	if len(next) == 0 {
		delete(m, cp)
	} else {
		m[cp] = entriesSet(next)
	}
	a.sets.Store(&m)
	return nil
}

// Source returns the key source of a counterparty: what is registered for it at the time of each
// request, read from memory.
func (a *Registry) Source(cp string) (keys.Source, error) {
	if !counterpartyName.MatchString(cp) {
		return nil, fmt.Errorf("counterparty %q: want 1-64 letters, digits, '.', '_' or '-'", cp)
	}
	return registrySource{a: a, cp: cp}, nil
}

type registrySource struct {
	a  *Registry
	cp string
}

var errRegistryNotLoaded = errors.New("registered keys have not been loaded from storage yet")

// Keys returns the counterparty's current keys; none registered is an empty set.
func (s registrySource) Keys() (*keys.Set, error) {
	m := s.a.sets.Load()
	if m == nil {
		return nil, &keys.UnavailableError{Origin: "registry " + s.cp, RetryAfter: DefaultRegistryRefresh, Err: errRegistryNotLoaded}
	}
	return (*m)[s.cp], nil
}

// registryFrom returns the config's registry app, loading it on first use.
func registryFrom(ctx caddy.Context) (*Registry, error) {
	app, err := ctx.App("jwt_registry")
	if err != nil {
		return nil, err
	}
	return app.(*Registry), nil
}

// withRegistry extends a key source builder with "registry" sources.
func withRegistry(ctx caddy.Context, remote remoteSourceFunc) remoteSourceFunc {
	return func(kind, url, issuer string) (keys.Source, error) {
		if kind != "registry" {
			if remote == nil {
				return nil, errors.New("remote keys are not available here")
			}
			return remote(kind, url, issuer)
		}
		reg, err := registryFrom(ctx)
		if err != nil {
			return nil, err
		}
		return reg.Source(url)
	}
}

// checkPolicy is a named jwt_auth or request_signature policy that jwt_check can run.
type checkPolicy interface {
	check(ctx context.Context, in *checkInput) verdict
}

// registerPolicy names a policy for jwt_check in this config; the returned func removes it.
func registerPolicy(ctx caddy.Context, name string, p checkPolicy) (func(), error) {
	reg, err := registryFrom(ctx)
	if err != nil {
		return nil, err
	}
	reg.policyMu.Lock()
	defer reg.policyMu.Unlock()
	if _, taken := reg.policies[name]; taken {
		return nil, fmt.Errorf("name %q: already used by another jwt_auth or request_signature", name)
	}
	reg.policies[name] = p
	return func() {
		reg.policyMu.Lock()
		defer reg.policyMu.Unlock()
		if reg.policies[name] == p {
			delete(reg.policies, name)
		}
	}, nil
}

// policy returns the named policy.
func (a *Registry) policy(name string) (checkPolicy, bool) {
	a.policyMu.RLock()
	defer a.policyMu.RUnlock()
	p, ok := a.policies[name]
	return p, ok
}

// Interface guards
var (
	_ caddy.App         = (*Registry)(nil)
	_ caddy.Provisioner = (*Registry)(nil)
)
