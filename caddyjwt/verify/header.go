package verify

import (
	"errors"
	"slices"
)

// registeredHeaders are the header parameter names RFC 7515 §4.1 defines; crit must not list
// them (RFC 7515 §4.1.11).
var registeredHeaders = []string{"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit"}

// joseHeader is what the verifier takes from a JOSE header. Keys never come from the token:
// jwk, jku, x5u and x5c are ignored, whatever they say.
type joseHeader struct {
	alg    string
	kid    string // "" when absent
	hasKID bool
	typ    string // "" when absent or not a string; checked against the issuer's Type
}

// readHeader checks the JOSE header's alg, kid, crit and b64 parameters and reads typ. understood lists the
// extension parameters the caller processes itself and so may appear in crit.
func readHeader(h map[string]any, understood []string) (joseHeader, error) {
	var jh joseHeader
	alg, ok := h["alg"].(string)
	if !ok {
		return jh, Reject(ReasonBadHeader, errors.New("alg missing or not a string"))
	}
	jh.alg = alg
	if v, present := h["kid"]; present {
		kid, ok := v.(string)
		if !ok {
			return jh, Reject(ReasonBadHeader, errors.New("kid is not a string"))
		}
		jh.kid, jh.hasKID = kid, true
	}
	jh.typ, _ = h["typ"].(string)
	if err := checkCrit(h, understood); err != nil {
		return jh, err
	}
	if _, present := h["b64"]; present && !slices.Contains(understood, "b64") {
		return jh, Reject(ReasonUnencodedPayload, nil)
	}
	return jh, nil
}

// checkCrit enforces RFC 7515 §4.1.11: crit, when present, is a non-empty array of distinct
// strings, none a registered name, each present in the header and understood by the caller.
func checkCrit(h map[string]any, understood []string) error {
	v, present := h["crit"]
	if !present {
		return nil
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return Reject(ReasonBadHeader, errors.New("crit is not a non-empty array"))
	}
	seen := make(map[string]bool, len(list))
	for _, item := range list {
		name, ok := item.(string)
		if !ok || name == "" || seen[name] {
			return Reject(ReasonBadHeader, errors.New("crit has an empty, repeated or non-string entry"))
		}
		seen[name] = true
		if slices.Contains(registeredHeaders, name) {
			return Reject(ReasonBadHeader, errors.New("crit lists a registered header parameter"))
		}
		if _, ok := h[name]; !ok {
			return Reject(ReasonBadHeader, errors.New("crit lists a parameter the header lacks"))
		}
		if !slices.Contains(understood, name) {
			return Reject(ReasonCritUnsupported, nil)
		}
	}
	return nil
}
