package verify

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
)

// DefaultMaxTokenSize caps the size of a token before any parsing (16 KiB).
const DefaultMaxTokenSize = 16 << 10

// DefaultLeeway is the clock skew allowed for exp, nbf and iat.
const DefaultLeeway = 30 * time.Second

// Policy is what a verifier accepts: the trusted issuers and their keys, and the claim checks.
// The adapter builds it once from configuration; New validates it.
type Policy struct {
	// Issuers maps each trusted "iss" to its keys and algorithms. A token whose iss is not here
	// is rejected before any key is looked at.
	Issuers []Issuer

	// Audience lists accepted "aud" values; the token's aud must contain at least one (exact match).
	// Empty means the aud claim is not checked, unless an issuer sets its own.
	Audience []string

	// Leeway is the clock skew allowed for exp, nbf and iat. Zero means DefaultLeeway; use a
	// negative value for no leeway at all.
	Leeway time.Duration

	// MaxAge, when positive, requires iat and rejects tokens issued longer ago than this.
	MaxAge time.Duration

	// Require lists claims that must be present. exp is always required, unless ExpOptional.
	Require []string

	// ExpOptional accepts a token without exp; an exp that is present is still checked. Default
	// false: exp is required. A caller that sets it must bound the token's age another way (MaxAge,
	// or its own iat rule), as DCR does for software statements that carry only iat.
	ExpOptional bool

	// ClaimRules are checked after everything else; a failure is ReasonClaimRule (403).
	ClaimRules []ClaimRule

	// MaxTokenSize caps the token's length in bytes. Zero means DefaultMaxTokenSize.
	MaxTokenSize int

	// CacheSize, when positive, remembers up to this many verified tokens (each for at most
	// CacheTTL) so that a token presented again skips the signature check; the key that verified
	// it must still be held and the claims are checked again each time. Zero: no cache.
	CacheSize int

	// OnCacheLookup, when not nil and CacheSize is set, is told about every lookup in the
	// verified-token cache: hit when the token was served from memory (its claims still checked),
	// miss when it took the full path. It must be cheap and safe for concurrent use.
	OnCacheLookup func(hit bool)

	// Clock returns the current time. Nil means time.Now.
	Clock func() time.Time
}

// Issuer is one trusted issuer: the issuer-to-key mapping.
type Issuer struct {
	// Name is the exact "iss" value.
	Name string
	// Sources provide the issuer's keys; at least one is required.
	Sources []keys.Source
	// Algorithms is the issuer's allowlist. Empty means every algorithm its keys allow.
	Algorithms []string
	// Audience, when not empty, replaces Policy.Audience for this issuer.
	Audience []string
	// Type, when not empty, is the JOSE typ header (RFC 7515 §4.1.9) every token of this
	// issuer must carry, such as at+jwt for JWT access tokens (RFC 9068 §4); a token without
	// typ or with another one is ReasonWrongType. It compares as a media type: case-insensitive,
	// "application/" optional. Verify checks it; VerifyJWS (request signatures) does not.
	// Empty: typ is not checked.
	Type string
}

// ClaimRule requires a claim to equal one of Values; for an array claim, any element may match.
type ClaimRule struct {
	// Name is the claim's name.
	Name string

	// Values are the accepted values; numbers and booleans compare by their JSON text.
	Values []string
}

// validate checks the policy for configuration mistakes and reports them naming the element.
func (p *Policy) validate() error {
	if len(p.Issuers) == 0 {
		return errors.New("no issuer configured")
	}
	seen := make(map[string]bool, len(p.Issuers))
	for _, is := range p.Issuers {
		if is.Name == "" {
			return errors.New("issuer: empty name")
		}
		if seen[is.Name] {
			return fmt.Errorf("issuer %q: configured more than once", is.Name)
		}
		seen[is.Name] = true
		if len(is.Sources) == 0 {
			return fmt.Errorf("issuer %q: no keys configured", is.Name)
		}
		if _, err := newTokenType(is.Type); err != nil {
			return fmt.Errorf("issuer %q: %w", is.Name, err)
		}
		for _, alg := range is.Algorithms {
			if !keys.IsSupported(alg) {
				return fmt.Errorf("issuer %q: algorithms: unknown or unsupported algorithm %q", is.Name, alg)
			}
		}
	}
	for _, r := range p.ClaimRules {
		if r.Name == "" || len(r.Values) == 0 {
			return errors.New("claim rule: needs a claim name and at least one value")
		}
	}
	if p.MaxAge < 0 {
		return errors.New("max_age: must not be negative")
	}
	if p.CacheSize < 0 {
		return errors.New("verified_cache: must not be negative")
	}
	if p.MaxTokenSize < 0 {
		return errors.New("max_token_size: must not be negative")
	}
	return nil
}

// CheckStaticKeys verifies that every key an issuer has right now fits its algorithm allowlist,
// so that "HS256 with an RSA key" fails at provision time. Sources whose keys are not there yet
// (remote keys) are skipped.
func (is Issuer) CheckStaticKeys() error {
	if len(is.Algorithms) == 0 {
		return nil
	}
	for _, src := range is.Sources {
		set, err := src.Keys()
		if err != nil {
			continue
		}
		for _, k := range set.Keys() {
			if !slices.ContainsFunc(is.Algorithms, k.Allows) {
				return fmt.Errorf("issuer %q: key %q from %s (%s) allows %v, none of which is in algorithms %v",
					is.Name, k.ID, k.Origin, k.Type(), k.Algorithms, is.Algorithms)
			}
		}
	}
	return nil
}
