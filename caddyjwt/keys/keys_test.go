package keys_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/internal/jwttest"
)

var rsaAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

// fixture holds the test keys; RSA keys are generated once per test binary.
type fixture struct {
	rsa, rsa2, weakRSA   *jwttest.Signer
	p256, p384, p521, ed *jwttest.Signer
	p224                 *ecdsa.PrivateKey
}

var (
	fxOnce sync.Once
	fx     *fixture
)

func keyFixture(t *testing.T) *fixture {
	t.Helper()
	fxOnce.Do(func() {
		p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		fx = &fixture{
			rsa:     jwttest.NewRSA(t, 2048, "RS256"),
			rsa2:    jwttest.NewRSA(t, 2048, "RS256"),
			weakRSA: jwttest.NewRSA(t, 1024, "RS256"),
			p256:    jwttest.NewEC(t, "ES256"),
			p384:    jwttest.NewEC(t, "ES384"),
			p521:    jwttest.NewEC(t, "ES512"),
			ed:      jwttest.NewEd25519(t),
			p224:    p224,
		}
	})
	if fx == nil {
		t.Fatal("key fixture could not be made")
	}
	return fx
}

func write(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkix(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("PUBLIC KEY", der)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jwkOf returns the signer's public JWK with the given members changed (nil removes one).
func jwkOf(t *testing.T, s *jwttest.Signer, kv ...any) map[string]any {
	t.Helper()
	m := s.JWK(t, false)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
			continue
		}
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// weakJWK returns the public JWK of the 1024-bit key, written by hand because jwx refuses to
// import a key that small.
func weakJWK(f *fixture, kid string) map[string]any {
	pub := f.weakRSA.Public().(*rsa.PublicKey)
	return map[string]any{
		"kty": "RSA", "kid": kid, "e": "AQAB",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
	}
}

// privateJWK returns a JWK with the private key material of s.
func privateJWK(t *testing.T, s *jwttest.Signer) map[string]any {
	t.Helper()
	k, err := jwk.Import(s.Key)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(mustJSON(t, k), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func jwks(t *testing.T, ks ...map[string]any) []byte {
	t.Helper()
	return mustJSON(t, map[string]any{"keys": ks})
}

func TestLoadFile(t *testing.T) {
	f := keyFixture(t)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(f.rsa.Key)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, err := x509.MarshalECPrivateKey(f.p256.Key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	secret64 := make([]byte, 64)
	for i := range secret64 {
		secret64[i] = byte(i)
	}
	oct := func(secret []byte, kv ...string) []byte {
		m := map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(secret), "kid": "hmac-1"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return mustJSON(t, m)
	}
	rsaCertPath := f.rsa.CertificatePEM(t, t.TempDir(), "issuer.example")
	rsaCert, err := os.ReadFile(rsaCertPath)
	if err != nil {
		t.Fatal(err)
	}
	weakCert, err := os.ReadFile(f.weakRSA.CertificatePEM(t, t.TempDir(), "weak.example"))
	if err != nil {
		t.Fatal(err)
	}
	tp := func(pub any) string {
		s, err := keys.Thumbprint(pub)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	type want struct {
		ids  []string
		algs []string // of the first key
		pub  any      // of the first key, when set
	}
	for _, tc := range []struct {
		name    string
		file    []byte
		kid     string
		want    *want  // nil: an error is expected
		errHas  string // in the error
		errIs   error
		noWrite bool // the file does not exist
	}{
		{name: "PKIX RSA public key loaded for RS* and PS*", file: pkix(t, f.rsa.Public()),
			want: &want{ids: []string{tp(f.rsa.Public())}, algs: rsaAlgs, pub: f.rsa.Public()}},
		{name: "PKCS#1 RSA public key loaded", file: pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(f.rsa.Public().(*rsa.PublicKey))),
			want: &want{ids: []string{tp(f.rsa.Public())}, algs: rsaAlgs, pub: f.rsa.Public()}},
		{name: "PKIX EC P-256 key loaded for ES256 only", file: pkix(t, f.p256.Public()), want: &want{ids: []string{tp(f.p256.Public())}, algs: []string{"ES256"}}},
		{name: "PKIX EC P-384 key loaded for ES384 only", file: pkix(t, f.p384.Public()), want: &want{ids: []string{tp(f.p384.Public())}, algs: []string{"ES384"}}},
		{name: "PKIX EC P-521 key loaded for ES512 only", file: pkix(t, f.p521.Public()), want: &want{ids: []string{tp(f.p521.Public())}, algs: []string{"ES512"}}},
		{name: "PKIX Ed25519 key loaded for EdDSA only", file: pkix(t, f.ed.Public()), want: &want{ids: []string{tp(f.ed.Public())}, algs: []string{"EdDSA"}, pub: f.ed.Public()}},
		{name: "X.509 certificate's RSA key loaded", file: rsaCert, want: &want{ids: []string{tp(f.rsa.Public())}, algs: rsaAlgs, pub: f.rsa.Public()}},
		{name: "several PEM blocks loaded in order", file: append(pkix(t, f.rsa.Public()), pkix(t, f.p256.Public())...),
			want: &want{ids: []string{tp(f.rsa.Public()), tp(f.p256.Public())}, algs: rsaAlgs}},
		{name: "JWK loaded with its kid", file: mustJSON(t, jwkOf(t, f.rsa, "kid", "rsa-1")), want: &want{ids: []string{"rsa-1"}, algs: rsaAlgs, pub: f.rsa.Public()}},
		{name: "JWK without kid gets its thumbprint", file: mustJSON(t, jwkOf(t, f.p256, "kid", nil)), want: &want{ids: []string{tp(f.p256.Public())}, algs: []string{"ES256"}}},
		{name: "JWK alg restricts the key", file: mustJSON(t, jwkOf(t, f.rsa, "alg", "PS256")), want: &want{ids: []string{f.rsa.KID}, algs: []string{"PS256"}}},
		{name: "JWK with use sig loaded", file: mustJSON(t, jwkOf(t, f.ed, "use", "sig")), want: &want{ids: []string{f.ed.KID}, algs: []string{"EdDSA"}}},
		{name: "JWK with key_ops verify loaded", file: mustJSON(t, jwkOf(t, f.ed, "key_ops", []string{"verify"})), want: &want{ids: []string{f.ed.KID}, algs: []string{"EdDSA"}}},
		{name: "JWKS loaded", file: jwks(t, jwkOf(t, f.rsa, "kid", "a"), jwkOf(t, f.p384, "kid", "b"), jwkOf(t, f.ed, "kid", "c")),
			want: &want{ids: []string{"a", "b", "c"}, algs: rsaAlgs}},
		{name: "oct JWK loaded for HS* (allowed in a local file)", file: oct(secret64), want: &want{ids: []string{"hmac-1"}, algs: []string{"HS256", "HS384", "HS512"}, pub: secret64}},
		{name: "oct JWK of 32 bytes loaded for HS256 only", file: oct(secret64[:32]), want: &want{ids: []string{"hmac-1"}, algs: []string{"HS256"}}},
		{name: "oct JWK with alg HS384 restricted", file: oct(secret64, "alg", "HS384"), want: &want{ids: []string{"hmac-1"}, algs: []string{"HS384"}}},
		{name: "kid given for a single-key PEM file becomes its ID", file: pkix(t, f.rsa.Public()), kid: "operator-kid", want: &want{ids: []string{"operator-kid"}, algs: rsaAlgs}},
		{name: "kid given for a single-key JWK replaces its kid", file: mustJSON(t, jwkOf(t, f.rsa, "kid", "jwk-kid")), kid: "operator-kid", want: &want{ids: []string{"operator-kid"}, algs: rsaAlgs}},
		{name: "PEM with leading text and whitespace loaded", file: append([]byte("  comment line\n"), pkix(t, f.ed.Public())...), want: &want{ids: []string{tp(f.ed.Public())}, algs: []string{"EdDSA"}}},

		{name: "PKCS#8 private key PEM refused with a message saying so", file: pemBlock("PRIVATE KEY", pkcs8), errIs: keys.ErrPrivateKey, errHas: "public key or certificate"},
		{name: "PKCS#1 private key PEM refused", file: pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(f.rsa.Key.(*rsa.PrivateKey))), errIs: keys.ErrPrivateKey, errHas: "private key"},
		{name: "EC private key PEM refused", file: pemBlock("EC PRIVATE KEY", ecPriv), errIs: keys.ErrPrivateKey, errHas: "private key"},
		{name: "public key followed by a private key refused", file: append(pkix(t, f.rsa.Public()), pemBlock("PRIVATE KEY", pkcs8)...), errIs: keys.ErrPrivateKey, errHas: "PEM block 2"},
		{name: "private RSA JWK refused", file: mustJSON(t, privateJWK(t, f.rsa)), errIs: keys.ErrPrivateKey},
		{name: "private Ed25519 JWK refused", file: mustJSON(t, privateJWK(t, f.ed)), errIs: keys.ErrPrivateKey},
		{name: "JWK with use enc refused", file: mustJSON(t, jwkOf(t, f.rsa, "use", "enc")), errHas: `use "enc"`},
		{name: "JWK with key_ops encrypt refused", file: mustJSON(t, jwkOf(t, f.rsa, "key_ops", []string{"encrypt"})), errHas: "key_ops"},
		{name: "JWK with key_ops sign only refused", file: mustJSON(t, jwkOf(t, f.ed, "key_ops", []string{"sign"})), errHas: "key_ops"},
		{name: "JWKS with one bad key refused as a whole", file: jwks(t, jwkOf(t, f.rsa), jwkOf(t, f.p256, "use", "enc")), errHas: "key 1"},
		{name: "1024-bit RSA PEM refused", file: pkix(t, f.weakRSA.Public()), errHas: "1024 bits is too small"},
		{name: "1024-bit RSA JWK refused", file: mustJSON(t, weakJWK(f, "weak")), errHas: "too small"},
		{name: "certificate of a 1024-bit RSA key refused", file: weakCert, errHas: "too small"},
		{name: "oct JWK shorter than 32 bytes refused", file: oct(secret64[:31]), errHas: "too short"},
		{name: "oct JWK with an RSA alg refused", file: oct(secret64, "alg", "RS256"), errHas: "does not fit"},
		{name: "RSA JWK with alg ES256 refused", file: mustJSON(t, jwkOf(t, f.rsa, "alg", "ES256")), errHas: "does not fit"},
		{name: "P-256 JWK with alg ES384 refused", file: mustJSON(t, jwkOf(t, f.p256, "alg", "ES384")), errHas: "does not fit"},
		{name: "EC key on the unsupported curve P-224 refused", file: pkix(t, &f.p224.PublicKey), errHas: "unsupported elliptic curve"},
		{name: "JWK on an unknown curve refused",
			file: []byte(`{"kty":"EC","crv":"P-192","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`), errHas: "JWK"},
		{name: "JWK on the secp256k1 curve refused",
			file: []byte(`{"kty":"EC","crv":"secp256k1","x":"eb5mfvncu6xVoGKVzocLBwKb_NstzijZWfKBWxb4F5g","y":"SDradyajxGVdpPv8DhEIqP0XtEimhVQZnEfQj_sQ1Lg"}`), errHas: "JWK"},
		{name: "X25519 JWK (an encryption key type) refused",
			file: []byte(`{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`), errHas: "key 0"},
		{name: "kid given for a two-key PEM file refused", file: append(pkix(t, f.rsa.Public()), pkix(t, f.p256.Public())...), kid: "k", errHas: "one key, this one has 2"},
		{name: "kid given for a two-key JWKS refused", file: jwks(t, jwkOf(t, f.rsa, "kid", "a"), jwkOf(t, f.p256, "kid", "b")), kid: "k", errHas: "one key"},
		{name: "certificate request PEM refused", file: pemBlock("CERTIFICATE REQUEST", []byte{1, 2, 3}), errHas: "unsupported PEM block type"},
		{name: "file that is neither PEM nor JSON refused", file: []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA"), errHas: "neither PEM nor JSON"},
		{name: "empty file refused", file: []byte{}, errHas: "neither PEM nor JSON"},
		{name: "PEM marker without a block refused", file: []byte("-----BEGIN PUBLIC KEY-----\nnot base64"), errHas: "no key"},
		{name: "JSON that is not a JWK refused", file: []byte(`{"hello":"world"}`), errHas: "JWK"},
		{name: "empty JWKS refused", file: []byte(`{"keys":[]}`), errHas: "no key"},
		{name: "missing file refused", noWrite: true, errIs: os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "missing.pem")
			if !tc.noWrite {
				path = write(t, "key", tc.file)
			}
			ks, err := keys.LoadFile(path, tc.kid)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("LoadFile() = %d keys, want an error", len(ks))
				}
				if tc.errIs != nil && !errors.Is(err, tc.errIs) {
					t.Errorf("LoadFile() error = %v, want errors.Is %v", err, tc.errIs)
				}
				if !strings.Contains(err.Error(), tc.errHas) {
					t.Errorf("LoadFile() error = %v, want it to mention %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadFile() error = %v", err)
			}
			var ids []string
			for _, k := range ks {
				ids = append(ids, k.ID)
				if k.Origin != path {
					t.Errorf("key %q Origin = %q, want %q", k.ID, k.Origin, path)
				}
				if want, _ := keys.Thumbprint(k.Public); k.Thumbprint != want || want == "" {
					t.Errorf("key %q Thumbprint = %q, want %q", k.ID, k.Thumbprint, want)
				}
				if len(k.Algorithms) == 0 || k.Allows("none") {
					t.Errorf("key %q Algorithms = %v", k.ID, k.Algorithms)
				}
			}
			if !slices.Equal(ids, tc.want.ids) {
				t.Errorf("LoadFile() IDs = %v, want %v", ids, tc.want.ids)
			}
			if !slices.Equal(ks[0].Algorithms, tc.want.algs) {
				t.Errorf("LoadFile() Algorithms = %v, want %v", ks[0].Algorithms, tc.want.algs)
			}
			if tc.want.pub != nil && !equalPublic(ks[0].Public, tc.want.pub) {
				t.Errorf("LoadFile() Public = %T, not the expected key", ks[0].Public)
			}
		})
	}
}

func equalPublic(a, b any) bool {
	switch a := a.(type) {
	case *rsa.PublicKey:
		return a.Equal(b)
	case *ecdsa.PublicKey:
		return a.Equal(b)
	case ed25519.PublicKey:
		return a.Equal(b)
	case []byte:
		b, ok := b.([]byte)
		return ok && string(a) == string(b)
	}
	return false
}

// TestParseJWKsSkipsWithReasons covers a remote JWKS: each unusable key is skipped with its own
// reason and the usable ones are kept; symmetric keys are never accepted from a URL.
func TestParseJWKsSkipsWithReasons(t *testing.T) {
	f := keyFixture(t)
	doc := jwks(t,
		jwkOf(t, f.rsa, "kid", "good-rsa"),
		jwkOf(t, f.rsa2, "kid", "enc-rsa", "use", "enc"),
		privateJWK(t, f.p256),
		weakJWK(f, "weak"),
		map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(make([]byte, 32)), "kid": "secret"},
		jwkOf(t, f.rsa2, "kid", "good-rsa"),
		jwkOf(t, f.ed, "kid", "sign-only", "key_ops", []string{"sign"}),
		jwkOf(t, f.p384, "kid", "bad-alg", "alg", "ES256"),
		jwkOf(t, f.ed, "kid", nil),
	)
	usable, skipped, err := keys.ParseJWKs(doc, "https://issuer.example/jwks", keys.JWKOptions{})
	if err != nil {
		t.Fatalf("ParseJWKs() error = %v", err)
	}
	var ids []string
	for _, k := range usable {
		ids = append(ids, k.ID)
		if k.Origin != "https://issuer.example/jwks" {
			t.Errorf("key %q Origin = %q", k.ID, k.Origin)
		}
	}
	edTP, _ := keys.Thumbprint(f.ed.Public())
	if want := []string{"good-rsa", edTP}; !slices.Equal(ids, want) {
		t.Errorf("ParseJWKs() usable IDs = %v, want %v", ids, want)
	}
	wantSkipped := []string{
		`key 1: key use "enc"`,
		"key 2: " + keys.ErrPrivateKey.Error(),
		"key 3: not a valid JWK", // jwx itself refuses RSA keys under 2048 bits
		"key 4: symmetric (oct) keys are only accepted from a local key file",
		`key 5: duplicate kid "good-rsa"`,
		"key 6: key_ops",
		`key 7: alg "ES256" does not fit`,
	}
	if len(skipped) != len(wantSkipped) {
		t.Fatalf("ParseJWKs() skipped %d keys: %v; want %d", len(skipped), skipped, len(wantSkipped))
	}
	for i, want := range wantSkipped {
		if !strings.Contains(skipped[i].Error(), want) {
			t.Errorf("skipped[%d] = %q, want it to contain %q", i, skipped[i], want)
		}
	}
	if !errors.Is(skipped[1], keys.ErrPrivateKey) {
		t.Errorf("skipped[1] = %v, want errors.Is ErrPrivateKey", skipped[1])
	}

	t.Run("oct keys accepted when the caller allows symmetric keys", func(t *testing.T) {
		usable, skipped, err := keys.ParseJWKs(doc, "file", keys.JWKOptions{AllowSymmetric: true})
		if err != nil || len(usable) != 3 || len(skipped) != 6 || usable[1].ID != "secret" || !usable[1].Symmetric() {
			t.Fatalf("ParseJWKs() = %v, skipped %v, err %v; want the oct key usable", usable, skipped, err)
		}
	})
	t.Run("single JWK accepted as a set of one", func(t *testing.T) {
		usable, skipped, err := keys.ParseJWKs(mustJSON(t, jwkOf(t, f.p256, "kid", "one")), "x", keys.JWKOptions{})
		if err != nil || len(skipped) != 0 || len(usable) != 1 || usable[0].ID != "one" {
			t.Fatalf("ParseJWKs() = %v, %v, %v", usable, skipped, err)
		}
	})
	for _, bad := range []string{``, `[]`, `not json`, `{"keys":"nope"}`, `{"kty":"RSA"}`} {
		t.Run("document "+strconvQuote(bad)+" is an error", func(t *testing.T) {
			if usable, _, err := keys.ParseJWKs([]byte(bad), "x", keys.JWKOptions{}); err == nil {
				t.Fatalf("ParseJWKs() = %v, want an error", usable)
			}
		})
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestThumbprintRFC7638 checks the thumbprint against RFC 7638 §3.1's example RSA key.
func TestThumbprintRFC7638(t *testing.T) {
	const (
		n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
		e = "AQAB"
		// RFC 7638 §3.1.
		want = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	)
	nb, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: 65537}
	if got, err := keys.Thumbprint(pub); err != nil || got != want {
		t.Errorf("Thumbprint() = %q, %v; want %q", got, err, want)
	}

	// The same key as the RFC's JWK (with alg and kid, which the thumbprint ignores).
	doc := `{"kty":"RSA","n":"` + n + `","e":"` + e + `","alg":"RS256","kid":"2011-04-29"}`
	ks, skipped, err := keys.ParseJWKs([]byte(doc), "rfc7638", keys.JWKOptions{})
	if err != nil || len(skipped) != 0 || len(ks) != 1 {
		t.Fatalf("ParseJWKs() = %v, %v, %v", ks, skipped, err)
	}
	if ks[0].Thumbprint != want || ks[0].ID != "2011-04-29" || !slices.Equal(ks[0].Algorithms, []string{"RS256"}) {
		t.Errorf("key = ID %q, Thumbprint %q, Algorithms %v", ks[0].ID, ks[0].Thumbprint, ks[0].Algorithms)
	}
	doc = `{"kty":"RSA","n":"` + n + `","e":"` + e + `"}`
	if ks, _, err := keys.ParseJWKs([]byte(doc), "rfc7638", keys.JWKOptions{}); err != nil || len(ks) != 1 || ks[0].ID != want {
		t.Errorf("JWK without kid: ID = %v, %v; want the thumbprint", ks, err)
	}
	if _, err := keys.Thumbprint("not a key"); err == nil {
		t.Error("Thumbprint(string) succeeded, want an error")
	}
}

func TestSetAndStatic(t *testing.T) {
	a := keys.Key{ID: "a", Algorithms: []string{"ES256"}}
	a2 := keys.Key{ID: "a", Algorithms: []string{"EdDSA"}}
	b := keys.Key{ID: "b", Algorithms: []string{"RS256"}}
	s := keys.NewSet(a, a2, b)
	if s.Len() != 2 {
		t.Fatalf("Len() = %d, want 2 (duplicate ID dropped)", s.Len())
	}
	if k, ok := s.Lookup("a"); !ok || k.Algorithms[0] != "ES256" {
		t.Errorf("Lookup(a) = %v, %v; want the first key with ID a", k, ok)
	}
	if _, ok := s.Lookup("c"); ok {
		t.Error("Lookup(c) found a key")
	}
	if ids := []string{s.Keys()[0].ID, s.Keys()[1].ID}; !slices.Equal(ids, []string{"a", "b"}) {
		t.Errorf("Keys() order = %v", ids)
	}
	var nilSet *keys.Set
	if _, ok := nilSet.Lookup("a"); ok || nilSet.Len() != 0 || nilSet.Keys() != nil {
		t.Error("nil Set is not empty")
	}
	got, err := keys.NewStatic(a, b).Keys()
	if err != nil || got.Len() != 2 {
		t.Errorf("Static.Keys() = %v, %v", got, err)
	}
}

func TestKeyTypesAndAlgorithms(t *testing.T) {
	f := keyFixture(t)
	for _, tc := range []struct {
		pub       any
		typ       string
		symmetric bool
	}{
		{f.rsa.Public(), "RSA", false},
		{f.p256.Public(), "EC", false},
		{f.ed.Public(), "OKP", false},
		{make([]byte, 32), "oct", true},
	} {
		k := keys.Key{Public: tc.pub}
		if k.Type() != tc.typ || k.Symmetric() != tc.symmetric {
			t.Errorf("Key{%T}.Type() = %q, Symmetric() = %v; want %q, %v", tc.pub, k.Type(), k.Symmetric(), tc.typ, tc.symmetric)
		}
	}
	for _, alg := range keys.Supported {
		if !keys.IsSupported(alg) {
			t.Errorf("IsSupported(%q) = false", alg)
		}
	}
	for _, alg := range []string{"none", "NONE", "", "ES256K", "RSA-OAEP", "HS1", "rs256"} {
		if keys.IsSupported(alg) {
			t.Errorf("IsSupported(%q) = true", alg)
		}
	}
}

func TestUnavailableError(t *testing.T) {
	cause := errors.New("connection refused")
	err := error(&keys.UnavailableError{Origin: "https://issuer.example/jwks", Err: cause})
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), "https://issuer.example/jwks") {
		t.Errorf("UnavailableError = %v, want it to wrap its cause and name its origin", err)
	}
}

// TestKeysWithoutKIDAreMarked: a key configured without a kid of its own (a PEM key or
// certificate without <kid>, a JWK without kid) is NoKID and known by its thumbprint; a kid given
// in config or in the JWK makes it an exact-match key. Sets list the NoKID keys apart.
func TestKeysWithoutKIDAreMarked(t *testing.T) {
	f := keyFixture(t)
	dir := t.TempDir()
	load := func(path, kid string) keys.Key {
		t.Helper()
		ks, err := keys.LoadFile(path, kid)
		if err != nil || len(ks) != 1 {
			t.Fatalf("LoadFile(%s, %q) = %v, %v", path, kid, ks, err)
		}
		return ks[0]
	}
	jwkFile := func(withKID bool) string {
		m := f.p256.JWK(t, false)
		if !withKID {
			delete(m, "kid")
		}
		b, _ := json.Marshal(m)
		p := filepath.Join(dir, "k.jwk")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pemKey := load(f.p256.PublicPEM(t, dir), "")
	for _, tc := range []struct {
		name      string
		key       keys.Key
		wantNoKID bool
		wantID    string
	}{
		{"PEM key without kid", pemKey, true, pemKey.Thumbprint},
		{"certificate without kid", load(f.p256.CertificatePEM(t, dir, "c"), ""), true, pemKey.Thumbprint},
		{"PEM key with a configured kid", load(f.p256.PublicPEM(t, dir), "ops-1"), false, "ops-1"},
		{"JWK without kid", load(jwkFile(false), ""), true, pemKey.Thumbprint},
		{"JWK with kid", load(jwkFile(true), ""), false, f.p256.KID},
		{"JWK without kid given a kid in config", load(jwkFile(false), "ops-2"), false, "ops-2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.key.NoKID != tc.wantNoKID || tc.key.ID != tc.wantID {
				t.Errorf("NoKID %v, ID %q; want NoKID %v, ID %q", tc.key.NoKID, tc.key.ID, tc.wantNoKID, tc.wantID)
			}
		})
	}
	named := load(f.p384.PublicPEM(t, dir), "ops-3")
	s := keys.NewSet(named, pemKey)
	if got := s.WithoutKID(); len(got) != 1 || got[0].ID != pemKey.ID {
		t.Errorf("WithoutKID() = %v, want only the PEM key without kid", got)
	}
	var nilSet *keys.Set
	if nilSet.WithoutKID() != nil {
		t.Error("nil Set has keys without kid")
	}
}

// loadFile loads the one key of a key file.
func loadFile(t *testing.T, name, path string) keys.Key {
	t.Helper()
	ks, err := keys.LoadFile(path, "")
	if err != nil || len(ks) != 1 {
		t.Fatalf("%s: LoadFile() = %v, %v", name, ks, err)
	}
	return ks[0]
}

// loadedEveryWay returns s's public key as loaded from a PEM public key, a certificate and a
// JWK.
func loadedEveryWay(t *testing.T, s *jwttest.Signer, dir string) map[string]keys.Key {
	t.Helper()
	jwkDoc, err := json.Marshal(s.JWK(t, true))
	if err != nil {
		t.Fatal(err)
	}
	fromJWK, _, err := keys.ParseJWKs(jwkDoc, "test", keys.JWKOptions{})
	if err != nil || len(fromJWK) != 1 {
		t.Fatalf("ParseJWKs() = %v, %v", fromJWK, err)
	}
	return map[string]keys.Key{
		"PEM public key": loadFile(t, "PEM", s.PublicPEM(t, dir)),
		"certificate":    loadFile(t, "certificate", s.CertificatePEM(t, dir, "cert")),
		"JWK":            fromJWK[0],
	}
}

// TestRSAKeysArePreparedAtLoad: every way an RSA key is loaded (PEM public key, certificate, JWK)
// prepares its modulus for the engine's fast path once, there; other keys have nothing prepared.
func TestRSAKeysArePreparedAtLoad(t *testing.T) {
	dir := t.TempDir()
	for name, k := range loadedEveryWay(t, jwttest.NewRSA(t, 2048, "RS256"), dir) {
		if p := k.PreparedRSA(); p == nil || p.Public() != k.Public {
			t.Errorf("%s: PreparedRSA() = %v, want the key prepared from its own public key", name, p)
		}
	}
	if p := loadFile(t, "EC PEM", jwttest.NewEC(t, "ES256").PublicPEM(t, dir)).PreparedRSA(); p != nil {
		t.Errorf("EC key: PreparedRSA() = %v, want nil", p)
	}
}

// TestP256KeysArePreparedAtLoad: every way a P-256 key is loaded (PEM public key, certificate,
// JWK) prepares it for the engine's ES256 fast path; other keys (P-384, RSA) are not.
func TestP256KeysArePreparedAtLoad(t *testing.T) {
	dir := t.TempDir()
	for name, k := range loadedEveryWay(t, jwttest.NewEC(t, "ES256"), dir) {
		if p := k.PreparedEC(); p == nil || p.Public() != k.Public {
			t.Errorf("%s: PreparedEC() = %v, want the key prepared from its own public key", name, p)
		}
	}
	for name, s := range map[string]*jwttest.Signer{"P-384": jwttest.NewEC(t, "ES384"), "RSA": jwttest.NewRSA(t, 2048, "RS256")} {
		if p := loadFile(t, name, s.PublicPEM(t, dir)).PreparedEC(); p != nil {
			t.Errorf("%s key: PreparedEC() = %v, want nil", name, p)
		}
	}
}
