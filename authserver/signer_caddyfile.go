package authserver

import (
	"encoding/json"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/obgate/obgate/internal/caddyfileargs"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("jwt_signer", parseSignerOption)
}

// parseSignerOption sets up one named signer of the jwt_signer app; the option is repeatable.
// Syntax:
//
//	jwt_signer <name> {
//		algorithm ES256 | PS256 | EdDSA
//		rotate_every <duration>
//		key <path>
//		jwks_max_age <duration>
//		refresh_interval <duration>
//		max_token_lifetime <duration>
//		rsa_bits <bits>
//	}
func parseSignerOption(d *caddyfile.Dispenser, existing any) (any, error) {
	app := new(SignerApp)
	if prev, ok := existing.(httpcaddyfile.App); ok {
		if err := json.Unmarshal(prev.Value, app); err != nil {
			return nil, err
		}
	}
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: appID, Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile adds one `jwt_signer <name> { ... }` to the app.
func (a *SignerApp) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume option name
	var name string
	if !d.Args(&name) || d.NextArg() {
		return d.Err("jwt_signer: want jwt_signer <name> { ... }")
	}
	if _, dup := a.Signers[name]; dup {
		return d.Errf("jwt_signer %s: configured more than once", name)
	}
	sc := new(SignerConfig)
	for d.NextBlock(0) {
		if err := sc.unmarshalSubdirective(d); err != nil {
			return d.Errf("jwt_signer %s: %v", name, err)
		}
	}
	if a.Signers == nil {
		a.Signers = make(map[string]*SignerConfig)
	}
	a.Signers[name] = sc
	return nil
}

func (sc *SignerConfig) unmarshalSubdirective(d *caddyfile.Dispenser) error {
	var err error
	switch name := d.Val(); name {
	case "algorithm":
		err = caddyfileargs.One(d, &sc.Algorithm)
	case "key":
		err = caddyfileargs.One(d, &sc.Key)
	case "rotate_every", "jwks_max_age", "refresh_interval", "max_token_lifetime":
		dst := map[string]*caddy.Duration{
			"rotate_every": &sc.RotateEvery, "jwks_max_age": &sc.JWKSMaxAge,
			"refresh_interval": &sc.RefreshInterval, "max_token_lifetime": &sc.MaxTokenLifetime,
		}[name]
		*dst, err = caddyfileargs.Duration(d, *dst != 0)
	case "rsa_bits":
		sc.RSABits, err = caddyfileargs.PositiveInt(d, sc.RSABits != 0, "bits")
	default:
		return d.Errf("unrecognized subdirective: %s", name)
	}
	return err
}
