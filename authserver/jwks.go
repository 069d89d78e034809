package authserver

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/authserver/signing"
)

func init() {
	caddy.RegisterModule(JWKS{})
}

// JWKS is an HTTP handler that serves a jwt_signer's public JWK Set (RFC 7517 §5): the signing key,
// a successor announced before it signs, and retired keys whose tokens may still be live. It
// answers GET and HEAD with Content-Type application/jwk-set+json (RFC 7517 §8.5.1) and
// Cache-Control "public, max-age=<jwks_max_age>"; other methods get 405. The set never holds a
// private key member. Before the signer's keys are loaded (the first moments of a first start) it
// answers 503 with Retry-After.
type JWKS struct {
	// Signer is the name of the jwt_signer whose keys are served. Required.
	Signer string `json:"signer,omitempty"`

	m            *signing.Manager
	cacheControl string
	logger       *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (JWKS) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.jwt_jwks",
		New: func() caddy.Module { return new(JWKS) },
	}
}

// Provision finds the signer.
func (h *JWKS) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.Signer == "" {
		return fmt.Errorf("signer: required")
	}
	m, err := lookupManager(ctx, h.Signer)
	if err != nil {
		return err
	}
	h.m = m
	h.cacheControl = "public, max-age=" + strconv.Itoa(int(m.JWKSMaxAge()/time.Second))
	return nil
}

// ServeHTTP writes the JWK Set; it never calls next.
func (h *JWKS) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSONError(w, http.StatusMethodNotAllowed, "invalid_request", "the JWK Set is read with GET")
		return nil
	}
	set, err := h.m.JWKS()
	if err != nil {
		h.logger.Warn("JWK Set requested before the signing keys are loaded", zap.String("signer", h.Signer))
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the signing keys are not loaded yet")
		return nil
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/jwk-set+json")
	hd.Set("Cache-Control", h.cacheControl)
	hd.Set("Content-Length", strconv.Itoa(len(set)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(set)
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*JWKS)(nil)
	_ caddyhttp.MiddlewareHandler = (*JWKS)(nil)
)
