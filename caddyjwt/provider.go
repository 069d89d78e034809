package caddyjwt

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"

	"github.com/obgate/obgate/caddyjwt/verify"
)

func init() {
	caddy.RegisterModule(Provider{})
}

// Provider verifies JWTs for Caddy's authentication handler (http.handlers.authentication),
// with the same engine and configuration as jwt_auth.
//
// Inside that handler every failure becomes Caddy's 401 (and handle_errors runs): the provider
// sets the RFC 6750 challenge header, but it cannot pick 400, 403 or 503 as jwt_auth does.
// Keys that are unavailable are reported as a technical error, as Caddy's Authenticator
// contract asks. User metadata holds every top-level claim, so {http.auth.user.<claim>} works.
type Provider struct {
	Config

	auth *authenticator
}

// CaddyModule returns the Caddy module information.
func (Provider) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.authentication.providers.jwt",
		New: func() caddy.Module { return new(Provider) },
	}
}

// Provision loads the issuers' keys and builds the verifier.
func (p *Provider) Provision(ctx caddy.Context) error {
	a, err := p.Config.provision(ctx, ctx.Logger().With(zap.String("provider", "jwt")))
	if err != nil {
		return err
	}
	p.auth = a
	return nil
}

// Authenticate verifies the request's token.
func (p *Provider) Authenticate(w http.ResponseWriter, r *http.Request) (caddyauth.User, bool, error) {
	res, err := p.auth.authenticate(r)
	if err != nil {
		if verify.ReasonOf(err) == verify.ReasonKeysUnavailable {
			return caddyauth.User{}, false, wrapUnavailable(err)
		}
		w.Header().Set("WWW-Authenticate", answerFor(err).challenge(realmFor(p.auth.realm, r)))
		return caddyauth.User{}, false, nil
	}
	// The authentication handler hands on the request it gave us: drop its trailers in place
	// (see withoutTrailers; Caddy's request is already a copy of the one net/http fills).
	r.Trailer = nil
	r.Header.Del("Trailer")
	p.auth.handOn(r) // strip_token, or a query token redacted from the request URI
	id, _ := p.auth.userID(res)
	return caddyauth.User{ID: id, Metadata: claimMetadata(res.Claims)}, true, nil
}

// Interface guards
var (
	_ caddy.Provisioner       = (*Provider)(nil)
	_ caddyauth.Authenticator = (*Provider)(nil)
)
