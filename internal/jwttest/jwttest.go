// Package jwttest makes keys and signs tokens for obgate's tests, including tokens that a
// correct verifier must reject (any header, any payload bytes).
package jwttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/obgate/obgate/caddyjwt/keys"
)

// Signer is a test key that signs tokens with one algorithm.
type Signer struct {
	// Alg is the JWS algorithm the signer uses, such as ES256.
	Alg string

	// KID is the kid put in headers. Default: the key's RFC 7638 thumbprint.
	KID string

	// Key is the private key: a crypto.Signer, or []byte for HMAC.
	Key any
}

// NewRSA makes an RSA signer (RS256 unless alg says otherwise, e.g. PS256).
func NewRSA(t testing.TB, bits int, alg string) *Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return newSigner(t, k, alg)
}

// NewEC makes an ECDSA signer on the curve of alg (ES256, ES384, ES512).
func NewEC(t testing.TB, alg string) *Signer {
	t.Helper()
	curve := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return newSigner(t, k, alg)
}

// NewEd25519 makes an EdDSA signer.
func NewEd25519(t testing.TB) *Signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return newSigner(t, k, "EdDSA")
}

// NewHMAC makes an HMAC signer with the given secret.
func NewHMAC(t testing.TB, secret []byte, alg string) *Signer {
	t.Helper()
	return newSigner(t, secret, alg)
}

func newSigner(t testing.TB, key any, alg string) *Signer {
	t.Helper()
	s := &Signer{Alg: alg, Key: key}
	s.KID = "test-key"
	if tp, err := keys.Thumbprint(s.Public()); err == nil { // jwx refuses weak keys
		s.KID = tp
	}
	return s
}

// Public returns the verification key: the public key, or the HMAC secret.
func (s *Signer) Public() any {
	if b, ok := s.Key.([]byte); ok {
		return b
	}
	return s.Key.(crypto.Signer).Public()
}

// Token signs claims with a header of alg, kid and typ JWT; extra header members are merged in
// (a nil value removes a member).
func (s *Signer) Token(t testing.TB, claims map[string]any, extraHeader map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": s.Alg, "kid": s.KID, "typ": "JWT"}
	for k, v := range extraHeader {
		if v == nil {
			delete(h, k)
			continue
		}
		h[k] = v
	}
	return s.SignRaw(t, mustJSON(t, h), mustJSON(t, claims))
}

// SignRaw signs exactly the given header and payload bytes (base64url-encoding both) with the
// signer's algorithm, whatever the header says.
func (s *Signer) SignRaw(t testing.TB, header, payload []byte) string {
	t.Helper()
	input := Encode(header) + "." + Encode(payload)
	sig, err := jwsbb.Sign(s.Key, s.Alg, []byte(input), rand.Reader)
	if err != nil {
		t.Fatalf("sign %s: %v", s.Alg, err)
	}
	return input + "." + Encode(sig)
}

// SignInput signs a ready signing input and returns the base64url signature.
func (s *Signer) SignInput(t testing.TB, input string) string {
	t.Helper()
	sig, err := jwsbb.Sign(s.Key, s.Alg, []byte(input), rand.Reader)
	if err != nil {
		t.Fatalf("sign %s: %v", s.Alg, err)
	}
	return Encode(sig)
}

// Claims returns a valid claim set for iss, aud and sub, issued now and expiring in an hour.
func Claims(iss, aud, sub string, now time.Time) map[string]any {
	return map[string]any{"iss": iss, "aud": aud, "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// PublicPEM writes the public key as a PKIX PEM file in dir and returns its path.
func (s *Signer) PublicPEM(t testing.TB, dir string) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "pub-*.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// PrivatePEM writes the private key as a PKCS#8 PEM file in dir and returns its path.
func (s *Signer) PrivatePEM(t testing.TB, dir string) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(s.Key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "key-*.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// CertificatePEM writes a self-signed certificate for the key in dir and returns its path.
func (s *Signer) CertificatePEM(t testing.TB, dir, commonName string) string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, s.Public(), s.Key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "cert-*.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// JWK returns the public JWK (or the oct JWK for HMAC) as a JSON object, with kid and, when
// withAlg is set, alg.
func (s *Signer) JWK(t testing.TB, withAlg bool) map[string]any {
	t.Helper()
	k, err := jwk.Import(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(mustJSON(t, k), &m); err != nil {
		t.Fatal(err)
	}
	m["kid"] = s.KID
	if withAlg {
		m["alg"] = s.Alg
	}
	return m
}

// JWKS returns a JWK Set document of the signers' public JWKs.
func JWKS(t testing.TB, signers ...*Signer) []byte {
	t.Helper()
	list := make([]map[string]any, len(signers))
	for i, s := range signers {
		list[i] = s.JWK(t, false)
	}
	return mustJSON(t, map[string]any{"keys": list})
}

// Encode is base64url without padding.
func Encode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, dir, pattern string, data []byte) string {
	t.Helper()
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(f.Name())
}
