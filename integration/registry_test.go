package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/obgate/obgate/internal/jwttest"
)

// registrySite serves the key registry API, the check endpoint, a jwt_auth and a
// request_signature that both take their keys from counterparty bank-a, all with file storage in dir.
func registrySite(t *testing.T, dir string, be *backend) *gateway {
	t.Helper()
	return startGateway(t, fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s
	log {
		level ERROR
	}
}
http://:{PORT} {
	bind 127.0.0.1
	handle_path /_registry/* {
		jwt_keys {
			max_body 16KiB
		}
	}
	handle /_check/auth {
		jwt_check api
	}
	handle /_check/sig {
		jwt_check {
			policy sig
		}
	}
	handle /_check/none {
		jwt_check nope
	}
	handle /api/* {
		jwt_auth {
			issuer https://bank-a.example {
				registry bank-a
			}
			audience api
			name api
		}
		reverse_proxy %[2]s
	}
	handle /signed/* {
		request_signature {
			registry bank-a
			profile tokenio
			replay
			name sig
		}
		reverse_proxy %[2]s
	}
}
`, dir, be.Addr()))
}

func jsonBody(t *testing.T, v any) *bytes.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

func decode(t *testing.T, res response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(res.Body), &m); err != nil {
		t.Fatalf("body is not JSON: %v: %q", err, res.Body)
	}
	return m
}

func TestRegistryRegisterUseDeleteRestart(t *testing.T) {
	dir := t.TempDir()
	be := newBackend(t)
	g := registrySite(t, dir, be)
	s := jwttest.NewEC(t, "ES256")
	s.KID = "bank-a-2024"
	tok := s.Token(t, jwttest.Claims("https://bank-a.example", "api", "teller-1", time.Now()), nil)
	api := func() int { return g.do("GET", "/api/accounts", nil, bearer(tok)...).Status }

	if res := g.do("GET", "/_registry/", nil); res.Status != 200 || !strings.Contains(res.Body, `"counterparties":[]`) {
		t.Fatalf("empty registry: %d %s", res.Status, res.Body)
	}
	if st := api(); st != 401 {
		t.Fatalf("before registration: status %d, want 401", st)
	}
	res := g.do("POST", "/_registry/bank-a/keys", jsonBody(t, s.JWK(t, false)), "Content-Type", "application/json")
	if res.Status != 201 || decode(t, res)["kid"] != s.KID {
		t.Fatalf("register: %d %s, want 201 with kid %s", res.Status, res.Body, s.KID)
	}
	// Used at once, without a config reload.
	if st := api(); st != 200 {
		t.Fatalf("after registration: status %d, want 200", st)
	}
	sig := rsSign(t, s, tokenioHeader(s, "POST", bankHost, "/signed/pay"), []byte("{}"), true)
	if res := g.do("POST", "/signed/pay", strings.NewReader("{}"), append([]string{"Host", bankHost}, bearer(sig)...)...); res.Status != 200 {
		t.Fatalf("request_signature with a registered key: %d %s", res.Status, res.Body)
	}
	if res := g.do("GET", "/_registry/bank-a/keys", nil); res.Status != 200 || !strings.Contains(res.Body, s.KID) {
		t.Fatalf("list: %d %s", res.Status, res.Body)
	}
	if res := g.do("GET", "/_registry/bank-a/keys/"+s.KID, nil); res.Status != 200 || decode(t, res)["kty"] != "EC" {
		t.Fatalf("get: %d %s", res.Status, res.Body)
	}
	if res := g.do("POST", "/_registry/bank-a/keys", jsonBody(t, s.JWK(t, false))); res.Status != 409 {
		t.Fatalf("second registration of a kid: %d, want 409", res.Status)
	}
	// A PEM key without kid is known by its RFC 7638 thumbprint.
	other := jwttest.NewRSA(t, 2048, "PS256")
	pemPath := other.PublicPEM(t, t.TempDir())
	pemData := readFile(t, pemPath)
	res = g.do("POST", "/_registry/bank-b/keys", bytes.NewReader(pemData), "Content-Type", "application/x-pem-file")
	if res.Status != 201 || decode(t, res)["kid"] != other.KID {
		t.Fatalf("PEM registration: %d %s, want kid = thumbprint %s", res.Status, res.Body, other.KID)
	}

	// Restart: the keys come back from storage.
	stopCaddy(t)
	g = registrySite(t, dir, be)
	if st := api(); st != 200 {
		t.Fatalf("after restart: status %d, want 200", st)
	}
	// The jwt_auth keeps the default verified_cache: the token above is remembered, and the
	// remembered verdict ends with the key.
	if res := g.do("DELETE", "/_registry/bank-a/keys/"+s.KID, nil); res.Status != 204 {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	if st := api(); st != 401 {
		t.Fatalf("after delete: status %d, want 401", st)
	}
	if res := g.do("DELETE", "/_registry/bank-a/keys/"+s.KID, nil); res.Status != 404 {
		t.Fatalf("second delete: %d, want 404", res.Status)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRegistryRefusesBadKeysAndRoutes(t *testing.T) {
	g := registrySite(t, t.TempDir(), newBackend(t))
	ec := jwttest.NewEC(t, "ES256")
	private, err := jwk.Import(ec.Key)
	if err != nil {
		t.Fatal(err)
	}
	privateJSON, _ := json.Marshal(private)
	weak := jwttest.NewRSA(t, 1024, "RS256")
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"private JWK", privateJSON},
		{"private PEM", readFile(t, ec.PrivatePEM(t, t.TempDir()))},
		{"symmetric JWK", []byte(`{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}`)},
		{"RSA under 2048 bits", readFile(t, weak.PublicPEM(t, t.TempDir()))},
		{"unknown curve", []byte(`{"kty":"EC","crv":"P-192","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAC"}`)},
		{"JWK Set", jwttest.JWKS(t, ec)},
		{"neither JWK nor PEM", []byte("hello")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := g.do("POST", "/_registry/bank-a/keys", bytes.NewReader(tc.body))
			m := res.JSON(t)
			if res.Status != 400 || m["error"] != "invalid_key" || m["error_description"] == "" {
				t.Fatalf("status %d %s, want 400 invalid_key with a reason", res.Status, res.Body)
			}
		})
	}
	if res := g.do("GET", "/_registry/", nil); !strings.Contains(res.Body, `"counterparties":[]`) {
		t.Fatalf("refused keys were stored: %s", res.Body)
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/_registry/bank-a", 404},
		{"GET", "/_registry/bank-a/certs", 404},
		{"GET", "/_registry/bank-a/keys/x/y", 404},
		{"GET", "/_registry/bad%20name/keys", 404},
		{"GET", "/_registry/bank-a/keys/unknown", 404},
		{"PUT", "/_registry/bank-a/keys", 405},
		{"POST", "/_registry/bank-a/keys/x", 405},
		{"DELETE", "/_registry/", 405},
	} {
		res := g.do(tc.method, tc.path, nil)
		if res.Status != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, res.Status, tc.status)
		}
		if tc.status == 405 && res.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
		}
	}
	if res := g.do("POST", "/_registry/bank-a/keys", bytes.NewReader(bytes.Repeat([]byte(" "), 16<<10+1))); res.Status != 413 {
		t.Errorf("oversize body: status %d, want 413", res.Status)
	}
}

func TestCheckEndpointVerdicts(t *testing.T) {
	be := newBackend(t)
	g := registrySite(t, t.TempDir(), be)
	s := jwttest.NewEC(t, "ES256")
	if res := g.do("POST", "/_registry/bank-a/keys", jsonBody(t, s.JWK(t, false))); res.Status != 201 {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	now := time.Now()
	good := s.Token(t, jwttest.Claims("https://bank-a.example", "api", "teller-1", now), nil)
	expiredClaims := jwttest.Claims("https://bank-a.example", "api", "teller-1", now.Add(-2*time.Hour))
	expired := s.Token(t, expiredClaims, nil)
	sig := rsSign(t, s, tokenioHeader(s, "POST", bankHost, "/signed/pay"), []byte(`{"a":1}`), true)
	for _, tc := range []struct {
		name   string
		path   string
		in     map[string]any
		valid  bool
		reason string
		detail string
	}{
		{"good bearer token", "/_check/auth", map[string]any{"token": good}, true, "", ""},
		{"expired bearer token", "/_check/auth", map[string]any{"token": expired}, false, "expired", ""},
		{"good request signature", "/_check/sig", map[string]any{"token": sig, "method": "POST", "host": bankHost, "path": "/signed/pay", "body": `{"a":1}`}, true, "", ""},
		{"wrong method binding", "/_check/sig", map[string]any{"token": sig, "method": "PUT", "host": bankHost, "path": "/signed/pay", "body": `{"a":1}`}, false, "binding_mismatch", "method"},
		{"wrong path binding", "/_check/sig", map[string]any{"token": sig, "method": "POST", "host": bankHost, "path": "/signed/other", "body": `{"a":1}`}, false, "binding_mismatch", "path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := g.do("POST", tc.path, jsonBody(t, tc.in), "Content-Type", "application/json")
			if res.Status != 200 {
				t.Fatalf("status %d %s, want 200", res.Status, res.Body)
			}
			v := decode(t, res)
			if v["valid"] != tc.valid || (tc.reason != "" && v["reason"] != tc.reason) {
				t.Fatalf("verdict %s, want valid=%v reason=%q", res.Body, tc.valid, tc.reason)
			}
			if desc, _ := v["description"].(string); !strings.Contains(desc, tc.detail) {
				t.Errorf("description %q does not name %q", desc, tc.detail)
			}
			if tc.valid && (v["kid"] != s.KID || v["claims"] == nil) {
				t.Errorf("valid verdict %s lacks kid or claims", res.Body)
			}
		})
	}
	// The check made no replay entry: the real request still passes, once.
	send := func() int {
		return g.do("POST", "/signed/pay", strings.NewReader(`{"a":1}`), append([]string{"Host", bankHost}, bearer(sig)...)...).Status
	}
	if st := send(); st != 200 {
		t.Fatalf("real request after a check: %d, want 200", st)
	}
	if st := send(); st != 401 {
		t.Fatalf("replayed real request: %d, want 401", st)
	}
	if res := g.do("GET", "/_check/auth", nil); res.Status != 405 {
		t.Errorf("GET on the check endpoint: %d, want 405", res.Status)
	}
	if res := g.do("POST", "/_check/auth", strings.NewReader(`{}`)); res.Status != 400 {
		t.Errorf("check without token: %d, want 400", res.Status)
	}
	if res := g.do("POST", "/_check/none", jsonBody(t, map[string]any{"token": good})); res.Status != 404 {
		t.Errorf("unknown policy: %d, want 404", res.Status)
	}
}
