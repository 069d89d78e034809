package caddyjwt

import (
	"fmt"
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
	var hint *verify.Error // a header value in a scheme the config did not declare
	for _, loc := range locations {
		switch loc.From {
		case "header":
			for _, v := range r.Header.Values(loc.Name) {
				if tok, ok := withScheme(v, loc.Scheme); ok {
					if loc.Scheme == "" {
						if rej := undeclaredScheme(loc, tok); rej != nil {
							return "", rej
						}
					}
					found = append(found, tok)
				} else if hint == nil {
					hint = otherScheme(loc, v)
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
		if hint != nil {
			return "", hint
		}
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

// knownSchemes are the HTTP authentication schemes a diagnostic may name (IANA HTTP
// Authentication Scheme Registry, RFC 9110 §16.4, plus DPoP, RFC 9449). Only these are repeated
// back: a description never echoes what the client sent.
var knownSchemes = []string{"Basic", "Bearer", "Digest", "DPoP", "HOBA", "Mutual", "Negotiate", "OAuth", "PrivateToken", "SCRAM-SHA-1", "SCRAM-SHA-256", "vapid"}

// schemeOf returns the known authentication scheme a header value starts with (followed by
// whitespace), in its registered spelling, or "" when it starts with none.
func schemeOf(v string) string {
	v = strings.TrimLeft(v, " \t")
	word, _, ok := strings.Cut(v, " ")
	if w, _, okTab := strings.Cut(v, "\t"); okTab && (!ok || len(w) < len(word)) {
		word, ok = w, true
	}
	if !ok {
		return ""
	}
	for _, s := range knownSchemes {
		if strings.EqualFold(word, s) {
			return s
		}
	}
	return ""
}

// undeclaredScheme refuses a value taken whole (`token header <name>` without a scheme) that
// starts with an authentication scheme: a compact JWS never holds whitespace, so the client sent
// "<scheme> <token>" where the config expects the bare token. The description names the fix.
func undeclaredScheme(loc TokenLocation, v string) *verify.Error {
	scheme := schemeOf(v)
	if scheme == "" {
		return nil
	}
	return &verify.Error{Reason: verify.ReasonMalformed, Detail: fmt.Sprintf(
		"header %s starts with the scheme %s, which is not configured (token header %s %s takes it)", loc.Name, scheme, loc.Name, scheme)}
}

// otherScheme explains a header value that carries another scheme than the configured one, such
// as "DPoP ..." where Bearer is expected: still no token (RFC 6750 §3.1), but the description says
// why.
func otherScheme(loc TokenLocation, v string) *verify.Error {
	scheme := schemeOf(v)
	if scheme == "" || loc.Scheme == "" {
		return nil
	}
	return &verify.Error{Reason: verify.ReasonNoToken, Detail: fmt.Sprintf(
		"header %s uses the scheme %s, not %s", loc.Name, scheme, loc.Scheme)}
}
