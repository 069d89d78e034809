package dcrhandler

import (
	"context"
	"crypto/tls"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestRequestSchemeTrustsXForwardedProtoOnlyFromTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted bool
		tls     bool
		proto   []string
		want    string
	}{
		{"plain connection", false, false, nil, "http"},
		{"TLS connection", false, true, nil, "https"},
		{"trusted proxy says https", true, false, []string{"https"}, "https"},
		{"trusted proxy says HTTPS", true, false, []string{" HTTPS "}, "https"},
		{"trusted proxy says http", true, false, []string{"http"}, "http"},
		{"trusted proxy: the last value counts", true, false, []string{"http", "https"}, "https"},
		{"trusted proxy: the last list element counts", true, false, []string{"http, https"}, "https"},
		{"trusted proxy: an unknown scheme is ignored", true, false, []string{"gopher"}, "http"},
		{"untrusted client's header ignored", false, false, []string{"https"}, "http"},
		{"TLS wins over a trusted header", true, true, []string{"http"}, "https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://bank.example/register", nil)
			for _, v := range tc.proto {
				r.Header.Add("X-Forwarded-Proto", v)
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			vars := map[string]any{caddyhttp.TrustedProxyVarKey: tc.trusted}
			r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
			if got := requestScheme(r); got != tc.want {
				t.Errorf("requestScheme() = %q, want %q", got, tc.want)
			}
		})
	}
	// A request outside a Caddy server (no vars at all) never trusts the header.
	r := httptest.NewRequest("POST", "http://bank.example/register", nil)
	r.Header.Set("X-Forwarded-Proto", "https")
	if got := requestScheme(r); got != "http" {
		t.Errorf("requestScheme() without Caddy vars = %q, want http", got)
	}
}
