package caddyjwt

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
)

// Config is the verification policy shared by the jwt_auth handler and the jwt authentication
// provider: which issuers are trusted with which keys, the claim checks, and where the token is.
type Config struct {
	// Name registers this policy for the jwt_check handler under this name; names are unique
	// within a config. Default: none.
	Name string `json:"name,omitempty"`

	// Issuers are the trusted issuers, each with its own keys: the issuer-to-key mapping.
	// A token whose iss is not listed is rejected. At least one is required.
	Issuers []IssuerConfig `json:"issuers,omitempty"`

	// Audience lists accepted aud values; the token's aud must contain at least one of them
	// (exact match). An issuer's own audience (or any_audience) replaces this list. Every issuer
	// must end up with an audience: one that has neither its own, nor this list, nor AnyAudience
	// is a config error.
	Audience []string `json:"audience,omitempty"`

	// AnyAudience is the explicit opt-out of the audience check (Caddyfile: `audience any`): the
	// aud claim of issuers without an audience of their own is not checked. Provision logs one
	// warning. It cannot be combined with Audience. Default: false.
	AnyAudience bool `json:"any_audience,omitempty"`

	// Leeway is the clock skew allowed when checking exp, nbf and iat. Default: 30s.
	Leeway *caddy.Duration `json:"leeway,omitempty"`

	// MaxAge, when set, requires iat and rejects tokens issued longer ago than this. Default: off.
	MaxAge caddy.Duration `json:"max_age,omitempty"`

	// Require lists claims that must be present (401 when missing). exp is always required.
	Require []string `json:"require,omitempty"`

	// Claims are claim rules: the named claim must equal one of the values (for an array claim,
	// any element may). A failed rule is answered 403 insufficient_scope.
	Claims []ClaimRule `json:"claims,omitempty"`

	// Tokens says where the token is. More than one location may be given; a request that carries
	// a token in more than one place is rejected with 400. Default: the Authorization header with
	// the Bearer scheme.
	Tokens []TokenLocation `json:"tokens,omitempty"`

	// RequireEmpty lists request headers that must be absent or empty, such as Authorization when
	// the token travels in CX-Authorization. A value there is answered 400 invalid_request.
	RequireEmpty []string `json:"require_empty,omitempty"`

	// StripToken removes the token from the request once it is verified, before the next
	// handler: its header value, its cookie or its query parameter, so that the upstream never
	// receives it and no later log line (such as reverse_proxy's debug "upstream roundtrip")
	// can hold it. Other headers, cookies and parameters are handed on as sent. Default: false,
	// the token is handed on (a query token only redacted in the request URI that later log
	// lines print).
	StripToken bool `json:"strip_token,omitempty"`

	// UserClaim is the claim that becomes {http.auth.user.id}. Default: sub.
	UserClaim string `json:"user_claim,omitempty"`

	// Realm is the realm in WWW-Authenticate challenges. Default: the request's host name.
	Realm string `json:"realm,omitempty"`

	// MaxTokenSize caps the token's size in bytes before any parsing. Default: 16384.
	MaxTokenSize int `json:"max_token_size,omitempty"`

	// VerifiedCache is how many verified tokens are remembered (each for at most five minutes),
	// so that a client presenting the same token again skips the signature check. The key that
	// verified the token must still be held (a key rotated out or deleted ends it), the claims are
	// checked again on every request, and a rejected token is never remembered. Each entry holds
	// the token's decoded claims: about 0.75 KiB for a typical access token (bench/README.md), so
	// the default bounds the cache at about 7.5 MiB per policy. A negative value (-1; Caddyfile
	// `verified_cache off`) turns it off. Default: 10000.
	VerifiedCache int `json:"verified_cache,omitempty"`

	// RequireCertBinding rejects (401 invalid_token) tokens that carry no cnf x5t#S256. Whether
	// or not it is set, a token that carries one is accepted only with that client certificate
	// (RFC 8705 §3). Default: false.
	RequireCertBinding bool `json:"require_cert_binding,omitempty"`

	// ClientCertHeader names a request header from which the client certificate is taken, in the
	// RFC 9440 Client-Cert form (":<base64 DER>:"), when TLS ends at a proxy in front of the
	// gateway. It is honoured only on requests from the server's trusted_proxies, and a client
	// certificate on the TLS connection itself wins. Default: none (only the TLS connection's
	// verified certificate counts).
	ClientCertHeader string `json:"client_cert_header,omitempty"`
}

// IssuerConfig is one trusted issuer and where its keys are.
type IssuerConfig struct {
	// Issuer is the exact iss value of the issuer's tokens.
	Issuer string `json:"issuer"`

	// Keys are local key files: PEM public keys (PKIX, PKCS#1, EC, Ed25519), PEM X.509
	// certificates, or JWK / JWK Set JSON files (the only place oct keys for HS* are accepted).
	Keys []KeyFile `json:"keys,omitempty"`

	// JWKSURL is a remote JWK Set, cached and refreshed in the background.
	JWKSURL string `json:"jwks_url,omitempty"`

	// Discovery is an OpenID Connect discovery document URL, or an issuer URL to which
	// /.well-known/openid-configuration is appended; its jwks_uri is used.
	Discovery string `json:"discovery,omitempty"`

	// TrustedCA lists PEM files of the certificate authorities that verify the TLS certificate
	// of this issuer's jwks_url and discovery servers (a discovered jwks_uri included), such as
	// the issuer's private CA: only these are trusted for them, instead of the global
	// jwks { trusted_ca } or the system roots. Default: none.
	TrustedCA []string `json:"trusted_ca,omitempty"`

	// Registry lists counterparties whose keys, registered at runtime through the jwt_keys
	// handler, verify this issuer's tokens. Changes apply within seconds, without a reload.
	Registry []string `json:"registry,omitempty"`

	// Algorithms is the allowlist of JWS algorithms for this issuer. Default: every algorithm the
	// issuer's keys allow (RSA: RS256-512 and PS256-512; EC: the curve's ES*; Ed25519: EdDSA;
	// oct: HS* by key length). "none" is never accepted.
	Algorithms []string `json:"algorithms,omitempty"`

	// Audience, when set, replaces the top-level audience for this issuer's tokens.
	Audience []string `json:"audience,omitempty"`

	// AnyAudience turns the audience check off for this issuer's tokens, whatever the top level
	// says (Caddyfile: `audience any` in the issuer block). It cannot be combined with Audience.
	// Default: false.
	AnyAudience bool `json:"any_audience,omitempty"`

	// Signer names a local jwt_signer (global option) whose published keys verify this issuer's
	// tokens: read from memory, no network, following its key rotations. Default: none.
	Signer string `json:"signer,omitempty"`

	// Type is the JOSE typ header every token of this issuer must carry, such as at+jwt for
	// RFC 9068 JWT access tokens; a token without it or with another is answered 401
	// invalid_token (wrong_typ). It compares as a media type: case-insensitive, "application/"
	// optional (RFC 7515 §4.1.9). Not allowed in request_signature issuers. Default: not checked,
	// except at+jwt for an issuer with a signer (a local token_endpoint's access tokens, RFC 9068
	// §4).
	Type string `json:"typ,omitempty"`
}

// signerTokenType is the typ a local token_endpoint gives its access tokens (RFC 9068 §2.1), and
// so the one required of an issuer whose keys are a signer's unless it says otherwise.
const signerTokenType = "at+jwt"

// requiredType is the typ the issuer's tokens must carry: Type, else at+jwt for a signer issuer
// (RFC 9068 §4: a resource server MUST check typ), else none.
func (ic *IssuerConfig) requiredType() string {
	if ic.Type == "" && ic.Signer != "" {
		return signerTokenType
	}
	return ic.Type
}

// KeyFile is a local file holding one or more public keys.
type KeyFile struct {
	// Path is the file's path. Placeholders such as {env.KEY_DIR} are expanded once at provision.
	Path string `json:"path"`

	// KeyID, when set, is the kid tokens name this key by; the file must hold exactly one key.
	// Default: the JWK's kid, or else the key's RFC 7638 SHA-256 thumbprint.
	KeyID string `json:"kid,omitempty"`
}

// ClaimRule requires a claim to equal one of the values.
type ClaimRule struct {
	// Name is the claim's name.
	Name string `json:"name"`
	// Values are the accepted values; numbers and booleans compare by their JSON text.
	Values []string `json:"values"`
}

// TokenLocation is one place a token may be.
type TokenLocation struct {
	// From is where to look: header, cookie or query.
	From string `json:"from"`
	// Name is the header, cookie or query parameter name.
	Name string `json:"name"`
	// Scheme, for a header, is the authentication scheme before the token (case-insensitive),
	// such as Bearer. Empty means the whole header value is the token.
	Scheme string `json:"scheme,omitempty"`
}

// defaultTokenLocation is RFC 6750 §2.1.
var defaultTokenLocation = TokenLocation{From: "header", Name: "Authorization", Scheme: "Bearer"}

// DefaultVerifiedCache is the size of the verified-token cache when verified_cache is not set.
const DefaultVerifiedCache = 10000

// cacheSize is the verified-token cache's size for the engine: 0 (none) when turned off.
func (c *Config) cacheSize() int {
	switch {
	case c.VerifiedCache < 0:
		return 0
	case c.VerifiedCache == 0:
		return DefaultVerifiedCache
	}
	return c.VerifiedCache
}

// policy turns the configuration into the engine's policy, loading local key files. remote builds
// the key source for a jwks_url or discovery URL.
func (c *Config) policy(repl *caddy.Replacer, remote remoteSourceFunc) (verify.Policy, error) {
	p := verify.Policy{
		MaxAge:       time.Duration(c.MaxAge),
		Require:      c.Require,
		MaxTokenSize: c.MaxTokenSize,
		CacheSize:    c.cacheSize(),
	}
	if c.Leeway != nil {
		p.Leeway = time.Duration(*c.Leeway)
		if p.Leeway == 0 {
			p.Leeway = -1 // explicit zero: no leeway at all
		}
	}
	for _, r := range c.Claims {
		p.ClaimRules = append(p.ClaimRules, verify.ClaimRule{Name: r.Name, Values: r.Values})
	}
	for _, ic := range c.Issuers {
		is, err := ic.issuer(repl, remote)
		if err != nil {
			return p, err
		}
		is.Audience = c.issuerAudience(&ic) // resolved here, so the engine's fallback never applies
		p.Issuers = append(p.Issuers, is)
	}
	return p, nil
}

// issuer loads the issuer's key files and builds its key sources.
func (ic *IssuerConfig) issuer(repl *caddy.Replacer, remote remoteSourceFunc) (verify.Issuer, error) {
	is := verify.Issuer{Name: ic.Issuer, Algorithms: ic.Algorithms, Type: ic.requiredType()}
	for _, kf := range ic.Keys {
		path := repl.ReplaceKnown(kf.Path, "")
		ks, err := keys.LoadFile(path, kf.KeyID)
		if err != nil {
			return is, fmt.Errorf("issuer %q: key %s: %w", ic.Issuer, path, err)
		}
		is.Sources = append(is.Sources, keys.NewStatic(ks...))
	}
	for _, u := range []struct{ url, kind string }{{ic.JWKSURL, "jwks_url"}, {ic.Discovery, "discovery"}} {
		if u.url == "" {
			continue
		}
		if remote == nil {
			return is, fmt.Errorf("issuer %q: %s: remote keys are not available here", ic.Issuer, u.kind)
		}
		src, err := remote(u.kind, repl.ReplaceKnown(u.url, ""), ic.Issuer)
		if err != nil {
			return is, fmt.Errorf("issuer %q: %s: %w", ic.Issuer, u.kind, err)
		}
		is.Sources = append(is.Sources, src)
	}
	if ic.Signer != "" {
		if remote == nil {
			return is, fmt.Errorf("issuer %q: signer: local signers are not available here", ic.Issuer)
		}
		src, err := remote("signer", ic.Signer, ic.Issuer)
		if err != nil {
			return is, fmt.Errorf("issuer %q: signer %s: %w", ic.Issuer, ic.Signer, err)
		}
		is.Sources = append(is.Sources, src)
	}
	if len(ic.TrustedCA) > 0 && ic.JWKSURL == "" && ic.Discovery == "" {
		return is, fmt.Errorf("issuer %q: trusted_ca: only applies to jwks_url or discovery, and the issuer has neither", ic.Issuer)
	}
	for _, cp := range ic.Registry {
		if remote == nil {
			return is, fmt.Errorf("issuer %q: registry: runtime keys are not available here", ic.Issuer)
		}
		src, err := remote("registry", cp, ic.Issuer)
		if err != nil {
			return is, fmt.Errorf("issuer %q: registry %s: %w", ic.Issuer, cp, err)
		}
		is.Sources = append(is.Sources, src)
	}
	return is, nil
}

// remoteSourceFunc builds a key source for a remote JWKS ("jwks_url"), a discovery document
// ("discovery") or a counterparty of the runtime key registry ("registry", url is its name).
type remoteSourceFunc func(kind, url, issuer string) (keys.Source, error)

// validateLocations checks the token locations and require_empty headers.
func (c *Config) validateLocations() error {
	for i, loc := range c.Tokens {
		switch loc.From {
		case "header", "cookie", "query":
		default:
			return fmt.Errorf("token %d: from must be header, cookie or query, not %q", i, loc.From)
		}
		if loc.Name == "" {
			return fmt.Errorf("token %d: name is required", i)
		}
		if loc.Scheme != "" && loc.From != "header" {
			return fmt.Errorf("token %d: a scheme is only allowed for a header", i)
		}
		for _, h := range c.RequireEmpty {
			if loc.From == "header" && strings.EqualFold(h, loc.Name) {
				return fmt.Errorf("require_empty %s: the token is read from that header", h)
			}
		}
	}
	if strings.ContainsFunc(c.Realm, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' || r == '\\' }) {
		return errors.New("realm: must not contain quotes, backslashes or control characters")
	}
	return nil
}
