package replay

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/obgate/obgate/internal/metricsreg"
)

// Claim results, the values of the result label.
const (
	resultFresh       = "fresh"       // first claim: accepted
	resultReplayed    = "replayed"    // claimed before and still live: refused
	resultFull        = "full"        // a memory scope full of live values: refused, 503
	resultUnavailable = "unavailable" // the store did not answer: refused, 503
	resultLifetime    = "lifetime"    // a lifetime out of bounds: refused
)

// The collectors are process-wide and registered in the registry of every config (Caddy makes a
// new registry per config). Labels come from configuration (backend, scope) and the closed set of
// results, never from requests.
var metrics struct {
	once   sync.Once
	claims *prometheus.CounterVec
}

func initMetrics() {
	metrics.once.Do(func() {
		metrics.claims = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "obgate",
			Subsystem: "replay",
			Name:      "claims_total",
			Help:      "Claims of single-use values by store backend, scope and result (fresh, replayed, full, unavailable, lifetime).",
		}, []string{"backend", "scope", "result"})
	})
}

// registerMetrics registers the collectors in a config's registry, tolerating a second call.
func registerMetrics(reg *prometheus.Registry) {
	initMetrics()
	metricsreg.Register(reg, "replay", metrics.claims)
}

// counted is a scope's store with its claims counted and store failures logged.
type counted struct {
	inner  Store
	scope  string
	logger *zap.Logger

	fresh, replayed, full, unavailable, lifetime prometheus.Counter

	lastWarn atomic.Int64 // unix nanos of the last failure logged at warn level
}

func newCounted(inner Store, backendName, scope string, logger *zap.Logger) *counted {
	initMetrics()
	c := &counted{inner: inner, scope: scope, logger: logger}
	for _, r := range []struct {
		dst    *prometheus.Counter
		result string
	}{{&c.fresh, resultFresh}, {&c.replayed, resultReplayed}, {&c.full, resultFull}, {&c.unavailable, resultUnavailable}, {&c.lifetime, resultLifetime}} {
		*r.dst = metrics.claims.WithLabelValues(backendName, scope, r.result) // exported at 0 from the start
	}
	return c
}

// warnEvery is the least time between two warnings of one scope: an outage costs a few log lines,
// not one per request.
const warnEvery = 10 * time.Second

// Claim implements Store.
func (c *counted) Claim(ctx context.Context, id [32]byte, until time.Time) error {
	err := c.inner.Claim(ctx, id, until)
	switch {
	case err == nil:
		c.fresh.Inc()
	case errors.Is(err, ErrReplayed):
		c.replayed.Inc()
	case errors.Is(err, ErrFull):
		c.full.Inc()
		c.warn("single-use store full of live values: refusing requests", err)
	case errors.Is(err, ErrLifetime):
		c.lifetime.Inc()
	default:
		c.unavailable.Inc()
		c.warn("single-use store unavailable: refusing requests", err)
	}
	return err
}

// warn logs a store failure at most once per warnEvery.
func (c *counted) warn(msg string, err error) {
	now := time.Now().UnixNano()
	last := c.lastWarn.Load()
	if now-last < int64(warnEvery) || !c.lastWarn.CompareAndSwap(last, now) {
		return
	}
	c.logger.Warn(msg, zap.String("scope", c.scope), zap.Error(err))
}
