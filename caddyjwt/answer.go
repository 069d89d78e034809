package caddyjwt

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/bearer"
)

// answer is the HTTP answer to a rejection.
type answer struct {
	status      int
	code        string // RFC 6750 §3.1 error code; "" for a request without a token
	description string
	retryAfter  int // seconds; only for 503
}

// answerFor maps a rejection to its answer. It is the only place that picks a status code; an
// error it does not recognise is still a 401 rejection (fail closed). The description comes from
// the engine's fixed vocabulary, never from err.Error().
func answerFor(err error) answer {
	var e *verify.Error
	if !errors.As(err, &e) {
		r := verify.ReasonUnknown
		return answer{status: r.Status(), code: r.Code(), description: r.Description()}
	}
	a := answer{status: e.Reason.Status(), code: e.Reason.Code(), description: e.Description()}
	if d, ok := verify.IsUnavailable(err); ok {
		a.retryAfter = max(1, int(d.Seconds()))
	}
	return a
}

// write sends the answer: an RFC 6750 §3 challenge for 4xx answers, Retry-After for 503, and a
// JSON body {"error", "error_description"}.
func (a answer) write(w http.ResponseWriter, realm string) {
	h := w.Header()
	if a.status < 500 {
		h.Set("WWW-Authenticate", a.challenge(realm))
	}
	if a.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(a.retryAfter))
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(a.status)
	code := a.code
	if code == "" {
		// RFC 6750 §3.1: no error attribute in the challenge for a request without a token;
		// the JSON body still names one: the required parameter is missing.
		code = "invalid_request"
	}
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, a.description})
	_, _ = w.Write(body)
}

// challenge builds the WWW-Authenticate value (RFC 6750 §3).
func (a answer) challenge(realm string) string {
	return bearer.Challenge(realm, a.code, a.description)
}

// realmFor returns the configured realm, or the request's host name with anything that cannot
// stand in a quoted-string removed (the host comes from the client).
func realmFor(configured string, r *http.Request) string {
	if configured != "" {
		return configured
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return bearer.Quotable(host)
}
