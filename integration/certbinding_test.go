package integration

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/obgate/obgate/authserver/signing"
	"github.com/obgate/obgate/internal/clientcert"
)

const boundIssuer = "https://as.obgate.test"

// mtlsWorld is a CA, a server certificate for 127.0.0.1, two client certificates of that CA, and
// the signing storage the gateway's jwt_signer uses.
type mtlsWorld struct {
	t                       *testing.T
	dir                     string // storage and PEM files
	caPath, srvCert, srvKey string
	roots                   *x509.CertPool
	clientA, clientB        tls.Certificate
	certA, certB            *x509.Certificate
	be                      *backend
}

func newMTLSWorld(t *testing.T) *mtlsWorld {
	t.Helper()
	w := &mtlsWorld{t: t, dir: t.TempDir(), be: newBackend(t)}
	ca, caKey := makeCA(t)
	w.caPath = writePEM(t, w.dir, "ca.pem", "CERTIFICATE", ca.Raw)
	srv, srvKey := issueCert(t, ca, caKey, pkix.Name{CommonName: "gateway"}, true)
	w.srvCert = writePEM(t, w.dir, "server.pem", "CERTIFICATE", srv.Raw)
	w.srvKey = writePEM(t, w.dir, "server-key.pem", "EC PRIVATE KEY", srvKey)
	w.roots = x509.NewCertPool()
	w.roots.AddCert(ca)
	client := func(cn string) (tls.Certificate, *x509.Certificate) {
		c, keyDER := issueCert(t, ca, caKey, pkix.Name{CommonName: cn}, false)
		key, err := x509.ParseECPrivateKey(keyDER)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: key}, c
	}
	w.clientA, w.certA = client("client-a")
	w.clientB, w.certB = client("client-b")
	return w
}

// gateway starts an mTLS site (client certificates verified when given) whose routes run jwt_auth
// with the local signer: / plain, /required with require_cert_binding, /cached with verified_cache.
func (w *mtlsWorld) gateway() *gateway {
	w.t.Helper()
	policy := func(extra string) string {
		return fmt.Sprintf(`jwt_auth {
			issuer %s {
				signer main
			}
			audience api
			%s
		}
		reverse_proxy %s`, boundIssuer, extra, w.be.Addr())
	}
	return startGateway(w.t, fmt.Sprintf(`{
	admin off
	auto_https off
	persist_config off
	storage file_system %s
	log {
		level ERROR
	}
	jwt_signer main {
		refresh_interval 1s
	}
}

https://localhost:{PORT} {
	tls %s %s {
		client_auth {
			mode verify_if_given
			trust_pool file %s
		}
	}
	handle /required {
		%s
	}
	handle /cached {
		%s
	}
	handle {
		%s
	}
}
`, w.dir, w.srvCert, w.srvKey, w.caPath, policy("require_cert_binding"), policy("verified_cache 100"), policy("")))
}

// instance is another signer instance on the gateway's storage: the test mints with it.
func (w *mtlsWorld) instance(opts signing.Options) *signing.Manager {
	w.t.Helper()
	return signerInstance(w.t, w.dir, opts)
}

// signerInstance is another instance of the jwt_signer "main" on a running gateway's storage
// (the directory of its file_system storage), with its refresh loop: the test mints with it.
func signerInstance(t *testing.T, storage string, opts signing.Options) *signing.Manager {
	t.Helper()
	opts.Name = "main"
	m, err := signing.NewManager(&certmagic.FileStorage{Path: storage}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // its refresh loop, as a running instance has
		defer close(done)
		m.Run(t.Context())
	}()
	t.Cleanup(func() { <-done })
	return m
}

// mint signs an access token for client-1, bound to cert when it is not nil.
func mint(t *testing.T, m *signing.Manager, cert *x509.Certificate) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{
		"iss": boundIssuer, "sub": "client-1", "client_id": "client-1", "aud": "api",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "scope": "accounts",
	}
	if cert != nil {
		claims["cnf"] = map[string]any{"x5t#S256": clientcert.Thumbprint(cert)}
	}
	tok, err := m.Mint(t.Context(), "at+jwt", claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// client is an HTTPS client trusting the test CA, presenting cert when given.
func (w *mtlsWorld) client(cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: w.roots, ServerName: "localhost"}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

func (w *mtlsWorld) get(c *http.Client, g *gateway, path, token string) response {
	w.t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("https://127.0.0.1:%d%s", g.Port, path), nil)
	req.Host = fmt.Sprintf("localhost:%d", g.Port) // the site's name, as SNI says
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := c.Do(req)
	if err != nil {
		w.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: string(body)}
}

// tamper changes the token's sub, keeping the header and signature.
func tamper(t *testing.T, tok string) string {
	parts := strings.Split(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	claims["sub"] = "admin"
	raw, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// TestSignerTokenCertificateBound runs a token minted by the gateway's jwt_signer (through another
// instance on the same storage) through jwt_auth's `signer` issuer over mTLS: accepted with the
// certificate it is bound to, rejected with another certificate, with none, and after tampering;
// the verified-token cache never skips the binding check.
func TestSignerTokenCertificateBound(t *testing.T) {
	w := newMTLSWorld(t)
	g := w.gateway()
	m := w.instance(signing.Options{})
	withA, withB, without := w.client(&w.clientA), w.client(&w.clientB), w.client(nil)
	bound, unbound := mint(t, m, w.certA), mint(t, m, nil)

	for _, tc := range []struct {
		name   string
		client *http.Client
		path   string
		token  string
		status int
	}{
		{"bound token with its certificate accepted", withA, "/", bound, 200},
		{"bound token with another certificate rejected", withB, "/", bound, 401},
		{"bound token without a certificate rejected", without, "/", bound, 401},
		{"tampered bound token rejected", withA, "/", tamper(t, bound), 401},
		{"unbound token accepted without require_cert_binding", without, "/", unbound, 200},
		{"unbound token rejected with require_cert_binding", withA, "/required", unbound, 401},
		{"bound token accepted with require_cert_binding", withA, "/required", bound, 200},
		{"bound token with another certificate rejected under require_cert_binding", withB, "/required", bound, 401},
		{"cache: bound token with its certificate accepted", withA, "/cached", bound, 200},
		{"cache: the cached token with another certificate rejected", withB, "/cached", bound, 401},
		{"cache: the cached token without a certificate rejected", without, "/cached", bound, 401},
		{"cache: the cached token with its certificate still accepted", withA, "/cached", bound, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.be.Requests())
			res := w.get(tc.client, g, tc.path, tc.token)
			if res.Status != tc.status {
				t.Fatalf("status %d (%s), want %d", res.Status, res.Body, tc.status)
			}
			reached := len(w.be.Requests()) > before
			if tc.status == 200 != reached {
				t.Fatalf("backend reached = %v with status %d", reached, res.Status)
			}
			if tc.status == 401 {
				if got := res.JSON(t)["error"]; got != "invalid_token" {
					t.Errorf("error = %q, want invalid_token", got)
				}
				if !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
					t.Errorf("WWW-Authenticate = %q", res.Header.Get("WWW-Authenticate"))
				}
			}
		})
	}
}

// TestSignerRotationUnderLoadThroughJWTAuth forces a rotation on another signer instance of the
// gateway's storage while clients call the gateway with freshly minted, certificate-bound tokens:
// not one request may fail, before, across or after the switch to the new key.
func TestSignerRotationUnderLoadThroughJWTAuth(t *testing.T) {
	w := newMTLSWorld(t)
	g := w.gateway()
	// The rotating instance announces its next key 2s before it signs (its own JWKS max-age and
	// refresh interval are 1s); the gateway reads the storage every second.
	m := w.instance(signing.Options{JWKSMaxAge: 500 * time.Millisecond, RefreshInterval: 500 * time.Millisecond,
		PublishLead: 2 * time.Second})
	first, _ := m.KeyID()
	c := w.client(&w.clientA)
	if res := w.get(c, g, "/", mint(t, m, w.certA)); res.Status != 200 {
		t.Fatalf("before rotation: %d %s", res.Status, res.Body)
	}
	var failures, total atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				res := w.get(c, g, "/", mint(t, m, w.certA))
				total.Add(1)
				if res.Status != 200 {
					failures.Add(1)
					t.Errorf("request failed during rotation: %d %s", res.Status, res.Body)
				}
			}
		})
	}
	if err := m.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	rotatedAt := int64(-1)
	for range 300 { // bounded: 30s
		if kid, _ := m.KeyID(); kid != first && rotatedAt < 0 {
			rotatedAt = total.Load()
		}
		if rotatedAt >= 0 && total.Load() > rotatedAt+50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if rotatedAt < 0 {
		t.Fatal("the new key never started signing")
	}
	if failures.Load() != 0 || total.Load() <= rotatedAt {
		t.Fatalf("%d of %d requests failed; %d after the switch", failures.Load(), total.Load(), total.Load()-rotatedAt)
	}
	t.Logf("%d requests, %d after the new key took over, 0 failures", total.Load(), total.Load()-rotatedAt)
}

// TestClientCertHeaderOnlyFromTrustedProxies runs two plain-http sites behind "proxies": one whose
// server trusts 127.0.0.1 as a proxy, one that trusts another range. The RFC 9440 header carries
// the client certificate the token is bound to; only the first site honours it.
func TestClientCertHeaderOnlyFromTrustedProxies(t *testing.T) {
	w := newMTLSWorld(t)
	m := w.instance(signing.Options{})
	untrustedPort := freePort(t)
	site := func(port string) string {
		return fmt.Sprintf(`http://127.0.0.1:%s {
	jwt_auth {
		issuer %s {
			signer main
		}
		audience api
		client_cert_header Client-Cert
	}
	reverse_proxy %s
}
`, port, boundIssuer, w.be.Addr())
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
%s`, w.dir, untrustedPort, site("{PORT}"), site(fmt.Sprint(untrustedPort))))
	untrusted := &gateway{t: t, Port: untrustedPort, URL: fmt.Sprintf("http://127.0.0.1:%d", untrustedPort)}
	untrusted.waitListening()
	tok := mint(t, m, w.certA)
	header := func(c *x509.Certificate) string { return ":" + base64.StdEncoding.EncodeToString(c.Raw) + ":" }
	for _, tc := range []struct {
		name   string
		g      *gateway
		hdr    []string
		status int
	}{
		{"trusted proxy's header with the bound certificate accepted", g, []string{"Client-Cert", header(w.certA)}, 200},
		{"trusted proxy's header with another certificate rejected", g, []string{"Client-Cert", header(w.certB)}, 401},
		{"trusted proxy without the header rejected", g, nil, 401},
		{"trusted proxy's malformed header rejected", g, []string{"Client-Cert", "not a certificate"}, 401},
		{"untrusted sender's header ignored", untrusted, []string{"Client-Cert", header(w.certA)}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.g.do("GET", "/", nil, append(bearer(tok), tc.hdr...)...)
			if res.Status != tc.status {
				t.Fatalf("status %d (%s), want %d", res.Status, res.Body, tc.status)
			}
			if tc.status == 401 && res.JSON(t)["error"] != "invalid_token" {
				t.Errorf("error = %q, want invalid_token", res.JSON(t)["error"])
			}
		})
	}
}

// TestJWTCheckCertBinding: jwt_check has no holder certificate, so it reports what it can: under
// require_cert_binding an unbound token is not valid (not_cert_bound), a bound one is.
func TestJWTCheckCertBinding(t *testing.T) {
	w := newMTLSWorld(t)
	m := w.instance(signing.Options{})
	g := startGateway(t, fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s
	log {
		level ERROR
	}
	jwt_signer main
}

http://127.0.0.1:{PORT} {
	handle /check {
		jwt_check bound
	}
	handle {
		jwt_auth {
			issuer %s {
				signer main
			}
			audience api
			require_cert_binding
			name bound
		}
		respond "ok"
	}
}
`, w.dir, boundIssuer))
	for _, tc := range []struct {
		name   string
		token  string
		valid  bool
		reason string
	}{
		{"bound token valid", mint(t, m, w.certA), true, ""},
		{"unbound token not valid", mint(t, m, nil), false, "not_cert_bound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := g.do("POST", "/check", strings.NewReader(`{"token": "`+tc.token+`"}`))
			var v struct {
				Valid  bool   `json:"valid"`
				Reason string `json:"reason"`
			}
			if err := json.Unmarshal([]byte(res.Body), &v); err != nil || res.Status != 200 {
				t.Fatalf("check: %d %s (%v)", res.Status, res.Body, err)
			}
			if v.Valid != tc.valid || v.Reason != tc.reason {
				t.Fatalf("verdict %s, want valid %v reason %q", res.Body, tc.valid, tc.reason)
			}
		})
	}
}

// TestJWTAuthUnknownSignerFailsValidation: an issuer naming a jwt_signer the config does not have
// is a config error that names it.
func TestJWTAuthUnknownSignerFailsValidation(t *testing.T) {
	err := validateCaddyfile(t, "http://127.0.0.1:9 {\n\tjwt_auth {\n\t\tissuer https://as.example {\n\t\t\tsigner nosuch\n\t\t}\n\t\taudience api\n\t}\n}\n")
	if err == nil || !strings.Contains(err.Error(), `"nosuch"`) || !strings.Contains(err.Error(), "https://as.example") {
		t.Fatalf("validate error = %v, want one naming the issuer and the signer", err)
	}
}
