package caddyjwt

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/obgate/obgate/caddyjwt/verify"
)

// extractToken finds the one token of a request (RFC 6750 §2): none is ReasonNoToken, more than
// one (two locations, two headers, two cookies or two query parameters) is ReasonMultipleTokens.
// Headers listed in requireEmpty must be absent or empty.
func extractToken(r *http.Request, locations []TokenLocation, requireEmpty []string) (string, error) {
	for _, h := range requireEmpty {
		for _, v := range r.Header.Values(h) {
			if strings.TrimSpace(v) != "" {
				return "", &verify.Error{Reason: verify.ReasonHeaderNotEmpty, Detail: h}
			}
		}
	}
	var found []string
	var query url.Values
	for _, loc := range locations {
		switch loc.From {
		case "header":
			for _, v := range r.Header.Values(loc.Name) {
				if tok, ok := withScheme(v, loc.Scheme); ok {
					found = append(found, tok)
				}
			}
		case "cookie":
			for _, c := range r.CookiesNamed(loc.Name) {
				if c.Value != "" {
					found = append(found, c.Value)
				}
			}
		case "query":
			if query == nil {
				query = r.URL.Query()
			}
			for _, v := range query[loc.Name] {
				if v != "" {
					found = append(found, v)
				}
			}
		}
	}
	switch len(found) {
	case 0:
		return "", verify.Reject(verify.ReasonNoToken, nil)
	case 1:
		return found[0], nil
	}
	return "", verify.Reject(verify.ReasonMultipleTokens, nil)
}

// withScheme strips an authentication scheme (case-insensitive, RFC 9110 §11.1) from a header
// value. A value with another scheme holds no token for us.
func withScheme(v, scheme string) (string, bool) {
	v = strings.TrimSpace(v)
	if scheme == "" {
		return v, v != ""
	}
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) || (v[len(scheme)] != ' ' && v[len(scheme)] != '\t') {
		return "", false
	}
	tok := strings.TrimSpace(v[len(scheme):])
	return tok, tok != ""
}
