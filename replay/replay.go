// Package replay is obgate's single-use store as a Caddy app: every single-use check of the
// project (request_signature replay, the dcr request jti, the token endpoint's assertion jti)
// claims its values through Open, from the one store the `replay_store` global option
// configures: memory (the default, per process) or Redis (one store for every instance).
//
// The rule every store keeps: a live value is never forgotten. A full memory store or an
// unreachable Redis makes Claim fail (ErrFull, ErrUnavailable), and the caller refuses the
// request with 503 and Retry-After; nothing reaches the backend unchecked.
//
// The stores themselves are in replay/backend, which does not import Caddy; this package adapts
// them to Caddy: config, Caddyfile, the pool that keeps memory state across config reloads, and
// metrics (obgate_replay_claims_total{backend,scope,result}).
package replay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/replay/backend"
)

// Store claims single-use values. id is already a hash of the value (callers hash with SHA-256);
// until is when the value stops being acceptable. Claim returns nil for a fresh value (now
// remembered until until), or one of the errors below; every error means: refuse the request.
type Store interface {
	Claim(ctx context.Context, id [32]byte, until time.Time) error
}

// The errors of Claim; test them with errors.Is.
var (
	// ErrReplayed means the value was already claimed and is still live.
	ErrReplayed = backend.ErrReplayed

	// ErrFull means a bounded store has no room for another live value (fail closed: 503 or 429
	// with Retry-After).
	ErrFull = backend.ErrFull

	// ErrUnavailable means the store cannot answer (Redis down or slow): 503 with Retry-After.
	ErrUnavailable = backend.ErrUnavailable

	// ErrLifetime means until is not in the future or lies more than MaxLifetime ahead. Callers
	// reject such lifetimes themselves before they claim.
	ErrLifetime = backend.ErrLifetime
)

// MaxLifetime is the longest any store remembers a value; callers refuse values that live longer.
const MaxLifetime = backend.MaxLifetime

// DefaultMaxEntries is the memory store's bound per scope when Open is given 0.
const DefaultMaxEntries = backend.DefaultMaxEntries

// RetryAfter is the delay to put in Retry-After for a request refused with err (ErrFull: until
// the oldest live value expires; otherwise one second).
func RetryAfter(err error) time.Duration { return backend.RetryAfter(err) }

// Open returns the store of one scope (e.g. "request_signature/<policy>", "dcr/<scope>",
// "token_endpoint/<name>") from the configured replay_store app (memory by default), bounded to
// maxEntries for the memory backend (0 = DefaultMaxEntries), and the release func to call from
// Cleanup (calling it again does nothing).
//
// Values claimed in one scope are unknown to every other scope, and with the memory backend each
// scope has its own bound, so filling one never refuses another's values. A scope's memory state
// survives config reloads: a reloaded config that opens the same scope keeps its values.
func Open(ctx caddy.Context, scope string, maxEntries int) (Store, func(), error) {
	if scope == "" {
		return nil, nil, errors.New("replay: a scope is required")
	}
	if maxEntries < 0 {
		return nil, nil, fmt.Errorf("replay: scope %q: max entries must not be negative", scope)
	}
	app, err := appFrom(ctx)
	if err != nil {
		return nil, nil, err
	}
	return app.open(scope, maxEntries)
}

// appFrom returns the replay app of the config being provisioned, loading it with the memory
// default when the config does not configure it. A bare caddy.Context without a config (module
// unit tests) gets a process-wide memory app.
func appFrom(ctx caddy.Context) (a *App, err error) {
	bare := false
	func() {
		defer func() {
			if recover() != nil { // a bare caddy.Context: no config to load an app into
				bare = true
			}
		}()
		var v any
		if v, err = ctx.App("replay"); err == nil {
			a = v.(*App)
		}
	}()
	if bare {
		return bareApp()
	}
	return a, err
}

var bare struct {
	once sync.Once
	app  *App
}

// bareApp is the memory app used without a config.
func bareApp() (*App, error) {
	bare.once.Do(func() {
		bare.app = &App{store: new(MemoryStore), backendName: "memory"}
	})
	return bare.app, nil
}
