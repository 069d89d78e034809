package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/jwttest"
)

// keyServer is a loopback JWKS and discovery server that the test controls.
type keyServer struct {
	*httptest.Server
	mu     sync.Mutex
	status int               // answer status; 200 serves the documents
	keys   []*jwttest.Signer // the JWK Set at /jwks
	docs   map[string][]byte // other paths (discovery documents)
	gate   chan struct{}     // when set, requests wait until it is closed
	hits   map[string]int    // requests per path
	t      *testing.T
}

func newKeyServer(t *testing.T) *keyServer {
	t.Helper()
	s := &keyServer{status: http.StatusOK, docs: map[string][]byte{}, hits: map[string]int{}, t: t}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *keyServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	status, gate, doc := s.status, s.gate, s.docs[r.URL.Path]
	var body []byte
	if r.URL.Path == "/jwks" {
		body = jwttest.JWKS(s.t, s.keys...)
	}
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if status != http.StatusOK {
		http.Error(w, "down", status)
		return
	}
	if body == nil {
		body = doc
	}
	if body == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=3600")
	_, _ = w.Write(body)
}

func (s *keyServer) set(f func(s *keyServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *keyServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// signer makes an ES256 test key with the given kid.
func signer(t *testing.T, kid string) *jwttest.Signer {
	t.Helper()
	s := jwttest.NewEC(t, "ES256")
	s.KID = kid
	return s
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// eventually polls the gateway until check passes (bounded: 10 s), for background fetches.
func eventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	for range 200 {
		if check() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// adminGet fetches a path from the gateway's admin endpoint.
func adminGet(t *testing.T, adminPort int, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", adminPort, path), nil)
	req.Host = fmt.Sprintf("127.0.0.1:%d", adminPort)
	res, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("admin GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// remoteRefreshers counts the JWKS refresh goroutines in the process.
func remoteRefreshers() int {
	buf := make([]byte, 4<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "keys.(*Remote).run(")
}

func TestRemoteJWKSOutageRecoveryAndRotation(t *testing.T) {
	const iss = "https://issuer.example"
	ks := newKeyServer(t)
	k1, k2, k3 := signer(t, "k1"), signer(t, "k2"), signer(t, "k3")
	ks.set(func(s *keyServer) { s.status = http.StatusInternalServerError; s.keys = []*jwttest.Signer{k1} })
	adminPort := freePort(t)
	g := startGateway(t, fmt.Sprintf(`{
	admin 127.0.0.1:%d
	jwks {
		allow_http %s
		miss_cooldown 20ms
	}
}
http://127.0.0.1:{PORT} {
	jwt_auth {
		issuer %s {
			jwks_url %s/jwks
		}
		audience api
	}
	respond "hello {http.auth.user.id}"
}
`, adminPort, ks.URL, iss, ks.URL))
	now := time.Now()
	tok1 := k1.Token(t, jwttest.Claims(iss, "api", "alice", now), nil)

	// The issuer is down at start: 503 with Retry-After, not 401.
	r := g.do(http.MethodGet, "/", nil, bearer(tok1)...)
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("with the issuer down: status %d, Retry-After %q; want 503 with Retry-After", r.Status, r.Header.Get("Retry-After"))
	}
	if m := r.JSON(t); m["error"] != "temporarily_unavailable" {
		t.Errorf("error = %q, want temporarily_unavailable", m["error"])
	}
	if code, body := adminGet(t, adminPort, "/jwks/"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"ready":false`) {
		t.Errorf("GET /jwks/ while down = %d %s, want 503 not ready", code, body)
	}
	// A token from an unknown issuer is 401, whatever the keys' state.
	other := k1.Token(t, jwttest.Claims("https://other.example", "api", "eve", now), nil)
	if r := g.do(http.MethodGet, "/", nil, bearer(other)...); r.Status != http.StatusUnauthorized {
		t.Errorf("unknown issuer: status %d, want 401", r.Status)
	}

	// The issuer comes back: the backoff retries recover without a reload.
	ks.set(func(s *keyServer) { s.status = http.StatusOK })
	eventually(t, "recovery", func() bool { return g.do(http.MethodGet, "/", nil, bearer(tok1)...).Status == http.StatusOK })
	if r := g.do(http.MethodGet, "/", nil, bearer(tok1)...); r.Body != "hello alice" {
		t.Errorf("body = %q, want hello alice", r.Body)
	}
	code, body := adminGet(t, adminPort, "/jwks/")
	var states []map[string]any
	if err := json.Unmarshal([]byte(body), &states); err != nil || code != http.StatusOK || len(states) != 1 || states[0]["ready"] != true {
		t.Errorf("GET /jwks/ after recovery = %d %s, want 200 with one ready URL", code, body)
	}

	// Rotation in: a token with the new kid is accepted after one forced fetch.
	before := ks.count("/jwks")
	ks.set(func(s *keyServer) { s.keys = []*jwttest.Signer{k1, k2} })
	tok2 := k2.Token(t, jwttest.Claims(iss, "api", "bob", now), nil)
	if r := g.do(http.MethodGet, "/", nil, bearer(tok2)...); r.Status != http.StatusOK {
		t.Fatalf("token with the rotated-in kid: status %d, want 200 (%s)", r.Status, r.Body)
	}
	if got := ks.count("/jwks") - before; got != 1 {
		t.Errorf("fetches for the new kid = %d, want 1", got)
	}

	// Rotation out: after the next successful fetch, the removed kid is rejected.
	ks.set(func(s *keyServer) { s.keys = []*jwttest.Signer{k2, k3} })
	time.Sleep(30 * time.Millisecond) // past the 20ms miss cooldown
	tok3 := k3.Token(t, jwttest.Claims(iss, "api", "carol", now), nil)
	if r := g.do(http.MethodGet, "/", nil, bearer(tok3)...); r.Status != http.StatusOK {
		t.Fatalf("token with k3: status %d, want 200", r.Status)
	}
	r = g.do(http.MethodGet, "/", nil, bearer(tok1)...)
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("token with the removed kid: status %d (%s), want 401 invalid_token", r.Status, r.Header.Get("WWW-Authenticate"))
	}

	// Metrics are in Caddy's registry.
	_, metrics := adminGet(t, adminPort, "/metrics")
	for _, want := range []string{
		`obgate_jwks_fetches_total{result="http_status",url="` + ks.URL + `/jwks"}`,
		`obgate_jwks_fetches_total{result="ok",url="` + ks.URL + `/jwks"}`,
		`obgate_jwks_forced_refreshes_total{url="` + ks.URL + `/jwks"}`,
		`obgate_jwks_keys{issuer="` + iss + `",url="` + ks.URL + `/jwks"} 2`,
		`obgate_jwks_staleness_seconds{url="` + ks.URL + `/jwks"} 0`,
		`obgate_jwt_verifications_total{reason="keys_unavailable",result="unavailable"}`,
		`obgate_jwt_verifications_total{reason="none",result="valid"}`,
		`obgate_jwt_verifications_total{reason="unknown_kid",result="invalid"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestRemoteDiscovery(t *testing.T) {
	ks := newKeyServer(t)
	k1 := signer(t, "k1")
	good, bad := ks.URL+"/good", ks.URL+"/bad"
	ks.set(func(s *keyServer) {
		s.keys = []*jwttest.Signer{k1}
		s.docs["/good/.well-known/openid-configuration"] = fmt.Appendf(nil, `{"issuer":%q,"jwks_uri":%q}`, good, ks.URL+"/jwks")
		s.docs["/bad/.well-known/openid-configuration"] = fmt.Appendf(nil, `{"issuer":"https://evil.example","jwks_uri":%q}`, ks.URL+"/jwks")
	})
	adminPort := freePort(t)
	g := startGateway(t, fmt.Sprintf(`{
	admin 127.0.0.1:%d
	jwks {
		allow_http %s
	}
}
http://127.0.0.1:{PORT} {
	jwt_auth {
		issuer %s {
			discovery %s
		}
		issuer %s {
			discovery %s/.well-known/openid-configuration
		}
		audience api
	}
	respond "hello {http.auth.user.id}"
}
`, adminPort, ks.URL, good, good, bad, bad))
	now := time.Now()
	tokGood := k1.Token(t, jwttest.Claims(good, "api", "alice", now), nil)
	eventually(t, "keys through discovery", func() bool { return g.do(http.MethodGet, "/", nil, bearer(tokGood)...).Status == http.StatusOK })

	// The document for the bad issuer names another issuer: refused, its keys never used.
	tokBad := k1.Token(t, jwttest.Claims(bad, "api", "mallory", now), nil)
	r := g.do(http.MethodGet, "/", nil, bearer(tokBad)...)
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Errorf("issuer whose discovery document names another: status %d, want 503 with Retry-After", r.Status)
	}
	// The bad issuer's first fetch fails in the background; wait (bounded) until it is recorded.
	var code int
	var body string
	eventually(t, "the issuer mismatch recorded", func() bool {
		code, body = adminGet(t, adminPort, "/jwks/")
		return strings.Contains(body, "another issuer")
	})
	if code != http.StatusServiceUnavailable {
		t.Errorf("GET /jwks/ = %d %s, want 503 naming the issuer mismatch", code, body)
	}
}

func TestRemoteReloadDuringFetchKeepsCacheAndLeavesNothingBehind(t *testing.T) {
	const iss = "https://issuer.example"
	before := remoteRefreshers()
	ks := newKeyServer(t)
	k1 := signer(t, "k1")
	gate := make(chan struct{})
	ks.set(func(s *keyServer) { s.keys = []*jwttest.Signer{k1}; s.gate = gate })
	config := func(greeting string) string {
		return fmt.Sprintf(`{
	jwks {
		allow_http %s
	}
}
http://127.0.0.1:{PORT} {
	jwt_auth {
		issuer %s {
			jwks_url %s/jwks
		}
		audience api
	}
	respond "%s {http.auth.user.id}"
}
`, ks.URL, iss, ks.URL, greeting)
	}
	tok := k1.Token(t, jwttest.Claims(iss, "api", "alice", time.Now()), nil)

	// Config 1 starts; its first fetch hangs at the issuer.
	g := startGateway(t, config("one"))
	eventually(t, "the first fetch to start", func() bool { return ks.count("/jwks") == 1 })
	if r := g.do(http.MethodGet, "/", nil, bearer(tok)...); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("before the first fetch completes: status %d, want 503", r.Status)
	}

	// Config 2 replaces it while the fetch is in flight; then the issuer answers.
	g = startGateway(t, config("two"))
	close(gate)
	eventually(t, "keys after the reload", func() bool { return g.do(http.MethodGet, "/", nil, bearer(tok)...).Status == http.StatusOK })
	if got := ks.count("/jwks"); got != 1 {
		t.Errorf("fetches across a reload during a fetch = %d, want 1 (the fetch in flight carried over)", got)
	}

	// Config 3: warm keys at once, no fetch.
	g = startGateway(t, config("three"))
	if r := g.do(http.MethodGet, "/", nil, bearer(tok)...); r.Status != http.StatusOK || r.Body != "three alice" {
		t.Errorf("right after a reload: %d %q, want 200 three alice (warm keys)", r.Status, r.Body)
	}
	if got := ks.count("/jwks"); got != 1 {
		t.Errorf("fetches after two reloads = %d, want 1", got)
	}
	if got := remoteRefreshers() - before; got != 1 {
		t.Errorf("refresh goroutines after reloads = %d, want 1", got)
	}

	// The last config goes: nothing is left behind.
	stopCaddy(t)
	if got := remoteRefreshers() - before; got != 0 {
		t.Errorf("refresh goroutines after stop = %d, want 0", got)
	}
}
