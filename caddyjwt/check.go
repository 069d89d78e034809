package caddyjwt

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/caddyjwt/binding"
	"github.com/obgate/obgate/caddyjwt/verify"
)

func init() {
	caddy.RegisterModule(Check{})
}

// Check is the jwt_check handler: "check this JWT with no changes to any objects" (seed 000).
// A POST with a JSON body
//
//	{"token": "...", "method": "POST", "host": "api.example", "path": "/p", "query": "a=1",
//	 "body": "...", "body_base64": "..."}
//
// (everything but token optional; the request fields matter to request_signature policies) is
// answered 200 with a verdict
//
//	{"valid": true|false, "reason": "expired", "description": "...", "issuer": "...",
//	 "kid": "...", "claims": {...}}
//
// under the named jwt_auth or request_signature policy of the same config: the same engine, keys
// and rules, but no replay entry and no traffic metrics. claims are the token's claims (jwt_auth)
// or the JWS's protected header (request_signature), only when valid. It is an operator surface
// (it answers, for any token, whether it is valid and why not): serve it on a loopback-only site
// or behind authentication. Every request is counted in obgate_jwt_checks_total{policy, result,
// reason} and logged at debug level (policy, result, reason, a SHA-256 prefix of the token).
// Malformed input is 400, an unknown policy 404, a body over max_body 413, other methods 405.
type Check struct {
	// Policy is the name of the jwt_auth or request_signature config (its `name`) to check against.
	// Required.
	Policy string `json:"policy,omitempty"`

	// MaxBody caps the request body in bytes. Default: 64 KiB plus the request_signature default
	// body cap, so that a full signed request fits.
	MaxBody int64 `json:"max_body,omitempty"`

	reg    *Registry
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Check) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.jwt_check",
		New: func() caddy.Module { return new(Check) },
	}
}

// Provision attaches the handler to the config's named policies; the name is resolved per request
// because the policy's handler may be provisioned later.
func (h *Check) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.Policy == "" {
		return errors.New("policy: the name of a jwt_auth or request_signature config is required")
	}
	if h.MaxBody == 0 {
		h.MaxBody = DefaultAPIMaxBody + 2*DefaultMaxBody
	}
	if h.MaxBody < 0 {
		return errors.New("max_body: must not be negative")
	}
	reg, err := registryFrom(ctx)
	if err != nil {
		return err
	}
	h.reg = reg
	registerCheckMetrics(ctx.GetMetricsRegistry())
	return nil
}

// checkInput is a check request.
type checkInput struct {
	Token      string `json:"token"`
	Method     string `json:"method,omitempty"`
	Scheme     string `json:"scheme,omitempty"`
	Host       string `json:"host,omitempty"`
	Path       string `json:"path,omitempty"`
	Query      string `json:"query,omitempty"`
	Body       string `json:"body,omitempty"`
	BodyBase64 []byte `json:"body_base64,omitempty"`
}

// verdict is a check answer.
type verdict struct {
	Valid       bool           `json:"valid"`
	Reason      string         `json:"reason,omitempty"`
	Description string         `json:"description,omitempty"`
	Issuer      string         `json:"issuer,omitempty"`
	KeyID       string         `json:"kid,omitempty"`
	Claims      map[string]any `json:"claims,omitempty"`

	// TokenKID and KnownKIDs explain unknown_kid: the kid the token names and the key IDs its
	// issuer holds (thumbprints for keys without a kid of their own).
	TokenKID  string   `json:"token_kid,omitempty"`
	KnownKIDs []string `json:"known_kids,omitempty"`
}

// rejected is the verdict on a rejection: the reason's name and its client-safe description.
func rejected(err error) verdict {
	var e *verify.Error
	if !errors.As(err, &e) {
		e = verify.Reject(verify.ReasonUnknown, err)
	}
	v := verdict{Reason: e.Reason.String(), Description: e.Description()}
	if uk, ok := errors.AsType[*verify.UnknownKIDError](err); ok {
		v.TokenKID, v.KnownKIDs = uk.ShownKID(), uk.KnownKIDs()
	}
	return v
}

// ServeHTTP answers a check request.
func (h *Check) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if !allow(w, r, http.MethodPost) {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.MaxBody+1))
	switch {
	case err != nil:
		h.observe(r, "", "bad_request", "none")
		apiError(w, http.StatusBadRequest, "invalid_request", "the body could not be read")
		return nil
	case int64(len(body)) > h.MaxBody:
		h.observe(r, "", "bad_request", "none")
		apiError(w, http.StatusRequestEntityTooLarge, "invalid_request", "the body is too large")
		return nil
	}
	var in checkInput
	if err := json.Unmarshal(body, &in); err != nil || in.Token == "" {
		h.observe(r, "", "bad_request", "none")
		apiError(w, http.StatusBadRequest, "invalid_request", `want a JSON object with a "token"`)
		return nil
	}
	if in.Body != "" && in.BodyBase64 != nil {
		h.observe(r, in.Token, "bad_request", "none")
		apiError(w, http.StatusBadRequest, "invalid_request", "give body or body_base64, not both")
		return nil
	}
	p, ok := h.reg.policy(h.Policy)
	if !ok {
		h.observe(r, in.Token, "unknown_policy", "none")
		apiError(w, http.StatusNotFound, "unknown_policy", "no jwt_auth or request_signature has this name")
		return nil
	}
	v := p.check(r.Context(), &in)
	result, reason := checkResult(v)
	h.observe(r, in.Token, result, reason)
	apiJSON(w, http.StatusOK, v)
	return nil
}

// authPolicy checks bearer tokens under a jwt_auth (or jwt provider) configuration.
type authPolicy struct{ a *authenticator }

func (p authPolicy) check(ctx context.Context, in *checkInput) verdict {
	res, err := p.a.verifier.VerifyUncached(ctx, []byte(in.Token)) // no cache entry: a check changes nothing
	if err == nil {
		// A check has no holder certificate to compare a cnf x5t#S256 with; what it can tell is a
		// malformed binding, or none where require_cert_binding asks for one.
		err = p.a.certBinding.checkWithoutRequest(res.Claims)
	}
	if err != nil {
		return rejected(err)
	}
	return verdict{Valid: true, Issuer: res.Issuer, KeyID: res.KeyID, Claims: res.Claims}
}

// signaturePolicy checks request signatures under a request_signature configuration, without a
// replay entry.
type signaturePolicy struct{ h *RequestSignature }

func (p *signaturePolicy) check(ctx context.Context, in *checkInput) verdict {
	body := in.BodyBase64
	if body == nil {
		body = []byte(in.Body)
	}
	if int64(len(body)) > p.h.MaxBody {
		return rejected(verify.Reject(verify.ReasonBodyTooLarge, nil))
	}
	scheme := in.Scheme
	if scheme == "" {
		scheme = "https"
	}
	req := &binding.Request{Method: in.Method, Scheme: scheme, Host: in.Host, RawPath: in.Path, RawQuery: in.Query, Body: body}
	res, err := p.h.binder.Verify(ctx, []byte(in.Token), req)
	if err != nil {
		return rejected(err)
	}
	return verdict{Valid: true, Issuer: publicIssuer(res.Issuer), KeyID: res.KeyID, Claims: res.Header}
}

// nameAuthenticator registers a named jwt_auth policy for jwt_check.
func (a *authenticator) nameAuthenticator(ctx caddy.Context, name string) error {
	if name == "" {
		return nil
	}
	unname, err := registerPolicy(ctx, name, authPolicy{a})
	if err != nil {
		return err
	}
	a.unname = unname
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Check)(nil)
	_ caddyhttp.MiddlewareHandler = (*Check)(nil)
)
