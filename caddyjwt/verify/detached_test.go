package verify_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
)

// detachedToken signs body as a detached payload (RFC 7515 Appendix F), base64url-encoded in
// the signing input or, with encoded false, as it is (RFC 7797 b64=false, listed in crit).
func detachedToken(t testing.TB, s *jwttest.Signer, body []byte, encoded bool) string {
	t.Helper()
	h := map[string]any{"alg": s.Alg, "kid": s.KID}
	if !encoded {
		h["b64"], h["crit"] = false, []string{"b64"}
	}
	headerSeg := jwttest.Encode(mustJSON(t, h))
	payload := string(body)
	if encoded {
		payload = jwttest.Encode(body)
	}
	return headerSeg + ".." + s.SignInput(t, headerSeg+"."+payload)
}

// The detached signing input is streamed into the hash rather than built: every algorithm,
// both payload encodings and bodies from empty to larger than one base64 chunk must verify, and
// one changed byte must not.
func TestVerifyJWSDetachedBodyEveryAlgorithm(t *testing.T) {
	f := keyFixture(t)
	es512 := jwttest.NewEC(t, "ES512")
	hs512 := jwttest.NewHMAC(t, bytes.Repeat([]byte("k"), 64), "HS512")
	signers := []*jwttest.Signer{f.rsaA, f.psA, f.ecA, f.ec384, es512, f.edA, f.hmacH, hs512}
	var ks []keys.Key
	for _, s := range signers {
		if s != f.psA { // the same key as rsaA
			ks = append(ks, keyOf(t, s))
		}
	}
	v, err := verify.New(verify.Policy{
		Issuers: []verify.Issuer{{Name: "signer", Sources: []keys.Source{keys.NewStatic(ks...)}}},
		Clock:   fixedClock,
	})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 64<<10+1)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{"empty": {}, "one byte": []byte("x"), "json": []byte(`{"amount": "2.00"}`), "64KiB+1": big}
	for _, s := range signers {
		for name, body := range bodies {
			for _, encoded := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s %s b64=%v", s.Alg, name, encoded), func(t *testing.T) {
					tok := []byte(detachedToken(t, s, body, encoded))
					o := verify.JWSOptions{Body: body, Detached: true, Understood: []string{"b64"}}
					res, err := v.VerifyJWS(context.Background(), tok, o)
					if err != nil {
						t.Fatalf("VerifyJWS() error = %v, want the signature to verify", err)
					}
					if !bytes.Equal(res.Payload, body) || res.Algorithm != s.Alg {
						t.Errorf("VerifyJWS() payload %d bytes, alg %s; want the body and %s", len(res.Payload), res.Algorithm, s.Alg)
					}
					o.Body = append(bytes.Clone(body), ' ')
					if _, err := v.VerifyJWS(context.Background(), tok, o); verify.ReasonOf(err) != verify.ReasonBadSignature {
						t.Errorf("VerifyJWS() with one more body byte: error = %v, want %v", err, verify.ReasonBadSignature)
					}
				})
			}
		}
	}
}

// A compact JWS whose payload segment carries the body must carry exactly the body's canonical
// encoding: compared chunk by chunk, across the chunk boundary too.
func TestVerifyJWSCompactPayloadMustEncodeTheBody(t *testing.T) {
	f := keyFixture(t)
	v := newVerifier(t, f, nil)
	body := bytes.Repeat([]byte("0123456789"), 700) // 7000 bytes: three chunks
	headerSeg := jwttest.Encode(mustJSON(t, map[string]any{"alg": f.ecA.Alg, "kid": f.ecA.KID}))
	sign := func(payloadSeg string) []byte {
		return []byte(headerSeg + "." + payloadSeg + "." + f.ecA.SignInput(t, headerSeg+"."+payloadSeg))
	}
	o := verify.JWSOptions{Issuer: issA, Body: body, Detached: true}
	if _, err := v.VerifyJWS(context.Background(), sign(jwttest.Encode(body)), o); err != nil {
		t.Fatalf("compact JWS of the body: error = %v, want it accepted", err)
	}
	for name, other := range map[string][]byte{
		"a byte changed in the last chunk":   append(bytes.Clone(body[:6999]), 'x'),
		"a byte changed in the first chunk":  append([]byte("x"), body[1:]...),
		"a byte changed at a chunk boundary": append(append(bytes.Clone(body[:3072]), 'x'), body[3073:]...),
		"one byte shorter":                   body[:6999],
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.VerifyJWS(context.Background(), sign(jwttest.Encode(other)), o)
			var e *verify.Error
			if !errors.As(err, &e) || e.Reason != verify.ReasonBindingMismatch || e.Detail != "body" {
				t.Fatalf("VerifyJWS() error = %v, want %v naming the body", err, verify.ReasonBindingMismatch)
			}
		})
	}
}

// INTERFACE.md (request_signature): a JWS without kid is accepted only when exactly one
// configured key fits its algorithm. Bearer-style verification keeps trying the fitting keys.
func TestVerifyJWSWithoutKIDNeedsExactlyOneFittingKey(t *testing.T) {
	f := keyFixture(t)
	body := []byte(`{"amount":"1.00"}`)
	noKID := func(s *jwttest.Signer) []byte {
		headerSeg := jwttest.Encode(mustJSON(t, map[string]any{"alg": s.Alg}))
		return []byte(headerSeg + ".." + s.SignInput(t, headerSeg+"."+jwttest.Encode(body)))
	}
	verifier := func(ks ...keys.Key) *verify.Verifier {
		v, err := verify.New(verify.Policy{Issuers: []verify.Issuer{{Name: "tpp", Sources: []keys.Source{keys.NewStatic(ks...)}}}, Clock: fixedClock})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	other := keyOf(t, f.attackerEC)
	for _, tc := range []struct {
		name    string
		v       *verify.Verifier
		strict  bool
		want    verify.Reason
		wantKID string
	}{
		{"one fitting key accepted", verifier(f.keyEC, f.keyA), true, accepted, f.keyEC.ID},
		{"two fitting keys refused", verifier(f.keyEC, other), true, verify.ReasonNoMatchingKey, ""},
		{"two fitting keys tried without the rule", verifier(other, f.keyEC), false, accepted, f.keyEC.ID},
		{"no fitting key refused", verifier(f.keyA), true, verify.ReasonNoMatchingKey, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := verify.JWSOptions{Body: body, Detached: true, OneKeyWithoutKID: tc.strict}
			res, err := tc.v.VerifyJWS(context.Background(), noKID(f.ecA), o)
			if tc.want == accepted {
				if err != nil || res.KeyID != tc.wantKID {
					t.Fatalf("VerifyJWS() = %v, %v; want accepted with kid %s", res, err, tc.wantKID)
				}
				return
			}
			if verify.ReasonOf(err) != tc.want {
				t.Fatalf("VerifyJWS() error = %v, want %v", err, tc.want)
			}
		})
	}
}
