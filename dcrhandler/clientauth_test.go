package dcrhandler

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openGeneric is a generic handler without directories: it takes plain RFC 7591 JSON.
func openGeneric(t *testing.T, f *fixture) *Handler {
	t.Helper()
	return f.handler(t, "generic", func(h *Handler) { h.Directories = nil })
}

func registerJSON(t *testing.T, h *Handler, body string) map[string]any {
	t.Helper()
	w := do(t, h, http.MethodPost, "/register", "application/json", body)
	if w.Code != http.StatusCreated {
		t.Fatalf("POST %s: status %d; body %s", body, w.Code, w.Body.String())
	}
	return decode(t, w)
}

func TestGenericSecretMethodsGetAHashedClientSecret(t *testing.T) {
	for _, tc := range []struct{ name, body, method string }{
		{"client_secret_basic", `{"redirect_uris":["https://c.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`, "client_secret_basic"},
		{"client_secret_post", `{"redirect_uris":["https://c.example/cb"],"token_endpoint_auth_method":"client_secret_post"}`, "client_secret_post"},
		{"no method: RFC 7591 §2 default client_secret_basic", `{"redirect_uris":["https://c.example/cb"]}`, "client_secret_basic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			h := openGeneric(t, f)
			reg := registerJSON(t, h, tc.body)
			secret, _ := reg["client_secret"].(string)
			if len(secret) != 43 {
				t.Fatalf("client_secret = %q, want 256 random bits (43 base64url characters)", secret)
			}
			if reg["client_secret_expires_at"] != float64(0) {
				t.Errorf("client_secret_expires_at = %v, want 0 (RFC 7591 §3.2.1)", reg["client_secret_expires_at"])
			}
			if reg["token_endpoint_auth_method"] != tc.method {
				t.Errorf("token_endpoint_auth_method = %v, want %s", reg["token_endpoint_auth_method"], tc.method)
			}
			id := reg["client_id"].(string)
			data, err := os.ReadFile(filepath.Join(f.storageDir, "obgate", "dcr", storageScope(h.Audience), "clients", id+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(data), secret) {
				t.Fatal("storage holds the client_secret in clear")
			}
			if !strings.Contains(string(data), tokenHash(secret)) {
				t.Error("storage does not hold the client_secret's SHA-256")
			}
			// Later reads do not reveal it (only its hash is kept) but say it does not expire.
			got := decode(t, do(t, h, http.MethodGet, "/register/"+id, "", "", "Authorization", "Bearer "+reg["registration_access_token"].(string)))
			if _, ok := got["client_secret"]; ok {
				t.Error("GET returned a client_secret")
			}
			if got["client_secret_expires_at"] != float64(0) {
				t.Errorf("GET client_secret_expires_at = %v, want 0", got["client_secret_expires_at"])
			}
		})
	}
}

func TestGenericAuthMethodRules(t *testing.T) {
	f := newFixture(t)
	h := openGeneric(t, f)
	jwks := string(mustJSON(t, map[string]any{"keys": []any{f.soft.jwk(t)}}))
	for _, tc := range []struct {
		name, body string
		field      string // "" = accepted without a secret
	}{
		{"private_key_jwt with jwks accepted", `{"token_endpoint_auth_method":"private_key_jwt","jwks":` + jwks + `}`, ""},
		{"private_key_jwt with jwks_uri accepted", `{"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://c.example/jwks"}`, ""},
		{"private_key_jwt without keys refused", `{"token_endpoint_auth_method":"private_key_jwt"}`, "jwks"},
		{"self_signed_tls_client_auth without keys refused", `{"token_endpoint_auth_method":"self_signed_tls_client_auth"}`, "jwks"},
		{"tls_client_auth accepted", `{"token_endpoint_auth_method":"tls_client_auth","tls_client_auth_subject_dn":"CN=c"}`, ""},
		// RFC 8705 §2.1.2: tls_client_auth names the certificate subject to expect; without it the
		// token endpoint would have nothing to compare the client's certificate with.
		{"tls_client_auth without a subject DN refused", `{"token_endpoint_auth_method":"tls_client_auth"}`, "tls_client_auth_subject_dn"},
		{"none accepted", `{"token_endpoint_auth_method":"none"}`, ""},
		{"client_secret_jwt refused", `{"token_endpoint_auth_method":"client_secret_jwt"}`, "token_endpoint_auth_method"},
		{"unknown method refused", `{"token_endpoint_auth_method":"magic"}`, "token_endpoint_auth_method"},
		{"method not a string refused", `{"token_endpoint_auth_method":7}`, "token_endpoint_auth_method"},
		{"client_secret in the request is never taken", `{"token_endpoint_auth_method":"none","client_secret":"mine"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, h, http.MethodPost, "/register", "application/json", tc.body)
			if tc.field != "" {
				expectError(t, w, http.StatusBadRequest, codeInvalidMetadata, tc.field)
				return
			}
			if w.Code != http.StatusCreated {
				t.Fatalf("status %d; body %s", w.Code, w.Body.String())
			}
			if _, ok := decode(t, w)["client_secret"]; ok {
				t.Error("a client_secret was issued to a method that needs none")
			}
		})
	}
}

func TestGenericUpdateToASecretMethodIssuesOneSecret(t *testing.T) {
	f := newFixture(t)
	h := openGeneric(t, f)
	reg := registerJSON(t, h, `{"token_endpoint_auth_method":"none"}`)
	path := "/register/" + reg["client_id"].(string)
	auth := []string{"Authorization", "Bearer " + reg["registration_access_token"].(string)}
	w := do(t, h, http.MethodPut, path, "application/json", `{"token_endpoint_auth_method":"client_secret_post"}`, auth...)
	if w.Code != http.StatusOK {
		t.Fatalf("PUT status %d; body %s", w.Code, w.Body.String())
	}
	first, _ := decode(t, w)["client_secret"].(string)
	if first == "" {
		t.Fatal("PUT to client_secret_post issued no client_secret")
	}
	// A second update keeps the secret (RFC 7592 §2.2) and does not reveal it again.
	w = do(t, h, http.MethodPut, path, "application/json", `{"token_endpoint_auth_method":"client_secret_basic"}`, auth...)
	if _, ok := decode(t, w)["client_secret"]; ok || w.Code != http.StatusOK {
		t.Fatalf("second PUT: status %d, body %s; want 200 without a new secret", w.Code, w.Body.String())
	}
	rec, err := h.store.load(t.Context(), reg["client_id"].(string))
	if err != nil || rec.ClientSecretSHA256 != tokenHash(first) {
		t.Fatalf("stored secret hash changed or missing (err %v)", err)
	}
	// Back to a method without a secret: the hash is dropped.
	do(t, h, http.MethodPut, path, "application/json", `{"token_endpoint_auth_method":"none"}`, auth...)
	if rec, _ := h.store.load(t.Context(), reg["client_id"].(string)); rec.ClientSecretSHA256 != "" {
		t.Error("the secret hash was kept for a method that needs none")
	}
}

// TestGenericRequestJWTNeedsJTI: under generic, a request JWT (directory configured) carries a
// jti and is refused when replayed, as under the other profiles.
func TestGenericRequestJWTNeedsJTI(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "generic", nil)
	expectError(t, post(t, h, f.requestJWT("generic", nil, func(c map[string]any) { delete(c, "jti") })), http.StatusBadRequest, codeInvalidMetadata, "jti")
	tok := f.requestJWT("generic", nil, set("token_endpoint_auth_method", "private_key_jwt"))
	if w := post(t, h, tok); w.Code != http.StatusCreated {
		t.Fatalf("first use: status %d; body %s", w.Code, w.Body.String())
	}
	expectError(t, post(t, h, tok), http.StatusBadRequest, codeInvalidMetadata, "jti")
}
