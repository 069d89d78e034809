package authserver

import (
	"encoding/json"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/internal/caddyfileargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("oauth_metadata", parseMetadata)
	httpcaddyfile.RegisterDirectiveOrder("oauth_metadata", httpcaddyfile.Before, "respond")
}

// parseMetadata sets up the handler from Caddyfile tokens. Syntax:
//
//	oauth_metadata [<matcher>] {
//		issuer <url>
//		token_endpoint <url>
//		jwks_uri <url>
//		registration_endpoint <url>
//		from <token_endpoint-name>
//		field <name> <json-value>
//	}
//
// A JSON value with spaces or quotes goes in backticks: field scopes_supported `["accounts"]`.
func parseMetadata(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var m Metadata
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return &m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens.
func (m *Metadata) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "issuer":
			err = caddyfileargs.One(d, &m.Issuer)
		case "token_endpoint":
			err = caddyfileargs.One(d, &m.TokenEndpoint)
		case "jwks_uri":
			err = caddyfileargs.One(d, &m.JWKSURI)
		case "registration_endpoint":
			err = caddyfileargs.One(d, &m.RegistrationEndpoint)
		case "from":
			err = caddyfileargs.One(d, &m.From)
		case "field":
			var name, value string
			if !d.Args(&name, &value) || d.NextArg() {
				return d.Errf("field: want <name> <json-value> (a value with spaces in backticks)")
			}
			if !json.Valid([]byte(value)) {
				return d.Errf("field %s: not a JSON value: %s", name, value)
			}
			if m.Fields == nil {
				m.Fields = make(map[string]json.RawMessage)
			}
			if _, dup := m.Fields[name]; dup {
				return d.Errf("field %s: already specified", name)
			}
			m.Fields[name] = json.RawMessage(value)
		default:
			return d.Errf("unrecognized subdirective: %s", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Metadata)(nil)
