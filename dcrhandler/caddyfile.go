package dcrhandler

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/internal/caddyfileargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("dcr", parseCaddyfile)
	// dcr answers the request itself, like respond; placed just before it so that a catch-all
	// respond in the same site does not shadow the registration endpoint.
	httpcaddyfile.RegisterDirectiveOrder("dcr", httpcaddyfile.Before, "respond")
}

// parseCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	dcr [<matcher>] {
//		profile generic | obie | cdr | revolut
//		directory <iss> {
//			key <path> [<kid>]
//			jwks_url <url>
//		}
//		audience <aud...>
//		algorithms <alg...>
//		ssa_max_age <duration>
//		redirect_uri_pattern <regex>
//		jwks_uri_allow <host...>
//		max_body <size>
//		name <dcr-name>
//		token_endpoint <token_endpoint-name>
//		replay_max_entries <n>
//		client_cert_header <header>
//		allow_unsigned_request       # generic: JSON + software statement without a signed request (unsafe)
//	}
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var d Handler
	err := d.UnmarshalCaddyfile(h.Dispenser)
	return &d, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "profile":
			err = caddyfileargs.One(d, &h.Profile)
		case "directory":
			err = h.unmarshalDirectory(d)
		case "audience":
			h.Audience, err = caddyfileargs.List(d, h.Audience)
		case "algorithms":
			h.Algorithms, err = caddyfileargs.List(d, h.Algorithms)
		case "ssa_max_age":
			h.SSAMaxAge, err = caddyfileargs.Duration(d, h.SSAMaxAge != 0)
		case "redirect_uri_pattern":
			err = caddyfileargs.One(d, &h.RedirectURIPattern)
		case "jwks_uri_allow":
			var hosts []string
			hosts, err = caddyfileargs.List(d, nil)
			h.JWKSURIAllow = append(h.JWKSURIAllow, hosts...)
		case "client_cert_header":
			err = caddyfileargs.One(d, &h.ClientCertHeader)
		case "allow_unsigned_request":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.AllowUnsignedRequest = true
		case "max_body":
			h.MaxBody, err = caddyfileargs.Size(d, h.MaxBody != 0, 16<<20)
		case "name":
			err = caddyfileargs.One(d, &h.Name)
		case "token_endpoint":
			err = caddyfileargs.One(d, &h.TokenEndpoint)
		case "replay_max_entries":
			h.ReplayMaxEntries, err = caddyfileargs.PositiveInt(d, h.ReplayMaxEntries != 0, "entries")
		default:
			return d.Errf("unrecognized subdirective: %s", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unmarshalDirectory parses `directory <iss> { key <path> [<kid>] | jwks_url <url> }`.
func (h *Handler) unmarshalDirectory(d *caddyfile.Dispenser) error {
	var dir Directory
	if !d.Args(&dir.Issuer) || d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "key":
			path, kid, err := caddyfileargs.KeyPath(d, "directory "+dir.Issuer)
			if err != nil {
				return err
			}
			dir.Keys = append(dir.Keys, KeyFile{Path: path, KeyID: kid})
		case "jwks_url":
			if err := caddyfileargs.One(d, &dir.JWKSURL); err != nil {
				return d.Errf("directory %s: %v", dir.Issuer, err)
			}
		default:
			return d.Errf("directory %s: unrecognized subdirective: %s", dir.Issuer, d.Val())
		}
	}
	h.Directories = append(h.Directories, dir)
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
