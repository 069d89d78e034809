package integration

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/jwttest"
)

// asWorld is an authorization-server site on https://localhost with optional client
// certificates (a CA made here, a client certificate with the registered DN and one without),
// a static private_key_jwt client, a static tls_client_auth client, a dcr handler whose
// registrations are clients too, an API behind jwt_auth that trusts the signer, the JWKS and
// the metadata document.
type asWorld struct {
	t        *testing.T
	dcr      *dcrWorld
	ca       *x509.Certificate
	caPath   string
	certPath string
	keyPath  string
	client   tls.Certificate // CN=client.example,O=Example Ltd,C=GB
	other    tls.Certificate // CN=other.example
	pk       *jwttest.Signer // the static private_key_jwt client's key
	pkPath   string
	seq      atomic.Int64
	g        *gateway
	jwksPort int // the plain-http site serving the signer's JWKS
}

const (
	asIssuer   = "https://as.test"
	asAudience = "https://api.test"
	clientDN   = "CN=client.example,O=Example Ltd,C=GB"
)

func newASWorld(t *testing.T) *asWorld {
	t.Helper()
	w := &asWorld{t: t, dcr: newDCRWorld(t)}
	dir := t.TempDir()
	ca, caKey := makeCA(t)
	w.ca = ca
	w.caPath = writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Raw)
	serverCert, serverKey := issueCert(t, ca, caKey, pkix.Name{CommonName: "localhost"}, true)
	w.certPath = writePEM(t, dir, "server.pem", "CERTIFICATE", serverCert.Raw)
	w.keyPath = writePEM(t, dir, "server-key.pem", "EC PRIVATE KEY", serverKey)
	tlsCert := func(subject pkix.Name) tls.Certificate {
		cert, keyDER := issueCert(t, ca, caKey, subject, false)
		key, err := x509.ParseECPrivateKey(keyDER)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	}
	w.client = tlsCert(pkix.Name{CommonName: "client.example", Organization: []string{"Example Ltd"}, Country: []string{"GB"}})
	w.other = tlsCert(pkix.Name{CommonName: "other.example"})
	w.pk = jwttest.NewRSA(t, 2048, "PS256")
	w.pkPath = w.pk.PublicPEM(t, dir)
	w.jwksPort = freePort(t)
	return w
}

// caddyfile is the site; extra goes into the token_endpoint block.
func (w *asWorld) caddyfile(extra string) string {
	return fmt.Sprintf(`{
	admin off
	auto_https off
	persist_config off
	storage file_system %[1]s
	jwt_signer main
	jwks {
		allow_http http://127.0.0.1:%[16]d
	}
	log {
		level ERROR
	}
}
# The signer's JWKS on plain loopback http, for the API's jwt_auth (a verifier that knows the
# signer only by its published keys).
http://127.0.0.1:%[16]d {
	jwt_jwks main
}
https://localhost:{PORT} {
	tls %[2]s %[3]s {
		client_auth {
			mode verify_if_given
			trust_pool file %[4]s
		}
	}
	handle /token {
		token_endpoint {
			signer main
			issuer %[5]s
			audience %[6]s
			name main-token
			clients reg
			client pk-client {
				auth private_key_jwt
				key %[7]s
				scope accounts payments
				claim roles reader approver
			}
			client mtls-client {
				auth tls_client_auth
				subject_dn "%[8]s"
				scope accounts
			}
			%[9]s
		}
	}
	handle /register* {
		dcr {
			profile obie
			directory %[10]s {
				key %[11]s
			}
			audience %[12]s
			jwks_uri_allow http://%[13]s
			name reg
			token_endpoint main-token
		}
	}
	handle /api* {
		jwt_auth {
			issuer %[14]s {
				signer main
			}
			audience %[15]s
		}
		respond "hello {http.auth.user.id} {http.auth.user.roles}"
	}
	# The same API for a verifier that knows the signer only by its published JWKS.
	handle /remote-api* {
		jwt_auth {
			issuer %[14]s {
				jwks_url http://127.0.0.1:%[16]d/
			}
			audience %[15]s
		}
		respond "hello {http.auth.user.id} {http.auth.user.roles}"
	}
	handle /jwks {
		jwt_jwks main
	}
	handle /.well-known/oauth-authorization-server {
		oauth_metadata {
			token_endpoint https://localhost:{PORT}/token
			jwks_uri https://localhost:{PORT}/jwks
			registration_endpoint https://localhost:{PORT}/register
			from main-token
			field scopes_supported `+"`"+`["accounts", "payments"]`+"`"+`
		}
	}
	respond 404
}
`, w.dcr.storage, w.certPath, w.keyPath, w.caPath, asIssuer, asAudience, w.pkPath, clientDN, extra,
		dcrDirectory, w.dcr.dirKeyPath, dcrAudience, strings.TrimPrefix(w.dcr.jwks.URL, "http://"), asIssuer, asAudience, w.jwksPort)
}

func (w *asWorld) start(extra string) *gateway {
	w.g = startGateway(w.t, w.caddyfile(extra))
	return w.g
}

func (w *asWorld) base() string { return fmt.Sprintf("https://localhost:%d", w.g.Port) }

// httpClient trusts the test CA and presents cert when it is not nil.
func (w *asWorld) httpClient(cert *tls.Certificate) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(w.ca)
	cfg := &tls.Config{RootCAs: roots}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// send makes a request to the site; headers are name/value pairs.
func (w *asWorld) send(cert *tls.Certificate, method, path string, body io.Reader, headers ...string) response {
	w.t.Helper()
	req, err := http.NewRequest(method, w.base()+path, body)
	if err != nil {
		w.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := w.httpClient(cert).Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// token posts a token request form.
func (w *asWorld) token(cert *tls.Certificate, form url.Values) response {
	w.t.Helper()
	return w.send(cert, "POST", "/token", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
}

// assertion is a client assertion of clientID signed by s (RFC 7523 §3), mutated by mutate.
func (w *asWorld) assertion(s *jwttest.Signer, clientID string, mutate func(map[string]any)) string {
	now := time.Now()
	c := map[string]any{
		"iss": clientID, "sub": clientID, "aud": asIssuer, "jti": fmt.Sprintf("jti-%d-%d", now.UnixNano(), w.seq.Add(1)),
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
	}
	if mutate != nil {
		mutate(c)
	}
	return s.Token(w.t, c, nil)
}

func pkForm(assertion string, kv ...string) url.Values {
	v := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// granted checks a 200 token answer and returns the access token's header and claims.
func granted(t *testing.T, r response) (token string, header, claims map[string]any) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("token status = %d, want 200; body %s", r.Status, r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
		t.Fatalf("token body: %v: %s", err, r.Body)
	}
	if body["token_type"] != "Bearer" {
		t.Errorf("token_type = %v, want Bearer", body["token_type"])
	}
	if body["expires_in"] != float64(300) {
		t.Errorf("expires_in = %v, want 300", body["expires_in"])
	}
	if _, ok := body["scope"].(string); !ok {
		t.Errorf("scope = %v, want a string", body["scope"])
	}
	token, _ = body["access_token"].(string)
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("access_token is not a compact JWS: %q", token)
	}
	decode := func(seg string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	return token, decode(parts[0]), decode(parts[1])
}

// refused checks an RFC 6749 §5.2 answer.
func refused(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	m := r.JSON(t)
	if m["error"] != code {
		t.Errorf("error = %q (%s), want %s", m["error"], m["error_description"], code)
	}
	if m["error_description"] == "" {
		t.Error("no error_description")
	}
	if strings.Contains(r.Body, "access_token") || strings.Contains(r.Body, "eyJ") {
		t.Errorf("a refusal carries a token: %s", r.Body)
	}
}

// api calls the API behind jwt_auth with `issuer { signer main }`.
func (w *asWorld) api(cert *tls.Certificate, token string) response {
	w.t.Helper()
	return w.send(cert, "GET", "/api/accounts", nil, "Authorization", "Bearer "+token)
}

// remoteAPI calls the API whose jwt_auth has the signer's keys from its JWKS; while that cache
// has not fetched them yet (503 just after the config starts), it asks again, for at most 5 s.
func (w *asWorld) remoteAPI(cert *tls.Certificate, token string) response {
	w.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		res := w.send(cert, "GET", "/remote-api/accounts", nil, "Authorization", "Bearer "+token)
		if res.Status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return res
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTokenPrivateKeyJWTIssuesAnRFC9068Token(t *testing.T) {
	w := newASWorld(t)
	w.start("")
	for _, aud := range []string{asIssuer, "ENDPOINT"} {
		t.Run("aud "+aud, func(t *testing.T) {
			if aud == "ENDPOINT" {
				aud = w.base() + "/token"
			}
			a := w.assertion(w.pk, "pk-client", func(c map[string]any) { c["aud"] = aud })
			token, header, claims := granted(t, w.token(nil, pkForm(a, "scope", "accounts")))
			if header["typ"] != "at+jwt" || header["alg"] != "ES256" || header["kid"] == nil {
				t.Errorf("header = %v, want typ at+jwt, alg ES256 and a kid", header)
			}
			for k, want := range map[string]any{"iss": asIssuer, "sub": "pk-client", "client_id": "pk-client", "aud": asAudience, "scope": "accounts"} {
				if claims[k] != want {
					t.Errorf("claim %s = %v, want %v", k, claims[k], want)
				}
			}
			if roles, _ := claims["roles"].([]any); len(roles) != 2 || roles[0] != "reader" || roles[1] != "approver" {
				t.Errorf("roles = %v, want [reader approver]", claims["roles"])
			}
			for _, k := range []string{"iat", "exp", "jti"} {
				if claims[k] == nil {
					t.Errorf("claim %s missing", k)
				}
			}
			if _, bound := claims["cnf"]; bound {
				t.Errorf("cnf = %v without a client certificate", claims["cnf"])
			}
			for _, call := range []func(*tls.Certificate, string) response{w.api, w.remoteAPI} {
				if res := call(nil, token); res.Status != 200 || res.Body != "hello pk-client reader,approver" {
					t.Fatalf("API call = %d %q, want 200 hello pk-client reader,approver", res.Status, res.Body)
				}
			}
		})
	}
}

func TestTokenTLSClientAuthIsCertificateBound(t *testing.T) {
	w := newASWorld(t)
	w.start("")
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"mtls-client"}}
	token, _, claims := granted(t, w.token(&w.client, form))
	cnf, _ := claims["cnf"].(map[string]any)
	if cnf["x5t#S256"] != thumbprint(w.client.Leaf) {
		t.Fatalf("cnf = %v, want x5t#S256 %s", claims["cnf"], thumbprint(w.client.Leaf))
	}
	if claims["scope"] != "accounts" {
		t.Errorf("scope = %v, want accounts (all of the client's)", claims["scope"])
	}
	if res := w.api(&w.client, token); res.Status != 200 {
		t.Fatalf("API with the bound certificate = %d %s, want 200", res.Status, res.Body)
	}
	if res := w.remoteAPI(&w.client, token); res.Status != 200 {
		t.Fatalf("API through the JWKS with the bound certificate = %d %s, want 200", res.Status, res.Body)
	}
	// RFC 8705 §3: a bound token without its certificate, or with another, is refused.
	for name, cert := range map[string]*tls.Certificate{"no certificate": nil, "another certificate": &w.other} {
		for _, call := range []func(*tls.Certificate, string) response{w.api, w.remoteAPI} {
			if res := call(cert, token); res.Status != 401 || !strings.Contains(res.Header.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("API with %s = %d %q, want 401 invalid_token", name, res.Status, res.Header.Get("WWW-Authenticate"))
			}
		}
	}
	tampered := []byte(token)
	tampered[len(tampered)-5] ^= 1
	if res := w.api(&w.client, string(tampered)); res.Status != 401 {
		t.Errorf("API with a tampered token = %d, want 401", res.Status)
	}
	// The other way: the certificate must be there and carry the registered DN.
	refused(t, w.token(nil, form), 401, "invalid_client")
	refused(t, w.token(&w.other, form), 401, "invalid_client")
}

func TestTokenPrivateKeyJWTOverMutualTLSIsBound(t *testing.T) {
	w := newASWorld(t)
	w.start("")
	a := w.assertion(w.pk, "pk-client", nil)
	token, _, claims := granted(t, w.token(&w.client, pkForm(a, "client_id", "pk-client")))
	if cnf, _ := claims["cnf"].(map[string]any); cnf["x5t#S256"] != thumbprint(w.client.Leaf) {
		t.Fatalf("cnf = %v, want the presented certificate's thumbprint", claims["cnf"])
	}
	if res := w.api(&w.client, token); res.Status != 200 {
		t.Fatalf("API = %d, want 200", res.Status)
	}
	if res := w.api(nil, token); res.Status != 401 {
		t.Fatalf("API without the certificate = %d, want 401", res.Status)
	}
	// The other way: a private_key_jwt client cannot authenticate with its certificate alone,
	// nor with an assertion signed by another key.
	refused(t, w.token(&w.client, url.Values{"grant_type": {"client_credentials"}, "client_id": {"pk-client"}}), 401, "invalid_client")
	rogue := jwttest.NewRSA(t, 2048, "PS256")
	refused(t, w.token(nil, pkForm(w.assertion(rogue, "pk-client", nil))), 401, "invalid_client")
}

func thumbprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestTokenAssertionIsSingleUse(t *testing.T) {
	w := newASWorld(t)
	w.start("")
	form := pkForm(w.assertion(w.pk, "pk-client", nil))
	granted(t, w.token(nil, form))
	refused(t, w.token(nil, form), 401, "invalid_client")
	refused(t, w.token(&w.client, form), 401, "invalid_client")
}

// TestTokenErrors checks every RFC 6749 §5.2 answer of the endpoint through Caddy.
func TestTokenErrors(t *testing.T) {
	w := newASWorld(t)
	w.start("max_body 8KiB")
	noCC := w.registerDCR(t, func(c map[string]any) { c["grant_types"] = []string{"authorization_code"} })
	mtls := url.Values{"grant_type": {"client_credentials"}, "client_id": {"mtls-client"}}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = append([]string(nil), vs...)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name    string
		cert    *tls.Certificate
		method  string
		ctype   string
		body    string
		headers []string
		status  int
		code    string
	}{
		{name: "GET", method: "GET", status: 405, code: "invalid_request"},
		{name: "PUT", method: "PUT", ctype: form, body: mtls.Encode(), cert: &w.client, status: 405, code: "invalid_request"},
		{name: "JSON body", ctype: "application/json", body: `{"grant_type":"client_credentials"}`, cert: &w.client, status: 400, code: "invalid_request"},
		{name: "no content type", body: mtls.Encode(), cert: &w.client, status: 400, code: "invalid_request"},
		{name: "missing grant_type", ctype: form, body: "client_id=mtls-client", cert: &w.client, status: 400, code: "invalid_request"},
		{name: "repeated grant_type", ctype: form, body: with(mtls, "grant_type", "client_credentials").Encode(), cert: &w.client, status: 400, code: "invalid_request"},
		{name: "repeated scope", ctype: form, body: with(mtls, "scope", "accounts", "scope", "accounts").Encode(), cert: &w.client, status: 400, code: "invalid_request"},
		{name: "malformed form", ctype: form, body: "grant_type=%zz", cert: &w.client, status: 400, code: "invalid_request"},
		{name: "assertion without its type", ctype: form, body: url.Values{"grant_type": {"client_credentials"}, "client_assertion": {w.assertion(w.pk, "pk-client", nil)}}.Encode(), status: 400, code: "invalid_request"},
		{name: "assertion and Basic", ctype: form, body: pkForm(w.assertion(w.pk, "pk-client", nil)).Encode(), headers: []string{"Authorization", "Basic cGs6eA=="}, status: 400, code: "invalid_request"},
		{name: "body over max_body", ctype: form, body: with(mtls, "padding", strings.Repeat("a", 9<<10)).Encode(), cert: &w.client, status: 413, code: "invalid_request"},
		{name: "unsupported grant_type", ctype: form, body: url.Values{"grant_type": {"password"}, "client_id": {"mtls-client"}}.Encode(), cert: &w.client, status: 400, code: "unsupported_grant_type"},
		{name: "no client authentication", ctype: form, body: "grant_type=client_credentials", status: 401, code: "invalid_client"},
		{name: "unknown client", ctype: form, body: "grant_type=client_credentials&client_id=nobody", cert: &w.client, status: 401, code: "invalid_client"},
		{name: "client_secret_basic", ctype: form, body: "grant_type=client_credentials", headers: []string{"Authorization", "Basic cGs6eA=="}, status: 401, code: "invalid_client"},
		{name: "expired assertion", ctype: form, body: pkForm(w.assertion(w.pk, "pk-client", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })).Encode(), status: 401, code: "invalid_client"},
		{name: "assertion without jti", ctype: form, body: pkForm(w.assertion(w.pk, "pk-client", func(c map[string]any) { delete(c, "jti") })).Encode(), status: 401, code: "invalid_client"},
		{name: "assertion for another audience", ctype: form, body: pkForm(w.assertion(w.pk, "pk-client", func(c map[string]any) { c["aud"] = "https://other.example" })).Encode(), status: 401, code: "invalid_client"},
		{name: "client_id other than the assertion's", ctype: form, body: pkForm(w.assertion(w.pk, "pk-client", nil), "client_id", "mtls-client").Encode(), status: 401, code: "invalid_client"},
		{name: "client without client_credentials", ctype: form, body: pkForm(w.assertion(w.dcr.software, noCC, nil)).Encode(), status: 400, code: "unauthorized_client"},
		{name: "scope not the client's", ctype: form, body: with(mtls, "scope", "payments").Encode(), cert: &w.client, status: 400, code: "invalid_scope"},
		{name: "malformed scope", ctype: form, body: with(mtls, "scope", "accounts  x").Encode(), cert: &w.client, status: 400, code: "invalid_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "POST"
			}
			headers := tc.headers
			if tc.ctype != "" {
				headers = append(headers, "Content-Type", tc.ctype)
			}
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			res := w.send(tc.cert, method, "/token", body, headers...)
			refused(t, res, tc.status, tc.code)
			if tc.status == 405 && res.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", res.Header.Get("Allow"))
			}
		})
	}
}

// TestTokenRequestTrailersRefused sends a chunked form whose trailer would arrive after the
// headers were checked: refused, no token.
func TestTokenRequestTrailersRefused(t *testing.T) {
	w := newASWorld(t)
	w.start("")
	req, _ := http.NewRequest("POST", w.base()+"/token", io.NopCloser(bytes.NewReader([]byte("grant_type=client_credentials&client_id=mtls-client"))))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.ContentLength = -1
	req.Trailer = http.Header{"Client-Cert": {":AAAA:"}}
	res, err := w.httpClient(&w.client).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	refused(t, response{Status: res.StatusCode, Header: res.Header, Body: string(b)}, 400, "invalid_request")
}

// registerDCR registers an obie private_key_jwt client (grant client_credentials, scope
// accounts unless mutate says otherwise) and returns its client_id.
func (w *asWorld) registerDCR(t *testing.T, mutate func(map[string]any)) string {
	t.Helper()
	id, _ := w.registerDCRFull(t, nil, mutate)
	return id
}

func (w *asWorld) registerDCRFull(t *testing.T, cert *tls.Certificate, mutate func(map[string]any)) (clientID, rat string) {
	t.Helper()
	req := w.dcr.request("obie", nil, func(c map[string]any) {
		c["grant_types"] = []string{"client_credentials"}
		c["scope"] = "accounts"
		if mutate != nil {
			mutate(c)
		}
	})
	res := w.send(cert, "POST", "/register", strings.NewReader(req), "Content-Type", "application/jwt")
	if res.Status != http.StatusCreated {
		t.Fatalf("register = %d, want 201; body %s", res.Status, res.Body)
	}
	m := dcrJSON(t, res)
	clientID, _ = m["client_id"].(string)
	rat, _ = m["registration_access_token"].(string)
	return clientID, rat
}

// TestTokenDCRClientLifecycle: register -> token -> API -> management with the access token ->
// delete -> invalid_client, over mutual TLS so that the token is bound.
func TestTokenDCRClientLifecycle(t *testing.T) {
	w := newASWorld(t)
	w.start("")
	id, rat := w.registerDCRFull(t, &w.client, nil)
	token, _, claims := granted(t, w.token(&w.client, pkForm(w.assertion(w.dcr.software, id, nil))))
	if claims["client_id"] != id || claims["scope"] != "accounts" {
		t.Fatalf("claims = %v, want client_id %s scope accounts", claims, id)
	}
	if res := w.api(&w.client, token); res.Status != 200 || !strings.HasPrefix(res.Body, "hello "+id) {
		t.Fatalf("API = %d %q, want 200 hello %s", res.Status, res.Body, id)
	}
	path := "/register/" + id
	res := w.send(&w.client, "GET", path, nil, "Authorization", "Bearer "+token)
	if res.Status != 200 || dcrJSON(t, res)["client_id"] != id {
		t.Fatalf("GET with the access token = %d %s, want 200", res.Status, res.Body)
	}
	if _, echoed := dcrJSON(t, res)["registration_access_token"]; echoed {
		t.Error("GET with an access token answered a registration_access_token")
	}
	// The binding holds for management too, and a token for another client does not manage this one.
	if res := w.send(nil, "GET", path, nil, "Authorization", "Bearer "+token); res.Status != 401 {
		t.Errorf("GET with the access token but no certificate = %d, want 401", res.Status)
	}
	other, _ := w.registerDCRFull(t, nil, nil)
	if res := w.send(&w.client, "GET", "/register/"+other, nil, "Authorization", "Bearer "+token); res.Status != 401 {
		t.Errorf("GET of another client with this access token = %d, want 401", res.Status)
	}
	if res := w.send(&w.client, "GET", path, nil, "Authorization", "Bearer "+rat); res.Status != 200 {
		t.Errorf("GET with the registration access token = %d, want 200", res.Status)
	}
	if res := w.send(&w.client, "DELETE", path, nil, "Authorization", "Bearer "+token); res.Status != http.StatusNoContent {
		t.Fatalf("DELETE with the access token = %d %s, want 204", res.Status, res.Body)
	}
	refused(t, w.token(&w.client, pkForm(w.assertion(w.dcr.software, id, nil))), 401, "invalid_client")
}

// TestTokenRestartKeepsKeys stops Caddy and starts it again on the same storage: a token
// issued before still verifies, and the JWKS names the same key.
func TestTokenRestartKeepsKeys(t *testing.T) {
	w := newASWorld(t)
	w.start("")
	token, header, _ := granted(t, w.token(&w.client, url.Values{"grant_type": {"client_credentials"}, "client_id": {"mtls-client"}}))
	jwksBefore := w.send(nil, "GET", "/jwks", nil).Body
	stopCaddy(t)
	w.start("")
	if res := w.api(&w.client, token); res.Status != 200 {
		t.Fatalf("API after restart = %d %s, want 200", res.Status, res.Body)
	}
	_, header2, _ := granted(t, w.token(&w.client, url.Values{"grant_type": {"client_credentials"}, "client_id": {"mtls-client"}}))
	if header2["kid"] != header["kid"] {
		t.Errorf("kid after restart = %v, want %v", header2["kid"], header["kid"])
	}
	if after := w.send(nil, "GET", "/jwks", nil).Body; after != jwksBefore {
		t.Errorf("JWKS changed across a restart:\n%s\n%s", jwksBefore, after)
	}
}

func TestOAuthMetadataDocument(t *testing.T) {
	w := newASWorld(t)
	w.start("")
	res := w.send(nil, "GET", "/.well-known/oauth-authorization-server", nil)
	if res.Status != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET = %d %q, want 200 application/json", res.Status, res.Header.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(res.Body), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"issuer":                                asIssuer,
		"token_endpoint":                        w.base() + "/token",
		"jwks_uri":                              w.base() + "/jwks",
		"registration_endpoint":                 w.base() + "/register",
		"grant_types_supported":                 []any{"client_credentials"},
		"token_endpoint_auth_methods_supported": []any{"private_key_jwt", "tls_client_auth"},
		"token_endpoint_auth_signing_alg_values_supported": []any{"PS256", "ES256", "EdDSA"},
		"tls_client_certificate_bound_access_tokens":       true,
		"scopes_supported": []any{"accounts", "payments"},
	}
	for k, v := range want {
		if got, want := mustMarshal(t, doc[k]), mustMarshal(t, v); !bytes.Equal(got, want) {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	if res := w.send(nil, "POST", "/.well-known/oauth-authorization-server", nil); res.Status != 405 {
		t.Errorf("POST = %d, want 405", res.Status)
	}
}

// TestTokenClientCertHeaderFromTrustedProxyOnly: behind a TLS-terminating proxy, the RFC 9440
// Client-Cert header authenticates a tls_client_auth client and binds its token, but only when the
// request comes from a trusted_proxies address; from anyone else the header is ignored.
func TestTokenClientCertHeaderFromTrustedProxyOnly(t *testing.T) {
	ca, caKey := makeCA(t)
	client, _ := issueCert(t, ca, caKey, pkix.Name{CommonName: "client.example", Organization: []string{"Example Ltd"}, Country: []string{"GB"}}, false)
	other, _ := issueCert(t, ca, caKey, pkix.Name{CommonName: "other.example"}, false)
	untrustedPort := freePort(t)
	site := func(port string) string {
		return fmt.Sprintf(`http://127.0.0.1:%s {
	token_endpoint {
		signer main
		issuer %s
		audience %s
		client_cert_header Client-Cert
		client mtls-client {
			auth tls_client_auth
			subject_dn "%s"
		}
	}
}
`, port, asIssuer, asAudience, clientDN)
	}
	g := startGateway(t, fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s
	log {
		level ERROR
	}
	servers :{PORT} {
		trusted_proxies static 127.0.0.1/32
	}
	servers :%d {
		trusted_proxies static 10.0.0.0/8
	}
	jwt_signer main
}

%s
%s`, t.TempDir(), untrustedPort, site("{PORT}"), site(fmt.Sprint(untrustedPort))))
	untrusted := &gateway{t: t, Port: untrustedPort, URL: fmt.Sprintf("http://127.0.0.1:%d", untrustedPort)}
	untrusted.waitListening()
	header := func(c *x509.Certificate) string { return ":" + base64.StdEncoding.EncodeToString(c.Raw) + ":" }
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"mtls-client"}}.Encode()
	post := func(g *gateway, hdr ...string) response {
		return g.do("POST", "/", strings.NewReader(form), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...)...)
	}
	_, _, claims := granted(t, post(g, "Client-Cert", header(client)))
	if cnf, _ := claims["cnf"].(map[string]any); cnf["x5t#S256"] != thumbprint(client) {
		t.Errorf("cnf = %v, want the header certificate's thumbprint", claims["cnf"])
	}
	refused(t, post(g, "Client-Cert", header(other)), 401, "invalid_client")
	refused(t, post(g), 401, "invalid_client")
	refused(t, post(untrusted, "Client-Cert", header(client)), 401, "invalid_client")
}
