package grant

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
)

// The client authentication methods of this endpoint (RFC 7591 §2 token_endpoint_auth_method
// values).
const (
	// MethodPrivateKeyJWT is RFC 7523 §2.2 with the client's registered keys.
	MethodPrivateKeyJWT = "private_key_jwt"
	// MethodTLSClientAuth is RFC 8705 §2.1, PKI mutual TLS.
	MethodTLSClientAuth = "tls_client_auth"
)

// AssertionAlgorithms are the JWS algorithms a client assertion may use: PS256 and ES256 (FAPI
// 2.0 §5.4), and EdDSA where the client's key is Ed25519. A key only ever verifies the
// algorithms it allows, so EdDSA is used only with Ed25519 keys.
var AssertionAlgorithms = []string{"PS256", "ES256", "EdDSA"}

// reservedClaims are set by the endpoint (RFC 9068 §2.2, RFC 8705 §3.1): a client's extra claims
// cannot replace them.
var reservedClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "cnf"}

// ClientSpec describes a client of the token endpoint, as configured or as registered.
type ClientSpec struct {
	// ID is the client_id.
	ID string
	// Method is MethodPrivateKeyJWT or MethodTLSClientAuth.
	Method string
	// Keys are the client's public keys (private_key_jwt); at least one source is required.
	Keys []keys.Source
	// SubjectDN is the subject DN (RFC 4514) the client's certificate must have (tls_client_auth).
	SubjectDN string
	// Scopes are what the client may be granted.
	Scopes []string
	// GrantTypes are the client's registered grant types; nil means client_credentials only
	// (a static client). A registered client whose list lacks client_credentials is refused
	// with unauthorized_client after it authenticates.
	GrantTypes []string
	// Claims are extra claims put in the client's access tokens (string or []string values).
	Claims map[string]any
}

// Client is a client ready for the hot path: its spec checked, its assertion verifier built.
// It is immutable and safe for concurrent use.
type Client struct {
	spec     ClientSpec
	verifier *verify.Verifier // private_key_jwt only
}

// NewClient checks spec and builds the client. The error names the client and the field.
func NewClient(spec ClientSpec, opts Options) (*Client, error) {
	if spec.ID == "" {
		return nil, errors.New("client: an ID is required")
	}
	c := &Client{spec: spec}
	switch spec.Method {
	case MethodPrivateKeyJWT:
		if len(spec.Keys) == 0 {
			return nil, fmt.Errorf("client %q: private_key_jwt needs keys (key or jwks_url)", spec.ID)
		}
		if spec.SubjectDN != "" {
			return nil, fmt.Errorf("client %q: subject_dn is for tls_client_auth only", spec.ID)
		}
		v, err := verify.New(verify.Policy{
			// RFC 7523 §3: iss is the client_id; sub and aud are checked by the endpoint, since
			// the accepted aud depends on the request's URL.
			Issuers:      []verify.Issuer{{Name: spec.ID, Sources: spec.Keys, Algorithms: AssertionAlgorithms}},
			Require:      []string{"jti", "sub"},
			Leeway:       opts.leeway(),
			MaxTokenSize: MaxAssertionSize,
			Clock:        opts.Clock,
		})
		if err != nil {
			return nil, fmt.Errorf("client %q: %w", spec.ID, err)
		}
		c.verifier = v
	case MethodTLSClientAuth:
		if spec.SubjectDN == "" {
			return nil, fmt.Errorf("client %q: tls_client_auth needs subject_dn", spec.ID)
		}
		if len(spec.Keys) > 0 {
			return nil, fmt.Errorf("client %q: keys are for private_key_jwt only", spec.ID)
		}
	case "":
		return nil, fmt.Errorf("client %q: auth: required (private_key_jwt or tls_client_auth)", spec.ID)
	default:
		return nil, fmt.Errorf("client %q: auth: unsupported method %q (private_key_jwt or tls_client_auth)", spec.ID, spec.Method)
	}
	for name, v := range spec.Claims {
		if slices.Contains(reservedClaims, name) {
			return nil, fmt.Errorf("client %q: claim %q: set by the token endpoint itself", spec.ID, name)
		}
		if !stringOrStrings(v) {
			return nil, fmt.Errorf("client %q: claim %q: must be a string or a list of strings", spec.ID, name)
		}
	}
	for _, s := range spec.Scopes {
		if !isScopeToken(s) {
			return nil, fmt.Errorf("client %q: scope %q: not a scope token (RFC 6749 §3.3)", spec.ID, s)
		}
	}
	return c, nil
}

// stringOrStrings reports a claim value of a string, or a non-empty list of strings.
func stringOrStrings(v any) bool {
	switch v := v.(type) {
	case string:
		return true
	case []string:
		return len(v) > 0
	case []any:
		for _, item := range v {
			if _, ok := item.(string); !ok {
				return false
			}
		}
		return len(v) > 0
	}
	return false
}

// ID is the client_id.
func (c *Client) ID() string { return c.spec.ID }

// Method is the client's authentication method.
func (c *Client) Method() string { return c.spec.Method }

// allowsClientCredentials reports whether the client may use this grant (RFC 7591 §2
// grant_types; RFC 6749 §5.2 unauthorized_client otherwise).
func (c *Client) allowsClientCredentials() bool {
	return c.spec.GrantTypes == nil || slices.Contains(c.spec.GrantTypes, GrantTypeClientCredentials)
}

// Primer is a key source that fetches on first use (a registered software's JWKS): Prime makes
// sure it holds keys, in memory when it is fresh, else with one bounded fetch. A failed Prime
// leaves the source to report its keys unavailable.
type Primer interface {
	Prime(ctx context.Context) error
}

// prime primes the client's sources that need it.
func (c *Client) prime(ctx context.Context) {
	for _, src := range c.spec.Keys {
		if p, ok := src.(Primer); ok {
			_ = p.Prime(ctx)
		}
	}
}

// Clients finds the clients of an endpoint by client_id, in memory.
type Clients interface {
	// Client returns the client with the ID, or nil when there is none. An error means the
	// lookup cannot answer right now (a registry not loaded yet): 503.
	Client(id string) (*Client, error)
}

// StaticClients is a fixed set of clients, such as those configured in `client` blocks.
type StaticClients map[string]*Client

// Client returns the client with the ID, or nil.
func (s StaticClients) Client(id string) (*Client, error) { return s[id], nil }
