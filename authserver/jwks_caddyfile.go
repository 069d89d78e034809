package authserver

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("jwt_jwks", parseJWKSCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("jwt_jwks", httpcaddyfile.Before, "respond")
}

// parseJWKSCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	jwt_jwks [<matcher>] <signer>
func parseJWKSCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var j JWKS
	err := j.UnmarshalCaddyfile(h.Dispenser)
	return &j, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens.
func (j *JWKS) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if !d.Args(&j.Signer) || d.NextArg() {
		return d.Err("jwt_jwks: want jwt_jwks <signer>")
	}
	if d.NextBlock(0) {
		return d.Errf("jwt_jwks: unexpected block: %s", d.Val())
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*JWKS)(nil)
