package replay

import (
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/obgate/obgate/internal/caddyfileargs"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("replay_store", parseGlobalOption)
}

// parseGlobalOption sets up the replay app from the global option. Syntax:
//
//	replay_store memory
//	replay_store redis <host:port> {
//		password   <secret>        # e.g. {env.OBGATE_REDIS_PASSWORD}
//		username   <user>          # an ACL user
//		db         <n>
//		tls
//		trusted_ca <pem-file...>   # private CA of the Redis servers (with tls); repeatable
//		server_name <name>         # the name to verify (with tls); default the address's host
//		key_prefix <prefix>        # default obgate:
//		timeout    <duration>      # default 500ms
//	}
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("replay_store: already specified")
	}
	d.Next() // the option name
	var kind string
	if !d.Args(&kind) {
		return nil, d.ArgErr()
	}
	var store any
	switch kind {
	case "memory":
		if d.NextArg() {
			return nil, d.ArgErr()
		}
		if d.NextBlock(0) {
			return nil, d.Errf("replay_store memory: takes no block (unrecognized subdirective %s)", d.Val())
		}
		store = struct {
			Backend string `json:"backend"`
		}{"memory"}
	case "redis":
		rs, err := parseRedis(d)
		if err != nil {
			return nil, err
		}
		store = struct {
			Backend string `json:"backend"`
			*RedisStore
		}{"redis", rs}
	default:
		return nil, d.Errf("replay_store: %q is neither memory nor redis", kind)
	}
	app := App{StoreRaw: caddyconfig.JSON(store, nil)}
	return httpcaddyfile.App{Name: "replay", Value: caddyconfig.JSON(app, nil)}, nil
}

// parseRedis reads `redis <host:port> { ... }` after the store kind.
func parseRedis(d *caddyfile.Dispenser) (*RedisStore, error) {
	rs := new(RedisStore)
	if !d.Args(&rs.Address) {
		return nil, d.Err("replay_store redis: an address (host:port) is required")
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		name := d.Val()
		if seen[name] && name != "trusted_ca" {
			return nil, d.Errf("%s: already specified", name)
		}
		seen[name] = true
		switch name {
		case "trusted_ca":
			files := d.RemainingArgs()
			if len(files) == 0 {
				return nil, d.ArgErr()
			}
			rs.TrustedCA = append(rs.TrustedCA, files...)
		case "server_name":
			if err := caddyfileargs.One(d, &rs.ServerName); err != nil {
				return nil, err
			}
		case "password":
			if err := caddyfileargs.One(d, &rs.Password); err != nil {
				return nil, err
			}
		case "username":
			if err := caddyfileargs.One(d, &rs.Username); err != nil {
				return nil, err
			}
		case "key_prefix":
			if err := caddyfileargs.One(d, &rs.KeyPrefix); err != nil {
				return nil, err
			}
		case "db":
			var s string
			if err := caddyfileargs.One(d, &s); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return nil, d.Errf("db: %q is not a database number", s)
			}
			rs.DB = n
		case "tls":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			rs.TLS = true
		case "timeout":
			dur, err := caddyfileargs.Duration(d, false)
			if err != nil {
				return nil, err
			}
			rs.Timeout = dur
		default:
			return nil, d.Errf("replay_store redis: unrecognized subdirective %s", name)
		}
	}
	return rs, nil
}
