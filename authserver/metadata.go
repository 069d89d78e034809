package authserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/authserver/grant"
	"github.com/obgate/obgate/internal/oauthreg"
)

func init() {
	caddy.RegisterModule(Metadata{})
}

// Metadata serves an OAuth 2.0 Authorization Server Metadata document (RFC 8414 §2, §3), fit
// also for OpenID discovery paths: the configured URLs, what `from` derives from a token
// endpoint of the same config, and any other member verbatim. GET and HEAD only (405
// otherwise); the answer is application/json with Cache-Control: public, max-age=300. It never
// calls the next handler. EXPERIMENTAL.
type Metadata struct {
	// Issuer is the authorization server's issuer identifier (RFC 8414 §2 issuer). Default: the
	// issuer of the `from` token endpoint. Required without `from`.
	Issuer string `json:"issuer,omitempty"`

	// TokenEndpoint is the token endpoint's URL.
	TokenEndpoint string `json:"token_endpoint,omitempty"`

	// JWKSURI is the URL of the signer's JWK Set (a jwt_jwks handler).
	JWKSURI string `json:"jwks_uri,omitempty"`

	// RegistrationEndpoint is the dcr handler's URL (RFC 7591).
	RegistrationEndpoint string `json:"registration_endpoint,omitempty"`

	// From names a token_endpoint (its `name`, or its issuer) of the same config: the document
	// then gives its grant_types_supported, token_endpoint_auth_methods_supported,
	// token_endpoint_auth_signing_alg_values_supported and
	// tls_client_certificate_bound_access_tokens.
	From string `json:"from,omitempty"`

	// Fields are other members of the document, each a JSON value given verbatim. A field
	// cannot replace a member the other settings give.
	Fields map[string]json.RawMessage `json:"fields,omitempty"`

	base   map[string]any
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Metadata) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.oauth_metadata",
		New: func() caddy.Module { return new(Metadata) },
	}
}

// managedMembers are the members the handler's own settings give.
var managedMembers = []string{
	"issuer", "token_endpoint", "jwks_uri", "registration_endpoint", "grant_types_supported",
	"token_endpoint_auth_methods_supported", "token_endpoint_auth_signing_alg_values_supported",
	"tls_client_certificate_bound_access_tokens",
}

// Provision checks the configuration and builds the static part of the document.
func (m *Metadata) Provision(ctx caddy.Context) error {
	m.logger = ctx.Logger()
	if m.Issuer == "" && m.From == "" {
		return errors.New("issuer: required (or from <token_endpoint-name>)")
	}
	m.base = make(map[string]any, len(m.Fields)+8)
	for name, raw := range m.Fields {
		if slices.Contains(managedMembers, name) {
			return fmt.Errorf("field %s: given by the handler's own settings; set it there", name)
		}
		if !json.Valid(raw) {
			return fmt.Errorf("field %s: not a JSON value", name)
		}
		m.base[name] = raw
	}
	for name, v := range map[string]string{
		"issuer": m.Issuer, "token_endpoint": m.TokenEndpoint, "jwks_uri": m.JWKSURI,
		"registration_endpoint": m.RegistrationEndpoint,
	} {
		if v != "" {
			m.base[name] = v
		}
	}
	return nil
}

// ServeHTTP answers with the document; it never calls next.
func (m *Metadata) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSONError(w, http.StatusMethodNotAllowed, "invalid_request", "the metadata document answers GET only")
		return nil
	}
	doc, err := m.document()
	if err != nil {
		m.logger.Error("metadata document", zap.Error(err))
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusServiceUnavailable, grant.CodeTemporarilyUnavailable, "the authorization server metadata is not available")
		return nil
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(data)
	}
	return nil
}

// document is the static part plus what the `from` endpoint says now.
func (m *Metadata) document() (map[string]any, error) {
	if m.From == "" {
		return m.base, nil
	}
	ep, ok := oauthreg.LookupEndpoint(m.From)
	if !ok {
		return nil, fmt.Errorf("from %q: no token_endpoint of that name in the running config", m.From)
	}
	info := ep.Info()
	doc := make(map[string]any, len(m.base)+5)
	for k, v := range m.base {
		doc[k] = v
	}
	if _, ok := doc["issuer"]; !ok {
		doc["issuer"] = info.Issuer
	}
	doc["grant_types_supported"] = info.GrantTypes
	doc["token_endpoint_auth_methods_supported"] = info.AuthMethods
	if len(info.AuthSigningAlgorithms) > 0 {
		doc["token_endpoint_auth_signing_alg_values_supported"] = info.AuthSigningAlgorithms
	}
	doc["tls_client_certificate_bound_access_tokens"] = info.CertificateBoundTokens
	return doc, nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Metadata)(nil)
	_ caddyhttp.MiddlewareHandler = (*Metadata)(nil)
)
