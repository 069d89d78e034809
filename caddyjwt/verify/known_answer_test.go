package verify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
)

// RFC 7515 Appendix A.1: HS256, with the JWK of A.1.1 in testdata. Its claims are
// {"iss":"joe", "exp":1300819380, "http://example.com/is_root":true}.
const rfc7515A1 = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9" +
	".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ" +
	".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

// RFC 8037 Appendix A.4: EdDSA over the text "Example of Ed25519 signing" (not a claim set),
// with the public key of A.2 in testdata.
const rfc8037A4 = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc" +
	".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"

// loadIssuer makes a verifier trusting one issuer with the keys of a testdata file.
func loadIssuer(t *testing.T, iss, path string, clock func() time.Time) *verify.Verifier {
	t.Helper()
	ks, err := keys.LoadFile(path, "")
	if err != nil {
		t.Fatalf("keys.LoadFile(%s) error = %v", path, err)
	}
	v, err := verify.New(verify.Policy{
		Issuers: []verify.Issuer{{Name: iss, Sources: []keys.Source{keys.NewStatic(ks...)}}},
		Leeway:  -1,
		Clock:   clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRFC7515AppendixA1HS256(t *testing.T) {
	const path = "testdata/rfc7515-a1-hs256.jwk.json"
	beforeExp := func() time.Time { return time.Date(2011, time.March, 22, 18, 0, 0, 0, time.UTC) } // exp is 18:43:00Z

	t.Run("signature verifies while the token was valid", func(t *testing.T) {
		res, err := loadIssuer(t, "joe", path, beforeExp).Verify(t.Context(), []byte(rfc7515A1))
		checkOutcome(t, res, err, accepted)
		if res.Algorithm != "HS256" || res.Claims["http://example.com/is_root"] != true {
			t.Errorf("Verify() = alg %q, claims %v; want HS256 with is_root true", res.Algorithm, res.Claims)
		}
	})
	t.Run("rejected as expired today", func(t *testing.T) {
		res, err := loadIssuer(t, "joe", path, fixedClock).Verify(t.Context(), []byte(rfc7515A1))
		checkOutcome(t, res, err, verify.ReasonExpired)
	})
	t.Run("rejected at exp exactly", func(t *testing.T) {
		atExp := func() time.Time { return time.Unix(1300819380, 0) }
		res, err := loadIssuer(t, "joe", path, atExp).Verify(t.Context(), []byte(rfc7515A1))
		checkOutcome(t, res, err, verify.ReasonExpired)
	})
	t.Run("altered signature rejected", func(t *testing.T) {
		tampered := strings.Replace(rfc7515A1, ".dBjf", ".eBjf", 1)
		res, err := loadIssuer(t, "joe", path, beforeExp).Verify(t.Context(), []byte(tampered))
		checkOutcome(t, res, err, verify.ReasonBadSignature)
	})
	t.Run("another issuer name rejected", func(t *testing.T) {
		res, err := loadIssuer(t, "jane", path, beforeExp).Verify(t.Context(), []byte(rfc7515A1))
		checkOutcome(t, res, err, verify.ReasonUnknownIssuer)
	})
}

func TestRFC8037AppendixA4EdDSA(t *testing.T) {
	v := loadIssuer(t, "rfc8037", "testdata/rfc8037-a4-ed25519.jwk.json", fixedClock)

	t.Run("signature verifies", func(t *testing.T) {
		jws, err := v.VerifyJWS(t.Context(), []byte(rfc8037A4), verify.JWSOptions{})
		if err != nil {
			t.Fatalf("VerifyJWS() error = %v", err)
		}
		if string(jws.Payload) != "Example of Ed25519 signing" || jws.Algorithm != "EdDSA" || jws.Issuer != "rfc8037" {
			t.Errorf("VerifyJWS() = payload %q alg %q iss %q", jws.Payload, jws.Algorithm, jws.Issuer)
		}
	})
	for _, tc := range []struct {
		name, token string
		want        verify.Reason
	}{
		// The second half (S) of the signature altered: this variant circulates in copies of the RFC.
		{"signature with an altered S rejected",
			"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc" +
				".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcmR4biAuTQdb4dCyEu1VN1W1Uql-GfVoZlWBA",
			verify.ReasonBadSignature},
		{"altered payload rejected",
			"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmA" + rfc8037A4[len("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"):],
			verify.ReasonBadSignature},
		{"signature truncated to 63 bytes rejected", rfc8037A4[:len(rfc8037A4)-2], verify.ReasonBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.VerifyJWS(t.Context(), []byte(tc.token), verify.JWSOptions{})
			if got := verify.ReasonOf(err); got != tc.want {
				t.Fatalf("VerifyJWS() error = %v, want reason %v", err, tc.want)
			}
		})
	}
	t.Run("as a bearer token its text payload is not a claim set", func(t *testing.T) {
		res, err := v.Verify(t.Context(), []byte(rfc8037A4))
		checkOutcome(t, res, err, verify.ReasonMalformed)
	})
}
