package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/jwttest"
)

// dcrWorld is a directory (SSA issuer), a software with its keys, and a loopback JWKS server
// that counts its connections.
type dcrWorld struct {
	t          *testing.T
	directory  *jwttest.Signer
	software   *jwttest.Signer
	rogue      *jwttest.Signer
	dirKeyPath string
	storage    string
	jwks       *httptest.Server
	conns      atomic.Int64
	seq        atomic.Int64
}

const (
	dcrDirectory = "https://directory.example"
	dcrAudience  = "https://bank.example/"
	dcrRedirect  = "https://client.example/cb"
)

func newDCRWorld(t *testing.T) *dcrWorld {
	t.Helper()
	w := &dcrWorld{t: t}
	w.directory = jwttest.NewRSA(t, 2048, "PS256")
	w.software = jwttest.NewRSA(t, 2048, "PS256")
	w.rogue = jwttest.NewRSA(t, 2048, "PS256")
	w.dirKeyPath = w.directory.PublicPEM(t, t.TempDir())
	w.storage = t.TempDir()
	body := jwttest.JWKS(t, w.software)
	w.jwks = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write(body)
	}))
	w.jwks.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			w.conns.Add(1)
		}
	}
	w.jwks.Start()
	t.Cleanup(w.jwks.Close)
	return w
}

// caddyfile serves the four profiles on one site: /<profile>/register.
func (w *dcrWorld) caddyfile() string {
	var b strings.Builder
	fmt.Fprintf(&b, "{\n\tadmin off\n\tstorage file_system %s\n}\nhttp://127.0.0.1:{PORT} {\n", w.storage)
	for _, p := range []string{"generic", "obie", "cdr", "revolut"} {
		aud := dcrAudience
		if p == "revolut" {
			aud = "revolut"
		}
		fmt.Fprintf(&b, `	dcr /%s/register* {
		profile %s
		directory %s {
			key %s
		}
		audience %s
		jwks_uri_allow http://%s
	}
`, p, p, dcrDirectory, w.dirKeyPath, aud, strings.TrimPrefix(w.jwks.URL, "http://"))
	}
	b.WriteString("\trespond 404\n}\n")
	return b.String()
}

func (w *dcrWorld) ssaClaims(profile, softwareID string) map[string]any {
	now := time.Now()
	c := map[string]any{"iss": dcrDirectory, "iat": now.Unix(), "jti": "ssa", "software_id": softwareID}
	switch profile {
	case "obie", "revolut":
		c["software_jwks_endpoint"] = w.jwks.URL + "/software.jwks"
		c["software_redirect_uris"] = []string{dcrRedirect, "https://client.example/other"}
		c["org_status"] = "Active"
	case "cdr":
		c["jwks_uri"] = w.jwks.URL + "/software.jwks"
		c["redirect_uris"] = []string{dcrRedirect, "https://client.example/other"}
		c["exp"] = now.Add(5 * time.Minute).Unix()
	default:
		c["jwks_uri"] = w.jwks.URL + "/software.jwks"
	}
	return c
}

func (w *dcrWorld) requestClaims(profile, softwareID, ssa string) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": softwareID, "aud": dcrAudience, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"jti": fmt.Sprintf("jti-%d", w.seq.Add(1)), "redirect_uris": []string{dcrRedirect}, "software_statement": ssa,
	}
	switch profile {
	case "obie":
		c["token_endpoint_auth_method"] = "private_key_jwt"
	case "cdr": // what the CDR DCR API requires of a Data Recipient's request (dcrhandler/rules.go)
		c["token_endpoint_auth_method"] = "private_key_jwt"
		c["token_endpoint_auth_signing_alg"] = "PS256"
		c["grant_types"] = []string{"client_credentials", "authorization_code", "refresh_token"}
		c["response_types"] = []string{"code id_token"}
		c["id_token_signed_response_alg"] = "PS256"
		c["id_token_encrypted_response_alg"] = "RSA-OAEP"
		c["id_token_encrypted_response_enc"] = "A256GCM"
		c["request_object_signing_alg"] = "PS256"
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

// request builds a signed registration request; a fresh software_id unless the mutators set one.
func (w *dcrWorld) request(profile string, mutateSSA, mutateReq func(map[string]any)) string {
	softwareID := fmt.Sprintf("software-%d", w.seq.Add(1))
	sc := w.ssaClaims(profile, softwareID)
	if mutateSSA != nil {
		mutateSSA(sc)
	}
	ssa := w.directory.Token(w.t, sc, nil)
	rc := w.requestClaims(profile, softwareID, ssa)
	if mutateReq != nil {
		mutateReq(rc)
	}
	return w.software.Token(w.t, rc, nil)
}

func dcrJSON(t *testing.T, r response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("body is not JSON: %v: %q", err, r.Body)
	}
	return m
}

func expectDCRError(t *testing.T, r response, status int, code, field string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	m := dcrJSON(t, r)
	if m["error"] != code {
		t.Errorf("error = %v, want %s (%v)", m["error"], code, m["error_description"])
	}
	if d, _ := m["error_description"].(string); !strings.Contains(d, field) {
		t.Errorf("error_description = %q, want it to name %q", d, field)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
	}
}

func TestDCRLifecycle(t *testing.T) {
	w := newDCRWorld(t)
	g := startGateway(t, w.caddyfile())

	res := g.do("POST", "/obie/register", strings.NewReader(w.request("obie", nil, nil)), "Content-Type", "application/jwt")
	if res.Status != http.StatusCreated {
		t.Fatalf("POST = %d, want 201; body %s", res.Status, res.Body)
	}
	reg := dcrJSON(t, res)
	id, _ := reg["client_id"].(string)
	rat, _ := reg["registration_access_token"].(string)
	if want := g.URL + "/obie/register/" + id; reg["registration_client_uri"] != want {
		t.Errorf("registration_client_uri = %v, want %s", reg["registration_client_uri"], want)
	}
	path := "/obie/register/" + id
	auth := []string{"Authorization", "Bearer " + rat}
	if res := g.do("GET", path, nil, auth...); res.Status != http.StatusOK || dcrJSON(t, res)["client_id"] != id {
		t.Fatalf("GET = %d %s, want 200 with the client", res.Status, res.Body)
	}
	softwareID := reg["software_id"].(string)
	update := w.request("obie", func(c map[string]any) { c["software_id"] = softwareID }, func(c map[string]any) {
		c["iss"] = softwareID
		c["redirect_uris"] = []string{"https://client.example/other"}
	})
	res = g.do("PUT", path, strings.NewReader(update), append(auth, "Content-Type", "application/jwt")...)
	if res.Status != http.StatusOK {
		t.Fatalf("PUT = %d, want 200; body %s", res.Status, res.Body)
	}
	if uris := dcrJSON(t, res)["redirect_uris"].([]any); uris[0] != "https://client.example/other" {
		t.Errorf("PUT did not replace redirect_uris: %v", uris)
	}
	if res := g.do("DELETE", path, nil, auth...); res.Status != http.StatusNoContent {
		t.Fatalf("DELETE = %d, want 204; body %s", res.Status, res.Body)
	}
	expectDCRError(t, g.do("GET", path, nil, auth...), http.StatusUnauthorized, "invalid_token", "")
	expectDCRError(t, g.do("PUT", path, strings.NewReader(update), append(auth, "Content-Type", "application/jwt")...), http.StatusUnauthorized, "invalid_token", "")
}

// TestDCRProfileRules checks each profile's rules both ways through Caddy: the change a case
// names turns an accepted request into the given error.
func TestDCRProfileRules(t *testing.T) {
	w := newDCRWorld(t)
	g := startGateway(t, w.caddyfile())
	type mut = func(map[string]any)
	set := func(k string, v any) mut { return func(c map[string]any) { c[k] = v } }
	del := func(k string) mut { return func(c map[string]any) { delete(c, k) } }
	for _, tc := range []struct {
		profile, name string
		ssa, req      mut
		status        int
		code, field   string
	}{
		{"generic", "valid request accepted", nil, nil, 201, "", ""},
		{"generic", "redirect URI with fragment refused", nil, set("redirect_uris", []string{"https://c.example/#x"}), 400, "invalid_redirect_uri", "redirect_uris"},
		{"generic", "wrong aud refused", nil, set("aud", "https://other.example/"), 400, "invalid_client_metadata", "aud"},
		{"generic", "expired request refused", nil, set("exp", time.Now().Add(-time.Hour).Unix()), 400, "invalid_client_metadata", "exp"},
		{"generic", "expired SSA refused", set("exp", time.Now().Add(-time.Hour).Unix()), nil, 400, "invalid_software_statement", "exp"},
		{"obie", "valid request accepted", nil, nil, 201, "", ""},
		{"obie", "iss other than software_id refused", nil, set("iss", "someone"), 400, "invalid_client_metadata", "iss"},
		{"obie", "redirect URI outside the SSA refused", nil, set("redirect_uris", []string{"https://client.example/x"}), 400, "invalid_redirect_uri", "redirect_uris"},
		{"cdr", "redirect URI outside the SSA refused", nil, set("redirect_uris", []string{"https://client.example/x"}), 400, "invalid_redirect_uri", "redirect_uris"},
		{"obie", "http redirect URI refused", set("software_redirect_uris", []string{"http://client.example/cb"}), set("redirect_uris", []string{"http://client.example/cb"}), 400, "invalid_redirect_uri", "https"},
		{"obie", "client_secret_post refused", nil, set("token_endpoint_auth_method", "client_secret_post"), 400, "invalid_client_metadata", "token_endpoint_auth_method"},
		{"obie", "tls_client_auth with DN accepted", nil, func(c map[string]any) {
			c["token_endpoint_auth_method"] = "tls_client_auth"
			c["tls_client_auth_subject_dn"] = "CN=x"
		}, 201, "", ""},
		{"obie", "tls_client_auth without DN refused", nil, set("token_endpoint_auth_method", "tls_client_auth"), 400, "invalid_client_metadata", "tls_client_auth_subject_dn"},
		{"obie", "DN with private_key_jwt refused", nil, set("tls_client_auth_subject_dn", "CN=x"), 400, "invalid_client_metadata", "tls_client_auth_subject_dn"},
		{"obie", "missing jti refused", nil, del("jti"), 400, "invalid_client_metadata", "jti"},
		{"obie", "inactive organisation unapproved", set("org_status", "Revoked"), nil, 400, "unapproved_software_statement", "org_status"},
		{"cdr", "valid request accepted", nil, nil, 201, "", ""},
		{"cdr", "SSA living over 10 minutes refused", set("exp", time.Now().Add(20*time.Minute).Unix()), nil, 400, "invalid_software_statement", "exp"},
		{"cdr", "SSA without jwks_uri refused", del("jwks_uri"), nil, 400, "invalid_software_statement", "jwks_uri"},
		{"cdr", "missing jti refused", nil, del("jti"), 400, "invalid_client_metadata", "jti"},
		{"cdr", "ES256 token_endpoint_auth_signing_alg accepted", nil, set("token_endpoint_auth_signing_alg", "ES256"), 201, "", ""},
		{"cdr", "RS256 token_endpoint_auth_signing_alg refused", nil, set("token_endpoint_auth_signing_alg", "RS256"), 400, "invalid_client_metadata", "token_endpoint_auth_signing_alg"},
		{"cdr", "tls_client_auth refused", nil, set("token_endpoint_auth_method", "tls_client_auth"), 400, "invalid_client_metadata", "token_endpoint_auth_method"},
		{"cdr", "client_credentials alone accepted", nil, set("grant_types", []string{"client_credentials"}), 201, "", ""},
		{"cdr", "implicit grant refused", nil, set("grant_types", []string{"implicit"}), 400, "invalid_client_metadata", "grant_types"},
		{"cdr", "missing response_types refused", nil, del("response_types"), 400, "invalid_client_metadata", "response_types"},
		{"cdr", "response type token refused", nil, set("response_types", []string{"token"}), 400, "invalid_client_metadata", "response_types"},
		{"cdr", "application_type web accepted", nil, set("application_type", "web"), 201, "", ""},
		{"cdr", "application_type native refused", nil, set("application_type", "native"), 400, "invalid_client_metadata", "application_type"},
		{"cdr", "RS256 id_token alg refused", nil, set("id_token_signed_response_alg", "RS256"), 400, "invalid_client_metadata", "id_token_signed_response_alg"},
		{"cdr", "missing request_object_signing_alg refused", nil, del("request_object_signing_alg"), 400, "invalid_client_metadata", "request_object_signing_alg"},
		{"cdr", "hybrid flow without id_token encryption refused", nil, del("id_token_encrypted_response_alg"), 400, "invalid_client_metadata", "id_token_encrypted_response_alg"},
		{"cdr", "code without authorization_signed_response_alg refused", nil, set("response_types", []string{"code"}), 400, "invalid_client_metadata", "authorization_signed_response_alg"},
		{"cdr", "code with authorization_signed_response_alg accepted", nil, func(c map[string]any) {
			c["response_types"] = []string{"code"}
			c["authorization_signed_response_alg"] = "ES256"
		}, 201, "", ""},
		{"obie", "response types code and code id_token accepted", nil, set("response_types", []string{"code", "code id_token"}), 201, "", ""},
		{"obie", "response type code id_token token refused (DCR-011)", nil, set("response_types", []string{"code id_token token"}), 400, "invalid_client_metadata", "response_types"},
		{"obie", "implicit grant refused", nil, set("grant_types", []string{"authorization_code", "implicit"}), 400, "invalid_client_metadata", "grant_types"},
		{"obie", "OB grant types accepted", nil, set("grant_types", []string{"client_credentials", "authorization_code", "refresh_token"}), 201, "", ""},
		{"generic", "missing jti refused", nil, del("jti"), 400, "invalid_client_metadata", "jti"},
		{"revolut", "valid request accepted", nil, nil, 201, "", ""},
		{"revolut", "scope without openid refused", nil, set("scope", "accounts"), 400, "invalid_client_metadata", "scope"},
		{"revolut", "private_key_jwt refused", nil, set("token_endpoint_auth_method", "private_key_jwt"), 400, "invalid_client_metadata", "token_endpoint_auth_method"},
		{"revolut", "RS256 id_token alg refused", nil, set("id_token_signed_response_alg", "RS256"), 400, "invalid_client_metadata", "id_token_signed_response_alg"},
		{"revolut", "RS256 request object alg refused", nil, set("request_object_signing_alg", "RS256"), 400, "invalid_client_metadata", "request_object_signing_alg"},
		{"revolut", "aud off the pattern refused", nil, set("aud", []string{"revolut", "bank.example"}), 400, "invalid_client_metadata", "aud"},
		{"revolut", "missing tls_client_auth_dn refused", nil, del("tls_client_auth_dn"), 400, "invalid_client_metadata", "tls_client_auth_dn"},
		{"revolut", "missing application_type refused", nil, del("application_type"), 400, "invalid_client_metadata", "application_type"},
	} {
		t.Run(tc.profile+"/"+tc.name, func(t *testing.T) {
			res := g.do("POST", "/"+tc.profile+"/register", strings.NewReader(w.request(tc.profile, tc.ssa, tc.req)), "Content-Type", "application/jwt")
			if tc.status == 201 {
				if res.Status != 201 {
					t.Fatalf("status = %d, want 201; body %s", res.Status, res.Body)
				}
				return
			}
			expectDCRError(t, res, tc.status, tc.code, tc.field)
		})
	}
}

func TestDCRKeysNeverComeFromTheRequest(t *testing.T) {
	w := newDCRWorld(t)
	g := startGateway(t, w.caddyfile())
	ssa := w.directory.Token(t, w.ssaClaims("obie", "software-x"), nil)
	rogueJWK := w.rogue.JWK(t, true)
	for _, tc := range []struct {
		name, token, code, field string
	}{
		{"SSA signed by an untrusted key", w.software.Token(t, w.requestClaims("obie", "software-x",
			w.rogue.Token(t, w.ssaClaims("obie", "software-x"), map[string]any{"kid": w.directory.KID})), nil),
			"invalid_software_statement", "signature"},
		{"request signed by a key not in the SSA's JWKS", w.rogue.Token(t, w.requestClaims("obie", "software-x", ssa), nil),
			"invalid_client_metadata", "kid"},
		{"request signed by a rogue key under the software's kid with its jwk header",
			w.rogue.Token(t, w.requestClaims("obie", "software-x", ssa), map[string]any{"kid": w.software.KID, "jwk": rogueJWK}),
			"invalid_client_metadata", "signature"},
		{"request with a jku header to the rogue's keys",
			w.rogue.Token(t, w.requestClaims("obie", "software-x", ssa), map[string]any{"jku": "http://127.0.0.1:1/rogue.jwks"}),
			"invalid_client_metadata", "kid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := g.do("POST", "/obie/register", strings.NewReader(tc.token), "Content-Type", "application/jwt")
			expectDCRError(t, res, http.StatusBadRequest, tc.code, tc.field)
		})
	}
}

func TestDCRJWKSHostOutsideAllowlistRefusedWithoutConnection(t *testing.T) {
	w := newDCRWorld(t)
	var otherConns atomic.Int64
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = rw.Write(jwttest.JWKS(t, w.software))
	}))
	other.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			otherConns.Add(1)
		}
	}
	other.Start()
	defer other.Close()
	g := startGateway(t, w.caddyfile())
	tok := w.request("obie", func(c map[string]any) { c["software_jwks_endpoint"] = other.URL + "/software.jwks" }, nil)
	res := g.do("POST", "/obie/register", strings.NewReader(tok), "Content-Type", "application/jwt")
	expectDCRError(t, res, http.StatusBadRequest, "invalid_software_statement", "software_jwks_endpoint")
	if n := otherConns.Load(); n != 0 {
		t.Errorf("the disallowed JWKS host saw %d connections, want 0", n)
	}
}

func TestDCRRestartKeepsClients(t *testing.T) {
	w := newDCRWorld(t)
	g := startGateway(t, w.caddyfile())
	res := g.do("POST", "/cdr/register", strings.NewReader(w.request("cdr", nil, nil)), "Content-Type", "application/jwt")
	if res.Status != http.StatusCreated {
		t.Fatalf("POST = %d; body %s", res.Status, res.Body)
	}
	reg := dcrJSON(t, res)
	stopCaddy(t)
	g = startGateway(t, w.caddyfile()) // same storage directory
	res = g.do("GET", "/cdr/register/"+reg["client_id"].(string), nil, "Authorization", "Bearer "+reg["registration_access_token"].(string))
	if res.Status != http.StatusOK {
		t.Fatalf("GET after restart = %d, want 200; body %s", res.Status, res.Body)
	}
}

func TestDCRConcurrentRegistrationsOfOneCDRSoftware(t *testing.T) {
	w := newDCRWorld(t)
	g := startGateway(t, w.caddyfile())
	const n = 100
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = w.request("cdr", func(c map[string]any) { c["software_id"] = "one-software" }, set1("iss", "one-software"))
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := client.Post(g.URL+"/cdr/register", "application/jwt", strings.NewReader(tokens[i]))
			if err != nil {
				t.Errorf("POST: %v", err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			statuses[i] = res.StatusCode
		})
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if counts[http.StatusCreated] != 1 || counts[http.StatusBadRequest] != n-1 {
		t.Fatalf("statuses %v, want exactly one 201 and %d 400", counts, n-1)
	}
}

func set1(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }

// TestDCRMutualTLSSubjectDN runs the revolut profile on an https site that requires and verifies
// client certificates: the registered tls_client_auth_dn must name the presented certificate. The
// site is named localhost (not 127.0.0.1) because Caddy enforces SNI = Host with client auth,
// and Go sends no SNI for an IP address.
func TestDCRMutualTLSSubjectDN(t *testing.T) {
	w := newDCRWorld(t)
	dir := t.TempDir()
	ca, caKey := makeCA(t)
	caPath := writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Raw)
	serverCert, serverKey := issueCert(t, ca, caKey, pkix.Name{CommonName: "localhost"}, true)
	serverCertPath := writePEM(t, dir, "server.pem", "CERTIFICATE", serverCert.Raw)
	serverKeyPath := writePEM(t, dir, "server-key.pem", "EC PRIVATE KEY", serverKey)
	clientCert, clientKeyDER := issueCert(t, ca, caKey, pkix.Name{CommonName: "client.example", Organization: []string{"Example Ltd"}, Country: []string{"GB"}}, false)

	cfg := fmt.Sprintf(`{
	admin off
	auto_https off
	storage file_system %s
}
https://localhost:{PORT} {
	tls %s %s {
		client_auth {
			mode require_and_verify
			trust_pool file %s
		}
	}
	dcr /register* {
		profile revolut
		directory %s {
			key %s
		}
		audience revolut
		jwks_uri_allow http://%s
	}
}
`, w.storage, serverCertPath, serverKeyPath, caPath, dcrDirectory, w.dirKeyPath, strings.TrimPrefix(w.jwks.URL, "http://"))
	g := startGateway(t, cfg)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	clientKey, _ := x509.ParseECPrivateKey(clientKeyDER)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:      roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{clientCert.Raw}, PrivateKey: clientKey}},
	}}}
	post := func(token string) (int, map[string]any) {
		res, err := client.Post(fmt.Sprintf("https://localhost:%d/register", g.Port), "application/jwt", strings.NewReader(token))
		if err != nil {
			t.Fatalf("POST over mTLS: %v", err)
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	status, body := post(w.request("revolut", nil, nil)) // DN CN=client.example,O=Example Ltd,C=GB
	if status != http.StatusCreated {
		t.Fatalf("matching DN: status %d, want 201; body %v", status, body)
	}
	if uri, _ := body["registration_client_uri"].(string); !strings.HasPrefix(uri, "https://") {
		t.Errorf("registration_client_uri = %q, want https", uri)
	}
	status, body = post(w.request("revolut", nil, set1("tls_client_auth_dn", "CN=someone.else,O=Example Ltd,C=GB")))
	if status != http.StatusBadRequest || body["error"] != "invalid_client_metadata" || !strings.Contains(fmt.Sprint(body["error_description"]), "tls_client_auth_dn") {
		t.Fatalf("mismatching DN: status %d body %v, want 400 invalid_client_metadata naming tls_client_auth_dn", status, body)
	}
}

func makeCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "obgate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

// issueCert issues a leaf for a server (127.0.0.1) or a client, returning it and its key (SEC 1 DER).
func issueCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, subject pkix.Name, server bool) (*x509.Certificate, []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return cert, keyDER
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDCRDirectoryJWKSURLThroughSharedCache runs a directory whose keys are a jwks_url on plain
// http, allowed by the global jwks option: the keys come from the shared JWKS cache (the admin
// view lists the URL), SSAs are answered 503 with Retry-After until the cache has them, and
// registrations succeed once it does. Without allow_http the config does not load.
func TestDCRDirectoryJWKSURLThroughSharedCache(t *testing.T) {
	w := newDCRWorld(t)
	dir := newKeyServer(t)
	dir.set(func(s *keyServer) { s.status = http.StatusInternalServerError; s.keys = []*jwttest.Signer{w.directory} })
	site := `http://127.0.0.1:{PORT} {
	dcr /obie/register* {
		profile obie
		directory ` + dcrDirectory + ` {
			jwks_url ` + dir.URL + `/jwks
		}
		audience ` + dcrAudience + `
		jwks_uri_allow ` + w.jwks.URL + `
	}
}
`
	if err := validateCaddyfile(t, "{\n\tadmin off\n}\n"+strings.Replace(site, "{PORT}", "0", 1)); err == nil || !strings.Contains(err.Error(), "jwks_url") || !strings.Contains(err.Error(), "http") {
		t.Fatalf("plain http jwks_url without jwks allow_http: error %v, want one naming jwks_url and http", err)
	}

	adminPort := freePort(t)
	g := startGateway(t, fmt.Sprintf("{\n\tadmin 127.0.0.1:%d\n\tstorage file_system %s\n\tjwks {\n\t\tallow_http %s\n\t}\n}\n", adminPort, w.storage, dir.URL)+site)
	post := func() response {
		return g.do("POST", "/obie/register", strings.NewReader(w.request("obie", nil, nil)), "Content-Type", "application/jwt")
	}

	// The directory is down: the shared cache has no keys yet.
	res := post()
	expectDCRError(t, res, http.StatusServiceUnavailable, "temporarily_unavailable", "software statement")
	if res.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	code, body := adminGet(t, adminPort, "/jwks/")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, dir.URL+"/jwks") || !strings.Contains(body, dcrDirectory) {
		t.Errorf("GET /jwks/ = %d %s, want 503 listing the directory's jwks_url and issuer", code, body)
	}

	// The directory comes back: the cache's retries recover without a reload.
	dir.set(func(s *keyServer) { s.status = http.StatusOK })
	eventually(t, "registration with the directory's keys", func() bool { return post().Status == http.StatusCreated })
	fetches := dir.count("/jwks")
	for range 3 {
		if res := post(); res.Status != http.StatusCreated {
			t.Fatalf("POST = %d; body %s", res.Status, res.Body)
		}
	}
	if n := dir.count("/jwks") - fetches; n != 0 {
		t.Errorf("registrations fetched the directory's keys %d times, want 0 (the cache serves them)", n)
	}
}
