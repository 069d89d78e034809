package replay

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	// go-redis writes its own messages (failed dials, pool events) with the standard library's
	// logger to stderr; send them to Caddy's log instead, at debug level: the store's failures are
	// already counted and warned about per scope (metrics.go). The messages name addresses and
	// connection numbers, never credentials.
	redis.SetLogger(redisLogger{})
}

// redisLogger adapts go-redis's logging to Caddy's logger.
type redisLogger struct{}

func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	if c := caddy.Log().Named("replay.redis").Check(zap.DebugLevel, "go-redis"); c != nil {
		c.Write(zap.String("message", fmt.Sprintf(format, v...)))
	}
}
