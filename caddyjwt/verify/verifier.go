// Package verify is obgate's JWT verification engine: it parses a compact JWS strictly, selects
// the key from the token's issuer's configured keys, checks the signature and then the claims.
//
// The algorithm and the keys always come from the policy, never from the token: alg "none" is
// never accepted, and the jwk, jku, x5u and x5c header parameters are ignored. Every rejection
// is an *Error with a Reason from a closed set. The package does no network or disk I/O and never
// imports Caddy.
package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
)

// Verifier verifies tokens against a Policy. It is safe for concurrent use.
type Verifier struct {
	issuers      map[string]*issuer
	maxTokenSize int
	clock        func() time.Time
	cache        *verifiedCache // nil unless Policy.CacheSize is set
	onLookup     func(hit bool) // Policy.OnCacheLookup; never nil when cache is set
	headers      headerMemo
	// shared holds the configured issuer names and audiences as ready-made interface values,
	// which most tokens' iss and aud claims are (strictjson.ParseOwned).
	shared map[string]any
}

// issuer is an Issuer resolved for the hot path.
type issuer struct {
	name       string
	sources    []keys.Source
	algorithms []string
	typ        tokenType
	claims     claimChecks
}

// Result is what a verified token says.
type Result struct {
	// Issuer is the verified iss.
	Issuer string

	// KeyID is the ID of the key that verified the signature.
	KeyID string

	// Algorithm is the JWS algorithm the signature was verified with.
	Algorithm string

	// Claims are all the token's claims; numbers are json.Number.
	Claims map[string]any
}

// New builds a Verifier, or reports the first configuration mistake in the policy.
func New(p Policy) (*Verifier, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	v := &Verifier{
		issuers:      make(map[string]*issuer, len(p.Issuers)),
		maxTokenSize: p.MaxTokenSize,
		clock:        p.Clock,
	}
	if v.maxTokenSize == 0 {
		v.maxTokenSize = DefaultMaxTokenSize
	}
	if v.clock == nil {
		v.clock = time.Now
	}
	if p.CacheSize > 0 {
		v.cache = newVerifiedCache(p.CacheSize)
		v.onLookup = p.OnCacheLookup
		if v.onLookup == nil {
			v.onLookup = func(bool) {}
		}
	}
	v.shared = sharedClaimValues(p)
	leeway := p.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	} else if leeway < 0 {
		leeway = 0
	}
	for _, is := range p.Issuers {
		if err := is.CheckStaticKeys(); err != nil {
			return nil, err
		}
		aud := p.Audience
		if len(is.Audience) > 0 {
			aud = is.Audience
		}
		typ, _ := newTokenType(is.Type) // validated above
		v.issuers[is.Name] = &issuer{
			name:       is.Name,
			sources:    is.Sources,
			algorithms: is.Algorithms,
			typ:        typ,
			claims: claimChecks{
				audience:    aud,
				leeway:      leeway,
				maxAge:      p.MaxAge,
				require:     p.Require,
				expOptional: p.ExpOptional,
				rules:       p.ClaimRules,
			},
		}
	}
	return v, nil
}

// sharedClaimValues returns the policy's issuer names and audiences, each boxed once.
func sharedClaimValues(p Policy) map[string]any {
	m := make(map[string]any)
	add := func(s string) { m[s] = s }
	for _, a := range p.Audience {
		add(a)
	}
	for _, is := range p.Issuers {
		add(is.Name)
		for _, a := range is.Audience {
			add(a)
		}
	}
	return m
}

// Verify checks a compact JWS JWT and returns its claims. Any failure is an *Error.
//
// When the token names a kid the issuer's JWKS cache does not hold yet, Verify waits for that
// cache's refresh for at most MissWait (ctx may end it sooner); nothing else blocks.
func (v *Verifier) Verify(ctx context.Context, token []byte) (*Result, error) {
	if len(token) > v.maxTokenSize {
		return nil, Reject(ReasonTooLarge, fmt.Errorf("%d bytes", len(token)))
	}
	if v.cache == nil {
		return v.verify(ctx, token, nil)
	}
	sum := sha256.Sum256(token)
	now := v.clock()
	if e := v.cache.get(sum, now); e != nil {
		if e.keyStillHeld() {
			v.onLookup(true)
			if err := e.issuer.claims.check(e.claims, now); err != nil {
				return nil, err
			}
			return &Result{Issuer: e.issuer.name, KeyID: e.keyID, Algorithm: e.alg, Claims: e.claims}, nil
		}
		v.cache.drop(sum)
	}
	v.onLookup(false)
	return v.verify(ctx, token, func(is *issuer, key keys.Key, res *Result) {
		v.cache.put(sum, &verifiedEntry{
			issuer: is, keyID: key.ID, thumbprint: key.Thumbprint, alg: res.Algorithm,
			claims: res.Claims, until: now.Add(CacheTTL),
		})
	})
}

// CacheSize is how many verified tokens v remembers at most; 0 means it has no cache.
func (v *Verifier) CacheSize() int {
	if v.cache == nil {
		return 0
	}
	return v.cache.max
}

// CacheLen is the number of tokens the verified-token cache holds now; 0 without a cache.
func (v *Verifier) CacheLen() int {
	if v.cache == nil {
		return 0
	}
	return v.cache.len()
}

// VerifyUncached is Verify without the verified-token cache: it neither reads nor fills it. The
// check endpoint uses it, so that checking a token changes nothing.
func (v *Verifier) VerifyUncached(ctx context.Context, token []byte) (*Result, error) {
	if len(token) > v.maxTokenSize {
		return nil, Reject(ReasonTooLarge, fmt.Errorf("%d bytes", len(token)))
	}
	return v.verify(ctx, token, nil)
}

// verify is Verify without the cache; verified, when not nil, is told about a token that passed.
func (v *Verifier) verify(ctx context.Context, token []byte, verified func(*issuer, keys.Key, *Result)) (*Result, error) {
	headerB64, _, _ := bytes.Cut(token, []byte{'.'})
	jh, memoized := v.headers.get(headerB64)
	var c compact
	var sigBuf sigBuffer
	if err := c.split(token, !memoized, &sigBuf); err != nil {
		return nil, err
	}
	if !memoized {
		var err error
		if jh, err = readHeader(c.header, nil); err != nil {
			return nil, err
		}
	}
	unverifiedClaims, err := decodeJSONSegment(c.payloadB64, claimsLimits, v.shared)
	if err != nil {
		return nil, err
	}
	claimedIss, _ := unverifiedClaims["iss"].(string)
	is, ok := v.issuers[claimedIss]
	if !ok {
		// An unknown issuer never causes a key lookup, let alone a fetch.
		return nil, Reject(ReasonUnknownIssuer, nil)
	}
	if !is.allowedAlgorithm(jh.alg) {
		return nil, Reject(ReasonAlgNotAllowed, nil)
	}
	if !is.typ.matches(jh.typ) { // RFC 9068 §4 for access tokens, see tokenType.matches
		return nil, Reject(ReasonWrongType, nil)
	}
	key, err := checkSignature(ctx, is, jh, compactInput(c.signingInput), c.signature)
	if err != nil {
		return nil, err
	}
	if !memoized {
		v.headers.put(c.headerB64, jh)
	}
	claims := unverifiedClaims // the signature covers them now
	if err := is.claims.check(claims, v.clock()); err != nil {
		return nil, err
	}
	res := &Result{Issuer: is.name, KeyID: key.ID, Algorithm: jh.alg, Claims: claims}
	if verified != nil {
		verified(is, key, res)
	}
	return res, nil
}

// IsUnavailable reports whether err means the keys (or the replay store) could not be had, and
// when to retry.
func IsUnavailable(err error) (time.Duration, bool) {
	switch ReasonOf(err) {
	case ReasonKeysUnavailable:
	case ReasonReplayUnavailable:
		if ra, ok := errors.AsType[interface {
			error
			RetryAfter() time.Duration
		}](err); ok && ra.RetryAfter() > 0 {
			return ra.RetryAfter(), true
		}
		return time.Second, true
	default:
		return 0, false
	}
	var ue *keys.UnavailableError
	if errors.As(err, &ue) && ue.RetryAfter > 0 {
		return ue.RetryAfter, true
	}
	return 30 * time.Second, true
}
