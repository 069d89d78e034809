// Package redisstore is the Redis single-use store: one atomic SET NX PX per claim, shared by every
// gateway instance that uses the same Redis. It lives apart from package backend so that engines
// which only need the store's interface and errors do not depend on the Redis client.
package redisstore

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/obgate/obgate/replay/backend"
)

// DefaultRedisTimeout bounds one Claim against Redis, connecting included.
const DefaultRedisTimeout = 500 * time.Millisecond

// DefaultKeyPrefix starts every key the Redis store writes.
const DefaultKeyPrefix = "obgate:"

// RedisOptions configure a Redis store.
type RedisOptions struct {
	// Addr is the server's host:port. Required.
	Addr string

	// Password authenticates the connection (AUTH); empty for none. Username selects an ACL user.
	Username, Password string

	// DB is the logical database (SELECT). Default: 0.
	DB int

	// TLS, when set, connects over TLS with this configuration.
	TLS *tls.Config

	// KeyPrefix starts every key. Default: DefaultKeyPrefix.
	KeyPrefix string

	// Timeout bounds one Claim (a connection it needs included); past it Claim fails with
	// ErrUnavailable. Default: DefaultRedisTimeout.
	Timeout time.Duration

	// Clock returns the current time, for the TTL of a claim. Nil means time.Now.
	Clock func() time.Time
}

// Redis is a Store in Redis, shared by every process that uses the same server, database and key
// prefix. Each Claim is one atomic command, SET <key> 1 NX PX <ttl>: the first instance to claim a
// value wins, every other instance sees it claimed until its TTL ends, which is the value's own
// remaining lifetime. Keys are the prefix and a SHA-256 of the scope and the value's id, so they
// reveal nothing and have a fixed length.
//
// A Claim that Redis does not answer within the timeout fails with ErrUnavailable; nothing is
// retried (a retried SET NX could report a fresh value as replayed). Connections are made again
// as needed, so when Redis comes back, claims succeed again without any reload.
type Redis struct {
	client   *redis.Client
	pipeline *pipeliner
	prefix   string
	clock    func() time.Time
}

// NewRedis returns a Redis store. It does not connect: the first Claim does.
func NewRedis(o RedisOptions) (*Redis, error) {
	if o.Addr == "" {
		return nil, errors.New("redis: an address (host:port) is required")
	}
	if o.DB < 0 {
		return nil, errors.New("redis: db must not be negative")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultRedisTimeout
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	client := redis.NewClient(&redis.Options{
		Addr:                  o.Addr,
		Username:              o.Username,
		Password:              o.Password,
		DB:                    o.DB,
		TLSConfig:             o.TLS,
		Protocol:              2,
		DialTimeout:           o.Timeout,
		DialerRetries:         1, // a refused dial or a bad certificate fails the claim at once, with its reason
		ReadTimeout:           o.Timeout,
		WriteTimeout:          o.Timeout,
		PoolTimeout:           o.Timeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1, // a retried SET NX could see its own first attempt as a replay
		DisableIdentity:       true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	})
	return &Redis{client: client, pipeline: newPipeliner(client, o.Timeout), prefix: o.KeyPrefix, clock: o.Clock}, nil
}

// Scope returns the store of one scope: values claimed in one scope are unknown to another.
func (r *Redis) Scope(scope string) backend.Store {
	return &redisScope{r: r, keyHashPrefix: keyHashPrefix(scope)}
}

// Close closes the connections.
func (r *Redis) Close() error { return r.client.Close() }

// Stats returns how many pipelines the store has sent and how many claims they carried.
func (r *Redis) Stats() (pipelines, claims uint64) {
	return r.pipeline.pipelines.Load(), r.pipeline.claims.Load()
}

type redisScope struct {
	r             *Redis
	keyHashPrefix []byte
}

// Claim implements Store with one SET NX PX.
func (s *redisScope) Claim(ctx context.Context, id [32]byte, until time.Time) error {
	ttl, err := backend.Lifetime(s.r.clock(), until)
	if err != nil {
		return err
	}
	// PX takes whole milliseconds; round up so the key never expires before the value does.
	ms := int64(math.Ceil(float64(ttl) / float64(time.Millisecond)))
	return s.r.pipeline.claim(ctx, s.key(id), ms)
}

// keyHashPrefix is what a scope's keys hash before the id: the scope, length-prefixed so that no
// two (scope, id) pairs share a key.
func keyHashPrefix(scope string) []byte {
	return fmt.Appendf(nil, "obgate-replay\x00%d\x00%s\x00", len(scope), scope)
}

// key is the prefix and the hex SHA-256 of the scope and the id.
func (s *redisScope) key(id [32]byte) string {
	var buf [192]byte // on the stack for the scopes the project uses
	sum := sha256.Sum256(append(append(buf[:0], s.keyHashPrefix...), id[:]...))
	key := make([]byte, len(s.r.prefix)+hex.EncodedLen(len(sum)))
	hex.Encode(key[copy(key, s.r.prefix):], sum[:])
	return string(key)
}
