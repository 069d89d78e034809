package keys

import (
	"context"
	"time"
)

// FetchOnce runs one fetch of the Remote's JWK Set as a refresh would, without storing it.
func (r *Remote) FetchOnce(ctx context.Context) ([]Key, time.Duration, error) {
	return r.fetchKeys(ctx, r.url)
}

// CacheLifetime exposes cacheLifetime to the tests.
var CacheLifetime = cacheLifetime
