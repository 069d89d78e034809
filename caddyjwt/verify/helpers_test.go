package verify_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
)

// The issuers, audience and fixed time every engine test uses. Nothing here reads the real clock.
const (
	issA     = "https://issuer-a.example"
	issB     = "https://issuer-b.example"
	issH     = "https://hmac-issuer.example"
	audience = "https://api.example"
)

// now is the fixed time of every test; the tokens' iat/exp are relative to it.
var now = time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)

func fixedClock() time.Time { return now }

// accepted is the "reason" of table cases that must verify.
const accepted verify.Reason = -1

// fixture holds the test keys. RSA key generation is slow, so the keys are made once per
// test binary and shared by every test, fuzz target and benchmark.
type fixture struct {
	rsaA, rsaA2, rsaB *jwttest.Signer // RS256, 2048 bits: issuer A has two, issuer B one
	psA               *jwttest.Signer // rsaA's key signing PS256
	ecA               *jwttest.Signer // ES256 (P-256), issuer A
	ec384             *jwttest.Signer // ES384 (P-384), configured nowhere
	edA               *jwttest.Signer // EdDSA, issuer A
	hmacH             *jwttest.Signer // HS256 secret of the HMAC issuer
	attackerEC        *jwttest.Signer // an ES256 key nobody trusts

	keyA, keyA2, keyB, keyEC, keyEd, keyH keys.Key
}

var (
	fxOnce sync.Once
	fx     *fixture
)

// keyFixture returns the shared keys, making them on first use.
func keyFixture(t testing.TB) *fixture {
	t.Helper()
	fxOnce.Do(func() {
		f := &fixture{
			rsaA:       jwttest.NewRSA(t, 2048, "RS256"),
			rsaA2:      jwttest.NewRSA(t, 2048, "RS256"),
			rsaB:       jwttest.NewRSA(t, 2048, "RS256"),
			ecA:        jwttest.NewEC(t, "ES256"),
			ec384:      jwttest.NewEC(t, "ES384"),
			edA:        jwttest.NewEd25519(t),
			hmacH:      jwttest.NewHMAC(t, []byte("0123456789abcdef0123456789abcdef"), "HS256"),
			attackerEC: jwttest.NewEC(t, "ES256"),
		}
		f.psA = &jwttest.Signer{Alg: "PS256", KID: f.rsaA.KID, Key: f.rsaA.Key}
		f.rsaA.KID, f.psA.KID = "a-rsa-1", "a-rsa-1"
		f.rsaA2.KID = "a-rsa-2"
		f.rsaB.KID = "b-rsa-1"
		f.ecA.KID = "a-ec-1"
		f.edA.KID = "a-ed-1"
		f.hmacH.KID = "h-secret-1"
		f.keyA = keyOf(t, f.rsaA)
		f.keyA2 = keyOf(t, f.rsaA2)
		f.keyB = keyOf(t, f.rsaB)
		f.keyEC = keyOf(t, f.ecA)
		f.keyEd = keyOf(t, f.edA)
		f.keyH = keyOf(t, f.hmacH)
		fx = f
	})
	if fx == nil {
		t.Fatal("key fixture could not be made")
	}
	return fx
}

// keyOf loads a signer's public key the way the gateway does: through its JWK.
func keyOf(t testing.TB, s *jwttest.Signer) keys.Key {
	t.Helper()
	doc, err := json.Marshal(s.JWK(t, false))
	if err != nil {
		t.Fatal(err)
	}
	ks, skipped, err := keys.ParseJWKs(doc, "test", keys.JWKOptions{AllowSymmetric: true})
	if err != nil || len(skipped) > 0 || len(ks) != 1 {
		t.Fatalf("ParseJWKs() = %v, skipped %v, err %v", ks, skipped, err)
	}
	return ks[0]
}

// basePolicy trusts issuer A (two RSA keys, an EC and an Ed25519 key), issuer B (one RSA key)
// and the HMAC issuer, for the audience, with the fixed clock and the default leeway.
func basePolicy(f *fixture) verify.Policy {
	return verify.Policy{
		Issuers: []verify.Issuer{
			{Name: issA, Sources: []keys.Source{keys.NewStatic(f.keyA, f.keyA2, f.keyEC, f.keyEd)}},
			{Name: issB, Sources: []keys.Source{keys.NewStatic(f.keyB)}},
			{Name: issH, Sources: []keys.Source{keys.NewStatic(f.keyH)}},
		},
		Audience: []string{audience},
		Clock:    fixedClock,
	}
}

// newVerifier builds a verifier from the base policy changed by mod (which may be nil).
func newVerifier(t testing.TB, f *fixture, mod func(*verify.Policy)) *verify.Verifier {
	t.Helper()
	p := basePolicy(f)
	if mod != nil {
		mod(&p)
	}
	v, err := verify.New(p)
	if err != nil {
		t.Fatalf("verify.New() error = %v", err)
	}
	return v
}

// claimsFor returns a valid claim set of iss for the audience: sub alice, issued now, expiring in an hour.
func claimsFor(iss string) map[string]any {
	return jwttest.Claims(iss, audience, "alice", now)
}

// with returns a copy of claims with name set to value; a nil value removes the claim.
// A json.RawMessage value is written as it is (e.g. 1e400 or null).
func with(claims map[string]any, kv ...any) map[string]any {
	out := maps.Clone(claims)
	for i := 0; i+1 < len(kv); i += 2 {
		name := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, name)
			continue
		}
		out[name] = kv[i+1]
	}
	return out
}

// mustJSON marshals v.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// segments splits a compact token into its three segments.
func segments(t testing.TB, tok string) (h, p, s string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	return parts[0], parts[1], parts[2]
}

// signInput signs a hand-made signing input (header and payload segments in any encoding)
// and returns the whole token, so that only the property under test is wrong.
func signInput(t testing.TB, s *jwttest.Signer, headerSeg, payloadSeg string) string {
	t.Helper()
	input := headerSeg + "." + payloadSeg
	return input + "." + s.SignInput(t, input)
}

// nonCanonical sets the unused low bits of a base64url segment's last character, giving a
// second encoding of the same bytes that a lax decoder accepts.
func nonCanonical(t testing.TB, seg string) string {
	t.Helper()
	unused := (len(seg) * 6) % 8
	if unused == 0 {
		t.Fatalf("segment of %d characters has no unused bits", len(seg))
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, seg[len(seg)-1])
	out := seg[:len(seg)-1] + string(alphabet[i|1])
	if lax, err := base64.RawURLEncoding.DecodeString(out); err != nil || string(lax) != string(mustDecode(t, seg)) {
		t.Fatalf("non-canonical encoding does not decode to the same bytes leniently")
	}
	return out
}

func mustDecode(t testing.TB, seg string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verifyCase is one behaviour of the engine: a token under a policy is accepted, or
// rejected with a reason.
type verifyCase struct {
	name   string
	policy func(*verify.Policy) // nil: basePolicy
	token  string
	want   verify.Reason // accepted, or the rejection's reason
	check  func(t *testing.T, r *verify.Result)
}

// runCases verifies every case's token and checks the outcome.
func runCases(t *testing.T, f *fixture, cases []verifyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, f, tc.policy)
			res, err := v.Verify(t.Context(), []byte(tc.token))
			checkOutcome(t, res, err, tc.want)
			if err == nil && tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

// checkOutcome asserts that Verify accepted (want == accepted) or rejected with want's reason,
// as a *verify.Error found with errors.As.
func checkOutcome(t *testing.T, res *verify.Result, err error, want verify.Reason) {
	t.Helper()
	if want == accepted {
		if err != nil {
			t.Fatalf("Verify() error = %v, want accepted", err)
		}
		if res == nil || res.Issuer == "" {
			t.Fatalf("Verify() = %+v, want a result with an issuer", res)
		}
		return
	}
	if err == nil {
		t.Fatalf("Verify() accepted the token (iss %q, kid %q), want reason %v", res.Issuer, res.KeyID, want)
	}
	var e *verify.Error
	if !errors.As(err, &e) {
		t.Fatalf("Verify() error = %v (%T), want a *verify.Error with reason %v", err, err, want)
	}
	if e.Reason != want || verify.ReasonOf(err) != want {
		t.Fatalf("Verify() error = %v, reason %v, want reason %v", err, e.Reason, want)
	}
	if res != nil {
		t.Fatalf("Verify() returned a result with a rejection: %+v", res)
	}
}

// keyIs checks which issuer and key verified the token.
func keyIs(iss, kid, alg string) func(*testing.T, *verify.Result) {
	return func(t *testing.T, r *verify.Result) {
		t.Helper()
		if r.Issuer != iss || r.KeyID != kid || r.Algorithm != alg {
			t.Errorf("Verify() = iss %q kid %q alg %q, want iss %q kid %q alg %q", r.Issuer, r.KeyID, r.Algorithm, iss, kid, alg)
		}
	}
}
