package dcrhandler

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
	"go.uber.org/zap"

	"github.com/obgate/obgate/caddyjwt/keys"
)

// testKey is an RSA test key that signs PS256 tokens.
type testKey struct {
	kid  string
	priv *rsa.PrivateKey
}

var (
	keysOnce sync.Once
	keyPool  [4]*testKey
)

// testKeys returns four RSA keys, generated once per test binary: directory, software, other, spare.
func testKeys(t testing.TB) (dir, soft, other, spare *testKey) {
	t.Helper()
	keysOnce.Do(func() {
		for i := range keyPool {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keyPool[i] = &testKey{kid: fmt.Sprintf("key-%d", i), priv: k}
		}
	})
	return keyPool[0], keyPool[1], keyPool[2], keyPool[3]
}

// sign makes a compact JWS over claims with a header {alg PS256, kid, typ JWT} plus extra
// members (a nil value removes one).
func (k *testKey) sign(t testing.TB, claims map[string]any, extra map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": "PS256", "kid": k.kid, "typ": "JWT"}
	for n, v := range extra {
		if v == nil {
			delete(h, n)
			continue
		}
		h[n] = v
	}
	hj, _ := json.Marshal(h)
	cj, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64(hj) + "." + b64(cj)
	sig, err := jwsbb.Sign(k.priv, "PS256", []byte(input), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwk returns the public JWK of the key, with its kid.
func (k *testKey) jwk(t testing.TB) map[string]any {
	t.Helper()
	jk, err := jwk.Import(&k.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(jk)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	m["kid"] = k.kid
	return m
}

// jwks is a JWK Set document of the keys.
func jwks(t testing.TB, ks ...*testKey) []byte {
	t.Helper()
	list := make([]map[string]any, len(ks))
	for i, k := range ks {
		list[i] = k.jwk(t)
	}
	data, _ := json.Marshal(map[string]any{"keys": list})
	return data
}

// publicPEM writes the public key as PEM in dir.
func (k *testKey) publicPEM(t testing.TB, dir string) string {
	t.Helper()
	der, _ := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
	p := filepath.Join(dir, k.kid+".pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	testDirectory = "https://directory.example"
	testAudience  = "https://bank.example/"
	testSoftware  = "software-1"
	testRedirect  = "https://client.example/cb"
)

// fixture is a directory, a software with a JWKS served over plain http on loopback (allowed by
// an http:// jwks_uri_allow entry), and a clock.
type fixture struct {
	t          testing.TB
	now        time.Time
	dir, soft  *testKey
	other      *testKey
	dirKeyPath string
	storageDir string
	jwksSrv    *httptest.Server
	jwksBody   atomic.Pointer[[]byte]
	jwksStatus atomic.Int32
	conns      atomic.Int64
	jtiSeq     atomic.Int64

	mu      sync.Mutex
	remotes []*sharedRemote // the shared caches the handlers leased, in order
}

// sharedRemote is a directory jwks_url cache that a fixture handler leased: a keys.Remote that the
// test starts when it wants (the jwks app starts it with the config), and whether it was released.
type sharedRemote struct {
	*keys.Remote
	released atomic.Bool
}

// sharedJWKS stands in for the jwks app's pool: a keys.Remote per lease, with plain http allowed
// to 127.0.0.1 as `jwks { allow_http http://127.0.0.1:<port> }` would. It is not started.
func (f *fixture) sharedJWKS(_ caddy.Context, rawURL, issuer string) (keys.Source, func(), error) {
	r, err := keys.NewRemote(rawURL, keys.RemoteOptions{
		Issuer:    issuer,
		AllowHTTP: func(u *url.URL) bool { return u.Hostname() == "127.0.0.1" },
	})
	if err != nil {
		return nil, nil, err
	}
	sr := &sharedRemote{Remote: r}
	f.mu.Lock()
	f.remotes = append(f.remotes, sr)
	f.mu.Unlock()
	f.t.Cleanup(r.Close)
	return r, func() { sr.released.Store(true); r.Close() }, nil
}

// lastRemote is the shared cache leased last.
func (f *fixture) lastRemote() *sharedRemote {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.remotes) == 0 {
		f.t.Fatal("no shared JWKS cache was leased")
	}
	return f.remotes[len(f.remotes)-1]
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, now: time.Unix(1_760_000_000, 0)}
	f.dir, f.soft, f.other, _ = testKeys(t)
	f.dirKeyPath = f.dir.publicPEM(t, t.TempDir())
	f.storageDir = t.TempDir()
	body := jwks(t, f.soft)
	f.jwksBody.Store(&body)
	f.jwksStatus.Store(http.StatusOK)
	f.jwksSrv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(f.jwksStatus.Load()))
		_, _ = w.Write(*f.jwksBody.Load())
	}))
	f.jwksSrv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.jwksSrv.Start()
	t.Cleanup(f.jwksSrv.Close)
	return f
}

// jwksURL is the software's JWKS URL on the loopback server.
func (f *fixture) jwksURL() string { return f.jwksSrv.URL + "/software.jwks" }

// jwksHost is the JWKS server's jwks_uri_allow entry: http://127.0.0.1:<port>.
func (f *fixture) jwksHost() string { return f.jwksSrv.URL }

// handler provisions a handler for profile with file storage in f.storageDir.
func (f *fixture) handler(t testing.TB, profile string, mutate func(*Handler)) *Handler {
	t.Helper()
	h, err := f.tryHandler(profile, mutate)
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	return h
}

func (f *fixture) tryHandler(profile string, mutate func(*Handler)) (*Handler, error) {
	aud := testAudience
	if profile == "revolut" {
		aud = "revolut"
	}
	h := &Handler{
		Profile:      profile,
		Directories:  []Directory{{Issuer: testDirectory, Keys: []KeyFile{{Path: f.dirKeyPath, KeyID: f.dir.kid}}}},
		Audience:     []string{aud},
		JWKSURIAllow: []string{f.jwksHost()},
	}
	if mutate != nil {
		mutate(h)
	}
	h.clock = func() time.Time { return f.now }
	h.sharedRemote = f.sharedJWKS
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := h.provision(ctx, &certmagic.FileStorage{Path: f.storageDir}); err != nil {
		return nil, err
	}
	f.t.Cleanup(func() { _ = h.Cleanup() })
	h.logger = zap.NewNop()
	return h, nil
}

// ssaClaims are valid software statement claims for profile.
func (f *fixture) ssaClaims(profile string) map[string]any {
	c := map[string]any{
		"iss":         testDirectory,
		"iat":         f.now.Unix(),
		"jti":         "ssa-jti",
		"software_id": testSoftware,
	}
	switch profile {
	case "obie", "revolut":
		c["software_jwks_endpoint"] = f.jwksURL()
		c["software_redirect_uris"] = []string{testRedirect, "https://client.example/other"}
		c["org_status"] = "Active"
	case "cdr":
		c["jwks_uri"] = f.jwksURL()
		c["exp"] = f.now.Add(5 * time.Minute).Unix()
		c["redirect_uris"] = []string{testRedirect}
	default:
		c["jwks_uri"] = f.jwksURL()
	}
	return c
}

// requestClaims are valid request JWT claims for profile carrying ssa.
func (f *fixture) requestClaims(profile, ssa string) map[string]any {
	c := map[string]any{
		"iss":                testSoftware,
		"aud":                testAudience,
		"iat":                f.now.Unix(),
		"exp":                f.now.Add(5 * time.Minute).Unix(),
		"jti":                fmt.Sprintf("jti-%d", f.jtiSeq.Add(1)),
		"redirect_uris":      []string{testRedirect},
		"software_statement": ssa,
	}
	switch profile {
	case "obie":
		c["token_endpoint_auth_method"] = "private_key_jwt"
		c["token_endpoint_auth_signing_alg"] = "PS256"
	case "cdr":
		for k, v := range cdrRequestMetadata() {
			c[k] = v
		}
	case "revolut":
		c["aud"] = "revolut"
		c["scope"] = "openid accounts"
		c["token_endpoint_auth_method"] = "tls_client_auth"
		c["application_type"] = "web"
		c["id_token_signed_response_alg"] = "PS256"
		c["request_object_signing_alg"] = "PS256"
		c["tls_client_auth_dn"] = "CN=client.example,O=Example Ltd,C=GB"
	}
	return c
}

// cdrRequestMetadata is the metadata a CDR Data Recipient sends (CDR DCR API, ClientRegistration):
// every member the CDR rules require, for the hybrid flow and JARM both.
func cdrRequestMetadata() map[string]any {
	return map[string]any{
		"token_endpoint_auth_method":        "private_key_jwt",
		"token_endpoint_auth_signing_alg":   "PS256",
		"grant_types":                       []string{"client_credentials", "authorization_code", "refresh_token"},
		"response_types":                    []string{"code id_token", "code"},
		"application_type":                  "web",
		"id_token_signed_response_alg":      "PS256",
		"id_token_encrypted_response_alg":   "RSA-OAEP",
		"id_token_encrypted_response_enc":   "A256GCM",
		"request_object_signing_alg":        "PS256",
		"authorization_signed_response_alg": "PS256",
	}
}

// requestJWT builds a signed request for profile; mutateSSA and mutateReq may change the claims.
func (f *fixture) requestJWT(profile string, mutateSSA, mutateReq func(map[string]any)) string {
	sc := f.ssaClaims(profile)
	if mutateSSA != nil {
		mutateSSA(sc)
	}
	ssa := f.dir.sign(f.t, sc, nil)
	rc := f.requestClaims(profile, ssa)
	if mutateReq != nil {
		mutateReq(rc)
	}
	return f.soft.sign(f.t, rc, nil)
}

// do sends a request to the handler and returns the recorded answer.
func do(t testing.TB, h *Handler, method, target, contentType, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, bytes.NewBufferString(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, nil); err != nil {
		t.Fatalf("ServeHTTP returned %v", err)
	}
	return w
}

// post registers a request JWT.
func post(t testing.TB, h *Handler, token string) *httptest.ResponseRecorder {
	t.Helper()
	return do(t, h, http.MethodPost, "/register", "application/jwt", token)
}

// decode reads a JSON answer.
func decode(t testing.TB, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("answer is not JSON: %v: %q", err, w.Body.String())
	}
	return m
}

// expectError checks an error answer's status, code and that the description names field.
func expectError(t testing.TB, w *httptest.ResponseRecorder, status int, code, field string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body.String())
	}
	m := decode(t, w)
	if m["error"] != code {
		t.Errorf("error = %v, want %s (description %q)", m["error"], code, m["error_description"])
	}
	if desc, _ := m["error_description"].(string); field != "" && !strings.Contains(desc, field) {
		t.Errorf("error_description = %q, want it to name %q", desc, field)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
}
