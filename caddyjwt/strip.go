package caddyjwt

import (
	"net/http"
	"net/url"
	"strings"
)

// handOn prepares a verified request for the next handler. With strip_token the token leaves
// the request entirely: its header value, its cookie and its query parameter are removed, so
// neither the upstream nor any later log line sees it. Without it, only the request URI string
// (what Caddy's later log lines print as "uri", such as reverse_proxy's debug "upstream
// roundtrip") has a query token replaced by REDACTED; the URL, and so what goes upstream, is
// unchanged.
func (a *authenticator) handOn(r *http.Request) {
	if !a.strip {
		// a.access is nil only when there is no query location (newAccessLog).
		if a.access != nil && len(a.access.query) > 0 {
			r.RequestURI = redactQuery(r.RequestURI, a.access.query)
		}
		return
	}
	for _, loc := range a.tokens {
		switch loc.From {
		case "header":
			stripHeader(r.Header, loc)
		case "cookie":
			stripCookie(r, loc.Name)
		case "query":
			stripQuery(r, loc.Name)
		}
	}
}

// stripHeader removes the header values that hold a token for loc, keeping any other value
// (such as another scheme in Authorization).
func stripHeader(h http.Header, loc TokenLocation) {
	vs := h.Values(loc.Name)
	keep := vs[:0:0]
	for _, v := range vs {
		if _, ok := withScheme(v, loc.Scheme); !ok {
			keep = append(keep, v)
		}
	}
	if len(keep) == 0 {
		h.Del(loc.Name)
		return
	}
	h[http.CanonicalHeaderKey(loc.Name)] = keep
}

// stripCookie removes the named cookie from the Cookie header(s), keeping the others as sent.
func stripCookie(r *http.Request, name string) {
	var out []string
	for _, line := range r.Header.Values("Cookie") {
		var kept []string
		for _, part := range strings.Split(line, ";") {
			n, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if n != name {
				kept = append(kept, strings.TrimSpace(part))
			}
		}
		if len(kept) > 0 {
			out = append(out, strings.Join(kept, "; "))
		}
	}
	if len(out) == 0 {
		r.Header.Del("Cookie")
		return
	}
	r.Header["Cookie"] = out
}

// stripQuery removes the named parameter from the URL's raw query and from the request URI,
// keeping every other pair as sent (extractToken has refused a query that does not parse
// cleanly, or that names the parameter in another spelling).
func stripQuery(r *http.Request, name string) {
	r.URL.RawQuery = withoutParam(r.URL.RawQuery, name)
	if path, q, ok := strings.Cut(r.RequestURI, "?"); ok {
		r.RequestURI = path
		if q = withoutParam(q, name); q != "" {
			r.RequestURI += "?" + q
		}
	}
}

func withoutParam(query, name string) string {
	if query == "" {
		return ""
	}
	var kept []string
	for _, p := range strings.Split(query, "&") {
		n, _, _ := strings.Cut(p, "=")
		if un, err := url.QueryUnescape(n); err == nil {
			n = un
		}
		if n != name {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "&")
}
