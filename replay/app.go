package replay

import (
	"encoding/json"
	"fmt"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the single-use store every replay check of the config claims its values through. It is
// loaded on demand by the modules that need it (Open), with the memory store when the config does
// not configure it; the `replay_store` global option sets it up.
type App struct {
	// StoreRaw is the store: {"backend": "memory"} (the default: in process, per instance) or
	// {"backend": "redis", "address": "host:port", ...} (one store shared by every instance).
	StoreRaw json.RawMessage `json:"store,omitempty" caddy:"namespace=replay.stores inline_key=backend"`

	store       Backend
	backendName string
	logger      *zap.Logger
}

// Backend is a store module (namespace replay.stores): it hands out the store of a scope.
type Backend interface {
	// OpenScope returns the store of one scope, bounded to maxEntries where the backend is
	// bounded (0 = its default), and the function that gives it back.
	OpenScope(scope string, maxEntries int) (Store, func(), error)
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "replay",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision loads the store module (memory by default) and registers the metrics. It makes no
// connection: a Redis store connects at its first claim, so `caddy validate` reaches nothing.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	registerMetrics(ctx.GetMetricsRegistry())
	if a.StoreRaw == nil {
		a.StoreRaw = json.RawMessage(`{"backend": "memory"}`)
	}
	mod, err := ctx.LoadModule(a, "StoreRaw")
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	b, ok := mod.(Backend)
	if !ok {
		return fmt.Errorf("store: module %T is not a replay store", mod)
	}
	a.store = b
	a.backendName = string(mod.(caddy.Module).CaddyModule().ID.Name())
	return nil
}

// Start does nothing: stores work on demand.
func (a *App) Start() error { return nil }

// Stop does nothing: a scope's store is given back by the module that opened it.
func (a *App) Stop() error { return nil }

// open opens a scope of the store, counted by the metrics.
func (a *App) open(scope string, maxEntries int) (Store, func(), error) {
	st, release, err := a.store.OpenScope(scope, maxEntries)
	if err != nil {
		return nil, nil, fmt.Errorf("replay store %s: scope %q: %w", a.backendName, scope, err)
	}
	logger := a.logger
	if logger == nil {
		logger = caddy.Log().Named("replay")
	}
	return newCounted(st, a.backendName, scope, logger), release, nil
}

// Interface guards
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
)
