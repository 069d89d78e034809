package keys

import (
	"context"
	"time"
)

// FetchOnce runs one fetch of the Remote's JWK Set as a refresh would (bounded by FetchTimeout),
// without storing it.
func (r *Remote) FetchOnce(ctx context.Context) ([]Key, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.FetchTimeout)
	defer cancel()
	return r.fetchKeys(ctx, r.url)
}

// CacheLifetime exposes cacheLifetime to the tests.
var CacheLifetime = cacheLifetime
