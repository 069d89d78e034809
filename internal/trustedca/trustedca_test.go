package trustedca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/trustedca"
)

// caPEM writes a self-signed CA certificate named cn into dir and returns the file and the cert.
func caPEM(t *testing.T, dir, cn string) (string, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return writeFile(t, dir, cn+".pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))), cert
}

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadNoPathsIsTheSystemRoots: no files is the zero Set, which callers read as the system
// roots.
func TestLoadNoPathsIsTheSystemRoots(t *testing.T) {
	set, err := trustedca.Load("trusted_ca", nil)
	if err != nil || set.Pool != nil || set.Digest != "" {
		t.Fatalf("Load(nil) = %+v, %v; want the zero Set", set, err)
	}
}

// TestLoadTrustsExactlyTheFiles: the pool verifies a certificate of a loaded CA and not one of
// another; the digest is the same for the same files and differs for others.
func TestLoadTrustsExactlyTheFiles(t *testing.T) {
	dir := t.TempDir()
	a, certA := caPEM(t, dir, "ca-a")
	b, certB := caPEM(t, dir, "ca-b")
	_, certC := caPEM(t, dir, "ca-c")
	set, err := trustedca.Load("trusted_ca", []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*x509.Certificate{certA, certB} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: set.Pool}); err != nil {
			t.Errorf("%s does not verify against the loaded set: %v", c.Subject.CommonName, err)
		}
	}
	if _, err := certC.Verify(x509.VerifyOptions{Roots: set.Pool}); err == nil {
		t.Error("a CA that was not loaded verifies against the set")
	}
	again, _ := trustedca.Load("trusted_ca", []string{a, b})
	onlyA, _ := trustedca.Load("trusted_ca", []string{a})
	if again.Digest != set.Digest || onlyA.Digest == set.Digest || set.Digest == "" {
		t.Errorf("digests: %q, again %q, only a %q; want equal for the same files, different otherwise", set.Digest, again.Digest, onlyA.Digest)
	}
}

// TestLoadErrorsNameTheFieldAndTheFile: every bad file fails, naming the field and the path.
func TestLoadErrorsNameTheFieldAndTheFile(t *testing.T) {
	dir := t.TempDir()
	good, _ := caPEM(t, dir, "good")
	for name, tc := range map[string]struct {
		path, want string
	}{
		"missing":    {filepath.Join(dir, "missing.pem"), "no such file"},
		"not PEM":    {writeFile(t, dir, "text.pem", "hello"), "no PEM certificate"},
		"a key":      {writeFile(t, dir, "key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), `"PRIVATE KEY" is not a CERTIFICATE`},
		"bad DER":    {writeFile(t, dir, "bad.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "x509"},
		"empty":      {writeFile(t, dir, "empty.pem", ""), "no PEM certificate"},
		"after good": {writeFile(t, dir, "mixed.pem", mustRead(t, good)+"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), "not a CERTIFICATE"},
	} {
		_, err := trustedca.Load("my_field", []string{good, tc.path})
		if err == nil {
			t.Errorf("%s: Load succeeded", name)
			continue
		}
		for _, w := range []string{"my_field", tc.path, tc.want} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", name, err, w)
			}
		}
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
