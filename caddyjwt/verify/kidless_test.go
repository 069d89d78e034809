package verify_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
)

// loadFile loads a key file as the gateway does for `key <path> [<kid>]`.
func loadFile(t *testing.T, path, kid string) keys.Key {
	t.Helper()
	ks, err := keys.LoadFile(path, kid)
	if err != nil || len(ks) != 1 {
		t.Fatalf("keys.LoadFile(%s) = %v, %v; want one key", path, ks, err)
	}
	return ks[0]
}

// issuerWith is a policy trusting issuer A with exactly the given keys.
func issuerWith(ks ...keys.Key) func(*verify.Policy) {
	return func(p *verify.Policy) { p.Issuers[0].Sources = []keys.Source{keys.NewStatic(ks...)} }
}

// TestVerifyKeysWithoutKIDMatchAnyKID covers INTERFACE.md Wave 2 "Keys without a kid": a key
// configured without a kid of its own (a PEM key or certificate without <kid>, a JWK without
// kid) verifies a token whatever its kid says, when it fits the algorithm; keys with a kid are
// chosen by exact match only.
func TestVerifyKeysWithoutKIDMatchAnyKID(t *testing.T) {
	f := keyFixture(t)
	dir := t.TempDir()
	claims := claimsFor(issA)

	// Seed 004: the issuer is mapped to a certificate; its identity provider puts its own kid
	// in every token.
	idp := jwttest.NewRSA(t, 2048, "RS256")
	idp.KID = "idp-signing-key-2026"
	certKey := loadFile(t, idp.CertificatePEM(t, dir, "idp.example"), "")
	if !certKey.NoKID || certKey.ID != certKey.Thumbprint {
		t.Fatalf("certificate without <kid>: NoKID %v, ID %q, want NoKID and the thumbprint %q", certKey.NoKID, certKey.ID, certKey.Thumbprint)
	}
	pemEC := loadFile(t, f.ecA.PublicPEM(t, dir), "")
	namedEC := loadFile(t, f.ecA.PublicPEM(t, dir), "operator-kid")
	jwkNoKID := func(s *jwttest.Signer) keys.Key {
		jk := s.JWK(t, false)
		delete(jk, "kid")
		ks, _, err := keys.ParseJWKs(mustJSON(t, jk), "test", keys.JWKOptions{})
		if err != nil || len(ks) != 1 || !ks[0].NoKID {
			t.Fatalf("ParseJWKs(JWK without kid) = %+v, %v; want one key without kid", ks, err)
		}
		return ks[0]
	}(f.edA)
	other := jwttest.NewRSA(t, 2048, "RS256")
	otherKey := loadFile(t, other.PublicPEM(t, dir), "")
	underKID := func(s *jwttest.Signer, kid string) *jwttest.Signer {
		return &jwttest.Signer{Alg: s.Alg, KID: kid, Key: s.Key}
	}

	cases := []verifyCase{
		{name: "certificate without kid accepts the identity provider's own kid",
			policy: issuerWith(certKey), token: idp.Token(t, claims, nil), want: accepted,
			check: keyIs(issA, certKey.Thumbprint, "RS256")},
		{name: "certificate without kid accepts a token without kid",
			policy: issuerWith(certKey), token: idp.Token(t, claims, map[string]any{"kid": nil}), want: accepted},
		{name: "certificate without kid selected by its thumbprint",
			policy: issuerWith(certKey), token: underKID(idp, certKey.Thumbprint).Token(t, claims, nil), want: accepted,
			check: keyIs(issA, certKey.Thumbprint, "RS256")},
		{name: "PEM key without kid accepts any kid",
			policy: issuerWith(f.keyA, pemEC), token: underKID(f.ecA, "whatever").Token(t, claims, nil), want: accepted,
			check: keyIs(issA, pemEC.Thumbprint, "ES256")},
		{name: "JWK without kid accepts any kid",
			policy: issuerWith(jwkNoKID), token: underKID(f.edA, "ed-from-idp").Token(t, claims, nil), want: accepted},
		{name: "key without kid still needs a signature it verifies",
			policy: issuerWith(certKey), token: underKID(other, idp.KID).Token(t, claims, nil), want: verify.ReasonBadSignature},
		{name: "key without kid that does not fit the algorithm is not tried",
			policy: issuerWith(pemEC), token: underKID(f.rsaA, "a-rsa-1").Token(t, claims, nil), want: verify.ReasonUnknownKey},
		{name: "key with a kid is not matched by another kid",
			policy: issuerWith(f.keyA), token: underKID(f.rsaA, "a-rsa-other").Token(t, claims, nil), want: verify.ReasonUnknownKey},
		{name: "key given a kid in config is not matched by another kid",
			policy: issuerWith(namedEC), token: underKID(f.ecA, "whatever").Token(t, claims, nil), want: verify.ReasonUnknownKey},
		{name: "key given a kid in config is not matched by its thumbprint",
			policy: issuerWith(namedEC), token: underKID(f.ecA, namedEC.Thumbprint).Token(t, claims, nil), want: verify.ReasonUnknownKey},
		{name: "key given a kid in config is selected by that kid",
			policy: issuerWith(namedEC), token: underKID(f.ecA, "operator-kid").Token(t, claims, nil), want: accepted,
			check: keyIs(issA, "operator-kid", "ES256")},
		{name: "token naming a kid'd key but signed by the key without kid accepted",
			policy: issuerWith(f.keyA, certKey), token: underKID(idp, "a-rsa-1").Token(t, claims, nil), want: accepted,
			check: keyIs(issA, certKey.Thumbprint, "RS256")},
		{name: "kid'd key keeps its exact match next to keys without kid",
			policy: issuerWith(otherKey, certKey, f.keyA), token: f.rsaA.Token(t, claims, nil), want: accepted,
			check: keyIs(issA, "a-rsa-1", "RS256")},
		{name: "another issuer's key without kid never verifies",
			policy: func(p *verify.Policy) {
				p.Issuers[0].Sources = []keys.Source{keys.NewStatic(f.keyA)}
				p.Issuers[1].Sources = []keys.Source{keys.NewStatic(certKey)}
			},
			token: idp.Token(t, claims, nil), want: verify.ReasonUnknownKey},
	}
	runCases(t, f, cases)
}

// TestVerifyKeysWithoutKIDTriedAtMostFour bounds the signature checks that a token naming an
// unknown kid causes: the first four keys without kid fitting its algorithm.
func TestVerifyKeysWithoutKIDTriedAtMostFour(t *testing.T) {
	f := keyFixture(t)
	dir := t.TempDir()
	var signers []*jwttest.Signer
	var ks []keys.Key
	for range 5 {
		s := jwttest.NewEC(t, "ES256")
		s.KID = "idp-kid"
		signers = append(signers, s)
		ks = append(ks, loadFile(t, s.PublicPEM(t, dir), ""))
	}
	v := newVerifier(t, f, issuerWith(ks...))
	res, err := v.Verify(t.Context(), []byte(signers[3].Token(t, claimsFor(issA), nil)))
	checkOutcome(t, res, err, accepted)
	_, err = v.Verify(t.Context(), []byte(signers[4].Token(t, claimsFor(issA), nil)))
	checkOutcome(t, nil, err, verify.ReasonBadSignature)
	named := &jwttest.Signer{Alg: "ES256", KID: ks[4].Thumbprint, Key: signers[4].Key}
	res, err = v.Verify(t.Context(), []byte(named.Token(t, claimsFor(issA), nil)))
	checkOutcome(t, res, err, accepted)
}

// TestVerifyKeysWithoutKIDAndRefresh: a key without kid that verifies spares the JWKS cache a
// forced refresh; when none verifies, the cache still gets its one chance to learn the kid.
func TestVerifyKeysWithoutKIDAndRefresh(t *testing.T) {
	f := keyFixture(t)
	certKey := loadFile(t, f.ecA.CertificatePEM(t, t.TempDir(), "issuer-a"), "")
	idpToken := (&jwttest.Signer{Alg: "ES256", KID: "rotated-in", Key: f.ecA.Key}).Token(t, claimsFor(issA), nil)

	t.Run("key without kid verifies without a refresh", func(t *testing.T) {
		remote := &countingSource{set: keys.NewSet(f.keyA)}
		v := newVerifier(t, f, func(p *verify.Policy) {
			p.Issuers[0].Sources = []keys.Source{remote, keys.NewStatic(certKey)}
		})
		res, err := v.Verify(t.Context(), []byte(idpToken))
		checkOutcome(t, res, err, accepted)
		if remote.misses != 0 {
			t.Errorf("KeysAfterMiss called %d times, want 0: a key without kid verified", remote.misses)
		}
	})
	t.Run("refresh still learns a new kid when the keys without kid do not verify", func(t *testing.T) {
		rotated := keyOf(t, f.rsaA2)
		remote := &countingSource{set: keys.NewSet(f.keyA), afterMiss: keys.NewSet(f.keyA, rotated)}
		v := newVerifier(t, f, func(p *verify.Policy) {
			p.Issuers[0].Sources = []keys.Source{keys.NewStatic(certKey), remote}
		})
		res, err := v.Verify(t.Context(), []byte(f.rsaA2.Token(t, claimsFor(issA), nil)))
		checkOutcome(t, res, err, accepted)
		keyIs(issA, "a-rsa-2", "RS256")(t, res)
		if remote.misses != 1 {
			t.Errorf("KeysAfterMiss called %d times, want 1", remote.misses)
		}
	})
	t.Run("unavailable JWKS with an unknown kid is 503 even when a key without kid failed", func(t *testing.T) {
		remote := &countingSource{err: &keys.UnavailableError{Origin: "test", RetryAfter: time.Second, Err: errors.New("down")}}
		v := newVerifier(t, f, func(p *verify.Policy) {
			p.Issuers[0].Sources = []keys.Source{keys.NewStatic(certKey), remote}
		})
		_, err := v.Verify(t.Context(), []byte(f.attackerEC.Token(t, claimsFor(issA), nil)))
		checkOutcome(t, nil, err, verify.ReasonKeysUnavailable)
	})
}

// TestVerifiedCacheWithKeysWithoutKID: a token verified by a key without kid is remembered under
// the token's hash and the key's thumbprint, so a hit still needs that very key.
func TestVerifiedCacheWithKeysWithoutKID(t *testing.T) {
	f := keyFixture(t)
	certKey := loadFile(t, f.ecA.CertificatePEM(t, t.TempDir(), "issuer-a"), "")
	src := new(swappableSource)
	src.set.Store(keys.NewSet(certKey))
	clock := new(atomic.Pointer[time.Time])
	start := now
	clock.Store(&start)
	v := cachedVerifier(t, src, clock)
	ctx := context.Background()
	tokA := []byte((&jwttest.Signer{Alg: "ES256", KID: "idp-1", Key: f.ecA.Key}).Token(t, claimsFor(issA), nil))
	tokB := []byte((&jwttest.Signer{Alg: "ES256", KID: "idp-2", Key: f.attackerEC.Key}).Token(t, claimsFor(issA), nil))
	for i := range 2 {
		res, err := v.Verify(ctx, tokA)
		if err != nil || res.KeyID != certKey.Thumbprint {
			t.Fatalf("Verify() #%d = %+v, %v; want the certificate's thumbprint %q", i+1, res, err, certKey.Thumbprint)
		}
	}
	if _, err := v.Verify(ctx, tokB); verify.ReasonOf(err) != verify.ReasonBadSignature {
		t.Fatalf("Verify(another key's token after a hit) error = %v, want %v", err, verify.ReasonBadSignature)
	}
	src.set.Store(keys.NewSet(f.keyA)) // the certificate was replaced by a kid'd key
	if _, err := v.Verify(ctx, tokA); verify.ReasonOf(err) != verify.ReasonUnknownKey {
		t.Fatalf("Verify() after the certificate was removed: error = %v, want %v", err, verify.ReasonUnknownKey)
	}
}

// TestUnknownKIDErrorNamesTheKIDs: the cause of unknown_kid names the token's kid and the
// issuer's key IDs (thumbprints for keys without a kid), for the debug log and jwt_check.
func TestUnknownKIDErrorNamesTheKIDs(t *testing.T) {
	f := keyFixture(t)
	pemRSA := loadFile(t, f.rsaB.PublicPEM(t, t.TempDir()), "")
	v := newVerifier(t, f, issuerWith(f.keyA, f.keyEC, pemRSA))
	tok := (&jwttest.Signer{Alg: "ES256", KID: "no-such-kid", Key: f.attackerEC.Key}).Token(t, claimsFor(issA), nil)
	_, err := v.Verify(t.Context(), []byte(tok))
	checkOutcome(t, nil, err, verify.ReasonUnknownKey)
	var uk *verify.UnknownKIDError
	if !errors.As(err, &uk) {
		t.Fatalf("error %v carries no *verify.UnknownKIDError", err)
	}
	if got, want := uk.KnownKIDs(), []string{"a-rsa-1", "a-ec-1", pemRSA.Thumbprint}; !slices.Equal(got, want) {
		t.Errorf("KnownKIDs() = %q, want %q", got, want)
	}
	msg := err.Error()
	for _, want := range []string{`"no-such-kid"`, `"a-rsa-1"`, `"a-ec-1"`, fmt.Sprintf("%q", pemRSA.Thumbprint)} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %s", msg, want)
		}
	}
	if _, p, s := segments(t, tok); strings.Contains(msg, p) || strings.Contains(msg, s) {
		t.Errorf("error %q holds a part of the token", msg)
	}
}

// TestVerifyJWSKeysWithoutKID: request signatures follow the same rule; a JWS without kid still
// needs exactly one fitting key (OneKeyWithoutKID), a JWS with a kid does not.
func TestVerifyJWSKeysWithoutKID(t *testing.T) {
	f := keyFixture(t)
	dir := t.TempDir()
	second := jwttest.NewEC(t, "ES256")
	one := loadFile(t, f.ecA.PublicPEM(t, dir), "")
	two := loadFile(t, second.PublicPEM(t, dir), "")
	body := []byte(`{"amount":"10.00"}`)
	sign := func(kid any) []byte {
		h := map[string]any{"alg": "ES256"}
		if kid != nil {
			h["kid"] = kid
		}
		return []byte(f.ecA.SignRaw(t, mustJSON(t, h), body))
	}
	opts := verify.JWSOptions{Issuer: issA, Body: body, Detached: true, OneKeyWithoutKID: true}
	for _, tc := range []struct {
		name string
		ks   []keys.Key
		tok  []byte
		want verify.Reason
	}{
		{"signer's own kid accepted by the PEM key without kid", []keys.Key{one}, sign("tpp-signing-1"), accepted},
		{"signer's own kid accepted among two keys without kid", []keys.Key{two, one}, sign("tpp-signing-1"), accepted},
		{"no kid and one fitting key accepted", []keys.Key{one}, sign(nil), accepted},
		{"no kid and two fitting keys still refused", []keys.Key{two, one}, sign(nil), verify.ReasonNoMatchingKey},
		{"another kid is not matched by a kid'd key", []keys.Key{f.keyEC}, sign("tpp-signing-1"), verify.ReasonUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, f, issuerWith(tc.ks...))
			res, err := v.VerifyJWS(t.Context(), tc.tok, opts)
			if tc.want == accepted {
				if err != nil || res.KeyID != one.Thumbprint {
					t.Fatalf("VerifyJWS() = %+v, %v; want accepted by %s", res, err, one.Thumbprint)
				}
				return
			}
			if verify.ReasonOf(err) != tc.want {
				t.Fatalf("VerifyJWS() error = %v, want %v", err, tc.want)
			}
		})
	}
}
