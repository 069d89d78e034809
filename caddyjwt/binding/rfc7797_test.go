package binding

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
)

// rfc7515A1Key is the HMAC key of RFC 7515 Appendix A.1, which RFC 7797 §4 uses.
const rfc7515A1Key = `{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}`

// The JWS of RFC 7797 §4.1 (b64 absent) and §4.2 (b64=false, detached) over the payload "$.02".
const (
	rfc7797Sec41 = "eyJhbGciOiJIUzI1NiJ9.JC4wMg.5mvfOroL-g7HyqJoozehmsaqmvTYGEq5jTI1gVvoEoQ"
	rfc7797Sec42 = "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19..A5dxf2s96_n5FLueVuW1Z_vh161FwXZC4YLPff6dmDY"
)

func rfc7797Binder(t *testing.T) *Binder {
	t.Helper()
	ks, skipped, err := keys.ParseJWKs([]byte(rfc7515A1Key), "RFC 7515 A.1", keys.JWKOptions{AllowSymmetric: true})
	if err != nil || len(skipped) > 0 || len(ks) != 1 {
		t.Fatalf("ParseJWKs() = %v, %v, %v", ks, skipped, err)
	}
	v, err := verify.New(verify.Policy{Issuers: []verify.Issuer{{Name: "rfc", Sources: []keys.Source{keys.NewStatic(ks...)}, Algorithms: []string{"HS256"}}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(v, Config{Profile: ProfileDetached})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRFC7797KnownAnswersRecomputed computes the two JWS of RFC 7797 §4 from the RFC's key,
// header and payload, so that the constants above are checked rather than trusted.
func TestRFC7797KnownAnswersRecomputed(t *testing.T) {
	key, err := base64.RawURLEncoding.DecodeString("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	mac := func(input string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(input))
		return enc(m.Sum(nil))
	}
	h41 := enc([]byte(`{"alg":"HS256"}`))
	if got := h41 + "." + enc([]byte("$.02")) + "." + mac(h41+"."+enc([]byte("$.02"))); got != rfc7797Sec41 {
		t.Errorf("§4.1 computed %s, want %s", got, rfc7797Sec41)
	}
	h42 := enc([]byte(`{"alg":"HS256","b64":false,"crit":["b64"]}`))
	if got := h42 + ".." + mac(h42+".$.02"); got != rfc7797Sec42 {
		t.Errorf("§4.2 computed %s, want %s", got, rfc7797Sec42)
	}
}

func TestRFC7797KnownAnswers(t *testing.T) {
	b := rfc7797Binder(t)
	req := &Request{Method: "POST", Scheme: "https", Host: "x", RawPath: "/", Body: []byte("$.02")}
	for _, tc := range []struct {
		name  string
		token string
	}{
		{"§4.1 b64 absent, compact", rfc7797Sec41},
		{"§4.1 b64 absent, detached", "eyJhbGciOiJIUzI1NiJ9..5mvfOroL-g7HyqJoozehmsaqmvTYGEq5jTI1gVvoEoQ"},
		{"§4.2 b64=false, detached", rfc7797Sec42},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := b.Verify(context.Background(), []byte(tc.token), req)
			if err != nil {
				t.Fatalf("Verify() = %v, want success", err)
			}
			if string(res.Payload) != "$.02" || res.Algorithm != "HS256" {
				t.Errorf("Verify() = payload %q alg %s, want $.02 HS256", res.Payload, res.Algorithm)
			}
		})
	}
}

func TestRFC7797MustReject(t *testing.T) {
	b := rfc7797Binder(t)
	req := &Request{Method: "POST", Scheme: "https", Host: "x", RawPath: "/", Body: []byte("$.02")}
	enc := base64.RawURLEncoding.EncodeToString
	sig42 := rfc7797Sec42[len(rfc7797Sec42)-43:]
	for _, tc := range []struct {
		name   string
		token  string
		body   string
		reason verify.Reason
	}{
		// RFC 7797 §6: b64=false must be understood by every recipient, so crit must list it.
		{"b64=false without crit", enc([]byte(`{"alg":"HS256","b64":false}`)) + ".." + sig42, "$.02", verify.ReasonBadHeader},
		{"§4.2 signature under another body", rfc7797Sec42, "$.03", verify.ReasonBadSignature},
		{"§4.1 signature with the payload inline but another body", rfc7797Sec41, "$.03", verify.ReasonBindingMismatch},
		{"b64=false with the payload inline", enc([]byte(`{"alg":"HS256","b64":false,"crit":["b64"]}`)) + ".JC4wMg." + sig42, "$.02", verify.ReasonMalformed},
		{"b64 not a boolean", enc([]byte(`{"alg":"HS256","b64":"false","crit":["b64"]}`)) + ".." + sig42, "$.02", verify.ReasonBadHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := *req
			r.Body = []byte(tc.body)
			_, err := b.Verify(context.Background(), []byte(tc.token), &r)
			wantReason(t, err, tc.reason, "")
		})
	}
}
