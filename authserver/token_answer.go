package authserver

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/obgate/obgate/authserver/grant"
	"github.com/obgate/obgate/internal/bearer"
)

// tokenResponse is RFC 6749 §5.1's successful answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// writeToken sends RFC 6749 §5.1's answer: JSON, Cache-Control: no-store, Pragma: no-cache.
func writeToken(w http.ResponseWriter, tok *grant.Token) {
	data, _ := json.Marshal(tokenResponse{AccessToken: tok.AccessToken, TokenType: "Bearer", ExpiresIn: tok.ExpiresIn, Scope: tok.Scope})
	writeJSONNoStore(w, http.StatusOK, data)
}

// writeGrantError is the only place that answers a refused token request: RFC 6749 §5.2's JSON
// body with the status the engine chose, Cache-Control: no-store, and where it applies Allow
// (405), Retry-After (503) or a challenge naming the scheme the client tried (401).
func writeGrantError(w http.ResponseWriter, e *grant.Error, realm string) {
	h := w.Header()
	switch {
	case e.Status == http.StatusMethodNotAllowed:
		h.Set("Allow", http.MethodPost)
	case e.RetryAfter > 0:
		h.Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds())))
	case e.Challenge != "":
		h.Set("WWW-Authenticate", bearer.Quotable(e.Challenge)+` realm="`+bearer.Quotable(realm)+`"`)
	}
	writeJSONError(w, e.Status, e.Code, e.Description)
}

// oauthError is the JSON error body of RFC 6749 §5.2 (also used by jwks and oauth_metadata).
type oauthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

// writeJSONError is every authserver handler's error answer: {"error", "error_description"}
// with Cache-Control: no-store and Pragma: no-cache.
func writeJSONError(w http.ResponseWriter, status int, code, desc string) {
	data, _ := json.Marshal(oauthError{Code: code, Description: desc})
	writeJSONNoStore(w, status, data)
}

func writeJSONNoStore(w http.ResponseWriter, status int, data []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
