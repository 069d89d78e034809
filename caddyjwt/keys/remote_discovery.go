package keys

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/obgate/obgate/caddyjwt/internal/strictjson"
)

// wellKnownOIDC is the discovery document's path below an issuer (OpenID Connect Discovery 1.0 §4).
const wellKnownOIDC = "/.well-known/openid-configuration"

// discoveryURL returns the document URL for a configured discovery URL: a URL that already
// points into /.well-known/ is the document itself; otherwise it is an issuer URL, to which
// /.well-known/openid-configuration is appended after removing a trailing slash (§4).
func discoveryURL(u *url.URL) *url.URL {
	if strings.Contains(u.Path, "/.well-known/") {
		return u
	}
	d := *u
	d.Path = strings.TrimSuffix(u.Path, "/") + wellKnownOIDC
	d.RawPath = ""
	return &d
}

// discover fetches the discovery document and returns its jwks_uri, after checking that its
// issuer is exactly the configured one (OpenID Connect Discovery 1.0 §4.3).
func (r *Remote) discover(ctx context.Context) (string, time.Duration, error) {
	doc, err := r.fetcher.Fetch(ctx, r.url)
	if err != nil {
		return "", 0, err
	}
	jwksURL, err := parseDiscovery(doc.Body, r.opts.Issuer, r.opts.AllowHTTP)
	if err != nil {
		res := FetchInvalid
		if errors.Is(err, errIssuerMismatch) {
			res = FetchIssuerMismatch
		}
		return "", 0, &FetchError{Result: res, URL: r.url, Err: err}
	}
	return jwksURL, doc.Lifetime, nil
}

// errIssuerMismatch reports a discovery document for another issuer.
var errIssuerMismatch = errors.New("discovery document names another issuer")

// parseDiscovery validates a discovery document and returns its jwks_uri.
func parseDiscovery(body []byte, issuer string, allowHTTP func(*url.URL) bool) (string, error) {
	obj, err := strictjson.Parse(body, jsonLimits)
	if err != nil {
		return "", fmt.Errorf("not a JSON object: %w", err)
	}
	iss, ok := obj["issuer"].(string)
	if !ok {
		return "", errors.New(`no "issuer" string`)
	}
	if iss != issuer {
		return "", fmt.Errorf("%w: %q, want %q", errIssuerMismatch, iss, issuer)
	}
	jwksURI, ok := obj["jwks_uri"].(string)
	if !ok || jwksURI == "" {
		return "", errors.New(`no "jwks_uri" string`)
	}
	if _, err := checkURL(jwksURI, allowHTTP); err != nil {
		return "", fmt.Errorf("jwks_uri: %w", err)
	}
	return jwksURI, nil
}
