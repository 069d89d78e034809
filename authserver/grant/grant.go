// Package grant is obgate's OAuth 2.0 token endpoint engine for the client_credentials grant
// (RFC 6749 §4.4): it parses the form, authenticates the client with private_key_jwt (RFC 7523)
// or tls_client_auth (RFC 8705 §2.1), decides the scope and mints an RFC 9068 access token bound
// to the client's certificate (RFC 8705 §3.1) when one was presented.
//
// The assertion's key always comes from the client's registered keys, never from the assertion
// (jwk, jku, x5u and x5c are ignored by the verify engine), and its algorithm from
// AssertionAlgorithms. Every refusal is an *Error with an RFC 6749 §5.2 code. The package does no
// network or disk I/O of its own and never imports Caddy: clients, the single-use store, the
// signer and the DN comparison come in as interfaces.
package grant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/obgate/obgate/caddyjwt/verify"
)

// MaxAssertionSize caps a client assertion before any parsing (16 KiB).
const MaxAssertionSize = 16 << 10

// MaxAssertionLifetime bounds an assertion's exp (RFC 7523 §3 item 4 lets the server limit it).
const MaxAssertionLifetime = time.Hour

// DefaultLifetime is the lifetime of an access token when Options.Lifetime is zero.
const DefaultLifetime = 5 * time.Minute

// ErrReplayed is what a Claimer returns for a value already claimed and still live.
var ErrReplayed = errors.New("already used")

// Claimer is the single-use store of assertion jtis: Claim fails with ErrReplayed for a value
// already claimed and still live, and with any other error when the store cannot take it (full or
// unreachable), which refuses the request with 503; an error with a RetryAfter() time.Duration
// method sets the answer's Retry-After.
type Claimer interface {
	Claim(ctx context.Context, id [32]byte, until time.Time) error
}

// Minter signs access tokens: claims as a compact JWS with protected header {alg, kid, typ}.
type Minter interface {
	Mint(ctx context.Context, typ string, claims map[string]any) (string, error)
}

// Options configure an Endpoint.
type Options struct {
	// Issuer is the iss of issued tokens; assertions may name it as their aud.
	Issuer string
	// Audience is the aud of issued tokens; at least one value.
	Audience []string
	// Lifetime of issued tokens; zero means DefaultLifetime.
	Lifetime time.Duration
	// Clients finds clients by client_id.
	Clients Clients
	// Minter signs the tokens.
	Minter Minter
	// Replay takes each assertion's jti once.
	Replay Claimer
	// DNMatches reports whether a certificate's subject is the registered DN (tls_client_auth).
	DNMatches func(cert *x509.Certificate, registeredDN string) bool
	// Leeway is the clock skew allowed for the assertion's exp, nbf and iat; zero means 30s.
	Leeway time.Duration
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

func (o Options) leeway() time.Duration {
	if o.Leeway == 0 {
		return verify.DefaultLeeway
	}
	return o.Leeway
}

func (o Options) now() time.Time {
	if o.Clock == nil {
		return time.Now()
	}
	return o.Clock()
}

// Endpoint issues access tokens. It is safe for concurrent use.
type Endpoint struct {
	opts Options
}

// New checks the options and returns the endpoint.
func New(opts Options) (*Endpoint, error) {
	switch {
	case opts.Issuer == "":
		return nil, errors.New("issuer: required")
	case len(opts.Audience) == 0:
		return nil, errors.New("audience: required")
	case opts.Clients == nil:
		return nil, errors.New("no clients")
	case opts.Minter == nil:
		return nil, errors.New("signer: required")
	case opts.Replay == nil:
		return nil, errors.New("no single-use store for assertions")
	case opts.DNMatches == nil:
		return nil, errors.New("no DN comparison")
	case opts.Lifetime < 0:
		return nil, errors.New("lifetime: must not be negative")
	}
	if opts.Lifetime == 0 {
		opts.Lifetime = DefaultLifetime
	}
	return &Endpoint{opts: opts}, nil
}

// Presented is what the request carries besides its form.
type Presented struct {
	// Certificate is the client's verified certificate (mutual TLS, or a trusted proxy's
	// RFC 9440 header); nil when there is none.
	Certificate *x509.Certificate
	// Thumbprint is the certificate's x5t#S256 (RFC 8705 §3.1), set with Certificate.
	Thumbprint string
	// EndpointURL is this endpoint's own URL as the client called it; an assertion's aud may
	// name it (RFC 7523 §3 item 3).
	EndpointURL string
	// AuthorizationScheme is the scheme of the request's Authorization header, "" when absent
	// (no client of this endpoint authenticates with it).
	AuthorizationScheme string
}

// Token is an issued access token (RFC 6749 §5.1).
type Token struct {
	// AccessToken is the signed JWT.
	AccessToken string
	// ExpiresIn is its lifetime in seconds.
	ExpiresIn int64
	// Scope is the granted scope, space-delimited.
	Scope string
	// ClientID is the authenticated client.
	ClientID string
	// Bound reports a cnf.x5t#S256 binding.
	Bound bool
}

// Grant runs one token request: grant type, client authentication, the client's grant types,
// scope, then minting. Refusals are *Error in that order of checks.
func (e *Endpoint) Grant(ctx context.Context, req *Request, p Presented) (*Token, error) {
	if req.GrantType != GrantTypeClientCredentials {
		return nil, &Error{Status: 400, Code: CodeUnsupportedGrantType, Description: "grant_type: only client_credentials is supported"}
	}
	requested, ok := parseScope(req.Scope)
	if !ok {
		return nil, &Error{Status: 400, Code: CodeInvalidScope, Description: "scope: not a space-delimited list of scope tokens"}
	}
	client, err := e.authenticate(ctx, req, p)
	if err != nil {
		return nil, err
	}
	if !client.allowsClientCredentials() {
		return nil, &Error{Status: 400, Code: CodeUnauthorizedClient, Description: "the client is not registered for the client_credentials grant"}
	}
	granted, err := grantScope(client, requested)
	if err != nil {
		return nil, err
	}
	return e.mint(ctx, client, granted, p)
}

// authenticate finds and authenticates the client (RFC 6749 §2.3, §3.2.1).
func (e *Endpoint) authenticate(ctx context.Context, req *Request, p Presented) (*Client, error) {
	hasAssertion := req.Assertion != "" || req.AssertionType != ""
	// RFC 6749 §5.2 invalid_request: "utilizes more than one mechanism for authenticating the client".
	if hasAssertion && (p.AuthorizationScheme != "" || req.ClientSecret) {
		return nil, invalidRequest("more than one client authentication method was used")
	}
	if p.AuthorizationScheme != "" || req.ClientSecret {
		e := invalidClient("client authentication: use private_key_jwt or tls_client_auth", nil)
		if p.AuthorizationScheme != "" {
			e.Challenge = p.AuthorizationScheme
		}
		return nil, e
	}
	if hasAssertion {
		return e.authenticateAssertion(ctx, req, p)
	}
	if req.ClientID == "" {
		return nil, invalidClient("client authentication is required", nil)
	}
	return e.authenticateCertificate(req.ClientID, p)
}

// lookup finds a client; an unknown client is invalid_client.
func (e *Endpoint) lookup(id string) (*Client, error) {
	c, err := e.opts.Clients.Client(id)
	if err != nil {
		return nil, unavailable("the client registry is not available", time.Second, err)
	}
	if c == nil {
		return nil, invalidClient("client authentication failed", errors.New("unknown client"))
	}
	return c, nil
}

// authenticateCertificate is RFC 8705 §2.1: the verified client certificate's subject DN must
// equal the registered tls_client_auth_subject_dn.
func (e *Endpoint) authenticateCertificate(id string, p Presented) (*Client, error) {
	c, err := e.lookup(id)
	if err != nil {
		return nil, err
	}
	if c.spec.Method != MethodTLSClientAuth {
		return nil, invalidClient("client authentication failed", errors.New("the client does not use tls_client_auth"))
	}
	if p.Certificate == nil {
		return nil, invalidClient("client authentication failed", errors.New("no client certificate"))
	}
	if !e.opts.DNMatches(p.Certificate, c.spec.SubjectDN) {
		return nil, invalidClient("client authentication failed", errors.New("the certificate's subject DN is not the registered one"))
	}
	return c, nil
}

// authenticateAssertion is RFC 7523 §3 for client authentication (§2.2).
func (e *Endpoint) authenticateAssertion(ctx context.Context, req *Request, p Presented) (*Client, error) {
	if req.AssertionType == "" || req.Assertion == "" {
		return nil, invalidRequest("client_assertion and client_assertion_type go together")
	}
	if req.AssertionType != AssertionTypeJWTBearer {
		return nil, invalidRequest("client_assertion_type: unsupported")
	}
	bad := func(cause error) error { return invalidClient("client authentication failed", cause) }
	if len(req.Assertion) > MaxAssertionSize {
		return nil, bad(errors.New("assertion too large"))
	}
	unverified, err := verify.UnverifiedClaims([]byte(req.Assertion), MaxAssertionSize)
	if err != nil {
		return nil, bad(err)
	}
	claimedID, _ := unverified["iss"].(string)
	if claimedID == "" {
		return nil, bad(errors.New("assertion without iss"))
	}
	// RFC 7521 §4.2: a client_id sent beside the assertion must name the same client.
	if req.ClientID != "" && req.ClientID != claimedID {
		return nil, bad(errors.New("client_id differs from the assertion's iss"))
	}
	c, err := e.lookup(claimedID)
	if err != nil {
		return nil, err
	}
	if c.spec.Method != MethodPrivateKeyJWT {
		return nil, bad(errors.New("the client does not use private_key_jwt"))
	}
	c.prime(ctx)
	res, err := c.verifier.Verify(ctx, []byte(req.Assertion))
	if err != nil {
		if retry, ok := verify.IsUnavailable(err); ok {
			return nil, unavailable("the client's keys are temporarily unavailable", retry, err)
		}
		return nil, bad(err)
	}
	claims := res.Claims
	now := e.opts.now()
	// RFC 7523 §3 item 2: sub is the client_id.
	if sub, _ := claims["sub"].(string); sub != c.spec.ID {
		return nil, bad(errors.New("sub is not the client_id"))
	}
	// RFC 7523 §3 item 3: aud identifies this authorization server (its issuer) or the token
	// endpoint's URL.
	if !audienceNames(claims["aud"], e.opts.Issuer, p.EndpointURL) {
		return nil, bad(errors.New("aud names neither the issuer nor the token endpoint"))
	}
	// RFC 7523 §3 item 4: exp is required (the engine checked it is in the future); this server
	// limits how far ahead it may be, which also bounds how long its jti is remembered.
	expNum, _ := claims["exp"].(json.Number)
	exp, err := strconv.ParseFloat(string(expNum), 64)
	if err != nil || exp > float64(now.Add(MaxAssertionLifetime+e.opts.leeway()).Unix()) {
		return nil, bad(errors.New("exp is more than an hour ahead"))
	}
	// RFC 7523 §3 item 7: jti, single use until exp (the engine required it).
	jti, ok := claims["jti"].(string)
	if !ok || jti == "" {
		return nil, bad(errors.New("jti is not a non-empty string"))
	}
	until := time.Unix(int64(exp)+1, 0).Add(e.opts.leeway())
	if err := e.opts.Replay.Claim(ctx, replayID(c.spec.ID, jti), until); err != nil {
		if errors.Is(err, ErrReplayed) {
			return nil, bad(errors.New("the assertion's jti was already used"))
		}
		retry := time.Second
		if ra, ok := errors.AsType[interface {
			error
			RetryAfter() time.Duration
		}](err); ok {
			retry = ra.RetryAfter()
		}
		return nil, unavailable("the replay store cannot take the assertion", retry, err)
	}
	return c, nil
}

// replayID is the single-use key of an assertion: its client and jti, hashed with SHA-256.
func replayID(clientID, jti string) [32]byte {
	h := sha256.New()
	h.Write([]byte(clientID))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// audienceNames reports whether aud (a string or an array of strings, already checked well formed
// by the engine) contains one of the accepted values.
func audienceNames(aud any, accepted ...string) bool {
	match := func(s string) bool { return s != "" && slices.Contains(accepted, s) }
	switch v := aud.(type) {
	case string:
		return match(v)
	case []any:
		for _, item := range v {
			if s, ok := item.(string); ok && match(s) {
				return true
			}
		}
	}
	return false
}

// grantScope decides the scope: every requested scope must be the client's; none requested means
// all of the client's (RFC 6749 §3.3 lets the server fall back to a default).
func grantScope(c *Client, requested []string) ([]string, error) {
	if len(requested) == 0 {
		return c.spec.Scopes, nil
	}
	var granted []string
	for _, s := range requested {
		if !slices.Contains(c.spec.Scopes, s) {
			return nil, &Error{Status: 400, Code: CodeInvalidScope, Description: "scope: the client may not be granted one of the requested scopes"}
		}
		if !slices.Contains(granted, s) {
			granted = append(granted, s)
		}
	}
	return granted, nil
}

// AccessTokenType is the typ header of issued access tokens (RFC 9068 §2.1), which a resource
// server must check (RFC 9068 §4).
const AccessTokenType = "at+jwt"

// mint builds the RFC 9068 §2.2 claims and signs them with typ at+jwt (RFC 9068 §2.1).
func (e *Endpoint) mint(ctx context.Context, c *Client, scopes []string, p Presented) (*Token, error) {
	now := e.opts.now()
	jti, err := newJTI()
	if err != nil {
		return nil, fmt.Errorf("jti: %w", err)
	}
	claims := make(map[string]any, 10+len(c.spec.Claims))
	for k, v := range c.spec.Claims {
		claims[k] = v
	}
	claims["iss"] = e.opts.Issuer
	claims["sub"] = c.spec.ID
	claims["client_id"] = c.spec.ID
	if len(e.opts.Audience) == 1 {
		claims["aud"] = e.opts.Audience[0]
	} else {
		claims["aud"] = e.opts.Audience
	}
	scope := strings.Join(scopes, " ")
	if scope != "" {
		claims["scope"] = scope
	}
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(e.opts.Lifetime).Unix()
	claims["jti"] = jti
	bound := p.Certificate != nil && p.Thumbprint != ""
	if bound {
		claims["cnf"] = map[string]any{"x5t#S256": p.Thumbprint} // RFC 8705 §3.1
	}
	tok, err := e.opts.Minter.Mint(ctx, AccessTokenType, claims)
	if err != nil {
		return nil, fmt.Errorf("mint: %w", err)
	}
	return &Token{AccessToken: tok, ExpiresIn: int64(e.opts.Lifetime / time.Second), Scope: scope, ClientID: c.spec.ID, Bound: bound}, nil
}

func newJTI() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
