package caddyjwt

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/obgate/obgate/caddyjwt/verify"
)

// extractToken finds the one token of a request (RFC 6750 §2): none is ReasonNoToken, more than
// one (two locations, two headers, two cookies or two query parameters) is ReasonMultipleTokens.
// Headers listed in requireEmpty must be absent or empty. With a query location, a query that does
// not parse cleanly, or that names the token parameter in another spelling, is ReasonAmbiguousQuery.
func extractToken(r *http.Request, locations []TokenLocation, requireEmpty []string) (string, error) {
	for _, h := range requireEmpty {
		for _, v := range r.Header.Values(h) {
			// Empty means zero-length after optional whitespace, which in HTTP is SP and HTAB
			// only (RFC 9110 §5.6.3, OWS): strings.TrimSpace would also take U+0085 and U+00A0,
			// so a value of NBSP would pass as empty and reach the backend.
			if strings.Trim(v, " \t") != "" {
				return "", &verify.Error{Reason: verify.ReasonHeaderNotEmpty, Detail: h}
			}
		}
	}
	query, err := tokenQuery(r, locations)
	if err != nil {
		return "", err
	}
	var found []string
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

// tokenQuery parses the query when a location is in it. The query must parse cleanly: url.Query
// drops a pair it cannot parse (such as one joined by ';'), yet the raw query goes upstream as
// sent, so a dropped "access_token=<forged>;x=1" would reach the backend unchecked. A parameter
// whose name equals a token parameter's only when case is ignored is refused for the same reason:
// a backend that matches names case-insensitively would take it as the token.
func tokenQuery(r *http.Request, locations []TokenLocation) (url.Values, error) {
	var names []string
	for _, loc := range locations {
		if loc.From == "query" {
			names = append(names, loc.Name)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, verify.Reject(verify.ReasonAmbiguousQuery, err)
	}
	for got := range query {
		for _, want := range names {
			if got != want && strings.EqualFold(got, want) {
				return nil, &verify.Error{Reason: verify.ReasonAmbiguousQuery, Detail: want}
			}
		}
	}
	return query, nil
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
