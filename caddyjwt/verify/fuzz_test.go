package verify_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
)

// FuzzVerify feeds arbitrary bytes to the whole engine. It must never panic; every rejection is a
// *verify.Error; an accepted token names a configured issuer; and verifying the same bytes again
// gives the same outcome.
func FuzzVerify(f *testing.F) {
	fx := keyFixture(f)
	claims := claimsFor(issA)
	for _, s := range []string{
		fx.rsaA.Token(f, claims, nil),
		fx.psA.Token(f, claims, nil),
		fx.ecA.Token(f, claims, nil),
		fx.edA.Token(f, claims, map[string]any{"kid": nil}),
		fx.hmacH.Token(f, claimsFor(issH), nil),
		fx.rsaB.Token(f, with(claimsFor(issB), "aud", []string{"x", audience}), nil),
		fx.rsaA.Token(f, claims, map[string]any{"crit": []string{"exp-ext"}, "exp-ext": 1}),
		fx.rsaA.Token(f, claims, map[string]any{"b64": false, "crit": []string{"b64"}}),
		fx.rsaA.Token(f, claims, map[string]any{"jwk": fx.attackerEC.JWK(f, true), "jku": "https://evil.example"}),
		fx.rsaA.Token(f, with(claims, "exp", "soon", "nbf", nil), map[string]any{"alg": "none"}),
		fx.rsaA.SignRaw(f, []byte(`{"alg":"RS256","alg":"RS256"}`), mustJSON(f, claims)),
		fx.rsaA.SignRaw(f, []byte(`{"alg":"RS256","kid":"a-rsa-1"}`), []byte(`{"iss":"`+issA+`","exp":1e400,"aud":[]}`)),
		jwttest.Encode([]byte(`{"alg":"none"}`)) + "." + jwttest.Encode(mustJSON(f, claims)) + ".",
		"",
		".",
		"..",
		"...",
		"a.b.c",
		"eyJ.eyJ.eyJ",
		"\x00\xff.\x80.\n",
		strings.Repeat("e", 300),
		`{"payload":"e30","signatures":[]}`,
	} {
		f.Add([]byte(s))
	}
	v := newVerifier(f, fx, nil)
	configured := map[string]bool{issA: true, issB: true, issH: true}

	f.Fuzz(func(t *testing.T, token []byte) {
		res, err := v.Verify(t.Context(), token)
		again, errAgain := v.Verify(t.Context(), token)
		if (err == nil) != (errAgain == nil) || verify.ReasonOf(err) != verify.ReasonOf(errAgain) {
			t.Fatalf("Verify() = %v, then %v for the same token", err, errAgain)
		}
		if err != nil {
			var e *verify.Error
			if !errors.As(err, &e) || e.Reason == verify.ReasonUnknown {
				t.Fatalf("Verify() error = %v (%T), want a *verify.Error with a known reason", err, err)
			}
			if res != nil {
				t.Fatalf("Verify() returned a result with error %v", err)
			}
			return
		}
		if res == nil || !configured[res.Issuer] || res.Issuer != again.Issuer || res.KeyID != again.KeyID {
			t.Fatalf("Verify() accepted with result %+v, then %+v", res, again)
		}
		if iss, _ := res.Claims["iss"].(string); iss != res.Issuer {
			t.Fatalf("Verify() result issuer %q, claims iss %v", res.Issuer, res.Claims["iss"])
		}
	})
}
