package replay

import (
	"sync"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/replay/backend"
)

func init() {
	caddy.RegisterModule(MemoryStore{})
}

// memoryScopes holds one memory store per scope for the whole process. A scope's store outlives
// the config that created it as long as another config still uses it, so a reload keeps every
// value claimed before it.
var memoryScopes = caddy.NewUsagePool()

// MemoryStore keeps claimed values in the gateway's memory: per process, so every instance of a
// cluster has its own (use the redis store there). Each scope is bounded separately (the size its
// handler configures, 100000 by default); a scope full of live values refuses the next one
// (ErrFull) rather than forget one. Values survive config reloads.
type MemoryStore struct{}

// CaddyModule returns the Caddy module information.
func (MemoryStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "replay.stores.memory",
		New: func() caddy.Module { return new(MemoryStore) },
	}
}

// OpenScope implements Backend. When the scope is already open (the previous config, or another
// handler of this one), its values are kept and its bound becomes maxEntries.
func (MemoryStore) OpenScope(scope string, maxEntries int) (Store, func(), error) {
	v, loaded, err := memoryScopes.LoadOrNew(scope, func() (caddy.Destructor, error) {
		return memoryScope{backend.NewMemory(maxEntries, nil)}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	m := v.(memoryScope).Memory
	if loaded {
		m.SetMax(maxEntries)
	}
	var once sync.Once
	return m, func() { once.Do(func() { _, _ = memoryScopes.Delete(scope) }) }, nil
}

// memoryScope adapts a memory store to the usage pool; it holds nothing to release.
type memoryScope struct{ *backend.Memory }

func (memoryScope) Destruct() error { return nil }

// Interface guards
var _ Backend = MemoryStore{}
