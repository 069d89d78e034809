package caddyjwt

import "net/http"

// withoutTrailers returns the request that a handler deciding on headers hands on: r without its
// request trailers (RFC 9110 §6.5). Trailers are header fields that arrive after a chunked or
// HTTP/2 body; net/http fills r.Trailer only when the body has been read, so a check that looks
// at r.Header runs before they exist, and Caddy's reverse_proxy then forwards them upstream.
// A client could put an Authorization field (any token, even alg=none) or a require_empty
// header there and have the backend see it behind a passed check. RFC 9110 §6.5.1 lets a
// recipient discard trailer fields it does not understand; nothing here is meant for the backend.
//
// The original request keeps its map: net/http writes the arriving trailers into the request it
// created, so the copy handed on must hold its own (nil) Trailer. The Trailer header that
// announced them is removed from the copy too.
func withoutTrailers(r *http.Request) *http.Request {
	_, declared := r.Header["Trailer"]
	if r.Trailer == nil && !declared {
		return r
	}
	r2 := r.WithContext(r.Context())
	r2.Trailer = nil
	if declared {
		r2.Header = r.Header.Clone()
		r2.Header.Del("Trailer")
	}
	return r2
}
