package dcrhandler

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/bearer"
)

// Error codes of RFC 7591 §3.2.2, RFC 6750 §3.1 and RFC 6749 §5.2 that the handler answers with.
const (
	codeInvalidMetadata = "invalid_client_metadata"
	codeInvalidRedirect = "invalid_redirect_uri"
	codeInvalidSSA      = "invalid_software_statement"
	codeUnapprovedSSA   = "unapproved_software_statement"
	codeInvalidToken    = "invalid_token"
	codeInvalidRequest  = "invalid_request"
	codeUnavailable     = "temporarily_unavailable"
	codeServerError     = "server_error"
	defaultRetryAfter   = 30 * time.Second
)

// rejection is a request the handler refuses, with everything its answer needs. desc is the
// client-safe error_description: it comes from this package's own vocabulary and names the field,
// never echoing a value from the request. err, when set, is the cause, for the debug log only.
type rejection struct {
	status     int
	code       string
	desc       string
	retryAfter time.Duration
	challenge  bool // 401: send WWW-Authenticate
	err        error
}

func (r *rejection) Error() string {
	msg := r.code + ": " + r.desc
	if r.err != nil {
		msg += ": " + r.err.Error()
	}
	return msg
}

func (r *rejection) Unwrap() error { return r.err }

// badMetadata is RFC 7591 §3.2.2 invalid_client_metadata; desc starts with the field's name.
func badMetadata(desc string) *rejection {
	return &rejection{status: http.StatusBadRequest, code: codeInvalidMetadata, desc: desc}
}

// badRedirect is RFC 7591 §3.2.2 invalid_redirect_uri.
func badRedirect(desc string) *rejection {
	return &rejection{status: http.StatusBadRequest, code: codeInvalidRedirect, desc: desc}
}

// badSSA is RFC 7591 §3.2.2 invalid_software_statement.
func badSSA(desc string) *rejection {
	return &rejection{status: http.StatusBadRequest, code: codeInvalidSSA, desc: desc}
}

// unapprovedSSA is RFC 7591 §3.2.2 unapproved_software_statement: a valid statement that this
// server does not accept.
func unapprovedSSA(desc string) *rejection {
	return &rejection{status: http.StatusBadRequest, code: codeUnapprovedSSA, desc: desc}
}

// unavailable is 503 temporarily_unavailable with Retry-After: something the gateway depends on
// (a software's JWKS, a directory's keys) cannot be had right now.
func unavailable(desc string, retry time.Duration, cause error) *rejection {
	if retry <= 0 {
		retry = defaultRetryAfter
	}
	return &rejection{status: http.StatusServiceUnavailable, code: codeUnavailable, desc: desc, retryAfter: retry, err: cause}
}

// unauthorized is RFC 7592 §3 / RFC 6750 §3.1: a missing, bad or unknown registration access
// token, or an unknown client (never 404, so that client IDs cannot be probed).
func unauthorized(code, desc string) *rejection {
	return &rejection{status: http.StatusUnauthorized, code: code, desc: desc, challenge: true}
}

// internalError is a failure of the gateway itself (storage), never of the request.
func internalError(cause error) *rejection {
	return &rejection{status: http.StatusInternalServerError, code: codeServerError,
		desc: "the registration could not be processed", err: cause}
}

// damagedRecord answers a read of a stored registration that no longer decodes (see
// decodeRecord): the owner may still replace it with PUT or remove it with DELETE.
func damagedRecord() *rejection {
	return &rejection{status: http.StatusInternalServerError, code: codeServerError,
		desc: "the stored registration cannot be read; replace it with PUT or remove it with DELETE"}
}

// plain is a request-level refusal (413, 415, 405) answered with invalid_request.
func plain(status int, desc string) *rejection {
	return &rejection{status: status, code: codeInvalidRequest, desc: desc}
}

// rejectionFor turns any error into the answer to send. It is the only place that maps errors
// to statuses: an error it does not recognise is a 500 server_error that reveals nothing. Engine
// errors reach it already translated by jwtRejection.
func rejectionFor(err error) *rejection {
	if r, ok := errors.AsType[*rejection](err); ok {
		return r
	}
	return internalError(err)
}

// write sends the answer: JSON {"error", "error_description"}, no-store, Retry-After on 503 and a
// Bearer challenge on 401 (RFC 6750 §3; no error attribute when no token was sent).
func (r *rejection) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if r.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(max(1, int(r.retryAfter.Seconds()))))
	}
	if r.challenge {
		code := r.code
		if code == codeInvalidRequest {
			code = "" // no credentials at all: a bare challenge (RFC 6750 §3.1)
		}
		h.Set("WWW-Authenticate", bearer.Challenge("", code, r.desc))
	}
	if r.status == http.StatusMethodNotAllowed {
		h.Set("Allow", "POST, GET, PUT, DELETE")
	}
	w.WriteHeader(r.status)
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{r.code, r.desc})
	_, _ = w.Write(body)
}

// jwtRejection translates an engine rejection of the request JWT or the software statement into
// the RFC 7591 answer: invalid_client_metadata for the request JWT, invalid_software_statement
// for the SSA, 503 when keys are unavailable. subject is "the request JWT" or "the software
// statement"; the description names the claim or header parameter at fault.
func jwtRejection(err error, code, subject string) *rejection {
	if retry, ok := verify.IsUnavailable(err); ok {
		return unavailable("the keys of "+subject+" are temporarily unavailable", retry, err)
	}
	var desc string
	e, _ := errors.AsType[*verify.Error](err)
	reason := verify.ReasonOf(err)
	switch reason {
	case verify.ReasonTooLarge:
		desc = subject + " is too large"
	case verify.ReasonMalformed, verify.ReasonDuplicateName:
		desc = subject + " is not a well-formed compact JWS JWT"
	case verify.ReasonBadHeader, verify.ReasonCritUnsupported, verify.ReasonUnencodedPayload:
		desc = "header: " + subject + " has an invalid JOSE header"
	case verify.ReasonUnknownIssuer:
		desc = "iss: " + subject + "'s issuer is not accepted"
	case verify.ReasonAlgNotAllowed:
		desc = "alg: " + subject + "'s signing algorithm is not allowed"
	case verify.ReasonUnknownKey, verify.ReasonNoMatchingKey:
		desc = "kid: " + subject + " names no key it may be verified with"
	case verify.ReasonBadSignature:
		desc = "signature: " + subject + "'s signature is invalid"
	case verify.ReasonExpired:
		desc = "exp: " + subject + " has expired"
	case verify.ReasonMissingExp:
		desc = "exp: " + subject + " has no exp claim"
	case verify.ReasonNotYetValid:
		desc = "nbf: " + subject + " is not valid yet"
	case verify.ReasonIssuedInFuture:
		desc = "iat: " + subject + " was issued in the future"
	case verify.ReasonTooOld:
		desc = "iat: " + subject + " is too old or has no iat"
	case verify.ReasonBadTime:
		desc = "exp, nbf, iat: " + subject + " has a time claim that is not a numeric date"
	case verify.ReasonWrongAudience:
		desc = "aud: " + subject + " is not meant for this server"
	case verify.ReasonMissingClaim:
		name := "claim"
		if e != nil && e.Detail != "" {
			name = strings.Trim(e.Detail, `"`) // the detail is the configured claim name
		}
		desc = name + ": required in " + subject
	default:
		desc = subject + " could not be verified"
	}
	return &rejection{status: http.StatusBadRequest, code: code, desc: desc, err: err}
}
