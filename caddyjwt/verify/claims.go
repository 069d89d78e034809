package verify

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"
)

// claimChecks are the claim checks of one issuer, resolved from the policy at New.
type claimChecks struct {
	audience []string
	leeway   time.Duration
	maxAge   time.Duration
	require  []string
	// expOptional accepts a token without exp (Policy.ExpOptional).
	expOptional bool
	rules       []ClaimRule
}

// check applies RFC 7519 §4.1 and the policy's rules to verified claims. The order is fixed so
// that the reason is predictable: time, audience, required claims, then claim rules (403).
func (c *claimChecks) check(claims map[string]any, now time.Time) error {
	if err := c.checkTimes(claims, now); err != nil {
		return err
	}
	if err := checkAudience(claims["aud"], c.audience); err != nil {
		return err
	}
	for _, name := range c.require {
		if v, ok := claims[name]; !ok || v == nil {
			return rejectf(ReasonMissingClaim, "%q", name)
		}
	}
	for _, r := range c.rules {
		if !ruleMatches(claims[r.Name], r.Values) {
			return rejectf(ReasonClaimRule, "claim %q", r.Name)
		}
	}
	return nil
}

// checkTimes checks exp (required), nbf and iat (RFC 7519 §4.1.4-4.1.6) with leeway, and max_age.
func (c *claimChecks) checkTimes(claims map[string]any, now time.Time) error {
	nowSec := float64(now.UnixNano()) / 1e9
	leeway := c.leeway.Seconds()

	exp, hasExp, err := numericDate(claims, "exp")
	if err != nil {
		return err
	}
	if !hasExp && !c.expOptional {
		return Reject(ReasonMissingExp, nil)
	}
	if hasExp && nowSec >= exp+leeway {
		return Reject(ReasonExpired, nil)
	}
	nbf, hasNbf, err := numericDate(claims, "nbf")
	if err != nil {
		return err
	}
	if hasNbf && nowSec+leeway < nbf {
		return Reject(ReasonNotYetValid, nil)
	}
	iat, hasIat, err := numericDate(claims, "iat")
	if err != nil {
		return err
	}
	if hasIat && iat > nowSec+leeway {
		return Reject(ReasonIssuedInFuture, nil)
	}
	if c.maxAge > 0 {
		if !hasIat {
			return rejectf(ReasonTooOld, "iat is required")
		}
		if nowSec-iat > c.maxAge.Seconds()+leeway {
			return Reject(ReasonTooOld, nil)
		}
	}
	return nil
}

// numericDate reads a NumericDate claim (RFC 7519 §2): a JSON number, possibly fractional.
// Strings, booleans, null and numbers too large for a float64 are rejected.
func numericDate(claims map[string]any, name string) (float64, bool, error) {
	v, ok := claims[name]
	if !ok {
		return 0, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, true, rejectf(ReasonBadTime, "%s", name)
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, true, rejectf(ReasonBadTime, "%s", name)
	}
	return f, true, nil
}

// checkAudience implements RFC 7519 §4.1.3: aud is a string or an array of strings, and at least
// one of its values equals an accepted audience exactly (no scheme or slash normalisation). With
// no accepted audiences configured, aud is not required, but a present aud must still be well formed.
func checkAudience(aud any, accepted []string) error {
	var values []string
	switch v := aud.(type) {
	case nil:
		if len(accepted) > 0 {
			return Reject(ReasonWrongAudience, errors.New("aud missing"))
		}
		return nil
	case string:
		values = []string{v}
	case []any:
		if len(v) == 0 {
			return Reject(ReasonWrongAudience, errors.New("aud is an empty array"))
		}
		for _, item := range v {
			s, ok := item.(string)
			if !ok {
				return Reject(ReasonWrongAudience, errors.New("aud array holds a non-string"))
			}
			values = append(values, s)
		}
	default:
		return Reject(ReasonWrongAudience, errors.New("aud is neither a string nor an array"))
	}
	if len(accepted) == 0 {
		return nil
	}
	for _, s := range values {
		if slices.Contains(accepted, s) {
			return nil
		}
	}
	return Reject(ReasonWrongAudience, nil)
}

// ruleMatches reports whether a claim value equals one of the accepted values. Strings compare
// exactly, numbers and booleans by their JSON text; an array matches when any element does.
func ruleMatches(v any, accepted []string) bool {
	switch v := v.(type) {
	case string:
		return slices.Contains(accepted, v)
	case json.Number:
		return slices.Contains(accepted, string(v))
	case bool:
		return slices.Contains(accepted, strconv.FormatBool(v))
	case []any:
		for _, item := range v {
			if _, nested := item.([]any); !nested && ruleMatches(item, accepted) {
				return true
			}
		}
	}
	return false
}
