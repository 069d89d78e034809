package caddyjwt

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
)

// The token `caddy jwt mint` prints verifies against the public key with the default kid.
func TestMintedTokenVerifies(t *testing.T) {
	dir := t.TempDir()
	for _, s := range []*jwttest.Signer{jwttest.NewEC(t, "ES256"), jwttest.NewRSA(t, 2048, "RS256"), jwttest.NewEd25519(t)} {
		t.Run(s.Alg, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			tok, err := mint(mintOptions{
				keyPath: s.PrivatePEM(t, dir), iss: "https://issuer.demo", sub: "alice",
				aud: []string{"demo-api"}, ttl: time.Hour, claims: []string{"roles=[\"a\",\"b\"]", "tier=gold"},
			}, now)
			if err != nil {
				t.Fatal(err)
			}
			ks, err := keys.LoadFile(s.PublicPEM(t, dir), "")
			if err != nil {
				t.Fatal(err)
			}
			v, err := verify.New(verify.Policy{
				Issuers:  []verify.Issuer{{Name: "https://issuer.demo", Sources: []keys.Source{keys.NewStatic(ks...)}}},
				Audience: []string{"demo-api"},
				Clock:    func() time.Time { return now.Add(time.Minute) },
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(context.Background(), []byte(tok))
			if err != nil {
				t.Fatalf("minted token does not verify: %v", err)
			}
			if res.Claims["sub"] != "alice" || res.Claims["tier"] != "gold" || res.KeyID != ks[0].ID || res.Algorithm != s.Alg {
				t.Errorf("claims %v, kid %q, alg %q", res.Claims, res.KeyID, res.Algorithm)
			}
			if roles, _ := res.Claims["roles"].([]any); len(roles) != 2 {
				t.Errorf("roles = %v, want a JSON array of two", res.Claims["roles"])
			}
		})
	}
}

func TestMintRefusesPublicKeyFile(t *testing.T) {
	s := jwttest.NewEC(t, "ES256")
	_, err := mint(mintOptions{keyPath: s.PublicPEM(t, t.TempDir()), iss: "x", ttl: time.Hour}, time.Now())
	if err == nil {
		t.Fatal("mint with a public key succeeded, want an error")
	}
}

// A PEM file with a private key that cannot sign (X25519, PKCS#8) is an error, not a crash.
func TestMintRefusesKeyThatCannotSign(t *testing.T) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x25519.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("mint with an X25519 key panicked: %v", v)
		}
	}()
	if _, err := mint(mintOptions{keyPath: path, iss: "x", ttl: time.Hour}, time.Now()); err == nil {
		t.Fatal("mint with an X25519 key succeeded, want an error")
	}
}
