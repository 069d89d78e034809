package verify

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
)

// MissWait bounds how long a verification waits for its issuer's key cache to refresh when the
// token names a kid the cache does not hold yet (a key rotation); the caller's context may end it
// sooner.
const MissWait = 2 * time.Second

// maxCandidates bounds how many keys a token without kid is tried against, so that a token
// cannot make the gateway run many signature checks.
const maxCandidates = 4

// checkSignature selects the issuer's keys for the token and verifies the signature with them.
// The algorithm is the header's alg, already checked against the issuer's allowlist; a key is
// used only for the algorithms it allows. It returns the key that verified.
func checkSignature(ctx context.Context, is *issuer, jh joseHeader, input signingInput, sig []byte) (keys.Key, error) {
	cands, err := candidates(ctx, is, jh)
	if err != nil {
		return keys.Key{}, err
	}
	check := signatureCheck{alg: jh.alg, input: input, sig: sig}
	for _, k := range cands {
		if check.verify(k) {
			return k, nil
		}
	}
	return keys.Key{}, Reject(ReasonBadSignature, nil)
}

// candidates returns the keys a token may have been signed with: with a kid, exactly that key of
// the issuer's sources (no fallback to other keys); without one, the keys that fit the algorithm
// (seed 001: "validate by kid, else the configured certificate").
func candidates(ctx context.Context, is *issuer, jh joseHeader) ([]keys.Key, error) {
	var unavailable error
	var out []keys.Key
	for _, src := range is.sources {
		set, err := src.Keys()
		if err != nil {
			unavailable = err
			continue
		}
		if jh.hasKID {
			k, ok := set.Lookup(jh.kid)
			if !ok {
				k, ok, err = lookupAfterMiss(ctx, src, jh.kid)
				if err != nil {
					unavailable = err
				}
			}
			if ok {
				if !k.Allows(jh.alg) {
					return nil, Reject(ReasonAlgNotAllowed, errors.New("algorithm does not fit the key"))
				}
				return []keys.Key{k}, nil
			}
			continue
		}
		for _, k := range set.Keys() {
			if k.Allows(jh.alg) && len(out) < maxCandidates {
				out = append(out, k)
			}
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	if unavailable != nil {
		return nil, Reject(ReasonKeysUnavailable, unavailable)
	}
	if jh.hasKID {
		return nil, Reject(ReasonUnknownKey, nil)
	}
	return nil, Reject(ReasonNoMatchingKey, nil)
}

// exactlyOneKeyFits fails unless exactly one key held by the issuer's sources fits alg. Sources
// that cannot answer are left to candidates, which reports them.
func (is *issuer) exactlyOneKeyFits(alg string) error {
	n := 0
	for _, src := range is.sources {
		set, err := src.Keys()
		if err != nil {
			continue
		}
		for _, k := range set.Keys() {
			if k.Allows(alg) {
				n++
			}
		}
	}
	if n > 1 {
		return Reject(ReasonNoMatchingKey, errors.New("no kid, and more than one key fits the algorithm"))
	}
	return nil
}

// lookupAfterMiss gives a source that can refresh (a JWKS cache) one chance to learn the kid.
func lookupAfterMiss(ctx context.Context, src keys.Source, kid string) (keys.Key, bool, error) {
	mh, ok := src.(keys.MissHandler)
	if !ok {
		return keys.Key{}, false, nil
	}
	// Bounded here, where it is needed, rather than on every request by the caller.
	ctx, cancel := context.WithTimeout(ctx, MissWait)
	defer cancel()
	set, err := mh.KeysAfterMiss(ctx, kid)
	if err != nil {
		return keys.Key{}, false, err
	}
	k, ok := set.Lookup(kid)
	return k, ok, nil
}

// allowedAlgorithm reports whether alg may be used for the issuer at all. "none" never is.
func (is *issuer) allowedAlgorithm(alg string) bool {
	if alg == "none" || !keys.IsSupported(alg) {
		return false
	}
	return len(is.algorithms) == 0 || slices.Contains(is.algorithms, alg)
}
