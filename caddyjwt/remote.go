package caddyjwt

import (
	"sync"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/caddyjwt/jwks"
	"github.com/obgate/obgate/caddyjwt/keys"
)

// remoteSources returns the builder of key sources for jwks_url and discovery. Each source is a
// lease on the process-wide cache for its URL (the jwks app): held records the leases, which the
// module releases in Cleanup, or provision releases when it fails. Nothing is fetched here: a
// new cache starts fetching when the config starts, and a cache kept from the previous config
// keeps its keys. An issuer's trusted_ca goes with its URLs.
func remoteSources(ctx caddy.Context, logger *zap.Logger, held *remoteLeases, issuers []IssuerConfig) remoteSourceFunc {
	registerVerificationMetrics(ctx.GetMetricsRegistry())
	trusted := make(map[string][]string, len(issuers))
	for _, ic := range issuers {
		trusted[ic.Issuer] = ic.TrustedCA
	}
	return func(kind, url, issuer string) (keys.Source, error) {
		app, err := jwks.FromContext(ctx)
		if err != nil {
			return nil, err
		}
		lease, err := app.Acquire(jwks.Spec{Kind: kind, URL: url, Issuer: issuer, TrustedCA: trusted[issuer]})
		if err != nil {
			return nil, err
		}
		held.add(lease)
		logger.Debug("remote keys", zap.String("issuer", issuer), zap.String(kind, url))
		return lease.Source(), nil
	}
}

// remoteLeases are the remote key caches an authenticator uses.
type remoteLeases struct {
	mu     sync.Mutex
	leases []*jwks.Lease
}

func (r *remoteLeases) add(l *jwks.Lease) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leases = append(r.leases, l)
}

// release gives every lease back; it is safe on nil and to call twice.
func (r *remoteLeases) release() {
	if r == nil {
		return
	}
	r.mu.Lock()
	ls := r.leases
	r.leases = nil
	r.mu.Unlock()
	for _, l := range ls {
		l.Release()
	}
}
