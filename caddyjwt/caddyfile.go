package caddyjwt

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/internal/caddyfileargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("jwt_auth", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("jwt_auth", httpcaddyfile.After, "basic_auth")
}

// parseCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	jwt_auth [<matcher>] {
//		issuer <iss> {
//			key <path> [<kid>]
//			jwks_url <url>
//			discovery <url>
//			trusted_ca <pem-file...>
//			registry <counterparty...>
//			algorithms <alg...>
//			audience <aud...> | any
//			signer <name>
//			typ <media-type>
//		}
//		audience <aud...> | any
//		leeway <duration>
//		max_age <duration>
//		require <claim...>
//		claim <name> <value...>
//		token header <name> [<scheme>]
//		token cookie <name>
//		token query <name>
//		require_empty <header...>
//		strip_token
//		user_claim <claim>
//		realm <realm>
//		max_token_size <size>
//		name <id>
//		verified_cache <entries> | off
//		require_cert_binding
//		client_cert_header <header>
//	}
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var j JWTAuth
	err := j.UnmarshalCaddyfile(h.Dispenser)
	return &j, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens.
func (j *JWTAuth) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	return j.Config.unmarshalBlock(d)
}

// unmarshalBlock parses the directive's block into the config.
func (c *Config) unmarshalBlock(d *caddyfile.Dispenser) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "issuer":
			err = c.unmarshalIssuer(d)
		case "audience":
			err = unmarshalAudience(d, &c.Audience, &c.AnyAudience)
		case "leeway":
			var dur caddy.Duration
			dur, err = caddyfileargs.Duration(d, c.Leeway != nil)
			c.Leeway = &dur
		case "max_age":
			c.MaxAge, err = caddyfileargs.Duration(d, c.MaxAge != 0)
		case "require":
			var names []string
			names, err = caddyfileargs.List(d, nil)
			c.Require = append(c.Require, names...)
		case "claim":
			var args []string
			if args, err = caddyfileargs.List(d, nil); err == nil {
				if len(args) < 2 {
					return d.Err("claim: needs a claim name and at least one value")
				}
				c.Claims = append(c.Claims, ClaimRule{Name: args[0], Values: args[1:]})
			}
		case "token":
			err = c.unmarshalToken(d)
		case "require_empty":
			var hs []string
			hs, err = caddyfileargs.List(d, nil)
			c.RequireEmpty = append(c.RequireEmpty, hs...)
		case "strip_token":
			if d.NextArg() {
				return d.ArgErr()
			}
			if c.StripToken {
				return d.Err("strip_token: already specified")
			}
			c.StripToken = true
		case "user_claim":
			err = caddyfileargs.One(d, &c.UserClaim)
		case "realm":
			err = caddyfileargs.One(d, &c.Realm)
		case "name":
			err = caddyfileargs.One(d, &c.Name)
		case "verified_cache":
			if c.VerifiedCache != 0 {
				return d.Err("verified_cache: already specified")
			}
			var n string
			if err = caddyfileargs.One(d, &n); err == nil {
				if n == "off" {
					c.VerifiedCache = -1
				} else {
					c.VerifiedCache, err = caddyfileargs.ParsePositiveInt(d, "verified_cache", n, "tokens, nor off")
				}
			}
		case "require_cert_binding":
			if d.NextArg() {
				return d.ArgErr()
			}
			c.RequireCertBinding = true
		case "client_cert_header":
			err = caddyfileargs.One(d, &c.ClientCertHeader)
		case "max_token_size":
			var n int64
			n, err = caddyfileargs.Size(d, c.MaxTokenSize != 0, 1<<20)
			c.MaxTokenSize = int(n)
		default:
			return d.Errf("unrecognized subdirective: %s", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unmarshalIssuer parses `issuer <iss> { ... }`.
func (c *Config) unmarshalIssuer(d *caddyfile.Dispenser) error {
	var ic IssuerConfig
	if !d.Args(&ic.Issuer) {
		return d.ArgErr()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "key":
			path, kid, err := caddyfileargs.KeyPath(d, "issuer "+ic.Issuer)
			if err != nil {
				return err
			}
			ic.Keys = append(ic.Keys, KeyFile{Path: path, KeyID: kid})
		case "jwks_url":
			err = caddyfileargs.One(d, &ic.JWKSURL)
		case "discovery":
			err = caddyfileargs.One(d, &ic.Discovery)
		case "trusted_ca":
			var files []string
			files, err = caddyfileargs.List(d, nil)
			ic.TrustedCA = append(ic.TrustedCA, files...)
		case "registry":
			var cps []string
			cps, err = caddyfileargs.List(d, nil)
			ic.Registry = append(ic.Registry, cps...)
		case "algorithms":
			ic.Algorithms, err = caddyfileargs.List(d, ic.Algorithms)
		case "audience":
			err = unmarshalAudience(d, &ic.Audience, &ic.AnyAudience)
		case "signer":
			err = caddyfileargs.One(d, &ic.Signer)
		case "typ":
			err = caddyfileargs.One(d, &ic.Type)
		default:
			return d.Errf("issuer %s: unrecognized subdirective: %s", ic.Issuer, d.Val())
		}
		if err != nil {
			return d.Errf("issuer %s: %v", ic.Issuer, err)
		}
	}
	c.Issuers = append(c.Issuers, ic)
	return nil
}

// unmarshalToken parses `token header <name> [<scheme>]`, `token cookie <name>` and
// `token query <name>`.
func (c *Config) unmarshalToken(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) < 2 {
		return d.Err("token: want header <name> [<scheme>], cookie <name> or query <name>")
	}
	loc := TokenLocation{From: args[0], Name: args[1]}
	switch {
	case loc.From == "header" && len(args) <= 3:
		if len(args) == 3 {
			loc.Scheme = args[2]
		}
	case (loc.From == "cookie" || loc.From == "query") && len(args) == 2:
	default:
		return d.Err("token: want header <name> [<scheme>], cookie <name> or query <name>")
	}
	c.Tokens = append(c.Tokens, loc)
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*JWTAuth)(nil)
