package caddyjwt

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/internal/caddyfileargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("request_signature", parseRequestSignature)
	// RegisterDirectiveOrder can only anchor to a standard directive: with jwt_auth After
	// basic_auth this gives basic_auth, jwt_auth, request_signature, forward_auth.
	httpcaddyfile.RegisterDirectiveOrder("request_signature", httpcaddyfile.Before, "forward_auth")
	httpcaddyfile.RegisterHandlerDirective("jwt_keys", parseKeysAPI)
	httpcaddyfile.RegisterDirectiveOrder("jwt_keys", httpcaddyfile.Before, "respond")
	httpcaddyfile.RegisterHandlerDirective("jwt_check", parseCheck)
	httpcaddyfile.RegisterDirectiveOrder("jwt_check", httpcaddyfile.Before, "respond")
}

// parseRequestSignature sets up the handler from Caddyfile tokens. Syntax:
//
//	request_signature [<matcher>] {
//		header <name> [<scheme>]
//		key <path> [<kid>]
//		jwks_url <url>
//		discovery <url>
//		registry <counterparty...>
//		issuer <iss> { ... }
//		profile tokenio | ob_jws | detached
//		algorithms <alg...>
//		max_body <size>
//		leeway <duration>
//		path_form decoded | escaped
//		version <api-version>
//		trust_anchor <tan...>
//		replay [<max_entries>]
//		realm <realm>
//		name <id>
//	}
func parseRequestSignature(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var rs RequestSignature
	err := rs.UnmarshalCaddyfile(h.Dispenser)
	return &rs, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens.
func (h *RequestSignature) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "header":
			args := d.RemainingArgs()
			if h.Header != "" {
				return d.Err("header: already specified")
			}
			if len(args) < 1 || len(args) > 2 {
				return d.Err("header: want <name> [<scheme>]")
			}
			h.Header = args[0]
			if len(args) == 2 {
				h.Scheme = args[1]
			}
		case "key":
			path, kid, err := caddyfileargs.KeyPath(d, "")
			if err != nil {
				return err
			}
			h.Keys = append(h.Keys, KeyFile{Path: path, KeyID: kid})
		case "jwks_url":
			err = caddyfileargs.One(d, &h.JWKSURL)
		case "discovery":
			err = caddyfileargs.One(d, &h.Discovery)
		case "registry":
			var cps []string
			cps, err = caddyfileargs.List(d, nil)
			h.Registry = append(h.Registry, cps...)
		case "issuer":
			var c Config // the issuer block is jwt_auth's
			if err = c.unmarshalIssuer(d); err == nil {
				h.Issuers = append(h.Issuers, c.Issuers...)
			}
		case "profile":
			err = caddyfileargs.One(d, &h.Profile)
		case "algorithms":
			h.Algorithms, err = caddyfileargs.List(d, h.Algorithms)
		case "max_body":
			h.MaxBody, err = caddyfileargs.Size(d, h.MaxBody != 0, maxBodyCap)
		case "leeway":
			var dur caddy.Duration
			dur, err = caddyfileargs.Duration(d, h.Leeway != nil)
			h.Leeway = &dur
		case "path_form":
			err = caddyfileargs.One(d, &h.PathForm)
		case "version":
			err = caddyfileargs.One(d, &h.Version)
		case "trust_anchor":
			var tans []string
			tans, err = caddyfileargs.List(d, nil)
			h.TrustAnchors = append(h.TrustAnchors, tans...)
		case "replay":
			err = parseReplay(d, h)
		case "realm":
			err = caddyfileargs.One(d, &h.Realm)
		case "name":
			err = caddyfileargs.One(d, &h.Name)
		default:
			return d.Errf("unrecognized subdirective: %s", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// parseKeysAPI sets up jwt_keys. Syntax:
//
//	jwt_keys [<matcher>] {
//		max_body <size>
//		max_keys <n>
//	}
func parseKeysAPI(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var k KeysAPI
	h.Next()
	if h.NextArg() {
		return nil, h.ArgErr()
	}
	for nesting := h.Nesting(); h.NextBlock(nesting); {
		var err error
		switch h.Val() {
		case "max_body":
			k.MaxBody, err = caddyfileargs.Size(h.Dispenser, k.MaxBody != 0, maxBodyCap)
		case "max_keys":
			err = parseMaxKeys(h, &k.MaxKeys)
		default:
			return nil, h.Errf("unrecognized subdirective: %s", h.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return &k, nil
}

// parseCheck sets up jwt_check. Syntax:
//
//	jwt_check [<matcher>] [<policy>] {
//		policy <name>
//		max_body <size>
//	}
func parseCheck(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var c Check
	h.Next()
	if h.NextArg() {
		c.Policy = h.Val()
		if h.NextArg() {
			return nil, h.ArgErr()
		}
	}
	for nesting := h.Nesting(); h.NextBlock(nesting); {
		var err error
		switch h.Val() {
		case "policy":
			err = caddyfileargs.One(h.Dispenser, &c.Policy)
		case "max_body":
			c.MaxBody, err = caddyfileargs.Size(h.Dispenser, c.MaxBody != 0, maxBodyCap)
		default:
			return nil, h.Errf("unrecognized subdirective: %s", h.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// parseMaxKeys reads `max_keys <n>`: a positive count, given once.
func parseMaxKeys(h httpcaddyfile.Helper, dst *int) error {
	n, err := caddyfileargs.PositiveInt(h.Dispenser, *dst != 0, "keys")
	if err != nil {
		return err
	}
	*dst = n
	return nil
}

// maxBodyCap bounds the max_body settings of the Caddyfile: a body is held in memory.
const maxBodyCap = 1 << 30

// Interface guard
var _ caddyfile.Unmarshaler = (*RequestSignature)(nil)
