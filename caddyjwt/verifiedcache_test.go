package caddyjwt

import (
	"context"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/obgate/obgate/internal/jwttest"
)

// TestVerifiedCacheIsOnByDefault: jwt_auth and the jwt provider remember verified tokens unless
// told otherwise: no verified_cache means DefaultVerifiedCache entries, a number that many, and a
// negative value (the Caddyfile's `verified_cache off`) no cache at all.
func TestVerifiedCacheIsOnByDefault(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	pem := jwttest.NewEC(t, "ES256").PublicPEM(t, t.TempDir())
	config := func(n int) Config {
		return Config{Issuers: []IssuerConfig{{Issuer: "https://a.example", Keys: []KeyFile{{Path: pem}}}}, Audience: []string{"api"}, VerifiedCache: n}
	}
	for _, tc := range []struct {
		name          string
		verifiedCache int
		want          int
	}{
		{"not set", 0, DefaultVerifiedCache},
		{"a size", 250, 250},
		{"off", -1, 0},
	} {
		h := &JWTAuth{Config: config(tc.verifiedCache)}
		if err := h.Provision(ctx); err != nil {
			t.Fatalf("%s: Provision() error = %v", tc.name, err)
		}
		if got := h.auth.verifier.CacheSize(); got != tc.want {
			t.Errorf("jwt_auth, verified_cache %s: cache of %d tokens, want %d", tc.name, got, tc.want)
		}
		p := &Provider{Config: config(tc.verifiedCache)}
		if err := p.Provision(ctx); err != nil {
			t.Fatalf("%s: provider Provision() error = %v", tc.name, err)
		}
		if got := p.auth.verifier.CacheSize(); got != tc.want {
			t.Errorf("jwt provider, verified_cache %s: cache of %d tokens, want %d", tc.name, got, tc.want)
		}
	}
}

// TestVerifiedCacheCaddyfile: `verified_cache <n>` and `verified_cache off`; anything else, or a
// second line, is refused naming the subdirective.
func TestVerifiedCacheCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"verified_cache 500", 500, false},
		{"verified_cache off", -1, false},
		{"verified_cache 0", 0, true},
		{"verified_cache -1", 0, true},
		{"verified_cache many", 0, true},
		{"verified_cache", 0, true},
		{"verified_cache off\n verified_cache 10", 0, true},
	} {
		var j JWTAuth
		err := j.UnmarshalCaddyfile(caddyfile.NewTestDispenser("jwt_auth {\n " + tc.in + "\n}"))
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: accepted as %d", tc.in, j.VerifiedCache)
			}
			continue
		}
		if err != nil || j.VerifiedCache != tc.want {
			t.Errorf("%q: VerifiedCache = %d, %v; want %d", tc.in, j.VerifiedCache, err, tc.want)
		}
	}
}
