package dcrhandler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func TestLifecycleRegisterReadUpdateDelete(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "obie", nil)

	ssa := f.dir.sign(t, f.ssaClaims("obie"), nil)
	w := post(t, h, f.soft.sign(t, f.requestClaims("obie", ssa), nil))
	if w.Code != http.StatusCreated {
		t.Fatalf("POST status = %d, want 201; body %s", w.Code, w.Body.String())
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	reg := decode(t, w)
	clientID, _ := reg["client_id"].(string)
	rat, _ := reg["registration_access_token"].(string)
	if clientID == "" || len(rat) != 43 {
		t.Fatalf("client_id %q, registration_access_token of %d chars; want an ID and 256 bits", clientID, len(rat))
	}
	if _, ok := reg["client_id_issued_at"].(float64); !ok {
		t.Errorf("client_id_issued_at = %#v, want an integer", reg["client_id_issued_at"])
	}
	if got, want := reg["registration_client_uri"], "http://example.com/register/"+clientID; got != want {
		t.Errorf("registration_client_uri = %v, want %s", got, want)
	}
	if reg["token_endpoint_auth_method"] != "private_key_jwt" || reg["software_id"] != testSoftware {
		t.Errorf("metadata not echoed: %v", reg)
	}
	if reg["software_statement"] != ssa {
		t.Errorf("software_statement was not returned unchanged")
	}
	for _, jwtClaim := range []string{"iss", "aud", "exp", "jti"} {
		if _, ok := reg[jwtClaim]; ok {
			t.Errorf("response carries the request JWT's %s claim", jwtClaim)
		}
	}

	// The token is stored hashed only.
	data, err := os.ReadFile(filepath.Join(f.storageDir, "obgate", "dcr", storageScope(h.Audience), "clients", clientID+".json"))
	if err != nil {
		t.Fatalf("client record not in storage: %v", err)
	}
	if strings.Contains(string(data), rat) {
		t.Fatal("storage holds the registration access token in clear")
	}
	sum := sha256.Sum256([]byte(rat))
	if !strings.Contains(string(data), hex.EncodeToString(sum[:])) {
		t.Error("storage does not hold the token's SHA-256")
	}

	path := "/register/" + clientID
	auth := []string{"Authorization", "Bearer " + rat}
	w = do(t, h, http.MethodGet, path, "", "", auth...)
	if w.Code != http.StatusOK {
		t.Fatalf("GET status = %d, want 200; body %s", w.Code, w.Body.String())
	}
	got := decode(t, w)
	// RFC 7592 §3: the client information response carries registration_access_token (REQUIRED).
	// It is not rotated, and only its hash is stored: the answer is the token the client presented.
	if got["client_id"] != clientID || got["registration_access_token"] != rat {
		t.Errorf("GET = %v, want the client with its (unrotated) registration access token", got)
	}

	update := f.requestJWT("obie", nil, func(c map[string]any) {
		c["redirect_uris"] = []string{"https://client.example/other"}
		c["client_id"] = clientID
	})
	w = do(t, h, http.MethodPut, path, "application/jwt", update, auth...)
	if w.Code != http.StatusOK {
		t.Fatalf("PUT status = %d, want 200; body %s", w.Code, w.Body.String())
	}
	if got := decode(t, w); got["registration_access_token"] != rat {
		t.Errorf("PUT answer registration_access_token = %v, want the unrotated token", got["registration_access_token"])
	}
	w = do(t, h, http.MethodGet, path, "", "", auth...)
	if uris := decode(t, w)["redirect_uris"].([]any); len(uris) != 1 || uris[0] != "https://client.example/other" {
		t.Errorf("after PUT redirect_uris = %v, want the new one", uris)
	}

	w = do(t, h, http.MethodDelete, path, "", "", auth...)
	if w.Code != http.StatusNoContent {
		t.Fatalf("DELETE status = %d, want 204; body %s", w.Code, w.Body.String())
	}
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		w = do(t, h, m, path, "", "", auth...)
		expectError(t, w, http.StatusUnauthorized, codeInvalidToken, "")
	}
}

func TestManagementRefusesWithoutTheRightToken(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "generic", nil)
	w := post(t, h, f.requestJWT("generic", nil, nil))
	if w.Code != http.StatusCreated {
		t.Fatalf("POST status = %d; body %s", w.Code, w.Body.String())
	}
	reg := decode(t, w)
	id := reg["client_id"].(string)
	other := post(t, h, f.requestJWT("generic", nil, nil))
	otherToken := decode(t, other)["registration_access_token"].(string)

	for _, tc := range []struct {
		name, path, auth, code string
	}{
		{"no Authorization header", "/register/" + id, "", codeInvalidRequest},
		{"Basic instead of Bearer", "/register/" + id, "Basic Zm9vOmJhcg==", codeInvalidRequest},
		{"wrong token", "/register/" + id, "Bearer " + strings.Repeat("A", 43), codeInvalidToken},
		{"another client's token", "/register/" + id, "Bearer " + otherToken, codeInvalidToken},
		{"unknown client is 401 not 404", "/register/AAAAAAAAAAAAAAAAAAAAAA", "Bearer " + otherToken, codeInvalidToken},
		{"malformed client id is 401", "/register/..%2f..%2fetc", "Bearer " + otherToken, codeInvalidToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.auth != "" {
				hdr = []string{"Authorization", tc.auth}
			}
			w := do(t, h, http.MethodGet, tc.path, "", "", hdr...)
			expectError(t, w, http.StatusUnauthorized, tc.code, "")
			if w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

// TestProfileRules checks each rule of each profile both ways: the valid request of the profile
// is accepted, and the one change named by the case makes it fail with the code and field given.
func TestProfileRules(t *testing.T) {
	f := newFixture(t)
	type mut = func(map[string]any)
	del := func(k string) mut { return func(c map[string]any) { delete(c, k) } }
	for _, tc := range []struct {
		profile, name string
		ssa, req      mut
		code, field   string
	}{
		// generic (RFC 7591)
		{"generic", "redirect URI with fragment refused", nil, set("redirect_uris", []string{"https://c.example/cb#x"}), codeInvalidRedirect, "redirect_uris"},
		{"generic", "relative redirect URI refused", nil, set("redirect_uris", []string{"/cb"}), codeInvalidRedirect, "redirect_uris"},
		{"generic", "redirect_uris not an array refused", nil, set("redirect_uris", "https://c.example/cb"), codeInvalidMetadata, "redirect_uris"},
		{"generic", "jwks and jwks_uri together refused", nil, func(c map[string]any) {
			c["jwks"] = map[string]any{"keys": []any{}}
			c["jwks_uri"] = "https://c.example/jwks"
		}, codeInvalidMetadata, "jwks"},
		{"generic", "wrong aud refused", nil, set("aud", "https://other.example/"), codeInvalidMetadata, "aud"},
		{"generic", "expired request refused", nil, set("exp", int64(1_700_000_000)), codeInvalidMetadata, "exp"},
		{"generic", "request without iat refused", nil, del("iat"), codeInvalidMetadata, "iat"},
		{"generic", "request without iss refused", nil, del("iss"), codeInvalidMetadata, "iss"},
		{"generic", "software_id differing from the SSA's refused", nil, set("software_id", "other"), codeInvalidMetadata, "software_id"},
		{"generic", "SSA without jwks_uri or jwks refused", del("jwks_uri"), nil, codeInvalidSSA, "jwks_uri"},
		{"generic", "expired SSA refused", set("exp", int64(1_700_000_000)), nil, codeInvalidSSA, "exp"},
		{"generic", "SSA from an untrusted issuer refused", set("iss", "https://rogue.example"), nil, codeInvalidSSA, "iss"},
		{"generic", "string scope accepted", nil, set("scope", "openid accounts"), "", ""},
		{"generic", "array scope refused", nil, set("scope", []string{"openid"}), codeInvalidMetadata, "scope"},
		// obie
		{"obie", "iss other than the SSA's software_id refused", nil, set("iss", "someone-else"), codeInvalidMetadata, "iss"},
		{"obie", "http redirect URI refused", func(c map[string]any) { c["software_redirect_uris"] = []string{"http://client.example/cb"} }, set("redirect_uris", []string{"http://client.example/cb"}), codeInvalidRedirect, "redirect_uris"},
		{"obie", "redirect URI not in the SSA refused", nil, set("redirect_uris", []string{"https://client.example/elsewhere"}), codeInvalidRedirect, "software_redirect_uris"},
		{"obie", "redirect URI subset accepted", nil, set("redirect_uris", []string{"https://client.example/other"}), "", ""},
		{"obie", "missing redirect_uris refused", nil, del("redirect_uris"), codeInvalidRedirect, "redirect_uris"},
		{"obie", "client_secret_basic refused", nil, set("token_endpoint_auth_method", "client_secret_basic"), codeInvalidMetadata, "token_endpoint_auth_method"},
		{"obie", "tls_client_auth with DN accepted", nil, func(c map[string]any) {
			c["token_endpoint_auth_method"] = "tls_client_auth"
			c["tls_client_auth_subject_dn"] = "CN=client"
		}, "", ""},
		{"obie", "tls_client_auth without DN refused", nil, set("token_endpoint_auth_method", "tls_client_auth"), codeInvalidMetadata, "tls_client_auth_subject_dn"},
		{"obie", "DN with private_key_jwt refused", nil, set("tls_client_auth_subject_dn", "CN=client"), codeInvalidMetadata, "tls_client_auth_subject_dn"},
		{"obie", "request without jti refused", nil, del("jti"), codeInvalidMetadata, "jti"},
		{"obie", "SSA without software_id refused", del("software_id"), nil, codeInvalidSSA, "software_id"},
		{"obie", "SSA of an inactive organisation unapproved", set("org_status", "Revoked"), nil, codeUnapprovedSSA, "org_status"},
		{"obie", "SSA without software_jwks_endpoint refused", del("software_jwks_endpoint"), nil, codeInvalidSSA, "software_jwks_endpoint"},
		// cdr
		{"cdr", "SSA living longer than 10 minutes refused", set("exp", time.Unix(1_760_000_000, 0).Add(11*time.Minute).Unix()), nil, codeInvalidSSA, "exp"},
		{"cdr", "SSA without exp refused", del("exp"), nil, codeInvalidSSA, "exp"},
		{"cdr", "SSA without jwks_uri refused", func(c map[string]any) { delete(c, "jwks_uri"); c["software_jwks_endpoint"] = "https://x" }, nil, codeInvalidSSA, "jwks_uri"},
		{"cdr", "request without jti refused", nil, del("jti"), codeInvalidMetadata, "jti"},
		{"cdr", "missing redirect_uris refused", nil, del("redirect_uris"), codeInvalidRedirect, "redirect_uris"},
		{"cdr", "iss other than the SSA's software_id refused", nil, set("iss", "someone-else"), codeInvalidMetadata, "iss"},
		{"cdr", "redirect URI not in the SSA refused", nil, set("redirect_uris", []string{"https://client.example/elsewhere"}), codeInvalidRedirect, "software statement's redirect_uris"},
		{"cdr", "http redirect URI refused", func(c map[string]any) { c["redirect_uris"] = []string{"http://client.example/cb"} }, set("redirect_uris", []string{"http://client.example/cb"}), codeInvalidRedirect, "https"},
		// revolut
		{"revolut", "array scope with openid accepted", nil, set("scope", []string{"openid", "payments"}), "", ""},
		{"revolut", "scope without openid refused", nil, set("scope", "accounts payments"), codeInvalidMetadata, "scope"},
		{"revolut", "private_key_jwt refused", nil, set("token_endpoint_auth_method", "private_key_jwt"), codeInvalidMetadata, "token_endpoint_auth_method"},
		{"revolut", "RS256 id token alg refused", nil, set("id_token_signed_response_alg", "RS256"), codeInvalidMetadata, "id_token_signed_response_alg"},
		{"revolut", "RS256 request object alg refused", nil, set("request_object_signing_alg", "RS256"), codeInvalidMetadata, "request_object_signing_alg"},
		{"revolut", "aud array with a value off the pattern refused", nil, set("aud", []string{"revolut", "bank.example"}), codeInvalidMetadata, "aud"},
		{"revolut", "missing application_type refused", nil, del("application_type"), codeInvalidMetadata, "application_type"},
		{"revolut", "missing tls_client_auth_dn refused", nil, del("tls_client_auth_dn"), codeInvalidMetadata, "tls_client_auth_dn"},
		{"revolut", "missing scope refused", nil, del("scope"), codeInvalidMetadata, "scope"},
		{"revolut", "missing redirect_uris refused", nil, del("redirect_uris"), codeInvalidMetadata, "redirect_uris"},
		{"revolut", "missing exp refused", nil, del("exp"), codeInvalidMetadata, "exp"},
		{"revolut", "SSA of an inactive organisation unapproved", set("org_status", "Inactive"), nil, codeUnapprovedSSA, "org_status"},
	} {
		t.Run(tc.profile+"/"+tc.name, func(t *testing.T) {
			h := f.handler(t, tc.profile, nil)
			if w := post(t, h, f.requestJWT(tc.profile, nil, nil)); w.Code != http.StatusCreated {
				t.Fatalf("baseline %s request: status %d, want 201; body %s", tc.profile, w.Code, w.Body.String())
			}
			if tc.profile == "cdr" { // one registration per software: each request below is a new software
				f.storageDir = t.TempDir()
				h = f.handler(t, tc.profile, nil)
			}
			w := post(t, h, f.requestJWT(tc.profile, tc.ssa, tc.req))
			if tc.code == "" {
				if w.Code != http.StatusCreated {
					t.Fatalf("status = %d, want 201; body %s", w.Code, w.Body.String())
				}
				return
			}
			expectError(t, w, http.StatusBadRequest, tc.code, tc.field)
		})
	}
}

func TestRevolutAcceptsOnlyPS256AndKid(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "revolut", nil)
	noKid := f.soft.sign(t, f.requestClaims("revolut", f.dir.sign(t, f.ssaClaims("revolut"), nil)), map[string]any{"kid": nil})
	expectError(t, post(t, h, noKid), http.StatusBadRequest, codeInvalidMetadata, "kid")
	if _, err := f.tryHandler("revolut", func(h *Handler) { h.Algorithms = []string{"PS256", "RS256"} }); err == nil || !strings.Contains(err.Error(), "algorithms") {
		t.Errorf("provision with RS256 under revolut: err = %v, want an algorithms error", err)
	}
}

func TestVerificationNeverUsesAKeyTheRequestChose(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "obie", nil)
	ssa := f.dir.sign(t, f.ssaClaims("obie"), nil)
	attackerJWK := f.other.jwk(t)

	for _, tc := range []struct {
		name, token, code, field string
	}{
		{"SSA signed by an untrusted key", f.soft.sign(t, f.requestClaims("obie", f.other.sign(t, f.ssaClaims("obie"), map[string]any{"kid": f.dir.kid})), nil),
			codeInvalidSSA, "signature"},
		{"SSA with a jwk header of the attacker's key", f.soft.sign(t, f.requestClaims("obie",
			f.other.sign(t, f.ssaClaims("obie"), map[string]any{"kid": f.other.kid, "jwk": attackerJWK})), nil),
			codeInvalidSSA, "kid"},
		{"request signed by a key not in the software's JWKS", f.other.sign(t, f.requestClaims("obie", ssa), nil),
			codeInvalidMetadata, "kid"},
		{"request signed by another key under the software's kid", f.other.sign(t, f.requestClaims("obie", ssa), map[string]any{"kid": f.soft.kid}),
			codeInvalidMetadata, "signature"},
		{"request with jwk header of the signing key", f.other.sign(t, f.requestClaims("obie", ssa), map[string]any{"jwk": attackerJWK}),
			codeInvalidMetadata, "kid"},
		{"request with jku pointing at the attacker", f.other.sign(t, f.requestClaims("obie", ssa), map[string]any{"jku": "https://attacker.example/jwks"}),
			codeInvalidMetadata, "kid"},
		{"request without kid", f.soft.sign(t, f.requestClaims("obie", ssa), map[string]any{"kid": nil}),
			codeInvalidMetadata, "kid"},
		{"request with alg none", b64([]byte(`{"alg":"none","kid":"key-1"}`)) + "." + b64(mustJSON(t, f.requestClaims("obie", ssa))) + ".c2ln",
			codeInvalidMetadata, "alg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectError(t, post(t, h, tc.token), http.StatusBadRequest, tc.code, tc.field)
		})
	}

	// A valid request that also carries jwk and jku headers is verified with the SSA's keys only.
	token := f.soft.sign(t, f.requestClaims("obie", ssa), map[string]any{"jwk": attackerJWK, "jku": "https://attacker.example/jwks"})
	if w := post(t, h, token); w.Code != http.StatusCreated {
		t.Fatalf("valid request with ignored jwk/jku headers: status %d; body %s", w.Code, w.Body.String())
	}
}

func TestSoftwareJWKSFetch(t *testing.T) {
	t.Run("host outside jwks_uri_allow refused without a connection", func(t *testing.T) {
		f := newFixture(t)
		h := f.handler(t, "obie", func(h *Handler) { h.JWKSURIAllow = []string{"keystore.example"} })
		expectError(t, post(t, h, f.requestJWT("obie", nil, nil)), http.StatusBadRequest, codeInvalidSSA, "software_jwks_endpoint")
		if n := f.conns.Load(); n != 0 {
			t.Errorf("JWKS server saw %d connections, want 0", n)
		}
	})
	t.Run("allow entry pinning another port refused without a connection", func(t *testing.T) {
		f := newFixture(t)
		h := f.handler(t, "obie", func(h *Handler) { h.JWKSURIAllow = []string{"127.0.0.1:1"} })
		expectError(t, post(t, h, f.requestJWT("obie", nil, nil)), http.StatusBadRequest, codeInvalidSSA, "jwks_uri_allow")
		if n := f.conns.Load(); n != 0 {
			t.Errorf("JWKS server saw %d connections, want 0", n)
		}
	})
	t.Run("plain http refused without an http:// allow entry", func(t *testing.T) {
		f := newFixture(t)
		h := f.handler(t, "obie", func(h *Handler) { h.JWKSURIAllow = []string{"127.0.0.1"} })
		tok := f.requestJWT("obie", set("software_jwks_endpoint", "http://127.0.0.1:9/jwks"), nil)
		expectError(t, post(t, h, tok), http.StatusBadRequest, codeInvalidSSA, "software_jwks_endpoint")
	})
	t.Run("unreachable JWKS is 503 with Retry-After", func(t *testing.T) {
		f := newFixture(t)
		h := f.handler(t, "obie", nil)
		f.jwksStatus.Store(http.StatusBadGateway)
		w := post(t, h, f.requestJWT("obie", nil, nil))
		expectError(t, w, http.StatusServiceUnavailable, codeUnavailable, "JWKS")
		if w.Header().Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	})
	t.Run("JWKS that is not a key set is the statement's fault", func(t *testing.T) {
		f := newFixture(t)
		h := f.handler(t, "obie", nil)
		garbage := []byte(`{"keys": "nope"}`)
		f.jwksBody.Store(&garbage)
		expectError(t, post(t, h, f.requestJWT("obie", nil, nil)), http.StatusBadRequest, codeInvalidSSA, "software_jwks_endpoint")
	})
	t.Run("warm JWKS is fetched once", func(t *testing.T) {
		f := newFixture(t)
		h := f.handler(t, "generic", nil)
		for range 5 {
			if w := post(t, h, f.requestJWT("generic", nil, nil)); w.Code != http.StatusCreated {
				t.Fatalf("status %d; body %s", w.Code, w.Body.String())
			}
		}
		if n := f.conns.Load(); n != 1 {
			t.Errorf("JWKS server saw %d connections for 5 registrations, want 1", n)
		}
	})
	t.Run("generic inline jwks needs no fetch", func(t *testing.T) {
		f := newFixture(t)
		h := f.handler(t, "generic", func(h *Handler) { h.JWKSURIAllow = nil })
		tok := f.requestJWT("generic", func(c map[string]any) {
			delete(c, "jwks_uri")
			c["jwks"] = json.RawMessage(jwks(t, f.soft))
		}, nil)
		if w := post(t, h, tok); w.Code != http.StatusCreated {
			t.Fatalf("status %d; body %s", w.Code, w.Body.String())
		}
		if n := f.conns.Load(); n != 0 {
			t.Errorf("JWKS server saw %d connections, want 0", n)
		}
	})
}

func set(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReplayedRequestRefused(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "obie", nil)
	tok := f.requestJWT("obie", nil, nil)
	if w := post(t, h, tok); w.Code != http.StatusCreated {
		t.Fatalf("first use: status %d; body %s", w.Code, w.Body.String())
	}
	expectError(t, post(t, h, tok), http.StatusBadRequest, codeInvalidMetadata, "jti")
	// After the request's exp, the entry is gone, but the request itself is expired too.
	f.now = f.now.Add(10 * time.Minute)
	expectError(t, post(t, h, tok), http.StatusBadRequest, codeInvalidMetadata, "exp")
}

func TestBadInputNeverGives500(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "obie", nil)
	gen := f.handler(t, "generic", func(h *Handler) { h.Directories = nil; h.JWKSURIAllow = nil })
	for _, tc := range []struct {
		name        string
		h           *Handler
		method      string
		ctype, body string
		status      int
		code        string
	}{
		{"empty body", h, "POST", "application/jwt", "", 400, codeInvalidMetadata},
		{"not a JWT", h, "POST", "application/jwt", "hello", 400, codeInvalidMetadata},
		{"three dots of garbage", h, "POST", "application/jose", "a.b.c", 400, codeInvalidMetadata},
		{"JSON under obie", h, "POST", "application/json", "{}", 415, codeInvalidRequest},
		{"no content type", h, "POST", "", "x", 415, codeInvalidRequest},
		{"text/plain", h, "POST", "text/plain", "x", 415, codeInvalidRequest},
		{"oversize body", h, "POST", "application/jwt", strings.Repeat("a", DefaultMaxBody+1), 413, codeInvalidRequest},
		{"PATCH", h, "PATCH", "application/jwt", "", 405, codeInvalidRequest},
		{"JWT without software_statement", h, "POST", "application/jwt", f.soft.sign(t, map[string]any{"iss": "x"}, nil), 400, codeInvalidSSA},
		{"software_statement not a string", h, "POST", "application/jwt", f.soft.sign(t, map[string]any{"software_statement": 5}, nil), 400, codeInvalidSSA},
		{"software_statement garbage", h, "POST", "application/jwt", f.soft.sign(t, map[string]any{"software_statement": "x.y.z"}, nil), 400, codeInvalidSSA},
		{"generic JSON array", gen, "POST", "application/json", "[1]", 400, codeInvalidMetadata},
		{"generic JSON trailing data", gen, "POST", "application/json", "{} {}", 400, codeInvalidMetadata},
		{"generic JSON bad redirect", gen, "POST", "application/json", `{"redirect_uris":["no scheme"]}`, 400, codeInvalidRedirect},
		{"generic JSON with SSA but no directory", gen, "POST", "application/json", `{"software_statement":"a.b.c"}`, 400, codeInvalidSSA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectError(t, do(t, tc.h, tc.method, "/register", tc.ctype, tc.body), tc.status, tc.code, "")
		})
	}
}

func TestGenericJSONRegistration(t *testing.T) {
	f := newFixture(t)
	open := f.handler(t, "generic", func(h *Handler) { h.Directories = nil })
	w := do(t, open, "POST", "/register", "application/json", `{"redirect_uris":["https://c.example/cb"],"client_name":"C","token_endpoint_auth_method":"none"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("open registration: status %d; body %s", w.Code, w.Body.String())
	}
	// With a directory, JSON is refused: a software statement is not a credential (issue 10).
	withDir := f.handler(t, "generic", nil)
	ssa := f.dir.sign(t, f.ssaClaims("generic"), nil)
	for _, body := range []string{`{"client_name":"C"}`, `{"client_name":"C","software_statement":"` + ssa + `"}`} {
		expectError(t, do(t, withDir, "POST", "/register", "application/json", body), http.StatusUnsupportedMediaType, codeInvalidRequest, "application/jwt")
	}
	// allow_unsigned_request is the explicit opt-in: then the SSA is required and verified.
	optIn := f.handler(t, "generic", func(h *Handler) { h.AllowUnsignedRequest = true })
	expectError(t, do(t, optIn, "POST", "/register", "application/json", `{"client_name":"C"}`), 400, codeInvalidSSA, "software_statement")
	w = do(t, optIn, "POST", "/register", "application/json", `{"client_name":"C","token_endpoint_auth_method":"private_key_jwt","software_statement":"`+ssa+`"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("JSON with SSA under allow_unsigned_request: status %d; body %s", w.Code, w.Body.String())
	}
	if decode(t, w)["software_id"] != testSoftware {
		t.Error("software_id from the SSA not registered")
	}
}

func TestSSAMaxAge(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "obie", func(h *Handler) { h.SSAMaxAge = caddy.Duration(time.Hour) })
	old := f.requestJWT("obie", set("iat", f.now.Add(-2*time.Hour).Unix()), nil)
	expectError(t, post(t, h, old), http.StatusBadRequest, codeInvalidSSA, "iat")
	young := f.requestJWT("obie", set("iat", f.now.Add(-30*time.Minute).Unix()), nil)
	if w := post(t, h, young); w.Code != http.StatusCreated {
		t.Fatalf("SSA within ssa_max_age: status %d; body %s", w.Code, w.Body.String())
	}
	// With exp, ssa_max_age does not apply.
	withExp := f.requestJWT("obie", func(c map[string]any) {
		c["iat"] = f.now.Add(-2 * time.Hour).Unix()
		c["exp"] = f.now.Add(time.Hour).Unix()
	}, nil)
	if w := post(t, h, withExp); w.Code != http.StatusCreated {
		t.Fatalf("old SSA with exp: status %d; body %s", w.Code, w.Body.String())
	}
}

func TestCDROneRegistrationPerSoftware(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "cdr", nil)
	const n = 100
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = f.requestJWT("cdr", nil, nil)
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i] = post(t, h, tokens[i]).Code })
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusBadRequest:
		default:
			t.Errorf("unexpected status %d", s)
		}
	}
	if created != 1 {
		t.Fatalf("%d registrations created for one software_id, want exactly 1", created)
	}
	clients, _ := os.ReadDir(filepath.Join(f.storageDir, "obgate", "dcr", storageScope(h.Audience), "clients"))
	if len(clients) != 1 {
		t.Errorf("%d client records in storage, want 1", len(clients))
	}
}

func TestCDRSoftwareMayRegisterAgainAfterDelete(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "cdr", nil)
	w := post(t, h, f.requestJWT("cdr", nil, nil))
	if w.Code != http.StatusCreated {
		t.Fatalf("status %d; body %s", w.Code, w.Body.String())
	}
	reg := decode(t, w)
	expectError(t, post(t, h, f.requestJWT("cdr", nil, nil)), http.StatusBadRequest, codeInvalidMetadata, "software_id")
	w = do(t, h, http.MethodDelete, "/register/"+reg["client_id"].(string), "", "", "Authorization", "Bearer "+reg["registration_access_token"].(string))
	if w.Code != http.StatusNoContent {
		t.Fatalf("DELETE status %d; body %s", w.Code, w.Body.String())
	}
	if w := post(t, h, f.requestJWT("cdr", nil, nil)); w.Code != http.StatusCreated {
		t.Fatalf("registration after delete: status %d; body %s", w.Code, w.Body.String())
	}
}

func TestRegistrationsSurviveARestart(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "obie", nil)
	reg := decode(t, post(t, h, f.requestJWT("obie", nil, nil)))
	restarted := f.handler(t, "obie", nil) // a new handler on the same storage
	w := do(t, restarted, http.MethodGet, "/register/"+reg["client_id"].(string), "", "", "Authorization", "Bearer "+reg["registration_access_token"].(string))
	if w.Code != http.StatusOK {
		t.Fatalf("GET after restart: status %d; body %s", w.Code, w.Body.String())
	}
}

func TestProvisionErrorsNameTheField(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name, profile, field string
		mutate               func(*Handler)
	}{
		{"unknown profile", "fapi", "profile", nil},
		{"obie without audience", "obie", "audience", func(h *Handler) { h.Audience = nil }},
		{"cdr without audience", "cdr", "audience", func(h *Handler) { h.Audience = nil }},
		{"revolut without audience", "revolut", "audience", func(h *Handler) { h.Audience = nil }},
		{"revolut audience off the pattern", "revolut", "audience", func(h *Handler) { h.Audience = []string{"https://bank"} }},
		{"obie without directory", "obie", "directory", func(h *Handler) { h.Directories = nil }},
		{"unknown algorithm", "generic", "algorithms", func(h *Handler) { h.Algorithms = []string{"none"} }},
		{"bad redirect pattern", "generic", "redirect_uri_pattern", func(h *Handler) { h.RedirectURIPattern = "(" }},
		{"bad allow entry", "generic", "jwks_uri_allow", func(h *Handler) { h.JWKSURIAllow = []string{"https://x/y"} }},
		{"directory key file missing", "generic", "directory", func(h *Handler) { h.Directories[0].Keys[0].Path = "/nonexistent.pem" }},
		{"directory without keys", "generic", "directory", func(h *Handler) { h.Directories[0].Keys = nil }},
		{"directory http jwks_url", "generic", "jwks_url", func(h *Handler) { h.Directories[0].JWKSURL = "http://dir.example/jwks" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.tryHandler(tc.profile, tc.mutate)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("provision error = %v, want one naming %q", err, tc.field)
			}
		})
	}
}

func TestRedirectURIPattern(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "generic", func(h *Handler) { h.RedirectURIPattern = `^https://client\.example/` })
	if w := post(t, h, f.requestJWT("generic", nil, nil)); w.Code != http.StatusCreated {
		t.Fatalf("matching redirect: status %d; body %s", w.Code, w.Body.String())
	}
	tok := f.requestJWT("generic", nil, set("redirect_uris", []string{"https://evil.example/cb"}))
	expectError(t, post(t, h, tok), http.StatusBadRequest, codeInvalidRedirect, "redirect_uri_pattern")
}

// TestReplayCacheMemoryIsBoundedWhateverTheJTI: the replay store holds up to 100 000 entries; an
// entry must not keep the request's jti (up to the 64 KiB body) itself, or the bound on entries
// is no bound on memory. A long jti is still refused when replayed.
func TestReplayCacheMemoryIsBoundedWhateverTheJTI(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "obie", nil)
	tok := f.requestJWT("obie", nil, set("jti", strings.Repeat("j", 40<<10)))
	if w := post(t, h, tok); w.Code != http.StatusCreated {
		t.Fatalf("first use: status %d; body %s", w.Code, w.Body.String())
	}
	expectError(t, post(t, h, tok), http.StatusBadRequest, codeInvalidMetadata, "jti")
	// The store's ids are SHA-256 sums ([32]byte by type): nothing of the jti itself is kept.
}

// TestCDRStatementLifetimeCannotWrapAround: a CDR statement lives at most 10 minutes, however far
// its exp is; a lifetime whose nanoseconds overflow int64 must not wrap to a short one.
func TestCDRStatementLifetimeCannotWrapAround(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "cdr", nil)
	for _, lifetime := range []int64{601, 18_446_744_074, 1 << 40} { // 18446744074 s wraps to 0.29 s
		t.Run(fmt.Sprint(lifetime), func(t *testing.T) {
			tok := f.requestJWT("cdr", set("exp", f.now.Unix()+lifetime), nil)
			expectError(t, post(t, h, tok), http.StatusBadRequest, codeInvalidSSA, "exp")
		})
	}
}

// TestReplayRefusedAcrossAConfigReload: a config reload provisions a new handler next to the old
// one; a request JWT accepted before the reload must still be refused after it.
func TestReplayRefusedAcrossAConfigReload(t *testing.T) {
	f := newFixture(t)
	before := f.handler(t, "obie", nil)
	tok := f.requestJWT("obie", nil, nil)
	if w := post(t, before, tok); w.Code != http.StatusCreated {
		t.Fatalf("first use: status %d; body %s", w.Code, w.Body.String())
	}
	after := f.handler(t, "obie", nil) // the reloaded config
	_ = before.Cleanup()               // the old config is cleaned up after the new one starts
	expectError(t, post(t, after, tok), http.StatusBadRequest, codeInvalidMetadata, "jti")
}
