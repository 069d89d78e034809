package replay

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/internal/trustedca"
	"github.com/obgate/obgate/replay/backend/redisstore"
)

func init() {
	caddy.RegisterModule(RedisStore{})
}

// redisClients holds one client (connection pool) per server and credentials for the whole
// process, so a config reload keeps its connections.
var redisClients = caddy.NewUsagePool()

// RedisStore keeps claimed values in Redis, one store for every gateway instance that uses the
// same server, database and key prefix: a value claimed on one instance is refused on every
// other. Each claim is one atomic SET <prefix><hash> 1 NX PX <ttl>, the TTL being the value's
// own remaining lifetime. When Redis does not answer within the timeout, the claim fails and the
// request is refused with 503 and Retry-After; when Redis is back, claims succeed again without a
// reload. Nothing is connected at provision (`caddy validate` reaches no server).
type RedisStore struct {
	// Address is the server's host:port. Required. Placeholders such as {env.REDIS_ADDR} are
	// expanded at provision.
	Address string `json:"address,omitempty"`

	// Username is the ACL user to authenticate as. Default: none (the default user).
	Username string `json:"username,omitempty"`

	// Password authenticates the connection, e.g. {env.OBGATE_REDIS_PASSWORD}: placeholders are
	// expanded at provision, so the config (and `caddy adapt`) holds only what was written. It is
	// never logged. Default: none.
	Password string `json:"password,omitempty"`

	// DB is the logical database number. Default: 0.
	DB int `json:"db,omitempty"`

	// TLS connects over TLS (1.2 or later), verifying the server's certificate against the system
	// roots (so SSL_CERT_FILE works), or against trusted_ca when set, for server_name. Default: off.
	TLS bool `json:"tls,omitempty"`

	// TrustedCA lists PEM files of the certificate authorities that verify the server's TLS
	// certificate, such as an operator's private CA for its Redis servers. When set, only these are
	// trusted, not the system roots. The files are read at provision (placeholders in the paths
	// expanded); a missing or unparseable file fails provision. Requires tls. Default: none (the
	// system roots).
	TrustedCA []string `json:"trusted_ca,omitempty"`

	// ServerName is the name the server's TLS certificate must be valid for (a DNS name, or an IP
	// address matched against the certificate's IP addresses); placeholders are expanded at
	// provision. Requires tls. Default: the address's host.
	ServerName string `json:"server_name,omitempty"`

	// KeyPrefix starts every key the store writes. Default: obgate:
	KeyPrefix string `json:"key_prefix,omitempty"`

	// Timeout bounds one claim, connecting included; past it the request is refused with 503.
	// Between 10ms and 5s. Default: 500ms.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	client  *redisstore.Redis
	release func()
}

// CaddyModule returns the Caddy module information.
func (RedisStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "replay.stores.redis",
		New: func() caddy.Module { return new(RedisStore) },
	}
}

// Timeout bounds.
const (
	minRedisTimeout = 10 * time.Millisecond
	maxRedisTimeout = 5 * time.Second
)

// Provision expands placeholders, checks the settings and takes the shared client of this server
// and credentials (creating it without connecting).
func (s *RedisStore) Provision(caddy.Context) error {
	repl := caddy.NewReplacer()
	addr := repl.ReplaceKnown(s.Address, "")
	if addr == "" {
		return errors.New("redis: an address (host:port) is required")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("redis: address %q: want host:port", s.Address)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("redis: address %q: bad port", s.Address)
	}
	if s.DB < 0 {
		return errors.New("redis: db: must not be negative")
	}
	if s.KeyPrefix == "" {
		s.KeyPrefix = redisstore.DefaultKeyPrefix
	}
	timeout := time.Duration(s.Timeout)
	if timeout == 0 {
		timeout = redisstore.DefaultRedisTimeout
	}
	if timeout < minRedisTimeout || timeout > maxRedisTimeout {
		return fmt.Errorf("redis: timeout: must be between %v and %v", minRedisTimeout, maxRedisTimeout)
	}
	opts := redisstore.RedisOptions{
		Addr:      addr,
		Username:  repl.ReplaceKnown(s.Username, ""),
		Password:  repl.ReplaceKnown(s.Password, ""),
		DB:        s.DB,
		KeyPrefix: s.KeyPrefix,
		Timeout:   timeout,
	}
	tlsKey, err := s.provisionTLS(repl, host, &opts)
	if err != nil {
		return err
	}
	key := clientKey(opts, tlsKey)
	v, _, err := redisClients.LoadOrNew(key, func() (caddy.Destructor, error) {
		c, err := redisstore.NewRedis(opts)
		if err != nil {
			return nil, err
		}
		return redisClient{c}, nil
	})
	if err != nil {
		return err
	}
	s.client = v.(redisClient).Redis
	var once sync.Once
	s.release = func() { once.Do(func() { _, _ = redisClients.Delete(key) }) }
	return nil
}

// provisionTLS checks the TLS settings and, with tls on, sets opts.TLS: the server name to verify
// (server_name, else the address's host) and the trusted CAs (trusted_ca, else the system roots),
// loaded now. It returns what identifies these settings in the client's pool key ("" without
// TLS).
func (s *RedisStore) provisionTLS(repl *caddy.Replacer, host string, opts *redisstore.RedisOptions) (string, error) {
	if !s.TLS {
		switch {
		case len(s.TrustedCA) > 0:
			return "", errors.New("redis: trusted_ca: only applies with tls, which is off")
		case s.ServerName != "":
			return "", errors.New("redis: server_name: only applies with tls, which is off")
		}
		return "", nil
	}
	name := strings.Trim(host, "[]")
	if s.ServerName != "" {
		if name = repl.ReplaceKnown(s.ServerName, ""); name == "" || strings.ContainsAny(name, " \t/") {
			return "", fmt.Errorf("redis: server_name %q: want a host name or an IP address", s.ServerName)
		}
	}
	paths := make([]string, len(s.TrustedCA))
	for i, p := range s.TrustedCA {
		if paths[i] = repl.ReplaceKnown(p, ""); paths[i] == "" {
			return "", fmt.Errorf("redis: trusted_ca %q: empty path", p)
		}
	}
	cas, err := trustedca.Load("trusted_ca", paths)
	if err != nil {
		return "", fmt.Errorf("redis: %w", err)
	}
	opts.TLS = &tls.Config{ServerName: name, RootCAs: cas.Pool, MinVersion: tls.VersionTLS12}
	return fmt.Sprintf("tls server_name=%q trusted_ca=%q", name, cas.Digest), nil
}

// clientKey identifies a client by everything that shapes its connections, the TLS settings
// (tlsKey) included. The credentials enter only as a hash, so the pool's keys hold no secret.
func clientKey(o redisstore.RedisOptions, tlsKey string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q %d %q %d %q", o.Addr, o.Username, o.Password, o.DB, tlsKey, o.Timeout, o.KeyPrefix)
	return hex.EncodeToString(h.Sum(nil))
}

// OpenScope implements Backend; Redis is not bounded by entries, so maxEntries is ignored.
func (s *RedisStore) OpenScope(scope string, _ int) (Store, func(), error) {
	if s.client == nil {
		return nil, nil, errors.New("redis: not provisioned")
	}
	return s.client.Scope(scope), func() {}, nil
}

// Cleanup gives the shared client back; the last user's release closes its connections.
func (s *RedisStore) Cleanup() error {
	if s.release != nil {
		s.release()
	}
	return nil
}

// redisClient adapts a client to the usage pool: destructing it closes the connections.
type redisClient struct{ *redisstore.Redis }

func (c redisClient) Destruct() error { return c.Close() }

// Interface guards
var (
	_ Backend            = (*RedisStore)(nil)
	_ caddy.Provisioner  = (*RedisStore)(nil)
	_ caddy.CleanerUpper = (*RedisStore)(nil)
	_ caddy.Destructor   = redisClient{}
)
