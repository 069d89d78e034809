package caddyjwt

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/internal/jwttest"
)

// Values the Caddyfile parser refuses must fail at provision when they come from JSON config,
// naming the setting.
func TestJSONConfigMistakesFailAtProvision(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	pem := jwttest.NewEC(t, "ES256").PublicPEM(t, t.TempDir())
	for _, tc := range []struct {
		name    string
		module  interface{ Provision(caddy.Context) error }
		wantErr string
	}{
		{"request_signature max_body beyond what is held in memory",
			&RequestSignature{Keys: []KeyFile{{Path: pem}}, Profile: "tokenio", MaxBody: math.MaxInt64}, "max_body"},
		{"jwt_check negative max_body", &Check{Policy: "p", MaxBody: -1}, "max_body"},
		{"jwt_auth realm with a control character",
			&JWTAuth{Config: Config{Realm: "api\x00", Issuers: []IssuerConfig{{Issuer: "i", Keys: []KeyFile{{Path: pem}}}}}}, "realm"},
		{"jwt_auth issuer without audience names the issuer",
			&JWTAuth{Config: Config{Issuers: []IssuerConfig{{Issuer: "https://a.example", Keys: []KeyFile{{Path: pem}}}}}}, `issuer "https://a.example": no audience`},
		{"jwt provider issuer without audience names the issuer",
			&Provider{Config: Config{Issuers: []IssuerConfig{{Issuer: "https://a.example", Keys: []KeyFile{{Path: pem}}}}}}, `issuer "https://a.example": no audience`},
		{"jwt_auth any_audience with an audience list",
			&JWTAuth{Config: Config{AnyAudience: true, Audience: []string{"api"}, Issuers: []IssuerConfig{{Issuer: "i", Keys: []KeyFile{{Path: pem}}}}}}, `audience: "any" stands alone`},
		{"jwt_auth issuer any_audience with an audience list",
			&JWTAuth{Config: Config{Issuers: []IssuerConfig{{Issuer: "i", AnyAudience: true, Audience: []string{"api"}, Keys: []KeyFile{{Path: pem}}}}}}, `issuer "i": audience: "any" stands alone`},
		{"jwt_auth issuer typ not a media type",
			&JWTAuth{Config: Config{Audience: []string{"api"}, Issuers: []IssuerConfig{{Issuer: "i", Type: "at jwt", Keys: []KeyFile{{Path: pem}}}}}}, `issuer "i": typ`},
		{"request_signature issuer with typ",
			&RequestSignature{Profile: "detached", Issuers: []IssuerConfig{{Issuer: "i", Type: "at+jwt", Keys: []KeyFile{{Path: pem}}}}}, `issuer "i": typ`},
		{"request_signature realm with a DEL character",
			&RequestSignature{Keys: []KeyFile{{Path: pem}}, Profile: "tokenio", Realm: "a\x7fb"}, "realm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.module.Provision(ctx)
			if c, ok := tc.module.(caddy.CleanerUpper); ok {
				_ = c.Cleanup()
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Provision = %v, want an error naming %s", err, tc.wantErr)
			}
		})
	}
}

// TestIssuerRequiredType: an issuer requires the typ it names; one with a signer requires at+jwt
// unless it names another (RFC 9068 §4); any other issuer requires none.
func TestIssuerRequiredType(t *testing.T) {
	for _, tc := range []struct {
		ic   IssuerConfig
		want string
	}{
		{IssuerConfig{Issuer: "i", JWKSURL: "https://i.example/jwks"}, ""},
		{IssuerConfig{Issuer: "i", JWKSURL: "https://i.example/jwks", Type: "at+jwt"}, "at+jwt"},
		{IssuerConfig{Issuer: "i", Signer: "main"}, "at+jwt"},
		{IssuerConfig{Issuer: "i", Signer: "main", Type: "application/custom+jwt"}, "application/custom+jwt"},
	} {
		if got := tc.ic.requiredType(); got != tc.want {
			t.Errorf("%+v: requiredType() = %q, want %q", tc.ic, got, tc.want)
		}
	}
}
