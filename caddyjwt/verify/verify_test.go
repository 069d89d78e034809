package verify_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
)

// TestVerifyTokenForm covers the compact serialization rules: size cap before parsing, exactly
// three segments, strict base64url (RFC 7515 §2), duplicate member names and JSON nesting.
func TestVerifyTokenForm(t *testing.T) {
	f := keyFixture(t)
	valid := f.rsaA.Token(t, claimsFor(issA), nil)
	h, p, s := segments(t, valid)

	ecTok := f.ecA.Token(t, claimsFor(issA), nil)
	eh, ep, es := segments(t, ecTok)

	// A header whose JSON length is not a multiple of 3, so that its padded encoding has '='.
	hdr := []byte(`{"alg":"RS256","kid":"a-rsa-1"}`)
	if len(hdr)%3 == 0 {
		t.Fatal("test header needs a length that is not a multiple of 3")
	}
	paddedHeader := base64.URLEncoding.EncodeToString(hdr)

	// A payload with unused bits in its last character.
	pl := claimsFor(issA)
	for i := 0; len(mustJSON(t, pl))%3 == 0 && i < 3; i++ {
		pl = with(pl, "pad", strings.Repeat("x", i+1))
	}
	plSeg := jwttest.Encode(mustJSON(t, pl))

	big := with(claimsFor(issA), "filler", strings.Repeat("z", 10<<10))
	bigTok := f.rsaA.Token(t, big, nil)

	cases := []verifyCase{
		{name: "well-formed token accepted", token: valid, want: accepted, check: keyIs(issA, "a-rsa-1", "RS256")},

		// Size cap.
		{name: "token exactly at the size cap accepted", token: valid, want: accepted,
			policy: func(p *verify.Policy) { p.MaxTokenSize = len(valid) }},
		{name: "token one byte over the size cap rejected", token: valid, want: verify.ReasonTooLarge,
			policy: func(p *verify.Policy) { p.MaxTokenSize = len(valid) - 1 }},
		{name: "10 KiB token under the default 16 KiB cap accepted", token: bigTok, want: accepted},
		{name: "garbage over the default cap rejected as too large before any parsing",
			token: strings.Repeat("!", verify.DefaultMaxTokenSize+1), want: verify.ReasonTooLarge},
		{name: "garbage at the default cap is parsed and rejected as malformed",
			token: strings.Repeat("!", verify.DefaultMaxTokenSize), want: verify.ReasonMalformed},

		// Exactly three segments.
		{name: "empty token rejected", token: "", want: verify.ReasonMalformed},
		{name: "one segment rejected", token: h, want: verify.ReasonMalformed},
		{name: "two segments rejected", token: h + "." + p, want: verify.ReasonMalformed},
		{name: "four segments rejected", token: valid + "." + s, want: verify.ReasonMalformed},
		{name: "trailing dot rejected", token: valid + ".", want: verify.ReasonMalformed},
		{name: "five segments (JWE shape) rejected", token: h + ".." + p + "." + s + "." + s, want: verify.ReasonMalformed},
		{name: "empty header segment rejected", token: "." + p + "." + s, want: verify.ReasonMalformed},
		{name: "empty signature segment rejected", token: h + "." + p + ".", want: verify.ReasonMalformed},
		{name: "empty payload segment rejected", token: signInput(t, f.rsaA, h, ""), want: verify.ReasonMalformed},
		{name: "JSON serialization rejected", token: `{"payload":"` + p + `","protected":"` + h + `","signature":"` + s + `"}`,
			want: verify.ReasonMalformed},

		// Strict base64url: the signing input is re-signed so that only the encoding is wrong.
		{name: "padded header segment rejected", token: signInput(t, f.rsaA, paddedHeader, p), want: verify.ReasonMalformed},
		{name: "unpadded form of the same header accepted", token: signInput(t, f.rsaA, jwttest.Encode(hdr), p), want: accepted},
		{name: "padded signature segment rejected", token: h + "." + p + "." + s + "==", want: verify.ReasonMalformed},
		{name: "standard base64 alphabet in the signature rejected",
			token: h + "." + p + "." + strings.NewReplacer("-", "+", "_", "/").Replace(s), want: verify.ReasonMalformed},
		{name: "standard base64 alphabet in the header rejected", token: signInput(t, f.rsaA, stdHeader(t), p), want: verify.ReasonMalformed},
		{name: "non-canonical trailing bits in the signature rejected", token: eh + "." + ep + "." + nonCanonical(t, es), want: verify.ReasonMalformed},
		{name: "canonical form of the same ES256 signature accepted", token: ecTok, want: accepted, check: keyIs(issA, "a-ec-1", "ES256")},
		{name: "non-canonical trailing bits in the payload rejected", token: signInput(t, f.rsaA, h, nonCanonical(t, plSeg)), want: verify.ReasonMalformed},
		{name: "canonical form of the same payload accepted", token: signInput(t, f.rsaA, h, plSeg), want: accepted},
		{name: "line break inside the signature segment rejected",
			token: h + "." + p + "." + s[:10] + "\n" + s[10:], want: verify.ReasonMalformed},
		{name: "carriage return inside the header segment rejected",
			token: signInput(t, f.rsaA, h[:8]+"\r"+h[8:], p), want: verify.ReasonMalformed},
		{name: "line break inside the payload segment rejected",
			token: signInput(t, f.rsaA, h, p[:8]+"\n"+p[8:]), want: verify.ReasonMalformed},
		{name: "space inside the payload segment rejected",
			token: signInput(t, f.rsaA, h, p[:8]+" "+p[8:]), want: verify.ReasonMalformed},
		{name: "header that is not JSON rejected", token: signInput(t, f.rsaA, jwttest.Encode([]byte("RS256")), p), want: verify.ReasonMalformed},
		{name: "header that is a JSON array rejected", token: signInput(t, f.rsaA, jwttest.Encode([]byte(`["RS256"]`)), p), want: verify.ReasonMalformed},
		{name: "payload that is not a JSON object rejected", token: signInput(t, f.rsaA, h, jwttest.Encode([]byte(`"hello"`))), want: verify.ReasonMalformed},

		// Duplicate member names (Go's decoder would keep the last one).
		{name: "duplicate alg in the header rejected",
			token: f.rsaA.SignRaw(t, []byte(`{"alg":"RS256","kid":"a-rsa-1","alg":"none"}`), mustJSON(t, claimsFor(issA))),
			want:  verify.ReasonDuplicateName},
		{name: "duplicate kid in the header rejected",
			token: f.rsaA.SignRaw(t, []byte(`{"alg":"RS256","kid":"a-rsa-2","kid":"a-rsa-1"}`), mustJSON(t, claimsFor(issA))),
			want:  verify.ReasonDuplicateName},
		{name: "duplicate iss in the claims rejected",
			token: f.rsaA.SignRaw(t, hdr, []byte(`{"iss":"`+issB+`","aud":"`+audience+`","exp":`+unix(now.Add(time.Hour))+`,"iss":"`+issA+`"}`)),
			want:  verify.ReasonDuplicateName},
		{name: "duplicate exp in the claims rejected",
			token: f.rsaA.SignRaw(t, hdr, []byte(`{"iss":"`+issA+`","aud":"`+audience+`","exp":1,"exp":`+unix(now.Add(time.Hour))+`}`)),
			want:  verify.ReasonDuplicateName},
		{name: "escaped duplicate claim name rejected",
			token: f.rsaA.SignRaw(t, hdr, []byte(`{"iss":"`+issA+`","aud":"`+audience+`","exp":`+unix(now.Add(time.Hour))+`,"\u0069ss":"`+issA+`"}`)),
			want:  verify.ReasonDuplicateName},
		{name: "duplicate name in a nested claim object rejected",
			token: f.rsaA.SignRaw(t, hdr, []byte(`{"iss":"`+issA+`","aud":"`+audience+`","exp":`+unix(now.Add(time.Hour))+`,"cnf":{"jkt":"a","jkt":"b"}}`)),
			want:  verify.ReasonDuplicateName},
		{name: "claim names differing only in case accepted",
			token: f.rsaA.SignRaw(t, hdr, []byte(`{"iss":"`+issA+`","aud":"`+audience+`","exp":`+unix(now.Add(time.Hour))+`,"ISS":"x","Iss":"y"}`)),
			want:  accepted},

		// JSON nesting caps: 16 levels for claims, 8 for the header (top-level object is level 1).
		{name: "claims nested to the depth cap accepted", token: f.rsaA.Token(t, with(claimsFor(issA), "deep", nest(15)), nil), want: accepted},
		{name: "claims nested beyond the depth cap rejected", token: f.rsaA.Token(t, with(claimsFor(issA), "deep", nest(16)), nil), want: verify.ReasonMalformed},
		{name: "header nested to the depth cap accepted", token: f.rsaA.Token(t, claimsFor(issA), map[string]any{"ext": nest(7)}), want: accepted},
		{name: "header nested beyond the depth cap rejected", token: f.rsaA.Token(t, claimsFor(issA), map[string]any{"ext": nest(8)}), want: verify.ReasonMalformed},
		{name: "deep arrays in the claims rejected", token: f.rsaA.Token(t, with(claimsFor(issA), "deep", json.RawMessage(strings.Repeat("[", 40)+strings.Repeat("]", 40))), nil),
			want: verify.ReasonMalformed},
		{name: "too many claim members rejected", token: f.rsaA.Token(t, with(claimsFor(issA), "many", make([]int, 1100)), nil), want: verify.ReasonMalformed},
	}
	runCases(t, f, cases)
}

// stdHeader returns a valid header encoded with the standard base64 alphabet, holding '+' or '/'.
func stdHeader(t *testing.T) string {
	for i := range 8 {
		enc := base64.RawStdEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"a-rsa-1","x":"` + strings.Repeat("?", i) + `>>>???"}`))
		if strings.ContainsAny(enc, "+/") {
			return enc
		}
	}
	t.Fatal("no header encodes to '+' or '/'")
	return ""
}

// nest returns n levels of nested objects around a string.
func nest(n int) any {
	var v any = "x"
	for range n {
		v = map[string]any{"n": v}
	}
	return v
}

func unix(t time.Time) string {
	b, _ := json.Marshal(t.Unix())
	return string(b)
}

// TestVerifyAlgorithm covers the algorithm rules: the alg comes from the issuer's allowlist and
// is bound to the key type (RFC 7518 §3.1); none never.
func TestVerifyAlgorithm(t *testing.T) {
	f := keyFixture(t)
	claims := claimsFor(issA)
	_, p, s := segments(t, f.rsaA.Token(t, claims, nil))
	hdr := func(alg, kid string) string {
		h := map[string]any{"alg": alg}
		if kid != "" {
			h["kid"] = kid
		}
		return jwttest.Encode(mustJSON(t, h))
	}
	// The classic key confusion: HMAC keyed with the RSA public key's PEM text.
	rsaPEM, err := os.ReadFile(f.rsaA.PublicPEM(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	confused := jwttest.NewHMAC(t, rsaPEM, "HS256")
	confused.KID = "a-rsa-1"
	ecAsRS := &jwttest.Signer{Alg: "ES256", KID: "a-rsa-1", Key: f.ecA.Key}
	es384AsP256 := &jwttest.Signer{Alg: "ES384", KID: "a-ec-1", Key: f.ec384.Key}
	onlyRS256 := func(p *verify.Policy) {
		// An allowlist must fit every key of the issuer, so this issuer A holds its RSA keys only.
		p.Issuers[0].Sources = []keys.Source{keys.NewStatic(f.keyA, f.keyA2)}
		p.Issuers[0].Algorithms = []string{"RS256"}
	}

	cases := []verifyCase{
		{name: "RS256 with a 2048-bit RSA key accepted", token: f.rsaA.Token(t, claims, nil), want: accepted, check: keyIs(issA, "a-rsa-1", "RS256")},
		{name: "PS256 with the same RSA key accepted", token: f.psA.Token(t, claims, nil), want: accepted, check: keyIs(issA, "a-rsa-1", "PS256")},
		{name: "ES256 with a P-256 key accepted", token: f.ecA.Token(t, claims, nil), want: accepted, check: keyIs(issA, "a-ec-1", "ES256")},
		{name: "EdDSA with an Ed25519 key accepted", token: f.edA.Token(t, claims, nil), want: accepted, check: keyIs(issA, "a-ed-1", "EdDSA")},
		{name: "HS256 with an operator-configured secret accepted", token: f.hmacH.Token(t, claimsFor(issH), nil), want: accepted, check: keyIs(issH, "h-secret-1", "HS256")},
		{name: "allowlisted RS256 accepted", policy: onlyRS256, token: f.rsaA.Token(t, claims, nil), want: accepted},

		{name: "alg none with an empty signature rejected", token: hdr("none", "") + "." + p + ".", want: verify.ReasonMalformed},
		{name: "alg none with a signature rejected", token: hdr("none", "") + "." + p + "." + s, want: verify.ReasonAlgNotAllowed},
		{name: "alg none with a kid rejected", token: hdr("none", "a-rsa-1") + "." + p + "." + s, want: verify.ReasonAlgNotAllowed},
		{name: "alg NONE rejected", token: hdr("NONE", "") + "." + p + "." + s, want: verify.ReasonAlgNotAllowed},
		{name: "alg rs256 in lower case rejected", token: hdr("rs256", "a-rsa-1") + "." + p + "." + s, want: verify.ReasonAlgNotAllowed},
		{name: "unsupported alg ES256K rejected", token: hdr("ES256K", "") + "." + p + "." + s, want: verify.ReasonAlgNotAllowed},
		{name: "encryption alg RSA-OAEP rejected", token: hdr("RSA-OAEP", "") + "." + p + "." + s, want: verify.ReasonAlgNotAllowed},
		{name: "empty alg rejected", token: hdr("", "") + "." + p + "." + s, want: verify.ReasonAlgNotAllowed},
		{name: "alg missing rejected", token: f.rsaA.Token(t, claims, map[string]any{"alg": nil}), want: verify.ReasonBadHeader},
		{name: "alg not a string rejected", token: f.rsaA.Token(t, claims, map[string]any{"alg": []string{"RS256"}}), want: verify.ReasonBadHeader},
		{name: "kid not a string rejected", token: f.rsaA.Token(t, claims, map[string]any{"kid": 1}), want: verify.ReasonBadHeader},
		{name: "PS256 not in the issuer's allowlist rejected", policy: onlyRS256, token: f.psA.Token(t, claims, nil), want: verify.ReasonAlgNotAllowed},
		{name: "ES256 not in the issuer's allowlist rejected", policy: onlyRS256, token: f.ecA.Token(t, claims, nil), want: verify.ReasonAlgNotAllowed},
		{name: "ES256 naming the RSA key rejected", token: ecAsRS.Token(t, claims, nil), want: verify.ReasonAlgNotAllowed},
		{name: "ES384 naming the P-256 key rejected", token: es384AsP256.Token(t, claims, nil), want: verify.ReasonAlgNotAllowed},
		{name: "ES384 without kid and no P-384 key rejected", token: es384AsP256.Token(t, claims, map[string]any{"kid": nil}), want: verify.ReasonNoMatchingKey},
		{name: "HS256 keyed with the RSA public key naming the RSA key rejected", token: confused.Token(t, claims, nil), want: verify.ReasonAlgNotAllowed},
		{name: "HS256 keyed with the RSA public key without kid rejected", token: confused.Token(t, claims, map[string]any{"kid": nil}), want: verify.ReasonNoMatchingKey},
		{name: "RS256 naming the HMAC secret rejected",
			token: (&jwttest.Signer{Alg: "RS256", KID: "h-secret-1", Key: f.rsaA.Key}).Token(t, claimsFor(issH), nil), want: verify.ReasonAlgNotAllowed},
		{name: "EdDSA naming the RSA key rejected",
			token: (&jwttest.Signer{Alg: "EdDSA", KID: "a-rsa-1", Key: f.edA.Key}).Token(t, claims, nil), want: verify.ReasonAlgNotAllowed},
	}
	runCases(t, f, cases)
}

// TestNewRejectsPolicyMistakes covers configuration errors that must fail at provision time.
func TestNewRejectsPolicyMistakes(t *testing.T) {
	f := keyFixture(t)
	for _, tc := range []struct {
		name string
		mod  func(*verify.Policy)
		want string // in the error
	}{
		{"no issuer", func(p *verify.Policy) { p.Issuers = nil }, "no issuer"},
		{"issuer without a name", func(p *verify.Policy) { p.Issuers[0].Name = "" }, "empty name"},
		{"duplicate issuer", func(p *verify.Policy) { p.Issuers[1].Name = issA }, "more than once"},
		{"issuer without keys", func(p *verify.Policy) { p.Issuers[0].Sources = nil }, "no keys"},
		{"alg none in the allowlist", func(p *verify.Policy) { p.Issuers[0].Algorithms = []string{"none"} }, `"none"`},
		{"unknown alg in the allowlist", func(p *verify.Policy) { p.Issuers[0].Algorithms = []string{"RS1"} }, `"RS1"`},
		{"HS256 allowlist with an RSA key", func(p *verify.Policy) { p.Issuers[1].Algorithms = []string{"HS256"} }, "HS256"},
		{"ES384 allowlist with a P-256 key", func(p *verify.Policy) {
			p.Issuers[1].Sources = []keys.Source{keys.NewStatic(f.keyEC)}
			p.Issuers[1].Algorithms = []string{"ES384"}
		}, "ES384"},
		{"claim rule without values", func(p *verify.Policy) { p.ClaimRules = []verify.ClaimRule{{Name: "scope"}} }, "claim rule"},
		{"negative max_age", func(p *verify.Policy) { p.MaxAge = -time.Second }, "max_age"},
		{"negative size cap", func(p *verify.Policy) { p.MaxTokenSize = -1 }, "max_token_size"},
	} {
		t.Run(tc.name+" refused", func(t *testing.T) {
			p := basePolicy(f)
			tc.mod(&p)
			if _, err := verify.New(p); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("verify.New() error = %v, want one mentioning %s", err, tc.want)
			}
		})
	}
	t.Run("allowlist that fits every key accepted", func(t *testing.T) {
		p := basePolicy(f)
		p.Issuers[1].Algorithms = []string{"RS256", "PS256"}
		if _, err := verify.New(p); err != nil {
			t.Fatalf("verify.New() error = %v", err)
		}
	})
}

// TestVerifyCrit covers RFC 7515 §4.1.11 crit and RFC 7797 b64 in bearer mode, where no
// extension is understood.
func TestVerifyCrit(t *testing.T) {
	f := keyFixture(t)
	claims := claimsFor(issA)
	tok := func(h map[string]any) string { return f.rsaA.Token(t, claims, h) }
	cases := []verifyCase{
		{name: "token without crit accepted", token: tok(nil), want: accepted},
		{name: "unknown header parameter not listed in crit accepted", token: tok(map[string]any{"exp-ext": 1}), want: accepted},
		{name: "crit naming an unknown extension rejected", token: tok(map[string]any{"crit": []string{"exp-ext"}, "exp-ext": 1}), want: verify.ReasonCritUnsupported},
		{name: "empty crit array rejected", token: tok(map[string]any{"crit": []string{}}), want: verify.ReasonBadHeader},
		{name: "crit listing the registered name alg rejected", token: tok(map[string]any{"crit": []string{"alg"}}), want: verify.ReasonBadHeader},
		{name: "crit listing the registered name kid rejected", token: tok(map[string]any{"crit": []string{"kid"}}), want: verify.ReasonBadHeader},
		{name: "crit naming a parameter absent from the header rejected", token: tok(map[string]any{"crit": []string{"exp-ext"}}), want: verify.ReasonBadHeader},
		{name: "crit with a non-string entry rejected", token: tok(map[string]any{"crit": []any{1}}), want: verify.ReasonBadHeader},
		{name: "crit with an empty-string entry rejected", token: tok(map[string]any{"crit": []string{""}}), want: verify.ReasonBadHeader},
		// Entries are checked in order, so an unknown name is refused before its repetition is seen.
		{name: "crit with a repeated unknown entry rejected", token: tok(map[string]any{"crit": []string{"x", "x"}, "x": 1}), want: verify.ReasonCritUnsupported},
		{name: "crit that is a string rejected", token: tok(map[string]any{"crit": "exp-ext", "exp-ext": 1}), want: verify.ReasonBadHeader},
		{name: "crit that is null rejected", token: f.rsaA.SignRaw(t, []byte(`{"alg":"RS256","kid":"a-rsa-1","crit":null}`), mustJSON(t, claims)), want: verify.ReasonBadHeader},
		{name: "b64 false header rejected in bearer mode", token: tok(map[string]any{"b64": false}), want: verify.ReasonUnencodedPayload},
		{name: "b64 true header rejected in bearer mode", token: tok(map[string]any{"b64": true}), want: verify.ReasonUnencodedPayload},
		// crit is checked before b64, so a b64 listed in crit is an extension bearer mode does not understand.
		{name: "b64 listed in crit rejected in bearer mode", token: tok(map[string]any{"b64": false, "crit": []string{"b64"}}), want: verify.ReasonCritUnsupported},
	}
	runCases(t, f, cases)
}

// TestVerifyKeysNeverFromToken shows that jwk, jku, x5u and x5c are ignored: the keys come from
// the policy only.
func TestVerifyKeysNeverFromToken(t *testing.T) {
	f := keyFixture(t)
	claims := claimsFor(issA)
	attackerJWK := f.attackerEC.JWK(t, true)
	certPEM, err := os.ReadFile(f.attackerEC.CertificatePEM(t, t.TempDir(), "attacker"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	attackerX5C := []string{base64.StdEncoding.EncodeToString(block.Bytes)}
	underConfiguredKID := &jwttest.Signer{Alg: "ES256", KID: "a-ec-1", Key: f.attackerEC.Key}

	cases := []verifyCase{
		{name: "attacker jwk header with the attacker's kid and signature rejected",
			token: f.attackerEC.Token(t, claims, map[string]any{"jwk": attackerJWK}), want: verify.ReasonUnknownKey},
		{name: "attacker jwk header with the configured kid and the attacker's signature rejected",
			token: underConfiguredKID.Token(t, claims, map[string]any{"jwk": attackerJWK}), want: verify.ReasonBadSignature},
		{name: "attacker jwk header without kid and the attacker's signature rejected",
			token: underConfiguredKID.Token(t, claims, map[string]any{"jwk": attackerJWK, "kid": nil}), want: verify.ReasonBadSignature},
		{name: "attacker x5c header with the attacker's signature rejected",
			token: underConfiguredKID.Token(t, claims, map[string]any{"x5c": attackerX5C}), want: verify.ReasonBadSignature},
		{name: "attacker jku and x5u with the attacker's signature rejected",
			token: underConfiguredKID.Token(t, claims, map[string]any{"jku": "https://evil.example/jwks", "x5u": "https://evil.example/cert"}),
			want:  verify.ReasonBadSignature},
		{name: "junk jku with the configured key's signature accepted",
			token: f.ecA.Token(t, claims, map[string]any{"jku": "https://evil.example/jwks"}), want: accepted, check: keyIs(issA, "a-ec-1", "ES256")},
		{name: "junk jwk, jku, x5u and x5c with the configured key's signature accepted",
			token: f.ecA.Token(t, claims, map[string]any{"jwk": attackerJWK, "jku": 7, "x5u": "not a url", "x5c": attackerX5C}), want: accepted},
	}
	runCases(t, f, cases)
}

// TestVerifyKeySelection covers seed 001: a kid selects exactly that key of the issuer; no kid
// means the issuer's keys that fit the algorithm. Issuers never share keys.
func TestVerifyKeySelection(t *testing.T) {
	f := keyFixture(t)
	claims := claimsFor(issA)
	a2UnderA1 := &jwttest.Signer{Alg: "RS256", KID: "a-rsa-1", Key: f.rsaA2.Key}
	aUnknownKID := &jwttest.Signer{Alg: "RS256", KID: "a-rsa-9", Key: f.rsaA.Key}
	aUnderB := &jwttest.Signer{Alg: "RS256", KID: "b-rsa-1", Key: f.rsaA.Key}
	cases := []verifyCase{
		{name: "kid selects its key", token: f.rsaA2.Token(t, claims, nil), want: accepted, check: keyIs(issA, "a-rsa-2", "RS256")},
		{name: "kid naming another key of the issuer rejected without fallback", token: a2UnderA1.Token(t, claims, nil), want: verify.ReasonBadSignature},
		{name: "unknown kid rejected although a key of the issuer would verify", token: aUnknownKID.Token(t, claims, nil), want: verify.ReasonUnknownKey},
		{name: "empty kid is a kid and names no key", token: f.rsaA.Token(t, claims, map[string]any{"kid": ""}), want: verify.ReasonUnknownKey},
		{name: "no kid tries the issuer's keys fitting the alg", token: f.rsaA2.Token(t, claims, map[string]any{"kid": nil}), want: accepted, check: keyIs(issA, "a-rsa-2", "RS256")},
		{name: "no kid with EdDSA finds the Ed25519 key", token: f.edA.Token(t, claims, map[string]any{"kid": nil}), want: accepted, check: keyIs(issA, "a-ed-1", "EdDSA")},
		{name: "kid of issuer A's key with iss B rejected", token: f.rsaA.Token(t, claimsFor(issB), nil), want: verify.ReasonUnknownKey},
		{name: "issuer A's key without kid with iss B rejected", token: f.rsaA.Token(t, claimsFor(issB), map[string]any{"kid": nil}), want: verify.ReasonBadSignature},
		{name: "issuer A's key under issuer B's kid with iss B rejected", token: aUnderB.Token(t, claimsFor(issB), nil), want: verify.ReasonBadSignature},
		{name: "issuer B's own key with iss B accepted", token: f.rsaB.Token(t, claimsFor(issB), nil), want: accepted, check: keyIs(issB, "b-rsa-1", "RS256")},
		{name: "issuer B's key with iss A rejected", token: f.rsaB.Token(t, claims, nil), want: verify.ReasonUnknownKey},
	}
	runCases(t, f, cases)
}

// TestVerifyWithoutKIDTriesAtMostFourKeys shows the bound on signature checks a token without
// kid can cause: the first four keys fitting its algorithm, in configuration order.
func TestVerifyWithoutKIDTriesAtMostFourKeys(t *testing.T) {
	f := keyFixture(t)
	var signers []*jwttest.Signer
	var ks []keys.Key
	for i := range 5 {
		s := jwttest.NewEC(t, "ES256")
		s.KID = fmt.Sprintf("ec-%d", i)
		signers = append(signers, s)
		ks = append(ks, keyOf(t, s))
	}
	v := newVerifier(t, f, func(p *verify.Policy) { p.Issuers[0].Sources = []keys.Source{keys.NewStatic(ks...)} })
	for _, tc := range []struct {
		name   string
		signer *jwttest.Signer
		want   verify.Reason
	}{
		{"fourth fitting key verifies", signers[3], accepted},
		{"fifth fitting key is never tried", signers[4], verify.ReasonBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := v.Verify(t.Context(), []byte(tc.signer.Token(t, claimsFor(issA), map[string]any{"kid": nil})))
			checkOutcome(t, res, err, tc.want)
		})
	}
	t.Run("fifth key verifies when the token names it", func(t *testing.T) {
		res, err := v.Verify(t.Context(), []byte(signers[4].Token(t, claimsFor(issA), nil)))
		checkOutcome(t, res, err, accepted)
		keyIs(issA, "ec-4", "ES256")(t, res)
	})
}

// TestVerifyIssuer covers iss: a string naming exactly one configured issuer.
func TestVerifyIssuer(t *testing.T) {
	f := keyFixture(t)
	tok := func(c map[string]any) string { return f.rsaA.Token(t, c, nil) }
	cases := []verifyCase{
		{name: "configured issuer accepted", token: tok(claimsFor(issA)), want: accepted, check: keyIs(issA, "a-rsa-1", "RS256")},
		{name: "missing iss rejected", token: tok(with(claimsFor(issA), "iss", nil)), want: verify.ReasonUnknownIssuer},
		{name: "null iss rejected", token: tok(with(claimsFor(issA), "iss", json.RawMessage("null"))), want: verify.ReasonUnknownIssuer},
		{name: "numeric iss rejected", token: tok(with(claimsFor(issA), "iss", 42)), want: verify.ReasonUnknownIssuer},
		{name: "iss array holding a configured issuer rejected", token: tok(with(claimsFor(issA), "iss", []string{issA})), want: verify.ReasonUnknownIssuer},
		{name: "unknown iss rejected", token: tok(claimsFor("https://evil.example")), want: verify.ReasonUnknownIssuer},
		{name: "iss with a trailing slash rejected", token: tok(claimsFor(issA + "/")), want: verify.ReasonUnknownIssuer},
		{name: "iss differing in case rejected", token: tok(claimsFor(strings.ToUpper(issA))), want: verify.ReasonUnknownIssuer},
		{name: "empty iss rejected", token: tok(claimsFor("")), want: verify.ReasonUnknownIssuer},
	}
	runCases(t, f, cases)

	t.Run("unknown issuer never consults a key source", func(t *testing.T) {
		src := &countingSource{set: keys.NewSet(f.keyA)}
		v := newVerifier(t, f, func(p *verify.Policy) { p.Issuers[0].Sources = []keys.Source{src} })
		_, err := v.Verify(t.Context(), []byte(tok(claimsFor("https://evil.example"))))
		checkOutcome(t, nil, err, verify.ReasonUnknownIssuer)
		if src.calls != 0 || src.misses != 0 {
			t.Fatalf("key source consulted %d times (%d misses) for an unknown issuer, want 0", src.calls, src.misses)
		}
	})
}

// countingSource is a key source that counts its use and can refresh on a kid miss.
type countingSource struct {
	set           *keys.Set
	afterMiss     *keys.Set
	err           error
	calls, misses int
}

func (s *countingSource) Keys() (*keys.Set, error) {
	s.calls++
	if s.err != nil {
		return nil, s.err
	}
	return s.set, nil
}

func (s *countingSource) KeysAfterMiss(_ context.Context, _ string) (*keys.Set, error) {
	s.misses++
	if s.afterMiss == nil {
		return s.set, nil
	}
	return s.afterMiss, nil
}

// TestVerifyKeySources covers keys that change: a kid miss asks the source once, and a source
// without keys makes the answer "unavailable", with its Retry-After.
func TestVerifyKeySources(t *testing.T) {
	f := keyFixture(t)
	tok := []byte(f.rsaA2.Token(t, claimsFor(issA), nil))

	t.Run("kid miss refreshes once and then verifies", func(t *testing.T) {
		src := &countingSource{set: keys.NewSet(f.keyA), afterMiss: keys.NewSet(f.keyA, f.keyA2)}
		v := newVerifier(t, f, func(p *verify.Policy) { p.Issuers[0].Sources = []keys.Source{src} })
		res, err := v.Verify(t.Context(), tok)
		checkOutcome(t, res, err, accepted)
		if src.misses != 1 {
			t.Errorf("KeysAfterMiss called %d times, want 1", src.misses)
		}
	})
	t.Run("kid still missing after the refresh rejected", func(t *testing.T) {
		src := &countingSource{set: keys.NewSet(f.keyA)}
		v := newVerifier(t, f, func(p *verify.Policy) { p.Issuers[0].Sources = []keys.Source{src} })
		_, err := v.Verify(t.Context(), tok)
		checkOutcome(t, nil, err, verify.ReasonUnknownKey)
	})
	t.Run("known kid never triggers a refresh", func(t *testing.T) {
		src := &countingSource{set: keys.NewSet(f.keyA, f.keyA2)}
		v := newVerifier(t, f, func(p *verify.Policy) { p.Issuers[0].Sources = []keys.Source{src} })
		res, err := v.Verify(t.Context(), tok)
		checkOutcome(t, res, err, accepted)
		if src.misses != 0 {
			t.Errorf("KeysAfterMiss called %d times, want 0", src.misses)
		}
	})
	t.Run("unavailable keys rejected as unavailable with the source's retry-after", func(t *testing.T) {
		src := &countingSource{err: &keys.UnavailableError{Origin: "https://issuer-a.example/jwks", RetryAfter: 7 * time.Second, Err: errors.New("fetch failed")}}
		v := newVerifier(t, f, func(p *verify.Policy) { p.Issuers[0].Sources = []keys.Source{src} })
		_, err := v.Verify(t.Context(), tok)
		checkOutcome(t, nil, err, verify.ReasonKeysUnavailable)
		if d, ok := verify.IsUnavailable(err); !ok || d != 7*time.Second {
			t.Errorf("IsUnavailable() = %v, %v, want 7s, true", d, ok)
		}
	})
	t.Run("one unavailable source does not hide a key another source holds", func(t *testing.T) {
		down := &countingSource{err: &keys.UnavailableError{Origin: "x", RetryAfter: time.Second, Err: errors.New("down")}}
		v := newVerifier(t, f, func(p *verify.Policy) { p.Issuers[0].Sources = []keys.Source{down, keys.NewStatic(f.keyA2)} })
		res, err := v.Verify(t.Context(), tok)
		checkOutcome(t, res, err, accepted)
	})
}

// TestVerifyAudience covers RFC 7519 §4.1.3: aud is a string or a non-empty array of strings,
// matched exactly against the accepted audiences, which an issuer may override.
func TestVerifyAudience(t *testing.T) {
	f := keyFixture(t)
	tok := func(iss string, aud any) string {
		return f.rsaA.Token(t, with(claimsFor(iss), "aud", aud), nil)
	}
	tokB := func(aud any) string { return f.rsaB.Token(t, with(claimsFor(issB), "aud", aud), nil) }
	override := func(p *verify.Policy) { p.Issuers[0].Audience = []string{"https://partner.example"} }
	noAudience := func(p *verify.Policy) { p.Audience = nil }
	cases := []verifyCase{
		{name: "aud string matching accepted", token: tok(issA, audience), want: accepted},
		{name: "aud array with one matching element accepted", token: tok(issA, []string{"https://other.example", audience}), want: accepted},
		{name: "aud matching the second configured audience accepted", token: tok(issA, "https://second.example"), want: accepted,
			policy: func(p *verify.Policy) { p.Audience = []string{audience, "https://second.example"} }},
		{name: "aud empty array rejected", token: tok(issA, []string{}), want: verify.ReasonWrongAudience},
		{name: "aud array with a non-string element rejected even when another matches", token: tok(issA, []any{audience, 1}), want: verify.ReasonWrongAudience},
		{name: "aud array with a nested array rejected", token: tok(issA, []any{[]string{audience}}), want: verify.ReasonWrongAudience},
		{name: "aud number rejected", token: tok(issA, 1), want: verify.ReasonWrongAudience},
		{name: "aud object rejected", token: tok(issA, map[string]any{"aud": audience}), want: verify.ReasonWrongAudience},
		{name: "aud null rejected", token: tok(issA, json.RawMessage("null")), want: verify.ReasonWrongAudience},
		{name: "aud matching nothing rejected", token: tok(issA, "https://other.example"), want: verify.ReasonWrongAudience},
		{name: "aud array matching nothing rejected", token: tok(issA, []string{"https://other.example", "x"}), want: verify.ReasonWrongAudience},
		{name: "aud with a trailing slash rejected", token: tok(issA, audience+"/"), want: verify.ReasonWrongAudience},
		{name: "aud with another scheme rejected", token: tok(issA, "http://api.example"), want: verify.ReasonWrongAudience},
		{name: "aud differing in case rejected", token: tok(issA, "https://API.example"), want: verify.ReasonWrongAudience},
		{name: "aud prefix of the audience rejected", token: tok(issA, "https://api"), want: verify.ReasonWrongAudience},
		{name: "aud absent rejected when an audience is configured", token: tok(issA, nil), want: verify.ReasonWrongAudience},
		{name: "aud absent accepted when no audience is configured", policy: noAudience, token: tok(issA, nil), want: accepted},
		{name: "any aud string accepted when no audience is configured", policy: noAudience, token: tok(issA, "https://whatever.example"), want: accepted},
		{name: "malformed aud rejected even when no audience is configured", policy: noAudience, token: tok(issA, []string{}), want: verify.ReasonWrongAudience},
		{name: "issuer audience override accepts its own audience", policy: override, token: tok(issA, "https://partner.example"), want: accepted},
		{name: "issuer audience override replaces the top-level audience", policy: override, token: tok(issA, audience), want: verify.ReasonWrongAudience},
		{name: "issuer without an override keeps the top-level audience", policy: override, token: tokB(audience), want: accepted},
		{name: "issuer without an override does not take another issuer's audience", policy: override, token: tokB("https://partner.example"), want: verify.ReasonWrongAudience},
	}
	runCases(t, f, cases)
}

// TestVerifyTimes covers exp, nbf, iat (RFC 7519 §4.1.4-4.1.6), leeway, max_age and the
// NumericDate type (RFC 7519 §2).
func TestVerifyTimes(t *testing.T) {
	f := keyFixture(t)
	tok := func(kv ...any) string { return f.rsaA.Token(t, with(claimsFor(issA), kv...), nil) }
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	noLeeway := func(p *verify.Policy) { p.Leeway = -1 }
	maxAge := func(p *verify.Policy) { p.MaxAge = 5 * time.Minute }
	leeway := func(d time.Duration) func(*verify.Policy) { return func(p *verify.Policy) { p.Leeway = d } }
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	cases := []verifyCase{
		{name: "exp in the future accepted", token: tok(), want: accepted},
		{name: "exp missing rejected", token: tok("exp", nil), want: verify.ReasonMissingExp},
		{name: "exp missing rejected even with max_age and iat", policy: maxAge, token: tok("exp", nil), want: verify.ReasonMissingExp},
		{name: "exp beyond the default leeway rejected", token: tok("exp", at(-31*time.Second)), want: verify.ReasonExpired},
		{name: "exp exactly at the leeway boundary rejected", token: tok("exp", at(-30*time.Second)), want: verify.ReasonExpired},
		{name: "exp within the default leeway accepted", token: tok("exp", at(-29*time.Second)), want: accepted},
		{name: "exp within a configured leeway accepted", policy: leeway(2 * time.Minute), token: tok("exp", at(-119*time.Second)), want: accepted},
		{name: "exp beyond a configured leeway rejected", policy: leeway(2 * time.Minute), token: tok("exp", at(-121*time.Second)), want: verify.ReasonExpired},
		{name: "negative leeway means none: exp a second ago rejected", policy: noLeeway, token: tok("exp", at(-time.Second)), want: verify.ReasonExpired},
		{name: "negative leeway means none: exp equal to now rejected", policy: noLeeway, token: tok("exp", at(0)), want: verify.ReasonExpired},
		{name: "negative leeway means none: exp a second ahead accepted", policy: noLeeway, token: tok("exp", at(time.Second)), want: accepted},
		{name: "negative leeway means none: nbf a second ahead rejected", policy: noLeeway, token: tok("nbf", at(time.Second)), want: verify.ReasonNotYetValid},
		{name: "negative leeway means none: iat a second ahead rejected", policy: noLeeway, token: tok("iat", at(time.Second)), want: verify.ReasonIssuedInFuture},
		{name: "exp far in the past rejected", token: tok("exp", 0), want: verify.ReasonExpired},
		{name: "negative exp rejected", token: tok("exp", -1), want: verify.ReasonExpired},

		{name: "nbf in the past accepted", token: tok("nbf", at(-time.Hour)), want: accepted},
		{name: "nbf equal to now accepted", token: tok("nbf", at(0)), want: accepted},
		{name: "nbf within the leeway accepted", token: tok("nbf", at(29*time.Second)), want: accepted},
		{name: "nbf beyond the leeway rejected", token: tok("nbf", at(31*time.Second)), want: verify.ReasonNotYetValid},

		{name: "iat in the past accepted", token: tok("iat", at(-time.Hour)), want: accepted},
		{name: "iat missing accepted without max_age", token: tok("iat", nil), want: accepted},
		{name: "iat within the leeway accepted", token: tok("iat", at(29*time.Second)), want: accepted},
		{name: "iat in the future beyond the leeway rejected", token: tok("iat", at(31*time.Second)), want: verify.ReasonIssuedInFuture},

		{name: "max_age with a fresh iat accepted", policy: maxAge, token: tok("iat", at(-5*time.Minute)), want: accepted},
		{name: "max_age with iat older by less than the leeway accepted", policy: maxAge, token: tok("iat", at(-5*time.Minute-29*time.Second)), want: accepted},
		{name: "max_age with iat older beyond the leeway rejected", policy: maxAge, token: tok("iat", at(-5*time.Minute-31*time.Second)), want: verify.ReasonTooOld},
		{name: "max_age without iat rejected", policy: maxAge, token: tok("iat", nil), want: verify.ReasonTooOld},
		{name: "max_age with iat in the future rejected as issued in the future", policy: maxAge, token: tok("iat", at(time.Hour)), want: verify.ReasonIssuedInFuture},

		{name: "fractional exp accepted", token: tok("exp", raw(unix(now.Add(time.Hour))+".25")), want: accepted},
		{name: "fractional exp just past the leeway rejected", token: tok("exp", raw(unix(now.Add(-31*time.Second))+".5")), want: verify.ReasonExpired},
		{name: "exp in exponent notation accepted", token: tok("exp", raw("4.1e9")), want: accepted},
		{name: "fractional nbf and iat accepted", token: tok("nbf", raw(unix(now)+".5"), "iat", raw(unix(now)+".5")), want: accepted},
		{name: "exp as a numeric string rejected", token: tok("exp", unix(now.Add(time.Hour))), want: verify.ReasonBadTime},
		{name: "exp as a boolean rejected", token: tok("exp", true), want: verify.ReasonBadTime},
		{name: "exp as null rejected", token: tok("exp", raw("null")), want: verify.ReasonBadTime},
		{name: "exp as an array rejected", token: tok("exp", []int64{at(time.Hour)}), want: verify.ReasonBadTime},
		{name: "exp as an object rejected", token: tok("exp", map[string]any{"t": at(time.Hour)}), want: verify.ReasonBadTime},
		{name: "exp too large for a float64 rejected", token: tok("exp", raw("1e400")), want: verify.ReasonBadTime},
		{name: "exp with a thousand digits rejected", token: tok("exp", raw(strings.Repeat("9", 1000))), want: verify.ReasonBadTime},
		{name: "nbf as a string rejected", token: tok("nbf", unix(now)), want: verify.ReasonBadTime},
		{name: "nbf as null rejected", token: tok("nbf", raw("null")), want: verify.ReasonBadTime},
		{name: "iat as a string rejected", token: tok("iat", unix(now)), want: verify.ReasonBadTime},
		{name: "iat as a boolean rejected", token: tok("iat", false), want: verify.ReasonBadTime},
		{name: "iat too large rejected", token: tok("iat", raw("-1e999")), want: verify.ReasonBadTime},
	}
	runCases(t, f, cases)
}

// TestVerifyRequireAndClaimRules covers require (401) and claim rules (403), and that claim rules
// come last.
func TestVerifyRequireAndClaimRules(t *testing.T) {
	f := keyFixture(t)
	tok := func(kv ...any) string { return f.rsaA.Token(t, with(claimsFor(issA), kv...), nil) }
	require := func(p *verify.Policy) { p.Require = []string{"sub", "jti"} }
	rule := func(name string, values ...string) func(*verify.Policy) {
		return func(p *verify.Policy) { p.ClaimRules = []verify.ClaimRule{{Name: name, Values: values}} }
	}
	cases := []verifyCase{
		{name: "required claims present accepted", policy: require, token: tok("jti", "t-1"), want: accepted},
		{name: "required claim missing rejected", policy: require, token: tok(), want: verify.ReasonMissingClaim},
		{name: "required claim null rejected", policy: require, token: tok("jti", json.RawMessage("null")), want: verify.ReasonMissingClaim},
		{name: "required claim empty string counts as present", policy: require, token: tok("jti", ""), want: accepted},

		{name: "string claim rule matching accepted", policy: rule("scope", "payments", "accounts"), token: tok("scope", "accounts"), want: accepted},
		{name: "string claim rule not matching rejected", policy: rule("scope", "payments"), token: tok("scope", "accounts"), want: verify.ReasonClaimRule},
		{name: "string claim rule is exact", policy: rule("scope", "payments"), token: tok("scope", "payments accounts"), want: verify.ReasonClaimRule},
		{name: "number claim rule matching accepted", policy: rule("level", "3"), token: tok("level", 3), want: accepted},
		{name: "number claim rule not matching rejected", policy: rule("level", "3"), token: tok("level", 4), want: verify.ReasonClaimRule},
		{name: "number claim rule compares the JSON text", policy: rule("level", "3"), token: tok("level", json.RawMessage("3.0")), want: verify.ReasonClaimRule},
		{name: "string claim does not match a number rule by accident", policy: rule("level", "3"), token: tok("level", "3"), want: accepted},
		{name: "bool claim rule matching accepted", policy: rule("email_verified", "true"), token: tok("email_verified", true), want: accepted},
		{name: "bool claim rule not matching rejected", policy: rule("email_verified", "true"), token: tok("email_verified", false), want: verify.ReasonClaimRule},
		{name: "array claim with one matching element accepted", policy: rule("roles", "admin"), token: tok("roles", []string{"reader", "admin"}), want: accepted},
		{name: "array claim with no matching element rejected", policy: rule("roles", "admin"), token: tok("roles", []string{"reader", "writer"}), want: verify.ReasonClaimRule},
		{name: "empty array claim rejected", policy: rule("roles", "admin"), token: tok("roles", []string{}), want: verify.ReasonClaimRule},
		{name: "nested array element does not match", policy: rule("roles", "admin"), token: tok("roles", []any{[]string{"admin"}}), want: verify.ReasonClaimRule},
		{name: "object claim never matches", policy: rule("roles", "admin"), token: tok("roles", map[string]any{"admin": true}), want: verify.ReasonClaimRule},
		{name: "missing claim fails its rule", policy: rule("scope", "payments"), token: tok(), want: verify.ReasonClaimRule},
		{name: "null claim fails its rule", policy: rule("scope", "payments"), token: tok("scope", json.RawMessage("null")), want: verify.ReasonClaimRule},
		{name: "expired token with a failing claim rule reports expired", policy: rule("scope", "payments"),
			token: tok("exp", now.Add(-time.Hour).Unix()), want: verify.ReasonExpired},
		{name: "wrong audience with a failing claim rule reports the audience", policy: rule("scope", "payments"),
			token: tok("aud", "https://other.example"), want: verify.ReasonWrongAudience},
		{name: "several claim rules all matching accepted",
			policy: func(p *verify.Policy) {
				p.ClaimRules = []verify.ClaimRule{{Name: "scope", Values: []string{"payments"}}, {Name: "roles", Values: []string{"admin"}}}
			},
			token: tok("scope", "payments", "roles", []string{"admin"}), want: accepted},
		{name: "second of several claim rules failing rejected",
			policy: func(p *verify.Policy) {
				p.ClaimRules = []verify.ClaimRule{{Name: "scope", Values: []string{"payments"}}, {Name: "roles", Values: []string{"admin"}}}
			},
			token: tok("scope", "payments", "roles", []string{"reader"}), want: verify.ReasonClaimRule},
	}
	runCases(t, f, cases)

	t.Run("accepted token's claims are returned with numbers as json.Number", func(t *testing.T) {
		v := newVerifier(t, f, nil)
		res, err := v.Verify(t.Context(), []byte(tok("level", 3)))
		checkOutcome(t, res, err, accepted)
		if n, ok := res.Claims["level"].(json.Number); !ok || n.String() != "3" {
			t.Errorf("Claims[level] = %#v, want json.Number 3", res.Claims["level"])
		}
		if res.Claims["sub"] != "alice" {
			t.Errorf("Claims[sub] = %#v, want alice", res.Claims["sub"])
		}
	})
}

// TestRejectionDescriptionsNeverEchoTheToken checks that what a client sees of a rejection is
// the fixed description, whatever the token holds.
func TestRejectionDescriptionsNeverEchoTheToken(t *testing.T) {
	f := keyFixture(t)
	marker := "SECRET-MARKER-b6f1"
	v := newVerifier(t, f, func(p *verify.Policy) { p.ClaimRules = []verify.ClaimRule{{Name: "scope", Values: []string{"x"}}} })
	for _, tok := range []string{
		f.rsaA.Token(t, with(claimsFor(issA), "scope", marker), nil),
		f.rsaA.Token(t, claimsFor(marker), nil),
		f.rsaA.Token(t, with(claimsFor(issA), "aud", marker), nil),
		f.rsaA.Token(t, claimsFor(issA), map[string]any{"kid": marker}),
		f.rsaA.Token(t, claimsFor(issA), map[string]any{"alg": marker}),
		marker + "." + marker + "." + marker,
	} {
		_, err := v.Verify(t.Context(), []byte(tok))
		var e *verify.Error
		if !errors.As(err, &e) {
			t.Fatalf("Verify() error = %v, want *verify.Error", err)
		}
		if strings.Contains(e.Description(), marker) || strings.Contains(e.Reason.Description(), marker) {
			t.Errorf("description %q echoes the token", e.Description())
		}
	}
}
