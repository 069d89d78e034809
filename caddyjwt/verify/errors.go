package verify

import (
	"errors"
	"fmt"
	"net/http"
)

// Reason is why a request or token was rejected. The set is closed: every rejection the engine or
// its adapters produce has one of these reasons, and each reason has a fixed HTTP status, RFC 6750
// error code and description, none of which ever echo the token.
type Reason int

// The reasons, grouped by the answer they lead to.
const (
	// ReasonUnknown is any error the adapter does not recognise: 401 invalid_token.
	ReasonUnknown Reason = iota

	// Where the token is.

	// ReasonNoToken means no token in any configured location: 401 without an error attribute.
	ReasonNoToken
	// ReasonMultipleTokens means more than one token (RFC 6750 §2): 400 invalid_request.
	ReasonMultipleTokens
	// ReasonHeaderNotEmpty means a require_empty header has a value: 400 invalid_request.
	ReasonHeaderNotEmpty
	// ReasonAmbiguousQuery means a query that may hold the token does not parse cleanly, or
	// names the token parameter in another spelling: 400 invalid_request.
	ReasonAmbiguousQuery

	// The token's form.

	// ReasonTooLarge means the token exceeds the size cap.
	ReasonTooLarge
	// ReasonMalformed means not a compact JWS with base64url segments and JSON objects.
	ReasonMalformed
	// ReasonDuplicateName means a JSON object in the header or claims repeats a member name.
	ReasonDuplicateName
	// ReasonBadHeader means a header parameter has the wrong type or is missing (alg).
	ReasonBadHeader
	// ReasonCritUnsupported means crit names an extension the verifier does not process
	// (RFC 7515 §4.1.11).
	ReasonCritUnsupported
	// ReasonUnencodedPayload means a b64 header where unencoded payloads are not allowed
	// (RFC 7797).
	ReasonUnencodedPayload
	// ReasonWrongType means the issuer requires a typ header (such as at+jwt, RFC 9068 §4) and
	// the token carries none or another one.
	ReasonWrongType

	// Issuer, key and signature.

	// ReasonUnknownIssuer means iss is missing, not a string, or not a configured issuer.
	ReasonUnknownIssuer
	// ReasonAlgNotAllowed means alg is none, unsupported, not in the issuer's allowlist, or
	// unfit for the key.
	ReasonAlgNotAllowed
	// ReasonUnknownKey means kid names no key of the issuer.
	ReasonUnknownKey
	// ReasonNoMatchingKey means no kid and no key of the issuer fits the algorithm.
	ReasonNoMatchingKey
	// ReasonBadSignature means the signature does not verify.
	ReasonBadSignature
	// ReasonKeysUnavailable means the issuer's keys cannot be had right now: 503 with
	// Retry-After.
	ReasonKeysUnavailable

	// Claims (RFC 7519 §4.1).

	// ReasonExpired means exp is in the past, beyond the leeway.
	ReasonExpired
	// ReasonMissingExp means exp is absent.
	ReasonMissingExp
	// ReasonNotYetValid means nbf is in the future, beyond the leeway.
	ReasonNotYetValid
	// ReasonIssuedInFuture means iat is in the future, beyond the leeway.
	ReasonIssuedInFuture
	// ReasonTooOld means iat is older than max_age, or absent while max_age is set.
	ReasonTooOld
	// ReasonBadTime means exp, nbf or iat is not a JSON number.
	ReasonBadTime
	// ReasonWrongAudience means aud is absent, malformed, or names none of the accepted
	// audiences.
	ReasonWrongAudience
	// ReasonMissingClaim means a required claim is absent.
	ReasonMissingClaim
	// ReasonClaimRule means a claim rule failed: 403 insufficient_scope.
	ReasonClaimRule

	// Request binding (RFC 7515 App. F, RFC 7797).

	// ReasonBindingMismatch means the JWS names another method, host, path, query or body than
	// the request's.
	ReasonBindingMismatch
	// ReasonBodyTooLarge means the request body exceeds the configured cap: 413 invalid_request.
	ReasonBodyTooLarge
	// ReasonReplayed means the signature was seen before within its lifetime.
	ReasonReplayed
	// ReasonReplayUnavailable means the single-use store cannot tell whether the signature was
	// seen before (full of live values, or unreachable): 503 with Retry-After, never a pass.
	ReasonReplayUnavailable
	// ReasonLifetimeTooLong means the signature stays valid for longer than replay protection
	// can remember it (more than the single-use store's maximum lifetime ahead).
	ReasonLifetimeTooLong

	// Certificate-bound tokens (RFC 8705 §3).

	// ReasonCertMissing means the token is bound to a client certificate (cnf x5t#S256) and the
	// request presents none.
	ReasonCertMissing
	// ReasonCertMismatch means the request's client certificate is not the one the token is bound
	// to, or the token's cnf claim is malformed.
	ReasonCertMismatch
	// ReasonNotCertBound means the policy requires certificate-bound tokens and this one carries no
	// cnf x5t#S256.
	ReasonNotCertBound
	// ReasonUnsupportedBinding means the token's cnf claim binds it by a confirmation method the
	// gateway cannot check (e.g. DPoP's jkt, RFC 9449 §6): such a token is refused, never taken
	// as a bearer token.
	ReasonUnsupportedBinding

	reasonCount
)

// ReasonCount is the number of reasons: every Reason the engine or its adapters produce is in
// [0, ReasonCount), so an adapter can resolve one metric series per reason ahead of time.
const ReasonCount = int(reasonCount)

var reasonInfo = [reasonCount]struct {
	name, desc string
	status     int
}{
	ReasonUnknown:            {"unknown", "the token could not be verified", 401},
	ReasonNoToken:            {"no_token", "no token was presented", 401},
	ReasonMultipleTokens:     {"multiple_tokens", "more than one token was presented", 400},
	ReasonHeaderNotEmpty:     {"header_not_empty", "a header that must be empty has a value", 400},
	ReasonAmbiguousQuery:     {"ambiguous_query", "the query does not parse cleanly or repeats the token parameter in another spelling", 400},
	ReasonTooLarge:           {"too_large", "the token is too large", 401},
	ReasonMalformed:          {"malformed", "the token is not a well-formed compact JWS", 401},
	ReasonDuplicateName:      {"duplicate_name", "the token repeats a JSON member name", 401},
	ReasonBadHeader:          {"bad_header", "the token's JOSE header is invalid", 401},
	ReasonCritUnsupported:    {"crit_unsupported", "the token's crit header names an unsupported extension", 401},
	ReasonUnencodedPayload:   {"unencoded_payload", "unencoded payloads (b64) are not accepted here", 401},
	ReasonWrongType:          {"wrong_typ", "the token's type (typ header) is not accepted here", 401},
	ReasonUnknownIssuer:      {"unknown_issuer", "the token's issuer is not trusted", 401},
	ReasonAlgNotAllowed:      {"alg_not_allowed", "the token's signing algorithm is not allowed", 401},
	ReasonUnknownKey:         {"unknown_kid", "the token's key ID is not known for its issuer", 401},
	ReasonNoMatchingKey:      {"no_matching_key", "no key of the issuer fits the token", 401},
	ReasonBadSignature:       {"bad_signature", "the token's signature is invalid", 401},
	ReasonKeysUnavailable:    {"keys_unavailable", "the issuer's keys are temporarily unavailable", 503},
	ReasonExpired:            {"expired", "the token is expired", 401},
	ReasonMissingExp:         {"missing_exp", "the token has no exp claim", 401},
	ReasonNotYetValid:        {"not_yet_valid", "the token is not valid yet (nbf)", 401},
	ReasonIssuedInFuture:     {"issued_in_future", "the token was issued in the future (iat)", 401},
	ReasonTooOld:             {"too_old", "the token is too old (iat)", 401},
	ReasonBadTime:            {"bad_time", "a time claim is not a numeric date", 401},
	ReasonWrongAudience:      {"wrong_audience", "the token is not meant for this audience", 401},
	ReasonMissingClaim:       {"missing_claim", "a required claim is missing", 401},
	ReasonClaimRule:          {"claim_rule", "the token lacks a required claim value", 403},
	ReasonBindingMismatch:    {"binding_mismatch", "the signature does not match the request", 401},
	ReasonBodyTooLarge:       {"body_too_large", "the request body is too large", 413},
	ReasonReplayed:           {"replayed", "the signature was already used", 401},
	ReasonReplayUnavailable:  {"replay_unavailable", "replay protection is temporarily unavailable", 503},
	ReasonLifetimeTooLong:    {"lifetime_too_long", "the token's lifetime is too long to be accepted once only", 401},
	ReasonCertMissing:        {"cert_missing", "the token is bound to a client certificate and none was presented", 401},
	ReasonCertMismatch:       {"cert_mismatch", "the token is bound to another client certificate", 401},
	ReasonNotCertBound:       {"not_cert_bound", "the token is not bound to a client certificate", 401},
	ReasonUnsupportedBinding: {"unsupported_binding", "the token is bound by a confirmation method this gateway cannot check", 401},
}

// String is the reason's stable snake_case name, for logs and metric labels.
func (r Reason) String() string {
	if r < 0 || r >= reasonCount {
		return reasonInfo[ReasonUnknown].name
	}
	return reasonInfo[r].name
}

// Description is the fixed, client-safe error_description for the reason.
func (r Reason) Description() string {
	if r < 0 || r >= reasonCount {
		return reasonInfo[ReasonUnknown].desc
	}
	return reasonInfo[r].desc
}

// Status is the HTTP status code the reason is answered with.
func (r Reason) Status() int {
	if r < 0 || r >= reasonCount {
		return http.StatusUnauthorized
	}
	return reasonInfo[r].status
}

// Code is the RFC 6750 §3.1 error code for the reason, or "" for a request without a token,
// which RFC 6750 §3.1 answers without an error attribute.
func (r Reason) Code() string {
	switch r.Status() {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "invalid_request"
	case http.StatusForbidden:
		return "insufficient_scope"
	case http.StatusServiceUnavailable:
		return "temporarily_unavailable"
	}
	if r == ReasonNoToken {
		return ""
	}
	return "invalid_token"
}

// Error is a rejection with a reason from the closed set.
//
// Detail, when set, adds operator-configured context to the description (such as the name of a
// required claim); it never carries values from the token. Err is the underlying cause, for the
// debug log only: it may contain values from the token and must not be sent to the client.
type Error struct {
	// Reason is why the request or token was rejected; it picks the answer.
	Reason Reason

	// Detail is operator-configured context for the description; empty when there is none.
	Detail string

	// Err is the underlying cause, for the debug log only; may be nil.
	Err error
}

// Error is the reason's name, the detail and the cause, for logs; it is never sent to a client.
func (e *Error) Error() string {
	msg := e.Reason.String()
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause, Err.
func (e *Error) Unwrap() error { return e.Err }

// Description is the client-safe error_description: the reason's description and the detail.
func (e *Error) Description() string {
	if e.Detail == "" {
		return e.Reason.Description()
	}
	return e.Reason.Description() + ": " + e.Detail
}

// Reject builds an *Error; cause may be nil.
func Reject(r Reason, cause error) *Error {
	return &Error{Reason: r, Err: cause}
}

// rejectf builds an *Error with a detail taken from configuration (never from the token).
func rejectf(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason of err, or ReasonUnknown when err is not a rejection.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonUnknown
}
