package grant

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// The error codes of RFC 6749 §5.2, and the two this endpoint adds for its own trouble
// (RFC 6749 §4.1.2.1 defines temporarily_unavailable and server_error for the authorization
// endpoint; they are used here with the same meaning).
const (
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidClient          = "invalid_client"
	CodeUnauthorizedClient     = "unauthorized_client"
	CodeUnsupportedGrantType   = "unsupported_grant_type"
	CodeInvalidScope           = "invalid_scope"
	CodeTemporarilyUnavailable = "temporarily_unavailable"
	CodeServerError            = "server_error"
)

// Error is a refused token request: the HTTP status, the RFC 6749 §5.2 error code and a fixed
// description that never echoes the request. Err, when set, is the cause for the debug log only.
type Error struct {
	// Status is the HTTP status of the answer.
	Status int
	// Code is the RFC 6749 §5.2 error code.
	Code string
	// Description is the error_description: from this package's own vocabulary, never from a cause.
	Description string
	// RetryAfter, when positive, is sent as Retry-After (503 answers).
	RetryAfter time.Duration
	// Challenge, when set, is the WWW-Authenticate scheme the client tried (RFC 6749 §5.2:
	// a 401 for a failed Authorization header names the scheme the client used).
	Challenge string
	// Err is the cause, for logs.
	Err error
}

// Error names the code and the description, and the cause where there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Description, e.Err)
	}
	return e.Code + ": " + e.Description
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func invalidRequest(desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: desc}
}

func invalidClient(desc string, cause error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidClient, Description: desc, Err: cause}
}

func unavailable(desc string, retry time.Duration, cause error) *Error {
	if retry < time.Second {
		retry = time.Second
	}
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeTemporarilyUnavailable, Description: desc, RetryAfter: retry, Err: cause}
}

// MethodNotAllowed is the answer to a method other than POST (RFC 6749 §3.2: the client MUST use
// POST): 405 with the invalid_request body.
func MethodNotAllowed() *Error {
	return &Error{Status: http.StatusMethodNotAllowed, Code: CodeInvalidRequest, Description: "the token endpoint accepts POST only"}
}

// BodyTooLarge is the answer to a request body over the endpoint's cap: 413 with the
// invalid_request body.
func BodyTooLarge() *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeInvalidRequest, Description: "the request body is too large"}
}

// InvalidRequest is a 400 invalid_request with the given description, for the adapter's own
// checks of the request (trailers, an unreadable body).
func InvalidRequest(desc string) *Error { return invalidRequest(desc) }

// Unavailable is a 503 temporarily_unavailable with Retry-After, for the adapter's own
// dependencies (a client registry not loaded yet).
func Unavailable(desc string, retry time.Duration, cause error) *Error {
	return unavailable(desc, retry, cause)
}

// Answer returns err as an *Error; anything else is a 500 server_error (our failure, never the
// client's: client mistakes are always an *Error from this package).
func Answer(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeServerError, Description: "the token could not be issued", Err: err}
}
