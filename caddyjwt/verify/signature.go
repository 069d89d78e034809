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

// maxCandidates bounds how many keys are tried by fit rather than by an exact kid match (a token
// without kid, or the keys without a kid of their own for a token with one), so that a token
// cannot make the gateway run many signature checks.
const maxCandidates = 4

// checkSignature selects the issuer's keys for the token and verifies the signature with them.
// The algorithm is the header's alg, already checked against the issuer's allowlist; a key is
// used only for the algorithms it allows. It returns the key that verified.
func checkSignature(ctx context.Context, is *issuer, jh joseHeader, input signingInput, sig []byte) (keys.Key, error) {
	s := selection{is: is, jh: jh, check: signatureCheck{alg: jh.alg, input: input, sig: sig}}
	if !jh.hasKID {
		return s.byFit()
	}
	return s.byKID(ctx)
}

// anyKeyFits reports whether the issuer holds a key that checkSignature would try for the token,
// without computing a signature: the same walk with every check answered "would verify", so it
// stops at the first candidate and does no more (no extra refresh) than checkSignature would. A
// nil error accepts nothing; it says only that a signature check would run.
func anyKeyFits(ctx context.Context, is *issuer, jh joseHeader) error {
	s := selection{is: is, jh: jh, dryRun: true}
	var err error
	if !jh.hasKID {
		_, err = s.byFit()
	} else {
		_, err = s.byKID(ctx)
	}
	return err
}

// selection is one token's walk over its issuer's keys (INTERFACE.md Wave 2, "Keys without a
// kid", the rule of Envoy's jwt_verify_lib): a token naming kid k is tried with the keys whose ID
// is k (a key's own kid, or the thumbprint of a key without one) and with the keys that have no
// kid of their own and fit its algorithm; a token without kid with the keys that fit.
type selection struct {
	is    *issuer
	jh    joseHeader
	check signatureCheck
	// dryRun (anyKeyFits only, never checkSignature) stops at the first candidate key without
	// checking the signature.
	dryRun bool

	byFitTried  int                   // keys tried by fit, at most maxCandidates
	tried       [maxCandidates]string // thumbprints of the keys tried by fit
	unavailable error                 // the last source that could not answer
	unfit       bool                  // a key with the token's kid does not allow its alg
	exact       bool                  // some source holds a key with the token's kid
	triedAny    bool                  // at least one signature check ran
}

// byFit verifies a token without kid with the keys that fit its algorithm, in source order.
func (s *selection) byFit() (keys.Key, error) {
	for _, src := range s.is.sources {
		set, err := src.Keys()
		if err != nil {
			s.unavailable = err
			continue
		}
		if k, ok := s.tryFitting(set.Keys()); ok {
			return k, nil
		}
	}
	switch {
	case s.triedAny:
		return keys.Key{}, Reject(ReasonBadSignature, nil)
	case s.unavailable != nil:
		return keys.Key{}, Reject(ReasonKeysUnavailable, s.unavailable)
	}
	return keys.Key{}, Reject(ReasonNoMatchingKey, nil)
}

// byKID verifies a token with a kid: first the exact matches of every source, then the keys
// without a kid of their own; only when no source holds the kid at all does a source that can
// refresh (a JWKS cache) get one chance to learn it.
func (s *selection) byKID(ctx context.Context) (keys.Key, error) {
	var buf [4]*keys.Set
	sets := buf[:0]
	for _, src := range s.is.sources {
		set, err := src.Keys()
		if err != nil {
			s.unavailable = err
			set = nil
		}
		sets = append(sets, set)
	}
	for _, set := range sets {
		if k, ok := s.tryExact(set); ok {
			return k, nil
		}
	}
	for _, set := range sets {
		if k, ok := s.tryFitting(set.WithoutKID()); ok {
			return k, nil
		}
	}
	if !s.exact {
		for i, src := range s.is.sources {
			if sets[i] == nil {
				continue // unavailable: KeysAfterMiss would say so again
			}
			set, err := keysAfterMiss(ctx, src, s.jh.kid)
			if err != nil {
				s.unavailable = err
				continue
			}
			if set == nil || set == sets[i] {
				continue
			}
			if k, ok := s.tryExact(set); ok {
				return k, nil
			}
			if k, ok := s.tryFitting(set.WithoutKID()); ok {
				return k, nil
			}
		}
	}
	switch {
	case s.exact && s.triedAny:
		return keys.Key{}, Reject(ReasonBadSignature, nil)
	case s.unavailable != nil && !s.exact:
		return keys.Key{}, Reject(ReasonKeysUnavailable, s.unavailable)
	case s.triedAny:
		return keys.Key{}, Reject(ReasonBadSignature, nil)
	case s.unfit:
		return keys.Key{}, Reject(ReasonAlgNotAllowed, errors.New("algorithm does not fit the key"))
	}
	return keys.Key{}, Reject(ReasonUnknownKey, &UnknownKIDError{UnverifiedKID: s.jh.kid, sources: s.is.sources})
}

// tryExact verifies with the key whose ID is the token's kid, when set holds one that fits.
func (s *selection) tryExact(set *keys.Set) (keys.Key, bool) {
	k, ok := set.Lookup(s.jh.kid)
	if !ok {
		return keys.Key{}, false
	}
	s.exact = true
	if !k.Allows(s.jh.alg) {
		s.unfit = true
		return keys.Key{}, false
	}
	s.triedAny = true
	return k, s.dryRun || s.check.verify(k)
}

// tryFitting verifies with the keys of ks that fit the algorithm and were not tried yet, within
// the maxCandidates bound.
func (s *selection) tryFitting(ks []keys.Key) (keys.Key, bool) {
	for _, k := range ks {
		if s.byFitTried == maxCandidates {
			return keys.Key{}, false
		}
		if !k.Allows(s.jh.alg) || (s.jh.hasKID && k.ID == s.jh.kid) || slices.Contains(s.tried[:s.byFitTried], k.Thumbprint) {
			continue // not fit, already tried as the exact match, or already tried
		}
		s.tried[s.byFitTried] = k.Thumbprint
		s.byFitTried++
		s.triedAny = true
		if s.dryRun || s.check.verify(k) {
			return k, true
		}
	}
	return keys.Key{}, false
}

// exactlyOneKeyFits fails unless exactly one key held by the issuer's sources fits alg. Sources
// that cannot answer are left to checkSignature, which reports them.
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

// keysAfterMiss gives a source that can refresh (a JWKS cache) one chance to learn the kid; it
// returns nil for a source that cannot.
func keysAfterMiss(ctx context.Context, src keys.Source, kid string) (*keys.Set, error) {
	mh, ok := src.(keys.MissHandler)
	if !ok {
		return nil, nil
	}
	// Bounded here, where it is needed, rather than on every request by the caller.
	ctx, cancel := context.WithTimeout(ctx, MissWait)
	defer cancel()
	return mh.KeysAfterMiss(ctx, kid)
}

// allowedAlgorithm reports whether alg may be used for the issuer at all. "none" never is.
func (is *issuer) allowedAlgorithm(alg string) bool {
	if alg == "none" || !keys.IsSupported(alg) {
		return false
	}
	return len(is.algorithms) == 0 || slices.Contains(is.algorithms, alg)
}
