package authserver

import (
	"errors"
	"fmt"
	"slices"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/authserver/grant"
	jwksapp "github.com/obgate/obgate/caddyjwt/jwks"
	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/internal/oauthreg"
)

// StaticClient is a client configured in the token endpoint itself (seed 000's role-based
// tokens: `claim roles ...`).
type StaticClient struct {
	// ClientID is the client_id.
	ClientID string `json:"client_id"`

	// Auth is the client's authentication method: private_key_jwt or tls_client_auth.
	Auth string `json:"auth"`

	// Keys are the client's public key files (private_key_jwt): PEM public keys, PEM
	// certificates, or JWK / JWK Set JSON.
	Keys []KeyFile `json:"keys,omitempty"`

	// JWKSURL is the client's published JWK Set (private_key_jwt), held in the process-wide
	// JWKS cache (the jwks app: https only unless the global jwks allow_http lists it).
	JWKSURL string `json:"jwks_url,omitempty"`

	// SubjectDN is the subject DN (RFC 4514) its certificate must have (tls_client_auth),
	// compared as dcr compares DNs.
	SubjectDN string `json:"subject_dn,omitempty"`

	// Scope lists what the client may be granted. Default: nothing (tokens without scope).
	Scope []string `json:"scope,omitempty"`

	// Claims are extra claims in the client's tokens: a string, or a list of strings (a JSON
	// array in the token). iss, sub, aud, exp, iat, nbf, jti, client_id, scope and cnf are the
	// endpoint's own.
	Claims map[string]any `json:"claims,omitempty"`
}

// KeyFile is a local file holding one or more public keys.
type KeyFile struct {
	// Path is the file's path. Placeholders such as {env.KEY_DIR} are expanded once at provision.
	Path string `json:"path"`

	// KeyID, when set, is the kid assertions name this key by; the file must hold exactly one
	// key. Without it the key has no kid of its own and is known by its RFC 7638 thumbprint.
	KeyID string `json:"kid,omitempty"`
}

// staticClients builds the configured clients; errors name the client and the field.
func (t *TokenEndpoint) staticClients(ctx caddy.Context, repl *caddy.Replacer, opts grant.Options) (grant.StaticClients, error) {
	out := make(grant.StaticClients, len(t.Clients))
	for _, sc := range t.Clients {
		if sc.ClientID == "" {
			return nil, errors.New("client: a client_id is required")
		}
		if _, dup := out[sc.ClientID]; dup {
			return nil, fmt.Errorf("client %q: configured more than once", sc.ClientID)
		}
		spec := grant.ClientSpec{ID: sc.ClientID, Method: sc.Auth, SubjectDN: sc.SubjectDN, Scopes: sc.Scope, Claims: sc.Claims}
		for _, kf := range sc.Keys {
			path := repl.ReplaceKnown(kf.Path, "")
			ks, err := keys.LoadFile(path, kf.KeyID)
			if err != nil {
				return nil, fmt.Errorf("client %q: key %s: %w", sc.ClientID, path, err)
			}
			spec.Keys = append(spec.Keys, keys.NewStatic(ks...))
		}
		if sc.JWKSURL != "" {
			src, err := t.leaseJWKS(ctx, repl.ReplaceKnown(sc.JWKSURL, ""), sc.ClientID)
			if err != nil {
				return nil, fmt.Errorf("client %q: jwks_url: %w", sc.ClientID, err)
			}
			spec.Keys = append(spec.Keys, src)
		}
		c, err := grant.NewClient(spec, opts)
		if err != nil {
			return nil, err
		}
		out[sc.ClientID] = c
	}
	return out, nil
}

// leaseJWKS leases the process-wide cache of a client's jwks_url, as jwt_auth does: fetched when
// the config starts and refreshed in the background, never on the request path except for one
// rate-limited refresh when an assertion names an unknown kid.
func (t *TokenEndpoint) leaseJWKS(ctx caddy.Context, url, clientID string) (keys.Source, error) {
	app, err := jwksapp.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	lease, err := app.Acquire(jwksapp.Spec{Kind: "jwks_url", URL: url, Issuer: clientID})
	if err != nil {
		return nil, err
	}
	t.releases = append(t.releases, lease.Release)
	return lease.Source(), nil
}

// errNotPublished reports a `clients <dcr-name>` that no dcr handler of the running config
// publishes (a name that is not configured, or a dcr handler that has not loaded yet).
var errNotPublished = errors.New("no dcr handler publishes clients under this name")

// endpointClients looks a client up in the static clients, then in each named dcr handler's
// published registrations: in memory only.
type endpointClients struct {
	static grant.StaticClients
	dcr    []string
}

// Client returns the client with the ID, nil when no source knows it.
func (c endpointClients) Client(id string) (*grant.Client, error) {
	if cl := c.static[id]; cl != nil {
		return cl, nil
	}
	for _, name := range c.dcr {
		reg, ok := oauthreg.Clients(name)
		if !ok {
			return nil, fmt.Errorf("dcr %q: %w", name, errNotPublished)
		}
		cl, err := reg.Client(id)
		if err != nil || cl != nil {
			return cl, err
		}
	}
	return nil, nil
}

// describe is what oauth_metadata derives from this endpoint (RFC 8414 §2).
func (t *TokenEndpoint) describe(static grant.StaticClients) oauthreg.EndpointInfo {
	info := oauthreg.EndpointInfo{
		Issuer:                 t.Issuer,
		GrantTypes:             []string{grant.GrantTypeClientCredentials},
		CertificateBoundTokens: true, // every token of a client that presented a certificate is bound
	}
	methods := map[string]bool{}
	for _, c := range static {
		methods[c.Method()] = true
	}
	if len(t.DCRClients) > 0 { // registrations may use either
		methods[grant.MethodPrivateKeyJWT] = true
		methods[grant.MethodTLSClientAuth] = true
	}
	for _, m := range []string{grant.MethodPrivateKeyJWT, grant.MethodTLSClientAuth} {
		if methods[m] {
			info.AuthMethods = append(info.AuthMethods, m)
		}
	}
	if slices.Contains(info.AuthMethods, grant.MethodPrivateKeyJWT) {
		info.AuthSigningAlgorithms = slices.Clone(grant.AssertionAlgorithms)
	}
	return info
}
