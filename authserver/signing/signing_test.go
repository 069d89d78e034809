package signing_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/authserver/signing"
	"github.com/obgate/obgate/caddyjwt/keys"
)

// header decodes a compact JWS's protected header.
func header(t *testing.T, tok string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("header: %v", err)
	}
	return h
}

func TestMintedTokensVerifyWithThePublishedKeys(t *testing.T) {
	for _, alg := range signing.GeneratedAlgorithms {
		t.Run(alg, func(t *testing.T) {
			clock := newClock()
			m := newManager(t, newMemStorage(), clock, alg)
			if err := m.Refresh(t.Context()); err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			tok, err := m.Mint(t.Context(), "at+jwt", claimsAt(clock.Now()))
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			h := header(t, tok)
			kid, _ := m.KeyID()
			want := map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"}
			if len(h) != 3 || h["alg"] != want["alg"] || h["kid"] != want["kid"] || h["typ"] != want["typ"] {
				t.Errorf("header = %v, want exactly %v", h, want)
			}
			set, _ := m.Keys()
			k, ok := set.Lookup(kid)
			if !ok || k.Thumbprint != kid {
				t.Errorf("kid %q is not the RFC 7638 thumbprint of a published key (%+v)", kid, k)
			}
			res, err := verifierFor(t, m, clock).Verify(t.Context(), []byte(tok))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.KeyID != kid || res.Algorithm != alg || m.Algorithm() != alg {
				t.Errorf("verified with %s/%s, Algorithm() %s; want %s/%s", res.KeyID, res.Algorithm, m.Algorithm(), kid, alg)
			}
			if tampered := tok[:len(tok)-2] + flip(tok[len(tok)-2]) + tok[len(tok)-1:]; tampered != tok {
				if _, err := verifierFor(t, m, clock).Verify(t.Context(), []byte(tampered)); err == nil {
					t.Error("a token with a changed signature verified")
				}
			}
		})
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestMintRefusesTokensThatOutliveTheRetentionBound(t *testing.T) {
	clock := newClock()
	m := newManager(t, newMemStorage(), clock, "ES256")
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	for name, exp := range map[string]any{
		"no exp":                   nil,
		"exp as a string":          "1800000300",
		"exp beyond the max":       now.Add(11 * time.Minute).Unix(),
		"float exp beyond the max": float64(now.Add(11 * time.Minute).Unix()),
	} {
		t.Run(name, func(t *testing.T) {
			c := claimsAt(now)
			if exp == nil {
				delete(c, "exp")
			} else {
				c["exp"] = exp
			}
			if tok, err := m.Mint(t.Context(), "at+jwt", c); err == nil {
				t.Fatalf("Mint = %q, want an error", tok)
			}
		})
	}
	c := claimsAt(now)
	c["exp"] = json.Number("1800000600")
	if _, err := m.Mint(t.Context(), "at+jwt", c); err != nil {
		t.Errorf("exp exactly at the max lifetime refused: %v", err)
	}
}

func TestMintBeforeTheKeysAreLoadedFails(t *testing.T) {
	m := newManager(t, newMemStorage(), newClock(), "ES256")
	if _, err := m.Mint(t.Context(), "at+jwt", claimsAt(time.Now())); err == nil {
		t.Fatal("Mint before Refresh succeeded")
	}
	if _, err := m.Keys(); err == nil {
		t.Fatal("Keys before Refresh succeeded")
	}
	// Load never creates a key set: `caddy validate` must not write to the storage.
	s := newMemStorage()
	m = newManager(t, s, newClock(), "ES256")
	if err := m.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s.writes() != 0 {
		t.Errorf("Load wrote %d times to the storage", s.writes())
	}
}

func TestSameStorageSameKeys(t *testing.T) {
	s, clock := newMemStorage(), newClock()
	a := newManager(t, s, clock, "ES256")
	if err := a.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A second instance, or this one after a restart, on the same storage.
	b := newManager(t, s, clock, "ES256")
	if err := b.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	ka, _ := a.KeyID()
	kb, _ := b.KeyID()
	if ka == "" || ka != kb {
		t.Fatalf("kids %q and %q, want one shared key", ka, kb)
	}
	if s.writes() != 1 {
		t.Errorf("storage written %d times, want once (the first key)", s.writes())
	}
	tok, err := a.Mint(t.Context(), "", claimsAt(clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifierFor(t, b, clock).Verify(t.Context(), []byte(tok)); err != nil {
		t.Errorf("a token of instance a does not verify with instance b's keys: %v", err)
	}
	if _, ok := header(t, tok)["typ"]; ok {
		t.Error("empty typ was written into the header")
	}
}

func TestJWKSHasNoPrivateMember(t *testing.T) {
	for _, alg := range signing.GeneratedAlgorithms {
		t.Run(alg, func(t *testing.T) {
			clock := newClock()
			m := newManager(t, newMemStorage(), clock, alg)
			if err := m.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := m.Rotate(t.Context()); err != nil {
				t.Fatal(err)
			}
			data, err := m.JWKS()
			if err != nil {
				t.Fatal(err)
			}
			var set struct{ Keys []map[string]any }
			if err := json.Unmarshal(data, &set); err != nil {
				t.Fatal(err)
			}
			if len(set.Keys) != 2 {
				t.Fatalf("%d keys published, want 2 (current and announced)", len(set.Keys))
			}
			for _, k := range set.Keys {
				for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
					if _, ok := k[private]; ok {
						t.Errorf("published key %v has the private member %q", k["kid"], private)
					}
				}
				if k["alg"] != alg || k["use"] != "sig" || k["kid"] == "" {
					t.Errorf("published key %v: want alg %s, use sig and a kid", k, alg)
				}
			}
			if _, skipped, err := keys.ParseJWKs(data, "test", keys.JWKOptions{}); err != nil || len(skipped) > 0 {
				t.Errorf("published set does not parse as public keys: %v %v", err, skipped)
			}
		})
	}
}

func TestOperatorKey(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	sec1, _ := x509.MarshalECPrivateKey(ec)
	for _, tc := range []struct {
		name, pem, alg, wantAlg string
	}{
		{"P-256 PKCS8 defaults to ES256", string(pkcs8(ec)), "", "ES256"},
		{"P-256 SEC1 defaults to ES256", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})), "", "ES256"},
		{"P-384 defaults to ES384", string(pkcs8(p384)), "", "ES384"},
		{"RSA PKCS1 defaults to PS256", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)})), "", "PS256"},
		{"Ed25519 defaults to EdDSA", string(pkcs8(ed)), "", "EdDSA"},
		{"RSA with RS256 configured", string(pkcs8(rk)), "RS256", "RS256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			priv, err := signing.ParsePrivateKeyPEM([]byte(tc.pem))
			if err != nil {
				t.Fatalf("ParsePrivateKeyPEM: %v", err)
			}
			clock := newClock()
			m, err := signing.NewStatic(priv, signing.StaticOptions{Algorithm: tc.alg, Clock: clock.Now})
			if err != nil {
				t.Fatalf("NewStatic: %v", err)
			}
			if m.Algorithm() != tc.wantAlg {
				t.Errorf("Algorithm() = %s, want %s", m.Algorithm(), tc.wantAlg)
			}
			tok, err := m.Mint(t.Context(), "at+jwt", claimsAt(clock.Now()))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verifierFor(t, m, clock).Verify(t.Context(), []byte(tok)); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if err := m.Rotate(t.Context()); err == nil {
				t.Error("an operator key was rotated")
			}
		})
	}
	bad := map[string]string{
		"public key":       string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustPKIX(t, ec.Public())})),
		"two keys":         string(pkcs8(ec)) + string(pkcs8(ed)),
		"garbage":          "not a key",
		"encrypted":        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
		"RSA 1024":         string(pkcs8(mustRSA(t, 1024))),
		"ES256 on Ed25519": "",
	}
	for name, p := range bad {
		t.Run("rejects "+name, func(t *testing.T) {
			if name == "ES256 on Ed25519" {
				if _, err := signing.NewStatic(ed, signing.StaticOptions{Algorithm: "ES256"}); err == nil {
					t.Fatal("NewStatic accepted ES256 for an Ed25519 key")
				}
				return
			}
			priv, err := signing.ParsePrivateKeyPEM([]byte(p))
			if err == nil {
				_, err = signing.NewStatic(priv, signing.StaticOptions{})
			}
			if err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func mustPKIX(t *testing.T, pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func mustRSA(t *testing.T, bits int) *rsa.PrivateKey {
	//nolint:gosec // a weak key on purpose: it must be refused
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestOptionsMistakesNameTheField(t *testing.T) {
	for _, tc := range []struct {
		opts signing.Options
		want string
	}{
		{signing.Options{Name: "a/b"}, "name"},
		{signing.Options{Name: "x", Algorithm: "RS256"}, "algorithm"},
		{signing.Options{Name: "x", Algorithm: "none"}, "algorithm"},
		{signing.Options{Name: "x", RotateEvery: time.Minute}, "rotate_every"},
		{signing.Options{Name: "x", RSABits: 1024}, "rsa_bits"},
		{signing.Options{Name: "x", JWKSMaxAge: time.Minute, RefreshInterval: time.Second, PublishLead: time.Second}, "publish lead"},
	} {
		_, err := signing.NewManager(newMemStorage(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewManager(%+v) error = %v, want one naming %q", tc.opts, err, tc.want)
		}
	}
}

func TestDamagedStoredSetIsAnError(t *testing.T) {
	s, clock := newMemStorage(), newClock()
	m := newManager(t, s, clock, "ES256")
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	doc := s.data[signing.StorageKey("main")]
	var set map[string]any
	_ = json.Unmarshal(doc, &set)
	set["keys"].([]any)[0].(map[string]any)["kid"] = "forged"
	s.data[signing.StorageKey("main")], _ = json.Marshal(set)
	b := newManager(t, s, clock, "ES256")
	if err := b.Load(context.Background()); err == nil || !strings.Contains(err.Error(), "thumbprint") {
		t.Fatalf("Load of a set whose kid is not its key's thumbprint: %v", err)
	}
	if _, err := b.Keys(); err == nil {
		t.Error("keys from a damaged set were installed")
	}
}

// published lists the kids in the manager's JWK Set.
func published(t testing.TB, m *signing.Manager) []string {
	t.Helper()
	set, err := m.Keys()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys() {
		out = append(out, k.ID)
	}
	slices.Sort(out)
	return out
}
