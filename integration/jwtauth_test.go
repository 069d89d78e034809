package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/jwttest"
)

const (
	issuerA = "https://issuer-a.example"
	issuerB = "https://issuer-b.example"
)

// jwtAuthSite is a gateway that verifies tokens of two issuers with separate keys and proxies to
// the recording backend, passing the user and a claim on.
func jwtAuthSite(t *testing.T, keyA, keyB, certB string, be *backend, extra string) *gateway {
	t.Helper()
	return startGateway(t, fmt.Sprintf(`
http://127.0.0.1:{PORT} {
	jwt_auth {
		issuer %s {
			key %s
		}
		issuer %s {
			key %s
			algorithms RS256 PS256
		}
		audience api://payments
		realm payments
		%s
	}
	reverse_proxy %s {
		header_up X-User {http.auth.user.id}
		header_up X-Roles {http.auth.user.roles}
	}
}
`, issuerA, keyA, issuerB, certB, extra, be.Addr()))
}

func TestJWTAuthAnswers(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	b := jwttest.NewRSA(t, 2048, "RS256")
	mallory := jwttest.NewEC(t, "ES256")
	// Seed 004: issuer B is mapped to its certificate; its identity provider puts its own kid
	// in every token (INTERFACE.md Wave 2, "Keys without a kid").
	idpB := &jwttest.Signer{Alg: b.Alg, KID: "idp-b-signing-2026", Key: b.Key}
	malloryAsIdpB := &jwttest.Signer{Alg: "RS256", KID: idpB.KID, Key: jwttest.NewRSA(t, 2048, "RS256").Key}
	be := newBackend(t)
	g := jwtAuthSite(t, a.PublicPEM(t, dir), "", b.CertificatePEM(t, dir, "issuer-b"), be, `claim roles teller admin`)
	_ = g

	now := time.Now()
	good := func(s *jwttest.Signer, iss string) map[string]any {
		c := jwttest.Claims(iss, "api://payments", "alice", now)
		c["roles"] = []string{"teller", "auditor"}
		return c
	}
	with := func(c map[string]any, k string, v any) map[string]any {
		c[k] = v
		return c
	}

	for _, tc := range []struct {
		name       string
		headers    []string
		wantStatus int
		wantError  string // error attribute in WWW-Authenticate and JSON body; "" = none in the challenge
	}{
		{"valid token of issuer A passes", []string{"Authorization", "Bearer " + a.Token(t, good(a, issuerA), nil)}, 200, ""},
		{"valid token of certificate-mapped issuer B passes", []string{"Authorization", "Bearer " + b.Token(t, good(b, issuerB), nil)}, 200, ""},
		{"certificate-mapped issuer B accepts its identity provider's own kid", []string{"Authorization", "Bearer " + idpB.Token(t, good(idpB, issuerB), nil)}, 200, ""},
		{"certificate-mapped issuer B still checks the signature under that kid", []string{"Authorization", "Bearer " + malloryAsIdpB.Token(t, good(malloryAsIdpB, issuerB), nil)}, 401, "invalid_token"},
		{"issuer A's PEM key does not verify issuer B's tokens under any kid", []string{"Authorization", "Bearer " + (&jwttest.Signer{Alg: "ES256", KID: "x", Key: a.Key}).Token(t, good(a, issuerB), nil)}, 401, "invalid_token"},
		{"bearer scheme is case-insensitive", []string{"Authorization", "bearer " + a.Token(t, good(a, issuerA), nil)}, 200, ""},
		{"no token is a bare challenge", nil, 401, ""},
		{"other scheme counts as no token", []string{"Authorization", "Basic YWxpY2U6c2VjcmV0"}, 401, ""},
		{"bad signature rejected", []string{"Authorization", "Bearer " + mallory.Token(t, good(mallory, issuerA), map[string]any{"kid": a.KID})}, 401, "invalid_token"},
		{"issuer A's key cannot sign for issuer B", []string{"Authorization", "Bearer " + a.Token(t, good(a, issuerB), nil)}, 401, "invalid_token"},
		{"unknown issuer rejected", []string{"Authorization", "Bearer " + a.Token(t, good(a, "https://evil.example"), nil)}, 401, "invalid_token"},
		{"expired token rejected", []string{"Authorization", "Bearer " + a.Token(t, with(good(a, issuerA), "exp", now.Add(-time.Hour).Unix()), nil)}, 401, "invalid_token"},
		{"not yet valid token rejected", []string{"Authorization", "Bearer " + a.Token(t, with(good(a, issuerA), "nbf", now.Add(time.Hour).Unix()), nil)}, 401, "invalid_token"},
		{"wrong audience rejected", []string{"Authorization", "Bearer " + a.Token(t, with(good(a, issuerA), "aud", "api://other"), nil)}, 401, "invalid_token"},
		{"alg none rejected", []string{"Authorization", "Bearer " + jwttest.Encode([]byte(`{"alg":"none"}`)) + "." + jwttest.Encode([]byte(`{"iss":"`+issuerA+`"}`)) + "."}, 401, "invalid_token"},
		{"malformed token rejected", []string{"Authorization", "Bearer not.a.jwt"}, 401, "invalid_token"},
		{"too large token rejected", []string{"Authorization", "Bearer " + strings.Repeat("a", 17<<10)}, 401, "invalid_token"},
		{"two Authorization headers rejected", []string{"Authorization", "Bearer " + a.Token(t, good(a, issuerA), nil), "Authorization", "Bearer " + a.Token(t, good(a, issuerA), nil)}, 400, "invalid_request"},
		{"claim rule failure is 403", []string{"Authorization", "Bearer " + a.Token(t, with(good(a, issuerA), "roles", []string{"auditor"}), nil)}, 403, "insufficient_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(be.Requests())
			res := g.do("GET", "/accounts", nil, tc.headers...)
			if res.Status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", res.Status, tc.wantStatus, res.Body)
			}
			reached := len(be.Requests()) > before
			if tc.wantStatus == 200 {
				if !reached {
					t.Fatal("valid request did not reach the backend")
				}
				return
			}
			if reached {
				t.Fatal("rejected request reached the backend")
			}
			checkRejection(t, res, tc.wantStatus, tc.wantError, "payments")
		})
	}
}

// checkRejection asserts the RFC 6750 answer: challenge, JSON body, content type.
func checkRejection(t *testing.T, res response, status int, wantError, realm string) {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	body := res.JSON(t)
	if body["error_description"] == "" {
		t.Errorf("body has no error_description: %s", res.Body)
	}
	challenge := res.Header.Get("WWW-Authenticate")
	if !strings.HasPrefix(challenge, `Bearer realm="`+realm+`"`) {
		t.Errorf("WWW-Authenticate = %q, want a Bearer challenge with realm %q", challenge, realm)
	}
	if wantError == "" {
		if strings.Contains(challenge, "error=") {
			t.Errorf("WWW-Authenticate = %q, want no error attribute for a request without a token", challenge)
		}
		if body["error"] != "invalid_request" {
			t.Errorf("body error = %q, want invalid_request (the token is missing)", body["error"])
		}
		return
	}
	if !strings.Contains(challenge, `error="`+wantError+`"`) || !strings.Contains(challenge, "error_description=") {
		t.Errorf("WWW-Authenticate = %q, want error=%q with a description", challenge, wantError)
	}
	if body["error"] != wantError {
		t.Errorf("body error = %q, want %q", body["error"], wantError)
	}
}

func TestJWTAuthPassesUserAndClaimsUpstream(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	b := jwttest.NewRSA(t, 2048, "RS256")
	be := newBackend(t)
	g := jwtAuthSite(t, a.PublicPEM(t, dir), "", b.PublicPEM(t, dir), be, "")
	c := jwttest.Claims(issuerA, "api://payments", "alice", time.Now())
	c["roles"] = []string{"teller", "auditor"}
	res := g.do("GET", "/accounts", nil,
		"Authorization", "Bearer "+a.Token(t, c, nil),
		"X-User", "mallory") // a client-sent copy must not survive
	if res.Status != 200 {
		t.Fatalf("status = %d, body %s", res.Status, res.Body)
	}
	got := be.Requests()[0].Header
	if v := got.Values("X-User"); len(v) != 1 || v[0] != "alice" {
		t.Errorf("backend X-User = %q, want [alice]", v)
	}
	if v := got.Get("X-Roles"); v != "teller,auditor" {
		t.Errorf("backend X-Roles = %q, want teller,auditor", v)
	}
}

// Seed 000: the JWT travels in CX-Authorization and Authorization must be empty.
func TestJWTAuthCustomHeaderWithEmptyAuthorization(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	be := newBackend(t)
	g := startGateway(t, fmt.Sprintf(`
http://127.0.0.1:{PORT} {
	jwt_auth {
		issuer %s {
			key %s
		}
		audience bank
		token header CX-Authorization
		require_empty Authorization
		realm dcm
	}
	reverse_proxy %s
}
`, issuerA, a.PublicPEM(t, dir), be.Addr()))
	tok := a.Token(t, jwttest.Claims(issuerA, "bank", "employee-7", time.Now()), nil)

	for _, tc := range []struct {
		name       string
		headers    []string
		wantStatus int
		wantError  string
	}{
		{"token in CX-Authorization passes", []string{"CX-Authorization", tok}, 200, ""},
		{"empty Authorization header is allowed", []string{"CX-Authorization", tok, "Authorization", ""}, 200, ""},
		{"Authorization with a value is refused", []string{"CX-Authorization", tok, "Authorization", "Bearer " + tok}, 400, "invalid_request"},
		{"Authorization alone is not a token here", []string{"Authorization", "Bearer " + tok}, 400, "invalid_request"},
		{"no CX-Authorization is a bare challenge", nil, 401, ""},
		{"two CX-Authorization headers are refused", []string{"CX-Authorization", tok, "CX-Authorization", tok}, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(be.Requests())
			res := g.do("POST", "/customers", strings.NewReader(`{}`), tc.headers...)
			if res.Status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", res.Status, tc.wantStatus, res.Body)
			}
			if reached := len(be.Requests()) > before; reached != (tc.wantStatus == 200) {
				t.Fatalf("backend reached = %v, want %v", reached, tc.wantStatus == 200)
			}
			if tc.wantStatus != 200 {
				checkRejection(t, res, tc.wantStatus, tc.wantError, "dcm")
			}
		})
	}
}

func TestJWTAuthCookieAndQueryLocations(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEd25519(t)
	be := newBackend(t)
	g := startGateway(t, fmt.Sprintf(`
http://127.0.0.1:{PORT} {
	jwt_auth {
		issuer %s {
			key %s
		}
		audience x
		token cookie session
		token query access_token
	}
	reverse_proxy %s
}
`, issuerA, a.PublicPEM(t, dir), be.Addr()))
	tok := a.Token(t, jwttest.Claims(issuerA, "x", "bob", time.Now()), nil)

	if res := g.do("GET", "/", nil, "Cookie", "session="+tok); res.Status != 200 {
		t.Errorf("cookie: status = %d, want 200 (%s)", res.Status, res.Body)
	}
	if res := g.do("GET", "/?access_token="+tok, nil); res.Status != 200 {
		t.Errorf("query: status = %d, want 200 (%s)", res.Status, res.Body)
	}
	if res := g.do("GET", "/?access_token="+tok, nil, "Cookie", "session="+tok); res.Status != 400 {
		t.Errorf("cookie and query together: status = %d, want 400", res.Status)
	}
	if res := g.do("GET", "/", nil, "Authorization", "Bearer "+tok); res.Status != 401 {
		t.Errorf("Authorization when only cookie/query are configured: status = %d, want 401", res.Status)
	}
}

// The authentication provider runs the same engine inside Caddy's authentication handler.
func TestAuthenticationProviderJWT(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES384")
	be := newBackend(t)
	port := freePort(t)
	cfg := fmt.Sprintf(`{
	"admin": {"disabled": true, "config": {"persist": false}},
	"logging": {"logs": {"default": {"level": "ERROR"}}},
	"apps": {"http": {"servers": {"s": {
		"listen": ["127.0.0.1:%d"],
		"automatic_https": {"disable": true},
		"routes": [{"handle": [
			{"handler": "authentication", "providers": {"jwt": {
				"issuers": [{"issuer": %q, "keys": [{"path": %q}]}],
				"audience": ["api"]
			}}},
			{"handler": "reverse_proxy", "upstreams": [{"dial": %q}],
			 "headers": {"request": {"set": {"X-User": ["{http.auth.user.id}"], "X-Tier": ["{http.auth.user.tier}"]}}}}
		]}]
	}}}}
}`, port, issuerA, a.PublicPEM(t, dir), be.Addr())
	if err := loadCaddy([]byte(cfg)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopCaddy(t) })
	g := &gateway{t: t, Port: port, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	g.waitListening()

	c := jwttest.Claims(issuerA, "api", "carol", time.Now())
	c["tier"] = "gold"
	res := g.do("GET", "/", nil, "Authorization", "Bearer "+a.Token(t, c, nil))
	if res.Status != 200 {
		t.Fatalf("valid token: status = %d (%s)", res.Status, res.Body)
	}
	if h := be.Requests()[0].Header; h.Get("X-User") != "carol" || h.Get("X-Tier") != "gold" {
		t.Errorf("backend saw X-User=%q X-Tier=%q, want carol gold", h.Get("X-User"), h.Get("X-Tier"))
	}
	c["aud"] = "other"
	res = g.do("GET", "/", nil, "Authorization", "Bearer "+a.Token(t, c, nil))
	if res.Status != http.StatusUnauthorized {
		t.Fatalf("wrong audience: status = %d, want 401", res.Status)
	}
	if ch := res.Header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q, want invalid_token", ch)
	}
	if n := len(be.Requests()); n != 1 {
		t.Errorf("backend saw %d requests, want 1", n)
	}
}

// With verified_cache, a token presented again is served from memory: the answers and what the
// backend receives are the same as without it.
func TestJWTAuthVerifiedCacheKeepsAnswers(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	be := newBackend(t)
	g := startGateway(t, fmt.Sprintf(`
http://127.0.0.1:{PORT} {
	jwt_auth {
		issuer %s {
			key %s
		}
		audience api
		claim tier gold
		verified_cache 100
	}
	reverse_proxy %s {
		header_up X-User {http.auth.user.id}
	}
}
`, issuerA, a.PublicPEM(t, dir), be.Addr()))
	c := jwttest.Claims(issuerA, "api", "dave", time.Now())
	c["tier"] = "gold"
	tok := a.Token(t, c, nil)
	c["tier"] = "silver"
	silver := a.Token(t, c, nil)
	for i := range 3 {
		if res := g.do("GET", "/", nil, "Authorization", "Bearer "+tok); res.Status != 200 {
			t.Fatalf("request %d: status %d (%s)", i, res.Status, res.Body)
		}
		if res := g.do("GET", "/", nil, "Authorization", "Bearer "+silver); res.Status != 403 {
			t.Fatalf("request %d with the failing claim rule: status %d, want 403", i, res.Status)
		}
	}
	reqs := be.Requests()
	if len(reqs) != 3 {
		t.Fatalf("backend saw %d requests, want 3", len(reqs))
	}
	for _, r := range reqs {
		if r.Header.Get("X-User") != "dave" {
			t.Errorf("backend X-User = %q, want dave", r.Header.Get("X-User"))
		}
	}
}

// INTERFACE.md Wave 2: `audience any` is the explicit opt-out of the required audience, per
// issuer here: that issuer's tokens pass whatever their aud, the other issuer keeps the
// top-level audience, and provision warns once.
func TestJWTAuthAudienceAnyOptOut(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	b := jwttest.NewEC(t, "ES256")
	logFile := filepath.Join(dir, "caddy.log")
	g := startGateway(t, fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s
	log {
		output file %s
		level WARN
	}
}
http://127.0.0.1:{PORT} {
	jwt_auth {
		issuer %s {
			key %s
		}
		issuer %s {
			key %s
			audience any
		}
		audience api
	}
	respond "hello {http.auth.user.id}"
}
`, dir, logFile, issuerA, a.PublicPEM(t, dir), issuerB, b.PublicPEM(t, dir)))
	now := time.Now()
	if res := g.do("GET", "/", nil, bearer(b.Token(t, jwttest.Claims(issuerB, "any-other-service", "bob", now), nil))...); res.Status != 200 {
		t.Errorf("issuer under audience any, foreign aud: status %d, want 200 (%s)", res.Status, res.Body)
	}
	if res := g.do("GET", "/", nil, bearer(a.Token(t, jwttest.Claims(issuerA, "any-other-service", "alice", now), nil))...); res.Status != 401 {
		t.Errorf("issuer under the top-level audience, foreign aud: status %d, want 401", res.Status)
	}
	if res := g.do("GET", "/", nil, bearer(a.Token(t, jwttest.Claims(issuerA, "api", "alice", now), nil))...); res.Status != 200 {
		t.Errorf("issuer under the top-level audience, aud api: status %d, want 200", res.Status)
	}
	logs, _ := os.ReadFile(logFile)
	if n := strings.Count(string(logs), "audience any"); n != 1 {
		t.Errorf("the log has %d audience any warnings, want 1:\n%s", n, logs)
	}
	if !strings.Contains(string(logs), issuerB) {
		t.Errorf("the audience any warning does not name the issuer %s:\n%s", issuerB, logs)
	}
}
