package dcrhandler

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// requestScheme is the scheme the client used to reach the gateway, for the absolute
// registration_client_uri (RFC 7592 §3). It is https when the connection is TLS. Behind a
// proxy that terminates TLS, the proxy's X-Forwarded-Proto (http or https) counts, but only when
// the request comes from an address in the server's trusted_proxies: Caddy marks such requests
// with the caddyhttp.TrustedProxyVarKey variable (set in the server's prepareRequest from
// determineTrustedProxy). From anyone else the header is ignored, so a client cannot choose the
// URI it is told to use. As Caddy's reverse_proxy does, the last value of the header counts.
func requestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); trusted {
		if values := r.Header.Values("X-Forwarded-Proto"); len(values) > 0 {
			last := values[len(values)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			switch p := strings.ToLower(strings.TrimSpace(last)); p {
			case "http", "https":
				return p
			}
		}
	}
	return "http"
}
