package binding

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/obgate/obgate/caddyjwt/verify"
)

// b64 is strict base64url without padding (RFC 7515 §2).
var b64 = base64.RawURLEncoding.Strict()

// mismatch is the rejection for a bound field that does not match the request. The detail names
// the field (a fixed word), never the value.
func mismatch(field string) error {
	return &verify.Error{Reason: verify.ReasonBindingMismatch, Detail: field}
}

// checkTokenIO checks the tokenio header parameters against the request: exp (milliseconds),
// method, host, path and query. It returns when the signature expires.
func (b *Binder) checkTokenIO(h map[string]any, req *Request, now time.Time) (time.Time, error) {
	expMS, err := millis(h)
	if err != nil {
		return time.Time{}, err
	}
	expires := time.UnixMilli(expMS).Add(b.leeway)
	if !now.Before(expires) {
		if expMS < secondsLikeMillis {
			// A signer that sent seconds: say which unit is expected, so the fix is visible.
			return time.Time{}, &verify.Error{Reason: verify.ReasonExpired, Detail: expSecondsHint}
		}
		return time.Time{}, verify.Reject(verify.ReasonExpired, nil)
	}
	if m, ok := h["method"].(string); !ok || m != req.Method {
		return time.Time{}, mismatch("method")
	}
	if host, ok := h["host"].(string); !ok || !hostMatches(host, req.Host, req.Scheme) {
		return time.Time{}, mismatch("host")
	}
	if p, ok := h["path"].(string); !ok || !pathMatches(b.pathForm, p, req.RawPath) {
		return time.Time{}, mismatch("path")
	}
	q, present := h["query"]
	qs, isString := q.(string)
	switch {
	case req.RawQuery == "" && present && (!isString || qs != ""):
		return time.Time{}, mismatch("query") // the JWS names a query the request lacks
	case req.RawQuery != "" && (!isString || !queryMatches(b.pathForm, qs, req.RawQuery)):
		return time.Time{}, mismatch("query")
	}
	return expires, nil
}

// secondsLikeMillis is the bound under which a tokenio exp, read as milliseconds, most likely
// holds seconds: 10^11 ms is March 1973, while 10^11 s lies more than 3000 years ahead.
const secondsLikeMillis = 100_000_000_000

// expSecondsHint is the description detail for such an exp (a fixed text, never the value).
const expSecondsHint = "exp is in milliseconds since the epoch, and this one looks like seconds"

// millis reads tokenio's exp: milliseconds since the epoch, as a JSON number or a numeric string
// (seed 002 shows both). Fractions are refused: a millisecond timestamp is an integer.
func millis(h map[string]any) (int64, error) {
	v, ok := h["exp"]
	if !ok {
		return 0, verify.Reject(verify.ReasonMissingExp, nil)
	}
	var s string
	switch v := v.(type) {
	case json.Number:
		s = string(v)
	case string:
		s = v
	default:
		return 0, &verify.Error{Reason: verify.ReasonBadTime, Detail: "exp"}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/int64(time.Millisecond) {
		return 0, &verify.Error{Reason: verify.ReasonBadTime, Detail: "exp"}
	}
	return n, nil
}

// checkOBJWS checks the Open Banking header: the b64 rule of the configured API version, and the
// iat, iss and tan parameters. It returns when the signature stops being acceptable (iat plus
// leeway).
func (b *Binder) checkOBJWS(h map[string]any, now time.Time) (time.Time, error) {
	b64v, hasB64 := h["b64"]
	// verify.VerifyJWS has already refused b64=false unless crit lists it (RFC 7797 §6).
	isFalse := hasB64 && b64v == false
	switch {
	case hasB64 && !isFalse:
		return time.Time{}, &verify.Error{Reason: verify.ReasonBadHeader, Detail: "b64 must be false or absent"}
	case b.b64 == b64FalseCrit && !isFalse:
		return time.Time{}, &verify.Error{Reason: verify.ReasonBadHeader, Detail: "b64=false is required up to version 3.1.3"}
	case b.b64 == b64MustAbsent && hasB64:
		return time.Time{}, &verify.Error{Reason: verify.ReasonBadHeader, Detail: "b64 must be absent from version 3.1.4"}
	}
	iat, err := obIssuedAt(h)
	if err != nil {
		return time.Time{}, err
	}
	if iat.After(now.Add(b.leeway)) {
		return time.Time{}, verify.Reject(verify.ReasonIssuedInFuture, nil)
	}
	if now.Sub(iat) > b.leeway {
		return time.Time{}, verify.Reject(verify.ReasonTooOld, nil)
	}
	if iss, ok := h[obISS].(string); !ok || iss == "" {
		return time.Time{}, &verify.Error{Reason: verify.ReasonMissingClaim, Detail: obISS}
	}
	tan, ok := h[obTAN].(string)
	if !ok {
		return time.Time{}, &verify.Error{Reason: verify.ReasonMissingClaim, Detail: obTAN}
	}
	if !slices.Contains(b.anchors, tan) {
		return time.Time{}, &verify.Error{Reason: verify.ReasonUnknownIssuer, Detail: "trust anchor"}
	}
	if err := checkOBHeaderForm(h); err != nil {
		return time.Time{}, err
	}
	return iat.Add(b.leeway), nil
}

// checkOBHeaderForm enforces the JOSE header rules of the OB UK Read/Write Data API Profile
// (v3.1.x, "Message Signing", "Process for Signing a Payload", "Step 2: Form the JOSE Header"):
//   - crit "must be a string array consisting of" http://openbanking.org.uk/iat, /iss and /tan
//     (and b64 in versions up to 3.1.3): a signature whose crit leaves one out would let a
//     verifier that ignores it accept a signature the signer meant to bind to those claims.
//     verify.VerifyJWS has already refused anything else in crit and b64=false not listed in it.
//   - typ "is an optional claim. If it is specified, it must be set to the value JOSE".
//   - cty "is an optional claim. If it is specified, it must be set to the value json or
//     application/json".
//
// typ and cty are media types, compared as RFC 7515 §4.1.9 and §4.1.10 say: case-insensitively,
// with "application/" implied when the value has no '/'.
func checkOBHeaderForm(h map[string]any) error {
	for _, name := range []string{obIAT, obISS, obTAN} {
		if !critLists(h, name) {
			return &verify.Error{Reason: verify.ReasonBadHeader, Detail: "crit must list " + name}
		}
	}
	if v, ok := h["typ"]; ok && !mediaTypeIs(v, "application/jose") {
		return &verify.Error{Reason: verify.ReasonBadHeader, Detail: "typ must be JOSE"}
	}
	if v, ok := h["cty"]; ok && !mediaTypeIs(v, "application/json") {
		return &verify.Error{Reason: verify.ReasonBadHeader, Detail: "cty must be json or application/json"}
	}
	return nil
}

// critLists reports whether the header's crit array holds name.
func critLists(h map[string]any, name string) bool {
	list, _ := h["crit"].([]any)
	return slices.Contains(list, any(name))
}

// mediaTypeIs reports whether a typ or cty value names the media type want (lower case, with
// its "application/" prefix): RFC 7515 §4.1.9 lets the prefix be omitted, and media type names
// are case-insensitive (RFC 2045 §5.1).
func mediaTypeIs(v any, want string) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	if !strings.Contains(s, "/") {
		s = "application/" + s
	}
	return strings.EqualFold(s, want)
}

// obIssuedAt reads http://openbanking.org.uk/iat: a JSON number of seconds since the epoch.
func obIssuedAt(h map[string]any) (time.Time, error) {
	v, ok := h[obIAT]
	if !ok {
		return time.Time{}, &verify.Error{Reason: verify.ReasonMissingClaim, Detail: obIAT}
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, &verify.Error{Reason: verify.ReasonBadTime, Detail: obIAT}
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1<<40 {
		return time.Time{}, &verify.Error{Reason: verify.ReasonBadTime, Detail: obIAT}
	}
	// Whole seconds and nanoseconds apart: f seconds as one time.Duration overflows from about
	// 9.2e9 s (year 2262) and would wrap to a time in the past.
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*float64(time.Second))), nil
}
