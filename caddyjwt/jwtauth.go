// Package caddyjwt holds obgate's Caddy modules for JWT authentication: the jwt_auth HTTP
// handler and the jwt provider for Caddy's authentication handler. They adapt configuration to
// the engine in caddyjwt/verify and the engine's results to HTTP answers.
package caddyjwt

import (
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(JWTAuth{})
}

// JWTAuth is an HTTP handler that lets a request through only when it carries a valid JWT from
// a trusted issuer, verified with the keys configured for that issuer.
//
// A request without a token is answered 401 with a bare Bearer challenge; an invalid token 401
// invalid_token; two tokens or a non-empty require_empty header 400 invalid_request; a failed
// claim rule 403 insufficient_scope; an issuer whose keys are unavailable 503 with Retry-After.
// The answer carries a JSON body {"error", "error_description"} and nothing reaches the next
// handler. The handler writes these answers itself, so handle_errors does not see them.
//
// On success it sets the placeholders {http.auth.user.id} (the user_claim, default sub) and
// {http.auth.user.<claim>} for each top-level claim (arrays joined with commas, objects as JSON),
// and adds iss, kid and the user id to the access log entry.
type JWTAuth struct {
	Config

	auth   *authenticator
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (JWTAuth) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.jwt_auth",
		New: func() caddy.Module { return new(JWTAuth) },
	}
}

// Provision loads the issuers' keys and builds the verifier.
func (h *JWTAuth) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	a, err := h.Config.provision(ctx, h.logger)
	if err != nil {
		return err
	}
	h.auth = a
	return nil
}

// ServeHTTP verifies the request's token and calls next only when it is valid. Request trailers
// are never handed on: they could carry a token or a require_empty header past the check.
func (h *JWTAuth) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	r = withoutTrailers(r)
	start, exposed := time.Now(), h.auth.access.join(r)
	entry, w := h.auth.access.begin(w, r) // nil unless the token is where Caddy would log it
	res, err := h.auth.authenticate(r)
	if err != nil {
		answerFor(err).write(w, realmFor(h.auth.realm, r))
		entry.finish(r, nil)
		return nil
	}
	userID, boxedID := h.auth.userID(res)
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	claimPlaceholders(repl, boxedID, res.Claims)
	accessLogFields(r, entry, res, userID)
	h.auth.handOn(r)
	err = next.ServeHTTP(w, r)
	entry.finish(r, err)
	if err != nil && exposed {
		// Caddy's error log line would hold the request as it arrived, token included.
		return h.auth.access.handlerError(w, r, entry, start, err)
	}
	return err
}

// Interface guards
var (
	_ caddy.Provisioner           = (*JWTAuth)(nil)
	_ caddyhttp.MiddlewareHandler = (*JWTAuth)(nil)
)
