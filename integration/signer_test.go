package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obgate/obgate/authserver/signing"
	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/internal/jwttest"
)

// signerSite is a gateway with one generated signer whose keys live in dir, its JWK Set at
// /jwks.json.
func signerSite(t *testing.T, dir, signerBlock string) *gateway {
	t.Helper()
	return startGateway(t, fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s
	log {
		level ERROR
	}
	jwt_signer main %s
}

http://127.0.0.1:{PORT} {
	handle /jwks.json {
		jwt_jwks main
	}
	respond "ok"
}
`, dir, signerBlock))
}

// jwkSet decodes a JWK Set answer.
func jwkSet(t *testing.T, res response) []map[string]any {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(res.Body), &set); err != nil {
		t.Fatalf("JWK Set: %v: %q", err, res.Body)
	}
	return set.Keys
}

// TestJWTJWKSServesThePublicKeysOnly checks the jwt_jwks answer: the JWK Set media type, a public
// cache lifetime that is the signer's jwks_max_age, no private member, 405 for other methods.
func TestJWTJWKSServesThePublicKeysOnly(t *testing.T) {
	for _, alg := range []string{"ES256", "PS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			g := signerSite(t, t.TempDir(), "{\n\t\talgorithm "+alg+"\n\t\tjwks_max_age 2m\n\t}")
			res := g.do("GET", "/jwks.json", nil)
			if res.Status != http.StatusOK {
				t.Fatalf("GET: %d %s", res.Status, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/jwk-set+json" {
				t.Errorf("Content-Type = %q, want application/jwk-set+json", ct)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=120" {
				t.Errorf("Cache-Control = %q, want public, max-age=120", cc)
			}
			set := jwkSet(t, res)
			if len(set) != 1 {
				t.Fatalf("%d keys, want 1", len(set))
			}
			for _, member := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
				if _, ok := set[0][member]; ok {
					t.Errorf("the published key has the private member %q", member)
				}
			}
			if set[0]["alg"] != alg || set[0]["kid"] == nil {
				t.Errorf("published key %v, want alg %s and a kid", set[0], alg)
			}
			for _, method := range []string{"POST", "PUT", "DELETE"} {
				res := g.do(method, "/jwks.json", nil)
				if res.Status != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
					t.Errorf("%s: %d Allow %q, want 405 with Allow: GET, HEAD", method, res.Status, res.Header.Get("Allow"))
				}
			}
		})
	}
}

// TestSignerKeysSurviveARestart starts a gateway twice on one storage: the second run publishes
// the same key (same kid), read from the storage, not a new one.
func TestSignerKeysSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	g := signerSite(t, dir, "")
	first := jwkSet(t, g.do("GET", "/jwks.json", nil))
	stopCaddy(t)
	if _, err := os.Stat(filepath.Join(dir, signing.StorageKey("main"))); err != nil {
		t.Fatalf("the key set is not in the configured storage: %v", err)
	}
	g = signerSite(t, dir, "")
	second := jwkSet(t, g.do("GET", "/jwks.json", nil))
	if len(first) != 1 || len(second) != 1 || first[0]["kid"] != second[0]["kid"] {
		t.Fatalf("kids before and after the restart: %v / %v, want the same one key", first, second)
	}
}

// TestSignerValidateWritesNothing: `caddy validate` provisions the signer but must not create keys.
func TestSignerValidateWritesNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := fmt.Sprintf("{\n\tstorage file_system %s\n\tjwt_signer main\n}\n\nhttp://127.0.0.1:9 {\n\tjwt_jwks main\n}\n", dir)
	if err := validateCaddyfile(t, cfg); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, signing.StorageKey("main"))); err == nil {
		t.Fatal("caddy validate created signing keys")
	}
	err := validateCaddyfile(t, "http://127.0.0.1:9 {\n\tjwt_jwks nosuch\n}\n")
	if err == nil {
		t.Fatal("jwt_jwks naming an unknown signer validated")
	}
}

// TestSignerOperatorKey serves an operator-provided key: its thumbprint is the kid, its type picks
// the algorithm, nothing is written to the storage, and a key file replaced before a config
// reload is the one published after it.
func TestSignerOperatorKey(t *testing.T) {
	dir, keyDir := t.TempDir(), t.TempDir()
	keyPath := jwttest.NewRSA(t, 2048, "PS256").PrivatePEM(t, keyDir)
	g := signerSite(t, dir, "{\n\t\tkey "+keyPath+"\n\t}")
	set := jwkSet(t, g.do("GET", "/jwks.json", nil))
	if len(set) != 1 || set[0]["alg"] != "PS256" || set[0]["kty"] != "RSA" {
		t.Fatalf("published %v, want the one RSA key with alg PS256", set)
	}
	pub, _, err := keys.ParseJWKs([]byte(g.do("GET", "/jwks.json", nil).Body), "test", keys.JWKOptions{})
	if err != nil || len(pub) != 1 || pub[0].ID != pub[0].Thumbprint {
		t.Fatalf("kid is not the RFC 7638 thumbprint: %+v %v", pub, err)
	}
	if _, err := os.Stat(filepath.Join(dir, signing.StorageKey("main"))); err == nil {
		t.Error("an operator key was written to the storage")
	}
	// A config reload (the running config is replaced, not stopped first) reads the file again.
	replacement := readFile(t, jwttest.NewEC(t, "ES256").PrivatePEM(t, keyDir))
	if err := os.WriteFile(keyPath, replacement, 0o600); err != nil { // same path, a new key
		t.Fatal(err)
	}
	g = signerSite(t, dir, "{\n\t\tkey "+keyPath+"\n\t}")
	if set := jwkSet(t, g.do("GET", "/jwks.json", nil)); len(set) != 1 || set[0]["alg"] != "ES256" {
		t.Fatalf("after the key changed: %v, want the new ES256 key", set)
	}
}

// TestSignerConfigErrorsFailValidation: mistakes in a jwt_signer fail `caddy validate`, naming the
// signer and the field.
func TestSignerConfigErrorsFailValidation(t *testing.T) {
	dir := t.TempDir()
	pubKey := jwttest.NewEC(t, "ES256").PublicPEM(t, dir)
	for _, tc := range []struct{ block, want string }{
		{"algorithm RS256", `jwt_signer "main": algorithm "RS256"`},
		{"algorithm none", `jwt_signer "main": algorithm "none"`},
		{"rotate_every 1m", `jwt_signer "main": rotate_every`},
		{"rsa_bits 1024", `jwt_signer "main": rsa_bits`},
		{"key " + pubKey, `jwt_signer "main": key`},
		{"key /nonexistent.pem", `jwt_signer "main": key`},
		{"key " + pubKey + "\n\t\trotate_every 24h", `jwt_signer "main": key: rotate_every`},
	} {
		t.Run(tc.block, func(t *testing.T) {
			cfg := fmt.Sprintf("{\n\tstorage file_system %s\n\tjwt_signer main {\n\t\t%s\n\t}\n}\n\nhttp://127.0.0.1:9 {\n\tjwt_jwks main\n}\n", dir, tc.block)
			err := validateCaddyfile(t, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("validate error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
