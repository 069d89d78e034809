package verify_test

import (
	"strings"
	"testing"

	"github.com/obgate/obgate/caddyjwt/verify"
)

// requireType sets issuer A's required typ.
func requireType(typ string) func(*verify.Policy) {
	return func(p *verify.Policy) { p.Issuers[0].Type = typ }
}

// TestVerifyRequiredType covers RFC 9068 §4 (a resource server MUST check that an access
// token's typ is at+jwt or application/at+jwt and reject any other value) and the media type
// comparison of RFC 7515 §4.1.9 that the issuer's Type uses.
func TestVerifyRequiredType(t *testing.T) {
	f := keyFixture(t)
	a := func(typ any) string { return f.rsaA.Token(t, claimsFor(issA), map[string]any{"typ": typ}) }
	atJWT := requireType("at+jwt")
	runCases(t, f, []verifyCase{
		{name: "at+jwt accepted", policy: atJWT, token: a("at+jwt"), want: accepted},
		{name: "application/at+jwt accepted", policy: atJWT, token: a("application/at+jwt"), want: accepted},
		{name: "typ compares case-insensitively", policy: atJWT, token: a("Application/AT+JWT"), want: accepted},
		{name: "JWT rejected", policy: atJWT, token: a("JWT"), want: verify.ReasonWrongType},
		{name: "missing typ rejected", policy: atJWT, token: a(nil), want: verify.ReasonWrongType},
		{name: "empty typ rejected", policy: atJWT, token: a(""), want: verify.ReasonWrongType},
		{name: "non-string typ rejected", policy: atJWT, token: a(1), want: verify.ReasonWrongType},
		{name: "typ with trailing space rejected", policy: atJWT, token: a("at+jwt "), want: verify.ReasonWrongType},
		{name: "typ with a parameter rejected", policy: atJWT, token: a("application/at+jwt; v=1"), want: verify.ReasonWrongType},
		{name: "another media type with the same subtype rejected", policy: atJWT, token: a("text/at+jwt"), want: verify.ReasonWrongType},
		{name: "a prefix of the type rejected", policy: atJWT, token: a("at+jw"), want: verify.ReasonWrongType},
		{name: "configured with the prefix, short form accepted", policy: requireType("application/at+jwt"), token: a("at+jwt"), want: accepted},
		{name: "configured with another type, its bare subtype rejected", policy: requireType("text/x"), token: a("x"), want: verify.ReasonWrongType},
		{name: "configured with another type, that type accepted", policy: requireType("text/x"), token: a("TEXT/X"), want: accepted},
		{name: "without a required typ JWT accepted", token: a("JWT"), want: accepted},
		{name: "without a required typ a missing typ accepted", token: a(nil), want: accepted},
		{name: "the requirement is the issuer's own", policy: atJWT,
			token: f.rsaB.Token(t, claimsFor(issB), nil), want: accepted},
	})
}

// TestVerifyRequiredTypeWithCaches: a token of the wrong typ is refused every time, and one of
// the right typ whose header was remembered (headerMemo) or whose result was cached still passes.
func TestVerifyRequiredTypeWithCaches(t *testing.T) {
	f := keyFixture(t)
	v := newVerifier(t, f, func(p *verify.Policy) {
		p.Issuers[0].Type = "at+jwt"
		p.CacheSize = 10
	})
	good := f.rsaA.Token(t, claimsFor(issA), map[string]any{"typ": "at+jwt"})
	good2 := f.rsaA.Token(t, with(claimsFor(issA), "sub", "bob"), map[string]any{"typ": "at+jwt"})
	bad := f.rsaA.Token(t, claimsFor(issA), nil)
	for i := range 2 {
		for _, tok := range []string{good, good2} {
			if _, err := v.Verify(t.Context(), []byte(tok)); err != nil {
				t.Fatalf("round %d: Verify(at+jwt) error = %v", i, err)
			}
		}
		if _, err := v.Verify(t.Context(), []byte(bad)); verify.ReasonOf(err) != verify.ReasonWrongType {
			t.Fatalf("round %d: Verify(JWT) error = %v, want %v", i, err, verify.ReasonWrongType)
		}
	}
	if n := v.CacheLen(); n != 2 {
		t.Errorf("CacheLen() = %d, want 2 (the refused token is not remembered)", n)
	}
}

// TestNewRejectsBadType: a configured typ that is not a media type fails at New, naming the
// issuer and typ.
func TestNewRejectsBadType(t *testing.T) {
	f := keyFixture(t)
	for _, typ := range []string{"at jwt", "a/b/c", "/jwt", "at+jwt/", "at+jwt;v=1", `"at+jwt"`, "at+jwt,JWT", "at\x00jwt"} {
		t.Run(typ, func(t *testing.T) {
			p := basePolicy(f)
			p.Issuers[0].Type = typ
			_, err := verify.New(p)
			if err == nil || !strings.Contains(err.Error(), "typ") || !strings.Contains(err.Error(), issA) {
				t.Fatalf("New(typ %q) error = %v, want one naming the issuer and typ", typ, err)
			}
		})
	}
}
