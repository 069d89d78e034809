package grant

import (
	"mime"
	"net/url"
	"strings"
	"unicode/utf8"
)

// GrantTypeClientCredentials is RFC 6749 §4.4's grant_type.
const GrantTypeClientCredentials = "client_credentials"

// AssertionTypeJWTBearer is RFC 7523 §2.2's client_assertion_type.
const AssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Request is a parsed token request: the parameters this endpoint reads. An empty field means
// the parameter was absent or empty (RFC 6749 §3.2: "parameters sent without a value MUST be
// treated as if they were omitted").
type Request struct {
	// GrantType is grant_type.
	GrantType string
	// Scope is scope as sent (space-delimited, RFC 6749 §3.3).
	Scope string
	// ClientID is client_id (tls_client_auth, RFC 8705 §2; or beside an assertion, RFC 7521 §4.2).
	ClientID string
	// AssertionType is client_assertion_type.
	AssertionType string
	// Assertion is client_assertion, the client's signed JWT (RFC 7523 §2.2).
	Assertion string
	// ClientSecret reports a client_secret parameter: a method no client of this endpoint has.
	ClientSecret bool
}

// singletons are the parameters that must not be repeated (RFC 6749 §3.2: "Request and response
// parameters MUST NOT be included more than once"). Others are ignored (RFC 6749 §3.2:
// "MUST ignore unrecognized request parameters").
var singletons = []string{"grant_type", "scope", "client_id", "client_assertion_type", "client_assertion", "client_secret"}

// ParseForm reads a token request body. contentType must be application/x-www-form-urlencoded
// (RFC 6749 §4.4.2, Appendix B); parameters such as charset are allowed. Any failure is a 400
// invalid_request *Error.
func ParseForm(contentType string, body []byte) (*Request, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("Content-Type must be application/x-www-form-urlencoded")
	}
	if !utf8.Valid(body) {
		return nil, invalidRequest("the request body is not UTF-8")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, invalidRequest("the request body is not a well-formed form")
	}
	for _, name := range singletons {
		if len(form[name]) > 1 {
			return nil, invalidRequest("parameter " + name + " is repeated")
		}
	}
	get := func(name string) string { return form.Get(name) }
	req := &Request{
		GrantType:     get("grant_type"),
		Scope:         get("scope"),
		ClientID:      get("client_id"),
		AssertionType: get("client_assertion_type"),
		Assertion:     get("client_assertion"),
		ClientSecret:  get("client_secret") != "",
	}
	for _, v := range []string{req.GrantType, req.Scope, req.ClientID, req.AssertionType, req.Assertion} {
		if !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
			return nil, invalidRequest("a parameter holds a control character or is not UTF-8")
		}
	}
	if req.GrantType == "" {
		return nil, invalidRequest("parameter grant_type is missing")
	}
	return req, nil
}

// isControl reports an ASCII control character (the form decodes %00 and friends).
func isControl(c rune) bool { return c < 0x20 || c == 0x7f }

// parseScope splits a scope parameter (RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ),
// delimited by single spaces); ok is false for anything else.
func parseScope(s string) ([]string, bool) {
	if s == "" {
		return nil, true
	}
	parts := strings.Split(s, " ")
	for _, p := range parts {
		if !isScopeToken(p) {
			return nil, false
		}
	}
	return parts, true
}

// isScopeToken reports whether s is one RFC 6749 §3.3 scope-token.
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}
