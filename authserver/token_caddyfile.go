package authserver

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/internal/caddyfileargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("token_endpoint", parseTokenEndpoint)
	// token_endpoint answers the request itself, like respond; placed just before it so that a
	// catch-all respond in the same site does not shadow it.
	httpcaddyfile.RegisterDirectiveOrder("token_endpoint", httpcaddyfile.Before, "respond")
}

// parseTokenEndpoint sets up the handler from Caddyfile tokens. Syntax:
//
//	token_endpoint [<matcher>] {
//		signer <name>
//		issuer <url>
//		audience <aud...>
//		lifetime <duration>
//		clients <dcr-name...>
//		client <client_id> {
//			auth private_key_jwt | tls_client_auth
//			key <path> [<kid>]
//			jwks_url <url>
//			subject_dn <dn>
//			scope <scope...>
//			claim <name> <value...>
//		}
//		client_cert_header <header>
//		name <id>
//		max_body <size>
//	}
func parseTokenEndpoint(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var t TokenEndpoint
	err := t.UnmarshalCaddyfile(h.Dispenser)
	return &t, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens.
func (t *TokenEndpoint) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "signer":
			err = caddyfileargs.One(d, &t.Signer)
		case "issuer":
			err = caddyfileargs.One(d, &t.Issuer)
		case "audience":
			t.Audience, err = caddyfileargs.List(d, t.Audience)
		case "lifetime":
			t.Lifetime, err = caddyfileargs.Duration(d, t.Lifetime != 0)
		case "clients":
			var names []string
			names, err = caddyfileargs.List(d, nil)
			t.DCRClients = append(t.DCRClients, names...)
		case "client":
			err = t.unmarshalClient(d)
		case "client_cert_header":
			err = caddyfileargs.One(d, &t.ClientCertHeader)
		case "name":
			err = caddyfileargs.One(d, &t.Name)
		case "max_body":
			t.MaxBody, err = caddyfileargs.Size(d, t.MaxBody != 0, 1<<20)
		default:
			return d.Errf("unrecognized subdirective: %s", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unmarshalClient parses one `client <client_id> { ... }` block.
func (t *TokenEndpoint) unmarshalClient(d *caddyfile.Dispenser) error {
	var c StaticClient
	if !d.Args(&c.ClientID) || d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "auth":
			err = caddyfileargs.One(d, &c.Auth)
		case "key":
			path, kid, err := caddyfileargs.KeyPath(d, "client "+c.ClientID)
			if err != nil {
				return err
			}
			c.Keys = append(c.Keys, KeyFile{Path: path, KeyID: kid})
		case "jwks_url":
			err = caddyfileargs.One(d, &c.JWKSURL)
		case "subject_dn":
			err = caddyfileargs.One(d, &c.SubjectDN)
		case "scope":
			var scopes []string
			scopes, err = caddyfileargs.List(d, nil)
			c.Scope = append(c.Scope, scopes...)
		case "claim":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return d.Errf("client %s: claim: want <name> <value...>", c.ClientID)
			}
			if c.Claims == nil {
				c.Claims = make(map[string]any)
			}
			if _, dup := c.Claims[args[0]]; dup {
				return d.Errf("client %s: claim %s: already specified", c.ClientID, args[0])
			}
			if len(args) == 2 {
				c.Claims[args[0]] = args[1]
			} else {
				c.Claims[args[0]] = args[1:]
			}
		default:
			return d.Errf("client %s: unrecognized subdirective: %s", c.ClientID, d.Val())
		}
		if err != nil {
			return d.Errf("client %s: %v", c.ClientID, err)
		}
	}
	t.Clients = append(t.Clients, c)
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*TokenEndpoint)(nil)
